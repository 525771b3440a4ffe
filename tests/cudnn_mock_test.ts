/**
 * The cudnn backend's host side against stand-in CUDA libraries built here (`_cudnn_mock_lib.ts`): the four
 * symbol tables register, each start-up failure gives its one clear error, and the whole agreement suite
 * (`cudnn_agreement_test.ts`) passes with the kernels run on the host and cuDNN/cuBLAS as naive loops.
 * Each case runs in a child process, since a process starts the backend once. Needs a host C++ compiler.
 */
import { buildMock, hostCompiler, MOCK_SONAMES } from "./_cudnn_mock_lib.ts";
import { childDenoFlags, probe } from "./_cudnn_probe.ts";

const cxx = hostCompiler();
const ignore = !cxx;
if (ignore) console.log("cudnn mock tests ignored: no host C++ compiler (g++, c++ or clang++) on PATH");

const root = ignore ? "" : await Deno.makeTempDir({ prefix: "cudnn_mock_" });
const full = `${root}/full`;
const driverOnly = `${root}/driver_only`;
if (!ignore) {
  await Deno.mkdir(full);
  await Deno.mkdir(driverOnly);
  await buildMock(full, cxx!);
  await Deno.copyFile(`${full}/libcuda.so.1`, `${driverOnly}/libcuda.so.1`);
}

/** An environment that finds the mock first and no Python environment's libraries. */
function env(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    AT_CUDA_LIB_DIR: dir,
    PATH: "/nonexistent",
    LD_LIBRARY_PATH: "",
    VIRTUAL_ENV: "",
    CONDA_PREFIX: "",
    ...extra,
  };
}

const PREFIX = "cannot start the cudnn backend: ";

function expectReason(reason: string | undefined, ...parts: string[]): void {
  if (!reason?.startsWith(PREFIX) || reason.includes("\n") || !parts.every((p) => reason.includes(p))) {
    throw new Error(`expected a one-line reason with ${JSON.stringify(parts)}, got: ${reason}`);
  }
}

Deno.test({ name: "mock: the four symbol tables register and the backend starts", ignore }, async () => {
  const p = await probe(["-A"], env(full));
  if (!p.availability.available) throw new Error(p.availability.reason);
  if (!p.availability.description?.includes("Mock GPU (sm_90")) throw new Error(p.availability.description);
  if (p.auto.name !== "cudnn" || p.explicit !== "") throw new Error(JSON.stringify(p));
  if (MOCK_SONAMES.length !== 4) throw new Error("four libraries");
});

Deno.test({ name: "mock: cuInit failing gives its code and name", ignore }, async () => {
  const p = await probe(["-A"], env(full, { MOCK_CUINIT: "100" }));
  expectReason(p.availability.reason, "cuInit failed: CUDA_ERROR_NO_DEVICE (100)");
  if (p.auto.passedOver[0] !== `cudnn: ${p.availability.reason}`) throw new Error(JSON.stringify(p.auto));
});

Deno.test({ name: "mock: a driver without devices says so", ignore }, async () => {
  const p = await probe(["-A"], env(full, { MOCK_DEVICES: "0" }));
  expectReason(p.availability.reason, "no CUDA device", "CUDA_VISIBLE_DEVICES");
});

Deno.test(
  { name: "mock: a missing cuDNN lists the folders searched and mentions AT_CUDA_LIB_DIR", ignore },
  async () => {
    const p = await probe(["-A"], env(driverOnly));
    expectReason(
      p.availability.reason,
      "libcudnn.so.9 (cuDNN 9) was not found; searched ",
      driverOnly,
      "AT_CUDA_LIB_DIR",
    );
  },
);

Deno.test({ name: "mock: cudnnCreate failing gives cuDNN's status name", ignore }, async () => {
  const p = await probe(["-A"], env(full, { MOCK_CUDNN_CREATE: "1008" }));
  expectReason(p.availability.reason, "cudnnCreate failed: CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED (1008)");
});

Deno.test({ name: "mock: every kernel agrees with cpu (the agreement suite, run on the host)", ignore }, async () => {
  const suite = new URL("./cudnn_agreement_test.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--no-check", ...childDenoFlags(), suite],
    env: env(full, { AT_CUDNN_EXPECT: "1", NO_COLOR: "1" }),
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(300_000),
  }).output();
  const log = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success || !/ok \| \d+ passed \| 0 failed/.test(log) || !log.includes("Mock GPU")) {
    throw new Error(`the agreement suite failed on the mock:\n${log}`);
  }
});

Deno.test({ name: "mock: clean up", ignore }, async () => {
  await Deno.remove(root, { recursive: true });
});
