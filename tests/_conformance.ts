/**
 * The backend conformance suite: every kernel of the contract, on a backend under test, agrees with the cpu
 * backend (the reference meaning) on fast-check geometries and values, forward and gradients, special values
 * included. One function of the backend, {@linkcode conformance}; every non-cpu backend runs it
 * (`onednn_conformance_test.ts`, `webgpu_ops_test.ts`, `cudnn_agreement_test.ts`), with its own
 * configurations, extra geometries and the tolerances its arithmetic earns.
 *
 * Beside single kernels, "chains" feed kernels' outputs to other kernels without a round trip through the
 * host, as a network does: a backend that keeps buffers in its own layouts (oneDNN's blocked ones, webgpu's
 * texture copies) must give the same values whatever layout the previous kernel left behind.
 *
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type {
  Backend,
  BatchNormGeometry,
  BinaryOp,
  ConvGeometry,
  DeviceBuffer,
  PoolGeometry,
  UnaryOp,
} from "../src/backends/backend.ts";
import { CpuBackend } from "../src/backends/cpu/mod.ts";

/** The reference backend. */
export const cpu: Backend = new CpuBackend();

/** `size` deterministic pseudo-random floats in [min, max) from `seed` (fast for large sizes). */
export function seeded(size: number, seed: number, min = -1, max = 1): Float32Array {
  let s = (seed ^ 0x9e3779b9) >>> 0;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = min + (((t ^ (t >>> 14)) >>> 0) / 4294967296) * (max - min);
  }
  return out;
}

/**
 * Tolerances of {@linkcode assertAgree}: `|got − want| ≤ rtol·|want| + atol·scale` per element, where `scale` is
 * `offset + max|want|` unless given: results that come from cancelling larger terms are compared at those terms'
 * size.
 */
export interface Tolerance {
  readonly rtol: number;
  readonly atol: number;
  /** The size `atol` is relative to (default: `offset` + the largest finite `|want|`). */
  readonly scale?: number;
  /** Added to the largest `|want|` when `scale` is not given (1 makes `atol` absolute near zero). */
  readonly offset?: number;
}

/** Single float32 operations. */
export const OP: Tolerance = { rtol: 1e-4, atol: 1e-5 };
/** Results a backend must reproduce bit for bit (copies, comparisons, max, exact sums). */
export const EXACT: Tolerance = { rtol: 0, atol: 0 };

/** Asserts two arrays agree within `tol`; NaN must meet NaN and infinities their equal. */
export function assertAgree(what: string, actual: Float32Array, expected: Float32Array, tol: Tolerance = OP): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} values, expected ${expected.length}`);
  let scale = tol.scale ?? 0;
  if (tol.scale === undefined) {
    for (const v of expected) {
      if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
    }
    scale += tol.offset ?? 0;
  }
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      if (!Object.is(a, e) && !(Number.isNaN(a) && Number.isNaN(e))) {
        throw new assert.AssertionError({ message: `${what}: element ${i} is ${a}, expected ${e}` });
      }
      continue;
    }
    const excess = Math.abs(a - e) - (tol.rtol * Math.abs(e) + tol.atol * scale);
    if (excess > 0 && excess > worstExcess) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    throw new assert.AssertionError({
      message: `${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} ` +
        `(|diff| ${Math.abs(actual[worst] - expected[worst]).toExponential(3)} over rtol ${tol.rtol}, ` +
        `atol ${tol.atol} × scale ${scale.toExponential(3)})`,
    });
  }
}

/** The groups of tests of the suite. */
export type TestGroup =
  | "memory"
  | "unary"
  | "binary"
  | "strided"
  | "sum"
  | "matmul"
  | "conv"
  | "batchNorm"
  | "pooling"
  | "logSoftmax"
  | "sgd"
  | "chain";

/** One configuration of the backend under test. */
export interface Subject {
  /** Its name in messages, e.g. `"webgpu (hardware kernels, texture reads)"`. */
  readonly label: string;
  readonly backend: Backend;
  /** The test groups it runs (default: all). */
  readonly only?: readonly TestGroup[];
}

/** The kernels (and groups of them) whose tolerance a backend may set. */
export type ToleranceKey =
  | "unary"
  | "unarySpecial"
  | "affine"
  | "exp"
  | "pow"
  | "binary"
  | "strided"
  | "sum"
  | "matmul"
  | "conv"
  | "bnTrain"
  | "bnInference"
  | "bnBackward"
  | "avgPool"
  | "maxPool"
  | "logSoftmax"
  | "sgd"
  | "chain";

/** The default tolerances: what float32 arithmetic in another order earns. */
export const DEFAULT_TOLERANCES: Readonly<Record<ToleranceKey, Tolerance>> = {
  unary: { rtol: 1e-5, atol: 0 },
  unarySpecial: { rtol: 2e-5, atol: 0 },
  affine: { rtol: 1e-5, atol: 1e-6 },
  exp: { rtol: 2e-5, atol: 0 },
  pow: { rtol: 2e-5, atol: 0 },
  binary: EXACT,
  strided: EXACT,
  // Errors of float32 sums grow with the reduced length (the atol is scaled by its square root below).
  sum: { rtol: 1e-4, atol: 1e-6 },
  matmul: OP,
  conv: OP,
  bnTrain: OP,
  bnInference: OP,
  // Judged at the size of the terms each gradient cancels (see the batch-norm test).
  bnBackward: { rtol: 1e-4, atol: 2e-5 },
  avgPool: OP,
  maxPool: EXACT,
  logSoftmax: { rtol: 1e-5, atol: 1e-6 },
  sgd: { rtol: 1e-5, atol: 1e-6 },
  chain: { rtol: 1e-4, atol: 1e-4 },
};

/** What {@linkcode conformance} needs to know about the backend under test. */
export interface ConformanceOptions {
  /** The backend's name in test names. */
  readonly name: string;
  /** Its configurations; every test runs on each. Empty (or `ignore`) when the backend is not here. */
  readonly subjects: readonly Subject[];
  /** Set when the backend cannot start here: every test is ignored. */
  readonly ignore: boolean;
  /** Property-test runs per kernel (default 25). */
  readonly runs?: number;
  /** Tolerances that differ from {@linkcode DEFAULT_TOLERANCES} (tighter, where the arithmetic is the cpu's). */
  readonly tolerances?: Partial<Record<ToleranceKey, Tolerance>>;
  /**
   * Whether batch norm is tested on channels of a single value (`n = hw = 1`) as often as on others (mean exact,
   * variance zero, output `beta`). Off, they come as rarely as any other size.
   */
  readonly singleValueChannels?: boolean;
  /** Whether errors about foreign buffers name the kernel (the onednn backend's do). */
  readonly namesKernelInErrors?: boolean;
  /** Convolution geometries the backend has special kernels for, with their weights among the random ones. */
  readonly convGeometries?: readonly { readonly arbitrary: fc.Arbitrary<ConvGeometry>; readonly weight: number }[];
}

type Outputs = DeviceBuffer | Record<string, DeviceBuffer>;

function isBuffer(o: Outputs): o is DeviceBuffer {
  return "size" in o && typeof o.size === "number";
}

/** Runs `op` on `backend` with `inputs` uploaded; returns the outputs read back. Frees what it made. */
export async function runOn(
  backend: Backend,
  inputs: readonly Float32Array[],
  op: (b: Backend, inputs: DeviceBuffer[]) => Outputs,
): Promise<Record<string, Float32Array>> {
  const bufs = inputs.map((x) => backend.upload(x));
  const out = op(backend, bufs);
  const record = isBuffer(out) ? { out } : out;
  const host: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(record)) host[k] = await backend.download(v);
  for (const b of new Set([...bufs, ...Object.values(record)])) backend.free(b);
  return host;
}

const size = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

/** A 1×1 convolution of one 4-channel pixel to one channel. */
const ONE_BY_ONE: ConvGeometry = { n: 1, c: 4, h: 1, w: 1, k: 1, r: 1, s: 1, stride: 1, pad: 0, oh: 1, ow: 1 };

function contiguous(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** A convolution geometry with at least one output pixel. */
export const convGeometry: fc.Arbitrary<ConvGeometry> = fc.record({
  n: fc.integer({ min: 1, max: 3 }),
  c: fc.integer({ min: 1, max: 7 }),
  h: fc.integer({ min: 1, max: 10 }),
  w: fc.integer({ min: 1, max: 10 }),
  k: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 17, max: 40 })),
  r: fc.integer({ min: 1, max: 3 }),
  s: fc.integer({ min: 1, max: 3 }),
  stride: fc.integer({ min: 1, max: 3 }),
  pad: fc.integer({ min: 0, max: 2 }),
}).map((g) => ({
  ...g,
  oh: Math.floor((g.h + 2 * g.pad - g.r) / g.stride) + 1,
  ow: Math.floor((g.w + 2 * g.pad - g.s) / g.stride) + 1,
})).filter((g) => g.oh >= 1 && g.ow >= 1);

/** The WRN-16 shapes at a small batch: the stem, 3×3 stride 1 and 2, and the 1×1 stride-2 "convdim". */
export const wrnGeometry: fc.Arbitrary<ConvGeometry> = fc.constantFrom(
  [3, 16, 32, 3, 1, 1],
  [16, 32, 32, 3, 1, 1],
  [16, 16, 32, 3, 1, 1],
  [32, 64, 16, 3, 2, 1],
  [32, 64, 16, 1, 2, 0],
  [64, 64, 8, 3, 1, 1],
  [64, 128, 16, 3, 2, 1],
).map(([c, k, h, r, stride, pad]) => {
  const oh = Math.floor((h + 2 * pad - r) / stride) + 1;
  return { n: 2, c, h, w: h, k, r, s: r, stride, pad, oh, ow: oh };
});

const poolGeometry: fc.Arbitrary<PoolGeometry> = fc.record({
  n: fc.integer({ min: 1, max: 3 }),
  c: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constant(16)),
  h: fc.integer({ min: 1, max: 9 }),
  w: fc.integer({ min: 1, max: 9 }),
  kernel: fc.integer({ min: 1, max: 4 }),
  stride: fc.integer({ min: 1, max: 3 }),
}).chain((g) => fc.integer({ min: 0, max: Math.floor(g.kernel / 2) }).map((pad) => ({ ...g, pad }))).map((g) => ({
  ...g,
  oh: Math.floor((g.h + 2 * g.pad - g.kernel) / g.stride) + 1,
  ow: Math.floor((g.w + 2 * g.pad - g.kernel) / g.stride) + 1,
})).filter((g) => g.oh >= 1 && g.ow >= 1);

/** The unary ops, and inputs in each op's domain (positive for log, sqrt and rsqrt). */
const UNARY_RANGES: Readonly<Record<UnaryOp, [number, number]>> = {
  affine: [-10, 10],
  exp: [-20, 20],
  log: [1e-3, 1e3],
  sqrt: [0, 1e4],
  rsqrt: [1e-3, 1e4],
  abs: [-10, 10],
  sign: [-3, 3],
  pow: [-4, 4],
  max: [-3, 3],
  gt: [-3, 3],
};
const UNARY_OPS = Object.keys(UNARY_RANGES) as UnaryOp[];

/** An operand of a broadcasting op: its own shape (1 on broadcast axes), optionally stored transposed. */
function operand(outShape: number[]): fc.Arbitrary<{ strides: number[]; size: number }> {
  const rank = outShape.length;
  return fc.tuple(fc.array(fc.boolean(), { minLength: rank, maxLength: rank }), fc.boolean()).map(
    ([bcast, transposed]) => {
      const shape = outShape.map((d, i) => (bcast[i] ? 1 : d));
      const order = [...Array(rank).keys()];
      if (transposed) order.reverse();
      const strides = new Array(rank).fill(0);
      let stride = 1;
      for (let j = rank - 1; j >= 0; j--) {
        const axis = order[j];
        strides[axis] = shape[axis] === 1 ? 0 : stride;
        stride *= shape[axis];
      }
      return { strides, size: size(shape) };
    },
  );
}

/**
 * Registers the conformance tests of one backend. Each test runs every subject against the cpu backend and
 * names the subject, the kernel and the geometry in its failure.
 */
export function conformance(options: ConformanceOptions): void {
  const { name, subjects, ignore } = options;
  const runs = { numRuns: options.runs ?? 25 };
  const tol = { ...DEFAULT_TOLERANCES, ...options.tolerances };
  const seed = fc.integer({ min: 0, max: 2 ** 31 - 1 });
  const test = (title: string, fn: () => Promise<void>) =>
    Deno.test({ name: `${name} conformance: ${title}`, ignore, fn });

  const runsGroup = (s: Subject, group: TestGroup) => s.only === undefined || s.only.includes(group);

  /** `op` on cpu and on every subject that runs `group`, outputs compared with `t`. */
  async function agree(
    group: TestGroup,
    what: string,
    inputs: readonly Float32Array[],
    op: (b: Backend, inputs: DeviceBuffer[]) => Outputs,
    t: Tolerance,
  ): Promise<void> {
    const want = await runOn(cpu, inputs, op);
    for (const subject of subjects) {
      if (!runsGroup(subject, group)) continue;
      const got = await runOn(subject.backend, inputs, op);
      for (const k of Object.keys(want)) assertAgree(`${subject.label} ${what} ${k}`, got[k], want[k], t);
    }
  }

  test("zeros, upload and download round-trip, including empty buffers and reused memory", async () => {
    for (const { label, backend: b } of subjects.filter((s) => runsGroup(s, "memory"))) {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: 5000 }), seed, async (n, s) => {
          const z = b.zeros(n);
          assertAgree(`${label} zeros`, await b.download(z), new Float32Array(n), EXACT);
          const data = seeded(n, s, -100, 100);
          const u = b.upload(data);
          assertAgree(`${label} upload`, await b.download(u), data, EXACT);
          b.free(z);
          b.free(u);
          // Memory handed out again by zeros() is cleared.
          const z2 = b.zeros(n);
          assertAgree(`${label} zeros after reuse`, await b.download(z2), new Float32Array(n), EXACT);
          b.free(z2);
        }),
        runs,
      );
      // Concurrent downloads each get their own data, and a download holds the values at the call.
      const bufs = [1, 2, 3].map((k) => b.upload(new Float32Array(5000).fill(k)));
      const all = Promise.all(bufs.map((x) => b.download(x)));
      for (const x of bufs) b.free(x);
      (await all).forEach((d, i) =>
        assertAgree(`${label} concurrent ${i}`, d, new Float32Array(5000).fill(i + 1), EXACT)
      );
    }
  });

  test("buffers of another backend, and freed ones, are refused", () => {
    for (const { label, backend: b } of subjects.filter((s) => runsGroup(s, "memory"))) {
      const foreign = cpu.upload(new Float32Array(4));
      const x0 = b.upload(new Float32Array(4));
      assert.throws(() => b.unary("abs", foreign, 0, 0), TypeError, `${label} took a cpu buffer`);
      if (options.namesKernelInErrors) {
        assert.throws(() => b.conv2dBackwardFilter(x0, foreign, ONE_BY_ONE), /conv2dBackwardFilter/);
        assert.throws(
          () => b.batchNormInference(foreign, x0, x0, x0, x0, { n: 1, c: 4, hw: 1, eps: 1e-5 }),
          /batchNormInference/,
        );
        assert.throws(() => b.binary("add", x0, [1], foreign, [1], [4]), /binary/);
      }
      b.free(x0);
      const x = b.upload(new Float32Array(4));
      b.free(x);
      assert.throws(() => b.unary("abs", x, 0, 0), Error, `${label} took a freed buffer`);
      cpu.free(foreign);
    }
    return Promise.resolve();
  });

  test("unary ops agree on random values in each op's domain", async () => {
    const exponent = fc.oneof(fc.integer({ min: -3, max: 4 }), fc.double({ min: -2.5, max: 2.5, noNaN: true }));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...UNARY_OPS),
        fc.integer({ min: 0, max: 3000 }),
        seed,
        exponent,
        fc.double({ min: -5, max: 5, noNaN: true }),
        async (op, n, s, a, b) => {
          const [lo, hi] = UNARY_RANGES[op];
          const x = seeded(n, s, lo, hi);
          // Some exact small integers, zeros and ties for sign, max, gt and pow.
          for (let i = 0; i < n; i += 7) x[i] = Math.round(x[i]);
          // Scalars travel as float32 (and tiny ones would be flushed to zero by many GPUs).
          const scalarA = op === "max" || op === "gt" ? Math.round(b) : Math.abs(a) < 1e-30 ? 0 : Math.fround(a);
          const scalarB = op === "gt" ? (s & 1) : Math.fround(b);
          const t = op === "affine" ? tol.affine : op === "exp" ? tol.exp : op === "pow" ? tol.pow : tol.unary;
          await agree(
            "unary",
            `unary ${op}(a ${scalarA}, b ${scalarB})`,
            [x],
            (be, [xb]) => be.unary(op, xb, scalarA, scalarB),
            t,
          );
        },
      ),
      runs,
    );
  });

  test("unary ops keep the cpu meaning on special values (NaN, ±0, ±Infinity, negative bases)", async () => {
    // 13 values, and 16 (some backends take four at a time)
    const specials = new Float32Array([NaN, 0, -0, Infinity, -Infinity, -2, -1, -0.5, 0.5, 1, 2, 3, -3, 0.25, -4, 7]);
    for (const op of UNARY_OPS) {
      for (const a of op === "pow" ? [0, 1, 2, 3, -1, -2, 0.5, -0.5, 1.5, NaN] : [0, 1.5, -1]) {
        for (const b of op === "gt" ? [0, 1] : [0.25]) {
          for (const values of [specials.subarray(0, 13), specials]) {
            await agree(
              "unary",
              `unary ${op}(a ${a}, b ${b}) on specials`,
              [values],
              (be, [x]) => be.unary(op, x, a, b),
              tol.unarySpecial,
            );
          }
        }
      }
    }
  });

  test("binary ops with broadcasting, dropped leading axes and transposed operands agree", async () => {
    const arb = fc.integer({ min: 0, max: 5 }).chain((rank) =>
      fc.tuple(
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: rank, maxLength: rank }),
        fc.constantFrom(0, 4, 8, 16),
      )
        // a last axis of 4 or more takes the vectorised kernels of some backends
        .map(([shape, last]) => (last && rank ? [...shape.slice(0, -1), last] : shape)).chain((shape) =>
          fc.record({
            shape: fc.constant(shape),
            a: operand(shape),
            b: operand(shape),
            op: fc.constantFrom<BinaryOp>("add", "sub", "mul", "div"),
            seed,
          })
        )
    );
    await fc.assert(
      fc.asyncProperty(arb, async ({ shape, a, b, op, seed }) => {
        const av = seeded(a.size, seed, -2, 2), bv = seeded(b.size, seed + 1, 0.5, 2);
        await agree(
          "binary",
          `binary ${op} [${shape}] strides [${a.strides}] [${b.strides}]`,
          [av, bv],
          (be, [x, y]) => be.binary(op, x, a.strides, y, b.strides, shape),
          tol.binary,
        );
      }),
      runs,
    );
  });

  test("strided gather (transpose, slice, expand) agrees", async () => {
    const arb = fc.integer({ min: 0, max: 5 }).chain((rank) =>
      fc.record({
        shape: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: rank, maxLength: rank }),
        // a source at least as large as any window, walked with random strides (0 expands)
        strides: fc.array(fc.integer({ min: 0, max: 40 }), { minLength: rank, maxLength: rank }),
        offset: fc.integer({ min: 0, max: 30 }),
        seed,
      })
    );
    await fc.assert(
      fc.asyncProperty(arb, async ({ shape, strides, offset, seed }) => {
        const span = offset + shape.reduce((acc, d, i) => acc + (d - 1) * strides[i], 0) + 1;
        await agree(
          "strided",
          `strided [${shape}] strides [${strides}] offset ${offset}`,
          [seeded(span, seed)],
          (be, [xb]) => be.strided(xb, shape, strides, offset),
          tol.strided,
        );
      }),
      runs,
    );
  });

  test("sum over the middle axis agrees, from empty axes to long reductions", async () => {
    const arb = fc.oneof(
      fc.tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 70 })),
      fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1000, max: 70000 }), fc.integer({ min: 1, max: 2 })),
      fc.tuple(fc.constant(1), fc.integer({ min: 100, max: 300 }), fc.integer({ min: 1, max: 600 })),
    );
    await fc.assert(
      fc.asyncProperty(arb, seed, async ([outer, reduced, inner], s) => {
        // The default grows with the reduced length; a backend's own tolerance is taken as it is.
        const t = options.tolerances?.sum ?? { ...tol.sum, atol: tol.sum.atol * Math.sqrt(reduced + 1) };
        await agree(
          "sum",
          `sum [${outer}, ${reduced}, ${inner}]`,
          [seeded(outer * reduced * inner, s)],
          (be, [xb]) => be.sum(xb, outer, reduced, inner),
          t,
        );
      }),
      runs,
    );
  });

  test("matmul with every transpose agrees, including long k and empty products", async () => {
    const dim = fc.integer({ min: 0, max: 70 });
    const arb = fc.oneof(
      fc.tuple(dim, dim, dim),
      fc.tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 500, max: 1500 })),
    );
    await fc.assert(
      fc.asyncProperty(arb, fc.boolean(), fc.boolean(), seed, async ([m, n, k], ta, tb, s) => {
        await agree(
          "matmul",
          `matmul ${m}x${k}·${k}x${n} transA ${ta} transB ${tb}`,
          [seeded(m * k, s), seeded(k * n, s + 1)],
          (be, [x, y]) => be.matmul(x, y, m, n, k, ta, tb),
          tol.matmul,
        );
      }),
      runs,
    );
  });

  test("conv2d forward and both gradients agree on random, WRN and special-kernel geometries", async () => {
    const geometries = fc.oneof(
      { arbitrary: convGeometry, weight: 3 },
      { arbitrary: wrnGeometry, weight: 1 },
      ...(options.convGeometries ?? []),
    );
    await fc.assert(
      fc.asyncProperty(geometries, seed, async (g, s) => {
        const x = seeded(g.n * g.c * g.h * g.w, s), w = seeded(g.k * g.c * g.r * g.s, s + 1);
        const dy = seeded(g.n * g.k * g.oh * g.ow, s + 2);
        const what = JSON.stringify(g);
        await agree("conv", `conv2d ${what}`, [x, w], (b, [xb, wb]) => b.conv2d(xb, wb, g), tol.conv);
        await agree(
          "conv",
          `conv2dBackwardInput ${what}`,
          [dy, w],
          (b, [d, wb]) => b.conv2dBackwardInput(d, wb, g),
          tol.conv,
        );
        await agree(
          "conv",
          `conv2dBackwardFilter ${what}`,
          [x, dy],
          (b, [xb, d]) => b.conv2dBackwardFilter(xb, d, g),
          tol.conv,
        );
      }),
      runs,
    );
  });

  test("batch norm (training forward with running statistics, inference, backward) agrees", async () => {
    const single = options.singleValueChannels ? [fc.constant(1)] : [];
    const arb = fc.record({
      n: fc.oneof(...single, fc.integer({ min: 1, max: 5 })),
      c: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.constant(16)),
      // (one value per channel,) any plane size, and whole units of 16 floats
      hw: fc.oneof(
        ...single,
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 200, max: 1100 }),
        fc.integer({ min: 1, max: 64 }).map((u) => 16 * u),
      ),
      eps: fc.constantFrom(1e-5, 1e-3),
      momentum: fc.double({ min: 0, max: 1, noNaN: true }),
      shift: fc.double({ min: -3, max: 3, noNaN: true }),
      relu: fc.boolean(),
      seed,
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ n, c, hw, eps, momentum, shift, relu, seed }) => {
        const g: BatchNormGeometry = { n, c, hw, eps, relu };
        const x = seeded(n * c * hw, seed, shift - 1, shift + 1);
        const gamma = seeded(c, seed + 1, 0.5, 1.5), beta = seeded(c, seed + 2);
        const rm = seeded(c, seed + 3), rv = seeded(c, seed + 4, 0.5, 2);
        const dy = seeded(n * c * hw, seed + 5);
        const what = `[${n}, ${c}, ${hw}] eps ${eps} momentum ${momentum.toFixed(3)}${relu ? " relu" : ""}`;
        await agree("batchNorm", `batchNormTrain ${what}`, [x, gamma, beta, rm, rv], (b, [xb, gb, bb, m, v]) => {
          const r = b.batchNormTrain(xb, gb, bb, m, v, momentum, g);
          // the running statistics given are not changed
          return { ...r, runningMeanIn: m, runningVarIn: v };
        }, tol.bnTrain);
        await agree(
          "batchNorm",
          `batchNormInference ${what}`,
          [x, gamma, beta, rm, rv],
          (b, [xb, gb, bb, m, v]) => b.batchNormInference(xb, gb, bb, m, v, g),
          tol.bnInference,
        );
        // Saved statistics as the cpu training forward produces them.
        const saved = await runOn(cpu, [x, gamma, beta, rm, rv], (b, [xb, gb, bb, m, v]) => {
          const r = b.batchNormTrain(xb, gb, bb, m, v, momentum, g);
          for (const o of [r.y, r.runningMean, r.runningVar]) b.free(o);
          return { mean: r.mean, invstd: r.invstd };
        });
        // dx = γ·invstd·(dy − mean(dy) − x̂·mean(dy·x̂)), dγ = Σ dy·x̂, dβ = Σ dy: each cancels terms of the size
        // of |γ·invstd·dy|, |dy·x̂| and |dy|, so float32 rounding is judged at that size, not at the result's.
        const terms = { dx: 0, dgamma: 0, dbeta: 0 };
        for (let ch = 0; ch < c; ch++) {
          let sumXhat = 0, sumDy = 0;
          for (let b = 0; b < n; b++) {
            for (let i = 0; i < hw; i++) {
              const k = (b * c + ch) * hw + i;
              terms.dx = Math.max(terms.dx, Math.abs(gamma[ch] * saved.invstd[ch] * dy[k]));
              sumXhat += Math.abs(dy[k] * (x[k] - saved.mean[ch]) * saved.invstd[ch]);
              sumDy += Math.abs(dy[k]);
            }
          }
          terms.dgamma = Math.max(terms.dgamma, sumXhat);
          terms.dbeta = Math.max(terms.dbeta, sumDy);
        }
        for (const key of ["dx", "dgamma", "dbeta"] as const) {
          await agree(
            "batchNorm",
            `batchNormBackward ${what}`,
            [x, dy, gamma, saved.mean, saved.invstd],
            (b, [xb, d, gb, m, is]) => {
              const r = b.batchNormBackward(xb, d, gb, m, is, g);
              for (const other of ["dx", "dgamma", "dbeta"] as const) if (other !== key) b.free(r[other]);
              return { [key]: r[key] };
            },
            // The default is judged at the terms' size; a backend's own tolerance is taken as it is.
            options.tolerances?.bnBackward ?? { ...tol.bnBackward, scale: terms[key] },
          );
        }
      }),
      runs,
    );
  });

  test("average and max pooling, their gradients and maxPool2dGather agree (ties, NaN)", async () => {
    await fc.assert(
      fc.asyncProperty(poolGeometry, seed, fc.boolean(), fc.boolean(), async (g, s, ties, nan) => {
        const inSize = g.n * g.c * g.h * g.w, outSize = g.n * g.c * g.oh * g.ow;
        const x = seeded(inSize, s, -2, 2);
        if (ties) { for (let i = 0; i < inSize; i++) x[i] = Math.round(x[i]); // many equal maxima: first one wins
         }
        if (nan) x[s % inSize] = NaN; // NaN wins its windows
        const dy = seeded(outSize, s + 1), ddx = seeded(inSize, s + 2);
        const what = JSON.stringify(g);
        await agree("pooling", `avgPool2d ${what}`, [x], (b, [xb]) => b.avgPool2d(xb, g), tol.avgPool);
        await agree("pooling", `avgPool2dBackward ${what}`, [dy], (b, [d]) => b.avgPool2dBackward(d, g), tol.avgPool);
        await agree("pooling", `maxPool2d ${what}`, [x], (b, [xb]) => b.maxPool2d(xb, g), tol.maxPool);
        await agree(
          "pooling",
          `maxPool2dBackward ${what}`,
          [x, dy],
          (b, [xb, d]) => b.maxPool2dBackward(xb, d, g),
          tol.maxPool,
        );
        await agree(
          "pooling",
          `maxPool2dGather ${what}`,
          [x, ddx],
          (b, [xb, d]) => b.maxPool2dGather(xb, d, g),
          tol.maxPool,
        );
      }),
      runs,
    );
  });

  test("log-softmax agrees on random rows, wide and empty ones, and rows holding NaN or infinities", async () => {
    const arb = fc.tuple(
      fc.integer({ min: 0, max: 40 }),
      fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 100, max: 1500 })),
    );
    const special = fc.constantFrom(undefined, NaN, Infinity, -Infinity);
    await fc.assert(
      fc.asyncProperty(
        arb,
        seed,
        fc.double({ min: 0.1, max: 30, noNaN: true }),
        special,
        async ([rows, cols], s, spread, v) => {
          const x = seeded(rows * cols, s, -spread, spread);
          if (v !== undefined && x.length > 0) x[s % x.length] = v;
          await agree(
            "logSoftmax",
            `logSoftmax [${rows}, ${cols}] special ${v}`,
            [x],
            (b, [xb]) => b.logSoftmax(xb, rows, cols),
            tol.logSoftmax,
          );
        },
      ),
      runs,
    );
  });

  test("the SGD update in place agrees, step after step", async () => {
    const arb = fc.record({
      n: fc.integer({ min: 0, max: 5000 }),
      lr: fc.double({ min: 0, max: 1, noNaN: true }),
      momentum: fc.double({ min: 0, max: 0.99, noNaN: true }),
      weightDecay: fc.double({ min: 0, max: 0.01, noNaN: true }),
      seed,
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ n, lr, momentum, weightDecay, seed }) => {
        const o = { lr, momentum, weightDecay };
        await agree(
          "sgd",
          `sgdUpdate n ${n} ${JSON.stringify(o)}`,
          [seeded(n, seed), seeded(n, seed + 1), seeded(n, seed + 2)],
          (b, [p, grad, mom]) => {
            b.sgdUpdate(p, grad, mom, o);
            b.sgdUpdate(p, grad, mom, o); // a second step reads the momentum the first wrote
            return { param: p, momentum: mom };
          },
          tol.sgd,
        );
      }),
      runs,
    );
  });

  test("chains of kernels (a residual block forward and backward, as a network runs them) agree", async () => {
    const arb = fc.record({
      n: fc.integer({ min: 1, max: 3 }),
      c: fc.constantFrom(3, 5, 16, 32),
      k: fc.constantFrom(8, 16, 32),
      h: fc.constantFrom(4, 6, 8),
      stride: fc.constantFrom(1, 2),
      train: fc.boolean(),
      seed,
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ n, c, k, h, stride, train, seed }) => {
        const oh = Math.floor((h + 2 - 3) / stride) + 1;
        const g1: ConvGeometry = { n, c, h, w: h, k, r: 3, s: 3, stride, pad: 1, oh, ow: oh };
        const g2: ConvGeometry = { n, c: k, h: oh, w: oh, k, r: 3, s: 3, stride: 1, pad: 1, oh, ow: oh };
        const gd: ConvGeometry = { n, c, h, w: h, k, r: 1, s: 1, stride, pad: 0, oh, ow: oh };
        const bn0: BatchNormGeometry = { n, c, hw: h * h, eps: 1e-5, relu: true };
        const bn1: BatchNormGeometry = { n, c: k, hw: oh * oh, eps: 1e-5, relu: true };
        const pool: PoolGeometry = { n, c: k, h: oh, w: oh, kernel: oh, stride: 1, pad: 0, oh: 1, ow: 1 };
        const inputs = [
          seeded(n * c * h * h, seed, -2, 2), // x
          seeded(k * c * 9, seed + 1, -0.3, 0.3), // w1
          seeded(k * k * 9, seed + 2, -0.2, 0.2), // w2
          seeded(k * c, seed + 3, -0.5, 0.5), // wd
          seeded(c, seed + 4, 0.5, 1.5), // gamma0
          seeded(c, seed + 5, -0.2, 0.2), // beta0
          seeded(k, seed + 6, 0.5, 1.5), // gamma1
          seeded(k, seed + 7, -0.2, 0.2), // beta1
          seeded(c, seed + 8, -0.1, 0.1), // running mean 0
          seeded(c, seed + 9, 0.5, 2), // running var 0
          seeded(k, seed + 10, -0.1, 0.1), // running mean 1
          seeded(k, seed + 11, 0.5, 2), // running var 1
          seeded(n * k, seed + 12, -1, 1), // gradient of the pooled output
        ];
        await agree("chain", `residual block ${JSON.stringify({ n, c, k, h, stride, train })}`, inputs, (b, bufs) => {
          const [x, w1, w2, wd, g0, b0, gm1, bt1, rm0, rv0, rm1, rv1, dp] = bufs;
          const made: DeviceBuffer[] = [];
          const keep = <T extends DeviceBuffer>(d: T): T => {
            made.push(d);
            return d;
          };
          const bn = (
            v: DeviceBuffer,
            gm: DeviceBuffer,
            bt: DeviceBuffer,
            m: DeviceBuffer,
            vr: DeviceBuffer,
            geo: BatchNormGeometry,
          ) => {
            if (!train) return { y: keep(b.batchNormInference(v, gm, bt, m, vr, geo)), mean: m, invstd: vr };
            const r = b.batchNormTrain(v, gm, bt, m, vr, 0.1, geo);
            for (const o of [r.y, r.mean, r.invstd, r.runningMean, r.runningVar]) keep(o);
            return r;
          };
          // forward: o1 = relu(bn0(x)); y = conv(o1, w1); o2 = relu(bn1(y)); z = conv(o2, w2) + convdim(o1)
          const a0 = bn(x, g0, b0, rm0, rv0, bn0);
          const y = keep(b.conv2d(a0.y, w1, g1));
          const a1 = bn(y, gm1, bt1, rm1, rv1, bn1);
          const z2 = keep(b.conv2d(a1.y, w2, g2));
          const zd = keep(b.conv2d(a0.y, wd, gd));
          const shape = [n, k, oh, oh], dense = contiguous(shape);
          const z = keep(b.binary("add", z2, dense, zd, dense, shape));
          // attention-map-like reductions, and the pooled head
          const sq = keep(b.binary("mul", z, dense, z, dense, shape));
          const att = keep(b.sum(sq, n, k, oh * oh));
          const pooled = keep(b.avgPool2d(z, pool));
          const scaled = keep(b.unary("affine", z, 0.5, 0.25));
          // backward from the pooled output and the attention map
          const dz0 = keep(b.avgPool2dBackward(dp, pool));
          const attStrides = [oh * oh, 0, oh, 1];
          const datt = keep(b.binary("mul", att, attStrides, z, dense, shape));
          const dz = keep(b.binary("add", dz0, dense, datt, dense, shape));
          const dw2 = keep(b.conv2dBackwardFilter(a1.y, dz, g2));
          const do2 = keep(b.conv2dBackwardInput(dz, w2, g2));
          const mask1 = keep(b.unary("gt", a1.y, 0, 1));
          const dy1 = keep(b.binary("mul", do2, dense, mask1, dense, shape));
          const out: Record<string, DeviceBuffer> = { y, z, att, pooled, scaled, dz, dw2, do2, dy1 };
          if (train) {
            const r = b.batchNormBackward(y, dy1, gm1, a1.mean, a1.invstd, bn1);
            for (const o of [r.dx, r.dgamma, r.dbeta]) keep(o);
            const dw1 = keep(b.conv2dBackwardFilter(a0.y, r.dx, g1));
            const do1 = keep(b.conv2dBackwardInput(r.dx, w1, g1));
            const dwd = keep(b.conv2dBackwardFilter(a0.y, dz, gd));
            Object.assign(out, { dx1: r.dx, dgamma1: r.dgamma, dbeta1: r.dbeta, dw1, do1, dwd });
          }
          // free what is not compared, in an order unlike the allocation order
          const compared = new Set(Object.values(out));
          for (const d of made.reverse()) if (!compared.has(d)) b.free(d);
          return out;
        }, tol.chain);
      }),
      { numRuns: Math.max(5, Math.ceil(runs.numRuns / 2)) },
    );
  });
}
