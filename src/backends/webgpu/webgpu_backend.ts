/**
 * `WebGpuBackend`: the contract's methods, each a thin layer that checks ownership and hands the buffers
 * to the op's module (`_elementwise.ts`, `_conv.ts`, …), plus `finish`, `takeProfile` and `dispose`.
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
import type { AdapterReport } from "./_adapter.ts";
import * as bn from "./_batchnorm.ts";
import * as conv from "./_conv.ts";
import * as ew from "./_elementwise.ts";
import { matmul } from "./_matmul.ts";
import * as pool from "./_pool.ts";
import { sum } from "./_reduce.ts";
import { GpuBuffer, GpuRuntime, type KernelTime } from "./_runtime.ts";
import { logSoftmax } from "./_softmax.ts";
import type { Tuning } from "./_tuning.ts";

/**
 * The `webgpu` backend: WGSL compute kernels on `navigator.gpu`. Start it with `create()`.
 *
 * @example
 * ```ts
 * const gpu = await create() as WebGpuBackend;
 * const y = gpu.unary("exp", gpu.upload(new Float32Array([0, 1])), 0, 0);
 * console.log(await gpu.download(y)); // Float32Array [1, 2.718…]
 * ```
 */
export class WebGpuBackend implements Backend {
  readonly name = "webgpu";
  readonly description: string;
  /** The adapter this backend runs on. */
  readonly adapter: AdapterReport;
  /** The kernel configurations in use (`hardware` or `software`). */
  readonly tuning: Tuning;
  readonly #rt: GpuRuntime;

  constructor(device: GPUDevice, adapter: AdapterReport, tuning: Tuning) {
    this.adapter = adapter;
    this.tuning = tuning;
    const profile = device.features.has("timestamp-query");
    this.#rt = new GpuRuntime(device, {
      maxBatch: tuning.maxBatch,
      maxPooledBytes: 2 ** 30,
      profile,
      textureMinFloats: tuning.textureMinFloats,
    });
    const binding = device.limits.maxStorageBufferBindingSize / 2 ** 20;
    this.description = `WebGPU on ${adapter.summary}; ${tuning.name} kernels, storage bindings up to ${binding} MiB`;
  }

  #buf(b: DeviceBuffer, op: string): GpuBuffer {
    if (!(b instanceof GpuBuffer) || b.runtime !== this.#rt) {
      throw new TypeError(`webgpu ${op}: got a buffer that belongs to another backend`);
    }
    return b;
  }

  // ---- memory ----
  zeros(size: number): DeviceBuffer {
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`webgpu zeros: size ${size} is not a natural number`);
    return this.#rt.zeros(size);
  }
  upload(data: Float32Array): DeviceBuffer {
    return this.#rt.upload(data);
  }
  download(buffer: DeviceBuffer): Promise<Float32Array> {
    try {
      return this.#rt.download(this.#buf(buffer, "download"));
    } catch (e) {
      return Promise.reject(e);
    }
  }
  free(buffer: DeviceBuffer): void {
    this.#rt.release(this.#buf(buffer, "free"));
  }

  // ---- elementwise ----
  unary(op: UnaryOp, x: DeviceBuffer, a: number, b: number): DeviceBuffer {
    return ew.unary(this.#rt, op, this.#buf(x, "unary"), a, b);
  }
  binary(
    op: BinaryOp,
    a: DeviceBuffer,
    aStrides: readonly number[],
    b: DeviceBuffer,
    bStrides: readonly number[],
    outShape: readonly number[],
  ): DeviceBuffer {
    return ew.binary(this.#rt, op, this.#buf(a, "binary"), aStrides, this.#buf(b, "binary"), bStrides, outShape);
  }
  strided(x: DeviceBuffer, outShape: readonly number[], strides: readonly number[], offset: number): DeviceBuffer {
    return ew.strided(this.#rt, this.#buf(x, "strided"), outShape, strides, offset);
  }
  sum(x: DeviceBuffer, outer: number, reduced: number, inner: number): DeviceBuffer {
    return sum(this.#rt, this.#buf(x, "sum"), outer, reduced, inner);
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
    return matmul(this.#rt, this.tuning, this.#buf(a, "matmul"), this.#buf(b, "matmul"), m, n, k, transA, transB);
  }
  conv2d(x: DeviceBuffer, w: DeviceBuffer, g: ConvGeometry): DeviceBuffer {
    return conv.conv2d(this.#rt, this.tuning, this.#buf(x, "conv2d"), this.#buf(w, "conv2d"), g);
  }
  conv2dBackwardInput(dy: DeviceBuffer, w: DeviceBuffer, g: ConvGeometry): DeviceBuffer {
    const op = "conv2dBackwardInput";
    return conv.conv2dBackwardInput(this.#rt, this.tuning, this.#buf(dy, op), this.#buf(w, op), g);
  }
  conv2dBackwardFilter(x: DeviceBuffer, dy: DeviceBuffer, g: ConvGeometry): DeviceBuffer {
    const op = "conv2dBackwardFilter";
    return conv.conv2dBackwardFilter(this.#rt, this.tuning, this.#buf(x, op), this.#buf(dy, op), g);
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
    const b = (v: DeviceBuffer) => this.#buf(v, op);
    return bn.batchNormTrain(this.#rt, b(x), b(gamma), b(beta), b(runningMean), b(runningVar), momentum, g);
  }
  batchNormInference(
    x: DeviceBuffer,
    gamma: DeviceBuffer,
    beta: DeviceBuffer,
    runningMean: DeviceBuffer,
    runningVar: DeviceBuffer,
    g: BatchNormGeometry,
  ): DeviceBuffer {
    const b = (v: DeviceBuffer) => this.#buf(v, "batchNormInference");
    return bn.batchNormInference(this.#rt, b(x), b(gamma), b(beta), b(runningMean), b(runningVar), g);
  }
  batchNormBackward(
    x: DeviceBuffer,
    dy: DeviceBuffer,
    gamma: DeviceBuffer,
    mean: DeviceBuffer,
    invstd: DeviceBuffer,
    g: BatchNormGeometry,
  ): BatchNormGrads {
    const b = (v: DeviceBuffer) => this.#buf(v, "batchNormBackward");
    return bn.batchNormBackward(this.#rt, b(x), b(dy), b(gamma), b(mean), b(invstd), g);
  }

  // ---- pooling ----
  avgPool2d(x: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    return pool.avgPool2d(this.#rt, this.#buf(x, "avgPool2d"), g);
  }
  avgPool2dBackward(dy: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    return pool.avgPool2dBackward(this.#rt, this.#buf(dy, "avgPool2dBackward"), g);
  }
  maxPool2d(x: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    return pool.maxPool2d(this.#rt, this.#buf(x, "maxPool2d"), g);
  }
  maxPool2dBackward(x: DeviceBuffer, dy: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    const op = "maxPool2dBackward";
    return pool.maxPool2dBackward(this.#rt, this.#buf(x, op), this.#buf(dy, op), g);
  }
  maxPool2dGather(x: DeviceBuffer, ddx: DeviceBuffer, g: PoolGeometry): DeviceBuffer {
    const op = "maxPool2dGather";
    return pool.maxPool2dGather(this.#rt, this.#buf(x, op), this.#buf(ddx, op), g);
  }

  // ---- softmax ----
  logSoftmax(x: DeviceBuffer, rows: number, cols: number): DeviceBuffer {
    return logSoftmax(this.#rt, this.#buf(x, "logSoftmax"), rows, cols);
  }

  // ---- optimisation ----
  sgdUpdate(param: DeviceBuffer, grad: DeviceBuffer, momentumBuffer: DeviceBuffer, o: SgdOptions): void {
    const op = "sgdUpdate";
    ew.sgdUpdate(this.#rt, this.#buf(param, op), this.#buf(grad, op), this.#buf(momentumBuffer, op), o);
  }

  // ---- beyond the contract ----
  /** Waits until the device has run everything queued so far (for benchmarks and tests). */
  finish(): Promise<void> {
    return this.#rt.finish();
  }
  /**
   * Device time per kernel since the last call, longest first. Empty unless the backend was created
   * with `profile: true` on an adapter with "timestamp-query".
   */
  takeProfile(): Promise<KernelTime[]> {
    return this.#rt.takeProfile();
  }
  /** Releases the device; every later call throws a clear error. */
  dispose(): void {
    this.#rt.destroy();
  }
}
