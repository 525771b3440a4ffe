/**
 * The cudnn backend against the cpu backend (the reference meaning): the conformance suite (`_conformance.ts`),
 * with the tolerances this backend has always been held to. Needs a GPU; elsewhere the tests are ignored with the
 * reason the backend gave. `cudnn_mock_test.ts` also runs this file against the mock libraries
 * (`AT_CUDNN_EXPECT=1` then turns "unavailable" into a failure).
 */
import { availability, create } from "../src/backends/cudnn_ffi/mod.ts";
import { conformance, EXACT, type Tolerance } from "./_conformance.ts";

const gpu = await availability();
const expectGpu = Deno.env.get("AT_CUDNN_EXPECT") === "1";
if (gpu.available) console.log(`cudnn: ${gpu.description}`);
else console.log(`cudnn agreement tests ignored: ${gpu.reason}`);

Deno.test({ name: "cudnn: the backend starts (AT_CUDNN_EXPECT=1 requires it)", ignore: !expectGpu }, () => {
  if (!gpu.available) throw new Error(gpu.reason);
});

/** `|got − want| ≤ atol · (1 + max|want|)`: the form of this backend's tolerances. */
const abs = (atol: number): Tolerance => ({ rtol: 0, atol, offset: 1 });

conformance({
  name: "cudnn",
  subjects: gpu.available ? [{ label: "cudnn", backend: await create() }] : [],
  ignore: !gpu.available,
  runs: Number(Deno.env.get("AT_CUDNN_RUNS") ?? 25),
  singleValueChannels: true,
  tolerances: {
    sum: abs(1e-6),
    matmul: abs(1e-5),
    conv: abs(5e-5),
    bnTrain: abs(1e-4),
    bnInference: abs(1e-5),
    bnBackward: abs(1e-4),
    avgPool: abs(1e-6),
    logSoftmax: abs(1e-6),
    sgd: EXACT,
  },
});
