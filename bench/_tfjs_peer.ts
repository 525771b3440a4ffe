/**
 * The peer in the benches: the same three workloads as `_at_step.ts` written in TensorFlow.js and run on
 * `@tensorflow/tfjs-backend-webgpu` (Deno's WebGPU, the same adapter as our webgpu backend). WRN-16-1
 * student, WRN-16-2 teacher, pre-activation blocks with 1×1 shortcuts where the width changes, padding 1
 * as in PyTorch, channels last (TF.js's own layout). The AT step: teacher forward in evaluation mode,
 * student forward with batch statistics, cross-entropy + 1e3 · Σ AT loss over the three groups (at(x) =
 * the row-normalised channel mean of x², loss the mean squared difference), gradients by
 * `tf.variableGrads`, SGD with PyTorch's momentum and weight decay (lr 0.1, 0.9, 5e-4). Running
 * statistics are not updated (per-channel arithmetic, negligible next to the convolutions).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { Rng } from "../src/rng.ts";

type Params = Record<string, tf.Variable>;

/** The WRN-16-k parameters (He-normal convolutions, BN scale in [0, 1), zero shifts, running 0 / 1). */
function wrnParams(rng: Rng, width: number, classes: number, trainable: boolean): Params {
  const p: Params = {};
  const normal = (shape: number[], std: number) =>
    tf.variable(
      tf.tensor(Float32Array.from({ length: shape.reduce((a, d) => a * d, 1) }, () => rng.normal() * std), shape),
      trainable,
    );
  const conv = (name: string, k: number, cin: number, cout: number) =>
    p[name] = normal([k, k, cin, cout], Math.sqrt(2 / (k * k * cout)));
  const bn = (name: string, c: number) => {
    p[`${name}.weight`] = tf.variable(tf.tensor(Float32Array.from({ length: c }, () => rng.uniform()), [c]), trainable);
    p[`${name}.bias`] = tf.variable(tf.zeros([c]), trainable);
    p[`${name}.running_mean`] = tf.variable(tf.zeros([c]), false);
    p[`${name}.running_var`] = tf.variable(tf.ones([c]), false);
  };
  const widths = [16 * width, 32 * width, 64 * width];
  conv("conv0", 3, 3, 16);
  let cin = 16;
  widths.forEach((w, g) => {
    for (let b = 0; b < 2; b++) {
      const base = `group${g}.block${b}`;
      bn(`${base}.bn0`, cin);
      conv(`${base}.conv0`, 3, cin, w);
      bn(`${base}.bn1`, w);
      conv(`${base}.conv1`, 3, w, w);
      if (cin !== w) conv(`${base}.convdim`, 1, cin, w);
      cin = w;
    }
  });
  bn("bn", cin);
  p["fc.weight"] = normal([cin, classes], Math.sqrt(1 / cin));
  p["fc.bias"] = tf.variable(tf.zeros([classes]), trainable);
  return p;
}

/** Logits and the three group outputs of WRN-16 on `x [n, 32, 32, 3]`. */
function wrnForward(p: Params, x: tf.Tensor4D, train: boolean): { logits: tf.Tensor2D; groups: tf.Tensor4D[] } {
  const bnRelu = (v: tf.Tensor4D, name: string): tf.Tensor4D => {
    const gamma = p[`${name}.weight`], beta = p[`${name}.bias`];
    const { mean, variance } = train
      ? tf.moments(v, [0, 1, 2])
      : { mean: p[`${name}.running_mean`], variance: p[`${name}.running_var`] };
    return tf.relu(tf.batchNorm(v, mean, variance, beta, gamma, 1e-5)) as tf.Tensor4D;
  };
  const conv = (v: tf.Tensor4D, name: string, stride: number, pad: number) =>
    tf.conv2d(v, p[name] as tf.Tensor4D, stride, pad === 0 ? "valid" : [[0, 0], [pad, pad], [pad, pad], [0, 0]]);
  let v = conv(x, "conv0", 1, 1);
  const groups: tf.Tensor4D[] = [];
  for (let g = 0; g < 3; g++) {
    for (let b = 0; b < 2; b++) {
      const base = `group${g}.block${b}`;
      const stride = g > 0 && b === 0 ? 2 : 1;
      const o1 = bnRelu(v, `${base}.bn0`);
      const y = conv(o1, `${base}.conv0`, stride, 1);
      const z = conv(bnRelu(y, `${base}.bn1`), `${base}.conv1`, 1, 1);
      v = tf.add(z, p[`${base}.convdim`] ? conv(o1, `${base}.convdim`, stride, 0) : v);
    }
    groups.push(v);
  }
  const pooled = tf.mean(bnRelu(v, "bn"), [1, 2]) as tf.Tensor2D;
  return { logits: tf.add(tf.matMul(pooled, p["fc.weight"] as tf.Tensor2D), p["fc.bias"]), groups };
}

/** Row-normalised channel mean of x², flattened per sample. */
function attention(x: tf.Tensor4D): tf.Tensor2D {
  const a = tf.mean(tf.square(x), 3).reshape([x.shape[0], -1]) as tf.Tensor2D;
  return tf.div(a, tf.maximum(tf.norm(a, 2, 1, true), 1e-12));
}

/** The three workloads on TF.js's webgpu backend; each call runs one step and resolves to its loss. */
export async function makeTfjsSteps(
  batch: number,
): Promise<
  { atStep: () => Promise<number>; studentStep: () => Promise<number>; teacherForward: () => Promise<number> }
> {
  if (!(await tf.setBackend("webgpu"))) throw new Error("TF.js could not start its webgpu backend");
  await tf.ready();
  const rng = new Rng(1);
  const classes = 10;
  const student = wrnParams(rng, 1, classes, true);
  const teacher = wrnParams(rng, 2, classes, false);
  const x = tf.tensor4d(Float32Array.from({ length: batch * 32 * 32 * 3 }, () => rng.normal()), [batch, 32, 32, 3]);
  const labels = tf.oneHot(tf.tensor1d(Int32Array.from({ length: batch }, () => rng.int(classes)), "int32"), classes);
  const trainable = Object.entries(student).filter(([, v]) => v.trainable);
  const momentum = new Map(trainable.map(([k, v]) => [k, tf.variable(tf.zerosLike(v), false)]));
  const lr = 0.1, mu = 0.9, wd = 5e-4;

  const train = async (withTeacher: boolean) => {
    const lossValue = tf.tidy(() => {
      const t = withTeacher ? wrnForward(teacher, x, false) : undefined;
      const { value, grads } = tf.variableGrads(() => {
        const s = wrnForward(student, x, true);
        let loss = tf.losses.softmaxCrossEntropy(labels, s.logits) as tf.Scalar;
        if (t) {
          for (let i = 0; i < 3; i++) {
            const d = tf.sub(attention(s.groups[i]), attention(t.groups[i]));
            loss = tf.add(loss, tf.mul(tf.mean(tf.square(d)), 1e3));
          }
        }
        return loss;
      }, trainable.map(([, v]) => v));
      for (const [k, v] of trainable) {
        const buf = momentum.get(k)!;
        const d = tf.add(grads[v.name], tf.mul(v, wd));
        buf.assign(tf.add(tf.mul(buf, mu), d));
        v.assign(tf.sub(v, tf.mul(buf, lr)));
      }
      return value;
    });
    const [loss] = await lossValue.data();
    lossValue.dispose();
    return loss;
  };
  const teacherForward = async () => {
    const logits = tf.tidy(() => wrnForward(teacher, x, false).logits);
    const [first] = await logits.data();
    logits.dispose();
    return first;
  };
  return { atStep: () => train(true), studentStep: () => train(false), teacherForward };
}

/** What the peer ran on: TF.js's version and backend. */
export function tfjsDescription(): string {
  return `TensorFlow.js ${tf.version.tfjs} on its ${tf.getBackend()} backend (the same WebGPU adapter)`;
}
