/**
 * Unpacks a `.tar.gz` into a folder: regular files and folders only, and no entry may leave the folder.
 * `node:zlib` inflates, `tar-stream` parses.
 *
 * @module
 */
import { createReadStream } from "node:fs";
import { dirname, join } from "node:path";
import { createGunzip } from "node:zlib";
// @ts-types="@types/tar-stream"
import tar from "tar-stream";

/**
 * Extracts `archive` (gzip-compressed tar) into `dest`, which must exist; returns the paths written, relative to
 * `dest`, with `/` separators. Links and special files are skipped; an absolute path or a `..` segment throws.
 */
export async function extractTarGz(archive: string, dest: string): Promise<string[]> {
  const extract = tar.extract();
  const input = createReadStream(archive);
  const gunzip = createGunzip();
  const fail = (e: Error) => extract.destroy(e);
  input.on("error", fail);
  gunzip.on("error", fail);
  input.pipe(gunzip).pipe(extract);
  const written: string[] = [];
  try {
    for await (const entry of extract) {
      const { name, type } = entry.header;
      const parts = safeParts(name);
      if (parts.length === 0 || (type !== "file" && type !== "contiguous-file" && type !== "directory")) {
        entry.resume();
        continue;
      }
      const target = join(dest, ...parts);
      if (type === "directory") {
        await Deno.mkdir(target, { recursive: true });
        entry.resume();
        continue;
      }
      await Deno.mkdir(dirname(target), { recursive: true });
      const file = await Deno.open(target, { write: true, createNew: true });
      try {
        for await (const chunk of entry as AsyncIterable<Uint8Array>) await writeAll(file, chunk);
      } finally {
        file.close();
      }
      written.push(parts.join("/"));
    }
  } finally {
    input.unpipe();
    input.destroy();
    gunzip.destroy();
  }
  return written;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
}

function safeParts(name: string): string[] {
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name)) {
    throw new Error(`tar entry ${JSON.stringify(name)} has an absolute path`);
  }
  const parts = name.split(/[/\\]/).filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new Error(`tar entry ${JSON.stringify(name)} climbs out of the folder with ".."`);
  return parts;
}
