/**
 * One entry point for the command line: a data set by name (`--dataset`), with its normalisation, its
 * recommended training augmentation, and loaders for both splits.
 *
 * @module
 */
import { BOOLEAN, optionsChecker } from "../_options.ts";
import { type AugmentOptions, CIFAR_AUGMENT } from "./augment.ts";
import { type CifarName, readCifar } from "./cifar.ts";
import type { ImageDataset } from "./dataset.ts";
import { downloadCifar, type DownloadCifarOptions } from "./download.ts";
import { DataLoader, LOADER_RULES } from "./loader.ts";
import { loadMnist } from "./mnist.ts";
import { CIFAR_NORMALIZATION, type Normalization } from "./normalization.ts";

/** The data sets this layer reads. */
export type DatasetName = CifarName | "MNIST";

/** The data set names, for argument checking. */
export const DATASET_NAMES: readonly DatasetName[] = Object.freeze(["CIFAR10", "CIFAR100", "MNIST"]);

/** Both splits of a data set, with how to normalise and augment them. */
export interface DatasetSplits {
  readonly name: DatasetName;
  readonly train: ImageDataset;
  readonly test: ImageDataset;
  readonly numClasses: number;
  /** CIFAR: the reference constants; MNIST: computed from its training split. */
  readonly normalization: Normalization;
  /** Training augmentation: CIFAR pad 4 + flip (the reference); MNIST pad 4, no flip (digits are not symmetric). */
  readonly augment: AugmentOptions;
}

/** Options of {@linkcode loadDataset}. */
export interface LoadDatasetOptions {
  /** Folder holding `cifar-10-batches-bin/` or `cifar-100-binary/` (ignored for MNIST). Default `"."`. */
  readonly dataroot?: string;
  /** Fetch the CIFAR archive first when its files are missing (`--download`). Default `false`. */
  readonly download?: boolean;
  /** Passed to {@linkcode downloadCifar}: `baseUrl`, `md5`, `progress`, `force`, `signal`. */
  readonly downloadOptions?: DownloadCifarOptions;
  /** Require the official record counts in CIFAR files. Default `true`. */
  readonly checkCount?: boolean;
}

const checkLoadOptions = optionsChecker<LoadDatasetOptions>("loadDataset", {
  dataroot: { expected: "a folder path", test: (v) => typeof v === "string" },
  download: BOOLEAN,
  downloadOptions: { expected: "DownloadCifarOptions", test: (v) => typeof v === "object" && v !== null },
  checkCount: BOOLEAN,
});

/**
 * Loads a data set's training and test splits by name.
 *
 * @example
 * ```ts
 * const data = await loadDataset("CIFAR10", { dataroot: "./data", download: true });
 * const { train, test } = createLoaders(data, { batchSize: 128, seed: 1 });
 * ```
 */
export async function loadDataset(name: DatasetName, options: LoadDatasetOptions = {}): Promise<DatasetSplits> {
  checkLoadOptions(options);
  if (name === "MNIST") {
    const { train, test, normalization } = await loadMnist();
    return { name, train, test, numClasses: 10, normalization, augment: Object.freeze({ pad: 4, flip: false }) };
  }
  if (name !== "CIFAR10" && name !== "CIFAR100") {
    throw new RangeError(
      `loadDataset: unknown data set ${JSON.stringify(name)}; expected one of ${DATASET_NAMES.join(", ")}`,
    );
  }
  const dataroot = options.dataroot ?? ".";
  if (options.download) await downloadCifar(dataroot, name, options.downloadOptions);
  const train = await readCifar(dataroot, name, { train: true, checkCount: options.checkCount });
  const test = await readCifar(dataroot, name, { train: false, checkCount: options.checkCount });
  return {
    name,
    train,
    test,
    numClasses: train.numClasses,
    normalization: CIFAR_NORMALIZATION,
    augment: CIFAR_AUGMENT,
  };
}

/** Options of {@linkcode createLoaders}. */
export interface CreateLoadersOptions {
  /** Training batch size (`--batch_size`). */
  readonly batchSize: number;
  /** Test batch size. Default: `batchSize`. */
  readonly testBatchSize?: number;
  /** Seed of the shuffles and augmentation. Default 0. */
  readonly seed?: number;
  /** Override the data set's training augmentation (e.g. `{ pad: opt.randomcrop_pad, flip: true }`). */
  readonly augment?: AugmentOptions;
  /** Worker use, as in {@linkcode DataLoaderOptions.worker}. */
  readonly worker?: boolean | "auto";
}

const checkCreateOptions = optionsChecker<CreateLoadersOptions>("createLoaders", {
  batchSize: LOADER_RULES.batchSize,
  testBatchSize: { ...LOADER_RULES.batchSize, required: false },
  seed: LOADER_RULES.seed,
  augment: LOADER_RULES.augment,
  worker: LOADER_RULES.worker,
});

/**
 * A training loader (shuffled each epoch, augmented) and a test loader (data set order, normalised only), as the
 * reference `cifar.py` builds them.
 *
 * @example
 * ```ts
 * const { train, test } = createLoaders(await loadDataset("MNIST"), { batchSize: 128, seed: 1 });
 * for await (const { images, labels } of train.epoch(0)) step(images, labels);
 * ```
 */
export function createLoaders(
  data: DatasetSplits,
  options: CreateLoadersOptions,
): { train: DataLoader; test: DataLoader } {
  checkCreateOptions(options);
  const common = { normalization: data.normalization, seed: options.seed ?? 0, worker: options.worker };
  return {
    train: new DataLoader(data.train, {
      ...common,
      batchSize: options.batchSize,
      shuffle: true,
      augment: options.augment ?? data.augment,
    }),
    test: new DataLoader(data.test, {
      ...common,
      batchSize: options.testBatchSize ?? options.batchSize,
      shuffle: false,
      augment: null,
    }),
  };
}
