/**
 * The prefetching half of both loaders: a pool of workers built for one epoch, the next `prefetch` batches always
 * in flight (each sent to the worker with the fewest outstanding), batches yielded in order. A batch that fails
 * ends the epoch there: the batches before it are still yielded, then its error is thrown, and nothing more is
 * requested. Leaving the loop, or an error, terminates the workers.
 *
 * @module
 */
import type { Batch } from "./augment.ts";
import { DataFileError } from "./errors.ts";
import type { WorkerReply } from "./_worker_protocol.ts";

/** Options of {@linkcode workerBatches}. */
export interface WorkerBatchesOptions<Request> {
  /** The worker module. */
  readonly url: URL;
  /** Names the workers, and their failures in errors (`"batch worker"`). */
  readonly name: string;
  /** Workers in the pool, at least 1 (fewer are started when fewer batches can be in flight). */
  readonly workers: number;
  /** Posted to every worker before its first request. */
  readonly init: Request;
  /** The message that asks for batch `index`. */
  readonly request: (index: number) => Request;
  /** Batches `[start, end)` are yielded, in order. */
  readonly start: number;
  readonly end: number;
  /** Batches requested ahead of the one being consumed, at least 1. */
  readonly prefetch: number;
}

/** Batches `[start, end)` built by a pool of workers, in order. */
export async function* workerBatches<Request>(
  options: WorkerBatchesOptions<Request>,
): AsyncGenerator<Batch, void, undefined> {
  const { start, end, name } = options;
  if (start >= end) return;
  const pending = new Map<number, PromiseWithResolvers<Batch>>();
  // More workers than batches that can be in flight would only start up and wait.
  const count = Math.min(options.workers, options.prefetch, end - start);
  const outstanding = new Int32Array(count);
  let failure: Error | null = null;
  /** A worker that broke (not one batch): every batch still pending fails. */
  const fail = (error: Error) => {
    failure ??= error;
    for (const p of pending.values()) p.reject(error);
  };
  const pool: Worker[] = [];
  try {
    for (let w = 0; w < count; w++) {
      const worker = new Worker(options.url, { type: "module", name: name.replaceAll(" ", "_") });
      worker.onmessage = (event: MessageEvent<WorkerReply>) => {
        const reply = event.data;
        outstanding[w]--;
        if (reply.type === "error") {
          const error = workerError(reply, name);
          failure ??= error;
          return pending.get(reply.index)?.reject(error);
        }
        pending.get(reply.batch.index)?.resolve(reply.batch);
      };
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        fail(new Error(`${name} failed: ${event.message}`));
      };
      worker.onmessageerror = () => fail(new Error(`${name}: a batch could not be received`));
      worker.postMessage(options.init);
      pool.push(worker);
    }
    let next = start;
    const request = () => {
      if (next >= end) return;
      const p = Promise.withResolvers<Batch>();
      p.promise.catch(() => {}); // rejections are rethrown where the batch is awaited
      pending.set(next, p);
      if (failure) {
        p.reject(failure);
        next++;
        return;
      }
      let w = 0;
      for (let i = 1; i < pool.length; i++) if (outstanding[i] < outstanding[w]) w = i;
      outstanding[w]++;
      pool[w].postMessage(options.request(next++));
    };
    for (let k = 0; k < options.prefetch; k++) request();
    for (let i = start; i < end; i++) {
      const batch = await pending.get(i)!.promise;
      pending.delete(i);
      request();
      yield batch;
    }
  } finally {
    for (const worker of pool) worker.terminate();
  }
}

/**
 * The error a worker reported, rebuilt with its class, so a `RangeError` from a bad option stays one and a
 * `DataFileError` keeps its file and problem.
 */
export function workerError(reply: Extract<WorkerReply, { type: "error" }>, worker = "worker"): Error {
  const message = `preparing batch ${reply.index + 1}: ${reply.message}`;
  const error = reply.path !== undefined && reply.problem !== undefined
    ? new DataFileError(reply.problem, reply.path, message)
    : reply.name === "RangeError"
    ? new RangeError(message)
    : new Error(message);
  if (reply.stack) error.stack = `${error.name}: ${message}\n(${worker}) ${reply.stack}`;
  return error;
}

/** The reply that reports `error` while batch `index` was being prepared (the workers' side of `workerError`). */
export function errorReply(index: number, e: unknown): WorkerReply {
  const error = e instanceof Error ? e : new Error(String(e));
  const file = error instanceof DataFileError ? { path: error.path, problem: error.problem } : {};
  return { type: "error", index, name: error.name, message: error.message, stack: error.stack, ...file };
}
