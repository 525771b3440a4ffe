// A run that works prints no `error:` line: `useBackend("auto")` probes WebGPU, and without XDG_RUNTIME_DIR
// Mesa (through libwayland) would print `error: XDG_RUNTIME_DIR is invalid or not set in the environment.` on
// every adapter request, before a run that succeeds. The probe sets the variable for the request only.
import { assert } from "./_assert.ts";

const DEVICE = new URL("../src/tensor/device.ts", import.meta.url).href;
const WEBGPU = new URL("../src/backends/webgpu/mod.ts", import.meta.url).href;

Deno.test("auto probes WebGPU without XDG_RUNTIME_DIR and prints no error line, leaving the environment as it was", async () => {
  const dir = await Deno.makeTempDir({ prefix: "at_probe_test_" });
  try {
    const tmp = `${dir}/tmp`;
    await Deno.mkdir(tmp);
    const file = `${dir}/main.ts`;
    await Deno.writeTextFile(
      file,
      `import { useBackend } from "${DEVICE}";
      import { create } from "${WEBGPU}";
      const { report } = await useBackend("auto");
      // A second request, as tests and benches make, must be quiet too.
      const second = await create().then(() => "started", (e) => e.message);
      console.log(JSON.stringify({ report, second, runtimeDir: Deno.env.get("XDG_RUNTIME_DIR") ?? null }));`,
    );
    const env = Deno.env.toObject();
    delete env.XDG_RUNTIME_DIR;
    delete env.AT_BACKEND;
    const p = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-prompt", file],
      env: { ...env, TMPDIR: tmp },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const [out, err] = [new TextDecoder().decode(p.stdout), new TextDecoder().decode(p.stderr)];
    assert.equal(p.code, 0, err);
    const errors = err.split("\n").filter((line) => /^\s*error:/i.test(line));
    assert.deepEqual(errors, [], `stderr has error lines:\n${err}`);
    const { report, second, runtimeDir } = JSON.parse(out);
    // Otherwise WebGPU was never probed and the test proves nothing.
    assert.match(report, /webgpu/, report);
    assert.ok(second === "started" || /webgpu/.test(second), second);
    assert.equal(runtimeDir, null, "XDG_RUNTIME_DIR stays unset after the probe");
    assert.deepEqual([...Deno.readDirSync(tmp)].map((e) => e.name), [], "no temporary directory left behind");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
