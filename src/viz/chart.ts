/**
 * Learning curves from `json_stats` records: one line chart per measure (a Vega-Lite spec, rendered to SVG by Vega),
 * one line per run.
 *
 * @module
 */
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { FONT_FAMILY } from "./render.ts";

/** One run's `json_stats` records, in epoch order, under the name its line carries in the legend. */
export interface RunLog {
  readonly name: string;
  readonly records: readonly Record<string, unknown>[];
}

/** A measure plotted against epoch. */
export interface Measure {
  /** The `json_stats` field. */
  readonly key: "train_acc" | "test_acc" | "train_loss" | "test_loss";
  /** The chart's title. */
  readonly title: string;
  /** The y axis title. */
  readonly axis: string;
}

/** Accuracy and loss of both phases, as both recipes log them. */
export const MEASURES: readonly Measure[] = Object.freeze([
  { key: "train_acc", title: "train accuracy", axis: "accuracy (%)" },
  { key: "test_acc", title: "test accuracy", axis: "accuracy (%)" },
  { key: "train_loss", title: "train loss", axis: "loss" },
  { key: "test_loss", title: "test loss", axis: "loss" },
]);

/** One point of a curve. */
export interface CurvePoint {
  readonly run: string;
  readonly epoch: number;
  readonly value: number;
}

/**
 * The points of `measure` for every run. A record's `epoch` is its x (its position from 1 when absent). A value that
 * is a list is the ImageNet recipe's `[top-1, top-5]`: its first entry is taken and `topOne` is set. Records without
 * a finite value are skipped.
 *
 * @example
 * ```ts
 * const { points } = curvePoints([{ name: "at", records }], MEASURES[1]);
 * ```
 */
export function curvePoints(runs: readonly RunLog[], measure: Measure): { points: CurvePoint[]; topOne: boolean } {
  const points: CurvePoint[] = [];
  let topOne = false;
  for (const run of runs) {
    run.records.forEach((record, i) => {
      let value = record[measure.key];
      if (Array.isArray(value)) {
        value = value[0];
        topOne = true;
      }
      const epoch = typeof record.epoch === "number" && Number.isFinite(record.epoch) ? record.epoch : i + 1;
      if (typeof value === "number" && Number.isFinite(value)) points.push({ run: run.name, epoch, value });
    });
  }
  return { points, topOne };
}

/**
 * The Vega-Lite spec of one measure's chart: lines with points, epoch on x (whole numbers), one colour per run in the
 * order given, a legend of run names.
 *
 * @example
 * ```ts
 * const spec = curveSpec(runs, MEASURES[1]);
 * ```
 */
export function curveSpec(runs: readonly RunLog[], measure: Measure): TopLevelSpec {
  const { points, topOne } = curvePoints(runs, measure);
  const title = topOne && measure.key.endsWith("_acc") ? `${measure.title} (top-1)` : measure.title;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    width: 480,
    height: 280,
    background: "white",
    data: { values: points as unknown as Record<string, unknown>[] },
    mark: { type: "line", point: true, strokeWidth: 2 },
    encoding: {
      x: { field: "epoch", type: "quantitative", title: "epoch", axis: { format: "d", tickMinStep: 1 } },
      y: { field: "value", type: "quantitative", title: measure.axis, scale: { zero: false } },
      color: { field: "run", type: "nominal", title: "run", sort: runs.map((r) => r.name) },
    },
    config: { font: FONT_FAMILY },
  };
}

/**
 * One measure's chart as an SVG document.
 *
 * @example
 * ```ts
 * await Deno.writeTextFile("plots/test_acc.svg", await curveSvg(runs, MEASURES[1]));
 * ```
 */
export async function curveSvg(runs: readonly RunLog[], measure: Measure): Promise<string> {
  const view = new vega.View(vega.parse(compile(curveSpec(runs, measure)).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
