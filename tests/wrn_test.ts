// Wide ResNets: the reference's names, shapes and initialisation, seeded; forward shapes in both modes.
import { wrn, wrnParameterCount } from "../src/nn/wrn.ts";
import { countScalars } from "../src/nn/params.ts";
import { stepLr } from "../src/nn/schedule.ts";
import { noGrad } from "../src/tensor/autograd.ts";
import { tensor } from "../src/tensor/tensor.ts";
import { useBackend } from "../src/tensor/device.ts";
import { assert, assertClose, assertThrowsWith } from "./_assert.ts";

await useBackend(Deno.env.get("AT_BACKEND") ?? "cpu");

Deno.test("wrn: reference names and parameter counts", () => {
  const net = wrn({ depth: 16, width: 2, numClasses: 10 });
  assert.equal(net.name, "WRN-16-2");
  for (
    const name of [
      "conv0",
      "group0.block0.conv0",
      "group0.block0.convdim",
      "group1.block0.convdim",
      "group2.block1.bn1.weight",
      "bn.bias",
      "fc.weight",
      "fc.bias",
    ]
  ) {
    assert.ok(name in net.paramShapes, `missing ${name}`);
  }
  assert.deepEqual(net.paramShapes["group1.block0.convdim"], [64, 32, 1, 1]);
  assert.deepEqual(net.statShapes["bn.running_var"], [128]);
  assert.ok(!("group1.block1.convdim" in net.paramShapes));
  // WRN-16-1 has no convdim in group0 (16 → 16 channels).
  assert.ok(!("group0.block0.convdim" in wrn({ depth: 16, width: 1, numClasses: 10 }).paramShapes));
  const { params } = wrn({ depth: 40, width: 4, numClasses: 10 }).init(0);
  // The paper's Table 1 lists WRN-40-4 at 8.9M parameters.
  assertClose(countScalars(params) / 1e6, 8.9, 0.05, "WRN-40-4 parameters (millions)");
});

Deno.test("wrn: initialisation is seeded and follows the reference", async () => {
  const net = wrn({ depth: 16, width: 4, numClasses: 100 });
  const a = net.init(3), b = net.init(3), c = net.init(4);
  const w = await a.params["group2.block0.conv1"].data();
  assert.deepEqual(w, await b.params["group2.block0.conv1"].data());
  assert.notDeepEqual(w, await c.params["group2.block0.conv1"].data());
  // Kaiming normal: std sqrt(2 / fan_in), fan_in = 256 · 3 · 3 here; 589,824 draws, so within 1%.
  const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
  assertClose(std, Math.sqrt(2 / (256 * 9)), 0.01 * Math.sqrt(2 / (256 * 9)), "conv std");
  const gamma = await a.params["bn.weight"].data();
  assert.ok(gamma.every((v) => v >= 0 && v < 1), "bn weight outside [0, 1)");
  assert.ok((await a.params["bn.bias"].data()).every((v) => v === 0));
  assert.ok((await a.params["fc.bias"].data()).every((v) => v === 0));
  assert.ok((await a.stats["bn.running_mean"].data()).every((v) => v === 0));
  assert.ok((await a.stats["bn.running_var"].data()).every((v) => v === 1));
});

Deno.test("wrn: forward returns logits, three group outputs and running statistics", async () => {
  const net = wrn({ depth: 10, width: 1, numClasses: 7 });
  const { params, stats } = net.init(0);
  const x = tensor(Float32Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => Math.sin(i)), [2, 3, 32, 32]);
  const train = noGrad(() => net.apply(params, stats, x, { train: true }));
  assert.deepEqual(train.logits.shape, [2, 7]);
  assert.deepEqual(train.groups.map((g) => g.shape), [[2, 16, 32, 32], [2, 32, 16, 16], [2, 64, 8, 8]]);
  assert.deepEqual(Object.keys(train.stats).sort(), Object.keys(stats).sort());
  assert.notDeepEqual(await train.stats["bn.running_mean"].data(), await stats["bn.running_mean"].data());
  const evaluation = noGrad(() => net.apply(params, stats, x, { train: false }));
  assert.equal(evaluation.stats["bn.running_mean"], stats["bn.running_mean"]);
  assertThrowsWith(
    () => net.apply(params, stats, tensor(new Float32Array(32 * 32), [1, 1, 32, 32]), { train: false }),
    "[1, 1, 32, 32]",
  );
});

Deno.test("wrn: bad sizes say what would be right", () => {
  assertThrowsWith(() => wrn({ depth: 15, width: 1, numClasses: 10 }), "6n+4", "15");
  assertThrowsWith(() => wrn({ depth: 16, width: 0, numClasses: 10 }), "width");
  assertThrowsWith(() => wrn({ depth: 16, width: 1, numClasses: 0 }), "numClasses");
});

Deno.test("wrnParameterCount: the closed form equals the count of the network's own parameter shapes", () => {
  const count = (shapes: Readonly<Record<string, readonly number[]>>) =>
    Object.values(shapes).reduce((n, s) => n + s.reduce((p, d) => p * d, 1), 0);
  const configs = [
    [10, 1, 10],
    [16, 1, 10],
    [16, 2, 100],
    [22, 0.5, 7],
    [16, 0.75, 3],
    [34, 1.3, 2],
    [10, 1 / 16, 1],
    [28, 10, 10],
    [40, 4, 10],
    [100, 3, 1000],
  ];
  for (const [depth, width, numClasses] of configs) {
    const net = wrn({ depth, width, numClasses });
    assert.equal(wrnParameterCount({ depth, width, numClasses }), count(net.paramShapes), net.name);
  }
  // The paper's Table 1: WRN-40-4 8.9M, WRN-28-10 36.5M parameters.
  assertClose(wrnParameterCount({ depth: 40, width: 4, numClasses: 10 }) / 1e6, 8.9, 0.05, "WRN-40-4 (millions)");
  assertClose(wrnParameterCount({ depth: 28, width: 10, numClasses: 10 }) / 1e6, 36.5, 0.05, "WRN-28-10 (millions)");
  // Sizes no network could have are still counted, without building anything.
  assert.ok(wrnParameterCount({ depth: 100000000000, width: 1, numClasses: 10 }) > 1e15);
  assertThrowsWith(() => wrnParameterCount({ depth: 16, width: NaN, numClasses: 10 }), "width", "NaN");
});

Deno.test("wrn: a width or depth no network can have is refused at once, naming it and the limit", () => {
  for (const width of [Infinity, NaN, -Infinity]) {
    assertThrowsWith(() => wrn({ depth: 16, width, numClasses: 10 }), "wrn", "width", String(width));
  }
  assertThrowsWith(() => wrn({ depth: 16, width: 1e9, numClasses: 10 }), "width", "3.6864e+22 elements", "2147483647");
  assertThrowsWith(() => wrn({ depth: 16, width: 1, numClasses: 1e15 }), "numClasses", "2147483647");
  const started = performance.now();
  assertThrowsWith(
    () => wrn({ depth: 100000000000, width: 1, numClasses: 10 }),
    "1620266666582490 parameters",
    "limit of 4294967296",
    "depth",
  );
  assert.ok(performance.now() - started < 1000, "refusing an absurd depth took more than a second");
  // Few parameters but more named tensors than a record should hold.
  assertThrowsWith(
    () => wrn({ depth: 6 * 40000 + 4, width: 1 / 16, numClasses: 10 }),
    "1200010 named tensors",
    "100000",
  );
});

Deno.test("stepLr: ×0.2 from epochs (counted from 1) 60, 120 and 160", () => {
  assertClose(stepLr(0.1, 0), 0.1, 1e-12);
  assertClose(stepLr(0.1, 59), 0.1, 1e-12);
  assertClose(stepLr(0.1, 60), 0.02, 1e-12);
  assertClose(stepLr(0.1, 160), 0.1 * 0.2 ** 3, 1e-12);
  assertClose(stepLr(1, 5, { epochStep: [2, 4], decayRatio: 0.5 }), 0.25, 1e-12);
});
