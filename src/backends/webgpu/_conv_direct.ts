/**
 * Direct 3×3 convolution (stride 1, padding 1) for software adapters, reading both operands through the
 * texture unit (see `_texture.ts` for why), and the input gradient of the same convolution, which is the
 * same kernel over `dy` with the filter transposed and flipped.
 *
 * One invocation computes `RM` output channels × `RN` consecutive output pixels of one image (a segment
 * of the flattened `h·w` plane, `RN` a multiple of 4 dividing `h·w`). Per input channel and filter row it
 * fetches the `RN + 2` input values it needs as `RN/4 + 2` aligned texels, and per filter tap `RM/4`
 * texels of the packed filter; the three taps of a row reuse the fetched row with compile-time shifts,
 * and the image border is a select on the output pixel's row and column. Each accumulator is written
 * once per input channel, as one chain of nine `fma`s: llvmpipe masks every write of a loop-carried
 * variable, and one write per tap held the kernel at ~6 GMAC/s. Measured on llvmpipe (Mesa 22.3, 2
 * cores): ~9–10 GMAC/s against ~2 for the implicit GEMM over storage buffers.
 *
 * The filter gradient sums `dy ⊗ x` over images and pixels: an invocation owns `GM` output channels ×
 * `GC` input channels × 9 taps and a run of (image, segment) steps; per step it fetches the segment of
 * `dy` for its output channels and the three input rows per input channel, and the partial sums of all
 * invocations are added afterwards.
 *
 * The filter is packed first, `[cin][3][3][kpad]` with output channels innermost (four to a texel) and
 * `kpad` a multiple of `RM` (zeros past `kout`); see `_conv_blocks.ts` for the parts all direct kernels share.
 *
 * @module
 */
import type { ConvGeometry } from "../backend.ts";
import {
  blockKernel,
  filterGradKernel,
  lane,
  PLANE_PARAMS,
  type Planes,
  planeValues,
  range,
  runBlockKernel,
  runFilterGrad,
  texelRowFloat,
  wgslChain,
  wgslWeights,
} from "./_conv_blocks.ts";
import type { KernelSpec } from "./_kernel.ts";
import type { GpuBuffer, GpuRuntime } from "./_runtime.ts";

/** Output channels per invocation. */
const RM = 16;
/** Output pixels per invocation. */
const RN = 16;

/** Whether the direct kernel computes this convolution (its forward, and its input gradient). */
export function directConvApplies(rt: Pick<GpuRuntime, "textureFits">, g: ConvGeometry): boolean {
  return g.r === 3 && g.s === 3 && g.stride === 1 && g.pad === 1 && g.w % 4 === 0 && (g.h * g.w) % RN === 0 &&
    g.n * g.c * g.k > 0 && rt.textureFits(g.n * Math.max(g.c, g.k) * g.h * g.w) &&
    rt.textureFits(Math.max(g.c, g.k) * 9 * (Math.ceil(Math.max(g.c, g.k) / RM) * RM));
}

/** WGSL: the border masks of the segment's pixels (may row oy∓1, column ox∓1 be read?), from `p0`. */
function borderMasks(indent: string): string {
  // One division for the segment; pixel j is ⌊(ox + j) / W⌋ ≤ 4 rows further (W ≥ 4, j < 16), found by
  // comparisons (a vector division is eight scalar ones on a CPU).
  const lines = [`${indent}let oy = p0 / u.W; let ox = p0 - oy * u.W;`];
  for (const j of range(RN)) {
    const wraps = range(4).map((q) => `select(0u, 1u, ox + ${j}u >= ${q + 1}u * u.W)`).join(" + ");
    lines.push(
      `${indent}let dr${j} = ${
        j === 0 ? "0u" : wraps
      }; let oy${j} = oy + dr${j}; let ox${j} = ox + ${j}u - dr${j} * u.W;
${indent}let up${j} = oy${j} > 0u; let dn${j} = oy${j} + 1u < u.H; let lf${j} = ox${j} > 0u; let rt${j} = ox${j} + 1u < u.W;`,
    );
  }
  return lines.join("\n");
}

/**
 * WGSL: texels `${t}0 … ${t}{RN/4+1}` holding the floats `base + (ky−1)·W − 4 … + RN + 3` of the input
 * plane (the segment's row `ky − 1` with one texel of margin on each side).
 */
function fetchRow(indent: string, t: string, base: string, ky: number): string {
  const lines = [`${indent}let ${t}_0 = (${base} + ${ky - 1} * i32(u.W)) >> 2u;`];
  for (const q of range(RN / 4 + 2)) lines.push(`${indent}let ${t}${q} = x_texel(u32(${t}_0 + ${q - 1}));`);
  return lines.join("\n");
}

/** WGSL: `${b}j`, the input under tap (ky, kx) of the segment's pixel j (`value(j)`), zero past the border. */
function shiftedRow(indent: string, value: (j: number) => string, b: string, ky: number, kx: number): string {
  return range(RN).map((j) => {
    const conds = [
      ky === 0 ? `up${j}` : "",
      ky === 2 ? `dn${j}` : "",
      kx === 0 ? `lf${j}` : "",
      kx === 2 ? `rt${j}` : "",
    ]
      .filter((c) => c);
    return `${indent}let ${b}${j} = ${conds.length ? `select(0.0, ${value(j)}, ${conds.join(" && ")})` : value(j)};`;
  }).join("\n");
}

function directKernel(): KernelSpec {
  return blockKernel(`conv3x3_direct_r${RM}x${RN}`, "conv2d", RM, RN, PLANE_PARAMS, (L) => {
    L.push(borderMasks("  "));
    L.push(`  for (var ch = 0u; ch < u.C; ch++) {
    let base = i32((img * u.C + ch) * u.HW + p0);`);
    for (const ky of range(3)) L.push(fetchRow("    ", `R${ky}_`, "base", ky));
    L.push(wgslWeights("    ", RM, 9, "ch"));
    for (const ky of range(3)) {
      for (const kx of range(3)) {
        L.push(shiftedRow("    ", (j) => texelRowFloat(`R${ky}_`, j + kx - 1), `b${ky * 3 + kx}_`, ky, kx));
      }
    }
    for (const i of range(RM)) {
      for (const j of range(RN)) {
        L.push(`    ${wgslChain(`c${i}_${j}`, range(9).map((tap) => [lane(`w${tap}_`, i), `b${tap}_${j}`]))}`);
      }
    }
    L.push(`  }`);
  });
}

/**
 * `y [n, kout, h, w]` = 3×3 convolution (stride 1, padding 1) of `x [n, cin, h, w]` with `w [kout, cin, 3, 3]`
 * (sizes in `p`);
 * with `flip`, `w` is `[cin, kout, 3, 3]` used transposed and rotated by 180° (the input gradient).
 */
export function conv3x3Direct(rt: GpuRuntime, x: GpuBuffer, w: GpuBuffer, p: Planes, flip: boolean): GpuBuffer {
  const hw = p.h * p.w;
  const shape = { ...p, ohw: hw, taps: 9, rm: RM, segs: hw / RN };
  return runBlockKernel(rt, directKernel(), x, w, shape, flip, planeValues(p.cin, p.h, p.w, p.kout));
}

/** Output channels and input channels of one invocation of the filter gradient. */
const GM = 8;
const GC = 4;

function gradKernel(): KernelSpec {
  return filterGradKernel(`conv3x3_direct_dw_r${GM}x${GC}x${RN}`, GM, GC, [...PLANE_PARAMS, ["segs", "u32"]], (L) => {
    L.push(`    let img = sv / u.segs;
    let p0 = (sv - img * u.segs) * ${RN}u;`);
    L.push(borderMasks("    "));
    for (const i of range(GM)) {
      L.push(`    let D${i}_0 = ((img * u.K + k${i}) * u.HW + p0) >> 2u;`);
      for (const t of range(RN / 4)) L.push(`    let D${i}${t} = dy_texel(D${i}_0 + ${t}u);`);
    }
    for (const c of range(GC)) {
      L.push(`    {
      let base = i32((img * u.C + c${c}) * u.HW + p0);`);
      for (const ky of range(3)) {
        L.push(`      {`);
        L.push(fetchRow("        ", "T", "base", ky));
        for (const kx of range(3)) {
          L.push(`        {`);
          L.push(shiftedRow("          ", (j) => texelRowFloat("T", j + kx - 1), "b", ky, kx));
          const tap = ky * 3 + kx;
          for (const i of range(GM)) {
            L.push(`          ${wgslChain(`a${i}_${c}_${tap}`, range(RN).map((j) => [lane(`D${i}`, j), `b${j}`]))}`);
          }
          L.push(`        }`);
        }
        L.push(`      }`);
      }
      L.push(`    }`);
    }
  });
}

/** `dw [k, c, 3, 3]` of the 3×3 stride-1 padding-1 convolution of `x [n, c, h, w]` given `dy [n, k, h, w]`. */
export function conv3x3DirectFilterGrad(rt: GpuRuntime, x: GpuBuffer, dy: GpuBuffer, g: ConvGeometry): GpuBuffer {
  const hw = g.h * g.w, segs = hw / RN;
  return runFilterGrad(rt, gradKernel(), x, dy, g, GM, GC, g.n * segs, [...planeValues(g.c, g.h, g.w, g.k), segs]);
}
