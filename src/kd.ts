/**
 * Knowledge distillation (Hinton et al., 2015) as the attention-transfer reference code writes it.
 *
 * @module
 */
import { numberRule, optionsChecker, required } from "./_options.ts";
import { checkBatch, fmtShape } from "./tensor/_shape.ts";
import { crossEntropy, logSoftmax } from "./tensor/softmax.ts";
import type { Tensor } from "./tensor/tensor.ts";

/** Options of {@linkcode kdLoss}. */
export interface KdOptions {
  /** Integer class labels, one per row. */
  readonly labels: ArrayLike<number>;
  /** Softmax temperature T; default 4. */
  readonly temperature?: number;
  /** Weight of the distillation term; `1 − alpha` weights the cross-entropy. Default 0.9. */
  readonly alpha?: number;
}

const checkKdOptions = optionsChecker<KdOptions>("kdLoss", {
  labels: required({
    expected: "an array of integer labels",
    test: (v) => typeof v === "object" && v !== null && typeof (v as ArrayLike<number>).length === "number",
  }),
  temperature: numberRule({ above: 0 }),
  alpha: numberRule({ min: 0, max: 1 }),
});

/**
 * `alpha · T² · KL(softmax(t/T) ‖ softmax(s/T)) + (1 − alpha) · crossEntropy(s, labels)` for
 * `student`, `teacher` logits `[N, classes]`; the KL term is summed over classes and averaged over the
 * batch, the cross-entropy averaged over the batch (the reference `distillation()`). Returns a scalar.
 * A term whose weight is 0 is not computed.
 *
 * @example
 * ```ts
 * const loss = kdLoss(studentLogits, teacherLogits, { labels, temperature: 4, alpha: 0.9 });
 * ```
 */
export function kdLoss(student: Tensor, teacher: Tensor, options: KdOptions): Tensor {
  checkKdOptions(options);
  const { labels, temperature = 4, alpha = 0.9 } = options;
  if (student.rank !== 2 || student.shape.some((d, i) => d !== teacher.shape[i]) || teacher.rank !== 2) {
    throw new RangeError(
      `kdLoss: student ${fmtShape(student.shape)} and teacher ${
        fmtShape(teacher.shape)
      } logits must both be [N, classes]`,
    );
  }
  checkBatch("kdLoss", "logits", student.shape);
  const ce = alpha < 1 ? crossEntropy(student, labels).mul(1 - alpha) : undefined;
  if (alpha === 0) return ce!;
  const logP = logSoftmax(student.mul(1 / temperature));
  const logQ = logSoftmax(teacher.mul(1 / temperature));
  // KL(q ‖ p) = Σ q (log q − log p), with log q computed directly so q = 0 contributes 0.
  const kl = logQ.exp().mul(logQ.sub(logP)).sum().mul((alpha * temperature * temperature) / student.shape[0]);
  return ce ? kl.add(ce) : kl;
}
