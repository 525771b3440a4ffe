// `batchNorm(x, …, { relu: true })` is `relu(batchNorm(x))` done in one backend call: the same values,
// the same first derivatives (the fused backward masks the gradient with the ReLU's) and the same second
// derivatives (recorded through the composite), bit for bit, in training and evaluation mode. The unfused
// route runs the backend's own max kernel, so this checks each backend's `relu` flag against independent
// code (AT_BACKEND picks the backend; cpu by default).
import assert from "node:assert/strict";
import fc from "fast-check";
import { Rng } from "../src/rng.ts";
import { grad } from "../src/tensor/autograd.ts";
import { useBackend } from "../src/tensor/device.ts";
import { batchNorm, type BatchNormParams } from "../src/tensor/norm.ts";
import { type Tensor, tensor } from "../src/tensor/tensor.ts";
import { assertBitwise } from "./_assert.ts";

await useBackend(Deno.env.get("AT_BACKEND") ?? "cpu");

function randn(rng: Rng, shape: number[], scale = 1, shift = 0): Tensor {
  const size = shape.reduce((p, d) => p * d, 1);
  return tensor(Float32Array.from({ length: size }, () => shift + rng.normal() * scale), shape);
}

/** Comparisons made and how many of them had a non-zero element, per kind (values, gradients, second). */
const seen = new Map<string, { runs: number; nonZero: number }>();

async function assertSame(what: string, a: Tensor, b: Tensor): Promise<void> {
  assert.deepEqual(a.shape, b.shape, `${what}: shapes`);
  const [x, y] = [await a.data(), await b.data()];
  assertBitwise(x, y, `${what} (fused, unfused)`);
  const kind = what.replace(/^\S+ \S+ \S+ \S+ \S+ /, "");
  const entry = seen.get(kind) ?? { runs: 0, nonZero: 0 };
  entry.runs++;
  if (x.some((v) => v !== 0)) entry.nonZero++;
  seen.set(kind, entry);
}

Deno.test("batchNorm with relu equals relu(batchNorm): values, gradients and second derivatives", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        n: fc.integer({ min: 1, max: 3 }),
        c: fc.integer({ min: 1, max: 4 }),
        h: fc.integer({ min: 1, max: 5 }),
        training: fc.boolean(),
        seed: fc.integer({ min: 0, max: 1e6 }),
      }),
      async ({ n, c, h, training, seed }) => {
        const rng = new Rng(seed);
        const x = randn(rng, [n, c, h, h], 1, 0.3);
        const p: BatchNormParams = {
          weight: randn(rng, [c], 0.5, 1),
          bias: randn(rng, [c], 0.5),
          runningMean: randn(rng, [c], 0.3),
          runningVar: tensor(Float32Array.from({ length: c }, () => 0.5 + rng.uniform()), [c]),
        };
        const up = randn(rng, [n, c, h, h]);
        type Route = (v: Tensor, weight: Tensor, bias: Tensor) => Tensor;
        const fused: Route = (v, weight, bias) => batchNorm(v, { ...p, weight, bias }, { training, relu: true }).y;
        const unfused: Route = (v, weight, bias) => batchNorm(v, { ...p, weight, bias }, { training }).y.relu();
        const what = `[${n}, ${c}, ${h}, ${h}] ${training ? "training" : "evaluation"}`;
        await assertSame(`${what} values`, fused(x, p.weight, p.bias), unfused(x, p.weight, p.bias));
        const first = (f: Route) =>
          grad((q: { x: Tensor; weight: Tensor; bias: Tensor }) => f(q.x, q.weight, q.bias).mul(up).sum())({
            x,
            weight: p.weight,
            bias: p.bias,
          });
        const [gf, gu] = [first(fused), first(unfused)];
        for (const k of ["x", "weight", "bias"] as const) await assertSame(`${what} gradient of ${k}`, gf[k], gu[k]);
        // Second derivatives: ⟨∇ₓL, u⟩ differentiated with respect to the scale.
        const second = (f: Route) =>
          grad((weight: Tensor) =>
            grad((v: Tensor) => f(v, weight, p.bias).mul(up).sum(), { createGraph: true })(x).mul(up).sum()
          )(p.weight);
        await assertSame(`${what} second derivative`, second(fused), second(unfused));
      },
    ),
    { numRuns: 30 },
  );
  // Comparisons of all-zero tensors prove nothing: most runs of each kind must have had something to compare.
  for (const [kind, { runs, nonZero }] of seen) {
    assert.ok(nonZero >= runs / 2, `${kind}: only ${nonZero} of ${runs} comparisons had a non-zero element`);
  }
  assert.equal(seen.size, 5, `kinds compared: ${[...seen.keys()].join(", ")}`);
});
