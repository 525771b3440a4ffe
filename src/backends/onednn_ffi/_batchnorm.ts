/**
 * Batch norm in oneDNN: training forward (batch statistics), inference forward (running statistics) and
 * backward, one primitive per layout, shape and mode, cached. The data stay in whatever layout they come
 * in (plain or blocked); the per-channel vectors are plain.
 *
 * oneDNN returns the batch mean and the biased variance; the inverse standard deviation and PyTorch's
 * running statistics (unbiased variance) are computed here from those `c` values.
 *
 * The ReLU of `BatchNormGeometry.relu`: oneDNN's fused ReLU (`dnnl_fuse_norm_relu`) maps NaN to 0, and the
 * contract keeps NaN. In training mode a NaN can only come out of a channel whose statistics, scale or shift
 * are not finite (a NaN or an infinity in `x` makes its channel's variance NaN), which the `c` values tell
 * after the call: then that call is redone without the fused ReLU, and the cpu kernel applies it. In
 * inference mode a NaN of `x` reaches its output element alone (and an infinity meets a zero scale there), so
 * the fused ReLU runs when one read of `x` finds every value finite and the running statistics, scale and
 * shift are finite; else the cpu kernel applies the ReLU.
 *
 * @module
 */
import type { BatchNormGeometry } from "../backend.ts";
import type { CpuBackend, CpuBuffer } from "../cpu/mod.ts";
import { DNNL } from "./_ffi_dnnl.ts";
import { addressOf, type Layout, type Layouts, type OnednnBuffer, PLAIN } from "./_layout.ts";
import type { Dense } from "./_matmul.ts";
import type { Dnnl, Primitive } from "./_primitive.ts";

type Mode = "train" | "trainRelu" | "inference" | "inferenceRelu" | "backward";

function describeBn(what: string, g: BatchNormGeometry, layout: Layout): string {
  return `${what} x [${g.n}, ${g.c}, ${g.hw}] (${layout.name}) eps ${g.eps}`;
}

/** The batch-norm primitives, by layout, geometry and mode. */
export class BatchNorms {
  readonly #dnnl: Dnnl;
  readonly #layouts: Layouts;
  readonly #cpu: CpuBackend;
  readonly #dense: Dense;
  readonly #plans = new Map<string, { pd: bigint; primitive: Primitive }>();
  /** The biased variance behind each `invstd` buffer this backend returned, for the backward pass. */
  readonly #variance = new WeakMap<OnednnBuffer, Float32Array>();
  /** The workspace of the fused ReLU (a bit mask for oneDNN's own backward, which is not used). */
  #workspace = new Float32Array(0);

  constructor(dnnl: Dnnl, layouts: Layouts, cpu: CpuBackend, dense: Dense) {
    this.#dnnl = dnnl;
    this.#layouts = layouts;
    this.#cpu = cpu;
    this.#dense = dense;
  }

  /** The layout to run in: the buffer's own when it is the 4-D blocked one of this geometry, else plain. */
  layoutFor(x: OnednnBuffer, g: BatchNormGeometry): Layout {
    const l = x.layout;
    if (!l.plain && l.dims.length === 4 && l.dims[0] === g.n && l.dims[1] === g.c && l.dims[2] * l.dims[3] === g.hw) {
      return l;
    }
    return PLAIN;
  }

  #plan(mode: Mode, layout: Layout, g: BatchNormGeometry): { pd: bigint; primitive: Primitive } {
    const k = `${mode}:${layout.id}:${g.n},${g.c},${g.hw}:${g.eps}`;
    let plan = this.#plans.get(k);
    if (plan) return plan;
    const d = this.#dnnl;
    const s = d.rt.lib.symbols;
    const data = layout.plain ? d.plain([g.n, g.c, g.hw, 1]) : layout.md;
    const vector = d.plain([g.c]);
    const scaleShift = DNNL.dnnl_use_scale | DNNL.dnnl_use_shift;
    const context = describeBn(
      mode === "backward"
        ? "batchNormBackward"
        : mode.startsWith("inference")
        ? "batchNormInference"
        : "batchNormTrain",
      g,
      layout,
    );
    const eps = Math.fround(g.eps);
    const forward = (prop: number, flags: number) =>
      d.describe(
        "dnnl_batch_normalization_forward_desc_init",
        (desc) => s.dnnl_batch_normalization_forward_desc_init(desc, prop, data, eps, flags),
        context,
      );
    let pd: bigint;
    let args: [number, Uint8Array][];
    if (mode === "backward") {
      const hint = mode === "backward" ? this.#plan("train", layout, g).pd : 0n;
      pd = d.describe(
        "dnnl_batch_normalization_backward_desc_init",
        (desc) => s.dnnl_batch_normalization_backward_desc_init(desc, DNNL.dnnl_backward, data, data, eps, scaleShift),
        context,
        { hint },
      );
      args = [
        [DNNL.DNNL_ARG_SRC, data],
        [DNNL.DNNL_ARG_DIFF_DST, data],
        [DNNL.DNNL_ARG_SCALE, vector],
        // oneDNN 2.6 checks that the shift is given, though its gradient does not read it.
        [DNNL.DNNL_ARG_SHIFT, vector],
        [DNNL.DNNL_ARG_MEAN, vector],
        [DNNL.DNNL_ARG_VARIANCE, vector],
        [DNNL.DNNL_ARG_DIFF_SRC, data],
        [DNNL.DNNL_ARG_DIFF_SCALE, vector],
        [DNNL.DNNL_ARG_DIFF_SHIFT, vector],
      ];
    } else if (mode === "inference" || mode === "inferenceRelu") {
      const relu = mode === "inferenceRelu" ? DNNL.dnnl_fuse_norm_relu : 0;
      pd = forward(DNNL.dnnl_forward_inference, scaleShift | DNNL.dnnl_use_global_stats | relu);
      args = [
        [DNNL.DNNL_ARG_SRC, data],
        [DNNL.DNNL_ARG_MEAN, vector],
        [DNNL.DNNL_ARG_VARIANCE, vector],
        [DNNL.DNNL_ARG_SCALE, vector],
        [DNNL.DNNL_ARG_SHIFT, vector],
        [DNNL.DNNL_ARG_DST, data],
      ];
    } else {
      const relu = mode === "trainRelu" ? DNNL.dnnl_fuse_norm_relu : 0;
      pd = forward(DNNL.dnnl_forward_training, scaleShift | relu);
      args = [
        [DNNL.DNNL_ARG_SRC, data],
        [DNNL.DNNL_ARG_SCALE, vector],
        [DNNL.DNNL_ARG_SHIFT, vector],
        [DNNL.DNNL_ARG_DST, data],
        [DNNL.DNNL_ARG_MEAN, vector],
        [DNNL.DNNL_ARG_VARIANCE, vector],
      ];
      if (relu) {
        const workspace = d.queryMd(pd, DNNL.dnnl_query_workspace_md);
        args.push([DNNL.DNNL_ARG_WORKSPACE, workspace]);
        const floats = Math.ceil(d.bytes(workspace) / 4);
        if (this.#workspace.length < floats) this.#workspace = new Float32Array(floats);
      }
    }
    plan = { pd, primitive: d.primitive(pd, args, context) };
    this.#plans.set(k, plan);
    return plan;
  }

  #workspaceAddress(): bigint {
    return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.#workspace)));
  }

  /**
   * Training forward: `y` in the layout of `x`, the batch mean and biased variance. With `relu`, the fused
   * ReLU, or the cpu ReLU where a channel could hold NaN (see the module notes).
   */
  train(
    x: OnednnBuffer,
    gamma: CpuBuffer,
    beta: CpuBuffer,
    g: BatchNormGeometry,
  ): { y: OnednnBuffer; mean: CpuBuffer; variance: CpuBuffer } {
    const layout = this.layoutFor(x, g);
    const sx = this.#layouts.storageIn(x, layout);
    const size = g.n * g.c * g.hw;
    const y = this.#layouts.alloc(size, layout, describeBn("batchNormTrain", g, layout));
    const mean = this.#layouts.alloc(g.c), variance = this.#layouts.alloc(g.c);
    try {
      const run = (mode: "train" | "trainRelu") => {
        const ptrs = [
          addressOf(sx),
          addressOf(gamma),
          addressOf(beta),
          addressOf(y),
          addressOf(mean),
          addressOf(variance),
        ];
        const { primitive } = this.#plan(mode, layout, g);
        if (mode === "trainRelu") ptrs.push(this.#workspaceAddress());
        primitive.run(ptrs);
      };
      if (!g.relu) {
        run("train");
        return { y: this.#layouts.wrap(size, y, layout), mean, variance };
      }
      run("trainRelu");
      if (allFinite(mean.data, variance.data, gamma.data, beta.data)) {
        return { y: this.#layouts.wrap(size, y, layout), mean, variance };
      }
      run("train");
      const relu = this.#cpu.unary("max", y, 0, 0) as CpuBuffer;
      y.release();
      return { y: this.#layouts.wrap(size, relu, layout), mean, variance };
    } catch (e) {
      for (const b of [y, mean, variance]) b.release();
      throw e;
    }
  }

  /** Inference forward from running statistics, in the layout of `x`; with `relu`, fused where it is exact. */
  inference(
    x: OnednnBuffer,
    gamma: CpuBuffer,
    beta: CpuBuffer,
    runningMean: CpuBuffer,
    runningVar: CpuBuffer,
    g: BatchNormGeometry,
  ): OnednnBuffer {
    const layout = this.layoutFor(x, g);
    const sx = this.#layouts.storageIn(x, layout);
    const size = g.n * g.c * g.hw;
    let y = this.#layouts.alloc(size, layout, describeBn("batchNormInference", g, layout));
    try {
      const fused = g.relu === true && inferenceReluIsExact(gamma, beta, runningMean, runningVar, g.eps) &&
        this.#dense.allFinite(sx, size);
      this.#plan(fused ? "inferenceRelu" : "inference", layout, g).primitive.run([
        addressOf(sx),
        addressOf(runningMean),
        addressOf(runningVar),
        addressOf(gamma),
        addressOf(beta),
        addressOf(y),
      ]);
      if (g.relu && !fused) {
        const relu = this.#cpu.unary("max", y, 0, 0) as CpuBuffer;
        y.release();
        y = relu;
      }
    } catch (e) {
      y.release();
      throw e;
    }
    return this.#layouts.wrap(size, y, layout);
  }

  /** Remembers the variance behind an `invstd` buffer (read by {@linkcode BatchNorms.backward}). */
  rememberVariance(invstd: OnednnBuffer, variance: Float32Array): void {
    this.#variance.set(invstd, variance);
  }

  /** `dx` (in the layout of `x`), `dgamma`, `dbeta` from the saved mean and inverse standard deviation. */
  backward(
    x: OnednnBuffer,
    dy: OnednnBuffer,
    gamma: CpuBuffer,
    mean: CpuBuffer,
    invstd: OnednnBuffer,
    invstdValues: Float32Array,
    g: BatchNormGeometry,
  ): { dx: OnednnBuffer; dgamma: CpuBuffer; dbeta: CpuBuffer } {
    const layout = this.layoutFor(x, g);
    const sx = this.#layouts.storageIn(x, layout);
    const sdy = this.#layouts.storageIn(dy, layout);
    let variance = this.#variance.get(invstd);
    if (!variance || variance.length !== g.c) {
      variance = new Float32Array(g.c);
      for (let i = 0; i < g.c; i++) variance[i] = 1 / (invstdValues[i] * invstdValues[i]) - g.eps;
    }
    const sv = this.#layouts.alloc(g.c);
    sv.data.set(variance);
    const size = g.n * g.c * g.hw;
    const dx = this.#layouts.alloc(size, layout, describeBn("batchNormBackward", g, layout));
    const dgamma = this.#layouts.alloc(g.c), dbeta = this.#layouts.alloc(g.c);
    try {
      this.#plan("backward", layout, g).primitive.run([
        addressOf(sx),
        addressOf(sdy),
        addressOf(gamma),
        addressOf(gamma),
        addressOf(mean),
        addressOf(sv),
        addressOf(dx),
        addressOf(dgamma),
        addressOf(dbeta),
      ]);
    } catch (e) {
      for (const b of [dx, dgamma, dbeta]) b.release();
      throw e;
    } finally {
      sv.release();
    }
    return { dx: this.#layouts.wrap(size, dx, layout), dgamma, dbeta };
  }
}

/** Whether the per-channel values of an inference batch norm are finite, with a positive `var + eps`. */
function inferenceReluIsExact(
  gamma: CpuBuffer,
  beta: CpuBuffer,
  mean: CpuBuffer,
  variance: CpuBuffer,
  eps: number,
): boolean {
  if (!allFinite(gamma.data, beta.data, mean.data, variance.data)) return false;
  for (const v of variance.data) if (!(v + eps > 0)) return false;
  return true;
}

function allFinite(...arrays: Float32Array[]): boolean {
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  }
  return true;
}
