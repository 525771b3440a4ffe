/**
 * The `webgpu` backend (work in progress).
 *
 * @module
 */
import type { Backend } from "../backend.ts";

/** Not built yet: always says so. */
export function create(): Promise<Backend> {
  return Promise.reject(new Error("the webgpu backend is not built yet"));
}
