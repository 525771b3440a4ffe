// `deno bench -A bench/webgpu_step_bench.ts`: images per second of the WRN-16-1 ← WRN-16-2 attention-transfer
// training step (batch 128, 32×32; AT_BENCH_BATCH changes it) on the cpu and webgpu backends, with cpu as
// the baseline. On a software adapter (llvmpipe, lavapipe) the result is recorded as this machine's
// measurement, which `useBackend("auto")` then follows (see src/backends/webgpu/auto.ts).
import { CpuBackend } from "../src/backends/cpu/mod.ts";
import { create, recordMeasurement, type WebGpuBackend } from "../src/backends/webgpu/mod.ts";
import type { Backend } from "../src/backends/backend.ts";
import { setBackend } from "../src/tensor/device.ts";
import { makeSteps } from "./_at_step.ts";

const batch = Number(Deno.env.get("AT_BENCH_BATCH") ?? 128);
const backends: { name: string; backend: Backend }[] = [{ name: "cpu", backend: new CpuBackend() }];
let gpu: WebGpuBackend | undefined;
try {
  gpu = await create() as WebGpuBackend;
  backends.push({ name: "webgpu", backend: gpu });
} catch (e) {
  console.log(`webgpu not run: ${e instanceof Error ? e.message : e}`);
}

const seconds = new Map<string, number[]>();
for (const { name, backend } of backends) {
  setBackend(backend);
  const steps = makeSteps({ batch });
  seconds.set(name, []);
  Deno.bench({
    name: `AT step ×${batch} [${name}]`,
    group: "at-step",
    baseline: name === "cpu",
    n: 3,
    warmup: 1,
    async fn() {
      setBackend(backend);
      const t0 = performance.now();
      await steps.atStep(); // reads the loss back: the step is complete
      seconds.get(name)!.push((performance.now() - t0) / 1000);
    },
  });
}

globalThis.addEventListener("unload", () => {
  // The first call compiles pipelines (webgpu) and warms caches; the rest are timed.
  const rate = (name: string) => {
    const s = (seconds.get(name) ?? []).slice(1);
    return s.length ? batch / Math.min(...s) : NaN;
  };
  const cpu = rate("cpu"), webgpu = rate("webgpu");
  console.log(
    `\nAT step WRN-16-1 <- WRN-16-2 at batch ${batch}: cpu ${cpu.toFixed(2)} images/s` +
      (gpu ? `, webgpu ${webgpu.toFixed(2)} images/s (${(webgpu / cpu).toFixed(2)}x)` : ""),
  );
  for (const { backend } of backends) console.log(`  ${backend.name}: ${backend.description}`);
  if (gpu?.adapter.software && Number.isFinite(cpu) && Number.isFinite(webgpu)) {
    try {
      const path = recordMeasurement(gpu.adapter, { batch, cpuImagesPerSecond: cpu, webgpuImagesPerSecond: webgpu });
      console.log(`  recorded for useBackend("auto") in ${path}`);
    } catch (e) {
      console.log(`  not recorded: ${e instanceof Error ? e.message : e}`);
    }
  }
  gpu?.dispose(); // release the device before the process tears down its drivers
});
