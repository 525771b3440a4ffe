/**
 * `--download`: fetches a CIFAR binary archive, checks its MD5 and unpacks it under `dataroot`. Every step writes
 * to a temporary name first and renames into place, so a failure never leaves half a file where the readers look.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { CIFAR_LAYOUTS, type CifarName } from "./cifar.ts";
import { DataFileError } from "./errors.ts";
import { byteProgress, type ProgressStream } from "./_progress.ts";
import { extractTarGz } from "./_tar.ts";

/** Where the official archives live; override with the `baseUrl` option or the `AT_CIFAR_URL` variable. */
export const DEFAULT_CIFAR_URL = "https://www.cs.toronto.edu/~kriz/";

/** An archive's file name and the MD5 the CIFAR page publishes for it. */
export interface CifarArchive {
  readonly file: string;
  readonly md5: string;
}

/**
 * The official binary archives and their published MD5 sums (from the CIFAR page; torchvision lists only the
 * Python-pickle archives).
 *
 * @example
 * ```ts
 * CIFAR_ARCHIVES.CIFAR10.file; // "cifar-10-binary.tar.gz"
 * ```
 */
export const CIFAR_ARCHIVES: Readonly<Record<CifarName, CifarArchive>> = Object.freeze({
  CIFAR10: { file: "cifar-10-binary.tar.gz", md5: "c32a1d4ab5d03f1284b67883e8d87530" },
  CIFAR100: { file: "cifar-100-binary.tar.gz", md5: "03b5dce01913d631647c71ecec9e9cb8" },
});

/** Options of {@linkcode downloadCifar}. */
export interface DownloadCifarOptions {
  /** Folder URL the archive is fetched from. Default: `AT_CIFAR_URL` if set, else {@linkcode DEFAULT_CIFAR_URL}. */
  readonly baseUrl?: string;
  /** The MD5 the archive must have. Default: the official one. */
  readonly md5?: string;
  /**
   * Progress reporting: `true` (default) draws on standard error (a live bar on a terminal, a line every two seconds
   * elsewhere), `false` is silent, or a stream to draw on.
   */
  readonly progress?: boolean | ProgressStream;
  /** Fetch and unpack again even when the files are already there. Default `false`. */
  readonly force?: boolean;
  /** Cancels the download. */
  readonly signal?: AbortSignal;
}

/**
 * The URL an archive is fetched from: `baseUrl`, else `AT_CIFAR_URL`, else the official site, plus the file name.
 *
 * @example
 * ```ts
 * cifarUrl("CIFAR10"); // "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
 * cifarUrl("CIFAR100", "http://127.0.0.1:8000/mirror"); // "http://127.0.0.1:8000/mirror/cifar-100-binary.tar.gz"
 * ```
 */
export function cifarUrl(name: CifarName, baseUrl?: string): string {
  const archive = archiveOf(name);
  const base = baseUrl ?? envBaseUrl() ?? DEFAULT_CIFAR_URL;
  return new URL(archive.file, base.endsWith("/") ? base : `${base}/`).href;
}

/**
 * Makes `dataroot/<folder>` (`cifar-10-batches-bin` or `cifar-100-binary`) hold the official binary files: does
 * nothing when they are all there; else fetches the archive (kept as `dataroot/<file>` and reused next time if its
 * MD5 still matches) with a progress bar, verifies its MD5, unpacks it and renames the folder into place. Returns
 * the folder's path. Throws a {@linkcode DataFileError} on an HTTP or network failure (naming the URL) or a checksum
 * mismatch (expected and actual MD5); the partial download is deleted either way.
 *
 * @example
 * ```ts
 * await downloadCifar("./data", "CIFAR10");
 * const train = await readCifar("./data", "CIFAR10", { train: true });
 * ```
 */
export async function downloadCifar(
  dataroot: string,
  name: CifarName,
  options: DownloadCifarOptions = {},
): Promise<string> {
  const archive = archiveOf(name);
  const layout = CIFAR_LAYOUTS[name];
  const folder = join(dataroot, layout.folder);
  const expected = [...layout.train, ...layout.test].map((f) => f.name);
  if (!options.force && await allExist(folder, expected)) return folder;

  await Deno.mkdir(dataroot, { recursive: true });
  const archivePath = join(dataroot, archive.file);
  const md5 = (options.md5 ?? archive.md5).toLowerCase();
  if (options.force || !(await exists(archivePath)) || (await md5File(archivePath)) !== md5) {
    await fetchVerified(cifarUrl(name, options.baseUrl), archivePath, md5, options);
  }

  const staging = await Deno.makeTempDir({ dir: dataroot, prefix: `.${layout.folder}.` });
  try {
    try {
      await extractTarGz(archivePath, staging);
    } catch (e) {
      throw new DataFileError(
        "archive",
        archivePath,
        `${archivePath}: could not unpack (${errorText(e)}); delete it and run again with --download`,
        { cause: e },
      );
    }
    const unpacked = join(staging, layout.folder);
    for (const file of expected) {
      if (!(await exists(join(unpacked, file)))) {
        throw new DataFileError(
          "archive",
          archivePath,
          `${archivePath}: the archive has no ${layout.folder}/${file}; it is not the ${name} binary archive`,
        );
      }
    }
    if (!(await exists(folder))) {
      await Deno.rename(unpacked, folder);
    } else {
      // Replace the files one by one: each rename is atomic and leaves the user's other files alone.
      for await (const entry of Deno.readDir(unpacked)) {
        await Deno.rename(join(unpacked, entry.name), join(folder, entry.name));
      }
    }
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
  return folder;
}

/**
 * The MD5 of a file as 32 lowercase hex digits, read in a stream.
 *
 * @example
 * ```ts
 * await md5File("./data/cifar-10-binary.tar.gz"); // "c32a1d4ab5d03f1284b67883e8d87530"
 * ```
 */
export async function md5File(path: string): Promise<string> {
  const hash = createHash("md5");
  using file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

/** Streams `url` into a temporary file beside `dest`, hashing as it goes; renames it to `dest` if the MD5 matches. */
async function fetchVerified(url: string, dest: string, md5: string, options: DownloadCifarOptions): Promise<void> {
  const temp = await Deno.makeTempFile({ dir: dirname(dest), prefix: `.${basename(dest)}.`, suffix: ".part" });
  let done = false;
  try {
    let response: Response;
    try {
      // The archive is already compressed: ask for its bytes as they are, so the MD5 is of what the site publishes.
      response = await fetch(url, { signal: options.signal, headers: { "accept-encoding": "identity" } });
    } catch (e) {
      throw new DataFileError(
        "download",
        url,
        `could not download ${url}: ${errorText(e)}. Check the network, or set AT_CIFAR_URL to a mirror`,
        { cause: e },
      );
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new DataFileError(
        "download",
        url,
        `could not download ${url}: HTTP ${response.status} ${response.statusText}. Check the URL, or set ` +
          `AT_CIFAR_URL to a mirror that serves ${basename(dest)}`,
      );
    }
    const length = Number(response.headers.get("content-length"));
    // A content-encoded body's length is not the length of the bytes fetch hands over.
    const total = Number.isFinite(length) && length > 0 && !response.headers.has("content-encoding") ? length : null;
    const hash = createHash("md5");
    const progress = options.progress === false ? null : byteProgress(total, `download ${basename(dest)}`, {
      stream: options.progress === true || options.progress === undefined ? undefined : options.progress,
    });
    let received = 0;
    try {
      using file = await Deno.open(temp, { write: true, truncate: true });
      for await (const chunk of response.body) {
        hash.update(chunk);
        for (let at = 0; at < chunk.length;) at += await file.write(chunk.subarray(at));
        received += chunk.length;
        progress?.update(received);
      }
    } catch (e) {
      throw new DataFileError("download", url, `download of ${url} failed after ${received} bytes: ${errorText(e)}`, {
        cause: e,
      });
    } finally {
      progress?.stop();
    }
    if (total !== null && received !== total) {
      throw new DataFileError(
        "download",
        url,
        `download of ${url} stopped at ${received} of ${total} bytes; the partial file was deleted. Run again`,
      );
    }
    const actual = hash.digest("hex");
    if (actual !== md5) {
      throw new DataFileError(
        "checksum",
        url,
        `checksum mismatch for ${url}: expected MD5 ${md5}, got ${actual} (${received} bytes); the download was ` +
          `deleted. Run again, or check AT_CIFAR_URL points at the official archive`,
      );
    }
    await Deno.rename(temp, dest);
    done = true;
  } finally {
    if (!done) await Deno.remove(temp).catch(() => {});
  }
}

function archiveOf(name: string): CifarArchive {
  const archive = (CIFAR_ARCHIVES as Record<string, CifarArchive>)[name];
  if (!archive) {
    throw new RangeError(`downloadCifar: unknown data set ${JSON.stringify(name)}; expected "CIFAR10" or "CIFAR100"`);
  }
  return archive;
}

function envBaseUrl(): string | undefined {
  try {
    return Deno.env.get("AT_CIFAR_URL") || undefined;
  } catch {
    return undefined; // no --allow-env: the variable cannot be read, so it is not set for us
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

async function allExist(folder: string, files: readonly string[]): Promise<boolean> {
  for (const f of files) if (!(await exists(join(folder, f)))) return false;
  return true;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
