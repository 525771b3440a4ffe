/**
 * Compile-time configurations chosen per adapter kind, and the choice of GEMM tiling per product.
 *
 * On a software adapter two more things pay (both measured on llvmpipe, Mesa 22.3, 2 cores): reading
 * large operands through textures (`textureMinFloats`, see `_texture.ts`; ~1 ns a float against ~6 for
 * a storage buffer), and the direct convolution kernels (`directConv`: `_conv_direct.ts`,
 * `_conv_stride2.ts`, `_conv_pointwise.ts`; ~9–10 GMAC/s for 3×3 against ~2 for the implicit GEMM).
 * With the fused batch norm + ReLU they took the WRN AT step from 8.7 to ~34 images/s there.
 *
 * A software adapter (llvmpipe, lavapipe) runs a workgroup on one CPU thread with invocations as SIMD
 * lanes. There, measured on Mesa 22.3 (llvmpipe and lavapipe, 256-bit): a storage-buffer read costs
 * ~20 ns per lane, a vec4 workgroup-memory read several times more, a multiply-add under 1 ns per 8
 * lanes. So it wants no workgroup memory and large register blocks (16×32 reads 48 values for 512
 * multiply-adds per k), as large as compile time allows (see `REGISTER_COLS`). A GPU wants
 * workgroup-memory tiles shared by many invocations with small register blocks.
 *
 * @module
 */
import type { GemmTiling } from "./_gemm.ts";

/** Kernel configurations for one kind of adapter. */
export interface Tuning {
  readonly name: string;
  /**
   * The GEMM tiling for an `m × n` product over `k`, from a small fixed set; `splitK` says whether the
   * caller sums partial products (so k may be split between workgroups and lanes).
   */
  readonly gemm: (m: number, n: number, k: number, splitK: boolean) => GemmTiling;
  /** Workgroups a GEMM should offer before split-K stops adding more. */
  readonly targetGroups: number;
  /** Dispatches recorded per submitted batch. */
  readonly maxBatch: number;
  /**
   * Whether convolutions of the shapes they take use the direct kernels (`_conv_direct.ts`,
   * `_conv_stride2.ts`, `_conv_pointwise.ts`) instead of the implicit GEMM.
   */
  readonly directConv: boolean;
  /** Kernels read operands of at least this many floats through textures (see `_texture.ts`). */
  readonly textureMinFloats: number;
}

const GPU_WIDE: GemmTiling = { name: "w16x16r4x4k16", staging: "workgroup", wx: 16, wy: 16, rm: 4, rn: 4, tk: 16 };
const GPU_NARROW: GemmTiling = { name: "w16x4r4x4k16", staging: "workgroup", wx: 16, wy: 4, rm: 4, rn: 4, tk: 16 };

/** For GPUs: 64×64 (or 16×64 for few rows) workgroup tiles with 4×4 register blocks. */
export const HARDWARE_TUNING: Tuning = {
  name: "hardware",
  gemm: (m) => (m <= 16 ? GPU_NARROW : GPU_WIDE),
  targetGroups: 256,
  maxBatch: 256,
  directConv: false,
  textureMinFloats: Infinity,
};

/** Lanes per workgroup of the register tilings: one 256-bit SIMD group of float32. */
const LANES = 8;
/**
 * Register blocks on offer. Larger blocks read less per multiply-add (32×64 ran ~1.5× faster than 16×32
 * on llvmpipe) but LLVM compiles them superlinearly slower: cold, 16×16 takes ~3 s, 16×32 ~8 s, 32×32 and
 * 16×64 ~35 s per pipeline. 16×32 keeps a first training step (or a test run) within a minute.
 */
const REGISTER_ROWS = [16] as const;
const REGISTER_COLS = [16, 32] as const;

function registerTiling(rm: number, rn: number, lanesOverK = false): GemmTiling {
  const staging = lanesOverK ? "registers_k" : "registers";
  return { name: `${lanesOverK ? "regk" : "reg"}_w${LANES}r${rm}x${rn}`, staging, wx: LANES, wy: 1, rm, rn, tk: 16 };
}

/** Relative cost of one k step of an `rm × rn` register block: loads (~90 units each) and multiply-adds. */
function blockCost(rm: number, rn: number): number {
  return 90 * (rm + rn) + rm * rn;
}

/**
 * The register tiling with the least estimated time for an `m × n` product over `k`: blocks that overhang
 * the matrix still cost their full time, so narrow products take narrow blocks, or (when k may be split
 * and is long) put the lanes of a workgroup on k instead of n.
 */
export function registerTilingFor(m: number, n: number, k = 0, splitK = false): GemmTiling {
  let best = registerTiling(REGISTER_ROWS[0], REGISTER_COLS[0]);
  let bestCost = Infinity;
  for (const lanesOverK of splitK && k >= 64 * LANES ? [false, true] : [false]) {
    for (const rm of REGISTER_ROWS) {
      for (const rn of REGISTER_COLS) {
        const blocks = Math.ceil(m / rm) * Math.ceil(n / (lanesOverK ? rn : LANES * rn)) * LANES;
        const cost = blocks * blockCost(rm, rn) / (lanesOverK ? LANES : 1);
        if (cost < bestCost * 0.97) {
          best = registerTiling(rm, rn, lanesOverK);
          bestCost = cost;
        }
      }
    }
  }
  return best;
}

/** For software adapters: register-staged tilings, one SIMD group per workgroup. */
export const SOFTWARE_TUNING: Tuning = {
  name: "software",
  gemm: (m, n, k, splitK) => registerTilingFor(m, n, k, splitK),
  targetGroups: 4 * navigator.hardwareConcurrency,
  maxBatch: 256,
  directConv: true,
  textureMinFloats: 4096,
};
