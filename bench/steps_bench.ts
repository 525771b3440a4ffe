// `deno bench -A bench/steps_bench.ts`: images per second of the WRN-16-1 ← WRN-16-2 attention-transfer
// step, the student-only step and the teacher forward (batch 128, 32×32) on every backend that starts,
// side by side, with ratios against the cpu backend and against the peer printed at the end.
// The peer, TensorFlow.js on its webgpu backend (`_tfjs_peer.ts`), runs when AT_BENCH_BACKENDS names
// it (`AT_BENCH_BACKENDS=cpu,webgpu,tfjs-webgpu`): on a software adapter one of its AT steps takes about
// two minutes, so it is not in the default list. AT_BENCH_BATCH changes the batch; AT_BENCH_RUNS sets the
// timed runs of each workload (default 2, after one warm-up run; AT_BENCH_FAST_RUNS, default 20, for onednn
// and cudnn); the summary reports the median run.
// PyTorch on the CPU is the other peer (`_torch_peer.ts`): whenever a Python with torch is found (python3 on
// PATH, /usr/bin/python3, or AT_TORCH_PYTHON), `tools/at_step_torch.py` runs the same workloads in the
// same run on as many threads as our backends use (AT_BENCH_TORCH=0 skips it). It and the fast backends (onednn,
// cudnn) take turns step by step, AT_BENCH_FAST_RUNS steps each (default 20). The summary adds each workload's
// GFLOP/s (convolutions and linear layers, `workloadFlops`) and, with AT_BENCH_PEAK_GFLOPS (e.g. 400 for two
// AVX-512 cores at 3.1 GHz), the fraction of the machine's peak.
// AT_BENCH_WORKLOADS picks the workloads, by the PyTorch script's names: at, student, teacher (the default) and
// resnet, the ImageNet recipe's ResNet-18 ← ResNet-34 AT step at 224×224 and batch AT_BENCH_RESNET_BATCH
// (default 32; `makeResnetAtStep`), on every backend and PyTorch (not TensorFlow.js). It is opt-in
// (`AT_BENCH_WORKLOADS=resnet`, or `at,student,teacher,resnet` for all four) because one of its steps is 575 GFLOP:
// on two cores about 65 s on the cpu backend, 75 s on webgpu on llvmpipe (150 s for the first) and 4 s on onednn,
// so with the same runs as the others it alone took 13 minutes on every backend, where the default bench takes six.
import { BACKEND_NAMES } from "../src/backends/registry.ts";
import type { Backend } from "../src/backends/backend.ts";
import { CpuBackend } from "../src/backends/cpu/mod.ts";
import { setBackend, useBackend } from "../src/tensor/device.ts";
import { makeResnetAtStep, makeSteps, resnetAtStepFlops, workloadFlops } from "./_at_step.ts";
import { makeTfjsSteps, tfjsDescription } from "./_tfjs_peer.ts";
import { findTorchPython, TORCH_WORKLOAD_NAMES, TorchPeer, type TorchWorkload } from "./_torch_peer.ts";

const PEER = "tfjs-webgpu";
const TORCH = "pytorch";
const batch = Number(Deno.env.get("AT_BENCH_BATCH") ?? 128);
const resnetBatch = Number(Deno.env.get("AT_BENCH_RESNET_BATCH") ?? 32);
const runs = Number(Deno.env.get("AT_BENCH_RUNS") ?? 2);
/** The backends fast enough to time many steps (their step time varies too): AT_BENCH_FAST_RUNS, default 20. */
const fastRuns = Number(Deno.env.get("AT_BENCH_FAST_RUNS") ?? 20);
/** The runners fast enough to time many steps, in turns. */
const FAST = new Set(["onednn", "cudnn", TORCH]);
const wanted = (Deno.env.get("AT_BENCH_BACKENDS") ?? BACKEND_NAMES.join(",")).split(",");
type Workload = TorchWorkload;
const labels: Readonly<Record<Workload, string>> = {
  atStep: "AT step",
  studentStep: "student step",
  teacherForward: "teacher forward",
  resnetAtStep: "ResNet AT step",
};
const workloads = parseWorkloads(Deno.env.get("AT_BENCH_WORKLOADS") ?? "at,student,teacher");
const wrnWanted = workloads.some((w) => w !== "resnetAtStep");
const batchOf = (w: Workload) => w === "resnetAtStep" ? resnetBatch : batch;
const sizeOf = (w: Workload) => w === "resnetAtStep" ? "224×224" : "32×32";

/** The workloads an AT_BENCH_WORKLOADS list names, in the bench's order. */
function parseWorkloads(list: string): Workload[] {
  const byName = new Map(Object.entries(TORCH_WORKLOAD_NAMES).map(([w, name]) => [name, w as Workload]));
  const names = list.split(",").map((n) => n.trim()).filter((n) => n);
  for (const n of names) {
    if (!byName.has(n)) {
      throw new RangeError(
        `AT_BENCH_WORKLOADS: unknown workload ${JSON.stringify(n)}; use a comma-separated list of ${
          [...byName.keys()].join(", ")
        }`,
      );
    }
  }
  return [...byName.entries()].filter(([n]) => names.includes(n)).map(([, w]) => w);
}

type Steps = Partial<Record<Workload, () => Promise<number>>>;
interface Runner {
  readonly name: string;
  readonly steps: Steps;
  readonly backend?: Backend;
  readonly description: string;
}

const skipped: string[] = [];
const threads = new CpuBackend().threads;
let torch: TorchPeer | undefined;
if (Deno.env.get("AT_BENCH_TORCH") !== "0") {
  try {
    const found = await findTorchPython();
    if (!("python" in found)) throw new Error(found.reason);
    torch = await TorchPeer.start(found.python, { batch, resnetBatch, threads, warmup: 2, workloads });
  } catch (e) {
    skipped.push(`${TORCH}: ${e instanceof Error ? e.message : e}`);
  }
}

const seconds = new Map<string, number[]>();
const started: Runner[] = [];
for (const name of wanted) {
  try {
    if (name === PEER) {
      if (!wrnWanted) throw new Error("it runs the WRN workloads only");
      started.push({ name, steps: await makeTfjsSteps(batch), description: tfjsDescription() });
    } else {
      const backend = (await useBackend(name)).backend;
      setBackend(backend);
      const steps: Steps = wrnWanted ? makeSteps({ batch }) : {};
      if (workloads.includes("resnetAtStep")) steps.resnetAtStep = makeResnetAtStep({ batch: resnetBatch });
      started.push({ name, backend, steps, description: backend.description });
    }
  } catch (e) {
    skipped.push(`${name}: ${e instanceof Error ? e.message : e}`);
  }
}

if (torch) {
  const peer = torch;
  const timed = (w: Workload) => async () => {
    const ms = await peer.step(w);
    // Python's own timing, without the pipe: pushed into the summary's samples by the bench below.
    lastTorchSeconds = ms / 1000;
    return ms;
  };
  started.push({
    name: TORCH,
    steps: Object.fromEntries(workloads.map((w) => [w, timed(w)])),
    description: peer.description,
  });
}
let lastTorchSeconds = NaN;

/** Runs one step of a runner's workload; resolves to its time in seconds (PyTorch's as Python measured it). */
async function timeStep({ name, backend, steps }: Runner, w: Workload): Promise<number> {
  if (backend) setBackend(backend);
  const t0 = performance.now();
  await steps[w]!();
  return name === TORCH ? lastTorchSeconds : (performance.now() - t0) / 1000;
}

// Workload by workload. The fast runners (onednn, cudnn, PyTorch) take turns step by step within one bench, so
// that load from other processes, and PyTorch's ±30% step-to-step variation, fall on all of them alike.
for (const w of workloads) {
  const running = started.filter((r) => r.steps[w]);
  const fast = running.filter(({ name }) => FAST.has(name));
  for (const runner of running) seconds.set(`${w}/${runner.name}`, []);
  for (const runner of running.filter((r) => !fast.includes(r))) {
    Deno.bench({
      name: `${labels[w]} ×${batchOf(w)} [${runner.name}]`,
      group: w,
      baseline: runner.name === "cpu",
      n: runs,
      warmup: 1,
      async fn() {
        seconds.get(`${w}/${runner.name}`)!.push(await timeStep(runner, w));
      },
    });
  }
  if (fast.length) {
    Deno.bench({
      name: `${labels[w]} ×${batchOf(w)} [${fast.map((r) => r.name).join(", ")}: one step each in turn]`,
      group: w,
      n: Math.max(runs, fastRuns),
      warmup: 1,
      async fn() {
        for (const runner of fast) seconds.get(`${w}/${runner.name}`)!.push(await timeStep(runner, w));
      },
    });
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

globalThis.addEventListener("unload", () => {
  const rate = (w: Workload, b: string) => {
    const s = (seconds.get(`${w}/${b}`) ?? []).slice(1); // the first call warms up
    return s.length ? batchOf(w) / median(s) : NaN;
  };
  const flops = { ...workloadFlops({ batch }), resnetAtStep: resnetAtStepFlops({ batch: resnetBatch }) };
  const peak = Number(Deno.env.get("AT_BENCH_PEAK_GFLOPS") ?? NaN);
  const sizes = [...new Set(workloads.map((w) => `batch ${batchOf(w)} at ${sizeOf(w)}`))];
  console.log(
    `\nimages/s (${sizes.join("; the ResNet AT step ")}), median of ${runs} runs (${
      Math.max(runs, fastRuns)
    } for onednn, cudnn and ${TORCH}, in turns); ratios ` +
      `against cpu, ${TORCH} and ${PEER}, and GFLOP/s of the convolutions and linear layers:`,
  );
  for (const w of workloads) {
    const cpu = rate(w, "cpu"), peer = rate(w, PEER), py = rate(w, TORCH);
    const names = started.map((r) => r.name).filter((name) => seconds.has(`${w}/${name}`));
    const cells = names.map((name) => {
      const r = rate(w, name);
      const gflops = (r / batchOf(w)) * flops[w] / 1e9;
      const ratios = [
        Number.isFinite(cpu) && name !== "cpu" ? `${(r / cpu).toFixed(2)}× cpu` : "",
        Number.isFinite(py) && name !== TORCH ? `${(r / py).toFixed(2)}× ${TORCH}` : "",
        Number.isFinite(peer) && name !== PEER ? `${(r / peer).toFixed(1)}× ${PEER}` : "",
        Number.isFinite(gflops)
          ? `${gflops.toFixed(0)} GFLOP/s${
            Number.isFinite(peak) ? `, ${(100 * gflops / peak).toFixed(0)}% of peak` : ""
          }`
          : "",
      ].filter((x) => x);
      return `${name} ${r.toFixed(r < 10 ? 2 : 1)}${ratios.length ? ` (${ratios.join(", ")})` : ""}`;
    });
    console.log(`  ${labels[w].padEnd(16)} ${cells.join("   ")}`);
  }
  for (const s of skipped) console.log(`  not run: ${s}`);
  for (const { name, description } of started) console.log(`  ${name}: ${description}`);
  for (const name of started.map((r) => r.name).filter((name) => FAST.has(name))) {
    const spread = workloads.flatMap((w) => {
      const s = (seconds.get(`${w}/${name}`) ?? []).slice(1).map((v) => v * 1000);
      return s.length ? [`${labels[w]} ${Math.min(...s).toFixed(0)}–${Math.max(...s).toFixed(0)} ms/step`] : [];
    });
    console.log(`  ${name} step times: ${spread.join(", ")}`);
  }
  console.log(`  machine: ${navigator.hardwareConcurrency} logical cores, ${threads} threads used; ${cpuModel()}`);
});

/** The CPU model name from /proc/cpuinfo, where readable. */
function cpuModel(): string {
  try {
    return /model name\s*:\s*(.*)/.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ?? "CPU model unknown";
  } catch {
    return "CPU model unknown";
  }
}
