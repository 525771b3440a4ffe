/**
 * One worker of {@linkcode ImageFolderLoader.epoch}'s pool: receives the epoch (file names arrive in shared
 * memory, not copied), then for each requested batch reads, decodes and transforms its images and transfers the
 * finished batch back.
 *
 * @module
 */
import { prepareImageBatch } from "./_image_batch.ts";
import { readImage } from "./_decode.ts";
import { unpackString } from "./_packed_strings.ts";
import type { ImageEpochSpec, ImageWorkerRequest, WorkerReply } from "./_worker_protocol.ts";
import { errorReply } from "./_worker_pool.ts";

interface WorkerScope {
  onmessage: ((event: MessageEvent<ImageWorkerRequest>) => void) | null;
  postMessage(message: WorkerReply, transfer?: Transferable[]): void;
}

const scope = self as unknown as WorkerScope;
let spec: ImageEpochSpec | null = null;

/** Batches are built one at a time, in the order requested (the next image's decoding overlaps inside one). */
let queue: Promise<void> = Promise.resolve();

scope.onmessage = (event: MessageEvent<ImageWorkerRequest>): void => {
  const request = event.data;
  if (request.type === "init") {
    spec = request.spec;
    return;
  }
  queue = queue.then(() => build(request));
};

async function build(request: Extract<ImageWorkerRequest, { type: "batch" }>): Promise<void> {
  try {
    if (!spec) throw new Error("image worker: a batch was requested before the epoch was set");
    const { root, paths, epoch } = spec;
    const read = (file: number) => readImage(`${root}/${unpackString(paths, file)}`);
    const batch = await prepareImageBatch(spec, epoch, request.index, request.files, request.labels, read);
    scope.postMessage({ type: "batch", batch }, [batch.images.buffer, batch.labels.buffer]);
  } catch (e) {
    scope.postMessage(errorReply(request.index, e));
  }
}
