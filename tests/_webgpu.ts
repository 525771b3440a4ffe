/**
 * What the webgpu tests share: the backends under test (started once per test file) and the reason the webgpu
 * tests skip when no adapter exists. Seeded data and the agreement check are the conformance suite's
 * (`tests/_conformance.ts`), re-exported here.
 *
 * @module
 */
import { create, type WebGpuBackend } from "../src/backends/webgpu/mod.ts";

export { assertAgree, EXACT, seeded } from "./_conformance.ts";

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
