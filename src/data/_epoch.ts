/**
 * What one epoch's batches are made from, shared by the loader's synchronous path and the batch worker so both
 * produce the same bytes.
 *
 * @module
 */
import { type AugmentOptions, type Batch, makeBatch } from "./augment.ts";
import type { Normalization } from "./normalization.ts";
import { keyedRng } from "./_seed.ts";

/** Stream tags: the epoch's order and each batch's augmentation draw from unrelated generators. */
export const ORDER_STREAM = 0;
export const AUGMENT_STREAM = 1;
/** An ImageFolder image's crop and flip, keyed `(seed, epoch, IMAGE_STREAM, batch, position in the batch)`. */
export const IMAGE_STREAM = 2;

/** Everything needed to build any batch of one epoch, independently of the others. */
export interface EpochSpec {
  readonly images: Uint8Array;
  readonly labels: Int32Array;
  /** The epoch's sample order. */
  readonly order: Int32Array;
  readonly batchSize: number;
  readonly augment: AugmentOptions | null;
  readonly normalization: Normalization;
  readonly seed: number;
  readonly epoch: number;
}

/** Batch `index` of the epoch: images `order[index·b …]`, augmented from the generator keyed (seed, epoch, index). */
export function prepareBatch(spec: EpochSpec, index: number): Batch {
  const start = index * spec.batchSize;
  const end = Math.min(start + spec.batchSize, spec.order.length);
  if (start >= end) throw new RangeError(`prepareBatch: batch ${index} is past the epoch's end`);
  return makeBatch(spec, spec.order.subarray(start, end), {
    normalization: spec.normalization,
    augment: spec.augment,
    rng: spec.augment ? keyedRng(spec.seed, spec.epoch, AUGMENT_STREAM, index) : undefined,
    index,
  });
}
