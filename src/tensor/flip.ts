/**
 * Horizontal flip: the width axis of an NCHW tensor reversed, as `torch.flip(x, [3])`.
 *
 * @module
 */
import { fmtShape } from "./_shape.ts";
import { matmul } from "./linalg.ts";
import { type Tensor, wrap } from "./tensor.ts";

/**
 * `x [N, C, H, W]` with its last axis reversed: `out[n, c, h, w] = x[n, c, h, W − 1 − w]`. Computed as a product
 * with the `W × W` exchange matrix (ones on the anti-diagonal), so every backend runs it, each output is one input
 * times 1 plus zeros (exact for finite values, except that −0 becomes +0), and it differentiates any number of times (its gradient is the
 * flip of the gradient).
 *
 * @example
 * ```ts
 * const mirrored = flipHorizontal(images); // [N, C, H, W], each row read right to left
 * ```
 */
export function flipHorizontal(x: Tensor): Tensor {
  if (x.rank !== 4) throw new RangeError(`flipHorizontal: expects [N, C, H, W], got ${fmtShape(x.shape)}`);
  const w = x.shape[3];
  const exchange = new Float32Array(w * w);
  for (let i = 0; i < w; i++) exchange[i * w + (w - 1 - i)] = 1;
  const e = wrap(x.backend, x.backend.upload(exchange), [w, w]);
  return matmul(x.reshape([-1, w]), e).reshape(x.shape);
}
