/**
 * Batches from an image folder (ImageNet): files decoded and transformed by a pool of workers while the caller
 * trains on the current batch, with the same contract as {@linkcode DataLoader}: `numBatches`,
 * `order(epoch)`, and `epoch(e, { startBatch })` yielding `Batch`es (`images` `[b, 3, size, size]` float32
 * normalised, `labels` `[b]`, `index`) in order.
 *
 * Everything random is a pure function of `(seed, epoch, batch, image)`: epoch `e`'s order is the permutation
 * keyed `(seed, e)` (as `DataLoader`'s), and image `k` of batch `i` draws its crop and flip from the generator keyed
 * `(seed, e, IMAGE_STREAM, i, k)`. Which worker builds a batch does not matter, so any worker count, and a run
 * resumed at any batch, gives the same bytes.
 *
 * Bad images stop the epoch: an image that cannot be read or decoded rejects the batch that needs it with a
 * {@linkcode DataFileError} naming the file (`problem` `"image"` or `"missing"`). Nothing is skipped, so the
 * file list, the labels and the batches stay those of the folder as listed (and a resume stays exact).
 *
 * Decoding uses the npm package `sharp` (a native addon): run with `--allow-ffi --allow-read --allow-env` or `-A`.
 *
 * @module
 */
import { BOOLEAN, numberRule, type OptionRule, optionsChecker, required } from "../_options.ts";
import type { Batch } from "./augment.ts";
import type { ImageFolder } from "./image_folder.ts";
import { IMAGENET_IMAGE_SIZE } from "./image_transforms.ts";
import { type EpochOptions, LOADER_RULES } from "./loader.ts";
import { IMAGENET_NORMALIZATION, type Normalization } from "./normalization.ts";
import { readImage } from "./_decode.ts";
import { ORDER_STREAM } from "./_epoch.ts";
import { type ImageBatchSpec, prepareImageBatch } from "./_image_batch.ts";
import { type PackedStrings, packStrings } from "./_packed_strings.ts";
import { keyedRng } from "./_seed.ts";
import { workerBatches } from "./_worker_pool.ts";
import type { ImageWorkerRequest } from "./_worker_protocol.ts";

/** Options of {@linkcode ImageFolderLoader}. */
export interface ImageFolderLoaderOptions {
  /** Images per batch; the epoch's last batch holds the remainder (torch's `drop_last=False`). */
  readonly batchSize: number;
  /**
   * Training: a new shuffle every epoch, `RandomResizedCrop(imageSize)` and a random horizontal flip. Otherwise
   * the folder's order, `Resize(round(imageSize · 256 / 224))` and `CenterCrop(imageSize)`.
   */
  readonly train: boolean;
  /** Height and width of the batches' images. Default 224. */
  readonly imageSize?: number;
  /** Seed of every shuffle and crop. Default 0. */
  readonly seed?: number;
  /**
   * Workers decoding and transforming in parallel (each builds whole batches); 0 builds batches on the calling
   * thread. Default: `navigator.hardwareConcurrency` where workers exist, else 0.
   */
  readonly workers?: number;
  /**
   * Batches requested ahead of the one being consumed. Default: twice the workers (torch's `prefetch_factor`), so
   * each worker has its next batch queued. Each batch in flight holds `batchSize · 3 · imageSize² · 4` bytes
   * (154 MB for 256 images of 224²).
   */
  readonly prefetch?: number;
  /** Per-channel normalisation after scaling pixels to [0, 1]. Default {@linkcode IMAGENET_NORMALIZATION}. */
  readonly normalization?: Normalization;
}

const WORKER_URL = new URL("./image_folder_worker.ts", import.meta.url);

const POSITIVE_INTEGER: OptionRule = { ...numberRule({ min: 1, integer: true }), expected: "a positive integer" };
const checkOptions = optionsChecker<ImageFolderLoaderOptions>("ImageFolderLoader", {
  batchSize: LOADER_RULES.batchSize,
  train: required(BOOLEAN),
  imageSize: POSITIVE_INTEGER,
  seed: LOADER_RULES.seed,
  workers: { ...numberRule({ min: 0, integer: true }), expected: "an integer ≥ 0 (0: no workers)" },
  prefetch: LOADER_RULES.prefetch,
  normalization: { ...LOADER_RULES.normalization, required: false },
});
const checkEpochOptions = optionsChecker<EpochOptions>("ImageFolderLoader epoch", {
  startBatch: { ...numberRule({ min: 0, integer: true }), expected: "a batch number, an integer ≥ 0" },
});

/**
 * Splits an {@linkcode ImageFolder} into transformed, normalised batches, prepared ahead by a pool of workers.
 *
 * @example
 * ```ts
 * const { train, val } = await openImageFolderSplits("/data/imagenet");
 * const loader = new ImageFolderLoader(train, { batchSize: 256, train: true, seed: 1, workers: opt.nthread });
 * for (let epoch = startEpoch; epoch < epochs; epoch++) {
 *   for await (const { images, labels } of loader.epoch(epoch)) step(images, labels); // images [b, 3, 224, 224]
 * }
 * ```
 */
export class ImageFolderLoader {
  /** The folder served. */
  readonly folder: ImageFolder;
  /** Images per batch. */
  readonly batchSize: number;
  /** Training transforms and shuffling, or evaluation ones. */
  readonly train: boolean;
  /** Height and width of every batch image. */
  readonly imageSize: number;
  /** Seed of all randomness. */
  readonly seed: number;
  /** Workers per epoch (0: the calling thread). */
  readonly workers: number;
  /** The normalisation of every batch. */
  readonly normalization: Normalization;
  readonly #prefetch: number;
  #paths: PackedStrings | null = null;

  /** A loader over `folder`; throws a `RangeError` or `TypeError` naming any bad option. */
  constructor(folder: ImageFolder, options: ImageFolderLoaderOptions) {
    checkOptions(options);
    checkFolder(folder);
    this.folder = folder;
    this.batchSize = options.batchSize;
    this.train = options.train;
    this.imageSize = options.imageSize ?? IMAGENET_IMAGE_SIZE;
    this.seed = options.seed ?? 0;
    this.workers = options.workers ?? (typeof Worker === "function" ? Math.max(1, navigator.hardwareConcurrency) : 0);
    this.normalization = options.normalization ?? IMAGENET_NORMALIZATION;
    this.#prefetch = options.prefetch ?? 2 * Math.max(1, this.workers);
  }

  /** Number of images. */
  get size(): number {
    return this.folder.files.length;
  }

  /** Number of classes. */
  get numClasses(): number {
    return this.folder.classes.length;
  }

  /** Batches per epoch: `ceil(size / batchSize)`, the last one partial when it does not divide. */
  get numBatches(): number {
    return Math.ceil(this.size / this.batchSize);
  }

  /** Epoch `epoch`'s file order: a permutation keyed `(seed, epoch)` when training, else `0 … n-1`. */
  order(epoch: number): Int32Array {
    if (!Number.isSafeInteger(epoch) || epoch < 0) {
      throw new RangeError(`ImageFolderLoader: epoch must be a non-negative integer, got ${epoch}`);
    }
    if (!this.train) return Int32Array.from({ length: this.size }, (_, i) => i);
    return keyedRng(this.seed, epoch, ORDER_STREAM).permutation(this.size);
  }

  /**
   * Epoch `epoch`'s batches from batch `startBatch` on, in order. With workers, the next `prefetch` batches are
   * always being built while the caller works; breaking out of the loop, or an error, terminates the workers.
   */
  async *epoch(epoch: number, options: EpochOptions = {}): AsyncGenerator<Batch, void, undefined> {
    checkEpochOptions(options);
    const { startBatch = 0 } = options;
    if (startBatch > this.numBatches) {
      throw new RangeError(
        `ImageFolderLoader: startBatch must be an integer in [0, ${this.numBatches}], got ${startBatch}`,
      );
    }
    const order = this.order(epoch);
    const { labels, root, files } = this.folder;
    const filesOf = (i: number) => order.subarray(i * this.batchSize, Math.min((i + 1) * this.batchSize, this.size));
    const labelsOf = (batchFiles: Int32Array) => batchFiles.map((f) => labels[f]);
    const spec: ImageBatchSpec = {
      imageSize: this.imageSize,
      train: this.train,
      normalization: this.normalization,
      seed: this.seed,
    };
    if (this.workers === 0) {
      const read = (f: number) => readImage(`${root}/${files[f]}`);
      for (let i = startBatch; i < this.numBatches; i++) {
        const batchFiles = filesOf(i);
        yield await prepareImageBatch(spec, epoch, i, batchFiles, labelsOf(batchFiles), read);
      }
      return;
    }
    this.#paths ??= packStrings(files);
    yield* workerBatches<ImageWorkerRequest>({
      url: WORKER_URL,
      name: "image worker",
      workers: this.workers,
      init: { type: "init", spec: { ...spec, root, paths: this.#paths, epoch } },
      request: (index) => {
        const batchFiles = filesOf(index).slice();
        return { type: "batch", index, files: batchFiles, labels: labelsOf(batchFiles) };
      },
      start: startBatch,
      end: this.numBatches,
      prefetch: this.#prefetch,
    });
  }
}

function checkFolder(folder: ImageFolder): void {
  const n = folder.files?.length;
  if (!Array.isArray(folder.files) || !(folder.labels instanceof Int32Array) || folder.labels.length !== n) {
    throw new RangeError(
      `ImageFolderLoader: the folder needs files and Int32Array labels of one length (use openImageFolder), got ` +
        `${n} files and ${folder.labels?.length} labels`,
    );
  }
  const classes = folder.classes.length;
  for (let i = 0; i < n; i++) {
    const y = folder.labels[i];
    if (y < 0 || y >= classes) {
      throw new RangeError(`ImageFolderLoader: label ${y} of ${folder.files[i]} is outside [0, ${classes})`);
    }
  }
}
