// Properties of attention maps and the AT loss (fast-check), on the backend named by AT_BACKEND.
import fc from "fast-check";
import { assert, assertClose, assertThrowsWith } from "./_assert.ts";
import { at, atLoss } from "../src/at.ts";
import { gradients } from "../src/tensor/autograd.ts";
import { tensor } from "../src/tensor/tensor.ts";
import { useBackend } from "../src/tensor/device.ts";
import { RUNS, tensorData, valuesOf } from "./_arbitrary.ts";

await useBackend(Deno.env.get("AT_BACKEND") ?? "cpu");

/** Activations [N, C, H, W] with values away from zero so every map row is non-zero. */
const activations = tensorData(4, 4, -3, 3).filter(({ shape, data }) => {
  const [n, c, h, w] = shape;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < c * h * w; j++) s += data[i * c * h * w + j] ** 2;
    if (s < 1e-3) return false;
  }
  return true;
});
const powers = fc.constantFrom(1, 2, 3, 4);

function norm(row: Float32Array): number {
  return Math.sqrt(row.reduce((s, v) => s + v * v, 0));
}

Deno.test("at: every row has unit L2 norm", async () => {
  await fc.assert(
    fc.asyncProperty(activations, powers, async ({ shape, data }, p) => {
      const m = await at(tensor(data, shape), { p }).data();
      const cols = shape[2] * shape[3];
      for (let i = 0; i < shape[0]; i++) assertClose(norm(m.subarray(i * cols, (i + 1) * cols)), 1, 1e-5);
    }),
    { numRuns: RUNS },
  );
});

Deno.test("at: ignores positive scaling of the input and the order of channels", async () => {
  await fc.assert(
    fc.asyncProperty(
      activations,
      powers,
      fc.double({ min: 0.1, max: 10, noNaN: true }),
      async ({ shape, data }, p, k) => {
        const x = tensor(data, shape);
        const base = await at(x, { p }).data();
        const scaled = await at(x.mul(k), { p }).data();
        const [n, c, h, w] = shape;
        const swapped = new Float32Array(data.length);
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < c; j++) {
            swapped.set(
              data.subarray((i * c + j) * h * w, (i * c + j + 1) * h * w),
              (i * c + (c - 1 - j)) * h * w,
            );
          }
        }
        const flipped = await at(tensor(swapped, shape), { p }).data();
        for (let i = 0; i < base.length; i++) {
          assertClose(scaled[i], base[i], 1e-5);
          assertClose(flipped[i], base[i], 1e-5);
        }
      },
    ),
    { numRuns: RUNS },
  );
});

/** Student and teacher activations with the same batch and spatial size, channel counts free. */
const pair = activations.chain(({ shape, data }) =>
  fc.integer({ min: 1, max: 5 }).chain((c2) =>
    valuesOf(shape[0] * c2 * shape[2] * shape[3], -3, 3).map((data2) => ({
      x: { shape, data },
      y: { shape: [shape[0], c2, shape[2], shape[3]], data: data2 },
    }))
  )
);

Deno.test("atLoss: zero on equal inputs, symmetric, non-negative, at most 2/(H·W)", async () => {
  await fc.assert(
    fc.asyncProperty(pair, async ({ x, y }) => {
      const tx = tensor(x.data, x.shape);
      const ty = tensor(y.data, y.shape);
      const same = await atLoss(tx, tx).item();
      const xy = await atLoss(tx, ty).item();
      const yx = await atLoss(ty, tx).item();
      const bound = 2 / (x.shape[2] * x.shape[3]);
      assertClose(same, 0, 1e-9);
      assertClose(xy, yx, 1e-7);
      assert.ok(xy >= 0, `atLoss ${xy} is negative`);
      assert.ok(xy <= bound * (1 + 1e-5), `atLoss ${xy} exceeds 2/(H·W) = ${bound}`);
    }),
    { numRuns: RUNS },
  );
});

Deno.test("atLoss paper mode: zero with a finite gradient on equal inputs, and bounded by the reference loss", async () => {
  await fc.assert(
    fc.asyncProperty(pair, async ({ x, y }) => {
      const tx = tensor(x.data, x.shape).requireGrad();
      const same = atLoss(tx, tx.detach(), { mode: "paper" });
      assertClose(await same.item(), 0, 1e-6);
      const [g] = gradients(same, [tx]);
      assert.ok((await g!.data()).every(Number.isFinite), "gradient at equal maps is not finite");
      const ty = tensor(y.data, y.shape);
      const paper = await atLoss(tx, ty, { mode: "paper" }).item();
      const ref = await atLoss(tx, ty).item();
      // The per-sample norm squared, averaged, is H·W times the reference's mean: Jensen bounds the paper term.
      assert.ok(paper * paper <= ref * x.shape[2] * x.shape[3] * (1 + 1e-4) + 1e-9);
    }),
    { numRuns: RUNS },
  );
});

Deno.test("atLoss: an error names both shapes when spatial sizes differ", () => {
  const x = tensor(new Float32Array(2 * 3 * 4 * 4), [2, 3, 4, 4]);
  const y = tensor(new Float32Array(2 * 3 * 8 * 8), [2, 3, 8, 8]);
  assertThrowsWith(() => atLoss(x, y), "atLoss", "[2, 3, 4, 4]", "[2, 3, 8, 8]");
});
