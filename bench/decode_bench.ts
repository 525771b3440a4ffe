/**
 * JPEG and PNG decoding to RGB bytes by each npm candidate, one image at a time on one thread: how the
 * ImageFolder decoder was chosen. Each iteration decodes the next image of the set, so `iter/s` is images/s.
 *
 *   deno bench -A bench/decode_bench.ts
 *   deno run -A bench/decode_bench.ts      # a table: images/s of wall time and per CPU-second
 *
 * The images: see `_photos.ts` (`PHOTOS=<folder>`, else 32 generated photo-like 500 × 375 JPEGs and 8 PNGs).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { photoFolder } from "./_photos.ts";
import process from "node:process";
import sharp from "sharp";
import jpeg from "jpeg-js";
import decodeJsquashJpeg from "@jsquash/jpeg/decode.js";
import decodeJsquashPng from "@jsquash/png/decode.js";
import { decode as decodeFastPng } from "fast-png";
// @ts-types="@types/pngjs"
import { PNG } from "pngjs";

sharp.concurrency(1);
sharp.cache(false);

const dir = await photoFolder();
const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
const read = (ext: string) => names.filter((n) => n.endsWith(ext)).map((n) => Deno.readFileSync(join(dir, n)));
const jpegs = read(".jpg");
const pngs = read(".png");
if (!jpegs.length || !pngs.length) throw new Error(`${dir}: needs .jpg and .png files`);

/** Round-robin over a set, so every iteration decodes a different file. */
function cycle(files: Uint8Array[]): () => Uint8Array {
  let i = 0;
  return () => files[i++ % files.length];
}

/** A copy in its own ArrayBuffer, as the wasm decoders take an ArrayBuffer (copying ~80 kB is ~10 µs). */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer;
}

interface Candidate {
  readonly name: string;
  readonly format: "jpeg" | "png";
  readonly decode: (bytes: Uint8Array) => unknown;
}

const CANDIDATES: readonly Candidate[] = [
  { name: "sharp (libvips, native)", format: "jpeg", decode: (b) => sharp(b).raw().toBuffer() },
  { name: "@jsquash/jpeg (mozjpeg, wasm)", format: "jpeg", decode: (b) => decodeJsquashJpeg(ownBuffer(b)) },
  {
    name: "jpeg-js (pure JS)",
    format: "jpeg",
    decode: (b) => jpeg.decode(b, { useTArray: true, formatAsRGBA: false }),
  },
  { name: "sharp (libvips, native)", format: "png", decode: (b) => sharp(b).raw().toBuffer() },
  { name: "@jsquash/png (wasm)", format: "png", decode: (b) => decodeJsquashPng(ownBuffer(b)) },
  { name: "fast-png (pure JS)", format: "png", decode: (b) => decodeFastPng(b) },
  { name: "pngjs (pure JS)", format: "png", decode: (b) => PNG.sync.read(Buffer.from(b)) },
];

/**
 * `deno run -A bench/decode_bench.ts`: every candidate decodes the whole set `ROUNDS` times (default 5), one
 * image at a time; prints images per second of wall time (median round) and per second of the process's CPU
 * time (all threads), which a machine shared with other work disturbs much less.
 */
async function measure(): Promise<void> {
  const rounds = Number(Deno.env.get("ROUNDS") ?? 5);
  console.log(
    `${jpegs.length} JPEGs, ${pngs.length} PNGs from ${dir}; ${rounds} rounds; ${navigator.hardwareConcurrency} cores`,
  );
  console.log("| format | decoder | images/s (wall, median round) | images per CPU-second |");
  console.log("| --- | --- | ---: | ---: |");
  for (const { name, format, decode } of CANDIDATES) {
    const files = format === "jpeg" ? jpegs : pngs;
    for (const f of files.slice(0, 2)) await decode(f); // warm up (wasm compilation, addon load)
    const rates: number[] = [];
    const cpuBefore = process.cpuUsage();
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      for (const f of files) await decode(f);
      rates.push(files.length / ((performance.now() - t0) / 1000));
    }
    const cpu = process.cpuUsage(cpuBefore);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    rates.sort((a, b) => a - b);
    const median = rates[rates.length >> 1];
    const perCpu = (rounds * files.length) / cpuSeconds;
    console.log(`| ${format} | ${name} | ${median.toFixed(1)} | ${perCpu.toFixed(1)} |`);
  }
}

if (import.meta.main) {
  await measure();
} else {
  const next = { jpeg: cycle(jpegs), png: cycle(pngs) };
  for (const { name, format, decode } of CANDIDATES) {
    Deno.bench(name, { group: format, baseline: name.startsWith("sharp") }, async () => {
      await decode(next[format]());
    });
  }
}
