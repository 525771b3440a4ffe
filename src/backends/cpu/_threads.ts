/**
 * The thread pool of the cpu backend: persistent workers that share memory with the main thread.
 *
 * The backend's API is synchronous, so a kernel runs to completion before it returns: the main thread
 * writes the command into the shared control area, wakes the workers with `Atomics.notify`, takes units
 * of the kernel from the shared counter as they do, and waits (`Atomics.wait`, which Deno allows on the
 * main thread) until every worker is done. Messages carry only what a worker has not seen: each shared
 * block once (`_memory.ts` recycles blocks, so a training loop sends none after its first step).
 * Workers start on the first kernel big enough to split, are `unref`'d so they never keep the process
 * alive, and leave no pending operation behind (Deno's test sanitizers stay quiet). Where workers cannot
 * start (no read permission for the worker module, no `SharedArrayBuffer`), every kernel runs on the main
 * thread: the results are the same, since no task's results depend on the number of threads.
 *
 * @module
 */
import { MessageChannel, type MessagePort, Worker } from "node:worker_threads";
import { type CpuBuffer, takeDropped } from "./_memory.ts";
import { sequential } from "./_partition.ts";
import * as P from "./_protocol.ts";
import { TASK_NAMES, type TaskName, TASKS } from "./_tasks.ts";

/** The environment variable that sets the number of threads (1: no workers). */
export const THREADS_ENV = "AT_CPU_THREADS";

const WORKER_URL = new URL("./_worker.ts", import.meta.url);
/** Starting includes compiling the worker's modules (type-checking them under `deno test`). */
const START_TIMEOUT_MS = 60_000;
/** Far longer than any one kernel runs: past it a worker is taken to be lost, and the kernel fails. */
const ANSWER_TIMEOUT_MS = 600_000;
const TASK_INDEX = new Map(TASK_NAMES.map((name, i) => [name, i]));

interface Pool {
  readonly control: Int32Array;
  readonly args: Float64Array;
  readonly error: Uint8Array;
  readonly workers: { readonly worker: Worker; readonly port: MessagePort }[];
}

let pool: Pool | undefined;
/** Why workers are not used, once they could not start or stopped answering. */
let unavailable: string | undefined;

/**
 * The number of threads kernels use by default: `AT_CPU_THREADS` where it is set and readable, else
 * `navigator.hardwareConcurrency`.
 */
export function defaultThreads(): number {
  let value: string | undefined;
  try {
    if (Deno.permissions.querySync({ name: "env", variable: THREADS_ENV }).state === "granted") {
      value = Deno.env.get(THREADS_ENV);
    }
  } catch {
    value = undefined;
  }
  if (value !== undefined && value !== "") {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(
        `${THREADS_ENV} must be a positive integer (1: no worker threads), got ${JSON.stringify(value)}`,
      );
    }
    return n;
  }
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

/** Why worker threads cannot be used here, or `undefined` when they can be tried. */
function obstacle(): string | undefined {
  if (unavailable) return unavailable;
  if (typeof SharedArrayBuffer !== "function" || typeof Atomics?.wait !== "function") {
    return "SharedArrayBuffer and Atomics.wait are not available";
  }
  if (WORKER_URL.protocol === "file:") {
    try {
      if (Deno.permissions.querySync({ name: "read", path: WORKER_URL }).state !== "granted") {
        return `no read permission for ${WORKER_URL.pathname}`;
      }
    } catch (e) {
      return `cannot query read permission: ${e instanceof Error ? e.message : e}`;
    }
  }
  return undefined;
}

function createPool(): Pool {
  return {
    control: new Int32Array(new SharedArrayBuffer(P.CONTROL_WORDS * 4)),
    args: new Float64Array(new SharedArrayBuffer(P.MAX_ARGS * 8)),
    error: new Uint8Array(new SharedArrayBuffer(P.ERROR_BYTES)),
    workers: [],
  };
}

/** Stops every worker and runs single-threaded from now on, saying why. */
function giveUp(p: Pool, why: string): void {
  unavailable = why;
  Atomics.store(p.control, P.STOP, 1);
  Atomics.add(p.control, P.SEQ, 1);
  Atomics.notify(p.control, P.SEQ);
  for (const { worker, port } of p.workers) {
    port.close();
    void worker.terminate();
  }
  pool = undefined;
}

/** Starts workers until there are `wanted` (or as many as can start); returns how many there are. */
function ensureWorkers(wanted: number): number {
  wanted = Math.min(wanted, P.MAX_WORKERS);
  if (pool && pool.workers.length >= wanted) return pool.workers.length;
  const why = obstacle();
  if (why) return 0;
  const p = pool ??= createPool();
  try {
    while (p.workers.length < wanted) {
      const { port1, port2 } = new MessageChannel();
      const workerData: P.WorkerData = {
        control: p.control.buffer as SharedArrayBuffer,
        args: p.args.buffer as SharedArrayBuffer,
        error: p.error.buffer as SharedArrayBuffer,
        port: port2,
        index: p.workers.length + 1,
      };
      const worker = new Worker(WORKER_URL, { workerData, transferList: [port2] });
      worker.unref();
      // Without a listener an error event would be thrown in the main thread; a dead worker is caught
      // by the timeouts instead.
      worker.on("error", () => {});
      p.workers.push({ worker, port: port1 });
    }
    const deadline = performance.now() + START_TIMEOUT_MS;
    for (let ready; (ready = Atomics.load(p.control, P.READY)) < p.workers.length;) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`only ${ready} of ${p.workers.length} worker threads started`);
      Atomics.wait(p.control, P.READY, ready, left);
    }
  } catch (e) {
    giveUp(p, `worker threads could not start: ${e instanceof Error ? e.message : e}`);
    return 0;
  }
  return p.workers.length;
}

/** Sends each worker the blocks it has not seen and the ids to forget; writes how many messages each gets. */
function sendBlocks(p: Pool, buffers: readonly CpuBuffer[]): void {
  const counts = new Array<number>(p.workers.length + 1).fill(0);
  const drop = takeDropped();
  if (drop.length) {
    for (const { port } of p.workers) port.postMessage({ drop } satisfies P.BlockMessage);
    counts.fill(1);
  }
  for (const { block } of buffers) {
    for (; block.sharedWith < p.workers.length; block.sharedWith++) {
      const message: P.BlockMessage = { id: block.id, memory: block.memory };
      p.workers[block.sharedWith].port.postMessage(message);
      counts[block.sharedWith + 1]++;
    }
  }
  for (let i = 1; i <= p.workers.length; i++) p.control[P.MESSAGES + i] = counts[i];
}

/**
 * Runs task `name` over `buffers` with numeric `args` on up to `threads` threads (this one and workers),
 * which take its units from a shared counter. Returns when every unit is done.
 */
export function runTask(name: TaskName, buffers: readonly CpuBuffer[], args: readonly number[], threads: number): void {
  const views = buffers.map((b) => b.data);
  if (threads > 1 && buffers.length <= P.MAX_BUFFERS && args.length <= P.MAX_ARGS) {
    threads = Math.min(threads, ensureWorkers(threads - 1) + 1);
  } else {
    threads = 1;
  }
  if (threads <= 1 || !pool) {
    TASKS[name](views, args, sequential());
    return;
  }
  const p = pool;
  const c = p.control;
  sendBlocks(p, buffers);
  c[P.TASK] = TASK_INDEX.get(name)!;
  c[P.THREADS] = threads;
  Atomics.store(c, P.CLAIM, 0);
  c[P.BUFFERS] = buffers.length;
  for (let i = 0; i < buffers.length; i++) {
    c[P.IDS + i] = buffers[i].block.id;
    c[P.SIZES + i] = buffers[i].size;
  }
  p.args.set(args);
  Atomics.store(c, P.DONE, 0);
  Atomics.store(c, P.FAILED, 0);
  Atomics.add(c, P.SEQ, 1);
  Atomics.notify(c, P.SEQ);
  try {
    TASKS[name](views, p.args, () => Atomics.add(c, P.CLAIM, 1));
  } finally {
    waitForWorkers(p);
  }
  if (Atomics.load(c, P.FAILED) !== 0) {
    const message = new TextDecoder().decode(p.error.slice(0, c[P.ERROR_LENGTH]));
    giveUp(p, `a worker thread failed: ${message}`);
    throw new Error(`cpu backend: ${name} failed in a worker thread: ${message}`);
  }
}

function waitForWorkers(p: Pool): void {
  const deadline = performance.now() + ANSWER_TIMEOUT_MS;
  for (let done; (done = Atomics.load(p.control, P.DONE)) < p.workers.length;) {
    const left = deadline - performance.now();
    if (left <= 0) {
      giveUp(p, "a worker thread stopped answering");
      throw new Error(`cpu backend: only ${done} of ${p.workers.length} worker threads answered in time`);
    }
    Atomics.wait(p.control, P.DONE, done, left);
  }
}

/** Worker threads running now, and why there are none where they could not start. */
export function workerStatus(): { readonly workers: number; readonly unavailable?: string } {
  return { workers: pool?.workers.length ?? 0, unavailable: unavailable ?? obstacle() };
}
