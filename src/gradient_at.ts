/**
 * Gradient-based attention transfer (Zagoruyko & Komodakis, ICLR 2017, §3.2): the attention of a network is the
 * gradient of its loss with respect to its input, `J = ∂L(W, x)/∂x`; a student learns to match its teacher's
 * (`β/2 · ‖J_s − J_t‖₂`, the paper's Eq. 4), or to be symmetric under a horizontal flip (`β/2 · ‖J − flip(J)‖₂`,
 * its Eq. 6). Minimising either differentiates the student's input gradient again (double backward).
 *
 * @module
 */
import { BOOLEAN, optionsChecker, required } from "./_options.ts";
import { checkBatch, fmtShape, sameShape } from "./tensor/_shape.ts";
import { valueAndGrad } from "./tensor/autograd.ts";
import { flipHorizontal } from "./tensor/flip.ts";
import { crossEntropy } from "./tensor/softmax.ts";
import { Tensor } from "./tensor/tensor.ts";

/** Options of {@linkcode gradientAttention}. */
export interface GradientAttentionOptions {
  /** Integer class labels, one per image: `L` is the cross-entropy against them. */
  readonly labels: ArrayLike<number>;
  /**
   * Record the gradient's computation, so that a loss of `J` can be differentiated with respect to the network's
   * parameters (the student's side). Default false (the teacher's side: `J` and the output carry no graph).
   */
  readonly createGraph?: boolean;
}

const checkGradientAttentionOptions = optionsChecker<GradientAttentionOptions>("gradientAttention", {
  labels: required({
    expected: "an array of integer labels",
    test: (v) => typeof v === "object" && v !== null && typeof (v as ArrayLike<number>).length === "number",
  }),
  createGraph: BOOLEAN,
});

/** `value` with every tensor it holds (in arrays and plain objects) replaced by a view cut from the graph. */
function detachAll<T>(value: T): T {
  if (value instanceof Tensor) return value.detach() as T;
  if (Array.isArray(value)) return value.map(detachAll) as T;
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, detachAll(v)])) as T;
  }
  return value;
}

/**
 * The gradient attention of a network at images `x [N, C, H, W]`: `J = ∂L/∂x` with
 * `L = Σ_n crossEntropy(logits_n, labels_n)`, the cross-entropy summed (not averaged) over the batch, so that
 * `J[n]` is image n's own gradient `∂L(W, x_n)/∂x_n` whatever the batch size (exactly so in evaluation mode; with
 * batch statistics the images of a batch also reach each other's gradients, through the batch norm). `forward`
 * runs the network on its argument and returns at least its logits `[N, classes]`.
 *
 * Returns `J` (the shape of `x`) and what `forward` returned. With `createGraph`, `J` stays on the graph of
 * the network's parameters (a loss of `J` then trains them by double backward); without it, `J` and the
 * output's tensors are cut from every graph.
 *
 * @example
 * ```ts
 * const t = gradientAttention((v) => teacher.apply(tp, ts, v, { train: false }), x, { labels });
 * const s = gradientAttention((v) => student.apply(p, ss, v, { train: true }), x, { labels, createGraph: true });
 * const loss = crossEntropy(s.output.logits, labels).add(gradientAtLoss(s.attention, t.attention).mul(beta / 2));
 * ```
 */
export function gradientAttention<O extends { readonly logits: Tensor }>(
  forward: (x: Tensor) => O,
  x: Tensor,
  options: GradientAttentionOptions,
): { attention: Tensor; output: O } {
  checkGradientAttentionOptions(options);
  const { labels, createGraph = false } = options;
  if (x.rank !== 4) throw new RangeError(`gradientAttention: expects images [N, C, H, W], got ${fmtShape(x.shape)}`);
  checkBatch("gradientAttention", "images", x.shape);
  const { grads, aux } = valueAndGrad((v: Tensor) => {
    const output = forward(v);
    if (output.logits.rank !== 2 || output.logits.shape[0] !== x.shape[0]) {
      throw new RangeError(
        `gradientAttention: forward returned logits ${fmtShape(output.logits.shape)} for ${x.shape[0]} images; ` +
          "expected [N, classes]",
      );
    }
    return { value: crossEntropy(output.logits, labels).mul(x.shape[0]), aux: output };
  }, { createGraph })(x);
  return { attention: grads, output: createGraph ? aux : detachAll(aux) };
}

/** `mean_n ‖d[n]‖₂` for `d [N, …]`. */
function meanNorm(d: Tensor): Tensor {
  // ‖d‖ = s · rsqrt(max(s, 1e-24)) with s = ‖d‖²: exactly 0 at d = 0, with a finite gradient (0) there.
  const s = d.square().reshape([d.shape[0], -1]).sum(1);
  return s.mul(s.clampMin(1e-24).rsqrt()).mean();
}

/**
 * The gradient-based AT distance between a student's and a teacher's gradient attention `js`, `jt` (the same
 * shape, batch first): `mean_n ‖js[n] − jt[n]‖₂`, the L2 norm (not squared) of each image's difference,
 * averaged over the batch. The paper's Eq. 4 adds `β/2 · ‖J_S − J_T‖₂` per image to the loss; with the
 * batch-mean cross-entropy beside it, `β/2 · gradientAtLoss(js, jt)` is that term averaged like the loss.
 * Returns a scalar; non-negative, symmetric, zero when `js` equals `jt`.
 *
 * @example
 * ```ts
 * const term = gradientAtLoss(studentJ, teacherJ).mul(beta / 2); // shape []
 * ```
 */
export function gradientAtLoss(js: Tensor, jt: Tensor): Tensor {
  if (js.rank < 2 || !sameShape(js.shape, jt.shape)) {
    throw new RangeError(
      `gradientAtLoss: student ${fmtShape(js.shape)} and teacher ${fmtShape(jt.shape)} input gradients must have ` +
        "the same shape [N, …] (the same images)",
    );
  }
  checkBatch("gradientAtLoss", "input gradients", js.shape);
  return meanNorm(js.sub(jt));
}

/**
 * The paper's flip-symmetry norm of a gradient attention `j [N, C, H, W]` (its Eq. 6):
 * `mean_n ‖j[n] − flip(j[n])‖₂`, `flip` the horizontal flip ({@linkcode flipHorizontal}), averaged over the
 * batch as {@linkcode gradientAtLoss}; the loss gains `β/2` times it. Returns a scalar; zero when every
 * image's attention is mirror-symmetric.
 *
 * @example
 * ```ts
 * const term = flipSymmetryLoss(studentJ).mul(beta / 2); // shape []
 * ```
 */
export function flipSymmetryLoss(j: Tensor): Tensor {
  if (j.rank !== 4) throw new RangeError(`flipSymmetryLoss: expects [N, C, H, W], got ${fmtShape(j.shape)}`);
  checkBatch("flipSymmetryLoss", "input gradients", j.shape);
  return meanNorm(j.sub(flipHorizontal(j)));
}
