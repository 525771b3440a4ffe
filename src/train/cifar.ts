/**
 * The CIFAR recipe end to end, as the reference `cifar.py` runs it: a teacher trained alone, or a student
 * trained against a teacher with KD and/or AT; one `json_stats` line and one checkpoint per epoch; resume.
 *
 * @module
 */
import { CIFAR_LAYOUTS } from "../data/cifar.ts";
import { createLoaders, loadDataset } from "../data/datasets.ts";
import { firstImages } from "../data/dataset.ts";
import type { Batch } from "../data/augment.ts";
import { checkRecord, countScalars, splitParams, type TensorRecord } from "../nn/params.ts";
import { stepLr } from "../nn/schedule.ts";
import { sgdInit } from "../nn/sgd.ts";
import { wrn } from "../nn/wrn.ts";
import { useBackend } from "../tensor/device.ts";
import { type Tensor, tensor } from "../tensor/tensor.ts";
import { checkpointDir, hasCheckpoint, loadCheckpoint, readCheckpointInfo, saveCheckpoint } from "./checkpoint.ts";
import { appendJsonStats } from "./log.ts";
import { AccuracyMeter, AverageMeter } from "./meters.ts";
import { type CifarOptions, type ParsedArgs, parseEpochStep, validateOptions } from "./options.ts";
import { Progress } from "./progress.ts";
import { evalStep, type Objective, type StepOutput, trainStep } from "./step.ts";
import { loadTeacher } from "./teacher.ts";

/** Raised when the loss stops being finite; the last good checkpoint is left as it was. */
export class DivergedError extends Error {
  override name = "DivergedError";
}

/** Where a run prints, and where teachers are looked up. */
export interface RunEnvironment {
  /** Prints a line of the run's report (default: `console.log`). */
  readonly print?: (line: string) => void;
  /** Folder of `--teacher_id` runs; default `logs` (as the reference). */
  readonly logs?: string;
  /** Show progress bars; default true. */
  readonly progress?: boolean;
}

/** What a finished run reports. */
export interface RunReport {
  readonly save: string;
  readonly network: string;
  readonly backend: string;
  readonly nParameters: number;
  readonly epochs: number;
  readonly testAcc: number;
  readonly trainLoss: number;
  /** Wall time of the whole run, seconds. */
  readonly seconds: number;
}

/** Options that may change when a run is resumed; every other one must match the checkpoint. */
const RESUMABLE = new Set<keyof CifarOptions>([
  "epochs",
  "backend",
  "dataroot",
  "download",
  "nthread",
  "save",
  "resume",
]);

async function runHoldsLog(dir: string): Promise<boolean> {
  try {
    return (await Deno.stat(`${dir}/log.txt`)).isFile || hasCheckpoint(dir);
  } catch {
    return hasCheckpoint(dir);
  }
}

/** The options of a resumed run: the checkpoint's, with the flags that may change taken from the command line. */
async function resumeOptions(args: ParsedArgs): Promise<{ options: CifarOptions; dir: string }> {
  const dir = checkpointDir(args.options.resume);
  const saved = (await readCheckpointInfo(dir)).options;
  const options = { ...saved } as Record<string, unknown>;
  for (const key of args.given) {
    const value = args.options[key];
    if (RESUMABLE.has(key)) options[key] = value;
    else if (JSON.stringify(value) !== JSON.stringify(saved[key])) {
      throw new RangeError(
        `--${key} ${JSON.stringify(value)} differs from the resumed run's ${
          JSON.stringify(saved[key])
        }; drop it to resume`,
      );
    }
  }
  return { options: options as unknown as CifarOptions, dir };
}

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
}

/** Host copies of a step's outputs, requested as soon as the step is queued. */
interface Pending {
  readonly loss: Promise<Float32Array>;
  readonly logits: Promise<Float32Array>;
  readonly atLosses: Promise<Float32Array>[];
  readonly labels: Int32Array;
  readonly where: string;
}

/** Starts the readbacks of a step's outputs and releases its tensors (a download captures the values at once). */
function readBack(out: StepOutput, labels: Int32Array, where: string): Pending {
  const pending = {
    loss: out.loss.data(),
    logits: out.logits.data(),
    atLosses: out.atLosses.map((t) => t.data()),
    labels,
    where,
  };
  for (const t of [out.loss, out.logits, ...out.atLosses]) t.dispose();
  return pending;
}

/** Meters of one phase. */
class PhaseMeters {
  readonly loss = new AverageMeter();
  readonly acc = new AccuracyMeter();
  readonly at = [new AverageMeter(), new AverageMeter(), new AverageMeter()];
  images = 0;
  batches = 0;

  async settle(p: Pending): Promise<void> {
    const [loss] = await p.loss;
    if (!Number.isFinite(loss)) throw new DivergedError(`the loss became ${loss} at ${p.where}`);
    this.loss.add(loss);
    this.acc.add(await p.logits, p.labels);
    for (let i = 0; i < p.atLosses.length; i++) this.at[i].add((await p.atLosses[i])[0]);
    this.images += p.labels.length;
    this.batches++;
  }
}

/** Runs `step` on each batch, keeping up to two steps' readbacks in flight so the device never waits for the host. */
async function runPhase(
  batches: AsyncIterable<Batch>,
  total: number,
  label: string,
  showProgress: boolean,
  step: (x: Tensor, labels: Int32Array, index: number) => StepOutput,
): Promise<{ meters: PhaseMeters; seconds: number }> {
  const meters = new PhaseMeters();
  const start = performance.now();
  const progress = showProgress ? new Progress(label, total) : undefined;
  const queue: Pending[] = [];
  const drain = async (keep: number) => {
    while (queue.length > keep) {
      await meters.settle(queue.shift()!);
      progress?.update({
        batch: meters.batches,
        images: meters.images,
        loss: meters.loss.mean,
        acc: meters.acc.percent,
      });
    }
  };
  try {
    for await (const batch of batches) {
      const x = tensor(batch.images, [batch.labels.length, 3, 32, 32]);
      const out = step(x, batch.labels, batch.index);
      x.dispose();
      queue.push(readBack(out, batch.labels, `${label}, batch ${batch.index + 1}`));
      await drain(2);
    }
    await drain(0);
  } finally {
    progress?.done();
  }
  return { meters, seconds: (performance.now() - start) / 1000 };
}

/**
 * Trains as `cifar.py` does with the same options. Throws one clear error for bad input (and a
 * {@linkcode DivergedError} when the loss stops being finite); never overwrites another run.
 *
 * @example
 * ```ts
 * const report = await runCifar(parseCifarArgs(["--dataset", "MNIST", "--epochs", "1", "--save", "logs/demo"]));
 * ```
 */
export async function runCifar(args: ParsedArgs, env: RunEnvironment = {}): Promise<RunReport> {
  const print = env.print ?? console.log;
  const started = performance.now();
  const resumed = args.options.resume ? await resumeOptions(args) : undefined;
  const o: CifarOptions = resumed?.options ?? { ...args.options };
  for (const w of validateOptions(o)) print(`note: ${w}`);
  const epochStep = parseEpochStep(o.epoch_step);
  if (!o.save) o.save = resumed?.dir ?? `logs/${o.dataset}-wrn-${o.depth}-${o.width}-${timestamp()}`;
  o.save = o.save.replace(/\/+$/, "");
  if (resumed?.dir !== o.save && (await runHoldsLog(o.save))) {
    throw new Error(
      `--save ${o.save} already holds a run (log.txt or checkpoint.json): continue it with --resume ${o.save}, or choose another --save`,
    );
  }

  const choice = await useBackend(o.backend);
  print(choice.report);
  // Any whole number of records is read (cut-down files for experiments); a count other than the official
  // one is reported, and a file cut inside a record is an error.
  const loaded = await loadDataset(o.dataset, { dataroot: o.dataroot, download: o.download, checkCount: false });
  const data = {
    ...loaded,
    train: firstImages(loaded.train, o.train_images),
    test: firstImages(loaded.test, o.test_images),
  };
  if (data.name !== "MNIST") {
    const layout = CIFAR_LAYOUTS[data.name];
    for (
      const [split, files, n] of [["training", layout.train, loaded.train.labels.length], [
        "test",
        layout.test,
        loaded.test.labels.length,
      ]] as const
    ) {
      const official = files.reduce((a, f) => a + f.records, 0);
      if (n !== official) print(`note: ${data.name} has ${n} ${split} images, not the official ${official}`);
    }
  }
  const teacher = o.teacher_id ? await loadTeacher(o.teacher_id, data.numClasses, env.logs) : undefined;
  if (teacher) {
    print(
      `teacher ${teacher.net.name} from ${teacher.dir}${
        teacher.testAcc !== undefined ? ` (test accuracy ${teacher.testAcc.toFixed(2)}%)` : ""
      }`,
    );
  }
  const student = wrn({ depth: o.depth, width: o.width, numClasses: data.numClasses });
  const objective: Objective = { student, teacher, alpha: o.alpha, beta: o.beta, temperature: o.temperature };

  let params: TensorRecord, stats: TensorRecord, momentum: TensorRecord;
  let startEpoch = 0;
  if (resumed) {
    const ck = await loadCheckpoint(resumed.dir);
    ({ params, stats } = splitParams(ck.model));
    checkRecord(`${resumed.dir}/${ck.info.model}`, params, student.paramShapes);
    checkRecord(`${resumed.dir}/${ck.info.model} (statistics)`, stats, student.statShapes);
    checkRecord(`${resumed.dir}/${ck.info.optimizer}`, ck.momentum, student.paramShapes);
    momentum = ck.momentum;
    startEpoch = ck.info.epoch;
    print(`resuming ${resumed.dir} after epoch ${startEpoch}`);
    if (resumed.dir !== o.save) {
      await Deno.mkdir(o.save, { recursive: true });
      await Deno.copyFile(`${resumed.dir}/log.txt`, `${o.save}/log.txt`).catch(() => {});
    }
  } else {
    ({ params, stats } = student.init(o.seed));
    momentum = sgdInit(params);
  }
  await Deno.mkdir(o.save, { recursive: true });
  const nParameters = countScalars(params);
  print(
    `${student.name}: ${nParameters} parameters; ${data.name}: ${data.train.labels.length} training, ${data.test.labels.length} test images; saving to ${o.save}`,
  );

  const loaders = createLoaders(data, {
    batchSize: o.batch_size,
    seed: o.seed,
    augment: { ...data.augment, pad: o.randomcrop_pad },
  });
  const show = env.progress ?? true;
  let last = { testAcc: NaN, trainLoss: NaN };
  for (let epoch = startEpoch; epoch < o.epochs; epoch++) {
    const number = epoch + 1;
    const lr = stepLr(o.lr, number, { epochStep, decayRatio: o.lr_decay_ratio });
    if (epochStep.includes(number)) {
      // The reference builds a new optimizer at each decay: the momentum buffers start again from zero.
      for (const t of Object.values(momentum)) t.dispose();
      momentum = sgdInit(params);
    }
    const train = await runPhase(
      loaders.train.epoch(epoch),
      loaders.train.numBatches,
      `epoch ${number}/${o.epochs}`,
      show,
      (x, labels) => {
        const out = trainStep(objective, params, stats, momentum, x, labels, { lr, weightDecay: o.weight_decay });
        for (const t of Object.values(stats)) t.dispose();
        stats = Object.fromEntries(Object.entries(out.stats).map(([k, t]) => [k, t.keep()]));
        return out;
      },
    ).catch((e) => {
      if (!(e instanceof DivergedError)) throw e;
      const kept = epoch > 0 ? `the checkpoint of epoch ${epoch} stays in ${o.save}` : "no checkpoint was written";
      throw new DivergedError(`${e.message}: training stopped and ${kept}; try a lower --lr`);
    });
    const test = await runPhase(
      loaders.test.epoch(0),
      loaders.test.numBatches,
      `test ${number}/${o.epochs}`,
      show,
      (x, labels) => evalStep(objective, params, stats, x, labels),
    );
    const record = {
      ...o,
      train_loss: train.meters.loss.mean,
      train_acc: train.meters.acc.percent,
      test_loss: test.meters.loss.mean,
      test_acc: test.meters.acc.percent,
      epoch: number,
      num_classes: data.numClasses,
      n_parameters: nParameters,
      train_time: train.seconds,
      test_time: test.seconds,
      at_losses: teacher ? train.meters.at.map((m) => [m.mean, m.std]) : [],
      current_lr: lr,
      device: choice.backend.name,
    };
    await saveCheckpoint(o.save, { epoch: number, lr, options: o, rng: { seed: o.seed, epoch: number } }, {
      ...params,
      ...stats,
    }, momentum);
    await appendJsonStats(`${o.save}/log.txt`, record);
    last = { testAcc: record.test_acc, trainLoss: record.train_loss };
    print(
      `==> ${o.save} (${number}/${o.epochs}) train loss ${record.train_loss.toFixed(4)} acc ${
        record.train_acc.toFixed(2)
      }%, ` +
        `test loss ${record.test_loss.toFixed(4)} acc ${record.test_acc.toFixed(2)}% ` +
        `(${train.seconds.toFixed(1)} s, ${(train.meters.images / train.seconds).toFixed(1)} img/s)`,
    );
  }
  return {
    save: o.save,
    network: student.name,
    backend: choice.backend.name,
    nParameters,
    epochs: o.epochs,
    testAcc: last.testAcc,
    trainLoss: last.trainLoss,
    seconds: (performance.now() - started) / 1000,
  };
}
