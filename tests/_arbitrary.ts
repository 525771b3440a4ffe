/**
 * fast-check generators shared by the property tests: small shapes and tensors with values in a range.
 *
 * @module
 */
import fc from "fast-check";

/** A shape with `rank` axes, each in [1, maxDim]. */
export function shapeOf(rank: number, maxDim = 4): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: rank, maxLength: rank });
}

/** `size` values in [min, max] (no NaN), as a Float32Array. */
export function valuesOf(size: number, min = -2, max = 2): fc.Arbitrary<Float32Array> {
  return fc.array(fc.double({ min, max, noNaN: true }), { minLength: size, maxLength: size }).map((a) =>
    Float32Array.from(a)
  );
}

/** A shape of the given rank with values for it. */
export function tensorData(
  rank: number,
  maxDim = 4,
  min = -2,
  max = 2,
): fc.Arbitrary<{ shape: number[]; data: Float32Array }> {
  return shapeOf(rank, maxDim).chain((shape) =>
    valuesOf(shape.reduce((p, d) => p * d, 1), min, max).map((data) => ({ shape, data }))
  );
}

/** Property-test runs: fast by default, more with AT_PROPERTY_RUNS. */
export const RUNS = Number(Deno.env.get("AT_PROPERTY_RUNS") ?? 40);
