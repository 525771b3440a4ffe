/**
 * The options of the CIFAR recipe: the reference `cifar.py` flags with the same names and defaults, plus
 * `--backend`, `--seed`, `--download`. Parsing turns every bad value into one error that names the flag.
 *
 * @module
 */
import { IMAGE_SIZE } from "../data/dataset.ts";
import { DATASET_NAMES, type DatasetName } from "../data/datasets.ts";
import type { BackendRequest } from "../backends/registry.ts";
import {
  badFlag,
  flagDefaults,
  flagHelp,
  type FlagTable,
  type ParsedFlags,
  parseFlagTable,
  validateTrainingFlags,
} from "./flags.ts";

/** The networks the CIFAR recipe trains. */
export const CIFAR_MODELS = ["wrn", "nin"] as const;
/** One of {@linkcode CIFAR_MODELS}. */
export type CifarModel = typeof CIFAR_MODELS[number];

/** Options of a run, named as the reference names them (they are written into every `json_stats` line). */
export interface CifarOptions {
  /** `wrn` (the reference's) or `nin` (the paper's Network-in-Network students and teachers). */
  model: CifarModel;
  depth: number;
  width: number;
  /** NIN without batch norm (convolutions with biases), as the paper's gradient-based AT experiments. */
  no_bn: boolean;
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
  /** `beta` is multiplied by this at every epoch after the first: `beta · beta_decay^(epoch − 1)`. */
  beta_decay: number;
  /** Full-activation transfer weight (the paper's F-ActT baseline). */
  fat_beta: number;
  /** Gradient-based AT weight: the loss gains `gat_beta/2 · mean‖J_s − J_t‖₂`. */
  gat_beta: number;
  /** Flip-symmetry weight: the loss gains `sym_beta/2 · mean‖J_s − flip(J_s)‖₂`. */
  sym_beta: number;
  save: string;
  ngpu: number;
  gpu_id: string;
  backend: BackendRequest;
  seed: number;
  download: boolean;
  train_images: number;
  test_images: number;
}

/** Every flag: its kind, default and help line. The order is the help's order. */
export const FLAGS: FlagTable<CifarOptions> = {
  model: { kind: "string", default: "wrn", help: `network: ${CIFAR_MODELS.join(" or ")}`, addedLater: true },
  depth: { kind: "int", default: 16, help: "WRN depth, 6n+4 (student depth with --teacher_id)" },
  width: { kind: "float", default: 1, help: "width multiplier: WRN's k; NIN's (1: NIN-wide, 0.5: NIN-thin)" },
  no_bn: { kind: "bool", default: false, help: "NIN without batch norm (gradient-based AT runs)", addedLater: true },
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
  beta_decay: {
    kind: "float",
    default: 1,
    help: "--beta times this at each epoch after the first: beta·d^(epoch−1) (1: constant)",
    addedLater: true,
  },
  fat_beta: { kind: "float", default: 0, help: "full-activation transfer (F-ActT) weight (0: off)", addedLater: true },
  gat_beta: {
    kind: "float",
    default: 0,
    help: "gradient-based AT weight: + gat_beta/2·mean‖J_s−J_t‖₂, J = ∂CE/∂x (0: off)",
    addedLater: true,
  },
  sym_beta: {
    kind: "float",
    default: 0,
    help: "flip-symmetry weight: + sym_beta/2·mean‖J_s−flip(J_s)‖₂ (0: off)",
    addedLater: true,
  },
  save: { kind: "string", default: "", help: "folder for log.txt and checkpoints (default: logs/<generated>)" },
  ngpu: { kind: "int", default: 1, help: "GPUs; only 1 is supported" },
  gpu_id: { kind: "string", default: "0", help: "GPU to use; only 0 is supported" },
  backend: { kind: "string", default: "auto", help: "auto, cpu, onednn, webgpu or cudnn (or set AT_BACKEND)" },
  seed: { kind: "int", default: 0, help: "seed of initialisation, shuffling and augmentation" },
  download: { kind: "bool", default: false, help: "fetch the CIFAR archive into --dataroot if it is missing" },
  train_images: { kind: "int", default: 0, help: "train on the first N training images only (0: all)" },
  test_images: { kind: "int", default: 0, help: "test on the first N test images only (0: all)" },
};

/** The defaults of every option. */
export function defaultOptions(): CifarOptions {
  return flagDefaults(FLAGS);
}

/** The `--help` text. */
export function helpText(command: string): string {
  return flagHelp(FLAGS, command, [
    "Trains a Wide ResNet (or a Network-in-Network, --model nin) on CIFAR-10/100 or MNIST, or a student with",
    "attention transfer (--beta), knowledge distillation (--alpha), full-activation transfer (--fat_beta) or",
    "gradient-based AT (--gat_beta) from a teacher trained before (--teacher_id), or the flip-symmetry norm of",
    "its input gradients (--sym_beta). The reference's flags, and the rest of the paper's.",
  ]);
}

/** The parsed command line: the options, and which flags were given explicitly. */
export type ParsedArgs = ParsedFlags<CifarOptions>;

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
  return parseFlagTable(FLAGS, args);
}

/**
 * Checks values and combinations; refuses flags the project cannot honour instead of ignoring them.
 * Returns warnings for flags that are accepted but have no effect here.
 */
export function validateOptions(o: CifarOptions): string[] {
  const bad = badFlag;
  if (!DATASET_NAMES.includes(o.dataset)) {
    bad("dataset", `unknown data set ${JSON.stringify(o.dataset)}; use one of ${DATASET_NAMES.join(", ")}`);
  }
  if (o.dtype !== "float") bad("dtype", `only float (float32) is supported, got ${JSON.stringify(o.dtype)}`);
  if (o.gpu_id !== "0") {
    bad(
      "gpu_id",
      `choosing GPU ${JSON.stringify(o.gpu_id)} is not supported yet; the first device is used (--gpu_id 0)`,
    );
  }
  validateTrainingFlags(o, "teacher_id", o.teacher_id !== "");
  if (!(o.train_images >= 0)) bad("train_images", `must be 0 (all) or a positive count, got ${o.train_images}`);
  if (!(o.test_images >= 0)) bad("test_images", `must be 0 (all) or a positive count, got ${o.test_images}`);
  if (!(o.randomcrop_pad >= 0 && o.randomcrop_pad < IMAGE_SIZE)) {
    bad(
      "randomcrop_pad",
      `reflect padding must be in [0, ${
        IMAGE_SIZE - 1
      }] for ${IMAGE_SIZE}×${IMAGE_SIZE} images, got ${o.randomcrop_pad}`,
    );
  }
  if (!CIFAR_MODELS.includes(o.model)) {
    bad("model", `unknown network ${JSON.stringify(o.model)}; use one of ${CIFAR_MODELS.join(", ")}`);
  }
  if (o.model === "nin" && !(Math.floor(96 * o.width) >= 1 && o.width <= 64)) {
    bad(
      "width",
      `NIN's layers have 192·width, 160·width and 96·width channels: use a width in [1/96, 64], got ${o.width}`,
    );
  }
  if (o.model !== "nin" && o.no_bn) bad("no_bn", "only NIN has a variant without batch norm: add --model nin");
  if (o.model === "nin" && o.depth !== FLAGS.depth.default) {
    bad("depth", `NIN has a fixed depth (9 convolutions); drop --depth ${o.depth} or use --model wrn`);
  }
  if (!(o.beta_decay > 0 && o.beta_decay <= 1)) bad("beta_decay", `must be in (0, 1], got ${o.beta_decay}`);
  if (o.beta_decay !== 1 && !(o.beta > 0)) bad("beta_decay", "decays the AT weight: add --beta");
  for (const [flag, what] of [["fat_beta", "full-activation"], ["gat_beta", "gradient-based attention"]] as const) {
    if (!(o[flag] >= 0)) bad(flag, `must be non-negative, got ${o[flag]}`);
    if (!o.teacher_id && o[flag] > 0) bad(flag, `${what} transfer needs a teacher: add --teacher_id`);
  }
  if (!(o.sym_beta >= 0)) bad("sym_beta", `must be non-negative, got ${o.sym_beta}`);
  return o.nthread !== 4
    ? [`--nthread ${o.nthread}: batches are prepared by one background worker; the value has no effect`]
    : [];
}
