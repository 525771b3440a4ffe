/**
 * cuBLAS (`libcublas.so.13`, which needs `libcublasLt.so.13` beside it): the symbols this backend binds.
 * The `_v2` names are the real exports behind cublas_v2.h's macros.
 *
 * Each entry's comment is its C prototype (cublas_api.h); `tests/cudnn_ffi_test.ts` checks the entries
 * against those comments.
 *
 * @module
 */

/** The cuBLAS symbols. */
export const CUBLAS_SYMBOLS = {
  /** cublasStatus_t cublasCreate_v2(cublasHandle_t *handle) */
  cublasCreate_v2: { parameters: ["buffer"], result: "i32" },
  /** cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) */
  cublasDestroy_v2: { parameters: ["u64"], result: "i32" },
  /** cublasStatus_t cublasGetVersion_v2(cublasHandle_t handle, int *version) */
  cublasGetVersion_v2: { parameters: ["u64", "buffer"], result: "i32" },
  /** cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId) */
  cublasSetStream_v2: { parameters: ["u64", "u64"], result: "i32" },
  /** cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) */
  cublasSetMathMode: { parameters: ["u64", "i32"], result: "i32" },
  /** const char *cublasGetStatusName(cublasStatus_t status) */
  cublasGetStatusName: { parameters: ["i32"], result: "pointer", optional: true },
  /** const char *cublasGetStatusString(cublasStatus_t status) */
  cublasGetStatusString: { parameters: ["i32"], result: "pointer", optional: true },
  /**
   * cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m,
   *   int n, int k, const float *alpha, const float *A, int lda, const float *B, int ldb, const float *beta,
   *   float *C, int ldc)
   */
  cublasSgemm_v2: {
    parameters: [
      "u64",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "buffer",
      "u64",
      "i32",
      "u64",
      "i32",
      "buffer",
      "u64",
      "i32",
    ],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded cuBLAS library. */
export type CublasLib = Deno.DynamicLibrary<typeof CUBLAS_SYMBOLS>;

/** cuBLAS enum values used here. */
export const CUBLAS = {
  OP_N: 0,
  OP_T: 1,
  /** Full FP32 (no TF32 tensor-core math). */
  DEFAULT_MATH: 0,
} as const;
