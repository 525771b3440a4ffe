// A second, independent oracle: TensorFlow.js (tfjs-core with its CPU backend) for convolutions with their gradients,
// pooling and softmax on random shapes, strides and paddings, against the backend named by AT_BACKEND.
// The union package: tfjs-core's own bundle does not register gradients, and its per-file ES modules
// do not resolve in Deno; @tensorflow/tfjs bundles core, the CPU backend and every gradient.
import * as tf from "@tensorflow/tfjs";
import fc from "fast-check";
import { gradients } from "../src/tensor/autograd.ts";
import { conv2d } from "../src/tensor/conv.ts";
import { avgPool2d, maxPool2d } from "../src/tensor/pool.ts";
import { logSoftmax, softmax } from "../src/tensor/softmax.ts";
import { type Tensor, tensor } from "../src/tensor/tensor.ts";
import { useBackend } from "../src/tensor/device.ts";
import { relativeError } from "./_fixtures.ts";
import { RUNS, valuesOf } from "./_arbitrary.ts";

await useBackend(Deno.env.get("AT_BACKEND") ?? "cpu");
tf.env().set("PROD", true);
await tf.setBackend("cpu");

const TOL = 1e-4;

/** Our NCHW tensor as a TensorFlow.js NHWC tensor. */
function toNhwc(data: Float32Array, [n, c, h, w]: readonly number[]): tf.Tensor4D {
  return tf.transpose(tf.tensor4d(data, [n, c, h, w]), [0, 2, 3, 1]);
}

async function fromNhwc(t: tf.Tensor): Promise<Float32Array> {
  return Float32Array.from(await tf.transpose(t, [0, 3, 1, 2]).data());
}

/**
 * `ours` against `theirs`, relative to `theirs`, or, for a sum, to `scale`: the same sum over the absolute
 * values of its terms. Floats summed in another order differ by up to about ε·Σ|terms| per output, which
 * is far more than ε·|result| when the terms cancel (x = [2, 1e-16, −2] and w = 1 give 1e-16 or 0).
 */
async function expectAgree(what: string, ours: Tensor, theirs: Float32Array, scale?: Float32Array): Promise<void> {
  const out = await ours.data();
  let err = relativeError(out, theirs);
  if (scale) {
    let num = 0, den = 0;
    for (let i = 0; i < out.length; i++) {
      num += (out[i] - theirs[i]) ** 2;
      den += scale[i] ** 2;
    }
    err = den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
  }
  if (!(err <= TOL)) throw new Error(`${what}: relative error ${err.toExponential(2)} against TensorFlow.js`);
}

const convCase = fc.record({
  n: fc.integer({ min: 1, max: 2 }),
  c: fc.integer({ min: 1, max: 4 }),
  k: fc.integer({ min: 1, max: 5 }),
  r: fc.integer({ min: 1, max: 5 }),
  stride: fc.integer({ min: 1, max: 3 }),
  extra: fc.integer({ min: 0, max: 6 }),
}).chain((g) =>
  fc.integer({ min: 0, max: Math.floor(g.r / 2) }).chain((pad) => {
    const h = g.r + g.extra;
    return fc.record({
      g: fc.constant({ ...g, pad, h }),
      x: valuesOf(g.n * g.c * h * h),
      w: valuesOf(g.k * g.c * g.r * g.r),
    });
  })
);

Deno.test("conv2d forward and both gradients agree with TensorFlow.js", async () => {
  await fc.assert(
    fc.asyncProperty(convCase, async ({ g, x, w }) => {
      const xs = [g.n, g.c, g.h, g.h];
      const ws: [number, number, number, number] = [g.k, g.c, g.r, g.r];
      const label = `conv x[${xs}] w[${ws}] stride ${g.stride} pad ${g.pad}`;
      const tx = toNhwc(x, xs);
      const tw = tf.transpose(tf.tensor4d(w, ws), [2, 3, 1, 0]) as tf.Tensor4D;
      const conv = (a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, g.stride, g.pad);
      const ox = tensor(x, xs).requireGrad(), ow = tensor(w, ws).requireGrad();
      const oy = conv2d(ox, ow, { stride: g.stride, pad: g.pad });
      await expectAgree(`${label}: y`, oy, await fromNhwc(conv(tx, tw)), await fromNhwc(conv(tf.abs(tx), tf.abs(tw))));
      const dy = Float32Array.from({ length: oy.size }, (_, i) => Math.cos(i));
      const tdy = toNhwc(dy, oy.shape);
      const [gx, gw] = tf.grads(conv)([tx, tw], tdy);
      const [sx, sw] = tf.grads(conv)([tf.abs(tx), tf.abs(tw)], tf.abs(tdy));
      const filter = async (t: tf.Tensor) => Float32Array.from(await tf.transpose(t, [3, 2, 0, 1]).data());
      const [dx, dw] = gradients(oy, [ox, ow], { seed: tensor(dy, oy.shape) });
      await expectAgree(`${label}: dx`, dx!, await fromNhwc(gx), await fromNhwc(sx));
      await expectAgree(`${label}: dw`, dw!, await filter(gw), await filter(sw));
    }),
    { numRuns: RUNS },
  );
});

const poolCase = fc.record({
  n: fc.integer({ min: 1, max: 2 }),
  c: fc.integer({ min: 1, max: 3 }),
  kernel: fc.integer({ min: 1, max: 4 }),
  stride: fc.integer({ min: 1, max: 3 }),
  extra: fc.integer({ min: 0, max: 5 }),
}).chain((g) =>
  fc.integer({ min: 0, max: Math.floor(g.kernel / 2) }).chain((pad) =>
    fc.record({
      g: fc.constant({ ...g, pad, h: g.kernel + g.extra }),
      x: valuesOf(g.n * g.c * (g.kernel + g.extra) ** 2),
    })
  )
);

Deno.test("max pooling (with padding) and average pooling (without) agree with TensorFlow.js, with gradients", async () => {
  await fc.assert(
    fc.asyncProperty(poolCase, async ({ g, x }) => {
      const xs = [g.n, g.c, g.h, g.h];
      const tx = toNhwc(x, xs);
      const label = `pool x[${xs}] kernel ${g.kernel} stride ${g.stride} pad ${g.pad}`;
      const ox = tensor(x, xs).requireGrad();
      const om = maxPool2d(ox, { kernel: g.kernel, stride: g.stride, pad: g.pad });
      await expectAgree(`${label}: max`, om, await fromNhwc(tf.maxPool(tx, g.kernel, g.stride, g.pad)));
      const dy = Float32Array.from({ length: om.size }, (_, i) => 1 + Math.sin(i));
      const tdm = tf.grad((a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, g.kernel, g.stride, g.pad))(
        tx,
        toNhwc(dy, om.shape),
      );
      await expectAgree(
        `${label}: max gradient`,
        gradients(om, [ox], { seed: tensor(dy, om.shape) })[0]!,
        await fromNhwc(tdm),
      );
      // TensorFlow leaves padding out of the average's divisor, PyTorch (and we) count it: compare unpadded.
      const oa = avgPool2d(ox, { kernel: g.kernel, stride: g.stride });
      const avg = (a: tf.Tensor) => tf.avgPool(a as tf.Tensor4D, g.kernel, g.stride, 0);
      await expectAgree(`${label}: avg`, oa, await fromNhwc(avg(tx)), await fromNhwc(avg(tf.abs(tx))));
      const da = Float32Array.from({ length: oa.size }, (_, i) => Math.cos(i));
      const tda = toNhwc(da, oa.shape);
      await expectAgree(
        `${label}: avg gradient`,
        gradients(oa, [ox], { seed: tensor(da, oa.shape) })[0]!,
        await fromNhwc(tf.grad(avg)(tx, tda)),
        await fromNhwc(tf.grad(avg)(tx, tf.abs(tda))),
      );
    }),
    { numRuns: RUNS },
  );
});

Deno.test("softmax and log-softmax agree with TensorFlow.js", async () => {
  const rows = fc.record({ r: fc.integer({ min: 1, max: 6 }), c: fc.integer({ min: 1, max: 20 }) });
  await fc.assert(
    fc.asyncProperty(rows.chain((s) => valuesOf(s.r * s.c, -30, 30).map((x) => ({ ...s, x }))), async ({ r, c, x }) => {
      const t = tf.tensor2d(x, [r, c]);
      await expectAgree(
        `logSoftmax [${r}, ${c}]`,
        logSoftmax(tensor(x, [r, c])),
        Float32Array.from(await tf.logSoftmax(t).data()),
      );
      await expectAgree(
        `softmax [${r}, ${c}]`,
        softmax(tensor(x, [r, c])),
        Float32Array.from(await tf.softmax(t).data()),
      );
    }),
    { numRuns: RUNS },
  );
});
