/**
 * The `cudnn` backend: every kernel of the contract on one CUDA stream. Convolutions and batch norm run in
 * cuDNN, matrix products in cuBLAS, everything else in this backend's own NVRTC-compiled kernels, which
 * reproduce the `cpu` backend's arithmetic and tie rules.
 *
 * Nothing here waits for the device except {@linkcode CudnnBackend.download}, and that wait polls an
 * event without blocking the JavaScript thread.
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
import { BatchNorms } from "./_batchnorm.ts";
import { Convolutions } from "./_conv.ts";
import { CU_EVENT_DISABLE_TIMING, CU_RESULT } from "./_ffi_cuda.ts";
import { CUBLAS } from "./_ffi_cublas.ts";
import { checkElements, collapseAxes, rowMajorSgemm, stridedStruct } from "./_geometry.ts";
import { BINARY_CODES, BLOCK, POOL_INTS, STRIDED_INTS, SUM_COLS_BLOCK, UNARY_CODES } from "./_kernels_cu.ts";
import { CudaBuffer, DevicePool, PinnedPool, Workspace } from "./_memory.ts";
import type { Runtime, RuntimeOptions } from "./_runtime.ts";

const ONE = new Float32Array([1]);
const ZERO = new Float32Array([0]);
/** The bits of a float32 quiet NaN, for filling statistics of empty batches. */
const NAN_BITS = 0x7fc00000;
/** Largest grid.x of the kernels that loop over rows or tiles. */
const MAX_GRID = 65535;

/** Workspace the timed algorithm search may give one convolution algorithm: 256 MiB, or 1/8 of free memory. */
function findWorkspaceBytes(freeBytes: number): number {
  return Math.max(16 * 2 ** 20, Math.min(256 * 2 ** 20, Math.floor(freeBytes / 8)));
}

/** Resolves after the event loop has run once (a message round trip: far quicker than a timer). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      channel.port2.close();
      resolve();
    };
    channel.port2.postMessage(0);
  });
}

/** The `cudnn` backend. Start it with `create()`; it owns the CUDA state in `runtime`. */
export class CudnnBackend implements Backend {
  readonly name = "cudnn";
  readonly description: string;
  readonly #rt: Runtime;
  readonly #pool: DevicePool;
  readonly #pinned: PinnedPool;
  readonly #workspace: Workspace;
  readonly #conv: Convolutions;
  readonly #bn: BatchNorms;
  readonly #events: bigint[] = [];
  readonly #slot = new BigUint64Array(1);

  constructor(runtime: Runtime, options: RuntimeOptions) {
    this.#rt = runtime;
    const { cuda, check, stream } = runtime;
    const synchronize = () => check(cuda.symbols.cuStreamSynchronize(stream), "cuStreamSynchronize");
    this.#pool = new DevicePool(cuda, check, synchronize);
    this.#pinned = new PinnedPool(cuda, check);
    this.#workspace = new Workspace(cuda, check, synchronize, () => this.#pool.trim());
    this.#conv = new Convolutions({
      cudnn: runtime.libs.cudnn,
      handle: runtime.cudnnHandle,
      check,
      workspace: this.#workspace,
      algo: {
        mode: options.algoMode,
        deterministic: options.deterministic,
        findWorkspaceBytes: findWorkspaceBytes(runtime.freeBytes),
      },
    });
    this.#bn = new BatchNorms({ cudnn: runtime.libs.cudnn, handle: runtime.cudnnHandle, check });
    this.description = `${runtime.description}; convolution algorithms by ${
      options.algoMode === "find" ? "timed search" : "heuristics"
    }${options.deterministic ? ", deterministic preferred" : ""}, no TF32`;
  }

  /** The device address of a buffer of this backend, checked. */
  #ptr(buffer: DeviceBuffer): bigint {
    if (!(buffer instanceof CudaBuffer) || buffer.pool !== this.#pool) {
      throw new TypeError("cudnn backend: got a buffer that belongs to another backend");
    }
    if (buffer.freed) throw new Error("cudnn backend: buffer used after free()");
    return buffer.ptr;
  }

  #alloc(size: number): CudaBuffer {
    return this.#pool.alloc(size);
  }

  #fill(buffer: CudaBuffer, bits: number): void {
    if (buffer.size === 0) return;
    const { cuda, check, stream } = this.#rt;
    check(cuda.symbols.cuMemsetD32Async(buffer.ptr, bits, BigInt(buffer.size), stream), "cuMemsetD32Async");
  }

  #copy(from: DeviceBuffer): CudaBuffer {
    const src = this.#ptr(from);
    const out = this.#alloc(from.size);
    if (from.size > 0) {
      const { cuda, check, stream } = this.#rt;
      check(cuda.symbols.cuMemcpyDtoDAsync_v2(out.ptr, src, BigInt(from.size * 4), stream), "cuMemcpyDtoDAsync_v2");
    }
    return out;
  }

  // ---- memory ----

  zeros(size: number): DeviceBuffer {
    const out = this.#alloc(size);
    this.#fill(out, 0);
    return out;
  }

  upload(data: Float32Array): DeviceBuffer {
    const out = this.#alloc(data.length);
    if (data.length > 0) {
      const { cuda, check, stream } = this.#rt;
      // From pageable memory the driver stages the data before returning, so `data` may change afterwards.
      check(cuda.symbols.cuMemcpyHtoDAsync_v2(out.ptr, data, BigInt(data.byteLength), stream), "cuMemcpyHtoDAsync_v2");
    }
    return out;
  }

  async download(buffer: DeviceBuffer): Promise<Float32Array> {
    const src = this.#ptr(buffer);
    const out = new Float32Array(buffer.size);
    if (buffer.size === 0) return out;
    const { cuda, check, stream } = this.#rt;
    const block = this.#pinned.take(out.byteLength);
    const event = this.#event();
    try {
      check(cuda.symbols.cuMemcpyDtoHAsync_v2(block.ptr, src, BigInt(out.byteLength), stream), "cuMemcpyDtoHAsync_v2");
      check(cuda.symbols.cuEventRecord(event, stream), "cuEventRecord");
      await this.#wait(event);
      Deno.UnsafePointerView.copyInto(Deno.UnsafePointer.create(block.ptr)!, out);
    } finally {
      this.#events.push(event);
      this.#pinned.give(block);
    }
    return out;
  }

  free(buffer: DeviceBuffer): void {
    this.#ptr(buffer);
    this.#pool.free(buffer as CudaBuffer);
  }

  #event(): bigint {
    const reused = this.#events.pop();
    if (reused !== undefined) return reused;
    const { cuda, check } = this.#rt;
    check(cuda.symbols.cuEventCreate(this.#slot, CU_EVENT_DISABLE_TIMING), "cuEventCreate");
    return this.#slot[0];
  }

  /** Waits for an event, yielding to the event loop between polls so other work can be queued meanwhile. */
  async #wait(event: bigint): Promise<void> {
    const { cuda, check } = this.#rt;
    for (let polls = 0;; polls++) {
      const status = cuda.symbols.cuEventQuery(event);
      if (status === CU_RESULT.SUCCESS) return;
      if (status !== CU_RESULT.NOT_READY) check(status, "cuEventQuery");
      // Quick turns first (a short queue finishes within a few), then timers so a long queue costs no CPU.
      await (polls < 64 ? nextTurn() : new Promise((resolve) => setTimeout(resolve, 1)));
    }
  }

  // ---- elementwise ----

  unary(op: UnaryOp, x: DeviceBuffer, a: number, b: number): DeviceBuffer {
    const code = UNARY_CODES[op];
    if (code === undefined) throw new RangeError(`cudnn unary: unknown op ${JSON.stringify(op)}`);
    const src = this.#ptr(x);
    const n = x.size;
    checkElements("unary", n);
    const out = this.#alloc(n);
    if (n === 0) return out;
    const k = this.#rt.kernels;
    k.args.begin().ptr(src).ptr(out.ptr).i64(n).i32(code).f64(a).f64(b);
    k.launch("at_unary", k.gridFor(n, BLOCK), BLOCK);
    return out;
  }

  binary(
    op: BinaryOp,
    a: DeviceBuffer,
    aStrides: readonly number[],
    b: DeviceBuffer,
    bStrides: readonly number[],
    outShape: readonly number[],
  ): DeviceBuffer {
    const code = BINARY_CODES[op];
    if (code === undefined) throw new RangeError(`cudnn binary: unknown op ${JSON.stringify(op)}`);
    if (aStrides.length !== outShape.length || bStrides.length !== outShape.length) {
      throw new RangeError(
        `cudnn binary: strides [${aStrides}] and [${bStrides}] must have one entry per axis of [${outShape}]`,
      );
    }
    const pa = this.#ptr(a), pb = this.#ptr(b);
    const n = elementCount(outShape);
    checkElements("binary", n);
    const out = this.#alloc(n);
    if (n === 0) return out;
    const geometry = stridedStruct("binary", collapseAxes(outShape, [aStrides, bStrides]));
    const k = this.#rt.kernels;
    k.args.begin().ptr(pa).ptr(pb).ptr(out.ptr).i64(n).i32(code).ints(geometry, STRIDED_INTS);
    k.launch("at_binary", k.gridFor(n, BLOCK), BLOCK);
    return out;
  }

  strided(x: DeviceBuffer, outShape: readonly number[], strides: readonly number[], offset: number): DeviceBuffer {
    if (strides.length !== outShape.length) {
      throw new RangeError(`cudnn strided: strides [${strides}] must have one entry per axis of [${outShape}]`);
    }
    const src = this.#ptr(x);
    const n = elementCount(outShape);
    checkElements("strided", n);
    const out = this.#alloc(n);
    if (n === 0) return out;
    const geometry = stridedStruct("strided", collapseAxes(outShape, [strides]));
    const k = this.#rt.kernels;
    k.args.begin().ptr(src).ptr(out.ptr).i64(n).i64(offset).ints(geometry, STRIDED_INTS);
    k.launch("at_strided", k.gridFor(n, BLOCK), BLOCK);
    return out;
  }

  sum(x: DeviceBuffer, outer: number, reduced: number, inner: number): DeviceBuffer {
    const src = this.#ptr(x);
    checkElements("sum", outer * reduced * inner);
    const out = this.#alloc(outer * inner);
    if (out.size === 0) return out;
    if (reduced === 0) {
      this.#fill(out, 0);
      return out;
    }
    const k = this.#rt.kernels;
    if (inner === 1) {
      const block = Math.min(BLOCK, 32 * Math.ceil(reduced / 32));
      k.args.begin().ptr(src).ptr(out.ptr).i32(outer).i32(reduced);
      k.launch("at_sum_rows", Math.min(outer, MAX_GRID), block);
    } else {
      const tiles = outer * Math.ceil(inner / SUM_COLS_BLOCK.x);
      k.args.begin().ptr(src).ptr(out.ptr).i32(outer).i32(reduced).i32(inner);
      k.launch("at_sum_cols", Math.min(tiles, MAX_GRID), SUM_COLS_BLOCK.x, SUM_COLS_BLOCK.y);
    }
    return out;
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
    const pa = this.#ptr(a), pb = this.#ptr(b);
    if (a.size < m * k || b.size < k * n) {
      throw new RangeError(
        `cudnn matmul: operands of ${a.size} and ${b.size} elements do not fit m=${m}, n=${n}, k=${k}`,
      );
    }
    const out = this.#alloc(m * n);
    if (out.size === 0) return out;
    if (k === 0) {
      this.#fill(out, 0);
      return out;
    }
    const g = rowMajorSgemm(m, n, k, transA, transB);
    const { libs, check, cublasHandle } = this.#rt;
    check(
      libs.cublas.symbols.cublasSgemm_v2(
        cublasHandle,
        g.transa ? CUBLAS.OP_T : CUBLAS.OP_N,
        g.transb ? CUBLAS.OP_T : CUBLAS.OP_N,
        g.m,
        g.n,
        g.k,
        ONE,
        pb,
        g.lda,
        pa,
        g.ldb,
        ZERO,
        out.ptr,
        g.ldc,
      ),
      "cublasSgemm_v2",
    );
    return out;
  }

  conv2d(x: DeviceBuffer, w: DeviceBuffer, g: ConvGeometry): DeviceBuffer {
    const px = this.#ptr(x), pw = this.#ptr(w);
    const out = this.#alloc(g.n * g.k * g.oh * g.ow);
    if (out.size === 0) return out;
    if (g.c === 0) {
      this.#fill(out, 0);
      return out;
    }
    this.#conv.forward(px, pw, out.ptr, g);
    return out;
  }

  conv2dBackwardInput(dy: DeviceBuffer, w: DeviceBuffer, g: ConvGeometry): DeviceBuffer {
    const pdy = this.#ptr(dy), pw = this.#ptr(w);
    const out = this.#alloc(g.n * g.c * g.h * g.w);
    if (out.size === 0) return out;
    if (g.k === 0) {
      this.#fill(out, 0);
      return out;
    }
    this.#conv.backwardData(pdy, pw, out.ptr, g);
    return out;
  }

  conv2dBackwardFilter(x: DeviceBuffer, dy: DeviceBuffer, g: ConvGeometry): DeviceBuffer {
    const px = this.#ptr(x), pdy = this.#ptr(dy);
    const out = this.#alloc(g.k * g.c * g.r * g.s);
    if (out.size === 0) return out;
    if (g.n === 0) {
      this.#fill(out, 0);
      return out;
    }
    this.#conv.backwardFilter(px, pdy, out.ptr, g);
    return out;
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
    const px = this.#ptr(x), pg = this.#ptr(gamma), pb = this.#ptr(beta);
    const out = {
      y: this.#alloc(x.size),
      mean: this.#alloc(g.c),
      invstd: this.#alloc(g.c),
      runningMean: this.#copy(runningMean),
      runningVar: this.#copy(runningVar),
    };
    if (g.c === 0) return out;
    const count = g.n * g.hw;
    if (count === 0) {
      // No values: the statistics are 0/0, as the cpu backend computes them.
      for (const b of [out.mean, out.invstd, out.runningMean, out.runningVar]) this.#fill(b, NAN_BITS);
      return out;
    }
    // With one value per channel cuDNN's unbiased variance would divide by zero: it updates nothing, and a
    // kernel applies the cpu backend's convention (unbiased variance 0).
    const single = count === 1;
    this.#bn.train(
      {
        x: px,
        gamma: pg,
        beta: pb,
        y: out.y.ptr,
        runningMean: single ? 0n : out.runningMean.ptr,
        runningVar: single ? 0n : out.runningVar.ptr,
        saveMean: out.mean.ptr,
        saveInvstd: out.invstd.ptr,
      },
      momentum,
      g,
    );
    if (single) {
      const k = this.#rt.kernels;
      k.args.begin().ptr(out.runningMean.ptr).ptr(out.runningVar.ptr).ptr(out.mean.ptr).i32(g.c).f64(momentum);
      k.launch("at_bn_running_count1", k.gridFor(g.c, BLOCK), BLOCK);
    }
    return { ...out, y: this.#reluIf(g, out.y) };
  }

  /** `max(y, 0)` in place of `y` when the geometry asks for the ReLU (see BatchNormGeometry.relu). */
  #reluIf<B extends DeviceBuffer>(g: BatchNormGeometry, y: B): B | DeviceBuffer {
    if (!g.relu) return y;
    const r = this.unary("max", y, 0, 0);
    this.free(y);
    return r;
  }

  batchNormInference(
    x: DeviceBuffer,
    gamma: DeviceBuffer,
    beta: DeviceBuffer,
    runningMean: DeviceBuffer,
    runningVar: DeviceBuffer,
    g: BatchNormGeometry,
  ): DeviceBuffer {
    const px = this.#ptr(x), pg = this.#ptr(gamma), pb = this.#ptr(beta);
    const pm = this.#ptr(runningMean), pv = this.#ptr(runningVar);
    const out = this.#alloc(x.size);
    if (out.size === 0) return out;
    this.#bn.inference(px, pg, pb, pm, pv, out.ptr, g);
    return this.#reluIf(g, out);
  }

  batchNormBackward(
    x: DeviceBuffer,
    dy: DeviceBuffer,
    gamma: DeviceBuffer,
    mean: DeviceBuffer,
    invstd: DeviceBuffer,
    g: BatchNormGeometry,
  ): BatchNormGrads {
    const px = this.#ptr(x), pdy = this.#ptr(dy), pg = this.#ptr(gamma);
    const pm = this.#ptr(mean), pi = this.#ptr(invstd);
    const out = { dx: this.#alloc(x.size), dgamma: this.#alloc(g.c), dbeta: this.#alloc(g.c) };
    if (g.c === 0) return out;
    if (x.size === 0) {
      this.#fill(out.dgamma, 0);
      this.#fill(out.dbeta, 0);
      return out;
    }
    this.#bn.backward(px, pdy, pg, pm, pi, { dx: out.dx.ptr, dgamma: out.dgamma.ptr, dbeta: out.dbeta.ptr }, g);
    return out;
  }

  // ---- pooling ----

  #pool2d(
    kernel: "at_avg_pool" | "at_avg_pool_backward" | "at_max_pool" | "at_max_pool_backward" | "at_max_pool_gather",
    inputs: readonly DeviceBuffer[],
    size: number,
    g: PoolGeometry,
  ): DeviceBuffer {
    const ptrs = inputs.map((b) => this.#ptr(b));
    checkElements("pooling", Math.max(size, g.n * g.c * g.h * g.w));
    const out = this.#alloc(size);
    if (size === 0) return out;
    const k = this.#rt.kernels;
    k.args.begin();
    for (const p of ptrs) k.args.ptr(p);
    k.args.ptr(out.ptr).ints([g.n, g.c, g.h, g.w, g.kernel, g.stride, g.pad, g.oh, g.ow], POOL_INTS);
    k.launch(kernel, k.gridFor(size, BLOCK), BLOCK);
    return out;
  }

  avgPool2d(x: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    return this.#pool2d("at_avg_pool", [x], g.n * g.c * g.oh * g.ow, g);
  }
  avgPool2dBackward(dy: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    return this.#pool2d("at_avg_pool_backward", [dy], g.n * g.c * g.h * g.w, g);
  }
  maxPool2d(x: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    return this.#pool2d("at_max_pool", [x], g.n * g.c * g.oh * g.ow, g);
  }
  maxPool2dBackward(x: DeviceBuffer, dy: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    return this.#pool2d("at_max_pool_backward", [x, dy], g.n * g.c * g.h * g.w, g);
  }
  maxPool2dGather(x: DeviceBuffer, ddx: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    return this.#pool2d("at_max_pool_gather", [x, ddx], g.n * g.c * g.oh * g.ow, g);
  }

  // ---- softmax ----

  logSoftmax(x: DeviceBuffer, rows: number, cols: number): DeviceBuffer {
    const src = this.#ptr(x);
    checkElements("logSoftmax", rows * cols);
    const out = this.#alloc(rows * cols);
    if (out.size === 0) return out;
    const k = this.#rt.kernels;
    k.args.begin().ptr(src).ptr(out.ptr).i32(rows).i32(cols);
    k.launch("at_log_softmax", Math.min(rows, MAX_GRID), Math.min(BLOCK, 32 * Math.ceil(cols / 32)));
    return out;
  }

  // ---- optimisation ----

  sgdUpdate(param: DeviceBuffer, grad: DeviceBuffer, momentumBuffer: DeviceBuffer, o: SgdOptions): void {
    const pp = this.#ptr(param), pg = this.#ptr(grad), pm = this.#ptr(momentumBuffer);
    const n = param.size;
    if (grad.size !== n || momentumBuffer.size !== n) {
      throw new RangeError(
        `cudnn sgdUpdate: param, grad and momentum buffer have ${n}, ${grad.size}, ${momentumBuffer.size} elements`,
      );
    }
    checkElements("sgdUpdate", n);
    if (n === 0) return;
    const k = this.#rt.kernels;
    k.args.begin().ptr(pp).ptr(pg).ptr(pm).i64(n).f64(o.lr).f64(o.momentum).f64(o.weightDecay);
    k.launch("at_sgd", k.gridFor(n, BLOCK), BLOCK);
  }

  // ---- beyond the contract ----

  /** Waits until every queued kernel has finished (for timing). */
  synchronize(): void {
    const { cuda, check, stream } = this.#rt;
    check(cuda.symbols.cuStreamSynchronize(stream), "cuStreamSynchronize");
  }

  /** Device memory held by tensors and by the pool's free lists, in bytes. */
  memoryStats(): { inUse: number; cached: number; workspace: number } {
    return { ...this.#pool.stats(), workspace: this.#workspace.bytes };
  }
}
