// `deno bench -A bench/steps_bench.ts`: images per second of the WRN-16-1 ← WRN-16-2 attention-transfer
// step, the student-only step and the teacher forward (batch 128, 32×32) on every backend that starts,
// side by side, with ratios against the cpu backend printed at the end.
// AT_BENCH_BATCH changes the batch; AT_BENCH_BACKENDS (comma-separated) limits the backends.
import { BACKEND_NAMES } from "../src/backends/registry.ts";
import type { Backend } from "../src/backends/backend.ts";
import { setBackend, useBackend } from "../src/tensor/device.ts";
import { makeSteps } from "./_at_step.ts";

const batch = Number(Deno.env.get("AT_BENCH_BATCH") ?? 128);
const wanted = (Deno.env.get("AT_BENCH_BACKENDS") ?? BACKEND_NAMES.join(",")).split(",");
const workloads = ["atStep", "studentStep", "teacherForward"] as const;
const labels = { atStep: "AT step", studentStep: "student step", teacherForward: "teacher forward" };
const seconds = new Map<string, number[]>();
const started: { name: string; backend: Backend }[] = [];
const skipped: string[] = [];

for (const name of wanted) {
  try {
    started.push({ name, backend: (await useBackend(name)).backend });
  } catch (e) {
    skipped.push(`${name}: ${e instanceof Error ? e.message : e}`);
  }
}

for (const { name, backend } of started) {
  setBackend(backend);
  const steps = makeSteps({ batch });
  for (const w of workloads) {
    const key = `${w}/${name}`;
    seconds.set(key, []);
    Deno.bench({
      name: `${labels[w]} ×${batch} [${name}]`,
      group: w,
      baseline: name === "cpu",
      n: 2,
      warmup: 1,
      async fn() {
        setBackend(backend);
        const t0 = performance.now();
        await steps[w]();
        seconds.get(key)!.push((performance.now() - t0) / 1000);
      },
    });
  }
}

globalThis.addEventListener("unload", () => {
  const rate = (w: string, b: string) => {
    const s = (seconds.get(`${w}/${b}`) ?? []).slice(1); // the first call warms up
    return s.length ? batch / (s.reduce((a, v) => a + v, 0) / s.length) : NaN;
  };
  console.log(`\nimages/s at batch ${batch} (ratio against cpu in brackets):`);
  for (const w of workloads) {
    const cpu = rate(w, "cpu");
    const cells = started.map(({ name }) => {
      const r = rate(w, name);
      return `${name} ${r.toFixed(1)}${Number.isFinite(cpu) && name !== "cpu" ? ` (${(r / cpu).toFixed(2)}×)` : ""}`;
    });
    console.log(`  ${labels[w].padEnd(16)} ${cells.join("   ")}`);
  }
  for (const s of skipped) console.log(`  not run: ${s}`);
  for (const { backend } of started) console.log(`  ${backend.name}: ${backend.description}`);
});
