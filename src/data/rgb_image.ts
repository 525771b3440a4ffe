/**
 * A decoded image as the ImageFolder path handles it before it becomes part of a batch: 8-bit RGB, pixels
 * interleaved (HWC), rows top to bottom — the layout decoders produce and PIL's `Image.tobytes()` of an RGB image.
 *
 * @module
 */

/** `height × width × 3` bytes, row-major, R G B per pixel. */
export interface RgbImage {
  /** `[height, width, 3]` bytes. */
  readonly data: Uint8Array;
  /** Columns. */
  readonly width: number;
  /** Rows. */
  readonly height: number;
}

/**
 * Checks that `image.data` holds exactly `width · height · 3` bytes for positive integer sizes; `where` names the
 * caller in the `RangeError`.
 *
 * @example
 * ```ts
 * checkRgbImage({ data: new Uint8Array(12), width: 2, height: 2 }, "mine"); // passes
 * ```
 */
export function checkRgbImage(image: RgbImage, where: string): void {
  const { width, height } = image;
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`${where}: image size must be positive integers, got ${width} × ${height}`);
  }
  if (image.data.length !== width * height * 3) {
    throw new RangeError(
      `${where}: image data has ${image.data.length} bytes but ${width} × ${height} RGB needs ${width * height * 3}`,
    );
  }
}

/**
 * The mirror image left to right (torchvision's `hflip`), as a new image.
 *
 * @example
 * ```ts
 * flipHorizontal({ data: Uint8Array.of(1, 2, 3, 4, 5, 6), width: 2, height: 1 }).data; // [4, 5, 6, 1, 2, 3]
 * ```
 */
export function flipHorizontal(image: RgbImage): RgbImage {
  checkRgbImage(image, "flipHorizontal");
  const { data, width, height } = image;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let x = 0; x < width; x++) {
      const src = row + x * 3;
      const dst = row + (width - 1 - x) * 3;
      out[dst] = data[src];
      out[dst + 1] = data[src + 1];
      out[dst + 2] = data[src + 2];
    }
  }
  return { data: out, width, height };
}
