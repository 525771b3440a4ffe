/**
 * `matmul` on the GEMM template, with the transposes folded into the operand reads.
 *
 * @module
 */
import { gemmKernel, type GemmOperands, planGemm, runGemm } from "./_gemm.ts";
import type { GpuBuffer, GpuRuntime } from "./_runtime.ts";
import { sum } from "./_reduce.ts";
import type { Tuning } from "./_tuning.ts";

const variants = new Map<string, GemmOperands>();

function operands(transA: boolean, transB: boolean): GemmOperands {
  const name = `matmul_${transA ? "t" : "n"}${transB ? "t" : "n"}`;
  let o = variants.get(name);
  if (!o) {
    o = {
      name,
      op: "matmul",
      bindings: [{ name: "a", access: "read" }, { name: "b", access: "read" }, { name: "c_out", access: "read_write" }],
      params: [],
      a: `struct ARow { m: u32 }
fn a_row(m: u32) -> ARow { return ARow(m); }
fn a_at(r: ARow, k: u32) -> f32 { return a[${transA ? "k * u.M + r.m" : "r.m * u.K + k"}]; }`,
      b: `struct BCol { n: u32 }
fn b_col(n: u32) -> BCol { return BCol(n); }
fn b_at(k: u32, c: BCol) -> f32 { return b[${transB ? "c.n * u.K + k" : "k * u.N + c.n"}]; }`,
      c: `struct CCol { at: u32 }
fn c_col(n: u32, z: u32) -> CCol { return CCol(z * u.M * u.N + n); }
fn c_store(m: u32, c: CCol, v: f32) { c_out[c.at + m * u.N] = v; }`,
    };
    variants.set(name, o);
  }
  return o;
}

/** `op(a) · op(b)`: `[m, k] · [k, n] -> [m, n]`. */
export function matmul(
  rt: GpuRuntime,
  tuning: Tuning,
  a: GpuBuffer,
  b: GpuBuffer,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
): GpuBuffer {
  if (a.size !== m * k || b.size !== k * n) {
    throw new RangeError(
      `webgpu matmul: a has ${a.size} floats and b ${b.size}, but [${m}, ${k}] · [${k}, ${n}] needs ${m * k} and ${
        k * n
      }`,
    );
  }
  if (m * n === 0) return rt.alloc(0);
  if (k === 0) return rt.zeros(m * n);
  const tiling = tuning.gemm(m, n, k, true);
  const plan = planGemm(m, n, k, tiling, tuning.targetGroups, true);
  const kernel = gemmKernel(operands(transA, transB), tiling);
  const out = rt.alloc(plan.partials * m * n);
  runGemm(rt, kernel, [a, b, out], m, n, k, plan, []);
  if (plan.partials === 1) return out;
  const total = sum(rt, out, 1, plan.partials, m * n);
  rt.release(out);
  return total;
}
