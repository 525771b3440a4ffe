// `deno bench -A bench/steps_bench.ts`: images per second of the WRN-16-1 ← WRN-16-2 attention-transfer
// step, the student-only step and the teacher forward (batch 128, 32×32) on every backend that starts,
// side by side, with ratios against the cpu backend and against the peer printed at the end.
// The peer, TensorFlow.js on its webgpu backend (`_tfjs_peer.ts`), runs when AT_BENCH_BACKENDS names
// it (`AT_BENCH_BACKENDS=cpu,webgpu,tfjs-webgpu`): on a software adapter one of its AT steps takes about
// two minutes, so it is not in the default list. AT_BENCH_BATCH changes the batch; AT_BENCH_RUNS sets the
// timed runs of each workload (default 2, after one warm-up run); the summary reports the median run.
import { BACKEND_NAMES } from "../src/backends/registry.ts";
import type { Backend } from "../src/backends/backend.ts";
import { setBackend, useBackend } from "../src/tensor/device.ts";
import { makeSteps } from "./_at_step.ts";
import { makeTfjsSteps, tfjsDescription } from "./_tfjs_peer.ts";

const PEER = "tfjs-webgpu";
const batch = Number(Deno.env.get("AT_BENCH_BATCH") ?? 128);
const runs = Number(Deno.env.get("AT_BENCH_RUNS") ?? 2);
const wanted = (Deno.env.get("AT_BENCH_BACKENDS") ?? BACKEND_NAMES.join(",")).split(",");
const workloads = ["atStep", "studentStep", "teacherForward"] as const;
const labels = { atStep: "AT step", studentStep: "student step", teacherForward: "teacher forward" };

type Steps = Record<typeof workloads[number], () => Promise<number>>;
interface Runner {
  readonly name: string;
  readonly steps: Steps;
  readonly backend?: Backend;
  readonly description: string;
}

const seconds = new Map<string, number[]>();
const started: Runner[] = [];
const skipped: string[] = [];
for (const name of wanted) {
  try {
    if (name === PEER) {
      started.push({ name, steps: await makeTfjsSteps(batch), description: tfjsDescription() });
    } else {
      const backend = (await useBackend(name)).backend;
      setBackend(backend);
      started.push({ name, backend, steps: makeSteps({ batch }), description: backend.description });
    }
  } catch (e) {
    skipped.push(`${name}: ${e instanceof Error ? e.message : e}`);
  }
}

for (const { name, backend, steps } of started) {
  for (const w of workloads) {
    const key = `${w}/${name}`;
    seconds.set(key, []);
    Deno.bench({
      name: `${labels[w]} ×${batch} [${name}]`,
      group: w,
      baseline: name === "cpu",
      n: runs,
      warmup: 1,
      async fn() {
        if (backend) setBackend(backend);
        const t0 = performance.now();
        await steps[w]();
        seconds.get(key)!.push((performance.now() - t0) / 1000);
      },
    });
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

globalThis.addEventListener("unload", () => {
  const rate = (w: string, b: string) => {
    const s = (seconds.get(`${w}/${b}`) ?? []).slice(1); // the first call warms up
    return s.length ? batch / median(s) : NaN;
  };
  console.log(`\nimages/s at batch ${batch}, median of ${runs} runs (ratios against cpu and ${PEER} in brackets):`);
  for (const w of workloads) {
    const cpu = rate(w, "cpu"), peer = rate(w, PEER);
    const cells = started.map(({ name }) => {
      const r = rate(w, name);
      const ratios = [
        Number.isFinite(cpu) && name !== "cpu" ? `${(r / cpu).toFixed(2)}× cpu` : "",
        Number.isFinite(peer) && name !== PEER ? `${(r / peer).toFixed(1)}× ${PEER}` : "",
      ].filter((x) => x);
      return `${name} ${r.toFixed(1)}${ratios.length ? ` (${ratios.join(", ")})` : ""}`;
    });
    console.log(`  ${labels[w].padEnd(16)} ${cells.join("   ")}`);
  }
  for (const s of skipped) console.log(`  not run: ${s}`);
  for (const { name, description } of started) console.log(`  ${name}: ${description}`);
});
