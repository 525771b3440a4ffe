/**
 * The network contract every architecture implements (`wrn`, `resnet`, …), and the pieces they share: a spec of
 * named parameter shapes with how each initialises, built once and read by both `init` and `apply`, and the
 * record lookups whose errors name what is missing.
 *
 * @module
 */
import { elementCount } from "../backends/backend.ts";
import { BOOLEAN, describeValue, optionsChecker, required } from "../_options.ts";
import { Rng } from "../rng.ts";
import { checkBatch, fmtShape } from "../tensor/_shape.ts";
import { Tensor, tensor } from "../tensor/tensor.ts";
import { kaimingNormal, uniform } from "./init.ts";
import { isRunningStat, type TensorRecord } from "./params.ts";

/** Options of a forward pass. */
export interface ApplyOptions {
  /** Training mode: batch statistics, running statistics updated (returned). Evaluation mode otherwise. */
  readonly train: boolean;
}

/** What a forward pass returns. */
export interface NetworkOutput {
  /** `[N, numClasses]` */
  readonly logits: Tensor;
  /** The outputs of the residual groups: the attention points, as many as the architecture has groups. */
  readonly groups: readonly Tensor[];
  /** Running statistics after the pass: updated in training mode, the given ones in evaluation mode. */
  readonly stats: TensorRecord;
}

/** A network as a pure function over named parameters and running statistics. */
export interface Network {
  /** e.g. `WRN-16-2`, `ResNet-18` */
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

/** How a parameter starts: Kaiming-normal (convolutions, linear weights), U[0, 1) (batch-norm scales), 0 or 1. */
export type InitKind = "kaiming" | "uniform" | "zero" | "one";

/** Named parameter shapes of an architecture and how each initialises, in definition order. */
export class ParamSpec {
  readonly shapes: Record<string, number[]> = {};
  readonly kinds: Record<string, InitKind> = {};

  /** Adds one tensor; returns its name, so an architecture writes each name once. */
  add(name: string, shape: number[], kind: InitKind): string {
    this.shapes[name] = shape;
    this.kinds[name] = kind;
    return name;
  }

  /** A batch norm of `c` channels: weight U[0, 1), bias 0, running mean 0, running variance 1 (the reference). */
  bn(base: string, c: number): string {
    this.add(`${base}.weight`, [c], "uniform");
    this.add(`${base}.bias`, [c], "zero");
    this.add(`${base}.running_mean`, [c], "zero");
    this.add(`${base}.running_var`, [c], "one");
    return base;
  }

  /** Whether the spec has `name`. */
  has(name: string): boolean {
    return Object.hasOwn(this.shapes, name);
  }
}

/** Reads the tensors `apply` needs from its records, with errors that name a missing one. */
export interface RecordReader {
  param(name: string): Tensor;
  stat(name: string): Tensor;
}

/**
 * A {@linkcode Network} from its spec and its forward pass: shapes, seeded `init` and the argument checks of
 * `apply` (options, images `[N, 3, H, W]` with N ≥ 1, every name present) are the same for every architecture.
 * `op` (`"wrn"`, `"resnet"`) and `name` (`"WRN-16-2"`) start its error messages.
 */
export function networkFromSpec(
  op: string,
  name: string,
  spec: ParamSpec,
  forward: (read: RecordReader, x: Tensor, train: boolean, newStats: TensorRecord) => Omit<NetworkOutput, "stats">,
): Network {
  const checkApplyOptions = optionsChecker<ApplyOptions>(`${op} apply`, { train: required(BOOLEAN) });
  const pick = (stat: boolean) =>
    Object.fromEntries(Object.entries(spec.shapes).filter(([k]) => isRunningStat(k) === stat));
  const paramShapes = pick(false);
  const statShapes = pick(true);

  function init(seed: number): { params: TensorRecord; stats: TensorRecord } {
    const rng = new Rng(seed);
    const params: TensorRecord = {};
    const stats: TensorRecord = {};
    for (const [key, shape] of Object.entries(spec.shapes)) {
      const size = elementCount(shape);
      const kind = spec.kinds[key];
      const data = kind === "kaiming"
        ? kaimingNormal(rng, shape)
        : kind === "uniform"
        ? uniform(rng, size)
        : new Float32Array(size).fill(kind === "one" ? 1 : 0);
      (isRunningStat(key) ? stats : params)[key] = tensor(data, shape);
    }
    return { params, stats };
  }

  // A name missing from a record is an error that names it, not an undefined passed on to an op.
  const take = (record: TensorRecord, what: "params" | "stats", key: string): Tensor => {
    const t = Object.hasOwn(record, key) ? record[key] : undefined;
    if (t instanceof Tensor) return t;
    const found = t === undefined ? "it is missing" : `found ${describeValue(t)}`;
    throw new Error(
      `${op} ${name} apply: ${what} has no tensor ${key} of shape ${
        fmtShape(spec.shapes[key] ?? [])
      } (${found}); pass the records init() returns, or check a loaded one with checkRecord`,
    );
  };

  function apply(params: TensorRecord, stats: TensorRecord, x: Tensor, options: ApplyOptions): NetworkOutput {
    checkApplyOptions(options);
    if (x.rank !== 4 || x.shape[1] !== 3) {
      throw new RangeError(`${op}: expects images [N, 3, H, W], got ${fmtShape(x.shape)}`);
    }
    checkBatch(`${op} ${name} apply`, "images", x.shape);
    const read = { param: (k: string) => take(params, "params", k), stat: (k: string) => take(stats, "stats", k) };
    const newStats: TensorRecord = {};
    const out = forward(read, x, options.train, newStats);
    return { ...out, stats: newStats };
  }

  return { name, paramShapes, statShapes, init, apply };
}
