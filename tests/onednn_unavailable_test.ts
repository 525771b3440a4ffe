/**
 * Where the onednn backend cannot start it says why in one clear error naming what was found and the install
 * command, `auto` passes over it (to the cpu backend), and nothing crashes. Runs on every machine: the missing
 * and wrong-version cases use a fake library built with a C compiler where there is one.
 */
import { assert } from "./_assert.ts";
import { availability } from "../src/backends/onednn_ffi/mod.ts";
import { chooseBackend } from "../src/backends/registry.ts";
import { missingLibraryReason } from "../src/backends/onednn_ffi/_runtime.ts";
import { childDenoFlags } from "./_cudnn_probe.ts";

const PREFIX = "cannot start the onednn backend: ";

interface Probe {
  availability: { available: boolean; reason?: string; description?: string };
  explicit: string;
  auto: { name: string; passedOver: string[] };
}

async function probe(flags: readonly string[], env: Record<string, string> = {}): Promise<Probe> {
  const child = new URL("./_onednn_probe_child.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--no-check", ...childDenoFlags(), ...flags, child],
    env,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const stdout = new TextDecoder().decode(out.stdout).trim();
  assert.ok(out.success, `the probe exited with ${out.code}:\n${stdout}\n${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(stdout.split("\n").at(-1)!);
}

function expectOneLine(reason: string | undefined, ...parts: string[]): string {
  if (reason === undefined) return assert.fail("no reason given");
  assert.ok(reason.startsWith(PREFIX) && !reason.includes("\n"), `unclear reason: ${reason}`);
  for (const p of parts) assert.ok(reason.includes(p), `${JSON.stringify(reason)} lacks ${JSON.stringify(p)}`);
  return reason;
}

Deno.test("without FFI permission: one error that says to run with --allow-ffi, and auto passes over onednn", async () => {
  const p = await probe(["--allow-read", "--allow-env"]);
  assert.ok(!p.availability.available, "available without FFI permission");
  const reason = expectOneLine(p.availability.reason, "--allow-ffi", "-A");
  assert.equal(p.explicit, reason);
  assert.ok(p.auto.name !== "onednn" && p.auto.passedOver.includes(`onednn: ${reason}`), JSON.stringify(p.auto));
});

Deno.test("where no libdnnl.so.2 is found: the folders searched, a 3.x seen, and the install command", () => {
  const reason = missingLibraryReason(
    {
      otherVersions: ["/opt/onednn/lib/libdnnl.so.3"],
      searched: [{ dir: "/opt/onednn/lib", source: "AT_DNNL_LIB_DIR" }, { dir: "/usr/lib", source: "system" }],
    },
    true,
  );
  for (const part of ["libdnnl.so.2 (oneDNN 2.x) was not found", "/opt/onednn/lib, /usr/lib", "libdnnl.so.3"]) {
    assert.ok(reason.includes(part), reason);
  }
  assert.ok(reason.includes("apt-get install libdnnl2") && reason.includes("AT_DNNL_LIB_DIR"), reason);
  assert.ok(!reason.includes("--allow-read"), reason);
  assert.ok(missingLibraryReason({ otherVersions: [], searched: [] }, false).includes("--allow-read"));
});

function compiler(): string | undefined {
  for (const cc of ["gcc", "cc", "clang"]) {
    try {
      if (new Deno.Command(cc, { args: ["--version"], stdout: "null", stderr: "null" }).outputSync().success) return cc;
    } catch {
      // not installed under this name
    }
  }
  return undefined;
}
const cc = compiler();

/** Builds a fake `libdnnl.so.2` in a new folder whose `dnnl_version()` reports `major.minor.patch`. */
async function fakeLibrary(major: number): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "onednn_fake_" });
  const source = `${dir}/fake.c`;
  await Deno.writeTextFile(
    source,
    `typedef struct { int major, minor, patch; const char *hash; unsigned cpu_runtime, gpu_runtime; } v_t;
     static const v_t v = { ${major}, 0, 0, "fake", 2, 0 };
     const v_t *dnnl_version(void) { return &v; }\n`,
  );
  const out = await new Deno.Command(cc!, { args: ["-shared", "-fPIC", "-o", `${dir}/libdnnl.so.2`, source] })
    .output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return dir;
}

Deno.test({
  name: "a libdnnl.so.2 that reports oneDNN 3.x: one error naming it, its version and the install command",
  ignore: !cc,
  fn: async () => {
    const dir = await fakeLibrary(3);
    try {
      const p = await probe(["-A"], { AT_DNNL_LIB_DIR: dir });
      expectOneLine(p.availability.reason, `${dir}/libdnnl.so.2 reports oneDNN 3.x`, "apt-get install libdnnl2");
      assert.ok(p.auto.passedOver.some((l) => l.startsWith("onednn: ")), JSON.stringify(p.auto));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a libdnnl.so.2 without the 2.x symbols: one error naming the library and what failed",
  ignore: !cc,
  fn: async () => {
    const dir = await fakeLibrary(2);
    try {
      const p = await probe(["-A"], { AT_DNNL_LIB_DIR: dir });
      expectOneLine(p.availability.reason, `${dir}/libdnnl.so.2 (found through AT_DNNL_LIB_DIR) could not be loaded`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const here = await availability();

Deno.test("here: the onednn backend starts, or says why in one line; auto takes it after cudnn and a GPU", async () => {
  if (here.available) console.log(`onednn available: ${here.description}`);
  else expectOneLine(here.reason, "libdnnl.so.2");
  const choice = await chooseBackend("auto");
  const name = choice.backend.name;
  const software = (choice.backend as { adapter?: { software?: boolean } }).adapter?.software === true;
  // cudnn, then webgpu on a hardware adapter, then onednn, then cpu (or a software adapter measured faster).
  if (name === "cudnn" || (name === "webgpu" && !software)) return;
  assert.ok(choice.passedOver[0]?.startsWith("cudnn: "), choice.report);
  assert.ok(choice.passedOver.some((l) => l.startsWith("webgpu: ")), choice.report);
  if (here.available) assert.equal(name, "onednn", choice.report);
  else assert.ok(choice.passedOver.includes(`onednn: ${here.reason}`), choice.report);
});
