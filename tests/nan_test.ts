// Divergence is never silent: NaN and infinities give PyTorch's results, op by op, and a WRN whose input pixel or
// batch-norm running statistic is NaN gives NaN logits. Every expected value comes from real PyTorch (1.13, float32,
// CPU kernels): tests/fixtures/nan/nan.safetensors, made by `/usr/bin/python3 tools/make_nan_fixture.py`. Runs on
// the backend AT_BACKEND names (cpu by default) and, where an adapter exists, on webgpu in both of its kernel
// configurations (the second reads every operand through textures); those skip, saying why, without one.
import type { Backend } from "../src/backends/backend.ts";
import { parseSafetensors } from "../src/io/safetensors.ts";
import { wrn } from "../src/nn/wrn.ts";
import { isRunningStat, type TensorRecord } from "../src/nn/params.ts";
import { grad, noGrad } from "../src/tensor/autograd.ts";
import { conv2d } from "../src/tensor/conv.ts";
import { setBackend, useBackend } from "../src/tensor/device.ts";
import * as ew from "../src/tensor/elementwise.ts";
import { matmul } from "../src/tensor/linalg.ts";
import { batchNorm } from "../src/tensor/norm.ts";
import { avgPool2d, maxPool2d, type Pool2dOptions } from "../src/tensor/pool.ts";
import { crossEntropy, logSoftmax, softmax } from "../src/tensor/softmax.ts";
import { type Tensor, tensor } from "../src/tensor/tensor.ts";
import { assert } from "./_assert.ts";
import { gpu, gpuOther, noAdapter } from "./_webgpu.ts";

const main = (await useBackend(Deno.env.get("AT_BACKEND") ?? "cpu")).backend;

const FIXTURE = new URL("./fixtures/nan/nan.safetensors", import.meta.url);
const stored = parseSafetensors(Deno.readFileSync(FIXTURE), FIXTURE.pathname).tensors;

function ref(name: string): Float32Array {
  const t = stored.get(name);
  if (!t) throw new Error(`${FIXTURE.pathname}: no tensor ${name}`);
  return Float32Array.from(t.data);
}

/** The fixture tensor on the current backend. */
function load(name: string): Tensor {
  return tensor(ref(name), [...stored.get(name)!.shape]);
}

/** Relative tolerance of single ops, and of a whole network, as in the parity tests. */
const OP = 1e-4, NETWORK = 1e-3;

/**
 * `actual` is PyTorch's `name`: NaN exactly where PyTorch has NaN, each infinity equal, finite values within `rtol`
 * of the largest finite expected magnitude (the signs of zeros are no NaN rule and are not compared).
 */
async function expectTorch(name: string, actual: Tensor, rtol = OP): Promise<void> {
  const want = ref(name);
  const got = await actual.data();
  assert.equal(got.length, want.length, `${name}: ${got.length} values, PyTorch has ${want.length}`);
  const scale = want.reduce((m, v) => (Number.isFinite(v) ? Math.max(m, Math.abs(v)) : m), 0) || 1;
  for (let i = 0; i < want.length; i++) {
    const [a, e] = [got[i], want[i]];
    const ok = Number.isNaN(e)
      ? Number.isNaN(a)
      : Number.isFinite(e)
      ? Number.isFinite(a) && Math.abs(a - e) <= rtol * scale
      : a === e;
    if (!ok) assert.fail(`${name}: element ${i} is ${a}, PyTorch gives ${e}`);
  }
}

/** The gradient of `f` at `x` with upstream gradient `up` (ones when omitted), as PyTorch's `autograd.grad`. */
function gradAt(f: (x: Tensor) => Tensor, x: Tensor, up?: Tensor): Tensor {
  return grad((v: Tensor) => {
    const y = f(v);
    return (up ? y.mul(up) : y).sum();
  })(x);
}

/** The backends every case runs on: AT_BACKEND's, then webgpu (when that is not it already) in both configurations. */
const targets: { label: string; backend: Backend | undefined; ignore: boolean }[] = [
  { label: main.name, backend: main, ignore: false },
  ...(main.name === "webgpu" ? [] : [{ label: "webgpu", backend: gpu, ignore: noAdapter }]),
  { label: `webgpu, ${gpuOther?.tuning.name ?? "other"} kernels, texture reads`, backend: gpuOther, ignore: noAdapter },
];

function nanTest(name: string, fn: () => Promise<void>): void {
  for (const { label, backend, ignore } of targets) {
    Deno.test({
      name: `[${label}] ${name}`,
      ignore,
      fn: async () => {
        setBackend(backend!);
        try {
          await fn();
        } finally {
          setBackend(main);
        }
      },
    });
  }
}

const UNARY: Record<string, (x: Tensor) => Tensor> = {
  exp: ew.exp,
  log: ew.log,
  sqrt: ew.sqrt,
  rsqrt: ew.rsqrt,
  abs: ew.abs,
  affine: (x) => ew.affine(x, 3, -2),
  pow2: (x) => ew.pow(x, 2),
  pow3: (x) => ew.pow(x, 3),
  pow_half: (x) => ew.pow(x, 0.5),
  pow_neg_half: (x) => ew.pow(x, -0.5),
  pow_neg1: (x) => ew.pow(x, -1),
  pow_1_5: (x) => ew.pow(x, 1.5),
  // relu(NaN) = NaN, and its gradient passes there (threshold_backward); clamp_min's does not.
  relu: ew.relu,
  clamp_min: (x) => ew.clampMin(x, 0.25),
};

nanTest("unary ops on NaN and ±∞: PyTorch's values and gradients", async () => {
  const x = load("unary.x");
  for (const [name, f] of Object.entries(UNARY)) {
    await expectTorch(`unary.${name}`, f(x));
    await expectTorch(`unary.${name}.grad`, gradAt(f, x));
  }
  await expectTorch("unary.sign", ew.sign(x));
  await expectTorch("unary.gt", ew.greaterThan(x, 0.25));
});

nanTest("binary ops follow IEEE arithmetic as PyTorch does", async () => {
  const [a, b] = [load("binary.a"), load("binary.b")];
  await expectTorch("binary.add", ew.add(a, b));
  await expectTorch("binary.sub", ew.sub(a, b));
  await expectTorch("binary.mul", ew.mul(a, b));
  await expectTorch("binary.div", ew.div(a, b));
});

nanTest("sums and means: a NaN or both infinities give NaN, over short and long axes", async () => {
  const x = load("sum.x");
  await expectTorch("sum.rows", x.sum(1));
  await expectTorch("sum.cols", x.sum(0));
  await expectTorch("sum.all", x.sum().reshape([1]));
  await expectTorch("sum.mean_rows", x.mean(1));
  await expectTorch("sum.long_rows", load("sum.long").sum(1));
});

nanTest("logSoftmax: a row holding NaN or +∞, or only −∞, is NaN; −∞ elsewhere gives −∞", async () => {
  const x = load("softmax.x");
  await expectTorch("softmax.log_softmax", logSoftmax(x));
  await expectTorch("softmax.log_softmax.grad", gradAt(logSoftmax, x));
  await expectTorch("softmax.softmax", softmax(x));
  await expectTorch("softmax.wide_log_softmax", logSoftmax(load("softmax.wide")));
  await expectTorch("softmax.ce", crossEntropy(load("softmax.ce_x"), [0, 2]).reshape([1]));
});

for (
  const [key, options] of [["k2s1", { kernel: 2, stride: 1 }], ["k3s1p1", { kernel: 3, stride: 1, pad: 1 }]] as const
) {
  nanTest(`maxPool2d ${key}: NaN wins, and the gradient goes to a window's last NaN`, async () => {
    const x = load("maxpool.x");
    const pool = (v: Tensor) => maxPool2d(v, options as Pool2dOptions);
    const [dy, v] = [load(`maxpool.${key}.dy`), load(`maxpool.${key}.v`)];
    await expectTorch(`maxpool.${key}.y`, pool(x));
    await expectTorch(`maxpool.${key}.dx`, gradAt(pool, x, dy));
    // Double backward: ⟨∂/∂x, v⟩ differentiated w.r.t. the upstream gradient gathers v at the same positions.
    const gather = grad((u: Tensor) =>
      grad((w: Tensor) => pool(w).mul(u).sum(), { createGraph: true })(x).mul(v).sum()
    );
    await expectTorch(`maxpool.${key}.gather`, gather(dy));
  });
}

nanTest("avgPool2d: a window holding NaN gives NaN", async () => {
  await expectTorch("avgpool.k2s1", avgPool2d(load("maxpool.x"), { kernel: 2, stride: 1 }));
});

function bnParams(prefix: string) {
  return {
    weight: load("bn.weight"),
    bias: load("bn.bias"),
    runningMean: load(`${prefix}.running_mean`),
    runningVar: load(`${prefix}.running_var`),
  };
}

nanTest(
  "batchNorm training: NaN (or ∞) in a channel makes it and its statistics NaN, fused ReLU included",
  async () => {
    const x = load("bn.x");
    const p = bnParams("bn");
    const plain = batchNorm(x, p, { training: true });
    await expectTorch("bn.train.y", plain.y);
    await expectTorch("bn.train.running_mean", plain.runningMean);
    await expectTorch("bn.train.running_var", plain.runningVar);
    await expectTorch("bn.train.relu", batchNorm(x, p, { training: true, relu: true }).y);
    await expectTorch("bn.train.relu", plain.y.relu());
    await expectTorch("bn.train.relu.dx", gradAt((v) => batchNorm(v, p, { training: true, relu: true }).y, x));
    await expectTorch("bn.train.relu.dx", gradAt((v) => batchNorm(v, p, { training: true }).y.relu(), x));
  },
);

nanTest("batchNorm evaluation: a NaN running statistic or pixel stays NaN through the ReLU", async () => {
  const x = load("bn.eval.x");
  const p = bnParams("bn.eval");
  const fused = (v: Tensor) => batchNorm(v, p, { training: false, relu: true }).y;
  const unfused = (v: Tensor) => batchNorm(v, p, { training: false }).y.relu();
  await expectTorch("bn.eval.y", batchNorm(x, p, { training: false }).y);
  await expectTorch("bn.eval.relu", fused(x));
  await expectTorch("bn.eval.relu", unfused(x));
  // Where the output is NaN the ReLU passes the gradient (finite where the scale is), as PyTorch does.
  await expectTorch("bn.eval.relu.dx", gradAt(fused, x));
  await expectTorch("bn.eval.relu.dx", gradAt(unfused, x));
});

nanTest("conv2d and matmul: a NaN reaches exactly the outputs that read it", async () => {
  await expectTorch("conv.y", conv2d(load("conv.x"), load("conv.w"), { pad: 1 }));
  await expectTorch("matmul.y", matmul(load("matmul.a"), load("matmul.b")));
});

function wrnInputs(overrides: Record<string, string> = {}): { params: TensorRecord; stats: TensorRecord } {
  const params: TensorRecord = {}, stats: TensorRecord = {};
  for (const key of stored.keys()) {
    if (!key.startsWith("wrn.param.")) continue;
    const name = key.slice("wrn.param.".length);
    (isRunningStat(name) ? stats : params)[name] = load(overrides[name] ?? key);
  }
  return { params, stats };
}

nanTest("a WRN with a NaN pixel gives NaN logits: every image's in training, that image's in evaluation", async () => {
  const net = wrn({ depth: 10, width: 0.5, numClasses: 5 });
  const { params, stats } = wrnInputs();
  const x = load("wrn.x");
  const logits = (train: boolean) => noGrad(() => net.apply(params, stats, x, { train }).logits);
  await expectTorch("wrn.pixel.train.logits", logits(true), NETWORK);
  await expectTorch("wrn.pixel.eval.logits", logits(false), NETWORK);
});

nanTest("a WRN in evaluation with a NaN running variance gives NaN logits", async () => {
  const net = wrn({ depth: 10, width: 0.5, numClasses: 5 });
  const x = load("wrn.clean");
  const run = (inputs: { params: TensorRecord; stats: TensorRecord }) =>
    noGrad(() => net.apply(inputs.params, inputs.stats, x, { train: false }).logits);
  await expectTorch("wrn.clean.eval.logits", run(wrnInputs()), NETWORK);
  const nanStat = run(wrnInputs({ "group1.block0.bn1.running_var": "wrn.stat.running_var" }));
  await expectTorch("wrn.stat.eval.logits", nanStat, NETWORK);
});
