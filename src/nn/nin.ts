/**
 * Network-in-Network (Lin et al., 2014) as the paper's Table 1 students and teachers: the authors' CIFAR version
 * (`wide-residual-networks/models/nin.lua`: no dropout, a linear classifier after global average pooling), with
 * batch norm after every convolution, or without it (convolutions with biases) for the gradient-based experiments.
 *
 * Three blocks of one spatial convolution and two 1×1 convolutions, each followed by (batch norm and) ReLU:
 * `5×5 192, 1×1 160, 1×1 96` → max pool; `5×5 192, 1×1 192, 1×1 192` → average pool; `3×3 192, 1×1 192, 1×1 192`
 * → global average pool → `fc`. Channels are scaled by `width`: 1 is NIN-wide (1.0M parameters), 0.5 NIN-thin
 * (0.26M; the paper rounds its thin student to 0.2M and does not list its widths). The attention points are the
 * three block outputs (after the last ReLU of each block, before its pooling): 32², 16² and 8² on CIFAR, as WRN's.
 *
 * The 3×3 stride-2 poolings pad by 1 (PyTorch's `padding=1`, the padding counted in the average's divisor), which
 * gives the Lua model's sizes (32 → 16 → 8) without its `ceil` mode.
 *
 * @module
 */
import { BOOLEAN, numberRule, optionsChecker, required } from "../_options.ts";
import { conv2d } from "../tensor/conv.ts";
import { linear } from "../tensor/linalg.ts";
import { batchNorm } from "../tensor/norm.ts";
import { avgPool2d, maxPool2d } from "../tensor/pool.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { type Network, networkFromSpec, ParamSpec } from "./network.ts";

/** Size of a Network-in-Network. */
export interface NinConfig {
  /** Channel multiplier: 1 is NIN-wide (192 channels), 0.5 NIN-thin; default 1. */
  readonly width?: number;
  /** Outputs of the classifier. */
  readonly numClasses: number;
  /** Batch norm after every convolution (default true); false gives convolutions with biases. */
  readonly batchNorm?: boolean;
}

/** The architecture as data: per block, the kernel and output channels of its three convolutions at width 1. */
const NIN_BLOCKS: readonly (readonly (readonly [kernel: number, channels: number])[])[] = [
  [[5, 192], [1, 160], [1, 96]],
  [[5, 192], [1, 192], [1, 192]],
  [[3, 192], [1, 192], [1, 192]],
];

const checkConfig = optionsChecker<NinConfig>("nin", {
  width: {
    expected: "a finite number with 96·width ≥ 1 and width ≤ 64 (every layer keeps at least one channel)",
    test: (v) => typeof v === "number" && Number.isFinite(v) && Math.floor(96 * v) >= 1 && v <= 64,
  },
  numClasses: required(numberRule({ min: 1, max: 2 ** 24, integer: true })),
  batchNorm: BOOLEAN,
});

/** The names of convolution `i` of block `b` and of what normalises it, written once for the spec and the forward. */
function convNames(b: number, i: number) {
  const base = `block${b}`;
  return { weight: `${base}.conv${i}.weight`, bias: `${base}.conv${i}.bias`, bn: `${base}.bn${i}` };
}

/** The spec: every convolution with its batch norm (or bias), then `fc`. */
function ninSpec(width: number, numClasses: number, bn: boolean) {
  const spec = new ParamSpec();
  const layers = NIN_BLOCKS.map((block) => block.map(([k, c]) => ({ k, c: Math.floor(c * width) })));
  let inC = 3;
  layers.forEach((block, b) =>
    block.forEach(({ k, c }, i) => {
      const n = convNames(b, i);
      spec.add(n.weight, [c, inC, k, k], "kaiming");
      if (bn) spec.bn(n.bn, c);
      else spec.add(n.bias, [c], "zero");
      inC = c;
    })
  );
  spec.add("fc.weight", [numClasses, inC], "kaiming");
  spec.add("fc.bias", [numClasses], "zero");
  return { spec, layers };
}

/**
 * A Network-in-Network over a flat record: `block{b}.conv{i}.weight`, then `block{b}.bn{i}.*` (with batch norm)
 * or `block{b}.conv{i}.bias` (without), and `fc.weight`, `fc.bias`. `apply` returns the logits, the three block
 * outputs (the attention points) and the running statistics (none without batch norm).
 *
 * @example
 * ```ts
 * const wide = nin({ numClasses: 10 });                                      // NIN-wide, 1.0M parameters
 * const thin = nin({ width: 0.5, numClasses: 10, batchNorm: false });        // NIN-thin for gradient-based AT
 * const { params, stats } = thin.init(0);
 * const { logits, groups } = thin.apply(params, stats, x, { train: true });  // groups: 3 attention points
 * ```
 */
export function nin(config: NinConfig): Network {
  checkConfig(config);
  const { width = 1, numClasses, batchNorm: bn = true } = config;
  const { spec, layers } = ninSpec(width, numClasses, bn);
  const name = `NIN-${width}${bn ? "" : "-nobn"}`;
  return networkFromSpec("nin", name, spec, ({ param, stat }, x, train, newStats) => {
    const layer = (v: Tensor, b: number, i: number, k: number): Tensor => {
      const n = convNames(b, i);
      const y = conv2d(v, param(n.weight), { pad: (k - 1) / 2 });
      if (!bn) return y.add(param(n.bias).reshape([1, -1, 1, 1])).relu();
      const r = batchNorm(y, {
        weight: param(`${n.bn}.weight`),
        bias: param(`${n.bn}.bias`),
        runningMean: stat(`${n.bn}.running_mean`),
        runningVar: stat(`${n.bn}.running_var`),
      }, { training: train, relu: true });
      newStats[`${n.bn}.running_mean`] = r.runningMean;
      newStats[`${n.bn}.running_var`] = r.runningVar;
      return r.y;
    };
    const pools = [
      (v: Tensor) => maxPool2d(v, { kernel: 3, stride: 2, pad: 1 }),
      (v: Tensor) => avgPool2d(v, { kernel: 3, stride: 2, pad: 1 }),
      (v: Tensor) => avgPool2d(v, { kernel: v.shape[2], stride: 1 }),
    ];
    let v = x;
    const groups: Tensor[] = [];
    layers.forEach((block, b) => {
      block.forEach(({ k }, i) => v = layer(v, b, i, k));
      groups.push(v);
      v = pools[b](v);
    });
    return { logits: linear(v.reshape([x.shape[0], -1]), param("fc.weight"), param("fc.bias")), groups };
  });
}
