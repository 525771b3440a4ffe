/**
 * From attention maps to a figure: the input and one overlay panel per group for each network, with the colour
 * scale, captions and AT losses.
 *
 * @module
 */
import type { AttentionMap } from "./attention.ts";
import type { ColormapName } from "./colormap.ts";
import type { Figure, Panel } from "./figure.ts";
import { resizeImage, type RgbImage } from "./image.ts";
import { overlay, upsampleMap, valueRange } from "./overlay.ts";

/** One network's maps of the image. */
export interface MapRow {
  /** The row's header line (network, prediction). */
  readonly header: string;
  /** One map per group. */
  readonly maps: readonly AttentionMap[];
  /** Per group, the AT loss against the reference row, printed under the panel. */
  readonly atLosses?: readonly number[];
}

/** Options of {@linkcode attentionFigure}. */
export interface AttentionFigureOptions {
  /** Side of every panel in pixels; default 128. */
  readonly panelSize?: number;
  /** Weight of the colours over the gray image, in [0, 1]; default 0.6. */
  readonly opacity?: number;
  /** Default `"inferno"`. */
  readonly colormap?: ColormapName;
  /**
   * `false` (default): each panel spans the colour map from its own smallest to its largest value, as `imshow`.
   * `true`: the panels of one group share one scale across rows, so rows compare in absolute terms (meant for
   * normalised maps, which the AT loss compares).
   */
  readonly shareScale?: boolean;
}

/**
 * The figure of one image: for every row, the input and each group's map upsampled bilinearly to the panel, coloured
 * and laid over the image in gray. Captions give the group and its map size, and the AT loss where the row has one.
 *
 * @example
 * ```ts
 * const figure = attentionFigure("digit 7", image, [{ header: "WRN-16-1", maps }], { panelSize: 96 });
 * const png = await svgToPng(figureSvg(figure));
 * ```
 */
export function attentionFigure(
  title: string,
  input: RgbImage,
  rows: readonly MapRow[],
  options: AttentionFigureOptions = {},
): Figure {
  const { panelSize = 128, opacity = 0.6, colormap = "inferno", shareScale = false } = options;
  if (!Number.isInteger(panelSize) || panelSize < 8 || panelSize > 2048) {
    throw new RangeError(`attentionFigure: panelSize must be an integer in [8, 2048], got ${panelSize}`);
  }
  const base = resizeImage(input, panelSize, panelSize);
  const planes = rows.map((row) => row.maps.map((m) => upsampleMap(m, panelSize, panelSize)));
  const groups = Math.max(...rows.map((row) => row.maps.length));
  const shared = Array.from(
    { length: groups },
    (_, g) => valueRange(planes.flatMap((p) => g < p.length ? [p[g]] : [])),
  );
  return {
    title,
    rows: rows.map((row, r) => {
      const panels: Panel[] = [{ image: base, caption: [`input ${input.width}×${input.height}`] }];
      row.maps.forEach((map, g) => {
        const plane = planes[r][g];
        const caption = [`group ${g + 1} · ${map.height}×${map.width}`];
        const loss = row.atLosses?.[g];
        if (loss !== undefined) caption.push(`AT loss ${formatLoss(loss)}`);
        const range = shareScale ? shared[g] : valueRange([plane]);
        panels.push({ image: overlay(base, plane, { range, opacity, colormap }), caption });
      });
      return { header: row.header, panels };
    }),
  };
}

/**
 * A loss as printed on a panel: three significant digits, in exponent form below 0.01 (AT losses are often ~1e-4).
 *
 * @example
 * ```ts
 * formatLoss(0.000123456); // "1.23e-4"
 * ```
 */
export function formatLoss(v: number): string {
  return v !== 0 && Math.abs(v) < 0.01 ? v.toExponential(2) : v.toPrecision(3);
}
