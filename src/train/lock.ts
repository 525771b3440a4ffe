/**
 * One run per folder. A run holds `<dir>/run.lock` (its pid, host and start time) from start to exit; a second
 * run into the same folder fails at once naming the first. A lock left by a run that died (its pid no longer
 * exists on this host) is taken over.
 *
 * @module
 */

/** The lock file's name inside a run folder. */
export const LOCK_FILE = "run.lock";

/** What a lock file says about its holder. */
interface Holder {
  readonly pid: number;
  readonly host: string;
  readonly started: string;
}

/** A held lock; {@linkcode RunLock.release} removes the file if it is still this run's. */
export interface RunLock {
  /** The lock file. */
  readonly path: string;
  /** A note when a stale lock was taken over, else undefined. */
  readonly tookOver?: string;
  /** Removes the lock file (idempotent). */
  release(): void;
}

/** Raised when another live run holds the folder. */
export class RunLockedError extends Error {
  override name = "RunLockedError";
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

/** Whether `pid` runs on this machine; undefined where that cannot be told (no /proc). */
function processExists(pid: number): boolean | undefined {
  try {
    Deno.statSync("/proc/self");
  } catch {
    return undefined;
  }
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

function readHolder(path: string): { text: string; holder?: Holder } | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  try {
    const v = JSON.parse(text);
    if (Number.isInteger(v?.pid) && typeof v.host === "string") return { text, holder: v as Holder };
  } catch { /* a lock that is not ours to read: treated as held */ }
  return { text };
}

/** Whether the holder of a lock read from this host's file is (or may be) running. */
function isLive({ holder: h }: { holder?: Holder }): boolean {
  return !h || h.host !== hostname() || h.pid === Deno.pid || processExists(h.pid) !== false;
}

function lockedError(dir: string, flag: string, path: string, { holder: h }: { holder?: Holder }): RunLockedError {
  const who = h ? `pid ${h.pid} on ${h.host}, started ${h.started}` : `lock file ${path}`;
  return new RunLockedError(
    `${flag} ${dir} is in use by another run (${who}): wait for it to end or choose another folder; ` +
      `if that run no longer exists, delete ${path}`,
  );
}

/** Throws the error {@linkcode lockRunFolder} would when a live run holds `dir`; takes nothing. */
export function checkUnlocked(dir: string, flag: string): void {
  const path = `${dir}/${LOCK_FILE}`;
  const found = readHolder(path);
  if (found && isLive(found)) throw lockedError(dir, flag, path, found);
}

/**
 * Takes the lock of run folder `dir` (which must exist) for this process. Throws a {@linkcode RunLockedError}
 * naming the holder when a live run has it; takes over a lock whose process is gone.
 *
 * @example
 * ```ts
 * const lock = lockRunFolder("logs/at_16_1", "--save");
 * try { … } finally { lock.release(); }
 * ```
 */
export function lockRunFolder(dir: string, flag: string): RunLock {
  const path = `${dir}/${LOCK_FILE}`;
  const me: Holder = { pid: Deno.pid, host: hostname(), started: new Date().toISOString() };
  const mine = JSON.stringify(me) + "\n";
  // Written whole to a private name, then linked into place: link fails if the lock exists, and a reader never
  // sees a half-written lock.
  const draft = `${dir}/.${LOCK_FILE}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}`;
  Deno.writeTextFileSync(draft, mine);
  let tookOver: string | undefined;
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        Deno.linkSync(draft, path);
        return {
          path,
          tookOver,
          release() {
            if (readHolder(path)?.text === mine) Deno.removeSync(path);
          },
        };
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      }
      const found = readHolder(path);
      if (!found) continue; // released in between
      const h = found.holder;
      if (isLive(found)) throw lockedError(dir, flag, path, found);
      // Stale: move it aside, and put it back if what was moved is not the lock just read (another run took over).
      const aside = `${path}.stale-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
      try {
        Deno.renameSync(path, aside);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) continue;
        throw e;
      }
      if (Deno.readTextFileSync(aside) === found.text) {
        Deno.removeSync(aside);
        tookOver = `took over ${path} from run pid ${h!.pid}, which no longer exists`;
      } else {
        try {
          Deno.linkSync(aside, path);
        } catch { /* the other run's lock is back or replaced; the next attempt reads it */ }
        Deno.removeSync(aside);
      }
    }
    throw new RunLockedError(`${flag} ${dir}: could not take ${path}; other runs keep starting there`);
  } finally {
    Deno.removeSync(draft);
  }
}
