// The safetensors reader and writer: round trips, and one clear error for each kind of malformed file.
import fc from "fast-check";
import { parseSafetensors, serializeSafetensors } from "../src/io/safetensors.ts";
import { writeFileAtomic } from "../src/io/atomic.ts";
import { assert, assertThrowsWith } from "./_assert.ts";

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
