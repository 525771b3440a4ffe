/**
 * Batch normalisation over `[n, c, hw]` on typed arrays, PyTorch semantics: biased variance to
 * normalise, unbiased variance in the running estimate, statistics accumulated in double precision.
 * Each kernel computes the channels `[lo, hi)` (all by default); channels are independent, so cutting them
 * between threads changes nothing.
 *
 * @module
 */
import type { BatchNormGeometry } from "../backend.ts";

/** Outputs of {@linkcode batchNormTrain}. */
export interface BatchNormTrainArrays {
  y: Float32Array;
  mean: Float32Array;
  invstd: Float32Array;
  runningMean: Float32Array;
  runningVar: Float32Array;
}

/** Training-mode forward: batch statistics, normalised output, updated running statistics. */
export function batchNormTrain(
  x: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
  runningMean: Float32Array,
  runningVar: Float32Array,
  momentum: number,
  g: BatchNormGeometry,
  out: BatchNormTrainArrays,
  lo = 0,
  hi: number = g.c,
): void {
  const { n, c, hw, eps } = g;
  const count = n * hw;
  for (let ch = lo; ch < hi; ch++) {
    let s = 0;
    for (let b = 0; b < n; b++) {
      const base = (b * c + ch) * hw;
      for (let i = 0; i < hw; i++) s += x[base + i];
    }
    const mean = s / count;
    let ss = 0;
    for (let b = 0; b < n; b++) {
      const base = (b * c + ch) * hw;
      for (let i = 0; i < hw; i++) {
        const d = x[base + i] - mean;
        ss += d * d;
      }
    }
    const variance = ss / count;
    const invstd = 1 / Math.sqrt(variance + eps);
    const scale = gamma[ch] * invstd;
    const shift = beta[ch] - mean * scale;
    apply(x, out.y, ch, scale, shift, g);
    out.mean[ch] = mean;
    out.invstd[ch] = invstd;
    const unbiased = count > 1 ? ss / (count - 1) : variance;
    out.runningMean[ch] = (1 - momentum) * runningMean[ch] + momentum * mean;
    out.runningVar[ch] = (1 - momentum) * runningVar[ch] + momentum * unbiased;
  }
}

/** Evaluation-mode forward: `gamma * (x - runningMean) / sqrt(runningVar + eps) + beta`. */
export function batchNormInference(
  x: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
  runningMean: Float32Array,
  runningVar: Float32Array,
  g: BatchNormGeometry,
  y: Float32Array,
  lo = 0,
  hi: number = g.c,
): void {
  const { eps } = g;
  for (let ch = lo; ch < hi; ch++) {
    const scale = gamma[ch] / Math.sqrt(runningVar[ch] + eps);
    const shift = beta[ch] - runningMean[ch] * scale;
    apply(x, y, ch, scale, shift, g);
  }
}

/** `y = x · scale + shift` over channel `ch`, then `max(·, 0)` with `g.relu` (a NaN stays NaN). */
function apply(x: Float32Array, y: Float32Array, ch: number, scale: number, shift: number, g: BatchNormGeometry): void {
  const { n, c, hw } = g;
  for (let b = 0; b < n; b++) {
    const base = (b * c + ch) * hw;
    if (g.relu) {
      for (let i = 0; i < hw; i++) {
        const v = Math.fround(x[base + i] * scale + shift);
        // NaN fails the test and passes through, as unary("max") lets it.
        y[base + i] = v <= 0 ? 0 : v;
      }
    } else {
      for (let i = 0; i < hw; i++) y[base + i] = x[base + i] * scale + shift;
    }
  }
}

/**
 * `dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat))`, `dgamma = sum(dy * xhat)`,
 * `dbeta = sum(dy)`, with means and sums per channel over `n` and `hw`.
 */
export function batchNormBackward(
  x: Float32Array,
  dy: Float32Array,
  gamma: Float32Array,
  mean: Float32Array,
  invstd: Float32Array,
  g: BatchNormGeometry,
  out: { dx: Float32Array; dgamma: Float32Array; dbeta: Float32Array },
  lo = 0,
  hi: number = g.c,
): void {
  const { n, c, hw } = g;
  const count = n * hw;
  for (let ch = lo; ch < hi; ch++) {
    const m = mean[ch], is = invstd[ch];
    let sumDy = 0, sumDyXhat = 0;
    for (let b = 0; b < n; b++) {
      const base = (b * c + ch) * hw;
      for (let i = 0; i < hw; i++) {
        const d = dy[base + i];
        sumDy += d;
        sumDyXhat += d * (x[base + i] - m) * is;
      }
    }
    out.dbeta[ch] = sumDy;
    out.dgamma[ch] = sumDyXhat;
    const k = gamma[ch] * is;
    const meanDy = sumDy / count, meanDyXhat = sumDyXhat / count;
    for (let b = 0; b < n; b++) {
      const base = (b * c + ch) * hw;
      for (let i = 0; i < hw; i++) {
        const xhat = (x[base + i] - m) * is;
        out.dx[base + i] = k * (dy[base + i] - meanDy - xhat * meanDyXhat);
      }
    }
  }
}
