/**
 * SVG to PNG with resvg (`npm:@resvg/resvg-wasm`), text set in DejaVu Sans from `npm:dejavu-fonts-ttf`, so pictures
 * come out the same on every machine, with no system font or native library.
 *
 * @module
 */
import { initWasm, Resvg } from "@resvg/resvg-wasm";

/** The font family every SVG drawn here names. */
export const FONT_FAMILY = "DejaVu Sans";
const FONT_FILES = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf"];

/** Options of {@linkcode svgToPng}. */
export interface SvgToPngOptions {
  /** Pixels per SVG unit; default 1. */
  readonly scale?: number;
  /** CSS colour behind the drawing; default transparent. */
  readonly background?: string;
}

let ready: Promise<Uint8Array[]> | undefined;

/** Starts resvg and reads the fonts, once per process. */
function start(): Promise<Uint8Array[]> {
  ready ??= (async () => {
    // The JSON import puts the font package into the module graph, so Deno installs it and it resolves to a file.
    await import("dejavu-fonts-ttf/package.json", { with: { type: "json" } });
    const files = [
      import.meta.resolve("@resvg/resvg-wasm/index_bg.wasm"),
      ...FONT_FILES.map((f) => import.meta.resolve(`dejavu-fonts-ttf/ttf/${f}`)),
    ];
    const [wasm, ...fonts] = await Promise.all(files.map(async (url) => {
      try {
        return await Deno.readFile(new URL(url));
      } catch (e) {
        throw new Error(`svgToPng: cannot read ${url} (${e instanceof Error ? e.message : e}); run with --allow-read`);
      }
    }));
    await initWasm(wasm);
    return fonts;
  })();
  ready.catch(() => ready = undefined);
  return ready;
}

/**
 * Renders an SVG document to PNG bytes. Text in {@linkcode FONT_FAMILY} (regular and bold) renders on any machine.
 *
 * @example
 * ```ts
 * const png = await svgToPng('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', { scale: 2 });
 * ```
 */
export async function svgToPng(svg: string, options: SvgToPngOptions = {}): Promise<Uint8Array> {
  const { scale = 1, background } = options;
  if (!(scale > 0 && scale <= 16)) throw new RangeError(`svgToPng: scale must be in (0, 16], got ${scale}`);
  const fonts = await start();
  const resvg = new Resvg(svg, {
    font: { fontBuffers: fonts, defaultFontFamily: FONT_FAMILY, sansSerifFamily: FONT_FAMILY },
    fitTo: scale === 1 ? { mode: "original" } : { mode: "zoom", value: scale },
    background,
  });
  try {
    const image = resvg.render();
    try {
      return image.asPng();
    } finally {
      image.free();
    }
  } finally {
    resvg.free();
  }
}
