/**
 * Independent generator streams keyed by integers, so a batch's randomness is a pure function of
 * (seed, epoch, batch) and never depends on what was drawn before it.
 *
 * @module
 */
import { Rng } from "../rng.ts";

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A generator whose 128-bit state is a hash of `seed` (any safe integer) and the integer `keys`; different key
 * lists give unrelated streams.
 */
export function keyedRng(seed: number, ...keys: number[]): Rng {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`keyedRng: seed must be a safe integer, got ${seed}`);
  const words = [seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0, keys.length];
  for (const k of keys) {
    if (!Number.isSafeInteger(k)) throw new RangeError(`keyedRng: keys must be safe integers, got ${k}`);
    words.push(k >>> 0, Math.floor(k / 2 ** 32) >>> 0);
  }
  const state: number[] = [0, 1, 2, 3].map((lane) => {
    let h = fmix32(Math.imul(lane + 1, 0x9e3779b9));
    for (const w of words) h = fmix32((Math.imul(h ^ w, 0xcc9e2d51) + 0xe6546b64) >>> 0);
    return h;
  });
  if (!state.some((w) => w !== 0)) state[0] = 1;
  return Rng.fromState(state);
}
