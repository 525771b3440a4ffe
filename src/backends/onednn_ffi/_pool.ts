/**
 * Average pooling in oneDNN (forward and backward), in the layout the input comes in. PyTorch's
 * `count_include_pad` divides by the window's size within the padded input, which is oneDNN's
 * `pooling_avg_include_padding` whenever no window reaches past the padding: always in PyTorch's floor mode,
 * where the bottom/right padding oneDNN needs is at most `pad`. Max pooling stays with the cpu kernels: its
 * NaN and tie rules are the contract's, not oneDNN's.
 *
 * @module
 */
import type { PoolGeometry } from "../backend.ts";
import { DNNL } from "./_ffi_dnnl.ts";
import { addressOf, type Layout, type Layouts, type OnednnBuffer, PLAIN } from "./_layout.ts";
import { dimsOf, type Dnnl, type Primitive } from "./_primitive.ts";

interface Plan {
  readonly pd: bigint;
  readonly primitive: Primitive;
  readonly src: Layout;
  readonly dst: Layout;
}

function describePool(what: string, g: PoolGeometry, layout: Layout): string {
  return `${what} x [${g.n}, ${g.c}, ${g.h}, ${g.w}] (${layout.name}) kernel ${g.kernel} stride ${g.stride} ` +
    `pad ${g.pad} y [${g.n}, ${g.c}, ${g.oh}, ${g.ow}]`;
}

/** The average-pooling primitives, by layout and geometry. */
export class Pooling {
  readonly #dnnl: Dnnl;
  readonly #layouts: Layouts;
  readonly #forward = new Map<string, Plan>();
  readonly #backward = new Map<string, Plan>();

  constructor(dnnl: Dnnl, layouts: Layouts) {
    this.#dnnl = dnnl;
    this.#layouts = layouts;
  }

  #padEnd(g: PoolGeometry): [number, number] {
    return [(g.oh - 1) * g.stride + g.kernel - g.h - g.pad, (g.ow - 1) * g.stride + g.kernel - g.w - g.pad];
  }

  /** Whether oneDNN computes this geometry as the contract means it. */
  applies(g: PoolGeometry): boolean {
    if (g.n * g.c * g.oh * g.ow * g.h * g.w === 0) return false;
    const [b, r] = this.#padEnd(g);
    return b >= 0 && r >= 0 && b <= g.pad && r <= g.pad && g.pad < g.kernel;
  }

  #layoutFor(x: OnednnBuffer, g: PoolGeometry): Layout {
    const l = x.layout;
    const fits = !l.plain && l.dims.length === 4 && l.dims[0] === g.n && l.dims[1] === g.c && l.dims[2] === g.h &&
      l.dims[3] === g.w;
    return fits ? l : PLAIN;
  }

  #descs(g: PoolGeometry, src: Layout) {
    const d = this.#dnnl;
    const [b, r] = this.#padEnd(g);
    return {
      src: src.plain ? d.plain([g.n, g.c, g.h, g.w]) : src.md,
      dst: d.tagged([g.n, g.c, g.oh, g.ow], DNNL.dnnl_format_tag_any),
      strides: dimsOf([g.stride, g.stride]),
      kernel: dimsOf([g.kernel, g.kernel]),
      dilation: dimsOf([0, 0]),
      padL: dimsOf([g.pad, g.pad]),
      padR: dimsOf([b, r]),
    };
  }

  #forwardPlan(g: PoolGeometry, src: Layout): Plan {
    const k = `${src.id}:${g.n},${g.c},${g.h},${g.w},${g.kernel},${g.stride},${g.pad}`;
    let plan = this.#forward.get(k);
    if (plan) return plan;
    const d = this.#dnnl;
    const s = d.rt.lib.symbols;
    const x = this.#descs(g, src);
    const context = describePool("avgPool2d", g, src);
    const pd = d.describe(
      "dnnl_pooling_v2_forward_desc_init",
      (desc) =>
        s.dnnl_pooling_v2_forward_desc_init(
          desc,
          DNNL.dnnl_forward_training,
          DNNL.dnnl_pooling_avg_include_padding,
          x.src,
          x.dst,
          x.strides,
          x.kernel,
          x.dilation,
          x.padL,
          x.padR,
        ),
      context,
    );
    const dst = d.queryMd(pd, DNNL.dnnl_query_dst_md);
    plan = {
      pd,
      primitive: d.primitive(pd, [[DNNL.DNNL_ARG_SRC, x.src], [DNNL.DNNL_ARG_DST, dst]], context),
      src,
      dst: this.#layouts.intern(dst),
    };
    this.#forward.set(k, plan);
    return plan;
  }

  /** Average pooling, padding counted. */
  avgForward(x: OnednnBuffer, g: PoolGeometry): OnednnBuffer {
    const plan = this.#forwardPlan(g, this.#layoutFor(x, g));
    const sx = this.#layouts.storageIn(x, plan.src);
    return this.#layouts.produce(
      g.n * g.c * g.oh * g.ow,
      plan.dst,
      plan.primitive.context,
      (out) => plan.primitive.run([addressOf(sx), addressOf(out)]),
    );
  }

  /** The gradient of average pooling. */
  avgBackward(dy: OnednnBuffer, g: PoolGeometry): OnednnBuffer {
    // The gradient comes back in the layout the forward pass of this geometry read (blocked, when it ran on a
    // blocked input), where the kernels that consume it want it.
    const srcLayout = this.#forwardInput(g);
    const fwd = this.#forwardPlan(g, srcLayout);
    const k = `${srcLayout.id}:${g.n},${g.c},${g.h},${g.w},${g.kernel},${g.stride},${g.pad}`;
    let plan = this.#backward.get(k);
    if (!plan) {
      const d = this.#dnnl;
      const s = d.rt.lib.symbols;
      const x = this.#descs(g, srcLayout);
      const context = describePool("avgPool2dBackward", g, srcLayout);
      const pd = d.describe(
        "dnnl_pooling_v2_backward_desc_init",
        (desc) =>
          s.dnnl_pooling_v2_backward_desc_init(
            desc,
            DNNL.dnnl_pooling_avg_include_padding,
            x.src,
            fwd.dst.plain ? d.plain([g.n, g.c, g.oh, g.ow]) : fwd.dst.md,
            x.strides,
            x.kernel,
            x.dilation,
            x.padL,
            x.padR,
          ),
        context,
        { hint: fwd.pd },
      );
      const diffDst = d.queryMd(pd, DNNL.dnnl_query_diff_dst_md);
      const diffSrc = d.queryMd(pd, DNNL.dnnl_query_diff_src_md);
      plan = {
        pd,
        primitive: d.primitive(pd, [[DNNL.DNNL_ARG_DIFF_DST, diffDst], [DNNL.DNNL_ARG_DIFF_SRC, diffSrc]], context),
        src: this.#layouts.intern(diffDst),
        dst: this.#layouts.intern(diffSrc),
      };
      this.#backward.set(k, plan);
    }
    const sdy = this.#layouts.storageIn(dy, plan.src);
    const done = plan;
    return this.#layouts.produce(
      g.n * g.c * g.h * g.w,
      plan.dst,
      plan.primitive.context,
      (out) => done.primitive.run([addressOf(sdy), addressOf(out)]),
    );
  }

  /** The blocked input layout a forward pass of this geometry ran on, or plain. */
  #forwardInput(g: PoolGeometry): Layout {
    for (const plan of this.#forward.values()) {
      const d = plan.src.dims;
      if (!plan.src.plain && d[0] === g.n && d[1] === g.c && d[2] === g.h && d[3] === g.w) return plan.src;
    }
    return PLAIN;
  }
}
