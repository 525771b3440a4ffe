// The cpu backend's GEMM against a naive triple loop. Both accumulate each dot product in double precision
// over p = 0 … k−1 in order and round once, so they agree exactly, for every transpose combination, edge
// sizes (not multiples of the 4×4 tile, k = 0, m or n = 1), offsets, accumulation, and any cut of the
// columns between threads.
import fc from "fast-check";
import { gemm } from "../src/backends/cpu/gemm.ts";
import { only } from "../src/backends/cpu/_partition.ts";
import { CpuBackend } from "../src/backends/cpu/mod.ts";
import { assert, lcgFloats } from "./_assert.ts";
import { RUNS } from "./_arbitrary.ts";

/** `C (+)= op(A) · op(B)` the obvious way, summed in double in order, rounded once. */
function naiveGemm(
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  a: Float32Array,
  aOffset: number,
  b: Float32Array,
  bOffset: number,
  c: Float32Array,
  cOffset: number,
  accumulate: boolean,
): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) {
        const av = transA ? a[aOffset + p * m + i] : a[aOffset + i * k + p];
        const bv = transB ? b[bOffset + j * k + p] : b[bOffset + p * n + j];
        acc += av * bv;
      }
      const o = cOffset + i * n + j;
      c[o] = accumulate ? c[o] + acc : acc;
    }
  }
}

function firstDifference(actual: Float32Array, expected: Float32Array): number {
  if (actual.length !== expected.length) return -2;
  for (let i = 0; i < actual.length; i++) if (actual[i] !== expected[i]) return i;
  return -1;
}

interface Case {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  accumulate: boolean;
  aOffset: number;
  bOffset: number;
  cOffset: number;
  seed: number;
}

function check(t: Case, parts = 1): void {
  const { m, n, k, transA, transB, accumulate, aOffset, bOffset, cOffset, seed } = t;
  const a = lcgFloats(aOffset + m * k + 3, seed), b = lcgFloats(bOffset + k * n + 3, seed + 1);
  const c0 = lcgFloats(cOffset + m * n + 3, seed + 2);
  const want = c0.slice(), got = c0.slice();
  naiveGemm(m, n, k, transA, transB, a, aOffset, b, bOffset, want, cOffset, accumulate);
  // Thread `part` of `parts` takes units part, part + parts, … (a shared counter hands them out some such way).
  for (let part = 0; part < parts; part++) {
    const units = Array.from({ length: 80 }, (_, i) => part + i * parts);
    gemm(m, n, k, transA, transB, { a, aOffset, b, bOffset, c: got, cOffset }, accumulate, only(units));
  }
  const at = firstDifference(got, want);
  assert.equal(
    at,
    -1,
    `gemm ${JSON.stringify(t)} in ${parts} parts: first difference at ${at}: ${got[at]} vs ${want[at]}`,
  );
}

const caseArb = (max: number): fc.Arbitrary<Case> =>
  fc.record({
    m: fc.integer({ min: 1, max }),
    n: fc.integer({ min: 1, max }),
    k: fc.integer({ min: 0, max }),
    transA: fc.boolean(),
    transB: fc.boolean(),
    accumulate: fc.boolean(),
    aOffset: fc.integer({ min: 0, max: 5 }),
    bOffset: fc.integer({ min: 0, max: 5 }),
    cOffset: fc.integer({ min: 0, max: 5 }),
    seed: fc.integer({ min: 0, max: 1 << 30 }),
  });

Deno.test("gemm equals the naive triple loop exactly for random sizes, transposes, offsets, accumulation", () => {
  fc.assert(fc.property(caseArb(13), (t) => check(t)), { numRuns: RUNS * 5 });
});

Deno.test("gemm: edge sizes (k = 0, m or n = 1, not multiples of 4) in every transpose combination", () => {
  const sizes = [[1, 1, 1], [1, 7, 5], [7, 1, 5], [5, 5, 0], [1, 1, 0], [4, 4, 4], [5, 9, 3], [37, 41, 53], [
    64,
    3,
    130,
  ]];
  for (const [m, n, k] of sizes) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const accumulate of [false, true]) {
          check({
            m,
            n,
            k,
            transA,
            transB,
            accumulate,
            aOffset: 1,
            bOffset: 2,
            cOffset: 3,
            seed: m * 1000 + n * 10 + k,
          });
        }
      }
    }
  }
});

Deno.test("gemm shared between any number of threads computes the same C", () => {
  fc.assert(
    fc.property(caseArb(300), fc.integer({ min: 1, max: 9 }), (t, parts) => check(t, parts)),
    { numRuns: RUNS * 2 },
  );
});

Deno.test("matmul on the backend equals the naive triple loop, on one thread and split across three", async () => {
  const one = new CpuBackend({ threads: 1 }), three = new CpuBackend({ threads: 3, grain: 1 });
  for (const [m, n, k] of [[1, 1, 1], [3, 17, 0], [33, 29, 31], [128, 10, 64]]) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const a = lcgFloats(m * k, m + n), b = lcgFloats(k * n, k + 7);
        const want = new Float32Array(m * n);
        naiveGemm(m, n, k, transA, transB, a, 0, b, 0, want, 0, false);
        for (const be of [one, three]) {
          const c = be.matmul(be.upload(a), be.upload(b), m, n, k, transA, transB);
          const got = await be.download(c);
          const at = firstDifference(got, want);
          assert.equal(
            at,
            -1,
            `matmul [${m},${k}]x[${k},${n}] ${transA} ${transB} on ${be.threads} threads: index ${at}`,
          );
        }
      }
    }
  }
});
