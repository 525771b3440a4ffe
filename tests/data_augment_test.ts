import assert from "node:assert/strict";
import { Rng } from "../src/rng.ts";
import {
  augmentImage,
  CIFAR_AUGMENT,
  drawAugmentation,
  makeBatch,
  reflectIndex,
  reflectPad,
} from "../src/data/augment.ts";
import { IMAGE_BYTES } from "../src/data/dataset.ts";
import { channelStats, CIFAR_NORMALIZATION } from "../src/data/normalization.ts";
import { assertSameArray, pixelOf } from "./_data.ts";

function image(seed: number): Uint8Array {
  return Uint8Array.from({ length: IMAGE_BYTES }, (_, k) => pixelOf(seed, k));
}

/** Pad, flip, crop the slow way: through the whole padded image, as torchvision does. */
function reference(img: Uint8Array, draw: { flip: boolean; top: number; left: number }, pad: number): Uint8Array {
  const p = 32 + 2 * pad;
  const padded = reflectPad(img, [3, 32, 32], pad);
  const out = new Uint8Array(IMAGE_BYTES);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const px = draw.left + x;
        out[(c * 32 + y) * 32 + x] = padded[(c * p + draw.top + y) * p + (draw.flip ? p - 1 - px : px)];
      }
    }
  }
  return out;
}

Deno.test("reflectIndex: numpy's 'reflect' (edge not repeated)", () => {
  // np.pad(np.arange(5), 4, mode="reflect")
  const expected = [4, 3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1, 0];
  assert.deepEqual(expected.map((_, k) => reflectIndex(k - 4, 5)), expected);
  assert.equal(reflectIndex(-1, 32), 1);
  assert.equal(reflectIndex(32, 32), 30);
});

Deno.test("reflectPad: a known 3 × 3 image padded by 2 matches np.pad(…, mode='reflect')", () => {
  const padded = reflectPad(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9), [1, 3, 3], 2);
  // deno-fmt-ignore
  const expected = [
    9, 8, 7, 8, 9, 8, 7,
    6, 5, 4, 5, 6, 5, 4,
    3, 2, 1, 2, 3, 2, 1,
    6, 5, 4, 5, 6, 5, 4,
    9, 8, 7, 8, 9, 8, 7,
    6, 5, 4, 5, 6, 5, 4,
    3, 2, 1, 2, 3, 2, 1,
  ];
  assert.deepEqual([...padded], expected);
  // Channels are padded independently.
  const two = reflectPad(Uint8Array.of(1, 2, 3, 4, 10, 20, 30, 40), [2, 2, 2], 1);
  assert.deepEqual([...two.subarray(16, 20)], [40, 30, 40, 30]);
  assert.throws(() => reflectPad(Uint8Array.of(1, 2, 3), [1, 1, 3], 1), /pad must be an integer in \[0, 0\]/);
});

Deno.test("drawAugmentation: crops stay in bounds and reach both ends; flips are about half", () => {
  const rng = new Rng(7);
  const seen = new Set<number>();
  let flips = 0;
  const trials = 4000;
  for (let t = 0; t < trials; t++) {
    const d = drawAugmentation(rng, CIFAR_AUGMENT);
    assert.ok(d.top >= 0 && d.top <= 8 && d.left >= 0 && d.left <= 8, JSON.stringify(d));
    seen.add(d.top).add(d.left);
    if (d.flip) flips++;
  }
  assert.equal(seen.size, 9); // every offset 0 … 8 occurs
  assert.ok(Math.abs(flips / trials - 0.5) < 0.05, `flip rate ${flips / trials}`);
  assert.deepEqual(drawAugmentation(new Rng(1), { pad: 0, flip: false }), { flip: false, top: 0, left: 0 });
  assert.throws(() => drawAugmentation(new Rng(1), { pad: 32, flip: true }), /pad must be an integer in \[0, 31\]/);
});

Deno.test("augmentImage: the centre crop is the identity and a flipped one mirrors every row", () => {
  const img = image(3);
  assertSameArray(augmentImage(img, { flip: false, top: 4, left: 4 }, 4), img, "centre crop");
  const flipped = augmentImage(img, { flip: true, top: 4, left: 4 }, 4);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        assert.equal(flipped[(c * 32 + y) * 32 + x], img[(c * 32 + y) * 32 + 31 - x]);
      }
    }
  }
  assertSameArray(augmentImage(flipped, { flip: true, top: 0, left: 0 }, 0), img, "flip twice");
});

Deno.test("augmentImage: equals pad → flip → crop through the whole padded image, for every corner", () => {
  const img = image(11);
  for (const pad of [1, 4]) {
    for (const flip of [false, true]) {
      for (const top of [0, pad, 2 * pad]) {
        for (const left of [0, 1, 2 * pad]) {
          const draw = { flip, top, left };
          assertSameArray(augmentImage(img, draw, pad), reference(img, draw, pad), JSON.stringify({ pad, ...draw }));
        }
      }
    }
  }
  // A corner crop reads the reflection: output (0, 0) of the top-left crop is pixel (pad, pad) of the image.
  const corner = augmentImage(img, { flip: false, top: 0, left: 0 }, 4);
  assert.equal(corner[0], img[4 * 32 + 4]);
});

Deno.test("CIFAR_NORMALIZATION: the reference constants", () => {
  assert.deepEqual(CIFAR_NORMALIZATION.mean, [125.3 / 255, 123.0 / 255, 113.9 / 255]);
  assert.deepEqual(CIFAR_NORMALIZATION.std, [63.0 / 255, 62.1 / 255, 66.7 / 255]);
});

Deno.test("makeBatch without augmentation: per-channel (v/255 - mean)/std, labels gathered in index order", () => {
  const images = new Uint8Array(3 * IMAGE_BYTES);
  for (let i = 0; i < 3; i++) images.set(image(i), i * IMAGE_BYTES);
  const labels = Int32Array.of(5, 6, 7);
  const batch = makeBatch({ images, labels }, Int32Array.of(2, 0), {
    normalization: CIFAR_NORMALIZATION,
    augment: null,
  });
  assert.deepEqual([...batch.labels], [7, 5]);
  assert.equal(batch.images.length, 2 * IMAGE_BYTES);
  for (const [k, i] of [[0, 2], [1, 0]]) {
    for (const offset of [0, 1000, 1024, 2047, 2048, 3071]) {
      const c = offset >> 10;
      const v = images[i * IMAGE_BYTES + offset];
      const want = Math.fround((v / 255 - CIFAR_NORMALIZATION.mean[c]) / CIFAR_NORMALIZATION.std[c]);
      assert.equal(batch.images[k * IMAGE_BYTES + offset], want);
    }
  }
  assert.throws(
    () => makeBatch({ images, labels }, [3], { normalization: CIFAR_NORMALIZATION, augment: null }),
    /index 3 at position 0 is outside the data set's \[0, 3\)/,
  );
  assert.throws(
    () => makeBatch({ images, labels }, [0], { normalization: CIFAR_NORMALIZATION, augment: CIFAR_AUGMENT }),
    /no rng/,
  );
});

Deno.test("makeBatch with augmentation: image after image, each drawn in order from the generator", () => {
  const images = new Uint8Array(4 * IMAGE_BYTES);
  for (let i = 0; i < 4; i++) images.set(image(20 + i), i * IMAGE_BYTES);
  const labels = Int32Array.of(0, 1, 2, 3);
  const identity = { mean: [0, 0, 0], std: [1 / 255, 1 / 255, 1 / 255] } as const; // output = the byte itself
  const batch = makeBatch({ images, labels }, [3, 1, 2], {
    normalization: identity,
    augment: CIFAR_AUGMENT,
    rng: new Rng(99),
    index: 5,
  });
  assert.equal(batch.index, 5);
  const rng = new Rng(99);
  for (const [k, i] of [3, 1, 2].entries()) {
    const want = augmentImage(
      images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES),
      drawAugmentation(rng, CIFAR_AUGMENT),
      4,
    );
    const got = batch.images.subarray(k * IMAGE_BYTES, (k + 1) * IMAGE_BYTES);
    for (let j = 0; j < IMAGE_BYTES; j++) assert.ok(Math.abs(got[j] - want[j]) < 1e-3, `image ${k} value ${j}`);
  }
});

Deno.test("channelStats: mean and population std per channel in [0, 1] units", () => {
  const images = new Uint8Array(2 * IMAGE_BYTES);
  images.fill(255, 0, 1024); // image 0, red: all 255
  images.fill(51, IMAGE_BYTES + 1024, IMAGE_BYTES + 2048); // image 1, green: all 51
  const { mean, std } = channelStats({ images, labels: Int32Array.of(0, 1), numClasses: 2 });
  assert.deepEqual(mean, [0.5, 0.1, 0]);
  assert.ok(Math.abs(std[0] - 0.5) < 1e-12 && Math.abs(std[1] - 0.1) < 1e-12 && std[2] === 0);
});
