/**
 * Starting a backend by name, and the `auto` choice. The cpu backend is imported statically (it always
 * starts); the others load by dynamic `import()` only when asked for, so a CPU-only run never touches
 * FFI or WebGPU and needs no extra permission.
 *
 * @module
 */
import type { Backend } from "./backend.ts";
import { CpuBackend } from "./cpu/mod.ts";

/** Names of the backends this package ships. */
export const BACKEND_NAMES = ["cpu", "webgpu", "cudnn", "onednn"] as const;
/** A backend this package ships. */
export type BackendName = typeof BACKEND_NAMES[number];
/** What `useBackend` accepts. */
export type BackendRequest = BackendName | "auto";

/** The backend that runs, and why the faster ones were passed over when `auto` chose it. */
export interface BackendChoice {
  /** The backend that started. */
  readonly backend: Backend;
  /** One line per backend tried before the chosen one, saying why it was passed over. */
  readonly passedOver: readonly string[];
  /** A sentence for the user: which backend runs and why. */
  readonly report: string;
}

/** Options for starting a backend. */
export interface StartOptions {
  /** Set by `auto`: a backend may decline when it would run slower than the cpu backend (a software adapter). */
  readonly auto?: boolean;
}

type Module = { create(options?: StartOptions): Promise<Backend> };

/** Starts the named backend or throws an error that says why it cannot start. */
export async function startBackend(name: BackendName, options: StartOptions = {}): Promise<Backend> {
  switch (name) {
    case "cpu":
      return new CpuBackend();
    case "webgpu":
      return await ((await import("./webgpu/mod.ts")) as Module).create(options);
    case "cudnn":
      return await ((await import("./cudnn_ffi/mod.ts")) as Module).create(options);
    case "onednn":
      return await ((await import("./onednn_ffi/mod.ts")) as Module).create(options);
    default:
      throw new RangeError(
        `unknown backend ${JSON.stringify(name)}: expected one of auto, ${BACKEND_NAMES.join(", ")}`,
      );
  }
}

/** Checks a backend name from a flag or the environment, with an error that lists the valid ones. */
export function parseBackendRequest(value: string, source: string): BackendRequest {
  if (value === "auto" || (BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendRequest;
  throw new RangeError(
    `${source}: unknown backend ${JSON.stringify(value)}; use one of auto, ${BACKEND_NAMES.join(", ")}`,
  );
}

/** Whether a started backend runs on a software WebGPU adapter (llvmpipe, lavapipe). */
function onSoftwareAdapter(backend: Backend): boolean {
  return (backend as { adapter?: { software?: boolean } }).adapter?.software === true;
}

/**
 * Starts the requested backend. `auto` tries cudnn, then webgpu on a hardware adapter, then onednn, then
 * the cpu backend (or webgpu on a software adapter, where `auto`'s measurement says it beats the cpu
 * backend), and records why each one before the chosen one was passed over; an explicit name either starts
 * or throws.
 */
export async function chooseBackend(request: BackendRequest): Promise<BackendChoice> {
  if (request !== "auto") {
    const backend = await startBackend(request);
    return { backend, passedOver: [], report: `backend ${backend.name}: ${backend.description}` };
  }
  const passedOver: string[] = [];
  const chosen = (backend: Backend): BackendChoice => {
    const why = passedOver.length ? ` (passed over: ${passedOver.join("; ")})` : "";
    return { backend, passedOver, report: `backend ${backend.name} (auto): ${backend.description}${why}` };
  };
  const attempt = async (name: BackendName): Promise<Backend | undefined> => {
    try {
      return await startBackend(name, { auto: true });
    } catch (e) {
      passedOver.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
  };
  const cudnn = await attempt("cudnn");
  if (cudnn) return chosen(cudnn);
  const webgpu = await attempt("webgpu");
  if (webgpu && !onSoftwareAdapter(webgpu)) return chosen(webgpu);
  const onednn = await attempt("onednn");
  if (onednn) {
    if (webgpu) passedOver.push(`webgpu: ${webgpu.description} is a software adapter; onednn comes first on the CPU`);
    return chosen(onednn);
  }
  // A software adapter that auto took (a measurement says it beats the cpu backend here) comes before cpu.
  if (webgpu) return chosen(webgpu);
  const cpu = await attempt("cpu");
  if (cpu) return chosen(cpu);
  throw new Error(`no backend could start: ${passedOver.join("; ")}`);
}
