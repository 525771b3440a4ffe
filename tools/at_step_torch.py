"""PyTorch eager baseline for bench/at_step_gpu.ts: the same WRN-16-1 <- WRN-16-2 attention-transfer step.

Teacher forward in evaluation mode without gradients, student forward in training mode, cross-entropy
(the reference distillation() with alpha 0) + 1e3 * sum of at_loss over the three groups, backward, SGD
(lr 0.1, momentum 0.9, weight decay 5e-4); the loss is read back every step, as the Deno bench does. The
networks are the attention-transfer reference code's functional WRN. TF32 is off (matmul and cuDNN) and
cudnn.benchmark is on. Prints a `RESULT {json}` line for tools/gpu_check.sh.

    /opt/torch/.venv/bin/python tools/at_step_torch.py --batch 128 --warmup 5 --steps 30
"""

import argparse
import json
import math
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    device = torch.device("cuda")
    gen = torch.Generator().manual_seed(1)
    s_params, s_stats, s_n = wrn_params(16, 1, 10, gen, device)
    t_params, t_stats, t_n = wrn_params(16, 2, 10, gen, device)
    for p in t_params.values():
        p.requires_grad_(False)
    x = torch.randn(args.batch, 3, 32, 32, generator=gen).to(device)
    labels = torch.randint(0, 10, (args.batch,), generator=gen).to(device)
    opt = torch.optim.SGD(list(s_params.values()), lr=0.1, momentum=0.9, weight_decay=5e-4)

    def step():
        with torch.no_grad():
            _, t_groups = wrn(t_params, t_stats, t_n, x, False)
        y_s, s_groups = wrn(s_params, s_stats, s_n, x, True)
        loss = F.cross_entropy(y_s, labels) + 1e3 * sum(at_loss(a, b) for a, b in zip(s_groups, t_groups))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

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


if __name__ == "__main__":
    main()
