/**
 * What every recipe (`runCifar`, `runImagenet`) shares at its edges: where it prints, what it reports, and the
 * report of a resumed run that had nothing left to do.
 *
 * @module
 */
import type { Resumed } from "./resume.ts";

/** Where a run prints, and where teachers are looked up. */
export interface RunEnvironment {
  /** Prints a line of the run's report (default: `console.log`). */
  readonly print?: (line: string) => void;
  /** Folder of `--teacher_id` runs; default `logs` (as the reference). */
  readonly logs?: string;
  /** Show progress bars; default true. */
  readonly progress?: boolean;
}

/** What a finished run reports. */
export interface RunReport {
  readonly save: string;
  readonly network: string;
  readonly backend: string;
  readonly nParameters: number;
  readonly epochs: number;
  /** Epochs this invocation trained: 0 when a resumed run had nothing left to do. */
  readonly epochsRun: number;
  /** Top-1 test accuracy of the last epoch, percent. */
  readonly testAcc: number;
  readonly trainLoss: number;
  /** Wall time of the whole run, seconds. */
  readonly seconds: number;
}

/** A run folder name stamp: `20261206-041500`. */
export function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
}

const top1 = (v: unknown) => (Array.isArray(v) ? v[0] : v);

/** The report of a resumed run that had trained every epoch asked: the checkpoint's own record. */
export function nothingToDo(resumed: Resumed<unknown>, network: string, started: number): RunReport {
  const { log } = resumed.info;
  const acc = top1(log?.test_acc);
  return {
    save: resumed.dir,
    network,
    backend: "",
    nParameters: 0,
    epochs: resumed.info.epoch,
    epochsRun: 0,
    testAcc: typeof acc === "number" ? acc : NaN,
    trainLoss: typeof log?.train_loss === "number" ? log.train_loss : NaN,
    seconds: (performance.now() - started) / 1000,
  };
}
