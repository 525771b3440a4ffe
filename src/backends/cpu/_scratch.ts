/**
 * Scratch arrays of the kernels, one set per thread (each worker has its own module instance), grown to
 * the largest request and reused, so kernels do not allocate per call. Each slot belongs to one kernel
 * at a time; kernels never call each other while holding one.
 *
 * @module
 */

const f32: Float32Array[] = [];
const f64: Float64Array[] = [];
const i32: Int32Array[] = [];

/** Slots, so that a kernel's scratch arrays never alias each other. */
export const Slot = {
  padded: 0,
  packed: 1,
  offsets: 2,
  bases: 3,
  targets: 4,
  sums: 5,
  packA: 6,
  packB: 7,
  transformed: 8,
} as const;
/** A scratch slot. */
export type Slot = typeof Slot[keyof typeof Slot];

/** `size` float32 elements of scratch in `slot` (contents unspecified). */
export function scratchF32(slot: Slot, size: number): Float32Array {
  if (!(f32[slot]?.length >= size)) f32[slot] = new Float32Array(Math.max(size, 2 * (f32[slot]?.length ?? 0)));
  return f32[slot].subarray(0, size);
}

/** `size` float64 elements of scratch in `slot` (contents unspecified). */
export function scratchF64(slot: Slot, size: number): Float64Array {
  if (!(f64[slot]?.length >= size)) f64[slot] = new Float64Array(Math.max(size, 2 * (f64[slot]?.length ?? 0)));
  return f64[slot].subarray(0, size);
}

/** `size` int32 elements of scratch in `slot` (contents unspecified). */
export function scratchI32(slot: Slot, size: number): Int32Array {
  if (!(i32[slot]?.length >= size)) i32[slot] = new Int32Array(Math.max(size, 2 * (i32[slot]?.length ?? 0)));
  return i32[slot].subarray(0, size);
}
