/**
 * Loading a teacher as the reference does: its size from the first `json_stats` line of
 * `logs/<teacher_id>/log.txt`, its weights from that run's checkpoint.
 *
 * @module
 */
import { checkRecord, splitParams, type TensorRecord } from "../nn/params.ts";
import { type Network, wrn } from "../nn/wrn.ts";
import { loadCheckpoint } from "./checkpoint.ts";
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
  const depth = Number(first.depth), width = Number(first.width);
  const teacherClasses = Number(first.num_classes);
  if (teacherClasses !== numClasses) {
    throw new Error(
      `--teacher_id ${id}: the teacher was trained for ${teacherClasses} classes (${first.dataset}) but this data set has ${numClasses}`,
    );
  }
  const net = wrn({ depth, width, numClasses });
  const checkpoint = await loadCheckpoint(dir);
  const { params, stats } = splitParams(checkpoint.model);
  checkRecord(`teacher ${dir}/${checkpoint.info.model}`, params, net.paramShapes);
  checkRecord(`teacher ${dir}/${checkpoint.info.model} (statistics)`, stats, net.statShapes);
  for (const t of Object.values(checkpoint.momentum)) t.dispose();
  const last = records.at(-1)!;
  return { id, dir, net, params, stats, testAcc: typeof last.test_acc === "number" ? last.test_acc : undefined };
}
