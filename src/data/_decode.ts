/**
 * JPEG and PNG (and WebP, TIFF, GIF) decoding to 8-bit RGB through the npm package `sharp` (libvips, a prebuilt
 * Node-API addon shipped inside the npm packages `@img/sharp-<platform>`), loaded on first use so that nothing
 * else in the data layer needs FFI permission. The pixels equal PIL's `Image.open(f).convert("RGB")`, which
 * torchvision's ImageFolder uses: the same libjpeg(-turbo) decoding for RGB and gray JPEGs; alpha dropped, gray
 * replicated, palettes expanded; CMYK JPEGs converted with PIL's formula (not an ICC transform). EXIF orientation
 * is ignored, as PIL's loader does. Truncated files are errors, as in PIL.
 *
 * @module
 */
import type SharpFactory from "sharp";
import { DataFileError } from "./errors.ts";
import type { RgbImage } from "./rgb_image.ts";

type Sharp = typeof SharpFactory;

let loading: Promise<Sharp> | null = null;

/** sharp, loaded once per thread; each image is decoded on one libvips thread (the loader's workers parallelise). */
function loadSharp(): Promise<Sharp> {
  loading ??= import("sharp").then(
    (module) => {
      const sharp = module.default;
      sharp.concurrency(1);
      sharp.cache(false);
      return sharp;
    },
    (cause) => {
      loading = null;
      throw new Error(
        "decoding images needs the npm package sharp, a native Node-API addon: run Deno with --allow-ffi " +
          "--allow-read --allow-env (or -A) on a platform sharp ships a prebuilt binary for (Linux x64/arm64 with " +
          `glibc ≥ 2.28 or musl, macOS, Windows); it could not be loaded: ${cause}`,
        { cause },
      );
    },
  );
  return loading;
}

/**
 * Reads and decodes the image at `path` into 8-bit RGB. A file that cannot be read or decoded is a
 * {@linkcode DataFileError} naming it (`problem` `"missing"` or `"image"`); failing to load the decoder itself is a
 * plain `Error` that says what to do.
 */
export async function readImage(path: string): Promise<RgbImage> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (cause) {
    throw new DataFileError("missing", path, `${path}: cannot read the image file (${cause})`, { cause });
  }
  const sharp = await loadSharp();
  try {
    return await decode(sharp, bytes);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message.split("\n")[0] : String(cause);
    throw new DataFileError(
      "image",
      path,
      `${path}: cannot decode the image (${reason}); replace the file with a good copy or delete it`,
      { cause },
    );
  }
}

async function decode(sharp: Sharp, bytes: Uint8Array): Promise<RgbImage> {
  const cmyk = jpegComponents(bytes) === 4;
  const pipeline = sharp(bytes, { failOn: "truncated" });
  const { data, info } =
    await (cmyk
      ? pipeline.pipelineColourspace("cmyk").toColourspace("cmyk")
      : pipeline.removeAlpha().toColourspace("srgb"))
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
  const pixels = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const expected = cmyk ? 4 : 3;
  if (info.channels !== expected) throw new Error(`decoded ${info.channels} channels, expected ${expected}`);
  const rgb = cmyk ? cmykToRgb(pixels) : pixels;
  return { data: rgb, width: info.width, height: info.height };
}

/** PIL's `cmyk2rgb`: `255 − k − c·(255 − k)/255`, with its rounding. */
function cmykToRgb(cmyk: Uint8Array): Uint8Array {
  const n = cmyk.length / 4;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const nk = 255 - cmyk[4 * i + 3];
    for (let c = 0; c < 3; c++) {
      const t = cmyk[4 * i + c] * nk + 128;
      out[3 * i + c] = nk - (((t >> 8) + t) >> 8); // never below 0: c·nk/255 ≤ nk
    }
  }
  return out;
}

/** The number of colour components a JPEG's frame header declares, or 0 if `bytes` is not a readable JPEG. */
function jpegComponents(bytes: Uint8Array): number {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return 0;
  let p = 2;
  while (p + 4 <= bytes.length) {
    if (bytes[p] !== 0xff) return 0;
    const marker = bytes[p + 1];
    if (marker === 0xff) { // fill byte
      p++;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return 0; // end of image or scan before any frame header
    // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC): length, precision, height, width, components.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return p + 9 < bytes.length ? bytes[p + 9] : 0;
    }
    const standalone = marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8);
    p += standalone ? 2 : 2 + ((bytes[p + 2] << 8) | bytes[p + 3]);
  }
  return 0;
}
