// The webgpu backend's machinery: adapter report and the `auto` policy, clear errors for every way of
// failing (no WebGPU, no adapter, validation errors naming the kernel, device loss, oversized buffers,
// foreign buffers, double free), pooling and batching order, empty buffers and dispatches larger than
// one grid dimension. Tests that need an adapter skip themselves, saying why, where there is none.
import assert from "node:assert/strict";
import { CpuBackend } from "../src/backends/cpu/mod.ts";
import { describeAdapter } from "../src/backends/webgpu/_adapter.ts";
import { gridFor } from "../src/backends/webgpu/_dispatch.ts";
import { defineKernel } from "../src/backends/webgpu/_kernel.ts";
import { GpuRuntime } from "../src/backends/webgpu/_runtime.ts";
import { HARDWARE_TUNING, registerTilingFor, SOFTWARE_TUNING } from "../src/backends/webgpu/_tuning.ts";
import { checkTiling } from "../src/backends/webgpu/_gemm.ts";
import { coalesce } from "../src/backends/webgpu/_elementwise.ts";
import { textureReadable, textureVariant } from "../src/backends/webgpu/_texture.ts";
import {
  autoDecision,
  create,
  findMeasurement,
  recordMeasurement,
  SOFTWARE_ENV,
  type WebGpuBackend,
} from "../src/backends/webgpu/mod.ts";
import { assertAgree, EXACT, noAdapter, reason, seeded, webgpu } from "./_webgpu.ts";

const gpuTest = (name: string, fn: () => Promise<void> | void) =>
  Deno.test({ name: `webgpu ${name}`, ignore: noAdapter, fn });

/** Asserts that `fn` throws or rejects with a message containing every part. */
async function assertFails(fn: () => unknown, ...parts: string[]): Promise<string> {
  let message: string | undefined;
  try {
    await fn();
  } catch (e) {
    message = e instanceof Error ? e.message : String(e);
  }
  assert.ok(message !== undefined, `expected an error mentioning ${parts.join(", ")}`);
  for (const p of parts) assert.ok(message.includes(p), `error ${JSON.stringify(message)} lacks ${JSON.stringify(p)}`);
  return message;
}

/** Runs `fn` with `navigator.gpu` replaced by `value`. */
async function withNavigatorGpu(value: unknown, fn: () => Promise<void>): Promise<void> {
  const proto = Object.getPrototypeOf(navigator);
  const original = Object.getOwnPropertyDescriptor(proto, "gpu");
  Object.defineProperty(navigator, "gpu", { value, configurable: true });
  try {
    await fn();
  } finally {
    delete (navigator as { gpu?: unknown }).gpu;
    if (original && !Object.getOwnPropertyDescriptor(proto, "gpu")) Object.defineProperty(proto, "gpu", original);
  }
}

Deno.test("webgpu texture variants rewrite exactly the reads of the chosen bindings", () => {
  const spec = defineKernel("test_texture_variant", () => ({
    key: "test_texture_variant",
    op: "test",
    bindings: [
      { name: "x", access: "read" },
      { name: "v", access: "read", type: "vec4f" },
      { name: "ax", access: "read" },
      { name: "y", access: "read_write" },
    ],
    params: [["n", "u32"]],
    workgroupSize: 1,
    body: `@compute @workgroup_size(1) fn main() {
  let i = u.n;
  y[i] = x[u32(x[i + 1u]) + v[i][2]] + v[i].w + ax[i] + f32(arrayLength(&ax));
}`,
  }));
  assert.equal(textureReadable(spec, 0), true);
  assert.equal(textureReadable(spec, 2), false, "a binding passed to arrayLength stays a storage buffer");
  assert.equal(textureReadable(spec, 3), false, "a written binding stays a storage buffer");
  const t = textureVariant(spec, 0b11);
  assert.equal(t.key, "test_texture_variant_tex3");
  assert.deepEqual(t.bindings.map((b) => b.type), ["texture", "texture", undefined, undefined]);
  assert.match(t.source, /var x: texture_2d<f32>;/);
  assert.match(t.source, /var v: texture_2d<f32>;/);
  assert.match(
    t.source,
    /y\[i\] = tex_read_x\(u32\(tex_read_x\(i \+ 1u\)\) \+ tex_read_v\(i\)\[2\]\) \+ tex_read_v\(i\)\.w \+ ax\[i\]/,
  );
  assert.throws(() => textureVariant(spec, 0b100), /cannot be a texture/);
});

Deno.test("webgpu dispatch grids stay within the per-dimension limit and cover the workgroups", () => {
  for (const groups of [0, 1, 65535, 65536, 70000, 65535 * 65535, 65535 * 65535 + 1, 5e9]) {
    const [x, y, z] = gridFor(groups, 65535);
    assert.ok(x <= 65535 && y <= 65535 && z <= 65535, `grid ${[x, y, z]} for ${groups}`);
    assert.ok(x * y * z >= groups, `grid ${[x, y, z]} covers ${groups}`);
    assert.ok(x * y * z <= groups + x * y, `grid ${[x, y, z]} wastes at most one plane for ${groups}`);
  }
  assert.throws(() => gridFor(-1, 65535), /bad workgroup count/);
});

Deno.test("webgpu adapter reports name the vendor and flag software adapters", () => {
  const llvmpipe = describeAdapter({
    vendor: "65541",
    description: "llvmpipe (LLVM 15.0.6, 256 bits)",
    isFallbackAdapter: true,
  });
  assert.ok(llvmpipe.software);
  assert.match(llvmpipe.summary, /llvmpipe \(LLVM 15\.0\.6, 256 bits\); vendor Mesa \(0x10005\).*software adapter/);
  const nvidia = describeAdapter({ vendor: "nvidia", architecture: "ampere", description: "NVIDIA A100" });
  assert.ok(!nvidia.software);
  assert.match(nvidia.summary, /NVIDIA A100; vendor nvidia, ampere; hardware adapter/);
  assert.ok(describeAdapter({ vendor: "0x1414", description: "Microsoft Basic Render Driver" }).software);
  assert.ok(describeAdapter({ description: "SwiftShader Device (Subzero)" }).software);
});

Deno.test("webgpu register tilings fit the product and every tiling loads whole vec4s", () => {
  assert.equal(registerTilingFor(16, 131072).rn, 32);
  assert.equal(registerTilingFor(10, 16).rn, 16);
  // a filter gradient (n = c·r·s small, k = batch·pixels long) puts the lanes on k
  assert.equal(registerTilingFor(64, 32, 32768, true).staging, "registers_k");
  for (const m of [1, 10, 16, 17, 32, 64, 128]) {
    for (const n of [1, 144, 1152, 131072]) {
      for (const splitK of [false, true]) {
        checkTiling(registerTilingFor(m, n, 100_000, splitK));
        checkTiling(HARDWARE_TUNING.gemm(m, n, 1000, splitK));
        const t = SOFTWARE_TUNING.gemm(m, n, 100_000, splitK);
        checkTiling(t);
        if (!splitK) assert.notEqual(t.staging, "registers_k", "lanes over k need a product that sums partials");
      }
    }
  }
});

Deno.test("webgpu broadcasting merges adjacent axes that walk every operand contiguously", () => {
  assert.deepEqual(coalesce([2, 3, 5, 7], [[105, 35, 7, 1], [0, 1, 0, 0]]), {
    shape: [2, 3, 35],
    strides: [[105, 35, 1], [0, 1, 0]],
  });
  assert.deepEqual(coalesce([], [[]]), { shape: [1], strides: [[0]] });
  assert.deepEqual(coalesce([1, 4, 1], [[9, 1, 9], [0, 0, 0]]), { shape: [4], strides: [[1], [0]] });
});

Deno.test("webgpu without navigator.gpu or without an adapter fails with one clear error", async () => {
  await withNavigatorGpu(undefined, async () => {
    await assertFails(() => create(), "webgpu: navigator.gpu is not available");
  });
  await withNavigatorGpu({ requestAdapter: () => Promise.resolve(null) }, async () => {
    await assertFails(() => create(), "webgpu: no adapter", "requestAdapter() returned null", "mesa-vulkan-drivers");
  });
  await withNavigatorGpu({ requestAdapter: () => Promise.reject(new Error("driver error -4")) }, async () => {
    await assertFails(() => create(), "webgpu: requestAdapter() failed: driver error -4");
  });
});

gpuTest("the description names the adapter and whether it is a software one", () => {
  const g = webgpu();
  assert.equal(g.name, "webgpu");
  assert.ok(g.description.includes(g.adapter.description), g.description);
  assert.match(g.description, g.adapter.software ? /software adapter/ : /hardware adapter/);
  assert.match(g.description, /vendor /);
});

/** Runs `fn` with the given environment variables (undefined deletes one), restoring them afterwards. */
async function withEnv(vars: Record<string, string | undefined>, fn: () => Promise<void>): Promise<void> {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  const set = (k: string, v: string | undefined) => (v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v));
  try {
    for (const [k, v] of Object.entries(vars)) set(k, v);
    await fn();
  } finally {
    for (const [k, v] of Object.entries(before)) set(k, v);
  }
}

gpuTest("auto takes a software adapter only when measured faster on this machine or told to", async () => {
  const report = webgpu().adapter;
  const cache = await Deno.makeTempDir();
  try {
    await withEnv({ XDG_CACHE_HOME: cache, [SOFTWARE_ENV]: undefined }, async () => {
      if (!report.software) {
        const taken = await create({ auto: true }) as WebGpuBackend;
        taken.dispose();
        return;
      }
      const none = await assertFails(() => create({ auto: true }), "software adapter", "cpu backend is preferred");
      assert.ok(none.includes(report.description) && none.includes("bench/webgpu_step_bench.ts"), none);

      recordMeasurement(report, { batch: 8, cpuImagesPerSecond: 5, webgpuImagesPerSecond: 4 });
      assert.equal(findMeasurement(report)?.webgpuImagesPerSecond, 4);
      await assertFails(() => create({ auto: true }), "cpu backend is faster", "webgpu 4.0 images/s, cpu 5.0");

      recordMeasurement(report, { batch: 8, cpuImagesPerSecond: 5, webgpuImagesPerSecond: 6 });
      assert.match(autoDecision(report).reason, /faster than the cpu backend/);
      const measured = await create({ auto: true }) as WebGpuBackend;
      measured.dispose();

      Deno.env.set(SOFTWARE_ENV, "0");
      await assertFails(() => create({ auto: true }), `${SOFTWARE_ENV}=0`);
      Deno.env.set(SOFTWARE_ENV, "1");
      const told = await create({ auto: true }) as WebGpuBackend;
      told.dispose();
    });
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

gpuTest("buffers of size 0 work everywhere", async () => {
  const g = webgpu();
  const empty = g.zeros(0);
  assert.equal((await g.download(empty)).length, 0);
  assert.equal((await g.download(g.upload(new Float32Array(0)))).length, 0);
  assert.equal((await g.download(g.unary("exp", empty, 0, 0))).length, 0);
  assert.equal((await g.download(g.binary("add", empty, [1], empty, [1], [0]))).length, 0);
  assert.equal((await g.download(g.sum(empty, 0, 5, 3))).length, 0);
  assertAgree("sum over an empty axis", await g.download(g.sum(empty, 2, 0, 3)), new Float32Array(6), EXACT);
  assertAgree(
    "matmul with k = 0",
    await g.download(g.matmul(empty, empty, 2, 3, 0, false, false)),
    new Float32Array(6),
    EXACT,
  );
  assert.equal((await g.download(g.logSoftmax(empty, 0, 10))).length, 0);
  g.sgdUpdate(empty, empty, empty, { lr: 0.1, momentum: 0.9, weightDecay: 0 });
  g.free(empty);
});

gpuTest("dispatches beyond 65535 workgroups run on a 2-D grid", async () => {
  const g = webgpu();
  const n = 256 * 65535 + 4099; // one workgroup of 256 per 256 elements: a 2-D grid
  const x = seeded(n, 7);
  const y = g.unary("affine", g.upload(x), 2, 1);
  const out = await g.download(y);
  for (const i of [0, 1, 255, 256, 65535 * 256 - 1, 65535 * 256, 65535 * 256 + 1, n - 1]) {
    assert.equal(out[i], Math.fround(x[i] * 2 + 1), `element ${i}`);
  }
  g.free(y);
});

gpuTest("a buffer over maxStorageBufferBindingSize is refused with a message naming the op and the limit", async () => {
  const g = webgpu();
  const limit = (await navigator.gpu.requestAdapter())!.limits.maxStorageBufferBindingSize;
  if (limit / 4 > 2 ** 28) return; // too big to allocate here; nothing to check
  const big = g.zeros(limit / 4 + 1);
  await assertFails(() => g.unary("exp", big, 0, 0), "webgpu unary", "maxStorageBufferBindingSize", "MiB");
  g.free(big);
});

gpuTest("foreign buffers, double free and use after free are refused clearly", async () => {
  const g = webgpu();
  const foreign = new CpuBackend().zeros(4);
  await assertFails(() => g.unary("exp", foreign, 0, 0), "webgpu unary", "another backend");
  await assertFails(() => g.download(foreign), "webgpu download", "another backend");
  const b = g.zeros(4);
  g.free(b);
  await assertFails(() => g.free(b), "freed twice");
  await assertFails(() => g.unary("exp", b, 0, 0), "used after free()");
});

gpuTest("shape errors name the op and the values", async () => {
  const g = webgpu();
  const x = g.zeros(10);
  const geometry = { n: 1, c: 2, h: 5, w: 1, k: 3, r: 1, s: 1, stride: 1, pad: 0, oh: 5, ow: 1 };
  await assertFails(() => g.conv2d(x, g.zeros(5), geometry), "webgpu conv2d", "w has 5 floats");
  await assertFails(() => g.conv2d(x, g.zeros(6), { ...geometry, oh: 4 }), "webgpu conv2d", "output 4x1");
  await assertFails(() => g.matmul(x, x, 3, 3, 3, false, false), "webgpu matmul", "[3, 3] · [3, 3]");
  await assertFails(() => g.sum(x, 2, 2, 2), "webgpu sum", "[2, 2, 2]");
  await assertFails(() => g.unary("tanh" as "exp", x, 0, 0), "webgpu unary", "tanh");
});

gpuTest("many dispatches batch into few submits and keep their order", async () => {
  const g = webgpu();
  let x = g.upload(new Float32Array([1, 2, 3]));
  for (let i = 0; i < 700; i++) {
    const y = g.unary("affine", x, 1, 1); // more than one batch of dispatches
    g.free(x);
    x = y;
  }
  assertAgree("700 chained additions", await g.download(x), new Float32Array([701, 702, 703]), EXACT);
  g.free(x);
});

gpuTest("an upload into a pooled buffer waits for the recorded kernels that read its previous owner", async () => {
  const g = webgpu();
  for (let round = 0; round < 20; round++) {
    const a = g.upload(new Float32Array(1000).fill(round));
    const y = g.unary("affine", a, 1, 0.5); // recorded, not yet submitted
    g.free(a); // its memory goes back to the pool …
    const b = g.upload(new Float32Array(1000).fill(-7)); // … and is likely handed to this upload
    assertAgree(`round ${round}`, await g.download(y), new Float32Array(1000).fill(round + 0.5), EXACT);
    g.free(b);
    g.free(y);
  }
});

gpuTest(
  "download captures the contents at the call: later in-place updates, frees and reuse do not leak in",
  async () => {
    const g = webgpu();
    const param = g.upload(new Float32Array([1, 2, 3, 4]));
    const grad = g.upload(new Float32Array([1, 1, 1, 1]));
    const mom = g.zeros(4);
    const before = g.download(param); // not awaited yet
    g.sgdUpdate(param, grad, mom, { lr: 1, momentum: 0, weightDecay: 0 });
    const after = g.download(param);
    g.free(param);
    const reuse = g.upload(new Float32Array([9, 9, 9, 9])); // may get param's memory
    assertAgree("before the update", await before, new Float32Array([1, 2, 3, 4]), EXACT);
    assertAgree("after the update", await after, new Float32Array([0, 1, 2, 3]), EXACT);
    for (const b of [grad, mom, reuse]) g.free(b);
  },
);

gpuTest("a WebGPU validation error surfaces as an error naming the kernel", async () => {
  const adapter = (await navigator.gpu.requestAdapter())!;
  const rt = new GpuRuntime(await adapter.requestDevice(), { maxBatch: 16, maxPooledBytes: 1 << 20 });
  const broken = defineKernel("test_broken_kernel", () => ({
    key: "test_broken_kernel",
    op: "testOp",
    bindings: [{ name: "y", access: "read_write" }],
    params: [],
    workgroupSize: 1,
    body: "@compute @workgroup_size(1) fn main() { y[0] = undefined_symbol; }",
  }));
  const y = rt.alloc(4);
  rt.run(broken, [y], [], 1);
  const message = await assertFails(() => rt.download(y), "test_broken_kernel", "testOp");
  assert.match(message, /undefined_symbol|unresolved|no definition/i);
  // The error sticks: later calls say the same instead of computing on a broken state.
  await assertFails(() => rt.zeros(4), "test_broken_kernel");
  rt.destroy();
});

gpuTest("a lost device gives one clear error and a pending download settles", async () => {
  const adapter = (await navigator.gpu.requestAdapter())!;
  const device = await adapter.requestDevice();
  const rt = new GpuRuntime(device, { maxBatch: 16, maxPooledBytes: 1 << 20 });
  const x = rt.upload(new Float32Array(1 << 16).fill(1));
  const pending = rt.download(x).then(() => "resolved", (e: Error) => e.message);
  device.destroy(); // as a driver reset would
  const outcome = await Promise.race([pending, new Promise((r) => setTimeout(() => r("hung"), 10_000))]);
  assert.notEqual(outcome, "hung");
  await device.lost;
  await assertFails(() => rt.zeros(4), "webgpu: the device was lost", "destroyed");
  await assertFails(() => rt.download(x), "webgpu: the device was lost");
});

gpuTest("a disposed backend refuses further work", async () => {
  const b = await create() as WebGpuBackend;
  const x = b.zeros(4);
  b.dispose();
  await assertFails(() => b.zeros(4), "disposed");
  await assertFails(() => b.download(x), "disposed");
});

if (noAdapter) Deno.test({ name: `webgpu tests need an adapter: ${reason}`, ignore: true, fn() {} });

gpuTest("a kept texture copy never outlives the contents it copied (in-place update, free and reuse)", async () => {
  // Every read-only operand through a texture, so each read below goes through the kept copies.
  const b = await create({ textureMinFloats: 1 }) as WebGpuBackend;
  try {
    const n = 5000;
    const x0 = seeded(n, 1), g = seeded(n, 2);
    const x = b.upload(x0), grad = b.upload(g), mom = b.upload(new Float32Array(n));
    const twice = (v: Float32Array) => v.map((e) => Math.fround(2 * e));
    // Read through a texture (the copy is kept), update in place, read again: the new contents.
    assertAgree("before the update", await b.download(b.unary("affine", x, 2, 0)), twice(x0), EXACT);
    b.sgdUpdate(x, grad, mom, { lr: 0.5, momentum: 0, weightDecay: 0 });
    const x1 = x0.map((e, i) => Math.fround(e - Math.fround(0.5 * g[i])));
    assertAgree("after the update", await b.download(b.unary("affine", x, 2, 0)), twice(x1), EXACT);
    // A freed buffer's memory comes back with other contents: no copy of the old ones may answer.
    b.free(x);
    const y0 = seeded(n, 3);
    const y = b.upload(y0);
    assertAgree("after reuse", await b.download(b.unary("affine", y, 2, 0)), twice(y0), EXACT);
  } finally {
    b.dispose();
  }
});
