// The meters of the log: top-k accuracy against a sort-based count, and mean/std against their definitions.
import fc from "fast-check";
import { AccuracyMeter, AverageMeter } from "../src/train/meters.ts";
import { assert } from "./_assert.ts";

/** Top-k by sorting class indices by score (descending, ties to the lower index): the label among the first k. */
function sortedTopK(logits: number[], classes: number, labels: number[], k: number): number {
  let correct = 0;
  labels.forEach((label, i) => {
    const row = logits.slice(i * classes, (i + 1) * classes);
    const order = row.map((_, c) => c).sort((a, b) => row[b] - row[a] || a - b);
    if (order.slice(0, k).includes(label)) correct++;
  });
  return (100 * correct) / labels.length;
}

Deno.test("AccuracyMeter: top-1 and top-5 equal a sort-based count, ties to the lower class index", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 1, max: 6 }),
      fc.infiniteStream(fc.integer({ min: -3, max: 3 })), // few values: many ties
      fc.infiniteStream(fc.nat()),
      (classes, rows, values, picks) => {
        const logits = Array.from({ length: rows * classes }, () => values.next().value);
        const labels = Array.from({ length: rows }, () => picks.next().value % classes);
        const meter = new AccuracyMeter([1, 5]);
        meter.add(Float32Array.from(logits), labels);
        assert.deepEqual(meter.percents, [1, 5].map((k) => sortedTopK(logits, classes, labels, k)));
      },
    ),
  );
});

Deno.test("AccuracyMeter: a NaN score is never a right answer and outranks every number", () => {
  const meter = new AccuracyMeter([1, 2]);
  meter.add(Float32Array.of(NaN, 1, 0, 5, NaN, 0), [0, 0]);
  assert.deepEqual(meter.percents, [0, 50]); // row 0: its label is NaN; row 1: NaN outranks the label's 5
  assert.ok(Number.isNaN(new AccuracyMeter().percent));
});

Deno.test("AverageMeter: mean and unbiased standard deviation", () => {
  const m = new AverageMeter();
  for (const v of [1, 2, 3, 4]) m.add(v);
  assert.equal(m.mean, 2.5);
  assert.ok(Math.abs(m.std - Math.sqrt(5 / 3)) < 1e-12);
});
