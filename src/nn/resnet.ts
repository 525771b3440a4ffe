/**
 * ResNet-18 and ResNet-34 for ImageNet, as the attention-transfer reference trains them (`imagenet.py`): a 7×7
 * stride-2 stem with batch norm and ReLU, a 3×3 stride-2 max pool, four groups of post-activation basic blocks,
 * global average pooling and a linear classifier; the four group outputs are the attention points.
 *
 * One architecture, three parameter layouts, each a {@linkcode Network}:
 * - `reference` (the student the recipe trains): `conv0`, `bn0`, `group{g}.block{b}.{conv0,bn0,conv1,bn1,convdim}`,
 *   `fc.weight`, `fc.bias`; the 1×1 shortcut `convdim` has no batch norm, as in the reference.
 * - `torchvision` (pretrained PyTorch teachers): `conv1.weight`, `bn1.*`, `layer{l}.{b}.{conv1,bn1,conv2,bn2}.*`,
 *   `layer{l}.0.downsample.{0,1}.*` (a 1×1 convolution and its batch norm), `fc.*`.
 * - `folded` (the reference's exported teachers, batch norm folded into the convolutions): `conv0.weight/bias`,
 *   `group{g}.block{b}.conv{0,1}.weight/bias`, `group{g}.block0.conv_dim.weight`, `fc.weight/bias`.
 *
 * The architecture is data: block counts per group ({@linkcode RESNET_BLOCKS}) and widths; each layout is a
 * function from (group, block) to its names, read by both the spec (for `init` and shape checks) and `apply`.
 *
 * @module
 */
import { numberRule, oneOf, optionsChecker, required } from "../_options.ts";
import { conv2d } from "../tensor/conv.ts";
import { linear } from "../tensor/linalg.ts";
import { batchNorm } from "../tensor/norm.ts";
import { avgPool2d, maxPool2d } from "../tensor/pool.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { type Network, networkFromSpec, ParamSpec } from "./network.ts";

/** Basic blocks per group: ResNet-18 `[2, 2, 2, 2]`, ResNet-34 `[3, 4, 6, 3]` (the reference script's `[3, 4, 6, 5]` is a slip). */
export const RESNET_BLOCKS: Readonly<Record<18 | 34, readonly number[]>> = Object.freeze({
  18: Object.freeze([2, 2, 2, 2]),
  34: Object.freeze([3, 4, 6, 3]),
});

/** Parameter layouts of the same architecture (see the module documentation). */
export type ResnetLayout = "reference" | "torchvision" | "folded";

/** Size and layout of a ResNet. */
export interface ResnetConfig {
  /** 18 or 34. */
  readonly depth: 18 | 34;
  /** Width multiplier of the four groups (64, 128, 256, 512 channels at 1); default 1. The stem keeps 64. */
  readonly width?: number;
  /** Outputs of the classifier; default 1000 (ImageNet). */
  readonly numClasses?: number;
  /** Parameter names; default `"reference"`. */
  readonly layout?: ResnetLayout;
  /** Channels of the 7×7 stem; default 64 (small test networks read theirs from a file). */
  readonly stemWidth?: number;
}

const checkConfig = optionsChecker<ResnetConfig>("resnet", {
  depth: required(oneOf(18, 34)),
  width: {
    expected: "a finite number with 64·width ≥ 1",
    test: (v) => typeof v === "number" && Number.isFinite(v) && Math.floor(64 * v) >= 1 && v <= 64,
  },
  numClasses: numberRule({ min: 1, max: 2 ** 24, integer: true }),
  layout: oneOf("torchvision", "reference", "folded"),
  stemWidth: numberRule({ min: 1, max: 4096, integer: true }),
});

/** How a convolution's output is normalised: a batch norm (its base name), a bias (folded layout), or nothing. */
type Norm = { readonly bn: string } | { readonly bias: string } | null;

/** The names of one convolution and what follows it. */
interface ConvNames {
  readonly weight: string;
  readonly norm: Norm;
}

/** The names of one basic block; `shortcut` only where the block has a projection. */
interface BlockNames {
  readonly conv0: ConvNames;
  readonly conv1: ConvNames;
  readonly shortcut: ConvNames;
}

interface LayoutNames {
  readonly stem: ConvNames;
  block(g: number, b: number): BlockNames;
}

/**
 * Whether a block has a projection shortcut: the first of a group, where it strides or changes the width. (The
 * reference's folded teacher tests the stride only; at its width, 1, that is the same rule.)
 */
const projects = (p: PlannedBlock) => p.b === 0 && (p.stride !== 1 || p.inC !== p.outC);

const LAYOUTS: Readonly<Record<ResnetLayout, LayoutNames>> = {
  reference: {
    stem: { weight: "conv0", norm: { bn: "bn0" } },
    block(g, b) {
      const base = `group${g}.block${b}`;
      return {
        conv0: { weight: `${base}.conv0`, norm: { bn: `${base}.bn0` } },
        conv1: { weight: `${base}.conv1`, norm: { bn: `${base}.bn1` } },
        shortcut: { weight: `${base}.convdim`, norm: null },
      };
    },
  },
  torchvision: {
    stem: { weight: "conv1.weight", norm: { bn: "bn1" } },
    block(g, b) {
      const base = `layer${g + 1}.${b}`;
      return {
        conv0: { weight: `${base}.conv1.weight`, norm: { bn: `${base}.bn1` } },
        conv1: { weight: `${base}.conv2.weight`, norm: { bn: `${base}.bn2` } },
        shortcut: { weight: `${base}.downsample.0.weight`, norm: { bn: `${base}.downsample.1` } },
      };
    },
  },
  folded: {
    stem: { weight: "conv0.weight", norm: { bias: "conv0.bias" } },
    block(g, b) {
      const base = `group${g}.block${b}`;
      return {
        conv0: { weight: `${base}.conv0.weight`, norm: { bias: `${base}.conv0.bias` } },
        conv1: { weight: `${base}.conv1.weight`, norm: { bias: `${base}.conv1.bias` } },
        shortcut: { weight: `${base}.conv_dim.weight`, norm: null },
      };
    },
  },
};

const STRIDES = [1, 2, 2, 2];

/** One block of the plan: where it sits and its channel counts and stride. */
interface PlannedBlock {
  readonly g: number;
  readonly b: number;
  readonly inC: number;
  readonly outC: number;
  readonly stride: number;
}

/** The architecture as data: every block with its channels and stride, from block counts and widths. */
function plan(blocks: readonly number[], widths: readonly number[], stemWidth: number): PlannedBlock[] {
  const out: PlannedBlock[] = [];
  let inC = stemWidth;
  blocks.forEach((count, g) => {
    for (let b = 0; b < count; b++) {
      out.push({ g, b, inC: b === 0 ? inC : widths[g], outC: widths[g], stride: b === 0 ? STRIDES[g] : 1 });
    }
    inC = widths[g];
  });
  return out;
}

function addConv(spec: ParamSpec, conv: ConvNames, shape: number[]): void {
  spec.add(conv.weight, shape, "kaiming");
  if (conv.norm && "bn" in conv.norm) spec.bn(conv.norm.bn, shape[0]);
  else if (conv.norm) spec.add(conv.norm.bias, [shape[0]], "zero");
}

/**
 * A ResNet over blocks counts `blocks` (one per group; {@linkcode RESNET_BLOCKS} for 18 and 34) in `layout`.
 * Used directly for teachers whose block counts are read from a file's names.
 */
export function resnetOf(
  name: string,
  blocks: readonly number[],
  { width = 1, numClasses = 1000, layout = "reference", stemWidth = 64 }: Omit<ResnetConfig, "depth">,
): Network {
  if (blocks.length !== 4 || !blocks.every((n) => Number.isInteger(n) && n >= 1 && n <= 64)) {
    throw new RangeError(`resnet: expects four groups of 1 to 64 blocks, got [${blocks.join(", ")}]`);
  }
  const names = LAYOUTS[layout];
  const widths = [64, 128, 256, 512].map((c) => Math.floor(c * width));
  const blocksPlan = plan(blocks, widths, stemWidth);
  const spec = new ParamSpec();
  addConv(spec, names.stem, [stemWidth, 3, 7, 7]);
  for (const p of blocksPlan) {
    const n = names.block(p.g, p.b);
    addConv(spec, n.conv0, [p.outC, p.inC, 3, 3]);
    addConv(spec, n.conv1, [p.outC, p.outC, 3, 3]);
    if (projects(p)) addConv(spec, n.shortcut, [p.outC, p.inC, 1, 1]);
  }
  spec.add("fc.weight", [numClasses, widths[3]], "kaiming");
  spec.add("fc.bias", [numClasses], "zero");

  return networkFromSpec("resnet", name, spec, ({ param, stat }, x, train, newStats) => {
    /** Convolution, then its batch norm or bias, then a ReLU when asked. */
    const conv = (v: Tensor, c: ConvNames, stride: number, pad: number, relu: boolean): Tensor => {
      const y = conv2d(v, param(c.weight), { stride, pad });
      if (c.norm && "bn" in c.norm) {
        const base = c.norm.bn;
        const r = batchNorm(y, {
          weight: param(`${base}.weight`),
          bias: param(`${base}.bias`),
          runningMean: stat(`${base}.running_mean`),
          runningVar: stat(`${base}.running_var`),
        }, { training: train, relu });
        newStats[`${base}.running_mean`] = r.runningMean;
        newStats[`${base}.running_var`] = r.runningVar;
        return r.y;
      }
      const b = c.norm ? y.add(param(c.norm.bias).reshape([1, -1, 1, 1])) : y;
      return relu ? b.relu() : b;
    };
    let v = maxPool2d(conv(x, names.stem, 2, 3, true), { kernel: 3, stride: 2, pad: 1 });
    const groups: Tensor[] = [];
    for (const p of blocksPlan) {
      const n = names.block(p.g, p.b);
      const o = conv(conv(v, n.conv0, p.stride, 1, true), n.conv1, 1, 1, false);
      const shortcut = projects(p) ? conv(v, n.shortcut, p.stride, 0, false) : v;
      v = o.add(shortcut).relu();
      if (p.b === blocks[p.g] - 1) groups.push(v);
    }
    const pooled = avgPool2d(v, { kernel: v.shape[2], stride: 1 }).reshape([x.shape[0], -1]);
    return { logits: linear(pooled, param("fc.weight"), param("fc.bias")), groups };
  });
}

/**
 * ResNet-18 or ResNet-34 as the reference's ImageNet student (or in another `layout`).
 *
 * @example
 * ```ts
 * const student = resnet({ depth: 18 });                                  // the reference layout, 1000 classes
 * const teacher = resnet({ depth: 34, layout: "torchvision" });            // loads a torchvision state_dict
 * const { logits, groups } = student.apply(params, stats, x, { train: false }); // four groups
 * ```
 */
export function resnet(config: ResnetConfig): Network {
  checkConfig(config);
  const { depth, width = 1, ...rest } = config;
  const name = `ResNet-${depth}${width === 1 ? "" : `-${width}`}`;
  return resnetOf(name, RESNET_BLOCKS[depth], { width, ...rest });
}

/** What {@linkcode detectResnetLayout} reads from a record's names. */
export interface DetectedResnet {
  /** Whose names the record has. */
  readonly layout: ResnetLayout;
  /** Blocks per group, counted from the names. */
  readonly blocks: readonly number[];
  /** 18 or 34 when the counts are theirs, else undefined. */
  readonly depth?: 18 | 34;
}

/**
 * The layout and block counts of a ResNet parameter record from its names (as the reference counts
 * `group{g}.block{b}.conv0` names), or undefined when the names are of no ResNet layout.
 */
export function detectResnetLayout(names: Iterable<string>): DetectedResnet | undefined {
  const list = [...names];
  const layout: ResnetLayout | undefined = list.includes("layer1.0.conv1.weight")
    ? "torchvision"
    : list.includes("group0.block0.conv0.bias")
    ? "folded"
    : list.includes("group0.block0.bn0.weight") && list.includes("bn0.weight")
    ? "reference"
    : undefined;
  if (!layout) return undefined;
  // The first convolution of every block, with its group (0–3) and block number.
  const first = layout === "torchvision"
    ? /^layer([1-4])\.(\d+)\.conv1\.weight$/
    : /^group([0-3])\.block(\d+)\.conv0(?:\.weight)?$/;
  const offset = layout === "torchvision" ? 1 : 0;
  const blocks = [0, 0, 0, 0];
  for (const n of list) {
    const m = first.exec(n);
    if (m) blocks[Number(m[1]) - offset] = Math.max(blocks[Number(m[1]) - offset], Number(m[2]) + 1);
  }
  const depth = ([18, 34] as const).find((d) => RESNET_BLOCKS[d].every((n, i) => n === blocks[i]));
  return { layout, blocks, depth };
}
