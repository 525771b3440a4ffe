/**
 * Every kernel of the cudnn backend agrees with the cpu backend (the reference meaning) on random shapes and
 * values. Needs a GPU; elsewhere the tests are ignored with the reason the backend gave. `cudnn_mock_test.ts`
 * also runs this file against the mock libraries (`AT_CUDNN_EXPECT=1` then turns "unavailable" into a failure).
 */
import fc from "fast-check";
import type { Backend, DeviceBuffer } from "../src/backends/backend.ts";
import { CpuBackend } from "../src/backends/cpu/mod.ts";
import { availability, create } from "../src/backends/cudnn_ffi/mod.ts";

const gpu = await availability();
const expectGpu = Deno.env.get("AT_CUDNN_EXPECT") === "1";
const ignore = !gpu.available && !expectGpu;
if (gpu.available) console.log(`cudnn: ${gpu.description}`);
else console.log(`cudnn agreement tests ignored: ${gpu.reason}`);

const cpu = new CpuBackend();
const RUNS = Number(Deno.env.get("AT_CUDNN_RUNS") ?? 25);

/** Deterministic values in [-scale, scale] (rounded to `levels` steps when given, to make ties). */
function values(n: number, seed: number, scale = 3, levels = 0): Float32Array {
  const out = new Float32Array(n);
  let s = seed | 0;
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = levels ? Math.round(u * levels) - levels / 2 : (2 * u - 1) * scale;
  }
  return out;
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

function contiguous(shape: readonly number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** Throws unless `got` matches `want` within `tol · (1 + max|want|)` per element (NaN only where NaN). */
function expectClose(what: string, got: Float32Array, want: Float32Array, tol: number): void {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} values, expected ${want.length}`);
  let scale = 0;
  for (const v of want) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  const limit = tol * (1 + scale);
  for (let i = 0; i < want.length; i++) {
    const a = got[i], b = want[i];
    if (Number.isNaN(b) || Number.isNaN(a)) {
      if (Number.isNaN(a) !== Number.isNaN(b)) throw new Error(`${what}[${i}]: got ${a}, expected ${b}`);
      continue;
    }
    if (a === b) continue;
    if (!Number.isFinite(a) || !Number.isFinite(b) || Math.abs(a - b) > limit) {
      throw new Error(`${what}[${i}]: got ${a}, expected ${b} (tolerance ${limit})`);
    }
  }
}

/**
 * Runs `op` on both backends with the same host inputs and compares every output buffer.
 * `op` returns the buffers to compare (it may also change its inputs in place, as sgdUpdate does).
 */
async function agree(
  what: string,
  inputs: readonly Float32Array[],
  op: (b: Backend, x: DeviceBuffer[]) => DeviceBuffer[],
  tol: number,
): Promise<void> {
  const dev = await create();
  const run = async (b: Backend) => {
    const x = inputs.map((d) => b.upload(d));
    const out = op(b, x);
    const data = await Promise.all(out.map((o) => b.download(o)));
    for (const buf of new Set([...x, ...out])) b.free(buf);
    return data;
  };
  const [got, want] = [await run(dev), await run(cpu)];
  got.forEach((g, i) => expectClose(`${what} output ${i}`, g, want[i], tol));
}

const seed = fc.integer();

Deno.test({ name: "cudnn: upload, download, zeros and free round-trip", ignore }, async () => {
  const b = await create();
  for (const n of [0, 1, 3, 1000, 70001]) {
    const data = values(n, n);
    const buf = b.upload(data);
    expectClose(`upload ${n}`, await b.download(buf), data, 0);
    b.free(buf);
    const z = b.zeros(n);
    expectClose(`zeros ${n}`, await b.download(z), new Float32Array(n), 0);
    b.free(z);
  }
  // Concurrent downloads each get their own data.
  const bufs = [1, 2, 3].map((k) => b.upload(new Float32Array(5000).fill(k)));
  const all = await Promise.all(bufs.map((x) => b.download(x)));
  all.forEach((d, i) => expectClose(`concurrent ${i}`, d, new Float32Array(5000).fill(i + 1), 0));
  bufs.forEach((x) => b.free(x));
});

Deno.test({ name: "cudnn: foreign and freed buffers are refused", ignore }, async () => {
  const b = await create();
  const foreign = cpu.upload(new Float32Array(4));
  let threw = false;
  try {
    b.unary("abs", foreign, 0, 0);
  } catch (e) {
    threw = e instanceof TypeError;
  }
  if (!threw) throw new Error("a cpu buffer was accepted");
  const x = b.upload(new Float32Array(4));
  b.free(x);
  threw = false;
  try {
    b.unary("abs", x, 0, 0);
  } catch {
    threw = true;
  }
  if (!threw) throw new Error("a freed buffer was accepted");
});

Deno.test({ name: "cudnn: unary ops agree with cpu", ignore }, async () => {
  const ops = ["affine", "exp", "log", "sqrt", "rsqrt", "abs", "sign", "pow", "max", "gt"] as const;
  const special = Float32Array.from([0, -0, 1, -1, 2.5, -2.5, NaN, Infinity, -Infinity, 1e-30, 88, -104]);
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...ops),
      fc.integer({ min: 0, max: 3000 }),
      seed,
      fc.constantFrom(0, 1, -1, 2, 0.5, -0.5, 3, 1.7, 0.1, Infinity, NaN),
      fc.double({ min: -5, max: 5, noNaN: true }),
      async (op, n, s, a, b) => {
        const x = new Float32Array(n + special.length);
        x.set(values(n, s));
        x.set(special, n);
        await agree(`unary ${op} a=${a} b=${b}`, [x], (be, [xb]) => [be.unary(op, xb, a, b)], 2e-7);
      },
    ),
    { numRuns: RUNS * 2 },
  );
});

/** An output shape and, for one operand, a shape that broadcasts to it. */
const broadcastCase = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 0, maxLength: 5 }).chain((shape) =>
  fc.record({
    shape: fc.constant(shape),
    aMask: fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }),
    bMask: fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }),
    aDrop: fc.integer({ min: 0, max: shape.length }),
    transposeA: fc.boolean(),
  })
);

/** Strides of a contiguous `inShape` read as `outShape` (0 on broadcast axes), as the front end computes them. */
function broadcastStrides(inShape: readonly number[], outShape: readonly number[]): number[] {
  const strides = new Array(outShape.length).fill(0);
  let stride = 1;
  for (let i = inShape.length - 1; i >= 0; i--) {
    const j = outShape.length - inShape.length + i;
    strides[j] = inShape[i] === 1 ? 0 : stride;
    stride *= inShape[i];
  }
  return strides;
}

Deno.test({ name: "cudnn: binary ops with broadcasting and strides agree with cpu", ignore }, async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom("add", "sub", "mul", "div"), broadcastCase, seed, async (op, c, s) => {
      const aShape = c.shape.map((d, i) => (c.aMask[i] ? 1 : d)).slice(c.aDrop);
      const bShape = c.shape.map((d, i) => (c.bMask[i] ? 1 : d));
      let aStrides = broadcastStrides(aShape, c.shape);
      // A transposed operand: `a` stored with its last two axes swapped.
      if (c.transposeA && aShape.length >= 2 && c.aDrop === 0) {
        const r = aShape.length;
        const stored = [...aShape.slice(0, r - 2), aShape[r - 1], aShape[r - 2]];
        const st = contiguous(stored);
        const perm = [...st.slice(0, r - 2), st[r - 1], st[r - 2]];
        aStrides = aShape.map((d, i) => (d === 1 ? 0 : perm[i]));
      }
      const a = values(sizeOf(aShape), s), b = values(sizeOf(bShape), s + 1);
      await agree(
        `${op} ${JSON.stringify(c)}`,
        [a, b],
        (be, [ab, bb]) => [be.binary(op, ab, aStrides, bb, broadcastStrides(bShape, c.shape), c.shape)],
        0,
      );
    }),
    { numRuns: RUNS * 2 },
  );
});

Deno.test({ name: "cudnn: strided gather (permute, expand, slice) agrees with cpu", ignore }, async () => {
  const gather = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 6 }).chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      perm: fc.shuffledSubarray(shape.map((_, i) => i), { minLength: shape.length, maxLength: shape.length }),
      expand: fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }),
      offset: fc.integer({ min: 0, max: 7 }),
    })
  );
  await fc.assert(
    fc.asyncProperty(gather, seed, async (g, s) => {
      const st = contiguous(g.shape);
      const outShape = g.perm.map((a) => g.shape[a]);
      const strides = g.perm.map((a, i) => (g.expand[i] ? 0 : st[a]));
      const x = values(sizeOf(g.shape) + g.offset, s);
      await agree(`strided ${JSON.stringify(g)}`, [x], (be, [xb]) => [be.strided(xb, outShape, strides, g.offset)], 0);
    }),
    { numRuns: RUNS * 2 },
  );
});

Deno.test({ name: "cudnn: sum over the middle axis agrees with cpu", ignore }, async () => {
  const dims = fc.oneof(
    fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 70 })),
    fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 200, max: 5000 }), fc.constant(1)),
    fc.tuple(fc.constant(1), fc.integer({ min: 100, max: 300 }), fc.integer({ min: 1, max: 600 })),
  );
  await fc.assert(
    fc.asyncProperty(dims, seed, async ([outer, reduced, inner], s) => {
      await agree(
        `sum [${outer}, ${reduced}, ${inner}]`,
        [values(outer * reduced * inner, s)],
        (be, [x]) => [be.sum(x, outer, reduced, inner)],
        1e-6,
      );
    }),
    { numRuns: RUNS },
  );
});

Deno.test({ name: "cudnn: matmul with transposes agrees with cpu", ignore }, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 0, max: 70 }),
      fc.boolean(),
      fc.boolean(),
      seed,
      async (m, n, k, transA, transB, s) => {
        await agree(
          `matmul m=${m} n=${n} k=${k} transA=${transA} transB=${transB}`,
          [values(m * k, s), values(k * n, s + 1)],
          (be, [a, b]) => [be.matmul(a, b, m, n, k, transA, transB)],
          1e-5,
        );
      },
    ),
    { numRuns: RUNS },
  );
});

const convCase = fc.record({
  n: fc.integer({ min: 1, max: 3 }),
  c: fc.integer({ min: 1, max: 5 }),
  h: fc.integer({ min: 1, max: 9 }),
  w: fc.integer({ min: 1, max: 9 }),
  k: fc.integer({ min: 1, max: 6 }),
  r: fc.integer({ min: 1, max: 3 }),
  s: fc.integer({ min: 1, max: 3 }),
  stride: fc.integer({ min: 1, max: 2 }),
  pad: fc.integer({ min: 0, max: 2 }),
}).map((g) => ({
  ...g,
  oh: Math.floor((g.h + 2 * g.pad - g.r) / g.stride) + 1,
  ow: Math.floor((g.w + 2 * g.pad - g.s) / g.stride) + 1,
})).filter((g) => g.oh >= 1 && g.ow >= 1);

Deno.test({ name: "cudnn: conv2d and both gradients agree with cpu", ignore }, async () => {
  await fc.assert(
    fc.asyncProperty(convCase, seed, async (g, s) => {
      const x = values(g.n * g.c * g.h * g.w, s);
      const w = values(g.k * g.c * g.r * g.s, s + 1);
      const dy = values(g.n * g.k * g.oh * g.ow, s + 2);
      const what = `conv ${JSON.stringify(g)}`;
      await agree(`${what} forward`, [x, w], (be, [xb, wb]) => [be.conv2d(xb, wb, g)], 5e-5);
      await agree(`${what} dx`, [dy, w], (be, [d, wb]) => [be.conv2dBackwardInput(d, wb, g)], 5e-5);
      await agree(`${what} dw`, [x, dy], (be, [xb, d]) => [be.conv2dBackwardFilter(xb, d, g)], 5e-5);
    }),
    { numRuns: RUNS },
  );
});

Deno.test({ name: "cudnn: conv2d on WRN shapes agrees with cpu", ignore }, async () => {
  // The shapes of a CIFAR WRN at batch 2: the stem, a 3x3 block, a strided block and its 1x1 shortcut.
  const shapes = [
    { n: 2, c: 3, h: 32, w: 32, k: 16, r: 3, s: 3, stride: 1, pad: 1 },
    { n: 2, c: 32, h: 16, w: 16, k: 32, r: 3, s: 3, stride: 1, pad: 1 },
    { n: 2, c: 32, h: 16, w: 16, k: 64, r: 3, s: 3, stride: 2, pad: 1 },
    { n: 2, c: 32, h: 16, w: 16, k: 64, r: 1, s: 1, stride: 2, pad: 0 },
  ].map((g) => ({
    ...g,
    oh: Math.floor((g.h + 2 * g.pad - g.r) / g.stride) + 1,
    ow: Math.floor((g.w + 2 * g.pad - g.s) / g.stride) + 1,
  }));
  for (const [i, g] of shapes.entries()) {
    const x = values(g.n * g.c * g.h * g.w, i), w = values(g.k * g.c * g.r * g.s, i + 9, 0.3);
    const dy = values(g.n * g.k * g.oh * g.ow, i + 17);
    await agree(`wrn conv ${i} forward`, [x, w], (be, [xb, wb]) => [be.conv2d(xb, wb, g)], 5e-5);
    await agree(`wrn conv ${i} dx`, [dy, w], (be, [d, wb]) => [be.conv2dBackwardInput(d, wb, g)], 5e-5);
    await agree(`wrn conv ${i} dw`, [x, dy], (be, [xb, d]) => [be.conv2dBackwardFilter(xb, d, g)], 5e-5);
  }
});

const bnCase = fc.record({
  // One value per channel (n = hw = 1) is its own path: cuDNN's unbiased variance would divide by zero.
  n: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 4 })),
  c: fc.integer({ min: 1, max: 6 }),
  hw: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 20 })),
  momentum: fc.double({ min: 0, max: 1, noNaN: true }),
  eps: fc.constantFrom(1e-5, 1e-3),
  relu: fc.boolean(),
});

Deno.test({ name: "cudnn: batch norm training, inference and backward agree with cpu", ignore }, async () => {
  await fc.assert(
    fc.asyncProperty(bnCase, seed, async (g, s) => {
      const size = g.n * g.c * g.hw;
      const x = values(size, s), gamma = values(g.c, s + 1), beta = values(g.c, s + 2);
      const rm = values(g.c, s + 3), rv = values(g.c, s + 4).map(Math.abs);
      const dy = values(size, s + 5);
      const what = `batchNorm ${JSON.stringify(g)}`;
      await agree(`${what} train`, [x, gamma, beta, rm, rv], (be, [xb, gb, bb, mb, vb]) => {
        const r = be.batchNormTrain(xb, gb, bb, mb, vb, g.momentum, g);
        return [r.y, r.mean, r.invstd, r.runningMean, r.runningVar, mb, vb];
      }, 1e-4);
      await agree(`${what} inference`, [x, gamma, beta, rm, rv], (be, [xb, gb, bb, mb, vb]) => [
        be.batchNormInference(xb, gb, bb, mb, vb, g),
      ], 1e-5);
      // Backward from the statistics the cpu backend computes (so both start from the same saved values).
      const stats = cpu.batchNormTrain(
        cpu.upload(x),
        cpu.upload(gamma),
        cpu.upload(beta),
        cpu.upload(rm),
        cpu.upload(rv),
        0.1,
        g,
      );
      const mean = await cpu.download(stats.mean), invstd = await cpu.download(stats.invstd);
      await agree(`${what} backward`, [x, dy, gamma, mean, invstd], (be, [xb, d, gb, mb, ib]) => {
        const r = be.batchNormBackward(xb, d, gb, mb, ib, g);
        return [r.dx, r.dgamma, r.dbeta];
      }, 1e-4);
    }),
    { numRuns: RUNS },
  );
});

const poolCase = fc.record({
  n: fc.integer({ min: 1, max: 2 }),
  c: fc.integer({ min: 1, max: 3 }),
  h: fc.integer({ min: 1, max: 9 }),
  w: fc.integer({ min: 1, max: 9 }),
  kernel: fc.integer({ min: 1, max: 4 }),
  stride: fc.integer({ min: 1, max: 3 }),
  padFraction: fc.double({ min: 0, max: 1, noNaN: true }),
}).map(({ padFraction, ...g }) => {
  const pad = Math.floor(padFraction * (Math.floor(g.kernel / 2) + 1)) % (Math.floor(g.kernel / 2) + 1);
  return {
    ...g,
    pad,
    oh: Math.floor((g.h + 2 * pad - g.kernel) / g.stride) + 1,
    ow: Math.floor((g.w + 2 * pad - g.kernel) / g.stride) + 1,
  };
}).filter((g) => g.oh >= 1 && g.ow >= 1);

Deno.test({ name: "cudnn: pooling and its gradients agree with cpu (ties and NaN included)", ignore }, async () => {
  await fc.assert(
    fc.asyncProperty(poolCase, seed, fc.boolean(), fc.boolean(), async (g, s, ties, nan) => {
      const x = values(g.n * g.c * g.h * g.w, s, 3, ties ? 4 : 0);
      if (nan && x.length > 2) x[(s >>> 0) % x.length] = NaN;
      const dy = values(g.n * g.c * g.oh * g.ow, s + 1);
      const ddx = values(x.length, s + 2);
      const what = `pool ${JSON.stringify(g)} ties=${ties} nan=${nan}`;
      await agree(`${what} avg`, [x], (be, [xb]) => [be.avgPool2d(xb, g)], 1e-6);
      await agree(`${what} avg backward`, [dy], (be, [d]) => [be.avgPool2dBackward(d, g)], 1e-6);
      await agree(`${what} max`, [x], (be, [xb]) => [be.maxPool2d(xb, g)], 0);
      await agree(`${what} max backward`, [x, dy], (be, [xb, d]) => [be.maxPool2dBackward(xb, d, g)], 0);
      await agree(`${what} max gather`, [x, ddx], (be, [xb, d]) => [be.maxPool2dGather(xb, d, g)], 0);
    }),
    { numRuns: RUNS * 2 },
  );
});

Deno.test({ name: "cudnn: log-softmax agrees with cpu", ignore }, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 9 }),
      fc.integer({ min: 1, max: 1100 }),
      fc.double({ min: 0.01, max: 60, noNaN: true }),
      seed,
      async (rows, cols, scale, s) => {
        await agree(
          `logSoftmax [${rows}, ${cols}] scale ${scale}`,
          [values(rows * cols, s, scale)],
          (be, [x]) => [be.logSoftmax(x, rows, cols)],
          1e-6,
        );
      },
    ),
    { numRuns: RUNS },
  );
});

Deno.test({ name: "cudnn: the SGD update agrees with cpu", ignore }, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 5000 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 0.99, noNaN: true }),
      fc.double({ min: 0, max: 0.01, noNaN: true }),
      seed,
      async (n, lr, momentum, weightDecay, s) => {
        await agree(
          `sgd n=${n} lr=${lr} momentum=${momentum} wd=${weightDecay}`,
          [values(n, s), values(n, s + 1), values(n, s + 2)],
          (be, [p, g, m]) => {
            be.sgdUpdate(p, g, m, { lr, momentum, weightDecay });
            return [p, m];
          },
          0,
        );
      },
    ),
    { numRuns: RUNS },
  );
});
