/**
 * A list of strings as UTF-8 bytes in shared memory, so every worker reads a million file names without a copy
 * (a structured clone of the array would copy it into each).
 *
 * @module
 */
import { sharedBytes } from "./dataset.ts";

/** The strings' UTF-8 bytes end to end, and where each ends: string `i` is `bytes[ends[i - 1] … ends[i])`. */
export interface PackedStrings {
  readonly bytes: Uint8Array;
  readonly ends: Int32Array;
}

/** `strings` packed into shared memory (plain memory where shared memory is unavailable). */
export function packStrings(strings: readonly string[]): PackedStrings {
  const encoder = new TextEncoder();
  const encoded = strings.map((s) => encoder.encode(s));
  const total = encoded.reduce((sum, e) => sum + e.length, 0);
  if (total > 2 ** 31 - 1) throw new RangeError(`packStrings: ${total} bytes of strings is more than 2 GiB`);
  const bytes = sharedBytes(total);
  const ends = new Int32Array(sharedBytes(4 * strings.length).buffer);
  let at = 0;
  encoded.forEach((e, i) => {
    bytes.set(e, at);
    at += e.length;
    ends[i] = at;
  });
  return { bytes, ends };
}

const decoder = new TextDecoder();

/** String `i` of `packed`. */
export function unpackString(packed: PackedStrings, i: number): string {
  if (!Number.isInteger(i) || i < 0 || i >= packed.ends.length) {
    throw new RangeError(`unpackString: index ${i} is outside [0, ${packed.ends.length})`);
  }
  const start = i === 0 ? 0 : packed.ends[i - 1];
  // A copy: TextDecoder refuses views of shared memory.
  return decoder.decode(packed.bytes.slice(start, packed.ends[i]));
}
