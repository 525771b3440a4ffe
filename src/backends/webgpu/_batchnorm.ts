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
import { groupsFor, wgslForEach } from "./_dispatch.ts";
import { type BindingSpec, defineKernel, type KernelSpec, type ParamType } from "./_kernel.ts";
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
 *
 * With `v16` (hw a multiple of 16) an element of the run is a unit of 16 floats read as four vec4s:
 * the loop's bookkeeping (on llvmpipe each write of a loop-carried variable is a masked store) runs once
 * per 16 floats instead of once per float.
 */
function partialKernel(mode: PartialMode, v16: boolean): KernelSpec {
  const key = `bn_partial_${mode}${v16 ? "_v16" : ""}`;
  const data = v16 ? "vec4f" : "f32";
  const bindings = mode === "sum"
    ? [{ name: "x", access: "read", type: data }, { name: "out0", access: "read_write" }] as const
    : mode === "sqdev"
    ? [
      { name: "x", access: "read", type: data },
      { name: "mean", access: "read" },
      { name: "out0", access: "read_write" },
    ] as const
    : [
      { name: "x", access: "read", type: data },
      { name: "dy", access: "read", type: data },
      { name: "mean", access: "read" },
      { name: "invstd", access: "read" },
      { name: "out0", access: "read_write" },
      { name: "out1", access: "read_write" },
    ] as const;
  const setup = mode === "sum" ? "" : `let mu = ${v16 ? "vec4f(mean[ch])" : "mean[ch]"};`;
  // One element (f32) or one unit (four vec4s at at … at + 3).
  const terms = (f: (q: string) => string) =>
    v16 ? `(${f("at")} + ${f("at + 1u")}) + (${f("at + 2u")} + ${f("at + 3u")})` : f("at");
  const step = mode === "sum"
    ? `acc0 += ${terms((q) => `x[${q}]`)};`
    : mode === "sqdev"
    ? `acc0 += ${terms((q) => `(x[${q}] - mu) * (x[${q}] - mu)`)};`
    : `acc0 += ${terms((q) => `dy[${q}]`)};\n    acc1 += ${terms((q) => `dy[${q}] * (x[${q}] - mu)`)};`;
  const zero = v16 ? "vec4f(0.0)" : "0.0";
  const total = (a: string) => v16 ? `dot(${a}, vec4f(1.0))` : a;
  const stride = v16 ? "4u" : "1u";
  return defineKernel(key, () => ({
    key,
    op: mode === "grad" ? "batchNormBackward" : "batchNormTrain",
    bindings,
    params: [["c", "u32"], ["hw", "u32"], ["count", "u32"], ["run", "u32"], ["runs", "u32"]],
    workgroupSize: WG,
    body: `${wgslForEach(WG, "u.c * u.runs")}
  let ch = i / u.runs;
  let r = i - ch * u.runs;
  let j0 = r * u.run;
  let j1 = min(u.count, j0 + u.run);
  ${setup}
  var img = j0 / u.hw;
  var p = j0 - img * u.hw;
  var at = ((img * u.c + ch) * u.hw + p) * ${stride};
  var acc0 = ${zero};
  var acc1 = ${zero};
  for (var j = j0; j < j1; j++) {
    ${step}
    p++;
    at += ${stride};
    if (p == u.hw) {
      p = 0u;
      at += (u.c - 1u) * u.hw * ${stride};
    }
  }
  out0[i] = ${total("acc0")};
  ${mode === "grad" ? `out1[i] = ${total("acc1")} * invstd[ch];` : ""}
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
  // Units of 16 floats when every plane holds whole units (see partialKernel).
  const unit = g.hw % 16 === 0 ? 16 : 1;
  const hw = g.hw / unit, count = g.n * hw;
  const runs = Math.max(1, Math.min(Math.ceil(count / (MIN_RUN / unit)), Math.ceil(TARGET_INVOCATIONS / g.c)));
  const run = Math.ceil(count / runs);
  const partials = Array.from({ length: mode === "grad" ? 2 : 1 }, () => rt.alloc(g.c * runs));
  rt.run(
    partialKernel(mode, unit === 16),
    [...inputs, ...partials],
    [g.c, hw, count, run, runs],
    groupsFor(g.c * runs, WG),
  );
  return partials.map((p) => {
    const s = sum(rt, p, g.c, runs, 1);
    rt.release(p);
    return s;
  });
}

/** A per-channel kernel: one invocation per channel `ch` of `u.c`; `params` follow `c`. */
function channelKernel(
  key: string,
  op: string,
  bindings: BindingSpec[],
  params: [string, ParamType][],
  body: string,
): KernelSpec {
  return defineKernel(key, () => ({
    key,
    op,
    bindings,
    params: [["c", "u32"], ...params],
    workgroupSize: SMALL_WG,
    body: `${wgslForEach(SMALL_WG, "u.c", "ch")}
${body}
}`,
  }));
}

function meanKernel(): KernelSpec {
  return channelKernel(
    "bn_mean",
    "batchNormTrain",
    [{ name: "s", access: "read" }, { name: "mean", access: "read_write" }],
    [["count", "f32"]],
    `  mean[ch] = s[ch] / u.count;`,
  );
}

/** invstd and the `(scale, shift)` pairs of the training forward. */
function finishTrainKernel(): KernelSpec {
  return channelKernel(
    "bn_finish_train",
    "batchNormTrain",
    [
      { name: "ss", access: "read" },
      { name: "mean", access: "read" },
      { name: "gamma", access: "read" },
      { name: "beta", access: "read" },
      { name: "invstd", access: "read_write" },
      { name: "coef", access: "read_write", type: "vec2f" },
    ],
    [["count", "f32"], ["eps", "f32"]],
    `  let mu = mean[ch];
  let is = 1.0 / sqrt(ss[ch] / u.count + u.eps);
  invstd[ch] = is;
  let scale = gamma[ch] * is;
  coef[ch] = vec2f(scale, beta[ch] - mu * scale);`,
  );
}

/** Running statistics: `(1 − momentum) · running + momentum · batch` (unbiased variance). */
function runningKernel(): KernelSpec {
  return channelKernel(
    "bn_running",
    "batchNormTrain",
    [
      { name: "ss", access: "read" },
      { name: "mean", access: "read" },
      { name: "rmean_in", access: "read" },
      { name: "rvar_in", access: "read" },
      { name: "rmean", access: "read_write" },
      { name: "rvar", access: "read_write" },
    ],
    [["count", "f32"], ["momentum", "f32"]],
    `  let unbiased = ss[ch] / select(u.count, u.count - 1.0, u.count > 1.0);
  rmean[ch] = (1.0 - u.momentum) * rmean_in[ch] + u.momentum * mean[ch];
  rvar[ch] = (1.0 - u.momentum) * rvar_in[ch] + u.momentum * unbiased;`,
  );
}

function finishInferenceKernel(): KernelSpec {
  return channelKernel(
    "bn_finish_inference",
    "batchNormInference",
    [
      { name: "gamma", access: "read" },
      { name: "beta", access: "read" },
      { name: "rmean", access: "read" },
      { name: "rvar", access: "read" },
      { name: "coef", access: "read_write", type: "vec2f" },
    ],
    [["eps", "f32"]],
    `  let scale = gamma[ch] / sqrt(rvar[ch] + u.eps);
  coef[ch] = vec2f(scale, beta[ch] - rmean[ch] * scale);`,
  );
}

/**
 * How the elementwise kernels walk `[n, c, hw]`: `v16` (hw a multiple of 16) gives each invocation a
 * unit of four vec4s of one plane, so the channel (a division) and its coefficients are found once per
 * 16 floats; `v4` one vec4; `f32` one float.
 */
type Walk = "v16" | "v4" | "f32";

function walkOf(hw: number): Walk {
  return hw % 16 === 0 ? "v16" : hw % 4 === 0 ? "v4" : "f32";
}

/** Invocations of a walk over `size` floats. */
function walkItems(walk: Walk, size: number): number {
  return walk === "v16" ? size / 16 : walk === "v4" ? size / 4 : size;
}

/**
 * WGSL `fn relu(v)` for `f32` or `vec4f`: `max(v, 0)` with NaN kept, as `unary("max")` (the NaN test on the
 * bits, which no compiler folds away).
 */
function wgslRelu(type: "f32" | "vec4f"): string {
  const [u, bool] = type === "f32" ? ["u32", "bool"] : ["vec4u", "vec4<bool>"];
  return `fn relu(v: ${type}) -> ${type} {
  let nan: ${bool} = (bitcast<${u}>(v) & ${u}(0x7fffffffu)) > ${u}(0x7f800000u);
  return select(${type}(0.0), v, (v > ${type}(0.0)) | nan);
}`;
}

/**
 * An elementwise kernel over `[n, c, hw]` with per-channel coefficients `coef` (of `coefType`):
 * `expr(k, at)` is the output vec4 (or f32) at data index `at`, with `k` the channel's coefficients;
 * `data` names the read bindings of the data's type, `out` the written one.
 */
function channelwiseKernel(
  name: string,
  op: string,
  walk: Walk,
  data: readonly string[],
  coefType: "vec2f" | "vec4f",
  out: string,
  expr: (at: string) => string,
): KernelSpec {
  const key = `${name}_${walk}`;
  const type: "f32" | "vec4f" = walk === "f32" ? "f32" : "vec4f";
  const per = walk === "v16" ? 16 : walk === "v4" ? 4 : 1;
  const writes = walk === "v16"
    ? [0, 1, 2, 3].map((q) => `${out}[at + ${q}u] = ${expr(`at + ${q}u`)};`).join("\n  ")
    : `${out}[at] = ${expr("at")};`;
  return defineKernel(key, () => ({
    key,
    op,
    bindings: [
      ...data.map((d): BindingSpec => ({ name: d, access: "read", type })),
      { name: "coef", access: "read", type: coefType },
      { name: out, access: "read_write", type },
    ],
    params: [["n", "u32"], ["c", "u32"], ["hw", "u32"]],
    workgroupSize: WG,
    body: `${wgslRelu(type)}
${wgslForEach(WG, "u.n")}
  let k = coef[(i / (u.hw / ${per}u)) % u.c];
  let at = i * ${walk === "v16" ? 4 : 1}u;
  ${writes}
}`,
  }));
}

/**
 * `y = x · scale[ch] + shift[ch]` (coefficients as `(scale, shift)` pairs), then `max(y, 0)` with
 * `g.relu` (a NaN stays NaN, as in `unary("max")`).
 */
function apply(rt: GpuRuntime, x: GpuBuffer, coef: GpuBuffer, y: GpuBuffer, g: BatchNormGeometry): void {
  const walk = walkOf(g.hw);
  const splat = (v: string) => walk === "f32" ? v : `vec4f(${v})`;
  const affine = (at: string) => `fma(x[${at}], ${splat("k.x")}, ${splat("k.y")})`;
  const kernel = channelwiseKernel(
    g.relu ? "bn_apply_relu" : "bn_apply",
    "batchNorm",
    walk,
    ["x"],
    "vec2f",
    "y",
    g.relu ? (at) => `relu(${affine(at)})` : affine,
  );
  const n = walkItems(walk, x.size);
  rt.run(kernel, [x, coef, y], [n, g.c, g.hw], groupsFor(n, WG));
}

/** `(gamma·invstd, mean(dy), mean, invstd·mean(dy·xhat))` per channel, for the input gradient. */
function finishGradKernel(): KernelSpec {
  return channelKernel(
    "bn_finish_grad",
    "batchNormBackward",
    [
      { name: "sdy", access: "read" },
      { name: "sdyx", access: "read" },
      { name: "gamma", access: "read" },
      { name: "mean", access: "read" },
      { name: "invstd", access: "read" },
      { name: "coef", access: "read_write", type: "vec4f" },
    ],
    [["count", "f32"]],
    `  let is = invstd[ch];
  coef[ch] = vec4f(gamma[ch] * is, sdy[ch] / u.count, mean[ch], is * sdyx[ch] / u.count);`,
  );
}

/**
 * `dx = k (dy − mean(dy) − xhat · mean(dy·xhat))`, with `xhat · mean(dy·xhat) = (x − mean) · coef.w`
 * (coefficients from `bn_finish_grad`).
 */
function gradApply(rt: GpuRuntime, x: GpuBuffer, dy: GpuBuffer, coef: GpuBuffer, dx: GpuBuffer, g: BatchNormGeometry) {
  const walk = walkOf(g.hw);
  const kernel = channelwiseKernel(
    "bn_grad_apply",
    "batchNormBackward",
    walk,
    ["x", "dy"],
    "vec4f",
    "dx",
    (at) => `k.x * ((dy[${at}] - k.y) - (x[${at}] - k.z) * k.w)`,
  );
  const n = walkItems(walk, x.size);
  rt.run(kernel, [x, dy, coef, dx], [n, g.c, g.hw], groupsFor(n, WG));
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
  gradApply(rt, x, dy, coef, dx, g);
  rt.release(coef);
  return { dx, dgamma, dbeta };
}
