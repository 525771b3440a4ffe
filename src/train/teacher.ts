/**
 * Loading a teacher as the reference does: its network (`model`, `depth`, `width`, `no_bn`; a line without `model`
 * is a WRN's) from the first `json_stats` line of `logs/<teacher_id>/log.txt`, its weights from that run's checkpoint.
 *
 * @module
 */
import { checkRecord, splitParams, type TensorRecord } from "../nn/params.ts";
import type { Network } from "../nn/network.ts";
import { getBackend } from "../tensor/device.ts";
import { loadCheckpoint } from "./checkpoint.ts";
import { cifarNetwork } from "./cifar_network.ts";
import type { CifarModel } from "./options.ts";
import { checkFinite } from "./guard.ts";
import { readJsonStats } from "./log.ts";

/** A trained teacher, ready for evaluation-mode forward passes. */
export interface Teacher {
  readonly id: string;
  readonly dir: string;
  readonly net: Network;
  readonly params: TensorRecord;
  readonly stats: TensorRecord;
  /** Test accuracy of its last logged epoch, when logged. */
  readonly testAcc?: number;
}

async function listRuns(logs: string): Promise<string> {
  const runs: string[] = [];
  try {
    for await (const e of Deno.readDir(logs)) if (e.isDirectory) runs.push(e.name);
  } catch {
    return `${logs}/ does not exist`;
  }
  return runs.length ? `${logs}/ holds: ${runs.sort().join(", ")}` : `${logs}/ is empty`;
}

/**
 * Loads teacher `id` from `<logs>/<id>` (an id with a slash is taken as a path). `numClasses` is the data
 * set's class count; a teacher trained for another count is refused.
 */
export async function loadTeacher(id: string, numClasses: number, logs = "logs"): Promise<Teacher> {
  const dir = id.includes("/") ? id.replace(/\/+$/, "") : `${logs}/${id}`;
  const logPath = `${dir}/log.txt`;
  let records: Record<string, unknown>[];
  try {
    records = await readJsonStats(logPath);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        `--teacher_id ${id}: ${logPath} not found (${await listRuns(logs)}); train a teacher first with --save ${dir}`,
      );
    }
    throw e;
  }
  const first = records[0];
  if (!first) {
    throw new Error(`--teacher_id ${id}: ${logPath} has no json_stats line yet (did the teacher finish an epoch?)`);
  }
  // A log written before --model existed has neither `model` nor `no_bn`: its network is a WRN.
  const { depth, width, num_classes: teacherClasses, model = "wrn", no_bn: noBn = false } = first;
  const missing = [["depth", depth], ["width", width], ["num_classes", teacherClasses]]
    .filter(([, v]) => typeof v !== "number" || !Number.isFinite(v)).map(([k]) => k)
    .concat(model === "wrn" || model === "nin" ? [] : ["model (wrn or nin)"])
    .concat(typeof noBn === "boolean" ? [] : ["no_bn (true or false)"]);
  if (missing.length) {
    throw new Error(
      `--teacher_id ${id}: the first json_stats line of ${logPath} lacks ${
        missing.join(", ")
      }; it was not written by cli/cifar.ts — retrain the teacher or repair the line`,
    );
  }
  if (teacherClasses !== numClasses) {
    throw new Error(
      `--teacher_id ${id}: the teacher was trained for ${teacherClasses} classes (${first.dataset}) but this data set has ${numClasses}`,
    );
  }
  const net = cifarNetwork(
    { model: model as CifarModel, depth: depth as number, width: width as number, no_bn: noBn as boolean },
    numClasses,
  );
  const checkpoint = await loadCheckpoint(dir, getBackend());
  const { params, stats } = splitParams(checkpoint.model);
  const file = `teacher ${dir}/${checkpoint.info.model}`;
  checkRecord(file, params, net.paramShapes);
  checkRecord(`${file} (statistics)`, stats, net.statShapes);
  for (const t of Object.values(checkpoint.momentum)) t.dispose();
  await checkFinite(file, checkpoint.model, "the file is damaged or its run diverged: retrain the teacher");
  // The checkpoint's own record: log.txt may lack the last epoch's line if the teacher's run died in between.
  const last = checkpoint.info.log ?? records.at(-1)!;
  return { id, dir, net, params, stats, testAcc: typeof last.test_acc === "number" ? last.test_acc : undefined };
}
