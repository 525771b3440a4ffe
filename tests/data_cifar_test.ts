import assert from "node:assert/strict";
import { join } from "node:path";
import { CIFAR_LAYOUTS, cifarPaths, readCifar } from "../src/data/cifar.ts";
import { IMAGE_BYTES } from "../src/data/dataset.ts";
import { DataFileError } from "../src/data/errors.ts";
import { cifarRecords, labelOf, pixelOf, withTempDir, writeTinyCifar } from "./_data.ts";

async function rejectsWith(promise: Promise<unknown>, problem: string, ...parts: string[]): Promise<DataFileError> {
  const error = await promise.then(() => null, (e) => e);
  assert.ok(error instanceof DataFileError, `expected a DataFileError, got ${error}`);
  assert.equal(error.problem, problem, error.message);
  for (const part of parts) assert.ok(error.message.includes(part), `"${error.message}" should mention "${part}"`);
  return error;
}

Deno.test("readCifar CIFAR10: concatenates the five training batches in order, labels and planes intact", async () => {
  await withTempDir(async (root) => {
    await writeTinyCifar(root, "CIFAR10", 3);
    const train = await readCifar(root, "CIFAR10", { train: true, checkCount: false });
    assert.equal(train.numClasses, 10);
    assert.equal(train.labels.length, 15);
    assert.equal(train.images.length, 15 * IMAGE_BYTES);
    for (let i = 0; i < 15; i++) {
      assert.equal(train.labels[i], labelOf(i, 10));
      for (const k of [0, 1, 1023, 1024, 2048, 3071]) assert.equal(train.images[i * IMAGE_BYTES + k], pixelOf(i, k));
    }
    const test = await readCifar(root, "CIFAR10", { train: false, checkCount: false });
    assert.equal(test.labels.length, 3);
    assert.equal(test.labels[0], labelOf(15, 10)); // the test batch is written after the five training batches
    assert.equal(test.images[5], pixelOf(15, 5));
  });
});

Deno.test("readCifar CIFAR100: fine labels, 100 classes, 2-byte headers skipped", async () => {
  await withTempDir(async (root) => {
    await writeTinyCifar(root, "CIFAR100", 4);
    const train = await readCifar(root, "CIFAR100", { train: true, checkCount: false });
    assert.equal(train.numClasses, 100);
    assert.deepEqual([...train.labels], [0, 1, 2, 3].map((i) => labelOf(i, 100)));
    assert.equal(train.images[2 * IMAGE_BYTES], pixelOf(2, 0));
    assert.equal(train.images[3 * IMAGE_BYTES + 3071], pixelOf(3, 3071));
    const test = await readCifar(root, "CIFAR100", { train: false, checkCount: false });
    assert.deepEqual([...test.labels], [4, 5, 6, 7].map((i) => labelOf(i, 100)));
  });
});

Deno.test("readCifar: a missing file names its path and suggests --download", async () => {
  await withTempDir(async (root) => {
    const path = cifarPaths(root, "CIFAR10", true)[0];
    await rejectsWith(readCifar(root, "CIFAR10", { train: true }), "missing", path, "--download");
    await rejectsWith(readCifar(root, "CIFAR100", { train: false }), "missing", join("cifar-100-binary", "test.bin"));
  });
});

Deno.test("readCifar: a size that is not a whole number of records names the path and both sizes", async () => {
  await withTempDir(async (root) => {
    await writeTinyCifar(root, "CIFAR10", 2);
    const path = cifarPaths(root, "CIFAR10", true)[2];
    await Deno.writeFile(path, cifarRecords("CIFAR10", 0, 2).subarray(0, 2 * 3073 - 100));
    const e = await rejectsWith(readCifar(root, "CIFAR10", { train: true, checkCount: false }), "size", path);
    assert.match(e.message, /6046 bytes is not a whole number of 3073-byte records/);
  });
});

Deno.test("readCifar: the official record count is enforced unless checkCount is false", async () => {
  await withTempDir(async (root) => {
    await writeTinyCifar(root, "CIFAR100", 2);
    const path = cifarPaths(root, "CIFAR100", true)[0];
    await rejectsWith(
      readCifar(root, "CIFAR100", { train: true }),
      "size",
      path,
      "expected 50000 records (153700000 bytes)",
      "found 2 (6148 bytes)",
    );
    assert.equal((await readCifar(root, "CIFAR100", { train: true, checkCount: false })).labels.length, 2);
  });
});

Deno.test("readCifar: an empty file is an error even without the count check", async () => {
  await withTempDir(async (root) => {
    await writeTinyCifar(root, "CIFAR10", 1);
    const path = cifarPaths(root, "CIFAR10", false)[0];
    await Deno.writeFile(path, new Uint8Array(0));
    await rejectsWith(readCifar(root, "CIFAR10", { train: false, checkCount: false }), "size", path, "empty");
  });
});

Deno.test("readCifar: labels out of range name the path, the record and the value", async () => {
  await withTempDir(async (root) => {
    await writeTinyCifar(root, "CIFAR10", 3);
    const path = cifarPaths(root, "CIFAR10", true)[1];
    const bytes = cifarRecords("CIFAR10", 3, 3);
    bytes[2 * 3073] = 10;
    await Deno.writeFile(path, bytes);
    await rejectsWith(readCifar(root, "CIFAR10", { train: true, checkCount: false }), "label", path, "record 2", "10");

    await writeTinyCifar(root, "CIFAR100", 2);
    const path100 = cifarPaths(root, "CIFAR100", false)[0];
    const fine = cifarRecords("CIFAR100", 0, 2);
    fine[3074 + 1] = 100; // fine label of record 1
    await Deno.writeFile(path100, fine);
    await rejectsWith(readCifar(root, "CIFAR100", { train: false, checkCount: false }), "label", path100, "[0, 100)");
    const coarse = cifarRecords("CIFAR100", 0, 2);
    coarse[0] = 20;
    await Deno.writeFile(path100, coarse);
    await rejectsWith(readCifar(root, "CIFAR100", { train: false, checkCount: false }), "label", path100, "[0, 20)");
  });
});

Deno.test("CIFAR_LAYOUTS: the official file names and record counts", () => {
  assert.deepEqual(CIFAR_LAYOUTS.CIFAR10.train.map((f) => f.name), [1, 2, 3, 4, 5].map((k) => `data_batch_${k}.bin`));
  assert.equal(CIFAR_LAYOUTS.CIFAR10.train.reduce((n, f) => n + f.records, 0), 50_000);
  assert.equal(CIFAR_LAYOUTS.CIFAR100.train[0].records, 50_000);
  assert.equal(CIFAR_LAYOUTS.CIFAR100.test[0].records, 10_000);
});
