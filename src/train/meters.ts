/**
 * Running averages as torchnet's meters keep them for the reference's log: the mean and standard deviation
 * of per-batch values, and classification accuracy in percent.
 *
 * @module
 */

/** Mean and (unbiased) standard deviation of the values added; std 0 with fewer than two values. */
export class AverageMeter {
  #n = 0;
  #sum = 0;
  #sumSq = 0;
  add(value: number): void {
    this.#n++;
    this.#sum += value;
    this.#sumSq += value * value;
  }
  get count(): number {
    return this.#n;
  }
  get mean(): number {
    return this.#n ? this.#sum / this.#n : NaN;
  }
  get std(): number {
    if (this.#n < 2) return 0;
    return Math.sqrt(Math.max(0, (this.#sumSq - this.#n * this.mean ** 2) / (this.#n - 1)));
  }
}

/**
 * Top-k accuracy in percent over every row added, for each k asked (default top-1 only; ImageNet logs top-1 and
 * top-5, as torchnet's `ClassErrorMeter(topk=[1, 5])`). Ties go to the lower class index, as `argmax` breaks them.
 */
export class AccuracyMeter {
  readonly #ks: readonly number[];
  readonly #correct: number[];
  #total = 0;
  constructor(ks: readonly number[] = [1]) {
    this.#ks = ks;
    this.#correct = ks.map(() => 0);
  }
  /** Adds the rows of `logits [rows, classes]` against `labels`. */
  add(logits: Float32Array, labels: ArrayLike<number>): void {
    const classes = logits.length / labels.length;
    for (let i = 0; i < labels.length; i++) {
      const row = i * classes;
      const target = logits[row + labels[i]];
      // The label's rank: classes scoring higher (NaN counts as highest, as in torch.topk), and those scoring the
      // same at a lower index. A NaN score of the label itself is never right.
      let rank = Number.isNaN(target) ? classes : 0;
      for (let c = 0; c < classes && rank < classes; c++) {
        const v = logits[row + c];
        if (v > target || Number.isNaN(v) || (v === target && c < labels[i])) rank++;
      }
      this.#ks.forEach((k, j) => {
        if (rank < k) this.#correct[j]++;
      });
    }
    this.#total += labels.length;
  }
  /** Top-1 (the first k asked) accuracy in percent; NaN before any row. */
  get percent(): number {
    return this.percents[0];
  }
  /** Accuracy in percent for each k asked, in order. */
  get percents(): number[] {
    return this.#correct.map((c) => this.#total ? (100 * c) / this.#total : NaN);
  }
}
