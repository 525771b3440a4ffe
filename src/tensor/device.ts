/**
 * Choosing the backend that new tensors are created on.
 *
 * @module
 */
import { type BackendChoice, type BackendRequest, chooseBackend, parseBackendRequest } from "../backends/registry.ts";
import { currentBackend, setCurrentBackend } from "./_state.ts";
import type { Backend } from "../backends/backend.ts";

/** The environment variable that names the backend when `useBackend` is called without one. */
export const BACKEND_ENV = "AT_BACKEND";

/** `AT_BACKEND` when it is set and readable, else undefined. */
export function backendFromEnv(): string | undefined {
  if (Deno.permissions.querySync({ name: "env", variable: BACKEND_ENV }).state !== "granted") return undefined;
  return Deno.env.get(BACKEND_ENV) || undefined;
}

/**
 * Starts a backend and makes it the one new tensors are created on. Without an argument it reads
 * `AT_BACKEND`, and falls back to `"auto"`: cudnn if a CUDA device and the libraries load, else webgpu
 * on a hardware adapter, else cpu. Returns which backend runs and why faster ones were passed over.
 * Throws (without changing the current backend) when a named backend cannot start.
 *
 * @example
 * ```ts
 * const { report } = await useBackend("auto");
 * console.log(report); // e.g. "backend cpu (auto): … (passed over: cudnn: libcuda.so.1 not found; …)"
 * ```
 */
export async function useBackend(request?: BackendRequest | string): Promise<BackendChoice> {
  const env = backendFromEnv();
  const name = request ?? env ?? "auto";
  const source = request !== undefined ? "useBackend" : env !== undefined ? BACKEND_ENV : "default";
  const choice = await chooseBackend(parseBackendRequest(name, source));
  setCurrentBackend(choice.backend);
  return choice;
}

/** The backend new tensors are created on. */
export function getBackend(): Backend {
  return currentBackend();
}

/** Makes an already started backend (from an earlier `useBackend`) the current one again. */
export function setBackend(backend: Backend): void {
  setCurrentBackend(backend);
}
