/**
 * `sum` over the middle axis of `[outer, reduced, inner]`. Each pass sums runs of at most `chunk`
 * consecutive elements of the reduced axis per invocation, `[outer, reduced, inner] -> [outer,
 * ceil(reduced / chunk), inner]`, until one run covers the axis: short sequential float32 sums that add up
 * pairwise across passes, with enough invocations to fill the device however small `outer * inner` is.
 *
 * @module
 */
import { groupsFor, wgslForEach } from "./_dispatch.ts";
import { defineKernel, type KernelSpec } from "./_kernel.ts";
import type { GpuBuffer, GpuRuntime } from "./_runtime.ts";

const WG = 256;
/** Longest run one invocation sums sequentially. */
const MAX_CHUNK = 1024;
/** Shortest run worth a pass of its own. */
const MIN_CHUNK = 32;
/** Invocations a pass aims for before it lengthens its runs. */
const TARGET_INVOCATIONS = 1 << 14;

function sumKernel(): KernelSpec {
  return defineKernel("sum_runs", () => ({
    key: "sum_runs",
    op: "sum",
    bindings: [{ name: "x", access: "read" }, { name: "y", access: "read_write" }],
    params: [["n", "u32"], ["inner", "u32"], ["reduced", "u32"], ["chunk", "u32"], ["chunks", "u32"]],
    workgroupSize: WG,
    body: `${wgslForEach(WG, "u.n")}
  let ii = i % u.inner;
  let t = i / u.inner;
  let ch = t % u.chunks;
  let o = t / u.chunks;
  let r0 = ch * u.chunk;
  let r1 = min(u.reduced, r0 + u.chunk);
  var at = (o * u.reduced + r0) * u.inner + ii;
  var acc = 0.0;
  for (var r = r0; r < r1; r++) {
    acc += x[at];
    at += u.inner;
  }
  y[i] = acc;
}`,
  }));
}

/** Run length of the next pass, or `reduced` when one pass finishes the sum. */
export function chunkFor(outer: number, reduced: number, inner: number): number {
  const lanes = outer * inner;
  if (reduced <= MIN_CHUNK || (reduced <= MAX_CHUNK && lanes * 4 >= TARGET_INVOCATIONS)) return reduced;
  const wanted = Math.ceil((reduced * lanes) / TARGET_INVOCATIONS);
  return Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, wanted));
}

/** `x [outer, reduced, inner] -> [outer, inner]`, summed over the middle axis. */
export function sum(rt: GpuRuntime, x: GpuBuffer, outer: number, reduced: number, inner: number): GpuBuffer {
  for (const [name, v] of [["outer", outer], ["reduced", reduced], ["inner", inner]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`webgpu sum: ${name} must be a natural number, got ${v}`);
  }
  if (outer * reduced * inner !== x.size) {
    throw new RangeError(`webgpu sum: [${outer}, ${reduced}, ${inner}] does not cover the ${x.size} floats of x`);
  }
  if (reduced === 0 || outer * inner === 0) return rt.zeros(outer * inner);
  if (reduced === 1) return rt.copy(x, outer * inner);
  let current = x;
  let length = reduced;
  while (length > 1) {
    const chunk = chunkFor(outer, length, inner);
    const chunks = Math.ceil(length / chunk);
    const n = outer * chunks * inner;
    const out = rt.alloc(n);
    rt.run(sumKernel(), [current, out], [n, inner, length, chunk, chunks], groupsFor(n, WG));
    if (current !== x) rt.release(current);
    current = out;
    length = chunks;
  }
  return current;
}
