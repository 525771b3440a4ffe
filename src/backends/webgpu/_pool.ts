/**
 * Average and max pooling with their gradients. Gradients gather (each input element sums the windows
 * that contain it, in the order the cpu backend adds them) instead of scattering, so no atomics are
 * needed and results are deterministic. Max pooling records the first maximum of each window, or its last
 * NaN (NaN wins, padding never does) in a u32 scratch buffer that the backward pass and the gather read.
 *
 * @module
 */
import type { PoolGeometry } from "../backend.ts";
import { groupsFor, wgslForEach } from "./_dispatch.ts";
import { type BindingSpec, defineKernel, type KernelSpec } from "./_kernel.ts";
import type { GpuBuffer, GpuRuntime } from "./_runtime.ts";

const WG = 256;
const NONE = 0xffffffff;

const POOL_PARAMS = [
  ["n", "u32"],
  ["h", "u32"],
  ["w", "u32"],
  ["oh", "u32"],
  ["ow", "u32"],
  ["kernel", "u32"],
  ["stride", "u32"],
  ["pad", "i32"],
  ["area", "f32"],
] as const;

function poolParams(count: number, g: PoolGeometry): number[] {
  return [count, g.h, g.w, g.oh, g.ow, g.kernel, g.stride, g.pad, g.kernel * g.kernel];
}

/**
 * A pooling kernel: one invocation per item of `u.n` (`i`), pooling uniforms, `body` after the bounds
 * check, `helpers` (WGSL functions) before the entry point.
 */
function poolKernel(key: string, op: string, bindings: BindingSpec[], body: string, helpers = ""): KernelSpec {
  return defineKernel(key, () => ({
    key,
    op,
    bindings,
    params: POOL_PARAMS,
    workgroupSize: WG,
    body: `${helpers}
${wgslForEach(WG, "u.n")}
${body}
}`,
  }));
}

/** Dispatches a pooling kernel over `count` items. */
function runPool(rt: GpuRuntime, kernel: KernelSpec, buffers: GpuBuffer[], count: number, g: PoolGeometry): void {
  rt.run(kernel, buffers, poolParams(count, g), groupsFor(count, WG));
}

/** WGSL: the window of output `i` (`plane`, top-left `y0`, `x0`) clipped to the image as `[ya, yb) × [xa, xb)`. */
const WINDOW = `let plane = i / (u.oh * u.ow);
  let q = i - plane * u.oh * u.ow;
  let oy = q / u.ow;
  let y0 = i32(oy * u.stride) - u.pad;
  let x0 = i32((q - oy * u.ow) * u.stride) - u.pad;
  let ya = u32(max(y0, 0));
  let yb = u32(clamp(y0 + i32(u.kernel), 0, i32(u.h)));
  let xa = u32(max(x0, 0));
  let xb = u32(clamp(x0 + i32(u.kernel), 0, i32(u.w)));
  let base = plane * u.h * u.w;`;

/**
 * WGSL: `fn argmax(i: u32) -> u32`, index into x of the first maximum of window `i`, or of its last NaN
 * (PyTorch's rule, as the cpu backend's `argmax`), or NONE. Once a NaN is found only another replaces it;
 * that is a flag, not `v > NaN` being false, which a compiler assuming no NaN need not keep.
 */
const ARGMAX = `fn argmax(i: u32) -> u32 {
  ${WINDOW}
  var best = 0.0;
  var at = ${NONE}u;
  var nan = false;
  for (var yy = ya; yy < yb; yy++) {
    for (var xx = xa; xx < xb; xx++) {
      let j = base + yy * u.w + xx;
      let v = x[j];
      if (is_nan(v)) {
        at = j;
        nan = true;
      } else if (!nan && (at == ${NONE}u || v > best)) {
        best = v;
        at = j;
      }
    }
  }
  return at;
}`;

function avgKernel(): KernelSpec {
  return poolKernel(
    "avg_pool",
    "avgPool2d",
    [{ name: "x", access: "read" }, { name: "y", access: "read_write" }],
    `  ${WINDOW}
  var s = 0.0;
  for (var yy = ya; yy < yb; yy++) {
    for (var xx = xa; xx < xb; xx++) { s += x[base + yy * u.w + xx]; }
  }
  y[i] = s / u.area;`,
  );
}

/** WGSL: for input element `i`, loops `oy`, `ox` over the windows containing it (row-major), with `o` the output index. */
const WINDOWS_OF_INPUT = `let plane = i / (u.h * u.w);
  let q = i - plane * u.h * u.w;
  let iy = i32(q / u.w);
  let ix = i32(q - u32(iy) * u.w);
  let ty = iy + u.pad - i32(u.kernel);
  let tx = ix + u.pad - i32(u.kernel);
  let oy0 = select(0u, u32(ty) / u.stride + 1u, ty >= 0);
  let ox0 = select(0u, u32(tx) / u.stride + 1u, tx >= 0);
  let oy1 = select(0, min(iy + u.pad, i32(u.oh * u.stride) - 1) / i32(u.stride) + 1, iy + u.pad >= 0);
  let ox1 = select(0, min(ix + u.pad, i32(u.ow * u.stride) - 1) / i32(u.stride) + 1, ix + u.pad >= 0);
  let obase = plane * u.oh * u.ow;`;

function avgBackwardKernel(): KernelSpec {
  return poolKernel(
    "avg_pool_backward",
    "avgPool2dBackward",
    [{ name: "dy", access: "read" }, { name: "dx", access: "read_write" }],
    `  ${WINDOWS_OF_INPUT}
  var s = 0.0;
  for (var oy = oy0; i32(oy) < oy1; oy++) {
    for (var ox = ox0; i32(ox) < ox1; ox++) { s += dy[obase + oy * u.ow + ox] / u.area; }
  }
  dx[i] = s;`,
  );
}

function maxKernel(): KernelSpec {
  return poolKernel(
    "max_pool",
    "maxPool2d",
    [{ name: "x", access: "read" }, { name: "y", access: "read_write" }],
    `  let at = argmax(i);
  y[i] = select(x[min(at, arrayLength(&x) - 1u)], neg_inf_f32(), at == ${NONE}u);`,
    ARGMAX,
  );
}

function argmaxKernel(): KernelSpec {
  return poolKernel(
    "max_pool_argmax",
    "maxPool2dBackward",
    [{ name: "x", access: "read" }, { name: "arg", access: "read_write", type: "u32" }],
    `  arg[i] = argmax(i);`,
    ARGMAX,
  );
}

function maxBackwardKernel(): KernelSpec {
  return poolKernel(
    "max_pool_backward",
    "maxPool2dBackward",
    [
      { name: "arg", access: "read", type: "u32" },
      { name: "dy", access: "read" },
      { name: "dx", access: "read_write" },
    ],
    `  ${WINDOWS_OF_INPUT}
  var s = 0.0;
  for (var oy = oy0; i32(oy) < oy1; oy++) {
    for (var ox = ox0; i32(ox) < ox1; ox++) {
      let o = obase + oy * u.ow + ox;
      if (arg[o] == i) { s += dy[o]; }
    }
  }
  dx[i] = s;`,
  );
}

function gatherKernel(): KernelSpec {
  return poolKernel(
    "max_pool_gather",
    "maxPool2dGather",
    [{ name: "x", access: "read" }, { name: "ddx", access: "read" }, { name: "y", access: "read_write" }],
    `  let at = argmax(i);
  y[i] = select(ddx[min(at, arrayLength(&ddx) - 1u)], 0.0, at == ${NONE}u);`,
    ARGMAX,
  );
}

function checkPool(op: string, g: PoolGeometry, sizes: Record<string, [number, number]>): void {
  for (const [key, v] of Object.entries(g)) {
    if (!Number.isInteger(v) || v < 0) {
      throw new RangeError(`webgpu ${op}: geometry ${key} = ${v} is not a natural number`);
    }
  }
  if (g.stride < 1 || g.kernel < 1) {
    throw new RangeError(`webgpu ${op}: kernel ${g.kernel} and stride ${g.stride} must be at least 1`);
  }
  for (const [name, [have, want]] of Object.entries(sizes)) {
    if (have !== want) {
      throw new RangeError(
        `webgpu ${op}: ${name} has ${have} floats but the geometry ${JSON.stringify(g)} needs ${want}`,
      );
    }
  }
}

const inSize = (g: PoolGeometry): number => g.n * g.c * g.h * g.w;
const outSize = (g: PoolGeometry): number => g.n * g.c * g.oh * g.ow;

/** Average pooling, padding counted in the divisor. */
export function avgPool2d(rt: GpuRuntime, x: GpuBuffer, g: PoolGeometry): GpuBuffer {
  checkPool("avgPool2d", g, { x: [x.size, inSize(g)] });
  const out = rt.alloc(outSize(g));
  runPool(rt, avgKernel(), [x, out], out.size, g);
  return out;
}

/** Gradient of average pooling: each input element gathers `dy / kernel²` from the windows holding it. */
export function avgPool2dBackward(rt: GpuRuntime, dy: GpuBuffer, g: PoolGeometry): GpuBuffer {
  checkPool("avgPool2dBackward", g, { dy: [dy.size, outSize(g)] });
  if (dy.size === 0) return rt.zeros(inSize(g));
  const dx = rt.alloc(inSize(g));
  runPool(rt, avgBackwardKernel(), [dy, dx], dx.size, g);
  return dx;
}

/** Max pooling; an all-padding window gives -Infinity. */
export function maxPool2d(rt: GpuRuntime, x: GpuBuffer, g: PoolGeometry): GpuBuffer {
  checkPool("maxPool2d", g, { x: [x.size, inSize(g)] });
  const out = rt.alloc(outSize(g));
  runPool(rt, maxKernel(), [x, out], out.size, g);
  return out;
}

/** Routes `dy` to the argmax of each window (argmax pass, then a gather per input element). */
export function maxPool2dBackward(rt: GpuRuntime, x: GpuBuffer, dy: GpuBuffer, g: PoolGeometry): GpuBuffer {
  checkPool("maxPool2dBackward", g, { x: [x.size, inSize(g)], dy: [dy.size, outSize(g)] });
  if (dy.size === 0) return rt.zeros(inSize(g));
  const arg = rt.alloc(dy.size);
  runPool(rt, argmaxKernel(), [x, arg], dy.size, g);
  const dx = rt.alloc(x.size);
  runPool(rt, maxBackwardKernel(), [arg, dy, dx], dx.size, g);
  rt.release(arg);
  return dx;
}

/** `ddx` at the argmax of each window (0 for an all-padding window). */
export function maxPool2dGather(rt: GpuRuntime, x: GpuBuffer, ddx: GpuBuffer, g: PoolGeometry): GpuBuffer {
  checkPool("maxPool2dGather", g, { x: [x.size, inSize(g)], ddx: [ddx.size, inSize(g)] });
  const out = rt.alloc(outSize(g));
  runPool(rt, gatherKernel(), [x, ddx, out], out.size, g);
  return out;
}
