/**
 * One self-contained HTML page of attention figures: every image's rows of panels, pictures embedded as PNG data
 * URLs, so the file can be mailed or opened anywhere without the folder beside it.
 *
 * @module
 */
import type { Figure } from "./figure.ts";
import { encodeRgbPng } from "./image.ts";

/** Options of {@linkcode figuresPage}. */
export interface FiguresPageOptions {
  /** The page's heading and `<title>`. */
  readonly title: string;
  /** Lines printed under the heading (what was run, on what). */
  readonly notes?: readonly string[];
}

const escapeHtml = (text: string) =>
  text.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&#39;" })[c]!);

const STYLE = `
body { font-family: "DejaVu Sans", system-ui, sans-serif; margin: 24px; color: #222; background: #fff; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin: 28px 0 4px; } h3 { font-size: 13px; margin: 12px 0 4px; color: #444; }
p.note { margin: 2px 0; color: #555; font-size: 13px; }
.row { display: flex; flex-wrap: wrap; gap: 10px; }
figure.panel { margin: 0; }
figure.panel img { display: block; image-rendering: pixelated; }
figcaption { font-size: 11px; color: #333; white-space: pre-line; }
`;

/**
 * The HTML page of `figures`: one section per figure (its title), one block per row (its header), one `<figure>` per
 * panel with its caption. Each panel is `<figure class="panel" data-row="r" data-column="c">`, column 0 the input.
 *
 * @example
 * ```ts
 * await Deno.writeTextFile("out/attention.html", figuresPage(figures, { title: "Attention maps" }));
 * ```
 */
export function figuresPage(figures: readonly Figure[], options: FiguresPageOptions): string {
  const out = [
    "<!doctype html>",
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${escapeHtml(options.title)}</title>`,
    `<style>${STYLE}</style></head><body>`,
    `<h1>${escapeHtml(options.title)}</h1>`,
    ...(options.notes ?? []).map((n) => `<p class="note">${escapeHtml(n)}</p>`),
  ];
  for (const figure of figures) {
    out.push(`<section><h2>${escapeHtml(figure.title)}</h2>`);
    figure.rows.forEach((row, r) => {
      out.push(`<h3>${escapeHtml(row.header)}</h3>`, '<div class="row">');
      row.panels.forEach((panel, c) => {
        const { width, height } = panel.image;
        const src = `data:image/png;base64,${encodeRgbPng(panel.image).toBase64()}`;
        out.push(
          `<figure class="panel" data-row="${r}" data-column="${c}"><img width="${width}" height="${height}" alt="${
            escapeHtml(panel.caption.join(", "))
          }" src="${src}"><figcaption>${escapeHtml(panel.caption.join("\n"))}</figcaption></figure>`,
        );
      });
      out.push("</div>");
    });
    out.push("</section>");
  }
  out.push("</body></html>", "");
  return out.join("\n");
}
