// End to end: `cli/visualize.ts` as a user runs it, on run folders of freshly initialised WRNs the test writes: one
// PNG per image of the expected size, a panel per group, the AT loss with a teacher, and one clear error (exit
// status 1, no stack) for each kind of bad input.
import { decode } from "fast-png";
import { useBackend } from "../src/tensor/device.ts";
import { FIGURE_STYLE } from "../src/viz/figure.ts";
import { assert } from "./_assert.ts";
import { photo, runCli, writeRun } from "./_viz.ts";

await useBackend("cpu");

const BACKEND = Deno.env.get("AT_BACKEND") ?? "cpu";
const run = (cwd: string, ...args: string[]) => runCli("visualize", cwd, "--backend", BACKEND, ...args);

async function withRuns(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "at-visualize-" });
  try {
    await writeRun(`${dir}/student`, 10, 0.5);
    await writeRun(`${dir}/teacher`, 10, 1);
    await Deno.writeFile(`${dir}/photo.png`, photo());
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The exact height of a figure of `rows` rows of `size` panels with `lines` caption lines (its width grows with text). */
function figureHeight(rows: number, size: number, lines: number): number {
  const s = FIGURE_STYLE;
  return 2 * s.margin + s.titleHeight + rows * (s.headerHeight + size + lines * s.lineHeight) + (rows - 1) * s.rowGap;
}

Deno.test("visualize.ts draws a student and its teacher: a PNG per image, a panel per group, AT losses", async () => {
  await withRuns(async (dir) => {
    const r = await run(
      dir,
      "--model",
      "student",
      "--teacher",
      "teacher",
      "--out",
      "maps",
      "--size",
      "64",
      "--html",
      "photo.png",
    );
    assert.equal(r.code, 0, r.err);
    assert.ok(r.out.includes("wrote maps/photo.png") && r.out.includes("wrote maps/attention.html"), r.out);
    const png = decode(await Deno.readFile(`${dir}/maps/photo.png`));
    assert.equal(png.height, figureHeight(2, 64, 2), "two rows of 64-pixel panels with two caption lines");
    assert.ok(png.width >= 2 * FIGURE_STYLE.margin + 4 * 64 + 3 * FIGURE_STYLE.gap, `width ${png.width}`);
    const html = await Deno.readTextFile(`${dir}/maps/attention.html`);
    for (const row of [0, 1]) {
      const columns = [...html.matchAll(new RegExp(`data-row="${row}" data-column="(\\d+)"`, "g"))].map((m) => m[1]);
      assert.deepEqual(columns, ["0", "1", "2", "3"], `row ${row}: the input and one panel per group of a WRN`);
    }
    const headers = [...html.matchAll(/<h3>([^<]*)<\/h3>/g)].map((m) => m[1]);
    assert.deepEqual(headers.map((h) => h.split(" · ").slice(0, 2).join(" · ")), [
      "teacher · WRN-10-1",
      "student · WRN-10-0.5",
    ]);
    assert.equal(
      [...html.matchAll(/<figcaption>group \d · \d+×\d+\nAT loss \d\.\d+(e-\d+)?<\/figcaption>/g)].length,
      3,
      "an AT loss under each student group",
    );
    assert.ok(!/src="data:image\/png;base64,"/.test(html), "every picture is embedded");
  });
});

Deno.test("visualize.ts takes images from a data set by index, and the model file itself with --arch", async () => {
  await withRuns(async (dir) => {
    const r = await run(
      dir,
      ...["--model", "student/model-epoch-1.safetensors", "--arch", "wrn-10-0.5", "--normalize"],
      ...["--dataset", "MNIST", "--index", "3,0", "--out", "maps", "--size", "32"],
    );
    assert.equal(r.code, 0, r.err);
    for (const i of [3, 0]) {
      const png = decode(await Deno.readFile(`${dir}/maps/mnist-test-${i}.png`));
      assert.equal(png.height, figureHeight(1, 32, 1), `mnist-test-${i}.png`);
    }
  });
});

Deno.test("visualize.ts draws a NIN run: its architecture from checkpoint.json, a panel per NIN block", async () => {
  await withRuns(async (dir) => {
    await writeRun(`${dir}/nin`, 16, 0.125, "CIFAR10", "nin");
    const r = await run(dir, "--model", "nin", "--out", "maps", "--size", "32", "--html", "photo.png");
    assert.equal(r.code, 0, r.err);
    const html = await Deno.readTextFile(`${dir}/maps/attention.html`);
    const columns = [...html.matchAll(/data-row="0" data-column="(\d+)"/g)].map((m) => m[1]);
    assert.deepEqual(columns, ["0", "1", "2", "3"], "the input and one panel per NIN block");
    assert.ok(html.includes("<h3>nin · NIN"), html.slice(0, 2000));
  });
});

Deno.test("visualize.ts draws a ResNet read from a PyTorch .pth: four group panels at ImageNet's input size", async () => {
  await withRuns(async (dir) => {
    const pth = new URL("./fixtures/pth/resnet18.pth", import.meta.url).pathname;
    const r = await run(dir, "--model", pth, "--out", "maps", "--size", "32", "--html", "photo.png");
    assert.equal(r.code, 0, r.err);
    const html = await Deno.readTextFile(`${dir}/maps/attention.html`);
    const columns = [...html.matchAll(/data-row="0" data-column="(\d+)"/g)].map((m) => m[1]);
    assert.deepEqual(columns, ["0", "1", "2", "3", "4"], "the input and one panel per group of a ResNet");
    assert.ok(/<h3>resnet18 · ResNet-18-0.0625/.test(html), html.slice(0, 2000));
  });
});

/** Runs the CLI expecting exit status 1 and one error naming each of `parts`, with no stack trace. */
async function fails(dir: string, parts: string[], ...args: string[]): Promise<void> {
  const r = await run(dir, ...args);
  assert.equal(r.code, 1, `expected exit status 1 from visualize.ts ${args.join(" ")}:\n${r.out}\n${r.err}`);
  for (const p of parts) assert.ok(r.err.includes(p), `error output lacks ${JSON.stringify(p)}:\n${r.err}`);
  assert.ok(!r.err.includes("    at "), `a stack trace was printed for bad input:\n${r.err}`);
  assert.equal(r.err.trim().split("\n").length, 1, `more than one line:\n${r.err}`);
}

Deno.test("visualize.ts: each kind of bad input is one clear error and exit status 1", async () => {
  await withRuns(async (dir) => {
    await Deno.writeTextFile(`${dir}/notes.png`, "not a picture");
    const model = ["--model", "student", "--out", "maps"];
    await fails(
      dir,
      ["--arch", "vgg16", "unknown architecture", "wrn-DEPTH-WIDTH"],
      ...model,
      "--arch",
      "vgg16",
      "photo.png",
    );
    // A WRN's weights asked to be a ResNet: every misfit named.
    await fails(
      dir,
      ["--arch resnet18", "does not match the network", "conv0 has shape [16, 3, 3, 3], expected [64, 3, 7, 7]"],
      ...model,
      "--arch",
      "resnet18",
      "photo.png",
    );
    await fails(dir, ["--arch wrn-15-1", "6n+4"], ...model, "--arch", "wrn-15-1", "photo.png");
    await fails(
      dir,
      ["student/model-epoch-1.safetensors", "WRN-16-1", "does not match the network", "group0.block0.conv0"],
      ...model,
      "--arch",
      "wrn-16-1",
      "photo.png",
    );
    await fails(dir, ["image notes.png", "not a PNG or JPEG image"], ...model, "notes.png");
    await fails(dir, ["image missing.png", "no such file"], ...model, "missing.png");
    await fails(dir, ["--model nowhere", "no such file or folder"], "--model", "nowhere", "--out", "maps", "photo.png");
    await Deno.writeTextFile(`${dir}/resnet.pth`, "");
    await fails(dir, ["resnet.pth", "pth"], "--model", "resnet.pth", "--out", "maps", "photo.png");
    await fails(dir, ["--index needs --dataset"], ...model, "--index", "1");
    await fails(dir, ["--index 99999", "test split has"], ...model, "--dataset", "MNIST", "--index", "99999");
    await fails(dir, ["--bogus"], ...model, "--bogus", "photo.png");
    assert.ok(!(await Deno.stat(`${dir}/maps`).catch(() => undefined)), "nothing was written");
  });
});
