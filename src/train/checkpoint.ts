/**
 * Checkpoints that survive a crash at any instant. Each epoch writes `model-epoch-N.safetensors` (parameters
 * and batch-norm statistics, the reference's names), `optimizer-epoch-N.safetensors` (momentum buffers, same
 * names), then replaces `checkpoint.json` (epoch, learning rate, options, seed) atomically, then deletes the
 * previous epoch's files. Whatever instant a run dies at, `checkpoint.json` names two complete files.
 *
 * @module
 */
import type { Backend } from "../backends/backend.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { loadTensors, saveTensors } from "../io/tensors.ts";
import { appendJsonStats, readJsonStats } from "./log.ts";
import type { TensorRecord } from "../nn/params.ts";

/** The file that names a run's latest checkpoint. */
export const CHECKPOINT_FILE = "checkpoint.json";

/** What `checkpoint.json` holds. */
export interface CheckpointInfo {
  readonly format: "at-core-checkpoint/1";
  /** Epochs completed. */
  readonly epoch: number;
  /** The learning rate of the last epoch. */
  readonly lr: number;
  /** File names (in the same folder) of the model and the optimizer state. */
  readonly model: string;
  readonly optimizer: string;
  /** The options of the run (its recipe's flags; checked against them when resumed). */
  readonly options: Readonly<Record<string, unknown>>;
  /**
   * Random state: every draw of a run (initialisation, each epoch's order, each batch's augmentation) is a
   * function of the seed and the epoch and batch numbers, so the seed and epoch are the whole state.
   */
  readonly rng: { readonly seed: number; readonly epoch: number };
  /**
   * The epoch's `json_stats` record. `log.txt` is appended after this file is in place, so a run that died in
   * between has its last line here; {@linkcode syncLog} puts it back.
   */
  readonly log?: Record<string, unknown>;
}

/** A loaded checkpoint. */
export interface Checkpoint {
  readonly info: CheckpointInfo;
  readonly dir: string;
  /** Parameters and statistics by reference name. */
  readonly model: TensorRecord;
  /** Momentum buffers by parameter name. */
  readonly momentum: TensorRecord;
}

const modelFile = (epoch: number) => `model-epoch-${epoch}.safetensors`;
const optimizerFile = (epoch: number) => `optimizer-epoch-${epoch}.safetensors`;

/** Writes the checkpoint of epoch `info.epoch` into `dir`, then removes older checkpoint files. */
export async function saveCheckpoint(
  dir: string,
  info: Omit<CheckpointInfo, "format" | "model" | "optimizer">,
  model: TensorRecord,
  momentum: TensorRecord,
): Promise<void> {
  const full: CheckpointInfo = {
    format: "at-core-checkpoint/1",
    ...info,
    model: modelFile(info.epoch),
    optimizer: optimizerFile(info.epoch),
  };
  const meta = { epoch: String(info.epoch), format: full.format };
  await saveTensors(`${dir}/${full.model}`, model, meta);
  await saveTensors(`${dir}/${full.optimizer}`, momentum, meta);
  await writeFileAtomic(`${dir}/${CHECKPOINT_FILE}`, JSON.stringify(full, null, 2) + "\n");
  for await (const entry of Deno.readDir(dir)) {
    const stale = /^(model|optimizer)-epoch-(\d+)\.safetensors$/.exec(entry.name);
    if (stale && Number(stale[2]) !== info.epoch) await Deno.remove(`${dir}/${entry.name}`).catch(() => {});
  }
}

/** Resolves `--resume`/`--teacher_id` targets: a run folder, its `checkpoint.json`, or one of its model files. */
export function checkpointDir(path: string): string {
  const stat = Deno.statSync(path);
  if (stat.isDirectory) return path.replace(/\/+$/, "");
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "." : path.slice(0, slash);
}

/** Whether `dir` holds a checkpoint. */
export function hasCheckpoint(dir: string): boolean {
  try {
    return Deno.statSync(`${dir}/${CHECKPOINT_FILE}`).isFile;
  } catch {
    return false;
  }
}

/** Reads `checkpoint.json` of `dir` (no tensors); errors say which file is missing or wrong. */
export async function readCheckpointInfo(dir: string): Promise<CheckpointInfo> {
  const path = `${dir}/${CHECKPOINT_FILE}`;
  let info: CheckpointInfo;
  try {
    info = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`no checkpoint in ${dir}: ${CHECKPOINT_FILE} is missing`);
    throw new Error(`${path} is not valid JSON (${e instanceof Error ? e.message : e})`);
  }
  if (info?.format !== "at-core-checkpoint/1" || !Number.isInteger(info.epoch) || !info.model || !info.optimizer) {
    throw new Error(`${path} is not an @at/core checkpoint (format ${JSON.stringify(info?.format)})`);
  }
  const { options } = info;
  if (typeof options !== "object" || options === null || Array.isArray(options) || !Object.keys(options).length) {
    throw new Error(
      `${path} holds no options (${
        JSON.stringify(options)
      }): the file is damaged; restore it from a copy or start a new run`,
    );
  }
  return info;
}

/** Reads the checkpoint `checkpoint.json` in `dir` names onto `backend`. */
export async function loadCheckpoint(dir: string, backend: Backend): Promise<Checkpoint> {
  const info = await readCheckpointInfo(dir);
  const model = await loadTensors(`${dir}/${info.model}`, backend);
  const momentum = await loadTensors(`${dir}/${info.optimizer}`, backend);
  for (const [name, file] of [[info.model, model], [info.optimizer, momentum]] as const) {
    if (file.metadata.epoch !== String(info.epoch)) {
      throw new Error(`${dir}/${name} is from epoch ${file.metadata.epoch}, but ${CHECKPOINT_FILE} says ${info.epoch}`);
    }
  }
  return { info, dir, model: model.tensors, momentum: momentum.tensors };
}

/**
 * Makes `<dir>/log.txt` end at the checkpoint's epoch: appends the checkpoint's own record when the run died
 * after writing `checkpoint.json` and before appending its line. Returns whether a line was restored.
 */
export async function syncLog(dir: string, info: CheckpointInfo): Promise<boolean> {
  if (!info.log || info.log.epoch !== info.epoch) return false;
  const path = `${dir}/log.txt`;
  let records: Record<string, unknown>[] = [];
  try {
    records = await readJsonStats(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const logged = records.reduce((m, r) => Math.max(m, typeof r.epoch === "number" ? r.epoch : 0), 0);
  if (logged >= info.epoch) return false;
  await appendJsonStats(path, info.log);
  return true;
}
