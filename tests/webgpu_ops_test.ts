// The webgpu backend against the cpu backend (the reference meaning): the conformance suite (`_conformance.ts`)
// in both kernel configurations (the adapter's own, and the other one with every operand read through a texture),
// with the geometries of the direct convolution kernels. Skips itself, saying why, where there is no WebGPU
// adapter.
import fc from "fast-check";
import type { ConvGeometry } from "../src/backends/backend.ts";
import { directConvApplies } from "../src/backends/webgpu/_conv_direct.ts";
import {
  stride2ConvApplies,
  stride2FilterGradApplies,
  stride2InputGradApplies,
} from "../src/backends/webgpu/_conv_stride2.ts";
import { pointwiseConvApplies, pointwiseInputGradApplies } from "../src/backends/webgpu/_conv_pointwise.ts";
import { conformance } from "./_conformance.ts";
import { gpu, gpuOther, noAdapter, RUNS } from "./_webgpu.ts";

const test = (name: string, fn: () => Promise<void>) => Deno.test({ name: `webgpu ${name}`, ignore: noAdapter, fn });

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

conformance({
  name: "webgpu",
  subjects: gpu && gpuOther
    ? [
      { label: "webgpu", backend: gpu },
      // the other GEMM template, and every kernel's texture variant at every size, where they differ most
      {
        label: `webgpu (${gpuOther.tuning.name} kernels, texture reads)`,
        backend: gpuOther,
        only: ["matmul", "conv", "chain"],
      },
    ]
    : [],
  ignore: noAdapter,
  runs: RUNS,
  convGeometries: [
    { arbitrary: directGeometry, weight: 2 },
    { arbitrary: directS2Geometry, weight: 1 },
    { arbitrary: pointwiseGeometry, weight: 1 },
  ],
});
