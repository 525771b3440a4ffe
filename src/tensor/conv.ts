/**
 * 2-D convolution as three primitives — forward, gradient w.r.t. the input, gradient w.r.t. the filter —
 * each of which has the other two as its gradients, so convolutions differentiate any number of times.
 *
 * @module
 */
import type { ConvGeometry } from "../backends/backend.ts";
import { numberRule, optionsChecker } from "../_options.ts";
import { fmtShape } from "./_shape.ts";
import { backendOf, output, type Tensor } from "./tensor.ts";

/** Stride and zero padding of a convolution (the same along both spatial axes). */
export interface Conv2dOptions {
  /** Step between windows; default 1. */
  readonly stride?: number;
  /** Zeros added on every side; default 0. */
  readonly pad?: number;
}

const checkConvOptions = optionsChecker<Conv2dOptions>("conv2d", {
  stride: numberRule({ min: 1, integer: true }),
  pad: numberRule({ min: 0, integer: true }),
});

/** The geometry of `conv2d(x, w)`, checked, with errors that name both shapes. */
export function convGeometry(
  xShape: readonly number[],
  wShape: readonly number[],
  options: Conv2dOptions,
): ConvGeometry {
  checkConvOptions(options);
  const { stride = 1, pad = 0 } = options;
  const shapes = `input ${fmtShape(xShape)}, filter ${fmtShape(wShape)}`;
  if (xShape.length !== 4 || wShape.length !== 4) {
    throw new RangeError(`conv2d: expects a 4-D input [n, c, h, w] and a 4-D filter [k, c, r, s]; got ${shapes}`);
  }
  const [n, c, h, w] = xShape;
  const [k, wc, r, s] = wShape;
  if (c !== wc) throw new RangeError(`conv2d: input has ${c} channels but the filter expects ${wc} (${shapes})`);
  const oh = Math.floor((h + 2 * pad - r) / stride) + 1;
  const ow = Math.floor((w + 2 * pad - s) / stride) + 1;
  if (oh < 1 || ow < 1) {
    throw new RangeError(`conv2d: the ${r}×${s} filter does not fit the ${h}×${w} input with pad ${pad} (${shapes})`);
  }
  return { n, c, h, w, k, r, s, stride, pad, oh, ow };
}

/**
 * Cross-correlation as PyTorch's `F.conv2d` without bias: `x [n,c,h,w]`, `w [k,c,r,s]` -> `[n,k,oh,ow]`.
 *
 * @example
 * ```ts
 * const y = conv2d(x, params["conv0"], { stride: 1, pad: 1 });
 * ```
 */
export function conv2d(x: Tensor, w: Tensor, options: Conv2dOptions = {}): Tensor {
  return forward(x, w, convGeometry(x.shape, w.shape, options));
}

function forward(x: Tensor, w: Tensor, g: ConvGeometry): Tensor {
  const be = backendOf("conv2d", x, w);
  return output(be, be.conv2d(x.buffer, w.buffer, g), [g.n, g.k, g.oh, g.ow], "conv2d", [x, w], (dy, needs) => [
    needs[0] ? conv2dBackwardInput(dy, w, g) : undefined,
    needs[1] ? conv2dBackwardFilter(x, dy, g) : undefined,
  ]);
}

/** The gradient of `conv2d` w.r.t. its input: `dy [n,k,oh,ow]`, `w [k,c,r,s]` -> `[n,c,h,w]`. */
export function conv2dBackwardInput(dy: Tensor, w: Tensor, g: ConvGeometry): Tensor {
  const be = backendOf("conv2dBackwardInput", dy, w);
  const buf = be.conv2dBackwardInput(dy.buffer, w.buffer, g);
  return output(be, buf, [g.n, g.c, g.h, g.w], "conv2dBackwardInput", [dy, w], (gx, needs) => [
    needs[0] ? forward(gx, w, g) : undefined,
    needs[1] ? conv2dBackwardFilter(gx, dy, g) : undefined,
  ]);
}

/** The gradient of `conv2d` w.r.t. its filter: `x [n,c,h,w]`, `dy [n,k,oh,ow]` -> `[k,c,r,s]`. */
export function conv2dBackwardFilter(x: Tensor, dy: Tensor, g: ConvGeometry): Tensor {
  const be = backendOf("conv2dBackwardFilter", x, dy);
  const buf = be.conv2dBackwardFilter(x.buffer, dy.buffer, g);
  return output(be, buf, [g.k, g.c, g.r, g.s], "conv2dBackwardFilter", [x, dy], (gw, needs) => [
    needs[0] ? conv2dBackwardInput(dy, gw, g) : undefined,
    needs[1] ? forward(x, gw, g) : undefined,
  ]);
}
