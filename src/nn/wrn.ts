/**
 * Wide Residual Networks (Zagoruyko & Komodakis, 2016) exactly as the attention-transfer reference code
 * writes them: a pure function over a flat record of tensors with the reference's names.
 *
 * @module
 */
import { numberRule, optionsChecker, required } from "../_options.ts";
import { avgPool2d } from "../tensor/pool.ts";
import { conv2d } from "../tensor/conv.ts";
import { linear } from "../tensor/linalg.ts";
import { batchNorm } from "../tensor/norm.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { type Network, networkFromSpec, ParamSpec } from "./network.ts";

/** Size of a Wide ResNet: depth `6n + 4`, width multiplier `k`, classes. */
export interface WrnConfig {
  /** Number of layers, `6n + 4` (n blocks per group). */
  readonly depth: number;
  /** Width multiplier k: the groups have 16k, 32k and 64k channels. */
  readonly width: number;
  /** Outputs of the final linear layer. */
  readonly numClasses: number;
}

/** The parameter names of one pre-activation basic block, written once for both the spec and the forward pass. */
function blockNames(g: number, b: number) {
  const base = `group${g}.block${b}`;
  return {
    bn0: `${base}.bn0`,
    conv0: `${base}.conv0`,
    bn1: `${base}.bn1`,
    conv1: `${base}.conv1`,
    dim: `${base}.convdim`,
  };
}

/** The architecture as data: three groups of `(depth − 4)/6` blocks at widths 16k, 32k, 64k and strides 1, 2, 2. */
function wrnSpec(depth: number, width: number, numClasses: number) {
  const n = (depth - 4) / 6;
  const widths = [16, 32, 64].map((v) => Math.floor(v * width));
  const spec = new ParamSpec();
  spec.add("conv0", [16, 3, 3, 3], "kaiming");
  let ni = 16;
  widths.forEach((no, g) => {
    for (let b = 0; b < n; b++) {
      const names = blockNames(g, b);
      const inC = b === 0 ? ni : no;
      spec.add(names.conv0, [no, inC, 3, 3], "kaiming");
      spec.add(names.conv1, [no, no, 3, 3], "kaiming");
      spec.bn(names.bn0, inC);
      spec.bn(names.bn1, no);
      if (inC !== no) spec.add(names.dim, [no, inC, 1, 1], "kaiming");
    }
    ni = no;
  });
  spec.bn("bn", widths[2]);
  spec.add("fc.weight", [numClasses, widths[2]], "kaiming");
  spec.add("fc.bias", [numClasses], "zero");
  return { spec, blocks: n, strides: [1, 2, 2] };
}

const checkConfigOptions = optionsChecker<WrnConfig>("wrn", {
  depth: required({
    expected: "6n+4 with n ≥ 1 (10, 16, 22, 28, 40, …)",
    test: (v) => Number.isSafeInteger(v) && (v as number) >= 10 && ((v as number) - 4) % 6 === 0,
  }),
  width: required({
    expected: "a finite number ≥ 1/16 (the groups have 16·width, 32·width and 64·width channels, rounded down)",
    test: (v) => typeof v === "number" && Number.isFinite(v) && Math.floor(16 * v) >= 1,
  }),
  numClasses: required(numberRule({ min: 1, integer: true })),
});

/** The most elements one tensor may have: every backend indexes a buffer with 32-bit signed integers. */
const MAX_TENSOR_ELEMENTS = 2 ** 31 - 1;
/** The most scalars (parameters and running statistics) a network may have: 16 GiB of float32. */
const MAX_SCALARS = 2 ** 32;
/** The most named tensors a network may have (a depth of about 20,000). */
const MAX_TENSORS = 100_000;

type WrnSizes = { params: number; stats: number; tensors: number; largest: number };

/** Sizes of a WRN in closed form: scalars of its parameters and running statistics, its tensors, its largest one. */
function wrnSizes({ depth, width, numClasses }: WrnConfig): WrnSizes {
  const n = (depth - 4) / 6;
  const [w0, w1, w2] = [16, 32, 64].map((v) => Math.floor(v * width));
  let params = 16 * 3 * 9 + 2 * w2 + numClasses * w2 + numClasses; // conv0, bn, fc
  let stats = 2 * w2;
  let tensors = 1 + 4 + 2 + 30 * n;
  let largest = Math.max(16 * 3 * 9, numClasses * w2);
  for (const [ni, no] of [[16, w0], [w0, w1], [w1, w2]]) {
    // Block 0 maps ni channels to no (with a 1×1 convdim when they differ); the n − 1 others keep no.
    params += 9 * no * ni + 9 * no * no + 2 * ni + 2 * no + (ni !== no ? no * ni : 0);
    params += (n - 1) * (18 * no * no + 4 * no);
    stats += 2 * ni + 2 * no + (n - 1) * 4 * no;
    tensors += ni !== no ? 1 : 0;
    largest = Math.max(largest, 9 * no * Math.max(ni, no));
  }
  return { params, stats, tensors, largest };
}

/**
 * The number of trainable parameters of a WRN (the reference's `n_parameters`: convolutions, batch-norm scales and
 * shifts, the classifier), computed in closed form without building the network, so it answers for any size. The
 * running statistics add `2 × (channels of every batch norm)` scalars beside them.
 *
 * @example
 * ```ts
 * wrnParameterCount({ depth: 40, width: 4, numClasses: 10 }); // 8949210, the paper's 8.9M
 * ```
 */
export function wrnParameterCount(config: WrnConfig): number {
  checkConfigOptions(config);
  return wrnSizes(config).params;
}

/**
 * Checks a WRN config, with an error that says what would be right: the depth, width and class count, and that
 * the network can exist (its largest tensor within 2³¹ − 1 elements, at most 2³² scalars and 100,000 tensors).
 */
export function checkWrnConfig(config: WrnConfig): void {
  checkConfigOptions(config);
  const { params, stats, tensors, largest } = wrnSizes(config);
  const name = `WRN-${config.depth}-${config.width} with ${config.numClasses} classes`;
  if (largest > MAX_TENSOR_ELEMENTS) {
    throw new RangeError(
      `wrn: ${name} needs a tensor of ${largest} elements, more than the ${MAX_TENSOR_ELEMENTS} one tensor may hold; reduce width or numClasses`,
    );
  }
  if (params + stats > MAX_SCALARS) {
    throw new RangeError(
      `wrn: ${name} asks for ${params} parameters and ${stats} running statistics, more than the limit of ${MAX_SCALARS} scalars (16 GiB of float32); reduce depth or width`,
    );
  }
  if (tensors > MAX_TENSORS) {
    throw new RangeError(
      `wrn: ${name} has ${tensors} named tensors, more than the limit of ${MAX_TENSORS}; reduce depth`,
    );
  }
}

/**
 * A Wide ResNet WRN-depth-width as the reference code builds it: `conv0`, three groups of `(depth−4)/6`
 * pre-activation basic blocks (`groupG.blockB.{bn0,conv0,bn1,conv1,convdim}`) at widths 16k, 32k, 64k
 * with strides 1, 2, 2, then `bn`, ReLU, global average pooling and `fc`.
 *
 * @example
 * ```ts
 * const net = wrn({ depth: 16, width: 1, numClasses: 10 });
 * const { params, stats } = net.init(0);
 * const { logits, groups } = net.apply(params, stats, x, { train: false });
 * ```
 */
export function wrn(config: WrnConfig): Network {
  checkWrnConfig(config);
  const { depth, width, numClasses } = config;
  const { spec, blocks, strides } = wrnSpec(depth, width, numClasses);
  return networkFromSpec("wrn", `WRN-${depth}-${width}`, spec, ({ param, stat }, x, train, newStats) => {
    // Every batch norm of the network is followed by a ReLU: one fused call (see BatchNormOptions.relu).
    const bnRelu = (v: Tensor, base: string): Tensor => {
      const r = batchNorm(v, {
        weight: param(`${base}.weight`),
        bias: param(`${base}.bias`),
        runningMean: stat(`${base}.running_mean`),
        runningVar: stat(`${base}.running_var`),
      }, { training: train, relu: true });
      newStats[`${base}.running_mean`] = r.runningMean;
      newStats[`${base}.running_var`] = r.runningVar;
      return r.y;
    };
    const block = (v: Tensor, g: number, b: number, stride: number): Tensor => {
      const names = blockNames(g, b);
      const o1 = bnRelu(v, names.bn0);
      const y = conv2d(o1, param(names.conv0), { stride, pad: 1 });
      const o2 = bnRelu(y, names.bn1);
      const z = conv2d(o2, param(names.conv1), { stride: 1, pad: 1 });
      return z.add(spec.has(names.dim) ? conv2d(o1, param(names.dim), { stride }) : v);
    };
    let v = conv2d(x, param("conv0"), { pad: 1 });
    const groups = strides.map((stride, g) => {
      for (let b = 0; b < blocks; b++) v = block(v, g, b, b === 0 ? stride : 1);
      return v;
    });
    const o = bnRelu(v, "bn");
    const pooled = avgPool2d(o, { kernel: o.shape[2], stride: 1 }).reshape([x.shape[0], -1]);
    return { logits: linear(pooled, param("fc.weight"), param("fc.bias")), groups };
  });
}
