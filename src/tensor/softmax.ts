/**
 * Log-softmax, softmax and cross-entropy over the last axis of 2-D logits.
 *
 * @module
 */
import { checkBatch, fmtShape } from "./_shape.ts";
import { exp, mul, sub } from "./elementwise.ts";
import { backendOf, output, type Tensor, tensor, wrap } from "./tensor.ts";

/**
 * `x - logsumexp(x)` along the last axis of `[rows, cols]`.
 *
 * @example
 * ```ts
 * const logp = logSoftmax(logits); // rows sum to 1 after exp
 * ```
 */
export function logSoftmax(x: Tensor): Tensor {
  const be = backendOf("logSoftmax", x);
  if (x.rank !== 2) throw new RangeError(`logSoftmax: expects [rows, cols], got ${fmtShape(x.shape)}`);
  const [rows, cols] = x.shape;
  const out: Tensor = output(be, be.logSoftmax(x.buffer, rows, cols), x.shape, "logSoftmax", [x], (g) => [
    sub(g, mul(exp(out), g.sum(1, true))),
  ]);
  return out;
}

/** `exp(logSoftmax(x))` along the last axis of `[rows, cols]`. */
export function softmax(x: Tensor): Tensor {
  return exp(logSoftmax(x));
}

/** A `[labels.length, classes]` tensor with 1 at each label (on `like`'s backend), or an error naming the bad label. */
export function oneHot(labels: ArrayLike<number>, classes: number, like?: Tensor): Tensor {
  const data = new Float32Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!Number.isInteger(l) || l < 0 || l >= classes) {
      throw new RangeError(`oneHot: label ${l} at position ${i} is not a class index in [0, ${classes})`);
    }
    data[i * classes + l] = 1;
  }
  if (!like) return tensor(data, [labels.length, classes]);
  return wrap(like.backend, like.backend.upload(data), [labels.length, classes]);
}

/**
 * Mean cross-entropy of `logits [n, classes]` against integer `labels [n]`, as PyTorch's `F.cross_entropy`.
 *
 * @example
 * ```ts
 * const loss = crossEntropy(logits, Int32Array.from([3, 1]));
 * ```
 */
export function crossEntropy(logits: Tensor, labels: ArrayLike<number>): Tensor {
  if (logits.rank !== 2 || logits.shape[0] !== labels.length) {
    throw new RangeError(`crossEntropy: logits ${fmtShape(logits.shape)} do not match ${labels.length} labels`);
  }
  checkBatch("crossEntropy", "logits", logits.shape);
  return mul(logSoftmax(logits), oneHot(labels, logits.shape[1], logits)).sum().mul(-1 / labels.length);
}
