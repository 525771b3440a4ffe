// End to end: `cli/imagenet.ts` as a user runs it, on a tiny ImageFolder of JPEGs the test writes (10 classes,
// small images, `--image_size 32`), with a teacher read from a real PyTorch `.pth` (torchvision's resnet18 names,
// reduced widths: tests/fixtures/pth, made by tools/make_pth_fixtures.py). A student epoch with AT over the four
// groups, top-1/top-5 in the log, --evaluate, resume, a transfer run with --init, and bad input.
import sharp from "sharp";
import { readJsonStats } from "../src/train/log.ts";
import { assert } from "./_assert.ts";
import { BACKEND, failsWith, IMAGENET_CLI, succeeds } from "./_cli.ts";

const TEACHER = new URL("./fixtures/pth/resnet18.pth", import.meta.url).pathname;
const CLASSES = 10; // the teacher's
const COMMON = ["--image_size", "32", "--batch_size", "8", "--nthread", "1", "--backend", BACKEND];
// The teacher's weights are random: a rate of 0.1 makes AT+KD diverge on ten images, 0.01 does not.
const STUDENT = [...COMMON, "--depth", "18", "--width", "0.0625", "--lr", "0.01"];

/** `root/{train,val}/class_k/*.jpg`: each class a colour with noise, `perClass` training images, one for val. */
async function writeFolder(root: string, classes: number, perClass: number): Promise<void> {
  let seed = 1;
  const noise = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 40;
  for (const [split, count] of [["train", perClass], ["val", 1]] as const) {
    for (let c = 0; c < classes; c++) {
      const dir = `${root}/${split}/class_${String(c).padStart(2, "0")}`;
      await Deno.mkdir(dir, { recursive: true });
      for (let i = 0; i < count; i++) {
        const [w, h] = [40 + 4 * i, 36];
        const pixels = new Uint8Array(w * h * 3).map((_, k) => (((k % 3) * 97 + c * 53) % 200) + noise());
        await sharp(pixels, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 })
          .toFile(`${dir}/img_${i}.jpg`);
      }
    }
  }
}

async function withFolder(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "at-imagenet-" });
  try {
    await writeFolder(`${dir}/data`, CLASSES, 2);
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const ok = (dir: string, ...args: string[]) => succeeds(IMAGENET_CLI, dir, args);
const fails = (dir: string, parts: string[], ...args: string[]) => failsWith(IMAGENET_CLI, dir, parts, args);

Deno.test("imagenet.ts: a student epoch with AT from a PyTorch teacher, top-1/top-5 logged; --evaluate; resume", async () => {
  await withFolder(async (dir) => {
    const out = await ok(
      dir,
      "--imagenetpath",
      "data",
      ...STUDENT,
      "--teacher_params",
      TEACHER,
      "--beta",
      "1e3",
      "--alpha",
      "0.5",
      "--epochs",
      "1",
      "--save",
      "logs/at",
    );
    assert.ok(out.includes(`teacher ResNet-18-0.0625 from ${TEACHER}`), out);
    assert.ok(/top-1 [\d.]+% top-5 [\d.]+%/.test(out), out);
    const [line] = await readJsonStats(`${dir}/logs/at/log.txt`);
    assert.equal(line.epoch, 1);
    assert.equal(line.num_classes, CLASSES);
    for (const k of ["train_acc", "test_acc"]) {
      const acc = line[k] as number[];
      assert.ok(acc.length === 2 && acc[0] <= acc[1] && acc.every((a) => a >= 0 && a <= 100), `${k} ${acc}`);
    }
    const at = line.at_losses as number[][];
    assert.ok(at.length === 4 && at.every(([m, s]) => m > 0 && s >= 0), JSON.stringify(at));
    assert.ok(Number.isFinite(line.train_loss as number));

    // --evaluate: the teacher's top-1/top-5 on val/ (10 images), no training and nothing written.
    const ev = await ok(dir, "--imagenetpath", "data", ...COMMON, "--evaluate", TEACHER);
    const m = /top-1 ([\d.]+)%, top-5 ([\d.]+)%/.exec(ev);
    assert.ok(m && Number(m[1]) <= Number(m[2]), ev);
    assert.ok(ev.includes("on 10 images"), ev);
    // Our own run evaluates the same way (its folder names the model).
    assert.ok((await ok(dir, "--imagenetpath", "data", ...COMMON, "--evaluate", "logs/at")).includes("top-5"));

    const resumed = await ok(dir, "--resume", "logs/at", "--epochs", "2", "--backend", BACKEND);
    assert.ok(resumed.includes("resuming logs/at after epoch 1"), resumed);
    assert.deepEqual((await readJsonStats(`${dir}/logs/at/log.txt`)).map((r) => r.epoch), [1, 2]);
  });
});

Deno.test("imagenet.ts: transfer to another ImageFolder from a pretrained student (--init), classifier made anew", async () => {
  await withFolder(async (dir) => {
    await writeFolder(`${dir}/cub`, 3, 2); // another data set: 3 classes
    const out = await ok(
      dir,
      "--imagenetpath",
      "cub",
      ...COMMON,
      "--depth",
      "18",
      "--width",
      "0.0625",
      "--init",
      TEACHER,
      "--epochs",
      "1",
      "--save",
      "logs/cub",
    );
    assert.ok(out.includes(`--init ${TEACHER} has 10 classes, this data 3: a new classifier starts`), out);
    const [line] = await readJsonStats(`${dir}/logs/cub/log.txt`);
    assert.equal(line.num_classes, 3);
  });
});

Deno.test("imagenet.ts: bad input is one clear error (exit 1)", async () => {
  await withFolder(async (dir) => {
    await fails(dir, ["--imagenetpath", "train/ and val/"], ...STUDENT);
    await fails(dir, ["--depth", "18 or 34"], "--imagenetpath", "data", ...COMMON, "--depth", "50");
    await fails(dir, ["nowhere"], "--imagenetpath", "nowhere", ...STUDENT, "--save", "logs/x");
    // A teacher of another architecture than asked, and a file that is not a ResNet's.
    await fails(
      dir,
      ["--teacher_params", "resnet18", "not --teacher_arch resnet34"],
      "--imagenetpath",
      "data",
      ...STUDENT,
      "--teacher_params",
      TEACHER,
      "--teacher_arch",
      "resnet34",
      "--beta",
      "1e3",
      "--save",
      "logs/y",
    );
    const notResnet = new URL("./fixtures/pth/state_dict_wrapper.pth", import.meta.url).pathname;
    await fails(
      dir,
      ["--evaluate", "not a ResNet's parameters"],
      "--imagenetpath",
      "data",
      ...COMMON,
      "--evaluate",
      notResnet,
    );
    // An empty class folder, and an unreadable image.
    await Deno.mkdir(`${dir}/data/train/class_99`);
    await fails(dir, ["class_99"], "--imagenetpath", "data", ...STUDENT, "--save", "logs/z");
    await Deno.remove(`${dir}/data/train/class_99`);
    await Deno.writeTextFile(`${dir}/data/val/class_03/img_0.jpg`, "not a jpeg");
    await fails(dir, ["class_03/img_0.jpg"], "--imagenetpath", "data", ...COMMON, "--evaluate", TEACHER);
  });
});
