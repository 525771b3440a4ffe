/**
 * Learning-rate schedules.
 *
 * @module
 */

/** Options of {@linkcode stepLr}. */
export interface StepLrOptions {
  /** Epochs (0-based, counted as epochs completed) at whose start the rate is multiplied; default [60, 120, 160]. */
  readonly epochStep?: readonly number[];
  /** The multiplier; default 0.2. */
  readonly decayRatio?: number;
}

/**
 * The learning rate for epoch `epoch` (0-based) of a step schedule: `lr · decayRatio^k`, where `k` counts
 * the steps at or before `epoch` — the reference's `lr_decay_ratio` at `epoch_step`.
 *
 * @example
 * ```ts
 * stepLr(0.1, 60); // 0.02: from the 61st epoch on
 * ```
 */
export function stepLr(
  lr: number,
  epoch: number,
  { epochStep = [60, 120, 160], decayRatio = 0.2 }: StepLrOptions = {},
): number {
  return lr * decayRatio ** epochStep.filter((s) => epoch >= s).length;
}
