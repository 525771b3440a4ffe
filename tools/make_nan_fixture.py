#!/usr/bin/env python3
"""What PyTorch gives for NaN and infinite inputs, op by op, for tests/nan_test.ts.

Run with Debian's PyTorch:  /usr/bin/python3 tools/make_nan_fixture.py [OUT_FILE]
(default tests/fixtures/nan/nan.safetensors). Everything is computed in float32, the library's dtype, on the
plain CPU kernels (mkldnn off). Gradients are taken with an upstream gradient of ones unless stated.
Tensor names are listed in tests/fixtures/README.md.
"""
import json, os, struct, sys
import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
out_file = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "tests", "fixtures", "nan", "nan.safetensors")
torch.manual_seed(0)
torch.set_num_threads(1)
torch.backends.mkldnn.enabled = False
nan, inf = float("nan"), float("inf")
T = {}


def save(path, tensors, meta):
    header, blobs, off = {}, [], 0
    for k, t in tensors.items():
        b = t.detach().contiguous().to(torch.float32).numpy().tobytes()
        header[k] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = meta
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def leaf(values, shape=None):
    t = torch.tensor(values, dtype=torch.float32)
    return (t.reshape(shape) if shape else t).requires_grad_()


def grad_of(y, x, upstream=None):
    (g,) = torch.autograd.grad(y, x, torch.ones_like(y) if upstream is None else upstream)
    return g


# ---- unary ops on special values. No value equals a threshold, and there is no -0: ties and the sign of a
# zero are no NaN rules (PyTorch's relu(-0) is -0 and its pow(x, 0.5) gradient at -0 is -inf; ours are 0, +inf).
special = [nan, -nan, inf, -inf, 2.0, -1.5, 0.0, 0.5, 1.0, 3.0]
unary = {
    "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt, "rsqrt": torch.rsqrt, "abs": torch.abs,
    "affine": lambda x: x * 3 - 2, "pow2": lambda x: x.pow(2), "pow3": lambda x: x.pow(3),
    "pow_half": lambda x: x.pow(0.5), "pow_neg_half": lambda x: x.pow(-0.5), "pow_neg1": lambda x: x.pow(-1),
    "pow_1_5": lambda x: x.pow(1.5),
    "relu": torch.relu, "clamp_min": lambda x: torch.clamp_min(x, 0.25),
}
T["unary.x"] = torch.tensor(special)
for name, f in unary.items():
    x = leaf(special)
    y = f(x)
    T[f"unary.{name}"] = y
    T[f"unary.{name}.grad"] = grad_of(y, x)
T["unary.sign"] = torch.sign(torch.tensor(special))
T["unary.gt"] = (torch.tensor(special) > 0.25).float()

# ---- binary ops: IEEE rules ----
a = [nan, 1.0, inf, inf, 0.0, 0.0, 1.0, -1.0, -inf, 2.0]
b = [1.0, nan, inf, -inf, inf, 0.0, 0.0, 0.0, -inf, 3.0]
T["binary.a"], T["binary.b"] = torch.tensor(a), torch.tensor(b)
for name, f in {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}.items():
    T[f"binary.{name}"] = f(torch.tensor(a), torch.tensor(b))

# ---- sums: rows [3, 4] and a long axis [2, 100] (several passes on webgpu) ----
s = torch.tensor([[1.0, nan, 2.0, 3.0], [inf, -inf, 1.0, 1.0], [inf, 1.0, 2.0, 3.0]])
T["sum.x"], T["sum.rows"], T["sum.cols"], T["sum.all"] = s, s.sum(1), s.sum(0), s.sum().reshape(1)
T["sum.mean_rows"] = s.mean(1)
long = torch.rand(2, 100)
long[0, 77], long[1, 50] = nan, inf
T["sum.long"], T["sum.long_rows"] = long, long.sum(1)

# ---- log-softmax, softmax and cross-entropy ----
rows = [[1.0, nan, 2.0], [nan, nan, nan], [inf, 1.0, 0.0], [inf, inf, 1.0], [-inf, 1.0, 2.0], [-inf, -inf, -inf],
        [1.0, 2.0, 3.0]]
x = leaf(rows)
y = F.log_softmax(x, 1)
T["softmax.x"], T["softmax.log_softmax"], T["softmax.log_softmax.grad"] = x, y, grad_of(y, x)
T["softmax.softmax"] = F.softmax(x.detach(), 1)
wide = torch.randn(2, 200)
wide[0, 150] = nan
T["softmax.wide"], T["softmax.wide_log_softmax"] = wide, F.log_softmax(wide, 1)
T["softmax.ce_x"] = torch.tensor([[1.0, nan, 2.0], [1.0, 2.0, 3.0]])
T["softmax.ce"] = F.cross_entropy(T["softmax.ce_x"], torch.tensor([0, 2])).reshape(1)

# ---- pooling: overlapping windows, so that the NaN a window's gradient goes to is visible ----
planes = [[nan, 1.0, nan, 3.0, nan, 5.0, 6.0, 7.0, 8.0], [1.0, 2.0, inf, -inf, -inf, 0.0, 4.0, -inf, nan]]
for key, (k, st, pad) in {"k2s1": (2, 1, 0), "k3s1p1": (3, 1, 1)}.items():
    x = leaf(planes, (1, 2, 3, 3))
    y = F.max_pool2d(x, k, st, pad)
    upstream = torch.arange(1.0, y.numel() + 1).reshape(y.shape).requires_grad_()
    (dx,) = torch.autograd.grad(y, x, upstream, create_graph=True)
    v = torch.arange(1.0, dx.numel() + 1).reshape(dx.shape) * 10
    T[f"maxpool.{key}.y"], T[f"maxpool.{key}.dy"], T[f"maxpool.{key}.dx"] = y, upstream, dx
    # double backward: d<dx, v>/d upstream gathers v where each window's gradient went
    T[f"maxpool.{key}.v"], T[f"maxpool.{key}.gather"] = v, grad_of((dx * v).sum(), upstream)
T["maxpool.x"] = torch.tensor(planes).reshape(1, 2, 3, 3)
T["avgpool.k2s1"] = F.avg_pool2d(T["maxpool.x"], 2, 1)

# ---- batch norm: channel 0 holds a NaN, channel 1 an infinity, channel 2 is finite ----
xb = torch.randn(2, 3, 2, 2)
xb[1, 0, 0, 1], xb[0, 1, 1, 0] = nan, inf
gamma, beta = torch.rand(3) + 0.5, torch.randn(3) * 0.1
rm, rv = torch.randn(3) * 0.1, torch.rand(3) + 0.5
T.update({"bn.x": xb, "bn.weight": gamma, "bn.bias": beta, "bn.running_mean": rm.clone(), "bn.running_var": rv.clone()})
x = xb.clone().requires_grad_()
rm_t, rv_t = rm.clone(), rv.clone()
y = F.batch_norm(x, rm_t, rv_t, gamma, beta, training=True, momentum=0.1, eps=1e-5)
T["bn.train.y"], T["bn.train.relu"] = y, torch.relu(y)
T["bn.train.running_mean"], T["bn.train.running_var"] = rm_t, rv_t
T["bn.train.relu.dx"] = grad_of(torch.relu(y), x)
# evaluation: a finite input (one NaN pixel in channel 2) against a NaN running mean (channel 0), a negative
# running variance (channel 1)
xe = torch.randn(2, 3, 2, 2)
xe[0, 2, 1, 1] = nan
rm_e, rv_e = rm.clone(), rv.clone()
rm_e[0], rv_e[1] = nan, -2.0
x = xe.clone().requires_grad_()
y = F.batch_norm(x, rm_e, rv_e, gamma, beta, training=False, eps=1e-5)
T.update({"bn.eval.x": xe, "bn.eval.running_mean": rm_e, "bn.eval.running_var": rv_e, "bn.eval.y": y})
T["bn.eval.relu"], T["bn.eval.relu.dx"] = torch.relu(y), grad_of(torch.relu(y), x)

# ---- convolution and matmul: a NaN reaches exactly the outputs whose windows hold it ----
xc = torch.randn(1, 2, 4, 4)
xc[0, 1, 1, 2] = nan
wc = torch.randn(3, 2, 3, 3)
T["conv.x"], T["conv.w"], T["conv.y"] = xc, wc, F.conv2d(xc, wc, padding=1)
ma, mb = torch.randn(2, 3), torch.randn(3, 4)
ma[1, 2] = nan
T["matmul.a"], T["matmul.b"], T["matmul.y"] = ma, mb, ma @ mb


# ---- a tiny WRN (the reference's pre-activation blocks, WRN-10-0.5) on [2, 3, 8, 8] ----
def wrn_params(width=0.5, classes=5):
    widths = [int(v * width) for v in (16, 32, 64)]
    p = {"conv0": torch.randn(16, 3, 3, 3) * 0.3}

    def bn(base, c):
        p.update({f"{base}.weight": torch.rand(c) + 0.5, f"{base}.bias": torch.randn(c) * 0.1,
                  f"{base}.running_mean": torch.randn(c) * 0.1, f"{base}.running_var": torch.rand(c) + 0.5})

    ni = 16
    for g, no in enumerate(widths):
        base = f"group{g}.block0"
        p[f"{base}.conv0"] = torch.randn(no, ni, 3, 3) * (2 / (9 * ni)) ** 0.5
        p[f"{base}.conv1"] = torch.randn(no, no, 3, 3) * (2 / (9 * no)) ** 0.5
        bn(f"{base}.bn0", ni)
        bn(f"{base}.bn1", no)
        if ni != no:
            p[f"{base}.convdim"] = torch.randn(no, ni, 1, 1) * (2 / ni) ** 0.5
        ni = no
    bn("bn", ni)
    p["fc.weight"], p["fc.bias"] = torch.randn(classes, ni) * (1 / ni) ** 0.5, torch.zeros(classes)
    return p


def wrn_forward(x, p, train):
    p = {k: v.clone() for k, v in p.items()}  # running statistics are updated in place in training mode

    def bnrelu(v, base):
        return F.relu(F.batch_norm(v, p[f"{base}.running_mean"], p[f"{base}.running_var"], p[f"{base}.weight"],
                                   p[f"{base}.bias"], training=train))

    o = F.conv2d(x, p["conv0"], padding=1)
    for g, stride in enumerate((1, 2, 2)):
        base = f"group{g}.block0"
        o1 = bnrelu(o, f"{base}.bn0")
        y = F.conv2d(o1, p[f"{base}.conv0"], stride=stride, padding=1)
        z = F.conv2d(bnrelu(y, f"{base}.bn1"), p[f"{base}.conv1"], padding=1)
        o = z + (F.conv2d(o1, p[f"{base}.convdim"], stride=stride) if f"{base}.convdim" in p else o)
    o = bnrelu(o, "bn")
    return F.linear(F.avg_pool2d(o, o.size(2), 1).flatten(1), p["fc.weight"], p["fc.bias"])


wp = wrn_params()
for k, v in wp.items():
    T[f"wrn.param.{k}"] = v
xw = torch.randn(2, 3, 8, 8)
xw[0, 1, 3, 4] = nan
T["wrn.x"] = xw
T["wrn.pixel.train.logits"] = wrn_forward(xw, wp, True)
T["wrn.pixel.eval.logits"] = wrn_forward(xw, wp, False)
clean = torch.nan_to_num(xw, nan=0.0)
T["wrn.clean"] = clean
stat = dict(wp)
stat["group1.block0.bn1.running_var"] = wp["group1.block0.bn1.running_var"].clone()
stat["group1.block0.bn1.running_var"][3] = nan
T["wrn.stat.running_var"] = stat["group1.block0.bn1.running_var"]
T["wrn.stat.eval.logits"] = wrn_forward(clean, stat, False)
T["wrn.clean.eval.logits"] = wrn_forward(clean, wp, False)

save(out_file, T, {"torch": torch.__version__, "made_by": "tools/make_nan_fixture.py"})
print(f"wrote {len(T)} tensors to {out_file}")
