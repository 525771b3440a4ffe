/**
 * The network a CIFAR run's options describe (`--model`, `--depth`, `--width`, `--no_bn`), for the run itself and
 * for the teacher a later run loads from its log. Options stored before `--model` existed describe a WRN.
 *
 * @module
 */
import type { Network } from "../nn/network.ts";
import { nin } from "../nn/nin.ts";
import { wrn } from "../nn/wrn.ts";
import type { CifarOptions } from "./options.ts";

/** The options that choose the network; `model` and `no_bn` may be missing (older runs: a WRN). */
export type NetworkOptions = Pick<CifarOptions, "depth" | "width"> & Partial<Pick<CifarOptions, "model" | "no_bn">>;

/** The network of a run's options, with `numClasses` outputs. */
export function cifarNetwork(o: NetworkOptions, numClasses: number): Network {
  return o.model === "nin"
    ? nin({ width: o.width, numClasses, batchNorm: !o.no_bn })
    : wrn({ depth: o.depth, width: o.width, numClasses });
}

/** A short name for folders and reports: `wrn-16-2`, `nin-0.5`, `nin-1-nobn`. */
export function cifarNetworkTag(o: NetworkOptions): string {
  return o.model === "nin" ? `nin-${o.width}${o.no_bn ? "-nobn" : ""}` : `wrn-${o.depth}-${o.width}`;
}
