// A CPU-only program needs no FFI, environment or WebGPU permission: backends load on demand, and `auto`
// passes over the ones it may not start and says why.
import { assert } from "./_assert.ts";

const MOD = new URL("../mod.ts", import.meta.url).href;

async function runScript(code: string, ...flags: string[]): Promise<{ code: number; out: string; err: string }> {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/main.ts`;
    await Deno.writeTextFile(file, code);
    const root = new URL("..", import.meta.url).pathname;
    const p = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", `--allow-read=${root},${dir}`, ...flags, file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: p.code, out: new TextDecoder().decode(p.stdout), err: new TextDecoder().decode(p.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the cpu backend runs with read permission only", async () => {
  const r = await runScript(`
    import { atLoss, tensor, useBackend } from "${MOD}";
    await useBackend("cpu");
    const x = tensor(Float32Array.from({ length: 2 * 3 * 4 * 4 }, (_, i) => Math.sin(i)), [2, 3, 4, 4]);
    console.log((await atLoss(x, x.mul(2)).item()).toFixed(6));
  `);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), "0.000000");
});

Deno.test("auto without FFI permission passes over cudnn, says why, and starts", async () => {
  const r = await runScript(`
    import { useBackend } from "${MOD}";
    const c = await useBackend("auto");
    console.log(c.backend.name);
    console.log(c.passedOver.join("\\n"));
  `);
  assert.equal(r.code, 0, r.err);
  const [name, ...passed] = r.out.trim().split("\n");
  assert.ok(["cpu", "webgpu"].includes(name), r.out);
  assert.ok(passed.some((l) => l.startsWith("cudnn:") && /ffi|permission/i.test(l)), r.out);
});
