/**
 * 3×3 stride-1 convolution by Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, "Fast Algorithms for
 * Convolutional Neural Networks", 2016): each 2×2 block of outputs comes from the 4×4 block of inputs
 * around it with 16 multiplications per input channel instead of 36:
 *
 *     Y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A
 *
 *     Bᵀ = | 1  0 −1  0 |    G = | 1    0    0  |    Aᵀ = | 1  1  1  0 |
 *          | 0  1  1  0 |        | ½    ½    ½  |         | 0  1 −1 −1 |
 *          | 0 −1  1  0 |        | ½   −½    ½  |
 *          | 0  1  0 −1 |        | 0    0    1  |
 *
 * The sixteen positions ξ of the 4×4 transformed blocks are sixteen independent matrix products over the
 * input channels, which run in the same 4×4 register tile as the GEMM. The input gradient is the same
 * computation with the filters transposed and turned; the filter gradient is its transpose (below).
 *
 * Everything after reading the float32 inputs is double precision (the transforms only add, subtract and
 * halve), so a result differs from the direct sum of `conv.ts`, the definition, only by double-precision
 * rounding, far below float32 resolution: after the single rounding to float32 the two agree except,
 * rarely, in the last bit. Which path a convolution takes depends on its geometry only, never on the
 * threads, and every sum runs in a fixed order, so results are bit-identical for any number of threads.
 *
 * @module
 */
import type { ConvGeometry } from "../backend.ts";
import { padImage } from "./_pad.ts";
import { type Claim, sequential } from "./_partition.ts";
import { scratchF32, scratchF64, Slot } from "./_scratch.ts";

/** Output channels per register tile. */
const MR = 4;
/** Tiles (2×2 output blocks) per register tile. */
const NR = 4;
/** Tiles transformed and multiplied at a time, so the transformed blocks stay in cache. */
const TILE_CHUNK = 64;

/** The convolution {@linkcode winogradConv} computes: a 3×3 stride-1 correlation of `src` with filters. */
export interface WinogradProblem {
  /** Images. */
  readonly n: number;
  /** Input channels, height, width of `src [n, inC, h, w]`. */
  readonly inC: number;
  readonly h: number;
  readonly w: number;
  /** Zero padding on each side. */
  readonly pad: number;
  /** Output channels, height and width of `out [n, outC, oh, ow]`; `oh = h + 2 pad − 2`. */
  readonly outC: number;
  readonly oh: number;
  readonly ow: number;
  /**
   * How the 3×3 filter of (output channel o, input channel i) is stored: `false` for a forward filter
   * `[outC, inC, 3, 3]`; `true` for the input gradient, whose filter is the forward one `[inC, outC, 3, 3]`
   * transposed and turned by 180°.
   */
  readonly flipped: boolean;
}

/** `U = G g Gᵀ` of every (output, input) channel pair, packed `[ξ][outBlock][inC][4]`, zero past outC. */
function transformFilters(w: Float32Array, p: WinogradProblem, U: Float64Array): void {
  const { inC, outC, flipped } = p;
  const plane = Math.ceil(outC / MR) * inC * MR; // stride between the ξ planes of U
  const g = new Float64Array(9);
  U.fill(0);
  for (let o = 0; o < outC; o++) {
    for (let i = 0; i < inC; i++) {
      // g[ky·3 + kx] of the pair; the input gradient reads w[i][o] turned by 180°.
      const at = flipped ? (i * outC + o) * 9 : (o * inC + i) * 9;
      for (let j = 0; j < 9; j++) g[j] = w[at + (flipped ? 8 - j : j)];
      // G g: four rows of three, each turned into four values of (G g) Gᵀ.
      const u = (Math.floor(o / MR) * inC + i) * MR + o % MR;
      filterRow(U, u, plane, g[0], g[1], g[2]);
      filterRow(
        U,
        u + 4 * plane,
        plane,
        (g[0] + g[3] + g[6]) * 0.5,
        (g[1] + g[4] + g[7]) * 0.5,
        (g[2] + g[5] + g[8]) * 0.5,
      );
      filterRow(
        U,
        u + 8 * plane,
        plane,
        (g[0] - g[3] + g[6]) * 0.5,
        (g[1] - g[4] + g[7]) * 0.5,
        (g[2] - g[5] + g[8]) * 0.5,
      );
      filterRow(U, u + 12 * plane, plane, g[6], g[7], g[8]);
    }
  }
}

/** One row `(a, b, c)` of `G g` times `Gᵀ`: four values, one per ξ plane. */
function filterRow(U: Float64Array, u: number, plane: number, a: number, b: number, c: number): void {
  U[u] = a;
  U[u + plane] = (a + b + c) * 0.5;
  U[u + 2 * plane] = (a - b + c) * 0.5;
  U[u + 3 * plane] = c;
}

/**
 * `Bᵀ d B` of the 4×4 block of `src` at `s` (rows `wp` apart), stored at `V[o + ξ·plane]` for the sixteen
 * positions ξ (row-major in the 4×4 block).
 */
function inputTransform(src: Float32Array, s: number, wp: number, V: Float64Array, o: number, plane: number): void {
  const d00 = src[s], d01 = src[s + 1], d02 = src[s + 2], d03 = src[s + 3];
  s += wp;
  const d10 = src[s], d11 = src[s + 1], d12 = src[s + 2], d13 = src[s + 3];
  s += wp;
  const d20 = src[s], d21 = src[s + 1], d22 = src[s + 2], d23 = src[s + 3];
  s += wp;
  const d30 = src[s], d31 = src[s + 1], d32 = src[s + 2], d33 = src[s + 3];
  // Bᵀ d, then (Bᵀ d) B row by row.
  const e00 = d00 - d20, e01 = d01 - d21, e02 = d02 - d22, e03 = d03 - d23;
  const e10 = d10 + d20, e11 = d11 + d21, e12 = d12 + d22, e13 = d13 + d23;
  const e20 = d20 - d10, e21 = d21 - d11, e22 = d22 - d12, e23 = d23 - d13;
  const e30 = d10 - d30, e31 = d11 - d31, e32 = d12 - d32, e33 = d13 - d33;
  V[o] = e00 - e02, V[o + plane] = e01 + e02, V[o + 2 * plane] = e02 - e01, V[o + 3 * plane] = e01 - e03;
  o += 4 * plane;
  V[o] = e10 - e12, V[o + plane] = e11 + e12, V[o + 2 * plane] = e12 - e11, V[o + 3 * plane] = e11 - e13;
  o += 4 * plane;
  V[o] = e20 - e22, V[o + plane] = e21 + e22, V[o + 2 * plane] = e22 - e21, V[o + 3 * plane] = e21 - e23;
  o += 4 * plane;
  V[o] = e30 - e32, V[o + plane] = e31 + e32, V[o + 2 * plane] = e32 - e31, V[o + 3 * plane] = e31 - e33;
}

/**
 * `V = Bᵀ d B` of tiles `[t0, t0 + count)` of one padded image `src [inC, hp, wp]`, packed
 * `[ξ][tileBlock][inC][4]`; tiles past the last repeat it.
 */
function transformInputs(
  src: Float32Array,
  inC: number,
  hp: number,
  wp: number,
  tilesAcross: number,
  tiles: number,
  t0: number,
  count: number,
  V: Float64Array,
): void {
  const lanes = Math.ceil(count / NR) * NR;
  const plane = lanes * inC; // stride between the ξ planes of V
  for (let t = 0; t < lanes; t++) {
    const tile = Math.min(t0 + t, tiles - 1);
    const corner = Math.floor(tile / tilesAcross) * 2 * wp + (tile % tilesAcross) * 2;
    const v = Math.floor(t / NR) * inC * NR + t % NR;
    for (let c = 0; c < inC; c++) inputTransform(src, c * hp * wp + corner, wp, V, v + c * NR, plane);
  }
}

/** `M[ξ][o][t] = Σ_c U[ξ][o][c] · V[ξ][c][t]` for the 16 positions; M is `[ξ][outBlocks·4][lanes]`. */
function multiply(
  U: Float64Array,
  V: Float64Array,
  inC: number,
  oBlocks: number,
  lanes: number,
  M: Float64Array,
): void {
  const tBlocks = lanes / NR;
  for (let xi = 0; xi < 16; xi++) {
    for (let ob = 0; ob < oBlocks; ob++) {
      const u0 = (xi * oBlocks + ob) * inC * MR;
      for (let tb = 0; tb < tBlocks; tb++) {
        let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
        let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
        let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (let c = 0, u = u0, v = (xi * tBlocks + tb) * inC * NR; c < inC; c++, u += MR, v += NR) {
          const a0 = U[u], a1 = U[u + 1], a2 = U[u + 2], a3 = U[u + 3];
          const b0 = V[v], b1 = V[v + 1], b2 = V[v + 2], b3 = V[v + 3];
          c00 += a0 * b0, c01 += a0 * b1, c02 += a0 * b2, c03 += a0 * b3;
          c10 += a1 * b0, c11 += a1 * b1, c12 += a1 * b2, c13 += a1 * b3;
          c20 += a2 * b0, c21 += a2 * b1, c22 += a2 * b2, c23 += a2 * b3;
          c30 += a3 * b0, c31 += a3 * b1, c32 += a3 * b2, c33 += a3 * b3;
        }
        let m = ((xi * oBlocks + ob) * MR) * lanes + tb * NR;
        M[m] = c00, M[m + 1] = c01, M[m + 2] = c02, M[m + 3] = c03, m += lanes;
        M[m] = c10, M[m + 1] = c11, M[m + 2] = c12, M[m + 3] = c13, m += lanes;
        M[m] = c20, M[m + 1] = c21, M[m + 2] = c22, M[m + 3] = c23, m += lanes;
        M[m] = c30, M[m + 1] = c31, M[m + 2] = c32, M[m + 3] = c33;
      }
    }
  }
}

/** `Y = Aᵀ M A` of tiles `[t0, t0 + count)`, written into image `out [outC, oh, ow]` at `outOffset`. */
function transformOutputs(
  M: Float64Array,
  outC: number,
  oBlocks: number,
  lanes: number,
  tilesAcross: number,
  t0: number,
  count: number,
  out: Float32Array,
  outOffset: number,
  oh: number,
  ow: number,
): void {
  const plane = oBlocks * MR * lanes; // stride between the ξ planes of M
  for (let o = 0; o < outC; o++) {
    for (let t = 0; t < count; t++) {
      let m = o * lanes + t;
      const m00 = M[m], m01 = M[m + plane], m02 = M[m + 2 * plane], m03 = M[m + 3 * plane];
      m += 4 * plane;
      const m10 = M[m], m11 = M[m + plane], m12 = M[m + 2 * plane], m13 = M[m + 3 * plane];
      m += 4 * plane;
      const m20 = M[m], m21 = M[m + plane], m22 = M[m + 2 * plane], m23 = M[m + 3 * plane];
      m += 4 * plane;
      const m30 = M[m], m31 = M[m + plane], m32 = M[m + 2 * plane], m33 = M[m + 3 * plane];
      // Aᵀ M, then (Aᵀ M) A.
      const a0 = m00 + m10 + m20, a1 = m01 + m11 + m21, a2 = m02 + m12 + m22, a3 = m03 + m13 + m23;
      const b0 = m10 - m20 - m30, b1 = m11 - m21 - m31, b2 = m12 - m22 - m32, b3 = m13 - m23 - m33;
      const tile = t0 + t;
      const oy = Math.floor(tile / tilesAcross) * 2, ox = (tile % tilesAcross) * 2;
      const y = outOffset + (o * oh + oy) * ow + ox;
      out[y] = a0 + a1 + a2;
      if (ox + 1 < ow) out[y + 1] = a1 - a2 - a3;
      if (oy + 1 < oh) {
        out[y + ow] = b0 + b1 + b2;
        if (ox + 1 < ow) out[y + ow + 1] = b1 - b2 - b3;
      }
    }
  }
}

/**
 * The convolution `p` of `src` with filters `w` into `out`, for the images `claim` hands out (one image
 * per unit).
 */
export function winogradConv(
  src: Float32Array,
  w: Float32Array,
  p: WinogradProblem,
  out: Float32Array,
  claim: Claim = sequential(),
): void {
  const { n, inC, h, pad, outC, oh, ow } = p;
  const tilesDown = Math.ceil(oh / 2), tilesAcross = Math.ceil(ow / 2), tiles = tilesDown * tilesAcross;
  if (n === 0 || tiles === 0) return;
  const oBlocks = Math.ceil(outC / MR);
  // Rows and columns read: the image at (pad, pad), and up to 2·tiles + 2 for a last odd tile.
  const hp = Math.max(h + 2 * pad, 2 * tilesDown + 2), wp = Math.max(p.w + 2 * pad, 2 * tilesAcross + 2);
  const U = scratchF64(Slot.packed, 16 * oBlocks * MR * inC);
  transformFilters(w, p, U);
  const chunkLanes = Math.ceil(Math.min(tiles, TILE_CHUNK) / NR) * NR;
  const V = scratchF64(Slot.transformed, 16 * chunkLanes * inC);
  const M = scratchF64(Slot.sums, 16 * oBlocks * MR * chunkLanes);
  const padded = scratchF32(Slot.padded, inC * hp * wp);
  for (let b = claim(); b < n; b = claim()) {
    padImage(src, b * inC * h * p.w, inC, h, p.w, padded, hp, wp, pad, pad);
    for (let t0 = 0; t0 < tiles; t0 += TILE_CHUNK) {
      const count = Math.min(TILE_CHUNK, tiles - t0), lanes = Math.ceil(count / NR) * NR;
      transformInputs(padded, inC, hp, wp, tilesAcross, tiles, t0, count, V);
      multiply(U, V, inC, oBlocks, lanes, M);
      transformOutputs(M, outC, oBlocks, lanes, tilesAcross, t0, count, out, b * outC * oh * ow, oh, ow);
    }
  }
}

/**
 * Convolutions with at least this many input channels (and, for the gradients, output channels) take the
 * Winograd path: 2.25 times fewer multiplications, measured 1.4 times faster at 16 channels and up to 2
 * times at 128; with only a few channels (the 3-channel stem) the transforms cost more than they save.
 */
const MIN_CHANNELS = 16;

function isThreeByThreeStrideOne(g: ConvGeometry): boolean {
  return g.r === 3 && g.s === 3 && g.stride === 1;
}

/** The forward problem of `conv2d` on Winograd's path, or `undefined` when the direct path is better. */
export function forwardProblem(g: ConvGeometry): WinogradProblem | undefined {
  if (!isThreeByThreeStrideOne(g) || g.c < MIN_CHANNELS) return undefined;
  return { n: g.n, inC: g.c, h: g.h, w: g.w, pad: g.pad, outC: g.k, oh: g.oh, ow: g.ow, flipped: false };
}

/**
 * The input gradient of `conv2d` as a Winograd problem, or `undefined`: the correlation of `dy` padded by
 * `2 − pad` with the filters transposed and turned by 180°.
 */
export function inputGradientProblem(g: ConvGeometry): WinogradProblem | undefined {
  if (!isThreeByThreeStrideOne(g) || g.k < MIN_CHANNELS || g.pad > 2) return undefined;
  return { n: g.n, inC: g.k, h: g.oh, w: g.ow, pad: 2 - g.pad, outC: g.c, oh: g.h, ow: g.w, flipped: true };
}

// ---- filter gradient ----
//
// With `y = Aᵀ [U ⊙ V] A` per tile and `U = G g Gᵀ`, the filter gradient is
// `dg = Gᵀ [ Σ_tiles (A dy Aᵀ) ⊙ V ] G`: sixteen matrix products over the tiles of every image (output
// channel × input channel, summed over tiles), then one small transform per filter. The sum over images
// must run in one fixed order for the result not to depend on the threads, so it runs in two steps: each
// fixed group of images sums into its own partial (the groups are the units threads take), then the
// partials are added in group order and transformed.

/** At most this many image groups, and partials of at most this many bytes in all. */
const MAX_GROUPS = 16;
const MAX_PARTIAL_BYTES = 64 * 2 ** 20;

/** How the filter gradient of `g` is cut: image groups, images per group, float64 elements per partial. */
export interface FilterGroups {
  readonly groups: number;
  readonly perGroup: number;
  readonly partialSize: number;
}

/** The groups of the filter gradient of `g` on Winograd's path, or `undefined` when the direct path is better. */
export function filterGradientGroups(g: ConvGeometry): FilterGroups | undefined {
  if (!isThreeByThreeStrideOne(g) || g.c < MIN_CHANNELS || g.k < MIN_CHANNELS || g.n === 0) return undefined;
  const partialSize = 16 * Math.ceil(g.k / MR) * Math.ceil(g.c / NR) * MR * NR;
  const fit = Math.floor(MAX_PARTIAL_BYTES / (8 * partialSize));
  if (fit < 1) return undefined;
  const perGroup = Math.ceil(g.n / Math.min(MAX_GROUPS, fit, g.n));
  return { groups: Math.ceil(g.n / perGroup), perGroup, partialSize };
}

/**
 * `A dy Aᵀ` of tiles `[t0, t0 + count)` of one image of `dy` padded to whole tiles `[k, 2·down, 2·across]`,
 * packed `[ξ][outBlock][count][4]` (zero past k).
 */
function transformGradients(
  dyp: Float32Array,
  k: number,
  down: number,
  across: number,
  t0: number,
  count: number,
  D: Float64Array,
): void {
  const kBlocks = Math.ceil(k / MR), plane = kBlocks * count * MR, wp = 2 * across;
  D.fill(0);
  for (let o = 0; o < k; o++) {
    for (let t = 0; t < count; t++) {
      const tile = t0 + t;
      const s = (o * 2 * down + Math.floor(tile / across) * 2) * wp + (tile % across) * 2;
      const y00 = dyp[s], y01 = dyp[s + 1], y10 = dyp[s + wp], y11 = dyp[s + wp + 1];
      // A dy: rows (y0·), (y0· + y1·), (y0· − y1·), (−y1·); then each row times Aᵀ.
      const d = (Math.floor(o / MR) * count + t) * MR + o % MR;
      gradientRow(D, d, plane, y00, y01);
      gradientRow(D, d + 4 * plane, plane, y00 + y10, y01 + y11);
      gradientRow(D, d + 8 * plane, plane, y00 - y10, y01 - y11);
      gradientRow(D, d + 12 * plane, plane, -y10, -y11);
    }
  }
}

/** One row `(a, b)` of `A dy` times `Aᵀ`: four values, one per ξ plane. */
function gradientRow(D: Float64Array, d: number, plane: number, a: number, b: number): void {
  D[d] = a;
  D[d + plane] = a + b;
  D[d + 2 * plane] = a - b;
  D[d + 3 * plane] = -b;
}

/**
 * The first step of the filter gradient of `g`: for each image group `claim` hands out, its partial
 * `Σ_images Σ_tiles (A dy Aᵀ) ⊙ (Bᵀ x B)` in `partials` (float64, `[group][ξ][outBlock][inBlock][4×4]`).
 */
export function winogradFilterPartials(
  x: Float32Array,
  dy: Float32Array,
  g: ConvGeometry,
  partials: Float64Array,
  claim: Claim = sequential(),
): void {
  const cut = filterGradientGroups(g);
  if (!cut) throw new RangeError(`winograd: no Winograd filter gradient for ${JSON.stringify(g)}`);
  const { n, c, h, k, pad, oh, ow } = g;
  const down = Math.ceil(oh / 2), across = Math.ceil(ow / 2), tiles = down * across;
  const kBlocks = Math.ceil(k / MR), cBlocks = Math.ceil(c / NR);
  const hp = Math.max(h + 2 * pad, 2 * down + 2), wp = Math.max(g.w + 2 * pad, 2 * across + 2);
  const padded = scratchF32(Slot.padded, c * hp * wp);
  const dyp = scratchF32(Slot.packed, k * 4 * down * across);
  const chunk = Math.min(tiles, TILE_CHUNK);
  const V = scratchF64(Slot.transformed, 16 * cBlocks * chunk * NR);
  const D = scratchF64(Slot.packA, 16 * kBlocks * chunk * MR);
  for (let group = claim(); group < cut.groups; group = claim()) {
    const S = partials.subarray(group * cut.partialSize, (group + 1) * cut.partialSize);
    S.fill(0);
    for (let b = group * cut.perGroup; b < Math.min(n, (group + 1) * cut.perGroup); b++) {
      padImage(x, b * c * h * g.w, c, h, g.w, padded, hp, wp, pad, pad);
      padImage(dy, b * k * oh * ow, k, oh, ow, dyp, 2 * down, 2 * across, 0, 0);
      for (let t0 = 0; t0 < tiles; t0 += chunk) {
        const count = Math.min(chunk, tiles - t0), vPlane = cBlocks * count * NR;
        V.fill(0);
        for (let t = 0; t < count; t++) {
          const tile = t0 + t;
          const corner = Math.floor(tile / across) * 2 * wp + (tile % across) * 2;
          for (let ch = 0; ch < c; ch++) {
            inputTransform(
              padded,
              ch * hp * wp + corner,
              wp,
              V,
              (Math.floor(ch / NR) * count + t) * NR + ch % NR,
              vPlane,
            );
          }
        }
        transformGradients(dyp, k, down, across, t0, count, D);
        accumulate(D, V, kBlocks, cBlocks, count, S);
      }
    }
  }
}

/** `S[ξ][ob][ib] += Σ_t D[ξ][ob][t] ⊗ V[ξ][ib][t]`: 4×4 outer products summed over the tiles. */
function accumulate(
  D: Float64Array,
  V: Float64Array,
  kBlocks: number,
  cBlocks: number,
  count: number,
  S: Float64Array,
): void {
  for (let xi = 0, s = 0; xi < 16; xi++) {
    for (let ob = 0; ob < kBlocks; ob++) {
      const d0 = (xi * kBlocks + ob) * count * MR;
      for (let ib = 0; ib < cBlocks; ib++, s += MR * NR) {
        let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
        let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
        let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (let t = 0, d = d0, v = (xi * cBlocks + ib) * count * NR; t < count; t++, d += MR, v += NR) {
          const a0 = D[d], a1 = D[d + 1], a2 = D[d + 2], a3 = D[d + 3];
          const b0 = V[v], b1 = V[v + 1], b2 = V[v + 2], b3 = V[v + 3];
          c00 += a0 * b0, c01 += a0 * b1, c02 += a0 * b2, c03 += a0 * b3;
          c10 += a1 * b0, c11 += a1 * b1, c12 += a1 * b2, c13 += a1 * b3;
          c20 += a2 * b0, c21 += a2 * b1, c22 += a2 * b2, c23 += a2 * b3;
          c30 += a3 * b0, c31 += a3 * b1, c32 += a3 * b2, c33 += a3 * b3;
        }
        S[s] += c00, S[s + 1] += c01, S[s + 2] += c02, S[s + 3] += c03;
        S[s + 4] += c10, S[s + 5] += c11, S[s + 6] += c12, S[s + 7] += c13;
        S[s + 8] += c20, S[s + 9] += c21, S[s + 10] += c22, S[s + 11] += c23;
        S[s + 12] += c30, S[s + 13] += c31, S[s + 14] += c32, S[s + 15] += c33;
      }
    }
  }
}

/**
 * The second step of the filter gradient of `g`: the partials added in group order, then `Gᵀ S G`, into
 * `dw [k, c, 3, 3]`, for the output channels `claim` hands out.
 */
export function winogradFilterFinish(
  partials: Float64Array,
  g: ConvGeometry,
  dw: Float32Array,
  claim: Claim = sequential(),
): void {
  const cut = filterGradientGroups(g);
  if (!cut) throw new RangeError(`winograd: no Winograd filter gradient for ${JSON.stringify(g)}`);
  const { c, k } = g;
  const kBlocks = Math.ceil(k / MR), cBlocks = Math.ceil(c / NR), plane = kBlocks * cBlocks * MR * NR;
  const S = new Float64Array(16);
  for (let o = claim(); o < k; o = claim()) {
    for (let i = 0; i < c; i++) {
      const at = (Math.floor(o / MR) * cBlocks + Math.floor(i / NR)) * MR * NR + (o % MR) * NR + i % NR;
      for (let xi = 0; xi < 16; xi++) {
        let sum = 0;
        for (let group = 0; group < cut.groups; group++) sum += partials[group * cut.partialSize + xi * plane + at];
        S[xi] = sum;
      }
      // Gᵀ S: rows S0 + ½(S1 + S2), ½(S1 − S2), ½(S1 + S2) + S3 of four; then each row times G.
      const out = (o * c + i) * 9;
      for (let col = 0; col < 4; col++) {
        const s0 = S[col], s1 = S[4 + col], s2 = S[8 + col], s3 = S[12 + col];
        S[col] = s0 + (s1 + s2) * 0.5, S[4 + col] = (s1 - s2) * 0.5, S[8 + col] = (s1 + s2) * 0.5 + s3;
      }
      for (let row = 0; row < 3; row++) {
        const r0 = S[4 * row], r1 = S[4 * row + 1], r2 = S[4 * row + 2], r3 = S[4 * row + 3];
        dw[out + 3 * row] = r0 + (r1 + r2) * 0.5;
        dw[out + 3 * row + 1] = (r1 - r2) * 0.5;
        dw[out + 3 * row + 2] = (r1 + r2) * 0.5 + r3;
      }
    }
  }
}
