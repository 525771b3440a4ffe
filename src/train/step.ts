/**
 * One training step and one evaluation step of the CIFAR recipe: a network trained alone (cross-entropy),
 * or a student trained against a teacher with `kdLoss + β·Σ atLoss` over the residual groups, and the rest of
 * the paper's terms where their weights are set: full-activation transfer `fatβ·Σ fullActivationLoss`,
 * gradient-based AT `gatβ/2 · gradientAtLoss(J_s, J_t)` and the flip-symmetry norm `symβ/2 · flipSymmetryLoss(J_s)`,
 * with `J = ∂(Σ_n crossEntropy)/∂x` (see `gradient_at.ts`).
 *
 * @module
 */
import { atLoss } from "../at.ts";
import { fullActivationLoss } from "../full_activation.ts";
import { flipSymmetryLoss, gradientAtLoss, gradientAttention } from "../gradient_at.ts";
import { kdLoss } from "../kd.ts";
import type { TensorRecord } from "../nn/params.ts";
import { sgdStep } from "../nn/sgd.ts";
import type { Network, NetworkOutput } from "../nn/network.ts";
import { noGrad, valueAndGrad } from "../tensor/autograd.ts";
import { tidy } from "../tensor/memory.ts";
import { crossEntropy } from "../tensor/softmax.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { Teacher } from "./teacher.ts";

/** The objective: which networks, and the loss weights (a weight of 0, or one left out, turns its term off). */
export interface Objective {
  readonly student: Network;
  readonly teacher?: Teacher;
  readonly alpha: number;
  /** Activation-based AT weight (no ½, as the reference). */
  readonly beta: number;
  readonly temperature: number;
  /** Full-activation transfer weight (no ½, as `beta`). */
  readonly fatBeta?: number;
  /** Gradient-based AT weight: the loss gains `gatBeta/2 · gradientAtLoss(J_s, J_t)`, the paper's Eq. 4. */
  readonly gatBeta?: number;
  /** Flip-symmetry weight: the loss gains `symBeta/2 · flipSymmetryLoss(J_s)`, the paper's Eq. 6. */
  readonly symBeta?: number;
}

/**
 * β of epoch `epoch` (from 1) under `--beta_decay d`: `beta · d^(epoch − 1)`, an exponential decay per epoch
 * (`d = 1`: constant).
 *
 * @example
 * ```ts
 * scheduledBeta(1000, 0.5, 3); // 250
 * ```
 */
export function scheduledBeta(beta: number, decay: number, epoch: number): number {
  return decay === 1 ? beta : beta * decay ** (epoch - 1);
}

/** What a step leaves on the device for the caller to read back (or dispose). */
export interface StepOutput {
  /** The objective, shape []. */
  readonly loss: Tensor;
  /** `[batch, classes]` */
  readonly logits: Tensor;
  /** The AT loss of each group (without β), when there is a teacher. */
  readonly atLosses: readonly Tensor[];
  /** The full-activation transfer loss of each group (without its weight), when its weight is set. */
  readonly fatLosses?: readonly Tensor[];
  /** `gradientAtLoss(J_s, J_t)` (without its weight), when its weight is set. */
  readonly gatLoss?: Tensor;
  /** `flipSymmetryLoss(J_s)` (without its weight), when its weight is set. */
  readonly symLoss?: Tensor;
}

const on = (weight: number | undefined): weight is number => weight !== undefined && weight > 0;

/** Whether the objective needs the input gradients `J` (gradient-based AT or the symmetry norm). */
const needsAttention = (o: Objective) => on(o.symBeta) || (on(o.gatBeta) && o.teacher !== undefined);

/** The teacher's side of a batch, computed once, off every graph: its logits, groups and (when asked) `J_t`. */
interface TeacherSide {
  readonly logits: Tensor;
  readonly groups: readonly Tensor[];
  readonly attention?: Tensor;
}

function teacherSide(o: Objective, x: Tensor, labels: ArrayLike<number>): TeacherSide | undefined {
  const { teacher } = o;
  if (!teacher) return undefined;
  const forward = (v: Tensor) => teacher.net.apply(teacher.params, teacher.stats, v, { train: false });
  if (!on(o.gatBeta)) return noGrad(() => forward(x));
  const { attention, output } = gradientAttention(forward, x, { labels });
  return { logits: output.logits, groups: output.groups, attention };
}

/** The student's forward pass, with its input gradient `J_s` when the objective needs it (on the graph if `train`). */
function studentSide(
  o: Objective,
  params: TensorRecord,
  stats: TensorRecord,
  x: Tensor,
  labels: ArrayLike<number>,
  train: boolean,
): { out: NetworkOutput; attention?: Tensor } {
  const forward = (v: Tensor) => o.student.apply(params, stats, v, { train });
  if (!needsAttention(o)) return { out: forward(x) };
  const { attention, output } = gradientAttention(forward, x, { labels, createGraph: train });
  return { out: output, attention };
}

/** The objective's value and its terms (without their weights) for the caller to read back. */
function objective(
  o: Objective,
  s: { out: NetworkOutput; attention?: Tensor },
  t: TeacherSide | undefined,
  labels: ArrayLike<number>,
): { value: Tensor } & Omit<StepOutput, "loss" | "logits"> {
  const { logits, groups } = s.out;
  const weighted: [Tensor, number][] = [];
  let value = t
    ? kdLoss(logits, t.logits, { labels, temperature: o.temperature, alpha: o.alpha })
    : crossEntropy(logits, labels);
  let atLosses: Tensor[] = [];
  let fatLosses: Tensor[] | undefined;
  let gatLoss: Tensor | undefined;
  let symLoss: Tensor | undefined;
  if (t) {
    // With β = 0 the AT losses are only logged, so they stay off the graph.
    atLosses = o.beta > 0
      ? groups.map((g, i) => atLoss(g, t.groups[i]))
      : noGrad(() => groups.map((g, i) => atLoss(g.detach(), t.groups[i])));
    if (o.beta > 0) atLosses.forEach((l) => weighted.push([l, o.beta]));
    if (on(o.fatBeta)) {
      fatLosses = groups.map((g, i) => fullActivationLoss(g, t.groups[i]));
      fatLosses.forEach((l) => weighted.push([l, o.fatBeta!]));
    }
    if (on(o.gatBeta)) {
      gatLoss = gradientAtLoss(s.attention!, t.attention!);
      weighted.push([gatLoss, o.gatBeta / 2]);
    }
  }
  if (on(o.symBeta)) {
    symLoss = flipSymmetryLoss(s.attention!);
    weighted.push([symLoss, o.symBeta / 2]);
  }
  for (const [l, w] of weighted) value = value.add(l.mul(w));
  return { value, atLosses, fatLosses, gatLoss, symLoss };
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
    const t = teacherSide(o, x, labels);
    const { value, grads, aux } = valueAndGrad((p: TensorRecord) => {
      const s = studentSide(o, p, stats, x, labels, true);
      const { value, ...terms } = objective(o, s, t, labels);
      return { value, aux: { logits: s.out.logits, stats: s.out.stats, terms } };
    })(params);
    sgdStep(params, grads, momentum, { lr: sgd.lr, momentum: 0.9, weightDecay: sgd.weightDecay });
    return { loss: value, logits: aux.logits, ...aux.terms, stats: aux.stats };
  });
}

/**
 * The objective and logits on a test batch, both networks in evaluation mode; the input gradients the
 * objective needs are computed, but no graph is kept.
 */
export function evalStep(
  o: Objective,
  params: TensorRecord,
  stats: TensorRecord,
  x: Tensor,
  labels: ArrayLike<number>,
): StepOutput {
  return tidy(() =>
    noGrad(() => {
      const t = teacherSide(o, x, labels);
      const s = studentSide(o, params, stats, x, labels, false);
      const { value, ...terms } = objective(o, s, t, labels);
      return { loss: value, logits: s.out.logits, ...terms };
    })
  );
}
