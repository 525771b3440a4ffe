/**
 * Batch normalisation through cuDNN (`CUDNN_BATCHNORM_SPATIAL`), with descriptors cached per geometry.
 *
 * cuDNN's semantics match PyTorch's (which calls these same functions): the output is normalised with the
 * biased batch variance, `resultSaveInvVariance` is `1 / sqrt(biased variance + eps)`, and the running
 * estimates are updated in place as `running = (1 - factor) · running + factor · batch statistic` with the
 * unbiased variance, so `exponentialAverageFactor` is the contract's `momentum`. The contract returns new
 * running buffers, so the inputs are copied first and cuDNN updates the copies.
 *
 * @module
 */
import type { BatchNormGeometry } from "../backend.ts";
import { CUDNN, type CudnnLib } from "./_ffi_cudnn.ts";
import type { Check } from "./_status.ts";

/** The cuDNN state batch norm uses. */
export interface BatchNormContext {
  readonly cudnn: CudnnLib;
  readonly handle: bigint;
  readonly check: Check;
}

interface Descriptors {
  /** `[n, c, hw, 1]` */
  readonly x: bigint;
  /** `[1, c, 1, 1]` */
  readonly param: bigint;
}

const ONE = new Float32Array([1]);
const ZERO = new Float32Array([0]);

/** Device addresses of the training-mode forward's operands and results. */
export interface BatchNormTrainPointers {
  readonly x: bigint;
  readonly gamma: bigint;
  readonly beta: bigint;
  readonly y: bigint;
  /** Updated in place (already holding a copy of the input running mean). */
  readonly runningMean: bigint;
  /** Updated in place (already holding a copy of the input running variance). */
  readonly runningVar: bigint;
  readonly saveMean: bigint;
  readonly saveInvstd: bigint;
}

/** Batch norm forward (training and inference) and backward. */
export class BatchNorms {
  readonly #ctx: BatchNormContext;
  readonly #descriptors = new Map<string, Descriptors>();
  readonly #slot = new BigUint64Array(1);

  constructor(ctx: BatchNormContext) {
    this.#ctx = ctx;
  }

  #describe(g: BatchNormGeometry): Descriptors {
    const key = `${g.n},${g.c},${g.hw}`;
    const cached = this.#descriptors.get(key);
    if (cached) return cached;
    const { cudnn, check } = this.#ctx;
    const s = cudnn.symbols;
    const tensor = (n: number, c: number, h: number): bigint => {
      check(s.cudnnCreateTensorDescriptor(this.#slot), "cudnnCreateTensorDescriptor");
      const d = this.#slot[0];
      check(
        s.cudnnSetTensor4dDescriptor(d, CUDNN.TENSOR_NCHW, CUDNN.DATA_FLOAT, n, c, h, 1),
        "cudnnSetTensor4dDescriptor",
      );
      return d;
    };
    const d = { x: tensor(g.n, g.c, g.hw), param: tensor(1, g.c, 1) };
    this.#descriptors.set(key, d);
    return d;
  }

  /** Training-mode forward: `y`, the saved batch mean and inverse std, and the running statistics in place. */
  train(p: BatchNormTrainPointers, momentum: number, g: BatchNormGeometry): void {
    const { cudnn, handle, check } = this.#ctx;
    const d = this.#describe(g);
    check(
      cudnn.symbols.cudnnBatchNormalizationForwardTraining(
        handle,
        CUDNN.BATCHNORM_SPATIAL,
        ONE,
        ZERO,
        d.x,
        p.x,
        d.x,
        p.y,
        d.param,
        p.gamma,
        p.beta,
        momentum,
        p.runningMean,
        p.runningVar,
        g.eps,
        p.saveMean,
        p.saveInvstd,
      ),
      "cudnnBatchNormalizationForwardTraining",
    );
  }

  /** Inference-mode forward with the running statistics. */
  inference(
    x: bigint,
    gamma: bigint,
    beta: bigint,
    runningMean: bigint,
    runningVar: bigint,
    y: bigint,
    g: BatchNormGeometry,
  ): void {
    const { cudnn, handle, check } = this.#ctx;
    const d = this.#describe(g);
    check(
      cudnn.symbols.cudnnBatchNormalizationForwardInference(
        handle,
        CUDNN.BATCHNORM_SPATIAL,
        ONE,
        ZERO,
        d.x,
        x,
        d.x,
        y,
        d.param,
        gamma,
        beta,
        runningMean,
        runningVar,
        g.eps,
      ),
      "cudnnBatchNormalizationForwardInference",
    );
  }

  /** Gradients from the saved mean and inverse std of the training-mode forward. */
  backward(
    x: bigint,
    dy: bigint,
    gamma: bigint,
    mean: bigint,
    invstd: bigint,
    out: { dx: bigint; dgamma: bigint; dbeta: bigint },
    g: BatchNormGeometry,
  ): void {
    const { cudnn, handle, check } = this.#ctx;
    const d = this.#describe(g);
    check(
      cudnn.symbols.cudnnBatchNormalizationBackward(
        handle,
        CUDNN.BATCHNORM_SPATIAL,
        ONE,
        ZERO,
        ONE,
        ZERO,
        d.x,
        x,
        d.x,
        dy,
        d.x,
        out.dx,
        d.param,
        gamma,
        out.dgamma,
        out.dbeta,
        g.eps,
        mean,
        invstd,
      ),
      "cudnnBatchNormalizationBackward",
    );
  }

  /** Destroys every descriptor. */
  dispose(): void {
    for (const d of this.#descriptors.values()) {
      this.#ctx.cudnn.symbols.cudnnDestroyTensorDescriptor(d.x);
      this.#ctx.cudnn.symbols.cudnnDestroyTensorDescriptor(d.param);
    }
    this.#descriptors.clear();
  }
}
