// Network-in-Network against PyTorch (tools/make_nin_fixtures.py; AT_NIN_FIXTURES names another set made by that
// script), with and without batch norm: evaluation logits and block outputs; the training pass, the cross-entropy,
// every gradient and the new running statistics; parameter counts of NIN-wide and NIN-thin against torch.nn modules
// built to the same table; and the config errors.
import { nin } from "../src/nn/nin.ts";
import { checkRecord, countScalars, type TensorRecord } from "../src/nn/params.ts";
import { noGrad, valueAndGrad } from "../src/tensor/autograd.ts";
import { crossEntropy } from "../src/tensor/softmax.ts";
import { assert, assertThrowsWith } from "./_assert.ts";
import { expectClose, loadFixture, parityBackend } from "./_fixtures.ts";

const DIR = Deno.env.get("AT_NIN_FIXTURES") ?? new URL("./fixtures/nin/", import.meta.url).pathname;
const NET = 1e-3; // whole-network tolerance, as the WRN and ResNet parity tests
const backend = await parityBackend();

function load(file: string) {
  const f = loadFixture(file, DIR);
  const record = (prefix: string): TensorRecord =>
    Object.fromEntries(f.names.filter((n) => n.startsWith(prefix)).map((n) => [n.slice(prefix.length), f.tensor(n)]));
  const m = f.metadata;
  const net = nin({ width: Number(m.width), numClasses: Number(m.classes), batchNorm: m.batchnorm === "True" });
  const params = record("p.");
  const stats = record("s.");
  checkRecord(`${file} parameters`, params, net.paramShapes);
  checkRecord(`${file} statistics`, stats, net.statShapes);
  return { f, net, params, stats, m };
}

for (const file of ["nin_bn", "nin_nobn"]) {
  Deno.test(`[${backend}] ${file}: evaluation and training passes, gradients and running statistics match PyTorch`, async () => {
    const { f, net, params, stats } = load(`${file}.safetensors`);
    const x = f.tensor("x");
    const labels = f.numbers("labels");
    const ev = noGrad(() => net.apply(params, stats, x, { train: false }));
    assert.equal(ev.groups.length, 3);
    await expectClose(`${file} eval logits`, ev.logits, f.get("eval.logits"), NET);
    for (let g = 0; g < 3; g++) await expectClose(`${file} eval group${g}`, ev.groups[g], f.get(`eval.group${g}`), NET);
    const { value, grads, aux } = valueAndGrad((p: TensorRecord) => {
      const o = net.apply(p, stats, x, { train: true });
      return { value: crossEntropy(o.logits, labels), aux: o };
    })(params);
    await expectClose(`${file} train logits`, aux.logits, f.get("train.logits"), NET);
    for (let g = 0; g < 3; g++) {
      await expectClose(`${file} train group${g}`, aux.groups[g], f.get(`train.group${g}`), NET);
    }
    await expectClose(`${file} train loss`, value, f.get("train.loss"), NET);
    for (const name of Object.keys(net.paramShapes)) {
      await expectClose(`${file} grad ${name}`, grads[name], f.get(`grad.${name}`), NET);
    }
    assert.deepEqual(Object.keys(aux.stats).sort(), Object.keys(net.statShapes).sort());
    for (const name of Object.keys(net.statShapes)) {
      await expectClose(`${file} new ${name}`, aux.stats[name], f.get(`new.${name}`), NET);
    }
  });
}

Deno.test("nin: NIN-wide and NIN-thin have the parameter counts of the same table built from torch.nn modules", () => {
  const { m } = load("nin_bn.safetensors");
  for (const width of [1, 0.5]) {
    for (const batchNorm of [true, false]) {
      const net = nin({ width, numClasses: 10, batchNorm });
      const count = Object.values(net.paramShapes).reduce((n, s) => n + s.reduce((a, d) => a * d, 1), 0);
      assert.equal(count, Number(m[`params_w${width}_${batchNorm ? "bn" : "nobn"}`]), `${net.name}`);
      assert.equal(countScalars(net.init(0).params), count);
      assert.equal(Object.keys(net.statShapes).length, batchNorm ? 18 : 0);
    }
  }
  assert.equal(nin({ numClasses: 10 }).name, "NIN-1");
  assert.equal(nin({ width: 0.5, numClasses: 10, batchNorm: false }).name, "NIN-0.5-nobn");
});

Deno.test("nin: bad configs name the option and what would be right", () => {
  assertThrowsWith(() => nin({ width: 0.005, numClasses: 10 }), "nin", "width", "96·width ≥ 1");
  assertThrowsWith(() => nin({ width: 1, numClasses: 0 }), "nin", "numClasses");
  assertThrowsWith(() => nin({ numClasses: 10, batchNorm: 1 as unknown as boolean }), "nin", "batchNorm");
  assertThrowsWith(() => nin({ numClasses: 10, depth: 16 } as unknown as { numClasses: number }), "unknown option");
});
