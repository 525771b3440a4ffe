/**
 * oneDNN's status codes, and the one `check(status, "dnnl_primitive_execute", context)` path that turns
 * every failing status into an {@linkcode OnednnError} naming the call, the status and the operation.
 *
 * @module
 */
import { OnednnError } from "./errors.ts";

/** `dnnl_status_t` names (dnnl_types.h, 2.x). */
export const DNNL_STATUS_NAMES: Readonly<Record<number, string>> = {
  0: "dnnl_success",
  1: "dnnl_out_of_memory",
  2: "dnnl_invalid_arguments",
  3: "dnnl_unimplemented",
  4: "dnnl_iterator_ends",
  5: "dnnl_runtime_error",
  6: "dnnl_not_required",
};

/** What each failing status means here, for the user. */
const HINTS: Readonly<Record<number, string>> = {
  1: "oneDNN could not allocate host memory",
  2: "oneDNN rejected the arguments",
  3: "oneDNN has no implementation for these shapes",
};

/** `check(status, call, context)`: returns when `status` is 0, else throws an {@linkcode OnednnError}. */
export type Check = (status: number, call: string, context?: string) => void;

/**
 * A `check` that names statuses with the library's own `dnnl_status2str` where given, else the table.
 *
 * @example
 * ```ts
 * const check = makeCheck();
 * check(0, "dnnl_stream_wait"); // returns
 * check(3, "dnnl_primitive_desc_create", "conv2d forward"); // throws "conv2d forward: dnnl_primitive_desc_create failed: dnnl_unimplemented (3) (oneDNN has no …)"
 * ```
 */
export function makeCheck(describe?: (status: number) => string | undefined): Check {
  return (status, call, context = "") => {
    if (status === 0) return;
    throw statusError(status, call, context, describe);
  };
}

/** The error for a failing `status` of `call`, as {@linkcode makeCheck} names it. */
export function statusError(
  status: number,
  call: string,
  context = "",
  describe?: (status: number) => string | undefined,
): OnednnError {
  let name: string | undefined;
  try {
    name = describe?.(status);
  } catch {
    // A describer that fails must not hide the status it was asked about.
  }
  name = name && !name.startsWith("unknown") ? `dnnl_${name.replace(/^dnnl_/, "")}` : DNNL_STATUS_NAMES[status];
  return new OnednnError(call, status, name ?? `dnnl_status_${status}`, context, HINTS[status] ?? "");
}
