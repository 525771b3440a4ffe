/**
 * Elementwise kernels in oneDNN where its arithmetic is the contract's to the bit: `add`, `sub`, `mul` and
 * `div` of two whole operands in the same element order (one float32 operation per element, as the cpu
 * kernels round), and ReLU's gradient mask `gt(x, a, 1)` (`x > a`, and 1 where `x` is NaN). Each runs on the
 * operands' memory viewed as one flat run of floats, so it serves every layout without padding and leaves the
 * result in the operands' layout.
 *
 * Small operands stay with the cpu kernels: below {@linkcode MIN_ONEDNN_ELEMENTS} a oneDNN call (argument
 * setup, OpenMP fork) costs more than the loop.
 *
 * @module
 */
import type { BinaryOp } from "../backend.ts";
import type { CpuBuffer } from "../cpu/mod.ts";
import { DNNL } from "./_ffi_dnnl.ts";
import { addressOf } from "./_layout.ts";
import type { Dnnl, Primitive } from "./_primitive.ts";

/** Elements from which an elementwise kernel runs in oneDNN. */
export const MIN_ONEDNN_ELEMENTS = 1 << 15;

const BINARY_ALGS = {
  add: DNNL.dnnl_binary_add,
  sub: DNNL.dnnl_binary_sub,
  mul: DNNL.dnnl_binary_mul,
  div: DNNL.dnnl_binary_div,
} as const satisfies Record<BinaryOp, number>;

/** The flat elementwise primitives, by op and length. */
export class Elementwise {
  readonly #dnnl: Dnnl;
  readonly #plans = new Map<string, Primitive>();
  /** The scalar operand of the comparisons (one float, read through a pointer). */
  readonly #scalar = new Float32Array(16);
  readonly #scalarAddress: bigint;
  #nanIsGreater: boolean | undefined;

  constructor(dnnl: Dnnl) {
    this.#dnnl = dnnl;
    this.#scalarAddress = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.#scalar)));
  }

  /** `out[i] = a[i] op b[i]` over `size` floats. */
  binary(op: BinaryOp, a: CpuBuffer, b: CpuBuffer, out: CpuBuffer, size: number): void {
    const key = `${op}:${size}`;
    let prim = this.#plans.get(key);
    if (!prim) {
      const d = this.#dnnl;
      const md = d.plain([size]);
      const context = `binary ${op} of ${size} elements`;
      const pd = d.describe(
        "dnnl_binary_desc_init",
        (desc) => d.rt.lib.symbols.dnnl_binary_desc_init(desc, BINARY_ALGS[op], md, md, md),
        context,
      );
      prim = d.primitive(pd, [[DNNL.DNNL_ARG_SRC, md], [DNNL.DNNL_ARG_SRC_1, md], [DNNL.DNNL_ARG_DST, md]], context);
      this.#plans.set(key, prim);
    }
    prim.run([addressOf(a), addressOf(b), addressOf(out)]);
  }

  /**
   * Whether {@linkcode Elementwise.greater} computes `gt(x, a, b)` exactly: `a` a float32, `b` 1, and this
   * library's `binary_gt` taking a NaN for greater (oneDNN 2.6's JIT compares "not less or equal"), which a
   * run on special values checks once.
   */
  greaterApplies(a: number, b: number): boolean {
    if (Math.fround(a) !== a || b !== 1) return false;
    this.#nanIsGreater ??= this.#checkNanIsGreater();
    return this.#nanIsGreater;
  }

  #checkNanIsGreater(): boolean {
    const x = new Float32Array([NaN, 0, -0, 1, -1, Infinity, -Infinity, 0.5, -NaN, 2, -2, 3, -3, 4, -4, 5]);
    const out = new Float32Array(x.length);
    const prim = this.#greaterPrimitive(x.length);
    this.#scalar[0] = 0;
    prim.run([
      BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(x))),
      this.#scalarAddress,
      BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(out))),
    ]);
    return x.every((v, i) => out[i] === (v > 0 || Number.isNaN(v) ? 1 : 0) && !Object.is(out[i], -0));
  }

  #greaterPrimitive(size: number): Primitive {
    const key = `gt:${size}`;
    let prim = this.#plans.get(key);
    if (!prim) {
      const d = this.#dnnl;
      const md = d.plain([size]), scalar = d.plain([1]);
      const context = `unary gt of ${size} elements`;
      const pd = d.describe(
        "dnnl_binary_desc_init",
        (desc) => d.rt.lib.symbols.dnnl_binary_desc_init(desc, DNNL.dnnl_binary_gt, md, scalar, md),
        context,
      );
      prim = d.primitive(
        pd,
        [[DNNL.DNNL_ARG_SRC, md], [DNNL.DNNL_ARG_SRC_1, scalar], [DNNL.DNNL_ARG_DST, md]],
        context,
      );
      this.#plans.set(key, prim);
    }
    return prim;
  }

  /** `out[i] = x[i] > a || isNaN(x[i]) ? 1 : 0` over `size` floats (where {@linkcode Elementwise.greaterApplies}). */
  greater(x: CpuBuffer, a: number, out: CpuBuffer, size: number): void {
    this.#scalar[0] = a;
    this.#greaterPrimitive(size).run([addressOf(x), this.#scalarAddress, addressOf(out)]);
  }
}
