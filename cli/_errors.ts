/**
 * How the command-line recipes end on an error: one line that names the input and the fix, exit status 1.
 * Programming errors (TypeError, ReferenceError, …) also print their stack, as does any error with AT_DEBUG=1.
 *
 * @module
 */

/** Errors that signal a bug rather than bad input. */
const BUG_ERRORS = new Set(["TypeError", "ReferenceError", "SyntaxError", "EvalError"]);

/** Prints `error: …` (with causes) to standard error and exits with status 1. */
export function exitWithError(e: unknown): never {
  const err = e instanceof Error ? e : new Error(String(e));
  let message = `error: ${err.message}`;
  for (let c = err.cause; c instanceof Error; c = c.cause) message += `\n  caused by: ${c.message}`;
  console.error(message);
  const debug = Deno.permissions.querySync({ name: "env", variable: "AT_DEBUG" }).state === "granted" &&
    Boolean(Deno.env.get("AT_DEBUG"));
  if (debug || BUG_ERRORS.has(err.name)) console.error(err.stack);
  Deno.exit(1);
}
