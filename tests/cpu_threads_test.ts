// Determinism of the cpu backend: every kernel gives bit-identical results run after run and whatever
// the number of threads (1, 2, 3, every kernel split as far as it goes), and a small WRN training run
// ends with bit-identical parameters on one thread and on three.
import type { Backend, ConvGeometry, DeviceBuffer, PoolGeometry } from "../src/backends/backend.ts";
import { CpuBackend } from "../src/backends/cpu/mod.ts";
import { memoryStats } from "../src/backends/cpu/_memory.ts";
import { THREADS_ENV, workerStatus } from "../src/backends/cpu/_threads.ts";
import { sgdInit, sgdStep } from "../src/nn/sgd.ts";
import { wrn } from "../src/nn/wrn.ts";
import type { TensorRecord } from "../src/nn/params.ts";
import { valueAndGrad } from "../src/tensor/autograd.ts";
import { getBackend, setBackend } from "../src/tensor/device.ts";
import { tidy } from "../src/tensor/memory.ts";
import { crossEntropy } from "../src/tensor/softmax.ts";
import { tensor } from "../src/tensor/tensor.ts";
import { assert, assertBitwise, lcgFloats } from "./_assert.ts";

/** Every kernel of the contract once, on fixed random inputs; the named outputs. */
async function everyKernel(be: Backend): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  const up = (size: number, seed: number) => be.upload(lcgFloats(size, seed));
  const keep = async (name: string, b: DeviceBuffer) => void out.set(name, await be.download(b));
  const conv: ConvGeometry = { n: 6, c: 5, h: 9, w: 7, k: 11, r: 3, s: 3, stride: 2, pad: 1, oh: 5, ow: 4 };
  const x = up(6 * 5 * 9 * 7, 1), w = up(11 * 5 * 9, 2), dy = up(6 * 11 * 5 * 4, 3);
  await keep("conv2d", be.conv2d(x, w, conv));
  await keep("conv2dBackwardInput", be.conv2dBackwardInput(dy, w, conv));
  await keep("conv2dBackwardFilter", be.conv2dBackwardFilter(x, dy, conv));
  // 3×3 stride 1 with 16 channels each way: the Winograd path forward and for the input gradient.
  const wide: ConvGeometry = { n: 5, c: 16, h: 7, w: 6, k: 16, r: 3, s: 3, stride: 1, pad: 1, oh: 7, ow: 6 };
  const wx = up(5 * 16 * 42, 31), ww = up(16 * 16 * 9, 32), wdy = up(5 * 16 * 42, 33);
  await keep("conv2d winograd", be.conv2d(wx, ww, wide));
  await keep("conv2dBackwardInput winograd", be.conv2dBackwardInput(wdy, ww, wide));
  await keep("conv2dBackwardFilter 3x3/1", be.conv2dBackwardFilter(wx, wdy, wide));
  await keep("matmul", be.matmul(up(37 * 23, 4), up(23 * 19, 5), 37, 19, 23, false, true));
  const t = up(6 * 5 * 9 * 7, 6);
  for (const op of ["affine", "exp", "abs", "sign", "max", "gt"] as const) {
    await keep(`unary ${op}`, be.unary(op, t, 0.5, 0.25));
  }
  await keep("binary add", be.binary("add", t, [315, 63, 7, 1], up(5, 7), [0, 1, 0, 0], [6, 5, 9, 7]));
  await keep("binary mul", be.binary("mul", t, [315, 63, 7, 1], t, [315, 63, 7, 1], [6, 5, 9, 7]));
  await keep("strided", be.strided(t, [5, 6, 7, 9], [63, 315, 1, 7], 0));
  await keep("sum inner", be.sum(t, 6, 5, 63));
  await keep("sum rows", be.sum(t, 30, 63, 1));
  const bn = { n: 6, c: 5, hw: 63, eps: 1e-5 };
  const gamma = up(5, 8), beta = up(5, 9), mean = up(5, 10), variance = be.upload(lcgFloats(5, 11).map(Math.abs));
  const tr = be.batchNormTrain(t, gamma, beta, mean, variance, 0.1, bn);
  for (const [k, v] of Object.entries(tr)) await keep(`batchNormTrain ${k}`, v);
  await keep("batchNormInference", be.batchNormInference(t, gamma, beta, mean, variance, bn));
  const grads = be.batchNormBackward(t, up(6 * 5 * 63, 12), gamma, tr.mean, tr.invstd, bn);
  for (const [k, v] of Object.entries(grads)) await keep(`batchNormBackward ${k}`, v);
  const pool: PoolGeometry = { n: 6, c: 5, h: 9, w: 7, kernel: 3, stride: 2, pad: 1, oh: 5, ow: 4 };
  const pdy = up(6 * 5 * 5 * 4, 13);
  await keep("avgPool2d", be.avgPool2d(t, pool));
  await keep("avgPool2dBackward", be.avgPool2dBackward(pdy, pool));
  await keep("maxPool2d", be.maxPool2d(t, pool));
  await keep("maxPool2dBackward", be.maxPool2dBackward(t, pdy, pool));
  await keep("maxPool2dGather", be.maxPool2dGather(t, up(6 * 5 * 9 * 7, 14), pool));
  await keep("logSoftmax", be.logSoftmax(t, 30, 63));
  const param = up(999, 15), momentum = up(999, 16);
  be.sgdUpdate(param, up(999, 17), momentum, { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
  await keep("sgdUpdate param", param);
  await keep("sgdUpdate momentum", momentum);
  return out;
}

Deno.test("every cpu kernel gives bit-identical results on 1, 2 and 3 threads, and run after run", async () => {
  const reference = await everyKernel(new CpuBackend({ threads: 1 }));
  for (const threads of [2, 3]) {
    const be = new CpuBackend({ threads, grain: 1 });
    for (let run = 0; run < 2; run++) {
      const got = await everyKernel(be);
      for (const [name, want] of reference) {
        assertBitwise(got.get(name)!, want, `${name} on ${threads} threads, run ${run}`);
      }
    }
  }
  const status = workerStatus();
  assert.ok(status.workers >= 2 || status.unavailable, "the workers neither started nor said why");
  if (status.unavailable) {
    console.warn(`worker threads unavailable, compared single-threaded only: ${status.unavailable}`);
  }
});

/** Two SGD steps of a WRN-10-1 on fixed data; the parameters after them. */
async function train(be: Backend): Promise<Map<string, Float32Array>> {
  const before = getBackend();
  setBackend(be);
  try {
    const net = wrn({ depth: 10, width: 1, numClasses: 10 });
    const { params, stats: initial } = net.init(3);
    let stats = initial;
    const state = sgdInit(params);
    const x = tensor(lcgFloats(8 * 3 * 12 * 12, 21), [8, 3, 12, 12]);
    const labels = Int32Array.from({ length: 8 }, (_, i) => (i * 7) % 10);
    for (let step = 0; step < 2; step++) {
      tidy(() => {
        const { grads, aux } = valueAndGrad((p: TensorRecord) => {
          const o = net.apply(p, stats, x, { train: true });
          return { value: crossEntropy(o.logits, labels), aux: o.stats };
        })(params);
        sgdStep(params, grads, state, { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
        stats = aux;
        for (const v of Object.values(stats)) v.keep();
      });
    }
    const out = new Map<string, Float32Array>();
    for (const [name, p] of Object.entries({ ...params, ...stats })) out.set(name, await p.data());
    return out;
  } finally {
    setBackend(before);
  }
}

Deno.test("a WRN training run ends with bit-identical parameters on one thread and on three", async () => {
  const one = await train(new CpuBackend({ threads: 1 }));
  const three = await train(new CpuBackend({ threads: 3, grain: 1 }));
  assert.equal(three.size, one.size);
  for (const [name, want] of one) assertBitwise(three.get(name)!, want, name);
});

Deno.test("cpu buffers: use after free throws; a recycled block comes back as zeros from zeros()", async () => {
  const be = new CpuBackend({ threads: 1 });
  const a = be.upload(new Float32Array(1000).fill(7));
  be.free(a);
  assert.throws(() => be.unary("abs", a, 0, 0), /used after free/);
  const z = be.zeros(1000);
  assertBitwise(await be.download(z), new Float32Array(1000), "zeros after a recycled block");
});

Deno.test("cpu buffers: freed blocks are reused, so a repeated step allocates no new shared memory", () => {
  const be = new CpuBackend({ threads: 2, grain: 1 });
  const step = () => {
    const x = be.upload(lcgFloats(5000, 1));
    const y = be.unary("max", x, 0, 0);
    const z = be.binary("mul", x, [1], y, [1], [5000]);
    for (const b of [x, y, z]) be.free(b);
  };
  step();
  const before = memoryStats().blocks;
  for (let i = 0; i < 3; i++) step();
  assert.equal(memoryStats().blocks, before, "new blocks were created for a step that repeats the same sizes");
});

Deno.test("AT_CPU_THREADS: a value that is not a positive integer is an error that names it", () => {
  const before = Deno.env.get(THREADS_ENV);
  try {
    Deno.env.set(THREADS_ENV, "two");
    assert.throws(() => new CpuBackend(), /AT_CPU_THREADS must be a positive integer.*"two"/);
    Deno.env.set(THREADS_ENV, "1");
    assert.equal(new CpuBackend().threads, 1);
    assert.match(new CpuBackend().description, /1 thread of/);
  } finally {
    if (before === undefined) Deno.env.delete(THREADS_ENV);
    else Deno.env.set(THREADS_ENV, before);
  }
});
