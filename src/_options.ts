/**
 * Checking the options objects of the public functions: an unknown key or a bad value is an error that names
 * the function, the option and what would be right, never ignored or replaced by a default. A leaf module
 * (it imports nothing), so every layer may use it.
 *
 * @module
 */

/** What one option must be. */
export interface OptionRule {
  /** The accepted values in words, for the error: `"a finite number > 0"`, `'one of "reference", "paper"'`. */
  readonly expected: string;
  /** Whether a given value (anything but `undefined`) is accepted. */
  readonly test: (value: unknown) => boolean;
  /** The option must be given (`undefined` is refused). Default: it may be left out and its default applies. */
  readonly required?: boolean;
}

/** A value as an error message shows it: strings quoted, objects by kind. */
export function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null || typeof value !== "object") return typeof value === "function" ? "a function" : String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return `an object (${value.constructor?.name ?? "no prototype"})`;
}

/**
 * A checker for the options of `fn`: it throws a `TypeError` for an options argument that is not an object,
 * for an unknown key (naming the accepted ones) and for a missing required option, and a `RangeError` for a
 * value its rule refuses. Build it once per function at module level; a call costs one pass over the given keys.
 *
 * @example
 * ```ts
 * const check = optionsChecker<{ mode?: string }>("atLoss", { mode: oneOf("reference", "paper") });
 * check({ mode: "referense" }); // RangeError: atLoss: option mode must be one of "reference", "paper", got "referense"
 * ```
 */
export function optionsChecker<T extends object>(
  fn: string,
  typedRules: { readonly [K in keyof T]-?: OptionRule },
): (options: unknown) => void {
  // Typed by the options interface, so a key added there and forgotten here does not compile.
  const rules = typedRules as Readonly<Record<string, OptionRule>>;
  const keys = Object.keys(rules);
  const required = keys.filter((k) => rules[k].required);
  const accepted = keys.length ? keys.join(", ") : "none";
  return (options) => {
    if (options === undefined && !required.length) return;
    if (options === null || typeof options !== "object" || Array.isArray(options)) {
      throw new TypeError(
        `${fn}: options must be an object (accepted keys: ${accepted}), got ${describeValue(options)}`,
      );
    }
    const given = options as Readonly<Record<string, unknown>>;
    for (const key of Object.keys(given)) {
      const rule = Object.hasOwn(rules, key) ? rules[key] : undefined;
      if (!rule) throw new TypeError(`${fn}: unknown option ${JSON.stringify(key)} (accepted: ${accepted})`);
      const value = given[key];
      if (value !== undefined && !rule.test(value)) {
        throw new RangeError(`${fn}: option ${key} must be ${rule.expected}, got ${describeValue(value)}`);
      }
    }
    for (const key of required) {
      if (given[key] === undefined) throw new TypeError(`${fn}: option ${key} is missing (${rules[key].expected})`);
    }
  };
}

/** One of the listed values. */
export function oneOf(...values: readonly unknown[]): OptionRule {
  return { expected: `one of ${values.map(describeValue).join(", ")}`, test: (v) => values.includes(v) };
}

/** `true` or `false`. */
export const BOOLEAN: OptionRule = { expected: "true or false", test: (v) => typeof v === "boolean" };

/** Bounds of {@linkcode numberRule}. */
export interface NumberBounds {
  /** Smallest accepted value. */
  readonly min?: number;
  /** Every accepted value is larger than this. */
  readonly above?: number;
  /** Largest accepted value. */
  readonly max?: number;
  /** Only integers. */
  readonly integer?: boolean;
}

/** A finite number (an integer with `integer`) within the bounds. */
export function numberRule({ min, above, max, integer = false }: NumberBounds = {}): OptionRule {
  const bounds = [
    min !== undefined && max !== undefined ? `in [${min}, ${max}]` : "",
    min !== undefined && max === undefined ? `≥ ${min}` : "",
    above !== undefined ? `> ${above}` : "",
    max !== undefined && min === undefined ? `≤ ${max}` : "",
  ].filter(Boolean);
  return {
    expected: [integer ? "an integer" : "a finite number", ...bounds].join(" "),
    test: (v) =>
      typeof v === "number" && (integer ? Number.isSafeInteger(v) : Number.isFinite(v)) &&
      (min === undefined || v >= min) && (above === undefined || v > above) && (max === undefined || v <= max),
  };
}

/** The same rule, but the option must be given. */
export function required(rule: OptionRule): OptionRule {
  return { ...rule, required: true };
}
