/**
 * Convolutions through cuDNN's legacy API: descriptors and algorithm choices are made once per geometry
 * and cached; every call then costs one cuDNN call.
 *
 * Algorithms are chosen by `cudnnFind*AlgorithmEx` (each candidate timed on the real buffers, as PyTorch's
 * `cudnn.benchmark`), or by the `cudnnGet*Algorithm_v7` heuristics when `AT_CUDNN_ALGO=heuristic`.
 * Deterministic algorithms are preferred, and the convolution descriptors use `CUDNN_FMA_MATH`, so float32
 * convolutions never run in TF32 (as PyTorch with `torch.backends.cudnn.allow_tf32 = False`).
 *
 * @module
 */
import type { ConvGeometry } from "../backend.ts";
import { ALGO_PERF_BYTES, CUDNN, type CudnnLib } from "./_ffi_cudnn.ts";
import type { Workspace } from "./_memory.ts";
import type { Check } from "./_status.ts";

/** How convolution algorithms are chosen. */
export interface AlgoOptions {
  /** `"find"` times the candidates once per geometry; `"heuristic"` takes cuDNN's first suggestion. */
  readonly mode: "find" | "heuristic";
  /** Prefer algorithms that give bit-identical results run to run. */
  readonly deterministic: boolean;
  /** Workspace bytes the timed search may give a candidate. */
  readonly findWorkspaceBytes: number;
}

/** One entry of a `cudnnConvolution*AlgoPerf_t` array. */
export interface AlgoPerf {
  readonly algo: number;
  readonly status: number;
  /** milliseconds (find) or an estimate (heuristics) */
  readonly time: number;
  /** workspace bytes */
  readonly memory: number;
  readonly determinism: number;
  readonly mathType: number;
}

/** Reads `count` perf structs (48 bytes each on x86-64) from `bytes`. */
export function parseAlgoPerfs(bytes: Uint8Array, count: number): AlgoPerf[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: AlgoPerf[] = [];
  for (let i = 0; i < count; i++) {
    const o = i * ALGO_PERF_BYTES;
    out.push({
      algo: view.getInt32(o, true),
      status: view.getInt32(o + 4, true),
      time: view.getFloat32(o + 8, true),
      memory: Number(view.getBigUint64(o + 16, true)),
      determinism: view.getInt32(o + 24, true),
      mathType: view.getInt32(o + 28, true),
    });
  }
  return out;
}

/**
 * The algorithm to use from cuDNN's ranked results: the first that succeeded, fits `maxWorkspace` and does
 * not use tensor-op math, preferring deterministic ones when asked; undefined when none qualifies.
 */
export function pickAlgo(
  perfs: readonly AlgoPerf[],
  deterministic: boolean,
  maxWorkspace: number,
): AlgoPerf | undefined {
  const usable = perfs.filter((p) =>
    p.status === 0 && p.memory <= maxWorkspace && p.mathType !== CUDNN.TENSOR_OP_MATH &&
    p.mathType !== CUDNN.TENSOR_OP_MATH_ALLOW_CONVERSION
  );
  return (deterministic ? usable.find((p) => p.determinism === CUDNN.DETERMINISTIC) : undefined) ?? usable[0];
}

/** The cuDNN state convolutions share. */
export interface ConvContext {
  readonly cudnn: CudnnLib;
  readonly handle: bigint;
  readonly check: Check;
  readonly workspace: Workspace;
  readonly algo: AlgoOptions;
}

type Direction = "forward" | "backwardData" | "backwardFilter";

interface Choice {
  readonly algo: number;
  readonly workspace: number;
}

interface Plan {
  readonly key: string;
  readonly x: bigint;
  readonly w: bigint;
  readonly y: bigint;
  readonly conv: bigint;
  readonly choices: Partial<Record<Direction, Choice>>;
}

const ONE = new Float32Array([1]);
const ZERO = new Float32Array([0]);

/** The key of a geometry in the caches. */
export function convKey(g: ConvGeometry): string {
  return `${g.n},${g.c},${g.h},${g.w},${g.k},${g.r},${g.s},${g.stride},${g.pad}`;
}

/** Convolution forward and gradients, with descriptors and algorithms cached per geometry. */
export class Convolutions {
  readonly #ctx: ConvContext;
  readonly #plans = new Map<string, Plan>();
  readonly #slot = new BigUint64Array(1);
  readonly #int = new Int32Array(4);

  constructor(ctx: ConvContext) {
    this.#ctx = ctx;
  }

  /** `y = conv(x, w)`. */
  forward(x: bigint, w: bigint, y: bigint, g: ConvGeometry): void {
    const { cudnn, handle, check, workspace } = this.#ctx;
    const p = this.#plan(g);
    const c = this.#choose(p, "forward", x, w, y);
    check(
      cudnn.symbols.cudnnConvolutionForward(
        handle,
        ONE,
        p.x,
        x,
        p.w,
        w,
        p.conv,
        c.algo,
        workspace.ptr,
        BigInt(workspace.bytes),
        ZERO,
        p.y,
        y,
      ),
      "cudnnConvolutionForward",
    );
  }

  /** `dx` from `dy` and `w`. */
  backwardData(dy: bigint, w: bigint, dx: bigint, g: ConvGeometry): void {
    const { cudnn, handle, check, workspace } = this.#ctx;
    const p = this.#plan(g);
    const c = this.#choose(p, "backwardData", dx, w, dy);
    check(
      cudnn.symbols.cudnnConvolutionBackwardData(
        handle,
        ONE,
        p.w,
        w,
        p.y,
        dy,
        p.conv,
        c.algo,
        workspace.ptr,
        BigInt(workspace.bytes),
        ZERO,
        p.x,
        dx,
      ),
      "cudnnConvolutionBackwardData",
    );
  }

  /** `dw` from `x` and `dy`. */
  backwardFilter(x: bigint, dy: bigint, dw: bigint, g: ConvGeometry): void {
    const { cudnn, handle, check, workspace } = this.#ctx;
    const p = this.#plan(g);
    const c = this.#choose(p, "backwardFilter", x, dw, dy);
    check(
      cudnn.symbols.cudnnConvolutionBackwardFilter(
        handle,
        ONE,
        p.x,
        x,
        p.y,
        dy,
        p.conv,
        c.algo,
        workspace.ptr,
        BigInt(workspace.bytes),
        ZERO,
        p.w,
        dw,
      ),
      "cudnnConvolutionBackwardFilter",
    );
  }

  /** Number of geometries with descriptors. */
  get size(): number {
    return this.#plans.size;
  }

  #plan(g: ConvGeometry): Plan {
    const key = convKey(g);
    const cached = this.#plans.get(key);
    if (cached) return cached;
    const { cudnn, check } = this.#ctx;
    const s = cudnn.symbols;
    const create = (fn: (out: BigUint64Array) => number, call: string): bigint => {
      check(fn(this.#slot), call);
      return this.#slot[0];
    };
    const x = create(s.cudnnCreateTensorDescriptor, "cudnnCreateTensorDescriptor");
    check(
      s.cudnnSetTensor4dDescriptor(x, CUDNN.TENSOR_NCHW, CUDNN.DATA_FLOAT, g.n, g.c, g.h, g.w),
      "cudnnSetTensor4dDescriptor",
    );
    const y = create(s.cudnnCreateTensorDescriptor, "cudnnCreateTensorDescriptor");
    check(
      s.cudnnSetTensor4dDescriptor(y, CUDNN.TENSOR_NCHW, CUDNN.DATA_FLOAT, g.n, g.k, g.oh, g.ow),
      "cudnnSetTensor4dDescriptor",
    );
    const w = create(s.cudnnCreateFilterDescriptor, "cudnnCreateFilterDescriptor");
    check(
      s.cudnnSetFilter4dDescriptor(w, CUDNN.DATA_FLOAT, CUDNN.TENSOR_NCHW, g.k, g.c, g.r, g.s),
      "cudnnSetFilter4dDescriptor",
    );
    const conv = create(s.cudnnCreateConvolutionDescriptor, "cudnnCreateConvolutionDescriptor");
    check(
      s.cudnnSetConvolution2dDescriptor(
        conv,
        g.pad,
        g.pad,
        g.stride,
        g.stride,
        1,
        1,
        CUDNN.CROSS_CORRELATION,
        CUDNN.DATA_FLOAT,
      ),
      "cudnnSetConvolution2dDescriptor",
    );
    check(s.cudnnSetConvolutionMathType(conv, CUDNN.FMA_MATH), "cudnnSetConvolutionMathType");
    const dims = this.#int;
    check(
      s.cudnnGetConvolution2dForwardOutputDim(
        conv,
        x,
        w,
        dims.subarray(0, 1),
        dims.subarray(1, 2),
        dims.subarray(2, 3),
        dims.subarray(3, 4),
      ),
      "cudnnGetConvolution2dForwardOutputDim",
    );
    if (dims[0] !== g.n || dims[1] !== g.k || dims[2] !== g.oh || dims[3] !== g.ow) {
      throw new RangeError(
        `cudnn conv2d: cuDNN computes output [${
          [...dims].join(", ")
        }] for geometry ${key}, not [${g.n}, ${g.k}, ${g.oh}, ${g.ow}]`,
      );
    }
    const plan: Plan = { key, x, w, y, conv, choices: {} };
    this.#plans.set(key, plan);
    return plan;
  }

  /** The cached algorithm of `dir` for a plan, chosen now if new (operands: x/dx, w/dw, y/dy). */
  #choose(p: Plan, dir: Direction, x: bigint, w: bigint, y: bigint): Choice {
    const cached = p.choices[dir];
    if (cached) return cached;
    const { cudnn, handle, check, workspace, algo } = this.#ctx;
    const s = cudnn.symbols;
    const count = this.#int.subarray(0, 1);
    const [maxCountFn, maxCountCall] = dir === "forward"
      ? [s.cudnnGetConvolutionForwardAlgorithmMaxCount, "cudnnGetConvolutionForwardAlgorithmMaxCount"] as const
      : dir === "backwardData"
      ? [
        s.cudnnGetConvolutionBackwardDataAlgorithmMaxCount,
        "cudnnGetConvolutionBackwardDataAlgorithmMaxCount",
      ] as const
      : [
        s.cudnnGetConvolutionBackwardFilterAlgorithmMaxCount,
        "cudnnGetConvolutionBackwardFilterAlgorithmMaxCount",
      ] as const;
    check(maxCountFn(handle, count), maxCountCall);
    const requested = Math.max(1, count[0]);
    const perfBytes = new Uint8Array(requested * ALGO_PERF_BYTES);
    let maxWorkspace = Infinity;
    if (algo.mode === "find") {
      // On a full device the search runs with the workspace there is; algorithms needing more are skipped.
      workspace.ensure(algo.findWorkspaceBytes);
      maxWorkspace = workspace.bytes;
      const ws = workspace.ptr, wsBytes = BigInt(workspace.bytes);
      if (dir === "forward") {
        check(
          s.cudnnFindConvolutionForwardAlgorithmEx(
            handle,
            p.x,
            x,
            p.w,
            w,
            p.conv,
            p.y,
            y,
            requested,
            count,
            perfBytes,
            ws,
            wsBytes,
          ),
          "cudnnFindConvolutionForwardAlgorithmEx",
        );
      } else if (dir === "backwardData") {
        check(
          s.cudnnFindConvolutionBackwardDataAlgorithmEx(
            handle,
            p.w,
            w,
            p.y,
            y,
            p.conv,
            p.x,
            x,
            requested,
            count,
            perfBytes,
            ws,
            wsBytes,
          ),
          "cudnnFindConvolutionBackwardDataAlgorithmEx",
        );
      } else {
        check(
          s.cudnnFindConvolutionBackwardFilterAlgorithmEx(
            handle,
            p.x,
            x,
            p.y,
            y,
            p.conv,
            p.w,
            w,
            requested,
            count,
            perfBytes,
            ws,
            wsBytes,
          ),
          "cudnnFindConvolutionBackwardFilterAlgorithmEx",
        );
      }
    } else if (dir === "forward") {
      check(
        s.cudnnGetConvolutionForwardAlgorithm_v7(handle, p.x, p.w, p.conv, p.y, requested, count, perfBytes),
        "cudnnGetConvolutionForwardAlgorithm_v7",
      );
    } else if (dir === "backwardData") {
      check(
        s.cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, p.w, p.y, p.conv, p.x, requested, count, perfBytes),
        "cudnnGetConvolutionBackwardDataAlgorithm_v7",
      );
    } else {
      check(
        s.cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, p.x, p.y, p.conv, p.w, requested, count, perfBytes),
        "cudnnGetConvolutionBackwardFilterAlgorithm_v7",
      );
    }
    const perfs = parseAlgoPerfs(perfBytes, Math.min(count[0], requested));
    const best = pickAlgo(perfs, algo.deterministic, maxWorkspace);
    if (!best) {
      const seen = perfs.map((q) => `algo ${q.algo}: status ${q.status}, ${q.memory} B`).join("; ");
      throw new Error(`cudnn conv2d ${dir}: cuDNN offered no usable algorithm for geometry ${p.key} (${seen})`);
    }
    const size = this.#slot;
    if (dir === "forward") {
      check(
        s.cudnnGetConvolutionForwardWorkspaceSize(handle, p.x, p.w, p.conv, p.y, best.algo, size),
        "cudnnGetConvolutionForwardWorkspaceSize",
      );
    } else if (dir === "backwardData") {
      check(
        s.cudnnGetConvolutionBackwardDataWorkspaceSize(handle, p.w, p.y, p.conv, p.x, best.algo, size),
        "cudnnGetConvolutionBackwardDataWorkspaceSize",
      );
    } else {
      check(
        s.cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, p.x, p.y, p.conv, p.w, best.algo, size),
        "cudnnGetConvolutionBackwardFilterWorkspaceSize",
      );
    }
    const bytes = Math.max(Number(size[0]), best.memory);
    if (!workspace.ensure(bytes)) {
      throw new RangeError(`cudnn conv2d ${dir}: no device memory for a ${bytes}-byte workspace`);
    }
    const choice = { algo: best.algo, workspace: bytes };
    p.choices[dir] = choice;
    return choice;
  }

  /** Destroys every descriptor. */
  dispose(): void {
    const s = this.#ctx.cudnn.symbols;
    for (const p of this.#plans.values()) {
      s.cudnnDestroyTensorDescriptor(p.x);
      s.cudnnDestroyTensorDescriptor(p.y);
      s.cudnnDestroyFilterDescriptor(p.w);
      s.cudnnDestroyConvolutionDescriptor(p.conv);
    }
    this.#plans.clear();
  }
}
