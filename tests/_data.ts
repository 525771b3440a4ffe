/**
 * Shared by the data tests: tiny CIFAR-format files and archives built on the fly, in temporary folders that are
 * always removed.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
// @ts-types="@types/tar-stream"
import tar from "tar-stream";
import { CIFAR_LAYOUTS, type CifarName } from "../src/data/cifar.ts";
import { IMAGE_BYTES } from "../src/data/dataset.ts";

/** Runs `fn` with a fresh temporary folder and removes it afterwards, whatever happens. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "at_data_test_" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The pixel byte a synthetic record holds: a function of the image's global number and the offset. */
export function pixelOf(image: number, offset: number): number {
  return (image * 131 + offset * 7 + (offset >> 10) * 17) & 0xff;
}

/** The label a synthetic image gets. */
export function labelOf(image: number, numClasses: number): number {
  return (image * 7 + 3) % numClasses;
}

/**
 * `count` CIFAR records numbered from `first`: CIFAR-10 (1 label byte) or CIFAR-100 (coarse, fine, then pixels).
 */
export function cifarRecords(name: CifarName, first: number, count: number): Uint8Array {
  const layout = CIFAR_LAYOUTS[name];
  const recordBytes = layout.labelBytes + IMAGE_BYTES;
  const out = new Uint8Array(count * recordBytes);
  for (let r = 0; r < count; r++) {
    const image = first + r;
    const at = r * recordBytes;
    const label = labelOf(image, layout.numClasses);
    if (layout.labelBytes === 1) out[at] = label;
    else {
      out[at] = label % 20;
      out[at + 1] = label;
    }
    for (let k = 0; k < IMAGE_BYTES; k++) out[at + layout.labelBytes + k] = pixelOf(image, k);
  }
  return out;
}

/** The contents of a tiny split: file name → bytes, `perFile` records each, numbered on across files. */
export function tinyCifarFiles(name: CifarName, perFile: number): Map<string, Uint8Array> {
  const layout = CIFAR_LAYOUTS[name];
  const files = new Map<string, Uint8Array>();
  let image = 0;
  for (const f of [...layout.train, ...layout.test]) {
    files.set(f.name, cifarRecords(name, image, perFile));
    image += perFile;
  }
  return files;
}

/** Writes a tiny CIFAR distribution (`perFile` records per file) under `dataroot`. */
export async function writeTinyCifar(dataroot: string, name: CifarName, perFile: number): Promise<void> {
  const folder = join(dataroot, CIFAR_LAYOUTS[name].folder);
  await Deno.mkdir(folder, { recursive: true });
  for (const [file, bytes] of tinyCifarFiles(name, perFile)) await Deno.writeFile(join(folder, file), bytes);
}

/** A `.tar.gz` holding `entries` (path → bytes). */
export async function tarGz(entries: Map<string, Uint8Array>): Promise<Uint8Array> {
  const pack = tar.pack();
  for (const [name, bytes] of entries) pack.entry({ name, size: bytes.length }, Buffer.from(bytes));
  pack.finalize();
  const chunks: Uint8Array[] = [];
  for await (const chunk of pack as AsyncIterable<Uint8Array>) chunks.push(chunk);
  return new Uint8Array(gzipSync(concat(chunks)));
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Throws unless `a` and `b` hold the same values. */
export function assertSameArray(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: lengths ${a.length} and ${b.length} differ`);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) {
      throw new Error(`${what}: first difference at ${i}: ${a[i]} vs ${b[i]}`);
    }
  }
}
