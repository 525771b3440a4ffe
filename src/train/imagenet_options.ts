/**
 * The options of the ImageNet recipe: the reference `imagenet.py` flags with the same names and defaults, plus
 * `--backend`, `--teacher_arch`, `--evaluate`, `--image_size`, `--init` and `--seed`.
 *
 * @module
 */
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
import { RESNET_ARCHS } from "./model_file.ts";

/** Options of an ImageNet run, named as the reference names them (written into every `json_stats` line). */
export interface ImagenetOptions {
  imagenetpath: string;
  depth: number;
  width: number;
  teacher_params: string;
  teacher_arch: string;
  batch_size: number;
  lr: number;
  epochs: number;
  weight_decay: number;
  epoch_step: string;
  lr_decay_ratio: number;
  alpha: number;
  beta: number;
  temperature: number;
  save: string;
  resume: string;
  nthread: number;
  ngpu: number;
  backend: BackendRequest;
  evaluate: string;
  image_size: number;
  init: string;
  seed: number;
}

/** Every flag: its kind, default and help line, in the help's order. */
export const IMAGENET_FLAGS: FlagTable<ImagenetOptions> = {
  imagenetpath: { kind: "string", default: "", help: "ImageFolder root holding train/<class>/* and val/<class>/*" },
  depth: { kind: "int", default: 18, help: "student ResNet depth: 18 or 34" },
  width: { kind: "float", default: 1, help: "student width multiplier (64, 128, 256, 512 channels at 1)" },
  teacher_params: {
    kind: "string",
    default: "",
    help: "teacher weights: a PyTorch .pth, a .safetensors or a run folder",
  },
  teacher_arch: { kind: "string", default: "", help: "resnet18 or resnet34; default: read from the file's names" },
  batch_size: { kind: "int", default: 256, help: "images per step" },
  lr: { kind: "float", default: 0.1, help: "initial learning rate" },
  epochs: { kind: "int", default: 100, help: "epochs to train" },
  weight_decay: { kind: "float", default: 1e-4, help: "SGD weight decay" },
  epoch_step: { kind: "string", default: "[30,60,90]", help: "JSON list of epochs (from 1) that start a lower rate" },
  lr_decay_ratio: { kind: "float", default: 0.1, help: "learning-rate multiplier at each epoch_step" },
  alpha: { kind: "float", default: 0, help: "KD weight (0: no KD)" },
  beta: { kind: "float", default: 0, help: "AT weight, e.g. 1e3 (0: no AT); the reference has no ½" },
  temperature: { kind: "float", default: 4, help: "KD softmax temperature" },
  save: { kind: "string", default: "", help: "folder for log.txt and checkpoints (default: logs/<generated>)" },
  resume: { kind: "string", default: "", help: "continue the run in this folder (or its checkpoint.json)" },
  nthread: { kind: "int", default: 4, help: "workers decoding and augmenting images" },
  ngpu: { kind: "int", default: 1, help: "GPUs; only 1 is supported" },
  backend: { kind: "string", default: "auto", help: "auto, cpu, onednn, webgpu or cudnn (or set AT_BACKEND)" },
  evaluate: { kind: "string", default: "", help: "only report top-1/top-5 on val/ of this model (ours or a .pth)" },
  image_size: { kind: "int", default: 224, help: "training crop; evaluation resizes to round(N·256/224), crops N" },
  init: {
    kind: "string",
    default: "",
    help: "start the student from these weights (classifier new if classes differ)",
  },
  seed: { kind: "int", default: 0, help: "seed of initialisation, shuffling and augmentation" },
};

/** The parsed command line. */
export type ImagenetArgs = ParsedFlags<ImagenetOptions>;

/** Parses `args` (as `Deno.args`); one `RangeError` naming the flag for an unknown flag or a bad value. */
export function parseImagenetArgs(args: readonly string[]): ImagenetArgs {
  return parseFlagTable(IMAGENET_FLAGS, args);
}

/** The defaults of every option. */
export function imagenetDefaults(): ImagenetOptions {
  return flagDefaults(IMAGENET_FLAGS);
}

/** The `--help` text. */
export function imagenetHelp(command: string): string {
  return flagHelp(IMAGENET_FLAGS, command, [
    "Trains a ResNet-18/34 on an ImageFolder (ImageNet, or any data set laid out the same way), alone or as a",
    "student of a pretrained teacher with attention transfer (--beta) and/or distillation (--alpha); or, with",
    "--evaluate, reports a model's top-1/top-5 accuracy on val/. Same flags as the reference imagenet.py.",
  ]);
}

/** Checks values and combinations; refuses flags the project cannot honour instead of ignoring them. */
export function validateImagenetOptions(o: ImagenetOptions): void {
  if (!o.imagenetpath) badFlag("imagenetpath", "name the folder that holds train/ and val/");
  if (o.depth !== 18 && o.depth !== 34) badFlag("depth", `must be 18 or 34, got ${o.depth}`);
  if (!(o.width > 0 && Math.floor(64 * o.width) >= 1)) badFlag("width", `must be at least 1/64, got ${o.width}`);
  if (o.teacher_arch && !(RESNET_ARCHS as readonly string[]).includes(o.teacher_arch)) {
    badFlag("teacher_arch", `must be ${RESNET_ARCHS.join(" or ")}, got ${JSON.stringify(o.teacher_arch)}`);
  }
  validateTrainingFlags(o, "teacher_params", o.teacher_params !== "");
  if (!(o.nthread >= 0)) badFlag("nthread", `must be 0 (decode on the main thread) or more, got ${o.nthread}`);
  // Five halvings (stem, pool, three strided groups) must leave at least one pixel.
  if (!(o.image_size >= 32)) {
    badFlag("image_size", `must be at least 32 (the network halves it five times), got ${o.image_size}`);
  }
}
