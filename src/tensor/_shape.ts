/**
 * Pure functions of shapes: formatting and checks for error messages, broadcasting, strides, axes. No tensors
 * and no ops, so every file of the tensor front end (and the layers above) may import them without a cycle.
 * The element count of a shape is {@linkcode elementCount} in the backend contract, shared with the backends.
 *
 * @module
 */
import { elementCount } from "../backends/backend.ts";

/**
 * Formats a shape for error messages.
 *
 * @example
 * ```ts
 * fmtShape([2, 3, 4]); // "[2, 3, 4]"
 * ```
 */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/**
 * Whether two shapes are equal.
 *
 * @example
 * ```ts
 * sameShape([2, 3], [2, 3]); // true
 * ```
 */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Throws a RangeError naming `what` when an axis of `shape` is not a non-negative integer.
 *
 * @example
 * ```ts
 * checkShape([2, -1], "zeros"); // RangeError: zeros: invalid shape [2, -1]
 * ```
 */
export function checkShape(shape: readonly number[], what: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`${what}: invalid shape ${fmtShape(shape)}`);
  }
}

/**
 * Throws a RangeError naming `op` when the batch axis (the first) of `what` is empty: N = 0 has no mean.
 *
 * @example
 * ```ts
 * checkBatch("kdLoss", "logits", [0, 10]); // RangeError: kdLoss: empty batch: logits [0, 10] have N = 0 samples
 * ```
 */
export function checkBatch(op: string, what: string, shape: readonly number[]): void {
  if (shape[0] === 0) throw new RangeError(`${op}: empty batch: ${what} ${fmtShape(shape)} have N = 0 samples`);
}

/**
 * The shape two shapes broadcast to, or a RangeError that names the op and both shapes.
 *
 * @example
 * ```ts
 * broadcastShapes("add", [4, 1, 3], [5, 1]); // [4, 5, 3]
 * ```
 */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new RangeError(
        `${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} do not broadcast (axis ${i - rank}: ${da} vs ${db})`,
      );
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/**
 * Element strides of a contiguous tensor of `shape` read as `outShape` (0 on broadcast axes).
 *
 * @example
 * ```ts
 * broadcastStrides([5, 1], [4, 5, 3]); // [0, 1, 0]
 * ```
 */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const strides = new Array(outShape.length).fill(0);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const j = outShape.length - shape.length + i;
    strides[j] = shape[i] === 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

/**
 * Row-major strides of a contiguous tensor.
 *
 * @example
 * ```ts
 * contiguousStrides([2, 3, 4]); // [12, 4, 1]
 * ```
 */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

/**
 * Sorted, deduplicated, non-negative axes; all axes when `axes` is undefined.
 *
 * @example
 * ```ts
 * normalizeAxes("sum", [2, 3, 4], [-1, 0]); // [0, 2]
 * ```
 */
export function normalizeAxes(op: string, shape: readonly number[], axes?: number | readonly number[]): number[] {
  const rank = shape.length;
  if (axes === undefined) return shape.map((_, i) => i);
  const list = typeof axes === "number" ? [axes] : [...axes];
  const out = new Set<number>();
  for (const a of list) {
    if (!Number.isInteger(a) || a < -rank || a >= rank) {
      throw new RangeError(`${op}: axis ${a} is out of range for shape ${fmtShape(shape)}`);
    }
    out.add(a < 0 ? a + rank : a);
  }
  return [...out].sort((p, q) => p - q);
}

/**
 * Resolves one `-1` in `shape` against the elements of `from`, or throws naming both shapes.
 *
 * @example
 * ```ts
 * resolveShape("reshape", [2, 3, 4], [-1, 4]); // [6, 4]
 * ```
 */
export function resolveShape(op: string, from: readonly number[], shape: readonly number[]): number[] {
  const size = elementCount(from);
  const known = shape.reduce((p, d) => (d === -1 ? p : p * d), 1);
  const holes = shape.filter((d) => d === -1).length;
  const out = shape.map((d) => (d === -1 ? size / known : d));
  if (holes > 1 || out.some((d) => !Number.isInteger(d) || d < 0) || elementCount(out) !== size) {
    throw new RangeError(`${op}: cannot view shape ${fmtShape(from)} (${size} elements) as ${fmtShape(shape)}`);
  }
  return out;
}
