/**
 * Whether `useBackend("auto")` takes a software adapter. A software adapter (llvmpipe, lavapipe) runs
 * the WGSL kernels on the same CPU cores the cpu backend uses, so it is taken only when a measurement on
 * this machine says it trains faster, or when the user says so:
 *
 * - `AT_WEBGPU_SOFTWARE=1` takes it, `AT_WEBGPU_SOFTWARE=0` passes it over;
 * - otherwise the measurement recorded by `deno bench -A bench/webgpu_step_bench.ts` (images per second of
 *   the AT training step on both backends, per adapter and core count) decides;
 * - without one, it is passed over, with a message that says how to measure.
 *
 * Measurements live in `$XDG_CACHE_HOME/at-core/webgpu_software.json` (default `~/.cache/…`); without
 * read permission there, none is found.
 *
 * @module
 */
import type { AdapterReport } from "./_adapter.ts";

/** The environment variable that overrides the measurement: `1` takes a software adapter, `0` does not. */
export const SOFTWARE_ENV = "AT_WEBGPU_SOFTWARE";

/** One measurement of the AT training step on a software adapter against the cpu backend. */
export interface SoftwareMeasurement {
  /** Which adapter on which machine: see {@linkcode machineKey}. */
  readonly machine: string;
  readonly batch: number;
  readonly cpuImagesPerSecond: number;
  readonly webgpuImagesPerSecond: number;
  /** ISO date of the measurement. */
  readonly measured: string;
}

/** The decision for `auto`. */
export interface AutoDecision {
  readonly take: boolean;
  /** Why, in words (the error message when declined). */
  readonly reason: string;
}

function envGranted(name: string): string | undefined {
  if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") return undefined;
  return Deno.env.get(name) || undefined;
}

/** The measurement file, or undefined when its location cannot be read from the environment. */
export function measurementPath(): string | undefined {
  const cache = envGranted("XDG_CACHE_HOME") ?? (envGranted("HOME") ? `${envGranted("HOME")}/.cache` : undefined);
  return cache ? `${cache}/at-core/webgpu_software.json` : undefined;
}

/** The machine a measurement belongs to: adapter, vendor and logical core count. */
export function machineKey(report: AdapterReport): string {
  return `${report.description} | ${report.vendor} | ${navigator.hardwareConcurrency} cores`;
}

function readMeasurements(path: string): SoftwareMeasurement[] {
  if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return [];
  try {
    const parsed = JSON.parse(Deno.readTextFileSync(path));
    return Array.isArray(parsed) ? parsed as SoftwareMeasurement[] : [];
  } catch {
    return [];
  }
}

/** The latest measurement for this adapter on this machine, if one was recorded. */
export function findMeasurement(report: AdapterReport): SoftwareMeasurement | undefined {
  const path = measurementPath();
  if (!path) return undefined;
  return readMeasurements(path).filter((m) => m.machine === machineKey(report)).at(-1);
}

/** Records a measurement (replacing an older one for the same machine); returns the file written. */
export function recordMeasurement(report: AdapterReport, m: Omit<SoftwareMeasurement, "machine" | "measured">): string {
  const path = measurementPath();
  if (!path) throw new Error("webgpu: no cache directory to record the measurement in (set XDG_CACHE_HOME or HOME)");
  const machine = machineKey(report);
  const all = readMeasurements(path).filter((r) => r.machine !== machine);
  all.push({ machine, ...m, measured: new Date().toISOString() });
  Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  const temporary = `${path}.${Deno.pid}.tmp`;
  Deno.writeTextFileSync(temporary, JSON.stringify(all, null, 1));
  Deno.renameSync(temporary, path);
  return path;
}

/** Whether `auto` takes this adapter, and why. Hardware adapters are always taken. */
export function autoDecision(report: AdapterReport): AutoDecision {
  if (!report.software) return { take: true, reason: `hardware adapter ${report.description}` };
  const what = `software adapter ${report.description} (${report.vendor}${
    report.fallback ? ", isFallbackAdapter" : ""
  })`;
  const override = envGranted(SOFTWARE_ENV);
  if (override === "1") return { take: true, reason: `${what}, taken because ${SOFTWARE_ENV}=1` };
  if (override === "0") return { take: false, reason: `${what}, passed over because ${SOFTWARE_ENV}=0` };
  const m = findMeasurement(report);
  if (m) {
    const rates = `AT step at batch ${m.batch}: webgpu ${m.webgpuImagesPerSecond.toFixed(1)} images/s, cpu ${
      m.cpuImagesPerSecond.toFixed(1)
    } images/s, measured ${m.measured.slice(0, 10)}`;
    return m.webgpuImagesPerSecond > m.cpuImagesPerSecond
      ? { take: true, reason: `${what}, faster than the cpu backend on this machine (${rates})` }
      : {
        take: false,
        reason: `${what}; the cpu backend is faster on this machine (${rates}); ${SOFTWARE_ENV}=1 overrides`,
      };
  }
  return {
    take: false,
    reason: `${what}; the cpu backend is preferred unless a measurement on this machine says otherwise ` +
      `(run \`deno bench -A bench/webgpu_step_bench.ts\` to measure, or set ${SOFTWARE_ENV}=1)`,
  };
}
