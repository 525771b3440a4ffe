// PyTorch checkpoints: every tensor of files written by real torch.save (tools/make_pth_fixtures.py) compared with
// the values the same script wrote as safetensors; refusals; truncated and corrupt files; a fuzz property.
import fc from "fast-check";
import { unzipSync, type Zippable, zipSync } from "fflate";
import { CpuBackend } from "../src/backends/cpu/mod.ts";
import { loadPth, parsePth } from "../src/io/pth.ts";
import { PyDict, PyGlobal, unpickle } from "../src/io/_pickle.ts";
import { parseSafetensors } from "../src/io/safetensors.ts";
import { assert, assertBitwise, assertRejectsWith, assertThrowsWith } from "./_assert.ts";

const DIR = new URL("./fixtures/pth/", import.meta.url).pathname;
const read = (name: string): Uint8Array => Deno.readFileSync(DIR + name);

// Hand-written pickles, wrapped in a zip archive as torch.save writes them.
const PROTO2 = [0x80, 2], STOP = [0x2e], EMPTY_DICT = [0x7d], EMPTY_TUPLE = [0x29], REDUCE = [0x52];
const SETITEM = [0x73], BINPUT0 = [0x71, 0], BINGET0 = [0x68, 0];
const G = (module: string, name: string): number[] => [0x63, ...new TextEncoder().encode(`${module}\n${name}\n`)];
const S = (s: string): number[] => [0x8c, s.length, ...new TextEncoder().encode(s)];
const pickle = (...ops: number[][]): Uint8Array => Uint8Array.from([...PROTO2, ...ops.flat()]);
function zipOf(dataPkl: Uint8Array, storages: Record<string, Uint8Array> = {}): Uint8Array {
  const files: Zippable = { "archive/data.pkl": [dataPkl, { level: 0 }] };
  for (const [key, data] of Object.entries(storages)) files[`archive/data/${key}`] = [data, { level: 0 }];
  return zipSync(files);
}

/** Each checkpoint, the safetensors file with its expected tensors, and the wrapper it has. */
const FIXTURES = [
  ["resnet18.pth", "resnet18", undefined],
  ["resnet18_legacy.pth", "resnet18", undefined],
  ["resnet18_f16.pth", "resnet18_f16", undefined],
  ["export_params_legacy.pth", "export_params", "params"],
  ["state_dict_wrapper.pth", "state_dict_wrapper", "state_dict"],
  ["mixed.pth", "mixed", undefined],
  ["mixed_legacy.pth", "mixed", undefined],
  ["mixed_p4.pth", "mixed", undefined],
  ["mixed_legacy_p5.pth", "mixed", undefined],
  ["mixed_big_endian.pth", "mixed", undefined],
] as const;

/** Asserts that `bytes` parses to exactly the tensors (names, order, dtypes, shapes, bits) of `expected`. */
function assertMatches(bytes: Uint8Array, source: string, expected: string): void {
  const want = parseSafetensors(read(`${expected}.safetensors`), expected);
  const dtypes = JSON.parse(want.metadata.dtypes) as Record<string, string>;
  const { tensors } = parsePth(bytes, source);
  assert.deepEqual([...tensors.keys()], [...want.tensors.keys()], `${source}: names`);
  for (const [name, w] of want.tensors) {
    const got = tensors.get(name)!;
    assert.equal(got.dtype, dtypes[name], `${source}: ${name} dtype`);
    assert.deepEqual(got.shape, w.shape, `${source}: ${name} shape`);
    assert.equal(got.data.constructor, w.data.constructor, `${source}: ${name} array type`);
    assertBitwise(got.data, w.data, `${source}: ${name}`);
  }
}

for (const [file, expected, wrapper] of FIXTURES) {
  Deno.test(`parsePth: ${file} equals what PyTorch wrote, tensor for tensor`, () => {
    assertMatches(read(file), file, expected);
    assert.equal(parsePth(read(file), file).wrapper, wrapper);
  });
}

Deno.test("parsePth: the fixtures hold what the tests claim to cover", () => {
  const resnet = parsePth(read("resnet18.pth")).tensors;
  assert.equal(resnet.size, 122, "torchvision's resnet18 state_dict has 122 entries");
  for (const name of ["conv1.weight", "bn1.num_batches_tracked", "layer2.0.downsample.0.weight", "fc.bias"]) {
    assert.ok(resnet.has(name), name);
  }
  assert.equal(resnet.get("bn1.num_batches_tracked")!.data[0], 5004);
  assert.equal(parsePth(read("resnet18_f16.pth")).tensors.get("conv1.weight")!.dtype, "F16");
  const exported = parsePth(read("export_params_legacy.pth")).tensors;
  assert.ok(exported.has("group1.block0.conv_dim.weight") && exported.has("conv0.bias"));
  const mixed = parsePth(read("mixed.pth")).tensors;
  // The transposed view is the transpose of the storage it shares with `base`.
  const base = mixed.get("base")!, t = mixed.get("transposed")!;
  assert.deepEqual([base.shape, t.shape], [[6, 5], [5, 6]]);
  assert.equal(t.data[1 * 6 + 4], base.data[4 * 5 + 1]);
  assert.notEqual(t.data, base.data, "views of one storage get their own arrays");
  assert.deepEqual(Array.from(mixed.get("strided")!.data), [5, 7, 9, 15, 17, 19, 25, 27, 29].map((i) => base.data[i]));
  const expanded = mixed.get("expanded")!.data;
  assert.deepEqual([expanded[4], expanded[5], expanded[7]], [expanded[4], expanded[4], expanded[4]]);
  assert.deepEqual(Array.from(mixed.get("narrow_of_big")!.data), [10, 11, 12, 13, 18, 19, 20, 21]);
  assert.ok(mixed.has("nested.inner.x") && mixed.has("ints.1") && !mixed.has("notes") && !mixed.has("blob"));
});

Deno.test("parsePth: a deflated archive (a checkpoint re-zipped) reads the same", () => {
  const files = unzipSync(read("mixed.pth"));
  const deflated = zipSync(Object.fromEntries(Object.entries(files).map(([n, d]) => [n, [d, { level: 9 }]])));
  assert.ok(deflated.length < read("mixed.pth").length, "fflate did not compress");
  assertMatches(deflated, "deflated.pth", "mixed");
});

Deno.test("loadPth: float tensors on the backend it is given, integers left out; errors name the path", async () => {
  const backend = new CpuBackend({ threads: 1 });
  const { tensors } = await loadPth(DIR + "resnet18.pth", backend);
  const want = parseSafetensors(read("resnet18.safetensors")).tensors;
  const floats = [...want.keys()].filter((n) => !n.endsWith("num_batches_tracked"));
  assert.deepEqual(Object.keys(tensors), floats);
  for (const name of floats) {
    assert.equal(tensors[name].backend, backend, `${name} is not on the backend loadPth was given`);
    assert.deepEqual(tensors[name].shape, want.get(name)!.shape);
    assertBitwise(await tensors[name].data(), want.get(name)!.data, name);
    tensors[name].dispose();
  }
  const missing = await loadPth(DIR + "none.pth", backend).then(() => undefined, (e) => e);
  assert.ok(missing instanceof Deno.errors.NotFound, `a missing file is not Deno.errors.NotFound: ${missing}`);
  assert.ok(missing.message.startsWith(`loadPth: cannot read ${DIR}none.pth: `), missing.message);
  await assertRejectsWith(() => loadPth(DIR + "evil_system.pth", backend), `${DIR}evil_system.pth`, "posix.system");
});

Deno.test("parsePth: a global outside the allow-list is refused by name, in either format", () => {
  assertThrowsWith(
    () => parsePth(read("evil_system.pth"), "evil_system.pth"),
    "pth evil_system.pth: refuses to load global posix.system; only tensors and dicts are read",
  );
  assertThrowsWith(
    () => parsePth(read("evil_eval_legacy.pth"), "evil_eval_legacy.pth"),
    "pth evil_eval_legacy.pth: refuses to load global __builtin__.eval",
  );
  assertThrowsWith(
    () => parsePth(read("whole_model.pth"), "whole_model.pth"),
    "refuses to load global torch.nn.modules.container.Sequential",
    "save model.state_dict() rather than the model",
  );
  // Allowed globals that are not functions cannot be called either.
  assertThrowsWith(
    () => parsePth(zipOf(pickle(G("torch", "FloatStorage"), EMPTY_TUPLE, REDUCE, STOP)), "x.pth"),
    "REDUCE at offset 23: calls torch.FloatStorage, which is not a function this reader runs",
  );
});

Deno.test("parsePth: an int64 value that int32 cannot hold is an error naming the tensor", () => {
  assertThrowsWith(
    () => parsePth(read("int64_overflow.pth"), "big.pth"),
    "pth big.pth: tensor steps: int64 value 1099511627776 does not fit in int32",
  );
});

Deno.test("parsePth: each malformed file gives one clear error naming it", () => {
  const cases: [Uint8Array, ...string[]][] = [
    [new Uint8Array(0), "the file is empty"],
    [new TextEncoder().encode("hello"), "not a PyTorch checkpoint: it starts with 0x68"],
    [pickle(S("x"), STOP), "a pickle, but not a checkpoint written by torch.save"],
    [zipOf(pickle([0xff])), "data.pkl: opcode 0xff at offset 2: unknown opcode"],
    [zipOf(pickle([0x49])), "data.pkl: INT at offset 2: this opcode is not supported"],
    [zipOf(pickle([0x58, 9, 0, 0, 0, 0x41])), "BINUNICODE at offset 2: needs 9 more bytes", "truncated"],
    [zipOf(pickle(EMPTY_DICT)), "the pickle ends without STOP (truncated)"],
    [zipOf(pickle(STOP)), "STOP at offset 2: the stack is empty"],
    [zipOf(pickle([0x68, 7])), "BINGET at offset 2: memo entry 7 was never stored"],
    [zipOf(pickle([0x74])), "TUPLE at offset 2: no MARK before it"],
    [zipOf(pickle([0x80, 9])), "pickle protocol 9"],
    [zipOf(pickle(S("t"), STOP)), "the file holds a str, not a dict of tensors"],
    [zipOf(pickle(G("torch", "ComplexFloatStorage"))), "global torch.ComplexFloatStorage", "storage types read"],
    [zipOf(pickle(EMPTY_DICT, BINPUT0, S("a"), BINGET0, SETITEM, STOP)), "the dict a contains itself"],
    [zipOf(pickle(EMPTY_DICT, STOP, STOP)), "archive/data.pkl has 1 bytes after its STOP"],
    [zipSync({ "a.txt": new Uint8Array(3) }), "no <folder>/data.pkl"],
    [zipSync({}), "no <folder>/data.pkl"],
    [read("mixed.pth").subarray(0, 3000), "no end-of-central-directory record"],
  ];
  for (const [bytes, ...parts] of cases) assertThrowsWith(() => parsePth(bytes, "bad.pth"), "pth bad.pth: ", ...parts);
});

/** A zip checkpoint holding `{"w": tensor}`: an F32 storage of `numel` elements in `bytes` bytes, viewed as given. */
function oneTensor(shape: number[], stride: number[], numel: number, bytes: number, offset = 0): Uint8Array {
  const int = (n: number) => [0x4a, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24];
  const tuple = (xs: number[]) => [0x28, ...xs.flatMap(int), 0x74];
  const storage = [0x28, ...S("storage"), ...G("torch", "FloatStorage"), ...S("0"), ...S("cpu"), ...int(numel), 0x74];
  return zipOf(
    pickle(
      EMPTY_DICT,
      S("w"),
      G("torch._utils", "_rebuild_tensor"),
      [0x28, ...storage, 0x51, ...int(offset), ...tuple(shape), ...tuple(stride), 0x74],
      REDUCE,
      SETITEM,
      STOP,
    ),
    { "0": new Uint8Array(bytes).map((_, i) => i) },
  );
}

Deno.test("parsePth: strides, offsets and sizes are checked against the storage before anything is allocated", () => {
  const w = parsePth(oneTensor([3], [2], 5, 20, 0)).tensors.get("w")!;
  assert.deepEqual([w.shape, Array.from(new Uint8Array(w.data.buffer, 0, 4))], [[3], [0, 1, 2, 3]]);
  assert.equal(parsePth(oneTensor([200, 3], [0, 1], 4, 16, 1)).tensors.get("w")!.data.length, 600); // expanded
  assertThrowsWith(() => parsePth(oneTensor([3], [2], 4, 16), "v.pth"), "tensor w: size [3], stride [2] at offset 0");
  assertThrowsWith(() => parsePth(oneTensor([2], [1], 2, 8, 1), "v.pth"), "reads past its storage 0 of 2 elements");
  assertThrowsWith(() => parsePth(oneTensor([3], [2], 5, 16), "v.pth"), "data/0 has 16 bytes but storage 0 is F32[5]");
  assertThrowsWith(() => parsePth(oneTensor([3], [2, 1], 5, 20), "v.pth"), "size (3) but stride (2,1)");
  assertThrowsWith(
    () => parsePth(oneTensor([65536, 65536], [0, 0], 1, 4), "v.pth"),
    "tensor w of shape [65536,65536] would take the output past",
  );
  assertThrowsWith(() => parsePth(oneTensor([-1], [1], 4, 16), "v.pth"), "a tensor's size is tuple (-1)");
});

Deno.test("parsePth: truncated at any length, a checkpoint gives one clear error", () => {
  for (const file of ["mixed_legacy.pth", "mixed.pth", "state_dict_wrapper.pth"]) {
    const bytes = read(file);
    for (let n = 0; n < bytes.length; n++) assertClearError(bytes.subarray(0, n), file, true);
  }
});

Deno.test("parsePth: a corrupt storage is caught by zip's CRC-32, a corrupt legacy header by its size", () => {
  const zip = read("mixed.pth").slice();
  const entry = unzipSync(zip)["mixed/data/0"];
  const at = zip.findIndex((_, i) => entry.every((b, j) => zip[i + j] === b));
  zip[at + 3] ^= 0x10;
  assertThrowsWith(() => parsePth(zip, "c.pth"), "pth c.pth: entry mixed/data/0 is corrupt: CRC-32");
  const legacy = read("mixed_legacy.pth").slice();
  // Five pickles (magic, protocol, system info, object, storage keys), then each storage behind its element count.
  const anything = {
    findGlobal: (module: string, name: string) => new PyGlobal(module, name, () => new PyDict()),
    persistentLoad: () => null,
    fail: (why: string): never => assert.fail(why),
  };
  let end = 0;
  for (let i = 0; i < 5; i++) end = unpickle(legacy, end, anything).end;
  const numel = new DataView(legacy.buffer).getBigInt64(end, true);
  assert.ok(numel > 0n && numel <= 40n, `the first storage header reads ${numel}`);
  legacy[end] ^= 1;
  assertThrowsWith(() => parsePth(legacy, "c.pth"), "elements by its header but");
});

/** Asserts that parsing `bytes` succeeds within the output bound or fails with our error only. */
function assertClearError(bytes: Uint8Array, source: string, mustFail = false): void {
  let tensors;
  try {
    tensors = parsePth(bytes, source).tensors;
  } catch (e) {
    if (!(e instanceof Error) || e.constructor !== Error || !e.message.startsWith(`pth ${source}: `)) throw e;
    return;
  }
  if (mustFail) assert.fail(`${source}: ${bytes.length} bytes parsed without an error`);
  let total = 0;
  for (const t of tensors.values()) total += t.data.byteLength;
  assert.ok(total <= 8 * bytes.length + (1 << 24), `${source}: ${total} bytes of output from ${bytes.length}`);
}

/** Byte-level damage: a flipped byte, a 32-bit field set to an extreme, a cut, inserted or deleted bytes. */
const damage = fc.oneof(
  fc.record({ kind: fc.constant("flip"), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({
    kind: fc.constant("u32"),
    at: fc.nat(),
    value: fc.constantFrom(0, 1, 0x7f, 0xff, 0x7fffffff, 0x80000000, 0xffffffff, 1 << 20),
  }),
  fc.record({ kind: fc.constant("cut"), at: fc.nat() }),
  fc.record({ kind: fc.constant("insert"), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 9 }) }),
  fc.record({ kind: fc.constant("delete"), at: fc.nat(), length: fc.integer({ min: 1, max: 9 }) }),
);
type Damage = typeof damage extends fc.Arbitrary<infer T> ? T : never;

function apply(bytes: Uint8Array, damages: readonly Damage[]): Uint8Array {
  let out = bytes.slice();
  for (const d of damages) {
    const at = out.length ? d.at % out.length : 0;
    if (d.kind === "flip") out[at] ^= d.mask;
    else if (d.kind === "u32") {
      if (at + 4 <= out.length) new DataView(out.buffer).setUint32(at, d.value, true);
    } else if (d.kind === "cut") out = out.slice(0, at);
    else if (d.kind === "insert") out = Uint8Array.from([...out.subarray(0, at), ...d.bytes, ...out.subarray(at)]);
    else out = Uint8Array.from([...out.subarray(0, at), ...out.subarray(at + d.length)]);
  }
  return out;
}

const FUZZ_RUNS = 2000;

Deno.test("parsePth fuzz: damaged files, and damaged pickles in intact archives, only ever give our error", () => {
  const started = performance.now();
  const files = ["mixed.pth", "mixed_legacy.pth", "mixed_p4.pth", "state_dict_wrapper.pth", "evil_system.pth"];
  const seeds = files.map(read);
  // Whole files: the zip directory and headers, the legacy framing, storages (and CRCs), pickles.
  fc.assert(
    fc.property(fc.nat(seeds.length - 1), fc.array(damage, { minLength: 1, maxLength: 6 }), (i, damages) => {
      assertClearError(apply(seeds[i], damages), files[i]);
    }),
    { numRuns: FUZZ_RUNS },
  );
  // Pickles only, re-zipped with good CRCs so that the damage reaches the unpickler in the zip format too.
  const archives = ["mixed.pth", "mixed_p4.pth", "state_dict_wrapper.pth"].map((f) => unzipSync(read(f)));
  fc.assert(
    fc.property(fc.nat(archives.length - 1), fc.array(damage, { minLength: 1, maxLength: 4 }), (i, damages) => {
      const files = { ...archives[i] };
      const name = Object.keys(files).find((n) => n.endsWith("/data.pkl"))!;
      files[name] = apply(files[name], damages);
      assertClearError(zipSync(files, { level: 0 }), "pickle.pth");
    }),
    { numRuns: FUZZ_RUNS },
  );
  console.log(`parsePth fuzz: ${2 * FUZZ_RUNS} damaged files in ${Math.round(performance.now() - started)} ms`);
});
