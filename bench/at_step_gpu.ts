// `deno run -A bench/at_step_gpu.ts [--backend cudnn] [--batch 128] [--warmup 5] [--steps 30]`: images per
// second of the WRN-16-1 ← WRN-16-2 attention-transfer training step (teacher forward in evaluation mode
// without gradients, student forward, cross-entropy + 1e3 · Σ AT loss over the three groups, backward, SGD
// with momentum 0.9 and weight decay 5e-4) on one backend. Each step reads its loss back, as a training loop
// that logs every step would. `tools/at_step_torch.py` times the same step in PyTorch eager; both print a
// `RESULT {json}` line that `tools/gpu_check.sh` reads.
import { useBackend } from "../src/tensor/device.ts";
import { makeSteps } from "./_at_step.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : fallback;
}

const backendName = flag("backend", "cudnn");
const batch = Number(flag("batch", "128"));
const warmup = Number(flag("warmup", "5"));
const timed = Number(flag("steps", "30"));

const choice = await useBackend(backendName);
console.log(choice.report);
const steps = makeSteps({ batch, studentDepth: 16, studentWidth: 1, teacherDepth: 16, teacherWidth: 2 });

let t0 = performance.now();
const firstLoss = await steps.atStep();
const firstMs = performance.now() - t0;
for (let i = 1; i < warmup; i++) await steps.atStep();

t0 = performance.now();
let loss = firstLoss;
for (let i = 0; i < timed; i++) loss = await steps.atStep();
const ms = (performance.now() - t0) / timed;
const imagesPerSecond = (1000 * batch) / ms;

console.log(
  `AT step WRN-16-1 <- WRN-16-2, batch ${batch}, [${choice.backend.name}]: ${imagesPerSecond.toFixed(1)} images/s ` +
    `(${ms.toFixed(2)} ms/step over ${timed} steps; first step ${firstMs.toFixed(0)} ms; loss ${
      firstLoss.toFixed(4)
    } -> ${loss.toFixed(4)})`,
);
console.log(
  `RESULT ${
    JSON.stringify({
      impl: `deno-${choice.backend.name}`,
      batch,
      steps: timed,
      ms_per_step: ms,
      images_per_s: imagesPerSecond,
      first_step_ms: firstMs,
      loss_first: firstLoss,
      loss_last: loss,
      device: choice.backend.description,
    })
  }`,
);
