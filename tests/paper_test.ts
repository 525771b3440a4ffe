// The paper's experiments (src/train/paper.ts, cli/paper.ts): every cell of Table 1 and Table 2 trained end to end in
// a short version (one epoch on one image, on a tiny CIFAR-format data set), each logging its own terms; teachers
// trained once and reused; every cell's cli/cifar.ts command valid; the README's tables generated from the same data.
import { readJsonStats } from "../src/train/log.ts";
import { parseCifarArgs, validateOptions } from "../src/train/options.ts";
import {
  cellArgs,
  cellCommand,
  cellFolder,
  PAPER_ROWS,
  paperTablesMarkdown,
  runPaperCell,
  type ShortRun,
} from "../src/train/paper.ts";
import { assert } from "./_assert.ts";
import { BACKEND, succeeds, withTemp } from "./_cli.ts";

const TINY_RUN: ShortRun = { epochs: 1, trainImages: 1, testImages: 1, batchSize: 1 };
const PAPER_CLI = new URL("../cli/paper.ts", import.meta.url).pathname;

Deno.test("paper: every cell's cli/cifar.ts command is valid, and the README lists every cell with its command", async () => {
  // Table lines compared cell by cell: the formatter pads README's columns.
  const cells = (line: string) => line.split("|").map((c) => c.trim()).join("|");
  const readme = new Set((await Deno.readTextFile(new URL("../README.md", import.meta.url))).split("\n").map(cells));
  for (const line of paperTablesMarkdown().split("\n").filter((l) => l.startsWith("| ") && l.includes("cli/paper"))) {
    assert.ok(readme.has(cells(line)), `README lacks the line\n${line}\n(regenerate it with cli/paper.ts --list)`);
  }
  for (const row of PAPER_ROWS) {
    for (const m of row.methods) {
      const { options } = parseCifarArgs(cellArgs(row, m, "logs/paper"));
      validateOptions(options);
      assert.equal(options.save, cellFolder(row, m, "logs/paper"));
      assert.ok(paperTablesMarkdown().includes(cellCommand(row, m)), `${row.id} ${m} is in the tables`);
    }
  }
});

Deno.test("paper: a short version of every cell of both tables trains end to end and logs its terms", async () => {
  await withTemp(async (dir) => {
    const options = { logs: `${dir}/logs`, dataroot: dir, backend: BACKEND, short: TINY_RUN };
    const env = { print: () => {}, progress: false };
    const trained = new Set<string>();
    for (const row of PAPER_ROWS) {
      for (const m of row.methods) {
        const reports = await runPaperCell(row, m, options, env);
        // A network trained alone (a teacher, a student baseline) is trained once, then reused by every cell.
        for (const r of reports) {
          assert.equal(r.epochsRun, trained.has(r.save) ? 0 : 1, `${row.id} ${m}: ${r.save}`);
          trained.add(r.save);
        }
        const [line] = await readJsonStats(`${cellFolder(row, m, options.logs)}/log.txt`);
        const what = `${row.id} ${m}: ${JSON.stringify(line).slice(0, 400)}`;
        assert.ok(Number.isFinite(line.train_loss as number), what);
        const pair = (v: unknown) => Array.isArray(v) && v.length === 2 && v.every(Number.isFinite) && v[0] >= 0;
        const transfer = m !== "student" && m !== "teacher";
        assert.equal((line.at_losses as unknown[]).length, transfer ? 3 : 0, what);
        assert.equal((line.fat_losses as unknown[]).length, m === "fat" ? 3 : 0, what);
        assert.ok(m === "gat" ? pair(line.gat_loss) : (line.gat_loss as unknown[]).length === 0, what);
        assert.ok(m === "sym" ? pair(line.sym_loss) : (line.sym_loss as unknown[]).length === 0, what);
        assert.equal(line.model, m === "teacher" ? row.teacher.model : row.student.model, what);
        assert.equal(line.current_beta, m === "at" || m === "atkd" ? 1e3 : 0, what);
      }
    }
  });
});

Deno.test("cli/paper.ts --list prints every cell's command; a bad row is one clear error", async () => {
  await withTemp(async (dir) => {
    const out = await succeeds(PAPER_CLI, dir, ["--list"]);
    for (const row of PAPER_ROWS) {
      for (const m of row.methods) {
        assert.ok(out.includes(`deno run -A cli/cifar.ts ${cellArgs(row, m, "logs/paper").join(" ")}`));
      }
    }
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", PAPER_CLI, "--row", "wrn-99"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 1, err);
    assert.ok(err.includes("--row wrn-99") && err.includes("nin-grad") && !err.includes("    at "), err);
  });
});
