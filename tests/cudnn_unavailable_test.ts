/**
 * Where the cudnn backend cannot start it says why in one clear error, `auto` passes over it, and nothing
 * crashes or hangs. Runs on every machine.
 */
import { availability, create } from "../src/backends/cudnn_ffi/mod.ts";
import { chooseBackend } from "../src/backends/registry.ts";
import { probe } from "./_cudnn_probe.ts";

const PREFIX = "cannot start the cudnn backend: ";

Deno.test("without FFI permission: one error that says to run with --allow-ffi, and auto passes over cudnn", async () => {
  const p = await probe(["--allow-read", "--allow-env"]);
  const reason = p.availability.reason ?? "";
  if (p.availability.available) throw new Error("available without FFI permission");
  if (!reason.startsWith(PREFIX) || !reason.includes("--allow-ffi") || !reason.includes("-A")) {
    throw new Error(`unclear reason: ${reason}`);
  }
  if (p.explicit !== reason) throw new Error(`useBackend("cudnn") said ${p.explicit}`);
  if (p.auto.name === "cudnn" || p.auto.passedOver[0] !== `cudnn: ${reason}`) {
    throw new Error(`auto: ${JSON.stringify(p.auto)}`);
  }
});

const here = await availability();

Deno.test("here: the cudnn backend starts, or says why in one line naming the first missing piece", async () => {
  if (here.available) {
    console.log(`cudnn available: ${here.description}`);
    return;
  }
  console.log(`cudnn unavailable here: ${here.reason}`);
  if (!here.reason.startsWith(PREFIX) || here.reason.includes("\n")) throw new Error(`unclear reason: ${here.reason}`);
  // The same error every time, and create() rejects with it.
  let message = "";
  try {
    await create();
  } catch (e) {
    message = (e as Error).message;
  }
  if (message !== here.reason) throw new Error(`create() said ${message}`);
  const choice = await chooseBackend("auto");
  if (choice.backend.name === "cudnn" || choice.passedOver[0] !== `cudnn: ${here.reason}`) {
    throw new Error(`auto: ${choice.report}`);
  }
  if (!choice.report.includes("passed over: cudnn: ")) throw new Error(`auto's report: ${choice.report}`);
});

function hasDriver(): boolean {
  try {
    Deno.dlopen("libcuda.so.1", {}).close();
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "without an NVIDIA driver: the error names libcuda.so.1 and AT_CUDA_LIB_DIR",
  ignore: hasDriver(),
  fn: async () => {
    const p = await probe(["-A"], { AT_CUDA_LIB_DIR: "" });
    const reason = p.availability.reason ?? "";
    if (!reason.startsWith(`${PREFIX}libcuda.so.1`) || !reason.includes("AT_CUDA_LIB_DIR")) {
      throw new Error(`unclear reason: ${reason}`);
    }
  },
});
