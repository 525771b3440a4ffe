/**
 * Safetensors files to and from records of tensors.
 *
 * @module
 */
import type { Backend } from "../backends/backend.ts";
import { type Tensor, wrap } from "../tensor/tensor.ts";
import { writeFileAtomic } from "./atomic.ts";
import { pathError } from "./_path_error.ts";
import { parseSafetensors, serializeSafetensors, type TensorToWrite } from "./safetensors.ts";

/**
 * Reads every floating-point tensor of a safetensors file onto `backend` (named, as candle's `load(device)`:
 * a file never lands on whatever backend happens to be current), with its metadata.
 * Integer tensors are skipped. Every error names `path`; a file-system error keeps its class (`Deno.errors.*`)
 * and is the `cause`.
 *
 * @example
 * ```ts
 * const { tensors } = await loadTensors("logs/teacher/model.safetensors", getBackend());
 * ```
 */
export async function loadTensors(
  path: string,
  backend: Backend,
): Promise<{ tensors: Record<string, Tensor>; metadata: Record<string, string> }> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw pathError("loadTensors", "read", path, e);
  }
  const file = parseSafetensors(bytes, path);
  // Own properties (fromEntries), so a tensor named "__proto__" is an entry, not the record's prototype.
  const tensors: Record<string, Tensor> = Object.fromEntries(
    [...file.tensors].filter(([, t]) => t.data instanceof Float32Array).map((
      [name, t],
    ) => [name, wrap(backend, backend.upload(t.data as Float32Array), t.shape)]),
  );
  return { tensors, metadata: file.metadata };
}

/**
 * Writes tensors (downloaded from the device) and metadata to a safetensors file atomically.
 *
 * @example
 * ```ts
 * await saveTensors("logs/run/model.safetensors", { ...params, ...stats }, { epoch: "3" });
 * ```
 */
export async function saveTensors(
  path: string,
  tensors: Readonly<Record<string, Tensor>>,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  const host: [string, TensorToWrite][] = [];
  for (const [name, t] of Object.entries(tensors)) host.push([name, { shape: t.shape, data: await t.data() }]);
  await writeFileAtomic(path, serializeSafetensors(Object.fromEntries(host), metadata));
}
