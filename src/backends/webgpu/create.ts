/**
 * Starting the webgpu backend: adapter, `auto` policy, device, kernel configurations.
 *
 * @module
 */
import type { Backend } from "../backend.ts";
import { requestAdapter, requestDevice } from "./_adapter.ts";
import { autoDecision } from "./auto.ts";
import { WebGpuBackend } from "./webgpu_backend.ts";
import { HARDWARE_TUNING, SOFTWARE_TUNING } from "./_tuning.ts";

/** Options of {@linkcode create}. */
export interface WebGpuOptions {
  /**
   * Set when `useBackend("auto")` asks: the backend then declines (throws) on a software adapter unless
   * a measurement on this machine says it is faster than the cpu backend, or `AT_WEBGPU_SOFTWARE=1`
   * (see `autoDecision`).
   */
  readonly auto?: boolean;
  /** Time every kernel with timestamp queries (see `WebGpuBackend.takeProfile`); off by default. */
  readonly profile?: boolean;
  /**
   * Kernel configurations: `hardware` (GEMM tiles in workgroup memory) or `software` (register-staged
   * GEMM for CPU rasterisers). Default: by the adapter's kind.
   */
  readonly kernels?: "hardware" | "software";
  /**
   * Read-only kernel operands of at least this many floats are read through textures (the `software`
   * kernels' default is 4096, the `hardware` kernels' never); tests set 1 to run every texture variant.
   */
  readonly textureMinFloats?: number;
}

/**
 * Starts the webgpu backend on the best adapter `navigator.gpu` offers. Throws one `Error` that says
 * why when there is no WebGPU, no adapter, the device cannot be created, or (with `auto`) the adapter
 * is a software one.
 *
 * @example
 * ```ts
 * const backend = await create().catch((e) => { console.log(e.message); return undefined; });
 * ```
 */
export async function create(options: WebGpuOptions = {}): Promise<Backend> {
  const { adapter, report } = await requestAdapter();
  if (options.auto) {
    const decision = autoDecision(report);
    if (!decision.take) throw new Error(decision.reason);
  }
  const device = await requestDevice(adapter, report, options.profile === true);
  const software = options.kernels ? options.kernels === "software" : report.software;
  const tuning = software ? SOFTWARE_TUNING : HARDWARE_TUNING;
  const { textureMinFloats } = options;
  return new WebGpuBackend(device, report, textureMinFloats === undefined ? tuning : { ...tuning, textureMinFloats });
}
