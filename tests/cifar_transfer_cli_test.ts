// The rest of the paper in cli/cifar.ts: NIN (--model nin, --no_bn), full-activation transfer (--fat_beta),
// gradient-based AT (--gat_beta), the flip-symmetry norm (--sym_beta) and a decaying AT weight (--beta_decay): short
// runs that log every term per epoch; an exact resume under the β schedule; teachers of either network, and logs and
// checkpoints written before these flags (a WRN, read as before); one clear error for each bad combination.
import { parseSafetensors } from "../src/io/safetensors.ts";
import { runCifar } from "../src/train/cifar.ts";
import { readJsonStats } from "../src/train/log.ts";
import { parseCifarArgs } from "../src/train/options.ts";
import { assert, assertBytesEqual } from "./_assert.ts";
import { BACKEND, fails, ok, STUDENT, TEACHER, TINY, withTemp } from "./_cli.ts";

const SMALL = ["--train_images", "4", "--test_images", "2", "--batch_size", "2"];
const NIN_TEACHER = [...TINY, ...SMALL, "--model", "nin", "--width", "0.125", "--no_bn", "--lr", "0.01"];
const NIN_STUDENT = [...TINY, ...SMALL, "--model", "nin", "--width", "0.0625", "--no_bn", "--lr", "0.01"];

/** Runs cli/cifar.ts in-process (faster than a subprocess), quietly. */
async function run(dir: string, ...args: string[]) {
  const absolute = args.map((a) => a.startsWith("logs/") ? `${dir}/${a}` : a);
  const data = args.includes("--resume") ? [] : ["--dataroot", dir];
  return await runCifar(parseCifarArgs([...absolute, ...data]), {
    print: () => {},
    progress: false,
    logs: `${dir}/logs`,
  });
}

/** Tiny runs of one epoch: a check that went missing would let the run finish (exit 0) instead of hanging. */
const ONE_EPOCH = [...TINY, ...SMALL, "--epochs", "1", "--save", "logs/refused"];

const pair = (v: unknown) => Array.isArray(v) && v.length === 2 && v.every(Number.isFinite) && v[0] >= 0 && v[1] >= 0;

Deno.test("cifar.ts --model nin --no_bn: a teacher, then a student with every term at once logs each of them per epoch", async () => {
  await withTemp(async (dir) => {
    const t = await ok(dir, ...NIN_TEACHER, "--epochs", "1", "--save", "logs/nin_t");
    assert.ok(t.includes("NIN-0.125-nobn"), t);
    const out = await ok(
      dir,
      ...NIN_STUDENT,
      ...["--epochs", "2", "--teacher_id", "nin_t", "--alpha", "0.9", "--beta", "1e3", "--beta_decay", "0.5"],
      ...["--fat_beta", "1e3", "--gat_beta", "1", "--sym_beta", "1", "--save", "logs/all"],
    );
    assert.ok(out.includes("teacher NIN-0.125-nobn from logs/nin_t"), out);
    const lines = await readJsonStats(`${dir}/logs/all/log.txt`);
    assert.deepEqual(lines.map((l) => l.current_beta), [1000, 500]);
    for (const l of lines) {
      const what = JSON.stringify(l).slice(0, 600);
      assert.equal(l.model, "nin", what);
      assert.equal(l.no_bn, true, what);
      for (const f of ["at_losses", "fat_losses"]) assert.ok((l[f] as unknown[]).length === 3, `${f}: ${what}`);
      for (const f of ["gat_loss", "sym_loss"]) assert.ok(pair(l[f]), `${f}: ${what}`);
      assert.ok((l.fat_losses as unknown[]).every(pair) && (l.at_losses as unknown[]).every(pair), what);
      assert.ok(Number.isFinite(l.train_loss as number) && Number.isFinite(l.test_loss as number), what);
    }
    // The student's checkpoint has NIN's names (biases, no batch norm).
    const info = JSON.parse(await Deno.readTextFile(`${dir}/logs/all/checkpoint.json`));
    const names = [...parseSafetensors(await Deno.readFile(`${dir}/logs/all/${info.model}`)).tensors.keys()];
    assert.ok(names.includes("block2.conv2.bias") && !names.some((n) => n.includes("running_")), names.join(", "));
  });
});

Deno.test("cifar.ts resumes a run with a decaying β and gradient terms bit for bit; a NIN teacher teaches a WRN", async () => {
  await withTemp(async (dir) => {
    await run(dir, ...NIN_TEACHER, "--width", "0.25", "--epochs", "1", "--save", "logs/nin_t");
    const common = [
      ...STUDENT,
      ...SMALL,
      ...["--teacher_id", `${dir}/logs/nin_t`, "--beta", "1e3", "--beta_decay", "0.5", "--gat_beta", "1"],
      ...["--sym_beta", "0.5", "--epoch_step", "[3]", "--seed", "3"],
    ];
    await run(dir, ...common, "--epochs", "3", "--save", "logs/straight");
    await run(dir, ...common, "--epochs", "1", "--save", "logs/cut");
    const resumed = await run(dir, "--resume", "logs/cut", "--epochs", "3", "--backend", BACKEND);
    assert.equal(resumed.epochsRun, 2);
    const read = async (name: string) => {
      const info = JSON.parse(await Deno.readTextFile(`${dir}/logs/${name}/checkpoint.json`));
      return [
        await Deno.readFile(`${dir}/logs/${name}/${info.model}`),
        await Deno.readFile(`${dir}/logs/${name}/${info.optimizer}`),
      ];
    };
    const [a, b] = [await read("straight"), await read("cut")];
    assertBytesEqual(b[0], a[0], "parameters and statistics");
    assertBytesEqual(b[1], a[1], "momentum buffers");
    const logs = [await readJsonStats(`${dir}/logs/straight/log.txt`), await readJsonStats(`${dir}/logs/cut/log.txt`)];
    assert.deepEqual(
      logs[1].map((l) => [l.current_beta, l.gat_loss]),
      logs[0].map((l) => [l.current_beta, l.gat_loss]),
    );
    assert.deepEqual(logs[0].map((l) => l.current_beta), [1000, 500, 250]);
  });
});

Deno.test("cifar.ts reads a teacher log and resumes a checkpoint written before --model existed, as a WRN", async () => {
  await withTemp(async (dir) => {
    await run(dir, ...TEACHER, ...SMALL, "--epochs", "1", "--save", "logs/old_t");
    await run(dir, ...STUDENT, ...SMALL, "--epochs", "1", "--save", "logs/old_s");
    const NEW = ["model", "no_bn", "beta_decay", "fat_beta", "gat_beta", "sym_beta"];
    const strip = (r: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(r).filter(([k]) => !NEW.includes(k)));
    for (const name of ["old_t", "old_s"]) {
      const path = `${dir}/logs/${name}`;
      const lines = (await readJsonStats(`${path}/log.txt`)).map((l) => `json_stats: ${JSON.stringify(strip(l))}`);
      await Deno.writeTextFile(`${path}/log.txt`, lines.join("\n") + "\n");
      const info = JSON.parse(await Deno.readTextFile(`${path}/checkpoint.json`));
      info.options = strip(info.options);
      info.log = strip(info.log);
      await Deno.writeTextFile(`${path}/checkpoint.json`, JSON.stringify(info));
    }
    const s = await run(
      dir,
      ...STUDENT,
      ...SMALL,
      "--epochs",
      "1",
      "--teacher_id",
      `${dir}/logs/old_t`,
      "--beta",
      "1e3",
      "--save",
      "logs/new_s",
    );
    assert.equal(s.epochsRun, 1);
    const resumed = await run(dir, "--resume", "logs/old_s", "--epochs", "2");
    assert.equal(resumed.epochsRun, 1);
    assert.equal(resumed.network, "WRN-10-0.25");
  });
});

Deno.test("cifar.ts refuses the new flags' bad values and combinations with one clear error", async () => {
  await withTemp(async (dir) => {
    await fails(dir, ["--model", '"vgg"', "wrn, nin"], ...ONE_EPOCH, "--model", "vgg");
    await fails(dir, ["--no_bn", "--model nin"], ...ONE_EPOCH, "--no_bn");
    await fails(dir, ["--depth", "NIN"], ...ONE_EPOCH, "--model", "nin", "--depth", "40");
    await fails(dir, ["--gat_beta", "--teacher_id"], ...ONE_EPOCH, "--gat_beta", "1");
    await fails(dir, ["--fat_beta", "--teacher_id"], ...ONE_EPOCH, "--fat_beta", "1e3");
    await fails(dir, ["--sym_beta", "non-negative"], ...ONE_EPOCH, "--sym_beta=-1");
    await fails(
      dir,
      ["--beta_decay", "(0, 1]"],
      ...ONE_EPOCH,
      "--beta_decay",
      "1.5",
      "--beta",
      "1",
      "--teacher_id",
      "t",
    );
    await fails(dir, ["--beta_decay", "--beta"], ...ONE_EPOCH, "--beta_decay", "0.9");
    await fails(dir, ["--width", "NIN", "0.001"], ...ONE_EPOCH, "--model", "nin", "--width", "0.001");
  });
});
