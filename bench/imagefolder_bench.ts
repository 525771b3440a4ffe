/**
 * The ImageFolder path on photo-sized images, stage by stage: reading and decoding (sharp, one image per
 * iteration), the transforms alone (one image per iteration, so `iter/s` is images/s), the training batch as the
 * loader builds it from decoded images (RandomResizedCrop 224, flip, normalisation into NCHW float32; 32 images
 * per iteration), then whole training epochs of the loader over 256 JPEGs with 0, 1 and 2 workers (divide 256 by
 * the time per iteration for images/s). With `bench/steps_bench.ts`'s ResNet AT step (`AT_BENCH_WORKLOADS=resnet`)
 * these say where the time of an ImageNet step goes.
 *
 *   deno bench -A bench/imagefolder_bench.ts
 *   deno run -A bench/imagefolder_bench.ts      # a table: images/s of wall time and per CPU-second
 *
 * Images: see `_photos.ts` (`PHOTOS=<folder>`, else 32 generated photo-like 500 × 375 JPEGs).
 *
 * @module
 */
import { join } from "node:path";
import process from "node:process";
import { photoFolder } from "./_photos.ts";
import { Rng } from "../src/rng.ts";
import { openImageFolder } from "../src/data/image_folder.ts";
import { ImageFolderLoader } from "../src/data/image_folder_loader.ts";
import { evalTransform, trainTransform } from "../src/data/image_transforms.ts";
import { IMAGENET_NORMALIZATION } from "../src/data/normalization.ts";
import { readImage } from "../src/data/_decode.ts";
import { prepareImageBatch } from "../src/data/_image_batch.ts";

const photos = await photoFolder();
const jpegs = [...Deno.readDirSync(photos)].map((e) => e.name).filter((n) => n.endsWith(".jpg")).sort();
const images = await Promise.all(jpegs.map((n) => readImage(join(photos, n))));

// An ImageFolder of 256 images (the JPEGs, hard-linked 8 times) in two classes.
const IMAGES = 256;
const root = await Deno.makeTempDir({ prefix: "imagefolder_bench_tree_" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
for (let k = 0; k < IMAGES; k++) {
  const dir = join(root, "train", `class${k % 2}`);
  if (k < 2) await Deno.mkdir(dir, { recursive: true });
  await Deno.link(join(photos, jpegs[k % jpegs.length]), join(dir, `${k}.jpg`));
}
const folder = await openImageFolder(root, { split: "train" });
const BATCH = 32;
const loader = (workers: number) => new ImageFolderLoader(folder, { batchSize: BATCH, train: true, workers });

/** The loader's training batch `index` from the decoded images: crops, flips and normalisation, no decoding. */
const spec = { imageSize: 224, train: true, normalization: IMAGENET_NORMALIZATION, seed: 1 };
const files = Int32Array.from({ length: BATCH }, (_, k) => k);
const batchOfDecoded = (index: number) =>
  prepareImageBatch(spec, 0, index, files, files, (f) => Promise.resolve(images[f % images.length]));

/**
 * `deno run -A bench/imagefolder_bench.ts`: a table of images/s (wall) and images per CPU-second of the process
 * (all threads) for the transforms alone, and for training epochs of 256 images with 0, 1 and 2 workers.
 */
async function measure(): Promise<void> {
  const row = async (what: string, count: number, run: () => Promise<void> | void) => {
    await run(); // warm up
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await run();
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const perCpu = count / ((cpu.user + cpu.system) / 1e6);
    console.log(`| ${what} | ${(count / wall).toFixed(1)} | ${perCpu.toFixed(1)} |`);
  };
  console.log(`${navigator.hardwareConcurrency} cores; images ${images[0].width} × ${images[0].height} JPEGs`);
  console.log("| what | images/s (wall) | images per CPU-second |");
  console.log("| --- | ---: | ---: |");
  const rng = new Rng(1);
  await row("read + decode (sharp, one thread)", 4 * jpegs.length, async () => {
    for (let r = 0; r < 4; r++) for (const n of jpegs) await readImage(join(photos, n));
  });
  await row(`training batch from decoded images (crop + flip + normalise), ${BATCH} a batch`, 8 * BATCH, async () => {
    for (let i = 0; i < 8; i++) await batchOfDecoded(i);
  });
  await row("trainTransform 224 (decoded image in)", 4 * images.length, () => {
    for (let r = 0; r < 4; r++) for (const image of images) trainTransform(image, 224, rng);
  });
  await row("evalTransform 224 (decoded image in)", 4 * images.length, () => {
    for (let r = 0; r < 4; r++) for (const image of images) evalTransform(image, 224);
  });
  for (const workers of [0, 1, 2]) {
    const l = loader(workers);
    await row(`training epoch, ${workers} workers (read + decode + transform + normalise)`, IMAGES, async () => {
      for await (const _ of l.epoch(0));
    });
  }
}

if (import.meta.main) {
  await measure();
} else {
  let i = 0;
  const rng = new Rng(1);
  Deno.bench("read + decode (sharp, one thread)", { group: "decode" }, async () => {
    await readImage(join(photos, jpegs[i++ % jpegs.length]));
  });
  Deno.bench(
    `training batch of ${BATCH} from decoded images (RandomResizedCrop + flip + normalise)`,
    { group: "batch" },
    async () => {
      await batchOfDecoded(i++);
    },
  );
  Deno.bench("trainTransform 224 (RandomResizedCrop + flip)", { group: "transform" }, () => {
    trainTransform(images[i++ % images.length], 224, rng);
  });
  Deno.bench("evalTransform 224 (Resize 256 + CenterCrop)", { group: "transform" }, () => {
    evalTransform(images[i++ % images.length], 224);
  });
  for (const workers of [0, 1, 2]) {
    const l = loader(workers);
    Deno.bench(
      `training epoch of ${IMAGES} images, ${workers} workers`,
      { group: "loader", n: 3, warmup: 1 },
      async () => {
        for await (const _ of l.epoch(0));
      },
    );
  }
}
