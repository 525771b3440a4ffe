/**
 * Average and max pooling over NCHW tensors, as PyTorch's `F.avg_pool2d` (padding counted in the
 * divisor) and `F.max_pool2d`. Their gradients are primitives too, closed under differentiation.
 *
 * @module
 */
import type { PoolGeometry } from "../backends/backend.ts";
import { numberRule, optionsChecker, required } from "../_options.ts";
import { fmtShape } from "./_shape.ts";
import { backendOf, output, type Tensor } from "./tensor.ts";

/** Window size, stride and padding of a pooling. */
export interface Pool2dOptions {
  /** Window side. */
  readonly kernel: number;
  /** Step between windows; default `kernel`. */
  readonly stride?: number;
  /** Padding on every side; default 0 (at most half the window, as PyTorch requires). */
  readonly pad?: number;
}

const POOL_RULES = {
  kernel: required(numberRule({ min: 1, integer: true })),
  stride: numberRule({ min: 1, integer: true }),
  pad: numberRule({ min: 0, integer: true }),
};
const checkPoolOptions = {
  avgPool2d: optionsChecker<Pool2dOptions>("avgPool2d", POOL_RULES),
  maxPool2d: optionsChecker<Pool2dOptions>("maxPool2d", POOL_RULES),
};

/** The geometry of a pooling of `x`, checked. */
export function poolGeometry(
  op: "avgPool2d" | "maxPool2d",
  shape: readonly number[],
  options: Pool2dOptions,
): PoolGeometry {
  checkPoolOptions[op](options);
  const { kernel, stride = kernel, pad = 0 } = options;
  if (shape.length !== 4) throw new RangeError(`${op}: expects a 4-D input [n, c, h, w], got ${fmtShape(shape)}`);
  if (2 * pad > kernel) {
    throw new RangeError(`${op}: pad must be between 0 and half the kernel (pad ${pad}, kernel ${kernel})`);
  }
  const [n, c, h, w] = shape;
  const oh = Math.floor((h + 2 * pad - kernel) / stride) + 1;
  const ow = Math.floor((w + 2 * pad - kernel) / stride) + 1;
  if (oh < 1 || ow < 1) {
    throw new RangeError(`${op}: a ${kernel}×${kernel} window does not fit input ${fmtShape(shape)} with pad ${pad}`);
  }
  return { n, c, h, w, kernel, stride, pad, oh, ow };
}

/**
 * Average pooling: `[n,c,h,w] -> [n,c,oh,ow]`.
 *
 * @example
 * ```ts
 * const pooled = avgPool2d(x, { kernel: 8, stride: 1 }); // [n, c, 8, 8] -> [n, c, 1, 1]
 * ```
 */
export function avgPool2d(x: Tensor, options: Pool2dOptions): Tensor {
  return avgForward(x, poolGeometry("avgPool2d", x.shape, options));
}

function avgForward(x: Tensor, g: PoolGeometry): Tensor {
  const be = backendOf("avgPool2d", x);
  return output(be, be.avgPool2d(x.buffer, g), [g.n, g.c, g.oh, g.ow], "avgPool2d", [x], (dy) => [avgBackward(dy, g)]);
}

function avgBackward(dy: Tensor, g: PoolGeometry): Tensor {
  const be = backendOf("avgPool2dBackward", dy);
  return output(
    be,
    be.avgPool2dBackward(dy.buffer, g),
    [g.n, g.c, g.h, g.w],
    "avgPool2dBackward",
    [dy],
    (gx) => [avgForward(gx, g)],
  );
}

/**
 * Max pooling: `[n,c,h,w] -> [n,c,oh,ow]`; a window holding NaN gives NaN. The gradient goes to the first maximum of
 * each window, or to its last NaN (PyTorch's rules).
 *
 * @example
 * ```ts
 * const y = maxPool2d(x, { kernel: 3, stride: 2, pad: 1 }); // ResNet stem
 * ```
 */
export function maxPool2d(x: Tensor, options: Pool2dOptions): Tensor {
  const g = poolGeometry("maxPool2d", x.shape, options);
  const be = backendOf("maxPool2d", x);
  return output(
    be,
    be.maxPool2d(x.buffer, g),
    [g.n, g.c, g.oh, g.ow],
    "maxPool2d",
    [x],
    (dy) => [maxBackward(x, dy, g)],
  );
}

function maxBackward(x: Tensor, dy: Tensor, g: PoolGeometry): Tensor {
  const be = backendOf("maxPool2dBackward", x, dy);
  // Piecewise linear in dy, constant in x: only dy receives a gradient, gathered at the same maxima.
  return output(be, be.maxPool2dBackward(x.buffer, dy.buffer, g), x.shape, "maxPool2dBackward", [dy], (gx) => [
    maxGather(x, gx, g),
  ]);
}

function maxGather(x: Tensor, ddx: Tensor, g: PoolGeometry): Tensor {
  const be = backendOf("maxPool2dGather", x, ddx);
  return output(
    be,
    be.maxPool2dGather(x.buffer, ddx.buffer, g),
    [g.n, g.c, g.oh, g.ow],
    "maxPool2dGather",
    [ddx],
    (gy) => [
      maxBackward(x, gy, g),
    ],
  );
}
