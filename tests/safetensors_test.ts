// The safetensors reader and writer: round trips, and one clear error for each kind of malformed file.
import fc from "fast-check";
import { CpuBackend } from "../src/backends/cpu/mod.ts";
import { parseSafetensors, serializeSafetensors } from "../src/io/safetensors.ts";
import { writeFileAtomic } from "../src/io/atomic.ts";
import { loadTensors, saveTensors } from "../src/io/tensors.ts";
import { getBackend } from "../src/tensor/device.ts";
import { checkRecord } from "../src/nn/params.ts";
import { tensor } from "../src/tensor/tensor.ts";
import { assert, assertRejectsWith, assertThrowsWith } from "./_assert.ts";

/** A file with a hand-written header and data section. */
function file(header: unknown, data: Uint8Array = new Uint8Array(0), lengthOverride?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

Deno.test("safetensors: F32, I32 and U8 tensors and metadata round-trip", () => {
  fc.assert(
    fc.property(
      fc.array(fc.float({ noNaN: true }), { maxLength: 20 }),
      fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 20 }),
      fc.dictionary(fc.string(), fc.string()),
      (floats, ints, meta) => {
        const bytes = serializeSafetensors({
          "a.weight": { shape: [floats.length], data: Float32Array.from(floats) },
          labels: { shape: [1, ints.length], data: Int32Array.from(ints) },
          mask: { shape: [2], data: Uint8Array.of(0, 1) },
        }, meta);
        const { tensors, metadata } = parseSafetensors(bytes);
        assert.deepEqual(Array.from(tensors.get("a.weight")!.data), Array.from(Float32Array.from(floats)));
        assert.deepEqual(tensors.get("labels")!.shape, [1, ints.length]);
        assert.deepEqual(Array.from(tensors.get("labels")!.data), ints);
        assert.equal(tensors.get("labels")!.dtype, "I32");
        assert.deepEqual(Array.from(tensors.get("mask")!.data), [0, 1]);
        assert.deepEqual(metadata, { ...meta });
      },
    ),
  );
});

Deno.test("safetensors: F16, BF16, F64 and I64 are read as float32 / int32", () => {
  const data = new Uint8Array(2 + 2 + 8 + 8);
  const dv = new DataView(data.buffer);
  dv.setUint16(0, 0x3c00, true); // F16 1.0
  dv.setUint16(2, 0xc040, true); // BF16 -3.0
  dv.setFloat64(4, 0.5, true);
  dv.setBigInt64(12, -7n, true);
  const { tensors } = parseSafetensors(file({
    h: { dtype: "F16", shape: [1], data_offsets: [0, 2] },
    b: { dtype: "BF16", shape: [1], data_offsets: [2, 4] },
    d: { dtype: "F64", shape: [1], data_offsets: [4, 12] },
    l: { dtype: "I64", shape: [1], data_offsets: [12, 20] },
  }, data));
  assert.deepEqual([
    tensors.get("h")!.data[0],
    tensors.get("b")!.data[0],
    tensors.get("d")!.data[0],
    tensors.get("l")!.data[0],
  ], [1, -3, 0.5, -7]);
});

Deno.test("safetensors: each malformed file gives one clear error", () => {
  const four = new Uint8Array(4);
  const ok = { dtype: "F32", shape: [1], data_offsets: [0, 4] };
  assertThrowsWith(() => parseSafetensors(new Uint8Array(5), "x.st"), "x.st", "shorter than the 8-byte header length");
  assertThrowsWith(() => parseSafetensors(file({ a: ok }, four, 1n << 62n)), "header length", "runs past the end");
  assertThrowsWith(() => parseSafetensors(file("{not json", four)), "not valid UTF-8 JSON");
  assertThrowsWith(() => parseSafetensors(file("[1,2]")), "not a JSON object");
  assertThrowsWith(() => parseSafetensors(file({ a: { ...ok, dtype: "Q7" } }, four)), "unknown dtype", "Q7");
  assertThrowsWith(() => parseSafetensors(file({ a: { ...ok, shape: [-1] } }, four)), "invalid shape");
  assertThrowsWith(() => parseSafetensors(file({ a: { ...ok, shape: [2] } }, four)), "needs 8 bytes", "span 4");
  assertThrowsWith(
    () => parseSafetensors(file({ a: { ...ok, data_offsets: [0, 8] } }, four)),
    "outside the 4-byte data section",
  );
  assertThrowsWith(() => parseSafetensors(file({ a: { ...ok, data_offsets: [4, 0] } }, four)), "outside");
  assertThrowsWith(
    () =>
      parseSafetensors(
        file({ a: { ...ok, shape: [2], data_offsets: [0, 8] }, b: { ...ok, data_offsets: [4, 8] } }, new Uint8Array(8)),
      ),
    "overlaps",
  );
  assertThrowsWith(
    () => parseSafetensors(file({ a: { ...ok, data_offsets: [4, 8] } }, new Uint8Array(8))),
    "belong to no tensor",
  );
  assertThrowsWith(() => parseSafetensors(file({ a: ok }, new Uint8Array(6))), "2 trailing bytes");
  assertThrowsWith(
    () => parseSafetensors(file({ __metadata__: { k: 1 }, a: ok }, four)),
    "__metadata__.k is not a string",
  );
  assertThrowsWith(() => parseSafetensors(file({ a: { ...ok, data_offsets: "0,4" } }, four)), "invalid data_offsets");
});

Deno.test("writeFileAtomic replaces a file whole and leaves no temporary file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/f.bin`;
    await writeFileAtomic(path, "old");
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    assert.deepEqual(Array.from(await Deno.readFile(path)), [1, 2, 3]);
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names, ["f.bin"]);
    await Deno.remove(path);
    await Deno.mkdir(path); // a directory where the file should go: the rename fails, nothing is left behind
    await writeFileAtomic(path, "x").then(() => assert.fail("expected an error"), () => {});
    const after = [];
    for await (const e of Deno.readDir(dir)) after.push(e.name);
    assert.deepEqual(after, ["f.bin"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("safetensors: a dtype named like an Object property is an unknown dtype", () => {
  for (const dtype of ["toString", "__proto__", "constructor", "hasOwnProperty", "valueOf"]) {
    assertThrowsWith(
      () => parseSafetensors(file({ a: { dtype, shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), "x.st"),
      "x.st",
      "unknown dtype",
      JSON.stringify(dtype),
    );
  }
});

Deno.test("safetensors: tensors named __proto__ or constructor are ordinary entries of every record", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // In a runtime whose Object.prototype has __proto__ (Node, browsers; Deno with --unstable-unsafe-proto).
    const script = new URL("./_proto_records.ts", import.meta.url).pathname;
    const args = ["run", "-A", "--unstable-unsafe-proto", script, `${dir}/odd.safetensors`];
    const r = await new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped" }).output();
    const err = new TextDecoder().decode(r.stderr);
    assert.ok(r.success, err);
    const names = ["__proto__", "constructor", "a"];
    assert.deepEqual(JSON.parse(new TextDecoder().decode(r.stdout)), {
      accessor: true,
      saved: names,
      loaded: names,
      prototype: true,
      value: [1, 2],
      params: names,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const t = Float32Array.of(1);
  assertThrowsWith(
    () => checkRecord("odd", { a: tensor(t), constructor: tensor(t) }, { a: [1] }),
    "unexpected constructor",
  );
  assertThrowsWith(
    () => serializeSafetensors({ __metadata__: { shape: [1], data: new Float32Array(1) } }, { k: "v" }),
    "__metadata__",
  );
});

Deno.test("loadTensors: a directory, a missing file or a malformed one is an error naming the path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const folder = `${dir}/model.safetensors`;
    await Deno.mkdir(folder);
    const e = await loadTensors(folder, getBackend()).then(() => undefined, (e) => e);
    assert.ok(e instanceof Deno.errors.IsADirectory, `got ${e}`);
    assert.ok(e.message.startsWith(`loadTensors: cannot read ${folder}: `), e.message);
    assert.ok(e.cause instanceof Deno.errors.IsADirectory);
    const missing = await loadTensors(`${dir}/none.safetensors`, getBackend()).then(() => undefined, (e) => e);
    assert.ok(missing instanceof Deno.errors.NotFound, `a missing file is not Deno.errors.NotFound: ${missing}`);
    assert.ok(missing.message.includes(`${dir}/none.safetensors`), missing.message);
    await Deno.writeFile(`${dir}/short`, new Uint8Array(3));
    await assertRejectsWith(() => loadTensors(`${dir}/short`, getBackend()), `${dir}/short`, "shorter than");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic: an error names the target path, keeps Deno's error class, and has it as cause", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/no/such/folder/f.bin`;
    const e = await writeFileAtomic(path, "x").then(() => undefined, (e) => e);
    assert.ok(e instanceof Deno.errors.NotFound, `got ${e}`);
    assert.ok(e.message.startsWith(`writeFileAtomic: cannot write ${path}: `), e.message);
    assert.ok(e.cause instanceof Deno.errors.NotFound);
    await Deno.mkdir(`${dir}/taken`);
    await assertRejectsWith(() => writeFileAtomic(`${dir}/taken`, "x"), `writeFileAtomic: cannot replace ${dir}/taken`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs a command; undefined when it succeeded, else why not. */
async function run(command: string, ...args: string[]): Promise<string | undefined> {
  try {
    const r = await new Deno.Command(command, { args, stdout: "null", stderr: "piped" }).output();
    return r.success ? undefined : `${command} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr).trim()}`;
  } catch (e) {
    return `${command}: ${e instanceof Error ? e.message : e}`;
  }
}

/** Runs `fn` on a fresh 64 KiB tmpfs (a disk that fills at once); throws why when none can be mounted. */
async function onTinyDisk(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const failed = await run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir);
    if (failed) throw new Error(failed);
    try {
      await fn(dir);
    } finally {
      await run("umount", dir);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const noTinyDisk = Deno.build.os !== "linux"
  ? "not Linux"
  : await onTinyDisk(() => Promise.resolve()).then(() => undefined, (e) => (e as Error).message);
if (noTinyDisk) console.log(`full-disk test skipped: cannot mount a small tmpfs (${noTinyDisk}; needs root on Linux)`);

Deno.test({
  name: "writeFileAtomic and saveTensors on a full disk: the error names the path and leaves no temporary file",
  ignore: noTinyDisk !== undefined,
  fn: () =>
    onTinyDisk(async (dir) => {
      const path = `${dir}/model.safetensors`;
      const e = await writeFileAtomic(path, new Uint8Array(1 << 20)).then(() => undefined, (e) => e);
      assert.ok(e instanceof Error, "a 1 MiB write to a 64 KiB disk succeeded");
      assert.ok(e.message.startsWith(`writeFileAtomic: cannot write ${path}: `), e.message);
      assert.equal((e.cause as { code?: string }).code, "ENOSPC", `cause: ${e.cause}`);
      assert.equal((e as { code?: string }).code, "ENOSPC");
      await assertRejectsWith(() => saveTensors(path, { w: tensor(new Float32Array(1 << 18)) }), path, "space");
      const left: string[] = [];
      for await (const entry of Deno.readDir(dir)) left.push(entry.name);
      assert.deepEqual(left, [], "temporary files left behind");
    }),
});

Deno.test("loadTensors puts the tensors on the backend it is given, not the current one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await saveTensors(`${dir}/m.safetensors`, { w: tensor(Float32Array.of(1, 2, 3), [3]) });
    const other = new CpuBackend({ threads: 1 });
    assert.notEqual(other, getBackend());
    const { tensors } = await loadTensors(`${dir}/m.safetensors`, other);
    assert.equal(tensors.w.backend, other);
    assert.deepEqual([...await tensors.w.data()], [1, 2, 3]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
