/**
 * One training step and one evaluation step of the CIFAR recipe: a network trained alone (cross-entropy),
 * or a student trained against a teacher with `kdLoss + β·Σ atLoss` over the residual groups.
 *
 * @module
 */
import { atLoss } from "../at.ts";
import { kdLoss } from "../kd.ts";
import type { TensorRecord } from "../nn/params.ts";
import { sgdStep } from "../nn/sgd.ts";
import type { Network } from "../nn/wrn.ts";
import { noGrad, valueAndGrad } from "../tensor/autograd.ts";
import { tidy } from "../tensor/memory.ts";
import { crossEntropy } from "../tensor/softmax.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { Teacher } from "./teacher.ts";

/** The objective: which networks, and the loss weights. */
export interface Objective {
  readonly student: Network;
  readonly teacher?: Teacher;
  readonly alpha: number;
  readonly beta: number;
  readonly temperature: number;
}

/** What a step leaves on the device for the caller to read back (or dispose). */
export interface StepOutput {
  /** The objective, shape []. */
  readonly loss: Tensor;
  /** `[batch, classes]` */
  readonly logits: Tensor;
  /** The AT loss of each group (without β), when there is a teacher. */
  readonly atLosses: readonly Tensor[];
}

function objective(o: Objective, logits: Tensor, groups: readonly Tensor[], x: Tensor, labels: ArrayLike<number>) {
  if (!o.teacher) return { value: crossEntropy(logits, labels), atLosses: [] as Tensor[] };
  const { teacher } = o;
  const t = noGrad(() => teacher.net.apply(teacher.params, teacher.stats, x, { train: false }));
  // With β = 0 the AT losses are only logged, so they stay off the graph.
  const atLosses = o.beta > 0
    ? groups.map((g, i) => atLoss(g, t.groups[i]))
    : noGrad(() => groups.map((g, i) => atLoss(g.detach(), t.groups[i])));
  const kd = kdLoss(logits, t.logits, { labels, temperature: o.temperature, alpha: o.alpha });
  const value = o.beta > 0 ? atLosses.reduce((acc: Tensor, l) => acc.add(l.mul(o.beta)), kd) : kd;
  return { value, atLosses };
}

/**
 * Forward, backward and an SGD update of `params` in place. Returns the outputs to read back and the new
 * running statistics (the caller disposes the old ones). Every other tensor is freed before it returns.
 */
export function trainStep(
  o: Objective,
  params: TensorRecord,
  stats: TensorRecord,
  momentum: TensorRecord,
  x: Tensor,
  labels: ArrayLike<number>,
  sgd: { lr: number; weightDecay: number },
): StepOutput & { stats: TensorRecord } {
  return tidy(() => {
    const { value, grads, aux } = valueAndGrad((p: TensorRecord) => {
      const s = o.student.apply(p, stats, x, { train: true });
      const { value, atLosses } = objective(o, s.logits, s.groups, x, labels);
      return { value, aux: { logits: s.logits, stats: s.stats, atLosses } };
    })(params);
    sgdStep(params, grads, momentum, { lr: sgd.lr, momentum: 0.9, weightDecay: sgd.weightDecay });
    return { loss: value, logits: aux.logits, atLosses: aux.atLosses, stats: aux.stats };
  });
}

/** The objective and logits on a test batch, both networks in evaluation mode, no gradients. */
export function evalStep(
  o: Objective,
  params: TensorRecord,
  stats: TensorRecord,
  x: Tensor,
  labels: ArrayLike<number>,
): StepOutput {
  return tidy(() =>
    noGrad(() => {
      const s = o.student.apply(params, stats, x, { train: false });
      const { value, atLosses } = objective(o, s.logits, s.groups, x, labels);
      return { loss: value, logits: s.logits, atLosses };
    })
  );
}
