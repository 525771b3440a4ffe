/**
 * One tiled GEMM template, `C[m, n] = Σ_k A[m, k] B[k, n]`, that serves matmul and the three
 * convolution kernels (implicit GEMM: the im2col matrix is never stored, its elements are computed from
 * the image where the tile is loaded).
 *
 * A workgroup of `wx × wy` invocations computes a `(wy·rm) × (wx·rn)` tile of C; each invocation keeps
 * an `rm × rn` block in registers. Per step of `tk`, the workgroup loads an A tile and a B tile into
 * workgroup memory (as vec4 along m and n), then every invocation runs `tk` rank-1 updates from it.
 * Workgroups along z split the k range ("split-K") when the tiles alone cannot fill the device; their
 * partial products are summed afterwards.
 *
 * An operand variant supplies three small WGSL pieces: how to find row `m` of A and read `A[m, k]`, how
 * to find column `n` of B and read `B[k, n]`, and where `C[m, n]` of split `z` goes. Rows and columns are
 * resolved once per invocation (outside the k loop), so the index arithmetic of implicit GEMM runs once
 * per element loaded, not per multiply.
 *
 * @module
 */
import { wgslEntry } from "./_dispatch.ts";
import { type BindingSpec, defineKernel, type KernelSpec, type ParamType } from "./_kernel.ts";
import type { GpuBuffer, GpuRuntime } from "./_runtime.ts";

/**
 * Compile-time shape of the GEMM tiles. `rm`, `rn` are multiples of 4.
 *
 * `staging: "workgroup"` (GPUs) loads each k step's tiles into workgroup memory once for all
 * invocations. `staging: "registers_k"` is the register template with the `wx` invocations splitting k
 * instead of n (for narrow products with a long k, such as filter gradients): each writes its own partial
 * product, summed with the split-K partials. `staging: "registers"` (software adapters, where a workgroup-memory access costs more
 * than a storage-buffer one) has each invocation read its operands straight into registers: `wy` must
 * be 1, all invocations share the `rm` rows and each owns `rn` columns.
 */
export interface GemmTiling {
  readonly name: string;
  readonly staging: "workgroup" | "registers" | "registers_k";
  /** invocations along n and along m */
  readonly wx: number;
  readonly wy: number;
  /** register block per invocation: rows (m) and columns (n) */
  readonly rm: number;
  readonly rn: number;
  /** depth of one k step */
  readonly tk: number;
}

/** The WGSL pieces that make the template a particular product. */
export interface GemmOperands {
  /** Variant name, part of the kernel key. */
  readonly name: string;
  /** The contract op, for error messages. */
  readonly op: string;
  /** Storage bindings; the kernel reads A and B from them and writes C through `c_store`. */
  readonly bindings: readonly BindingSpec[];
  /** Uniforms beyond the template's own (`M`, `N`, `K`, tiling and split bookkeeping). */
  readonly params: readonly (readonly [string, ParamType])[];
  /** `struct ARow`, `fn a_row(m: u32) -> ARow`, `fn a_at(r: ARow, k: u32) -> f32` (called for m < M, k < K). */
  readonly a: string;
  /** `struct BCol`, `fn b_col(n: u32) -> BCol`, `fn b_at(k: u32, c: BCol) -> f32` (called for k < K, n < N). */
  readonly b: string;
  /** `struct CCol`, `fn c_col(n: u32, z: u32) -> CCol`, `fn c_store(m: u32, c: CCol, v: f32)` (m < M, n < N). */
  readonly c: string;
}

/** Template uniforms, first in `Params`. */
const GEMM_PARAMS: readonly (readonly [string, ParamType])[] = [
  ["M", "u32"],
  ["N", "u32"],
  ["K", "u32"],
  ["tiles_n", "u32"],
  ["tiles_m", "u32"],
  ["groups", "u32"],
  ["k_split", "u32"],
];

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Checks that a tiling is one the template can load with whole vec4s and fixed rows and columns. */
export function checkTiling(t: GemmTiling): void {
  if (t.staging !== "workgroup") {
    if (t.wy !== 1) throw new Error(`webgpu gemm: register tiling ${t.name} needs wy = 1`);
    return;
  }
  const threads = t.wx * t.wy;
  const tm4 = (t.wy * t.rm) / 4, tn4 = (t.wx * t.rn) / 4;
  const ok = t.rm % 4 === 0 && t.rn % 4 === 0 && threads % tm4 === 0 && threads % tn4 === 0 &&
    (t.tk * tm4) % threads === 0 && (t.tk * tn4) % threads === 0;
  if (!ok) throw new Error(`webgpu gemm: tiling ${JSON.stringify(t)} does not divide into whole vec4 loads`);
}

/** WGSL of the template for one operand variant and tiling. */
function gemmWgsl(o: GemmOperands, t: GemmTiling): string {
  checkTiling(t);
  const threads = t.wx * t.wy;
  const TM = t.wy * t.rm, TN = t.wx * t.rn;
  const tm4 = TM / 4, tn4 = TN / 4, rm4 = t.rm / 4, rn4 = t.rn / 4;
  const aLoads = (t.tk * tm4) / threads, bLoads = (t.tk * tn4) / threads;
  const aStep = threads / tm4, bStep = threads / tn4;
  const acc = (i: number, j4: number) => `acc_${i}_${j4}`;
  const lines: string[] = [];
  lines.push(`var<workgroup> a_tile: array<vec4f, ${t.tk * tm4}>;`);
  lines.push(`var<workgroup> b_tile: array<vec4f, ${t.tk * tn4}>;`);
  lines.push(o.a, o.b, o.c);
  lines.push(`fn a_load(r: ARow, ok: bool, k: u32, k_end: u32) -> f32 {
  if (ok && k < k_end) { return a_at(r, k); }
  return 0.0;
}
fn b_load(k: u32, c: BCol, ok: bool, k_end: u32) -> f32 {
  if (ok && k < k_end) { return b_at(k, c); }
  return 0.0;
}`);
  lines.push(wgslEntry(threads));
  lines.push(`  if (group >= u.groups) { return; }
  let tn = group % u.tiles_n;
  let tmz = group / u.tiles_n;
  let tm = tmz % u.tiles_m;
  let z = tmz / u.tiles_m;
  let row0 = tm * ${TM}u;
  let col0 = tn * ${TN}u;
  let k_begin = z * u.k_split;
  let k_end = min(u.K, k_begin + u.k_split);
  let tx = lidx % ${t.wx}u;
  let ty = lidx / ${t.wx}u;
  // The four rows of A and four columns of B this invocation loads, resolved once.
  let a_m4 = lidx % ${tm4}u;
  let a_k0 = lidx / ${tm4}u;
  let b_n4 = lidx % ${tn4}u;
  let b_k0 = lidx / ${tn4}u;`);
  for (const q of range(4)) {
    lines.push(`  let a_m${q} = row0 + a_m4 * 4u + ${q}u;
  let a_r${q} = a_row(a_m${q});
  let a_ok${q} = a_m${q} < u.M;
  let b_n${q} = col0 + b_n4 * 4u + ${q}u;
  let b_c${q} = b_col(b_n${q});
  let b_ok${q} = b_n${q} < u.N;`);
  }
  for (const i of range(t.rm)) for (const j4 of range(rn4)) lines.push(`  var ${acc(i, j4)} = vec4f(0.0);`);
  lines.push(`  for (var k0 = k_begin; k0 < k_end; k0 += ${t.tk}u) {`);
  for (const l of range(aLoads)) {
    const kk = `a_k0 + ${l * aStep}u`;
    lines.push(`    {
      let kk = ${kk};
      let k = k0 + kk;
      a_tile[kk * ${tm4}u + a_m4] = vec4f(${range(4).map((q) => `a_load(a_r${q}, a_ok${q}, k, k_end)`).join(", ")});
    }`);
  }
  for (const l of range(bLoads)) {
    const kk = `b_k0 + ${l * bStep}u`;
    lines.push(`    {
      let kk = ${kk};
      let k = k0 + kk;
      b_tile[kk * ${tn4}u + b_n4] = vec4f(${range(4).map((q) => `b_load(k, b_c${q}, b_ok${q}, k_end)`).join(", ")});
    }`);
  }
  lines.push(`    workgroupBarrier();
    for (var kk = 0u; kk < ${t.tk}u; kk++) {`);
  for (const i4 of range(rm4)) lines.push(`      let a${i4} = a_tile[kk * ${tm4}u + ty * ${rm4}u + ${i4}u];`);
  for (const j4 of range(rn4)) lines.push(`      let b${j4} = b_tile[kk * ${tn4}u + tx * ${rn4}u + ${j4}u];`);
  for (const i of range(t.rm)) {
    for (const j4 of range(rn4)) {
      const a = `a${Math.floor(i / 4)}.${"xyzw"[i % 4]}`;
      lines.push(`      ${acc(i, j4)} = fma(vec4f(${a}), b${j4}, ${acc(i, j4)});`);
    }
  }
  lines.push(`    }
    workgroupBarrier();
  }`);
  for (const j of range(t.rn)) {
    const j4 = Math.floor(j / 4), lane = "xyzw"[j % 4];
    lines.push(`  {
    let n = col0 + tx * ${t.rn}u + ${j}u;
    if (n < u.N) {
      let c = c_col(n, z);`);
    for (const i of range(t.rm)) {
      lines.push(
        `      { let m = row0 + ty * ${t.rm}u + ${i}u; if (m < u.M) { c_store(m, c, ${acc(i, j4)}.${lane}); } }`,
      );
    }
    lines.push(`    }
  }`);
  }
  lines.push("}");
  return lines.join("\n");
}

/**
 * WGSL of the register-staged template: each invocation reads `rm` values of A and `rn` of B per k and
 * runs `rm·rn` multiply-adds on them. Rows and columns past the edge are clamped to the last one (their
 * results are computed and dropped), so the k loop has no bounds checks.
 */
/** k steps per iteration of the register template's loop (1, 2 and 4 measured on llvmpipe: 4 is ~10% faster than 1). */
const UNROLL = 4;

function gemmRegistersWgsl(o: GemmOperands, t: GemmTiling): string {
  checkTiling(t);
  const lanesOverK = t.staging === "registers_k";
  const lines: string[] = [o.a, o.b, o.c, wgslEntry(t.wx)];
  lines.push(`  if (group >= u.groups) { return; }
  let tn = group % u.tiles_n;
  let tmz = group / u.tiles_n;
  let tm = tmz % u.tiles_m;
  let row0 = tm * ${t.rm}u;`);
  if (lanesOverK) {
    // Lane l takes the l-th of wx runs of this split's k range and writes partial product z·wx + l.
    lines.push(`  let col0 = tn * ${t.rn}u;
  let z = (tmz / u.tiles_m) * ${t.wx}u + lidx;
  let run = (u.k_split + ${t.wx - 1}u) / ${t.wx}u;
  let k_begin = min(u.K, (tmz / u.tiles_m) * u.k_split + lidx * run);
  let k_end = min(min(u.K, (tmz / u.tiles_m) * u.k_split + u.k_split), k_begin + run);`);
  } else {
    lines.push(`  let col0 = tn * ${t.wx * t.rn}u + lidx * ${t.rn}u;
  let z = tmz / u.tiles_m;
  let k_begin = z * u.k_split;
  let k_end = min(u.K, k_begin + u.k_split);`);
  }
  for (const i of range(t.rm)) lines.push(`  let ar${i} = a_row(min(row0 + ${i}u, u.M - 1u));`);
  for (const j of range(t.rn)) lines.push(`  let bc${j} = b_col(min(col0 + ${j}u, u.N - 1u));`);
  for (const i of range(t.rm)) lines.push(`  ${range(t.rn).map((j) => `var c${i}_${j} = 0.0;`).join(" ")}`);
  // Steps of UNROLL k with one write of each accumulator per step (on llvmpipe every write of a
  // loop-carried variable is a masked store), then the remainder one k at a time.
  const U = UNROLL;
  const step = (u: number, loop: string) => {
    lines.push(loop);
    for (const q of range(u)) {
      for (const i of range(t.rm)) lines.push(`    let a${i}_${q} = a_at(ar${i}, k + ${q}u);`);
      for (const j of range(t.rn)) lines.push(`    let b${j}_${q} = b_at(k + ${q}u, bc${j});`);
    }
    for (const i of range(t.rm)) {
      for (const j of range(t.rn)) {
        let e = `c${i}_${j}`;
        for (const q of range(u)) e = `fma(a${i}_${q}, b${j}_${q}, ${e})`;
        lines.push(`    c${i}_${j} = ${e};`);
      }
    }
    lines.push(`  }`);
  };
  lines.push(`  var k = k_begin;`);
  if (U > 1) step(U, `  for (; k + ${U - 1}u < k_end; k += ${U}u) {`);
  step(1, `  for (; k < k_end; k++) {`);
  for (const j of range(t.rn)) {
    lines.push(`  if (col0 + ${j}u < u.N) {
    let c = c_col(col0 + ${j}u, z);`);
    for (const i of range(t.rm)) lines.push(`    if (row0 + ${i}u < u.M) { c_store(row0 + ${i}u, c, c${i}_${j}); }`);
    lines.push(`  }`);
  }
  lines.push("}");
  return lines.join("\n");
}

/** The kernel of an operand variant with a tiling (compiled once per pair). */
export function gemmKernel(o: GemmOperands, t: GemmTiling): KernelSpec {
  const key = `gemm_${o.name}_${t.name}`;
  return defineKernel(key, () => ({
    key,
    op: o.op,
    bindings: o.bindings,
    params: [...GEMM_PARAMS, ...o.params],
    workgroupSize: t.wx * t.wy,
    body: t.staging === "workgroup" ? gemmWgsl(o, t) : gemmRegistersWgsl(o, t),
  }));
}

/**
 * How a product is cut into workgroups: the tile grid, and k split `splits` ways of `kSplit` each. The
 * kernel writes `partials` products of `m × n` to be summed (`splits`, times `wx` for lanes over k); one
 * means the result is written directly.
 */
export interface GemmPlan {
  readonly tilesM: number;
  readonly tilesN: number;
  readonly splits: number;
  readonly kSplit: number;
  readonly partials: number;
}

/**
 * Plans a product so that at least `targetGroups` workgroups run when k is long enough: split-K adds
 * workgroups along z, each with at least `minKSteps` steps of `tk`.
 */
export function planGemm(
  m: number,
  n: number,
  k: number,
  t: GemmTiling,
  targetGroups: number,
  allowSplit: boolean,
  minKSteps = 8,
): GemmPlan {
  const lanesOverK = t.staging === "registers_k";
  if (lanesOverK && !allowSplit) throw new Error(`webgpu gemm: tiling ${t.name} needs a product that may split k`);
  const tilesM = Math.ceil(m / (t.wy * t.rm));
  const tilesN = Math.ceil(n / (lanesOverK ? t.rn : t.wx * t.rn));
  const tiles = tilesM * tilesN;
  let splits = 1;
  if (allowSplit && tiles < targetGroups) {
    const steps = t.tk * minKSteps * (lanesOverK ? t.wx : 1);
    splits = Math.max(1, Math.min(Math.ceil(targetGroups / tiles), Math.floor(k / steps)));
  }
  const kSplit = Math.max(t.tk, Math.ceil(Math.ceil(k / splits) / t.tk) * t.tk);
  splits = Math.max(1, Math.ceil(k / kSplit));
  return { tilesM, tilesN, splits, kSplit, partials: splits * (lanesOverK ? t.wx : 1) };
}

/** Uniform values of the template for a plan. */
export function gemmParams(m: number, n: number, k: number, p: GemmPlan): number[] {
  return [m, n, k, p.tilesN, p.tilesM, p.tilesM * p.tilesN * p.splits, p.kSplit];
}

/** Runs a planned product; `out` holds `plan.partials` products of `m × n` (see {@linkcode GemmPlan}). */
export function runGemm(
  rt: GpuRuntime,
  kernel: KernelSpec,
  buffers: readonly GpuBuffer[],
  m: number,
  n: number,
  k: number,
  plan: GemmPlan,
  extra: readonly number[],
): void {
  rt.run(kernel, buffers, [...gemmParams(m, n, k, plan), ...extra], plan.tilesM * plan.tilesN * plan.splits);
}
