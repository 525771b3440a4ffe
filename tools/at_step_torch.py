"""PyTorch eager peer of the benches: the same WRN-16-1 <- WRN-16-2 workloads as bench/_at_step.ts, and its
ResNet-18 <- ResNet-34 ImageNet step.

The AT step: teacher forward in evaluation mode without gradients, student forward in training mode,
cross-entropy (the reference distillation() with alpha 0) + 1e3 * sum of at_loss over the three groups,
backward, SGD (lr 0.1, momentum 0.9, weight decay 5e-4); the loss is read back every step, as the Deno bench
does. The student step: the same without the teacher and the AT terms. The teacher forward: evaluation mode
without gradients, one logit read back. The networks are the attention-transfer reference code's functional
WRN.

The ResNet AT step (workload `resnet`, batch --resnet-batch, 224x224): the reference imagenet.py's student,
ResNet-18 with batch norm (its define_student, written here with the block counts [2, 2, 2, 2]), learning from a
ResNet-34 teacher ([3, 4, 6, 3]) in evaluation mode without gradients, with torchvision's blocks (the projection
shortcut has a batch norm), random weights; cross-entropy + 1e3 * sum of at_loss over the four groups, backward,
SGD (lr 0.1, momentum 0.9, weight decay 1e-4, the ImageNet recipe's), the loss read back.

On a GPU (--device cuda, the default, for bench/at_step_gpu.ts and tools/gpu_check.sh): TF32 off (matmul and
cuDNN), cudnn.benchmark on, the AT step only, the mean over --steps; one `RESULT {json}` line.

On the CPU (--device cpu): torch.set_num_threads(--threads), the workloads (--workloads), each step timed
alone and the median reported, since PyTorch's CPU step time varies by +-30% from step to step; one
`RESULT {json}` line per workload. With --serve (bench/steps_bench.ts), it warms up --workloads, prints
`READY {json}`, then runs one step of the workload each stdin line names (at, student, teacher, resnet) and prints
`STEP <workload> <ms>`,
so the bench can time PyTorch's steps between its own in one run. PyTorch's CPU convolutions are oneDNN (the
libdnnl.so.2 of Debian's python3-torch); its matrix products and some backward kernels use the system BLAS.
Debian's default libblas.so.3 is the slow reference BLAS, which roughly halves PyTorch's AT step: give the
peer its best setting with `apt-get install libopenblas0-pthread` (it switches the libblas.so.3 alternative
to OpenBLAS). The BLAS in use is reported in the RESULT's "device".

    /opt/torch/.venv/bin/python tools/at_step_torch.py --batch 128 --warmup 5 --steps 30
    python3 tools/at_step_torch.py --device cpu --threads 2 --batch 128 --steps 20
    python3 tools/at_step_torch.py --device cpu --threads 2 --workloads resnet --resnet-batch 32 --warmup 1 --steps 5
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def wrn_params(depth, width, num_classes, gen, device):
    n = (depth - 4) // 6
    widths = [int(v * width) for v in (16, 32, 64)]
    params, stats = {}, {}

    def conv(name, no, ni, k):
        params[name] = torch.randn(no, ni, k, k, generator=gen) * math.sqrt(2.0 / (ni * k * k))

    def bn(base, c):
        params[f"{base}.weight"] = torch.rand(c, generator=gen)
        params[f"{base}.bias"] = torch.zeros(c)
        stats[f"{base}.running_mean"] = torch.zeros(c)
        stats[f"{base}.running_var"] = torch.ones(c)

    conv("conv0", 16, 3, 3)
    ni = 16
    for g, no in enumerate(widths):
        for b in range(n):
            base = f"group{g}.block{b}"
            in_c = ni if b == 0 else no
            conv(f"{base}.conv0", no, in_c, 3)
            conv(f"{base}.conv1", no, no, 3)
            bn(f"{base}.bn0", in_c)
            bn(f"{base}.bn1", no)
            if in_c != no:
                conv(f"{base}.convdim", no, in_c, 1)
        ni = no
    bn("bn", widths[2])
    params["fc.weight"] = torch.randn(num_classes, widths[2], generator=gen) * math.sqrt(2.0 / widths[2])
    params["fc.bias"] = torch.zeros(num_classes)
    to = lambda d, grad: {k: v.to(device).requires_grad_(grad) for k, v in d.items()}
    return to(params, True), to(stats, False), n


def wrn(params, stats, n, x, train):
    def bn(v, base):
        return F.batch_norm(v, stats[f"{base}.running_mean"], stats[f"{base}.running_var"],
                            params[f"{base}.weight"], params[f"{base}.bias"], training=train)

    def block(v, base, stride):
        o1 = F.relu(bn(v, f"{base}.bn0"))
        y = F.conv2d(o1, params[f"{base}.conv0"], stride=stride, padding=1)
        o2 = F.relu(bn(y, f"{base}.bn1"))
        z = F.conv2d(o2, params[f"{base}.conv1"], stride=1, padding=1)
        dim = params.get(f"{base}.convdim")
        return z + (F.conv2d(o1, dim, stride=stride) if dim is not None else v)

    def group(v, g, stride):
        for b in range(n):
            v = block(v, f"group{g}.block{b}", stride if b == 0 else 1)
        return v

    h = F.conv2d(x, params["conv0"], padding=1)
    g0 = group(h, 0, 1)
    g1 = group(g0, 1, 2)
    g2 = group(g1, 2, 2)
    o = F.relu(bn(g2, "bn"))
    o = F.avg_pool2d(o, o.shape[2], 1, 0).view(o.size(0), -1)
    return F.linear(o, params["fc.weight"], params["fc.bias"]), (g0, g1, g2)


def at(x):
    return F.normalize(x.pow(2).mean(1).view(x.size(0), -1))


def at_loss(x, y):
    return (at(x) - at(y)).pow(2).mean()


def resnet_params(blocks, shortcut_bn, num_classes, gen):
    """A ResNet's parameters: the reference student's names; `shortcut_bn` adds torchvision's downsample batch norm."""
    params, stats = {}, {}

    def conv(name, no, ni, k):
        params[name] = torch.randn(no, ni, k, k, generator=gen) * math.sqrt(2.0 / (ni * k * k))

    def bn(base, c):
        params[f"{base}.weight"] = torch.rand(c, generator=gen)
        params[f"{base}.bias"] = torch.zeros(c)
        stats[f"{base}.running_mean"] = torch.zeros(c)
        stats[f"{base}.running_var"] = torch.ones(c)

    conv("conv0", 64, 3, 7)
    bn("bn0", 64)
    ni = 64
    for g, count in enumerate(blocks):
        no = 64 << g
        for b in range(count):
            base = f"group{g}.block{b}"
            in_c = ni if b == 0 else no
            conv(f"{base}.conv0", no, in_c, 3)
            conv(f"{base}.conv1", no, no, 3)
            bn(f"{base}.bn0", no)
            bn(f"{base}.bn1", no)
            if b == 0 and g > 0:
                conv(f"{base}.convdim", no, in_c, 1)
                if shortcut_bn:
                    bn(f"{base}.bndim", no)
        ni = no
    params["fc.weight"] = torch.randn(num_classes, ni, generator=gen) * math.sqrt(2.0 / ni)
    params["fc.bias"] = torch.zeros(num_classes)
    return params, stats


def resnet(params, stats, blocks, x, train):
    """The reference imagenet.py's define_student forward, with a batch norm after convdim where params have one."""
    def bn(v, base):
        return F.batch_norm(v, stats[f"{base}.running_mean"], stats[f"{base}.running_var"],
                            params[f"{base}.weight"], params[f"{base}.bias"], training=train)

    def block(x, base, stride):
        y = F.conv2d(x, params[f"{base}.conv0"], stride=stride, padding=1)
        o1 = F.relu(bn(y, f"{base}.bn0"), inplace=True)
        z = F.conv2d(o1, params[f"{base}.conv1"], stride=1, padding=1)
        o2 = bn(z, f"{base}.bn1")
        dim = params.get(f"{base}.convdim")
        if dim is None:
            return F.relu(o2 + x, inplace=True)
        shortcut = F.conv2d(x, dim, stride=stride)
        if f"{base}.bndim.weight" in params:
            shortcut = bn(shortcut, f"{base}.bndim")
        return F.relu(o2 + shortcut, inplace=True)

    def group(o, g, stride):
        for b in range(blocks[g]):
            o = block(o, f"group{g}.block{b}", stride if b == 0 else 1)
        return o

    o = F.conv2d(x, params["conv0"], stride=2, padding=3)
    o = F.relu(bn(o, "bn0"), inplace=True)
    o = F.max_pool2d(o, 3, 2, 1)
    g0 = group(o, 0, 1)
    g1 = group(g0, 1, 2)
    g2 = group(g1, 2, 2)
    g3 = group(g2, 3, 2)
    o = F.avg_pool2d(g3, g3.shape[2], 1, 0).view(g3.size(0), -1)
    return F.linear(o, params["fc.weight"], params["fc.bias"]), (g0, g1, g2, g3)


def make_resnet_step(args, device):
    """The ResNet-18 <- ResNet-34 AT step at --resnet-batch, 224x224 (see the module documentation)."""
    gen = torch.Generator().manual_seed(3)
    s_blocks, t_blocks = [2, 2, 2, 2], [3, 4, 6, 3]
    s_params, s_stats = resnet_params(s_blocks, False, 1000, gen)
    t_params, t_stats = resnet_params(t_blocks, True, 1000, gen)
    to = lambda d, grad: {k: v.detach().to(device).requires_grad_(grad) for k, v in d.items()}
    s_params, s_stats = to(s_params, True), to(s_stats, False)
    t_params, t_stats = to(t_params, False), to(t_stats, False)
    x = torch.randn(args.resnet_batch, 3, 224, 224, generator=gen).to(device)
    labels = torch.randint(0, 1000, (args.resnet_batch,), generator=gen).to(device)
    opt = torch.optim.SGD(list(s_params.values()), lr=0.1, momentum=0.9, weight_decay=1e-4)

    def step():
        with torch.no_grad():
            _, t_groups = resnet(t_params, t_stats, t_blocks, x, False)
        y_s, s_groups = resnet(s_params, s_stats, s_blocks, x, True)
        loss = F.cross_entropy(y_s, labels) + 1e3 * sum(at_loss(a, b) for a, b in zip(s_groups, t_groups))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def blas_in_use():
    """The BLAS library this process mapped (reference, OpenBLAS, MKL, ...), by its file name."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "blas" in line.lower() or "mkl" in line.lower()}
    except OSError:
        return "unknown BLAS"
    names = sorted({p.rsplit("/", 1)[-1] for p in paths if p.startswith("/")})
    real = sorted({os.path.realpath(p) for p in paths if p.startswith("/")})
    if any("openblas" in p.lower() for p in real):
        return "OpenBLAS (" + ", ".join(names) + ")"
    if any("mkl" in p.lower() for p in real):
        return "MKL"
    if real:
        return "reference BLAS (" + ", ".join(real) + "; apt-get install libopenblas0-pthread for OpenBLAS)"
    return "no system BLAS mapped"


def make_steps(args, device):
    gen = torch.Generator().manual_seed(1)
    s_params, s_stats, s_n = wrn_params(16, 1, 10, gen, device)
    t_params, t_stats, t_n = wrn_params(16, 2, 10, gen, device)
    for p in t_params.values():
        p.requires_grad_(False)
    x = torch.randn(args.batch, 3, 32, 32, generator=gen).to(device)
    labels = torch.randint(0, 10, (args.batch,), generator=gen).to(device)
    opt = torch.optim.SGD(list(s_params.values()), lr=0.1, momentum=0.9, weight_decay=5e-4)

    def train(with_teacher):
        if with_teacher:
            with torch.no_grad():
                _, t_groups = wrn(t_params, t_stats, t_n, x, False)
        y_s, s_groups = wrn(s_params, s_stats, s_n, x, True)
        loss = F.cross_entropy(y_s, labels)
        if with_teacher:
            loss = loss + 1e3 * sum(at_loss(a, b) for a, b in zip(s_groups, t_groups))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    def teacher_forward():
        with torch.no_grad():
            logits, _ = wrn(t_params, t_stats, t_n, x, False)
        return logits[0, 0].item()

    steps = {"at": lambda: train(True), "student": lambda: train(False), "teacher": teacher_forward}
    if "resnet" in args.workloads.split(","):
        steps["resnet"] = make_resnet_step(args, device)
    return steps


def main_cuda(args):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    step = make_steps(args, torch.device("cuda"))["at"]

    t0 = time.perf_counter()
    first_loss = step()
    first_ms = (time.perf_counter() - t0) * 1000
    for _ in range(args.warmup - 1):
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    loss = first_loss
    for _ in range(args.steps):
        loss = step()
    torch.cuda.synchronize()
    ms = (time.perf_counter() - t0) * 1000 / args.steps
    ips = 1000 * args.batch / ms
    print(f"AT step WRN-16-1 <- WRN-16-2, batch {args.batch}, [pytorch eager]: {ips:.1f} images/s "
          f"({ms:.2f} ms/step over {args.steps} steps; first step {first_ms:.0f} ms; "
          f"loss {first_loss:.4f} -> {loss:.4f})")
    print("RESULT " + json.dumps({
        "impl": "pytorch-eager", "batch": args.batch, "steps": args.steps, "ms_per_step": ms,
        "images_per_s": ips, "first_step_ms": first_ms, "loss_first": first_loss, "loss_last": loss,
        "device": f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, "
                  f"{torch.cuda.get_device_name()}",
    }))


def main_cpu(args):
    if args.threads:
        torch.set_num_threads(args.threads)
    steps = make_steps(args, torch.device("cpu"))
    names = {"at": "AT step", "student": "student step", "teacher": "teacher forward",
             "resnet": "ResNet-18 <- ResNet-34 AT step, 224x224"}
    for workload in args.workloads.split(","):
        step = steps[workload]
        batch = args.resnet_batch if workload == "resnet" else args.batch
        for _ in range(args.warmup):
            step()
        times = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            step()
            times.append((time.perf_counter() - t0) * 1000)
        ms = statistics.median(times)
        ips = 1000 * batch / ms
        print(f"{names[workload]}, batch {batch}, [pytorch cpu]: {ips:.1f} images/s (median of {args.steps} "
              f"steps {ms:.1f} ms, range {min(times):.1f}-{max(times):.1f} ms)")
        print("RESULT " + json.dumps({
            "impl": "pytorch-cpu", "workload": workload, "batch": batch, "steps": args.steps,
            "ms_median": ms, "ms_min": min(times), "ms_max": max(times), "images_per_s": ips,
            "device": f"torch {torch.__version__} on the CPU, {torch.get_num_threads()} threads, "
                      f"oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'}, {blas_in_use()}",
        }))


def serve_cpu(args):
    if args.threads:
        torch.set_num_threads(args.threads)
    steps = make_steps(args, torch.device("cpu"))
    for workload in args.workloads.split(","):
        for _ in range(args.warmup):
            steps[workload]()
    description = (f"torch {torch.__version__} on the CPU, {torch.get_num_threads()} threads, "
                   f"oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'}, {blas_in_use()}")
    print("READY " + json.dumps({"device": description}), flush=True)
    for line in sys.stdin:
        workload = line.strip()
        if workload == "quit" or not workload:
            break
        t0 = time.perf_counter()
        steps[workload]()
        print(f"STEP {workload} {(time.perf_counter() - t0) * 1000:.3f}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (torch.set_num_threads); 0 keeps torch's")
    parser.add_argument("--workloads", default="at,student,teacher",
                        help="CPU: comma-separated at, student, teacher, resnet")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--resnet-batch", type=int, default=32, help="batch of the resnet workload")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--serve", action="store_true", help="CPU: run one step per stdin line (see above)")
    args = parser.parse_args()
    if args.device == "cuda":
        main_cuda(args)
    elif args.serve:
        serve_cpu(args)
    else:
        main_cpu(args)


if __name__ == "__main__":
    main()
