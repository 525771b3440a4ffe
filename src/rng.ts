/**
 * A seeded, serialisable pseudo-random generator (xoshiro128**), shared by parameter initialisation,
 * data shuffling and augmentation, so a run is reproducible and a resumed run continues the same stream.
 *
 * @module
 */

/** The generator's whole state: four unsigned 32-bit words. Store it in a checkpoint to resume. */
export type RngState = [number, number, number, number];

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * xoshiro128**: fast, 2^128 − 1 period, good statistical quality for simulation (not for cryptography).
 *
 * @example
 * ```ts
 * const rng = new Rng(42);
 * const u = rng.uniform(); // [0, 1)
 * const saved = rng.state; // restore later with Rng.fromState(saved)
 * ```
 */
export class Rng {
  #s: Uint32Array;

  /** A generator seeded from one integer (any integer; equal seeds give equal streams). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`Rng: seed must be an integer, got ${seed}`);
    const next = splitmix32(seed ^ Math.floor(seed / 2 ** 32));
    this.#s = Uint32Array.of(next(), next(), next(), next());
    if (this.#s.every((w) => w === 0)) this.#s[0] = 1;
  }

  /** A generator that continues from a saved {@linkcode Rng.state}. */
  static fromState(state: readonly number[]): Rng {
    const ok = state.length === 4 && state.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32) &&
      state.some((w) => w !== 0);
    if (!ok) {
      throw new RangeError(
        `Rng.fromState: expected four unsigned 32-bit words, not all zero; got ${JSON.stringify(state)}`,
      );
    }
    const r = new Rng(0);
    r.#s = Uint32Array.from(state);
    return r;
  }

  /** A copy of the whole state: a generator made from it continues exactly where this one is. */
  get state(): RngState {
    return [this.#s[0], this.#s[1], this.#s[2], this.#s[3]];
  }

  /** The next unsigned 32-bit integer. */
  nextUint32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 random bits. */
  uniform(): number {
    return this.nextUint32() / 2 ** 32;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32) {
      throw new RangeError(`Rng.int: n must be in [1, 2^32], got ${n}`);
    }
    // Rejection sampling removes the modulo bias.
    const limit = 2 ** 32 - (2 ** 32 % n);
    let x: number;
    do x = this.nextUint32(); while (x >= limit);
    return x % n;
  }

  /** Standard normal deviate (Box–Muller; one per two uniforms, so the state alone says where the stream is). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** A uniformly random permutation of `0 … n-1` (Fisher–Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
