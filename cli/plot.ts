/**
 * Learning curves of runs side by side: train and test accuracy and loss against epoch, read from each run's
 * `log.txt` (either recipe; ImageNet's top-1), one chart per measure with a legend of run names, as SVG and PNG.
 *
 *   deno run -A cli/plot.ts --out plots logs/teacher logs/at logs/kd
 *
 * @module
 */
import { parseArgs } from "node:util";
import { readJsonStats } from "../src/train/log.ts";
import { curvePoints, curveSvg, MEASURES, type RunLog } from "../src/viz/chart.ts";
import { svgToPng } from "../src/viz/render.ts";
import { exitWithError } from "./_errors.ts";
import { parseFlags } from "./_flags.ts";

const USAGE = `usage: deno run -A cli/plot.ts --out DIR RUN…

  RUN   a run folder (its log.txt is read) or a log.txt; each run is one line, named after its folder
  --out where train_acc, test_acc, train_loss and test_loss go, each as .svg and .png`;

/** What {@linkcode plot} draws. */
export interface PlotOptions {
  readonly out: string;
  /** Run folders or `log.txt` files. */
  readonly runs: readonly string[];
}

/**
 * Parses the command line of `cli/plot.ts`; `undefined` for `--help`.
 *
 * @example
 * ```ts
 * const options = parsePlotArgs(["--out", "plots", "logs/a", "logs/b"]);
 * ```
 */
export function parsePlotArgs(args: readonly string[]): PlotOptions | undefined {
  const { values, positionals } = parseFlags(() =>
    parseArgs({
      args: [...args],
      options: { out: { type: "string" }, help: { type: "boolean" } },
      allowPositionals: true,
      strict: true,
    })
  );
  if (values.help) return undefined;
  if (!values.out) throw new RangeError("--out is required: the folder the charts go to");
  if (!positionals.length) throw new RangeError("name at least one run folder (or its log.txt) to plot");
  return { out: values.out.replace(/(.)\/+$/, "$1"), runs: positionals };
}

/** A run's records; errors name the file and say what is wrong with it. */
async function readRun(run: string): Promise<{ path: string; records: Record<string, unknown>[] }> {
  let path = run.replace(/(.)\/+$/, "$1");
  const hint = "name a run folder (the --save of a training run) or its log.txt";
  try {
    if ((await Deno.stat(path)).isDirectory) path = `${path}/log.txt`;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`${run}: no such folder or file; ${hint}`);
    throw e;
  }
  let records: Record<string, unknown>[];
  try {
    records = await readJsonStats(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`${run}: ${path} not found; ${hint}`);
    throw new Error(`${run}: ${(e as Error).message}`);
  }
  if (!records.length) {
    throw new Error(`${path} has no json_stats line: did the run finish an epoch? (each epoch appends one)`);
  }
  return { path, records };
}

/** Legend names: each run's folder name, or the whole path where two folders share a name. */
function runNames(paths: readonly string[]): string[] {
  const folder = (p: string) => {
    const parts = p.split("/");
    return (parts.at(-1) === "log.txt" ? parts.at(-2) : parts.at(-1)) || p;
  };
  const names = paths.map(folder);
  return names.map((n, i) => (names.indexOf(n) !== names.lastIndexOf(n) ? paths[i] : n));
}

/**
 * Draws `<out>/<measure>.svg` and `.png` for every measure some run logged; prints and returns the files written.
 *
 * @example
 * ```ts
 * await plot({ out: "plots", runs: ["logs/student", "logs/at"] });
 * ```
 */
export async function plot(o: PlotOptions, print: (line: string) => void = console.log): Promise<string[]> {
  const read = [];
  for (const run of o.runs) read.push(await readRun(run));
  const names = runNames(o.runs.map((r) => r.replace(/(.)\/+$/, "$1")));
  const runs: RunLog[] = read.map((r, i) => ({ name: names[i], records: r.records }));
  await Deno.mkdir(o.out, { recursive: true });
  const files: string[] = [];
  for (const measure of MEASURES) {
    const { points } = curvePoints(runs, measure);
    if (!points.length) {
      print(`note: no run logged ${measure.key}; no chart for it`);
      continue;
    }
    const svg = await curveSvg(runs, measure);
    const base = `${o.out}/${measure.key}`;
    await Deno.writeTextFile(`${base}.svg`, svg);
    await Deno.writeFile(`${base}.png`, await svgToPng(svg, { scale: 2 }));
    files.push(`${base}.svg`, `${base}.png`);
  }
  if (!files.length) throw new Error(`none of ${o.runs.join(", ")} logged accuracy or loss`);
  print(`wrote ${files.join(", ")}`);
  return files;
}

if (import.meta.main) {
  try {
    const options = parsePlotArgs(Deno.args);
    if (!options) {
      console.log(USAGE);
      Deno.exit(0);
    }
    await plot(options);
  } catch (e) {
    exitWithError(e);
  }
}
