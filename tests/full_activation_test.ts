// Full-activation transfer (src/full_activation.ts): its value against the definition computed on the host in float64,
// and properties (fast-check). The whole-step check against PyTorch is in gradient_at_test.ts.
import fc from "fast-check";
import { fullActivationLoss } from "../src/full_activation.ts";
import { tensor } from "../src/tensor/tensor.ts";
import { RUNS, valuesOf } from "./_arbitrary.ts";
import { assert, assertClose, assertThrowsWith } from "./_assert.ts";
import { parityBackend } from "./_fixtures.ts";

const backend = await parityBackend();

/** The definition on the host: wider tensor's channel groups averaged, per-image unit vectors, Σ(x̂ − ŷ)² / (N·H·W). */
function reference(x: Float32Array, y: Float32Array, n: number, c1: number, c2: number, hw: number): number {
  const c = Math.min(c1, c2);
  const unit = (t: Float32Array, ct: number, i: number) => {
    const g = ct / c;
    const v = Array.from({ length: c * hw }, (_, e) => {
      const [k, p] = [Math.floor(e / hw), e % hw];
      let s = 0;
      for (let j = 0; j < g; j++) s += t[(i * ct + k * g + j) * hw + p];
      return s / g;
    });
    const norm = Math.max(Math.sqrt(v.reduce((s, a) => s + a * a, 0)), 1e-12);
    return v.map((a) => a / norm);
  };
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const [a, b] = [unit(x, c1, i), unit(y, c2, i)];
    for (let e = 0; e < a.length; e++) sum += (a[e] - b[e]) ** 2;
  }
  return sum / (n * hw);
}

const pair = fc.record({
  n: fc.integer({ min: 1, max: 3 }),
  c: fc.integer({ min: 1, max: 3 }),
  ratio: fc.constantFrom(1, 2, 3),
  studentWider: fc.boolean(),
  h: fc.integer({ min: 1, max: 4 }),
  w: fc.integer({ min: 1, max: 4 }),
}).chain((s) => {
  const [c1, c2] = s.studentWider ? [s.c * s.ratio, s.c] : [s.c, s.c * s.ratio];
  return fc.record({
    x: valuesOf(s.n * c1 * s.h * s.w),
    y: valuesOf(s.n * c2 * s.h * s.w),
  }).map((v) => ({ ...s, c1, c2, ...v }));
});

Deno.test(`[${backend}] fullActivationLoss equals its definition, is non-negative and zero for equal activations`, async () => {
  await fc.assert(
    fc.asyncProperty(pair, async ({ n, c1, c2, h, w, x, y }) => {
      const [xs, ys] = [tensor(x, [n, c1, h, w]), tensor(y, [n, c2, h, w])];
      const got = await fullActivationLoss(xs, ys).item();
      const want = reference(x, y, n, c1, c2, h * w);
      assertClose(got, want, 1e-5 * (1 + want), "fullActivationLoss");
      assert.ok(got >= 0);
      assert.equal(await fullActivationLoss(xs, xs).item(), 0);
      // Each image's tensor is normalised: a positive scale of one side changes nothing (where no image's norm is
      // near the normalisation's eps, below which F.normalize divides by eps instead).
      const per = x.length / n;
      const norms = Array.from({ length: n }, (_, i) => Math.hypot(...x.subarray(i * per, (i + 1) * per)));
      if (norms.some((v) => v < 1e-3)) return;
      assertClose(await fullActivationLoss(xs.mul(3.5), ys).item(), got, 1e-5 * (1 + got), "scale invariance");
    }),
    { numRuns: RUNS },
  );
});

Deno.test(`[${backend}] fullActivationLoss: a teacher whose channel pairs both repeat the student's matches it exactly`, async () => {
  const x = Float32Array.from({ length: 2 * 3 * 2 * 2 }, (_, i) => Math.sin(i + 1));
  // Teacher channel 2k and 2k + 1 are both student channel k: their average is the student's.
  const y = new Float32Array(2 * 6 * 4);
  for (let i = 0; i < 2; i++) {
    for (let k = 0; k < 6; k++) {
      for (let p = 0; p < 4; p++) y[(i * 6 + k) * 4 + p] = x[(i * 3 + (k >> 1)) * 4 + p];
    }
  }
  const loss = await fullActivationLoss(tensor(x, [2, 3, 2, 2]), tensor(y, [2, 6, 2, 2])).item();
  assert.ok(loss < 1e-12, `${loss}`);
  // The same channels in another order do not match (the comparison is channel by channel).
  const swapped = y.slice();
  for (let p = 0; p < 4; p++) [swapped[p], swapped[8 + p]] = [y[8 + p], y[p]];
  assert.ok(await fullActivationLoss(tensor(x, [2, 3, 2, 2]), tensor(swapped, [2, 6, 2, 2])).item() > 1e-3);
});

Deno.test("fullActivationLoss: shapes that cannot be compared are errors naming both", () => {
  const a = tensor(new Float32Array(2 * 4 * 3 * 3), [2, 4, 3, 3]);
  assertThrowsWith(
    () => fullActivationLoss(a, tensor(new Float32Array(2 * 6 * 3 * 3), [2, 6, 3, 3])),
    "fullActivationLoss",
    "[2, 4, 3, 3]",
    "[2, 6, 3, 3]",
    "divide",
  );
  assertThrowsWith(
    () => fullActivationLoss(a, tensor(new Float32Array(2 * 4 * 9), [2, 4, 9, 1])),
    "fullActivationLoss",
    "spatial size",
  );
});
