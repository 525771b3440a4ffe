/**
 * 2-D convolution and its two gradients as implicit GEMMs on the template of `_gemm.ts`:
 *
 * | kernel | M | N | K | A | B |
 * | --- | --- | --- | --- | --- | --- |
 * | forward | k | n·oh·ow | c·r·s | w | im2col(x) |
 * | grad input | c | n·h'·w' | k·r'·s' | wᵀ | dy, per phase: the s² sub-grids of dx, each with the taps that reach it |
 * | grad filter | k | c·r·s | n·oh·ow | dy | im2col(x)ᵀ, k split across workgroups |
 *
 * Index arithmetic divides by uniforms with the exact float-reciprocal `fast_div` (dividends below 2^24;
 * larger problems compile an integer-division variant).
 *
 * @module
 */
import type { ConvGeometry } from "../backend.ts";
import { gemmKernel, type GemmOperands, planGemm, runGemm } from "./_gemm.ts";
import { conv3x3Direct, conv3x3DirectFilterGrad, directConvApplies } from "./_conv_direct.ts";
import {
  conv3x3DirectS2,
  conv3x3S2FilterGrad,
  conv3x3S2InputGrad,
  stride2ConvApplies,
  stride2FilterGradApplies,
  stride2InputGradApplies,
} from "./_conv_stride2.ts";
import {
  conv1x1Direct,
  conv1x1DirectInputGrad,
  pointwiseConvApplies,
  pointwiseInputGradApplies,
} from "./_conv_pointwise.ts";
import { divisor } from "./_kernel.ts";
import type { GpuBuffer, GpuRuntime } from "./_runtime.ts";
import { sum } from "./_reduce.ts";
import type { Tuning } from "./_tuning.ts";

const FAST_DIV_LIMIT = 2 ** 24;

/** Geometry uniforms shared by the three kernels. */
const CONV_PARAMS = [
  ["C", "u32"],
  ["H", "u32"],
  ["W", "u32"],
  ["KO", "u32"],
  ["OH", "u32"],
  ["OW", "u32"],
  ["stride", "u32"],
  ["stride_inv", "f32"],
  ["pad", "i32"],
  ["RS", "u32"],
  ["RS_inv", "f32"],
  ["S", "u32"],
  ["S_inv", "f32"],
  ["P", "u32"],
  ["P_inv", "f32"],
  ["OW_inv", "f32"],
] as const;

function convParams(g: ConvGeometry): number[] {
  return [
    g.c,
    g.h,
    g.w,
    g.k,
    g.oh,
    g.ow,
    ...divisor(g.stride),
    g.pad,
    ...divisor(g.r * g.s),
    ...divisor(g.s),
    ...divisor(g.oh * g.ow),
    divisor(g.ow)[1],
  ];
}

/** `a / b` in WGSL: `fast_div` or, for an `exact` variant, integer division. */
function div(exact: boolean, a: string, b: string): string {
  return exact ? `(${a} / u.${b})` : `fast_div(${a}, u.${b}, u.${b}_inv)`;
}

const variants = new Map<string, GemmOperands>();

function memo(name: string, build: () => Omit<GemmOperands, "name">): GemmOperands {
  let o = variants.get(name);
  if (!o) variants.set(name, o = { name, ...build() });
  return o;
}

function forwardOperands(): GemmOperands {
  return memo("conv_fwd", () => ({
    op: "conv2d",
    bindings: [{ name: "x", access: "read" }, { name: "w", access: "read" }, { name: "y", access: "read_write" }],
    params: CONV_PARAMS,
    a: `struct ARow { at: u32 }
fn a_row(m: u32) -> ARow { return ARow(m * u.K); }
fn a_at(r: ARow, k: u32) -> f32 { return w[r.at + k]; }`,
    b: `struct BCol { at: u32, iy: i32, ix: i32 }
fn b_col(n: u32) -> BCol {
  let img = n / u.P;
  let pix = n - img * u.P;
  let oy = pix / u.OW;
  let ox = pix - oy * u.OW;
  return BCol(img * u.C * u.H * u.W, i32(oy * u.stride) - u.pad, i32(ox * u.stride) - u.pad);
}
fn b_at(k: u32, c: BCol) -> f32 {
  let ch = ${div(false, "k", "RS")};
  let rs = k - ch * u.RS;
  let ky = ${div(false, "rs", "S")};
  let iy = c.iy + i32(ky);
  let ix = c.ix + i32(rs - ky * u.S);
  if (iy < 0 || iy >= i32(u.H) || ix < 0 || ix >= i32(u.W)) { return 0.0; }
  return x[c.at + (ch * u.H + u32(iy)) * u.W + u32(ix)];
}`,
    c: `struct CCol { at: u32 }
fn c_col(n: u32, z: u32) -> CCol {
  let img = n / u.P;
  return CCol(img * u.KO * u.P + (n - img * u.P));
}
fn c_store(m: u32, c: CCol, v: f32) { y[c.at + m * u.P] = v; }`,
  }));
}

/** Uniforms of one phase of the input gradient (see {@linkcode conv2dBackwardInput}). */
const PHASE_PARAMS = [
  ["py", "u32"],
  ["px", "u32"],
  ["iy0", "u32"],
  ["ix0", "u32"],
  ["Wp", "u32"],
  ["HWp", "u32"],
  ["taps", "u32"],
  ["taps_inv", "f32"],
  ["Sa", "u32"],
  ["Sa_inv", "f32"],
  ["oy0", "i32"],
  ["ox0", "i32"],
] as const;

function backwardInputOperands(): GemmOperands {
  return memo("conv_bwd_input", () => ({
    op: "conv2dBackwardInput",
    bindings: [{ name: "dy", access: "read" }, { name: "w", access: "read" }, { name: "dx", access: "read_write" }],
    params: [...CONV_PARAMS, ...PHASE_PARAMS],
    a: `struct ARow { c: u32 }
fn a_row(m: u32) -> ARow { return ARow(m); }
fn a_at(r: ARow, k: u32) -> f32 {
  let ko = ${div(false, "k", "taps")};
  let ab = k - ko * u.taps;
  let a = ${div(false, "ab", "Sa")};
  let ky = u.py + a * u.stride;
  let kx = u.px + (ab - a * u.Sa) * u.stride;
  return w[((ko * u.C + r.c) * (u.RS / u.S) + ky) * u.S + kx];
}`,
    b: `struct BCol { at: u32, oy: i32, ox: i32 }
fn b_col(n: u32) -> BCol {
  let img = n / u.HWp;
  let q = n - img * u.HWp;
  let t = q / u.Wp;
  return BCol(img * u.KO * u.P, i32(t) + u.oy0, i32(q - t * u.Wp) + u.ox0);
}
fn b_at(k: u32, c: BCol) -> f32 {
  let ko = ${div(false, "k", "taps")};
  let ab = k - ko * u.taps;
  let a = ${div(false, "ab", "Sa")};
  let oy = c.oy - i32(a);
  let ox = c.ox - i32(ab - a * u.Sa);
  if (oy < 0 || ox < 0 || oy >= i32(u.OH) || ox >= i32(u.OW)) { return 0.0; }
  return dy[c.at + (ko * u.OH + u32(oy)) * u.OW + u32(ox)];
}`,
    c: `struct CCol { at: u32 }
fn c_col(n: u32, z: u32) -> CCol {
  let img = n / u.HWp;
  let q = n - img * u.HWp;
  let t = q / u.Wp;
  let iy = u.iy0 + t * u.stride;
  let ix = u.ix0 + (q - t * u.Wp) * u.stride;
  return CCol(img * u.C * u.H * u.W + iy * u.W + ix);
}
fn c_store(m: u32, c: CCol, v: f32) { dx[c.at + m * u.H * u.W] = v; }`,
  }));
}

/** One phase of the input gradient: the input pixels `(iy, ix)` with `(iy + pad, ix + pad) ≡ (py, px) mod stride`. */
interface Phase {
  readonly py: number;
  readonly px: number;
  readonly iy0: number;
  readonly ix0: number;
  /** the phase's grid of input pixels */
  readonly hp: number;
  readonly wp: number;
  /** the filter taps `(py + a·stride, px + b·stride)` that reach it */
  readonly ra: number;
  readonly sa: number;
  /** `oy = t + oy0 − a` for the pixel `(iy0 + t·stride, …)` and tap `a` */
  readonly oy0: number;
  readonly ox0: number;
}

/** The `stride²` phases of an input gradient (one, the whole image, for stride 1). */
export function backwardInputPhases(g: ConvGeometry): Phase[] {
  const phases: Phase[] = [];
  const mod = (a: number, b: number) => ((a % b) + b) % b;
  for (let py = 0; py < g.stride; py++) {
    for (let px = 0; px < g.stride; px++) {
      const iy0 = mod(py - g.pad, g.stride), ix0 = mod(px - g.pad, g.stride);
      phases.push({
        py,
        px,
        iy0,
        ix0,
        hp: Math.max(0, Math.ceil((g.h - iy0) / g.stride)),
        wp: Math.max(0, Math.ceil((g.w - ix0) / g.stride)),
        ra: Math.max(0, Math.ceil((g.r - py) / g.stride)),
        sa: Math.max(0, Math.ceil((g.s - px) / g.stride)),
        oy0: (iy0 + g.pad - py) / g.stride,
        ox0: (ix0 + g.pad - px) / g.stride,
      });
    }
  }
  return phases;
}

function backwardFilterOperands(exact: boolean): GemmOperands {
  return memo(`conv_bwd_filter${exact ? "_exact" : ""}`, () => ({
    op: "conv2dBackwardFilter",
    bindings: [{ name: "x", access: "read" }, { name: "dy", access: "read" }, { name: "dw", access: "read_write" }],
    params: CONV_PARAMS,
    a: `struct ARow { at: u32 }
fn a_row(m: u32) -> ARow { return ARow(m * u.P); }
fn a_at(r: ARow, k: u32) -> f32 {
  let img = ${div(exact, "k", "P")};
  return dy[img * u.KO * u.P + r.at + (k - img * u.P)];
}`,
    b: `struct BCol { at: u32, ky: i32, kx: i32 }
fn b_col(n: u32) -> BCol {
  let ch = n / u.RS;
  let rs = n - ch * u.RS;
  let ky = rs / u.S;
  return BCol(ch * u.H * u.W, i32(ky) - u.pad, i32(rs - ky * u.S) - u.pad);
}
fn b_at(k: u32, c: BCol) -> f32 {
  let img = ${div(exact, "k", "P")};
  let pix = k - img * u.P;
  let oy = ${div(false, "pix", "OW")};
  let iy = i32(oy * u.stride) + c.ky;
  let ix = i32((pix - oy * u.OW) * u.stride) + c.kx;
  if (iy < 0 || iy >= i32(u.H) || ix < 0 || ix >= i32(u.W)) { return 0.0; }
  return x[img * u.C * u.H * u.W + c.at + u32(iy) * u.W + u32(ix)];
}`,
    c: `struct CCol { at: u32 }
fn c_col(n: u32, z: u32) -> CCol { return CCol(z * u.M * u.N + n); }
fn c_store(m: u32, c: CCol, v: f32) { dw[c.at + m * u.N] = v; }`,
  }));
}

/** Checks a geometry against the buffers it describes; throws an error naming the op and the sizes. */
export function checkConv(op: string, g: ConvGeometry, sizes: Record<string, [number, number]>): void {
  for (const [key, v] of Object.entries(g)) {
    if (!Number.isInteger(v) || v < 0) {
      throw new RangeError(`webgpu ${op}: geometry ${key} = ${v} is not a natural number`);
    }
  }
  if (g.stride < 1) throw new RangeError(`webgpu ${op}: stride must be at least 1, got ${g.stride}`);
  const oh = Math.floor((g.h + 2 * g.pad - g.r) / g.stride) + 1;
  const ow = Math.floor((g.w + 2 * g.pad - g.s) / g.stride) + 1;
  if (g.oh !== Math.max(0, oh) || g.ow !== Math.max(0, ow)) {
    throw new RangeError(
      `webgpu ${op}: output ${g.oh}x${g.ow} does not match input ${g.h}x${g.w}, filter ${g.r}x${g.s}, ` +
        `stride ${g.stride}, pad ${g.pad} (expected ${oh}x${ow})`,
    );
  }
  for (const [name, [have, want]] of Object.entries(sizes)) {
    if (have !== want) {
      throw new RangeError(
        `webgpu ${op}: ${name} has ${have} floats but the geometry ${JSON.stringify(g)} needs ${want}`,
      );
    }
  }
}

/** `y [n,k,oh,ow] = conv(x [n,c,h,w], w [k,c,r,s])`. */
export function conv2d(rt: GpuRuntime, tuning: Tuning, x: GpuBuffer, w: GpuBuffer, g: ConvGeometry): GpuBuffer {
  checkConv("conv2d", g, { x: [x.size, g.n * g.c * g.h * g.w], w: [w.size, g.k * g.c * g.r * g.s] });
  const m = g.k, n = g.n * g.oh * g.ow, k = g.c * g.r * g.s;
  if (m * n === 0) return rt.alloc(0);
  if (k === 0) return rt.zeros(m * n);
  if (tuning.directConv && directConvApplies(rt, g)) {
    return conv3x3Direct(rt, x, w, { n: g.n, cin: g.c, h: g.h, w: g.w, kout: g.k }, false);
  }
  if (tuning.directConv && stride2ConvApplies(rt, g)) return conv3x3DirectS2(rt, x, w, g);
  if (tuning.directConv && pointwiseConvApplies(rt, g)) return conv1x1Direct(rt, x, w, g);
  const tiling = tuning.gemm(m, n, k, false);
  const plan = planGemm(m, n, k, tiling, tuning.targetGroups, false);
  const out = rt.alloc(m * n);
  runGemm(rt, gemmKernel(forwardOperands(), tiling), [x, w, out], m, n, k, plan, convParams(g));
  return out;
}

/** `dx [n,c,h,w]` from `dy [n,k,oh,ow]` and `w [k,c,r,s]`. */
export function conv2dBackwardInput(
  rt: GpuRuntime,
  tuning: Tuning,
  dy: GpuBuffer,
  w: GpuBuffer,
  g: ConvGeometry,
): GpuBuffer {
  checkConv("conv2dBackwardInput", g, { dy: [dy.size, g.n * g.k * g.oh * g.ow], w: [w.size, g.k * g.c * g.r * g.s] });
  const m = g.c;
  if (m * g.n * g.h * g.w === 0) return rt.alloc(0);
  if (tuning.directConv && directConvApplies(rt, g)) {
    return conv3x3Direct(rt, dy, w, { n: g.n, cin: g.k, h: g.h, w: g.w, kout: g.c }, true);
  }
  if (tuning.directConv && pointwiseInputGradApplies(rt, g)) return conv1x1DirectInputGrad(rt, dy, w, g);
  if (tuning.directConv && stride2InputGradApplies(rt, g)) return conv3x3S2InputGrad(rt, dy, w, g);
  // Stride s cuts dx into s² phases, each a dense product over only the taps that reach it (the others
  // would multiply zeros); pixels no tap reaches stay zero.
  const phases = backwardInputPhases(g).filter((p) => p.hp * p.wp > 0);
  const complete = g.oh * g.ow > 0 && phases.every((p) => p.ra * p.sa > 0);
  const out = complete ? rt.alloc(m * g.n * g.h * g.w) : rt.zeros(m * g.n * g.h * g.w);
  if (g.oh * g.ow === 0) return out;
  for (const p of phases) {
    const n = g.n * p.hp * p.wp, k = g.k * p.ra * p.sa;
    if (k === 0) continue;
    const tiling = tuning.gemm(m, n, k, false);
    const plan = planGemm(m, n, k, tiling, tuning.targetGroups, false);
    const phase = [
      p.py,
      p.px,
      p.iy0,
      p.ix0,
      p.wp,
      p.hp * p.wp,
      ...divisor(p.ra * p.sa),
      ...divisor(p.sa),
      p.oy0,
      p.ox0,
    ];
    runGemm(rt, gemmKernel(backwardInputOperands(), tiling), [dy, w, out], m, n, k, plan, [...convParams(g), ...phase]);
  }
  return out;
}

/** `dw [k,c,r,s]` from `x [n,c,h,w]` and `dy [n,k,oh,ow]`, summed over the batch. */
export function conv2dBackwardFilter(
  rt: GpuRuntime,
  tuning: Tuning,
  x: GpuBuffer,
  dy: GpuBuffer,
  g: ConvGeometry,
): GpuBuffer {
  checkConv("conv2dBackwardFilter", g, { x: [x.size, g.n * g.c * g.h * g.w], dy: [dy.size, g.n * g.k * g.oh * g.ow] });
  const m = g.k, n = g.c * g.r * g.s, k = g.n * g.oh * g.ow;
  if (m * n === 0) return rt.alloc(0);
  if (k === 0) return rt.zeros(m * n);
  if (tuning.directConv && directConvApplies(rt, g)) return conv3x3DirectFilterGrad(rt, x, dy, g);
  if (tuning.directConv && stride2FilterGradApplies(rt, g)) return conv3x3S2FilterGrad(rt, x, dy, g);
  const tiling = tuning.gemm(m, n, k, true);
  const plan = planGemm(m, n, k, tiling, tuning.targetGroups, true);
  const kernel = gemmKernel(backwardFilterOperands(k >= FAST_DIV_LIMIT), tiling);
  const out = rt.alloc(plan.partials * m * n);
  runGemm(rt, kernel, [x, dy, out], m, n, k, plan, convParams(g));
  if (plan.partials === 1) return out;
  const total = sum(rt, out, 1, plan.partials, m * n);
  rt.release(out);
  return total;
}
