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

/** Top-1 accuracy in percent over every row added. */
export class AccuracyMeter {
  #correct = 0;
  #total = 0;
  /** Adds the rows of `logits [rows, classes]` against `labels`. */
  add(logits: Float32Array, labels: ArrayLike<number>): void {
    const classes = logits.length / labels.length;
    for (let i = 0; i < labels.length; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (logits[i * classes + c] > logits[i * classes + best]) best = c;
      if (best === labels[i]) this.#correct++;
    }
    this.#total += labels.length;
  }
  get percent(): number {
    return this.#total ? (100 * this.#correct) / this.#total : NaN;
  }
}
