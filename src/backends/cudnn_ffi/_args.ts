/**
 * Packing kernel arguments for `cuLaunchKernel`: its `kernelParams` is a `void**`, an array whose entry `i`
 * points at the value of the kernel's parameter `i`. Values go into one reusable native-memory block, each
 * at an 8-byte-aligned offset, and the pointer table holds `block address + offset` for each. The driver
 * copies the values during the launch call, so one block serves every launch.
 *
 * @module
 */

/** Most parameters a kernel here takes. */
export const MAX_KERNEL_ARGS = 16;
/** Bytes of argument storage (the largest argument is a struct of a few dozen ints). */
export const KERNEL_ARG_BYTES = 2048;

/**
 * A builder of `kernelParams`. Call {@linkcode KernelArgs.begin}, then one method per kernel parameter in
 * order, then pass {@linkcode KernelArgs.table} as the `kernelParams` buffer.
 *
 * @example
 * ```ts
 * const args = new KernelArgs();
 * args.begin().ptr(x).ptr(y).i64(n).i32(op).f64(a).f64(b);
 * cuda.symbols.cuLaunchKernel(fn, grid, 1, 1, 256, 1, 1, 0, stream, args.table, null);
 * ```
 */
export class KernelArgs {
  /** The argument values. */
  readonly storage: ArrayBuffer = new ArrayBuffer(KERNEL_ARG_BYTES);
  /** The `void*[]` table: entry `i` is the address of argument `i`'s value. */
  readonly table: BigUint64Array = new BigUint64Array(MAX_KERNEL_ARGS);
  /** Native address of {@linkcode KernelArgs.storage}. */
  readonly base: bigint;
  readonly #view: DataView;
  #count = 0;
  #offset = 0;

  constructor() {
    this.#view = new DataView(this.storage);
    // Off-heap backing stores never move, so the address holds for the life of this object.
    this.base = Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.storage));
  }

  /** Number of arguments packed since {@linkcode KernelArgs.begin}. */
  get count(): number {
    return this.#count;
  }

  /** Byte offset of argument `i` in {@linkcode KernelArgs.storage}. */
  offsetOf(i: number): number {
    if (i < 0 || i >= this.#count) throw new RangeError(`kernel argument ${i} was not packed (${this.#count} packed)`);
    return Number(this.table[i] - this.base);
  }

  /** Starts a new argument list. */
  begin(): this {
    this.#count = 0;
    this.#offset = 0;
    return this;
  }

  #slot(bytes: number): number {
    if (this.#count >= MAX_KERNEL_ARGS) throw new RangeError(`more than ${MAX_KERNEL_ARGS} kernel arguments`);
    const offset = this.#offset;
    if (offset + bytes > KERNEL_ARG_BYTES) throw new RangeError(`kernel arguments exceed ${KERNEL_ARG_BYTES} bytes`);
    this.table[this.#count++] = this.base + BigInt(offset);
    this.#offset = offset + Math.ceil(bytes / 8) * 8;
    return offset;
  }

  /** A device pointer (`float*`, `const float*`). */
  ptr(value: bigint): this {
    this.#view.setBigUint64(this.#slot(8), value, true);
    return this;
  }
  /** An `int`. */
  i32(value: number): this {
    this.#view.setInt32(this.#slot(4), value, true);
    return this;
  }
  /** An `unsigned int`. */
  u32(value: number): this {
    this.#view.setUint32(this.#slot(4), value, true);
    return this;
  }
  /** A `long long`. */
  i64(value: number | bigint): this {
    this.#view.setBigInt64(this.#slot(8), BigInt(value), true);
    return this;
  }
  /** A `float`. */
  f32(value: number): this {
    this.#view.setFloat32(this.#slot(4), value, true);
    return this;
  }
  /** A `double`. */
  f64(value: number): this {
    this.#view.setFloat64(this.#slot(8), value, true);
    return this;
  }
  /** A struct of `length` ints passed by value: `values` then zeros. */
  ints(values: readonly number[], length: number = values.length): this {
    if (values.length > length) throw new RangeError(`${values.length} ints do not fit a struct of ${length}`);
    const offset = this.#slot(4 * length);
    for (let i = 0; i < length; i++) this.#view.setInt32(offset + 4 * i, values[i] ?? 0, true);
    return this;
  }
}
