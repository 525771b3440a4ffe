/**
 * Shared by the parity tests: where the PyTorch fixtures are, which backend to test, and how agreement
 * is measured (norm-relative error, as the fixtures' README prescribes).
 *
 * @module
 */
import { parseSafetensors, type StoredTensor } from "../src/io/safetensors.ts";
import { type Tensor, tensor } from "../src/tensor/tensor.ts";
import { useBackend } from "../src/tensor/device.ts";

/**
 * The fixture directory: `AT_FIXTURES` if set, else `../shared/fixtures` beside the repository when it
 * exists, else the copy in `tests/fixtures` (made by the same script, so a fresh clone tests the same).
 */
export function fixtureDir(): string {
  const env = Deno.env.get("AT_FIXTURES");
  if (env) return env;
  const shared = new URL("../../shared/fixtures/", import.meta.url);
  try {
    Deno.statSync(new URL("wrn_at_step.safetensors", shared));
    return shared.pathname;
  } catch {
    return new URL("./fixtures/", import.meta.url).pathname;
  }
}

/** Starts the backend named by `AT_BACKEND` (default cpu) for the parity tests. */
export async function parityBackend(): Promise<string> {
  const choice = await useBackend(Deno.env.get("AT_BACKEND") ?? "cpu");
  return choice.backend.name;
}

/** A fixture file's tensors by name, and its metadata. */
export interface Fixture {
  readonly get: (name: string) => StoredTensor;
  readonly has: (name: string) => boolean;
  readonly names: readonly string[];
  readonly metadata: Record<string, string>;
  /** The named float tensor uploaded to the current backend. */
  readonly tensor: (name: string) => Tensor;
  /** The named tensor's values as plain numbers (for labels and scalars). */
  readonly numbers: (name: string) => number[];
}

/** Reads one fixture file from `dir` (default {@linkcode fixtureDir}). */
export function loadFixture(file: string, dir: string = fixtureDir()): Fixture {
  const path = `${dir.replace(/\/$/, "")}/${file}`;
  const { tensors, metadata } = parseSafetensors(Deno.readFileSync(path), path);
  const get = (name: string) => {
    const t = tensors.get(name);
    if (!t) throw new Error(`${path}: no tensor ${name}`);
    return t;
  };
  return {
    get,
    has: (name) => tensors.has(name),
    names: [...tensors.keys()],
    metadata,
    tensor: (name) => {
      const t = get(name);
      return tensor(Float32Array.from(t.data), t.shape);
    },
    numbers: (name) => Array.from(get(name).data),
  };
}

/** Largest errors seen per quantity, for the note printed at the end of a parity run. */
export const measured: { name: string; error: number; tolerance: number }[] = [];

/** `‖out − ref‖ / ‖ref‖` (absolute error when `ref` is all zeros). */
export function relativeError(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) {
    num += (out[i] - ref[i]) ** 2;
    den += ref[i] ** 2;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/** Asserts that `out` matches the fixture tensor `ref` in shape and within `tolerance` relative error. */
export async function expectClose(
  name: string,
  out: Tensor,
  ref: StoredTensor,
  tolerance: number,
): Promise<void> {
  const refSize = ref.shape.reduce((p, d) => p * d, 1);
  if (out.size !== refSize) {
    throw new Error(`${name}: got shape [${out.shape}] but PyTorch's is [${ref.shape}]`);
  }
  const values = await out.data();
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new Error(`${name}: value ${i} is ${values[i]}`);
  }
  const error = relativeError(values, ref.data);
  measured.push({ name, error, tolerance });
  if (!(error <= tolerance)) {
    throw new Error(`${name}: relative error ${error.toExponential(2)} exceeds ${tolerance.toExponential(0)}`);
  }
}

/** The largest measured errors for each tolerance (single ops, whole network), worst first. */
export function errorReport(): string {
  const tolerances = [...new Set(measured.map((m) => m.tolerance))].sort((a, b) => a - b);
  return tolerances.map((tol) => {
    const worst = measured.filter((m) => m.tolerance === tol).sort((a, b) => b.error - a.error);
    const lines = worst.slice(0, 4).map((m) => `    ${m.error.toExponential(2)}  ${m.name}`);
    return `  tolerance ${tol.toExponential(0)} (${worst.length} quantities), largest:\n${lines.join("\n")}`;
  }).join("\n");
}
