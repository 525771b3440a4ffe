/**
 * The options of the CIFAR recipe: the reference `cifar.py` flags with the same names and defaults, plus
 * `--backend`, `--seed`, `--download`. Parsing turns every bad value into one error that names the flag.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { DATASET_NAMES, type DatasetName } from "../data/datasets.ts";
import { type BackendRequest, parseBackendRequest } from "../backends/registry.ts";

/** Options of a run, named as the reference names them (they are written into every `json_stats` line). */
export interface CifarOptions {
  depth: number;
  width: number;
  dataset: DatasetName;
  dataroot: string;
  dtype: string;
  nthread: number;
  teacher_id: string;
  batch_size: number;
  lr: number;
  epochs: number;
  weight_decay: number;
  /** JSON list of 1-based epoch numbers at whose start the learning rate is multiplied by `lr_decay_ratio`. */
  epoch_step: string;
  lr_decay_ratio: number;
  resume: string;
  randomcrop_pad: number;
  temperature: number;
  alpha: number;
  beta: number;
  save: string;
  ngpu: number;
  gpu_id: string;
  backend: BackendRequest;
  seed: number;
  download: boolean;
  train_images: number;
  test_images: number;
}

type Kind = "int" | "float" | "string" | "bool";

/** Every flag: its kind, default and help line. The order is the help's order. */
export const FLAGS: Readonly<Record<keyof CifarOptions, { kind: Kind; default: unknown; help: string }>> = {
  depth: { kind: "int", default: 16, help: "WRN depth, 6n+4 (student depth with --teacher_id)" },
  width: { kind: "float", default: 1, help: "WRN width multiplier k" },
  dataset: { kind: "string", default: "CIFAR10", help: `data set: ${DATASET_NAMES.join(", ")}` },
  dataroot: { kind: "string", default: ".", help: "folder holding cifar-10-batches-bin/ or cifar-100-binary/" },
  dtype: { kind: "string", default: "float", help: "tensor type; only float (float32) is supported" },
  nthread: { kind: "int", default: 4, help: "data threads; batches are prepared by one background worker" },
  teacher_id: { kind: "string", default: "", help: "train a student against logs/<id> (its log.txt and checkpoint)" },
  batch_size: { kind: "int", default: 128, help: "images per step" },
  lr: { kind: "float", default: 0.1, help: "initial learning rate" },
  epochs: { kind: "int", default: 200, help: "epochs to train" },
  weight_decay: { kind: "float", default: 0.0005, help: "SGD weight decay" },
  epoch_step: { kind: "string", default: "[60,120,160]", help: "JSON list of epochs (from 1) that start a lower rate" },
  lr_decay_ratio: { kind: "float", default: 0.2, help: "learning-rate multiplier at each epoch_step" },
  resume: { kind: "string", default: "", help: "continue the run in this folder (or its checkpoint.json)" },
  randomcrop_pad: { kind: "int", default: 4, help: "reflect padding before the random 32×32 crop" },
  temperature: { kind: "float", default: 4, help: "KD softmax temperature" },
  alpha: { kind: "float", default: 0, help: "KD weight (0: no KD)" },
  beta: { kind: "float", default: 0, help: "AT weight, e.g. 1e3 (0: no AT); the reference has no ½" },
  save: { kind: "string", default: "", help: "folder for log.txt and checkpoints (default: logs/<generated>)" },
  ngpu: { kind: "int", default: 1, help: "GPUs; only 1 is supported" },
  gpu_id: { kind: "string", default: "0", help: "GPU to use; only 0 is supported" },
  backend: { kind: "string", default: "auto", help: "auto, cpu, webgpu or cudnn (or set AT_BACKEND)" },
  seed: { kind: "int", default: 0, help: "seed of initialisation, shuffling and augmentation" },
  download: { kind: "bool", default: false, help: "fetch the CIFAR archive into --dataroot if it is missing" },
  train_images: { kind: "int", default: 0, help: "train on the first N training images only (0: all)" },
  test_images: { kind: "int", default: 0, help: "test on the first N test images only (0: all)" },
};

/** The defaults of every option. */
export function defaultOptions(): CifarOptions {
  return Object.fromEntries(Object.entries(FLAGS).map(([k, f]) => [k, f.default])) as unknown as CifarOptions;
}

/** The `--help` text. */
export function helpText(command: string): string {
  const lines = Object.entries(FLAGS).map(([k, f]) => {
    const flag = f.kind === "bool" ? `--${k}` : `--${k} ${JSON.stringify(f.default)}`;
    return `  ${flag.padEnd(28)} ${f.help}`;
  });
  return [
    `usage: ${command} [options]`,
    "",
    "Trains a Wide ResNet on CIFAR-10/100 or MNIST, or a student with attention transfer (--beta) and/or",
    "knowledge distillation (--alpha) from a teacher trained before (--teacher_id). Same flags as the reference.",
    "",
    ...lines,
    `  ${"--help".padEnd(28)} this text`,
  ].join("\n");
}

/** The parsed command line: the options, and which flags were given explicitly. */
export interface ParsedArgs {
  readonly options: CifarOptions;
  readonly given: ReadonlySet<keyof CifarOptions>;
  readonly help: boolean;
}

function convert(name: string, kind: Kind, raw: string): unknown {
  if (kind === "string") return raw;
  const v = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(v)) {
    throw new RangeError(`--${name}: expected a number, got ${JSON.stringify(raw)}`);
  }
  if (kind === "int" && !Number.isInteger(v)) {
    throw new RangeError(`--${name}: expected an integer, got ${JSON.stringify(raw)}`);
  }
  return v;
}

/**
 * Parses `args` (as `Deno.args`). Throws one `RangeError` naming the flag for an unknown flag or a bad
 * value; see {@linkcode validateOptions} for checks across flags.
 *
 * @example
 * ```ts
 * const { options } = parseCifarArgs(["--depth", "16", "--width", "2", "--save", "logs/teacher"]);
 * ```
 */
export function parseCifarArgs(args: readonly string[]): ParsedArgs {
  const spec: Record<string, { type: "string" | "boolean" }> = { help: { type: "boolean" } };
  for (const [k, f] of Object.entries(FLAGS)) spec[k] = { type: f.kind === "bool" ? "boolean" : "string" };
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: [...args], options: spec, strict: true, allowPositionals: false })
      .values as typeof values;
  } catch (e) {
    const message = e instanceof Error ? e.message.replace(/\. To specify.*$/s, "") : String(e);
    throw new RangeError(`${message}; run with --help to list the flags`);
  }
  const options = defaultOptions() as unknown as Record<string, unknown>;
  const given = new Set<keyof CifarOptions>();
  for (const [k, f] of Object.entries(FLAGS)) {
    const raw = values[k];
    if (raw === undefined) continue;
    given.add(k as keyof CifarOptions);
    options[k] = typeof raw === "boolean" ? raw : convert(k, f.kind, raw);
  }
  const result = options as unknown as CifarOptions;
  if (given.has("backend")) result.backend = parseBackendRequest(String(options.backend), "--backend");
  return { options: result, given, help: values.help === true };
}

/** Parses `--epoch_step` (a JSON list of positive integers). */
export function parseEpochStep(text: string): number[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new RangeError(`--epoch_step: expected a JSON list such as [60,120,160], got ${JSON.stringify(text)}`);
  }
  if (!Array.isArray(v) || !v.every((s) => Number.isInteger(s) && s > 0)) {
    throw new RangeError(`--epoch_step: expected a JSON list of positive integers, got ${JSON.stringify(text)}`);
  }
  return v as number[];
}

/**
 * Checks values and combinations; refuses flags the project cannot honour instead of ignoring them.
 * Returns warnings for flags that are accepted but have no effect here.
 */
export function validateOptions(o: CifarOptions): string[] {
  const bad = (flag: string, why: string): never => {
    throw new RangeError(`--${flag}: ${why}`);
  };
  if (!DATASET_NAMES.includes(o.dataset)) {
    bad("dataset", `unknown data set ${JSON.stringify(o.dataset)}; use one of ${DATASET_NAMES.join(", ")}`);
  }
  if (o.dtype !== "float") bad("dtype", `only float (float32) is supported, got ${JSON.stringify(o.dtype)}`);
  if (o.ngpu !== 1) bad("ngpu", `training on ${o.ngpu} GPUs is not supported yet; use --ngpu 1`);
  if (o.gpu_id !== "0") {
    bad(
      "gpu_id",
      `choosing GPU ${JSON.stringify(o.gpu_id)} is not supported yet; the first device is used (--gpu_id 0)`,
    );
  }
  if (!(o.batch_size >= 1)) bad("batch_size", `must be at least 1, got ${o.batch_size}`);
  if (!(o.epochs >= 1)) bad("epochs", `must be at least 1, got ${o.epochs}`);
  if (!(o.lr > 0)) bad("lr", `must be positive, got ${o.lr}`);
  if (!(o.weight_decay >= 0)) bad("weight_decay", `must be non-negative, got ${o.weight_decay}`);
  if (!(o.lr_decay_ratio > 0)) bad("lr_decay_ratio", `must be positive, got ${o.lr_decay_ratio}`);
  if (!(o.train_images >= 0)) bad("train_images", `must be 0 (all) or a positive count, got ${o.train_images}`);
  if (!(o.test_images >= 0)) bad("test_images", `must be 0 (all) or a positive count, got ${o.test_images}`);
  if (!(o.randomcrop_pad >= 0)) bad("randomcrop_pad", `must be non-negative, got ${o.randomcrop_pad}`);
  if (!(o.temperature > 0)) bad("temperature", `must be positive, got ${o.temperature}`);
  if (!(o.alpha >= 0 && o.alpha <= 1)) bad("alpha", `must be in [0, 1], got ${o.alpha}`);
  if (!(o.beta >= 0)) bad("beta", `must be non-negative, got ${o.beta}`);
  if (!o.teacher_id && o.alpha > 0) bad("alpha", "knowledge distillation needs a teacher: add --teacher_id");
  if (!o.teacher_id && o.beta > 0) bad("beta", "attention transfer needs a teacher: add --teacher_id");
  parseEpochStep(o.epoch_step);
  return o.nthread !== 4
    ? [`--nthread ${o.nthread}: batches are prepared by one background worker; the value has no effect`]
    : [];
}
