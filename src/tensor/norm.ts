/**
 * Batch normalisation, PyTorch semantics (`F.batch_norm`): per-channel statistics over the batch and
 * spatial axes, biased variance to normalise, unbiased variance in the running estimate.
 *
 * First-order gradients use the backend's fused kernel. When the backward pass is itself recorded
 * (double backward, for gradient-based attention transfer) the gradient is taken through the same
 * normalisation written in elementwise ops and reductions instead, which differentiates again.
 *
 * @module
 */
import type { BatchNormGeometry } from "../backends/backend.ts";
import { BOOLEAN, numberRule, type OptionRule, optionsChecker, required } from "../_options.ts";
import { checkBatch, fmtShape } from "./_shape.ts";
import { isRecording } from "./_state.ts";
import { gradients } from "./autograd.ts";
import { affine, mul, relu as reluOf, reluMask, rsqrt, sub } from "./elementwise.ts";
import { sum } from "./reduce.ts";
import { backendOf, output, Tensor, wrap } from "./tensor.ts";

/** The four per-channel tensors of a batch norm layer, named as PyTorch names them. */
export interface BatchNormParams {
  /** scale `[c]` (gamma) */
  readonly weight: Tensor;
  /** shift `[c]` (beta) */
  readonly bias: Tensor;
  /** running mean `[c]` */
  readonly runningMean: Tensor;
  /** running (unbiased) variance `[c]` */
  readonly runningVar: Tensor;
}

/** Options of {@linkcode batchNorm}. */
export interface BatchNormOptions {
  /** Normalise with batch statistics and update the running ones (true), or use the running ones (false). */
  readonly training: boolean;
  /** Weight of the new batch statistics in the running estimates; default 0.1. */
  readonly momentum?: number;
  /** Added to the variance; default 1e-5. */
  readonly eps?: number;
  /**
   * Return `relu(batchNorm(x))` in one pass (default false): the pre-activation blocks of a wide ResNet
   * apply a ReLU to every batch norm's output, and backends fuse the two (one write of the activations
   * instead of two, one read fewer).
   */
  readonly relu?: boolean;
}

/** The output and the running statistics after the call (the inputs themselves in evaluation mode). */
export interface BatchNormResult {
  /** The normalised output (after the ReLU with `relu`), shaped as the input. */
  readonly y: Tensor;
  /** Running mean after the call. */
  readonly runningMean: Tensor;
  /** Running variance after the call. */
  readonly runningVar: Tensor;
}

const checkBatchNormOptions = optionsChecker<BatchNormOptions>("batchNorm", {
  training: required(BOOLEAN),
  momentum: numberRule({ min: 0, max: 1 }),
  eps: numberRule({ above: 0 }),
  relu: BOOLEAN,
});
const TENSOR: OptionRule = required({ expected: "a Tensor [c]", test: (v) => v instanceof Tensor });
const checkBatchNormParams = optionsChecker<BatchNormParams>("batchNorm params", {
  weight: TENSOR,
  bias: TENSOR,
  runningMean: TENSOR,
  runningVar: TENSOR,
});

function geometry(x: Tensor, p: BatchNormParams, eps: number, relu: boolean, training: boolean): BatchNormGeometry {
  if (x.rank < 2) throw new RangeError(`batchNorm: expects [n, c, ...], got ${fmtShape(x.shape)}`);
  if (training) checkBatch("batchNorm (training)", "input", x.shape);
  const [n, c] = x.shape;
  for (const [name, t] of Object.entries(p)) {
    if (t.rank !== 1 || t.shape[0] !== c) {
      throw new RangeError(
        `batchNorm: ${name} has shape ${fmtShape(t.shape)} but the input ${fmtShape(x.shape)} has ${c} channels`,
      );
    }
  }
  return { n, c, hw: x.size / (n * c) || 1, eps, relu };
}

/** `[c]` -> `[1, c, 1]`, to broadcast against `[n, c, hw]`. */
function perChannel(t: Tensor): Tensor {
  return t.reshape([1, t.shape[0], 1]);
}

/** Training-mode batch norm in differentiable ops; `x` viewed as `[n, c, hw]`. */
function composite(x: Tensor, gamma: Tensor, beta: Tensor, g: BatchNormGeometry): Tensor {
  const xv = x.reshape([g.n, g.c, g.hw]);
  const centred = sub(xv, xv.mean([0, 2], true));
  const invstd = rsqrt(affine(centred.square().mean([0, 2], true), 1, g.eps));
  return centred.mul(invstd).mul(perChannel(gamma)).add(perChannel(beta)).reshape(x.shape);
}

/**
 * Batch normalisation of `x [n, c, ...]` with per-channel parameters `[c]`.
 *
 * @example
 * ```ts
 * const { y, runningMean, runningVar } = batchNorm(x, { weight, bias, runningMean: rm, runningVar: rv }, { training: true });
 * ```
 */
export function batchNorm(x: Tensor, p: BatchNormParams, options: BatchNormOptions): BatchNormResult {
  checkBatchNormOptions(options);
  checkBatchNormParams(p);
  const { training, momentum = 0.1, eps = 1e-5, relu = false } = options;
  const be = backendOf("batchNorm", x, p.weight, p.bias, p.runningMean, p.runningVar);
  const g = geometry(x, p, eps, relu, training);
  const { weight: gamma, bias: beta, runningMean: rm, runningVar: rv } = p;
  // The gradient with respect to the normalised values: through the ReLU's mask first, read off the output.
  const masked = (dy: Tensor, y: Tensor) => {
    if (!relu) return dy;
    const mask = reluMask(y);
    const d = mul(dy, mask);
    if (!isRecording()) mask.dispose();
    return d;
  };
  if (!training) {
    const y: Tensor = output(
      be,
      be.batchNormInference(x.buffer, gamma.buffer, beta.buffer, rm.buffer, rv.buffer, g),
      x.shape,
      "batchNorm",
      [x, gamma, beta],
      (dy, needs) => {
        const d = masked(dy, y).reshape([g.n, g.c, g.hw]);
        const invstd = rsqrt(affine(rv, 1, eps));
        return [
          needs[0] ? mul(d, perChannel(mul(gamma, invstd))).reshape(x.shape) : undefined,
          needs[1]
            ? sum(mul(d, mul(sub(x.reshape([g.n, g.c, g.hw]), perChannel(rm)), perChannel(invstd))), [0, 2])
            : undefined,
          needs[2] ? sum(d, [0, 2]) : undefined,
        ];
      },
    );
    return { y, runningMean: rm, runningVar: rv };
  }
  const r = be.batchNormTrain(x.buffer, gamma.buffer, beta.buffer, rm.buffer, rv.buffer, momentum, g);
  const mean = wrap(be, r.mean, [g.c]);
  const invstd = wrap(be, r.invstd, [g.c]);
  const y: Tensor = output(be, r.y, x.shape, "batchNorm", [x, gamma, beta], (dy, needs) => {
    if (isRecording()) {
      const normalised = composite(x, gamma, beta, g);
      return gradients(relu ? reluOf(normalised) : normalised, [x, gamma, beta], {
        seed: dy,
        createGraph: true,
        needs,
      });
    }
    const dn = masked(dy, y);
    const d = be.batchNormBackward(x.buffer, dn.buffer, gamma.buffer, mean.buffer, invstd.buffer, g);
    if (dn !== dy) dn.dispose();
    return [
      wrap(be, d.dx, x.shape),
      wrap(be, d.dgamma, [g.c]),
      wrap(be, d.dbeta, [g.c]),
    ];
  });
  return {
    y,
    runningMean: wrap(be, r.runningMean, [g.c]),
    runningVar: wrap(be, r.runningVar, [g.c]),
  };
}
