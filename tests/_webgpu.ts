/**
 * What the webgpu tests share: the two backends under comparison (started once per test file), the
 * reason the webgpu ones skip when no adapter exists, seeded data, and an agreement check with
 * tolerances that name the worst element.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Backend, DeviceBuffer } from "../src/backends/backend.ts";
import { CpuBackend } from "../src/backends/cpu/mod.ts";
import { create, type WebGpuBackend } from "../src/backends/webgpu/mod.ts";

/** The reference backend. */
export const cpu: Backend = new CpuBackend();

/** The webgpu backend, or why it could not start. */
export const { gpu, reason } = await create().then(
  (b) => ({ gpu: b as WebGpuBackend, reason: "" }),
  (e) => ({ gpu: undefined, reason: e instanceof Error ? e.message : String(e) }),
);

/**
 * The same adapter with the other kernel configurations (workgroup-memory GEMM tiles on a software
 * adapter, register-staged ones on a GPU), so that both GEMM templates are checked wherever tests run,
 * and with every read-only operand read through a texture, so that every kernel's texture variant is
 * checked at every size (the default configuration reads only large operands that way).
 */
export const gpuOther: WebGpuBackend | undefined = gpu
  ? await create({ kernels: gpu.adapter.software ? "hardware" : "software", textureMinFloats: 1 }) as WebGpuBackend
  : undefined;

/** True when there is no adapter: `Deno.test({ ignore: noAdapter, … })`. */
export const noAdapter: boolean = gpu === undefined;
if (noAdapter) console.log(`webgpu tests skipped: ${reason}`);

/** The webgpu backend (only called from tests that run when there is one). */
export function webgpu(): WebGpuBackend {
  if (!gpu) throw new Error(`no webgpu backend: ${reason}`);
  return gpu;
}

/** Property-test runs per kernel: AT_PROPERTY_RUNS, default 25. */
export const RUNS: number = Number(Deno.env.get("AT_PROPERTY_RUNS") ?? 25);

/** `size` deterministic pseudo-random floats in [min, max) from `seed` (fast for large sizes). */
export function seeded(size: number, seed: number, min = -1, max = 1): Float32Array {
  let s = (seed ^ 0x9e3779b9) >>> 0;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = min + (((t ^ (t >>> 14)) >>> 0) / 4294967296) * (max - min);
  }
  return out;
}

/**
 * Tolerances of {@linkcode assertAgree}: `|gpu − cpu| ≤ rtol·|cpu| + atol·scale` per element, where `scale` is
 * max|cpu| unless given: results that come from cancelling larger terms are compared at those terms' size.
 */
export interface Tolerance {
  readonly rtol: number;
  readonly atol: number;
  readonly scale?: number;
}

/** Single float32 operations. */
export const OP: Tolerance = { rtol: 1e-4, atol: 1e-5 };
/** Results every backend must reproduce bit for bit (copies, comparisons, max, exact sums). */
export const EXACT: Tolerance = { rtol: 0, atol: 0 };

/** Asserts two arrays agree within `tol`; NaN must meet NaN and infinities their equal. */
export function assertAgree(what: string, actual: Float32Array, expected: Float32Array, tol: Tolerance = OP): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} values, expected ${expected.length}`);
  let scale = tol.scale ?? 0;
  if (tol.scale === undefined) {
    for (const v of expected) {
      if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
    }
  }
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      if (!Object.is(a, e) && !(Number.isNaN(a) && Number.isNaN(e))) {
        throw new assert.AssertionError({ message: `${what}: element ${i} is ${a}, expected ${e}` });
      }
      continue;
    }
    const excess = Math.abs(a - e) - (tol.rtol * Math.abs(e) + tol.atol * scale);
    if (excess > 0 && excess > worstExcess) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    throw new assert.AssertionError({
      message: `${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} ` +
        `(|diff| ${Math.abs(actual[worst] - expected[worst]).toExponential(3)} over rtol ${tol.rtol}, ` +
        `atol ${tol.atol} × ${tol.scale === undefined ? "max|expected|" : "scale"} ${scale.toExponential(3)})`,
    });
  }
}

/** Reads a buffer of either backend. */
export function read(backend: Backend, b: DeviceBuffer): Promise<Float32Array> {
  return backend.download(b);
}

/**
 * Runs `op` on both backends with the same host inputs, uploaded to each, and checks that every output
 * agrees. `op` returns one buffer or a record of them; inputs are freed afterwards.
 */
export async function agree(
  what: string,
  inputs: readonly Float32Array[],
  op: (b: Backend, inputs: DeviceBuffer[]) => DeviceBuffer | Record<string, DeviceBuffer>,
  tol: Tolerance = OP,
  against: Backend = webgpu(),
): Promise<void> {
  const results: Record<string, Float32Array>[] = [];
  for (const backend of [cpu, against]) {
    const bufs = inputs.map((x) => backend.upload(x));
    const out = op(backend, bufs);
    const record = "size" in out && typeof out.size === "number"
      ? { out: out as DeviceBuffer }
      : out as Record<string, DeviceBuffer>;
    const host: Record<string, Float32Array> = {};
    for (const [k, v] of Object.entries(record)) host[k] = await backend.download(v);
    for (const b of new Set([...bufs, ...Object.values(record)])) backend.free(b);
    results.push(host);
  }
  const label = against === gpuOther ? `${what} (${gpuOther.tuning.name} kernels)` : what;
  for (const k of Object.keys(results[0])) assertAgree(`${label} ${k}`, results[1][k], results[0][k], tol);
}
