/**
 * Matrix products in oneDNN's matmul primitive, and the contract's `sum` as one: summing `x` viewed as
 * `[outer, reduced, inner]` over its middle axis is `ones[1, reduced] · x[o]` for every `o` (one batched
 * product, the ones broadcast over the batch), or `x · ones[reduced, 1]` when `inner` is 1. oneDNN's GEMM
 * kernels make that about ten times quicker than a loop, in float32 with the kernels' own order of additions.
 * A transposed operand is the same memory described with swapped strides. Primitives are cached by shape.
 *
 * @module
 */
import { CpuBuffer } from "../cpu/mod.ts";
import { DNNL } from "./_ffi_dnnl.ts";
import { addressOf } from "./_layout.ts";
import type { Dnnl, Primitive } from "./_primitive.ts";

/** Matmul primitives for products and sums. */
export class Dense {
  readonly #dnnl: Dnnl;
  readonly #plans = new Map<string, Primitive>();
  #ones = new Float32Array(0);
  #onesAddress = 0n;

  constructor(dnnl: Dnnl) {
    this.#dnnl = dnnl;
  }

  #plan(key: string, context: string, src: Uint8Array, weights: Uint8Array, dst: Uint8Array): Primitive {
    let prim = this.#plans.get(key);
    if (!prim) {
      const d = this.#dnnl;
      const pd = d.describe(
        "dnnl_matmul_desc_init",
        (desc) => d.rt.lib.symbols.dnnl_matmul_desc_init(desc, src, weights, null, dst),
        context,
      );
      prim = d.primitive(
        pd,
        [[DNNL.DNNL_ARG_SRC, src], [DNNL.DNNL_ARG_WEIGHTS, weights], [DNNL.DNNL_ARG_DST, dst]],
        context,
      );
      this.#plans.set(key, prim);
    }
    return prim;
  }

  /** `out[m, n] = op(a) · op(b)`, `transA`: `a` stored `[k, m]`, `transB`: `b` stored `[n, k]` (all sizes > 0). */
  matmul(
    a: CpuBuffer,
    b: CpuBuffer,
    out: CpuBuffer,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
  ): void {
    const d = this.#dnnl;
    const key = `mm:${m},${n},${k},${transA},${transB}`;
    const prim = this.#plans.get(key) ?? this.#plan(
      key,
      `matmul [${m}, ${k}]${transA ? "ᵀ" : ""} · [${k}, ${n}]${transB ? "ᵀ" : ""}`,
      d.strided([m, k], transA ? [1, m] : [k, 1]),
      d.strided([k, n], transB ? [1, k] : [n, 1]),
      d.plain([m, n]),
    );
    prim.run([addressOf(a), addressOf(b), addressOf(out)]);
  }

  /**
   * Whether the first `size` floats of `x` are all finite: one read of `x` as row sums (a NaN or infinity
   * makes its row's sum non-finite; a finite row whose sum overflows answers no, which only costs the caller
   * its slow path).
   */
  allFinite(x: CpuBuffer, size: number): boolean {
    const cols = size % 1024 === 0 ? 1024 : size % 64 === 0 ? 64 : 1;
    const rows = size / cols;
    const out = new CpuBuffer(rows);
    try {
      this.sum(x, out, rows, cols, 1);
      const sums = out.data;
      for (let i = 0; i < rows; i++) if (!Number.isFinite(sums[i])) return false;
      return true;
    } finally {
      out.release();
    }
  }

  /**
   * `out[n, hw] = Σ_c x[n, c, hw]` of `x` in `nChwBc` layout (`c` a multiple of `block`): the `block` lanes of
   * each pixel summed first (a product with ones over the memory read as `[n, c/B, hw, B]`), then the `c/B`
   * partial sums — without reordering `x`.
   */
  sumChannelsBlocked(x: CpuBuffer, out: CpuBuffer, n: number, c: number, hw: number, block: number): void {
    const d = this.#dnnl;
    const cb = c / block;
    this.#ensureOnes(block);
    const key = `sumBlocked:${n},${c},${hw},${block}`;
    const prim = this.#plans.get(key) ?? this.#plan(
      key,
      `sum [${n}, ${c}, ${hw}] over the channels of nChw${block}c`,
      d.strided([n, cb, hw, block], [cb * hw * block, hw * block, block, 1]),
      d.plain([1, 1, block, 1]),
      d.plain([n, cb, hw, 1]),
    );
    const partial = new CpuBuffer(n * cb * hw);
    try {
      prim.run([addressOf(x), this.#onesAddress, addressOf(partial)]);
      this.sum(partial, out, n, cb, hw);
    } finally {
      partial.release();
    }
  }

  #ensureOnes(length: number): void {
    if (this.#ones.length >= length) return;
    this.#ones = new Float32Array(length).fill(1);
    this.#onesAddress = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.#ones)));
  }

  /** `out[o, i] = Σ_r x[o, r, i]` (all sizes > 0). */
  sum(x: CpuBuffer, out: CpuBuffer, outer: number, reduced: number, inner: number): void {
    const d = this.#dnnl;
    this.#ensureOnes(reduced);
    const key = `sum:${outer},${reduced},${inner}`;
    const context = `sum [${outer}, ${reduced}, ${inner}] over the middle axis`;
    if (inner === 1) {
      const prim = this.#plans.get(key) ??
        this.#plan(key, context, d.plain([outer, reduced]), d.plain([reduced, 1]), d.plain([outer, 1]));
      prim.run([addressOf(x), this.#onesAddress, addressOf(out)]);
    } else {
      const prim = this.#plans.get(key) ??
        this.#plan(
          key,
          context,
          d.plain([1, 1, reduced]),
          d.plain([outer, reduced, inner]),
          d.plain([outer, 1, inner]),
        );
      prim.run([this.#onesAddress, addressOf(x), addressOf(out)]);
    }
  }
}
