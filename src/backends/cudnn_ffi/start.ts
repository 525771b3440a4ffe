/**
 * Starting the `cudnn` backend once per process, and asking whether it can start.
 *
 * @module
 */
import type { Backend } from "../backend.ts";
import { CudnnBackend } from "./_backend.ts";
import { readRuntimeOptions, startRuntime } from "./_runtime.ts";

/** Options of {@linkcode create}. */
export interface CreateOptions {
  /** Set by `auto`. The cudnn backend never declines: where it starts, it is the fastest. */
  readonly auto?: boolean;
}

/** Whether the cudnn backend can start here, and why not. */
export type Availability =
  | { readonly available: true; readonly description: string }
  | { readonly available: false; readonly reason: string };

// One CUDA context, stream and set of handles per process (they belong to the thread that made them).
let started: Promise<CudnnBackend> | undefined;

/**
 * Starts the cudnn backend (once per process; later calls return the same backend), or rejects with an
 * error that names the first missing piece: FFI permission, the NVIDIA driver, a device, or a library.
 *
 * @example
 * ```ts
 * const backend = await create(); // throws "cannot start the cudnn backend: libcuda.so.1 (…) could not be loaded …"
 * ```
 */
export function create(_options: CreateOptions = {}): Promise<Backend> {
  started ??= new Promise<CudnnBackend>((resolve) => {
    const options = readRuntimeOptions();
    resolve(new CudnnBackend(startRuntime(), options));
  });
  return started;
}

/**
 * Whether the cudnn backend starts in this process: `{available: true, description}` or
 * `{available: false, reason}`. Starts it when it can (so a later `create()` is free). Tests use it to skip
 * GPU tests with the reason.
 *
 * @example
 * ```ts
 * const gpu = await availability();
 * Deno.test({ name: "conv2d on cudnn", ignore: !gpu.available, fn: () => {} });
 * ```
 */
export async function availability(): Promise<Availability> {
  try {
    const backend = await create();
    return { available: true, description: backend.description };
  } catch (e) {
    return { available: false, reason: e instanceof Error ? e.message : String(e) };
  }
}
