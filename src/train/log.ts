/**
 * The run log as the reference writes it: one `json_stats: {…}` line per epoch in `<save>/log.txt`. Each
 * append rewrites the file through a temporary file and a rename, so a crash never leaves a torn line.
 *
 * @module
 */
import { writeFileAtomic } from "../io/atomic.ts";

const PREFIX = "json_stats: ";

/** Appends one `json_stats` line to `path` atomically. */
export async function appendJsonStats(path: string, record: Record<string, unknown>): Promise<void> {
  let before = "";
  try {
    before = await Deno.readTextFile(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (before && !before.endsWith("\n")) before += "\n";
  await writeFileAtomic(path, `${before}${PREFIX}${JSON.stringify(record)}\n`);
}

/** Every `json_stats` record of a log, in order; throws naming the file and line for a malformed one. */
export async function readJsonStats(path: string): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(path);
  const out: Record<string, unknown>[] = [];
  text.split("\n").forEach((line, i) => {
    const at = line.indexOf(PREFIX);
    if (at < 0) return;
    try {
      out.push(JSON.parse(line.slice(at + PREFIX.length)));
    } catch {
      throw new Error(`${path}:${i + 1}: the json_stats line is not valid JSON`);
    }
  });
  return out;
}
