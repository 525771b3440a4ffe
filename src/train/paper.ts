/**
 * The paper's CIFAR-10 experiments as data: every row of its Table 1 (activation-based AT against F-ActT, KD and
 * AT+KD, for NIN and WRN pairs) and of its gradient-based AT table (Table 2), each cell one `cli/cifar.ts`
 * command, and a runner that trains a cell end to end: its teacher first (or reuses the one already trained,
 * resuming it if it was interrupted), then the cell's network.
 *
 * @module
 */
import { hasCheckpoint } from "./checkpoint.ts";
import { runCifar } from "./cifar.ts";
import { cifarNetworkTag, type NetworkOptions } from "./cifar_network.ts";
import { parseCifarArgs } from "./options.ts";
import type { RunEnvironment, RunReport } from "./recipe.ts";

/** A network of the tables, as `cli/cifar.ts` flags and the paper's name for it. */
export interface PaperNetwork extends NetworkOptions {
  /** The paper's name: `WRN-16-1, 0.2M`. */
  readonly label: string;
}

/** How a cell trains its network: alone, or as a student with some transfer terms. */
export type PaperMethod = "student" | "teacher" | "at" | "fat" | "kd" | "atkd" | "gat" | "sym";

/** One row of a table: a student, its teacher, the settings every cell of the row shares, the paper's errors. */
export interface PaperRow {
  /** `--row` of `cli/paper.ts`. */
  readonly id: string;
  /** The paper's table: 1 (activation-based AT) or 2 (gradient-based AT). */
  readonly table: 1 | 2;
  readonly student: PaperNetwork;
  readonly teacher: PaperNetwork;
  /** `cli/cifar.ts` flags of every run of the row (the gradient experiments: no weight decay, flips only). */
  readonly settings: readonly string[];
  /** The methods of the row, in the table's column order. */
  readonly methods: readonly PaperMethod[];
  /** CIFAR-10 test error (%) the paper reports for each method, where we quote it; otherwise see the paper. */
  readonly paper: Partial<Readonly<Record<PaperMethod, number>>>;
}

/** Each method's own `cli/cifar.ts` flags (the teacher's are added by the runner). */
export const METHOD_FLAGS: Readonly<Record<PaperMethod, readonly string[]>> = {
  student: [],
  teacher: [],
  at: ["--beta", "1e3"],
  fat: ["--fat_beta", "1e3"],
  kd: ["--alpha", "0.9", "--temperature", "4"],
  atkd: ["--alpha", "0.9", "--temperature", "4", "--beta", "1e3", "--beta_decay", "0.98"],
  gat: ["--gat_beta", "1"],
  sym: ["--sym_beta", "1"],
};

/** What each method is called in the tables. */
export const METHOD_NAMES: Readonly<Record<PaperMethod, string>> = {
  student: "student",
  teacher: "teacher",
  at: "AT",
  fat: "F-ActT",
  kd: "KD",
  atkd: "AT+KD",
  gat: "gradient AT",
  sym: "symmetry norm",
};

const wrnNet = (depth: number, width: number, size: string): PaperNetwork => ({
  model: "wrn",
  depth,
  width,
  label: `WRN-${depth}-${width}, ${size}`,
});
const ninNet = (width: number, noBn: boolean): PaperNetwork => ({
  model: "nin",
  depth: 16,
  width,
  no_bn: noBn,
  label: `NIN-${width === 1 ? "wide, 1M" : "thin, 0.2M"}${noBn ? ", no BN" : ""}`,
});

const TABLE1: readonly PaperMethod[] = ["student", "at", "fat", "kd", "atkd", "teacher"];

/**
 * The rows. The paper's numbers are quoted only where they were checked against the paper's text, which this
 * project's machines cannot reach: none yet. A row's `paper` holds them when someone adds them from the paper.
 */
export const PAPER_ROWS: readonly PaperRow[] = [
  {
    id: "nin",
    table: 1,
    student: ninNet(0.5, false),
    teacher: ninNet(1, false),
    settings: [],
    methods: TABLE1,
    paper: {},
  },
  {
    id: "wrn-16-1_16-2",
    table: 1,
    student: wrnNet(16, 1, "0.2M"),
    teacher: wrnNet(16, 2, "0.7M"),
    settings: [],
    methods: TABLE1,
    paper: {},
  },
  {
    id: "wrn-16-1_40-1",
    table: 1,
    student: wrnNet(16, 1, "0.2M"),
    teacher: wrnNet(40, 1, "0.6M"),
    settings: [],
    methods: TABLE1,
    paper: {},
  },
  {
    id: "wrn-16-2_40-2",
    table: 1,
    student: wrnNet(16, 2, "0.7M"),
    teacher: wrnNet(40, 2, "2.2M"),
    settings: [],
    methods: TABLE1,
    paper: {},
  },
  {
    // §4.1.1: a thin NIN without batch norm, horizontal flips only (no random crop), no weight decay.
    id: "nin-grad",
    table: 2,
    student: ninNet(0.5, true),
    teacher: ninNet(1, true),
    // The learning rate is ours: without batch norm this network diverges at the reference's 0.1.
    settings: ["--weight_decay", "0", "--randomcrop_pad", "0", "--lr", "0.01"],
    methods: ["student", "gat", "sym", "at", "kd", "teacher"],
    paper: {},
  },
];

/** The row named `id`, or an error listing the rows. */
export function paperRow(id: string): PaperRow {
  const row = PAPER_ROWS.find((r) => r.id === id);
  if (!row) throw new RangeError(`--row ${id}: no such row; use one of ${PAPER_ROWS.map((r) => r.id).join(", ")}`);
  return row;
}

function networkFlags(n: NetworkOptions): string[] {
  return n.model === "nin"
    ? ["--model", "nin", "--width", String(n.width), ...(n.no_bn ? ["--no_bn"] : [])]
    : ["--depth", String(n.depth), "--width", String(n.width)];
}

const settingsTag = (row: PaperRow) => (row.settings.length ? `_${row.table === 2 ? "flips-nowd" : "custom"}` : "");

/** The run folder of a cell, under `logs`: networks trained alone by network (shared across rows), others by cell. */
export function cellFolder(row: PaperRow, method: PaperMethod, logs: string): string {
  const alone = method === "teacher" ? row.teacher : method === "student" ? row.student : undefined;
  if (alone) return `${logs}/${cifarNetworkTag(alone)}${settingsTag(row)}`;
  return `${logs}/${cifarNetworkTag(row.student)}_from_${cifarNetworkTag(row.teacher)}${settingsTag(row)}_${method}`;
}

/**
 * The `cli/cifar.ts` arguments of a cell (`--save` its folder under `logs`; a transfer cell names its teacher's
 * folder with `--teacher_id`), without data or device flags.
 */
export function cellArgs(row: PaperRow, method: PaperMethod, logs: string): string[] {
  const net = method === "teacher" ? row.teacher : row.student;
  const teacher = method === "student" || method === "teacher"
    ? []
    : ["--teacher_id", cellFolder(row, "teacher", logs)];
  return [
    ...networkFlags(net),
    ...row.settings,
    ...teacher,
    ...METHOD_FLAGS[method],
    "--save",
    cellFolder(row, method, logs),
  ];
}

/** A short version of a run: few epochs on the first images of the data set. */
export interface ShortRun {
  readonly epochs: number;
  readonly trainImages: number;
  readonly testImages: number;
  readonly batchSize: number;
}

/** `cli/paper.ts --short`: two epochs on 512 training and 512 test images. */
export const SHORT_RUN: ShortRun = Object.freeze({ epochs: 2, trainImages: 512, testImages: 512, batchSize: 64 });

/** Options of {@linkcode runPaperCell}. */
export interface PaperRunOptions {
  /** Folder of the runs (default `logs/paper`, or `logs/paper-short` for a short version). */
  readonly logs?: string;
  /** `--dataroot` (default `.`). */
  readonly dataroot?: string;
  /** `--download`: fetch CIFAR-10 into `dataroot` if it is missing. */
  readonly download?: boolean;
  /** `--backend` (default `auto`). */
  readonly backend?: string;
  /** A short version of every run instead of the paper's 200 epochs on all images. */
  readonly short?: ShortRun;
}

/** The flags a run takes from the options: those a resumed run may take again, then the short version's. */
function runFlags(o: PaperRunOptions): { resumable: string[]; fresh: string[] } {
  const resumable = [
    ...(o.dataroot !== undefined ? ["--dataroot", o.dataroot] : []),
    ...(o.download ? ["--download"] : []),
    ...(o.backend !== undefined ? ["--backend", o.backend] : []),
    ...(o.short ? ["--epochs", String(o.short.epochs)] : []),
  ];
  const short = o.short
    ? [
      "--train_images",
      String(o.short.trainImages),
      "--test_images",
      String(o.short.testImages),
      "--batch_size",
      String(o.short.batchSize),
    ]
    : [];
  return { resumable, fresh: [...resumable, ...short] };
}

/** The folder of the runs for these options. */
export function paperLogs(o: PaperRunOptions): string {
  return o.logs ?? (o.short ? "logs/paper-short" : "logs/paper");
}

/**
 * Trains one cell of a table end to end: the row's teacher first (skipped when its folder holds a finished run,
 * resumed when it holds an interrupted one), then the cell's own run (likewise). Returns the reports of both.
 *
 * @example
 * ```ts
 * await runPaperCell(paperRow("wrn-16-1_16-2"), "at", { dataroot: "data", download: true });
 * ```
 */
export async function runPaperCell(
  row: PaperRow,
  method: PaperMethod,
  options: PaperRunOptions = {},
  env: RunEnvironment = {},
): Promise<RunReport[]> {
  const logs = paperLogs(options);
  const flags = runFlags(options);
  if (!row.methods.includes(method)) {
    throw new RangeError(`--method ${method}: row ${row.id} has ${row.methods.join(", ")}`);
  }
  const reports: RunReport[] = [];
  const needsTeacher = method !== "student" && method !== "teacher";
  for (const m of needsTeacher ? ["teacher", method] as const : [method]) {
    const folder = cellFolder(row, m, logs);
    // A folder with a checkpoint is continued (or, when it has trained every epoch, left as it is).
    const args = hasCheckpoint(folder)
      ? ["--resume", folder, ...flags.resumable]
      : [...cellArgs(row, m, logs), ...flags.fresh];
    reports.push(await runCifar(parseCifarArgs(args), env));
  }
  return reports;
}

/** The command that runs one cell (`cli/paper.ts`). */
export function cellCommand(row: PaperRow, method: PaperMethod): string {
  return `deno run -A cli/paper.ts --row ${row.id} --method ${method}`;
}

/**
 * The README's tables of the experiments: per table, one line per cell with the paper's error beside its command
 * (`see the paper` where we do not quote it).
 */
export function paperTablesMarkdown(): string {
  const out: string[] = [];
  for (const table of [1, 2] as const) {
    out.push(
      "",
      table === 1
        ? "Table 1 (activation-based AT; CIFAR-10 test error %):"
        : "Table 2 (gradient-based AT; NIN without batch norm, flips only, no weight decay; CIFAR-10 test error %):",
      "",
      "| student ← teacher | method | paper | command |",
      "| --- | --- | ---: | --- |",
    );
    for (const row of PAPER_ROWS.filter((r) => r.table === table)) {
      for (const m of row.methods) {
        const pair = `${row.student.label} ← ${row.teacher.label}`;
        const paper = row.paper[m];
        const cell = paper === undefined ? `see Table ${table}` : paper.toFixed(2);
        out.push(`| ${pair} | ${METHOD_NAMES[m]} | ${cell} | \`${cellCommand(row, m)}\` |`);
      }
    }
  }
  return out.join("\n").trimStart();
}
