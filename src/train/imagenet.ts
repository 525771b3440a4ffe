/**
 * The ImageNet recipe end to end, as the reference `imagenet.py` runs it: ResNet-18 (or 34) trained alone or as a
 * student of a pretrained teacher (a torchvision or reference `.pth`, or one of our runs) with AT over the four
 * groups and/or KD; ImageFolder JPEGs decoded and augmented by workers; top-1/top-5 in every `json_stats` line;
 * checkpoints, resume and every fault behaviour of the CIFAR recipe, from the same pieces. The same command trains
 * on any ImageFolder (Scenes, CUB), from a pretrained student (`--init`) with the classifier made anew when the
 * class count differs.
 *
 * @module
 */
import { type ImageFolder, openImageFolderSplits } from "../data/image_folder.ts";
import { ImageFolderLoader } from "../data/image_folder_loader.ts";
import { checkRecord, countScalars, type TensorRecord } from "../nn/params.ts";
import { resnet } from "../nn/resnet.ts";
import { sgdInit } from "../nn/sgd.ts";
import { getBackend, useBackend } from "../tensor/device.ts";
import { trainEpochs } from "./epochs.ts";
import {
  IMAGENET_FLAGS,
  type ImagenetArgs,
  type ImagenetOptions,
  validateImagenetOptions,
} from "./imagenet_options.ts";
import { loadResnetFile, type ResnetArch, resnetForRecord } from "./model_file.ts";
import { runPhase } from "./phase.ts";
import { nothingToDo, type RunEnvironment, type RunReport, timestamp } from "./recipe.ts";
import { epochsLeft, loadResumePoint, type Resumed, resumeOptions } from "./resume.ts";
import { openRunFolder } from "./run_folder.ts";
import { evalStep, type Objective } from "./step.ts";
import type { Teacher } from "./teacher.ts";

/** Options that may change when a run is resumed; every other one must match the checkpoint. */
const RESUMABLE = new Set<keyof ImagenetOptions>(["epochs", "backend", "imagenetpath", "nthread", "resume"]);

/** What `--evaluate` reports. */
export interface EvaluateReport {
  readonly model: string;
  readonly network: string;
  readonly images: number;
  /** Top-1 and top-5 accuracy on `val/`, percent. */
  readonly top1: number;
  readonly top5: number;
  readonly loss: number;
}

function loaderFor(folder: ImageFolder, o: ImagenetOptions, train: boolean): ImageFolderLoader {
  return new ImageFolderLoader(folder, {
    batchSize: o.batch_size,
    train,
    imageSize: o.image_size,
    seed: o.seed,
    workers: o.nthread,
  });
}

/** The teacher `--teacher_params` names, as the {@linkcode Teacher} the objective takes. */
async function loadImagenetTeacher(o: ImagenetOptions, numClasses: number): Promise<Teacher> {
  const t = await loadResnetFile(o.teacher_params, getBackend(), {
    flag: "--teacher_params",
    arch: o.teacher_arch as ResnetArch | "",
  });
  if (t.numClasses !== numClasses) {
    throw new Error(
      `--teacher_params ${o.teacher_params}: the teacher has ${t.numClasses} classes but ${o.imagenetpath} has ${numClasses}; fine-tune a teacher on these classes first (cli/imagenet.ts --depth 34 --init …)`,
    );
  }
  return { id: o.teacher_params, dir: o.teacher_params, net: t.net, params: t.params, stats: t.stats };
}

/**
 * The student's starting point: a resumed checkpoint; else a fresh initialisation, with `--init`'s weights where
 * it names a file (its classifier kept only when the class counts agree).
 */
async function startingPoint(
  o: ImagenetOptions,
  numClasses: number,
  resumed: Resumed<ImagenetOptions> | undefined,
  print: (line: string) => void,
) {
  if (resumed) {
    // The student as the run built it (an --init run keeps its file's layout and stem).
    const point = await loadResumePoint(resumed, getBackend(), (model, file) => resnetForRecord(file, model).net);
    return { student: point.net, ...point };
  }
  if (!o.init) {
    const student = resnet({ depth: o.depth as 18 | 34, width: o.width, numClasses });
    const fresh = student.init(o.seed);
    return { student, ...fresh, momentum: sgdInit(fresh.params), startEpoch: 0 };
  }
  const from = await loadResnetFile(o.init, getBackend(), {
    flag: "--init",
    arch: `resnet${o.depth}` as ResnetArch,
    archFlag: "--depth",
  });
  if (from.layout === "folded") {
    throw new Error(
      `--init ${o.init}: a teacher export with batch norm folded in cannot be trained; give a state_dict or one of our runs`,
    );
  }
  if (from.shape.width !== o.width) {
    throw new Error(
      `--init ${o.init} is a ${from.net.name} of width ${from.shape.width}; give --width ${from.shape.width}`,
    );
  }
  // The student takes the file's layout (a torchvision student keeps torchvision's names, so its checkpoints load
  // back into PyTorch) and stem, with this data set's classes.
  const net = resnet({ depth: o.depth as 18 | 34, ...from.shape, numClasses, layout: from.layout });
  const init = net.init(o.seed);
  const params: TensorRecord = { ...from.params };
  if (from.numClasses !== numClasses) {
    print(`note: --init ${o.init} has ${from.numClasses} classes, this data ${numClasses}: a new classifier starts`);
    for (const k of ["fc.weight", "fc.bias"]) {
      params[k].dispose();
      params[k] = init.params[k];
    }
  }
  checkRecord(`--init ${o.init}`, params, net.paramShapes);
  return { student: net, params, stats: from.stats, momentum: sgdInit(params), startEpoch: 0 };
}

/** `--evaluate FILE`: top-1/top-5 of the model in FILE on `val/`, no training. */
export async function evaluateImagenet(args: ImagenetArgs, env: RunEnvironment = {}): Promise<EvaluateReport> {
  const print = env.print ?? console.log;
  const o = { ...args.options };
  validateImagenetOptions(o);
  print((await useBackend(o.backend)).report);
  const { val } = await openImageFolderSplits(o.imagenetpath);
  const model = await loadResnetFile(o.evaluate, getBackend(), { flag: "--evaluate", arch: "" });
  if (model.numClasses !== val.classes.length) {
    throw new Error(
      `--evaluate ${o.evaluate}: the model has ${model.numClasses} classes but ${o.imagenetpath}/val has ${val.classes.length}`,
    );
  }
  const loader = loaderFor(val, o, false);
  const objective: Objective = { student: model.net, alpha: 0, beta: 0, temperature: 1 };
  const { meters } = await runPhase(loader.epoch(0), {
    total: loader.numBatches,
    label: "evaluate",
    showProgress: env.progress ?? true,
    imageShape: [3, o.image_size, o.image_size],
    topk: [1, 5],
  }, (x, labels) => evalStep(objective, model.params, model.stats, x, labels));
  const [top1, top5] = meters.acc.percents;
  print(
    `${o.evaluate} (${model.net.name}, ${model.layout} layout) on ${meters.images} images of ${o.imagenetpath}/val: ` +
      `top-1 ${top1.toFixed(2)}%, top-5 ${top5.toFixed(2)}% (error ${(100 - top1).toFixed(2)}/${
        (100 - top5).toFixed(2)
      })`,
  );
  return { model: o.evaluate, network: model.net.name, images: meters.images, top1, top5, loss: meters.loss.mean };
}

/**
 * Trains as `imagenet.py` does with the same options (see {@linkcode IMAGENET_FLAGS}). Throws one clear error for
 * bad input and a `DivergedError` when training stops being finite; never overwrites another run.
 *
 * @example
 * ```ts
 * const report = await runImagenet(parseImagenetArgs(["--imagenetpath", "data/cub", "--init", "resnet18.pth"]));
 * ```
 */
export async function runImagenet(args: ImagenetArgs, env: RunEnvironment = {}): Promise<RunReport> {
  const print = env.print ?? console.log;
  const started = performance.now();
  const resumed = args.options.resume ? await resumeOptions(IMAGENET_FLAGS, args, RESUMABLE) : undefined;
  const o: ImagenetOptions = resumed?.options ?? { ...args.options };
  validateImagenetOptions(o);
  if (resumed && !epochsLeft(resumed, o.epochs, print)) return nothingToDo(resumed, `ResNet-${o.depth}`, started);
  if (!o.save) o.save = `logs/imagenet-resnet-${o.depth}-${o.width}-${timestamp()}`;
  o.save = o.save.replace(/\/+$/, "");
  const folder = await openRunFolder(o.save, resumed ? "--resume" : "--save", resumed?.info);
  let finished = false;
  try {
    for (const n of folder.notes) print(`note: ${n}`);
    const choice = await useBackend(o.backend);
    print(choice.report);
    const { train, val } = await openImageFolderSplits(o.imagenetpath);
    const numClasses = train.classes.length;
    const teacher = o.teacher_params ? await loadImagenetTeacher(o, numClasses) : undefined;
    if (teacher) print(`teacher ${teacher.net.name} from ${o.teacher_params}`);
    const start = await startingPoint(o, numClasses, resumed, print);
    const { student, startEpoch } = start;
    if (resumed) print(`resuming ${resumed.dir} after epoch ${startEpoch}`);
    const nParameters = countScalars(start.params);
    print(
      `${student.name}: ${nParameters} parameters; ${o.imagenetpath}: ${numClasses} classes, ${train.files.length} training, ${val.files.length} validation images at ${o.image_size}×${o.image_size}; saving to ${o.save}`,
    );
    const objective: Objective = { student, teacher, alpha: o.alpha, beta: o.beta, temperature: o.temperature };
    const state = { params: start.params, stats: start.stats, momentum: start.momentum };
    const last = await trainEpochs({
      save: o.save,
      startEpoch,
      schedule: o,
      objective,
      train: loaderFor(train, o, true),
      test: loaderFor(val, o, false),
      imageShape: [3, o.image_size, o.image_size],
      topk: [1, 5],
      showProgress: env.progress ?? true,
      print,
      record: (epoch, lr, tr, te) => ({
        ...o,
        train_loss: tr.meters.loss.mean,
        train_acc: tr.meters.acc.percents,
        test_loss: te.meters.loss.mean,
        test_acc: te.meters.acc.percents,
        epoch,
        num_classes: numClasses,
        n_parameters: nParameters,
        train_time: tr.seconds,
        test_time: te.seconds,
        at_losses: teacher ? tr.meters.at.map((m) => [m.mean, m.std]) : [],
        current_lr: lr,
        device: choice.backend.name,
        network: student.name,
      }),
      checkpoint: (epoch) => ({ options: { ...o }, rng: { seed: o.seed, epoch } }),
      summary: (epoch, r, tr) => {
        const [t1, t5] = r.test_acc as number[];
        return `==> ${o.save} (${epoch}/${o.epochs}) train loss ${(r.train_loss as number).toFixed(4)}, test loss ${
          (r.test_loss as number).toFixed(4)
        } top-1 ${t1.toFixed(2)}% top-5 ${t5.toFixed(2)}% (${tr.seconds.toFixed(1)} s, ${
          (tr.meters.images / tr.seconds).toFixed(1)
        } img/s)`;
      },
    }, state);
    finished = true;
    const acc = last?.test_acc as number[] | undefined;
    return {
      save: o.save,
      network: student.name,
      backend: choice.backend.name,
      nParameters,
      epochs: o.epochs,
      epochsRun: o.epochs - startEpoch,
      testAcc: acc?.[0] ?? NaN,
      trainLoss: typeof last?.train_loss === "number" ? last.train_loss : NaN,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await folder.close(!finished);
  }
}
