/**
 * Activation-based attention transfer (Zagoruyko & Komodakis, ICLR 2017): attention maps and the AT loss.
 *
 * @module
 */
import { numberRule, oneOf, optionsChecker } from "./_options.ts";
import { checkBatch, fmtShape } from "./tensor/_shape.ts";
import { normalizeRows } from "./tensor/normalize.ts";
import type { Tensor } from "./tensor/tensor.ts";

/** Options of {@linkcode at}. */
export interface AttentionOptions {
  /** Power applied to absolute activations before averaging over channels, finite and > 0; default 2 (the paper's). */
  readonly p?: number;
}

const P_RULE = numberRule({ above: 0 });
const checkAttentionOptions = optionsChecker<AttentionOptions>("at", { p: P_RULE });
const checkAtLossOptions = optionsChecker<AtLossOptions>("atLoss", { p: P_RULE, mode: oneOf("reference", "paper") });

/**
 * Attention map of activations `x [N, C, H, W]`: the mean over channels of `|x|^p`, flattened to `[N, H·W]`,
 * each row L2-normalised with eps 1e-12 — the reference code's `F.normalize(x.pow(2).mean(1).view(N, -1))`.
 *
 * @example
 * ```ts
 * const maps = at(groupOutput); // [N, H*W], each row of unit norm
 * ```
 */
export function at(x: Tensor, options: AttentionOptions = {}): Tensor {
  checkAttentionOptions(options);
  const { p = 2 } = options;
  if (x.rank !== 4) throw new RangeError(`at: expects activations [N, C, H, W], got ${fmtShape(x.shape)}`);
  checkBatch("at", "activations", x.shape);
  const powered = p === 2 ? x.square() : x.abs().pow(p);
  return normalizeRows(powered.mean(1).reshape([x.shape[0], -1]));
}

/** Options of {@linkcode atLoss}. */
export interface AtLossOptions extends AttentionOptions {
  /**
   * `"reference"` (default): mean over batch and positions of the squared difference of the maps, as the
   * reference code. `"paper"`: the paper's Eq. 2 term, the L2 norm (not squared) of the difference per
   * sample, averaged over the batch.
   */
  readonly mode?: "reference" | "paper";
}

/**
 * Attention-transfer loss between student activations `x [N, C1, H, W]` and teacher activations
 * `y [N, C2, H, W]` (channel counts may differ). Reference mode: `(at(x) − at(y))².mean()`, a scalar.
 * The reference code weights it by β = 1e3 without the paper's ½.
 *
 * @example
 * ```ts
 * const loss = atLoss(studentGroup, teacherGroup); // shape []
 * ```
 */
export function atLoss(x: Tensor, y: Tensor, options: AtLossOptions = {}): Tensor {
  checkAtLossOptions(options);
  const { p = 2, mode = "reference" } = options;
  if (
    x.rank !== 4 || y.rank !== 4 || x.shape[0] !== y.shape[0] || x.shape[2] !== y.shape[2] || x.shape[3] !== y.shape[3]
  ) {
    throw new RangeError(
      `atLoss: student ${fmtShape(x.shape)} and teacher ${
        fmtShape(y.shape)
      } must agree in batch and spatial size [N, *, H, W]`,
    );
  }
  checkBatch("atLoss", "activations", x.shape);
  const diff = at(x, { p }).sub(at(y, { p }));
  if (mode === "reference") return diff.square().mean();
  // The norm's gradient at a zero difference is taken as zero (clamping keeps it finite).
  return diff.square().sum(1).clampMin(1e-24).sqrt().mean();
}
