/**
 * Reading C prototypes: from the comments of the cudnn backend's symbol tables, from cuda.h, and from the
 * research brief's header excerpts; and which Deno FFI types may carry each C type.
 *
 * @module
 */

/** One C parameter or result type, normalised (`const` dropped, `[]` read as `*`, no spaces around `*`). */
export interface CType {
  /** e.g. `"size_t"`, `"char**"`, `"cudnnHandle_t"` */
  readonly type: string;
  readonly pointer: boolean;
}

/** A parsed prototype. */
export interface CProto {
  readonly name: string;
  readonly result: CType;
  readonly params: readonly CType[];
}

/** Normalises a C type: drops `const`, collapses spaces, glues `*`s to the type. */
export function normalizeType(raw: string): CType {
  const t = raw.replace(/\bconst\b/g, " ").replace(/\s+/g, " ").replace(/\s*\*\s*/g, "*").trim();
  return { type: t, pointer: t.includes("*") };
}

/** Splits `type name` (or a bare type) into its normalised type. */
export function parseParam(raw: string): CType {
  let p = raw.trim();
  let array = false;
  if (p.endsWith("[]")) {
    p = p.slice(0, -2).trim();
    array = true;
  }
  // The name is the last identifier when something precedes it (other than a lone type keyword).
  const m = /^(.*?[\s*])([A-Za-z_]\w*)$/.exec(p);
  const typePart = m && !/^(const\s+)?(unsigned|signed|long|short)?\s*$/.test(m[1].trim()) ? m[1] : p;
  const t = normalizeType(typePart);
  return array ? { type: `${t.type}*`, pointer: true } : t;
}

/** Parses `result name(params)`. */
export function parseProto(text: string): CProto {
  const flat = text.replace(/\s+/g, " ").trim();
  const m = /^(.*?)\b([A-Za-z_]\w*)\s*\((.*)\)\s*;?$/.exec(flat);
  if (!m) throw new Error(`not a C prototype: ${text}`);
  const params = m[3].trim() === "void" || m[3].trim() === "" ? [] : splitParams(m[3]).map(parseParam);
  return { name: m[2], result: normalizeType(m[1]), params };
}

function splitParams(s: string): string[] {
  return s.split(",").map((p) => p.trim()).filter((p) => p.length > 0);
}

/** The symbol table entries of a `_ffi_*.ts` source: each key with the prototype in the comment above it. */
export function tableComments(source: string): Map<string, CProto> {
  const out = new Map<string, CProto>();
  const re = /\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*(\w+):\s*\{/g;
  for (const m of source.matchAll(re)) {
    const text = m[1].split("\n").map((l) => l.replace(/^\s*\*\s?/, "")).join(" ");
    out.set(m[2], parseProto(text));
  }
  return out;
}

/** Opaque handle types (pointers to incomplete structs), passed by value as `"u64"`. */
export const HANDLE_TYPES: ReadonlySet<string> = new Set([
  "CUcontext",
  "CUstream",
  "CUmodule",
  "CUfunction",
  "CUevent",
  "CUdeviceptr",
  "cudaStream_t",
  "cudnnHandle_t",
  "cudnnTensorDescriptor_t",
  "cudnnFilterDescriptor_t",
  "cudnnConvolutionDescriptor_t",
  "cublasHandle_t",
  "nvrtcProgram",
]);

/** Types that are C `int`s or `int`-sized enums. */
export const INT_TYPES: ReadonlySet<string> = new Set([
  "int",
  "CUresult",
  "CUdevice",
  "CUdevice_attribute",
  "cudnnStatus_t",
  "cudnnTensorFormat_t",
  "cudnnDataType_t",
  "cudnnConvolutionMode_t",
  "cudnnMathType_t",
  "cudnnConvolutionFwdAlgo_t",
  "cudnnConvolutionBwdDataAlgo_t",
  "cudnnConvolutionBwdFilterAlgo_t",
  "cudnnBatchNormMode_t",
  "cublasStatus_t",
  "cublasOperation_t",
  "cublasMath_t",
  "nvrtcResult",
]);

/** The Deno FFI types that carry a C type, or undefined for a type this file does not know. */
export function ffiTypesFor(t: CType, result = false): readonly string[] | undefined {
  if (t.pointer) return result ? ["pointer"] : ["buffer", "pointer", "u64"];
  if (HANDLE_TYPES.has(t.type)) return ["u64"];
  if (INT_TYPES.has(t.type)) return ["i32"];
  switch (t.type) {
    case "unsigned int":
      return ["u32"];
    case "size_t":
      return ["usize"];
    case "double":
      return ["f64"];
    case "float":
      return ["f32"];
    case "long long int":
    case "long long":
      return ["i64"];
    case "void":
      return result ? ["void"] : undefined;
  }
  return undefined;
}

/**
 * The driver API prototypes of cuda.h by the symbol they bind to: `#define cuMemAlloc cuMemAlloc_v2` maps
 * the declared name to the exported one. Only the first declaration counts (the legacy ABI section at the
 * end of the header redeclares the old ones).
 */
export function cudaHeaderProtos(header: string): Map<string, CProto> {
  const exported = new Map<string, string>();
  for (const m of header.matchAll(/#define\s+(cu\w+)\s+(?:__CUDA_API_PT(?:DS|SZ)\()?(cu\w+?)\)?\s*$/gm)) {
    if (!exported.has(m[1])) exported.set(m[1], m[2]);
  }
  const out = new Map<string, CProto>();
  for (const m of header.matchAll(/CUresult\s+CUDAAPI\s+(cu\w+)\s*\(([^;]*?)\)\s*;/g)) {
    const symbol = exported.get(m[1]) ?? m[1];
    if (out.has(symbol)) continue;
    out.set(symbol, { ...parseProto(`CUresult ${m[1]}(${m[2]})`), name: symbol });
  }
  return out;
}

/** The cuDNN, cuBLAS and NVRTC prototypes quoted one per line in the research brief. */
export function briefProtos(brief: string): Map<string, CProto> {
  const out = new Map<string, CProto>();
  const re = /^\s*([A-Za-z_][\w ]*?\s*\*?)\s*\b((?:cudnn|cublas|nvrtc)\w+)\s*\(([^()]*)\)\s*;/gm;
  for (const m of brief.matchAll(re)) {
    if (m[3].includes("...") || out.has(m[2])) continue;
    out.set(m[2], parseProto(`${m[1]} ${m[2]}(${m[3]})`));
  }
  return out;
}
