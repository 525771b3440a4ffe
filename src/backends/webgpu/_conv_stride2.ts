/**
 * Direct 3×3 convolutions with stride 2 and padding 1 on planes of even height and width, for software
 * adapters (see `_conv_direct.ts` for the kernels' structure and why they read through textures): the
 * forward pass, the input gradient and the filter gradient. With even sizes the forward taps reach past
 * the top row and the left column only.
 *
 * @module
 */
import type { ConvGeometry } from "../backend.ts";
import {
  blockKernel,
  filterGradKernel,
  lane,
  LANES,
  PLANE_PARAMS,
  planeValues,
  range,
  runBlockKernel,
  runFilterGrad,
  texelRowFloat,
  wgslChain,
  wgslWeights,
} from "./_conv_blocks.ts";
import { wgslEntry } from "./_dispatch.ts";
import { defineKernel, type KernelSpec } from "./_kernel.ts";
import type { GpuBuffer, GpuRuntime } from "./_runtime.ts";
import { wgslTexel } from "./_texture.ts";

/** Output channels per invocation of the forward kernel. */
const RM = 16;

/** Whether the stride-2 geometry is one the kernels of this file take. */
function stride2Shape(g: ConvGeometry): boolean {
  return g.r === 3 && g.s === 3 && g.stride === 2 && g.pad === 1 && g.h % 2 === 0 && g.w % 2 === 0 &&
    g.ow % 8 === 0 && g.n * g.c * g.k > 0;
}

/** Output pixels per invocation of the stride-2 kernel (a run of an output row): the longest that divides `ow`. */
function s2Run(ow: number): number {
  return ow % 16 === 0 ? 16 : 8;
}

/** Whether the stride-2 forward kernel computes this convolution. */
export function stride2ConvApplies(rt: Pick<GpuRuntime, "textureFits">, g: ConvGeometry): boolean {
  return stride2Shape(g) && rt.textureFits(g.n * g.c * g.h * g.w) &&
    rt.textureFits(g.c * 9 * (Math.ceil(g.k / RM) * RM));
}

/**
 * The stride-2 forward kernel: `RM` output channels × `RN2` (8 or 16) consecutive pixels of one output row. With
 * even `h` and `w` the taps reach past the top row and the left column only; each input row of a segment
 * is `2·RN2 + 1` floats from column `2·ox0 − 1`, fetched as `RN2/2 + 1` aligned texels.
 */
function directS2Kernel(RN2: number): KernelSpec {
  const params = [...PLANE_PARAMS, ["OW", "u32"]] as const;
  return blockKernel(`conv3x3_direct_s2_r${RM}x${RN2}`, "conv2d", RM, RN2, params, (L) => {
    L.push(`  let oy = p0 / u.OW;
  let ox0 = p0 - oy * u.OW;
  let up = oy > 0u;
  let lf = ox0 > 0u;
  for (var ch = 0u; ch < u.C; ch++) {
    let base = i32((img * u.C + ch) * u.HW + 2u * ox0) + (2 * i32(oy) - 1) * i32(u.W);`);
    for (const ky of range(3)) {
      L.push(`    let r${ky} = (base + ${ky} * i32(u.W)) >> 2u;`);
      for (const t of range(RN2 / 2 + 2)) L.push(`    let R${ky}_${t} = x_texel(u32(r${ky} + ${t - 1}));`);
    }
    L.push(wgslWeights("    ", RM, 9, "ch"));
    for (const ky of range(3)) {
      for (const kx of range(3)) {
        for (const j of range(RN2)) {
          const v = texelRowFloat(`R${ky}_`, 2 * j + kx - 1);
          const conds = [ky === 0 ? "up" : "", kx === 0 && j === 0 ? "lf" : ""].filter((c) => c);
          L.push(`    let b${ky * 3 + kx}_${j} = ${conds.length ? `select(0.0, ${v}, ${conds.join(" && ")})` : v};`);
        }
      }
    }
    for (const i of range(RM)) {
      for (const j of range(RN2)) {
        L.push(`    ${wgslChain(`c${i}_${j}`, range(9).map((tap) => [lane(`w${tap}_`, i), `b${tap}_${j}`]))}`);
      }
    }
    L.push(`  }`);
  });
}

/** `y [n, k, h/2, w/2]`: the 3×3 convolution with stride 2 and padding 1 of `x [n, c, h, w]` (h, w even). */
export function conv3x3DirectS2(rt: GpuRuntime, x: GpuBuffer, w: GpuBuffer, g: ConvGeometry): GpuBuffer {
  const run = s2Run(g.ow), ohw = g.oh * g.ow;
  const shape = { n: g.n, cin: g.c, kout: g.k, ohw, taps: 9, rm: RM, segs: ohw / run };
  return runBlockKernel(rt, directS2Kernel(run), x, w, shape, false, [...planeValues(g.c, g.h, g.w, g.k), g.ow]);
}

/** Input channels and output columns per invocation of the input gradient (which covers two rows). */
const DM = 8;
const DN = 16;

/**
 * The input gradient: `RM = DM` input channels × rows `2r, 2r + 1` × `DN` columns from `ix0` of `dx`.
 * With stride 2 each parity class of `dx` pixels takes its own taps: `dx[2r][2s]` only the centre one,
 * `dx[2r+1][2s+1]` the four corners. Per output channel the kernel reads rows `r` (A) and `r + 1` (B)
 * of `dy` from column `ix0/2`: `DN/2 + 1` floats each, B zero past the bottom and the last float zero
 * past the right edge.
 */
function inputGradKernel(): KernelSpec {
  const key = `conv3x3_direct_s2_dx_r${DM}x2x${DN}`;
  return defineKernel(key, () => {
    const half = DN / 2;
    const L: string[] = [wgslTexel("dy"), wgslTexel("wp"), wgslEntry(LANES)];
    L.push(`  let mg = group % u.mgroups;
  let seg = (group / u.mgroups) * ${LANES}u + lidx;
  let sv = min(seg, u.total - 1u);
  let img = sv / u.segs;
  let rest = sv - img * u.segs;
  let r = rest / u.colBlocks;
  let ix0 = (rest - r * u.colBlocks) * ${DN}u;
  let s0 = ix0 / 2u;
  let below = r + 1u < u.OH;
  let right = s0 + ${half}u < u.OW;`);
    for (const i of range(DM)) {
      for (const row of range(2)) L.push(`  ${range(DN).map((j) => `var c${i}_${row}_${j} = 0.0;`).join(" ")}`);
    }
    L.push(`  for (var k = 0u; k < u.K; k++) {
    let a0 = ((img * u.K + k) * u.OH * u.OW + r * u.OW + s0) >> 2u;
    let b0 = a0 + (u.OW >> 2u);`);
    for (const t of range(half / 4 + 1)) {
      L.push(`    let A${t} = dy_texel(a0 + ${t}u);`);
      L.push(`    let B${t} = select(vec4f(0.0), dy_texel(b0 + ${t}u), below);`);
    }
    // The float s0 + half, past the right edge of the last block of a row, is zero.
    const at = (row: string, s: number) =>
      s === half ? `select(0.0, ${row}${s >> 2}.x, right)` : `${row}${s >> 2}.${"xyzw"[s % 4]}`;
    // Packed flipped: tap t' holds w[k][c][8 − t'], so w[ky][kx] is tap 8 − (3·ky + kx).
    L.push(`    let wbase = k * 9u * u.KPAD4 + mg * ${DM / 4}u;`);
    for (const ky of range(3)) {
      for (const kx of range(3)) {
        for (const q of range(DM / 4)) {
          L.push(`    let w${ky}${kx}_${q} = wp_texel(wbase + ${8 - (3 * ky + kx)}u * u.KPAD4 + ${q}u);`);
        }
      }
    }
    for (const i of range(DM)) {
      const w = (ky: number, kx: number) => `w${ky}${kx}_${i >> 2}.${"xyzw"[i % 4]}`;
      for (const s of range(half)) {
        const terms: [string, string, string][] = [
          // [row, column, taps]: dx[2r + row][2s + column]
          ["0", "0", `fma(${w(1, 1)}, ${at("A", s)}, c${i}_0_${2 * s})`],
          [
            "0",
            "1",
            `fma(${w(1, 0)}, ${at("A", s + 1)}, fma(${w(1, 2)}, ${at("A", s)}, c${i}_0_${2 * s + 1}))`,
          ],
          ["1", "0", `fma(${w(0, 1)}, ${at("B", s)}, fma(${w(2, 1)}, ${at("A", s)}, c${i}_1_${2 * s}))`],
          [
            "1",
            "1",
            `fma(${w(0, 0)}, ${at("B", s + 1)}, fma(${w(0, 2)}, ${at("B", s)}, fma(${w(2, 0)}, ${at("A", s + 1)}, fma(${
              w(2, 2)
            }, ${at("A", s)}, c${i}_1_${2 * s + 1}))))`,
          ],
        ];
        for (const [row, col, e] of terms) L.push(`    c${i}_${row}_${2 * s + Number(col)} = ${e};`);
      }
    }
    L.push(`  }
  if (seg >= u.total) { return; }`);
    for (const i of range(DM)) {
      for (const row of range(2)) {
        L.push(
          `  { let m = mg * ${DM}u + ${i}u; if (m < u.C) { let at = ((img * u.C + m) * u.HW + (2u * r + ${row}u) * u.W + ix0) / 4u;
    ${
            range(DN / 4).map((q) =>
              `dx[at + ${q}u] = vec4f(${range(4).map((j) => `c${i}_${row}_${4 * q + j}`).join(", ")});`
            ).join(" ")
          } } }`,
        );
      }
    }
    L.push(`}`);
    return {
      key,
      op: "conv2dBackwardInput",
      bindings: [
        { name: "dy", access: "read", type: "texture" },
        { name: "wp", access: "read", type: "texture" },
        { name: "dx", access: "read_write", type: "vec4f" },
      ],
      // The tail is runBlockKernel's (OHW there is the size of this kernel's output plane, h·w).
      params: [
        ...PLANE_PARAMS,
        ["OW", "u32"],
        ["OH", "u32"],
        ["colBlocks", "u32"],
        ["OHW", "u32"],
        ["KPAD4", "u32"],
        ["segs", "u32"],
        ["total", "u32"],
        ["mgroups", "u32"],
      ],
      workgroupSize: LANES,
      body: L.join("\n"),
    };
  });
}

/** Whether the stride-2 input-gradient kernel computes this convolution's input gradient. */
export function stride2InputGradApplies(rt: Pick<GpuRuntime, "textureFits">, g: ConvGeometry): boolean {
  return stride2Shape(g) && g.w % DN === 0 && rt.textureFits(g.n * g.k * g.oh * g.ow) &&
    rt.textureFits(g.k * 9 * (Math.ceil(g.c / DM) * DM));
}

/** `dx [n, c, h, w]` of the stride-2 3×3 convolution from `dy [n, k, h/2, w/2]` and `w [k, c, 3, 3]`. */
export function conv3x3S2InputGrad(rt: GpuRuntime, dy: GpuBuffer, w: GpuBuffer, g: ConvGeometry): GpuBuffer {
  // Output channels of this product are the convolution's input channels: w packed as [k][tap][c], flipped.
  const colBlocks = g.w / DN;
  const shape = { n: g.n, cin: g.k, kout: g.c, ohw: g.h * g.w, taps: 9, rm: DM, segs: g.oh * colBlocks };
  const params = [...planeValues(g.c, g.h, g.w, g.k), g.ow, g.oh, colBlocks];
  return runBlockKernel(rt, inputGradKernel(), dy, w, shape, true, params);
}

/** Output channels, input channels and output pixels (of one output row) per step of the filter gradient. */
const GM = 8;
const GC = 4;
const GN = 8;

/**
 * The filter gradient (see `filterGradKernel` in `_conv_blocks.ts`), a step being `GN` pixels of one
 * output row: per step it reads the segment of `dy` for its output channels and, per input channel, the
 * three input rows it covers (`2·GN + 1` floats from column `2·ox0 − 1`).
 */
function gradKernel(): KernelSpec {
  const params = [...PLANE_PARAMS, ["OW", "u32"], ["OHW", "u32"], ["segs", "u32"]] as const;
  return filterGradKernel(`conv3x3_direct_s2_dw_r${GM}x${GC}x${GN}`, GM, GC, params, (L) => {
    L.push(`    let img = sv / u.segs;
    let p0 = (sv - img * u.segs) * ${GN}u;
    let oy = p0 / u.OW;
    let ox0 = p0 - oy * u.OW;
    let up = oy > 0u;
    let lf = ox0 > 0u;`);
    for (const i of range(GM)) {
      L.push(`    let D${i}_0 = ((img * u.K + k${i}) * u.OHW + p0) >> 2u;`);
      for (const t of range(GN / 4)) L.push(`    let D${i}${t} = dy_texel(D${i}_0 + ${t}u);`);
    }
    for (const c of range(GC)) {
      L.push(`    {
      let base = i32((img * u.C + c${c}) * u.HW + 2u * ox0) + (2 * i32(oy) - 1) * i32(u.W);`);
      for (const ky of range(3)) {
        L.push(`      {
        let r0 = (base + ${ky} * i32(u.W)) >> 2u;`);
        for (const t of range(GN / 2 + 2)) L.push(`        let T${t} = x_texel(u32(r0 + ${t - 1}));`);
        for (const kx of range(3)) {
          L.push(`        {`);
          for (const j of range(GN)) {
            const v = texelRowFloat("T", 2 * j + kx - 1);
            const conds = [ky === 0 ? "up" : "", kx === 0 && j === 0 ? "lf" : ""].filter((x) => x);
            L.push(`          let b${j} = ${conds.length ? `select(0.0, ${v}, ${conds.join(" && ")})` : v};`);
          }
          const tap = ky * 3 + kx;
          for (const i of range(GM)) {
            L.push(`          ${wgslChain(`a${i}_${c}_${tap}`, range(GN).map((j) => [lane(`D${i}`, j), `b${j}`]))}`);
          }
          L.push(`        }`);
        }
        L.push(`      }`);
      }
      L.push(`    }`);
    }
  });
}

/** Whether the stride-2 filter-gradient kernel computes this convolution's filter gradient. */
export function stride2FilterGradApplies(rt: Pick<GpuRuntime, "textureFits">, g: ConvGeometry): boolean {
  return stride2Shape(g) && rt.textureFits(g.n * g.c * g.h * g.w) && rt.textureFits(g.n * g.k * g.oh * g.ow);
}

/** `dw [k, c, 3, 3]` of the stride-2 3×3 convolution of `x [n, c, h, w]` given `dy [n, k, h/2, w/2]`. */
export function conv3x3S2FilterGrad(rt: GpuRuntime, x: GpuBuffer, dy: GpuBuffer, g: ConvGeometry): GpuBuffer {
  const ohw = g.oh * g.ow, segs = ohw / GN;
  const params = [...planeValues(g.c, g.h, g.w, g.k), g.ow, ohw, segs];
  return runFilterGrad(rt, gradKernel(), x, dy, g, GM, GC, g.n * segs, params);
}
