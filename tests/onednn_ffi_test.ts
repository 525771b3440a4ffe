/**
 * The onednn backend's symbol table against the C prototypes it cites (parameter counts, and FFI types that
 * carry each C type), the cited prototypes against the installed oneDNN headers, and every enum value, struct
 * size and field offset it uses against a C program compiled with those headers. The header checks run where
 * `/usr/include/oneapi/dnnl` and a C compiler exist (Debian/Ubuntu: `apt-get install libdnnl-dev gcc`).
 */
import { assert } from "./_assert.ts";
import { type CProto, parseProto, tableComments } from "./_cudnn_cproto.ts";
import {
  DNNL,
  DNNL_OFFSETS,
  DNNL_SIZES,
  DNNL_SYMBOLS,
  GOMP_SYMBOLS,
  MAX_OP_DESC_BYTES,
} from "../src/backends/onednn_ffi/_ffi_dnnl.ts";

const SOURCE = new URL("../src/backends/onednn_ffi/_ffi_dnnl.ts", import.meta.url);
const HEADERS = "/usr/include/oneapi/dnnl";

/** Opaque handles (pointers to incomplete structs), passed by value as `"u64"`. */
const HANDLES = new Set([
  "dnnl_engine_t",
  "dnnl_stream_t",
  "dnnl_memory_t",
  "const_dnnl_memory_t",
  "dnnl_primitive_t",
  "const_dnnl_primitive_t",
  "dnnl_primitive_desc_t",
  "const_dnnl_primitive_desc_t",
  "dnnl_primitive_desc_iterator_t",
  "const_dnnl_primitive_desc_iterator_t",
  "dnnl_primitive_attr_t",
  "const_dnnl_primitive_attr_t",
  "dnnl_post_ops_t",
  "const_dnnl_post_ops_t",
]);
/** `int`-sized enums and ints. */
const INTS = new Set([
  "int",
  "dnnl_status_t",
  "dnnl_engine_kind_t",
  "dnnl_data_type_t",
  "dnnl_format_tag_t",
  "dnnl_prop_kind_t",
  "dnnl_alg_kind_t",
  "dnnl_query_t",
  "dnnl_scratchpad_mode_t",
  "dnnl_cpu_isa_t",
]);

/** `unsigned flags` (the parser keeps the name after a lone `unsigned`) is an `unsigned`. */
function norm(p: CProto): CProto {
  const t = (type: string) => type.replace(/^unsigned(?: (?!int\b|long\b|short\b|char\b)\w+)?$/, "unsigned");
  return {
    ...p,
    result: { ...p.result, type: t(p.result.type) },
    params: p.params.map((q) => ({ ...q, type: t(q.type) })),
  };
}

/** The FFI types that may carry a C type, or undefined for one this test does not know. */
function ffiTypesFor(type: string, result: boolean): readonly string[] | undefined {
  // An array typedef (dnnl_dims_t) and `const void *` (const_dnnl_op_desc_t) are passed as pointers to memory.
  if (type.includes("*") || type === "dnnl_dims_t" || type === "const_dnnl_op_desc_t") {
    // `void *`: a data address (`u64`) or memory of ours (`buffer`) that a call writes
    return result ? ["pointer"] : type === "void*" ? ["u64", "pointer", "buffer"] : ["buffer"];
  }
  if (HANDLES.has(type)) return ["u64"];
  if (INTS.has(type)) return ["i32"];
  return { "unsigned": ["u32"], "size_t": ["usize"], "float": ["f32"], "void": result ? ["void"] : undefined }[type];
}

Deno.test("_ffi_dnnl.ts: every symbol cites its C prototype, and the FFI types carry the C types", () => {
  const protos = tableComments(Deno.readTextFileSync(SOURCE));
  const problems: string[] = [];
  for (const [name, def] of Object.entries({ ...DNNL_SYMBOLS, ...GOMP_SYMBOLS })) {
    const fn = def as Deno.ForeignFunction;
    const cited = protos.get(name);
    const proto = cited && norm(cited);
    if (!proto) {
      problems.push(`${name}: no C prototype in its comment`);
      continue;
    }
    if (proto.name !== name) problems.push(`${name}: the comment declares ${proto.name}`);
    if (proto.params.length !== fn.parameters.length) {
      problems.push(`${name}: ${fn.parameters.length} FFI parameters for ${proto.params.length} in C`);
      continue;
    }
    proto.params.forEach((c, i) => {
      const allowed = ffiTypesFor(c.type, false);
      const got = String(fn.parameters[i]);
      if (!allowed) problems.push(`${name} parameter ${i}: unknown C type ${c.type}`);
      else if (!allowed.includes(got)) problems.push(`${name} parameter ${i}: ${got} cannot carry ${c.type}`);
    });
    if (!ffiTypesFor(proto.result.type, true)?.includes(String(fn.result))) {
      problems.push(`${name}: result ${String(fn.result)} cannot carry ${proto.result.type}`);
    }
    if (fn.nonblocking) problems.push(`${name}: nonblocking`);
  }
  if (problems.length) throw new Error(problems.join("\n"));
  assert.ok(MAX_OP_DESC_BYTES >= DNNL_SIZES.dnnl_convolution_desc_t);
});

function read(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

const header = read(`${HEADERS}/dnnl.h`);
const debugHeader = read(`${HEADERS}/dnnl_debug.h`);

/** The `DNNL_API` functions a header declares, by name. */
function headerProtos(text: string): Map<string, CProto> {
  const out = new Map<string, CProto>();
  const flat = text.replace(/\/\/[^\n]*|\/\*[\s\S]*?\*\/|^\s*#[^\n]*/gm, " ");
  for (const m of flat.matchAll(/([A-Za-z_][\w\s]*?)\s+DNNL_API\s*(\*?)\s*(\w+)\s*\(([^;{]*?)\)\s*;/g)) {
    out.set(m[3], norm(parseProto(`${m[1]} ${m[2]}${m[3]}(${m[4]})`)));
  }
  return out;
}

function show(p: CProto): string {
  return `${p.result.type} ${p.name}(${p.params.map((q) => q.type).join(", ")})`;
}

Deno.test({
  name: "the prototypes cited match the installed oneDNN headers",
  ignore: !header || !debugHeader,
  fn: () => {
    const declared = new Map([...headerProtos(header!), ...headerProtos(debugHeader!)]);
    const cited = tableComments(Deno.readTextFileSync(SOURCE));
    const problems: string[] = [];
    for (const name of Object.keys(DNNL_SYMBOLS)) {
      const c = norm(cited.get(name)!), h = declared.get(name);
      if (!h) problems.push(`${name}: not declared in ${HEADERS}`);
      else if (show(c) !== show(h)) problems.push(`${name}: cited ${show(c)}, the header has ${show(h)}`);
    }
    if (problems.length) throw new Error(problems.join("\n"));
  },
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

Deno.test({
  name: "every enum value, struct size and field offset used matches a C program compiled with the headers",
  ignore: !header || !cc,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "onednn_consts_" });
    try {
      const lines = [
        ...Object.keys(DNNL).map((k) => `printf("${k} %ld\\n", (long)(${k}));`),
        ...Object.keys(DNNL_SIZES).map((k) => `printf("${k} %ld\\n", (long)sizeof(${k}));`),
        ...Object.keys(DNNL_OFFSETS).map((k) => {
          const [type, field] = k.split(".");
          return `printf("${k} %ld\\n", (long)offsetof(${type}, ${field}));`;
        }),
      ];
      const source = `#include <stdio.h>\n#include <stddef.h>\n#include <oneapi/dnnl/dnnl.h>\n` +
        `int main(void) {\n${lines.join("\n")}\nreturn 0;\n}\n`;
      await Deno.writeTextFile(`${dir}/consts.c`, source);
      const built = await new Deno.Command(cc!, { args: [`${dir}/consts.c`, "-o", `${dir}/consts`] }).output();
      assert.ok(built.success, new TextDecoder().decode(built.stderr));
      const out = new TextDecoder().decode((await new Deno.Command(`${dir}/consts`).output()).stdout);
      const actual = new Map(out.trim().split("\n").map((l) => l.split(" ") as [string, string]));
      const expected = { ...DNNL, ...DNNL_SIZES, ...DNNL_OFFSETS } as Record<string, number>;
      const problems = Object.entries(expected).filter(([k, v]) => Number(actual.get(k)) !== v)
        .map(([k, v]) => `${k}: ${v} here, ${actual.get(k)} in the header`);
      if (problems.length) throw new Error(problems.join("\n"));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
