#!/usr/bin/env python3
"""ResNet-18/34 reference values computed with real PyTorch, in the three parameter layouts src/nn/resnet.ts reads.

Run with Debian's PyTorch:  apt-get install python3-torch && /usr/bin/python3 tools/make_resnet_fixtures.py [OUT_DIR]
Writes safetensors files (float32; computed in float64):
- resnet18_reference.safetensors: the reference's ImageNet student (conv0, bn0, group{g}.block{b}.{conv0,bn0,conv1,
  bn1,convdim}, fc.*), width 0.125 (so group0 has a projection), 5 classes: x, labels, the training-mode logits,
  groups, cross-entropy loss, every parameter's gradient and the new running statistics; the evaluation-mode logits.
- resnet34_torchvision.safetensors: torchvision's resnet34 names (conv1, bn1, layer{l}.{b}.*, downsample.{0,1}),
  width 0.0625, evaluation mode: logits and groups.
- resnet18_folded.safetensors: the reference's exported teacher (batch norm folded: conv weights and biases,
  conv_dim where a block strides), evaluation mode: logits and groups.
Parameters are stored as `p.<name>`, running statistics as `s.<name>`, outputs under their own names.
"""
import os, sys

import fixture_io
import torch
import torch.nn.functional as F

out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "resnet")
torch.manual_seed(0)
torch.set_num_threads(1)
torch.backends.mkldnn.enabled = False
DT = torch.float64
BLOCKS = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3]}


def save(name, tensors, meta):
    fixture_io.save(os.path.join(out_dir, name), tensors, meta)


def conv(no, ni, k):
    return torch.randn(no, ni, k, k, dtype=DT) * (2.0 / (ni * k * k)) ** 0.5


def bn(p, s, base, c):
    p[base + ".weight"] = torch.rand(c, dtype=DT) + 0.5
    p[base + ".bias"] = torch.randn(c, dtype=DT) * 0.1
    s[base + ".running_mean"] = torch.randn(c, dtype=DT) * 0.1
    s[base + ".running_var"] = torch.rand(c, dtype=DT) + 0.5


def plan(blocks, width):
    widths = [int(c * width) for c in (64, 128, 256, 512)]
    ni, out = 64, []
    for g, n in enumerate(blocks):
        for b in range(n):
            out.append((g, b, ni if b == 0 else widths[g], widths[g], (1 if g == 0 else 2) if b == 0 else 1))
        ni = widths[g]
    return widths, out


def batch_norm(x, p, s, base, train, new):
    if train:
        rm, rv = s[base + ".running_mean"].clone(), s[base + ".running_var"].clone()
        y = F.batch_norm(x, rm, rv, p[base + ".weight"], p[base + ".bias"], True, 0.1, 1e-5)
        new[base + ".running_mean"], new[base + ".running_var"] = rm, rv
        return y
    return F.batch_norm(x, s[base + ".running_mean"], s[base + ".running_var"], p[base + ".weight"], p[base + ".bias"], False, 0.1, 1e-5)


def layout_names(layout, g, b):
    if layout == "reference":
        base = "group%d.block%d" % (g, b)
        return (base + ".conv0", ("bn", base + ".bn0")), (base + ".conv1", ("bn", base + ".bn1")), (base + ".convdim", None)
    if layout == "torchvision":
        base = "layer%d.%d" % (g + 1, b)
        return ((base + ".conv1.weight", ("bn", base + ".bn1")), (base + ".conv2.weight", ("bn", base + ".bn2")),
                (base + ".downsample.0.weight", ("bn", base + ".downsample.1")))
    base = "group%d.block%d" % (g, b)
    return ((base + ".conv0.weight", ("bias", base + ".conv0.bias")), (base + ".conv1.weight", ("bias", base + ".conv1.bias")),
            (base + ".conv_dim.weight", None))


STEM = {"reference": ("conv0", ("bn", "bn0")), "torchvision": ("conv1.weight", ("bn", "bn1")), "folded": ("conv0.weight", ("bias", "conv0.bias"))}


def projects(layout, b, stride, ni, no):
    # The reference's folded teacher tests the stride only; at its width (1) that is the same rule.
    return b == 0 and (stride != 1 or ni != no)


def make(layout, depth, width, classes):
    p, s = {}, {}
    widths, blocks = plan(BLOCKS[depth], width)

    def add(c, shape):
        w, norm = c
        p[w] = conv(*shape)
        if norm and norm[0] == "bn":
            bn(p, s, norm[1], shape[0])
        elif norm:
            p[norm[1]] = torch.randn(shape[0], dtype=DT) * 0.1

    add(STEM[layout], (64, 3, 7))
    for g, b, ni, no, stride in blocks:
        c0, c1, sc = layout_names(layout, g, b)
        add(c0, (no, ni, 3))
        add(c1, (no, no, 3))
        if projects(layout, b, stride, ni, no):
            add(sc, (no, ni, 1))
    p["fc.weight"] = torch.randn(classes, widths[3], dtype=DT) * (2.0 / widths[3]) ** 0.5
    p["fc.bias"] = torch.randn(classes, dtype=DT) * 0.1

    def f(x, p, train):
        new = {}

        def cv(v, c, stride, pad, relu):
            w, norm = c
            y = F.conv2d(v, p[w], stride=stride, padding=pad)
            if norm and norm[0] == "bn":
                y = batch_norm(y, p, s, norm[1], train, new)
            elif norm:
                y = y + p[norm[1]].view(1, -1, 1, 1)
            return F.relu(y) if relu else y

        v = F.max_pool2d(cv(x, STEM[layout], 2, 3, True), 3, 2, 1)
        groups = []
        for g, b, ni, no, stride in blocks:
            c0, c1, sc = layout_names(layout, g, b)
            o = cv(cv(v, c0, stride, 1, True), c1, 1, 1, False)
            v = F.relu(o + (cv(v, sc, stride, 0, False) if projects(layout, b, stride, ni, no) else v))
            if b == BLOCKS[depth][g] - 1:
                groups.append(v)
        o = F.avg_pool2d(v, v.shape[2], 1).view(x.shape[0], -1)
        return F.linear(o, p["fc.weight"], p["fc.bias"]), groups, new

    return p, s, f


def run(name, layout, depth, width, classes, grads):
    p, s, f = make(layout, depth, width, classes)
    x = torch.randn(2, 3, 64, 64, dtype=DT)
    labels = torch.tensor([1, classes - 1])
    out = {"x": x, "labels": labels}
    out.update({"p." + k: v for k, v in p.items()})
    out.update({"s." + k: v for k, v in s.items()})
    logits, groups, _ = f(x, p, False)
    out["eval.logits"] = logits
    for i, g in enumerate(groups):
        out["eval.group%d" % i] = g
    if grads:
        leaves = {k: v.clone().requires_grad_(True) for k, v in p.items()}
        logits, groups, new = f(x, leaves, True)
        loss = F.cross_entropy(logits, labels)
        gs = torch.autograd.grad(loss, list(leaves.values()))
        out["train.logits"], out["train.loss"] = logits, loss
        for i, g in enumerate(groups):
            out["train.group%d" % i] = g
        out.update({"grad." + k: g for k, g in zip(leaves.keys(), gs)})
        out.update({"new." + k: v for k, v in new.items()})
    save(name, out, {"layout": layout, "depth": depth, "width": width, "classes": classes})


os.makedirs(out_dir, exist_ok=True)
run("resnet18_reference.safetensors", "reference", 18, 0.125, 5, True)
run("resnet34_torchvision.safetensors", "torchvision", 34, 0.0625, 5, False)
run("resnet18_folded.safetensors", "folded", 18, 0.0625, 5, False)
