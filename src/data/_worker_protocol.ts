/**
 * Messages between the loader and `batch_worker.ts`.
 *
 * @module
 */
import type { Batch } from "./augment.ts";
import type { EpochSpec } from "./_epoch.ts";

/** Loader → worker: the epoch to serve, then one request per batch. */
export type WorkerRequest = { readonly type: "init"; readonly spec: EpochSpec } | {
  readonly type: "batch";
  readonly index: number;
};

/** Worker → loader: a finished batch (its buffers transferred), or why one failed. */
export type WorkerReply = { readonly type: "batch"; readonly batch: Batch } | {
  readonly type: "error";
  readonly index: number;
  readonly message: string;
};
