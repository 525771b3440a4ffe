/**
 * What the drawing tests share: run folders of freshly initialised WRNs, as `cli/cifar.ts` leaves them, and running a
 * command-line tool as a user does.
 *
 * @module
 */
import type { DatasetName } from "../src/data/datasets.ts";
import { cifarNetwork } from "../src/train/cifar_network.ts";
import { saveCheckpoint } from "../src/train/checkpoint.ts";
import { defaultOptions } from "../src/train/options.ts";
import { encodeRgbPng } from "../src/viz/image.ts";

/** Writes a run folder holding a freshly initialised WRN, as `cli/cifar.ts` would after one epoch. */
export async function writeRun(
  dir: string,
  depth: number,
  width: number,
  dataset: DatasetName = "CIFAR10",
  model: "wrn" | "nin" = "wrn",
): Promise<void> {
  const options = { ...defaultOptions(), depth, width, dataset, save: dir, model };
  const { params, stats } = cifarNetwork(options, 10).init(depth);
  await Deno.mkdir(dir, { recursive: true });
  await saveCheckpoint(dir, { epoch: 1, lr: 0.1, options, rng: { seed: 0, epoch: 1 } }, { ...params, ...stats }, {});
}

/** A 40×24 PNG (not square, so the centre crop and the resize run): colourful, or gray (R = G = B). */
export function photo(gray = false): Uint8Array {
  const [width, height] = [40, 24];
  const data = Uint8Array.from({ length: width * height * 3 }, (_, i) => ((gray ? Math.floor(i / 3) : i) * 53) % 256);
  return encodeRgbPng({ width, height, data });
}

/** Runs `cli/<name>.ts` in `cwd`; returns its exit status and output. */
export async function runCli(
  name: string,
  cwd: string,
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  const path = new URL(`../cli/${name}.ts`, import.meta.url).pathname;
  const p = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", path, ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  return { code: p.code, out: new TextDecoder().decode(p.stdout), err: new TextDecoder().decode(p.stderr) };
}
