/**
 * Convolutions in oneDNN: forward, gradient w.r.t. the input (backward data) and w.r.t. the filter
 * (backward weights), each a primitive made once per geometry and cached.
 *
 * Every descriptor asks for `format_tag_any`, so oneDNN picks the layouts its fastest kernel wants
 * (`nChw16c` activations and blocked filters on AVX-512); inputs are brought into those layouts by the
 * buffers ({@linkcode Layouts.storageIn}, which keeps the copies), outputs stay in them when blocked layouts
 * are kept. The algorithm is direct, or Winograd where {@linkcode winogradApplies}.
 *
 * @module
 */
import type { ConvGeometry } from "../backend.ts";
import { DNNL } from "./_ffi_dnnl.ts";
import { addressOf, type Layout, type Layouts, type OnednnBuffer } from "./_layout.ts";
import { dimsOf, type Dnnl, type Primitive } from "./_primitive.ts";
import { OnednnError } from "./errors.ts";

/** A primitive with the layouts of its three tensors. */
interface Plan {
  readonly primitive: Primitive;
  /** Layouts of its arguments, in the order `run` takes them. */
  readonly layouts: readonly [Layout, Layout, Layout];
}

/** A geometry in words, for errors: `conv2d x [n,c,h,w] w [k,c,r,s] stride 1 pad 1`. */
export function describeConv(what: string, g: ConvGeometry): string {
  return `${what} x [${g.n}, ${g.c}, ${g.h}, ${g.w}] w [${g.k}, ${g.c}, ${g.r}, ${g.s}] ` +
    `y [${g.n}, ${g.k}, ${g.oh}, ${g.ow}] stride ${g.stride} pad ${g.pad}`;
}

function key(g: ConvGeometry): string {
  return `${g.n},${g.c},${g.h},${g.w},${g.k},${g.r},${g.s},${g.stride},${g.pad}`;
}

/** A pass of a convolution. */
export type ConvPass = "forward" | "backwardData" | "backwardWeights";

/**
 * Whether Winograd's F(4×4, 3×3) (oneDNN's `jit_wino_4x3`) serves a pass of this geometry: the forward pass and
 * the input gradient of 3×3, stride-1, padding-1 convolutions with 32 or more channels on each side, in whole
 * blocks of 16. There it measured 1.2–2.0× faster than the direct kernels on 2 AVX-512 cores at batch 128
 * (interleaved runs; slower at 16 channels), and its results differ from the direct ones by about 2e-6 of the
 * largest value, well inside every tolerance of the parity and conformance suites. The filter gradient stays
 * direct: oneDNN 2.6.3's Winograd filter gradient crashes the process at small batches (1, 2, 3, 5, sometimes 8).
 */
export function winogradApplies(g: ConvGeometry, pass: ConvPass): boolean {
  return pass !== "backwardWeights" && g.r === 3 && g.s === 3 && g.stride === 1 && g.pad === 1 &&
    g.c % 16 === 0 && g.k % 16 === 0 && g.c >= 32 && g.k >= 32;
}

/** The convolution primitives, by geometry and pass. */
export class Convolutions {
  readonly #dnnl: Dnnl;
  readonly #layouts: Layouts;
  readonly #winograd: boolean;
  /** Forward primitive descriptors by algorithm and geometry (the backward passes' hints). */
  readonly #forwardPds = new Map<string, bigint>();
  readonly #plans = new Map<string, Plan>();

  /** `winograd`: use Winograd where {@linkcode winogradApplies}. */
  constructor(dnnl: Dnnl, layouts: Layouts, winograd: boolean) {
    this.#dnnl = dnnl;
    this.#layouts = layouts;
    this.#winograd = winograd;
  }

  /** The three descriptors with `format_tag_any`, and the geometry's strides and paddings. */
  #descs(g: ConvGeometry) {
    const d = this.#dnnl;
    const any = DNNL.dnnl_format_tag_any;
    const pad = g.pad;
    // oneDNN wants the right/bottom padding that makes the output size exact (PyTorch drops the rest).
    const padR = (g.oh - 1) * g.stride + g.r - g.h - pad;
    const padB = (g.ow - 1) * g.stride + g.s - g.w - pad;
    return {
      src: d.tagged([g.n, g.c, g.h, g.w], any),
      weights: d.tagged([g.k, g.c, g.r, g.s], any),
      dst: d.tagged([g.n, g.k, g.oh, g.ow], any),
      strides: dimsOf([g.stride, g.stride]),
      padL: dimsOf([pad, pad]),
      padR: dimsOf([padR, padB]),
    };
  }

  /** The primitive descriptor of a pass with an algorithm (`dnnl_convolution_direct` or `_winograd`). */
  #describe(pass: ConvPass, g: ConvGeometry, alg: number): bigint {
    const d = this.#dnnl;
    const s = d.rt.lib.symbols;
    const x = this.#descs(g);
    const name = pass === "forward"
      ? "conv2d"
      : pass === "backwardData"
      ? "conv2dBackwardInput"
      : "conv2dBackwardFilter";
    const context = `${describeConv(name, g)}${alg === DNNL.dnnl_convolution_winograd ? " (Winograd)" : ""}`;
    if (pass === "forward") {
      const k = `${alg}:${key(g)}`;
      let pd = this.#forwardPds.get(k);
      if (pd === undefined) {
        pd = d.describe(
          "dnnl_convolution_forward_desc_init",
          (desc) =>
            s.dnnl_convolution_forward_desc_init(
              desc,
              DNNL.dnnl_forward_training,
              alg,
              x.src,
              x.weights,
              null,
              x.dst,
              x.strides,
              x.padL,
              x.padR,
            ),
          context,
        );
        this.#forwardPds.set(k, pd);
      }
      return pd;
    }
    const hint = this.#describe("forward", g, alg);
    if (pass === "backwardData") {
      return d.describe(
        "dnnl_convolution_backward_data_desc_init",
        (desc) =>
          s.dnnl_convolution_backward_data_desc_init(desc, alg, x.src, x.weights, x.dst, x.strides, x.padL, x.padR),
        context,
        { hint },
      );
    }
    return d.describe(
      "dnnl_convolution_backward_weights_desc_init",
      (desc) =>
        s.dnnl_convolution_backward_weights_desc_init(
          desc,
          alg,
          x.src,
          x.weights,
          null,
          x.dst,
          x.strides,
          x.padL,
          x.padR,
        ),
      context,
      { hint },
    );
  }

  /** The primitive of a pass, made on first use: Winograd where it applies and oneDNN has it, else direct. */
  #plan(pass: ConvPass, g: ConvGeometry): Plan {
    const k = `${pass}:${key(g)}`;
    let plan = this.#plans.get(k);
    if (plan) return plan;
    let pd: bigint | undefined;
    if (this.#winograd && winogradApplies(g, pass)) {
      try {
        pd = this.#describe(pass, g, DNNL.dnnl_convolution_winograd);
      } catch (e) {
        // Not on this machine's instruction set (it needs AVX-512): the direct kernels serve.
        if (!(e instanceof OnednnError) || e.status !== DNNL.dnnl_unimplemented) throw e;
      }
    }
    pd ??= this.#describe(pass, g, DNNL.dnnl_convolution_direct);
    const args: readonly (readonly [number, number])[] = pass === "forward"
      ? [
        [DNNL.DNNL_ARG_SRC, DNNL.dnnl_query_src_md],
        [DNNL.DNNL_ARG_WEIGHTS, DNNL.dnnl_query_weights_md],
        [DNNL.DNNL_ARG_DST, DNNL.dnnl_query_dst_md],
      ]
      : pass === "backwardData"
      ? [
        [DNNL.DNNL_ARG_DIFF_DST, DNNL.dnnl_query_diff_dst_md],
        [DNNL.DNNL_ARG_WEIGHTS, DNNL.dnnl_query_weights_md],
        [DNNL.DNNL_ARG_DIFF_SRC, DNNL.dnnl_query_diff_src_md],
      ]
      : [
        [DNNL.DNNL_ARG_SRC, DNNL.dnnl_query_src_md],
        [DNNL.DNNL_ARG_DIFF_DST, DNNL.dnnl_query_diff_dst_md],
        [DNNL.DNNL_ARG_DIFF_WEIGHTS, DNNL.dnnl_query_diff_weights_md],
      ];
    const d = this.#dnnl;
    const mds = args.map(([arg, query]) => [arg, d.queryMd(pd, query)] as const);
    plan = {
      primitive: d.primitive(pd, mds, describeConv(pass, g)),
      layouts: mds.map(([, md]) => this.#layouts.intern(md)) as unknown as [Layout, Layout, Layout],
    };
    this.#plans.set(k, plan);
    return plan;
  }

  /** The implementation each pass of a geometry runs (made on first use), e.g. `"jit_wino_4x3:avx512_core"`. */
  implementation(pass: ConvPass, g: ConvGeometry): string {
    return this.#plan(pass, g).primitive.implementation;
  }

  /** Runs `plan` on `a` and `b` into a new buffer of `size` elements. */
  #run(plan: Plan, a: OnednnBuffer, b: OnednnBuffer, size: number, options: { plain?: boolean } = {}): OnednnBuffer {
    const [la, lb, lout] = plan.layouts;
    const sa = this.#layouts.storageIn(a, la);
    const sb = this.#layouts.storageIn(b, lb);
    return this.#layouts.produce(
      size,
      lout,
      plan.primitive.context,
      (out) => plan.primitive.run([addressOf(sa), addressOf(sb), addressOf(out)]),
      options,
    );
  }

  /** `y = conv2d(x, w)`. */
  forward(x: OnednnBuffer, w: OnednnBuffer, g: ConvGeometry): OnednnBuffer {
    return this.#run(this.#plan("forward", g), x, w, g.n * g.k * g.oh * g.ow);
  }

  /** `dx` from `dy` and `w`. */
  backwardData(dy: OnednnBuffer, w: OnednnBuffer, g: ConvGeometry): OnednnBuffer {
    return this.#run(this.#plan("backwardData", g), dy, w, g.n * g.c * g.h * g.w);
  }

  /** `dw` from `x` and `dy`; plain, since filter gradients go to the optimizer and the cpu kernels. */
  backwardWeights(x: OnednnBuffer, dy: OnednnBuffer, g: ConvGeometry): OnednnBuffer {
    return this.#run(this.#plan("backwardWeights", g), x, dy, g.k * g.c * g.r * g.s, { plain: true });
  }
}
