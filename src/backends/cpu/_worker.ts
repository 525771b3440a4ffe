/**
 * A worker thread of the cpu backend: waits on the shared command area, runs its part of each command on
 * the shared blocks, and reports back. It never returns to its event loop, so commands cost a futex wake,
 * not a message; blocks arrive once each on its port and are read synchronously.
 *
 * @module
 */
import { receiveMessageOnPort, workerData } from "node:worker_threads";
import * as P from "./_protocol.ts";
import { TASK_NAMES, TASKS } from "./_tasks.ts";

const data = workerData as P.WorkerData;
const control = new Int32Array(data.control);
const args = new Float64Array(data.args);
const errorBytes = new Uint8Array(data.error);
const blocks = new Map<number, SharedArrayBuffer>();

/** Takes `count` messages from the port; they were posted before the command, so they are there. */
function takeMessages(count: number): void {
  for (let i = 0; i < count; i++) {
    let received = receiveMessageOnPort(data.port);
    for (let tries = 0; !received && tries < 1000; tries++) {
      Atomics.wait(control, P.STOP, 0, 1);
      received = receiveMessageOnPort(data.port);
    }
    if (!received) throw new Error(`cpu worker ${data.index}: a block message did not arrive`);
    const m = received.message as P.BlockMessage;
    if ("drop" in m) { for (const id of m.drop) blocks.delete(id); }
    else blocks.set(m.id, m.memory);
  }
}

function run(): void {
  if (data.index >= control[P.THREADS]) return;
  const views: Float32Array[] = [];
  for (let i = 0; i < control[P.BUFFERS]; i++) {
    const id = control[P.IDS + i];
    const memory = blocks.get(id);
    if (!memory) throw new Error(`cpu worker ${data.index}: unknown block ${id}`);
    views.push(new Float32Array(memory, 0, control[P.SIZES + i]));
  }
  TASKS[TASK_NAMES[control[P.TASK]]](views, args, () => Atomics.add(control, P.CLAIM, 1));
}

function report(e: unknown): void {
  if (Atomics.compareExchange(control, P.FAILED, 0, 1) !== 0) return;
  const text = new TextEncoder().encode(`cpu worker ${data.index}: ${e instanceof Error ? e.stack ?? e.message : e}`);
  const n = Math.min(text.length, errorBytes.length);
  errorBytes.set(text.subarray(0, n));
  control[P.ERROR_LENGTH] = n;
}

let seen = Atomics.load(control, P.SEQ);
Atomics.add(control, P.READY, 1);
Atomics.notify(control, P.READY);
for (;;) {
  Atomics.wait(control, P.SEQ, seen);
  const seq = Atomics.load(control, P.SEQ);
  if (seq === seen) continue;
  seen = seq;
  if (Atomics.load(control, P.STOP) !== 0) break;
  try {
    takeMessages(control[P.MESSAGES + data.index]);
    run();
  } catch (e) {
    report(e);
  }
  Atomics.add(control, P.DONE, 1);
  Atomics.notify(control, P.DONE);
}
data.port.close();
