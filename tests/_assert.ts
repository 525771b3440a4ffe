/**
 * Small assertions the tests share, on top of `node:assert/strict`.
 *
 * @module
 */
import assert from "node:assert/strict";

/** Asserts that two float arrays are the same bit for bit (`Object.is` per element: NaN = NaN, 0 ≠ −0). */
export function assertBitwise(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length}, expected ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) assert.fail(`${what}: index ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

/** `size` floats in [−1, 1) from a linear congruential generator seeded with `seed` (fast, deterministic). */
export function lcgFloats(size: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: size }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** Asserts `|actual − expected| ≤ tolerance`. */
export function assertClose(actual: number, expected: number, tolerance: number, what = "value"): void {
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: ${actual} differs from ${expected} by more than ${tolerance}`,
  );
}

/** Asserts that `fn` throws an error whose message contains every one of `parts`; returns the message. */
export function assertThrowsWith(fn: () => unknown, ...parts: string[]): string {
  try {
    fn();
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    for (const p of parts) {
      assert.ok(message.includes(p), `error message ${JSON.stringify(message)} lacks ${JSON.stringify(p)}`);
    }
    return message;
  }
  throw new assert.AssertionError({ message: `expected an error mentioning ${parts.join(", ")}` });
}

/** Like {@linkcode assertThrowsWith} for a promise. */
export async function assertRejectsWith(fn: () => Promise<unknown>, ...parts: string[]): Promise<string> {
  try {
    await fn();
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    for (const p of parts) {
      assert.ok(message.includes(p), `error message ${JSON.stringify(message)} lacks ${JSON.stringify(p)}`);
    }
    return message;
  }
  throw new assert.AssertionError({ message: `expected a rejection mentioning ${parts.join(", ")}` });
}

export { assert };

/** Asserts two byte arrays are identical, naming the first differing offset (fast on large arrays). */
export function assertBytesEqual(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} bytes, expected ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) {
      throw new assert.AssertionError({ message: `${what}: first difference at byte ${i}` });
    }
  }
}
