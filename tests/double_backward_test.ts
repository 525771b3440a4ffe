// Second derivatives: gradients that are themselves differentiated, as gradient-based attention
// transfer needs (it penalises input gradients). Checked against exact values and finite differences of
// the first gradient, through conv, batch norm (training and evaluation), ReLU, pooling and a linear layer.
import { Rng } from "../src/rng.ts";
import { grad, valueAndGrad } from "../src/tensor/autograd.ts";
import { conv2d } from "../src/tensor/conv.ts";
import { linear } from "../src/tensor/linalg.ts";
import { batchNorm } from "../src/tensor/norm.ts";
import { avgPool2d, maxPool2d } from "../src/tensor/pool.ts";
import { crossEntropy } from "../src/tensor/softmax.ts";
import { type Tensor, tensor } from "../src/tensor/tensor.ts";
import { useBackend } from "../src/tensor/device.ts";
import { assertClose } from "./_assert.ts";

await useBackend(Deno.env.get("AT_BACKEND") ?? "cpu");

Deno.test("second derivative of x³ is 6x", async () => {
  const xs = [-1.5, 0.25, 2];
  const d2 = grad((x: Tensor) => grad((z: Tensor) => z.pow(3).sum(), { createGraph: true })(x).sum())(tensor(xs));
  const got = await d2.data();
  xs.forEach((x, i) => assertClose(got[i], 6 * x, 1e-5, `d²/dx² x³ at ${x}`));
});

function randn(rng: Rng, shape: number[], scale = 1): Tensor {
  return tensor(Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => rng.normal() * scale), shape);
}

/**
 * A small network with the layer kinds whose double backward gradient-based AT relies on. No ReLU here:
 * the input gradient of a ReLU network jumps where a unit switches, so finite differences of it are
 * meaningless; ReLU has its own test below, with inputs kept away from the switch.
 */
function network(params: Record<string, Tensor>, x: Tensor, train: boolean, pool: "avg" | "max"): Tensor {
  const c = params.w1.shape[0];
  const stats = { runningMean: tensor(new Float32Array(c)), runningVar: tensor(new Float32Array(c).fill(1)) };
  let h = conv2d(x, params.w1, { stride: 1, pad: 1 });
  h = batchNorm(h, { weight: params.g1, bias: params.b1, ...stats }, { training: train }).y;
  h = conv2d(h, params.w2, { stride: 2, pad: 1 });
  h = pool === "avg" ? avgPool2d(h, { kernel: h.shape[2] }) : maxPool2d(h, { kernel: 2, stride: 2 });
  return linear(h.reshape([x.shape[0], -1]), params.fc, params.fcb);
}

function params(rng: Rng): Record<string, Tensor> {
  return {
    w1: randn(rng, [4, 3, 3, 3], 0.5),
    g1: randn(rng, [4], 0.3).add(1),
    b1: randn(rng, [4], 0.1),
    w2: randn(rng, [5, 4, 3, 3], 0.3),
    fc: randn(rng, [3, 5], 0.5), // both poolings leave a 1×1 map of 5 channels
    fcb: randn(rng, [3], 0.1),
    x: randn(rng, [2, 3, 6, 6]),
  };
}

for (const [train, pool] of [[true, "avg"], [false, "avg"], [true, "max"]] as const) {
  Deno.test(`double backward through conv, batch norm (${train ? "training" : "evaluation"}), ${pool} pooling and linear matches finite differences`, async () => {
    const rng = new Rng(train ? 7 : 8);
    const p = params(rng);
    const labels = [1, 2];
    const u = randn(rng, [2, 3, 6, 6]);
    // f(θ, x) = ⟨∇ₓ L(θ, x), u⟩: the kind of quantity gradient-based AT differentiates w.r.t. θ (and x).
    const f = (q: Record<string, Tensor>): Tensor => {
      const gx = grad((z: Tensor) => crossEntropy(network(q, z, train, pool), labels), { createGraph: true })(q.x);
      return gx.mul(u).sum();
    };
    const { grads } = valueAndGrad(f)(p);
    const h = 1e-2;
    for (const name of ["w1", "g1", "w2", "fc", "x"]) {
      const v = randn(new Rng(name.length), p[name].shape as number[]);
      const analytic = await grads[name].mul(v).sum().item();
      const plus = await f({ ...p, [name]: p[name].add(v.mul(h)) }).item();
      const minus = await f({ ...p, [name]: p[name].sub(v.mul(h)) }).item();
      const numeric = (plus - minus) / (2 * h);
      const tol = 2e-2 * Math.max(Math.abs(analytic), Math.abs(numeric)) + 2e-3;
      assertClose(analytic, numeric, tol, `∂/∂${name} ⟨∇ₓL, u⟩ (autograd vs finite differences)`);
    }
  });
}

Deno.test("double backward through ReLU matches finite differences away from the switch", async () => {
  const rng = new Rng(3);
  const away = (n: number) =>
    Float32Array.from({ length: n }, () => (0.3 + rng.uniform()) * (rng.uniform() < 0.5 ? -1 : 1));
  const p = { w: tensor(away(12), [3, 4]), x: tensor(away(12), [3, 4]) };
  const u = tensor(away(12), [3, 4]);
  // L = Σ relu(x ⊙ w)³; |x ⊙ w| ≥ 0.09 and steps of 1e-3 keep every unit on its side.
  const f = (q: Record<string, Tensor>) =>
    grad((z: Tensor) => z.mul(q.w).relu().pow(3).sum(), { createGraph: true })(q.x).mul(u).sum();
  const { grads } = valueAndGrad(f)(p);
  const h = 1e-3;
  for (const name of ["w", "x"] as const) {
    const v = tensor(Float32Array.from({ length: 12 }, () => rng.uniform() * 2 - 1), [3, 4]);
    const analytic = await grads[name].mul(v).sum().item();
    const numeric = ((await f({ ...p, [name]: p[name].add(v.mul(h)) }).item()) -
      (await f({ ...p, [name]: p[name].sub(v.mul(h)) }).item())) / (2 * h);
    assertClose(analytic, numeric, 1e-2 * Math.abs(analytic) + 1e-2, `∂/∂${name} ⟨∇ₓL, u⟩ through ReLU`);
  }
});
