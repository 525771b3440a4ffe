// The onednn backend against the cpu backend: the conformance suite (`_conformance.ts`) on both of its layout
// policies (blocked layouts kept between kernels, and plain ones), and its own faults: oneDNN errors name the
// primitive and the shapes, and the process survives them. Skips itself, saying why, where libdnnl.so.2 is not
// installed (`apt-get install libdnnl2`).
import assert from "node:assert/strict";
import type { Backend, ConvGeometry } from "../src/backends/backend.ts";
import type { OnednnBackend } from "../src/backends/onednn_ffi/_backend.ts";
import { availability, create, OnednnError } from "../src/backends/onednn_ffi/mod.ts";
import { assertAgree, conformance, cpu, EXACT, OP, runOn, seeded, type Subject } from "./_conformance.ts";

const status = await availability();
if (!status.available) console.log(`onednn tests ignored: ${status.reason}`);
const ignore = !status.available;
const subjects: Subject[] = ignore ? [] : [
  { label: "onednn (blocked layouts)", backend: await create({ layout: "blocked" }) },
  // every elementwise kernel, sum and product that oneDNN can run, run there, whatever its size
  { label: "onednn (plain layouts, all in oneDNN)", backend: await create({ layout: "plain", minOnednnElements: 1 }) },
  { label: "onednn (blocked layouts, all in oneDNN)", backend: await create({ minOnednnElements: 1 }) },
];

conformance({
  name: "onednn",
  subjects,
  ignore,
  runs: Number(Deno.env.get("AT_PROPERTY_RUNS") ?? 25),
  namesKernelInErrors: true,
  singleValueChannels: true,
  // These kernels are the cpu backend's own, on the same memory, whatever the layout: bit for bit.
  tolerances: {
    // gt runs in oneDNN too: a comparison gives the same bits.
    unary: EXACT,
    unarySpecial: EXACT,
    affine: EXACT,
    exp: EXACT,
    pow: EXACT,
    strided: EXACT,
    maxPool: EXACT,
    logSoftmax: EXACT,
    sgd: EXACT,
  },
});

Deno.test(
  { name: "onednn: a geometry oneDNN rejects is one error naming the primitive and the shapes", ignore },
  () => {
    for (const { backend } of subjects as Subject[]) {
      const b: Backend = backend;
      const x = b.upload(new Float32Array(2 * 3 * 5 * 5)), w = b.upload(new Float32Array(4 * 3 * 3 * 3));
      // An output size no padding gives at stride 1 (PyTorch's is 3×3): oneDNN refuses the descriptor.
      const g = { n: 2, c: 3, h: 5, w: 5, k: 4, r: 3, s: 3, stride: 1, pad: 0, oh: 2, ow: 2 };
      assert.throws(() => b.conv2d(x, w, g), (e: unknown) => {
        assert.ok(e instanceof OnednnError, `expected an OnednnError, got ${e}`);
        assert.equal(
          e.message,
          "conv2d x [2, 3, 5, 5] w [4, 3, 3, 3] y [2, 4, 2, 2] stride 1 pad 0: dnnl_convolution_forward_desc_init " +
            "failed: dnnl_invalid_arguments (2) (oneDNN rejected the arguments)",
        );
        return true;
      });
      // The backend still works after the failure.
      const ok = b.conv2d(x, w, { ...g, oh: 3, ow: 3 });
      assert.equal(ok.size, 2 * 4 * 3 * 3);
      for (const buf of [x, w, ok]) b.free(buf);
    }
  },
);

Deno.test(
  { name: "onednn: Winograd runs where it applies, and agrees with cpu as the direct kernels do", ignore },
  async () => {
    const b = await create() as OnednnBackend;
    const geometry = (c: number, k: number, h: number, n: number): ConvGeometry => ({
      n,
      c,
      h,
      w: h,
      k,
      r: 3,
      s: 3,
      stride: 1,
      pad: 1,
      oh: h,
      ow: h,
    });
    const wide = geometry(64, 64, 8, 3);
    assert.match(b.convolutionImplementation("forward", wide), /wino/);
    assert.match(b.convolutionImplementation("backwardData", wide), /wino/);
    assert.doesNotMatch(b.convolutionImplementation("backwardWeights", wide), /wino/);
    assert.doesNotMatch(b.convolutionImplementation("forward", geometry(16, 16, 8, 3)), /wino/);
    for (const g of [wide, geometry(32, 32, 16, 2), geometry(128, 128, 8, 1), geometry(32, 64, 6, 5)]) {
      const x = seeded(g.n * g.c * g.h * g.w, g.c, -2, 2), w = seeded(g.k * g.c * 9, g.k, -0.5, 0.5);
      const dy = seeded(g.n * g.k * g.oh * g.ow, g.h);
      const forward = (be: Backend) => runOn(be, [x, w], (q, [xb, wb]) => q.conv2d(xb, wb, g));
      const input = (be: Backend) => runOn(be, [dy, w], (q, [d, wb]) => q.conv2dBackwardInput(d, wb, g));
      const what = `${JSON.stringify(g)} (Winograd)`;
      assertAgree(`conv2d ${what}`, (await forward(b)).out, (await forward(cpu)).out, OP);
      assertAgree(`conv2dBackwardInput ${what}`, (await input(b)).out, (await input(cpu)).out, OP);
    }
  },
);
