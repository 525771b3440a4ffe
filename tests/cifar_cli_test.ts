// End to end: `cli/cifar.ts` as a user runs it, on a tiny CIFAR-format data set the test writes. A teacher,
// then an AT(+KD) student from it; the log and checkpoints; resume equal bit for bit to an uninterrupted run;
// and one clear error (exit status 1, nothing overwritten) for each kind of bad input.
import { parseSafetensors } from "../src/io/safetensors.ts";
import { readJsonStats } from "../src/train/log.ts";
import { assert, assertBytesEqual } from "./_assert.ts";
import { BACKEND, cliWith, fails, ok, STUDENT, TEACHER, TINY, withTemp } from "./_cli.ts";
import { tarGz, tinyCifarFiles, writeTinyCifar } from "./_data.ts";

const REFERENCE_FIELDS = [
  "depth",
  "width",
  "dataset",
  "dataroot",
  "dtype",
  "nthread",
  "teacher_id",
  "batch_size",
  "lr",
  "epochs",
  "weight_decay",
  "epoch_step",
  "lr_decay_ratio",
  "resume",
  "randomcrop_pad",
  "temperature",
  "alpha",
  "beta",
  "save",
  "ngpu",
  "gpu_id",
  "train_loss",
  "train_acc",
  "test_loss",
  "test_acc",
  "epoch",
  "num_classes",
  "n_parameters",
  "train_time",
  "test_time",
  "at_losses",
];

Deno.test("cifar.ts trains a teacher, then AT and AT+KD students from it; log lines and checkpoints are complete", async () => {
  await withTemp(async (dir) => {
    await ok(dir, ...TEACHER, "--epochs", "1", "--save", "logs/teacher");
    const out = await ok(
      dir,
      ...STUDENT,
      "--epochs",
      "1",
      "--teacher_id",
      "teacher",
      "--beta",
      "1e3",
      "--save",
      "logs/at",
    );
    assert.ok(out.includes("teacher WRN-10-0.5 from logs/teacher"), out);
    await ok(
      dir,
      ...STUDENT,
      "--epochs",
      "1",
      "--teacher_id",
      "teacher",
      "--beta",
      "1e3",
      "--alpha",
      "0.9",
      "--save",
      "logs/atkd",
    );
    for (const run of ["teacher", "at", "atkd"]) {
      const [line, ...more] = await readJsonStats(`${dir}/logs/${run}/log.txt`);
      assert.equal(more.length, 0);
      for (const f of REFERENCE_FIELDS) assert.ok(f in line, `${run}: json_stats lacks ${f}`);
      assert.equal(line.epoch, 1);
      assert.equal(line.num_classes, 10);
      for (const f of ["train_loss", "test_loss", "train_acc", "test_acc", "train_time", "test_time"]) {
        assert.ok(Number.isFinite(line[f] as number), `${run}: ${f} = ${line[f]}`);
      }
      const at = line.at_losses as number[][];
      if (run === "teacher") assert.deepEqual(at, []);
      else {assert.ok(
          at.length === 3 && at.every(([m, s]) => m > 0 && m < 1 && s >= 0),
          `${run}: at_losses ${JSON.stringify(at)}`,
        );}
      const info = JSON.parse(await Deno.readTextFile(`${dir}/logs/${run}/checkpoint.json`));
      assert.equal(info.epoch, 1);
      const model = parseSafetensors(await Deno.readFile(`${dir}/logs/${run}/${info.model}`));
      for (const name of ["conv0", "group1.block0.convdim", "bn.running_var", "fc.weight"]) {
        assert.ok(model.tensors.has(name), `${run}: no ${name}`);
      }
      assert.equal(
        line.n_parameters,
        [...model.tensors].filter(([n]) => !n.includes("running_")).reduce((s, [, t]) => s + t.data.length, 0),
      );
    }
    assert.equal((await readJsonStats(`${dir}/logs/at/log.txt`))[0].teacher_id, "teacher");
  });
});

Deno.test("cifar.ts --resume after an interruption ends with the same parameters, bit for bit, as a run never interrupted", async () => {
  await withTemp(async (dir) => {
    const common = [...STUDENT, "--epoch_step", "[3]", "--seed", "3"]; // epoch 2 needs the restored momentum
    await ok(dir, ...common, "--epochs", "3", "--save", "logs/straight");
    await ok(dir, ...common, "--epochs", "1", "--save", "logs/interrupted");
    const resumed = await ok(dir, "--resume", "logs/interrupted", "--epochs", "3", "--backend", BACKEND);
    assert.ok(resumed.includes("resuming logs/interrupted after epoch 1"), resumed);
    const read = async (run: string) => {
      const info = JSON.parse(await Deno.readTextFile(`${dir}/logs/${run}/checkpoint.json`));
      assert.equal(info.epoch, 3);
      return [
        await Deno.readFile(`${dir}/logs/${run}/${info.model}`),
        await Deno.readFile(`${dir}/logs/${run}/${info.optimizer}`),
      ];
    };
    const [a, b] = [await read("straight"), await read("interrupted")];
    assertBytesEqual(b[0], a[0], "parameters and statistics");
    assertBytesEqual(b[1], a[1], "momentum buffers");
    const logA = await readJsonStats(`${dir}/logs/straight/log.txt`);
    const logB = await readJsonStats(`${dir}/logs/interrupted/log.txt`);
    assert.deepEqual(
      logB.map((l) => [l.epoch, l.train_loss, l.test_acc]),
      logA.map((l) => [l.epoch, l.train_loss, l.test_acc]),
    );
  });
});

Deno.test("cifar.ts refuses bad input with one clear error and overwrites nothing", async () => {
  await withTemp(async (dir) => {
    await fails(dir, ["--depth", "abc"], "--depth", "abc");
    await fails(dir, ["--frobnicate", "--help"], "--frobnicate", "1");
    await fails(dir, ["--dtype", "only float"], ...TINY, "--dtype", "half");
    await fails(dir, ["--beta", "--teacher_id"], ...TINY, "--beta", "1e3");
    await fails(
      dir,
      ["missing-root", "cifar-10-batches-bin", "--download"],
      ...TINY,
      "--dataroot",
      "missing-root",
      "--save",
      "logs/x",
    );

    // A truncated file: the error names it and both sizes.
    await Deno.mkdir(`${dir}/cut/cifar-10-batches-bin`, { recursive: true });
    for (
      const f of [
        "data_batch_1.bin",
        "data_batch_2.bin",
        "data_batch_3.bin",
        "data_batch_4.bin",
        "data_batch_5.bin",
        "test_batch.bin",
      ]
    ) {
      await Deno.copyFile(`${dir}/cifar-10-batches-bin/${f}`, `${dir}/cut/cifar-10-batches-bin/${f}`);
    }
    await Deno.truncate(`${dir}/cut/cifar-10-batches-bin/data_batch_3.bin`, 3073 * 8 - 100);
    await fails(dir, ["data_batch_3.bin", String(3073 * 8 - 100)], ...TINY, "--dataroot", "cut", "--save", "logs/x");

    await ok(dir, ...TEACHER, "--epochs", "1", "--save", "logs/teacher");
    await fails(
      dir,
      ["--teacher_id nobody", "logs/nobody/log.txt", "teacher"],
      ...STUDENT,
      "--teacher_id",
      "nobody",
      "--beta",
      "1e3",
    );
    // A teacher trained for 10 classes and a data set of 100.
    await writeTinyCifar(`${dir}/c100`, "CIFAR100", 4);
    await fails(
      dir,
      ["10 classes", "100"],
      ...STUDENT,
      "--dataset",
      "CIFAR100",
      "--dataroot",
      "c100",
      "--teacher_id",
      "teacher",
      "--beta",
      "1e3",
    );

    // --save holding another run: refused, the run untouched.
    const before = await Deno.readFile(`${dir}/logs/teacher/log.txt`);
    await fails(
      dir,
      ["already holds a run", "--resume logs/teacher"],
      ...TEACHER,
      "--epochs",
      "1",
      "--save",
      "logs/teacher",
    );
    assertBytesEqual(await Deno.readFile(`${dir}/logs/teacher/log.txt`), before, "the teacher's log");
    await fails(dir, ["--depth 16 differs", "resumed run's 10"], "--resume", "logs/teacher", "--depth", "16");

    // The loss blows up in epoch 2 (a learning rate of 1e29 from there): stop, keep epoch 1's checkpoint.
    await fails(
      dir,
      ["loss became", "epoch 2/3", "checkpoint of epoch 1 stays in logs/nan", "--lr"],
      ...STUDENT,
      "--epochs",
      "3",
      "--epoch_step",
      "[2]",
      "--lr_decay_ratio",
      "1e30",
      "--save",
      "logs/nan",
    );
    const info = JSON.parse(await Deno.readTextFile(`${dir}/logs/nan/checkpoint.json`));
    assert.equal(info.epoch, 1);
    assert.ok((await Deno.stat(`${dir}/logs/nan/${info.model}`)).isFile);
    assert.equal((await readJsonStats(`${dir}/logs/nan/log.txt`)).length, 1);
  });
});

Deno.test("cifar.ts --download fetches the archive, checks its MD5, and refuses a wrong one leaving nothing behind", async () => {
  await withTemp(async (dir) => {
    const files = new Map(
      [...tinyCifarFiles("CIFAR10", 4)].map(([name, bytes]) => [`cifar-10-batches-bin/${name}`, bytes]),
    );
    const archive = await tarGz(files);
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response(archive.slice()));
    try {
      const url = `http://127.0.0.1:${server.addr.port}/`;
      // A home-made archive cannot have the official MD5: the download is refused and removed.
      const r = await cliWith(
        { AT_CIFAR_URL: url },
        dir,
        ...TINY,
        "--dataroot",
        "fresh",
        "--download",
        "--save",
        "logs/dl",
      );
      assert.equal(r.code, 1, r.err);
      assert.ok(r.err.includes("c32a1d4ab5d03f1284b67883e8d87530") && /checksum|MD5/i.test(r.err), r.err);
      const left: string[] = [];
      try {
        for await (const e of Deno.readDir(`${dir}/fresh`)) left.push(e.name);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
      assert.deepEqual(left, [], `left behind: ${left}`);
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test({
  name: "cifar.ts --backend webgpu trains a short run",
  ignore: BACKEND === "webgpu" || !(await navigator.gpu?.requestAdapter()),
  async fn() {
    await withTemp(async (dir) => {
      const out = await ok(
        dir,
        "--dataset",
        "CIFAR10",
        "--batch_size",
        "16",
        "--depth",
        "10",
        "--width",
        "0.25",
        "--epochs",
        "1",
        "--backend",
        "webgpu",
        "--save",
        "logs/gpu",
      );
      assert.ok(out.includes("backend webgpu"), out);
      const [line] = await readJsonStats(`${dir}/logs/gpu/log.txt`);
      assert.equal(line.device, "webgpu");
      assert.ok(
        Number.isFinite(line.train_loss as number) && Number.isFinite(line.test_acc as number),
        JSON.stringify(line),
      );
    });
  },
});
