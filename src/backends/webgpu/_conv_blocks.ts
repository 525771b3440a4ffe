/**
 * What the direct convolution kernels (`_conv_direct.ts`, `_conv_stride2.ts`, `_conv_pointwise.ts`) are
 * made of: the packed filter, the WGSL that assigns an invocation its block of outputs, the chains of
 * multiply-adds that write each accumulator once per input channel, the vec4 stores of the block, and
 * the filter gradients' partial sums.
 *
 * Why the chains: llvmpipe (Mesa 22.3) masks every write of a variable carried around a loop; one write
 * per accumulator per input channel, as a chain of `fma`s, measured ~1.5× faster than one write per tap.
 *
 * @module
 */
import type { ConvGeometry } from "../backend.ts";
import { groupsFor, wgslEntry, wgslForEach } from "./_dispatch.ts";
import { defineKernel, type KernelDefinition, type KernelSpec, type ParamType } from "./_kernel.ts";
import { sum } from "./_reduce.ts";
import type { GpuBuffer, GpuRuntime } from "./_runtime.ts";
import { wgslTexel } from "./_texture.ts";

/** Invocations per workgroup: one 256-bit SIMD group of float32 lanes. */
export const LANES = 8;

/** Uniforms the kernels start with: input channels, the input plane, output channels. */
export const PLANE_PARAMS: readonly (readonly [string, ParamType])[] = [
  ["C", "u32"],
  ["H", "u32"],
  ["W", "u32"],
  ["HW", "u32"],
  ["K", "u32"],
];

/** The values of {@linkcode PLANE_PARAMS}. */
export function planeValues(c: number, h: number, w: number, k: number): number[] {
  return [c, h, w, h * w, k];
}

/** A direct kernel's problem: `n` images of `cin` channels on an `h × w` plane into `kout` channels. */
export interface Planes {
  readonly n: number;
  readonly cin: number;
  readonly h: number;
  readonly w: number;
  readonly kout: number;
}

/** `[0, 1, …, n − 1]`. */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** WGSL: component `i` of the vec4 named `${v}{i/4}` (`w3` and 9 give `w2.y`). */
export function lane(v: string, i: number): string {
  return `${v}${Math.floor(i / 4)}.${"xyzw"[i % 4]}`;
}

/** WGSL: float `f` (−4 ≤ f) of a row fetched as texels `${t}0, ${t}1, …`, `${t}0` holding floats −4 … −1. */
export function texelRowFloat(t: string, f: number): string {
  return `${t}${Math.floor((f + 4) / 4)}.${"xyzw"[(f + 4) % 4]}`;
}

/** WGSL: `acc = fma(a₀, b₀, …)` over `pairs`, written once. */
export function wgslChain(acc: string, pairs: readonly (readonly [string, string])[]): string {
  let e = acc;
  for (const [a, b] of pairs) e = `fma(${a}, ${b}, ${e})`;
  return `${acc} = ${e};`;
}

function packKernel(): KernelSpec {
  const key = "conv_direct_pack";
  return defineKernel(key, () => ({
    key,
    op: "conv2d",
    bindings: [{ name: "w", access: "read" }, { name: "p", access: "read_write" }],
    params: [["KO", "u32"], ["CI", "u32"], ["KPAD", "u32"], ["T", "u32"], ["flip", "u32"], ["total", "u32"]],
    workgroupSize: 64,
    body: `${wgslForEach(64, "u.total")}
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

/**
 * A kernel whose invocations each own `rm` output channels × a block of `rn` outputs, reading input `x`
 * and the packed filter `wp` through textures and writing `y` as vec4s. The uniforms are `params` and
 * then `KPAD4, segs, total, mgroups`; `body(L)` adds the WGSL between {@linkcode wgslBlockStart}'s
 * prologue and the stores (after the accumulators `c{i}_{j}` are declared).
 */
export function blockKernel(
  key: string,
  op: string,
  rm: number,
  rn: number,
  params: readonly (readonly [string, ParamType])[],
  body: (L: string[]) => void,
): KernelSpec {
  return defineKernel(key, (): KernelDefinition => {
    const L: string[] = [wgslTexel("x"), wgslTexel("wp"), wgslEntry(LANES)];
    // Output-channel block mg of the workgroup; lane → block of outputs p0 … p0 + rn − 1 of image img.
    L.push(`  let mg = group % u.mgroups;
  let seg = (group / u.mgroups) * ${LANES}u + lidx;
  let sv = min(seg, u.total - 1u);
  let img = sv / u.segs;
  let p0 = (sv - img * u.segs) * ${rn}u;`);
    for (const i of range(rm)) L.push(`  ${range(rn).map((j) => `var c${i}_${j} = 0.0;`).join(" ")}`);
    body(L);
    L.push(`  if (seg >= u.total) { return; }`);
    for (const i of range(rm)) {
      const stores = range(rn / 4).map((q) => `y[at + ${q}u] = vec4f(${range(4).map((j) => `c${i}_${4 * q + j}`)});`);
      L.push(`  { let m = mg * ${rm}u + ${i}u; if (m < u.K) { let at = ((img * u.K + m) * u.OHW + p0) / 4u;
    ${stores.join(" ")} } }`);
    }
    L.push(`}`);
    return {
      key,
      op,
      bindings: [
        { name: "x", access: "read", type: "texture" },
        { name: "wp", access: "read", type: "texture" },
        // vec4 stores: a quarter of the scalar stores' cost on llvmpipe
        { name: "y", access: "read_write", type: "vec4f" },
      ],
      params: [...params, ["OHW", "u32"], ["KPAD4", "u32"], ["segs", "u32"], ["total", "u32"], ["mgroups", "u32"]],
      workgroupSize: LANES,
      body: L.join("\n"),
    };
  });
}

/** WGSL: `w{tap}_{q}`, the packed weights of the invocation's `rm` output channels for input channel `ch`. */
export function wgslWeights(indent: string, rm: number, taps: number, ch: string, suffix = ""): string {
  const lines = [`${indent}let wbase${suffix} = ${ch} * ${taps}u * u.KPAD4 + mg * ${rm / 4}u;`];
  for (const tap of range(taps)) {
    for (const q of range(rm / 4)) {
      lines.push(`${indent}let w${suffix}${tap}_${q} = wp_texel(wbase${suffix} + ${tap}u * u.KPAD4 + ${q}u);`);
    }
  }
  return lines.join("\n");
}

/**
 * Runs a {@linkcode blockKernel}: packs `w` for `kout` output channels in blocks of `rm`, allocates
 * `[n, kout, ohw]`, and dispatches `total` blocks of outputs (`segs` per image) for every channel block.
 */
export function runBlockKernel(
  rt: GpuRuntime,
  kernel: KernelSpec,
  x: GpuBuffer,
  w: GpuBuffer,
  shape: { n: number; cin: number; kout: number; ohw: number; taps: number; rm: number; segs: number },
  flip: boolean,
  params: readonly number[],
): GpuBuffer {
  const { n, cin, kout, ohw, taps, rm, segs } = shape;
  const packed = packFilter(rt, w, kout, cin, taps, rm, flip);
  const out = rt.alloc(n * kout * ohw);
  const total = n * segs, mgroups = Math.ceil(kout / rm);
  rt.run(
    kernel,
    [x, packed, out],
    [...params, ohw, (mgroups * rm) / 4, segs, total, mgroups],
    mgroups * groupsFor(total, LANES),
  );
  rt.release(packed);
  return out;
}

/**
 * A filter-gradient kernel: an invocation owns `gm` output channels (`k{i}`) × `gc` input channels
 * (`c{c}`) × 9 taps of accumulators `a{i}_{c}_{tap}` and the run of steps `s_begin … s_end` of its lane;
 * `step(L)` adds the WGSL of one step `sv` (the loop is this function's). Partial sums go to
 * `dw [lane run][k][c][9]`. The uniforms are `params`, then `C9, steps, run, kblocks, cblocks`.
 */
export function filterGradKernel(
  key: string,
  gm: number,
  gc: number,
  params: readonly (readonly [string, ParamType])[],
  step: (L: string[]) => void,
): KernelSpec {
  return defineKernel(key, (): KernelDefinition => {
    const L: string[] = [wgslTexel("x"), wgslTexel("dy"), wgslEntry(LANES)];
    L.push(`  let kb = group % u.kblocks;
  let rest = group / u.kblocks;
  let cb = rest % u.cblocks;
  let q = (rest / u.cblocks) * ${LANES}u + lidx;
  let s_begin = min(u.steps, q * u.run);
  let s_end = min(u.steps, s_begin + u.run);`);
    for (const i of range(gm)) L.push(`  let k${i} = min(kb * ${gm}u + ${i}u, u.K - 1u);`);
    for (const c of range(gc)) L.push(`  let c${c} = min(cb * ${gc}u + ${c}u, u.C - 1u);`);
    for (const i of range(gm)) {
      for (const c of range(gc)) L.push(`  ${range(9).map((t) => `var a${i}_${c}_${t} = 0.0;`).join(" ")}`);
    }
    L.push(`  for (var sv = s_begin; sv < s_end; sv++) {`);
    step(L);
    L.push(`  }`);
    for (const i of range(gm)) {
      for (const c of range(gc)) {
        L.push(`  if (kb * ${gm}u + ${i}u < u.K && cb * ${gc}u + ${c}u < u.C) {
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
      params: [...params, ["C9", "u32"], ["steps", "u32"], ["run", "u32"], ["kblocks", "u32"], ["cblocks", "u32"]],
      workgroupSize: LANES,
      body: L.join("\n"),
    };
  });
}

/** Runs a {@linkcode filterGradKernel} over `steps` steps and sums the partial products into `dw [k, c, 3, 3]`. */
export function runFilterGrad(
  rt: GpuRuntime,
  kernel: KernelSpec,
  x: GpuBuffer,
  dy: GpuBuffer,
  g: ConvGeometry,
  gm: number,
  gc: number,
  steps: number,
  params: readonly number[],
): GpuBuffer {
  const kblocks = Math.ceil(g.k / gm), cblocks = Math.ceil(g.c / gc), blocks = kblocks * cblocks;
  // Enough workgroups to keep every CPU thread busy, each lane with a run of at least 8 steps.
  const splits = Math.max(1, Math.min(Math.ceil(32 / blocks), Math.floor(steps / (8 * LANES))));
  const partials = splits * LANES;
  const run = Math.ceil(steps / partials);
  const size = g.k * g.c * 9;
  const out = rt.alloc(partials * size);
  rt.run(kernel, [x, dy, out], [...params, g.c * 9, steps, run, kblocks, cblocks], blocks * splits);
  const total = sum(rt, out, 1, partials, size);
  rt.release(out);
  return total;
}
