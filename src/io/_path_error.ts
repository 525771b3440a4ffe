/**
 * File-system errors that name the file: Deno's messages often do not ("No space left on device (os error 28)").
 *
 * @module
 */

const DENO_ERRORS: ReadonlySet<unknown> = new Set(Object.values(Deno.errors));

/**
 * `error` with a message that starts `op: cannot <action> <path>: ` and keeps the original as `cause`. A Deno
 * file-system error keeps its class and `code`, so `instanceof Deno.errors.NotFound` holds for callers as before.
 */
export function pathError(op: string, action: string, path: string, error: unknown): Error {
  const why = error instanceof Error ? error.message : String(error);
  const message = `${op}: cannot ${action} ${path}: ${why}`;
  const Class = error instanceof Error && DENO_ERRORS.has(error.constructor)
    ? error.constructor as ErrorConstructor
    : Error;
  const wrapped = new Class(message, { cause: error });
  if (error instanceof Error) {
    wrapped.name = error.name;
    const code = (error as { code?: unknown }).code;
    if (code !== undefined) Object.assign(wrapped, { code });
  }
  return wrapped;
}
