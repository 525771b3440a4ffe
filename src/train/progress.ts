/**
 * Progress of an epoch, drawn by `cli-progress`: a live bar on a terminal (epoch, batch, loss, accuracy,
 * images/s, time left), a plain line every few seconds otherwise (logs, CI).
 *
 * @module
 */
// @ts-types="@types/cli-progress"
import cliProgress from "cli-progress";
import process from "node:process";

/** Numbers shown for the batches done so far. */
export interface ProgressState {
  readonly batch: number;
  readonly images: number;
  readonly loss: number;
  readonly acc: number;
}

/** Reports one phase (a training epoch or a test pass) of `batches` batches. */
export class Progress {
  readonly #bar: cliProgress.SingleBar;
  readonly #start = performance.now();

  constructor(label: string, batches: number, options: { intervalMs?: number } = {}) {
    this.#bar = new cliProgress.SingleBar({
      format:
        `${label} {bar} {value}/{total} | loss {loss} | acc {acc}% | {rate} img/s | {duration_formatted} elapsed, {eta_formatted} left`,
      stream: process.stderr,
      noTTYOutput: true,
      notTTYSchedule: options.intervalMs ?? 10_000,
      barsize: 20,
      hideCursor: false,
      etaBuffer: 20,
    }, cliProgress.Presets.shades_classic);
    this.#bar.start(batches, 0, { loss: "-", acc: "-", rate: "-" });
  }

  /** Shows the state after `s.batch` batches. */
  update(s: ProgressState): void {
    const seconds = (performance.now() - this.#start) / 1000;
    this.#bar.update(s.batch, {
      loss: s.loss.toFixed(4),
      acc: s.acc.toFixed(2),
      rate: (s.images / Math.max(seconds, 1e-9)).toFixed(1),
    });
  }

  /** Draws the final state and ends the line. */
  done(): void {
    this.#bar.stop();
  }
}
