/**
 * Wide Residual Networks (Zagoruyko & Komodakis, 2016) exactly as the attention-transfer reference code
 * writes them: a pure function over a flat record of tensors with the reference's names.
 *
 * @module
 */
import { Rng } from "../rng.ts";
import { avgPool2d } from "../tensor/pool.ts";
import { conv2d } from "../tensor/conv.ts";
import { linear } from "../tensor/linalg.ts";
import { batchNorm } from "../tensor/norm.ts";
import { fmtShape, type Tensor, tensor } from "../tensor/tensor.ts";
import { kaimingNormal, uniform } from "./init.ts";
import { isRunningStat, type TensorRecord } from "./params.ts";

/** Size of a Wide ResNet: depth `6n + 4`, width multiplier `k`, classes. */
export interface WrnConfig {
  /** Number of layers, `6n + 4` (n blocks per group). */
  readonly depth: number;
  /** Width multiplier k: the groups have 16k, 32k and 64k channels. */
  readonly width: number;
  /** Outputs of the final linear layer. */
  readonly numClasses: number;
}

/** Options of a forward pass. */
export interface ApplyOptions {
  /** Training mode: batch statistics, running statistics updated (returned). Evaluation mode otherwise. */
  readonly train: boolean;
}

/** What a forward pass returns. */
export interface NetworkOutput {
  /** `[N, numClasses]` */
  readonly logits: Tensor;
  /** The outputs of the residual groups: the attention points. */
  readonly groups: readonly Tensor[];
  /** Running statistics after the pass: updated in training mode, the given ones in evaluation mode. */
  readonly stats: TensorRecord;
}

/** A network as a pure function over named parameters and running statistics. */
export interface Network {
  /** e.g. `WRN-16-2` */
  readonly name: string;
  /** Trainable parameter names and shapes. */
  readonly paramShapes: Readonly<Record<string, readonly number[]>>;
  /** Running-statistic names and shapes. */
  readonly statShapes: Readonly<Record<string, readonly number[]>>;
  /** Fresh parameters (the reference's initialisation) and statistics (mean 0, variance 1), seeded. */
  init(seed: number): { params: TensorRecord; stats: TensorRecord };
  /** The forward pass on `x [N, 3, H, W]`. */
  apply(params: TensorRecord, stats: TensorRecord, x: Tensor, options: ApplyOptions): NetworkOutput;
}

/** The layer list of a WRN: parameter shapes and how they initialise. */
type Spec = { shapes: Record<string, number[]>; kinds: Record<string, "conv" | "fc" | "bnWeight" | "zero" | "one"> };

function specOf(depth: number, width: number, numClasses: number): Spec {
  const n = (depth - 4) / 6;
  const widths = [16, 32, 64].map((v) => Math.floor(v * width));
  const spec: Spec = { shapes: {}, kinds: {} };
  const add = (name: string, shape: number[], kind: Spec["kinds"][string]) => {
    spec.shapes[name] = shape;
    spec.kinds[name] = kind;
  };
  const bn = (base: string, c: number) => {
    add(`${base}.weight`, [c], "bnWeight");
    add(`${base}.bias`, [c], "zero");
    add(`${base}.running_mean`, [c], "zero");
    add(`${base}.running_var`, [c], "one");
  };
  add("conv0", [16, 3, 3, 3], "conv");
  let ni = 16;
  widths.forEach((no, g) => {
    for (let b = 0; b < n; b++) {
      const base = `group${g}.block${b}`;
      const inC = b === 0 ? ni : no;
      add(`${base}.conv0`, [no, inC, 3, 3], "conv");
      add(`${base}.conv1`, [no, no, 3, 3], "conv");
      bn(`${base}.bn0`, inC);
      bn(`${base}.bn1`, no);
      if (inC !== no) add(`${base}.convdim`, [no, inC, 1, 1], "conv");
    }
    ni = no;
  });
  bn("bn", widths[2]);
  add("fc.weight", [numClasses, widths[2]], "fc");
  add("fc.bias", [numClasses], "zero");
  return spec;
}

/** Checks a WRN size, with an error that says what would be right. */
export function checkWrnConfig({ depth, width, numClasses }: WrnConfig): void {
  if (!Number.isInteger(depth) || depth < 10 || (depth - 4) % 6 !== 0) {
    throw new RangeError(`wrn: depth must be 6n+4 with n ≥ 1 (10, 16, 22, 28, 40, …), got ${depth}`);
  }
  if (!(width > 0) || Math.floor(16 * width) < 1) throw new RangeError(`wrn: width must be positive, got ${width}`);
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(`wrn: numClasses must be a positive integer, got ${numClasses}`);
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
  const spec = specOf(depth, width, numClasses);
  const n = (depth - 4) / 6;
  const pick = (stat: boolean) =>
    Object.fromEntries(Object.entries(spec.shapes).filter(([k]) => isRunningStat(k) === stat)) as Record<
      string,
      number[]
    >;
  const paramShapes = pick(false);
  const statShapes = pick(true);

  function init(seed: number): { params: TensorRecord; stats: TensorRecord } {
    const rng = new Rng(seed);
    const params: TensorRecord = {};
    const stats: TensorRecord = {};
    for (const [name, shape] of Object.entries(spec.shapes)) {
      const size = shape.reduce((p, d) => p * d, 1);
      const kind = spec.kinds[name];
      const data = kind === "conv" || kind === "fc"
        ? kaimingNormal(rng, shape)
        : kind === "bnWeight"
        ? uniform(rng, size)
        : new Float32Array(size).fill(kind === "one" ? 1 : 0);
      (isRunningStat(name) ? stats : params)[name] = tensor(data, shape);
    }
    return { params, stats };
  }

  function apply(params: TensorRecord, stats: TensorRecord, x: Tensor, { train }: ApplyOptions): NetworkOutput {
    if (x.rank !== 4 || x.shape[1] !== 3) {
      throw new RangeError(`wrn: expects images [N, 3, H, W], got ${fmtShape(x.shape)}`);
    }
    const newStats: TensorRecord = {};
    // Every batch norm of the network is followed by a ReLU: one fused call (see BatchNormOptions.relu).
    const bnRelu = (v: Tensor, base: string): Tensor => {
      const r = batchNorm(v, {
        weight: params[`${base}.weight`],
        bias: params[`${base}.bias`],
        runningMean: stats[`${base}.running_mean`],
        runningVar: stats[`${base}.running_var`],
      }, { training: train, relu: true });
      newStats[`${base}.running_mean`] = r.runningMean;
      newStats[`${base}.running_var`] = r.runningVar;
      return r.y;
    };
    const block = (v: Tensor, base: string, stride: number): Tensor => {
      const o1 = bnRelu(v, `${base}.bn0`);
      const y = conv2d(o1, params[`${base}.conv0`], { stride, pad: 1 });
      const o2 = bnRelu(y, `${base}.bn1`);
      const z = conv2d(o2, params[`${base}.conv1`], { stride: 1, pad: 1 });
      const dim = params[`${base}.convdim`];
      return z.add(dim ? conv2d(o1, dim, { stride }) : v);
    };
    const group = (v: Tensor, g: number, stride: number): Tensor => {
      for (let b = 0; b < n; b++) v = block(v, `group${g}.block${b}`, b === 0 ? stride : 1);
      return v;
    };
    const h = conv2d(x, params.conv0, { pad: 1 });
    const g0 = group(h, 0, 1);
    const g1 = group(g0, 1, 2);
    const g2 = group(g1, 2, 2);
    const o = bnRelu(g2, "bn");
    const pooled = avgPool2d(o, { kernel: o.shape[2], stride: 1 }).reshape([x.shape[0], -1]);
    const logits = linear(pooled, params["fc.weight"], params["fc.bias"]);
    return { logits, groups: [g0, g1, g2], stats: newStats };
  }

  return { name: `WRN-${depth}-${width}`, paramShapes, statShapes, init, apply };
}
