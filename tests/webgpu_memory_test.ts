/**
 * The JS heap of a long webgpu run stays flat: 1,000 AT+KD training steps of a tiny WRN pair, and 2,000
 * downloads. Bounds are generous (a leak of the kind these tests guard against grew ~29 KiB a step) and
 * nothing is timed. The heap is measured after a full garbage collection.
 *
 * @module
 */
import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import { sgdInit } from "../src/nn/sgd.ts";
import { wrn } from "../src/nn/wrn.ts";
import { setBackend } from "../src/tensor/device.ts";
import { tensor } from "../src/tensor/tensor.ts";
import { trainStep } from "../src/train/step.ts";
import { noAdapter, webgpu } from "./_webgpu.ts";

/** `gc()` without `--expose-gc` on the command line (the test task does not pass it). */
function collector(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
}

const gc = collector();
const KiB = 1024, MiB = 2 ** 20;

/** Bytes of JS heap in use after a full collection. */
function heapAfterGc(): number {
  gc();
  return Deno.memoryUsage().heapUsed;
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(2)} MiB`;

Deno.test({
  name: "webgpu: 1,000 AT+KD training steps leave the JS heap flat",
  ignore: noAdapter,
  fn: async () => {
    setBackend(webgpu());
    // WRN-10-0.25 (4, 8, 16 channels) learns from WRN-10-0.5 on 2 images of 4×4: every op of the real
    // step (AT over three groups, KD, batch norm with ReLU, SGD with momentum), in as little device time as can be.
    const student = wrn({ depth: 10, width: 0.25, numClasses: 4 });
    const teacherNet = wrn({ depth: 10, width: 0.5, numClasses: 4 });
    const t = teacherNet.init(1);
    const { params, stats: initialStats } = student.init(2);
    let stats = initialStats;
    const momentum = sgdInit(params);
    const objective = {
      student,
      teacher: { id: "tiny", dir: "", net: teacherNet, params: t.params, stats: t.stats },
      alpha: 0.9,
      beta: 1e3,
      temperature: 4,
    };
    const images = Float32Array.from({ length: 2 * 3 * 4 * 4 }, (_, i) => Math.sin(i));
    const labels = Int32Array.of(0, 3);
    const steps = 1000;
    const heap: number[] = []; // after steps 0, 250, 500, 750, 1,000
    let pending: Promise<unknown> = Promise.resolve();
    for (let i = 0; i <= steps; i++) {
      const x = tensor(images, [2, 3, 4, 4]);
      const out = trainStep(objective, params, stats, momentum, x, labels, { lr: 0.01, weightDecay: 5e-4 });
      x.dispose();
      for (const s of Object.values(stats)) s.dispose();
      stats = out.stats;
      // Read back every output and release it, as the CIFAR loop does, waiting for one step's reads while
      // the next step runs.
      const outputs = [out.loss, out.logits, ...out.atLosses];
      const reads = Promise.all(outputs.map((o) => o.data()));
      for (const o of outputs) o.dispose();
      await pending;
      pending = reads.then(([loss]) => assert.ok(Number.isFinite(loss[0]), `the loss became ${loss[0]} at step ${i}`));
      if (i % (steps / 4) === 0) {
        await pending;
        heap.push(heapAfterGc());
      }
    }
    for (const r of [params, stats, momentum, t.params, t.stats]) for (const v of Object.values(r)) v.dispose();

    const perStep = (heap[4] - heap[1]) / (steps * 3 / 4);
    const lastHalf = heap[4] - heap[2];
    console.log(
      `heap after steps 0, 250, 500, 750, 1000: ${heap.map(mib).join(", ")}; ` +
        `${(perStep / KiB).toFixed(2)} KiB a step after the first quarter, ${mib(lastHalf)} over the second half`,
    );
    assert.ok(perStep < 2 * KiB, `the heap grew ${(perStep / KiB).toFixed(2)} KiB a step (bound: 2 KiB)`);
    assert.ok(lastHalf < 0.5 * MiB, `the heap grew ${mib(lastHalf)} between steps 500 and 1,000 (bound: 0.5 MiB)`);
  },
});

Deno.test({
  name: "webgpu: 2,000 downloads leave the JS heap flat",
  ignore: noAdapter,
  fn: async () => {
    const gpu = webgpu();
    const b = gpu.upload(Float32Array.of(1, 2, 3));
    // 20 at a time: each waits ~10 ms for the device's answer on a software adapter.
    const download = async (n: number) => {
      for (let i = 0; i < n; i += 20) {
        for (const x of await Promise.all(Array.from({ length: 20 }, () => gpu.download(b)))) assert.equal(x[2], 3);
      }
    };
    await download(100);
    const before = heapAfterGc();
    await download(2000);
    const growth = heapAfterGc() - before;
    gpu.free(b);
    console.log(`heap growth over 2,000 downloads: ${(growth / KiB).toFixed(1)} KiB`);
    assert.ok(growth < 100 * KiB, `the heap grew ${(growth / KiB).toFixed(1)} KiB (bound: 100 KiB)`);
  },
});
