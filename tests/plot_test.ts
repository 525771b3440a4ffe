// End to end: `cli/plot.ts` on two small logs (one of each recipe's format) draws a chart per measure whose PNG
// decodes and shows both runs' lines; a log with no json_stats line is one clear error.
import { decode } from "fast-png";
import { appendJsonStats } from "../src/train/log.ts";
import { assert } from "./_assert.ts";
import { runCli } from "./_viz.ts";

const run = (cwd: string, ...args: string[]) => runCli("plot", cwd, ...args);

async function withLogs(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "at-plot-" });
  try {
    for (const run of ["cifar_run", "imagenet_run"]) await Deno.mkdir(`${dir}/logs/${run}`, { recursive: true });
    for (let epoch = 1; epoch <= 4; epoch++) {
      // The CIFAR recipe logs numbers; the ImageNet one logs accuracy as [top-1, top-5].
      await appendJsonStats(`${dir}/logs/cifar_run/log.txt`, {
        epoch,
        train_loss: 2 / epoch,
        test_loss: 2.2 / epoch,
        train_acc: 20 * epoch,
        test_acc: 18 * epoch,
      });
      await appendJsonStats(`${dir}/logs/imagenet_run/log.txt`, {
        epoch,
        train_loss: 3 / epoch,
        test_loss: 3.3 / epoch,
        train_acc: [10 * epoch, 30 * epoch],
        test_acc: [9 * epoch, 25 * epoch],
      });
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Pixels within 40 of `rgb` in every channel. */
function count(png: ReturnType<typeof decode>, rgb: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < png.width * png.height; i++) {
    const p = i * png.channels;
    if (rgb.every((v, c) => Math.abs(png.data[p + c] - v) <= 40)) n++;
  }
  return n;
}

Deno.test("plot.ts draws a chart per measure for two runs; each PNG decodes and shows both lines", async () => {
  await withLogs(async (dir) => {
    const r = await run(dir, "--out", "plots", "logs/cifar_run", "logs/imagenet_run/log.txt");
    assert.equal(r.code, 0, r.err);
    for (const key of ["train_acc", "test_acc", "train_loss", "test_loss"]) {
      const svg = await Deno.readTextFile(`${dir}/plots/${key}.svg`);
      assert.ok(svg.includes("cifar_run") && svg.includes("imagenet_run"), `${key}.svg: a legend of both runs`);
      const png = decode(await Deno.readFile(`${dir}/plots/${key}.png`));
      assert.ok(png.width >= 800 && png.height >= 500, `${key}.png is ${png.width}×${png.height}`);
      // Vega's first two category colours: the two runs' lines and points.
      for (const [run, rgb] of [["cifar_run", [76, 120, 168]], ["imagenet_run", [245, 133, 24]]] as const) {
        const n = count(png, rgb);
        assert.ok(n > 500, `${key}.png: ${n} pixels of ${run}'s colour`);
      }
    }
    assert.ok((await Deno.readTextFile(`${dir}/plots/test_acc.svg`)).includes("test accuracy (top-1)"));
  });
});

Deno.test("plot.ts: a log with no json_stats line, or no log, is one clear error and exit status 1", async () => {
  await withLogs(async (dir) => {
    await Deno.mkdir(`${dir}/logs/empty`);
    await Deno.writeTextFile(`${dir}/logs/empty/log.txt`, "starting\n");
    for (
      const [target, part] of [
        ["logs/empty", "logs/empty/log.txt has no json_stats line"],
        ["logs/none", "logs/none: no such folder or file"],
        ["logs", "logs/log.txt not found"],
      ]
    ) {
      const r = await run(dir, "--out", "plots", "logs/cifar_run", target);
      assert.equal(r.code, 1, `${target}:\n${r.out}\n${r.err}`);
      assert.ok(r.err.includes(part), `error output lacks ${JSON.stringify(part)}:\n${r.err}`);
      assert.ok(!r.err.includes("    at ") && r.err.trim().split("\n").length === 1, r.err);
    }
    assert.ok(!(await Deno.stat(`${dir}/plots`).catch(() => undefined)), "nothing was written");
  });
});
