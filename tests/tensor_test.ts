// The tensor front end: broadcasting, reductions, shape errors that name the op and both shapes, memory
// scopes, and backend selection.
import { add, mul } from "../src/tensor/elementwise.ts";
import { conv2d } from "../src/tensor/conv.ts";
import { matmul } from "../src/tensor/linalg.ts";
import { batchNorm } from "../src/tensor/norm.ts";
import { tidy } from "../src/tensor/memory.ts";
import { noGrad, valueAndGrad } from "../src/tensor/autograd.ts";
import { type Tensor, tensor, zeros } from "../src/tensor/tensor.ts";
import { getBackend, useBackend } from "../src/tensor/device.ts";
import { assert, assertRejectsWith, assertThrowsWith } from "./_assert.ts";

await useBackend(Deno.env.get("AT_BACKEND") ?? "cpu");

const values = async (t: Tensor) => Array.from(await t.data());

Deno.test("broadcasting follows NumPy rules", async () => {
  const a = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  assert.deepEqual(await values(add(a, tensor([10, 20, 30], [3]))), [11, 22, 33, 14, 25, 36]);
  assert.deepEqual(await values(mul(a, tensor([2, 3], [2, 1]))), [2, 4, 6, 12, 15, 18]);
  const outer = add(tensor([1, 2], [2, 1]), tensor([10, 20, 30], [1, 3]));
  assert.deepEqual(outer.shape, [2, 3]);
  assert.deepEqual(await values(outer), [11, 21, 31, 12, 22, 32]);
});

Deno.test("sums and means over any axes, with and without kept dimensions", async () => {
  const x = tensor(Array.from({ length: 24 }, (_, i) => i), [2, 3, 4]);
  assert.deepEqual(await values(x.sum()), [276]);
  assert.deepEqual(await values(x.sum([0, 2])), [60, 92, 124]);
  assert.deepEqual(x.sum([0, 2], true).shape, [1, 3, 1]);
  assert.deepEqual(await values(x.mean(-1)), [1.5, 5.5, 9.5, 13.5, 17.5, 21.5]);
  assert.deepEqual(await values(x.permute([2, 0, 1]).sum([1, 2])), [60, 66, 72, 78]);
});

Deno.test("shape errors name the op and both shapes", () => {
  assertThrowsWith(() => add(zeros([2, 3]), zeros([4])), "add", "[2, 3]", "[4]");
  assertThrowsWith(() => matmul(zeros([2, 3]), zeros([4, 5])), "matmul", "[2, 3]", "[4, 5]");
  assertThrowsWith(
    () => conv2d(zeros([1, 3, 8, 8]), zeros([16, 4, 3, 3])),
    "conv2d",
    "3 channels",
    "expects 4",
    "[16, 4, 3, 3]",
  );
  assertThrowsWith(() => zeros([2, 3]).reshape([4, -1]), "reshape", "[2, 3]", "[4, -1]");
  assertThrowsWith(
    () =>
      batchNorm(zeros([2, 3, 4, 4]), {
        weight: zeros([4]),
        bias: zeros([3]),
        runningMean: zeros([3]),
        runningVar: zeros([3]),
      }, { training: true }),
    "batchNorm",
    "weight",
    "[4]",
    "3 channels",
  );
  assertThrowsWith(() => tensor([1, 2, 3], [2, 2]), "3 values", "[2, 2]");
});

Deno.test("tidy frees intermediates, keeps what it returns; disposed tensors say so", async () => {
  const x = tensor([1, 2, 3]);
  let inner: Tensor | undefined;
  const y = tidy(() => {
    inner = x.mul(2);
    return inner.add(1);
  });
  assert.ok(inner!.disposed, "intermediate was not freed");
  assert.ok(!y.disposed && !x.disposed);
  assert.deepEqual(await values(y), [3, 5, 7]);
  y.dispose();
  y.dispose(); // twice is fine
  assertThrowsWith(() => y.add(1), "used after dispose");
});

Deno.test("valueAndGrad frees its intermediates and returns value, extras and gradients", async () => {
  const w = tensor([1, 2, 3]);
  let seen: Tensor | undefined;
  const { value, grads, aux } = valueAndGrad((p: { w: Tensor }) => {
    seen = p.w.square();
    return { value: seen.sum(), aux: p.w.mul(10) };
  })({ w });
  assert.ok(seen!.disposed);
  assert.deepEqual(await values(value), [14]);
  assert.deepEqual(await values(grads.w), [2, 4, 6]);
  assert.deepEqual(await values(aux), [10, 20, 30]);
  assertThrowsWith(() => valueAndGrad((p: Tensor) => p.mul(2))(w), "one-element");
});

Deno.test("noGrad records nothing", () => {
  const x = tensor([1, 2]).requireGrad();
  assert.ok(x.mul(2).requiresGrad);
  assert.ok(!noGrad(() => x.mul(2)).requiresGrad);
});

Deno.test("useBackend: unknown names and unavailable backends give one clear error; auto says what it passed over", async () => {
  const before = getBackend();
  await assertRejectsWith(() => useBackend("tpu"), "unknown backend", "tpu", "auto, cpu, webgpu, cudnn");
  assert.equal(getBackend(), before, "a failed useBackend changed the backend");
  const auto = await useBackend("auto");
  assert.ok(auto.report.includes(auto.backend.name));
  if (auto.backend.name !== "cudnn") assert.ok(auto.passedOver.some((l) => l.startsWith("cudnn:")), auto.report);
  await useBackend(Deno.env.get("AT_BACKEND") ?? "cpu");
});
