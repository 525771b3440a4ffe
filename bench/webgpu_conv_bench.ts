// `deno bench -A bench/webgpu_conv_bench.ts`: the WRN-16 convolutions (3×3 stride 1 and 2, pad 1, and the
// 1×1 stride-2 "convdim", channels 16/32/64/128 at 32×32/16×16/8×8) forward and both gradients, cpu against
// webgpu, at batch 128 (AT_BENCH_BATCH changes it). Each group is one shape and one kernel with cpu as the
// baseline; GFLOP/s per backend and the adapter that ran are printed at the end.
import type { Backend, ConvGeometry, DeviceBuffer } from "../src/backends/backend.ts";
import { CpuBackend } from "../src/backends/cpu/mod.ts";
import { create, type WebGpuBackend } from "../src/backends/webgpu/mod.ts";

const batch = Number(Deno.env.get("AT_BENCH_BATCH") ?? 128);

/** [in channels, out channels, input size, filter size, stride, pad] */
const SHAPES: readonly (readonly [number, number, number, number, number, number])[] = [
  [16, 16, 32, 3, 1, 1],
  [32, 32, 32, 3, 1, 1],
  [32, 64, 32, 3, 2, 1],
  [64, 64, 16, 3, 1, 1],
  [64, 128, 16, 3, 2, 1],
  [128, 128, 8, 3, 1, 1],
  [32, 64, 32, 1, 2, 0],
];

function geometry([c, k, h, r, stride, pad]: readonly number[]): ConvGeometry {
  const oh = Math.floor((h + 2 * pad - r) / stride) + 1;
  return { n: batch, c, h, w: h, k, r, s: r, stride, pad, oh, ow: oh };
}

function label(g: ConvGeometry): string {
  return `${g.c}→${g.k} ${g.r}x${g.s} s${g.stride} @${g.h}x${g.w}`;
}

const backends: { name: string; backend: Backend; finish: () => Promise<void> }[] = [
  { name: "cpu", backend: new CpuBackend(), finish: () => Promise.resolve() },
];
let skipped = "";
let gpu: WebGpuBackend | undefined;
try {
  const started = gpu = await create() as WebGpuBackend;
  backends.push({ name: "webgpu", backend: started, finish: () => started.finish() });
} catch (e) {
  skipped = `webgpu not run: ${e instanceof Error ? e.message : e}`;
}

const OPS = ["conv2d", "conv2dBackwardInput", "conv2dBackwardFilter"] as const;
const seconds = new Map<string, number[]>();

function random(size: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.random() * 2 - 1;
  return out;
}

for (const shape of SHAPES) {
  const g = geometry(shape);
  const x = random(g.n * g.c * g.h * g.w), w = random(g.k * g.c * g.r * g.s), dy = random(g.n * g.k * g.oh * g.ow);
  const flops = 2 * g.n * g.k * g.oh * g.ow * g.c * g.r * g.s;
  for (const { name, backend, finish } of backends) {
    const xb = backend.upload(x), wb = backend.upload(w), dyb = backend.upload(dy);
    const run: Record<typeof OPS[number], () => DeviceBuffer> = {
      conv2d: () => backend.conv2d(xb, wb, g),
      conv2dBackwardInput: () => backend.conv2dBackwardInput(dyb, wb, g),
      conv2dBackwardFilter: () => backend.conv2dBackwardFilter(xb, dyb, g),
    };
    for (const op of OPS) {
      const key = `${op} ${label(g)}`;
      Deno.bench({
        name: `${key} ×${batch} [${name}]`,
        group: key,
        baseline: name === "cpu",
        n: 3,
        warmup: 1,
        async fn() {
          const t0 = performance.now();
          const out = run[op]();
          await finish();
          const s = (performance.now() - t0) / 1000;
          backend.free(out);
          const list = seconds.get(`${key}/${name}`) ?? [];
          list.push(s);
          seconds.set(`${key}/${name}`, list);
          if (list.length === 1) seconds.set(`${key}/flops`, [flops]);
        },
      });
    }
  }
}

globalThis.addEventListener("unload", () => {
  console.log(`\nGFLOP/s at batch ${batch} (best of the timed runs; ratio webgpu / cpu):`);
  for (const shape of SHAPES) {
    for (const op of OPS) {
      const key = `${op} ${label(geometry(shape))}`;
      const flops = seconds.get(`${key}/flops`)?.[0] ?? NaN;
      const rate = (name: string) => flops / Math.min(...(seconds.get(`${key}/${name}`) ?? [NaN]).slice(1)) / 1e9;
      const cells = backends.map(({ name }) => `${name} ${rate(name).toFixed(2)}`);
      const ratio = backends.length > 1 ? `  (${(rate("webgpu") / rate("cpu")).toFixed(2)}×)` : "";
      console.log(`  ${key.padEnd(42)} ${cells.join("   ")}${ratio}`);
    }
  }
  for (const { backend } of backends) console.log(`  ${backend.name}: ${backend.description}`);
  if (skipped) console.log(`  ${skipped}`);
  gpu?.dispose(); // release the device before the process tears down its drivers
});
