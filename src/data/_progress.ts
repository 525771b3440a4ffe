/**
 * A byte-count progress bar for downloads: a live bar (bytes, %, speed, ETA) on a terminal, a plain line every few
 * seconds elsewhere (logs, CI). Drawn by `cli-progress`.
 *
 * @module
 */
// @ts-types="@types/cli-progress"
import cliProgress from "cli-progress";
import process from "node:process";

/** Where the bar is drawn: a Node-style writable; a TTY gets the live bar. */
export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** A running progress report. */
export interface ByteProgress {
  /** Reports the bytes done so far. */
  update(done: number): void;
  /** Draws the final state and stops the timer; call it on success and failure alike. */
  stop(): void;
}

/** Bytes as B, kB, MB or GB (powers of 1000, one decimal). */
export function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let u = 0;
  while (n >= 1000 && u < units.length - 1) {
    n /= 1000;
    u++;
  }
  return u === 0 ? `${n} B` : `${n.toFixed(1)} ${units[u]}`;
}

/**
 * A progress bar for `total` bytes (`null` when the server did not say), labelled `label`, on `stream`
 * (default: standard error). Not a TTY: one plain line every `intervalMs` (default 2000) and at the end.
 */
export function byteProgress(
  total: number | null,
  label: string,
  options: { stream?: ProgressStream; intervalMs?: number } = {},
): ByteProgress {
  const stream = options.stream ?? process.stderr;
  const known = total !== null && total > 0;
  const format = known
    ? `${label} {bar} {percentage}% | {done} / {size} | {speed} | ETA {eta_formatted}`
    : `${label} {done} | {speed}`;
  const bar = new cliProgress.SingleBar(
    {
      format,
      stream: stream as NodeJS.WritableStream,
      noTTYOutput: true,
      notTTYSchedule: options.intervalMs ?? 2000,
      barsize: 30,
      hideCursor: false,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = performance.now();
  const payload = (done: number) => {
    const seconds = (performance.now() - started) / 1000;
    return {
      done: formatBytes(done),
      size: known ? formatBytes(total) : "?",
      speed: `${formatBytes(seconds > 0 ? Math.round(done / seconds) : 0)}/s`,
    };
  };
  bar.start(known ? total : 1, 0, payload(0));
  let last = 0;
  return {
    update(done: number): void {
      last = done;
      bar.update(known ? done : 0, payload(done));
    },
    stop(): void {
      bar.update(known ? last : 0, payload(last));
      bar.stop();
    },
  };
}
