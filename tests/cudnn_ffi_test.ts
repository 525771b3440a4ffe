/**
 * The cudnn backend's four symbol tables against the C prototypes they cite: parameter counts and FFI types
 * that carry each C type; the cited prototypes against cuda.h (where the CUDA toolkit is installed) and
 * against the header excerpts of the research brief (where `../shared` holds it). No GPU needed.
 */
import { CUBLAS_SYMBOLS } from "../src/backends/cudnn_ffi/_ffi_cublas.ts";
import { CU_DEVICE_ATTRIBUTE, CUDA_SYMBOLS } from "../src/backends/cudnn_ffi/_ffi_cuda.ts";
import { CUDNN, CUDNN_SYMBOLS } from "../src/backends/cudnn_ffi/_ffi_cudnn.ts";
import { NVRTC_SYMBOLS } from "../src/backends/cudnn_ffi/_ffi_nvrtc.ts";
import { CU_RESULT_NAMES } from "../src/backends/cudnn_ffi/_status.ts";
import { briefProtos, type CProto, cudaHeaderProtos, ffiTypesFor, parseProto, tableComments } from "./_cudnn_cproto.ts";

const TABLES = {
  "_ffi_cuda.ts": CUDA_SYMBOLS,
  "_ffi_cudnn.ts": CUDNN_SYMBOLS,
  "_ffi_cublas.ts": CUBLAS_SYMBOLS,
  "_ffi_nvrtc.ts": NVRTC_SYMBOLS,
} as const;

function comments(file: keyof typeof TABLES): Map<string, CProto> {
  return tableComments(Deno.readTextFileSync(new URL(`../src/backends/cudnn_ffi/${file}`, import.meta.url)));
}

function readIfExists(path: string | URL): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

const CUDA_H = "/usr/local/cuda/include/cuda.h";
const cudaHeader = readIfExists(CUDA_H);
const BRIEF = new URL("../../shared/research/cudnn-ffi.md", import.meta.url);
const brief = readIfExists(BRIEF);

function sameTypes(a: CProto, b: CProto): boolean {
  return a.params.length === b.params.length && a.params.every((p, i) => p.type === b.params[i].type) &&
    a.result.type === b.result.type;
}

function show(p: CProto): string {
  return `${p.result.type} ${p.name}(${p.params.map((q) => q.type).join(", ")})`;
}

Deno.test("C prototypes parse: pointers, arrays, const, unsigned, void", () => {
  const p = parseProto(
    "cudnnStatus_t f(const cudnnTensorDescriptor_t x, const void *y, int dims[], unsigned int n, const char * const *opts)",
  );
  const types = p.params.map((q) => q.type);
  if (
    JSON.stringify(types) !== JSON.stringify(["cudnnTensorDescriptor_t", "void*", "int*", "unsigned int", "char**"])
  ) {
    throw new Error(`parsed ${JSON.stringify(types)}`);
  }
  if (parseProto("size_t cudnnGetVersion(void)").params.length !== 0) throw new Error("(void) has no parameters");
  if (parseProto("const char *g(int s)").result.type !== "char*") throw new Error("pointer result");
});

for (const [file, table] of Object.entries(TABLES) as [keyof typeof TABLES, Deno.ForeignLibraryInterface][]) {
  Deno.test(`${file}: every symbol cites its C prototype, and the FFI types carry the C types`, () => {
    const protos = comments(file);
    const problems: string[] = [];
    for (const [name, def] of Object.entries(table)) {
      const fn = def as Deno.ForeignFunction;
      const proto = protos.get(name);
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
        const allowed = ffiTypesFor(c);
        const got = String(fn.parameters[i]);
        if (!allowed) problems.push(`${name} parameter ${i}: unknown C type ${c.type}`);
        else if (!allowed.includes(got)) problems.push(`${name} parameter ${i}: ${got} cannot carry ${c.type}`);
      });
      const allowedResult = ffiTypesFor(proto.result, true);
      if (!allowedResult?.includes(String(fn.result))) {
        problems.push(`${name}: result ${String(fn.result)} cannot carry ${proto.result.type}`);
      }
      if (fn.nonblocking) {
        problems.push(`${name}: nonblocking calls run on another thread, where no CUDA context is current`);
      }
    }
    if (problems.length) throw new Error(problems.join("\n"));
  });
}

Deno.test("the driver symbols are the versioned exports (never the 32-bit legacy names)", () => {
  const mustBeVersioned = [
    "cuMemAlloc",
    "cuMemFree",
    "cuMemGetInfo",
    "cuMemAllocHost",
    "cuMemcpyHtoDAsync",
    "cuMemcpyDtoHAsync",
    "cuMemcpyDtoDAsync",
    "cuDeviceTotalMem",
    "cuStreamDestroy",
    "cuEventDestroy",
    "cuDevicePrimaryCtxRelease",
  ];
  const names = Object.keys(CUDA_SYMBOLS);
  for (const legacy of mustBeVersioned) {
    if (names.includes(legacy)) throw new Error(`${legacy} is bound by its legacy name`);
    if (!names.includes(`${legacy}_v2`)) throw new Error(`${legacy}_v2 is not bound`);
  }
});

Deno.test({
  name: "the driver prototypes cited match cuda.h",
  ignore: !cudaHeader,
  fn: () => {
    const header = cudaHeaderProtos(cudaHeader!);
    const problems: string[] = [];
    for (const [name, proto] of comments("_ffi_cuda.ts")) {
      const h = header.get(name);
      if (!h) problems.push(`${name}: not declared in ${CUDA_H}`);
      else if (!sameTypes(proto, h)) problems.push(`${name}: cited ${show(proto)}, cuda.h has ${show(h)}`);
    }
    // Enum values used here.
    for (const [what, value] of Object.entries(CU_DEVICE_ATTRIBUTE)) {
      if (!new RegExp(`CU_DEVICE_ATTRIBUTE_${what}\\s*=\\s*${value}\\b`).test(cudaHeader!)) {
        problems.push(`CU_DEVICE_ATTRIBUTE_${what} is not ${value}`);
      }
    }
    for (const [code, name] of Object.entries(CU_RESULT_NAMES)) {
      if (!new RegExp(`${name}\\s*=\\s*${code}\\b`).test(cudaHeader!)) {
        problems.push(`${name} is not ${code} in cuda.h`);
      }
    }
    if (problems.length) throw new Error(problems.join("\n"));
  },
});

Deno.test({
  name: "the cuDNN, cuBLAS and NVRTC prototypes cited match the research brief's header excerpts",
  ignore: !brief,
  fn: () => {
    const quoted = briefProtos(brief!);
    const problems: string[] = [];
    let compared = 0;
    for (const file of ["_ffi_cudnn.ts", "_ffi_cublas.ts", "_ffi_nvrtc.ts"] as const) {
      for (const [name, proto] of comments(file)) {
        const q = quoted.get(name);
        if (!q) continue;
        compared++;
        if (!sameTypes(proto, q)) problems.push(`${name}: cited ${show(proto)}, the brief has ${show(q)}`);
      }
    }
    if (compared < 30) problems.push(`only ${compared} prototypes found in the brief to compare`);
    if (problems.length) throw new Error(problems.join("\n"));
  },
});

Deno.test({
  name: "the cuDNN enum values used match the research brief",
  ignore: !brief,
  fn: () => {
    const expect: [string, number][] = [
      ["CROSS_CORRELATION 1", CUDNN.CROSS_CORRELATION],
      ["FMA_MATH 3", CUDNN.FMA_MATH],
      ["SPATIAL 1", CUDNN.BATCHNORM_SPATIAL],
      ["FLOAT 0", CUDNN.DATA_FLOAT],
      ["NCHW 0", CUDNN.TENSOR_NCHW],
    ];
    for (const [text, value] of expect) {
      if (!brief!.includes(text) || Number(text.split(" ")[1]) !== value) {
        throw new Error(`${text} does not match ${value}`);
      }
    }
  },
});
