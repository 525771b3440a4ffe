/**
 * The `onednn` backend: every kernel of the contract on host memory. Convolutions, batch norm, average
 * pooling, matrix products and sums, and the elementwise kernels whose arithmetic is the contract's to the bit
 * (whole-operand `add`, `sub`, `mul`, `div`; ReLU's gradient mask) run in oneDNN; the others are the cpu
 * backend's TypeScript kernels on the same memory (small or memory-bound, and the cpu backend defines their NaN,
 * tie and rounding rules). docs/design.md says which runs where, and why.
 *
 * Buffers hold their values in the layout the primitive that wrote them chose (see `_layout.ts`):
 * convolution and batch-norm outputs stay in oneDNN's blocked layout when `keepBlocked` is on, elementwise
 * kernels keep the layout of their operands, and everything else reads a plain copy.
 *
 * @module
 */
import {
  type Backend,
  type BatchNormGeometry,
  type BatchNormGrads,
  type BatchNormTrainResult,
  type BinaryOp,
  type ConvGeometry,
  type DeviceBuffer,
  elementCount,
  type PoolGeometry,
  type SgdOptions,
  type UnaryOp,
} from "../backend.ts";
import { type CpuBackend, CpuBuffer } from "../cpu/mod.ts";
import { BatchNorms } from "./_batchnorm.ts";
import { Convolutions, type ConvPass } from "./_conv.ts";
import { Elementwise } from "./_elementwise.ts";
import { type Layout, Layouts, OnednnBuffer, PLAIN } from "./_layout.ts";
import { Dense } from "./_matmul.ts";
import { Pooling } from "./_pool.ts";
import { Dnnl } from "./_primitive.ts";
import type { Runtime } from "./_runtime.ts";

/** Options of the backend. */
export interface BackendOptions {
  /** Keep oneDNN's blocked layouts between kernels (default), or reorder every output to plain at once. */
  readonly keepBlocked: boolean;
  /** Elements from which elementwise kernels, sums and products run in oneDNN. */
  readonly minElements: number;
  /** Use Winograd convolutions where they measured faster (`winogradApplies`). */
  readonly winograd: boolean;
}

function contiguous(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = stride;
    stride *= shape[i];
  }
  return s;
}

/** Whether `strides` walk `shape` in row-major order without broadcasting (axes of size 1 may have any stride). */
function isDense(shape: readonly number[], strides: readonly number[]): boolean {
  const want = contiguous(shape);
  return shape.every((d, i) => d === 1 || strides[i] === want[i]);
}

/** The `onednn` backend. Start it with `create()`. */
export class OnednnBackend implements Backend {
  readonly name = "onednn";
  readonly description: string;
  /** Threads oneDNN and the cpu kernels use. */
  readonly threads: number;
  readonly #cpu: CpuBackend;
  readonly #dnnl: Dnnl;
  readonly #layouts: Layouts;
  readonly #conv: Convolutions;
  readonly #bn: BatchNorms;
  readonly #pool: Pooling;
  readonly #elementwise: Elementwise;
  readonly #dense: Dense;
  readonly #minElements: number;

  constructor(runtime: Runtime, cpu: CpuBackend, options: BackendOptions) {
    this.#cpu = cpu;
    this.threads = runtime.threads;
    this.#dnnl = new Dnnl(runtime);
    this.#layouts = new Layouts(this.#dnnl, this, options.keepBlocked);
    this.#conv = new Convolutions(this.#dnnl, this.#layouts, options.winograd);
    this.#dense = new Dense(this.#dnnl);
    this.#bn = new BatchNorms(this.#dnnl, this.#layouts, cpu, this.#dense);
    this.#pool = new Pooling(this.#dnnl, this.#layouts);
    this.#elementwise = new Elementwise(this.#dnnl);
    this.#minElements = options.minElements;
    this.description = `${runtime.description}; ${
      options.keepBlocked ? "blocked layouts kept between kernels" : "plain layouts between kernels"
    }; ${
      options.winograd ? "Winograd 3×3 convolutions where faster" : "direct convolutions"
    }; other kernels: ${cpu.description}`;
  }

  /** A buffer of this backend, checked: `op` names the kernel in the error. */
  #buf(buffer: DeviceBuffer, op: string): OnednnBuffer {
    if (!(buffer instanceof OnednnBuffer) || buffer.owner !== this) {
      throw new TypeError(`onednn ${op}: got a buffer that belongs to another backend`);
    }
    if (buffer.freed) throw new Error(`onednn ${op}: a buffer of ${buffer.size} elements was used after free()`);
    return buffer;
  }

  /** The plain values of a buffer of this backend. */
  #plain(buffer: DeviceBuffer, op: string): CpuBuffer {
    return this.#layouts.plain(this.#buf(buffer, op));
  }

  /** A buffer over a block the cpu kernels (or oneDNN) wrote, in `layout`. */
  #wrap(storage: DeviceBuffer, layout: Layout = PLAIN): OnednnBuffer {
    const s = storage as CpuBuffer;
    return this.#layouts.wrap(layout.plain ? s.size : elementCount(layout.dims), s, layout);
  }

  // ---- memory ----

  zeros(size: number): DeviceBuffer {
    return this.#wrap(this.#cpu.zeros(size));
  }

  upload(data: Float32Array): DeviceBuffer {
    return this.#wrap(this.#cpu.upload(data));
  }

  download(buffer: DeviceBuffer): Promise<Float32Array> {
    try {
      return Promise.resolve(this.#plain(buffer, "download").data.slice());
    } catch (e) {
      return Promise.reject(e);
    }
  }

  free(buffer: DeviceBuffer): void {
    this.#buf(buffer, "free").release();
  }

  // ---- elementwise ----

  unary(op: UnaryOp, x: DeviceBuffer, a: number, b: number): DeviceBuffer {
    const bx = this.#buf(x, "unary");
    // Elementwise: any layout without padding gives the same values in the same layout.
    if (op === "gt" && bx.size >= this.#minElements && this.#elementwise.greaterApplies(a, b)) {
      const out = this.#layouts.alloc(bx.size, PLAIN, `unary gt of ${bx.size} elements`);
      this.#guard(out, () => this.#elementwise.greater(bx.storage, a, out, bx.size));
      return this.#wrap(out, bx.layout);
    }
    return this.#wrap(this.#cpu.unary(op, bx.storage, a, b), bx.layout);
  }

  binary(
    op: BinaryOp,
    a: DeviceBuffer,
    aStrides: readonly number[],
    b: DeviceBuffer,
    bStrides: readonly number[],
    outShape: readonly number[],
  ): DeviceBuffer {
    const ba = this.#buf(a, "binary"), bb = this.#buf(b, "binary");
    const size = elementCount(outShape);
    if (ba.size === size && bb.size === size && isDense(outShape, aStrides) && isDense(outShape, bStrides)) {
      // Both operands whole and in element order: one layout serves both (a plain one is reordered into the
      // other's blocked one), the kernel runs on flat memory, and the result stays in that layout.
      const layout = ba.layout.plain ? bb.layout : ba.layout;
      const sa = this.#layouts.storageIn(ba, layout), sb = this.#layouts.storageIn(bb, layout);
      if (size < this.#minElements) return this.#wrap(this.#cpu.binary(op, sa, [1], sb, [1], [size]), layout);
      const out = this.#layouts.alloc(size, PLAIN, `binary ${op} of ${size} elements`);
      this.#guard(out, () => this.#elementwise.binary(op, sa, sb, out, size));
      return this.#wrap(out, layout);
    }
    const sa = this.#layouts.plain(ba), sb = this.#layouts.plain(bb);
    return this.#wrap(this.#cpu.binary(op, sa, aStrides, sb, bStrides, outShape));
  }

  /** Runs `fn`, which writes `out`; gives `out` back if it throws. */
  #guard(out: CpuBuffer, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      out.release();
      throw e;
    }
  }

  strided(x: DeviceBuffer, outShape: readonly number[], strides: readonly number[], offset: number): DeviceBuffer {
    return this.#wrap(this.#cpu.strided(this.#plain(x, "strided"), outShape, strides, offset));
  }

  sum(x: DeviceBuffer, outer: number, reduced: number, inner: number): DeviceBuffer {
    const bx = this.#buf(x, "sum");
    const l = bx.layout, block = l.channelBlock;
    if (
      block && outer * reduced * inner >= this.#minElements && l.dims[0] === outer && l.dims[1] === reduced &&
      l.dims[2] * l.dims[3] === inner
    ) {
      // The sum over the channels of an nChwBc activation (an attention map): read where it lies.
      const out = this.#layouts.alloc(outer * inner, PLAIN, `sum [${outer}, ${reduced}, ${inner}]`);
      this.#guard(out, () => this.#dense.sumChannelsBlocked(bx.storage, out, outer, reduced, inner, block));
      return this.#wrap(out);
    }
    const sx = this.#layouts.plain(bx);
    if (outer * reduced * inner < this.#minElements) return this.#wrap(this.#cpu.sum(sx, outer, reduced, inner));
    const out = this.#layouts.alloc(outer * inner, PLAIN, `sum [${outer}, ${reduced}, ${inner}]`);
    this.#guard(out, () => this.#dense.sum(sx, out, outer, reduced, inner));
    return this.#wrap(out);
  }

  // ---- dense ----

  matmul(
    a: DeviceBuffer,
    b: DeviceBuffer,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
  ): DeviceBuffer {
    const sa = this.#plain(a, "matmul"), sb = this.#plain(b, "matmul");
    if (m * n * k < this.#minElements || a.size < m * k || b.size < k * n) {
      return this.#wrap(this.#cpu.matmul(sa, sb, m, n, k, transA, transB));
    }
    const out = this.#layouts.alloc(m * n, PLAIN, `matmul [${m}, ${k}] · [${k}, ${n}]`);
    this.#guard(out, () => this.#dense.matmul(sa, sb, out, m, n, k, transA, transB));
    return this.#wrap(out);
  }

  conv2d(x: DeviceBuffer, w: DeviceBuffer, g: ConvGeometry): DeviceBuffer {
    const bx = this.#buf(x, "conv2d"), bw = this.#buf(w, "conv2d");
    if (g.n * g.c * g.k * g.oh * g.ow === 0) {
      return this.#wrap(this.#cpu.conv2d(this.#layouts.plain(bx), this.#layouts.plain(bw), g));
    }
    return this.#conv.forward(bx, bw, g);
  }

  conv2dBackwardInput(dy: DeviceBuffer, w: DeviceBuffer, g: ConvGeometry): DeviceBuffer {
    const bdy = this.#buf(dy, "conv2dBackwardInput"), bw = this.#buf(w, "conv2dBackwardInput");
    if (g.n * g.c * g.k * g.h * g.w === 0) {
      return this.#wrap(this.#cpu.conv2dBackwardInput(this.#layouts.plain(bdy), this.#layouts.plain(bw), g));
    }
    return this.#conv.backwardData(bdy, bw, g);
  }

  conv2dBackwardFilter(x: DeviceBuffer, dy: DeviceBuffer, g: ConvGeometry): DeviceBuffer {
    const bx = this.#buf(x, "conv2dBackwardFilter"), bdy = this.#buf(dy, "conv2dBackwardFilter");
    if (g.n * g.c * g.k * g.oh * g.ow === 0) {
      return this.#wrap(this.#cpu.conv2dBackwardFilter(this.#layouts.plain(bx), this.#layouts.plain(bdy), g));
    }
    return this.#conv.backwardWeights(bx, bdy, g);
  }

  // ---- normalisation ----

  batchNormTrain(
    x: DeviceBuffer,
    gamma: DeviceBuffer,
    beta: DeviceBuffer,
    runningMean: DeviceBuffer,
    runningVar: DeviceBuffer,
    momentum: number,
    g: BatchNormGeometry,
  ): BatchNormTrainResult {
    const op = "batchNormTrain";
    const bx = this.#buf(x, op);
    const [sg, sb, srm, srv] = [gamma, beta, runningMean, runningVar].map((v) => this.#plain(v, op));
    const count = g.n * g.hw;
    if (g.c === 0 || count === 0) {
      const r = this.#cpu.batchNormTrain(this.#layouts.plain(bx), sg, sb, srm, srv, momentum, g);
      return {
        y: this.#wrap(r.y),
        mean: this.#wrap(r.mean),
        invstd: this.#wrap(r.invstd),
        runningMean: this.#wrap(r.runningMean),
        runningVar: this.#wrap(r.runningVar),
      };
    }
    const { y, mean, variance } = this.#bn.train(bx, sg, sb, g);
    const c = g.c;
    const invstd = new CpuBuffer(c), newMean = new CpuBuffer(c), newVar = new CpuBuffer(c);
    const m = mean.data, v = variance.data, rm = srm.data, rv = srv.data;
    const unbias = count > 1 ? count / (count - 1) : 1;
    for (let i = 0; i < c; i++) {
      invstd.data[i] = 1 / Math.sqrt(v[i] + g.eps);
      newMean.data[i] = (1 - momentum) * rm[i] + momentum * m[i];
      newVar.data[i] = (1 - momentum) * rv[i] + momentum * v[i] * unbias;
    }
    const invstdBuffer = this.#wrap(invstd);
    this.#bn.rememberVariance(invstdBuffer, v.slice());
    variance.release();
    return {
      y,
      mean: this.#wrap(mean),
      invstd: invstdBuffer,
      runningMean: this.#wrap(newMean),
      runningVar: this.#wrap(newVar),
    };
  }

  batchNormInference(
    x: DeviceBuffer,
    gamma: DeviceBuffer,
    beta: DeviceBuffer,
    runningMean: DeviceBuffer,
    runningVar: DeviceBuffer,
    g: BatchNormGeometry,
  ): DeviceBuffer {
    const op = "batchNormInference";
    const bx = this.#buf(x, op);
    const [sg, sb, srm, srv] = [gamma, beta, runningMean, runningVar].map((v) => this.#plain(v, op));
    if (g.c === 0 || g.n * g.hw === 0) {
      return this.#wrap(this.#cpu.batchNormInference(this.#layouts.plain(bx), sg, sb, srm, srv, g));
    }
    return this.#bn.inference(bx, sg, sb, srm, srv, g);
  }

  batchNormBackward(
    x: DeviceBuffer,
    dy: DeviceBuffer,
    gamma: DeviceBuffer,
    mean: DeviceBuffer,
    invstd: DeviceBuffer,
    g: BatchNormGeometry,
  ): BatchNormGrads {
    const op = "batchNormBackward";
    const bx = this.#buf(x, op), bdy = this.#buf(dy, op), binvstd = this.#buf(invstd, op);
    const [sg, sm, si] = [gamma, mean, invstd].map((v) => this.#plain(v, op));
    if (g.c === 0 || g.n * g.hw === 0) {
      const r = this.#cpu.batchNormBackward(this.#layouts.plain(bx), this.#layouts.plain(bdy), sg, sm, si, g);
      return { dx: this.#wrap(r.dx), dgamma: this.#wrap(r.dgamma), dbeta: this.#wrap(r.dbeta) };
    }
    const r = this.#bn.backward(bx, bdy, sg, sm, binvstd, si.data, g);
    return { dx: r.dx, dgamma: this.#wrap(r.dgamma), dbeta: this.#wrap(r.dbeta) };
  }

  // ---- pooling ----

  avgPool2d(x: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    const bx = this.#buf(x, "avgPool2d");
    if (!this.#pool.applies(g)) return this.#wrap(this.#cpu.avgPool2d(this.#layouts.plain(bx), g));
    return this.#pool.avgForward(bx, g);
  }

  avgPool2dBackward(dy: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    const bdy = this.#buf(dy, "avgPool2dBackward");
    if (!this.#pool.applies(g)) return this.#wrap(this.#cpu.avgPool2dBackward(this.#layouts.plain(bdy), g));
    return this.#pool.avgBackward(bdy, g);
  }

  maxPool2d(x: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    // oneDNN's max pooling lets a NaN lose; the contract makes it win.
    return this.#wrap(this.#cpu.maxPool2d(this.#plain(x, "maxPool2d"), g));
  }

  maxPool2dBackward(x: DeviceBuffer, dy: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    const op = "maxPool2dBackward";
    return this.#wrap(this.#cpu.maxPool2dBackward(this.#plain(x, op), this.#plain(dy, op), g));
  }

  maxPool2dGather(x: DeviceBuffer, ddx: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    const op = "maxPool2dGather";
    return this.#wrap(this.#cpu.maxPool2dGather(this.#plain(x, op), this.#plain(ddx, op), g));
  }

  // ---- softmax ----

  logSoftmax(x: DeviceBuffer, rows: number, cols: number): DeviceBuffer {
    return this.#wrap(this.#cpu.logSoftmax(this.#plain(x, "logSoftmax"), rows, cols));
  }

  // ---- optimisation ----

  sgdUpdate(param: DeviceBuffer, grad: DeviceBuffer, momentumBuffer: DeviceBuffer, o: SgdOptions): void {
    const op = "sgdUpdate";
    const bp = this.#buf(param, op), bg = this.#buf(grad, op), bm = this.#buf(momentumBuffer, op);
    // Written in place: plain values become the only ones (copies in other layouts would go stale).
    const sp = this.#layouts.makePlainPrimary(bp), sm = this.#layouts.makePlainPrimary(bm);
    this.#cpu.sgdUpdate(sp, this.#layouts.plain(bg), sm, o);
  }

  // ---- beyond the contract ----

  /** The oneDNN implementation a convolution pass of `g` runs, e.g. `"jit_wino_4x3:avx512_core"` (for tests). */
  convolutionImplementation(pass: ConvPass, g: ConvGeometry): string {
    return this.#conv.implementation(pass, g);
  }

  /** Floats reordered between layouts since the backend started, by `from → to` (for benchmarks). */
  reorderStats(): ReadonlyMap<string, number> {
    return new Map(this.#layouts.reordered);
  }
}
