/**
 * Writing files so that a crash never leaves half of one: write a temporary file beside the target,
 * flush it to disk, then rename it into place (atomic on POSIX file systems).
 *
 * @module
 */

/**
 * Writes `data` to `path` atomically: readers see the old file or the whole new one, never a part.
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
    throw e;
  }
  try {
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
