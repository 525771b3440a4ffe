/**
 * Scoped memory management: `tidy(fn)` frees every tensor `fn` created except those it returns, the way
 * a training step gives its intermediates back to the device at the end of each step.
 *
 * @module
 */
import { closeScope, type Disposable, openScope } from "./_state.ts";
import { Tensor } from "./tensor.ts";

/** Every tensor inside `value`: itself, or in its arrays and plain objects, however deep. */
export function tensorsIn(value: unknown, out: Set<Disposable> = new Set()): Set<Disposable> {
  if (value instanceof Tensor) out.add(value);
  else if (Array.isArray(value)) { for (const v of value) tensorsIn(v, out); }
  else if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) tensorsIn(v, out);
  }
  return out;
}

/**
 * Runs `fn` and disposes every tensor it created, except the tensors in its result (which stay alive,
 * owned by the enclosing scope). `fn` must be synchronous.
 *
 * @example
 * ```ts
 * const loss = tidy(() => crossEntropy(net(x), labels)); // intermediates freed, loss kept
 * ```
 */
export function tidy<T>(fn: () => T): T {
  const scope = openScope();
  let result: T | undefined;
  try {
    result = fn();
    if (result instanceof Promise) {
      throw new TypeError("tidy: fn returned a Promise; tidy needs a synchronous function");
    }
    return result;
  } finally {
    closeScope(scope, tensorsIn(result));
  }
}
