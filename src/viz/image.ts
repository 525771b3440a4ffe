/**
 * 8-bit RGB images on the host: decoding PNG (`npm:fast-png`) and JPEG (`npm:jpeg-js`) files, encoding PNG, and
 * the conversions a network input needs (centre crop, resize, planar layout).
 *
 * @module
 */
import { convertIndexedToRgb, decode as decodePng, type DecodedPng, encode as encodePng } from "fast-png";
import jpeg from "jpeg-js";
import { resample } from "./resize.ts";

/** An 8-bit RGB image: `data` is `[height, width, 3]`, row-major, channels interleaved (R, G, B). */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_SIGNATURE = [0xff, 0xd8, 0xff];
/** The largest image decoded (width × height): a 64-megapixel file is far past any input a network here takes. */
const MAX_PIXELS = 64 * 2 ** 20;

const startsWith = (bytes: Uint8Array, sig: readonly number[]) => sig.every((b, i) => bytes[i] === b);

/**
 * Decodes a PNG or JPEG file (told apart by their signatures, not the name) into RGB. Gray images are copied into
 * the three channels; an alpha channel is composited over white; 16-bit samples keep their high byte. Throws a
 * `RangeError` naming `name` when the bytes are neither format or the file is damaged.
 *
 * @example
 * ```ts
 * const img = decodeImage(await Deno.readFile("cat.png"), "cat.png"); // { width, height, data }
 * ```
 */
export function decodeImage(bytes: Uint8Array, name: string): RgbImage {
  if (startsWith(bytes, PNG_SIGNATURE)) return guard(name, "PNG", () => pngToRgb(decodePng(bytes)));
  if (startsWith(bytes, JPEG_SIGNATURE)) {
    return guard(name, "JPEG", () => {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_PIXELS / 2 ** 20 });
      return dropAlpha(img.width, img.height, img.data, 4);
    });
  }
  const head = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  throw new RangeError(
    `${name}: not a PNG or JPEG image (${bytes.length ? `it starts with bytes ${head}` : "the file is empty"})`,
  );
}

function guard(name: string, format: string, decode: () => RgbImage): RgbImage {
  let img: RgbImage;
  try {
    img = decode();
  } catch (e) {
    throw new RangeError(`${name}: damaged ${format} file (${e instanceof Error ? e.message : e})`);
  }
  if (!(img.width > 0 && img.height > 0) || img.width * img.height > MAX_PIXELS) {
    throw new RangeError(`${name}: a ${format} of ${img.width}×${img.height} pixels; expected 1 to ${MAX_PIXELS}`);
  }
  return img;
}

function pngToRgb(png: DecodedPng): RgbImage {
  const { width, height } = png;
  if (png.palette) {
    const rgb = convertIndexedToRgb(png);
    return dropAlpha(width, height, rgb, png.palette[0].length);
  }
  let samples: ArrayLike<number> = png.data;
  if (png.depth === 16) samples = Uint8Array.from(png.data as Uint16Array, (v) => v >> 8);
  else if (png.depth < 8) samples = unpackBits(png.data as Uint8Array, width * png.channels, height, png.depth);
  return dropAlpha(width, height, samples, png.channels);
}

/** Gray samples of 1, 2 or 4 bits packed in byte-aligned rows, as bytes scaled to 0–255. */
function unpackBits(packed: Uint8Array, perRow: number, rows: number, depth: number): Uint8Array {
  const out = new Uint8Array(perRow * rows);
  const rowBytes = Math.ceil((perRow * depth) / 8);
  const max = (1 << depth) - 1;
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < perRow; x++) {
      const bit = x * depth;
      const v = (packed[y * rowBytes + (bit >> 3)] >> (8 - depth - (bit & 7))) & max;
      out[y * perRow + x] = Math.round((v * 255) / max);
    }
  }
  return out;
}

/** 1 (gray), 2 (gray, alpha), 3 (RGB) or 4 (RGBA) channels to RGB, alpha composited over white. */
function dropAlpha(width: number, height: number, src: ArrayLike<number>, channels: number): RgbImage {
  const n = width * height;
  const data = new Uint8Array(n * 3);
  const color = channels >= 3 ? 3 : 1;
  const alpha = channels === 2 || channels === 4;
  for (let i = 0; i < n; i++) {
    const a = alpha ? src[i * channels + color] / 255 : 1;
    for (let c = 0; c < 3; c++) {
      const v = src[i * channels + (color === 3 ? c : 0)];
      data[i * 3 + c] = alpha ? Math.round(v * a + 255 * (1 - a)) : v;
    }
  }
  return { width, height, data };
}

/**
 * Encodes an RGB image as PNG.
 *
 * @example
 * ```ts
 * await Deno.writeFile("out.png", encodeRgbPng({ width: 1, height: 1, data: Uint8Array.of(255, 0, 0) }));
 * ```
 */
export function encodeRgbPng(image: RgbImage): Uint8Array {
  checkImage(image);
  return encodePng({ width: image.width, height: image.height, data: image.data, channels: 3, depth: 8 });
}

function checkImage({ width, height, data }: RgbImage): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`image: size ${width}×${height} must be positive integers`);
  }
  if (data.length !== width * height * 3) {
    throw new RangeError(`image: ${width}×${height} RGB needs ${width * height * 3} bytes, got ${data.length}`);
  }
}

/**
 * The largest centred square of an image (the network inputs here are square).
 *
 * @example
 * ```ts
 * const square = centerSquare(photo); // 640×480 -> the middle 480×480
 * ```
 */
export function centerSquare(image: RgbImage): RgbImage {
  const side = Math.min(image.width, image.height);
  if (image.width === side && image.height === side) return image;
  const left = (image.width - side) >> 1;
  const top = (image.height - side) >> 1;
  const data = new Uint8Array(side * side * 3);
  for (let y = 0; y < side; y++) {
    const from = ((top + y) * image.width + left) * 3;
    data.set(image.data.subarray(from, from + side * 3), y * side * 3);
  }
  return { width: side, height: side, data };
}

/**
 * Resizes an RGB image with {@linkcode resample} (bilinear when enlarging, antialiased when shrinking).
 *
 * @example
 * ```ts
 * const small = resizeImage(centerSquare(photo), 32, 32);
 * ```
 */
export function resizeImage(image: RgbImage, width: number, height: number): RgbImage {
  checkImage(image);
  if (image.width === width && image.height === height) return image;
  const data = new Uint8Array(width * height * 3);
  const plane = new Float32Array(image.width * image.height);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < plane.length; i++) plane[i] = image.data[i * 3 + c];
    const out = resample(plane, image.height, image.width, height, width);
    for (let i = 0; i < out.length; i++) data[i * 3 + c] = Math.min(255, Math.max(0, Math.round(out[i])));
  }
  return { width, height, data };
}

/**
 * An image in the data layer's layout, `[3, H, W]` planes (R, G, B), as `makeBatch` and the data sets hold them.
 *
 * @example
 * ```ts
 * const planes = toPlanar(resizeImage(img, 32, 32)); // 3 * 32 * 32 bytes
 * ```
 */
export function toPlanar(image: RgbImage): Uint8Array {
  const n = image.width * image.height;
  const out = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[c * n + i] = image.data[i * 3 + c];
  return out;
}

/**
 * The inverse of {@linkcode toPlanar}: `[3, H, W]` planes to an interleaved RGB image.
 *
 * @example
 * ```ts
 * const img = fromPlanar(dataset.images.subarray(0, 3 * 32 * 32), 32, 32);
 * ```
 */
export function fromPlanar(planes: Uint8Array, width: number, height: number): RgbImage {
  const n = width * height;
  if (planes.length !== 3 * n) {
    throw new RangeError(`fromPlanar: [3, ${height}, ${width}] needs ${3 * n} bytes, got ${planes.length}`);
  }
  const data = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = planes[c * n + i];
  return { width, height, data };
}
