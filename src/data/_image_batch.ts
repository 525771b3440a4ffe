/**
 * One ImageFolder batch from its file indices, shared by the loader's calling-thread path and its workers so
 * both produce the same bytes: read and decode each image, transform it, normalise it into NCHW float32.
 *
 * @module
 */
import { type Batch, normalizationTable } from "./augment.ts";
import { evalTransform, trainTransform } from "./image_transforms.ts";
import type { Normalization } from "./normalization.ts";
import type { RgbImage } from "./rgb_image.ts";
import { IMAGE_STREAM } from "./_epoch.ts";
import { keyedRng } from "./_seed.ts";

/** What every batch of one loader is made with. */
export interface ImageBatchSpec {
  /** Output height and width. */
  readonly imageSize: number;
  /** Random resized crop and flip (training), or resize and centre crop (evaluation). */
  readonly train: boolean;
  readonly normalization: Normalization;
  readonly seed: number;
}

/**
 * Batch `index` of epoch `epoch`: the images `files[k]` with labels `labels[k]`, each read by `read`, transformed
 * (training draws come from the generator keyed `(seed, epoch, IMAGE_STREAM, index, k)`), and normalised.
 * The next image's decoding is started before the current one is transformed, so the decoder's thread and this
 * one overlap.
 */
export async function prepareImageBatch(
  spec: ImageBatchSpec,
  epoch: number,
  index: number,
  files: ArrayLike<number>,
  labels: ArrayLike<number>,
  read: (file: number) => Promise<RgbImage>,
): Promise<Batch> {
  const b = files.length;
  const size = spec.imageSize;
  const plane = size * size;
  const images = new Float32Array(b * 3 * plane);
  const lut = normalizationTable(spec.normalization);
  const start = (k: number) => {
    const p = read(files[k]);
    p.catch(() => {}); // a failure is rethrown where the image is awaited
    return p;
  };
  let next = b > 0 ? start(0) : null;
  for (let k = 0; k < b; k++) {
    const image = await next!;
    next = k + 1 < b ? start(k + 1) : null;
    const out = spec.train
      ? trainTransform(image, size, keyedRng(spec.seed, epoch, IMAGE_STREAM, index, k))
      : evalTransform(image, size);
    const px = out.data;
    const base = k * 3 * plane;
    for (let p = 0; p < plane; p++) {
      images[base + p] = lut[px[3 * p]];
      images[base + plane + p] = lut[256 + px[3 * p + 1]];
      images[base + 2 * plane + p] = lut[512 + px[3 * p + 2]];
    }
  }
  return { images, labels: Int32Array.from(labels), index };
}
