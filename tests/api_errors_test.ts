// The public API refuses instead of guessing: unknown option keys and values, non-finite numbers, mismatched
// shapes and empty batches are errors that name the function, the option or tensor, and what would be right.
import { at, atLoss } from "../src/at.ts";
import { CIFAR_AUGMENT } from "../src/data/augment.ts";
import { IMAGE_BYTES } from "../src/data/dataset.ts";
import { createLoaders, loadDataset } from "../src/data/datasets.ts";
import { DataLoader } from "../src/data/loader.ts";
import { CIFAR_NORMALIZATION } from "../src/data/normalization.ts";
import { kdLoss } from "../src/kd.ts";
import { sgdInit, sgdStep } from "../src/nn/sgd.ts";
import { stepLr } from "../src/nn/schedule.ts";
import { checkWrnConfig, wrn, wrnParameterCount } from "../src/nn/wrn.ts";
import type { TensorRecord } from "../src/nn/params.ts";
import { grad, gradients, noGrad, valueAndGrad } from "../src/tensor/autograd.ts";
import { conv2d, convGeometry } from "../src/tensor/conv.ts";
import { matmulT } from "../src/tensor/linalg.ts";
import { batchNorm } from "../src/tensor/norm.ts";
import { sgdUpdate } from "../src/tensor/optim.ts";
import { avgPool2d, maxPool2d } from "../src/tensor/pool.ts";
import { crossEntropy } from "../src/tensor/softmax.ts";
import { type Tensor, tensor, zeros } from "../src/tensor/tensor.ts";
import { useBackend } from "../src/tensor/device.ts";
import { assert, assertRejectsWith } from "./_assert.ts";

await useBackend(Deno.env.get("AT_BACKEND") ?? "cpu");

/** Why `fn` does not throw an error whose message holds every one of `parts`, or undefined when it does. */
function problem(what: string, fn: () => unknown, parts: readonly string[]): string | undefined {
  try {
    fn();
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const missing = parts.filter((p) => !message.includes(p));
    return missing.length ? `${what}: error ${JSON.stringify(message)} lacks ${missing.join(", ")}` : undefined;
  }
  return `${what}: no error (expected one mentioning ${parts.join(", ")})`;
}

/** Runs every case and lists each one that did not throw as expected. */
function refusesAll(cases: readonly (readonly [string, () => unknown, ...string[]])[]): void {
  const problems = cases.map(([what, fn, ...parts]) => problem(what, fn, parts)).filter((p) => p !== undefined);
  assert.deepEqual(problems, [], `${problems.length} of ${cases.length} cases:\n${problems.join("\n")}`);
}

const x4 = () => tensor(new Float32Array(2 * 3 * 4 * 4).map((_, i) => Math.sin(i)), [2, 3, 4, 4]);
const logits = () => tensor(new Float32Array(6).map((_, i) => i), [2, 3]);
const bnParams = () => ({
  weight: tensor([1, 1, 1]),
  bias: tensor([0, 0, 0]),
  runningMean: tensor([0, 0, 0]),
  runningVar: tensor([1, 1, 1]),
});
const sgd = { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 };
const net = wrn({ depth: 10, width: 1, numClasses: 10 });
const f = (p: Tensor) => p.square().sum();

Deno.test("an unknown option key is an error naming the function, the key and the accepted keys", () => {
  const w = tensor(new Float32Array(3 * 3 * 3 * 3), [3, 3, 3, 3]);
  const cases: [string, () => unknown, ...string[]][] = [
    ["at", () => at(x4(), { pp: 2 } as never), "pp", "p"],
    ["atLoss", () => atLoss(x4(), x4(), { p: 2, modes: "paper" } as never), "modes", "p, mode"],
    [
      "kdLoss",
      () => kdLoss(logits(), logits(), { labels: [0, 1], temprature: 4 } as never),
      "temprature",
      "labels, temperature, alpha",
    ],
    ["wrn", () => wrn({ depth: 10, width: 1, numClasses: 10, dropout: 0.3 } as never), "dropout", "depth, width"],
    ["wrn", () => checkWrnConfig({ depth: 10, width: 1, numClasses: 10, widht: 2 } as never), "widht", "numClasses"],
    ["wrn", () => wrnParameterCount({ depth: 10, width: 1, numClasses: 10, n: 1 } as never), '"n"', "depth"],
    ["wrn apply", () => net.apply({}, {}, x4(), { train: true, trian: false } as never), "trian", "train"],
    [
      "sgdStep",
      () => sgdStep({}, {}, {}, { ...sgd, nesterov: true } as never),
      "nesterov",
      "lr, momentum, weightDecay",
    ],
    [
      "sgdUpdate",
      () => sgdUpdate(zeros([2]), zeros([2]), zeros([2]), { ...sgd, dampening: 0 } as never),
      "dampening",
      "weightDecay",
    ],
    ["batchNorm", () => batchNorm(x4(), bnParams(), { training: true, momentun: 0.1 } as never), "momentun", "eps"],
    [
      "batchNorm params",
      () => batchNorm(x4(), { ...bnParams(), gamma: tensor([1, 1, 1]) } as never, { training: true }),
      "gamma",
      "runningVar",
    ],
    ["conv2d", () => conv2d(x4(), w, { strides: 2 } as never), "strides", "stride, pad"],
    ["conv2d", () => convGeometry([1, 3, 4, 4], [3, 3, 3, 3], { padding: 1 } as never), "padding", "stride, pad"],
    ["avgPool2d", () => avgPool2d(x4(), { kernel: 2, strde: 2 } as never), "strde", "kernel, stride, pad"],
    ["maxPool2d", () => maxPool2d(x4(), { kernel: 2, padding: 1 } as never), "padding", "kernel, stride, pad"],
    ["matmulT", () => matmulT(logits(), logits(), { transposeB: true } as never), "transposeB", "transA, transB"],
    ["gradients", () => gradients(tensor([1]), [], { create_graph: true } as never), "create_graph", "createGraph"],
    ["valueAndGrad", () => valueAndGrad(f, { creategraph: true } as never), "creategraph", "createGraph"],
    ["grad", () => grad(f, { graph: true } as never), "graph", "createGraph"],
    ["stepLr", () => stepLr(0.1, 3, { decay: 0.5 } as never), "decay", "epochStep, decayRatio"],
  ];
  refusesAll(cases.map(([fn, call, ...parts]) => [`${fn} ${parts[0]}`, call, `${fn}: unknown option`, ...parts]));
});

Deno.test("an unknown or non-finite option value is an error naming the function, the option and the value", () => {
  const w = tensor(new Float32Array(3 * 3 * 3 * 3), [3, 3, 3, 3]);
  const cases: [string, () => unknown, ...string[]][] = [
    ["atLoss mode", () => atLoss(x4(), x4(), { mode: "referense" as never }), "atLoss", "mode", '"referense"', "paper"],
    ["at p NaN", () => at(x4(), { p: NaN }), "at:", "option p", "NaN"],
    ["at p Infinity", () => at(x4(), { p: Infinity }), "at:", "option p", "Infinity"],
    ["at p 0", () => at(x4(), { p: 0 }), "at:", "option p", "> 0"],
    ["atLoss p NaN", () => atLoss(x4(), x4(), { p: NaN }), "atLoss", "option p", "NaN"],
    ["kdLoss T", () => kdLoss(logits(), logits(), { labels: [0, 1], temperature: Infinity }), "kdLoss", "temperature"],
    ["kdLoss alpha", () => kdLoss(logits(), logits(), { labels: [0, 1], alpha: NaN }), "kdLoss", "alpha", "NaN"],
    ["kdLoss labels", () => kdLoss(logits(), logits(), {} as never), "kdLoss", "labels", "missing"],
    ["batchNorm training", () => batchNorm(x4(), bnParams(), {} as never), "batchNorm", "training", "missing"],
    ["batchNorm eps", () => batchNorm(x4(), bnParams(), { training: true, eps: NaN }), "batchNorm", "eps", "NaN"],
    ["batchNorm momentum", () => batchNorm(x4(), bnParams(), { training: true, momentum: 2 }), "momentum", "[0, 1]"],
    [
      "batchNorm relu",
      () => batchNorm(x4(), bnParams(), { training: true, relu: 1 as never }),
      "relu",
      "true or false",
    ],
    ["conv2d stride", () => conv2d(x4(), w, { stride: NaN }), "conv2d", "stride", "NaN"],
    ["avgPool2d kernel", () => avgPool2d(x4(), { kernel: NaN }), "avgPool2d", "kernel", "NaN"],
    ["maxPool2d kernel", () => maxPool2d(x4(), {} as never), "maxPool2d", "kernel", "missing"],
    ["matmulT", () => matmulT(logits(), logits(), { transB: "yes" as never }), "matmulT", "transB", '"yes"'],
    ["gradients", () => gradients(tensor([1]), [], { createGraph: 1 as never }), "gradients", "createGraph"],
    ["valueAndGrad", () => valueAndGrad(f, { createGraph: "no" as never }), "valueAndGrad", "createGraph"],
    ["stepLr", () => stepLr(0.1, 3, { decayRatio: NaN }), "stepLr", "decayRatio", "NaN"],
    ["stepLr epochs", () => stepLr(0.1, 3, { epochStep: [1.5] }), "stepLr", "epochStep"],
    ["wrn apply train", () => net.apply({}, {}, x4(), {} as never), "wrn apply", "train", "missing"],
    ["wrn apply train", () => net.apply({}, {}, x4(), { train: "yes" as never }), "wrn apply", "train", '"yes"'],
    ["options not an object", () => atLoss(x4(), x4(), "paper" as never), "atLoss", "options must be an object"],
  ];
  refusesAll(cases);
});

Deno.test("sgdStep and sgdUpdate: lr, momentum and weightDecay must be given, finite and ≥ 0", () => {
  const params = { w: tensor([1, 2, 3, 4]) };
  const grads = { w: tensor([1, 1, 1, 1]) };
  const cases: [string, () => unknown, ...string[]][] = [];
  for (const key of ["lr", "momentum", "weightDecay"] as const) {
    for (const value of [NaN, Infinity, -1, undefined]) {
      const options = { ...sgd, [key]: value };
      const why = value === undefined ? "missing" : String(value);
      cases.push([
        `sgdStep ${key} ${value}`,
        () => sgdStep(params, grads, sgdInit(params), options),
        "sgdStep",
        key,
        why,
      ]);
      cases.push([
        `sgdUpdate ${key} ${value}`,
        () => sgdUpdate(params.w, grads.w, zeros([4]), options),
        "sgdUpdate",
        key,
      ]);
    }
  }
  refusesAll(cases);
});

Deno.test("sgdStep: a gradient or momentum buffer of another shape than its parameter is an error naming it", async () => {
  const params = { "fc.bias": tensor([1, 2, 3, 4]) };
  const before = await params["fc.bias"].data();
  const p = params["fc.bias"];
  // A name that only the prototype of the gradient record has is missing too.
  const noConstructor = { constructor: tensor([1]) };
  refusesAll([
    [
      "sgdStep gradient [2, 2] for [4]",
      () => sgdStep(params, { "fc.bias": zeros([2, 2]) }, sgdInit(params), sgd),
      "sgdStep",
      "gradient of fc.bias",
      "[2, 2]",
      "[4]",
    ],
    [
      "sgdStep momentum buffer [4, 1] for [4]",
      () => sgdStep(params, { "fc.bias": zeros([4]) }, { "fc.bias": zeros([4, 1]) }, sgd),
      "sgdStep",
      "momentum buffer of fc.bias",
      "[4, 1]",
    ],
    ["sgdUpdate grad", () => sgdUpdate(p, zeros([2, 2]), zeros([4]), sgd), "sgdUpdate", "[2, 2]"],
    ["sgdUpdate buffer", () => sgdUpdate(p, zeros([4]), zeros([1, 4]), sgd), "sgdUpdate", "[1, 4]"],
    ["inherited name", () => sgdStep(noConstructor, {}, sgdInit(noConstructor), sgd), "no gradient", "constructor"],
  ]);
  assert.deepEqual(await params["fc.bias"].data(), before, "a refused step changed the parameter");
});

Deno.test("an empty batch (N = 0) is an error naming the op that received it", () => {
  const empty4 = tensor(new Float32Array(0), [0, 3, 4, 4]);
  const emptyLogits = tensor(new Float32Array(0), [0, 10]);
  const cases: [string, () => unknown][] = [
    ["at", () => at(empty4)],
    ["atLoss", () => atLoss(empty4, empty4)],
    ["kdLoss", () => kdLoss(emptyLogits, emptyLogits, { labels: [] })],
    ["kdLoss", () => kdLoss(emptyLogits, emptyLogits, { labels: [], alpha: 1 })],
    ["crossEntropy", () => crossEntropy(emptyLogits, [])],
    ["batchNorm (training)", () => batchNorm(empty4, bnParams(), { training: true })],
    [
      "wrn WRN-10-1 apply",
      () => noGrad(() => net.apply(net.init(0).params, net.init(0).stats, empty4, { train: true })),
    ],
  ];
  refusesAll(cases.map(([op, call]) => [op, call, `${op}: empty batch`, "[0, "]));
});

Deno.test("wrn apply: a record missing a parameter or a statistic names it and the record", () => {
  const { params, stats } = net.init(0);
  const x = tensor(new Float32Array(1 * 3 * 8 * 8), [1, 3, 8, 8]);
  const without = (r: TensorRecord, name: string) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== name));
  const missingParams = ["conv0", "group1.block0.convdim", "group2.block0.conv1", "fc.weight", "bn.bias"];
  const missingStats = ["group0.block0.bn0.running_var", "bn.running_mean"];
  refusesAll([
    ...missingParams.map((name) =>
      [name, () => noGrad(() => net.apply(without(params, name), stats, x, { train: false })), "params", name] as const
    ),
    ...missingStats.map((name) =>
      [name, () => noGrad(() => net.apply(params, without(stats, name), x, { train: true })), "stats", name] as const
    ),
    [
      "not a tensor",
      () => noGrad(() => net.apply({ ...params, conv0: [1, 2] as never }, stats, x, { train: false })),
      "conv0",
      "an array",
    ],
  ]);
});

Deno.test("loaders: an unknown option key or value is an error naming the loader, the option and the accepted keys", async () => {
  const images = { images: new Uint8Array(4 * IMAGE_BYTES), labels: Int32Array.of(0, 1, 0, 1), numClasses: 2 };
  const ok = { batchSize: 2, shuffle: true, normalization: CIFAR_NORMALIZATION, augment: CIFAR_AUGMENT, worker: false };
  const loader = new DataLoader(images, ok);
  const cases: [string, () => unknown, ...string[]][] = [
    ["key", () => new DataLoader(images, { ...ok, batch_size: 2 } as never), "DataLoader", "batch_size", "batchSize"],
    [
      "shuffle",
      () => new DataLoader(images, { ...ok, shuffle: undefined } as never),
      "DataLoader",
      "shuffle",
      "missing",
    ],
    ["worker", () => new DataLoader(images, { ...ok, worker: "yes" as never }), "DataLoader", "worker", '"auto"'],
    ["normalization", () => new DataLoader(images, { ...ok, normalization: {} as never }), "normalization", "mean"],
    ["batchSize", () => new DataLoader(images, { ...ok, batchSize: NaN }), "DataLoader", "batchSize", "NaN"],
    ["epoch", () => loader.epochSync(0, { start: 1 } as never).next(), "DataLoader epoch", "start", "startBatch"],
    [
      "createLoaders",
      () => createLoaders({ train: images, test: images } as never, { batchSize: 2, testBatch: 4 } as never),
      "createLoaders",
      "testBatch",
      "testBatchSize",
    ],
  ];
  refusesAll(cases);
  await assertRejectsWith(
    () => loadDataset("MNIST", { dataRoot: "." } as never),
    "loadDataset",
    "dataRoot",
    "dataroot",
  );
});
