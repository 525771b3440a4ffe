/**
 * The background half of {@linkcode DataLoader.epoch}: receives an epoch's spec (the pixels arrive in shared
 * memory, not copied), then builds each requested batch and transfers its buffers back.
 *
 * @module
 */
import { type EpochSpec, prepareBatch } from "./_epoch.ts";
import type { WorkerReply, WorkerRequest } from "./_worker_protocol.ts";

interface WorkerScope {
  onmessage: ((event: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerReply, transfer?: Transferable[]): void;
}

const scope = self as unknown as WorkerScope;
let spec: EpochSpec | null = null;

scope.onmessage = (event: MessageEvent<WorkerRequest>): void => {
  const request = event.data;
  if (request.type === "init") {
    spec = request.spec;
    return;
  }
  try {
    if (!spec) throw new Error("batch worker: a batch was requested before the epoch was set");
    const batch = prepareBatch(spec, request.index);
    scope.postMessage({ type: "batch", batch }, [batch.images.buffer, batch.labels.buffer]);
  } catch (e) {
    const error = e instanceof Error ? e : new Error(String(e));
    scope.postMessage({
      type: "error",
      index: request.index,
      name: error.name,
      message: error.message,
      stack: error.stack,
    });
  }
};
