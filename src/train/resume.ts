/**
 * Resuming a run, for any recipe: the folder named by `--resume` (wherever it now is), its checkpoint, the
 * options it stored merged with the flags that may change, and whether any epoch is left to train.
 *
 * @module
 */
import type { Backend } from "../backends/backend.ts";
import type { Network } from "../nn/network.ts";
import { checkRecord, splitParams, type TensorRecord } from "../nn/params.ts";
import { checkpointDir, type CheckpointInfo, loadCheckpoint, readCheckpointInfo } from "./checkpoint.ts";
import { checkFinite } from "./guard.ts";
import { checkSavedFlags, type FlagTable, type ParsedFlags } from "./flags.ts";
import { checkUnlocked } from "./lock.ts";

/** A resumed run: its folder (where it continues), its checkpoint and the merged options. */
export interface Resumed<T> {
  readonly dir: string;
  readonly info: CheckpointInfo;
  readonly options: T;
}

async function sameFolder(a: string, b: string): Promise<boolean> {
  try {
    return (await Deno.realPath(a)) === (await Deno.realPath(b));
  } catch {
    return false;
  }
}

/**
 * The options of the run `args.options.resume` names: the checkpoint's, with the flags in `resumable` taken from
 * the command line; any other flag given must equal the stored value. The run continues in the folder `--resume`
 * names, even if it was moved or renamed since (`save` and `resume` are set to it).
 */
export async function resumeOptions<T extends { resume: string; save: string }>(
  table: FlagTable<T>,
  args: ParsedFlags<T>,
  resumable: ReadonlySet<string>,
): Promise<Resumed<T>> {
  let dir: string;
  try {
    dir = checkpointDir(args.options.resume);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`--resume ${args.options.resume}: no such folder; name the --save folder of the run to continue`);
    }
    throw e;
  }
  checkUnlocked(dir, "--resume"); // a run still writing there has no final checkpoint to read yet
  const info = await readCheckpointInfo(dir);
  const saved = checkSavedFlags(table, `${dir}/checkpoint.json`, info.options) as Record<string, unknown>;
  const options = { ...saved };
  for (const key of args.given) {
    const value = (args.options as Record<string, unknown>)[key];
    if (key === "save") {
      if (await sameFolder(String(value), dir)) continue;
      throw new RangeError(`--save ${value}: a resumed run continues in its own folder ${dir}; drop --save`);
    }
    if (resumable.has(key)) options[key] = value;
    else if (JSON.stringify(value) !== JSON.stringify(saved[key])) {
      throw new RangeError(
        `--${key} ${JSON.stringify(value)} differs from the resumed run's ${
          JSON.stringify(saved[key])
        }; drop it to resume`,
      );
    }
  }
  options.save = dir;
  options.resume = dir;
  return { dir, info, options: options as T };
}

/**
 * Whether a resumed run has epochs left before `epochs`: false (after printing so) when it has trained them all;
 * an error naming both numbers when it has trained more.
 */
export function epochsLeft(resumed: Resumed<unknown>, epochs: number, print: (line: string) => void): boolean {
  const done = resumed.info.epoch;
  if (epochs < done) {
    throw new RangeError(
      `--epochs ${epochs}: ${resumed.dir} has already trained ${done} epochs; ask for ${done} or more`,
    );
  }
  if (epochs > done) return true;
  print(`${resumed.dir} has already trained ${done} of --epochs ${epochs}: nothing to do`);
  return false;
}

/** The state a resumed run continues from. */
export interface ResumePoint {
  readonly net: Network;
  readonly params: TensorRecord;
  readonly stats: TensorRecord;
  readonly momentum: TensorRecord;
  /** Epochs done. */
  readonly startEpoch: number;
}

/**
 * Loads the checkpoint of a resumed run onto `backend` as network `netOf(model)` (a function, so a recipe may
 * build the network from the record's own names and shapes) and checks it: every name and shape, every value
 * finite (a damaged file is refused with the fix that fits it, not a lower learning rate).
 */
export async function loadResumePoint(
  resumed: Resumed<unknown>,
  backend: Backend,
  netOf: (model: TensorRecord, file: string) => Network,
): Promise<ResumePoint> {
  const ck = await loadCheckpoint(resumed.dir, backend);
  const model = `${resumed.dir}/${ck.info.model}`;
  const optimizer = `${resumed.dir}/${ck.info.optimizer}`;
  const net = netOf(ck.model, model);
  const { params, stats } = splitParams(ck.model);
  checkRecord(model, params, net.paramShapes);
  checkRecord(`${model} (statistics)`, stats, net.statShapes);
  checkRecord(optimizer, ck.momentum, net.paramShapes);
  const damaged = "the file is damaged: restore the folder from a copy, or start a new run";
  await checkFinite(model, ck.model, damaged);
  await checkFinite(optimizer, ck.momentum, damaged);
  return { net, params, stats, momentum: ck.momentum, startEpoch: ck.info.epoch };
}
