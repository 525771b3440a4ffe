import assert from "node:assert/strict";
import fc from "fast-check";
import { Rng } from "../src/rng.ts";
import {
  centerCropBox,
  type CropRng,
  evalResizeSize,
  fallbackCropBox,
  randomResizedCropBox,
  resizedShorterSide,
  roundHalfEven,
} from "../src/data/crop.ts";
import { evalTransform, trainTransform } from "../src/data/image_transforms.ts";
import { type CropBox, resizeBilinear } from "../src/data/resample.ts";
import { flipHorizontal, type RgbImage } from "../src/data/rgb_image.ts";
import { readImage } from "../src/data/_decode.ts";

const PIL_DIR = new URL("./fixtures_pil/", import.meta.url);

interface PilCase {
  readonly source: string;
  readonly kind: "decode" | "eval" | "crop";
  readonly size?: number;
  readonly box?: [number, number, number, number];
  readonly width: number;
  readonly height: number;
  readonly expected: string;
}

const manifest: { pillow: string; cases: PilCase[] } = JSON.parse(
  await Deno.readTextFile(new URL("manifest.json", PIL_DIR)),
);

function randomImage(width: number, height: number, seed: number): RgbImage {
  const rng = new Rng(seed);
  return { data: Uint8Array.from({ length: width * height * 3 }, () => rng.int(256)), width, height };
}

/** Fails with the number of differing bytes, the largest difference and where the first one is. */
function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} bytes, expected ${expected.length}`);
  let differ = 0;
  let max = 0;
  let first = -1;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (d === 0) continue;
    if (first < 0) first = i;
    differ++;
    max = Math.max(max, d);
  }
  if (differ) assert.fail(`${what}: ${differ} bytes differ, by up to ${max}; the first at byte ${first}`);
}

function pilCases(kind: PilCase["kind"]): PilCase[] {
  const cases = manifest.cases.filter((c) => c.kind === kind);
  assert.ok(cases.length >= 9, `tests/fixtures_pil has only ${cases.length} ${kind} cases`);
  return cases;
}

async function decoded(source: string): Promise<RgbImage> {
  return await readImage(new URL(source, PIL_DIR).pathname);
}

async function expected(c: PilCase): Promise<Uint8Array> {
  return await Deno.readFile(new URL(c.expected, PIL_DIR));
}

Deno.test("decoding equals PIL's Image.open(f).convert('RGB') for RGB, 4:4:4, gray and CMYK JPEGs and RGB, RGBA, palette PNGs", async () => {
  for (const c of pilCases("decode")) {
    const image = await decoded(c.source);
    assert.deepEqual([image.width, image.height], [c.width, c.height], c.source);
    assertSameBytes(image.data, await expected(c), `${c.source} decoded`);
  }
});

Deno.test("evalTransform equals Pillow's Resize(round(size·256/224)) + CenterCrop(size), byte for byte", async () => {
  for (const c of pilCases("eval")) {
    const out = evalTransform(await decoded(c.source), c.size!);
    assert.deepEqual([out.width, out.height], [c.size, c.size]);
    assertSameBytes(out.data, await expected(c), `${c.source} eval ${c.size}`);
  }
});

Deno.test("resizeBilinear of a crop box equals Pillow's crop(box).resize((s, s), BILINEAR), byte for byte", async () => {
  for (const c of pilCases("crop")) {
    const [top, left, height, width] = c.box!;
    const out = resizeBilinear(await decoded(c.source), {
      box: { top, left, height, width },
      width: c.size!,
      height: c.size!,
    });
    assertSameBytes(out.data, await expected(c), `${c.source} box [${c.box}] → ${c.size}`);
  }
});

Deno.test("resizeBilinear: same size is the identity; a window equals the same crop of the whole output", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 40 }),
      fc.integer(),
      (w, h, ow, oh, seed) => {
        const image = randomImage(w, h, seed);
        assertSameBytes(resizeBilinear(image, { width: w, height: h }).data, image.data, "identity");
        const whole = resizeBilinear(image, { width: ow, height: oh });
        const rng = new Rng(seed);
        const ww = 1 + rng.int(ow);
        const wh = 1 + rng.int(oh);
        const window: CropBox = { top: rng.int(oh - wh + 1), left: rng.int(ow - ww + 1), height: wh, width: ww };
        const part = resizeBilinear(image, { width: ow, height: oh, window });
        const cropped = new Uint8Array(ww * wh * 3);
        for (let y = 0; y < wh; y++) {
          const from = ((window.top + y) * ow + window.left) * 3;
          cropped.set(whole.data.subarray(from, from + ww * 3), y * ww * 3);
        }
        assertSameBytes(part.data, cropped, `window ${JSON.stringify(window)} of ${ow} × ${oh}`);
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("resizeBilinear: a flat image stays flat at any scale (weights sum to one in fixed point)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 300 }),
      fc.integer({ min: 1, max: 300 }),
      fc.integer({ min: 1, max: 64 }),
      fc.integer({ min: 1, max: 64 }),
      fc.integer({ min: 0, max: 255 }),
      (w, h, ow, oh, v) => {
        const image = { data: new Uint8Array(w * h * 3).fill(v), width: w, height: h };
        const out = resizeBilinear(image, { width: ow, height: oh });
        assert.ok(out.data.every((x) => x === v), `${w} × ${h} of ${v} → ${ow} × ${oh} is not flat`);
      },
    ),
    { numRuns: 80 },
  );
});

Deno.test("resizeBilinear: a box or window outside the image, or a bad size, names itself", () => {
  const image = randomImage(10, 8, 1);
  assert.throws(
    () => resizeBilinear(image, { width: 4, height: 4, box: { top: 2, left: 3, height: 7, width: 4 } }),
    /resizeBilinear: box \{top: 2, left: 3, height: 7, width: 4\} is not inside the image \(10 × 8\)/,
  );
  assert.throws(
    () => resizeBilinear(image, { width: 4, height: 4, window: { top: 0, left: 1, height: 4, width: 4 } }),
    /window .* is not inside the output \(4 × 4\)/,
  );
  assert.throws(() => resizeBilinear(image, { width: 0, height: 4 }), /output size must be positive integers/);
  assert.throws(
    () => resizeBilinear({ data: new Uint8Array(5), width: 2, height: 1 }, { width: 1, height: 1 }),
    /image data has 5 bytes but 2 × 1 RGB needs 6/,
  );
});

Deno.test("roundHalfEven is Python's round; the eval geometry is torchvision's", () => {
  assert.deepEqual([0.5, 1.5, 2.5, 34.5, 35.5, 2.4, 2.6, -1.5].map(roundHalfEven), [0, 2, 2, 34, 36, 2, 3, -2]);
  assert.equal(evalResizeSize(224), 256);
  assert.equal(evalResizeSize(128), 146);
  assert.deepEqual(resizedShorterSide(500, 375, 256), { width: 341, height: 256 });
  assert.deepEqual(resizedShorterSide(375, 500, 256), { width: 256, height: 341 });
  assert.deepEqual(resizedShorterSide(300, 300, 256), { width: 256, height: 256 });
  // (341 − 224) / 2 = 58.5: Python rounds to 58.
  assert.deepEqual(centerCropBox(341, 256, 224), { top: 16, left: 58, height: 224, width: 224 });
  assert.deepEqual(centerCropBox(343, 256, 224), { top: 16, left: 60, height: 224, width: 224 });
  assert.throws(() => centerCropBox(200, 256, 224), /size must be an integer in \[1, 200\]/);
});

/** A generator that replays `uniforms` and `ints` (each `int(n)` returns min(next, n − 1)) and counts draws. */
function scripted(uniforms: number[], ints: number[] = []): CropRng & { used: () => [number, number] } {
  let u = 0;
  let i = 0;
  return {
    uniform: () => uniforms[u++],
    int: (n: number) => Math.min(ints[i++], n - 1),
    used: () => [u, i],
  };
}

Deno.test("randomResizedCropBox: inside the image; area and ratio in range up to rounding, or the central fallback", () => {
  const [s0, s1] = [0.08, 1];
  const [r0, r1] = [3 / 4, 4 / 3];
  let fallbacks = 0;
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 1, max: 2000 }), fc.integer(), (w, h, seed) => {
      const box = randomResizedCropBox(new Rng(seed), w, h);
      assert.ok(box.width >= 1 && box.height >= 1, JSON.stringify(box));
      assert.ok(box.top >= 0 && box.left >= 0 && box.top + box.height <= h && box.left + box.width <= w);
      if (JSON.stringify(box) === JSON.stringify(fallbackCropBox(w, h, r0, r1))) {
        fallbacks++;
        return;
      }
      // width = round(√(a·r)), height = round(√(a/r)) for some area a ∈ [s0, s1]·w·h and ratio r ∈ [r0, r1].
      const area = w * h;
      const [bw, bh] = [box.width, box.height];
      assert.ok((bw - 0.5) * (bh - 0.5) <= s1 * area && (bw + 0.5) * (bh + 0.5) >= s0 * area, `area of ${bw} × ${bh}`);
      assert.ok((bw - 0.5) / (bh + 0.5) <= r1 && (bw + 0.5) / (bh - 0.5) >= r0, `ratio of ${bw} × ${bh}`);
    }),
    { numRuns: 400 },
  );
  // Thin images make every attempt fail: the runs must have met both outcomes.
  assert.ok(fallbacks > 0 && fallbacks < 400, `${fallbacks} of 400 boxes were the fallback`);
});

Deno.test("randomResizedCropBox: 10 failed attempts, then the centred crop at the nearer ratio bound", () => {
  // On a 1000 × 100 image, area fraction 1 at ratio 4/3 gives a 365 × 274 crop: too tall, every time.
  const always = scripted(Array(20).fill(0.999999));
  assert.deepEqual(randomResizedCropBox(always, 1000, 100), { top: 0, left: 433, height: 100, width: 133 });
  assert.deepEqual(always.used(), [20, 0]);
  assert.deepEqual(fallbackCropBox(100, 1000, 3 / 4, 4 / 3), { top: 433, left: 0, height: 133, width: 100 });
  assert.deepEqual(fallbackCropBox(120, 100, 3 / 4, 4 / 3), { top: 0, left: 0, height: 100, width: 120 });
  // The tenth attempt succeeds: area 0.08 + 0.92·0 of 1000 × 100 = 8000 at ratio exp(log(3/4) + log(16/9)·0.5) = 1.
  const tenth = scripted([...Array(18).fill(0.999999), 0, 0.5], [7, 900]);
  assert.deepEqual(randomResizedCropBox(tenth, 1000, 100), { top: 7, left: 900, height: 89, width: 89 });
  assert.deepEqual(tenth.used(), [20, 2]);
});

Deno.test("randomResizedCropBox: the first fitting attempt, then top and left; custom scale and ratio", () => {
  // area 0.5 · 400 · 300 = 60000 at ratio 1: 245 × 245, top in [0, 55], left in [0, 155].
  const rng = scripted([(0.5 - 0.08) / 0.92, 0.5], [55, 3]);
  assert.deepEqual(randomResizedCropBox(rng, 400, 300), { top: 55, left: 3, height: 245, width: 245 });
  const fixed = scripted([0.3, 0.7], [0, 0]);
  assert.deepEqual(randomResizedCropBox(fixed, 400, 300, { scale: [0.25, 0.25], ratio: [2, 2] }), {
    top: 0,
    left: 0,
    height: 122,
    width: 245,
  });
  assert.throws(() => randomResizedCropBox(new Rng(0), 10, 10, { scale: [0.5, 0.1] }), /scale must be \[min, max\]/);
  assert.throws(() => randomResizedCropBox(new Rng(0), 0, 10), /must be positive integers, got 0 × 10/);
});

Deno.test("trainTransform: the crop box's resize, mirrored when the draw after the box is below 0.5", () => {
  const image = randomImage(50, 40, 3);
  for (const [flipDraw, flipped] of [[0.2, true], [0.7, false]] as const) {
    const draws = [(0.5 - 0.08) / 0.92, 0.5, flipDraw];
    const out = trainTransform(image, 12, scripted(draws, [2, 5]));
    const box = randomResizedCropBox(scripted(draws, [2, 5]), 50, 40);
    const resized = resizeBilinear(image, { box, width: 12, height: 12 });
    assertSameBytes(out.data, (flipped ? flipHorizontal(resized) : resized).data, `flip draw ${flipDraw}`);
  }
  assert.deepEqual([...flipHorizontal({ data: Uint8Array.of(1, 2, 3, 4, 5, 6), width: 2, height: 1 }).data], [
    4,
    5,
    6,
    1,
    2,
    3,
  ]);
});
