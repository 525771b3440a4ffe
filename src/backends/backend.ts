/**
 * The backend contract: the only thing the tensor front end knows about a device.
 *
 * A backend owns device memory and runs a small, closed set of float32 kernels over flat buffers.
 * Shapes travel as plain numbers in each call; a backend never sees a `Tensor`. Every kernel returns
 * freshly allocated output buffers and never reads back to the host: only {@linkcode Backend.download}
 * does. `cpu` is the living definition of what each kernel means; every other backend is tested
 * against it.
 *
 * Layout conventions: NCHW activations, OIHW filters, row-major matrices, all contiguous.
 *
 * @module
 */

/** An opaque handle to `size` float32 elements of device memory, owned by one backend. */
export interface DeviceBuffer {
  /** Number of float32 elements. */
  readonly size: number;
}

/**
 * Number of elements of a shape: the product of its axes, 1 for `[]` (a scalar), 0 when an axis is 0. The one
 * element count of the library, here so that backends (which import only this file) and the layers above share it.
 *
 * @example
 * ```ts
 * elementCount([2, 3, 4]); // 24
 * elementCount([]); // 1
 * ```
 */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Elementwise unary kernels. Parameters `a` and `b` are scalars (0 when unused). A NaN `x` gives NaN and
 * infinities follow IEEE arithmetic, as in PyTorch, except where an op says otherwise.
 */
export type UnaryOp =
  /** `x * a + b` */
  | "affine"
  | "exp"
  | "log"
  | "sqrt"
  | "rsqrt"
  | "abs"
  /** `x > 0 ? 1 : x < 0 ? -1 : 0`; 0 for a NaN, as PyTorch's `sign` */
  | "sign"
  /** `x ** a` */
  | "pow"
  /**
   * `max(x, a)`; ReLU is `max(x, 0)`. A NaN `x` (or `a`) gives NaN, as PyTorch's `relu` and `clamp_min`: never
   * `a`, so a diverging network stays NaN through its ReLUs.
   */
  | "max"
  /**
   * `x > a ? 1 : 0`, and `b` where `x` is NaN: the gradient masks of `max`. `b = 1` is ReLU's (PyTorch's
   * `threshold_backward` passes the gradient where the ReLU's output is NaN), `b = 0` the comparison `x > a`
   * (PyTorch's `clamp_min` passes none there).
   */
  | "gt";

/** Elementwise binary kernels with broadcasting. */
export type BinaryOp = "add" | "sub" | "mul" | "div";

/** The geometry of a 2-D convolution without bias or dilation, groups 1. */
export interface ConvGeometry {
  /** Batch size. */
  readonly n: number;
  /** Input channels. */
  readonly c: number;
  /** Input height. */
  readonly h: number;
  /** Input width. */
  readonly w: number;
  /** Output channels. */
  readonly k: number;
  /** Filter height. */
  readonly r: number;
  /** Filter width. */
  readonly s: number;
  /** Step between windows, both axes. */
  readonly stride: number;
  /** Zeros added on every side. */
  readonly pad: number;
  /** Output height: `floor((h + 2 pad - r) / stride) + 1`. */
  readonly oh: number;
  /** Output width: `floor((w + 2 pad - s) / stride) + 1`. */
  readonly ow: number;
}

/** The geometry of 2-D pooling over an NCHW tensor (count_include_pad semantics for average). */
export interface PoolGeometry {
  /** Batch size. */
  readonly n: number;
  /** Channels. */
  readonly c: number;
  /** Input height. */
  readonly h: number;
  /** Input width. */
  readonly w: number;
  /** Window side. */
  readonly kernel: number;
  /** Step between windows. */
  readonly stride: number;
  /** Padding on every side (never the maximum; counted in the average's divisor). */
  readonly pad: number;
  /** Output height. */
  readonly oh: number;
  /** Output width. */
  readonly ow: number;
}

/** Batch norm over an NCHW tensor viewed as `[n, c, hw]`: statistics per channel over `n` and `hw`. */
export interface BatchNormGeometry {
  /** Batch size. */
  readonly n: number;
  /** Channels. */
  readonly c: number;
  /** Product of the spatial sizes (1 after a linear layer). */
  readonly hw: number;
  /** Added to the variance. */
  readonly eps: number;
  /**
   * Forward passes only: apply `max(·, 0)` to the output, as a ReLU after the normalisation would (a NaN
   * stays NaN, as in `unary("max")`). The backward pass stays that of the normalisation alone: the caller
   * masks the gradient with the ReLU's.
   */
  readonly relu?: boolean;
}

/** The buffers a training-mode batch norm produces. */
export interface BatchNormTrainResult {
  /** normalised, scaled and shifted output, `[n, c, hw]` */
  readonly y: DeviceBuffer;
  /** batch mean per channel, `[c]` */
  readonly mean: DeviceBuffer;
  /** `1 / sqrt(biased batch variance + eps)` per channel, `[c]` */
  readonly invstd: DeviceBuffer;
  /** `(1 - momentum) * runningMean + momentum * mean` (new buffer; inputs are not changed) */
  readonly runningMean: DeviceBuffer;
  /** `(1 - momentum) * runningVar + momentum * unbiasedVariance` (new buffer) */
  readonly runningVar: DeviceBuffer;
}

/** Gradients of a training-mode batch norm. */
export interface BatchNormGrads {
  /** Gradient w.r.t. the input, `[n, c, hw]`. */
  readonly dx: DeviceBuffer;
  /** Gradient w.r.t. the scale, `[c]`. */
  readonly dgamma: DeviceBuffer;
  /** Gradient w.r.t. the shift, `[c]`. */
  readonly dbeta: DeviceBuffer;
}

/** Hyper-parameters of one SGD step, PyTorch semantics (dampening 0, no Nesterov). */
export interface SgdOptions {
  /** Learning rate. */
  readonly lr: number;
  /** Momentum factor (0.9 in the reference). */
  readonly momentum: number;
  /** L2 penalty added to the gradient (5e-4 in the reference). */
  readonly weightDecay: number;
}

/**
 * A device. Implementations live in `src/backends/<name>/mod.ts` and export
 * `create(): Promise<Backend>` which throws an error saying why when the device cannot start.
 */
export interface Backend {
  /** `"cpu"`, `"webgpu"`, `"cudnn"`. */
  readonly name: string;
  /** What runs: adapter, device or library versions, in words. */
  readonly description: string;

  // ---- memory ----
  /** A buffer of `size` zeros. */
  zeros(size: number): DeviceBuffer;
  /** A new buffer holding a copy of `data`. */
  upload(data: Float32Array): DeviceBuffer;
  /**
   * A copy of the buffer's contents after every kernel queued before the call. The contents are captured at
   * the call: the buffer may be freed or overwritten right after, without affecting the result.
   */
  download(buffer: DeviceBuffer): Promise<Float32Array>;
  /** Gives the memory back (to a pool or the device). The buffer must not be used again. */
  free(buffer: DeviceBuffer): void;

  // ---- elementwise ----
  /** `op` applied to every element of `x`, with scalar parameters `a`, `b` (see {@linkcode UnaryOp}). */
  unary(op: UnaryOp, x: DeviceBuffer, a: number, b: number): DeviceBuffer;
  /**
   * `out[i] = a[ia(i)] op b[ib(i)]` over `outShape`, where `aStrides`/`bStrides` give, per axis of
   * `outShape`, the element stride into `a`/`b` (0 on broadcast axes).
   */
  binary(
    op: BinaryOp,
    a: DeviceBuffer,
    aStrides: readonly number[],
    b: DeviceBuffer,
    bStrides: readonly number[],
    outShape: readonly number[],
  ): DeviceBuffer;
  /** Strided gather: `out[idx] = x[offset + sum(idx[d] * strides[d])]` over `outShape` (transpose, expand, slice). */
  strided(x: DeviceBuffer, outShape: readonly number[], strides: readonly number[], offset: number): DeviceBuffer;
  /**
   * `x` viewed as `[outer, reduced, inner]` summed over the middle axis: `[outer, inner]`. A NaN, or both
   * infinities, in a sum give NaN, in whatever order a backend adds.
   */
  sum(x: DeviceBuffer, outer: number, reduced: number, inner: number): DeviceBuffer;

  // ---- dense ----
  /** `op(a) · op(b)`: `[m, k] · [k, n] -> [m, n]`; `transA` means `a` is stored `[k, m]`, `transB` that `b` is `[n, k]`. */
  matmul(
    a: DeviceBuffer,
    b: DeviceBuffer,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
  ): DeviceBuffer;
  /** Cross-correlation as PyTorch's `conv2d`: `x [n,c,h,w] * w [k,c,r,s] -> [n,k,oh,ow]`. */
  conv2d(x: DeviceBuffer, w: DeviceBuffer, g: ConvGeometry): DeviceBuffer;
  /** Gradient w.r.t. the input: `dy [n,k,oh,ow], w [k,c,r,s] -> dx [n,c,h,w]`. */
  conv2dBackwardInput(dy: DeviceBuffer, w: DeviceBuffer, g: ConvGeometry): DeviceBuffer;
  /** Gradient w.r.t. the filter: `x [n,c,h,w], dy [n,k,oh,ow] -> dw [k,c,r,s]`. */
  conv2dBackwardFilter(x: DeviceBuffer, dy: DeviceBuffer, g: ConvGeometry): DeviceBuffer;

  // ---- normalisation ----
  /**
   * Training-mode batch norm: normalises with batch statistics and returns updated running ones. As in
   * PyTorch, a NaN in a channel of `x` makes that channel's output, statistics and running statistics NaN;
   * an infinity does too, except that the mean and the running mean become infinite.
   */
  batchNormTrain(
    x: DeviceBuffer,
    gamma: DeviceBuffer,
    beta: DeviceBuffer,
    runningMean: DeviceBuffer,
    runningVar: DeviceBuffer,
    momentum: number,
    g: BatchNormGeometry,
  ): BatchNormTrainResult;
  /**
   * `gamma * (x - runningMean) / sqrt(runningVar + eps) + beta`. A NaN running statistic (or a negative
   * variance) makes its channel NaN, and NaN in `x` stays where it is, as in PyTorch.
   */
  batchNormInference(
    x: DeviceBuffer,
    gamma: DeviceBuffer,
    beta: DeviceBuffer,
    runningMean: DeviceBuffer,
    runningVar: DeviceBuffer,
    g: BatchNormGeometry,
  ): DeviceBuffer;
  /** Gradients of the training-mode forward, from the saved `mean` and `invstd`. */
  batchNormBackward(
    x: DeviceBuffer,
    dy: DeviceBuffer,
    gamma: DeviceBuffer,
    mean: DeviceBuffer,
    invstd: DeviceBuffer,
    g: BatchNormGeometry,
  ): BatchNormGrads;

  // ---- pooling ----
  /** Average pooling, padding counted in the divisor (PyTorch's default `count_include_pad`). */
  avgPool2d(x: DeviceBuffer, g: PoolGeometry): DeviceBuffer;
  /** The gradient of {@linkcode avgPool2d}: spreads each `dy` evenly over its window. */
  avgPool2dBackward(dy: DeviceBuffer, g: PoolGeometry): DeviceBuffer;
  /** Max pooling; padding never wins, NaN always does (a window holding one gives NaN). */
  maxPool2d(x: DeviceBuffer, g: PoolGeometry): DeviceBuffer;
  /**
   * Routes `dy` to the first maximum of each window of `x` (PyTorch's tie rule), or to the window's last NaN
   * when it holds any (PyTorch's kernels take each NaN they meet as the new maximum).
   */
  maxPool2dBackward(x: DeviceBuffer, dy: DeviceBuffer, g: PoolGeometry): DeviceBuffer;
  /**
   * The gradient of {@linkcode maxPool2dBackward} w.r.t. its `dy`: gathers `ddx` at the position of each
   * window of `x` that {@linkcode maxPool2dBackward} routes to, `[n,c,h,w] -> [n,c,oh,ow]` (double backward
   * through max pooling).
   */
  maxPool2dGather(x: DeviceBuffer, ddx: DeviceBuffer, g: PoolGeometry): DeviceBuffer;

  // ---- softmax ----
  /**
   * Row-wise log-softmax of `x` viewed as `[rows, cols]`. As in PyTorch, a row holding a NaN or `+∞`, or
   * only `−∞`, is NaN throughout; elsewhere a `−∞` gives `−∞`. (The maximum that shifts a row skips NaN;
   * the NaN reaches every element through the sum of exponentials.)
   */
  logSoftmax(x: DeviceBuffer, rows: number, cols: number): DeviceBuffer;

  // ---- optimisation ----
  /**
   * One SGD step in place: `d = grad + weightDecay * param; momentumBuffer = momentum * momentumBuffer + d;
   * param -= lr * momentumBuffer`. A zero momentum buffer gives PyTorch's first step (buffer = d).
   */
  sgdUpdate(param: DeviceBuffer, grad: DeviceBuffer, momentumBuffer: DeviceBuffer, o: SgdOptions): void;
}
