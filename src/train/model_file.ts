/**
 * Trained ResNets from files, as users bring them: ours (`.safetensors`, a run folder's model file) or PyTorch's
 * (`.pth`/`.pt` from `torch.save`: a torchvision `state_dict`, or the reference's exported `{"params": …}` with
 * batch norm folded). The layout and block counts are read from the names, the class count from `fc.weight`; a
 * name or shape that does not fit is an error naming it and what was expected.
 *
 * @module
 */
import type { Backend } from "../backends/backend.ts";
import { loadPth } from "../io/pth.ts";
import { loadTensors } from "../io/tensors.ts";
import type { Network } from "../nn/network.ts";
import { checkRecord, splitParams, type TensorRecord } from "../nn/params.ts";
import { detectResnetLayout, resnet, type ResnetLayout, resnetOf } from "../nn/resnet.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { hasCheckpoint, readCheckpointInfo } from "./checkpoint.ts";
import { checkFinite } from "./guard.ts";

/** Architectures a ResNet file may be asked to be (`--teacher_arch`). */
export const RESNET_ARCHS = ["resnet18", "resnet34"] as const;
/** One of {@linkcode RESNET_ARCHS}. */
export type ResnetArch = typeof RESNET_ARCHS[number];

/**
 * Reads every float tensor of `path` onto `backend`: a run folder (the model its `checkpoint.json` names), a
 * `.safetensors` file, else a PyTorch checkpoint.
 */
export async function readTensorFile(path: string, backend: Backend): Promise<Record<string, Tensor>> {
  if (hasCheckpoint(path)) {
    const dir = path.replace(/\/+$/, "");
    return (await loadTensors(`${dir}/${(await readCheckpointInfo(dir)).model}`, backend)).tensors;
  }
  if (/\.safetensors$/i.test(path)) return (await loadTensors(path, backend)).tensors;
  return (await loadPth(path, backend)).tensors;
}

/** A ResNet with its weights, ready for passes. */
export interface LoadedResnet {
  readonly net: Network;
  readonly layout: ResnetLayout;
  readonly params: TensorRecord;
  readonly stats: TensorRecord;
  readonly numClasses: number;
  /** e.g. `resnet34` when the block counts are those of ResNet-18/34. */
  readonly arch?: ResnetArch;
  /** Its width multiplier and stem channels, read from the file (a network like it: `resnet({ depth, ...shape })`). */
  readonly shape: { readonly width: number; readonly stemWidth: number };
}

/** What {@linkcode resnetForRecord} reads from a record's names and shapes. */
export type ResnetOfRecord = Pick<LoadedResnet, "net" | "layout" | "numClasses" | "arch" | "shape">;

/**
 * The ResNet a record of tensors is the parameters of: layout and block counts from its names, width, stem and
 * classes from its shapes. `what` names the record for errors; `arch`, when given, must be what the names say.
 */
export function resnetForRecord(
  what: string,
  tensors: Readonly<Record<string, Tensor>>,
  { arch, archFlag = "--teacher_arch" }: { arch?: ResnetArch | ""; archFlag?: string } = {},
): ResnetOfRecord {
  const detected = detectResnetLayout(Object.keys(tensors));
  if (!detected) {
    const shown = Object.keys(tensors).slice(0, 6).join(", ");
    throw new Error(
      `${what}: not a ResNet's parameters (expected torchvision's names such as layer1.0.conv1.weight, the ` +
        `reference's group0.block0.conv0, or its export's group0.block0.conv0.bias); found ${shown || "no tensors"}`,
    );
  }
  const found: ResnetArch | undefined = detected.depth ? `resnet${detected.depth}` : undefined;
  if (arch && arch !== found) {
    throw new Error(
      `${what} holds a ResNet with [${detected.blocks.join(", ")}] blocks per group (${
        found ?? "neither ResNet-18 nor ResNet-34"
      }), not ${archFlag} ${arch}`,
    );
  }
  const fc = tensors["fc.weight"];
  if (!fc || fc.rank !== 2) throw new Error(`${what}: no classifier fc.weight [classes, features]`);
  const numClasses = fc.shape[0];
  const firstBlock = {
    torchvision: "layer1.0.conv1.weight",
    folded: "group0.block0.conv0.weight",
    reference: "group0.block0.conv0",
  };
  const stemConv = { torchvision: "conv1.weight", folded: "conv0.weight", reference: "conv0" };
  const shape = {
    width: (tensors[firstBlock[detected.layout]]?.shape[0] ?? 64) / 64,
    stemWidth: tensors[stemConv[detected.layout]]?.shape[0] ?? 64,
  };
  const options = { ...shape, numClasses, layout: detected.layout };
  const net = detected.depth
    ? resnet({ depth: detected.depth, ...options })
    : resnetOf(`ResNet [${detected.blocks.join(", ")}]`, detected.blocks, options);
  return { net, layout: detected.layout, numClasses, arch: found, shape };
}

/**
 * The ResNet whose weights `path` holds, on `backend`. `flag` names where the path came from (`--teacher_params`);
 * `arch`, when given, must be what the names say. Throws an error naming the file and the parameter for a file of
 * another architecture, a missing, unexpected or misshapen tensor, or non-finite weights.
 *
 * @example
 * ```ts
 * const teacher = await loadResnetFile("resnet34.pth", getBackend(), { flag: "--teacher_params" });
 * ```
 */
export async function loadResnetFile(
  path: string,
  backend: Backend,
  { flag, arch, archFlag }: { flag: string; arch?: ResnetArch | ""; archFlag?: string },
): Promise<LoadedResnet> {
  const tensors = await readTensorFile(path, backend);
  const what = `${flag} ${path}`;
  const found = resnetForRecord(what, tensors, { arch, archFlag });
  const { params, stats } = splitParams(tensors);
  checkRecord(`${what} (${found.net.name}, ${found.layout} layout)`, params, found.net.paramShapes);
  checkRecord(`${what} (${found.net.name}, ${found.layout} layout) statistics`, stats, found.net.statShapes);
  await checkFinite(what, tensors, "the file is damaged or its training diverged");
  return { ...found, params, stats };
}
