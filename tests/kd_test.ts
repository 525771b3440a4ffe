// Properties of the KD loss (fast-check), on the backend named by AT_BACKEND.
import fc from "fast-check";
import { kdLoss } from "../src/kd.ts";
import { crossEntropy } from "../src/tensor/softmax.ts";
import { tensor } from "../src/tensor/tensor.ts";
import { useBackend } from "../src/tensor/device.ts";
import { assertClose, assertThrowsWith } from "./_assert.ts";
import { RUNS, valuesOf } from "./_arbitrary.ts";

await useBackend(Deno.env.get("AT_BACKEND") ?? "cpu");

const logitsCase = fc.record({ n: fc.integer({ min: 1, max: 6 }), classes: fc.integer({ min: 2, max: 12 }) }).chain((
  { n, classes },
) =>
  fc.record({
    n: fc.constant(n),
    classes: fc.constant(classes),
    student: valuesOf(n * classes, -8, 8),
    teacher: valuesOf(n * classes, -8, 8),
    labels: fc.array(fc.integer({ min: 0, max: classes - 1 }), { minLength: n, maxLength: n }),
    temperature: fc.double({ min: 0.5, max: 10, noNaN: true }),
  })
);

Deno.test("kdLoss with alpha 0 is the cross-entropy", async () => {
  await fc.assert(
    fc.asyncProperty(logitsCase, async ({ n, classes, student, teacher, labels, temperature }) => {
      const s = tensor(student, [n, classes]);
      const kd = await kdLoss(s, tensor(teacher, [n, classes]), { labels, temperature, alpha: 0 }).item();
      const ce = await crossEntropy(s, labels).item();
      assertClose(kd, ce, 1e-6 * Math.max(1, Math.abs(ce)), "kd(α=0) vs cross-entropy");
      // Independent check of the cross-entropy itself, in double precision on the host.
      let ref = 0;
      for (let i = 0; i < n; i++) {
        const row = Array.from(student.subarray(i * classes, (i + 1) * classes));
        const max = Math.max(...row);
        ref += max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0)) - row[labels[i]];
      }
      assertClose(ce, ref / n, 1e-5 * Math.max(1, ref / n), "cross-entropy vs host");
    }),
    { numRuns: RUNS },
  );
});

Deno.test("kdLoss: the KL part is zero when the student equals the teacher, and non-negative otherwise", async () => {
  await fc.assert(
    fc.asyncProperty(logitsCase, async ({ n, classes, student, teacher, labels, temperature }) => {
      const s = tensor(student, [n, classes]);
      const same = await kdLoss(s, s, { labels, temperature, alpha: 1 }).item();
      assertClose(same, 0, 1e-5 * temperature * temperature, "KL(s, s)");
      const kl = await kdLoss(s, tensor(teacher, [n, classes]), { labels, temperature, alpha: 1 }).item();
      if (kl < -1e-5 * temperature * temperature) throw new Error(`KL ${kl} is negative`);
    }),
    { numRuns: RUNS },
  );
});

Deno.test("kdLoss: errors name the bad option or shapes", () => {
  const s = tensor(new Float32Array(6), [2, 3]);
  assertThrowsWith(() => kdLoss(s, tensor(new Float32Array(8), [2, 4]), { labels: [0, 1] }), "[2, 3]", "[2, 4]");
  assertThrowsWith(() => kdLoss(s, s, { labels: [0, 1], temperature: 0 }), "temperature");
  assertThrowsWith(() => kdLoss(s, s, { labels: [0, 1], alpha: 2 }), "alpha");
  assertThrowsWith(() => kdLoss(s, s, { labels: [0, 3], alpha: 0.5 }), "label 3");
});
