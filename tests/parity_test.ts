// PyTorch parity: every quantity of the fixtures (computed by real PyTorch from the reference code's
// formulas) recomputed on the backend named by AT_BACKEND (default cpu). Every size, network, class count,
// β, T and α comes from the fixture files, so any fixture set made by tools/make_fixtures.py passes.
import { at, atLoss } from "../src/at.ts";
import { kdLoss } from "../src/kd.ts";
import { wrn } from "../src/nn/wrn.ts";
import { checkRecord, splitParams, type TensorRecord } from "../src/nn/params.ts";
import { sgdInit, sgdStep } from "../src/nn/sgd.ts";
import { gradients, noGrad, valueAndGrad } from "../src/tensor/autograd.ts";
import { conv2d } from "../src/tensor/conv.ts";
import { batchNorm } from "../src/tensor/norm.ts";
import { crossEntropy } from "../src/tensor/softmax.ts";
import type { Tensor } from "../src/tensor/tensor.ts";
import { errorReport, expectClose, type Fixture, loadFixture, parityBackend } from "./_fixtures.ts";

const backend = await parityBackend();
const OP = 1e-4; // single operations
const NET = 1e-3; // whole-network quantities

/** The case prefixes `c0.`, `c1.` … present in a fixture file. */
function cases(f: Fixture): string[] {
  return [...new Set(f.names.filter((n) => /^c\d+\./.test(n)).map((n) => n.split(".")[0]))].sort();
}

Deno.test(`[${backend}] attention maps, AT loss and its gradient match PyTorch`, async () => {
  const f = loadFixture("at.safetensors");
  const x = f.tensor("x").requireGrad();
  const y = f.tensor("y");
  await expectClose("at(x)", at(x), f.get("at_x"), OP);
  await expectClose("at(y)", at(y), f.get("at_y"), OP);
  const loss = atLoss(x, y);
  await expectClose("atLoss", loss, f.get("loss"), OP);
  const [dx] = gradients(loss, [x]);
  await expectClose("d atLoss / dx", dx!, f.get("grad_x"), OP);
});

Deno.test(`[${backend}] KD loss and its gradient match PyTorch in every case`, async () => {
  const f = loadFixture("kd.safetensors");
  const found = cases(f);
  if (found.length === 0) throw new Error("kd.safetensors holds no cases");
  for (const c of found) {
    const s = f.tensor(`${c}.student`).requireGrad();
    const t = f.tensor(`${c}.teacher`);
    const [temperature] = f.numbers(`${c}.T`);
    const [alpha] = f.numbers(`${c}.alpha`);
    const loss = kdLoss(s, t, { labels: f.numbers(`${c}.labels`), temperature, alpha });
    await expectClose(`kd ${c} (T ${temperature}, α ${alpha})`, loss, f.get(`${c}.loss`), OP);
    const [ds] = gradients(loss, [s]);
    await expectClose(`kd ${c} gradient`, ds!, f.get(`${c}.grad_student`), OP);
  }
});

Deno.test(`[${backend}] conv2d forward and both gradients match PyTorch in every case`, async () => {
  const f = loadFixture("conv2d.safetensors");
  const found = cases(f);
  if (found.length === 0) throw new Error("conv2d.safetensors holds no cases");
  for (const c of found) {
    const x = f.tensor(`${c}.x`).requireGrad();
    const w = f.tensor(`${c}.w`).requireGrad();
    const [stride] = f.numbers(`${c}.stride`);
    const [pad] = f.numbers(`${c}.pad`);
    const label = `conv ${c} x[${x.shape}] w[${w.shape}] stride ${stride} pad ${pad}`;
    const y = conv2d(x, w, { stride, pad });
    await expectClose(`${label}: y`, y, f.get(`${c}.y`), OP);
    const [dx, dw] = gradients(y, [x, w], { seed: f.tensor(`${c}.dy`) });
    await expectClose(`${label}: dx`, dx!, f.get(`${c}.dx`), OP);
    await expectClose(`${label}: dw`, dw!, f.get(`${c}.dw`), OP);
  }
});

Deno.test(`[${backend}] batch norm (training forward, gradients, running statistics, evaluation) matches PyTorch`, async () => {
  const f = loadFixture("batchnorm.safetensors");
  const momentum = Number(f.metadata.momentum ?? 0.1);
  const eps = Number(f.metadata.eps ?? 1e-5);
  const x = f.tensor("x").requireGrad();
  const weight = f.tensor("gamma").requireGrad();
  const bias = f.tensor("beta").requireGrad();
  const p = { weight, bias, runningMean: f.tensor("running_mean_in"), runningVar: f.tensor("running_var_in") };
  const r = batchNorm(x, p, { training: true, momentum, eps });
  await expectClose("bn y", r.y, f.get("y"), OP);
  await expectClose("bn running_mean", r.runningMean, f.get("running_mean_out"), OP);
  await expectClose("bn running_var", r.runningVar, f.get("running_var_out"), OP);
  const [dx, dgamma, dbeta] = gradients(r.y, [x, weight, bias], { seed: f.tensor("dy") });
  await expectClose("bn dx", dx!, f.get("dx"), OP);
  await expectClose("bn dgamma", dgamma!, f.get("dgamma"), OP);
  await expectClose("bn dbeta", dbeta!, f.get("dbeta"), OP);
  const evalAfter = batchNorm(x, { ...p, runningMean: r.runningMean, runningVar: r.runningVar }, {
    training: false,
    eps,
  });
  await expectClose("bn eval after", evalAfter.y, f.get("y_eval_after"), OP);
});

/** `WRN-16-2` -> depth 16, width 2. */
function parseWrn(name: string | undefined): { depth: number; width: number } {
  const m = /^WRN-(\d+)-(\d+(?:\.\d+)?)$/.exec(name ?? "");
  if (!m) throw new Error(`wrn_at_step.safetensors: metadata names network ${JSON.stringify(name)}, expected WRN-d-k`);
  return { depth: Number(m[1]), width: Number(m[2]) };
}

/** `lr=0.1 momentum=0.9 weight_decay=5e-4 (first step)` -> numbers. */
function parseSgd(text: string | undefined): { lr: number; momentum: number; weightDecay: number } {
  const get = (key: string) => {
    const m = new RegExp(`${key}=([-+0-9.eE]+)`).exec(text ?? "");
    if (!m) throw new Error(`wrn_at_step.safetensors: metadata sgd ${JSON.stringify(text)} lacks ${key}=`);
    return Number(m[1]);
  };
  return { lr: get("lr"), momentum: get("momentum"), weightDecay: get("weight_decay") };
}

function record(f: Fixture, prefix: string): TensorRecord {
  return Object.fromEntries(
    f.names.filter((n) => n.startsWith(prefix)).map((n) => [n.slice(prefix.length), f.tensor(n)]),
  );
}

Deno.test(`[${backend}] a whole WRN attention-transfer step (forward, losses, gradients, statistics, SGD) matches PyTorch`, async () => {
  const f = loadFixture("wrn_at_step.safetensors");
  const m = f.metadata;
  const beta = Number(m.beta), temperature = Number(m.temperature), alpha = Number(m.alpha);
  const sgd = parseSgd(m.sgd);
  const labels = f.numbers("labels");
  const x = f.tensor("input");
  if (Number(m.batch) !== x.shape[0] || labels.length !== x.shape[0]) {
    throw new Error(`metadata batch ${m.batch} disagrees with input [${x.shape}] or ${labels.length} labels`);
  }
  const student = splitParams(record(f, "student.param."));
  const teacher = splitParams(record(f, "teacher.param."));
  const numClasses = student.params["fc.weight"].shape[0];
  const sNet = wrn({ ...parseWrn(m.student), numClasses });
  const tNet = wrn({ ...parseWrn(m.teacher), numClasses: teacher.params["fc.weight"].shape[0] });
  checkRecord("student.param", student.params, sNet.paramShapes);
  checkRecord("student.param (statistics)", student.stats, sNet.statShapes);
  checkRecord("teacher.param", teacher.params, tNet.paramShapes);
  checkRecord("teacher.param (statistics)", teacher.stats, tNet.statShapes);

  const t = noGrad(() => tNet.apply(teacher.params, teacher.stats, x, { train: false }));
  const step = valueAndGrad((p: TensorRecord) => {
    const s = sNet.apply(p, student.stats, x, { train: true });
    const atLosses = s.groups.map((g, i) => atLoss(g, t.groups[i]));
    const kd = kdLoss(s.logits, t.logits, { labels, temperature, alpha });
    const value = atLosses.reduce((acc: Tensor, l) => acc.add(l.mul(beta)), kd);
    return { value, aux: { s, atLosses } };
  });
  const { value, grads, aux } = step(student.params);

  await expectClose("teacher logits", t.logits, f.get("teacher.logits"), NET);
  await expectClose("student logits", aux.s.logits, f.get("student.logits"), NET);
  for (let i = 0; i < aux.s.groups.length; i++) {
    await expectClose(`student group${i}`, aux.s.groups[i], f.get(`student.group${i}`), NET);
    await expectClose(`teacher group${i}`, t.groups[i], f.get(`teacher.group${i}`), NET);
  }
  const atRef = f.get("at.losses");
  for (let i = 0; i < aux.atLosses.length; i++) {
    await expectClose(`at loss ${i}`, aux.atLosses[i], { ...atRef, shape: [1], data: atRef.data.slice(i, i + 1) }, NET);
  }
  await expectClose("student cross-entropy", crossEntropy(aux.s.logits, labels), f.get("student.ce"), NET);
  await expectClose("total loss", value, f.get("loss"), NET);

  const gradNames = f.names.filter((n) => n.startsWith("student.grad.")).map((n) => n.slice("student.grad.".length));
  checkRecord("student.grad", Object.fromEntries(gradNames.map((n) => [n, grads[n]])), sNet.paramShapes);
  for (const n of gradNames) await expectClose(`grad ${n}`, grads[n], f.get(`student.grad.${n}`), NET);
  for (const n of Object.keys(sNet.statShapes)) {
    await expectClose(`running stat ${n}`, aux.s.stats[n], f.get(`student.after.${n}`), NET);
  }

  const state = sgdInit(student.params);
  sgdStep(student.params, grads, state, sgd);
  for (const n of Object.keys(sNet.paramShapes)) {
    await expectClose(`after SGD ${n}`, student.params[n], f.get(`student.sgd1.${n}`), NET);
  }
  console.log(`[${backend}] measured relative errors against PyTorch:\n${errorReport()}`);
});

/** Runs this file again in a child `deno test` with `env`; returns its output, or throws it on failure. */
async function runSelf(env: Record<string, string>, what: string): Promise<string> {
  const p = await new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--no-check", new URL(import.meta.url).pathname],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(p.stdout) + new TextDecoder().decode(p.stderr);
  if (p.code !== 0) throw new Error(`parity ${what} failed:\n${out}`);
  return out;
}

Deno.test({
  name: `[${backend}] the parity suite passes unchanged on a fixture set with other sizes (tests/fixtures/variant)`,
  // Runs only from the default fixture set, so the child does not recurse.
  ignore: Deno.env.get("AT_FIXTURES") !== undefined,
  async fn() {
    const variant = new URL("./fixtures/variant/", import.meta.url).pathname;
    await runSelf({ AT_FIXTURES: variant, AT_BACKEND: backend }, `on ${variant}`);
  },
});

/** The other backends this machine can start, for the default run to check them too. */
async function otherBackends(): Promise<string[]> {
  const names: string[] = [];
  if (await navigator.gpu?.requestAdapter()) names.push("webgpu");
  const cudnn = await import("../src/backends/cudnn_ffi/mod.ts");
  if ((await cudnn.availability()).available) names.push("cudnn");
  const onednn = await import("../src/backends/onednn_ffi/mod.ts");
  if ((await onednn.availability()).available) names.push("onednn");
  return names.filter((n) => n !== backend);
}

const others = Deno.env.get("AT_BACKEND") || Deno.env.get("AT_FIXTURES") ? [] : await otherBackends();
for (const other of others) {
  Deno.test(`[${other}] the whole parity suite passes on the ${other} backend (AT_BACKEND=${other})`, async () => {
    const out = await runSelf({ AT_BACKEND: other }, `with AT_BACKEND=${other}`);
    const report = out.slice(out.indexOf("measured relative errors"));
    console.log(`[${other}] ${report.slice(0, report.indexOf("-----")).trim()}`);
  });
}
