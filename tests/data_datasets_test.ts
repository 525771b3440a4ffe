import assert from "node:assert/strict";
import { CIFAR_AUGMENT } from "../src/data/augment.ts";
import { createLoaders, loadDataset } from "../src/data/datasets.ts";
import { DataFileError } from "../src/data/errors.ts";
import { CIFAR_NORMALIZATION } from "../src/data/normalization.ts";
import { withTempDir, writeTinyCifar } from "./_data.ts";

Deno.test("loadDataset CIFAR100: both splits, reference normalisation and augmentation", async () => {
  await withTempDir(async (root) => {
    await writeTinyCifar(root, "CIFAR100", 3);
    const data = await loadDataset("CIFAR100", { dataroot: root, checkCount: false });
    assert.equal(data.numClasses, 100);
    assert.equal(data.train.labels.length, 3);
    assert.equal(data.test.labels.length, 3);
    assert.equal(data.normalization, CIFAR_NORMALIZATION);
    assert.equal(data.augment, CIFAR_AUGMENT);
    await assert.rejects(() => loadDataset("CIFAR10", { dataroot: root }), DataFileError);
  });
});

Deno.test("loadDataset MNIST + createLoaders: shuffled augmented training, ordered plain test, no flips", async () => {
  const data = await loadDataset("MNIST");
  assert.deepEqual(data.augment, { pad: 4, flip: false });
  const { train, test } = createLoaders(data, { batchSize: 100, testBatchSize: 500, seed: 3, worker: false });
  assert.equal(train.numBatches, 80);
  assert.equal(test.numBatches, 4);
  assert.ok(train.shuffle && !test.shuffle);
  assert.equal(train.augment, data.augment);
  assert.equal(test.augment, null);
  const first = train.epochSync(0).next().value!;
  assert.equal(first.images.length, 100 * 3072);
  assert.ok(first.labels.every((y) => y >= 0 && y < 10));
  // Normalised with the training split's own statistics: the epoch's mean is near 0.
  let sum = 0;
  for (const v of first.images) sum += v;
  assert.ok(Math.abs(sum / first.images.length) < 0.2, `mean ${sum / first.images.length}`);
  await assert.rejects(() => loadDataset("SVHN" as "MNIST"), /unknown data set "SVHN"/);
});
