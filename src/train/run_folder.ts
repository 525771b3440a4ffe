/**
 * The folder a run writes to (`--save`, or the `--resume` folder): created if needed, locked for this run alone,
 * cleared of what an interrupted write left, never taken over from another run, and its log brought level with
 * its checkpoint.
 *
 * @module
 */
import { removeTemporaries } from "../io/atomic.ts";
import { type CheckpointInfo, hasCheckpoint, syncLog } from "./checkpoint.ts";
import { lockRunFolder, type RunLock } from "./lock.ts";

/** An open run folder. */
export interface RunFolder {
  readonly dir: string;
  /** Lines for the user: stale lock taken over, temporary files removed, log line restored. */
  readonly notes: readonly string[];
  /** Releases the lock. With `failed`, a folder this run created is removed again if it is still empty. */
  close(failed?: boolean): Promise<void>;
}

async function holdsRun(dir: string): Promise<boolean> {
  try {
    return (await Deno.stat(`${dir}/log.txt`)).isFile || hasCheckpoint(dir);
  } catch {
    return hasCheckpoint(dir);
  }
}

async function exists(dir: string): Promise<boolean> {
  try {
    await Deno.stat(dir);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * Opens `dir` for a run: `resumed` is the checkpoint the run continues from (the folder must then be its own),
 * else the folder must not hold a run already. `flag` names the option the folder came from, for errors.
 */
export async function openRunFolder(
  dir: string,
  flag: string,
  resumed?: CheckpointInfo,
): Promise<RunFolder> {
  const created = !(await exists(dir));
  await Deno.mkdir(dir, { recursive: true });
  let lock: RunLock;
  try {
    lock = lockRunFolder(dir, flag);
  } catch (e) {
    if (created) await Deno.remove(dir).catch(() => {});
    throw e;
  }
  const close = async (failed = false) => {
    lock.release();
    if (failed && created) await Deno.remove(dir).catch(() => {}); // only while empty
  };
  try {
    const notes: string[] = lock.tookOver ? [lock.tookOver] : [];
    if (!resumed && (await holdsRun(dir))) {
      throw new Error(
        `${flag} ${dir} already holds a run (log.txt or checkpoint.json): continue it with --resume ${dir}, or choose another ${flag}`,
      );
    }
    const removed = await removeTemporaries(dir);
    if (removed.length) {
      notes.push(`removed ${removed.length} temporary file(s) of an interrupted run: ${removed.join(", ")}`);
    }
    if (resumed && (await syncLog(dir, resumed))) {
      notes.push(`restored the log line of epoch ${resumed.epoch} from ${dir}/checkpoint.json`);
    }
    return { dir, notes, close };
  } catch (e) {
    await close(true);
    throw e;
  }
}
