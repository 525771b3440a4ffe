/**
 * Host-side geometry for the kernels and cuBLAS: merging adjacent axes of strided views, and the
 * row-major-to-column-major argument swap of a GEMM. Pure functions, tested without a GPU.
 *
 * @module
 */
import { MAX_RANK } from "./_kernels_cu.ts";

/** A shape with one stride array per operand, as the strided kernels take it. */
export interface StridedGeometry {
  readonly shape: number[];
  readonly strides: number[][];
}

/**
 * The same index mapping over fewer axes: axes of size 1 are dropped, and an axis merges into the next
 * when every operand steps over it exactly as far as over the whole next axis. A contiguous elementwise
 * operation becomes one axis.
 */
export function collapseAxes(shape: readonly number[], strides: readonly (readonly number[])[]): StridedGeometry {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    const mergeable = last >= 0 &&
      strides.every((s, k) => outStrides[k][last] === s[d] * shape[d]);
    if (mergeable) {
      outShape[last] *= shape[d];
      strides.forEach((s, k) => (outStrides[k][last] = s[d]));
    } else {
      outShape.push(shape[d]);
      strides.forEach((s, k) => outStrides[k].push(s[d]));
    }
  }
  return { shape: outShape, strides: outStrides };
}

/**
 * The ints of the kernels' `AtStrided` struct: rank, shape, then each stride array, each padded to
 * {@linkcode MAX_RANK}. Throws when the view needs more axes than the kernels take.
 */
export function stridedStruct(op: string, g: StridedGeometry): number[] {
  const rank = g.shape.length;
  if (rank > MAX_RANK) {
    throw new RangeError(
      `cudnn ${op}: the view [${g.shape.join(", ")}] has ${rank} axes after merging; the kernels take ${MAX_RANK}`,
    );
  }
  const pad = (a: readonly number[]) => [...a, ...new Array(MAX_RANK - a.length).fill(0)];
  return [rank, ...pad(g.shape), ...pad(g.strides[0] ?? []), ...pad(g.strides[1] ?? [])];
}

/** Largest element count (and index) the kernels address with 32-bit ints. */
export const MAX_ELEMENTS = 2 ** 31 - 1;

/** Throws when `n` elements are more than the kernels index. */
export function checkElements(op: string, n: number): void {
  if (n > MAX_ELEMENTS) throw new RangeError(`cudnn ${op}: ${n} elements exceed the kernels' limit of ${MAX_ELEMENTS}`);
}

/** Arguments of a column-major `cublasSgemm` call, as numbers (operation codes: 0 = N, 1 = T). */
export interface SgemmArgs {
  readonly transa: 0 | 1;
  readonly transb: 0 | 1;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** Which row-major operand goes first (`A` in cuBLAS' terms). */
  readonly first: "b" | "a";
  readonly lda: number;
  readonly ldb: number;
  readonly ldc: number;
}

/**
 * The column-major SGEMM that computes the row-major `C[m,n] = op(a)[m,k] · op(b)[k,n]`: a row-major
 * matrix read column-major is its transpose, so cuBLAS computes `Cᵀ = op(b)ᵀ · op(a)ᵀ` with the operands
 * swapped. `transA` means `a` is stored `[k, m]`; `transB` that `b` is stored `[n, k]`.
 */
export function rowMajorSgemm(m: number, n: number, k: number, transA: boolean, transB: boolean): SgemmArgs {
  return {
    transa: transB ? 1 : 0,
    transb: transA ? 1 : 0,
    m: n,
    n: m,
    k,
    first: "b",
    lda: Math.max(1, transB ? k : n),
    ldb: Math.max(1, transA ? m : k),
    ldc: Math.max(1, n),
  };
}
