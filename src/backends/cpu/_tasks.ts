/**
 * The kernels the thread pool can share, by name: each takes its buffers, its numeric arguments and a
 * {@linkcode Claim} that hands out units of work. Every kernel cuts its work into units whose results do not
 * depend on which thread computes them (images, tap ranges, channels, element ranges), so the outputs are
 * bit-identical for any number of threads. The main thread and the workers run this same table.
 *
 * @module
 */
import type { BatchNormGeometry, BinaryOp, ConvGeometry, PoolGeometry, UnaryOp } from "../backend.ts";
import { type Claim, forEachRange } from "./_partition.ts";
import * as bn from "./batchnorm.ts";
import * as conv from "./conv.ts";
import * as ew from "./elementwise.ts";
import { gemm } from "./gemm.ts";
import * as pool from "./pool.ts";
import { sgdUpdate } from "./sgd.ts";
import {
  forwardProblem,
  inputGradientProblem,
  winogradConv,
  winogradFilterFinish,
  winogradFilterPartials,
} from "./winograd.ts";
import { logSoftmax } from "./softmax.ts";

/** A kernel's share: buffers, numeric arguments, and the claim that hands out its units. */
export type Task = (buffers: readonly Float32Array[], args: ArrayLike<number>, claim: Claim) => void;

/** A buffer used as float64 scratch (twice as many float32 elements as it holds doubles). */
function float64(b: Float32Array): Float64Array {
  return new Float64Array(b.buffer, b.byteOffset, b.length >> 1);
}

/** Elements per unit of the memory-bound kernels: enough to amortise a claim, small enough to balance. */
function elementUnit(total: number): number {
  return Math.max(1 << 14, Math.ceil(total / 64));
}

/** Rows (or planes) per unit when each holds `size` elements of work. */
function rowUnit(size: number): number {
  return Math.max(1, Math.ceil((1 << 14) / Math.max(1, size)));
}

/** Unary and binary ops travel as their index in these lists. */
export const UNARY_OPS: readonly UnaryOp[] = [
  "affine",
  "exp",
  "log",
  "sqrt",
  "rsqrt",
  "abs",
  "sign",
  "pow",
  "max",
  "gt",
];
export const BINARY_OPS: readonly BinaryOp[] = ["add", "sub", "mul", "div"];

/** Convolution geometry as 11 numbers, in the order {@linkcode convGeometry} reads it back. */
export function convArgs(g: ConvGeometry): number[] {
  return [g.n, g.c, g.h, g.w, g.k, g.r, g.s, g.stride, g.pad, g.oh, g.ow];
}
// Integer arguments are read back with `| 0`: the workers (and the main thread when it shares a kernel)
// read them from a Float64Array, and V8 would otherwise keep them as doubles, turning every index
// computed from them into a double-to-integer check in the inner loops.
function convGeometry(a: ArrayLike<number>): ConvGeometry {
  const [n, c, h, w, k, r, s, stride, pad, oh, ow] = Array.from({ length: 11 }, (_, i) => a[i] | 0);
  return { n, c, h, w, k, r, s, stride, pad, oh, ow };
}

/** Pooling geometry as 9 numbers. */
export function poolArgs(g: PoolGeometry): number[] {
  return [g.n, g.c, g.h, g.w, g.kernel, g.stride, g.pad, g.oh, g.ow];
}
function poolGeometry(a: ArrayLike<number>): PoolGeometry {
  const [n, c, h, w, kernel, stride, pad, oh, ow] = Array.from({ length: 9 }, (_, i) => a[i] | 0);
  return { n, c, h, w, kernel, stride, pad, oh, ow };
}
function planeUnit(g: PoolGeometry): number {
  return rowUnit(Math.max(g.h * g.w, g.oh * g.ow * g.kernel * g.kernel));
}

/** Batch-norm geometry as 4 numbers (momentum, where used, follows). */
export function batchNormArgs(g: BatchNormGeometry): number[] {
  return [g.n, g.c, g.hw, g.eps, g.relu ? 1 : 0];
}
function batchNormGeometry(a: ArrayLike<number>): BatchNormGeometry {
  return { n: a[0] | 0, c: a[1] | 0, hw: a[2] | 0, eps: a[3], relu: a[4] === 1 };
}

/** `[rank, ...shape, ...stridesA, ...stridesB]` for the strided elementwise kernels. */
export function shapeArgs(shape: readonly number[], ...strides: (readonly number[])[]): number[] {
  return [shape.length, ...shape, ...strides.flat()];
}
function shapeAt(a: ArrayLike<number>, at: number, which: number): number[] {
  const rank = a[at] | 0;
  return Array.from({ length: rank }, (_, i) => a[at + 1 + which * rank + i] | 0);
}

/** The table, by name. */
export const TASKS = {
  /** `[x, w, y]`, conv geometry: Winograd where it pays, else direct. */
  conv2d(b, a, claim) {
    const g = convGeometry(a), p = forwardProblem(g);
    if (p) winogradConv(b[0], b[1], p, b[2], claim);
    else conv.conv2d(b[0], b[1], g, b[2], claim);
  },
  /** `[dy, w, dx]`, conv geometry: Winograd where it pays, else direct. */
  conv2dBackwardInput(b, a, claim) {
    const g = convGeometry(a), p = inputGradientProblem(g);
    if (p) winogradConv(b[0], b[1], p, b[2], claim);
    else conv.conv2dBackwardInput(b[0], b[1], g, b[2], claim);
  },
  /** `[x, dy, dw]`, conv geometry: the direct filter gradient. */
  conv2dBackwardFilter(b, a, claim) {
    conv.conv2dBackwardFilter(b[0], b[1], convGeometry(a), b[2], claim);
  },
  /** `[x, dy, partials]`, conv geometry: Winograd filter gradient, step 1 (see `filterGradientGroups` in winograd.ts). */
  winogradFilterPartials(b, a, claim) {
    winogradFilterPartials(b[0], b[1], convGeometry(a), float64(b[2]), claim);
  },
  /** `[partials, dw]`, conv geometry: Winograd filter gradient, step 2. */
  winogradFilterFinish(b, a, claim) {
    winogradFilterFinish(float64(b[0]), convGeometry(a), b[1], claim);
  },
  /** `[a, b, c]`, `[m, n, k, transA, transB]`. */
  matmul(b, a, claim) {
    const o = { a: b[0], aOffset: 0, b: b[1], bOffset: 0, c: b[2], cOffset: 0 };
    gemm(a[0] | 0, a[1] | 0, a[2] | 0, a[3] === 1, a[4] === 1, o, false, claim);
  },
  /** `[x, out]`, `[op, a, b]`. */
  unary(b, a, claim) {
    const n = b[0].length;
    forEachRange(n, elementUnit(n), claim, (lo, hi) => ew.unary(UNARY_OPS[a[0] | 0], b[0], a[1], a[2], b[1], lo, hi));
  },
  /** `[a, b, out]`, `[op, ...shapeArgs(outShape, aStrides, bStrides)]`. */
  binary(b, a, claim) {
    const op = BINARY_OPS[a[0] | 0], shape = shapeAt(a, 1, 0), aStrides = shapeAt(a, 1, 1), bStrides = shapeAt(a, 1, 2);
    const n = b[2].length;
    forEachRange(
      n,
      elementUnit(n),
      claim,
      (lo, hi) => ew.binary(op, b[0], aStrides, b[1], bStrides, shape, b[2], lo, hi),
    );
  },
  /** `[x, out]`, `[offset, ...shapeArgs(outShape, strides)]`. */
  strided(b, a, claim) {
    const shape = shapeAt(a, 1, 0), strides = shapeAt(a, 1, 1);
    const n = b[1].length;
    forEachRange(n, elementUnit(n), claim, (lo, hi) => ew.strided(b[0], shape, strides, a[0] | 0, b[1], lo, hi));
  },
  /** `[x, out]`, `[outer, reduced, inner]`. */
  sum(b, a, claim) {
    const [outer, reduced, inner] = [a[0] | 0, a[1] | 0, a[2] | 0];
    forEachRange(outer * inner, rowUnit(reduced), claim, (lo, hi) => ew.sum(b[0], outer, reduced, inner, b[1], lo, hi));
  },
  /** `[x, gamma, beta, runningMean, runningVar, y, mean, invstd, newMean, newVar]`, bn geometry, momentum. */
  batchNormTrain(b, a, claim) {
    const g = batchNormGeometry(a);
    const out = { y: b[5], mean: b[6], invstd: b[7], runningMean: b[8], runningVar: b[9] };
    forEachRange(g.c, 1, claim, (lo, hi) => bn.batchNormTrain(b[0], b[1], b[2], b[3], b[4], a[5], g, out, lo, hi));
  },
  /** `[x, gamma, beta, runningMean, runningVar, y]`, bn geometry. */
  batchNormInference(b, a, claim) {
    const g = batchNormGeometry(a);
    forEachRange(g.c, 1, claim, (lo, hi) => bn.batchNormInference(b[0], b[1], b[2], b[3], b[4], g, b[5], lo, hi));
  },
  /** `[x, dy, gamma, mean, invstd, dx, dgamma, dbeta]`, bn geometry. */
  batchNormBackward(b, a, claim) {
    const g = batchNormGeometry(a);
    const out = { dx: b[5], dgamma: b[6], dbeta: b[7] };
    forEachRange(g.c, 1, claim, (lo, hi) => bn.batchNormBackward(b[0], b[1], b[2], b[3], b[4], g, out, lo, hi));
  },
  /** `[x, y]`, pool geometry. */
  avgPool2d(b, a, claim) {
    const g = poolGeometry(a);
    forEachRange(g.n * g.c, planeUnit(g), claim, (lo, hi) => pool.avgPool2d(b[0], g, b[1], lo, hi));
  },
  /** `[dy, dx]`, pool geometry. */
  avgPool2dBackward(b, a, claim) {
    const g = poolGeometry(a);
    forEachRange(g.n * g.c, planeUnit(g), claim, (lo, hi) => pool.avgPool2dBackward(b[0], g, b[1], lo, hi));
  },
  /** `[x, y]`, pool geometry. */
  maxPool2d(b, a, claim) {
    const g = poolGeometry(a);
    forEachRange(g.n * g.c, planeUnit(g), claim, (lo, hi) => pool.maxPool2d(b[0], g, b[1], lo, hi));
  },
  /** `[x, dy, dx]`, pool geometry. */
  maxPool2dBackward(b, a, claim) {
    const g = poolGeometry(a);
    forEachRange(g.n * g.c, planeUnit(g), claim, (lo, hi) => pool.maxPool2dBackward(b[0], b[1], g, b[2], lo, hi));
  },
  /** `[x, ddx, out]`, pool geometry. */
  maxPool2dGather(b, a, claim) {
    const g = poolGeometry(a);
    forEachRange(g.n * g.c, planeUnit(g), claim, (lo, hi) => pool.maxPool2dGather(b[0], b[1], g, b[2], lo, hi));
  },
  /** `[x, out]`, `[rows, cols]`. */
  logSoftmax(b, a, claim) {
    const rows = a[0] | 0, cols = a[1] | 0;
    forEachRange(rows, rowUnit(cols), claim, (lo, hi) => logSoftmax(b[0], rows, cols, b[1], lo, hi));
  },
  /** `[param, grad, momentumBuffer]` (updated in place), `[lr, momentum, weightDecay]`. */
  sgdUpdate(b, a, claim) {
    const o = { lr: a[0], momentum: a[1], weightDecay: a[2] }, n = b[0].length;
    forEachRange(n, elementUnit(n), claim, (lo, hi) => sgdUpdate(b[0], b[1], b[2], o, lo, hi));
  },
} satisfies Record<string, Task>;

/** A kernel of the table. */
export type TaskName = keyof typeof TASKS;

/** Task names by index: how a task travels to the workers. */
export const TASK_NAMES: readonly TaskName[] = Object.keys(TASKS) as TaskName[];
