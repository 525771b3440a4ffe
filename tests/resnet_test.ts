// ResNet-18/34 in its three layouts against PyTorch (tools/make_resnet_fixtures.py; AT_RESNET_FIXTURES names another
// set made by that script): evaluation logits and group outputs; for the reference student, the training pass, the
// cross-entropy, every gradient and the new running statistics. The names come from the layouts, so a name or
// shape that differs from the Python side fails the record check first.
import { checkRecord, type TensorRecord } from "../src/nn/params.ts";
import { detectResnetLayout, resnet, type ResnetLayout } from "../src/nn/resnet.ts";
import { noGrad, valueAndGrad } from "../src/tensor/autograd.ts";
import { crossEntropy } from "../src/tensor/softmax.ts";
import { assert } from "./_assert.ts";
import { errorReport, expectClose, loadFixture, parityBackend } from "./_fixtures.ts";

const DIR = Deno.env.get("AT_RESNET_FIXTURES") ?? new URL("./fixtures/resnet/", import.meta.url).pathname;
const NET = 1e-3; // whole-network tolerance, as the WRN parity test
const backend = await parityBackend();

function load(file: string) {
  const f = loadFixture(file, DIR);
  const record = (prefix: string) =>
    Object.fromEntries(f.names.filter((n) => n.startsWith(prefix)).map((n) => [n.slice(prefix.length), f.tensor(n)]));
  const m = f.metadata;
  const net = resnet({
    depth: Number(m.depth) as 18 | 34,
    width: Number(m.width),
    numClasses: Number(m.classes),
    layout: m.layout as ResnetLayout,
  });
  const params: TensorRecord = record("p.");
  const stats: TensorRecord = record("s.");
  checkRecord(`${file} parameters`, params, net.paramShapes);
  checkRecord(`${file} statistics`, stats, net.statShapes);
  return { f, net, params, stats, m };
}

for (const file of ["resnet18_reference", "resnet34_torchvision", "resnet18_folded"]) {
  Deno.test(`[${backend}] ${file}: names, layout detection and the evaluation pass match PyTorch`, async () => {
    const { f, net, params, stats, m } = load(`${file}.safetensors`);
    const detected = detectResnetLayout([...Object.keys(params), ...Object.keys(stats)]);
    assert.equal(detected?.layout, m.layout);
    assert.equal(detected?.depth, Number(m.depth));
    const out = noGrad(() => net.apply(params, stats, f.tensor("x"), { train: false }));
    assert.equal(out.groups.length, 4);
    await expectClose(`${file} eval logits`, out.logits, f.get("eval.logits"), NET);
    for (let g = 0; g < 4; g++) {
      await expectClose(`${file} eval group${g}`, out.groups[g], f.get(`eval.group${g}`), NET);
    }
  });
}

Deno.test(`[${backend}] resnet18 reference student: training pass, cross-entropy, gradients and running statistics match PyTorch`, async () => {
  const { f, net, params, stats } = load("resnet18_reference.safetensors");
  const labels = f.numbers("labels");
  const { value, grads, aux } = valueAndGrad((p: TensorRecord) => {
    const o = net.apply(p, stats, f.tensor("x"), { train: true });
    return { value: crossEntropy(o.logits, labels), aux: o };
  })(params);
  await expectClose("train logits", aux.logits, f.get("train.logits"), NET);
  for (let g = 0; g < 4; g++) await expectClose(`train group${g}`, aux.groups[g], f.get(`train.group${g}`), NET);
  await expectClose("train loss", value, f.get("train.loss"), NET);
  for (const name of Object.keys(net.paramShapes)) {
    await expectClose(`grad ${name}`, grads[name], f.get(`grad.${name}`), NET);
  }
  for (const name of Object.keys(net.statShapes)) {
    await expectClose(`new ${name}`, aux.stats[name], f.get(`new.${name}`), NET);
  }
  console.log(errorReport());
});

Deno.test("resnet: the architecture as the paper's table: parameter counts of ResNet-18/34 and bad configs", () => {
  const count = (depth: 18 | 34) =>
    Object.values(resnet({ depth }).paramShapes).reduce((n, s) => n + s.reduce((a, d) => a * d, 1), 0);
  // torchvision's resnet18 / resnet34 have 11,689,512 / 21,797,672 parameters; the reference student has no batch
  // norm after its 1×1 shortcut (3 × 2 × channels fewer: 2·(128 + 256 + 512) = 1,792).
  assert.equal(count(18), 11_689_512 - 1_792);
  assert.equal(count(34), 21_797_672 - 1_792);
  const tv = (depth: 18 | 34) =>
    Object.values(resnet({ depth, layout: "torchvision" }).paramShapes).reduce(
      (n, s) => n + s.reduce((a, d) => a * d, 1),
      0,
    );
  assert.equal(tv(18), 11_689_512);
  assert.equal(tv(34), 21_797_672);
  assert.throws(() => resnet({ depth: 50 as never }), /resnet: option depth must be one of 18, 34, got 50/);
  assert.throws(() => resnet({ depth: 18, width: Infinity }), /resnet: option width/);
  assert.throws(() => resnet({ depth: 18, layout: "caffe" as never }), /option layout/);
});
