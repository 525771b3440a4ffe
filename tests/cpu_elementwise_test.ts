// The cpu backend's elementwise, strided and reduction kernels against naive index arithmetic, with
// broadcasting, merged axes and any cut of the output between threads.
import fc from "fast-check";
import { binary, strided, sum, unary, unaryScalar } from "../src/backends/cpu/elementwise.ts";
import type { BinaryOp, UnaryOp } from "../src/backends/backend.ts";
import { assertBitwise } from "./_assert.ts";
import { RUNS, shapeOf, valuesOf } from "./_arbitrary.ts";

/** The flat index of element `i` of `shape` through `strides`. */
function at(i: number, shape: readonly number[], strides: readonly number[]): number {
  let index = 0;
  for (let d = shape.length - 1; d >= 0; d--) {
    index += (i % shape[d]) * strides[d];
    i = Math.floor(i / shape[d]);
  }
  return index;
}

/** `[lo, hi)` of part `part` of `parts` of `0 … total`. */
function span(total: number, part: number, parts: number): [number, number] {
  return [Math.floor(total * part / parts), Math.floor(total * (part + 1) / parts)];
}

function rowMajor(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  for (let d = shape.length - 1, s = 1; d >= 0; s *= shape[d--]) strides[d] = s;
  return strides;
}

const SCALAR: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
};

/** A shape, and for each operand row-major strides with some axes broadcast (stride 0). */
const broadcastArb = fc.integer({ min: 0, max: 5 }).chain((rank) =>
  fc.record({
    shape: shapeOf(rank, 5),
    aMask: fc.array(fc.boolean(), { minLength: rank, maxLength: rank }),
    bMask: fc.array(fc.boolean(), { minLength: rank, maxLength: rank }),
    op: fc.constantFrom<BinaryOp>("add", "sub", "mul", "div"),
    parts: fc.integer({ min: 1, max: 6 }),
  })
);

Deno.test("binary with broadcasting equals naive index arithmetic, in any number of parts", () => {
  fc.assert(
    fc.property(broadcastArb, ({ shape, aMask, bMask, op, parts }) => {
      const aShape = shape.map((d, i) => (aMask[i] ? 1 : d)), bShape = shape.map((d, i) => (bMask[i] ? 1 : d));
      const aStrides = rowMajor(aShape).map((s, i) => (aMask[i] ? 0 : s));
      const bStrides = rowMajor(bShape).map((s, i) => (bMask[i] ? 0 : s));
      const size = shape.reduce((p, d) => p * d, 1);
      const a = Float32Array.from({ length: aShape.reduce((p, d) => p * d, 1) }, (_, i) => i * 0.37 - 3);
      const b = Float32Array.from({ length: bShape.reduce((p, d) => p * d, 1) }, (_, i) => 1.5 - i * 0.11);
      const want = Float32Array.from(
        { length: size },
        (_, i) => SCALAR[op](a[at(i, shape, aStrides)], b[at(i, shape, bStrides)]),
      );
      const got = new Float32Array(size).fill(NaN);
      for (let p = 0; p < parts; p++) binary(op, a, aStrides, b, bStrides, shape, got, ...span(size, p, parts));
      assertBitwise(got, want, `${op} over [${shape}] strides [${aStrides}] [${bStrides}]`);
    }),
    { numRuns: RUNS * 5 },
  );
});

Deno.test("strided gathers (transposes, slices, expands) equal naive index arithmetic, in any number of parts", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 4 }).chain((rank) =>
        fc.record({ shape: shapeOf(rank, 5), perm: fc.shuffledSubarray([...Array(rank).keys()], { minLength: rank }) })
      ),
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 1, max: 5 }),
      ({ shape, perm }, offset, parts) => {
        const inStrides = rowMajor(shape);
        const outShape = perm.map((d) => shape[d]), strides = perm.map((d) => inStrides[d]);
        const size = shape.reduce((p, d) => p * d, 1);
        const x = Float32Array.from({ length: size + offset }, (_, i) => i);
        const want = Float32Array.from({ length: size }, (_, i) => x[offset + at(i, outShape, strides)]);
        const got = new Float32Array(size).fill(NaN);
        for (let p = 0; p < parts; p++) strided(x, outShape, strides, offset, got, ...span(size, p, parts));
        assertBitwise(got, want, `strided [${outShape}] strides [${strides}] offset ${offset}`);
      },
    ),
    { numRuns: RUNS * 5 },
  );
});

Deno.test("sum over the middle axis equals a naive double-precision sum, in any number of parts", () => {
  fc.assert(
    fc.property(
      shapeOf(3, 7).chain(([outer, reduced, inner]) =>
        fc.record({
          dims: fc.constant([outer, reduced, inner]),
          x: valuesOf(outer * reduced * inner),
          parts: fc.integer({ min: 1, max: 6 }),
        })
      ),
      ({ dims: [outer, reduced, inner], x, parts }) => {
        const want = new Float32Array(outer * inner);
        for (let o = 0; o < outer; o++) {
          for (let i = 0; i < inner; i++) {
            let acc = 0;
            for (let r = 0; r < reduced; r++) acc += x[(o * reduced + r) * inner + i];
            want[o * inner + i] = acc;
          }
        }
        const got = new Float32Array(outer * inner).fill(NaN);
        for (let p = 0; p < parts; p++) sum(x, outer, reduced, inner, got, ...span(outer * inner, p, parts));
        assertBitwise(got, want, `sum [${outer}, ${reduced}, ${inner}]`);
      },
    ),
    { numRuns: RUNS * 5 },
  );
});

Deno.test("unary kernels keep the meaning of unaryScalar, NaN and infinities included", () => {
  const x = new Float32Array([NaN, -Infinity, -2, -0, 0, 0.5, 3, Infinity]);
  for (const op of Object.keys(unaryScalar) as UnaryOp[]) {
    for (const [a, b] of [[0, 0], [0, 1], [-0, 0], [0.5, -1], [-1, 2]]) {
      const want = x.map((v) => unaryScalar[op](v, a, b));
      const got = new Float32Array(x.length);
      unary(op, x, a, b, got, 0, 3);
      unary(op, x, a, b, got, 3, x.length);
      assertBitwise(got, want, `${op}(x, ${a}, ${b})`);
    }
  }
});

Deno.test("max(x, 0) and gt(x, 0, 0 or 1) agree with unaryScalar on every kind of float32 bit pattern", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { minLength: 1, maxLength: 64 }),
      (ints) => {
        const special = [
          ...[0, -(2 ** 31), 1, -1, 0x7f800000, 0x7f800001, 0x7fffffff, 0xff800000 | 0, 0x3f800000],
          ...[0x7fc00000, 0xffc00000 | 0, 0xff800001 | 0], // NaNs of both signs
        ];
        const x = new Float32Array(Int32Array.from([...ints, ...special]).buffer);
        for (const [op, b] of [["max", 0], ["gt", 0], ["gt", 1]] as const) {
          const want = x.map((v) => unaryScalar[op](v, 0, b));
          const got = new Float32Array(x.length);
          unary(op, x, 0, b, got);
          assertBitwise(got, want, `${op}(x, 0, ${b})`);
        }
      },
    ),
    { numRuns: RUNS * 5 },
  );
});
