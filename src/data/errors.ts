/**
 * The error every data file problem raises: which file, what is wrong with it, and what to do.
 *
 * @module
 */

/** What went wrong with a data file. */
export type DataFileProblem =
  | "missing"
  | "size"
  | "label"
  | "checksum"
  | "download"
  | "archive"
  /** An image folder laid out wrongly: no class folders, a class without images, splits with other classes. */
  | "layout"
  /** An image file that cannot be decoded. */
  | "image";

/**
 * A data file that is missing, truncated, corrupt, or failed its download; `path` names it (a URL for
 * download failures) and the message says how to fix it.
 *
 * @example
 * ```ts
 * try {
 *   await readCifar("./data", "CIFAR10", { train: true });
 * } catch (e) {
 *   if (e instanceof DataFileError && e.problem === "missing") console.error(e.message); // suggests --download
 * }
 * ```
 */
export class DataFileError extends Error {
  /** The file (or URL) concerned. */
  readonly path: string;
  /** The kind of problem. */
  readonly problem: DataFileProblem;

  /** An error about `path`; the message should already name it and say what to do. */
  constructor(problem: DataFileProblem, path: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DataFileError";
    this.path = path;
    this.problem = problem;
  }
}
