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
import { blockKernel, lane, type Planes, range, runBlockKernel, wgslChain, wgslWeights } from "./_conv_blocks.ts";
import type { KernelSpec } from "./_kernel.ts";
import type { GpuBuffer, GpuRuntime } from "./_runtime.ts";

/** Output channels per invocation. */
const RM = 16;
/** Output pixels per invocation at stride 1 and at stride 2. */
const RN1 = 16;
const RN2 = 8;
/** Input channels per step of the channel loop. */
const CU = 4;

/** Whether the direct kernel computes the forward pass of this 1×1 convolution. */
export function pointwiseConvApplies(rt: Pick<GpuRuntime, "textureFits">, g: ConvGeometry): boolean {
  const shape = g.stride === 1
    ? (g.h * g.w) % RN1 === 0
    : g.stride === 2 && g.h % 2 === 0 && g.w % 2 === 0 && g.ow % RN2 === 0;
  return g.r === 1 && g.s === 1 && g.pad === 0 && shape && g.n * g.c * g.k > 0 &&
    rt.textureFits(g.n * g.c * g.h * g.w) && rt.textureFits(g.c * Math.ceil(g.k / RM) * RM);
}

const PARAMS = [["C", "u32"], ["W", "u32"], ["HW", "u32"], ["K", "u32"], ["OW", "u32"]] as const;

function pointwiseKernel(stride: 1 | 2): KernelSpec {
  const rn = stride === 1 ? RN1 : RN2;
  return blockKernel(`conv1x1_direct_s${stride}_r${RM}x${rn}`, "conv2d", RM, rn, PARAMS, (L) => {
    // Offset of the run's first input float within its plane.
    L.push(
      stride === 1 ? `  let off = p0;` : `  let oy = p0 / u.OW;
  let off = 2u * oy * u.W + 2u * (p0 - oy * u.OW);`,
    );
    const texels = stride === 1 ? rn / 4 : rn / 2;
    /** WGSL of one loop step over `cu` channels from `ch`. */
    const step = (cu: number) => {
      for (const q of range(cu)) {
        L.push(`    let xb${q} = ((img * u.C + ch + ${q}u) * u.HW + off) >> 2u;`);
        for (const t of range(texels)) L.push(`    let X${q}_${t} = x_texel(xb${q} + ${t}u);`);
        L.push(wgslWeights("    ", RM, 1, `(ch + ${q}u)`, `${q}_`));
      }
      for (const i of range(RM)) {
        for (const j of range(rn)) {
          const pairs = range(cu).map((q) => [lane(`w${q}_0_`, i), lane(`X${q}_`, stride * j)] as const);
          L.push(`    ${wgslChain(`c${i}_${j}`, pairs)}`);
        }
      }
    };
    L.push(`  var ch = 0u;
  for (; ch + ${CU - 1}u < u.C; ch += ${CU}u) {`);
    step(CU);
    L.push(`  }
  for (; ch < u.C; ch++) {`);
    step(1);
    L.push(`  }`);
  });
}

/** Runs the kernel over `x [n, cin, h, w]` with the filter packed from `w` (transposed with `flip`). */
function pointwise(rt: GpuRuntime, x: GpuBuffer, w: GpuBuffer, p: Planes, stride: 1 | 2, flip: boolean): GpuBuffer {
  const ow = p.w / stride, ohw = (p.h / stride) * ow;
  const shape = { ...p, ohw, taps: 1, rm: RM, segs: ohw / (stride === 1 ? RN1 : RN2) };
  return runBlockKernel(rt, pointwiseKernel(stride), x, w, shape, flip, [p.cin, p.w, p.h * p.w, p.kout, ow]);
}

/** `y [n, k, oh, ow]` of the 1×1 convolution (stride 1 or 2, padding 0) of `x [n, c, h, w]` with `w [k, c, 1, 1]`. */
export function conv1x1Direct(rt: GpuRuntime, x: GpuBuffer, w: GpuBuffer, g: ConvGeometry): GpuBuffer {
  return pointwise(rt, x, w, { n: g.n, cin: g.c, h: g.h, w: g.w, kout: g.k }, g.stride === 1 ? 1 : 2, false);
}

/** Whether the direct kernel computes the input gradient of this 1×1 convolution (stride 1 only). */
export function pointwiseInputGradApplies(rt: Pick<GpuRuntime, "textureFits">, g: ConvGeometry): boolean {
  return g.stride === 1 && pointwiseConvApplies(rt, { ...g, c: g.k, k: g.c });
}

/** `dx [n, c, h, w]` of the stride-1 1×1 convolution: the same kernel over `dy` with `w` transposed. */
export function conv1x1DirectInputGrad(rt: GpuRuntime, dy: GpuBuffer, w: GpuBuffer, g: ConvGeometry): GpuBuffer {
  return pointwise(rt, dy, w, { n: g.n, cin: g.k, h: g.h, w: g.w, kout: g.c }, 1, true);
}
