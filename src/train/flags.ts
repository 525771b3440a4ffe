/**
 * Command-line flags of the recipes as one table per recipe (kind, default, help line), and what every recipe
 * does with its table: parse (each bad value one error naming the flag), `--help`, defaults, checking the
 * options a checkpoint stored, and resuming (which flags may change). The recipes' tables live beside them.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { parseBackendRequest } from "../backends/registry.ts";

/** How a flag's text becomes a value. */
export type FlagKind = "int" | "float" | "string" | "bool";

/** One flag: its kind, default and help line. */
export interface FlagSpec {
  readonly kind: FlagKind;
  readonly default: unknown;
  readonly help: string;
  /**
   * The flag came after runs were already saved: options stored without it (an older `checkpoint.json`) read as
   * its default instead of being refused as damaged.
   */
  readonly addedLater?: boolean;
}

/** A recipe's flags, in the help's order. */
export type FlagTable<T> = Readonly<Record<keyof T & string, FlagSpec>>;

/** The parsed command line: the options, and which flags were given explicitly. */
export interface ParsedFlags<T> {
  readonly options: T;
  readonly given: ReadonlySet<keyof T & string>;
  readonly help: boolean;
  /** Arguments that are not flags (only where the table's parser allows them). */
  readonly positionals: readonly string[];
}

/** The defaults of every flag. */
export function flagDefaults<T>(table: FlagTable<T>): T {
  return Object.fromEntries(Object.entries<FlagSpec>(table).map(([k, f]) => [k, f.default])) as T;
}

/** The `--help` text: usage, what the command does (`about` lines), then every flag with its default. */
export function flagHelp<T>(table: FlagTable<T>, command: string, about: readonly string[]): string {
  const lines = Object.entries<FlagSpec>(table).map(([k, f]) => {
    const flag = f.kind === "bool" ? `--${k}` : `--${k} ${JSON.stringify(f.default)}`;
    return `  ${flag.padEnd(28)} ${f.help}`;
  });
  return [`usage: ${command} [options]`, "", ...about, "", ...lines, `  ${"--help".padEnd(28)} this text`].join("\n");
}

function convert(name: string, kind: FlagKind, raw: string): unknown {
  if (kind === "string") return raw;
  const v = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(v)) {
    throw new RangeError(`--${name}: expected a number, got ${JSON.stringify(raw)}`);
  }
  if (kind === "int" && !Number.isInteger(v)) {
    throw new RangeError(`--${name}: expected an integer, got ${JSON.stringify(raw)}`);
  }
  return v;
}

/**
 * Parses `args` (as `Deno.args`) against `table`. Throws one `RangeError` naming the flag for an unknown flag or
 * a bad value. A `backend` flag is checked against the backends this package ships.
 *
 * @example
 * ```ts
 * const { options, given } = parseFlagTable(CIFAR_FLAGS, ["--depth", "16", "--width", "2"]);
 * ```
 */
export function parseFlagTable<T>(table: FlagTable<T>, args: readonly string[]): ParsedFlags<T> {
  const spec: Record<string, { type: "string" | "boolean" }> = { help: { type: "boolean" } };
  for (const [k, f] of Object.entries<FlagSpec>(table)) spec[k] = { type: f.kind === "bool" ? "boolean" : "string" };
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...args], options: spec, strict: true, allowPositionals: false }) as typeof parsed;
  } catch (e) {
    const message = e instanceof Error ? e.message.replace(/\. To specify.*$/s, "") : String(e);
    throw new RangeError(`${message}; run with --help to list the flags`);
  }
  const options = flagDefaults(table) as Record<string, unknown>;
  const given = new Set<keyof T & string>();
  for (const [k, f] of Object.entries<FlagSpec>(table)) {
    const raw = parsed.values[k];
    if (raw === undefined) continue;
    given.add(k as keyof T & string);
    options[k] = typeof raw === "boolean" ? raw : convert(k, f.kind, raw);
  }
  if (given.has("backend" as keyof T & string)) {
    options.backend = parseBackendRequest(String(options.backend), "--backend");
  }
  return { options: options as T, given, help: parsed.values.help === true, positionals: parsed.positionals };
}

/**
 * Checks the options a checkpoint stored (`what` names the file): every flag present with a value of its kind.
 * A damaged or foreign file is refused here instead of being blamed on a flag the user never passed.
 */
export function checkSavedFlags<T>(table: FlagTable<T>, what: string, saved: unknown): T {
  const record = saved !== null && typeof saved === "object" ? { ...saved } as Record<string, unknown> : undefined;
  for (const [k, f] of Object.entries<FlagSpec>(table)) {
    if (f.addedLater && record && !Object.hasOwn(record, k)) record[k] = f.default;
  }
  const wrong = Object.entries<FlagSpec>(table).filter(([k, f]) => {
    const v = record?.[k];
    return f.kind === "bool"
      ? typeof v !== "boolean"
      : f.kind === "string"
      ? typeof v !== "string"
      : typeof v !== "number";
  }).map(([k]) => k);
  if (wrong.length) {
    throw new Error(
      `${what}: the stored options lack or mistype ${wrong.join(", ")}: the file is damaged or not written by this ` +
        "version; restore it from a copy, or start a new run",
    );
  }
  return record as T;
}

/** Parses `--epoch_step` (a JSON list of positive integers). */
export function parseEpochStep(text: string): number[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new RangeError(`--epoch_step: expected a JSON list such as [60,120,160], got ${JSON.stringify(text)}`);
  }
  if (!Array.isArray(v) || !v.every((s) => Number.isInteger(s) && s > 0)) {
    throw new RangeError(`--epoch_step: expected a JSON list of positive integers, got ${JSON.stringify(text)}`);
  }
  return v as number[];
}

/** Throws `--flag: why`, the one form every option error takes. */
export function badFlag(flag: string, why: string): never {
  throw new RangeError(`--${flag}: ${why}`);
}

/** The flags every training recipe has, with the reference's names. */
export interface TrainingFlags {
  batch_size: number;
  epochs: number;
  lr: number;
  weight_decay: number;
  epoch_step: string;
  lr_decay_ratio: number;
  temperature: number;
  alpha: number;
  beta: number;
  ngpu: number;
}

/**
 * Checks the flags every recipe shares: sizes, the schedule, the loss weights, and that KD and AT have a teacher
 * (`teacherFlag` names the flag that gives one, `hasTeacher` whether it was given).
 */
export function validateTrainingFlags(o: TrainingFlags, teacherFlag: string, hasTeacher: boolean): void {
  if (o.ngpu !== 1) badFlag("ngpu", `training on ${o.ngpu} GPUs is not supported yet; use --ngpu 1`);
  if (!(o.batch_size >= 1)) badFlag("batch_size", `must be at least 1, got ${o.batch_size}`);
  if (!(o.epochs >= 1)) badFlag("epochs", `must be at least 1, got ${o.epochs}`);
  if (!(o.lr > 0)) badFlag("lr", `must be positive, got ${o.lr}`);
  if (!(o.weight_decay >= 0)) badFlag("weight_decay", `must be non-negative, got ${o.weight_decay}`);
  if (!(o.lr_decay_ratio > 0)) badFlag("lr_decay_ratio", `must be positive, got ${o.lr_decay_ratio}`);
  if (!(o.temperature > 0)) badFlag("temperature", `must be positive, got ${o.temperature}`);
  if (!(o.alpha >= 0 && o.alpha <= 1)) badFlag("alpha", `must be in [0, 1], got ${o.alpha}`);
  if (!(o.beta >= 0)) badFlag("beta", `must be non-negative, got ${o.beta}`);
  if (!hasTeacher && o.alpha > 0) badFlag("alpha", `knowledge distillation needs a teacher: add --${teacherFlag}`);
  if (!hasTeacher && o.beta > 0) badFlag("beta", `attention transfer needs a teacher: add --${teacherFlag}`);
  parseEpochStep(o.epoch_step);
}
