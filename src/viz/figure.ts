/**
 * The attention figure of one image: a title, then one row per network (a header line, the input and one panel per
 * group, each with caption lines under it), laid out on a grid and written as SVG with the panels embedded as PNG.
 *
 * @module
 */
import { encodeRgbPng, type RgbImage } from "./image.ts";
import { FONT_FAMILY } from "./render.ts";

/** One picture of the grid and the lines printed under it. */
export interface Panel {
  readonly image: RgbImage;
  readonly caption: readonly string[];
}

/** One network's row: its header line, then its panels (by convention the input, then one per group). */
export interface FigureRow {
  readonly header: string;
  readonly panels: readonly Panel[];
}

/** A whole figure. Every panel of a figure has the same size. */
export interface Figure {
  readonly title: string;
  readonly rows: readonly FigureRow[];
}

/** Spacing of a figure, in pixels. */
export const FIGURE_STYLE = Object.freeze({
  /** Around the whole figure. */
  margin: 12,
  /** Between panels of a row. */
  gap: 10,
  /** The title line. */
  titleHeight: 24,
  /** A row's header line. */
  headerHeight: 20,
  /** One caption line. */
  lineHeight: 14,
  /** Between rows. */
  rowGap: 10,
  titleSize: 14,
  headerSize: 12,
  captionSize: 11,
});

/** Where one panel lies in the figure. */
export interface PanelBox {
  readonly row: number;
  readonly column: number;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** A figure's size and the place of every panel, its header and its captions. */
export interface FigureLayout {
  readonly width: number;
  readonly height: number;
  readonly panels: readonly PanelBox[];
  /** Baseline of each row's header. */
  readonly headers: readonly { readonly x: number; readonly y: number }[];
  /** Caption lines under every panel (the most any panel of the figure has). */
  readonly captionLines: number;
}

/** A generous estimate of the width of a line of DejaVu Sans, so no text is clipped. */
const textWidth = (text: string, size: number, bold = false) => text.length * size * (bold ? 0.68 : 0.62);

/**
 * Lays a figure out: `margin`, the title, then for each row its header, its panels side by side `gap` apart and the
 * caption lines, rows `rowGap` apart. The width is that of the widest row, or of the longest title or header.
 *
 * @example
 * ```ts
 * const { width, height, panels } = figureLayout(figure);
 * ```
 */
export function figureLayout(figure: Figure): FigureLayout {
  const s = FIGURE_STYLE;
  const first = figure.rows[0]?.panels[0]?.image;
  if (!first) throw new RangeError("figureLayout: a figure needs at least one row with one panel");
  const size = { width: first.width, height: first.height };
  let captionLines = 0;
  for (const [r, row] of figure.rows.entries()) {
    for (const [c, p] of row.panels.entries()) {
      if (p.image.width !== size.width || p.image.height !== size.height) {
        throw new RangeError(
          `figureLayout: panel ${c + 1} of row ${
            r + 1
          } is ${p.image.width}×${p.image.height}; every panel must be ${size.width}×${size.height}`,
        );
      }
      captionLines = Math.max(captionLines, p.caption.length);
    }
  }
  const columns = Math.max(...figure.rows.map((row) => row.panels.length));
  const gridWidth = columns * size.width + (columns - 1) * s.gap;
  // Wide enough for the grid and every line of text (a caption may run past its panel to the right).
  const needed = [
    gridWidth,
    textWidth(figure.title, s.titleSize, true),
    ...figure.rows.map((row) => textWidth(row.header, s.headerSize, true)),
    ...figure.rows.flatMap((row) =>
      row.panels.flatMap((p, c) => p.caption.map((line) => c * (size.width + s.gap) + textWidth(line, s.captionSize)))
    ),
  ];
  const width = Math.ceil(2 * s.margin + Math.max(...needed));
  const rowHeight = s.headerHeight + size.height + captionLines * s.lineHeight;
  const panels: PanelBox[] = [];
  const headers: { x: number; y: number }[] = [];
  figure.rows.forEach((row, r) => {
    const top = s.margin + s.titleHeight + r * (rowHeight + s.rowGap);
    headers.push({ x: s.margin, y: top + s.headerHeight - 6 });
    row.panels.forEach((_, c) => {
      panels.push({
        row: r,
        column: c,
        x: s.margin + c * (size.width + s.gap),
        y: top + s.headerHeight,
        width: size.width,
        height: size.height,
      });
    });
  });
  const height = 2 * s.margin + s.titleHeight + figure.rows.length * rowHeight + (figure.rows.length - 1) * s.rowGap;
  return { width, height, panels, headers, captionLines };
}

const escapeXml = (text: string) =>
  text.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);

/**
 * The figure as an SVG document on a white background, every panel a PNG drawn pixel for pixel
 * (`image-rendering="optimizeSpeed"`), text in {@linkcode FONT_FAMILY}. Render it with `svgToPng`.
 *
 * @example
 * ```ts
 * const png = await svgToPng(figureSvg(figure));
 * ```
 */
export function figureSvg(figure: Figure): string {
  const s = FIGURE_STYLE;
  const layout = figureLayout(figure);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${layout.height}" font-family="${FONT_FAMILY}">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${s.margin}" y="${s.margin + s.titleSize}" font-size="${s.titleSize}" font-weight="bold">${
      escapeXml(figure.title)
    }</text>`,
  ];
  figure.rows.forEach((row, r) => {
    const h = layout.headers[r];
    parts.push(
      `<text x="${h.x}" y="${h.y}" font-size="${s.headerSize}" font-weight="bold" fill="#333333">${
        escapeXml(row.header)
      }</text>`,
    );
  });
  for (const box of layout.panels) {
    const panel = figure.rows[box.row].panels[box.column];
    const href = `data:image/png;base64,${encodeRgbPng(panel.image).toBase64()}`;
    parts.push(
      `<image x="${box.x}" y="${box.y}" width="${box.width}" height="${box.height}" image-rendering="optimizeSpeed" href="${href}"/>`,
    );
    panel.caption.forEach((line, i) => {
      parts.push(
        `<text x="${box.x}" y="${
          box.y + box.height + (i + 1) * s.lineHeight - 2
        }" font-size="${s.captionSize}" fill="#333333">${escapeXml(line)}</text>`,
      );
    });
  }
  parts.push("</svg>");
  return parts.join("\n");
}
