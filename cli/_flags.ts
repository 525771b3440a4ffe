/**
 * Command-line flags: `node:util`'s `parseArgs` with its errors turned into bad-input errors.
 *
 * @module
 */

/**
 * Runs `parse` (a `parseArgs` call). Its errors for unknown flags or missing values are TypeErrors, which
 * `exitWithError` takes for bugs; they are bad input, so they come back as RangeErrors with the same message.
 *
 * @example
 * ```ts
 * const { values } = parseFlags(() => parseArgs({ args: Deno.args, options: { out: { type: "string" } } }));
 * ```
 */
export function parseFlags<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if ((e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) throw new RangeError((e as Error).message);
    throw e;
  }
}
