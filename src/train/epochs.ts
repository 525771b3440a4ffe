/**
 * The epoch loop both recipes share: the reference's step schedule (the rate multiplied and the momentum restarted
 * at each `epoch_step`), a training pass, the divergence guard over everything a checkpoint would hold, a test
 * pass, then the checkpoint (carrying the epoch's log record) and the `json_stats` line, in that order.
 *
 * @module
 */
import type { Batch } from "../data/augment.ts";
import type { TensorRecord } from "../nn/params.ts";
import { stepLr } from "../nn/schedule.ts";
import { sgdInit } from "../nn/sgd.ts";
import { type CheckpointInfo, saveCheckpoint } from "./checkpoint.ts";
import { describeNonFinite, DivergedError, nonFiniteTensors } from "./guard.ts";
import { parseEpochStep, type TrainingFlags } from "./flags.ts";
import { appendJsonStats } from "./log.ts";
import { type PhaseMeters, runPhase } from "./phase.ts";
import { evalStep, type Objective, trainStep } from "./step.ts";

/** A source of batches, epoch by epoch (a CIFAR `DataLoader`, an ImageFolder loader). */
export interface EpochSource {
  readonly numBatches: number;
  epoch(epoch: number): AsyncIterable<Batch>;
}

/** The trainable state of a run; the loop replaces `stats` and `momentum` as it goes. */
export interface TrainState {
  params: TensorRecord;
  stats: TensorRecord;
  momentum: TensorRecord;
}

/** A finished pass: its meters and wall time. */
export interface PassResult {
  readonly meters: PhaseMeters;
  readonly seconds: number;
}

/** Everything the loop needs from a recipe. */
export interface EpochLoop {
  /** The run folder (already open and locked). */
  readonly save: string;
  /** Epochs done before (0, or the resumed checkpoint's). */
  readonly startEpoch: number;
  /**
   * The run's flags that set the schedule: `epochs`, and the reference's step schedule (`lr` multiplied by
   * `lr_decay_ratio` at each 1-based epoch of `epoch_step`), with `weight_decay`.
   */
  readonly schedule: Pick<TrainingFlags, "epochs" | "lr" | "epoch_step" | "lr_decay_ratio" | "weight_decay">;
  /** The objective, or the objective of each epoch (from 1) where a weight follows a schedule (`--beta_decay`). */
  readonly objective: Objective | ((epoch: number) => Objective);
  readonly train: EpochSource;
  readonly test: EpochSource;
  /** `[channels, height, width]` of every image. */
  readonly imageShape: readonly [number, number, number];
  /** Accuracies the meters keep: `[1]` (CIFAR), `[1, 5]` (ImageNet). */
  readonly topk: readonly number[];
  readonly showProgress: boolean;
  readonly print: (line: string) => void;
  /** The epoch's `json_stats` record from its passes. */
  record(epoch: number, lr: number, train: PassResult, test: PassResult): Record<string, unknown>;
  /** What `checkpoint.json` stores besides the epoch, rate and record (the options, the random state). */
  checkpoint(epoch: number): Pick<CheckpointInfo, "options" | "rng">;
  /** The line printed after each epoch. */
  summary(epoch: number, record: Record<string, unknown>, train: PassResult): string;
}

function prefixed(prefix: string, record: TensorRecord): TensorRecord {
  return Object.fromEntries(Object.entries(record).map(([k, t]) => [prefix + k, t]));
}

/**
 * Trains epochs `startEpoch + 1 … epochs`, updating `state` in place; returns the last epoch's record (undefined
 * when there was none to train). Throws a {@linkcode DivergedError} naming the epoch, the first non-finite tensor
 * or batch, the checkpoint kept and the fix.
 */
export async function trainEpochs(loop: EpochLoop, state: TrainState): Promise<Record<string, unknown> | undefined> {
  const pass = (total: number, label: string) => ({
    total,
    label,
    showProgress: loop.showProgress,
    imageShape: loop.imageShape,
    topk: loop.topk,
  });
  let last: Record<string, unknown> | undefined;
  const { epochs, lr: initialLr, lr_decay_ratio: decayRatio, weight_decay: weightDecay } = loop.schedule;
  const epochStep = parseEpochStep(loop.schedule.epoch_step);
  for (let epoch = loop.startEpoch; epoch < epochs; epoch++) {
    const number = epoch + 1;
    const objective = typeof loop.objective === "function" ? loop.objective(number) : loop.objective;
    const lr = stepLr(initialLr, number, { epochStep, decayRatio });
    if (epochStep.includes(number)) {
      // The reference builds a new optimizer at each decay: the momentum buffers start again from zero.
      for (const t of Object.values(state.momentum)) t.dispose();
      state.momentum = sgdInit(state.params);
    }
    const kept = epoch > 0 ? `the checkpoint of epoch ${epoch} stays in ${loop.save}` : "no checkpoint was written";
    const diverged = (e: unknown): never => {
      if (!(e instanceof DivergedError)) throw e;
      throw new DivergedError(`${e.message}: training stopped, and ${kept}; try a lower --lr (this epoch's was ${lr})`);
    };
    const train = await runPhase(
      loop.train.epoch(epoch),
      pass(loop.train.numBatches, `epoch ${number}/${epochs}`),
      (x, labels) => {
        const sgd = { lr, weightDecay };
        const out = trainStep(objective, state.params, state.stats, state.momentum, x, labels, sgd);
        for (const t of Object.values(state.stats)) t.dispose();
        state.stats = Object.fromEntries(Object.entries(out.stats).map(([k, t]) => [k, t.keep()]));
        return out;
      },
    ).catch(diverged);
    // What would be saved must be finite: a step can leave NaN weights behind a finite loss.
    const model = { ...state.params, ...state.stats };
    const saved = { ...model, ...prefixed("momentum.", state.momentum) };
    const bad = await nonFiniteTensors(saved);
    if (bad.length) {
      diverged(
        new DivergedError(`after epoch ${number}/${epochs}, ${describeNonFinite(bad, Object.keys(saved).length)}`),
      );
    }
    const test = await runPhase(
      loop.test.epoch(0),
      pass(loop.test.numBatches, `test ${number}/${epochs}`),
      (x, labels) => evalStep(objective, state.params, state.stats, x, labels),
    ).catch(diverged);
    const record = loop.record(number, lr, train, test);
    await saveCheckpoint(
      loop.save,
      { epoch: number, lr, ...loop.checkpoint(number), log: record },
      model,
      state.momentum,
    );
    await appendJsonStats(`${loop.save}/log.txt`, record);
    loop.print(loop.summary(number, record, train));
    last = record;
  }
  return last;
}
