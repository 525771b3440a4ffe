/**
 * CIFAR-10 and CIFAR-100 readers for the official binary distribution ("version for C programs"): fixed-size
 * records of label bytes followed by 3072 pixel bytes (1024 red, 1024 green, 1024 blue, row-major).
 *
 * @module
 */
import { join } from "node:path";
import { IMAGE_BYTES, type ImageDataset, sharedBytes } from "./dataset.ts";
import { DataFileError } from "./errors.ts";

/** The CIFAR variants, named as in the reference code's `--dataset`. */
export type CifarName = "CIFAR10" | "CIFAR100";

/** One binary file of a CIFAR distribution and the number of records the official one holds. */
export interface CifarFile {
  readonly name: string;
  readonly records: number;
}

/** Where a CIFAR variant's binary files live under `dataroot`, and how their records are laid out. */
export interface CifarLayout {
  /** The folder the archive unpacks to, under `dataroot`. */
  readonly folder: string;
  readonly train: readonly CifarFile[];
  readonly test: readonly CifarFile[];
  /** Label bytes before the pixels of each record. */
  readonly labelBytes: number;
  /** Which label byte is the class (CIFAR-100: the fine label, byte 1). */
  readonly labelIndex: number;
  /** Number of values each label byte may take, in record order (CIFAR-100: 20 coarse, 100 fine). */
  readonly labelRanges: readonly number[];
  readonly numClasses: number;
}

/**
 * The official layouts: CIFAR-10 in `cifar-10-batches-bin/` (five training batches and a test batch of 10,000
 * records of 1 + 3072 bytes), CIFAR-100 in `cifar-100-binary/` (`train.bin` 50,000 and `test.bin` 10,000 records
 * of 2 + 3072 bytes: coarse label, fine label, pixels; the fine label is the class).
 *
 * @example
 * ```ts
 * CIFAR_LAYOUTS.CIFAR100.folder; // "cifar-100-binary"
 * ```
 */
export const CIFAR_LAYOUTS: Readonly<Record<CifarName, CifarLayout>> = Object.freeze({
  CIFAR10: {
    folder: "cifar-10-batches-bin",
    train: [1, 2, 3, 4, 5].map((k) => ({ name: `data_batch_${k}.bin`, records: 10_000 })),
    test: [{ name: "test_batch.bin", records: 10_000 }],
    labelBytes: 1,
    labelIndex: 0,
    labelRanges: [10],
    numClasses: 10,
  },
  CIFAR100: {
    folder: "cifar-100-binary",
    train: [{ name: "train.bin", records: 50_000 }],
    test: [{ name: "test.bin", records: 10_000 }],
    labelBytes: 2,
    labelIndex: 1,
    labelRanges: [20, 100],
    numClasses: 100,
  },
});

/** Options of {@linkcode readCifar}. */
export interface ReadCifarOptions {
  /** The training split (`true`) or the test split (`false`). */
  readonly train: boolean;
  /**
   * Require each file to hold exactly the official number of records (default `true`); `false` accepts any whole,
   * non-zero number of records, for cut-down files.
   */
  readonly checkCount?: boolean;
}

/**
 * The paths of a split's binary files under `dataroot`, in reading order.
 *
 * @example
 * ```ts
 * cifarPaths("./data", "CIFAR10", true); // ["data/cifar-10-batches-bin/data_batch_1.bin", …]
 * ```
 */
export function cifarPaths(dataroot: string, name: CifarName, train: boolean): string[] {
  const layout = layoutOf(name);
  return (train ? layout.train : layout.test).map((f) => join(dataroot, layout.folder, f.name));
}

/**
 * Reads a CIFAR split from `dataroot` into one `[n, 3, 32, 32]` uint8 array and `[n]` labels (CIFAR-100: fine
 * labels). Throws a {@linkcode DataFileError} naming the file when one is missing (suggesting `--download`), when
 * its size is not a whole number of records or not the official count, or when a label is out of range.
 *
 * @example
 * ```ts
 * const train = await readCifar("./data", "CIFAR10", { train: true }); // 50,000 images, 10 classes
 * ```
 */
export async function readCifar(dataroot: string, name: CifarName, options: ReadCifarOptions): Promise<ImageDataset> {
  const layout = layoutOf(name);
  const files = options.train ? layout.train : layout.test;
  const checkCount = options.checkCount ?? true;
  const recordBytes = layout.labelBytes + IMAGE_BYTES;
  const split = options.train ? "training" : "test";

  // Check every file's size before reading any, so a bad last file fails fast.
  const counts: number[] = [];
  for (const file of files) {
    const path = join(dataroot, layout.folder, file.name);
    let size: number;
    try {
      size = (await Deno.stat(path)).size;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      throw new DataFileError(
        "missing",
        path,
        `${name} ${split} data: ${path} does not exist. Pass --download to fetch the official binary archive into ` +
          `${dataroot}, or point --dataroot at the folder that holds ${layout.folder}/`,
        { cause: e },
      );
    }
    counts.push(recordCount(path, size, recordBytes, layout.labelBytes, checkCount ? file.records : null, name));
  }

  const n = counts.reduce((a, b) => a + b, 0);
  const images = sharedBytes(n * IMAGE_BYTES);
  const labels = new Int32Array(n);
  let at = 0;
  for (const [k, file] of files.entries()) {
    const path = join(dataroot, layout.folder, file.name);
    const bytes = await Deno.readFile(path);
    // The file may have changed since the size check.
    recordCount(path, bytes.length, recordBytes, layout.labelBytes, counts[k], name);
    for (let r = 0; r < counts[k]; r++, at++) {
      const record = r * recordBytes;
      for (const [b, range] of layout.labelRanges.entries()) {
        const value = bytes[record + b];
        if (value >= range) {
          throw new DataFileError(
            "label",
            path,
            `${path}: record ${r} has label byte ${b} = ${value}, outside [0, ${range}); the file is corrupt or not ` +
              `a ${name} file. Delete ${join(dataroot, layout.folder)} and run again with --download`,
          );
        }
      }
      labels[at] = bytes[record + layout.labelIndex];
      images.set(bytes.subarray(record + layout.labelBytes, record + recordBytes), at * IMAGE_BYTES);
    }
  }
  return { images, labels, numClasses: layout.numClasses };
}

function recordCount(
  path: string,
  size: number,
  recordBytes: number,
  labelBytes: number,
  expected: number | null,
  name: CifarName,
): number {
  const fix = `the file is truncated or corrupt: delete it and run again with --download`;
  if (size % recordBytes !== 0) {
    throw new DataFileError(
      "size",
      path,
      `${path}: ${size} bytes is not a whole number of ${recordBytes}-byte records (${labelBytes} label ` +
        `byte${labelBytes > 1 ? "s" : ""} + 3072 pixels): ${Math.floor(size / recordBytes)} whole and ` +
        `${size % recordBytes} bytes over; ${fix}`,
    );
  }
  const count = size / recordBytes;
  if (expected !== null && count !== expected) {
    throw new DataFileError(
      "size",
      path,
      `${path}: expected ${expected} records (${expected * recordBytes} bytes) as in the official ${name} ` +
        `distribution, found ${count} (${size} bytes); ${fix}`,
    );
  }
  if (count === 0) throw new DataFileError("size", path, `${path}: the file is empty (0 records); ${fix}`);
  return count;
}

function layoutOf(name: string): CifarLayout {
  const layout = (CIFAR_LAYOUTS as Record<string, CifarLayout>)[name];
  if (!layout) {
    throw new RangeError(`CIFAR: unknown data set ${JSON.stringify(name)}; expected "CIFAR10" or "CIFAR100"`);
  }
  return layout;
}
