/**
 * How a kernel's work is shared between threads. A kernel cuts its work into units whose results do not
 * depend on which thread computes them or in which order; threads then take units one at a time from a
 * shared counter until none is left (so a thread slowed down by another process simply takes fewer).
 * Outputs are therefore bit-identical whatever the number of threads and however the units fell.
 *
 * @module
 */

/** Hands out the next unit of work: 0, 1, 2, … across all threads; a number ≥ the unit count means done. */
export type Claim = () => number;

/** Every unit in order, on one thread. */
export function sequential(): Claim {
  let next = 0;
  return () => next++;
}

/** Exactly the given units, then done: how a test plays one thread's share of a cut. */
export function only(units: readonly number[]): Claim {
  let i = 0;
  return () => (i < units.length ? units[i++] : Number.MAX_SAFE_INTEGER);
}

/** Calls `body(lo, hi)` for each claimed unit of `total` items cut into units of `unit` items. */
export function forEachRange(total: number, unit: number, claim: Claim, body: (lo: number, hi: number) => void): void {
  const units = Math.ceil(total / unit);
  for (let u = claim(); u < units; u = claim()) body(u * unit, Math.min(total, (u + 1) * unit));
}
