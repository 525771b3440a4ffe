/**
 * Direct 1×1 convolution (padding 0, stride 1 or 2) for software adapters, reading through textures like
 * the 3×3 kernels of `_conv_direct.ts`: the WRN shortcut ("convdim") and, with the filter transposed, the
 * input gradient of the stride-1 case.
 *
 * One invocation computes `RM` output channels × a run of output pixels: `RN1` consecutive pixels of the
 * flattened plane at stride 1 (`RN1/4` texels per input channel), `RN2` pixels of one output row at
 * stride 2 (the even columns of `RN2/2` texels of input row `2·oy`). Channels go four to a loop step with
 * one write of each accumulator per step (on llvmpipe every write of a loop-carried variable is a masked
 * store); a remainder loop takes the rest one at a time.
 *
 * @module
 */
import type { ConvGeometry } from "../backend.ts";
import { packFilter } from "./_conv_direct.ts";
import { groupsFor, wgslEntry } from "./_dispatch.ts";
import { defineKernel, type KernelSpec } from "./_kernel.ts";
import type { GpuBuffer, GpuRuntime } from "./_runtime.ts";
import { wgslTexel } from "./_texture.ts";

/** Output channels per invocation. */
const RM = 16;
/** Output pixels per invocation at stride 1 and at stride 2. */
const RN1 = 16;
const RN2 = 8;
/** Input channels per step of the channel loop. */
const CU = 4;
/** Invocations per workgroup: one 256-bit SIMD group of float32 lanes. */
const LANES = 8;

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Whether the direct kernel computes the forward pass of this 1×1 convolution. */
export function pointwiseConvApplies(rt: Pick<GpuRuntime, "textureFits">, g: ConvGeometry): boolean {
  const shape = g.stride === 1
    ? (g.h * g.w) % RN1 === 0
    : g.stride === 2 && g.h % 2 === 0 && g.w % 2 === 0 && g.ow % RN2 === 0;
  return g.r === 1 && g.s === 1 && g.pad === 0 && shape && g.n * g.c * g.k > 0 &&
    rt.textureFits(g.n * g.c * g.h * g.w) && rt.textureFits(g.c * Math.ceil(g.k / RM) * RM);
}

function pointwiseKernel(stride: 1 | 2): KernelSpec {
  const rn = stride === 1 ? RN1 : RN2;
  const key = `conv1x1_direct_s${stride}_r${RM}x${rn}`;
  return defineKernel(key, () => {
    const L: string[] = [wgslTexel("x"), wgslTexel("wp"), wgslEntry(LANES)];
    L.push(`  let mg = group % u.mgroups;
  let seg = (group / u.mgroups) * ${LANES}u + lidx;
  let sv = min(seg, u.total - 1u);
  let img = sv / u.segs;
  let p0 = (sv - img * u.segs) * ${rn}u;`);
    // Offset of the run's first input float within its plane.
    L.push(
      stride === 1 ? `  let off = p0;` : `  let oy = p0 / u.OW;
  let off = 2u * oy * u.W + 2u * (p0 - oy * u.OW);`,
    );
    for (const i of range(RM)) L.push(`  ${range(rn).map((j) => `var c${i}_${j} = 0.0;`).join(" ")}`);
    const texels = stride === 1 ? rn / 4 : rn / 2;
    /** WGSL of one loop step over `cu` channels from `ch`. */
    const step = (cu: number) => {
      for (const q of range(cu)) {
        L.push(`    let xb${q} = ((img * u.C + ch + ${q}u) * u.HW + off) >> 2u;
    let wb${q} = (ch + ${q}u) * u.KPAD4 + mg * ${RM / 4}u;`);
        for (const t of range(texels)) L.push(`    let X${q}_${t} = x_texel(xb${q} + ${t}u);`);
        for (const t of range(RM / 4)) L.push(`    let W${q}_${t} = wp_texel(wb${q} + ${t}u);`);
      }
      for (const i of range(RM)) {
        for (const j of range(rn)) {
          const f = stride * j;
          let e = `c${i}_${j}`;
          for (const q of range(cu)) {
            e = `fma(W${q}_${Math.floor(i / 4)}.${"xyzw"[i % 4]}, X${q}_${Math.floor(f / 4)}.${"xyzw"[f % 4]}, ${e})`;
          }
          L.push(`    c${i}_${j} = ${e};`);
        }
      }
    };
    L.push(`  var ch = 0u;
  for (; ch + ${CU - 1}u < u.C; ch += ${CU}u) {`);
    step(CU);
    L.push(`  }
  for (; ch < u.C; ch++) {`);
    step(1);
    L.push(`  }
  if (seg >= u.total) { return; }`);
    for (const i of range(RM)) {
      L.push(`  { let m = mg * ${RM}u + ${i}u; if (m < u.K) { let at = ((img * u.K + m) * u.OHW + p0) / 4u;
    ${
        range(rn / 4).map((q) => `y[at + ${q}u] = vec4f(${range(4).map((j) => `c${i}_${4 * q + j}`).join(", ")});`)
          .join(" ")
      } } }`);
    }
    L.push(`}`);
    return {
      key,
      op: "conv2d",
      bindings: [
        { name: "x", access: "read", type: "texture" },
        { name: "wp", access: "read", type: "texture" },
        { name: "y", access: "read_write", type: "vec4f" },
      ],
      params: [
        ["C", "u32"],
        ["W", "u32"],
        ["HW", "u32"],
        ["K", "u32"],
        ["OW", "u32"],
        ["OHW", "u32"],
        ["KPAD4", "u32"],
        ["segs", "u32"],
        ["total", "u32"],
        ["mgroups", "u32"],
      ],
      workgroupSize: LANES,
      body: L.join("\n"),
    };
  });
}

/** Runs the kernel over `x [n, cin, h, w]` with the filter packed from `w` (transposed with `flip`). */
function pointwise(
  rt: GpuRuntime,
  x: GpuBuffer,
  w: GpuBuffer,
  n: number,
  cin: number,
  h: number,
  width: number,
  kout: number,
  stride: 1 | 2,
  flip: boolean,
): GpuBuffer {
  const packed = packFilter(rt, w, kout, cin, 1, RM, flip);
  const ow = width / stride, ohw = (h / stride) * ow;
  const out = rt.alloc(n * kout * ohw);
  const segs = ohw / (stride === 1 ? RN1 : RN2), total = n * segs, mgroups = Math.ceil(kout / RM);
  rt.run(
    pointwiseKernel(stride),
    [x, packed, out],
    [cin, width, h * width, kout, ow, ohw, (mgroups * RM) / 4, segs, total, mgroups],
    mgroups * groupsFor(total, LANES),
  );
  rt.release(packed);
  return out;
}

/** `y [n, k, oh, ow]` of the 1×1 convolution (stride 1 or 2, padding 0) of `x [n, c, h, w]` with `w [k, c, 1, 1]`. */
export function conv1x1Direct(rt: GpuRuntime, x: GpuBuffer, w: GpuBuffer, g: ConvGeometry): GpuBuffer {
  return pointwise(rt, x, w, g.n, g.c, g.h, g.w, g.k, g.stride === 1 ? 1 : 2, false);
}

/** Whether the direct kernel computes the input gradient of this 1×1 convolution (stride 1 only). */
export function pointwiseInputGradApplies(rt: Pick<GpuRuntime, "textureFits">, g: ConvGeometry): boolean {
  return g.stride === 1 && pointwiseConvApplies(rt, { ...g, c: g.k, k: g.c });
}

/** `dx [n, c, h, w]` of the stride-1 1×1 convolution: the same kernel over `dy` with `w` transposed. */
export function conv1x1DirectInputGrad(rt: GpuRuntime, dy: GpuBuffer, w: GpuBuffer, g: ConvGeometry): GpuBuffer {
  return pointwise(rt, dy, w, g.n, g.k, g.h, g.w, g.c, 1, true);
}
