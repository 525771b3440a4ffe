// Gradient-based attention transfer (src/gradient_at.ts) and the horizontal flip it uses: the input gradient against
// a closed form, the double-backward gradient of both terms against finite differences of the first-order input
// gradient, properties (fast-check), and the whole student objective of src/train/step.ts (KD, AT, F-ActT,
// gradient AT, flip symmetry) against PyTorch's double backward (tools/make_nin_fixtures.py).
import fc from "fast-check";
import { flipSymmetryLoss, gradientAtLoss, gradientAttention } from "../src/gradient_at.ts";
import { nin } from "../src/nn/nin.ts";
import type { TensorRecord } from "../src/nn/params.ts";
import { sgdInit } from "../src/nn/sgd.ts";
import { Rng } from "../src/rng.ts";
import { valueAndGrad } from "../src/tensor/autograd.ts";
import { conv2d } from "../src/tensor/conv.ts";
import { flipHorizontal } from "../src/tensor/flip.ts";
import { linear } from "../src/tensor/linalg.ts";
import { batchNorm } from "../src/tensor/norm.ts";
import { avgPool2d } from "../src/tensor/pool.ts";
import { crossEntropy } from "../src/tensor/softmax.ts";
import { type Tensor, tensor } from "../src/tensor/tensor.ts";
import { trainStep } from "../src/train/step.ts";
import { RUNS, tensorData, valuesOf } from "./_arbitrary.ts";
import { assert, assertClose, assertThrowsWith } from "./_assert.ts";
import { expectClose, loadFixture, parityBackend } from "./_fixtures.ts";

const backend = await parityBackend();
const DIR = Deno.env.get("AT_NIN_FIXTURES") ?? new URL("./fixtures/nin/", import.meta.url).pathname;

function randn(rng: Rng, shape: number[], scale = 1): Tensor {
  return tensor(Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => rng.normal() * scale), shape);
}

Deno.test(`[${backend}] flipHorizontal reverses the width axis and is its own inverse`, async () => {
  await fc.assert(
    fc.asyncProperty(tensorData(4, 5), async ({ shape, data }) => {
      const x = tensor(data, shape);
      const got = await flipHorizontal(x).data();
      const w = shape[3];
      for (let i = 0; i < data.length; i++) {
        const col = i % w;
        // Equal as numbers: a −0 comes back as +0 (it is summed with the zeros of the exchange matrix).
        assert.ok(got[i] === data[i - col + (w - 1 - col)], `element ${i} of ${JSON.stringify(shape)}: ${got[i]}`);
      }
      const twice = await flipHorizontal(flipHorizontal(x)).data();
      assert.ok(twice.every((v, i) => v === data[i]), "flipping twice gives the input back");
    }),
    { numRuns: RUNS },
  );
  assertThrowsWith(() => flipHorizontal(tensor([1, 2, 3], [1, 3])), "flipHorizontal", "[N, C, H, W]", "[1, 3]");
});

Deno.test(`[${backend}] gradientAttention of a softmax classifier is each image's own Wᵀ(softmax − one-hot)`, async () => {
  const rng = new Rng(11);
  const [n, c, h, w, classes] = [3, 2, 3, 4, 5];
  const d = c * h * w;
  const x = randn(rng, [n, c, h, w]);
  const weight = randn(rng, [classes, d], 0.5);
  const bias = randn(rng, [classes], 0.1);
  const labels = [4, 0, 2];
  const forward = (v: Tensor) => ({ logits: linear(v.reshape([v.shape[0], -1]), weight, bias) });
  const { attention, output } = gradientAttention(forward, x, { labels });
  assert.deepEqual(attention.shape, [n, c, h, w]);
  assert.equal(attention.requiresGrad, false, "no graph without createGraph");
  assert.equal(output.logits.requiresGrad, false, "the output is cut from the graph without createGraph");
  // The closed form, in float64 on the host, one image at a time: L summed over the batch gives each image its own.
  const [xs, ws, bs, got] = [await x.data(), await weight.data(), await bias.data(), await attention.data()];
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: classes }, (_, k) => {
      let s = bs[k];
      for (let j = 0; j < d; j++) s += ws[k * d + j] * xs[i * d + j];
      return s;
    });
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const sum = e.reduce((a, b) => a + b, 0);
    for (let j = 0; j < d; j++) {
      let g = 0;
      for (let k = 0; k < classes; k++) g += ws[k * d + j] * (e[k] / sum - (k === labels[i] ? 1 : 0));
      assertClose(got[i * d + j], g, 1e-5 * (1 + Math.abs(g)), `J[${i}, ${j}]`);
    }
  }
  assertThrowsWith(() => gradientAttention(forward, x, {} as { labels: number[] }), "gradientAttention", "labels");
  assertThrowsWith(
    () => gradientAttention(() => ({ logits: tensor([1, 2], [1, 2]) }), x, { labels }),
    "gradientAttention",
    "[1, 2]",
    "3 images",
  );
});

/**
 * A tiny smooth network (convolution, batch norm with batch statistics, a strided convolution, average pooling,
 * linear): no ReLU, so the input gradient is smooth in the parameters and finite differences of it mean something.
 */
function smallNet(q: TensorRecord, v: Tensor): { logits: Tensor } {
  const c = q.w1.shape[0];
  const stats = { runningMean: tensor(new Float32Array(c)), runningVar: tensor(new Float32Array(c).fill(1)) };
  let h = conv2d(v, q.w1, { pad: 1 });
  h = batchNorm(h, { weight: q.g1, bias: q.b1, ...stats }, { training: true }).y;
  h = conv2d(h, q.w2, { stride: 2, pad: 1 });
  h = avgPool2d(h, { kernel: h.shape[2] });
  return { logits: linear(h.reshape([v.shape[0], -1]), q.fc, q.fcb) };
}

function smallParams(rng: Rng): TensorRecord {
  return {
    w1: randn(rng, [4, 3, 3, 3], 0.5),
    g1: randn(rng, [4], 0.3).add(1),
    b1: randn(rng, [4], 0.1),
    w2: randn(rng, [5, 4, 3, 3], 0.3),
    fc: randn(rng, [3, 5], 0.5),
    fcb: randn(rng, [3], 0.1),
  };
}

Deno.test(`[${backend}] the double-backward gradient of β/2·‖J_s − J_t‖ + β'/2·‖J_s − flip(J_s)‖ matches finite differences of the first-order J`, async () => {
  const rng = new Rng(5);
  const student = smallParams(rng);
  const x = randn(rng, [2, 3, 6, 6]);
  const labels = [1, 2];
  const teacher = smallParams(rng);
  const jt = gradientAttention((v) => smallNet(teacher, v), x, { labels }).attention;
  const [gatBeta, symBeta] = [0.8, 0.6];
  // The objective as the step builds it; `createGraph` false gives the first-order value only.
  const objective = (q: TensorRecord, createGraph: boolean): Tensor => {
    const { attention: js, output } = gradientAttention((v) => smallNet(q, v), x, { labels, createGraph });
    return crossEntropy(output.logits, labels)
      .add(gradientAtLoss(js, jt).mul(gatBeta / 2))
      .add(flipSymmetryLoss(js).mul(symBeta / 2));
  };
  const { value, grads } = valueAndGrad((q: TensorRecord) => objective(q, true))(student);
  assertClose(await value.item(), await objective(student, false).item(), 1e-6, "the value with and without a graph");
  const h = 1e-2;
  for (const name of Object.keys(student)) {
    const v = randn(new Rng(name.charCodeAt(0)), student[name].shape as number[]);
    const analytic = await grads[name].mul(v).sum().item();
    const plus = await objective({ ...student, [name]: student[name].add(v.mul(h)) }, false).item();
    const minus = await objective({ ...student, [name]: student[name].sub(v.mul(h)) }, false).item();
    const numeric = (plus - minus) / (2 * h);
    const tol = 2e-2 * Math.max(Math.abs(analytic), Math.abs(numeric)) + 2e-3;
    assertClose(analytic, numeric, tol, `∂/∂${name} (double backward vs finite differences)`);
  }
  // The transfer terms alone, so that a wrong second-order part cannot hide behind the cross-entropy's gradient.
  const terms = (q: TensorRecord, createGraph: boolean) => {
    const js = gradientAttention((v) => smallNet(q, v), x, { labels, createGraph }).attention;
    return gradientAtLoss(js, jt).add(flipSymmetryLoss(js));
  };
  const only = valueAndGrad((q: TensorRecord) => terms(q, true))(student).grads;
  for (const name of ["w1", "g1", "fc"]) {
    const v = randn(new Rng(7 + name.length), student[name].shape as number[]);
    const analytic = await only[name].mul(v).sum().item();
    const numeric = ((await terms({ ...student, [name]: student[name].add(v.mul(h)) }, false).item()) -
      (await terms({ ...student, [name]: student[name].sub(v.mul(h)) }, false).item())) / (2 * h);
    assert.ok(Math.abs(numeric) > 1e-3, `the terms depend on ${name}`);
    assertClose(analytic, numeric, 2e-2 * Math.abs(numeric) + 2e-3, `∂/∂${name} of the gradient terms alone`);
  }
});

Deno.test(`[${backend}] gradientAtLoss is zero, with a zero gradient, when student and teacher are the same network`, async () => {
  const net = nin({ width: 1 / 16, numClasses: 4, batchNorm: false });
  const { params, stats } = net.init(3);
  const x = randn(new Rng(2), [2, 3, 8, 8]);
  const labels = [0, 3];
  const forward = (p: TensorRecord) => (v: Tensor) => net.apply(p, stats, v, { train: false });
  const jt = gradientAttention(forward(params), x, { labels }).attention;
  const { value, grads } = valueAndGrad((p: TensorRecord) =>
    gradientAtLoss(gradientAttention(forward(p), x, { labels, createGraph: true }).attention, jt)
  )(params);
  assert.equal(await value.item(), 0);
  for (const [name, g] of Object.entries(grads)) {
    assert.ok((await g.data()).every((e) => e === 0), `gradient of ${name} is zero`);
  }
  // A different teacher gives a positive term (so the test above can fail).
  const other = net.init(4);
  const jo = gradientAttention(forward(other.params), x, { labels }).attention;
  assert.ok(await gradientAtLoss(jo, jt).item() > 0);
});

Deno.test(`[${backend}] gradientAtLoss and flipSymmetryLoss: non-negative, symmetric, the per-image L2 norm averaged`, async () => {
  await fc.assert(
    fc.asyncProperty(
      tensorData(4, 4).chain(({ shape, data }) => valuesOf(data.length).map((other) => ({ shape, data, other }))),
      async ({ shape, data, other }) => {
        const [a, b] = [tensor(data, shape), tensor(other, shape)];
        const ab = await gradientAtLoss(a, b).item();
        assert.ok(ab >= 0, `non-negative: ${ab}`);
        assert.equal(await gradientAtLoss(b, a).item(), ab, "symmetric");
        assert.equal(await gradientAtLoss(a, a).item(), 0);
        // The definition, in float64 on the host: mean over images of ‖a − b‖₂ and of ‖a − flip(a)‖₂.
        const [n, w] = [shape[0], shape[3]];
        const per = data.length / n;
        let gat = 0, sym = 0;
        for (let i = 0; i < n; i++) {
          let sg = 0, ss = 0;
          for (let j = i * per; j < (i + 1) * per; j++) {
            const col = j % w;
            sg += (data[j] - other[j]) ** 2;
            ss += (data[j] - data[j - col + (w - 1 - col)]) ** 2;
          }
          gat += Math.sqrt(sg) / n;
          sym += Math.sqrt(ss) / n;
        }
        assertClose(ab, gat, 1e-5 * (1 + gat), "gradientAtLoss");
        const s = await flipSymmetryLoss(a).item();
        assert.ok(s >= 0);
        assertClose(s, sym, 1e-5 * (1 + sym), "flipSymmetryLoss");
        assert.equal(await flipSymmetryLoss(flipHorizontal(a)).item(), s, "a mirrored attention is as symmetric");
      },
    ),
    { numRuns: RUNS },
  );
  assertThrowsWith(() => gradientAtLoss(tensor([1, 2], [1, 2]), tensor([1, 2, 3], [1, 3])), "gradientAtLoss", "[1, 3]");
  assertThrowsWith(() => flipSymmetryLoss(tensor([1, 2], [1, 2])), "flipSymmetryLoss", "[N, C, H, W]");
  const empty = tensor(new Float32Array(0), [0, 1, 2, 2]);
  assertThrowsWith(() => gradientAtLoss(empty, empty), "gradientAtLoss", "empty batch");
  assertThrowsWith(() => flipSymmetryLoss(empty), "flipSymmetryLoss", "empty batch");
});

/** `w [o, i, k, k]` made mirror-symmetric: each filter row equal to its reverse. */
function mirrored(w: Tensor): Tensor {
  return w.add(flipHorizontal(w)).mul(0.5);
}

Deno.test(`[${backend}] flipSymmetryLoss of J is zero for mirror-symmetric images through a mirror-symmetric network`, async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 1_000_000 }), fc.boolean(), async (seed, symmetricNet) => {
      const rng = new Rng(seed);
      const raw = smallParams(rng);
      // Symmetric filters and per-channel operations keep the mirror symmetry from image to logits.
      const q = symmetricNet ? { ...raw, w1: mirrored(raw.w1), w2: mirrored(raw.w2) } : raw;
      // An odd width keeps the stride-2 convolution's windows mirror images of each other (centres 0, 2, 4 of 5).
      const half = randn(rng, [2, 3, 5, 5]);
      const x = half.add(flipHorizontal(half)); // a mirror-symmetric image
      const { attention } = gradientAttention((v) => smallNet(q, v), x, { labels: [0, 2] });
      const norm = Math.sqrt((await attention.data()).reduce((s, v) => s + v * v, 0));
      const sym = await flipSymmetryLoss(attention).item();
      if (symmetricNet) assert.ok(sym <= 1e-5 * norm, `symmetric: ${sym} (‖J‖ ${norm})`);
      else assert.ok(sym > 1e-3 * norm, `a generic network's J is not symmetric: ${sym} (‖J‖ ${norm})`);
    }),
    { numRuns: Math.min(RUNS, 20) },
  );
});

for (const file of ["objective_bn", "objective_nobn"]) {
  Deno.test(`[${backend}] ${file}: the student step with KD, AT, F-ActT, gradient AT and flip symmetry matches PyTorch's double backward`, async () => {
    const f = loadFixture(`${file}.safetensors`, DIR);
    const record = (prefix: string): TensorRecord =>
      Object.fromEntries(
        f.names.filter((n) => n.startsWith(prefix)).map((n) => [n.slice(prefix.length), f.tensor(n)]),
      );
    const m = f.metadata;
    const batchNorm = m.batchnorm === "True";
    const student = nin({ width: Number(m.student_width), numClasses: Number(m.classes), batchNorm });
    const teacherNet = nin({ width: Number(m.teacher_width), numClasses: Number(m.classes), batchNorm });
    const teacher = { id: "t", dir: "", net: teacherNet, params: record("tp."), stats: record("ts.") };
    const [params, stats] = [record("p."), record("s.")];
    const x = f.tensor("x");
    const labels = f.numbers("labels");
    // J of both networks, as the step computes them.
    const js = gradientAttention((v) => student.apply(params, stats, v, { train: true }), x, { labels }).attention;
    const jt = gradientAttention((v) => teacherNet.apply(teacher.params, teacher.stats, v, { train: false }), x, {
      labels,
    }).attention;
    await expectClose(`${file} J_s`, js, f.get("js"), 1e-3);
    await expectClose(`${file} J_t`, jt, f.get("jt"), 1e-3);
    // One SGD step at rate 1 from zero momentum without weight decay: each parameter moves by minus its gradient.
    const before = Object.fromEntries(Object.entries(params).map(([k, t]) => [k, t.add(0)]));
    const objective = {
      student,
      teacher,
      alpha: Number(m.alpha),
      temperature: Number(m.temperature),
      beta: Number(m.beta),
      fatBeta: Number(m.fat_beta),
      gatBeta: Number(m.gat_beta),
      symBeta: Number(m.sym_beta),
    };
    const out = trainStep(objective, params, stats, sgdInit(params), x, labels, { lr: 1, weightDecay: 0 });
    await expectClose(`${file} loss`, out.loss, f.get("loss"), 1e-3);
    await expectClose(`${file} logits`, out.logits, f.get("logits"), 1e-3);
    for (let g = 0; g < 3; g++) {
      const at = f.get("at"), fat = f.get("fat");
      await expectClose(`${file} at ${g}`, out.atLosses[g], { ...at, shape: [1], data: at.data.slice(g, g + 1) }, 1e-3);
      await expectClose(
        `${file} fat ${g}`,
        out.fatLosses![g],
        { ...fat, shape: [1], data: fat.data.slice(g, g + 1) },
        1e-3,
      );
    }
    await expectClose(`${file} gat`, out.gatLoss!, f.get("gat"), 1e-3);
    await expectClose(`${file} sym`, out.symLoss!, f.get("sym"), 1e-3);
    for (const name of Object.keys(student.paramShapes)) {
      await expectClose(`${file} grad ${name}`, before[name].sub(params[name]), f.get(`grad.${name}`), 1e-3);
    }
    for (const name of Object.keys(student.statShapes)) {
      await expectClose(`${file} new ${name}`, out.stats[name], f.get(`new.${name}`), 1e-3);
    }
  });
}
