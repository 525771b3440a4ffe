// Every kernel of the backend contract on webgpu agrees with the cpu backend (the reference meaning) on
// random shapes and values. Skips itself, saying why, where there is no WebGPU adapter.
import fc from "fast-check";
import type { BinaryOp, ConvGeometry, PoolGeometry, UnaryOp } from "../src/backends/backend.ts";
import { unaryScalar } from "../src/backends/cpu/elementwise.ts";
import { directConvApplies } from "../src/backends/webgpu/_conv_direct.ts";
import {
  stride2ConvApplies,
  stride2FilterGradApplies,
  stride2InputGradApplies,
} from "../src/backends/webgpu/_conv_stride2.ts";
import { pointwiseConvApplies, pointwiseInputGradApplies } from "../src/backends/webgpu/_conv_pointwise.ts";
import { agree, assertAgree, cpu, EXACT, gpuOther, noAdapter, OP, RUNS, seeded, webgpu } from "./_webgpu.ts";

const runs = { numRuns: RUNS };
const test = (name: string, fn: () => Promise<void>) => Deno.test({ name: `webgpu ${name}`, ignore: noAdapter, fn });
const seed = fc.integer({ min: 0, max: 2 ** 31 - 1 });
const size = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

test("zeros, upload and download round-trip, including empty buffers", async () => {
  const g = webgpu();
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 5000 }), seed, async (n, s) => {
      const z = g.zeros(n);
      assertAgree("zeros", await g.download(z), new Float32Array(n), EXACT);
      const data = seeded(n, s, -100, 100);
      const u = g.upload(data);
      assertAgree("upload", await g.download(u), data, EXACT);
      g.free(z);
      g.free(u);
      // A pooled buffer handed out again by zeros() is cleared.
      const z2 = g.zeros(n);
      assertAgree("zeros after reuse", await g.download(z2), new Float32Array(n), EXACT);
      g.free(z2);
    }),
    runs,
  );
});

const UNARY_OPS = Object.keys(unaryScalar) as UnaryOp[];
/** Inputs in each op's domain: positive for log, sqrt and rsqrt. */
const unaryRange: Record<UnaryOp, [number, number]> = {
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

test("unary ops agree on random values", async () => {
  const op = fc.constantFrom(...UNARY_OPS);
  const exponent = fc.oneof(fc.integer({ min: -3, max: 4 }), fc.double({ min: -2.5, max: 2.5, noNaN: true }));
  await fc.assert(
    fc.asyncProperty(
      op,
      fc.integer({ min: 0, max: 3000 }),
      seed,
      exponent,
      fc.double({ min: -5, max: 5, noNaN: true }),
      async (op, n, s, a, b) => {
        const [lo, hi] = unaryRange[op];
        const x = seeded(n, s, lo, hi);
        // Some exact small integers, zeros and ties for sign, max, gt and pow.
        for (let i = 0; i < n; i += 7) x[i] = Math.round(x[i]);
        // Scalars travel as float32 (and tiny ones would be flushed to zero by many GPUs).
        const scalarA = op === "max" || op === "gt" ? Math.round(b) : Math.abs(a) < 1e-30 ? 0 : Math.fround(a);
        await agree(`unary ${op}(a ${scalarA}, b ${b})`, [x], (be, [xb]) => be.unary(op, xb, scalarA, Math.fround(b)), {
          rtol: op === "pow" || op === "exp" ? 2e-5 : 1e-5,
          atol: op === "affine" ? 1e-6 : 0,
        });
      },
    ),
    runs,
  );
});

test("unary ops keep the cpu meaning on special values (NaN, ±0, ±Infinity, negative bases)", async () => {
  // 13 values take the one-at-a-time kernels, 16 the four-at-a-time ones
  const specials = new Float32Array([NaN, 0, -0, Infinity, -Infinity, -2, -1, -0.5, 0.5, 1, 2, 3, -3, 0.25, -4, 7]);
  for (const op of UNARY_OPS) {
    for (const a of op === "pow" ? [0, 1, 2, 3, -1, -2, 0.5, -0.5, 1.5, NaN] : [0, 1.5, -1]) {
      // transcendental functions of NaN and infinities are compared too: IEEE results are expected
      for (const values of [specials.subarray(0, 13), specials]) {
        await agree(`unary ${op}(a ${a}) on specials`, [values], (b, [x]) => b.unary(op, x, a, 0.25), {
          rtol: 2e-5,
          atol: 0,
        });
      }
    }
  }
});

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

test("binary ops with broadcasting and transposed operands agree", async () => {
  const arb = fc.integer({ min: 0, max: 5 }).chain((rank) =>
    fc.tuple(fc.array(fc.integer({ min: 1, max: 6 }), { minLength: rank, maxLength: rank }), fc.constantFrom(0, 4, 8))
      // a last axis of 4 or 8 takes the four-at-a-time kernels
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
        `binary ${op} [${shape}]`,
        [av, bv],
        (be, [x, y]) => be.binary(op, x, a.strides, y, b.strides, shape),
        EXACT,
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
      const x = seeded(span, seed);
      await agree(
        `strided [${shape}] strides [${strides}] offset ${offset}`,
        [x],
        (be, [xb]) => be.strided(xb, shape, strides, offset),
        EXACT,
      );
    }),
    runs,
  );
});

test("sum over the middle axis agrees, from empty axes to long multi-pass reductions", async () => {
  const arb = fc.oneof(
    fc.tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 12 })),
    fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1000, max: 70000 }), fc.integer({ min: 1, max: 2 })),
  );
  await fc.assert(
    fc.asyncProperty(arb, seed, async ([outer, reduced, inner], s) => {
      const x = seeded(outer * reduced * inner, s);
      // Errors of float32 sums grow with the reduced length; the reference sums in float64.
      const tol = { rtol: 1e-4, atol: 1e-6 * Math.sqrt(reduced + 1) };
      await agree(`sum [${outer}, ${reduced}, ${inner}]`, [x], (be, [xb]) => be.sum(xb, outer, reduced, inner), tol);
    }),
    runs,
  );
});

test("matmul with every transpose agrees, including split-k and empty products", async () => {
  const dim = fc.integer({ min: 0, max: 70 });
  const arb = fc.oneof(
    fc.tuple(dim, dim, dim),
    fc.tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 500, max: 1500 })),
  );
  await fc.assert(
    fc.asyncProperty(arb, fc.boolean(), fc.boolean(), seed, async ([m, n, k], ta, tb, s) => {
      const a = seeded(m * k, s), b = seeded(k * n, s + 1);
      // both GEMM templates: workgroup-memory tiles and register-staged blocks
      for (const against of [webgpu(), gpuOther!]) {
        const what = `matmul ${m}x${k}·${k}x${n} ta ${ta} tb ${tb}`;
        await agree(what, [a, b], (be, [x, y]) => be.matmul(x, y, m, n, k, ta, tb), OP, against);
      }
    }),
    runs,
  );
});

/** A convolution geometry with at least one output pixel. */
const convGeometry: fc.Arbitrary<ConvGeometry> = fc.record({
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

/** The WRN-16 shapes at a small batch: 3×3 stride 1 and 2, and the 1×1 stride-2 "convdim". */
const wrnGeometry: fc.Arbitrary<ConvGeometry> = fc.constantFrom(
  [3, 16, 32, 3, 1, 1],
  [16, 32, 32, 3, 1, 1],
  [32, 64, 16, 3, 2, 1],
  [32, 64, 16, 1, 2, 0],
  [64, 64, 8, 3, 1, 1],
  [64, 128, 16, 3, 2, 1],
).map(([c, k, h, r, stride, pad]) => {
  const oh = Math.floor((h + 2 * pad - r) / stride) + 1;
  return { n: 2, c, h, w: h, k, r, s: r, stride, pad, oh, ow: oh };
});

/**
 * Geometries of the software adapters' direct 3×3 kernel (`_conv_direct.ts`): stride 1, padding 1, width a
 * multiple of 4, `h·w` a multiple of 16; channel counts on both sides of its 16-channel blocks, and inputs
 * that fill whole texture rows, part of one, and both.
 */
const directGeometry: fc.Arbitrary<ConvGeometry> = fc.record({
  n: fc.integer({ min: 1, max: 3 }),
  c: fc.integer({ min: 1, max: 20 }),
  h: fc.integer({ min: 1, max: 16 }),
  w: fc.constantFrom(4, 8, 12, 16),
  k: fc.integer({ min: 1, max: 40 }),
}).map((g) => ({ ...g, r: 3, s: 3, stride: 1, pad: 1, oh: g.h, ow: g.w })).filter((g) => (g.h * g.w) % 16 === 0);

/** Geometries of the stride-2 direct kernel: even sizes, output width a multiple of 8 (runs of 8 and 16). */
const directS2Geometry: fc.Arbitrary<ConvGeometry> = fc.record({
  n: fc.integer({ min: 1, max: 2 }),
  c: fc.integer({ min: 1, max: 20 }),
  h: fc.integer({ min: 1, max: 6 }).map((h) => 2 * h),
  w: fc.constantFrom(16, 32, 48),
  k: fc.integer({ min: 1, max: 40 }),
}).map((g) => ({ ...g, r: 3, s: 3, stride: 2, pad: 1, oh: g.h / 2, ow: g.w / 2 }));

/** Geometries of the direct 1×1 kernel: stride 1 on planes of whole runs of 16, stride 2 as above. */
const pointwiseGeometry: fc.Arbitrary<ConvGeometry> = fc.record({
  n: fc.integer({ min: 1, max: 2 }),
  c: fc.integer({ min: 1, max: 20 }),
  h: fc.integer({ min: 1, max: 6 }).map((h) => 2 * h),
  w: fc.constantFrom(8, 16, 32),
  k: fc.integer({ min: 1, max: 40 }),
  stride: fc.constantFrom(1, 2),
}).map((g) => ({ ...g, r: 1, s: 1, pad: 0, oh: g.h / g.stride, ow: g.w / g.stride }))
  .filter((g) => g.stride === 1 ? (g.h * g.w) % 16 === 0 : g.ow % 8 === 0);

test("the direct kernels' geometries are the ones they take", () => {
  const fits = { textureFits: () => true };
  fc.assert(fc.property(pointwiseGeometry, (g) => pointwiseConvApplies(fits, g)));
  fc.assert(
    fc.property(pointwiseGeometry, (g) => pointwiseInputGradApplies(fits, g) === (g.stride === 1)),
  );
  fc.assert(fc.property(directGeometry, (g) => directConvApplies(fits, g)));
  fc.assert(
    fc.property(
      directS2Geometry,
      (g) =>
        stride2ConvApplies(fits, g) && stride2FilterGradApplies(fits, g) &&
        stride2InputGradApplies(fits, g) === (g.w % 16 === 0) && !directConvApplies(fits, g),
    ),
  );
  return Promise.resolve();
});

test("conv2d forward and both gradients agree on random geometries", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        { arbitrary: convGeometry, weight: 3 },
        { arbitrary: directGeometry, weight: 2 },
        { arbitrary: directS2Geometry, weight: 1 },
        { arbitrary: pointwiseGeometry, weight: 1 },
        { arbitrary: wrnGeometry, weight: 1 },
      ),
      seed,
      async (g, s) => {
        const x = seeded(g.n * g.c * g.h * g.w, s), w = seeded(g.k * g.c * g.r * g.s, s + 1);
        const dy = seeded(g.n * g.k * g.oh * g.ow, s + 2);
        const name = JSON.stringify(g);
        for (const against of [webgpu(), gpuOther!]) {
          await agree(`conv2d ${name}`, [x, w], (b, [xb, wb]) => b.conv2d(xb, wb, g), OP, against);
          await agree(
            `conv2dBackwardInput ${name}`,
            [dy, w],
            (b, [d, wb]) => b.conv2dBackwardInput(d, wb, g),
            OP,
            against,
          );
          await agree(
            `conv2dBackwardFilter ${name}`,
            [x, dy],
            (b, [xb, d]) => b.conv2dBackwardFilter(xb, d, g),
            OP,
            against,
          );
        }
      },
    ),
    runs,
  );
});

test("batch norm (training forward with running statistics, inference, backward) agrees", async () => {
  const arb = fc.record({
    n: fc.integer({ min: 1, max: 5 }),
    c: fc.integer({ min: 1, max: 9 }),
    // any plane size, and whole units of 16 floats (the kernels' v16 walk)
    hw: fc.oneof(
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 200, max: 1100 }),
      fc.integer({ min: 1, max: 64 }).map((u) => 16 * u),
    ),
    momentum: fc.double({ min: 0, max: 1, noNaN: true }),
    shift: fc.double({ min: -3, max: 3, noNaN: true }),
    relu: fc.boolean(),
    seed,
  });
  await fc.assert(
    fc.asyncProperty(arb, async ({ n, c, hw, momentum, shift, relu, seed }) => {
      const g = { n, c, hw, eps: 1e-5, relu };
      const x = seeded(n * c * hw, seed, shift - 1, shift + 1);
      const gamma = seeded(c, seed + 1, 0.5, 1.5), beta = seeded(c, seed + 2);
      const rm = seeded(c, seed + 3), rv = seeded(c, seed + 4, 0.5, 2);
      const dy = seeded(n * c * hw, seed + 5);
      const name = `[${n}, ${c}, ${hw}] momentum ${momentum.toFixed(3)}${relu ? " relu" : ""}`;
      await agree(`batchNormTrain ${name}`, [x, gamma, beta, rm, rv], (b, [xb, gb, bb, m, v]) => {
        const r = b.batchNormTrain(xb, gb, bb, m, v, momentum, g);
        return { y: r.y, mean: r.mean, invstd: r.invstd, runningMean: r.runningMean, runningVar: r.runningVar };
      });
      await agree(
        `batchNormInference ${name}`,
        [x, gamma, beta, rm, rv],
        (b, [xb, gb, bb, m, v]) => b.batchNormInference(xb, gb, bb, m, v, g),
      );
      // Saved statistics as the training forward would produce them.
      const saved = cpu.batchNormTrain(
        cpu.upload(x),
        cpu.upload(gamma),
        cpu.upload(beta),
        cpu.upload(rm),
        cpu.upload(rv),
        momentum,
        g,
      );
      const mean = await cpu.download(saved.mean), invstd = await cpu.download(saved.invstd);
      // dx = γ·invstd·(dy − mean(dy) − x̂·mean(dy·x̂)), dγ = Σ dy·x̂, dβ = Σ dy: each cancels terms of the size
      // of |γ·invstd·dy|, |dy·x̂| and |dy|, so float32 rounding is judged at that size, not at the result's.
      const terms = { dx: 0, dgamma: 0, dbeta: 0 };
      for (let ch = 0; ch < c; ch++) {
        let sumXhat = 0, sumDy = 0;
        for (let b = 0; b < n; b++) {
          for (let i = 0; i < hw; i++) {
            const k = (b * c + ch) * hw + i;
            terms.dx = Math.max(terms.dx, Math.abs(gamma[ch] * invstd[ch] * dy[k]));
            sumXhat += Math.abs(dy[k] * (x[k] - mean[ch]) * invstd[ch]);
            sumDy += Math.abs(dy[k]);
          }
        }
        terms.dgamma = Math.max(terms.dgamma, sumXhat);
        terms.dbeta = Math.max(terms.dbeta, sumDy);
      }
      for (const key of ["dx", "dgamma", "dbeta"] as const) {
        await agree(`batchNormBackward ${name}`, [x, dy, gamma, mean, invstd], (b, [xb, d, gb, m, is]) => {
          const r = b.batchNormBackward(xb, d, gb, m, is, g);
          for (const other of ["dx", "dgamma", "dbeta"] as const) if (other !== key) b.free(r[other]);
          return { [key]: r[key] };
        }, { rtol: 1e-4, atol: 2e-5, scale: terms[key] });
      }
    }),
    runs,
  );
});

const poolGeometry: fc.Arbitrary<PoolGeometry> = fc.record({
  n: fc.integer({ min: 1, max: 3 }),
  c: fc.integer({ min: 1, max: 4 }),
  h: fc.integer({ min: 1, max: 9 }),
  w: fc.integer({ min: 1, max: 9 }),
  kernel: fc.integer({ min: 1, max: 4 }),
  stride: fc.integer({ min: 1, max: 3 }),
}).chain((g) => fc.integer({ min: 0, max: Math.floor(g.kernel / 2) }).map((pad) => ({ ...g, pad }))).map((g) => ({
  ...g,
  oh: Math.floor((g.h + 2 * g.pad - g.kernel) / g.stride) + 1,
  ow: Math.floor((g.w + 2 * g.pad - g.kernel) / g.stride) + 1,
})).filter((g) => g.oh >= 1 && g.ow >= 1);

test("average and max pooling, their gradients and maxPool2dGather agree (ties, NaN)", async () => {
  await fc.assert(
    fc.asyncProperty(poolGeometry, seed, fc.boolean(), fc.boolean(), async (g, s, ties, nan) => {
      const inSize = g.n * g.c * g.h * g.w, outSize = g.n * g.c * g.oh * g.ow;
      const x = seeded(inSize, s, -2, 2);
      if (ties) { for (let i = 0; i < inSize; i++) x[i] = Math.round(x[i]); // many equal maxima: first one wins
       }
      if (nan) x[s % inSize] = NaN; // NaN wins its windows
      const dy = seeded(outSize, s + 1), ddx = seeded(inSize, s + 2);
      const name = JSON.stringify(g);
      await agree(`avgPool2d ${name}`, [x], (b, [xb]) => b.avgPool2d(xb, g));
      await agree(`avgPool2dBackward ${name}`, [dy], (b, [d]) => b.avgPool2dBackward(d, g));
      await agree(`maxPool2d ${name}`, [x], (b, [xb]) => b.maxPool2d(xb, g), EXACT);
      await agree(`maxPool2dBackward ${name}`, [x, dy], (b, [xb, d]) => b.maxPool2dBackward(xb, d, g), EXACT);
      await agree(`maxPool2dGather ${name}`, [x, ddx], (b, [xb, d]) => b.maxPool2dGather(xb, d, g), EXACT);
    }),
    runs,
  );
});

test("log-softmax agrees on random rows, including wide and empty ones", async () => {
  const arb = fc.tuple(
    fc.integer({ min: 0, max: 40 }),
    fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 100, max: 1500 })),
  );
  await fc.assert(
    fc.asyncProperty(arb, seed, fc.double({ min: 0.1, max: 30, noNaN: true }), async ([rows, cols], s, spread) => {
      const x = seeded(rows * cols, s, -spread, spread);
      await agree(`logSoftmax [${rows}, ${cols}]`, [x], (b, [xb]) => b.logSoftmax(xb, rows, cols), {
        rtol: 1e-5,
        atol: 1e-6,
      });
    }),
    runs,
  );
});

test("the SGD update in place agrees", async () => {
  const arb = fc.record({
    n: fc.integer({ min: 0, max: 5000 }),
    lr: fc.double({ min: 0, max: 1, noNaN: true }),
    momentum: fc.double({ min: 0, max: 0.99, noNaN: true }),
    weightDecay: fc.double({ min: 0, max: 0.01, noNaN: true }),
    seed,
  });
  await fc.assert(
    fc.asyncProperty(arb, async ({ n, lr, momentum, weightDecay, seed }) => {
      const p = seeded(n, seed), grad = seeded(n, seed + 1), mom = seeded(n, seed + 2);
      const o = { lr, momentum, weightDecay };
      await agree(`sgdUpdate n ${n} ${JSON.stringify(o)}`, [p, grad, mom], (b, [pb, gb, mb]) => {
        b.sgdUpdate(pb, gb, mb, o);
        b.sgdUpdate(pb, gb, mb, o); // a second step reads the momentum the first wrote
        return { param: pb, momentum: mb };
      }, { rtol: 1e-5, atol: 1e-6 });
    }),
    runs,
  );
});
