/**
 * torchvision's `ImageFolder` layout: `<root>/<split>/<class>/**&#47;<image>`. Classes are the sub-folders of the
 * split, sorted by name, and numbered in that order; a class's images are found recursively (symbolic links
 * followed), folders visited in sorted order and files sorted within each, and kept when their extension is one
 * of torchvision's `IMG_EXTENSIONS`, whatever its case. Sorting is by Unicode code point, as Python's `sorted`.
 * So the file list, and with it every label and every epoch's order, matches torchvision's on the same folder.
 *
 * Layout errors stop at once with a {@linkcode DataFileError} naming the folder: a missing split, a split with
 * no class folder, a class with no image (torchvision raises for it too), or a split whose classes differ from the
 * list it is checked against. Images are not opened here: an unreadable one is an error when a batch needs it.
 *
 * @module
 */
import { join } from "node:path";
import { optionsChecker } from "../_options.ts";
import { DataFileError } from "./errors.ts";

/** torchvision's `IMG_EXTENSIONS`, matched case-insensitively. */
export const IMAGE_EXTENSIONS: readonly string[] = Object.freeze([
  ".jpg",
  ".jpeg",
  ".png",
  ".ppm",
  ".bmp",
  ".pgm",
  ".tif",
  ".tiff",
  ".webp",
]);

/** The splits of an ImageNet-style folder. */
export type ImageFolderSplit = "train" | "val";

/** One split of an image folder: every image's path and label. */
export interface ImageFolder {
  /** The split's folder, `<root>/<split>`. */
  readonly root: string;
  /** Which split. */
  readonly split: ImageFolderSplit;
  /** Class names (the sub-folders), sorted; label `i` is `classes[i]`. */
  readonly classes: readonly string[];
  /** Image paths relative to `root` (`<class>/…/<file>`, `/`-separated), in torchvision's order. */
  readonly files: readonly string[];
  /** `[files.length]` labels, in `[0, classes.length)`. */
  readonly labels: Int32Array;
}

/** Options of {@linkcode openImageFolder}. */
export interface OpenImageFolderOptions {
  /** The sub-folder of `root` to read. */
  readonly split: ImageFolderSplit;
  /** The classes the split must have, in order (the training split's, to check `val`). Default: any. */
  readonly classes?: readonly string[];
}

const checkOpenOptions = optionsChecker<OpenImageFolderOptions>("openImageFolder", {
  split: { expected: '"train" or "val"', test: (v) => v === "train" || v === "val", required: true },
  classes: {
    expected: "an array of class names",
    test: (v) => Array.isArray(v) && v.every((c) => typeof c === "string"),
  },
});

/**
 * Lists one split of an image folder.
 *
 * @example
 * ```ts
 * const train = await openImageFolder("/data/imagenet", { split: "train" });
 * const val = await openImageFolder("/data/imagenet", { split: "val", classes: train.classes });
 * train.files[0]; // "n01440764/n01440764_10026.JPEG", train.labels[0] === 0
 * ```
 */
export async function openImageFolder(root: string, options: OpenImageFolderOptions): Promise<ImageFolder> {
  if (typeof root !== "string") throw new TypeError(`openImageFolder: root must be a folder path, got ${typeof root}`);
  checkOpenOptions(options);
  const { split } = options;
  const dir = join(root, split);
  if (!(await isDirectory(dir))) {
    throw new DataFileError(
      "missing",
      dir,
      `${dir}: no ${split} folder; an image folder holds ${split}/<class>/<image> (torchvision's ImageFolder layout)`,
    );
  }
  const classes = await classFolders(dir);
  if (classes.length === 0) {
    throw new DataFileError("layout", dir, `${dir}: no class folder; expected ${split}/<class>/<image>`);
  }
  if (options.classes) checkSameClasses(dir, classes, options.classes);
  const files: string[] = [];
  const labels: number[] = [];
  const empty: string[] = [];
  for (let label = 0; label < classes.length; label++) {
    const found = await imagesUnder(dir, classes[label]);
    if (found.length === 0) empty.push(classes[label]);
    for (const file of found) {
      files.push(file);
      labels.push(label);
    }
  }
  if (empty.length > 0) {
    const shown = empty.slice(0, 5).map((c) => join(dir, c)).join(", ") + (empty.length > 5 ? ", …" : "");
    throw new DataFileError(
      "layout",
      join(dir, empty[0]),
      `${dir}: ${empty.length} class folder(s) hold no image (${shown}); ` +
        `extensions read: ${IMAGE_EXTENSIONS.join(" ")}`,
    );
  }
  return { root: dir, split, classes, files, labels: Int32Array.from(labels) };
}

/**
 * Both splits of an ImageNet-style folder, `train/` and `val/`, checked to have the same classes.
 *
 * @example
 * ```ts
 * const { train, val } = await openImageFolderSplits("/data/imagenet");
 * ```
 */
export async function openImageFolderSplits(root: string): Promise<{ train: ImageFolder; val: ImageFolder }> {
  const train = await openImageFolder(root, { split: "train" });
  const val = await openImageFolder(root, { split: "val", classes: train.classes });
  return { train, val };
}

/** Whether `name` ends with one of {@linkcode IMAGE_EXTENSIONS}, in any case. */
export function hasImageExtension(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

/** Python's string order: by Unicode code point (JavaScript's `<` compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++; // both at the same surrogate pair
  }
  return a.length - b.length;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return false;
    throw e;
  }
}

/** The entries of `dir` that are folders (following links) and the others, each sorted. */
async function listDir(dir: string): Promise<{ dirs: string[]; files: string[] }> {
  const dirs: string[] = [];
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const folder = entry.isDirectory || (entry.isSymlink && await isDirectory(join(dir, entry.name)));
    (folder ? dirs : files).push(entry.name);
  }
  return { dirs: dirs.sort(compareCodePoints), files: files.sort(compareCodePoints) };
}

async function classFolders(dir: string): Promise<string[]> {
  return (await listDir(dir)).dirs;
}

/**
 * The images under `<dir>/<name>`, as paths relative to `dir`, in the order of torchvision's
 * `sorted(os.walk(…, followlinks=True))`: folders by path, then files by name.
 */
async function imagesUnder(dir: string, name: string): Promise<string[]> {
  const folders: string[] = [];
  const filesOf = new Map<string, string[]>();
  const walk = async (relative: string): Promise<void> => {
    const { dirs, files } = await listDir(join(dir, relative));
    folders.push(relative);
    filesOf.set(relative, files.filter(hasImageExtension));
    for (const sub of dirs) await walk(`${relative}/${sub}`);
  };
  await walk(name);
  return folders.sort(compareCodePoints).flatMap((folder) => filesOf.get(folder)!.map((f) => `${folder}/${f}`));
}

function checkSameClasses(dir: string, found: readonly string[], expected: readonly string[]): void {
  const have = new Set(found);
  const want = new Set(expected);
  const missing = expected.filter((c) => !have.has(c));
  const extra = found.filter((c) => !want.has(c));
  if (missing.length === 0 && extra.length === 0 && found.length === expected.length) return;
  const list = (names: string[]) => names.slice(0, 5).join(", ") + (names.length > 5 ? ", …" : "");
  const parts = [
    missing.length ? `${missing.length} missing (${list(missing)})` : "",
    extra.length ? `${extra.length} not expected (${list(extra)})` : "",
  ].filter(Boolean);
  throw new DataFileError(
    "layout",
    dir,
    `${dir}: its ${found.length} class folders differ from the ${expected.length} expected: ${parts.join("; ")}` +
      " (train/ and val/ must hold the same class folders)",
  );
}
