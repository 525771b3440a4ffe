import assert from "node:assert/strict";
import { IMAGE_BYTES } from "../src/data/dataset.ts";
import { loadMnist } from "../src/data/mnist.ts";
import { channelStats } from "../src/data/normalization.ts";

const mnist = await loadMnist();

Deno.test("loadMnist: 8,000 training and 2,000 test digits, [n, 3, 32, 32] bytes, labels 0–9 in both", () => {
  assert.equal(mnist.train.labels.length, 8000);
  assert.equal(mnist.test.labels.length, 2000);
  for (const set of [mnist.train, mnist.test]) {
    assert.equal(set.numClasses, 10);
    assert.equal(set.images.length, set.labels.length * IMAGE_BYTES);
    const counts = new Array(10).fill(0);
    for (const y of set.labels) counts[y]++;
    assert.ok(counts.every((c) => c > 100), `every digit well represented: ${counts}`);
    assert.equal(counts.reduce((a, b) => a + b, 0), set.labels.length);
  }
});

Deno.test("loadMnist: the 28 × 28 digit sits in a zero border of 2, gray replicated into three channels", () => {
  for (const i of [0, 1234, 7999]) {
    const img = mnist.train.images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES);
    let ink = 0;
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const v = img[y * 32 + x];
        assert.equal(img[1024 + y * 32 + x], v);
        assert.equal(img[2048 + y * 32 + x], v);
        if (y < 2 || y >= 30 || x < 2 || x >= 30) assert.equal(v, 0, `border pixel (${y}, ${x}) of image ${i}`);
        ink = Math.max(ink, v);
      }
    }
    assert.ok(ink > 200, `image ${i} has a stroke`);
  }
});

Deno.test("loadMnist: the split is a fixed function of splitSeed, and the normalisation comes from the training split", async () => {
  const again = await loadMnist();
  assert.deepEqual(again.train.labels, mnist.train.labels);
  assert.deepEqual(again.test.images, mnist.test.images);
  const other = await loadMnist({ splitSeed: 1, testSize: 1000 });
  assert.equal(other.test.labels.length, 1000);
  assert.equal(other.train.labels.length, 9000);
  assert.notDeepEqual(other.test.labels.subarray(0, 200), mnist.test.labels.subarray(0, 200));
  assert.deepEqual(mnist.normalization, channelStats(mnist.train));
  assert.ok(Math.abs(mnist.normalization.mean[0] - 0.1005) < 1e-3, `mean ${mnist.normalization.mean[0]}`);
  assert.ok(Math.abs(mnist.normalization.std[0] - 0.2758) < 1e-3, `std ${mnist.normalization.std[0]}`);
  await assert.rejects(() => loadMnist({ testSize: 10_000 }), /testSize must be an integer in \[1, 9999\]/);
});

Deno.test("loadMnist: both splits are in shuffled order, so a prefix (--train_images) holds every class", async () => {
  const { train, test } = await loadMnist();
  for (const [name, set] of [["train", train], ["test", test]] as const) {
    const firstHundred = new Set(set.labels.slice(0, 100));
    if (firstHundred.size < 9) throw new Error(`${name}: the first 100 images hold only classes ${[...firstHundred]}`);
  }
});
