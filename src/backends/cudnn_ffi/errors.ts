/**
 * The error the cudnn backend throws when it cannot start.
 *
 * @module
 */

/**
 * Thrown by `create()` when the cudnn backend cannot start; the message names the first missing piece and
 * what to do about it.
 *
 * @example
 * ```ts
 * try {
 *   await create();
 * } catch (e) {
 *   if (e instanceof CudnnUnavailableError) console.log(e.reason); // e.g. "libcuda.so.1 (…) was not found, …"
 * }
 * ```
 */
export class CudnnUnavailableError extends Error {
  /** The reason alone, without the "cannot start the cudnn backend" prefix. */
  readonly reason: string;
  constructor(reason: string, options?: ErrorOptions) {
    super(`cannot start the cudnn backend: ${reason}`, options);
    this.name = "CudnnUnavailableError";
    this.reason = reason;
  }
}
