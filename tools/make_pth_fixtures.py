#!/usr/bin/env python3
"""PyTorch checkpoints for tests/pth_test.ts, written by real torch.save, with the expected values beside them.

Run with Debian's PyTorch:  apt-get install python3-torch && /usr/bin/python3 tools/make_pth_fixtures.py [OUT_DIR]
(default OUT_DIR: tests/fixtures/pth). Every NAME.pth has its expected tensors in a safetensors file (tests/fixtures/pth/README.md lists them):
floats as F32 (float16, bfloat16 and float64 converted by torch, round to nearest even), integers as I32, uint8 and
bool as U8, every name as the reader returns it (wrappers unwrapped, nested dicts joined with dots), and the torch
dtype of each tensor in the metadata entry "dtypes" (JSON). Width-reduced networks keep the exact parameter names
of the layouts users have, so the set stays small (about 1.4 MB).
"""
import collections, io, json, os, pickle, struct, sys, zipfile
import numpy as np
import torch
import torch.nn as nn

out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "pth")
os.makedirs(out_dir, exist_ok=True)
torch.manual_seed(0)

SAFETENSORS_DTYPE = {
    torch.float32: "F32", torch.float16: "F32", torch.bfloat16: "F32", torch.float64: "F32",
    torch.int64: "I32", torch.int32: "I32", torch.int16: "I32", torch.int8: "I32",
    torch.uint8: "U8", torch.bool: "U8",
}
TORCH_DTYPE = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}
CAST = {"F32": torch.float32, "I32": torch.int32, "U8": torch.uint8}


def write_safetensors(name, tensors):
    """The expected values of the flat record `tensors` (name -> tensor), with each source dtype in metadata."""
    header, blobs, off = {}, [], 0
    for k, t in tensors.items():
        st = SAFETENSORS_DTYPE[t.dtype]
        b = t.detach().to(CAST[st]).contiguous().numpy().tobytes()
        header[k] = {"dtype": st, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"dtypes": json.dumps({k: TORCH_DTYPE[t.dtype] for k, t in tensors.items()})}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(out_dir, name), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def save(name, obj, legacy=False, protocol=2):
    torch.save(obj, os.path.join(out_dir, name), pickle_protocol=protocol, _use_new_zipfile_serialization=not legacy)


def flat(d, prefix=""):
    """The record the reader returns for a dict: nested dicts joined with dots, non-tensors left out."""
    out = {}
    for k, v in d.items():
        if isinstance(v, torch.Tensor):
            out[prefix + str(k)] = v
        elif isinstance(v, dict):
            out.update(flat(v, prefix + str(k) + "."))
    return out


# --- torchvision's resnet18, width-reduced (widths 4, 8, 16, 32 for 64..512; 10 classes), exact names ---
class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


class ResNet18(nn.Module):
    def __init__(self, base=4, num_classes=10):
        super().__init__()
        w = [base, base * 2, base * 4, base * 8]
        self.conv1 = nn.Conv2d(3, w[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(w[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = w[0]
        for i, cout in enumerate(w):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)))
            cin = cout
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(w[3], num_classes)


net = ResNet18()
with torch.no_grad():
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):  # running statistics as after training, not the initial 0 and 1
            m.weight.uniform_(0.5, 1.5)
            m.bias.normal_()
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2)
            m.num_batches_tracked.fill_(5004)
resnet = net.state_dict()  # an OrderedDict with a _metadata attribute, as every nn.Module writes it
save("resnet18.pth", resnet)
save("resnet18_legacy.pth", resnet, legacy=True)
write_safetensors("resnet18.safetensors", resnet)
resnet_half = net.half().state_dict()  # num_batches_tracked stays int64
save("resnet18_f16.pth", resnet_half)
write_safetensors("resnet18_f16.safetensors", resnet_half)

# --- the reference's export layout (batch norm folded into conv weight and bias), in {"params": ...}, legacy ---
widths, export = [4, 8, 16, 32], collections.OrderedDict()
export["conv0.weight"], export["conv0.bias"] = torch.randn(widths[0], 3, 7, 7), torch.randn(widths[0])
cin = widths[0]
for g, cout in enumerate(widths):
    for b in range(2):
        base = f"group{g}.block{b}"
        export[f"{base}.conv0.weight"] = torch.randn(cout, cin if b == 0 else cout, 3, 3)
        export[f"{base}.conv0.bias"] = torch.randn(cout)
        export[f"{base}.conv1.weight"] = torch.randn(cout, cout, 3, 3)
        export[f"{base}.conv1.bias"] = torch.randn(cout)
        if b == 0 and g > 0:
            export[f"{base}.conv_dim.weight"] = torch.randn(cout, cin, 1, 1)
    cin = cout
export["fc.weight"], export["fc.bias"] = torch.randn(10, widths[3]), torch.randn(10)
save("export_params_legacy.pth", {"params": dict(export)}, legacy=True)
write_safetensors("export_params.safetensors", export)

# --- a training checkpoint: {"epoch", "state_dict", "optimizer"}; the reader returns state_dict only ---
small = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
opt = torch.optim.SGD(small.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
small(torch.randn(2, 3, 3, 3)).sum().backward()
opt.step()
checkpoint = {"epoch": 3, "arch": "small", "best_acc": 0.8125, "state_dict": small.state_dict(), "optimizer": opt.state_dict()}
save("state_dict_wrapper.pth", checkpoint)
write_safetensors("state_dict_wrapper.safetensors", small.state_dict())

# --- every dtype, special values, views, shared storage, nesting; zip and legacy, pickle protocols 2, 4 and 5 ---
special = torch.tensor([0.0, -0.0, 1.0, -2.5, float("inf"), float("-inf"), float("nan"), 65504.0, 6e-8, 1e-30, 3.0e38, 1e300], dtype=torch.float64)
base = torch.randn(6, 5)
storage_owner = torch.arange(40, dtype=torch.float32).reshape(5, 8)
param = nn.Parameter(torch.randn(3, 2))
mixed = collections.OrderedDict([
    ("f64", special),
    ("f32", special.float()),
    ("f16", special[:9].half()),
    ("bf16", special.bfloat16()),
    ("i64", torch.tensor([[0, -1, 2 ** 31 - 1], [-(2 ** 31), 7, 5004]], dtype=torch.int64)),
    ("i32", torch.tensor([-(2 ** 31), 2 ** 31 - 1, 3], dtype=torch.int32)),
    ("i16", torch.tensor([-32768, 32767], dtype=torch.int16)),
    ("i8", torch.tensor([-128, 127, 0], dtype=torch.int8)),
    ("u8", torch.tensor([0, 255, 17], dtype=torch.uint8)),
    ("bool", torch.tensor([True, False, True])),
    ("scalar", torch.tensor(3.25)),
    ("empty", torch.zeros(0, 3)),
    ("transposed", base.t()),  # non-contiguous, strides (1, 5)
    ("row", base[2]),  # storage offset 10
    ("column", base[:, 3]),  # offset 3, stride 5
    ("strided", base[1::2, ::2]),  # offset 5, strides (10, 2)
    ("base", base),  # the storage the four views above share
    ("same_object", base),  # the same tensor under a second name
    ("expanded", torch.randn(3, 1).expand(3, 4)),  # stride 0
    ("narrow_of_big", storage_owner[1:3, 2:6]),  # saves the whole 40-element storage, reads 8 values
    ("param", param),  # torch._utils._rebuild_parameter
    ("nested", {"inner": {"x": torch.randn(2, 2), "n": 5, "s": "text"}, "y": torch.ones(1)}),
    ("ints", {0: torch.tensor([1.5]), 1: torch.tensor([2.5])}),
    ("notes", ["lists", "are", "left", "out", torch.zeros(1)]),
    ("blob", b"\x00\xffbytes"),  # protocol 2 pickles bytes as _codecs.encode(str, "latin1"); protocol 4 as bytes
    ("lr", 0.1),
])
save("mixed.pth", mixed)
save("mixed_legacy.pth", mixed, legacy=True)
save("mixed_p4.pth", mixed, protocol=4)
save("mixed_legacy_p5.pth", mixed, legacy=True, protocol=5)
write_safetensors("mixed.safetensors", flat(mixed))

# --- big-endian: mixed.pth as torch >= 2.1 writes it on a big-endian machine (a "byteorder" entry saying "big",
# every storage byte-swapped); torch 1.13 cannot write it, so it is derived here with zipfile ---
ITEM = {"FloatStorage": "f4", "HalfStorage": "f2", "BFloat16Storage": "u2", "DoubleStorage": "f8", "LongStorage": "i8",
        "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "u1"}


class StorageTypes(pickle.Unpickler):  # records each storage key's type; builds nothing
    found = {}

    def find_class(self, module, name):
        if module == "torch":
            return name
        if module in ("collections", "_codecs"):
            return super().find_class(module, name)
        return lambda *args: None  # the tensor rebuild functions

    def persistent_load(self, pid):
        self.found[pid[2]] = pid[1]


with zipfile.ZipFile(os.path.join(out_dir, "mixed.pth")) as src, \
        zipfile.ZipFile(os.path.join(out_dir, "mixed_big_endian.pth"), "w", zipfile.ZIP_STORED) as dst:
    StorageTypes(io.BytesIO(src.read("mixed/data.pkl"))).load()
    for info in src.infolist():
        data, name = src.read(info), info.filename.replace("mixed/", "mixed_big_endian/", 1)
        key = name.rsplit("/", 1)[1]
        if "/data/" in name:
            data = np.frombuffer(data, dtype="<" + ITEM[StorageTypes.found[key]]).byteswap().tobytes()
        dst.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    dst.writestr(zipfile.ZipInfo("mixed_big_endian/byteorder", date_time=(1980, 1, 1, 0, 0, 0)), "big")

# --- an int64 tensor that int32 cannot hold: refused, naming the tensor ---
save("int64_overflow.pth", {"ok": torch.zeros(2), "steps": torch.tensor([1, 2 ** 40], dtype=torch.int64)})


# --- files that must be refused: a global outside the allow-list, in each format ---
class RunsACommand:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


class Evaluates:
    def __reduce__(self):
        return (eval, ("1 + 1",))


save("evil_system.pth", {"w": torch.zeros(2), "x": RunsACommand()})
save("evil_eval_legacy.pth", {"w": torch.zeros(2), "x": Evaluates()}, legacy=True)
save("whole_model.pth", nn.Sequential(nn.Linear(2, 1)))  # a pickled nn.Module, not a state dict

for name in sorted(os.listdir(out_dir)):
    print(f"{os.path.getsize(os.path.join(out_dir, name)):>8}  {name}")
