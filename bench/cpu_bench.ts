// The cpu backend on its own: every convolution shape of WRN-16-1 and WRN-16-2 on 32×32 inputs (forward
// and both gradients, batch 32 to keep the file under a few minutes; multiply-adds per second in the name's
// terms are printed), then the three training workloads at batch 128 with images per second.
//
//   deno bench -A bench/cpu_bench.ts          (AT_CPU_THREADS=1 for one thread)
import type { ConvGeometry } from "../src/backends/backend.ts";
import { CpuBackend } from "../src/backends/cpu/mod.ts";
import { setBackend } from "../src/tensor/device.ts";
import { makeSteps } from "./_at_step.ts";

const cpu = new CpuBackend();
const CONV_BATCH = 32;
const STEP_BATCH = 128;

/** `[c, k, h (= w), filter size, stride]`: the distinct convolutions of WRN-16-1 and WRN-16-2 at 32×32. */
const SHAPES: [number, number, number, number, number][] = [
  [3, 16, 32, 3, 1], // both stems
  [16, 16, 32, 3, 1], // student group 0
  [16, 32, 32, 3, 2], // student group 1, first block
  [16, 32, 32, 1, 2], //   its shortcut
  [32, 32, 16, 3, 1], // student group 1
  [32, 64, 16, 3, 2], // student group 2, first block
  [32, 64, 16, 1, 2], //   its shortcut
  [64, 64, 8, 3, 1], // student group 2
  [16, 32, 32, 3, 1], // teacher group 0, first block
  [16, 32, 32, 1, 1], //   its shortcut
  [32, 32, 32, 3, 1], // teacher group 0
  [32, 64, 32, 3, 2], // teacher group 1, first block
  [32, 64, 32, 1, 2], //   its shortcut
  [64, 64, 16, 3, 1], // teacher group 1
  [64, 128, 16, 3, 2], // teacher group 2, first block
  [64, 128, 16, 1, 2], //   its shortcut
  [128, 128, 8, 3, 1], // teacher group 2
];

function random(size: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: size }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** The best rate each bench reached, printed when the run ends (Deno's table shows times only). */
const rates = new Map<string, { best: number; unit: string; runs: number }>();

/** A function that records one timing (ms) of `amount` units of work under `label`. */
function rate(label: string, amount: number, unit: string): (ms: number) => void {
  return (ms) => {
    const r = rates.get(label) ?? { best: 0, unit, runs: 0 };
    r.best = Math.max(r.best, amount / ms * 1000);
    r.runs++;
    rates.set(label, r);
  };
}

globalThis.addEventListener("unload", () => {
  if (rates.size === 0) return;
  console.log(`\ncpu backend, ${cpu.description}: best rate of each bench`);
  for (const [label, r] of rates) console.log(`  ${r.best.toPrecision(3).padStart(7)} ${r.unit.padEnd(8)} ${label}`);
});

for (const [c, k, h, r, stride] of SHAPES) {
  const pad = r === 3 ? 1 : 0;
  const oh = Math.floor((h + 2 * pad - r) / stride) + 1;
  const g: ConvGeometry = { n: CONV_BATCH, c, h, w: h, k, r, s: r, stride, pad, oh, ow: oh };
  const x = cpu.upload(random(g.n * c * h * h, 1)), w = cpu.upload(random(k * c * r * r, 2));
  const dy = cpu.upload(random(g.n * k * oh * oh, 3));
  const macs = g.n * k * oh * oh * c * r * r;
  const name = `c${c}→${k} ${h}×${h} ${r}×${r}/${stride}`;
  const kernels = {
    forward: () => cpu.conv2d(x, w, g),
    "input gradient": () => cpu.conv2dBackwardInput(dy, w, g),
    "filter gradient": () => cpu.conv2dBackwardFilter(x, dy, g),
  };
  for (const [kind, kernel] of Object.entries(kernels)) {
    const report = rate(`conv ${kind} ${name} (batch ${CONV_BATCH})`, macs / 1e9, "GMAC/s");
    Deno.bench({
      name: `${kind} ${name}`,
      group: `conv ${kind}, batch ${CONV_BATCH}`,
      // Enough warm-up for V8 to have optimised the kernel on every thread (the first calls interpret).
      n: 5,
      warmup: 3,
      fn: () => {
        const t0 = performance.now();
        cpu.free(kernel());
        report(performance.now() - t0);
      },
    });
  }
}

setBackend(cpu);
const steps = makeSteps({ batch: STEP_BATCH });
const workloads = {
  "AT step (teacher WRN-16-2 forward + student WRN-16-1 step)": steps.atStep,
  "student step (WRN-16-1 forward, loss, backward, SGD)": steps.studentStep,
  "teacher forward (WRN-16-2, eval)": steps.teacherForward,
};
for (const [name, step] of Object.entries(workloads)) {
  const report = rate(`${name} (batch ${STEP_BATCH})`, STEP_BATCH, "images/s");
  Deno.bench({
    name,
    group: `training workloads, batch ${STEP_BATCH}`,
    n: 2,
    warmup: 1,
    fn: async () => {
      const t0 = performance.now();
      await step();
      report(performance.now() - t0);
    },
  });
}
