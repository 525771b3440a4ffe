/**
 * 2-D convolution and its two gradients on typed arrays, as direct convolutions over a zero-padded copy of
 * one image at a time (no im2col matrix).
 *
 * Meaning: `y[n,k,oy,ox] = Σ_{c,ky,kx} w[k,c,ky,kx] · x[n,c,oy·stride−pad+ky, ox·stride−pad+kx]`, zero
 * outside the image. Each output element is one sum accumulated in double precision and rounded to
 * float32 once, its terms always in the same order, whichever thread computes it and however the work
 * is cut: each kernel computes the units of work it claims (see `_partition.ts`), and gives bit-identical
 * results whichever thread claims which unit.
 *
 * These are the definitions; the backend runs 3×3 stride-1 convolutions with enough channels through
 * `winograd.ts` instead: the same sums up to double-precision rounding, with fewer multiplications.
 *
 * The inner loops are 4×4 register tiles: 4 output channels × 4 output pixels (forward and input
 * gradient), 4 output channels × 4 filter taps (filter gradient). A pixel tile reads its inputs through
 * a table of tap offsets into the padded image, so strides, padding and filter sizes all run the same
 * loop; the input gradient is the same loop over `dy`, once per stride phase.
 *
 * @module
 */
import type { ConvGeometry } from "../backend.ts";
import { padImage } from "./_pad.ts";
import { type Claim, sequential } from "./_partition.ts";
import { scratchF32, scratchF64, scratchI32, Slot } from "./_scratch.ts";

/** Output channels per register tile. */
const MR = 4;
/** Pixels (forward, input gradient) or filter taps (filter gradient) per register tile. */
const NR = 4;

/**
 * The register-tile loop of the forward pass and the input gradient, for output channels
 * `[4 ob, 4 ob + 4) ∩ [0, outChannels)` and every pixel lane:
 * `out[outOffset + o·outPlane + target[p]] = Σ_j packed[(ob·taps + j)·4 + o%4] · src[base[p] + offset[j]]`.
 * `lanes` is a multiple of 4 (the last pixel repeats to fill a tile; it is stored twice, equal).
 */
function pixelTiles(
  src: Float32Array,
  offset: Int32Array,
  taps: number,
  packed: Float32Array,
  ob: number,
  outChannels: number,
  base: Int32Array,
  target: Int32Array,
  lanes: number,
  out: Float32Array,
  outOffset: number,
  outPlane: number,
): void {
  const rows = Math.min(MR, outChannels - ob * MR);
  const o0 = outOffset + ob * MR * outPlane, o1 = o0 + outPlane, o2 = o1 + outPlane, o3 = o2 + outPlane;
  const first = ob * taps * MR;
  for (let p = 0; p < lanes; p += NR) {
    const b0 = base[p], b1 = base[p + 1], b2 = base[p + 2], b3 = base[p + 3];
    let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
    let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
    let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
    let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
    for (let j = 0, a = first; j < taps; j++, a += MR) {
      const d = offset[j];
      const x0 = src[b0 + d], x1 = src[b1 + d], x2 = src[b2 + d], x3 = src[b3 + d];
      const w0 = packed[a], w1 = packed[a + 1], w2 = packed[a + 2], w3 = packed[a + 3];
      c00 += w0 * x0, c01 += w0 * x1, c02 += w0 * x2, c03 += w0 * x3;
      c10 += w1 * x0, c11 += w1 * x1, c12 += w1 * x2, c13 += w1 * x3;
      c20 += w2 * x0, c21 += w2 * x1, c22 += w2 * x2, c23 += w2 * x3;
      c30 += w3 * x0, c31 += w3 * x1, c32 += w3 * x2, c33 += w3 * x3;
    }
    const t0 = target[p], t1 = target[p + 1], t2 = target[p + 2], t3 = target[p + 3];
    out[o0 + t0] = c00, out[o0 + t1] = c01, out[o0 + t2] = c02, out[o0 + t3] = c03;
    if (rows > 1) out[o1 + t0] = c10, out[o1 + t1] = c11, out[o1 + t2] = c12, out[o1 + t3] = c13;
    if (rows > 2) out[o2 + t0] = c20, out[o2 + t1] = c21, out[o2 + t2] = c22, out[o2 + t3] = c23;
    if (rows > 3) out[o3 + t0] = c30, out[o3 + t1] = c31, out[o3 + t2] = c32, out[o3 + t3] = c33;
  }
}

/** Offsets of the taps `(c, ky, kx)`, in that order, into a padded image `[channels, hp, wp]`. */
function tapOffsets(channels: number, r: number, s: number, hp: number, wp: number): Int32Array {
  const offset = scratchI32(Slot.offsets, channels * r * s);
  for (let ch = 0, j = 0; ch < channels; ch++) {
    for (let ky = 0; ky < r; ky++) for (let kx = 0; kx < s; kx++) offset[j++] = (ch * hp + ky) * wp + kx;
  }
  return offset;
}

/** Images at least this many: a unit of work is a whole image (padded once), else one channel block of one. */
const WHOLE_IMAGES = 16;

/**
 * `y [n,k,oh,ow] = conv(x [n,c,h,w], w [k,c,r,s])`; computes the units `claim` hands out (images, or image ×
 * block of 4 output channels for small batches).
 */
export function conv2d(
  x: Float32Array,
  w: Float32Array,
  g: ConvGeometry,
  y: Float32Array,
  claim: Claim = sequential(),
): void {
  const { n, c, h, k, r, s, stride, pad, oh, ow } = g;
  const hp = h + 2 * pad, wp = g.w + 2 * pad;
  const taps = c * r * s, plane = oh * ow, kBlocks = Math.ceil(k / MR);
  const perUnit = n >= WHOLE_IMAGES ? kBlocks : 1, items = plane === 0 ? 0 : n * kBlocks;
  if (items === 0) return;
  const offset = tapOffsets(c, r, s, hp, wp);
  // w [k][taps] repacked [kBlock][taps][MR], zero past k.
  const packed = scratchF32(Slot.packed, kBlocks * taps * MR);
  for (let o = 0; o < kBlocks * MR; o++) {
    const block = Math.floor(o / MR) * taps * MR + o % MR;
    for (let j = 0; j < taps; j++) packed[block + j * MR] = o < k ? w[o * taps + j] : 0;
  }
  const lanes = Math.ceil(plane / NR) * NR;
  const base = scratchI32(Slot.bases, lanes), target = scratchI32(Slot.targets, lanes);
  for (let p = 0; p < lanes; p++) {
    const q = Math.min(p, plane - 1);
    base[p] = Math.floor(q / ow) * stride * wp + (q % ow) * stride;
    target[p] = q;
  }
  const src = scratchF32(Slot.padded, c * hp * wp);
  let image = -1;
  for (let u = claim(); u * perUnit < items; u = claim()) {
    for (let item = u * perUnit; item < Math.min(items, (u + 1) * perUnit); item++) {
      const b = Math.floor(item / kBlocks);
      if (b !== image) {
        padImage(x, b * c * h * g.w, c, h, g.w, src, hp, wp, pad, pad);
        image = b;
      }
      pixelTiles(src, offset, taps, packed, item % kBlocks, k, base, target, lanes, y, b * k * plane, plane);
    }
  }
}

/**
 * `dx [n,c,h,w]` from `dy [n,k,oh,ow]` and `w [k,c,r,s]`; computes the units `claim` hands out (images, or
 * image × block of 4 input channels for small batches).
 *
 * `dx[c, iy, ix] = Σ w[k,c,ky,kx] · dy[k, oy, ox]` over the taps with `oy·stride − pad + ky = iy` (and the
 * same across). Pixels whose `(iy + pad) mod stride` and `(ix + pad) mod stride` agree (a phase) use the
 * same taps, `ky = phase + j·stride`, reading `dy` at `oy = ⌊(iy + pad) / stride⌋ − j`: a direct convolution
 * of a padded `dy` per phase. Stride 1 has one phase: the flipped filter.
 */
export function conv2dBackwardInput(
  dy: Float32Array,
  w: Float32Array,
  g: ConvGeometry,
  dx: Float32Array,
  claim: Claim = sequential(),
): void {
  const { n, c, h, k, r, s, stride, pad, oh, ow } = g;
  const width = g.w, plane = h * width, cBlocks = Math.ceil(c / MR);
  const perUnit = n >= WHOLE_IMAGES ? cBlocks : 1, items = plane === 0 ? 0 : n * cBlocks;
  if (items === 0) return;
  // dy padded with `top` rows above (j up to top) and enough below for the largest ⌊(iy + pad) / stride⌋.
  const top = Math.floor((r - 1) / stride), left = Math.floor((s - 1) / stride);
  const hp = Math.max(oh, Math.floor((h - 1 + pad) / stride) + 1) + top;
  const wp = Math.max(ow, Math.floor((width - 1 + pad) / stride) + 1) + left;
  const phases = backwardInputPhases(w, g, hp, wp, top, left);
  const src = scratchF32(Slot.padded, k * hp * wp);
  let image = -1;
  for (let u = claim(); u * perUnit < items; u = claim()) {
    for (let item = u * perUnit; item < Math.min(items, (u + 1) * perUnit); item++) {
      const b = Math.floor(item / cBlocks);
      if (b !== image) {
        padImage(dy, b * k * oh * ow, k, oh, ow, src, hp, wp, top, left);
        image = b;
      }
      for (const ph of phases) {
        const { taps, offset, packed, base, target, lanes } = ph;
        pixelTiles(src, offset, taps, packed, item % cBlocks, c, base, target, lanes, dx, b * c * plane, plane);
      }
    }
  }
}

interface Phase {
  readonly taps: number;
  readonly offset: Int32Array;
  readonly packed: Float32Array;
  readonly lanes: number;
  readonly base: Int32Array;
  readonly target: Int32Array;
}

/** The tap tables, repacked filters and pixel lanes of each stride phase of the input gradient. */
function backwardInputPhases(
  w: Float32Array,
  g: ConvGeometry,
  hp: number,
  wp: number,
  top: number,
  left: number,
): Phase[] {
  const { c, h, k, r, s, stride, pad } = g;
  const width = g.w, cBlocks = Math.ceil(c / MR);
  const phases: Phase[] = [];
  for (let ry = 0; ry < stride; ry++) {
    for (let rx = 0; rx < stride; rx++) {
      const rows = Math.max(0, Math.ceil((r - ry) / stride)), cols = Math.max(0, Math.ceil((s - rx) / stride));
      const taps = k * rows * cols;
      // Tap (kk, j, l) is filter element (ky, kx) = (ry + j·stride, rx + l·stride), read at dy[kk, uy − j, ux − l].
      const offset = new Int32Array(taps);
      const packed = new Float32Array(cBlocks * taps * MR);
      for (let kk = 0, t = 0; kk < k; kk++) {
        for (let j = 0; j < rows; j++) {
          for (let l = 0; l < cols; l++, t++) {
            offset[t] = kk * hp * wp - j * wp - l;
            const ky = ry + j * stride, kx = rx + l * stride;
            for (let ch = 0; ch < c; ch++) {
              packed[(Math.floor(ch / MR) * taps + t) * MR + ch % MR] = w[((kk * c + ch) * r + ky) * s + kx];
            }
          }
        }
      }
      // Pixels of the phase: (iy + pad) mod stride = ry, (ix + pad) mod stride = rx.
      const iy0 = ((ry - pad) % stride + stride) % stride, ix0 = ((rx - pad) % stride + stride) % stride;
      const ny = Math.max(0, Math.ceil((h - iy0) / stride)), nx = Math.max(0, Math.ceil((width - ix0) / stride));
      const pixels = ny * nx;
      if (pixels === 0) continue;
      const lanes = Math.ceil(pixels / NR) * NR;
      const base = new Int32Array(lanes), target = new Int32Array(lanes);
      for (let p = 0; p < lanes; p++) {
        const q = Math.min(p, pixels - 1);
        const iy = iy0 + Math.floor(q / nx) * stride, ix = ix0 + (q % nx) * stride;
        base[p] = (Math.floor((iy + pad) / stride) + top) * wp + Math.floor((ix + pad) / stride) + left;
        target[p] = iy * width + ix;
      }
      phases.push({ taps, offset, packed, lanes, base, target });
    }
  }
  return phases;
}

/** The filter gradient is cut into at most this many units (ranges of filter taps). */
const FILTER_UNITS = 32;

/**
 * `dw [k,c,r,s]` from `x [n,c,h,w]` and `dy [n,k,oh,ow]`, summed over the batch; computes the units `claim`
 * hands out (ranges of 4-tap blocks, all output channels). Each 4×4 tile of `dw` sums image by image, pixels
 * in order within an image, in double precision, and is rounded to float32 once at the end.
 */
export function conv2dBackwardFilter(
  x: Float32Array,
  dy: Float32Array,
  g: ConvGeometry,
  dw: Float32Array,
  claim: Claim = sequential(),
): void {
  const { n, c, h, k, r, s, stride, pad, oh, ow } = g;
  const hp = h + 2 * pad, wp = g.w + 2 * pad;
  const taps = c * r * s, plane = oh * ow, rs = r * s;
  const kBlocks = Math.ceil(k / MR), tBlocks = Math.ceil(taps / NR);
  const perUnit = Math.ceil(tBlocks / FILTER_UNITS), units = Math.ceil(tBlocks / perUnit);
  if (kBlocks === 0 || tBlocks === 0) return;
  const offset = tapOffsets(c, r, s, hp, wp);
  for (let u = claim(); u < units; u = claim()) {
    const tb0 = u * perUnit, tb1 = Math.min(tBlocks, tb0 + perUnit);
    // Only the channels of this unit's taps are padded; offsets are relative to the first of them.
    const ch0 = Math.floor(tb0 * NR / rs), ch1 = Math.floor((Math.min(tb1 * NR, taps) - 1) / rs) + 1;
    const shift = ch0 * hp * wp;
    const src = scratchF32(Slot.padded, (ch1 - ch0) * hp * wp);
    const sums = scratchF64(Slot.sums, kBlocks * (tb1 - tb0) * MR * NR);
    sums.fill(0);
    for (let b = 0; b < n && plane > 0; b++) {
      padImage(x, (b * c + ch0) * h * g.w, ch1 - ch0, h, g.w, src, hp, wp, pad, pad);
      const dyImage = b * k * plane;
      for (let kb = 0, a = 0; kb < kBlocks; kb++) {
        const k0 = kb * MR;
        // Rows past k and taps past `taps` repeat the last one; their sums are not stored.
        const r0 = dyImage + k0 * plane, r1 = dyImage + Math.min(k0 + 1, k - 1) * plane;
        const r2 = dyImage + Math.min(k0 + 2, k - 1) * plane, r3 = dyImage + Math.min(k0 + 3, k - 1) * plane;
        for (let tb = tb0; tb < tb1; tb++, a += MR * NR) {
          const t0 = tb * NR;
          const f0 = offset[t0] - shift, f1 = offset[Math.min(t0 + 1, taps - 1)] - shift;
          const f2 = offset[Math.min(t0 + 2, taps - 1)] - shift, f3 = offset[Math.min(t0 + 3, taps - 1)] - shift;
          let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
          let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
          let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
          let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
          for (let oy = 0; oy < oh; oy++) {
            for (let p = oy * ow, end = p + ow, i = oy * stride * wp; p < end; p++, i += stride) {
              const d0 = dy[r0 + p], d1 = dy[r1 + p], d2 = dy[r2 + p], d3 = dy[r3 + p];
              const x0 = src[f0 + i], x1 = src[f1 + i], x2 = src[f2 + i], x3 = src[f3 + i];
              c00 += d0 * x0, c01 += d0 * x1, c02 += d0 * x2, c03 += d0 * x3;
              c10 += d1 * x0, c11 += d1 * x1, c12 += d1 * x2, c13 += d1 * x3;
              c20 += d2 * x0, c21 += d2 * x1, c22 += d2 * x2, c23 += d2 * x3;
              c30 += d3 * x0, c31 += d3 * x1, c32 += d3 * x2, c33 += d3 * x3;
            }
          }
          sums[a] += c00, sums[a + 1] += c01, sums[a + 2] += c02, sums[a + 3] += c03;
          sums[a + 4] += c10, sums[a + 5] += c11, sums[a + 6] += c12, sums[a + 7] += c13;
          sums[a + 8] += c20, sums[a + 9] += c21, sums[a + 10] += c22, sums[a + 11] += c23;
          sums[a + 12] += c30, sums[a + 13] += c31, sums[a + 14] += c32, sums[a + 15] += c33;
        }
      }
    }
    for (let kb = 0, a = 0; kb < kBlocks; kb++) {
      for (let tb = tb0; tb < tb1; tb++, a += MR * NR) {
        for (let i = 0; i < MR && kb * MR + i < k; i++) {
          for (let j = 0; j < NR && tb * NR + j < taps; j++) {
            dw[(kb * MR + i) * taps + tb * NR + j] = sums[a + i * NR + j];
          }
        }
      }
    }
  }
}
