/**
 * NVRTC (`libnvrtc.so.13`, which loads `libnvrtc-builtins.so.13.*` from beside it when it compiles): the
 * symbols this backend binds to compile its own kernels at run time.
 *
 * Each entry's comment is its C prototype (nvrtc.h); `tests/cudnn_ffi_test.ts` checks the entries against
 * those comments.
 *
 * @module
 */

/** The NVRTC symbols. */
export const NVRTC_SYMBOLS = {
  /** const char *nvrtcGetErrorString(nvrtcResult result) */
  nvrtcGetErrorString: { parameters: ["i32"], result: "pointer" },
  /** nvrtcResult nvrtcVersion(int *major, int *minor) */
  nvrtcVersion: { parameters: ["buffer", "buffer"], result: "i32" },
  /** nvrtcResult nvrtcGetNumSupportedArchs(int *numArchs) */
  nvrtcGetNumSupportedArchs: { parameters: ["buffer"], result: "i32", optional: true },
  /** nvrtcResult nvrtcGetSupportedArchs(int *supportedArchs) */
  nvrtcGetSupportedArchs: { parameters: ["buffer"], result: "i32", optional: true },
  /**
   * nvrtcResult nvrtcCreateProgram(nvrtcProgram *prog, const char *src, const char *name, int numHeaders,
   *   const char * const *headers, const char * const *includeNames)
   */
  nvrtcCreateProgram: { parameters: ["buffer", "buffer", "buffer", "i32", "pointer", "pointer"], result: "i32" },
  /** nvrtcResult nvrtcCompileProgram(nvrtcProgram prog, int numOptions, const char * const *options) */
  nvrtcCompileProgram: { parameters: ["u64", "i32", "buffer"], result: "i32" },
  /** nvrtcResult nvrtcGetProgramLogSize(nvrtcProgram prog, size_t *logSizeRet) */
  nvrtcGetProgramLogSize: { parameters: ["u64", "buffer"], result: "i32" },
  /** nvrtcResult nvrtcGetProgramLog(nvrtcProgram prog, char *log) */
  nvrtcGetProgramLog: { parameters: ["u64", "buffer"], result: "i32" },
  /** nvrtcResult nvrtcGetCUBINSize(nvrtcProgram prog, size_t *cubinSizeRet) */
  nvrtcGetCUBINSize: { parameters: ["u64", "buffer"], result: "i32" },
  /** nvrtcResult nvrtcGetCUBIN(nvrtcProgram prog, char *cubin) */
  nvrtcGetCUBIN: { parameters: ["u64", "buffer"], result: "i32" },
  /** nvrtcResult nvrtcGetPTXSize(nvrtcProgram prog, size_t *ptxSizeRet) */
  nvrtcGetPTXSize: { parameters: ["u64", "buffer"], result: "i32" },
  /** nvrtcResult nvrtcGetPTX(nvrtcProgram prog, char *ptx) */
  nvrtcGetPTX: { parameters: ["u64", "buffer"], result: "i32" },
  /** nvrtcResult nvrtcDestroyProgram(nvrtcProgram *prog) */
  nvrtcDestroyProgram: { parameters: ["buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded NVRTC library. */
export type NvrtcLib = Deno.DynamicLibrary<typeof NVRTC_SYMBOLS>;
