// `deno bench -A bench/onednn_bench.ts`: the onednn backend's layout policy, measured. The WRN-16-1 ← WRN-16-2
// AT step, the student step and the teacher forward at batch 128 with oneDNN's blocked layouts kept between
// kernels (the default) and with every output reordered to plain NCHW at once (as PyTorch 1.13 does), with the
// floats each step reorders. Each bench iteration runs one step with each policy, so that load from other
// processes falls on both alike; AT_BENCH_RUNS sets the iterations (default 10; the summary takes the median of
// each policy's steps). Skips, saying why, without libdnnl.so.2.
import type { Backend } from "../src/backends/backend.ts";
import { availability, create } from "../src/backends/onednn_ffi/mod.ts";
import { setBackend } from "../src/tensor/device.ts";
import { makeSteps } from "./_at_step.ts";

const batch = Number(Deno.env.get("AT_BENCH_BATCH") ?? 128);
const runs = Number(Deno.env.get("AT_BENCH_RUNS") ?? 10);
const workloads = ["atStep", "studentStep", "teacherForward"] as const;
const status = await availability();
if (!status.available) console.log(`onednn bench skipped: ${status.reason}`);

type WithStats = Backend & { reorderStats(): ReadonlyMap<string, number> };
const layouts = ["blocked", "plain"] as const;
const seconds = new Map<string, number[]>();
const reordered = new Map<string, number>();

if (status.available) {
  const runners: { layout: typeof layouts[number]; backend: WithStats; steps: ReturnType<typeof makeSteps> }[] = [];
  for (const layout of layouts) {
    const backend = await create({ layout }) as WithStats;
    setBackend(backend);
    runners.push({ layout, backend, steps: makeSteps({ batch }) });
  }
  for (const w of workloads) {
    for (const { layout } of runners) seconds.set(`${w}/${layout}`, []);
    Deno.bench({
      name: `${w} ×${batch} [onednn, one step per layout policy]`,
      n: runs,
      warmup: 1,
      async fn() {
        for (const { layout, backend, steps } of runners) {
          setBackend(backend);
          const before = total(backend.reorderStats());
          const t0 = performance.now();
          await steps[w]();
          seconds.get(`${w}/${layout}`)!.push((performance.now() - t0) / 1000);
          reordered.set(`${w}/${layout}`, total(backend.reorderStats()) - before);
        }
      },
    });
  }
}

function total(stats: ReadonlyMap<string, number>): number {
  let sum = 0;
  for (const v of stats.values()) sum += v;
  return sum;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

globalThis.addEventListener("unload", () => {
  if (!status.available) return;
  console.log(`\nimages/s at batch ${batch}, median of ${runs} runs, and floats reordered per step:`);
  for (const w of workloads) {
    const cells = layouts.map((l) => {
      const s = (seconds.get(`${w}/${l}`) ?? []).slice(1);
      const ips = s.length ? batch / median(s) : NaN;
      return `${l} ${ips.toFixed(1)} (${((reordered.get(`${w}/${l}`) ?? NaN) / 1e6).toFixed(1)} M floats reordered)`;
    });
    console.log(`  ${w.padEnd(15)} ${cells.join("   ")}`);
  }
  console.log(`  ${status.description}`);
});
