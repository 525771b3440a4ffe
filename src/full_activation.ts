/**
 * Full-activation transfer (F-ActT), the baseline of the paper's Table 1 that matches whole activation tensors
 * instead of attention maps.
 *
 * @module
 */
import { checkBatch, fmtShape } from "./tensor/_shape.ts";
import { normalizeRows } from "./tensor/normalize.ts";
import type { Tensor } from "./tensor/tensor.ts";

/** `x [N, C, H, W]` with groups of `C / c` consecutive channels averaged: `[N, c, H, W]`. */
function poolChannels(x: Tensor, c: number): Tensor {
  const [n, channels, h, w] = x.shape;
  return channels === c ? x : x.reshape([n, c, channels / c, h, w]).mean(2);
}

/**
 * Full-activation transfer loss between student activations `x [N, C1, H, W]` and teacher activations
 * `y [N, C2, H, W]`. Each image's whole activation tensor is flattened and L2-normalised (eps 1e-12), as `at`
 * normalises an attention map, but over channels and positions; the loss is the squared distance of the two
 * unit vectors summed over every element and divided by `N·H·W` — the reduction of `atLoss`'s reference mode
 * (whose map has one value per position), so one β weighs both on the same scale. Returns a scalar.
 *
 * The paper does not say how it compares activations of different widths. Here, when the channel counts differ,
 * the wider tensor is first reduced to the narrower one's channels by averaging groups of consecutive channels,
 * so one count must divide the other (every Table 1 pair: 16k against 32k, 96·w against 192·w …).
 *
 * @example
 * ```ts
 * const loss = fullActivationLoss(studentGroup, teacherGroup); // shape []
 * ```
 */
export function fullActivationLoss(x: Tensor, y: Tensor): Tensor {
  const [c1, c2] = [x.shape[1], y.shape[1]];
  if (
    x.rank !== 4 || y.rank !== 4 || x.shape[0] !== y.shape[0] || x.shape[2] !== y.shape[2] || x.shape[3] !== y.shape[3]
  ) {
    throw new RangeError(
      `fullActivationLoss: student ${fmtShape(x.shape)} and teacher ${
        fmtShape(y.shape)
      } must agree in batch and spatial size [N, *, H, W]`,
    );
  }
  if (Math.max(c1, c2) % Math.min(c1, c2) !== 0) {
    throw new RangeError(
      `fullActivationLoss: student ${fmtShape(x.shape)} and teacher ${
        fmtShape(y.shape)
      }: one channel count must divide the other (${c1} and ${c2}), so the wider tensor's channels can be averaged in groups`,
    );
  }
  checkBatch("fullActivationLoss", "activations", x.shape);
  const [n, , h, w] = x.shape;
  const c = Math.min(c1, c2);
  const flat = (t: Tensor) => normalizeRows(poolChannels(t, c).reshape([n, -1]));
  return flat(x).sub(flat(y)).square().sum().mul(1 / (n * h * w));
}
