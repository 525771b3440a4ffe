/**
 * Perceptually uniform colour maps (matplotlib's, from `npm:d3-scale-chromatic`) as lookup tables.
 *
 * @module
 */
import {
  interpolateCividis,
  interpolateInferno,
  interpolateMagma,
  interpolatePlasma,
  interpolateViridis,
} from "d3-scale-chromatic";

const INTERPOLATORS = {
  inferno: interpolateInferno,
  viridis: interpolateViridis,
  magma: interpolateMagma,
  plasma: interpolatePlasma,
  cividis: interpolateCividis,
} as const satisfies Record<string, (t: number) => string>;

/** The colour maps by name: dark (low attention) to bright (high). */
export type ColormapName = keyof typeof INTERPOLATORS;

/** The colour map names, for argument checking. */
export const COLORMAP_NAMES: readonly ColormapName[] = Object.freeze(
  Object.keys(INTERPOLATORS) as ColormapName[],
);

/** The number of entries of a table: one per 8-bit level. */
export const COLORMAP_LEVELS = 256;

const tables = new Map<ColormapName, Uint8Array>();

/**
 * The colour map `name` as `[256, 3]` RGB bytes: entry `i` is the colour of `i / 255`. Throws a `RangeError` naming
 * the known maps for another name.
 *
 * @example
 * ```ts
 * const lut = colormapTable("inferno");
 * const hot = lut.subarray(255 * 3, 256 * 3); // the colour of the largest value
 * ```
 */
export function colormapTable(name: ColormapName): Uint8Array {
  const cached = tables.get(name);
  if (cached) return cached;
  const interpolate = Object.hasOwn(INTERPOLATORS, name) ? INTERPOLATORS[name] : undefined;
  if (!interpolate) {
    throw new RangeError(`colormap: unknown colour map ${JSON.stringify(name)}; expected one of ${COLORMAP_NAMES}`);
  }
  const table = new Uint8Array(COLORMAP_LEVELS * 3);
  for (let i = 0; i < COLORMAP_LEVELS; i++) table.set(parseColor(interpolate(i / (COLORMAP_LEVELS - 1))), i * 3);
  tables.set(name, table);
  return table;
}

/** `#rrggbb` or `rgb(r, g, b)`, as d3 writes colours. */
function parseColor(css: string): number[] {
  const hex = /^#([0-9a-f]{6})$/i.exec(css);
  if (hex) return [0, 2, 4].map((i) => parseInt(hex[1].slice(i, i + 2), 16));
  const rgb = /^rgb\((\d+),\s*(\d+),\s*(\d+)\)$/.exec(css);
  if (rgb) return rgb.slice(1, 4).map(Number);
  throw new Error(`colormap: cannot read the colour ${JSON.stringify(css)}`);
}
