/**
 * The workloads the benches time: the WRN attention-transfer step, the student-only step and the teacher
 * forward, at a given batch size on the current backend; and the ImageNet recipe's step, ResNet-18 ← ResNet-34
 * with attention transfer over the four groups at 224×224.
 *
 * @module
 */
import { atLoss } from "../src/at.ts";
import { kdLoss } from "../src/kd.ts";
import type { TensorRecord } from "../src/nn/params.ts";
import { sgdInit, sgdStep } from "../src/nn/sgd.ts";
import { resnet, RESNET_BLOCKS } from "../src/nn/resnet.ts";
import { wrn } from "../src/nn/wrn.ts";
import { trainStep } from "../src/train/step.ts";
import { noGrad, valueAndGrad } from "../src/tensor/autograd.ts";
import { tidy } from "../src/tensor/memory.ts";
import { crossEntropy } from "../src/tensor/softmax.ts";
import { type Tensor, tensor } from "../src/tensor/tensor.ts";
import { Rng } from "../src/rng.ts";

/** Options of the benchmarked workloads. */
export interface Workload {
  readonly batch: number;
  readonly studentDepth?: number;
  readonly studentWidth?: number;
  readonly teacherDepth?: number;
  readonly teacherWidth?: number;
}

/** Builds the three steps over random data; each call runs one step and returns a promise of its loss. */
export function makeSteps(
  w: Workload,
): { atStep: () => Promise<number>; studentStep: () => Promise<number>; teacherForward: () => Promise<number> } {
  const rng = new Rng(1);
  const numClasses = 10;
  const student = wrn({ depth: w.studentDepth ?? 16, width: w.studentWidth ?? 1, numClasses });
  const teacher = wrn({ depth: w.teacherDepth ?? 16, width: w.teacherWidth ?? 2, numClasses });
  const s = student.init(1);
  const t = teacher.init(2);
  let stats = s.stats;
  const state = sgdInit(s.params);
  const xs = new Float32Array(w.batch * 3 * 32 * 32).map(() => rng.normal());
  const x = tensor(xs, [w.batch, 3, 32, 32]);
  const labels = Int32Array.from({ length: w.batch }, () => rng.int(numClasses));
  const opt = { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 };

  const train = (withTeacher: boolean) => {
    const loss = tidy(() => {
      const tOut = withTeacher ? noGrad(() => teacher.apply(t.params, t.stats, x, { train: false })) : undefined;
      const { value, grads, aux } = valueAndGrad((p: TensorRecord) => {
        const o = student.apply(p, stats, x, { train: true });
        let l: Tensor = tOut ? kdLoss(o.logits, tOut.logits, { labels, alpha: 0 }) : crossEntropy(o.logits, labels);
        if (tOut) { for (let i = 0; i < 3; i++) l = l.add(atLoss(o.groups[i], tOut.groups[i]).mul(1e3)); }
        return { value: l, aux: o.stats };
      })(s.params);
      sgdStep(s.params, grads, state, opt);
      for (const v of Object.values(stats)) v.dispose();
      stats = aux;
      for (const v of Object.values(stats)) v.keep();
      return value;
    });
    return loss.item().finally(() => loss.dispose());
  };
  const teacherForward = () => {
    const logits = tidy(() => noGrad(() => teacher.apply(t.params, t.stats, x, { train: false }).logits));
    return logits.data().then((d) => d[0]).finally(() => logits.dispose());
  };
  return { atStep: () => train(true), studentStep: () => train(false), teacherForward };
}

/** Multiply-adds per 32×32 image of a WRN's convolutions and linear layer, and of its stem convolution alone. */
function wrnMacs(depth: number, width: number, numClasses: number): { total: number; stem: number } {
  const n = (depth - 4) / 6;
  const conv = (cin: number, cout: number, k: number, side: number) => cin * cout * k * k * side * side;
  const stem = conv(3, 16, 3, 32);
  let total = stem, cin = 16, side = 32;
  [16, 32, 64].map((v) => Math.floor(v * width)).forEach((cout, g) => {
    for (let b = 0; b < n; b++) {
      const stride = b === 0 && g > 0 ? 2 : 1;
      const out = side / stride;
      const inC = b === 0 ? cin : cout;
      total += conv(inC, cout, 3, out) + conv(cout, cout, 3, out);
      if (inC !== cout) total += conv(inC, cout, 1, out);
      side = out;
    }
    cin = cout;
  });
  return { total: total + cin * numClasses, stem };
}

/**
 * Floating-point operations (two per multiply-add) of the convolutions and linear layers in each workload at
 * the workload's batch: the teacher forward; the student step's forward, filter gradients and input gradients
 * (none for the stem, whose input needs no gradient); the AT step both. Elementwise work is not counted.
 */
export function workloadFlops(w: Workload): { atStep: number; studentStep: number; teacherForward: number } {
  const s = wrnMacs(w.studentDepth ?? 16, w.studentWidth ?? 1, 10);
  const t = wrnMacs(w.teacherDepth ?? 16, w.teacherWidth ?? 2, 10);
  const teacherForward = 2 * t.total * w.batch;
  const studentStep = 2 * (3 * s.total - s.stem) * w.batch;
  return { atStep: teacherForward + studentStep, studentStep, teacherForward };
}

/** Options of the ImageNet workload. */
export interface ResnetWorkload {
  readonly batch: number;
  /** Height and width of the images; default 224. */
  readonly imageSize?: number;
}

/**
 * The ImageNet recipe's AT step (`cli/imagenet.ts --beta 1e3`) over random data: the teacher, ResNet-34 in the
 * torchvision layout (random weights: the time does not depend on them), in evaluation mode without gradients;
 * the student, ResNet-18 in the reference layout, in training mode; cross-entropy (α 0) + 1e3 · Σ atLoss over the
 * four groups, backward, SGD (lr 0.1, momentum 0.9, weight decay 1e-4), through the recipe's own `trainStep`.
 * Each call runs one step and returns a promise of its loss.
 */
export function makeResnetAtStep(w: ResnetWorkload): () => Promise<number> {
  const rng = new Rng(3);
  const numClasses = 1000;
  const size = w.imageSize ?? 224;
  const student = resnet({ depth: 18, numClasses });
  const teacherNet = resnet({ depth: 34, numClasses, layout: "torchvision" });
  const t = teacherNet.init(2);
  const s = student.init(1);
  const { params } = s;
  let stats = s.stats;
  const momentum = sgdInit(params);
  const teacher = { id: "bench", dir: "", net: teacherNet, params: t.params, stats: t.stats };
  const objective = { student, teacher, alpha: 0, beta: 1e3, temperature: 4 };
  const x = tensor(new Float32Array(w.batch * 3 * size * size).map(() => rng.normal()), [w.batch, 3, size, size]);
  const labels = Int32Array.from({ length: w.batch }, () => rng.int(numClasses));
  return () => {
    const out = trainStep(objective, params, stats, momentum, x, labels, { lr: 0.1, weightDecay: 1e-4 });
    for (const v of Object.values(stats)) v.dispose();
    stats = Object.fromEntries(Object.entries(out.stats).map(([k, v]) => [k, v.keep()]));
    for (const o of [out.logits, ...out.atLosses]) o.dispose();
    return out.loss.item().finally(() => out.loss.dispose());
  };
}

/** Multiply-adds per image of a ResNet-18/34's convolutions and linear layer at `size`², and of its stem alone. */
function resnetMacs(depth: 18 | 34, size: number, numClasses: number): { total: number; stem: number } {
  const conv = (cin: number, cout: number, k: number, side: number) => cin * cout * k * k * side * side;
  const out = (side: number, k: number, stride: number, pad: number) => Math.floor((side + 2 * pad - k) / stride) + 1;
  let side = out(size, 7, 2, 3);
  const stem = conv(3, 64, 7, side);
  side = out(side, 3, 2, 1);
  let total = stem, cin = 64;
  RESNET_BLOCKS[depth].forEach((count, g) => {
    const cout = 64 << g;
    for (let b = 0; b < count; b++) {
      const stride = b === 0 && g > 0 ? 2 : 1;
      const o = out(side, 3, stride, 1);
      const inC = b === 0 ? cin : cout;
      total += conv(inC, cout, 3, o) + conv(cout, cout, 3, o);
      if (inC !== cout || stride !== 1) total += conv(inC, cout, 1, o);
      side = o;
    }
    cin = cout;
  });
  return { total: total + cin * numClasses, stem };
}

/**
 * Floating-point operations (two per multiply-add) of the convolutions and linear layers in one ResNet AT step
 * at the workload's batch: the teacher forward, and the student's forward, filter gradients and input gradients
 * (none for the stem). About 3.7 GMAC per image for ResNet-34, 1.8 for ResNet-18.
 */
export function resnetAtStepFlops(w: ResnetWorkload): number {
  const size = w.imageSize ?? 224;
  const s = resnetMacs(18, size, 1000);
  const t = resnetMacs(34, size, 1000);
  return 2 * (t.total + 3 * s.total - s.stem) * w.batch;
}
