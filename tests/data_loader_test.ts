import assert from "node:assert/strict";
import { type Batch, CIFAR_AUGMENT } from "../src/data/augment.ts";
import { IMAGE_BYTES, type ImageDataset } from "../src/data/dataset.ts";
import { DataLoader, type DataLoaderOptions } from "../src/data/loader.ts";
import { CIFAR_NORMALIZATION } from "../src/data/normalization.ts";
import { assertSameArray, labelOf, pixelOf } from "./_data.ts";

function dataset(n: number, shared = false): ImageDataset {
  const images = shared ? new Uint8Array(new SharedArrayBuffer(n * IMAGE_BYTES)) : new Uint8Array(n * IMAGE_BYTES);
  for (let i = 0; i < n; i++) for (let k = 0; k < IMAGE_BYTES; k++) images[i * IMAGE_BYTES + k] = pixelOf(i, k);
  // Label i is unique per image here, so a batch's labels say which images it holds.
  return { images, labels: Int32Array.from({ length: n }, (_, i) => i), numClasses: n };
}

const TRAIN: Omit<DataLoaderOptions, "batchSize"> = {
  shuffle: true,
  augment: CIFAR_AUGMENT,
  normalization: CIFAR_NORMALIZATION,
  seed: 1234,
};

async function collect(iterable: AsyncIterable<Batch> | Iterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of iterable) out.push(b);
  return out;
}

function assertSameBatches(a: Batch[], b: Batch[], what: string): void {
  assert.equal(a.length, b.length, `${what}: batch counts`);
  for (let i = 0; i < a.length; i++) {
    assert.equal(a[i].index, b[i].index, `${what}: batch ${i} index`);
    assertSameArray(a[i].labels, b[i].labels, `${what}: batch ${i} labels`);
    assertSameArray(a[i].images, b[i].images, `${what}: batch ${i} images`);
  }
}

Deno.test("DataLoader: every image once per epoch, last partial batch kept (drop_last=False)", () => {
  const loader = new DataLoader(dataset(10), { ...TRAIN, batchSize: 4 });
  assert.equal(loader.numBatches, 3);
  const batches = [...loader.epochSync(0)];
  assert.deepEqual(batches.map((b) => b.labels.length), [4, 4, 2]);
  assert.deepEqual(batches.map((b) => b.index), [0, 1, 2]);
  assert.equal(batches[2].images.length, 2 * IMAGE_BYTES);
  const seen = batches.flatMap((b) => [...b.labels]).sort((x, y) => x - y);
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual([...loader.order(0)], batches.flatMap((b) => [...b.labels]));
});

Deno.test("DataLoader: a new shuffle every epoch, the same one for the same (seed, epoch)", () => {
  const a = new DataLoader(dataset(64), { ...TRAIN, batchSize: 8 });
  const b = new DataLoader(dataset(64), { ...TRAIN, batchSize: 8 });
  assert.deepEqual([...a.order(3)], [...b.order(3)]);
  assert.notDeepEqual([...a.order(3)], [...a.order(4)]);
  const other = new DataLoader(dataset(64), { ...TRAIN, batchSize: 8, seed: 1235 });
  assert.notDeepEqual([...a.order(3)], [...other.order(3)]);
});

Deno.test("DataLoader test split: data set order, normalisation only", () => {
  const ds = dataset(5);
  const loader = new DataLoader(ds, { batchSize: 2, shuffle: false, normalization: CIFAR_NORMALIZATION });
  const batches = [...loader.epochSync(7)];
  assert.deepEqual(batches.map((b) => [...b.labels]), [[0, 1], [2, 3], [4]]);
  const v = ds.images[4 * IMAGE_BYTES + 2048 + 5];
  assert.equal(
    batches[2].images[2048 + 5],
    Math.fround((v / 255 - CIFAR_NORMALIZATION.mean[2]) / CIFAR_NORMALIZATION.std[2]),
  );
  // Identical every epoch.
  assertSameBatches([...loader.epochSync(0)], batches, "test epochs");
});

Deno.test("DataLoader: a run resumed at epoch k, or mid-epoch, draws exactly the uninterrupted run's batches", async () => {
  const ds = dataset(23);
  const run = new DataLoader(ds, { ...TRAIN, batchSize: 5, worker: false });
  const uninterrupted = [];
  for (let epoch = 0; epoch < 3; epoch++) uninterrupted.push(await collect(run.epoch(epoch)));
  // A fresh process: a new loader from the same seed, starting at epoch 2.
  const resumed = new DataLoader(dataset(23), { ...TRAIN, batchSize: 5, worker: false });
  assertSameBatches(await collect(resumed.epoch(2)), uninterrupted[2], "resumed epoch 2");
  assertSameBatches(await collect(resumed.epoch(1, { startBatch: 3 })), uninterrupted[1].slice(3), "resumed batch 3");
  // Augmentation is drawn: two epochs' batches differ even where they hold the same image.
  assert.notDeepEqual(uninterrupted[0][0].images, uninterrupted[1][0].images);
});

Deno.test("DataLoader worker: the same batches as the synchronous path, buffers transferred", async () => {
  for (const shared of [false, true]) {
    const loader = new DataLoader(dataset(37, shared), { ...TRAIN, batchSize: 8, worker: true, prefetch: 3 });
    const viaWorker = await collect(loader.epoch(5));
    assertSameBatches(viaWorker, [...loader.epochSync(5)], `worker (shared ${shared})`);
    assert.ok(viaWorker.every((b) => b.images.buffer instanceof ArrayBuffer));
    assertSameBatches(await collect(loader.epoch(5, { startBatch: 2 })), viaWorker.slice(2), "worker mid-epoch");
  }
});

Deno.test("DataLoader worker: breaking out early terminates the worker (no leak reported)", async () => {
  const loader = new DataLoader(dataset(40), { ...TRAIN, batchSize: 4, worker: true });
  let seen = 0;
  for await (const batch of loader.epoch(0)) {
    assert.equal(batch.index, seen);
    if (++seen === 2) break;
  }
  assert.equal(seen, 2);
  // An exception thrown by the consumer ends it too.
  await assert.rejects(async () => {
    for await (const _ of loader.epoch(1)) throw new Error("step failed");
  }, /step failed/);
});

Deno.test("DataLoader worker: a failure while preparing a batch reaches the consumer, naming the batch", async () => {
  const bad = { mean: [0, 0, 0], std: [0, 1, 1] } as const;
  const loader = new DataLoader(dataset(8), { ...TRAIN, normalization: bad, batchSize: 4, worker: true });
  await assert.rejects(
    () => collect(loader.epoch(0)),
    (e) => e instanceof RangeError && /^preparing batch 1: normalization: std\[0\]/.test(e.message),
  );
});

Deno.test("DataLoader: a pad the images cannot take is refused when the loader is made, not inside the worker", () => {
  assert.throws(
    () => new DataLoader(dataset(8), { ...TRAIN, augment: { pad: 100, flip: true }, batchSize: 4, worker: true }),
    /DataLoader: augment.pad must be an integer in \[0, 31\].*got 100/,
  );
});

Deno.test("DataLoader: options are checked", () => {
  assert.throws(() => new DataLoader(dataset(2), { ...TRAIN, batchSize: 0 }), /batchSize must be a positive integer/);
  const loader = new DataLoader(dataset(2), { ...TRAIN, batchSize: 1 });
  assert.throws(() => [...loader.epochSync(0, { startBatch: 3 })], /startBatch must be an integer in \[0, 2\]/);
  assert.throws(() => loader.order(-1), /epoch must be a non-negative integer/);
  assert.throws(
    () =>
      new DataLoader({ images: new Uint8Array(3), labels: Int32Array.of(0), numClasses: 1 }, {
        ...TRAIN,
        batchSize: 1,
      }),
    /images has 3 bytes but 1 labels need 3072/,
  );
  assert.equal(labelOf(0, 10), 3); // the helpers' labelling, relied on by the other data tests
});
