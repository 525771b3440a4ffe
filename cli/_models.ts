/**
 * Trained networks for the command line: `--arch` names to networks (the one place that knows them), and checkpoints
 * (a run folder, its `checkpoint.json`, or a `.safetensors` file) loaded and checked against the network.
 *
 * @module
 */
import { loadMnist } from "../src/data/mnist.ts";
import { CIFAR_NORMALIZATION, IMAGENET_NORMALIZATION, type Normalization } from "../src/data/normalization.ts";
import { DATASET_NAMES, type DatasetName } from "../src/data/datasets.ts";
import { getBackend } from "../src/tensor/device.ts";
import { detectResnetLayout, resnet } from "../src/nn/resnet.ts";
import { readTensorFile, type ResnetArch, resnetForRecord } from "../src/train/model_file.ts";
import { checkRecord, splitParams, type TensorRecord } from "../src/nn/params.ts";
import type { Network } from "../src/nn/network.ts";
import { nin } from "../src/nn/nin.ts";
import { wrn } from "../src/nn/wrn.ts";
import { cifarNetworkTag, type NetworkOptions } from "../src/train/cifar_network.ts";
import { type CheckpointInfo, hasCheckpoint, readCheckpointInfo } from "../src/train/checkpoint.ts";

/** The architectures `--arch` takes, for help texts. */
export const ARCH_HELP = "wrn-DEPTH-WIDTH (e.g. wrn-16-2), nin-WIDTH[-nobn] (e.g. nin-0.5), resnet18 or resnet34";

/** A network named by `--arch`, with what its inputs must look like. */
export interface Architecture {
  readonly net: Network;
  /** Side of the square input images. */
  readonly inputSize: number;
  /** The normalisation of its training data when the architecture fixes it (ImageNet networks); else the run's. */
  readonly normalization?: Normalization;
}

/** ResNets take ImageNet's 224×224 inputs, normalised with its mean and standard deviation. */
const IMAGENET = { inputSize: 224, normalization: IMAGENET_NORMALIZATION } as const;

/**
 * The network `--arch` names, for `numClasses` outputs. This is the only place that maps names to networks:
 * `wrn-DEPTH-WIDTH` and `nin-WIDTH[-nobn]` (32×32 inputs), `resnet18` and `resnet34` (224×224 ImageNet inputs, mean [0.485, 0.456, 0.406],
 * std [0.229, 0.224, 0.225]). A ResNet file's own layout and widths come from {@linkcode loadModel}.
 *
 * @example
 * ```ts
 * const { net, inputSize } = networkFor("wrn-16-2", 10); // WRN-16-2, 32×32 inputs
 * ```
 */
export function networkFor(arch: string, numClasses: number, flag = "--arch"): Architecture {
  const w = /^wrn-(\d+)-(\d+(?:\.\d+)?)$/i.exec(arch);
  if (w) {
    try {
      return { net: wrn({ depth: Number(w[1]), width: Number(w[2]), numClasses }), inputSize: 32 };
    } catch (e) {
      throw new RangeError(`${flag} ${arch}: ${e instanceof Error ? e.message : e}`);
    }
  }
  const n = /^nin-(\d+(?:\.\d+)?)(-nobn)?$/i.exec(arch);
  if (n) {
    try {
      return { net: nin({ width: Number(n[1]), numClasses, batchNorm: !n[2] }), inputSize: 32 };
    } catch (e) {
      throw new RangeError(`${flag} ${arch}: ${e instanceof Error ? e.message : e}`);
    }
  }
  if (arch === "resnet18" || arch === "resnet34") {
    return { net: resnet({ depth: arch === "resnet18" ? 18 : 34, numClasses }), ...IMAGENET };
  }
  throw new RangeError(`${flag} ${JSON.stringify(arch)}: unknown architecture; expected ${ARCH_HELP}`);
}

/** A network with its trained weights, ready for evaluation-mode passes. */
export interface LoadedModel {
  /** A short name: the run folder's, or the file's without its extension. */
  readonly label: string;
  /** The weights file read. */
  readonly file: string;
  readonly arch: string;
  readonly net: Network;
  readonly params: TensorRecord;
  readonly stats: TensorRecord;
  readonly numClasses: number;
  readonly inputSize: number;
  /** The data set the network was trained on, when known (from the run or `--dataset`). */
  readonly dataset?: DatasetName;
  /** How its inputs are normalised. */
  readonly normalization: Normalization;
  /** Things worth printing (a guessed normalisation). */
  readonly notes: readonly string[];
}

/** Options of {@linkcode loadModel}. */
export interface LoadModelOptions {
  /** The flag that named the checkpoint, for errors (`--model`, `--teacher`). */
  readonly flag: string;
  /** `--arch`; default: the run's depth and width from its `checkpoint.json`. */
  readonly arch?: string;
  /** The flag that gave `arch`, for errors; default `--arch`. */
  readonly archFlag?: string;
  /** The data set whose normalisation the inputs get when the run does not name one (a bare weights file). */
  readonly dataset?: DatasetName;
}

const dirname = (path: string) => (path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".");
const basename = (path: string) => path.replace(/\/+$/, "").split("/").pop() ?? path;

/** The weights file, and the run's checkpoint information where there is one. */
async function locate(path: string, flag: string): Promise<{ file: string; label: string; info?: CheckpointInfo }> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "no such file or folder"
      : `cannot read it (${(e as Error).message})`;
    throw new Error(
      `${flag} ${path}: ${why}; name a run folder, its checkpoint.json, a .safetensors or a PyTorch .pth file`,
    );
  }
  if (stat.isDirectory) {
    const dir = path.replace(/\/+$/, "");
    const info = await readCheckpointInfo(dir).catch((e) => {
      throw new Error(`${flag} ${path}: ${(e as Error).message}`);
    });
    return { file: `${dir}/${info.model}`, label: basename(dir), info };
  }
  if (/\.(pth|pt|tar)$/i.test(path)) return { file: path, label: basename(path).replace(/\.[^.]*$/, "") };
  const dir = dirname(path);
  if (path.endsWith(".json")) {
    const info = await readCheckpointInfo(dir).catch((e) => {
      throw new Error(`${flag} ${path}: ${(e as Error).message}`);
    });
    return { file: `${dir}/${info.model}`, label: basename(dir), info };
  }
  const info = hasCheckpoint(dir) ? await readCheckpointInfo(dir).catch(() => undefined) : undefined;
  return { file: path, label: info ? basename(dir) : basename(path).replace(/\.[^.]*$/, ""), info };
}

let mnistNormalization: Promise<Normalization> | undefined;

/** The normalisation of a data set's inputs, as training used it. */
export function normalizationOf(dataset: DatasetName): Promise<Normalization> {
  if (dataset !== "MNIST") return Promise.resolve(CIFAR_NORMALIZATION);
  mnistNormalization ??= loadMnist().then((m) => m.normalization);
  return mnistNormalization;
}

/**
 * Loads the checkpoint at `path` (a run folder, its `checkpoint.json`, a `.safetensors` file with or without a run
 * folder around it, or a PyTorch `.pth`) as the network `options.arch` names, or the run's own network. A ResNet is
 * built from the file's names and shapes (torchvision, reference or folded layout), checked against `--arch` when
 * given. The class count comes from the file's `fc.weight`; inputs are normalised as the run's data set was
 * (`options.dataset` for a bare file; ImageNet's for a ResNet). Errors name the flag and the file: a missing file, an
 * unknown architecture, a checkpoint that does not fit the network (every missing, unexpected or misshapen tensor).
 *
 * @example
 * ```ts
 * const teacher = await loadModel("logs/teacher", { flag: "--teacher" });
 * ```
 */
export async function loadModel(path: string, options: LoadModelOptions): Promise<LoadedModel> {
  const { flag, archFlag = "--arch" } = options;
  const { file, label, info } = await locate(path, flag);
  const tensors = await readTensorFile(file, getBackend());
  const isResnet = detectResnetLayout(Object.keys(tensors)) !== undefined;
  const runArch = info && !isResnet ? cifarNetworkTag(info.options as unknown as NetworkOptions) : undefined;
  const arch = options.arch ?? runArch;
  if (!arch && !isResnet) {
    throw new Error(`${flag} ${path}: no checkpoint.json beside it to tell its architecture; give ${archFlag}`);
  }
  const fc = tensors["fc.weight"];
  const logged = info?.log?.num_classes;
  const numClasses = fc?.rank === 2 ? fc.shape[0] : typeof logged === "number" ? logged : 10;
  const architecture: Architecture = isResnet && (!arch || /^resnet(18|34)$/.test(arch))
    ? { net: resnetForRecord(`${flag} ${file}`, tensors, { arch: arch as ResnetArch, archFlag }).net, ...IMAGENET }
    : networkFor(arch ?? "", numClasses, archFlag);
  const { net } = architecture;
  const { params, stats } = splitParams(tensors);
  const what = `${flag} ${file} (${arch ? `${archFlag} ${arch}: ` : ""}${net.name})`;
  checkRecord(what, params, net.paramShapes);
  checkRecord(`${what} statistics`, stats, net.statShapes);
  const notes: string[] = [];
  const runDataset = info?.options.dataset;
  const dataset = (DATASET_NAMES as readonly unknown[]).includes(runDataset)
    ? runDataset as DatasetName
    : options.dataset;
  let normalization = architecture.normalization;
  if (!normalization) {
    if (!dataset) notes.push(`${flag} ${path}: no data set known; inputs normalised as CIFAR (give --dataset)`);
    normalization = await normalizationOf(dataset ?? "CIFAR10");
  }
  return {
    label,
    file,
    arch: arch ?? net.name,
    net,
    params,
    stats,
    numClasses,
    inputSize: architecture.inputSize,
    dataset,
    normalization,
    notes,
  };
}
