/**
 * The divergence guard: a run stops, and says where, as soon as a loss or a tensor it would save stops being
 * finite; a file of non-finite weights is never written, and never read as a teacher or a resume point.
 *
 * @module
 */
import type { TensorRecord } from "../nn/params.ts";

/** Raised when training stops being finite; the last good checkpoint is left as it was. */
export class DivergedError extends Error {
  override name = "DivergedError";
}

/** A tensor of a record that holds NaN or ±Infinity. */
export interface NonFinite {
  readonly name: string;
  /** The first non-finite value found in it. */
  readonly value: number;
}

/** The tensors of `record` holding a NaN or an infinity, in name order (reads every tensor back). */
export async function nonFiniteTensors(record: TensorRecord): Promise<NonFinite[]> {
  const names = Object.keys(record).sort();
  const contents = await Promise.all(names.map((n) => record[n].data()));
  const found: NonFinite[] = [];
  names.forEach((name, i) => {
    const bad = contents[i].find((v) => !Number.isFinite(v));
    if (bad !== undefined) found.push({ name, value: bad });
  });
  return found;
}

/** `tensor group0.block0.conv0 holds NaN (and 36 more tensors are not finite)`. */
export function describeNonFinite(found: readonly NonFinite[], total: number): string {
  const [first] = found;
  const more = found.length > 1 ? ` (and ${found.length - 1} more of the ${total} tensors are not finite)` : "";
  return `tensor ${first.name} holds ${first.value}${more}`;
}

/**
 * Throws an error naming `what`, the first non-finite tensor and `fix` when `record` (as read from a file) is
 * not finite throughout.
 */
export async function checkFinite(what: string, record: TensorRecord, fix: string): Promise<void> {
  const found = await nonFiniteTensors(record);
  if (found.length) {
    throw new Error(`${what}: ${describeNonFinite(found, Object.keys(record).length)}; ${fix}`);
  }
}
