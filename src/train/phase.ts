/**
 * One pass over a loader (a training epoch or a test pass): a step per batch, the meters of the reference's
 * log, a progress bar, and the loss check that stops a run whose loss is no longer finite.
 *
 * @module
 */
import type { Batch } from "../data/augment.ts";
import { type Tensor, tensor } from "../tensor/tensor.ts";
import { DivergedError } from "./guard.ts";
import { AccuracyMeter, AverageMeter } from "./meters.ts";
import { Progress } from "./progress.ts";
import type { StepOutput } from "./step.ts";

/** Host copies of a step's outputs, requested as soon as the step is queued. */
interface Pending {
  readonly loss: Promise<Float32Array>;
  readonly logits: Promise<Float32Array>;
  readonly atLosses: Promise<Float32Array>[];
  readonly fatLosses: Promise<Float32Array>[];
  readonly gatLoss?: Promise<Float32Array>;
  readonly symLoss?: Promise<Float32Array>;
  readonly labels: Int32Array;
  readonly where: string;
}

/** Starts the readbacks of a step's outputs and releases its tensors (a download captures the values at once). */
function readBack(out: StepOutput, labels: Int32Array, where: string): Pending {
  const pending = {
    loss: out.loss.data(),
    logits: out.logits.data(),
    atLosses: out.atLosses.map((t) => t.data()),
    fatLosses: (out.fatLosses ?? []).map((t) => t.data()),
    gatLoss: out.gatLoss?.data(),
    symLoss: out.symLoss?.data(),
    labels,
    where,
  };
  const terms = [...out.atLosses, ...(out.fatLosses ?? []), out.gatLoss, out.symLoss];
  for (const t of [out.loss, out.logits, ...terms]) t?.dispose();
  return pending;
}

/** Meters of one phase: loss, accuracy, one AT (and full-activation) meter per attention point, the gradient terms. */
export class PhaseMeters {
  readonly loss: AverageMeter = new AverageMeter();
  readonly acc: AccuracyMeter;
  readonly at: AverageMeter[] = [];
  readonly fat: AverageMeter[] = [];
  /** Gradient-based AT and flip-symmetry losses (count 0 where the objective has no such term). */
  readonly gat: AverageMeter = new AverageMeter();
  readonly sym: AverageMeter = new AverageMeter();
  images = 0;
  batches = 0;

  /** Meters keeping top-k accuracy for each k of `topk` (default top-1). */
  constructor(topk: readonly number[] = [1]) {
    this.acc = new AccuracyMeter(topk);
  }

  async settle(p: Pending): Promise<void> {
    const [loss] = await p.loss;
    if (!Number.isFinite(loss)) throw new DivergedError(`the loss became ${loss} at ${p.where}`);
    this.loss.add(loss);
    this.acc.add(await p.logits, p.labels);
    for (const [meters, losses] of [[this.at, p.atLosses], [this.fat, p.fatLosses]] as const) {
      for (let i = 0; i < losses.length; i++) {
        meters[i] ??= new AverageMeter();
        meters[i].add((await losses[i])[0]);
      }
    }
    if (p.gatLoss) this.gat.add((await p.gatLoss)[0]);
    if (p.symLoss) this.sym.add((await p.symLoss)[0]);
    this.images += p.labels.length;
    this.batches++;
  }
}

/** What {@linkcode runPhase} needs besides the batches. */
export interface PhaseOptions {
  /** Batches in the pass (for the progress bar). */
  readonly total: number;
  /** e.g. `epoch 3/200`; also names the batch where the loss stopped being finite. */
  readonly label: string;
  readonly showProgress: boolean;
  /** `[channels, height, width]` of every image. */
  readonly imageShape: readonly [number, number, number];
  /** Accuracies to keep (default `[1]`). */
  readonly topk?: readonly number[];
}

/** Runs `step` on each batch, keeping up to two steps' readbacks in flight so the device never waits for the host. */
export async function runPhase(
  batches: AsyncIterable<Batch>,
  options: PhaseOptions,
  step: (x: Tensor, labels: Int32Array, index: number) => StepOutput,
): Promise<{ meters: PhaseMeters; seconds: number }> {
  const { label, imageShape } = options;
  const meters = new PhaseMeters(options.topk);
  const start = performance.now();
  const progress = options.showProgress ? new Progress(label, options.total) : undefined;
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
      const x = tensor(batch.images, [batch.labels.length, ...imageShape]);
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
