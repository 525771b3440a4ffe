/**
 * Batch normalisation over `[n, c, hw]`, PyTorch semantics as in the cpu backend: biased variance to
 * normalise, unbiased variance in the running estimate, two passes over the data for the statistics.
 *
 * Per-channel sums run in two stages: `bn_partial` sums runs of the `n·hw` elements of each channel into
 * `[c, chunks]`, and `sum` finishes them, so the work spreads over many invocations even when `c` is
 * small. Per-channel coefficients are then folded once (`bn_finish_*`) and applied elementwise.
 *
 * @module
 */
import type { BatchNormGeometry, BatchNormGrads, BatchNormTrainResult } from "../backend.ts";
import { groupsFor, wgslEntry } from "./_dispatch.ts";
import { defineKernel, type KernelSpec } from "./_kernel.ts";
import type { GpuBuffer, GpuRuntime } from "./_runtime.ts";
import { sum } from "./_reduce.ts";

const WG = 256;
const SMALL_WG = 64;
/** Invocations the partial sums aim for. */
const TARGET_INVOCATIONS = 1 << 14;
/** Shortest run of elements one invocation sums. */
const MIN_RUN = 64;

type PartialMode = "sum" | "sqdev" | "grad";

/**
 * Partial per-channel sums over runs of `run` elements of `n·hw`: `sum` of x, `sqdev` of (x − mean)²,
 * `grad` of dy and of dy·(x − mean)·invstd (two outputs).
 */
function partialKernel(mode: PartialMode): KernelSpec {
  const key = `bn_partial_${mode}`;
  const bindings = mode === "sum"
    ? [{ name: "x", access: "read" }, { name: "out0", access: "read_write" }] as const
    : mode === "sqdev"
    ? [{ name: "x", access: "read" }, { name: "mean", access: "read" }, { name: "out0", access: "read_write" }] as const
    : [
      { name: "x", access: "read" },
      { name: "dy", access: "read" },
      { name: "mean", access: "read" },
      { name: "invstd", access: "read" },
      { name: "out0", access: "read_write" },
      { name: "out1", access: "read_write" },
    ] as const;
  const setup = mode === "sum"
    ? ""
    : mode === "sqdev"
    ? "let mu = mean[ch];"
    : "let mu = mean[ch];\n  let is = invstd[ch];";
  const step = mode === "sum"
    ? "acc0 += x[at];"
    : mode === "sqdev"
    ? "let d = x[at] - mu;\n    acc0 += d * d;"
    : "let g = dy[at];\n    acc0 += g;\n    acc1 += g * (x[at] - mu) * is;";
  return defineKernel(key, () => ({
    key,
    op: mode === "grad" ? "batchNormBackward" : "batchNormTrain",
    bindings,
    params: [["c", "u32"], ["hw", "u32"], ["count", "u32"], ["run", "u32"], ["runs", "u32"]],
    workgroupSize: WG,
    body: `${wgslEntry(WG)}
  let i = group * ${WG}u + lidx;
  if (i >= u.c * u.runs) { return; }
  let ch = i / u.runs;
  let r = i - ch * u.runs;
  let j0 = r * u.run;
  let j1 = min(u.count, j0 + u.run);
  ${setup}
  var img = j0 / u.hw;
  var p = j0 - img * u.hw;
  var at = (img * u.c + ch) * u.hw + p;
  var acc0 = 0.0;
  var acc1 = 0.0;
  for (var j = j0; j < j1; j++) {
    ${step}
    p++;
    at++;
    if (p == u.hw) {
      p = 0u;
      at += (u.c - 1u) * u.hw;
    }
  }
  out0[i] = acc0;
  ${mode === "grad" ? "out1[i] = acc1;" : ""}
}`,
  }));
}

/** Per-channel sums of a partial mode: one buffer (two for `grad`) of `c` floats. */
function channelSums(
  rt: GpuRuntime,
  mode: PartialMode,
  inputs: readonly GpuBuffer[],
  g: BatchNormGeometry,
): GpuBuffer[] {
  const count = g.n * g.hw;
  const runs = Math.max(1, Math.min(Math.ceil(count / MIN_RUN), Math.ceil(TARGET_INVOCATIONS / g.c)));
  const run = Math.ceil(count / runs);
  const partials = Array.from({ length: mode === "grad" ? 2 : 1 }, () => rt.alloc(g.c * runs));
  rt.run(partialKernel(mode), [...inputs, ...partials], [g.c, g.hw, count, run, runs], groupsFor(g.c * runs, WG));
  return partials.map((p) => {
    const s = sum(rt, p, g.c, runs, 1);
    rt.release(p);
    return s;
  });
}

function meanKernel(): KernelSpec {
  return defineKernel("bn_mean", () => ({
    key: "bn_mean",
    op: "batchNormTrain",
    bindings: [{ name: "s", access: "read" }, { name: "mean", access: "read_write" }],
    params: [["c", "u32"], ["count", "f32"]],
    workgroupSize: SMALL_WG,
    body: `${wgslEntry(SMALL_WG)}
  let ch = group * ${SMALL_WG}u + lidx;
  if (ch >= u.c) { return; }
  mean[ch] = s[ch] / u.count;
}`,
  }));
}

/** invstd and the `(scale, shift)` pairs of the training forward. */
function finishTrainKernel(): KernelSpec {
  return defineKernel("bn_finish_train", () => ({
    key: "bn_finish_train",
    op: "batchNormTrain",
    bindings: [
      { name: "ss", access: "read" },
      { name: "mean", access: "read" },
      { name: "gamma", access: "read" },
      { name: "beta", access: "read" },
      { name: "invstd", access: "read_write" },
      { name: "coef", access: "read_write", type: "vec2f" },
    ],
    params: [["c", "u32"], ["count", "f32"], ["eps", "f32"]],
    workgroupSize: SMALL_WG,
    body: `${wgslEntry(SMALL_WG)}
  let ch = group * ${SMALL_WG}u + lidx;
  if (ch >= u.c) { return; }
  let mu = mean[ch];
  let is = 1.0 / sqrt(ss[ch] / u.count + u.eps);
  invstd[ch] = is;
  let scale = gamma[ch] * is;
  coef[ch] = vec2f(scale, beta[ch] - mu * scale);
}`,
  }));
}

/** Running statistics: `(1 − momentum) · running + momentum · batch` (unbiased variance). */
function runningKernel(): KernelSpec {
  return defineKernel("bn_running", () => ({
    key: "bn_running",
    op: "batchNormTrain",
    bindings: [
      { name: "ss", access: "read" },
      { name: "mean", access: "read" },
      { name: "rmean_in", access: "read" },
      { name: "rvar_in", access: "read" },
      { name: "rmean", access: "read_write" },
      { name: "rvar", access: "read_write" },
    ],
    params: [["c", "u32"], ["count", "f32"], ["momentum", "f32"]],
    workgroupSize: SMALL_WG,
    body: `${wgslEntry(SMALL_WG)}
  let ch = group * ${SMALL_WG}u + lidx;
  if (ch >= u.c) { return; }
  let unbiased = ss[ch] / select(u.count, u.count - 1.0, u.count > 1.0);
  rmean[ch] = (1.0 - u.momentum) * rmean_in[ch] + u.momentum * mean[ch];
  rvar[ch] = (1.0 - u.momentum) * rvar_in[ch] + u.momentum * unbiased;
}`,
  }));
}

function finishInferenceKernel(): KernelSpec {
  return defineKernel("bn_finish_inference", () => ({
    key: "bn_finish_inference",
    op: "batchNormInference",
    bindings: [
      { name: "gamma", access: "read" },
      { name: "beta", access: "read" },
      { name: "rmean", access: "read" },
      { name: "rvar", access: "read" },
      { name: "coef", access: "read_write", type: "vec2f" },
    ],
    params: [["c", "u32"], ["eps", "f32"]],
    workgroupSize: SMALL_WG,
    body: `${wgslEntry(SMALL_WG)}
  let ch = group * ${SMALL_WG}u + lidx;
  if (ch >= u.c) { return; }
  let scale = gamma[ch] / sqrt(rvar[ch] + u.eps);
  coef[ch] = vec2f(scale, beta[ch] - rmean[ch] * scale);
}`,
  }));
}

/** `y = x · scale[ch] + shift[ch]`; with `vec4` (hw a multiple of 4), four floats of one channel at a time. */
function applyKernel(vec4: boolean): KernelSpec {
  const key = `bn_apply${vec4 ? "_v4" : ""}`;
  const type = vec4 ? "vec4f" : "f32";
  const hw = vec4 ? "(u.hw / 4u)" : "u.hw";
  return defineKernel(key, () => ({
    key,
    op: "batchNorm",
    bindings: [
      { name: "x", access: "read", type },
      { name: "coef", access: "read", type: "vec2f" },
      { name: "y", access: "read_write", type },
    ],
    params: [["n", "u32"], ["c", "u32"], ["hw", "u32"]],
    workgroupSize: WG,
    body: `${wgslEntry(WG)}
  let i = group * ${WG}u + lidx;
  if (i >= u.n) { return; }
  let k = coef[(i / ${hw}) % u.c];
  y[i] = fma(x[i], ${vec4 ? "vec4f(k.x)" : "k.x"}, ${vec4 ? "vec4f(k.y)" : "k.y"});
}`,
  }));
}

/** Runs the apply kernel over `x` (vec4 when every plane is a multiple of 4 floats). */
function apply(rt: GpuRuntime, x: GpuBuffer, coef: GpuBuffer, y: GpuBuffer, g: BatchNormGeometry): void {
  const vec4 = g.hw % 4 === 0;
  const n = vec4 ? x.size / 4 : x.size;
  rt.run(applyKernel(vec4), [x, coef, y], [n, g.c, g.hw], groupsFor(n, WG));
}

/** `(gamma·invstd, mean(dy), mean, invstd·mean(dy·xhat))` per channel, for the input gradient. */
function finishGradKernel(): KernelSpec {
  return defineKernel("bn_finish_grad", () => ({
    key: "bn_finish_grad",
    op: "batchNormBackward",
    bindings: [
      { name: "sdy", access: "read" },
      { name: "sdyx", access: "read" },
      { name: "gamma", access: "read" },
      { name: "mean", access: "read" },
      { name: "invstd", access: "read" },
      { name: "coef", access: "read_write", type: "vec4f" },
    ],
    params: [["c", "u32"], ["count", "f32"]],
    workgroupSize: SMALL_WG,
    body: `${wgslEntry(SMALL_WG)}
  let ch = group * ${SMALL_WG}u + lidx;
  if (ch >= u.c) { return; }
  let is = invstd[ch];
  coef[ch] = vec4f(gamma[ch] * is, sdy[ch] / u.count, mean[ch], is * sdyx[ch] / u.count);
}`,
  }));
}

/** `dx = k (dy − mean(dy) − xhat · mean(dy·xhat))`, with `xhat · mean(dy·xhat) = (x − mean) · coef.w`. */
function gradApplyKernel(vec4: boolean): KernelSpec {
  const key = `bn_grad_apply${vec4 ? "_v4" : ""}`;
  const type = vec4 ? "vec4f" : "f32";
  const hw = vec4 ? "(u.hw / 4u)" : "u.hw";
  return defineKernel(key, () => ({
    key,
    op: "batchNormBackward",
    bindings: [
      { name: "x", access: "read", type },
      { name: "dy", access: "read", type },
      { name: "coef", access: "read", type: "vec4f" },
      { name: "dx", access: "read_write", type },
    ],
    params: [["n", "u32"], ["c", "u32"], ["hw", "u32"]],
    workgroupSize: WG,
    body: `${wgslEntry(WG)}
  let i = group * ${WG}u + lidx;
  if (i >= u.n) { return; }
  let k = coef[(i / ${hw}) % u.c];
  dx[i] = k.x * ((dy[i] - k.y) - (x[i] - k.z) * k.w);
}`,
  }));
}

function checkBn(op: string, g: BatchNormGeometry, x: GpuBuffer, perChannel: Record<string, GpuBuffer>): void {
  for (const key of ["n", "c", "hw"] as const) {
    if (!Number.isInteger(g[key]) || g[key] < 0) {
      throw new RangeError(`webgpu ${op}: ${key} = ${g[key]} is not a natural number`);
    }
  }
  if (x.size !== g.n * g.c * g.hw) {
    throw new RangeError(
      `webgpu ${op}: x has ${x.size} floats but [n ${g.n}, c ${g.c}, hw ${g.hw}] needs ${g.n * g.c * g.hw}`,
    );
  }
  for (const [name, b] of Object.entries(perChannel)) {
    if (b.size !== g.c) {
      throw new RangeError(`webgpu ${op}: ${name} has ${b.size} floats but there are ${g.c} channels`);
    }
  }
}

/** Training-mode forward: normalised output, batch statistics and updated running statistics. */
export function batchNormTrain(
  rt: GpuRuntime,
  x: GpuBuffer,
  gamma: GpuBuffer,
  beta: GpuBuffer,
  runningMean: GpuBuffer,
  runningVar: GpuBuffer,
  momentum: number,
  g: BatchNormGeometry,
): BatchNormTrainResult {
  checkBn("batchNormTrain", g, x, { gamma, beta, runningMean, runningVar });
  const count = g.n * g.hw;
  if (g.c === 0 || count === 0) {
    // No data: NaN statistics, as 0/0 in the cpu backend.
    const nan = new Float32Array(g.c).fill(NaN);
    return {
      y: rt.alloc(x.size),
      mean: rt.upload(nan),
      invstd: rt.upload(nan),
      runningMean: rt.upload(nan),
      runningVar: rt.upload(nan),
    };
  }
  const [s] = channelSums(rt, "sum", [x], g);
  const mean = rt.alloc(g.c);
  rt.run(meanKernel(), [s, mean], [g.c, count], groupsFor(g.c, SMALL_WG));
  rt.release(s);
  const [ss] = channelSums(rt, "sqdev", [x, mean], g);
  const invstd = rt.alloc(g.c), rmean = rt.alloc(g.c), rvar = rt.alloc(g.c), coef = rt.alloc(2 * g.c);
  const groups = groupsFor(g.c, SMALL_WG);
  rt.run(finishTrainKernel(), [ss, mean, gamma, beta, invstd, coef], [g.c, count, g.eps], groups);
  rt.run(runningKernel(), [ss, mean, runningMean, runningVar, rmean, rvar], [g.c, count, momentum], groups);
  rt.release(ss);
  const y = rt.alloc(x.size);
  apply(rt, x, coef, y, g);
  rt.release(coef);
  return { y, mean, invstd, runningMean: rmean, runningVar: rvar };
}

/** `gamma · (x − runningMean) / sqrt(runningVar + eps) + beta`. */
export function batchNormInference(
  rt: GpuRuntime,
  x: GpuBuffer,
  gamma: GpuBuffer,
  beta: GpuBuffer,
  runningMean: GpuBuffer,
  runningVar: GpuBuffer,
  g: BatchNormGeometry,
): GpuBuffer {
  checkBn("batchNormInference", g, x, { gamma, beta, runningMean, runningVar });
  const y = rt.alloc(x.size);
  if (x.size === 0) return y;
  const coef = rt.alloc(2 * g.c);
  rt.run(finishInferenceKernel(), [gamma, beta, runningMean, runningVar, coef], [g.c, g.eps], groupsFor(g.c, SMALL_WG));
  apply(rt, x, coef, y, g);
  rt.release(coef);
  return y;
}

/** Gradients of the training-mode forward from the saved mean and invstd. */
export function batchNormBackward(
  rt: GpuRuntime,
  x: GpuBuffer,
  dy: GpuBuffer,
  gamma: GpuBuffer,
  mean: GpuBuffer,
  invstd: GpuBuffer,
  g: BatchNormGeometry,
): BatchNormGrads {
  checkBn("batchNormBackward", g, x, { gamma, mean, invstd });
  if (dy.size !== x.size) {
    throw new RangeError(`webgpu batchNormBackward: dy has ${dy.size} floats but x has ${x.size}`);
  }
  const count = g.n * g.hw;
  if (g.c === 0 || count === 0) return { dx: rt.alloc(x.size), dgamma: rt.zeros(g.c), dbeta: rt.zeros(g.c) };
  const [dbeta, dgamma] = channelSums(rt, "grad", [x, dy, mean, invstd], g);
  const coef = rt.alloc(4 * g.c);
  rt.run(finishGradKernel(), [dbeta, dgamma, gamma, mean, invstd, coef], [g.c, count], groupsFor(g.c, SMALL_WG));
  const dx = rt.alloc(x.size);
  const vec4 = g.hw % 4 === 0;
  const n = vec4 ? x.size / 4 : x.size;
  rt.run(gradApplyKernel(vec4), [x, dy, coef, dx], [n, g.c, g.hw], groupsFor(n, WG));
  rt.release(coef);
  return { dx, dgamma, dbeta };
}
