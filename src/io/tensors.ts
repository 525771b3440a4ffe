/**
 * Safetensors files to and from records of tensors.
 *
 * @module
 */
import { type Tensor, tensor } from "../tensor/tensor.ts";
import { writeFileAtomic } from "./atomic.ts";
import { parseSafetensors, serializeSafetensors, type TensorToWrite } from "./safetensors.ts";

/**
 * Reads every floating-point tensor of a safetensors file onto the current backend, with its metadata.
 * Integer tensors are skipped.
 *
 * @example
 * ```ts
 * const { tensors } = await loadTensors("logs/teacher/model.safetensors");
 * ```
 */
export async function loadTensors(
  path: string,
): Promise<{ tensors: Record<string, Tensor>; metadata: Record<string, string> }> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`no such file: ${path}`, { cause: e });
    throw e;
  }
  const file = parseSafetensors(bytes, path);
  const tensors: Record<string, Tensor> = {};
  for (const [name, t] of file.tensors) {
    if (t.data instanceof Float32Array) tensors[name] = tensor(t.data, t.shape);
  }
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
  const host: Record<string, TensorToWrite> = {};
  for (const [name, t] of Object.entries(tensors)) host[name] = { shape: t.shape, data: await t.data() };
  await writeFileAtomic(path, serializeSafetensors(host, metadata));
}
