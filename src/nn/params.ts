/**
 * Flat records of named tensors, as the reference code keeps them (`group1.block0.convdim`,
 * `bn.running_var`): splitting trainable parameters from running statistics, checking a loaded record
 * against a network's shapes, counting.
 *
 * @module
 */
import { fmtShape } from "../tensor/_shape.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** A flat record of named tensors. */
export type TensorRecord = Record<string, Tensor>;

/** Whether a name is a batch-norm running statistic (not trained by SGD). */
export function isRunningStat(name: string): boolean {
  return name.endsWith(".running_mean") || name.endsWith(".running_var");
}

/** Splits one record into trainable `params` and running `stats` by name. */
export function splitParams(all: TensorRecord): { params: TensorRecord; stats: TensorRecord } {
  // fromEntries defines own properties, so a name such as "__proto__" stays an entry.
  const entries = Object.entries(all);
  return {
    params: Object.fromEntries(entries.filter(([k]) => !isRunningStat(k))),
    stats: Object.fromEntries(entries.filter(([k]) => isRunningStat(k))),
  };
}

/** Number of scalars in a record (the reference's `n_parameters` counts trainable ones). */
export function countScalars(record: TensorRecord): number {
  return Object.values(record).reduce((n, t) => n + t.size, 0);
}

/**
 * Checks that `record` holds exactly the names and shapes in `expected`; throws one error listing what
 * is missing, unexpected or of the wrong shape.
 */
export function checkRecord(
  what: string,
  record: TensorRecord,
  expected: Readonly<Record<string, readonly number[]>>,
): void {
  const problems: string[] = [];
  for (const [name, shape] of Object.entries(expected)) {
    const t = Object.hasOwn(record, name) ? record[name] : undefined;
    if (!t) problems.push(`missing ${name}`);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      problems.push(`${name} has shape ${fmtShape(t.shape)}, expected ${fmtShape(shape)}`);
    }
  }
  for (const name of Object.keys(record)) if (!Object.hasOwn(expected, name)) problems.push(`unexpected ${name}`);
  if (problems.length) {
    const shown = problems.slice(0, 8).join("; ") + (problems.length > 8 ? `; and ${problems.length - 8} more` : "");
    throw new Error(`${what}: does not match the network: ${shown}`);
  }
}
