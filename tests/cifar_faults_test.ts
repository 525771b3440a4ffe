// Faults on purpose, as a user meets them: a run that diverges, a folder moved between runs, two runs into one
// folder, a crash between the checkpoint and the log line, a finished run resumed, and damaged files. Each ends
// with one clear line and the right exit status, and nothing is lost.
import { parseSafetensors, serializeSafetensors } from "../src/io/safetensors.ts";
import { readJsonStats } from "../src/train/log.ts";
import { assert } from "./_assert.ts";
import { BACKEND, CLI, cli, fails, ok, STUDENT, TEACHER, withTemp } from "./_cli.ts";

const checkpointOf = async (run: string) => JSON.parse(await Deno.readTextFile(`${run}/checkpoint.json`));
const names = (dir: string) => Array.from(Deno.readDirSync(dir), (e) => e.name).sort();

/** Lines of an error report (progress lines on standard error are not). */
const errorLines = (err: string) => err.split("\n").filter((l) => /^(error| {2}caused by)/.test(l)).length;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Rewrites one tensor of a safetensors file so that its first value is `value`. */
async function poison(path: string, tensor: string, value: number): Promise<void> {
  const file = parseSafetensors(await Deno.readFile(path));
  const tensors = Object.fromEntries(file.tensors);
  const data = Float32Array.from(tensors[tensor].data);
  data[0] = value;
  tensors[tensor] = { ...tensors[tensor], data };
  await Deno.writeFile(path, serializeSafetensors(tensors, file.metadata));
}

Deno.test("a run whose weights stop being finite stops (exit 1), names the tensor and epoch, and keeps the last good checkpoint", async () => {
  await withTemp(async (dir) => {
    // One batch an epoch; from epoch 2 the rate is 1e299, so its single update turns the weights infinite while
    // the loss of that step (taken before the update) is still finite.
    const err = await fails(
      dir,
      ["after epoch 2/3", "tensor ", "not finite", "checkpoint of epoch 1 stays in logs/div", "--lr"],
      ...STUDENT,
      "--batch_size",
      "64",
      "--epochs",
      "3",
      "--epoch_step",
      "[2]",
      "--lr_decay_ratio",
      "1e300",
      "--save",
      "logs/div",
    );
    assert.equal(errorLines(err), 1, err);
    const run = `${dir}/logs/div`;
    assert.equal((await checkpointOf(run)).epoch, 1);
    assert.deepEqual(names(run), [
      "checkpoint.json",
      "log.txt",
      "model-epoch-1.safetensors",
      "optimizer-epoch-1.safetensors",
    ]);
    assert.equal((await readJsonStats(`${run}/log.txt`)).length, 1);
  });
});

Deno.test("--resume continues in the folder it names, from another working directory and after the folder was renamed", async () => {
  await withTemp(async (dir) => {
    await ok(dir, ...STUDENT, "--epochs", "1", "--save", "logs/run");
    await Deno.mkdir(`${dir}/moved`);
    await Deno.rename(`${dir}/logs/run`, `${dir}/moved/renamed`);
    await Deno.mkdir(`${dir}/elsewhere`);
    const out = await ok(
      `${dir}/elsewhere`,
      "--resume",
      "../moved/renamed",
      "--epochs",
      "2",
      "--dataroot",
      "..",
      "--backend",
      BACKEND,
    );
    assert.ok(out.includes("resuming ../moved/renamed after epoch 1"), out);
    const info = await checkpointOf(`${dir}/moved/renamed`);
    assert.equal(info.epoch, 2);
    assert.equal(info.options.save, "../moved/renamed");
    assert.deepEqual((await readJsonStats(`${dir}/moved/renamed/log.txt`)).map((r) => r.epoch), [1, 2]);
    assert.ok(!(await exists(`${dir}/logs/run`)), "the old --save path was re-created");
    assert.ok(!(await exists(`${dir}/elsewhere/logs`)), "a folder was made in the working directory");
    // --save naming another folder than the one resumed is refused, not silently followed.
    await fails(
      dir,
      ["--save logs/other", "continues in its own folder moved/renamed"],
      "--resume",
      "moved/renamed",
      "--epochs",
      "3",
      "--save",
      "logs/other",
    );
  });
});

Deno.test("one run per folder: a second run into a folder in use fails at once naming the first; a stale lock is taken over", async () => {
  await withTemp(async (dir) => {
    const first = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CLI, ...STUDENT, "--epochs", "3", "--save", "logs/busy"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const lock = `${dir}/logs/busy/run.lock`;
    while (!(await exists(lock))) await new Promise((r) => setTimeout(r, 20));
    const holder = JSON.parse(await Deno.readTextFile(lock));
    assert.equal(holder.pid, first.pid);
    for (
      const args of [["--save", "logs/busy", ...STUDENT, "--epochs", "3"], ["--resume", "logs/busy", "--epochs", "4"]]
    ) {
      const second = await cli(dir, ...args);
      assert.equal(second.code, 1, second.err);
      assert.ok(second.err.includes(`logs/busy is in use by another run (pid ${first.pid}`), second.err);
      assert.equal(errorLines(second.err), 1, second.err);
    }
    const done = await first.output();
    assert.equal(done.code, 0, new TextDecoder().decode(done.stderr));
    const log = await readJsonStats(`${dir}/logs/busy/log.txt`);
    assert.deepEqual(log.map((r) => r.epoch), [1, 2, 3]);
    assert.ok(!(await exists(lock)), "the lock outlived its run");

    // A lock left by a process that no longer exists, and the temporary files of its interrupted writes.
    const gone = new Deno.Command("true").spawn();
    await gone.status;
    await Deno.mkdir(`${dir}/logs/stale`);
    await Deno.writeTextFile(
      `${dir}/logs/stale/run.lock`,
      JSON.stringify({ pid: gone.pid, host: Deno.hostname(), started: "2026-01-01T00:00:00.000Z" }),
    );
    await Deno.writeTextFile(`${dir}/logs/stale/model-epoch-1.safetensors.tmp-${gone.pid}-0badc0de`, "half a file");
    const out = await ok(dir, ...STUDENT, "--epochs", "1", "--save", "logs/stale");
    assert.ok(out.includes(`took over logs/stale/run.lock from run pid ${gone.pid}`), out);
    assert.ok(out.includes("removed 1 temporary file"), out);
    assert.ok(!(names(`${dir}/logs/stale`)).some((n) => n.includes(".tmp-") || n === "run.lock"));
  });
});

Deno.test("a crash between the checkpoint and the log line loses nothing: resume restores the line, --teacher_id reads the checkpoint", async () => {
  await withTemp(async (dir) => {
    await ok(dir, ...TEACHER, "--epochs", "2", "--save", "logs/crash");
    const run = `${dir}/logs/crash`;
    const info = await checkpointOf(run);
    // The state a kill between the two renames leaves: checkpoint.json at epoch 2, log.txt still at epoch 1, the
    // new log in a temporary file. Epoch 1's accuracy is marked so that reading the wrong line shows.
    const full = await Deno.readTextFile(`${run}/log.txt`);
    const [line1] = full.split("\n");
    const marked = JSON.parse(line1.slice("json_stats: ".length));
    marked.test_acc = -1;
    await Deno.writeTextFile(`${run}/log.txt`, `json_stats: ${JSON.stringify(marked)}\n`);
    await Deno.writeTextFile(`${run}/log.txt.tmp-4242-0badc0de`, full);

    const student = await ok(
      dir,
      ...STUDENT,
      "--epochs",
      "1",
      "--teacher_id",
      "crash",
      "--beta",
      "1e3",
      "--save",
      "logs/s",
    );
    assert.ok(student.includes(`(test accuracy ${info.log.test_acc.toFixed(2)}%)`), student);

    const out = await ok(dir, "--resume", "logs/crash", "--epochs", "3", "--backend", BACKEND);
    assert.ok(out.includes("restored the log line of epoch 2"), out);
    assert.ok(out.includes("removed 1 temporary file"), out);
    const log = await readJsonStats(`${run}/log.txt`);
    assert.deepEqual(log.map((r) => r.epoch), [1, 2, 3]);
    assert.deepEqual(log[1], info.log);
    assert.ok(!(names(run)).some((n) => n.includes(".tmp-")));
  });
});

Deno.test("resuming a finished run has nothing to do (exit 0); --epochs below the epochs done is an error naming both", async () => {
  await withTemp(async (dir) => {
    await ok(dir, ...STUDENT, "--epochs", "2", "--save", "logs/fin");
    const before = await Deno.readFile(`${dir}/logs/fin/log.txt`);
    for (const extra of [[], ["--epochs", "2"]]) {
      const out = await ok(dir, "--resume", "logs/fin", "--backend", BACKEND, ...extra);
      assert.ok(out.includes("already trained 2 of --epochs 2: nothing to do"), out);
      assert.ok(!out.includes("NaN"), out);
    }
    await fails(dir, ["--epochs 1", "already trained 2 epochs"], "--resume", "logs/fin", "--epochs", "1");
    assert.deepEqual(await Deno.readFile(`${dir}/logs/fin/log.txt`), before);
  });
});

Deno.test("bad input is one line naming the input and the fix: pad, sizes, teacher log, checkpoint options, non-finite files", async () => {
  await withTemp(async (dir) => {
    await fails(dir, ["--randomcrop_pad", "[0, 31]", "got 100"], ...STUDENT, "--randomcrop_pad", "100");
    // Sizes that cannot fit are refused before anything is allocated, with what was asked for.
    await fails(
      dir,
      ["WRN-100000000000-0.25", "parameters", "GB", "--depth, --width or --batch_size"],
      ...STUDENT,
      "--depth",
      "100000000000",
    );
    await fails(
      dir,
      ["WRN-10-1000000000", "parameters", "GB", "--depth, --width or --batch_size"],
      ...STUDENT,
      "--width",
      "1e9",
    );

    await ok(dir, ...TEACHER, "--epochs", "1", "--save", "logs/t");
    // A teacher log whose first json_stats line lacks the fields.
    await Deno.mkdir(`${dir}/logs/empty`);
    await Deno.writeTextFile(`${dir}/logs/empty/log.txt`, "json_stats: {}\n");
    await fails(
      dir,
      ["--teacher_id empty", "lacks depth, width, num_classes"],
      ...STUDENT,
      "--teacher_id",
      "empty",
      "--beta",
      "1e3",
    );

    // checkpoint.json with no options, then with one missing.
    await Deno.copyFile(`${dir}/logs/t/checkpoint.json`, `${dir}/checkpoint.json.good`);
    const info = await checkpointOf(`${dir}/logs/t`);
    await Deno.writeTextFile(`${dir}/logs/t/checkpoint.json`, JSON.stringify({ ...info, options: {} }));
    await fails(dir, ["logs/t/checkpoint.json holds no options", "damaged"], "--resume", "logs/t", "--epochs", "2");
    const { dataset: _, ...lacking } = info.options;
    await Deno.writeTextFile(`${dir}/logs/t/checkpoint.json`, JSON.stringify({ ...info, options: lacking }));
    const err = await fails(
      dir,
      ["logs/t/checkpoint.json", "lack or mistype dataset"],
      "--resume",
      "logs/t",
      "--epochs",
      "2",
    );
    assert.ok(!err.includes("--dataset"), err);
    await Deno.copyFile(`${dir}/checkpoint.json.good`, `${dir}/logs/t/checkpoint.json`);

    // Non-finite weights in a checkpoint: the file is damaged; a lower --lr is not the fix.
    await poison(`${dir}/logs/t/${info.model}`, "group1.block0.conv0", NaN);
    const resume = await fails(
      dir,
      [info.model, "group1.block0.conv0 holds NaN", "damaged"],
      "--resume",
      "logs/t",
      "--epochs",
      "2",
    );
    assert.ok(!resume.includes("--lr"), resume);
    const teacher = await fails(
      dir,
      [info.model, "holds NaN", "retrain the teacher"],
      ...STUDENT,
      "--teacher_id",
      "t",
      "--beta",
      "1e3",
    );
    assert.ok(!teacher.includes("--lr"), teacher);
  });
});
