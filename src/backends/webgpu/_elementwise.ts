/**
 * Elementwise kernels: unary ops with the exact meaning of `unaryScalar` (src/backends/cpu/elementwise.ts),
 * broadcasting binary ops, the strided gather, and the in-place SGD update.
 *
 * Binary and strided kernels are specialised by rank (1 to {@linkcode MAX_RANK}, after adjacent axes
 * are merged), never by size: shapes and strides travel as uniforms.
 *
 * @module
 */
import { type BinaryOp, elementCount, type SgdOptions, type UnaryOp } from "../backend.ts";
import { groupsFor, wgslEntry, wgslForEach } from "./_dispatch.ts";
import { defineKernel, type KernelSpec } from "./_kernel.ts";
import type { GpuBuffer, GpuRuntime } from "./_runtime.ts";

const WG = 256;

/** Highest rank of a binary or strided kernel after adjacent axes are merged. */
export const MAX_RANK = 8;

/** WGSL expression of each unary op in terms of `x` and the uniforms `u.a`, `u.b`. */
const UNARY_WGSL: Record<UnaryOp, string> = {
  affine: "fma(x, u.a, u.b)",
  exp: "exp(x)",
  log: "log(x)",
  sqrt: "sqrt(x)",
  rsqrt: "1.0 / sqrt(x)",
  abs: "abs(x)",
  sign: "select(select(0.0, -1.0, x < 0.0), 1.0, x > 0.0)",
  pow: "pow_js(x, u.a)",
  // A NaN `x` gives NaN (not `a`) and `u.b`, as in the cpu backend. WGSL's `max` need not propagate NaN, and
  // a compiler that assumes no NaN may fold `x != x` away: `is_nan` tests the bits.
  max: "select(u.a, x, x > u.a || is_nan(x))",
  gt: "select(select(0.0, u.b, is_nan(x)), 1.0, x > u.a)",
};

/** `x ** a` as JavaScript defines it, including negative bases with integer exponents and infinities. */
const POW_JS = `fn pow_js(x: f32, a: f32) -> f32 {
  if (a == 0.0) { return 1.0; }
  if (is_nan(x) || is_nan(a)) { return nan_f32(); }
  if (a == 1.0) { return x; }
  if (a == 2.0) { return x * x; }
  if (a == -1.0) { return 1.0 / x; }
  let ax = abs(x);
  var r: f32;
  if (ax == 0.0) {
    r = select(0.0, bitcast<f32>(0x7f800000u), a < 0.0);
  } else {
    // |x| = 1 with an infinite exponent gives exp2(NaN) = NaN, as in JavaScript
    r = exp2(a * log2(ax));
  }
  if ((bitcast<u32>(x) & 0x80000000u) != 0u) {
    // floats of magnitude 2^24 and more are even integers
    let big = abs(a) >= 16777216.0;
    if (!big && fract(a) != 0.0) {
      // a negative base to a fractional power is NaN, except for -0 and -Infinity
      return select(nan_f32(), r, ax == 0.0 || ax == bitcast<f32>(0x7f800000u));
    }
    if (!big && fract(a * 0.5) != 0.0) { return -r; }
  }
  return r;
}`;

/**
 * `op` elementwise; with `vec4`, each invocation maps four consecutive floats (whole vec4 reads and
 * writes, for sizes that are multiples of 4).
 */
function unaryKernel(op: UnaryOp, vec4: boolean): KernelSpec {
  const key = `unary_${op}${vec4 ? "_v4" : ""}`;
  const type = vec4 ? "vec4f" : "f32";
  return defineKernel(key, () => ({
    key,
    op: "unary",
    bindings: [{ name: "src", access: "read", type }, { name: "dst", access: "read_write", type }],
    params: [["n", "u32"], ["a", "f32"], ["b", "f32"]],
    workgroupSize: WG,
    body: `${op === "pow" ? POW_JS : ""}
fn f(x: f32) -> f32 { return ${UNARY_WGSL[op]}; }
${wgslForEach(WG, "u.n")}
  let v = src[i];
  dst[i] = ${vec4 ? "vec4f(f(v.x), f(v.y), f(v.z), f(v.w))" : "f(v)"};
}`,
  }));
}

/** `op(x, a, b)` elementwise. */
export function unary(rt: GpuRuntime, op: UnaryOp, x: GpuBuffer, a: number, b: number): GpuBuffer {
  if (!(op in UNARY_WGSL)) throw new RangeError(`webgpu unary: unknown op ${JSON.stringify(op)}`);
  const out = rt.alloc(x.size);
  const vec4 = x.size % 4 === 0;
  const n = vec4 ? x.size / 4 : x.size;
  rt.run(unaryKernel(op, vec4), [x, out], [n, a, b], groupsFor(n, WG));
  return out;
}

const BINARY_WGSL: Record<BinaryOp, string> = { add: "+", sub: "-", mul: "*", div: "/" };

/**
 * Merges adjacent axes that walk every operand contiguously and drops axes of length 1, so that most
 * broadcasts become rank 1 to 3. `strides[j][d]` is operand `j`'s stride on axis `d`.
 */
export function coalesce(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, j) => outStrides[j][last] === s[d] * shape[d])) {
      outShape[last] *= shape[d];
      strides.forEach((s, j) => (outStrides[j][last] = s[d]));
    } else {
      outShape.push(shape[d]);
      strides.forEach((s, j) => outStrides[j].push(s[d]));
    }
  }
  if (outShape.length === 0) {
    outShape.push(1);
    outStrides.forEach((s) => s.push(0));
  }
  return { shape: outShape, strides: outStrides };
}

/** WGSL computing operand offsets `o0`, `o1`, … of output element `i` over a rank-`rank` shape. */
function indexing(rank: number, operands: number): string {
  const lines = [`var rem = i;`];
  for (let j = 0; j < operands; j++) lines.push(`var o${j} = 0u;`);
  for (let d = rank - 1; d >= 0; d--) {
    const coord = d === 0 ? "rem" : `rem % u.d${d}`;
    lines.push(`{ let c = ${coord};`);
    for (let j = 0; j < operands; j++) lines.push(`  o${j} += c * u.s${j}_${d};`);
    lines.push(d === 0 ? "}" : `  rem = rem / u.d${d}; }`);
  }
  return lines.join("\n  ");
}

function shapeParams(rank: number, operands: number): [string, "u32"][] {
  const p: [string, "u32"][] = [["n", "u32"]];
  for (let d = 0; d < rank; d++) p.push([`d${d}`, "u32"]);
  for (let j = 0; j < operands; j++) for (let d = 0; d < rank; d++) p.push([`s${j}_${d}`, "u32"]);
  return p;
}

function binaryKernel(op: BinaryOp, rank: number): KernelSpec {
  const key = `binary_${op}_r${rank}`;
  return defineKernel(key, () => ({
    key,
    op: "binary",
    bindings: [{ name: "a", access: "read" }, { name: "b", access: "read" }, { name: "y", access: "read_write" }],
    params: shapeParams(rank, 2),
    workgroupSize: WG,
    body: `${wgslForEach(WG, "u.n")}
  ${indexing(rank, 2)}
  y[i] = a[o0] ${BINARY_WGSL[op]} b[o1];
}`,
  }));
}

/** How an operand of the vec4 binary kernel is read: four contiguous floats, or one broadcast. */
type Lane = "v" | "s";

/**
 * Four outputs per invocation: the innermost axis is a multiple of 4, each operand walks it with stride 1
 * (read as one aligned vec4) or 0 (one float, broadcast).
 */
function binaryKernelVec4(op: BinaryOp, rank: number, lanes: readonly [Lane, Lane]): KernelSpec {
  const key = `binary_${op}_r${rank}_v4${lanes.join("")}`;
  const read = (name: string, j: number) => (lanes[j] === "v" ? `${name}[o${j} / 4u]` : `vec4f(${name}[o${j}])`);
  return defineKernel(key, () => ({
    key,
    op: "binary",
    bindings: [
      { name: "a", access: "read", type: lanes[0] === "v" ? "vec4f" : "f32" },
      { name: "b", access: "read", type: lanes[1] === "v" ? "vec4f" : "f32" },
      { name: "y", access: "read_write", type: "vec4f" },
    ],
    params: shapeParams(rank, 2),
    workgroupSize: WG,
    body: `${wgslEntry(WG)}
  let q = group * ${WG}u + lidx;
  if (q * 4u >= u.n) { return; }
  let i = q * 4u;
  ${indexing(rank, 2)}
  y[q] = ${read("a", 0)} ${BINARY_WGSL[op]} ${read("b", 1)};
}`,
  }));
}

/** The vec4 reading of each operand, or undefined when some operand cannot be read four at a time. */
function vec4Lanes(shape: readonly number[], strides: readonly (readonly number[])[]): [Lane, Lane] | undefined {
  const last = shape.length - 1;
  if (shape[last] % 4 !== 0) return undefined;
  const lanes: Lane[] = [];
  for (const s of strides) {
    if (s[last] === 0) lanes.push("s");
    else if (s[last] === 1 && s.every((v, d) => d === last || v % 4 === 0)) lanes.push("v");
    else return undefined;
  }
  return lanes as [Lane, Lane];
}

function checkRank(op: string, shape: readonly number[], strides: readonly (readonly number[])[]): void {
  for (const s of strides) {
    if (s.length !== shape.length) {
      throw new RangeError(`webgpu ${op}: ${s.length} strides for an output of rank ${shape.length} ([${shape}])`);
    }
  }
}

/** `out[i] = a[ia(i)] op b[ib(i)]` over `outShape`. */
export function binary(
  rt: GpuRuntime,
  op: BinaryOp,
  a: GpuBuffer,
  aStrides: readonly number[],
  b: GpuBuffer,
  bStrides: readonly number[],
  outShape: readonly number[],
): GpuBuffer {
  if (!(op in BINARY_WGSL)) throw new RangeError(`webgpu binary: unknown op ${JSON.stringify(op)}`);
  checkRank("binary", outShape, [aStrides, bStrides]);
  const n = elementCount(outShape);
  const out = rt.alloc(n);
  if (n === 0) return out;
  const c = coalesce(outShape, [aStrides, bStrides]);
  if (c.shape.length > MAX_RANK) {
    throw new RangeError(
      `webgpu binary: rank ${c.shape.length} after merging axes exceeds ${MAX_RANK} ([${outShape}])`,
    );
  }
  const params = [n, ...c.shape, ...c.strides[0], ...c.strides[1]];
  const lanes = vec4Lanes(c.shape, c.strides);
  if (lanes) rt.run(binaryKernelVec4(op, c.shape.length, lanes), [a, b, out], params, groupsFor(n / 4, WG));
  else rt.run(binaryKernel(op, c.shape.length), [a, b, out], params, groupsFor(n, WG));
  return out;
}

function stridedKernel(rank: number): KernelSpec {
  const key = `strided_r${rank}`;
  return defineKernel(key, () => ({
    key,
    op: "strided",
    bindings: [{ name: "x", access: "read" }, { name: "y", access: "read_write" }],
    params: [...shapeParams(rank, 1), ["offset", "u32"]],
    workgroupSize: WG,
    body: `${wgslForEach(WG, "u.n")}
  ${indexing(rank, 1)}
  y[i] = x[u.offset + o0];
}`,
  }));
}

/** `out[idx] = x[offset + Σ idx[d] strides[d]]` over `outShape`. */
export function strided(
  rt: GpuRuntime,
  x: GpuBuffer,
  outShape: readonly number[],
  strides: readonly number[],
  offset: number,
): GpuBuffer {
  checkRank("strided", outShape, [strides]);
  const n = elementCount(outShape);
  const out = rt.alloc(n);
  if (n === 0) return out;
  const c = coalesce(outShape, [strides]);
  if (c.shape.length > MAX_RANK) {
    throw new RangeError(
      `webgpu strided: rank ${c.shape.length} after merging axes exceeds ${MAX_RANK} ([${outShape}])`,
    );
  }
  rt.run(stridedKernel(c.shape.length), [x, out], [n, ...c.shape, ...c.strides[0], offset], groupsFor(n, WG));
  return out;
}

function sgdKernel(vec4: boolean): KernelSpec {
  const key = `sgd${vec4 ? "_v4" : ""}`;
  const type = vec4 ? "vec4f" : "f32";
  return defineKernel(key, () => ({
    key,
    op: "sgdUpdate",
    bindings: [
      { name: "param", access: "read_write", type },
      { name: "grad", access: "read", type },
      { name: "mom", access: "read_write", type },
    ],
    params: [["n", "u32"], ["lr", "f32"], ["momentum", "f32"], ["wd", "f32"]],
    workgroupSize: WG,
    body: `${wgslForEach(WG, "u.n")}
  let p = param[i];
  let d = grad[i] + u.wd * p;
  let m = u.momentum * mom[i] + d;
  mom[i] = m;
  param[i] = p - u.lr * m;
}`,
  }));
}

/** The SGD-with-momentum update in place. */
export function sgdUpdate(rt: GpuRuntime, param: GpuBuffer, grad: GpuBuffer, mom: GpuBuffer, o: SgdOptions): void {
  if (grad.size !== param.size || mom.size !== param.size) {
    throw new RangeError(
      `webgpu sgdUpdate: param has ${param.size} floats but grad has ${grad.size} and the momentum buffer ${mom.size}`,
    );
  }
  const vec4 = param.size % 4 === 0;
  const n = vec4 ? param.size / 4 : param.size;
  rt.run(sgdKernel(vec4), [param, grad, mom], [n, o.lr, o.momentum, o.weightDecay], groupsFor(n, WG));
}
