/**
 * Direct 3×3 convolution (stride 1, padding 1) for software adapters, reading both operands through the
 * texture unit (see `_texture.ts` for why), and the input gradient of the same convolution, which is the
 * same kernel over `dy` with the filter transposed and flipped.
 *
 * One invocation computes `RM` output channels × `RN` consecutive output pixels of one image (a segment
 * of the flattened `h·w` plane, `RN` a multiple of 4 dividing `h·w`). Per input channel and filter row it
 * fetches the `RN + 2` input values it needs as `RN/4 + 2` aligned texels, and per filter tap `RM/4`
 * texels of the packed filter; the three taps of a row reuse the fetched row with compile-time shifts,
 * and the image border is a select on the output pixel's row and column. Measured on llvmpipe (Mesa
 * 22.3, 2 cores): ~6 GMAC/s against ~2 for the implicit GEMM over storage buffers.
 *
 * The filter gradient sums `dy ⊗ x` over images and pixels: an invocation owns `GM` output channels ×
 * `GC` input channels × 9 taps and a run of (image, segment) steps; per step it fetches the segment of
 * `dy` for its output channels and the three input rows per input channel, and the partial sums of all
 * invocations are added afterwards.
 *
 * The filter is packed first, `[cin][3][3][kpad]` with output channels innermost (four to a texel) and
 * `kpad` a multiple of `RM` (zeros past `kout`).
 *
 * @module
 */
import type { ConvGeometry } from "../backend.ts";
import { groupsFor, wgslEntry } from "./_dispatch.ts";
import { defineKernel, type KernelSpec } from "./_kernel.ts";
import { sum } from "./_reduce.ts";
import type { GpuBuffer, GpuRuntime } from "./_runtime.ts";
import { wgslTexel } from "./_texture.ts";

/** Output channels per invocation. */
const RM = 16;
/** Output pixels per invocation. */
const RN = 16;
/** Invocations per workgroup: one 256-bit SIMD group of float32 lanes. */
const LANES = 8;

/** Uniforms both kernels start with: input channels, the plane, output channels. */
const PLANE_PARAMS = [["C", "u32"], ["H", "u32"], ["W", "u32"], ["HW", "u32"], ["K", "u32"]] as const;

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

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

/** WGSL: float `f` of the row fetched by {@linkcode fetchRow} into texels `${t}…` (−4 ≤ f < RN + 4). */
export function texelRowFloat(t: string, f: number): string {
  return `${t}${Math.floor((f + 4) / 4)}.${"xyzw"[(f + 4) % 4]}`;
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

function packKernel(): KernelSpec {
  const key = "conv_direct_pack";
  return defineKernel(key, () => ({
    key,
    op: "conv2d",
    bindings: [{ name: "w", access: "read" }, { name: "p", access: "read_write" }],
    params: [["KO", "u32"], ["CI", "u32"], ["KPAD", "u32"], ["T", "u32"], ["flip", "u32"], ["total", "u32"]],
    workgroupSize: 64,
    body: `${wgslEntry(64)}
  let i = group * 64u + lidx;
  if (i >= u.total) { return; }
  let ko = i % u.KPAD;
  let rest = i / u.KPAD;
  let tap = rest % u.T;
  let ci = rest / u.T;
  var v = 0.0;
  if (ko < u.KO) {
    // forward: w [KO][CI][T]; flipped (input gradient): w [CI][KO][T], taps reversed
    v = select(w[(ko * u.CI + ci) * u.T + tap], w[(ci * u.KO + ko) * u.T + u.T - 1u - tap], u.flip == 1u);
  }
  p[i] = v;
}`,
  }));
}

/**
 * The filter `[kout][cin][taps]` (flipped: `[cin][kout][taps]`, taps reversed) packed for the direct
 * kernels as `[cin][taps][kpad]`, output channels innermost and `kpad` = `kout` rounded up to `block`.
 */
export function packFilter(
  rt: GpuRuntime,
  w: GpuBuffer,
  kout: number,
  cin: number,
  taps: number,
  block: number,
  flip: boolean,
): GpuBuffer {
  const kpad = Math.ceil(kout / block) * block;
  const packedSize = cin * taps * kpad;
  const packed = rt.alloc(packedSize);
  rt.run(packKernel(), [w, packed], [kout, cin, kpad, taps, flip ? 1 : 0, packedSize], groupsFor(packedSize, 64));
  return packed;
}

function directKernel(): KernelSpec {
  const key = `conv3x3_direct_r${RM}x${RN}`;
  return defineKernel(key, () => {
    const L: string[] = [wgslTexel("x"), wgslTexel("wp"), wgslEntry(LANES)];
    L.push(`  let mg = group % u.mgroups;
  let seg = (group / u.mgroups) * ${LANES}u + lidx;
  let sv = min(seg, u.total - 1u);
  let img = sv / u.segs;
  let p0 = (sv - img * u.segs) * ${RN}u;`);
    L.push(borderMasks("  "));
    for (const i of range(RM)) L.push(`  ${range(RN).map((j) => `var c${i}_${j} = 0.0;`).join(" ")}`);
    L.push(`  for (var ch = 0u; ch < u.C; ch++) {
    let base = i32((img * u.C + ch) * u.HW + p0);
    let wbase = ch * 9u * u.KPAD4 + mg * ${RM / 4}u;`);
    for (const ky of range(3)) L.push(fetchRow("    ", `R${ky}_`, "base", ky));
    for (const tap of range(9)) {
      for (const q of range(RM / 4)) L.push(`    let w${tap}_${q} = wp_texel(wbase + ${tap}u * u.KPAD4 + ${q}u);`);
    }
    for (const ky of range(3)) {
      for (const kx of range(3)) {
        L.push(shiftedRow("    ", (j) => texelRowFloat(`R${ky}_`, j + kx - 1), `b${ky * 3 + kx}_`, ky, kx));
      }
    }
    // One write of each accumulator per channel: on llvmpipe every write of a loop-carried variable is a
    // masked store, and nine of them per channel cost ~40% of the kernel's time (measured).
    for (const i of range(RM)) {
      const w = (tap: number) => `w${tap}_${Math.floor(i / 4)}.${"xyzw"[i % 4]}`;
      for (const j of range(RN)) {
        let e = `c${i}_${j}`;
        for (const tap of range(9)) e = `fma(${w(tap)}, b${tap}_${j}, ${e})`;
        L.push(`    c${i}_${j} = ${e};`);
      }
    }
    L.push(`  }
  if (seg >= u.total) { return; }`);
    for (const i of range(RM)) {
      L.push(`  { let m = mg * ${RM}u + ${i}u; if (m < u.K) { let at = ((img * u.K + m) * u.HW + p0) / 4u;
    ${
        range(RN / 4).map((q) => `y[at + ${q}u] = vec4f(${range(4).map((j) => `c${i}_${4 * q + j}`).join(", ")});`)
          .join(" ")
      } } }`);
    }
    L.push(`}`);
    return {
      key,
      op: "conv2d",
      bindings: [
        { name: "x", access: "read", type: "texture" },
        { name: "wp", access: "read", type: "texture" },
        // vec4 stores: a quarter of the scalar stores' cost on llvmpipe
        { name: "y", access: "read_write", type: "vec4f" },
      ],
      params: [
        ...PLANE_PARAMS,
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

/**
 * `y [n, kout, h, w]` = 3×3 convolution (stride 1, padding 1) of `x [n, cin, h, w]` with `w [kout, cin, 3, 3]`;
 * with `flip`, `w` is `[cin, kout, 3, 3]` used transposed and rotated by 180° (the input gradient).
 */
export function conv3x3Direct(
  rt: GpuRuntime,
  x: GpuBuffer,
  w: GpuBuffer,
  n: number,
  cin: number,
  h: number,
  width: number,
  kout: number,
  flip: boolean,
): GpuBuffer {
  const kpad = Math.ceil(kout / RM) * RM;
  const packed = packFilter(rt, w, kout, cin, 9, RM, flip);
  const hw = h * width;
  const out = rt.alloc(n * kout * hw);
  const segs = hw / RN, total = n * segs, mgroups = kpad / RM;
  rt.run(
    directKernel(),
    [x, packed, out],
    [cin, h, width, hw, kout, kpad / 4, segs, total, mgroups],
    mgroups * groupsFor(total, LANES),
  );
  rt.release(packed);
  return out;
}

/** Output channels and input channels of one invocation of the filter gradient. */
const GM = 8;
const GC = 4;

function filterGradKernel(): KernelSpec {
  const key = `conv3x3_direct_dw_r${GM}x${GC}x${RN}`;
  return defineKernel(key, () => {
    const L: string[] = [wgslTexel("x"), wgslTexel("dy"), wgslEntry(LANES)];
    L.push(`  let kb = group % u.kblocks;
  let rest = group / u.kblocks;
  let cb = rest % u.cblocks;
  let q = (rest / u.cblocks) * ${LANES}u + lidx;
  let s_begin = min(u.steps, q * u.run);
  let s_end = min(u.steps, s_begin + u.run);`);
    for (const i of range(GM)) L.push(`  let k${i} = min(kb * ${GM}u + ${i}u, u.K - 1u);`);
    for (const c of range(GC)) L.push(`  let c${c} = min(cb * ${GC}u + ${c}u, u.C - 1u);`);
    for (const i of range(GM)) {
      for (const c of range(GC)) L.push(`  ${range(9).map((t) => `var a${i}_${c}_${t} = 0.0;`).join(" ")}`);
    }
    L.push(`  for (var sv = s_begin; sv < s_end; sv++) {
    let img = sv / u.segs;
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
            let e = `a${i}_${c}_${tap}`;
            for (const j of range(RN)) e = `fma(D${i}${Math.floor(j / 4)}.${"xyzw"[j % 4]}, b${j}, ${e})`;
            L.push(`          a${i}_${c}_${tap} = ${e};`);
          }
          L.push(`        }`);
        }
        L.push(`      }`);
      }
      L.push(`    }`);
    }
    L.push(`  }`);
    for (const i of range(GM)) {
      for (const c of range(GC)) {
        L.push(`  if (kb * ${GM}u + ${i}u < u.K && cb * ${GC}u + ${c}u < u.C) {
    let at = (q * u.K + k${i}) * u.C9 + c${c} * 9u;
    ${range(9).map((t) => `dw[at + ${t}u] = a${i}_${c}_${t};`).join(" ")}
  }`);
      }
    }
    L.push(`}`);
    return {
      key,
      op: "conv2dBackwardFilter",
      bindings: [
        { name: "x", access: "read", type: "texture" },
        { name: "dy", access: "read", type: "texture" },
        { name: "dw", access: "read_write" },
      ],
      params: [
        ...PLANE_PARAMS,
        ["C9", "u32"],
        ["segs", "u32"],
        ["steps", "u32"],
        ["run", "u32"],
        ["kblocks", "u32"],
        ["cblocks", "u32"],
      ],
      workgroupSize: LANES,
      body: L.join("\n"),
    };
  });
}

/** `dw [k, c, 3, 3]` of the 3×3 stride-1 padding-1 convolution of `x [n, c, h, w]` given `dy [n, k, h, w]`. */
export function conv3x3DirectFilterGrad(rt: GpuRuntime, x: GpuBuffer, dy: GpuBuffer, g: ConvGeometry): GpuBuffer {
  const hw = g.h * g.w, segs = hw / RN, steps = g.n * segs;
  const kblocks = Math.ceil(g.k / GM), cblocks = Math.ceil(g.c / GC), blocks = kblocks * cblocks;
  // Enough workgroups to keep every CPU thread busy, each lane with a run of at least 8 steps.
  const splits = Math.max(1, Math.min(Math.ceil(32 / blocks), Math.floor(steps / (8 * LANES))));
  const partials = splits * LANES;
  const run = Math.ceil(steps / partials);
  const size = g.k * g.c * 9;
  const out = rt.alloc(partials * size);
  rt.run(
    filterGradKernel(),
    [x, dy, out],
    [g.c, g.h, g.w, hw, g.k, g.c * 9, segs, steps, run, kblocks, cblocks],
    blocks * splits,
  );
  const total = sum(rt, out, 1, partials, size);
  rt.release(out);
  return total;
}
