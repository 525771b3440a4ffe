/**
 * The CIFAR recipe end to end, as the reference `cifar.py` runs it: a teacher trained alone, or a student
 * trained against a teacher with KD and/or AT; one `json_stats` line and one checkpoint per epoch; resume.
 *
 * @module
 */
import { CIFAR_LAYOUTS } from "../data/cifar.ts";
import { createLoaders, loadDataset } from "../data/datasets.ts";
import { firstImages, IMAGE_SIZE } from "../data/dataset.ts";
import { countScalars } from "../nn/params.ts";
import { sgdInit } from "../nn/sgd.ts";
import type { Network } from "../nn/network.ts";
import { getBackend, useBackend } from "../tensor/device.ts";
import { cifarNetwork, cifarNetworkTag } from "./cifar_network.ts";
import { trainEpochs } from "./epochs.ts";
import { type CifarOptions, FLAGS, type ParsedArgs, validateOptions } from "./options.ts";
import { epochsLeft, loadResumePoint, type Resumed, resumeOptions } from "./resume.ts";
import { checkTrainingFits } from "./memory.ts";
import { openRunFolder } from "./run_folder.ts";
import { type Objective, scheduledBeta } from "./step.ts";
import type { PhaseMeters } from "./phase.ts";
import type { AverageMeter } from "./meters.ts";
import { loadTeacher } from "./teacher.ts";

import { nothingToDo, type RunEnvironment, type RunReport, timestamp } from "./recipe.ts";

export { DivergedError } from "./guard.ts";
export type { RunEnvironment, RunReport } from "./recipe.ts";

/** Options that may change when a run is resumed; every other one must match the checkpoint. */
const RESUMABLE = new Set<keyof CifarOptions>([
  "epochs",
  "backend",
  "dataroot",
  "download",
  "nthread",
  "resume",
]);

/** Prints the notes of data sets cut down from the official sizes. */
function noteDataSizes(data: Awaited<ReturnType<typeof loadDataset>>, print: (line: string) => void): void {
  if (data.name === "MNIST") return;
  const layout = CIFAR_LAYOUTS[data.name];
  const splits = [["training", layout.train, data.train.labels.length], ["test", layout.test, data.test.labels.length]];
  for (const [split, files, n] of splits as [string, { records: number }[], number][]) {
    const official = files.reduce((a, f) => a + f.records, 0);
    if (n !== official) print(`note: ${data.name} has ${n} ${split} images, not the official ${official}`);
  }
}

const meanStd = (m: AverageMeter) => [m.mean, m.std];

/**
 * The transfer terms of an epoch's log line, each `[mean, std]` over the batches (as the reference's `at_losses`):
 * `at_losses` and `fat_losses` per group, `gat_loss` and `sym_loss`; `[]` where the objective has no such term.
 */
function transferLosses(m: PhaseMeters): Record<string, unknown> {
  return {
    at_losses: m.at.map(meanStd),
    fat_losses: m.fat.map(meanStd),
    gat_loss: m.gat.count ? meanStd(m.gat) : [],
    sym_loss: m.sym.count ? meanStd(m.sym) : [],
  };
}

/** The run's starting point: a fresh initialisation, or a resumed checkpoint checked against the network. */
async function startingPoint(net: Network, o: CifarOptions, resumed: Resumed<CifarOptions> | undefined) {
  if (!resumed) {
    const { params, stats } = net.init(o.seed);
    return { params, stats, momentum: sgdInit(params), startEpoch: 0 };
  }
  return await loadResumePoint(resumed, getBackend(), () => net);
}

/**
 * Trains as `cifar.py` does with the same options. Throws one clear error for bad input (and a
 * {@linkcode DivergedError} when the loss or the weights stop being finite); never overwrites another run, never
 * writes a checkpoint of non-finite weights.
 *
 * @example
 * ```ts
 * const report = await runCifar(parseCifarArgs(["--dataset", "MNIST", "--epochs", "1", "--save", "logs/demo"]));
 * ```
 */
export async function runCifar(args: ParsedArgs, env: RunEnvironment = {}): Promise<RunReport> {
  const print = env.print ?? console.log;
  const started = performance.now();
  const resumed = args.options.resume ? await resumeOptions(FLAGS, args, RESUMABLE) : undefined;
  const o: CifarOptions = resumed?.options ?? { ...args.options };
  for (const w of validateOptions(o)) print(`note: ${w}`);
  if (resumed && !epochsLeft(resumed, o.epochs, print)) {
    return nothingToDo(resumed, cifarNetworkTag(o), started);
  }
  if (!o.save) o.save = `logs/${o.dataset}-${cifarNetworkTag(o)}-${timestamp()}`;
  o.save = o.save.replace(/\/+$/, "");
  const folder = await openRunFolder(o.save, resumed ? "--resume" : "--save", resumed?.info);
  let finished = false;
  try {
    for (const n of folder.notes) print(`note: ${n}`);
    const choice = await useBackend(o.backend);
    print(choice.report);
    // Any whole number of records is read (cut-down files for experiments); a count other than the official
    // one is reported, and a file cut inside a record is an error.
    const loaded = await loadDataset(o.dataset, { dataroot: o.dataroot, download: o.download, checkCount: false });
    noteDataSizes(loaded, print);
    const data = {
      ...loaded,
      train: firstImages(loaded.train, o.train_images),
      test: firstImages(loaded.test, o.test_images),
    };
    const config = { depth: o.depth, width: o.width, numClasses: data.numClasses };
    // NIN has a fixed size of at most 1.0M parameters (WRN's estimate is a function of its depth and width).
    if (o.model === "wrn") checkTrainingFits(config, o.batch_size, IMAGE_SIZE, "--depth, --width or --batch_size");
    const teacher = o.teacher_id ? await loadTeacher(o.teacher_id, data.numClasses, env.logs) : undefined;
    if (teacher) {
      print(
        `teacher ${teacher.net.name} from ${teacher.dir}${
          teacher.testAcc !== undefined ? ` (test accuracy ${teacher.testAcc.toFixed(2)}%)` : ""
        }`,
      );
    }
    const student = cifarNetwork(o, data.numClasses);
    const objective = (epoch: number): Objective => ({
      student,
      teacher,
      alpha: o.alpha,
      beta: scheduledBeta(o.beta, o.beta_decay, epoch),
      temperature: o.temperature,
      fatBeta: o.fat_beta,
      gatBeta: o.gat_beta,
      symBeta: o.sym_beta,
    });
    const { params, stats, momentum, startEpoch } = await startingPoint(student, o, resumed);
    if (resumed) print(`resuming ${resumed.dir} after epoch ${startEpoch}`);
    const nParameters = countScalars(params);
    print(
      `${student.name}: ${nParameters} parameters; ${data.name}: ${data.train.labels.length} training, ${data.test.labels.length} test images; saving to ${o.save}`,
    );

    const loaders = createLoaders(data, {
      batchSize: o.batch_size,
      seed: o.seed,
      augment: { ...data.augment, pad: o.randomcrop_pad },
    });
    const state = { params, stats, momentum };
    const last = await trainEpochs({
      save: o.save,
      startEpoch,
      schedule: o,
      objective,
      train: loaders.train,
      test: loaders.test,
      imageShape: [3, IMAGE_SIZE, IMAGE_SIZE],
      topk: [1],
      showProgress: env.progress ?? true,
      print,
      record: (epoch, lr, train, test) => ({
        ...o,
        train_loss: train.meters.loss.mean,
        train_acc: train.meters.acc.percent,
        test_loss: test.meters.loss.mean,
        test_acc: test.meters.acc.percent,
        epoch,
        num_classes: data.numClasses,
        n_parameters: nParameters,
        train_time: train.seconds,
        test_time: test.seconds,
        ...transferLosses(train.meters),
        current_lr: lr,
        current_beta: scheduledBeta(o.beta, o.beta_decay, epoch),
        device: choice.backend.name,
      }),
      checkpoint: (epoch) => ({ options: { ...o }, rng: { seed: o.seed, epoch } }),
      summary: (epoch, r, train) =>
        `==> ${o.save} (${epoch}/${o.epochs}) train loss ${(r.train_loss as number).toFixed(4)} acc ${
          (r.train_acc as number).toFixed(2)
        }%, test loss ${(r.test_loss as number).toFixed(4)} acc ${(r.test_acc as number).toFixed(2)}% (${
          train.seconds.toFixed(1)
        } s, ${(train.meters.images / train.seconds).toFixed(1)} img/s)`,
    }, state);
    finished = true;
    return {
      save: o.save,
      network: student.name,
      backend: choice.backend.name,
      nParameters,
      epochs: o.epochs,
      epochsRun: o.epochs - startEpoch,
      testAcc: typeof last?.test_acc === "number" ? last.test_acc : NaN,
      trainLoss: typeof last?.train_loss === "number" ? last.train_loss : NaN,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await folder.close(!finished);
  }
}
