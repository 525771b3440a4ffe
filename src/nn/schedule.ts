/**
 * Learning-rate schedules.
 *
 * @module
 */
import { numberRule, optionsChecker } from "../_options.ts";

/** Options of {@linkcode stepLr}. */
export interface StepLrOptions {
  /** Epoch numbers (counted from 1) that start with a lower rate; default [60, 120, 160]. */
  readonly epochStep?: readonly number[];
  /** The multiplier; default 0.2. */
  readonly decayRatio?: number;
}

const checkStepLrOptions = optionsChecker<StepLrOptions>("stepLr", {
  epochStep: {
    expected: "an array of epoch numbers",
    test: (v) => Array.isArray(v) && v.every((e) => Number.isSafeInteger(e)),
  },
  decayRatio: numberRule({ min: 0 }),
});

/**
 * The learning rate of epoch number `epoch` (counted from 1) of a step schedule: `lr · decayRatio^k`, where
 * `k` counts the steps at or before `epoch`. This is the reference's rule: at the start of each epoch it
 * multiplies the rate when the epoch's number is in `epoch_step`, so with [60, 120, 160] epochs 1–59 run at
 * `lr`, 60–119 at `0.2·lr`, and so on.
 *
 * @example
 * ```ts
 * stepLr(0.1, 60); // 0.02
 * ```
 */
export function stepLr(
  lr: number,
  epoch: number,
  options: StepLrOptions = {},
): number {
  checkStepLrOptions(options);
  const { epochStep = [60, 120, 160], decayRatio = 0.2 } = options;
  return lr * decayRatio ** epochStep.filter((s) => epoch >= s).length;
}
