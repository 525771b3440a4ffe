/**
 * Starting the `onednn` backend once per process, and asking whether it can start.
 *
 * @module
 */
import type { Backend } from "../backend.ts";
import { CpuBackend } from "../cpu/mod.ts";
import { OnednnBackend } from "./_backend.ts";
import { envGet } from "./_discovery.ts";
import { MIN_ONEDNN_ELEMENTS } from "./_elementwise.ts";
import { startRuntime } from "./_runtime.ts";

/** The environment variable that chooses the layout between kernels: `blocked` (default) or `plain`. */
export const LAYOUT_ENV = "AT_DNNL_LAYOUT";
/** The environment variable that turns Winograd convolutions off (`0`). */
export const WINOGRAD_ENV = "AT_DNNL_WINOGRAD";

/** Options of {@linkcode create}. */
export interface CreateOptions {
  /** Set by `auto`. The onednn backend never declines: where it starts, it is the fastest CPU path. */
  readonly auto?: boolean;
  /**
   * `"blocked"` keeps oneDNN's blocked layouts between kernels; `"plain"` reorders every output to plain
   * NCHW (as PyTorch does). Default: `AT_DNNL_LAYOUT`, else `"blocked"`. A backend with another layout
   * than the first one started is a separate instance.
   */
  readonly layout?: "blocked" | "plain";
  /**
   * Elements from which elementwise kernels, sums and matrix products run in oneDNN rather than in the cpu
   * kernels (default 32768: below, a oneDNN call costs more than the loop). 1 sends every one there, which
   * tests use to check those paths on small shapes.
   */
  readonly minOnednnElements?: number;
  /**
   * Run 3×3 stride-1 convolutions of 32 or more channels (forward and input gradient) with Winograd's
   * F(4×4, 3×3), which measured up to twice as fast as the direct kernels there, with results within about 2e-6
   * of the largest value. Default: true, unless `AT_DNNL_WINOGRAD=0`.
   */
  readonly winograd?: boolean;
}

/** Whether the onednn backend can start here, and why not. */
export type Availability =
  | { readonly available: true; readonly description: string }
  | { readonly available: false; readonly reason: string };

const started = new Map<string, Promise<OnednnBackend>>();

function layoutOption(options: CreateOptions): "blocked" | "plain" {
  const value = options.layout ?? envGet(LAYOUT_ENV) ?? "blocked";
  if (value !== "blocked" && value !== "plain" && value !== "") {
    throw new RangeError(`${LAYOUT_ENV} must be "blocked" or "plain", not ${JSON.stringify(value)}`);
  }
  return value === "plain" ? "plain" : "blocked";
}

/**
 * Starts the onednn backend (once per process and set of options; later calls return the same backend), or rejects
 * with an error that names the first missing piece: FFI permission, or libdnnl.so.2 with the command that
 * installs it. oneDNN's threads are the cpu backend's (`AT_CPU_THREADS`, else one per logical core).
 *
 * @example
 * ```ts
 * const backend = await create(); // throws "cannot start the onednn backend: libdnnl.so.2 (oneDNN 2.x) was not found; …"
 * ```
 */
export function create(options: CreateOptions = {}): Promise<Backend> {
  let layout: "blocked" | "plain";
  try {
    layout = layoutOption(options);
  } catch (e) {
    return Promise.reject(e);
  }
  const minElements = options.minOnednnElements ?? MIN_ONEDNN_ELEMENTS;
  if (!Number.isInteger(minElements) || minElements < 1) {
    return Promise.reject(new RangeError(`onednn: minOnednnElements must be a positive integer, got ${minElements}`));
  }
  const winograd = options.winograd ?? envGet(WINOGRAD_ENV) !== "0";
  const key = `${layout}:${minElements}:${winograd}`;
  let backend = started.get(key);
  if (!backend) {
    backend = new Promise<OnednnBackend>((resolve) => {
      const cpu = new CpuBackend();
      const runtime = startRuntime(cpu.threads);
      resolve(new OnednnBackend(runtime, cpu, { keepBlocked: layout === "blocked", minElements, winograd }));
    });
    // A failed start is not kept: the next call tries again (e.g. after the library was installed).
    backend.catch(() => started.delete(key));
    started.set(key, backend);
  }
  return backend;
}

/**
 * Whether the onednn backend starts in this process: `{available: true, description}` or
 * `{available: false, reason}`. Starts it when it can (so a later `create()` is free). Tests use it to skip
 * with the reason.
 *
 * @example
 * ```ts
 * const dnnl = await availability();
 * Deno.test({ name: "conv2d on onednn", ignore: !dnnl.available, fn: () => {} });
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
