/**
 * The `cpu` backend: plain TypeScript on typed arrays. The reference meaning of every kernel of the
 * contract, and the device that always starts.
 *
 * @module
 */
import type {
  Backend,
  BatchNormGeometry,
  BatchNormGrads,
  BatchNormTrainResult,
  BinaryOp,
  ConvGeometry,
  DeviceBuffer,
  PoolGeometry,
  SgdOptions,
  UnaryOp,
} from "../backend.ts";
import * as bn from "./batchnorm.ts";
import * as conv from "./conv.ts";
import * as ew from "./elementwise.ts";
import { gemm } from "./gemm.ts";
import * as pool from "./pool.ts";
import { logSoftmax } from "./softmax.ts";
import { sgdUpdate } from "./sgd.ts";

/** A buffer of the cpu backend: a `Float32Array` it owns. */
export class CpuBuffer implements DeviceBuffer {
  constructor(readonly data: Float32Array) {}
  get size(): number {
    return this.data.length;
  }
}

function arr(b: DeviceBuffer): Float32Array {
  if (!(b instanceof CpuBuffer)) throw new TypeError("cpu backend: got a buffer that belongs to another backend");
  return b.data;
}

function alloc(size: number): CpuBuffer {
  return new CpuBuffer(new Float32Array(size));
}

/** The `cpu` backend. */
export class CpuBackend implements Backend {
  readonly name = "cpu";
  readonly description = `TypeScript on the CPU (${navigator.hardwareConcurrency} logical cores)`;

  zeros(size: number): DeviceBuffer {
    return alloc(size);
  }
  upload(data: Float32Array): DeviceBuffer {
    return new CpuBuffer(new Float32Array(data));
  }
  download(buffer: DeviceBuffer): Promise<Float32Array> {
    return Promise.resolve(new Float32Array(arr(buffer)));
  }
  free(_buffer: DeviceBuffer): void {
    // The garbage collector reclaims typed arrays.
  }

  unary(op: UnaryOp, x: DeviceBuffer, a: number, b: number): DeviceBuffer {
    const out = alloc(x.size);
    ew.unary(op, arr(x), a, b, out.data);
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
    const out = alloc(outShape.reduce((p, d) => p * d, 1));
    ew.binary(op, arr(a), aStrides, arr(b), bStrides, outShape, out.data);
    return out;
  }
  strided(x: DeviceBuffer, outShape: readonly number[], strides: readonly number[], offset: number): DeviceBuffer {
    const out = alloc(outShape.reduce((p, d) => p * d, 1));
    ew.strided(arr(x), outShape, strides, offset, out.data);
    return out;
  }
  sum(x: DeviceBuffer, outer: number, reduced: number, inner: number): DeviceBuffer {
    const out = alloc(outer * inner);
    ew.sum(arr(x), outer, reduced, inner, out.data);
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
    const out = alloc(m * n);
    gemm(m, n, k, transA, transB, { a: arr(a), aOffset: 0, b: arr(b), bOffset: 0, c: out.data, cOffset: 0 }, false);
    return out;
  }
  conv2d(x: DeviceBuffer, w: DeviceBuffer, g: ConvGeometry): DeviceBuffer {
    const out = alloc(g.n * g.k * g.oh * g.ow);
    conv.conv2d(arr(x), arr(w), g, out.data);
    return out;
  }
  conv2dBackwardInput(dy: DeviceBuffer, w: DeviceBuffer, g: ConvGeometry): DeviceBuffer {
    const out = alloc(g.n * g.c * g.h * g.w);
    conv.conv2dBackwardInput(arr(dy), arr(w), g, out.data);
    return out;
  }
  conv2dBackwardFilter(x: DeviceBuffer, dy: DeviceBuffer, g: ConvGeometry): DeviceBuffer {
    const out = alloc(g.k * g.c * g.r * g.s);
    conv.conv2dBackwardFilter(arr(x), arr(dy), g, out.data);
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
      y: alloc(x.size),
      mean: alloc(g.c),
      invstd: alloc(g.c),
      runningMean: alloc(g.c),
      runningVar: alloc(g.c),
    };
    bn.batchNormTrain(arr(x), arr(gamma), arr(beta), arr(runningMean), arr(runningVar), momentum, g, {
      y: out.y.data,
      mean: out.mean.data,
      invstd: out.invstd.data,
      runningMean: out.runningMean.data,
      runningVar: out.runningVar.data,
    });
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
    const out = alloc(x.size);
    bn.batchNormInference(arr(x), arr(gamma), arr(beta), arr(runningMean), arr(runningVar), g, out.data);
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
    const out = { dx: alloc(x.size), dgamma: alloc(g.c), dbeta: alloc(g.c) };
    bn.batchNormBackward(arr(x), arr(dy), arr(gamma), arr(mean), arr(invstd), g, {
      dx: out.dx.data,
      dgamma: out.dgamma.data,
      dbeta: out.dbeta.data,
    });
    return out;
  }

  avgPool2d(x: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    const out = alloc(g.n * g.c * g.oh * g.ow);
    pool.avgPool2d(arr(x), g, out.data);
    return out;
  }
  avgPool2dBackward(dy: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    const out = alloc(g.n * g.c * g.h * g.w);
    pool.avgPool2dBackward(arr(dy), g, out.data);
    return out;
  }
  maxPool2d(x: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    const out = alloc(g.n * g.c * g.oh * g.ow);
    pool.maxPool2d(arr(x), g, out.data);
    return out;
  }
  maxPool2dBackward(x: DeviceBuffer, dy: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    const out = alloc(x.size);
    pool.maxPool2dBackward(arr(x), arr(dy), g, out.data);
    return out;
  }
  maxPool2dGather(x: DeviceBuffer, ddx: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    const out = alloc(g.n * g.c * g.oh * g.ow);
    pool.maxPool2dGather(arr(x), arr(ddx), g, out.data);
    return out;
  }

  logSoftmax(x: DeviceBuffer, rows: number, cols: number): DeviceBuffer {
    const out = alloc(rows * cols);
    logSoftmax(arr(x), rows, cols, out.data);
    return out;
  }

  sgdUpdate(param: DeviceBuffer, grad: DeviceBuffer, momentumBuffer: DeviceBuffer, o: SgdOptions): void {
    sgdUpdate(arr(param), arr(grad), arr(momentumBuffer), o);
  }
}

/** Starts the cpu backend; it always can. */
export function create(): Promise<Backend> {
  return Promise.resolve(new CpuBackend());
}
