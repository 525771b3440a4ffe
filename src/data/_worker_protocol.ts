/**
 * Messages between the loaders and their workers: `batch_worker.ts` (in-memory data sets) and
 * `image_folder_worker.ts` (image files).
 *
 * @module
 */
import type { Batch } from "./augment.ts";
import type { DataFileProblem } from "./errors.ts";
import type { ImageBatchSpec } from "./_image_batch.ts";
import type { EpochSpec } from "./_epoch.ts";
import type { PackedStrings } from "./_packed_strings.ts";

/** Loader → worker: the epoch to serve, then one request per batch. */
export type WorkerRequest = { readonly type: "init"; readonly spec: EpochSpec } | {
  readonly type: "batch";
  readonly index: number;
};

/** What an image worker needs for a whole epoch: the transforms, and every file's path (in shared memory). */
export interface ImageEpochSpec extends ImageBatchSpec {
  /** The split's folder; `paths` are relative to it. */
  readonly root: string;
  readonly paths: PackedStrings;
  readonly epoch: number;
}

/** ImageFolder loader → image worker: the epoch, then each batch's file indices and labels. */
export type ImageWorkerRequest = { readonly type: "init"; readonly spec: ImageEpochSpec } | {
  readonly type: "batch";
  readonly index: number;
  readonly files: Int32Array;
  readonly labels: Int32Array;
};

/** Worker → loader: a finished batch (its buffers transferred), or why one failed. */
export type WorkerReply = { readonly type: "batch"; readonly batch: Batch } | {
  readonly type: "error";
  readonly index: number;
  /** The error's class name (`RangeError`, `Error`, …) and message, and its stack for debugging. */
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  /** For a `DataFileError`: the file and the problem, so the loader rethrows one. */
  readonly path?: string;
  readonly problem?: DataFileProblem;
};
