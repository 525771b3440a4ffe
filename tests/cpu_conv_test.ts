// The cpu backend's convolution kernels against naive direct convolutions. The naive loops sum in the
// order the kernels document (forward over (c, ky, kx); input gradient over (k, ky, kx); filter gradient
// over pixels within an image, then over images) in double precision, rounded once, so the two agree
// exactly: random shapes, strides, padding, 1×1 and non-square filters, any cut between threads.
import fc from "fast-check";
import type { ConvGeometry } from "../src/backends/backend.ts";
import { conv2d, conv2dBackwardFilter, conv2dBackwardInput } from "../src/backends/cpu/conv.ts";
import { CpuBackend } from "../src/backends/cpu/mod.ts";
import { type Claim, only } from "../src/backends/cpu/_partition.ts";
import {
  filterGradientGroups,
  forwardProblem,
  inputGradientProblem,
  winogradConv,
  winogradFilterFinish,
  winogradFilterPartials,
} from "../src/backends/cpu/winograd.ts";
import { assert, assertBitwise, lcgFloats } from "./_assert.ts";
import { RUNS } from "./_arbitrary.ts";

function naiveConv2d(x: Float32Array, w: Float32Array, g: ConvGeometry): Float32Array {
  const { n, c, h, k, r, s, stride, pad, oh, ow } = g;
  const y = new Float32Array(n * k * oh * ow);
  for (let b = 0; b < n; b++) {
    for (let o = 0; o < k; o++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let acc = 0;
          for (let ch = 0; ch < c; ch++) {
            for (let ky = 0; ky < r; ky++) {
              for (let kx = 0; kx < s; kx++) {
                const iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                if (iy < 0 || iy >= h || ix < 0 || ix >= g.w) continue;
                acc += w[((o * c + ch) * r + ky) * s + kx] * x[((b * c + ch) * h + iy) * g.w + ix];
              }
            }
          }
          y[((b * k + o) * oh + oy) * ow + ox] = acc;
        }
      }
    }
  }
  return y;
}

function naiveBackwardInput(dy: Float32Array, w: Float32Array, g: ConvGeometry): Float32Array {
  const { n, c, h, k, r, s, stride, pad, oh, ow } = g;
  const dx = new Float32Array(n * c * h * g.w);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      for (let iy = 0; iy < h; iy++) {
        for (let ix = 0; ix < g.w; ix++) {
          let acc = 0;
          for (let o = 0; o < k; o++) {
            for (let ky = 0; ky < r; ky++) {
              for (let kx = 0; kx < s; kx++) {
                const ty = iy + pad - ky, tx = ix + pad - kx;
                if (ty < 0 || tx < 0 || ty % stride !== 0 || tx % stride !== 0) continue;
                const oy = ty / stride, ox = tx / stride;
                if (oy >= oh || ox >= ow) continue;
                acc += w[((o * c + ch) * r + ky) * s + kx] * dy[((b * k + o) * oh + oy) * ow + ox];
              }
            }
          }
          dx[((b * c + ch) * h + iy) * g.w + ix] = acc;
        }
      }
    }
  }
  return dx;
}

function naiveBackwardFilter(x: Float32Array, dy: Float32Array, g: ConvGeometry): Float32Array {
  const { n, c, h, k, r, s, stride, pad, oh, ow } = g;
  const dw = new Float32Array(k * c * r * s);
  for (let o = 0; o < k; o++) {
    for (let ch = 0; ch < c; ch++) {
      for (let ky = 0; ky < r; ky++) {
        for (let kx = 0; kx < s; kx++) {
          let total = 0;
          for (let b = 0; b < n; b++) {
            let acc = 0;
            for (let oy = 0; oy < oh; oy++) {
              for (let ox = 0; ox < ow; ox++) {
                const iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                if (iy < 0 || iy >= h || ix < 0 || ix >= g.w) continue;
                acc += dy[((b * k + o) * oh + oy) * ow + ox] * x[((b * c + ch) * h + iy) * g.w + ix];
              }
            }
            total += acc;
          }
          dw[((o * c + ch) * r + ky) * s + kx] = total;
        }
      }
    }
  }
  return dw;
}

const geometryArb: fc.Arbitrary<ConvGeometry> = fc.record({
  n: fc.integer({ min: 1, max: 3 }),
  c: fc.integer({ min: 1, max: 6 }),
  k: fc.integer({ min: 1, max: 9 }),
  h: fc.integer({ min: 1, max: 10 }),
  w: fc.integer({ min: 1, max: 10 }),
  r: fc.integer({ min: 1, max: 4 }),
  s: fc.integer({ min: 1, max: 4 }),
  stride: fc.integer({ min: 1, max: 3 }),
  pad: fc.integer({ min: 0, max: 3 }),
}).filter((g) => g.h + 2 * g.pad >= g.r && g.w + 2 * g.pad >= g.s).map((g) => ({
  ...g,
  oh: Math.floor((g.h + 2 * g.pad - g.r) / g.stride) + 1,
  ow: Math.floor((g.w + 2 * g.pad - g.s) / g.stride) + 1,
}));

function fmt(g: ConvGeometry): string {
  return `x[${g.n},${g.c},${g.h},${g.w}] w[${g.k},${g.c},${g.r},${g.s}] stride ${g.stride} pad ${g.pad}`;
}

/** Runs a kernel as `parts` threads would, thread `part` taking units part, part + parts, …, into one output. */
function inParts(
  kernel: (a: Float32Array, b: Float32Array, g: ConvGeometry, out: Float32Array, claim: Claim) => void,
  a: Float32Array,
  b: Float32Array,
  g: ConvGeometry,
  size: number,
  parts: number,
): Float32Array {
  const out = new Float32Array(size).fill(NaN);
  for (let part = 0; part < parts; part++) {
    kernel(a, b, g, out, only(Array.from({ length: 4096 }, (_, i) => part + i * parts)));
  }
  return out;
}

Deno.test("conv2d and both gradients equal naive direct convolutions exactly, however the work is shared", () => {
  fc.assert(
    fc.property(geometryArb, fc.integer({ min: 1, max: 7 }), fc.integer({ min: 0, max: 1 << 30 }), (g, parts, seed) => {
      const x = lcgFloats(g.n * g.c * g.h * g.w, seed), w = lcgFloats(g.k * g.c * g.r * g.s, seed + 1);
      const dy = lcgFloats(g.n * g.k * g.oh * g.ow, seed + 2);
      assertBitwise(inParts(conv2d, x, w, g, g.n * g.k * g.oh * g.ow, parts), naiveConv2d(x, w, g), `conv2d ${fmt(g)}`);
      assertBitwise(
        inParts(conv2dBackwardInput, dy, w, g, g.n * g.c * g.h * g.w, parts),
        naiveBackwardInput(dy, w, g),
        `conv2dBackwardInput ${fmt(g)}`,
      );
      assertBitwise(
        inParts(conv2dBackwardFilter, x, dy, g, g.k * g.c * g.r * g.s, parts),
        naiveBackwardFilter(x, dy, g),
        `conv2dBackwardFilter ${fmt(g)}`,
      );
    }),
    { numRuns: RUNS * 5 },
  );
});

Deno.test("the backend's convolutions on the WRN shapes, one thread and three: direct ones exact, Winograd ones to rounding", async () => {
  const cases: [number, number, number, number, number, number][] = [
    // c, k, h, r, stride, pad
    [3, 16, 12, 3, 1, 1],
    [16, 16, 8, 3, 1, 1],
    [16, 32, 8, 3, 2, 1],
    [16, 32, 8, 1, 2, 0],
    [32, 32, 4, 3, 1, 1],
    [8, 8, 5, 1, 1, 0],
  ];
  const backends = [new CpuBackend({ threads: 1 }), new CpuBackend({ threads: 3, grain: 1 })];
  const abs = (a: Float32Array) => a.map(Math.abs);
  for (const [c, k, h, r, stride, pad] of cases) {
    const oh = Math.floor((h + 2 * pad - r) / stride) + 1;
    const g: ConvGeometry = { n: 5, c, h, w: h, k, r, s: r, stride, pad, oh, ow: oh };
    const x = lcgFloats(g.n * c * h * h, c * 31 + k),
      w = lcgFloats(k * c * r * r, h),
      dy = lcgFloats(g.n * k * oh * oh, r + 9);
    const check = (winograd: boolean, got: Float32Array, want: Float32Array, scale: Float32Array, what: string) =>
      winograd ? assertWithinRounding(got, want, scale, what) : assertBitwise(got, want, what);
    for (const be of backends) {
      const on = `${fmt(g)} on ${be.threads} threads`;
      check(
        forwardProblem(g) !== undefined,
        await be.download(be.conv2d(be.upload(x), be.upload(w), g)),
        naiveConv2d(x, w, g),
        naiveConv2d(abs(x), abs(w), g),
        `conv2d ${on}`,
      );
      check(
        inputGradientProblem(g) !== undefined,
        await be.download(be.conv2dBackwardInput(be.upload(dy), be.upload(w), g)),
        naiveBackwardInput(dy, w, g),
        naiveBackwardInput(abs(dy), abs(w), g),
        `conv2dBackwardInput ${on}`,
      );
      check(
        filterGradientGroups(g) !== undefined,
        await be.download(be.conv2dBackwardFilter(be.upload(x), be.upload(dy), g)),
        naiveBackwardFilter(x, dy, g),
        naiveBackwardFilter(abs(x), abs(dy), g),
        `conv2dBackwardFilter ${on}`,
      );
    }
  }
});

/** `|actual − expected| ≤ 2⁻²³ · scale` elementwise: one float32 rounding of the sum of |terms| in `scale`. */
function assertWithinRounding(actual: Float32Array, expected: Float32Array, scale: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length}, expected ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= 2 ** -23 * scale[i])) {
      assert.fail(`${what}: index ${i} is ${actual[i]}, expected ${expected[i]} (sum of |terms| ${scale[i]})`);
    }
  }
}

const winogradArb = fc.record({
  n: fc.integer({ min: 1, max: 3 }),
  c: fc.integer({ min: 16, max: 19 }),
  k: fc.integer({ min: 16, max: 19 }),
  h: fc.integer({ min: 1, max: 9 }),
  w: fc.integer({ min: 1, max: 9 }),
  pad: fc.integer({ min: 0, max: 2 }),
  parts: fc.integer({ min: 1, max: 4 }),
  seed: fc.integer({ min: 0, max: 1 << 30 }),
}).filter((t) => t.h + 2 * t.pad >= 3 && t.w + 2 * t.pad >= 3).map((
  t,
): ConvGeometry & { parts: number; seed: number } => ({
  ...t,
  r: 3,
  s: 3,
  stride: 1,
  oh: t.h + 2 * t.pad - 2,
  ow: t.w + 2 * t.pad - 2,
}));

/** `only` claims for thread `part` of `parts`: units part, part + parts, … */
function share(part: number, parts: number): Claim {
  return only(Array.from({ length: 4096 }, (_, i) => part + i * parts));
}

Deno.test("Winograd F(2×2, 3×3) agrees with the direct sums to float32 rounding, however the work is shared", () => {
  fc.assert(
    fc.property(winogradArb, (t) => {
      const { n, c, h, k, oh, ow, parts, seed } = t, g: ConvGeometry = t;
      const abs = (a: Float32Array) => a.map(Math.abs);
      const x = lcgFloats(n * c * h * g.w, seed),
        w = lcgFloats(k * c * 9, seed + 1),
        dy = lcgFloats(n * k * oh * ow, seed + 2);
      const y = new Float32Array(n * k * oh * ow).fill(NaN);
      for (let part = 0; part < parts; part++) winogradConv(x, w, forwardProblem(g)!, y, share(part, parts));
      assertWithinRounding(y, naiveConv2d(x, w, g), naiveConv2d(abs(x), abs(w), g), `forward ${fmt(g)}`);
      const dx = new Float32Array(n * c * h * g.w).fill(NaN);
      for (let part = 0; part < parts; part++) winogradConv(dy, w, inputGradientProblem(g)!, dx, share(part, parts));
      assertWithinRounding(dx, naiveBackwardInput(dy, w, g), naiveBackwardInput(abs(dy), abs(w), g), `dx ${fmt(g)}`);
      const cut = filterGradientGroups(g)!;
      const partials = new Float64Array(cut.groups * cut.partialSize).fill(NaN);
      for (let part = 0; part < parts; part++) winogradFilterPartials(x, dy, g, partials, share(part, parts));
      const dw = new Float32Array(k * c * 9).fill(NaN);
      for (let part = 0; part < parts; part++) winogradFilterFinish(partials, g, dw, share(part, parts));
      assertWithinRounding(dw, naiveBackwardFilter(x, dy, g), naiveBackwardFilter(abs(x), abs(dy), g), `dw ${fmt(g)}`);
    }),
    { numRuns: RUNS * 2 },
  );
});

Deno.test("the backend takes the Winograd path only for 3×3 stride-1 convolutions with 16 or more channels", () => {
  const g = (c: number, k: number, r: number, stride: number, pad = 1): ConvGeometry => ({
    n: 4,
    c,
    h: 8,
    w: 8,
    k,
    r,
    s: r,
    stride,
    pad,
    oh: Math.floor((8 + 2 * pad - r) / stride) + 1,
    ow: Math.floor((8 + 2 * pad - r) / stride) + 1,
  });
  assert.ok(forwardProblem(g(16, 3, 3, 1)) && !forwardProblem(g(15, 64, 3, 1)) && !forwardProblem(g(64, 64, 3, 2)));
  assert.ok(!forwardProblem(g(64, 64, 1, 1, 0)));
  assert.ok(inputGradientProblem(g(3, 16, 3, 1)) && !inputGradientProblem(g(64, 15, 3, 1)));
  assert.ok(filterGradientGroups(g(16, 16, 3, 1)) && !filterGradientGroups(g(3, 16, 3, 1)));
});
