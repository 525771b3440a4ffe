// The paper's CIFAR-10 experiments, one table cell at a time (see --help and the README's tables):
//
//   deno run -A cli/paper.ts --row wrn-16-1_16-2 --method at --dataroot data --download   # teacher, then AT student
//   deno run -A cli/paper.ts --row nin-grad --method all --short                         # a short version of a row
//   deno run -A cli/paper.ts --list                                                      # every cell's commands
import { flagHelp, type FlagTable, parseFlagTable } from "../src/train/flags.ts";
import {
  cellArgs,
  METHOD_NAMES,
  PAPER_ROWS,
  paperLogs,
  type PaperMethod,
  paperRow,
  paperTablesMarkdown,
  runPaperCell,
  SHORT_RUN,
} from "../src/train/paper.ts";
import { exitWithError } from "./_errors.ts";

interface PaperOptions {
  row: string;
  method: string;
  list: boolean;
  short: boolean;
  logs: string;
  dataroot: string;
  download: boolean;
  backend: string;
}

const FLAGS: FlagTable<PaperOptions> = {
  row: { kind: "string", default: "", help: `table row: ${PAPER_ROWS.map((r) => r.id).join(", ")}` },
  method: { kind: "string", default: "all", help: `cell: ${Object.keys(METHOD_NAMES).join(", ")}, or all` },
  list: { kind: "bool", default: false, help: "print every cell's cli/cifar.ts commands and the README tables" },
  short: {
    kind: "bool",
    default: false,
    help: `a short version: ${SHORT_RUN.epochs} epochs on ${SHORT_RUN.trainImages}/${SHORT_RUN.testImages} images`,
  },
  logs: { kind: "string", default: "", help: "folder of the runs (default logs/paper, logs/paper-short)" },
  dataroot: { kind: "string", default: ".", help: "folder holding cifar-10-batches-bin/" },
  download: { kind: "bool", default: false, help: "fetch CIFAR-10 into --dataroot if it is missing" },
  backend: { kind: "string", default: "auto", help: "auto, cpu, webgpu, onednn or cudnn" },
};

const ABOUT = [
  "Trains cells of the paper's Table 1 (activation-based AT, F-ActT, KD, AT+KD) and Table 2 (gradient-based AT,",
  "the flip-symmetry norm) on CIFAR-10 with cli/cifar.ts: the row's teacher first (reused when trained before,",
  "resumed when interrupted), then the cell. A finished run is not trained again; an interrupted one resumes.",
];

try {
  const { options: o, help } = parseFlagTable(FLAGS, Deno.args);
  if (help) {
    console.log(flagHelp(FLAGS, "deno run -A cli/paper.ts", ABOUT));
  } else if (o.list) {
    const logs = paperLogs({ logs: o.logs || undefined, short: o.short ? SHORT_RUN : undefined });
    for (const row of PAPER_ROWS) {
      for (const m of row.methods) {
        console.log(`# ${row.id} ${m}\ndeno run -A cli/cifar.ts ${cellArgs(row, m, logs).join(" ")}`);
      }
    }
    console.log(`\n${paperTablesMarkdown()}`);
  } else {
    if (!o.row) throw new RangeError("--row: name a row (or --list them)");
    const row = paperRow(o.row);
    const methods = o.method === "all" ? row.methods : [o.method as PaperMethod];
    for (const method of methods) {
      const reports = await runPaperCell(row, method, {
        logs: o.logs || undefined,
        dataroot: o.dataroot,
        download: o.download,
        backend: o.backend,
        short: o.short ? SHORT_RUN : undefined,
      });
      const last = reports.at(-1)!;
      console.log(
        `${row.id} ${METHOD_NAMES[method]}: ${last.network}, test error ${
          (100 - last.testAcc).toFixed(2)
        }% (${last.save})`,
      );
    }
  }
} catch (e) {
  exitWithError(e);
}
