/**
 * Writing files so that a crash never leaves half of one: write a temporary file beside the target,
 * flush it to disk, then rename it into place (atomic on POSIX file systems).
 *
 * @module
 */
import { pathError } from "./_path_error.ts";

/**
 * Writes `data` to `path` atomically: readers see the old file or the whole new one, never a part. An error names
 * `path`, keeps the class of Deno's file-system error (`Deno.errors.*`) and has it as `cause`.
 *
 * @example
 * ```ts
 * await writeFileAtomic("logs/run/model.safetensors", bytes);
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const tmp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    using file = await Deno.open(tmp, { write: true, createNew: true });
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw pathError("writeFileAtomic", "write", path, e);
  }
  try {
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw pathError("writeFileAtomic", "replace", path, e);
  }
}

/** The name {@linkcode writeFileAtomic} gives its temporary files. */
const TEMPORARY = /\.tmp-\d+-[0-9a-f]{8}$/;

/**
 * Removes the temporary files an interrupted {@linkcode writeFileAtomic} left in `dir` (not recursive). Call it
 * only while no other process writes there. Returns the names removed.
 *
 * @example
 * ```ts
 * const removed = await removeTemporaries("logs/run"); // e.g. ["log.txt.tmp-4242-0badc0de"]
 * ```
 */
export async function removeTemporaries(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !TEMPORARY.test(entry.name)) continue;
    await Deno.remove(`${dir}/${entry.name}`);
    removed.push(entry.name);
  }
  return removed;
}
