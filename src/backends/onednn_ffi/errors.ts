/**
 * The errors of the onednn backend: it cannot start ({@linkcode OnednnUnavailableError}), or a oneDNN call
 * failed ({@linkcode OnednnError}).
 *
 * @module
 */

/**
 * Thrown by `create()` when the onednn backend cannot start; the message names the first missing piece and
 * what to do about it.
 *
 * @example
 * ```ts
 * try {
 *   await create();
 * } catch (e) {
 *   if (e instanceof OnednnUnavailableError) console.log(e.reason); // e.g. "libdnnl.so.2 (oneDNN 2.x) was not found; …"
 * }
 * ```
 */
export class OnednnUnavailableError extends Error {
  /** The reason alone, without the "cannot start the onednn backend" prefix. */
  readonly reason: string;
  /** An error with `reason`, prefixed "cannot start the onednn backend: ". */
  constructor(reason: string, options?: ErrorOptions) {
    super(`cannot start the onednn backend: ${reason}`, options);
    this.name = "OnednnUnavailableError";
    this.reason = reason;
  }
}

/**
 * A failing oneDNN call: names the C function, its status, and what it was asked to do (the backend's
 * operation and its shapes).
 *
 * @example
 * ```ts
 * const e = new OnednnError("dnnl_primitive_desc_create", 3, "dnnl_unimplemented", "conv2d forward x [1, 3, 8, 8]");
 * console.log(e.message); // "conv2d forward x [1, 3, 8, 8]: dnnl_primitive_desc_create failed: dnnl_unimplemented (3)"
 * ```
 */
export class OnednnError extends Error {
  /** The C function that failed, e.g. `"dnnl_primitive_desc_create"`. */
  readonly call: string;
  /** Its `dnnl_status_t`. */
  readonly status: number;
  /** The status' name, e.g. `"dnnl_unimplemented"`. */
  readonly statusName: string;
  /** The operation and shapes it was for (empty when the call belongs to no operation). */
  readonly context: string;
  /** The error of `call` returning `status` (named `statusName`), for the operation `context`, with `detail`. */
  constructor(call: string, status: number, statusName: string, context = "", detail = "", options?: ErrorOptions) {
    super(
      `${context ? `${context}: ` : ""}${call} failed: ${statusName} (${status})${detail ? ` (${detail})` : ""}`,
      options,
    );
    this.name = "OnednnError";
    this.call = call;
    this.status = status;
    this.statusName = statusName;
    this.context = context;
  }
}
