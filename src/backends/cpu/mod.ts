/**
 * The `cpu` backend: plain TypeScript on typed arrays. The reference meaning of every kernel of the
 * contract, and the device that always starts.
 *
 * Buffers live in shared memory, and kernels big enough to pay for it are shared between the main thread
 * and a pool of worker threads (`_threads.ts`). Every kernel cuts its work into units whose results do not
 * depend on which thread computes them (`_partition.ts`), and every sum runs in one fixed order, so results
 * are bit-identical run after run, whatever the timing, and for any number of threads, one included.
 *
 * Convolutions are direct (`conv.ts`); 3×3 stride-1 ones with 16 or more input channels use Winograd's
 * F(2×2, 3×3) in double precision (`winograd.ts`), which agrees with the direct sums to float32 rounding.
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
import { CpuBuffer } from "./_memory.ts";
import { batchNormArgs, BINARY_OPS, convArgs, poolArgs, shapeArgs, UNARY_OPS } from "./_tasks.ts";
import { defaultThreads, runTask, workerStatus } from "./_threads.ts";
import { filterGradientGroups } from "./winograd.ts";

export { CpuBuffer };

/** Work per thread (multiply-adds, or elements touched) below which a kernel is not worth splitting further. */
const GRAIN = { conv: 1 << 20, matmul: 1 << 20, elements: 1 << 16 } as const;

function buf(b: DeviceBuffer): CpuBuffer {
  if (!(b instanceof CpuBuffer)) throw new TypeError("cpu backend: got a buffer that belongs to another backend");
  return b;
}

/** Options of the cpu backend. */
export interface CpuOptions {
  /**
   * Threads a kernel may use, the main thread included; 1 runs everything on the main thread. Default:
   * the `AT_CPU_THREADS` environment variable where set and readable, else `navigator.hardwareConcurrency`.
   * Results do not depend on it.
   */
  readonly threads?: number;
  /**
   * Work per thread (multiply-adds for convolutions and matmul, elements otherwise) below which a kernel
   * is not split further. Default: tuned per kernel (about a millisecond of work); 1 splits every kernel
   * as far as `threads` allows, which tests use to exercise the cuts on small shapes.
   */
  readonly grain?: number;
}

/**
 * The `cpu` backend.
 *
 * @example
 * ```ts
 * const cpu = new CpuBackend({ threads: 1 });
 * const y = cpu.unary("max", cpu.upload(new Float32Array([-1, 2])), 0, 0);
 * console.log(await cpu.download(y)); // Float32Array [0, 2]
 * ```
 */
export class CpuBackend implements Backend {
  readonly name = "cpu";
  readonly description: string;
  /** Threads a kernel may use, the main thread included. */
  readonly threads: number;
  readonly #grain: { readonly conv: number; readonly matmul: number; readonly elements: number };

  constructor(options: CpuOptions = {}) {
    const threads = options.threads ?? defaultThreads();
    if (!Number.isInteger(threads) || threads < 1) {
      throw new RangeError(`cpu backend: threads must be a positive integer, got ${threads}`);
    }
    this.threads = threads;
    const grain = options.grain;
    if (grain !== undefined && !(grain >= 1)) {
      throw new RangeError(`cpu backend: grain must be at least 1, got ${grain}`);
    }
    this.#grain = grain === undefined ? GRAIN : { conv: grain, matmul: grain, elements: grain };
    const cores = `${navigator.hardwareConcurrency} logical cores`;
    const why = threads > 1 ? workerStatus().unavailable : undefined;
    this.description = why
      ? `TypeScript on the CPU, 1 thread of ${cores} (worker threads unavailable: ${why})`
      : `TypeScript on the CPU, ${threads} thread${threads > 1 ? "s" : ""} of ${cores}`;
  }

  /** Threads worth using for `work`: one per `grain` of work, at most `threads`. */
  #threadsFor(work: number, grain: number): number {
    return Math.max(1, Math.min(this.threads, Math.floor(work / grain)));
  }

  zeros(size: number): DeviceBuffer {
    return CpuBuffer.zeros(size);
  }
  upload(data: Float32Array): DeviceBuffer {
    const b = new CpuBuffer(data.length);
    b.data.set(data);
    return b;
  }
  download(buffer: DeviceBuffer): Promise<Float32Array> {
    return Promise.resolve(buf(buffer).data.slice());
  }
  free(buffer: DeviceBuffer): void {
    buf(buffer).release();
  }

  unary(op: UnaryOp, x: DeviceBuffer, a: number, b: number): DeviceBuffer {
    const out = new CpuBuffer(x.size);
    runTask("unary", [buf(x), out], [UNARY_OPS.indexOf(op), a, b], this.#threadsFor(x.size, this.#grain.elements));
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
    const out = new CpuBuffer(elementCount(outShape));
    const args = [BINARY_OPS.indexOf(op), ...shapeArgs(outShape, aStrides, bStrides)];
    runTask("binary", [buf(a), buf(b), out], args, this.#threadsFor(out.size, this.#grain.elements));
    return out;
  }
  strided(x: DeviceBuffer, outShape: readonly number[], strides: readonly number[], offset: number): DeviceBuffer {
    const out = new CpuBuffer(elementCount(outShape));
    runTask(
      "strided",
      [buf(x), out],
      [offset, ...shapeArgs(outShape, strides)],
      this.#threadsFor(out.size, this.#grain.elements),
    );
    return out;
  }
  sum(x: DeviceBuffer, outer: number, reduced: number, inner: number): DeviceBuffer {
    const out = new CpuBuffer(outer * inner);
    runTask("sum", [buf(x), out], [outer, reduced, inner], this.#threadsFor(x.size, this.#grain.elements));
    return out;
  }

  matmul(
    a: DeviceBuffer,
    b: DeviceBuffer,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
  ): DeviceBuffer {
    const out = new CpuBuffer(m * n);
    const args = [m, n, k, transA ? 1 : 0, transB ? 1 : 0];
    runTask("matmul", [buf(a), buf(b), out], args, this.#threadsFor(m * n * k, this.#grain.matmul));
    return out;
  }
  conv2d(x: DeviceBuffer, w: DeviceBuffer, g: ConvGeometry): DeviceBuffer {
    const out = new CpuBuffer(g.n * g.k * g.oh * g.ow);
    runTask("conv2d", [buf(x), buf(w), out], convArgs(g), this.#threadsFor(convWork(g), this.#grain.conv));
    return out;
  }
  conv2dBackwardInput(dy: DeviceBuffer, w: DeviceBuffer, g: ConvGeometry): DeviceBuffer {
    const out = new CpuBuffer(g.n * g.c * g.h * g.w);
    runTask(
      "conv2dBackwardInput",
      [buf(dy), buf(w), out],
      convArgs(g),
      this.#threadsFor(convWork(g), this.#grain.conv),
    );
    return out;
  }
  conv2dBackwardFilter(x: DeviceBuffer, dy: DeviceBuffer, g: ConvGeometry): DeviceBuffer {
    const out = new CpuBuffer(g.k * g.c * g.r * g.s);
    const threads = this.#threadsFor(convWork(g), this.#grain.conv), cut = filterGradientGroups(g);
    if (!cut) {
      runTask("conv2dBackwardFilter", [buf(x), buf(dy), out], convArgs(g), threads);
      return out;
    }
    // Two steps: a partial sum per image group, then the partials in group order (see `winograd.ts`).
    const partials = new CpuBuffer(2 * cut.groups * cut.partialSize);
    try {
      runTask("winogradFilterPartials", [buf(x), buf(dy), partials], convArgs(g), threads);
      const finish = this.#threadsFor(g.k * g.c * 16 * cut.groups, this.#grain.elements);
      runTask("winogradFilterFinish", [partials, out], convArgs(g), finish);
    } finally {
      partials.release();
    }
    return out;
  }

  batchNormTrain(
    x: DeviceBuffer,
    gamma: DeviceBuffer,
    beta: DeviceBuffer,
    runningMean: DeviceBuffer,
    runningVar: DeviceBuffer,
    momentum: number,
    g: BatchNormGeometry,
  ): BatchNormTrainResult {
    const out = {
      y: new CpuBuffer(x.size),
      mean: new CpuBuffer(g.c),
      invstd: new CpuBuffer(g.c),
      runningMean: new CpuBuffer(g.c),
      runningVar: new CpuBuffer(g.c),
    };
    const buffers = [buf(x), buf(gamma), buf(beta), buf(runningMean), buf(runningVar)];
    runTask(
      "batchNormTrain",
      [...buffers, out.y, out.mean, out.invstd, out.runningMean, out.runningVar],
      [...batchNormArgs(g), momentum],
      this.#threadsFor(x.size, this.#grain.elements),
    );
    return out;
  }
  batchNormInference(
    x: DeviceBuffer,
    gamma: DeviceBuffer,
    beta: DeviceBuffer,
    runningMean: DeviceBuffer,
    runningVar: DeviceBuffer,
    g: BatchNormGeometry,
  ): DeviceBuffer {
    const out = new CpuBuffer(x.size);
    runTask(
      "batchNormInference",
      [buf(x), buf(gamma), buf(beta), buf(runningMean), buf(runningVar), out],
      batchNormArgs(g),
      this.#threadsFor(x.size, this.#grain.elements),
    );
    return out;
  }
  batchNormBackward(
    x: DeviceBuffer,
    dy: DeviceBuffer,
    gamma: DeviceBuffer,
    mean: DeviceBuffer,
    invstd: DeviceBuffer,
    g: BatchNormGeometry,
  ): BatchNormGrads {
    const out = { dx: new CpuBuffer(x.size), dgamma: new CpuBuffer(g.c), dbeta: new CpuBuffer(g.c) };
    runTask(
      "batchNormBackward",
      [buf(x), buf(dy), buf(gamma), buf(mean), buf(invstd), out.dx, out.dgamma, out.dbeta],
      batchNormArgs(g),
      this.#threadsFor(x.size, this.#grain.elements),
    );
    return out;
  }

  avgPool2d(x: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    return this.#pool("avgPool2d", [buf(x)], g, g.n * g.c * g.oh * g.ow);
  }
  avgPool2dBackward(dy: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    return this.#pool("avgPool2dBackward", [buf(dy)], g, g.n * g.c * g.h * g.w);
  }
  maxPool2d(x: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    return this.#pool("maxPool2d", [buf(x)], g, g.n * g.c * g.oh * g.ow);
  }
  maxPool2dBackward(x: DeviceBuffer, dy: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    return this.#pool("maxPool2dBackward", [buf(x), buf(dy)], g, g.n * g.c * g.h * g.w);
  }
  maxPool2dGather(x: DeviceBuffer, ddx: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    return this.#pool("maxPool2dGather", [buf(x), buf(ddx)], g, g.n * g.c * g.oh * g.ow);
  }
  #pool(
    task: "avgPool2d" | "avgPool2dBackward" | "maxPool2d" | "maxPool2dBackward" | "maxPool2dGather",
    inputs: CpuBuffer[],
    g: PoolGeometry,
    outSize: number,
  ): DeviceBuffer {
    const out = new CpuBuffer(outSize);
    const work = g.n * g.c * g.oh * g.ow * g.kernel * g.kernel;
    runTask(task, [...inputs, out], poolArgs(g), this.#threadsFor(work, this.#grain.elements));
    return out;
  }

  logSoftmax(x: DeviceBuffer, rows: number, cols: number): DeviceBuffer {
    const out = new CpuBuffer(rows * cols);
    runTask(
      "logSoftmax",
      [buf(x), out],
      [rows, cols],
      this.#threadsFor(rows * cols, this.#grain.elements),
    );
    return out;
  }

  sgdUpdate(param: DeviceBuffer, grad: DeviceBuffer, momentumBuffer: DeviceBuffer, o: SgdOptions): void {
    const args = [o.lr, o.momentum, o.weightDecay];
    runTask(
      "sgdUpdate",
      [buf(param), buf(grad), buf(momentumBuffer)],
      args,
      this.#threadsFor(param.size, this.#grain.elements),
    );
  }
}

/** Multiply-adds of a convolution (the same for its two gradients). */
function convWork(g: ConvGeometry): number {
  return g.n * g.k * g.oh * g.ow * g.c * g.r * g.s;
}

/** Starts the cpu backend; it always can. */
export function create(): Promise<Backend> {
  return Promise.resolve(new CpuBackend());
}
