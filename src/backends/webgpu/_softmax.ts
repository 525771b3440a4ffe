/**
 * Row-wise log-softmax: one workgroup per row, max and sum of exponentials reduced in workgroup memory.
 *
 * @module
 */
import { wgslEntry } from "./_dispatch.ts";
import { defineKernel, type KernelSpec } from "./_kernel.ts";
import type { GpuBuffer, GpuRuntime } from "./_runtime.ts";

const WG = 64;

function logSoftmaxKernel(): KernelSpec {
  return defineKernel("log_softmax", () => ({
    key: "log_softmax",
    op: "logSoftmax",
    bindings: [{ name: "x", access: "read" }, { name: "y", access: "read_write" }],
    params: [["rows", "u32"], ["cols", "u32"]],
    workgroupSize: WG,
    body: `var<workgroup> red: array<f32, ${WG}>;
${wgslEntry(WG)}
  let row = group;
  if (row >= u.rows) { return; }
  let base = row * u.cols;
  // Max as the cpu backend takes it: NaN never replaces the running maximum.
  var m = neg_inf_f32();
  for (var j = lidx; j < u.cols; j += ${WG}u) {
    let v = x[base + j];
    m = select(m, v, v > m);
  }
  red[lidx] = m;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (lidx < s) {
      let o = red[lidx + s];
      red[lidx] = select(red[lidx], o, o > red[lidx]);
    }
    workgroupBarrier();
  }
  let mx = red[0];
  workgroupBarrier();
  var acc = 0.0;
  for (var j = lidx; j < u.cols; j += ${WG}u) { acc += exp(x[base + j] - mx); }
  red[lidx] = acc;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (lidx < s) { red[lidx] += red[lidx + s]; }
    workgroupBarrier();
  }
  let lse = mx + log(red[0]);
  for (var j = lidx; j < u.cols; j += ${WG}u) { y[base + j] = x[base + j] - lse; }
}`,
  }));
}

/** Row-wise log-softmax of `x` viewed as `[rows, cols]`. */
export function logSoftmax(rt: GpuRuntime, x: GpuBuffer, rows: number, cols: number): GpuBuffer {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0 || rows * cols !== x.size) {
    throw new RangeError(`webgpu logSoftmax: [${rows}, ${cols}] does not cover the ${x.size} floats of x`);
  }
  const out = rt.alloc(x.size);
  if (x.size > 0) rt.run(logSoftmaxKernel(), [x, out], [rows, cols], rows);
  return out;
}
