#!/usr/bin/env python3
"""Network-in-Network and the paper's other transfer terms computed with real PyTorch, for src/nn/nin.ts,
src/gradient_at.ts, src/full_activation.ts and the student objective of src/train/step.ts.

Run with Debian's PyTorch:  apt-get install python3-torch && /usr/bin/python3 tools/make_nin_fixtures.py [OUT_DIR]
Writes safetensors files (float32; computed in float64) into tests/fixtures/nin/:
- nin_bn.safetensors, nin_nobn.safetensors: NIN at width 1/16, 5 classes, with and without batch norm
  (block{b}.conv{i}.weight, block{b}.bn{i}.* or block{b}.conv{i}.bias, fc.*); x [2, 3, 16, 16], labels; the
  evaluation-mode logits and groups; the training-mode logits, groups, cross-entropy, every parameter's gradient
  and the new running statistics. Metadata: the parameter counts of NIN-wide and NIN-thin at 10 classes, with and
  without batch norm, counted from PyTorch modules built to the same table.
- objective_bn.safetensors, objective_nobn.safetensors: one student objective with every term: a student NIN
  (width 1/16, training mode) and a teacher NIN (width 1/8, evaluation mode), x [2, 3, 16, 16]:
  J = d sum_n CE_n / dx (create_graph for the student), KD (alpha, T) + beta * sum_g at_loss + fat_beta * sum_g
  fat_loss + gat_beta/2 * mean_n |J_s - J_t|_2 + sym_beta/2 * mean_n |J_s - flip(J_s)|_2, its value, each term,
  J_s, J_t and the gradient of the objective for every student parameter (double backward).
Parameters are stored as `p.<name>`, running statistics as `s.<name>`, the teacher's as `tp.` / `ts.`.
"""
import os, sys

import fixture_io
import torch
import torch.nn as nn
import torch.nn.functional as F

out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "nin")
torch.manual_seed(0)
torch.set_num_threads(1)
torch.backends.mkldnn.enabled = False
DT = torch.float64
# (kernel, channels at width 1) of the three convolutions of each block, as wide-residual-networks/models/nin.lua.
BLOCKS = [[(5, 192), (1, 160), (1, 96)], [(5, 192), (1, 192), (1, 192)], [(3, 192), (1, 192), (1, 192)]]
WEIGHTS = {"alpha": 0.9, "temperature": 4.0, "beta": 2.0, "fat_beta": 3.0, "gat_beta": 0.5, "sym_beta": 0.7}


def save(name, tensors, meta):
    fixture_io.save(os.path.join(out_dir, name), tensors, meta)


def make(width, classes, bn):
    """Random NIN parameters (p) and running statistics (s), named as src/nn/nin.ts names them."""
    p, s = {}, {}
    ni = 3
    for b, block in enumerate(BLOCKS):
        for i, (k, c) in enumerate(block):
            no = int(c * width)
            p["block%d.conv%d.weight" % (b, i)] = torch.randn(no, ni, k, k, dtype=DT) * (2.0 / (ni * k * k)) ** 0.5
            if bn:
                base = "block%d.bn%d" % (b, i)
                p[base + ".weight"] = torch.rand(no, dtype=DT) + 0.5
                p[base + ".bias"] = torch.randn(no, dtype=DT) * 0.1
                s[base + ".running_mean"] = torch.randn(no, dtype=DT) * 0.1
                s[base + ".running_var"] = torch.rand(no, dtype=DT) + 0.5
            else:
                p["block%d.conv%d.bias" % (b, i)] = torch.randn(no, dtype=DT) * 0.1
            ni = no
    p["fc.weight"] = torch.randn(classes, ni, dtype=DT) * (2.0 / ni) ** 0.5
    p["fc.bias"] = torch.randn(classes, dtype=DT) * 0.1
    return p, s


def forward(x, p, s, train, bn):
    """The network: logits, the three block outputs (attention points), the new running statistics."""
    new, groups, v = {}, [], x
    for b, block in enumerate(BLOCKS):
        for i, (k, _) in enumerate(block):
            w = p["block%d.conv%d.weight" % (b, i)]
            if bn:
                base = "block%d.bn%d" % (b, i)
                y = F.conv2d(v, w, padding=(k - 1) // 2)
                rm, rv = s[base + ".running_mean"].clone(), s[base + ".running_var"].clone()
                y = F.batch_norm(y, rm, rv, p[base + ".weight"], p[base + ".bias"], train, 0.1, 1e-5)
                if train:
                    new[base + ".running_mean"], new[base + ".running_var"] = rm, rv
            else:
                y = F.conv2d(v, w, p["block%d.conv%d.bias" % (b, i)], padding=(k - 1) // 2)
            v = F.relu(y)
        groups.append(v)
        if b == 0:
            v = F.max_pool2d(v, 3, 2, 1)
        elif b == 1:
            v = F.avg_pool2d(v, 3, 2, 1)  # count_include_pad=True, PyTorch's default
        else:
            v = F.avg_pool2d(v, v.shape[2], 1)
    return F.linear(v.view(x.shape[0], -1), p["fc.weight"], p["fc.bias"]), groups, new


def module_count(width, classes, bn):
    """Trainable parameters of the same table built from torch.nn modules (an independent count)."""
    layers, ni = [], 3
    for block in BLOCKS:
        for k, c in block:
            no = int(c * width)
            layers.append(nn.Conv2d(ni, no, k, padding=(k - 1) // 2, bias=not bn))
            if bn:
                layers.append(nn.BatchNorm2d(no))
            ni = no
    layers.append(nn.Linear(ni, classes))
    return sum(q.numel() for q in nn.Sequential(*layers).parameters())


def net_fixture(name, bn):
    width, classes = 1 / 16, 5
    p, s = make(width, classes, bn)
    x = torch.randn(2, 3, 16, 16, dtype=DT)
    labels = torch.tensor([1, 4])
    out = {"x": x, "labels": labels}
    out.update({"p." + k: v for k, v in p.items()})
    out.update({"s." + k: v for k, v in s.items()})
    logits, groups, _ = forward(x, p, s, False, bn)
    out["eval.logits"] = logits
    out.update({"eval.group%d" % i: g for i, g in enumerate(groups)})
    leaves = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    logits, groups, new = forward(x, leaves, s, True, bn)
    loss = F.cross_entropy(logits, labels)
    grads = torch.autograd.grad(loss, list(leaves.values()))
    out["train.logits"], out["train.loss"] = logits, loss
    out.update({"train.group%d" % i: g for i, g in enumerate(groups)})
    out.update({"grad." + k: g for k, g in zip(leaves.keys(), grads)})
    out.update({"new." + k: v for k, v in new.items()})
    counts = {"params_w%s_%s" % (w, "bn" if b else "nobn"): module_count(w, 10, b) for w in (1, 0.5) for b in (True, False)}
    save(name, out, {"width": width, "classes": classes, "batchnorm": bn, **counts})


def at(x):
    return F.normalize(x.pow(2).mean(1).view(x.shape[0], -1))


def fat(x, y):
    """Full-activation transfer: the wider tensor's consecutive channel groups averaged, per-sample unit vectors,
    squared distance summed and divided by N*H*W."""
    n, c1, h, w = x.shape
    c = min(c1, y.shape[1])
    pool = lambda t: t if t.shape[1] == c else t.view(n, c, t.shape[1] // c, h, w).mean(2)
    flat = lambda t: F.normalize(pool(t).reshape(n, -1))
    return (flat(x) - flat(y)).pow(2).sum() / (n * h * w)


def objective_fixture(name, bn):
    classes = 5
    p, s = make(1 / 16, classes, bn)
    tp, ts = make(1 / 8, classes, bn)
    x = torch.randn(2, 3, 16, 16, dtype=DT)
    labels = torch.tensor([3, 0])
    W = WEIGHTS
    # The teacher's side, evaluation mode, no graph kept.
    xt = x.clone().requires_grad_(True)
    t_logits, t_groups, _ = forward(xt, tp, ts, False, bn)
    (jt,) = torch.autograd.grad(F.cross_entropy(t_logits, labels, reduction="sum"), xt)
    t_logits, t_groups = t_logits.detach(), [g.detach() for g in t_groups]
    # The student's side, training mode, its input gradient on the graph.
    leaves = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    xs = x.clone().requires_grad_(True)
    logits, groups, new = forward(xs, leaves, s, True, bn)
    (js,) = torch.autograd.grad(F.cross_entropy(logits, labels, reduction="sum"), xs, create_graph=True)
    T, alpha = W["temperature"], W["alpha"]
    kd = F.kl_div(F.log_softmax(logits / T, 1), F.softmax(t_logits / T, 1), reduction="sum") * T * T / x.shape[0] * alpha \
        + F.cross_entropy(logits, labels) * (1 - alpha)
    at_losses = [(at(g) - at(tg)).pow(2).mean() for g, tg in zip(groups, t_groups)]
    fat_losses = [fat(g, tg) for g, tg in zip(groups, t_groups)]
    gat = (js - jt).view(2, -1).norm(dim=1).mean()
    sym = (js - js.flip(3)).view(2, -1).norm(dim=1).mean()
    loss = kd + W["beta"] * sum(at_losses) + W["fat_beta"] * sum(fat_losses) + W["gat_beta"] / 2 * gat + W["sym_beta"] / 2 * sym
    grads = torch.autograd.grad(loss, list(leaves.values()))
    out = {"x": x, "labels": labels, "loss": loss, "kd": kd, "gat": gat, "sym": sym, "js": js, "jt": jt,
           "at": torch.stack(at_losses), "fat": torch.stack(fat_losses), "logits": logits}
    out.update({"p." + k: v for k, v in p.items()})
    out.update({"s." + k: v for k, v in s.items()})
    out.update({"tp." + k: v for k, v in tp.items()})
    out.update({"ts." + k: v for k, v in ts.items()})
    out.update({"grad." + k: g for k, g in zip(leaves.keys(), grads)})
    out.update({"new." + k: v for k, v in new.items()})
    save(name, out, {"student_width": 1 / 16, "teacher_width": 1 / 8, "classes": classes, "batchnorm": bn, **W})


os.makedirs(out_dir, exist_ok=True)
net_fixture("nin_bn.safetensors", True)
net_fixture("nin_nobn.safetensors", False)
objective_fixture("objective_bn.safetensors", True)
objective_fixture("objective_nobn.safetensors", False)
