/**
 * Status codes of the four native libraries, and the one `check(status, "cudnnConvolutionForward")` path
 * that turns every failing status into an error naming the call and the status.
 *
 * The library that owns a call is read off its name (`cudnn…`, `cublas…`, `nvrtc…`, else the CUDA driver's
 * `cu…`). Once a library is loaded, its own describer (`cudnnGetErrorString`, `cuGetErrorName`, …) names the
 * status; before that, or when it has no name for it, the tables below do.
 *
 * @module
 */

/** The native library a call belongs to. */
export type CudaLibrary = "cuda" | "cudnn" | "cublas" | "nvrtc";

/** A failing call into one of the native libraries. */
export class CudaError extends Error {
  /** The C function that failed, e.g. `"cudnnConvolutionForward"`. */
  readonly call: string;
  /** Its status code. */
  readonly status: number;
  /** The status' name, e.g. `"CUDNN_STATUS_BAD_PARAM"`. */
  readonly statusName: string;
  /** The library the call belongs to. */
  readonly library: CudaLibrary;

  constructor(call: string, status: number, statusName: string, detail: string, options?: ErrorOptions) {
    super(`${call} failed: ${statusName} (${status})${detail ? `: ${detail}` : ""}`, options);
    this.name = "CudaError";
    this.call = call;
    this.status = status;
    this.statusName = statusName;
    this.library = libraryOf(call);
  }
}

/** `CUresult` names (cuda.h, CUDA 13.0) of the codes a program like this one can meet. */
export const CU_RESULT_NAMES: Readonly<Record<number, string>> = {
  0: "CUDA_SUCCESS",
  1: "CUDA_ERROR_INVALID_VALUE",
  2: "CUDA_ERROR_OUT_OF_MEMORY",
  3: "CUDA_ERROR_NOT_INITIALIZED",
  4: "CUDA_ERROR_DEINITIALIZED",
  34: "CUDA_ERROR_STUB_LIBRARY",
  36: "CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER",
  46: "CUDA_ERROR_DEVICE_UNAVAILABLE",
  100: "CUDA_ERROR_NO_DEVICE",
  101: "CUDA_ERROR_INVALID_DEVICE",
  200: "CUDA_ERROR_INVALID_IMAGE",
  201: "CUDA_ERROR_INVALID_CONTEXT",
  209: "CUDA_ERROR_NO_BINARY_FOR_GPU",
  218: "CUDA_ERROR_INVALID_PTX",
  222: "CUDA_ERROR_UNSUPPORTED_PTX_VERSION",
  400: "CUDA_ERROR_INVALID_HANDLE",
  500: "CUDA_ERROR_NOT_FOUND",
  600: "CUDA_ERROR_NOT_READY",
  700: "CUDA_ERROR_ILLEGAL_ADDRESS",
  701: "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
  702: "CUDA_ERROR_LAUNCH_TIMEOUT",
  716: "CUDA_ERROR_MISALIGNED_ADDRESS",
  719: "CUDA_ERROR_LAUNCH_FAILED",
  801: "CUDA_ERROR_NOT_SUPPORTED",
  803: "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH",
  804: "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE",
  999: "CUDA_ERROR_UNKNOWN",
};

/** `cudnnStatus_t` names (cudnn_graph.h, cuDNN 9). */
export const CUDNN_STATUS_NAMES: Readonly<Record<number, string>> = {
  0: "CUDNN_STATUS_SUCCESS",
  1001: "CUDNN_STATUS_NOT_INITIALIZED",
  1002: "CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH",
  1003: "CUDNN_STATUS_SERIALIZATION_VERSION_MISMATCH",
  1004: "CUDNN_STATUS_DEPRECATED",
  1005: "CUDNN_STATUS_LICENSE_ERROR",
  1006: "CUDNN_STATUS_RUNTIME_IN_PROGRESS",
  1007: "CUDNN_STATUS_RUNTIME_FP_OVERFLOW",
  1008: "CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED",
  2000: "CUDNN_STATUS_BAD_PARAM",
  2002: "CUDNN_STATUS_BAD_PARAM_NULL_POINTER",
  2003: "CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER",
  2004: "CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED",
  2005: "CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND",
  2006: "CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT",
  2007: "CUDNN_STATUS_BAD_PARAM_STREAM_MISMATCH",
  2008: "CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH",
  3000: "CUDNN_STATUS_NOT_SUPPORTED",
  3002: "CUDNN_STATUS_NOT_SUPPORTED_SHAPE",
  3003: "CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE",
  3004: "CUDNN_STATUS_NOT_SUPPORTED_LAYOUT",
  3005: "CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDA_DRIVER",
  3006: "CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDART",
  3007: "CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH",
  3008: "CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING",
  3009: "CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE",
  3010: "CUDNN_STATUS_NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT",
  4000: "CUDNN_STATUS_INTERNAL_ERROR",
  4001: "CUDNN_STATUS_INTERNAL_ERROR_COMPILATION_FAILED",
  4003: "CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED",
  4004: "CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED",
  5000: "CUDNN_STATUS_EXECUTION_FAILED",
  5001: "CUDNN_STATUS_EXECUTION_FAILED_CUDA_DRIVER",
  5002: "CUDNN_STATUS_EXECUTION_FAILED_CUBLAS",
  5003: "CUDNN_STATUS_EXECUTION_FAILED_CUDART",
};

/** `cublasStatus_t` names (cublas_api.h). */
export const CUBLAS_STATUS_NAMES: Readonly<Record<number, string>> = {
  0: "CUBLAS_STATUS_SUCCESS",
  1: "CUBLAS_STATUS_NOT_INITIALIZED",
  3: "CUBLAS_STATUS_ALLOC_FAILED",
  7: "CUBLAS_STATUS_INVALID_VALUE",
  8: "CUBLAS_STATUS_ARCH_MISMATCH",
  11: "CUBLAS_STATUS_MAPPING_ERROR",
  13: "CUBLAS_STATUS_EXECUTION_FAILED",
  14: "CUBLAS_STATUS_INTERNAL_ERROR",
  15: "CUBLAS_STATUS_NOT_SUPPORTED",
  16: "CUBLAS_STATUS_LICENSE_ERROR",
};

/** `nvrtcResult` names (nvrtc.h). */
export const NVRTC_RESULT_NAMES: Readonly<Record<number, string>> = {
  0: "NVRTC_SUCCESS",
  1: "NVRTC_ERROR_OUT_OF_MEMORY",
  2: "NVRTC_ERROR_PROGRAM_CREATION_FAILURE",
  3: "NVRTC_ERROR_INVALID_INPUT",
  4: "NVRTC_ERROR_INVALID_PROGRAM",
  5: "NVRTC_ERROR_INVALID_OPTION",
  6: "NVRTC_ERROR_COMPILATION",
  7: "NVRTC_ERROR_BUILTIN_OPERATION_FAILURE",
  8: "NVRTC_ERROR_NO_NAME_EXPRESSIONS_AFTER_COMPILATION",
  9: "NVRTC_ERROR_NO_LOWERED_NAMES_BEFORE_COMPILATION",
  10: "NVRTC_ERROR_NAME_EXPRESSION_NOT_VALID",
  11: "NVRTC_ERROR_INTERNAL_ERROR",
  12: "NVRTC_ERROR_TIME_FILE_WRITE_FAILED",
};

const TABLES: Readonly<Record<CudaLibrary, Readonly<Record<number, string>>>> = {
  cuda: CU_RESULT_NAMES,
  cudnn: CUDNN_STATUS_NAMES,
  cublas: CUBLAS_STATUS_NAMES,
  nvrtc: NVRTC_RESULT_NAMES,
};

const UNKNOWN_PREFIX: Readonly<Record<CudaLibrary, string>> = {
  cuda: "CUDA_ERROR",
  cudnn: "CUDNN_STATUS",
  cublas: "CUBLAS_STATUS",
  nvrtc: "NVRTC_ERROR",
};

/** The library a C function belongs to, from its name. */
export function libraryOf(call: string): CudaLibrary {
  if (call.startsWith("cudnn")) return "cudnn";
  if (call.startsWith("cublas")) return "cublas";
  if (call.startsWith("nvrtc")) return "nvrtc";
  return "cuda";
}

/** What a loaded library says about one of its status codes: its name and, where it has one, a detail. */
export interface StatusDescription {
  readonly name?: string;
  readonly detail?: string;
}

/** A loaded library's own describer of its status codes (it may return nothing for a code). */
export type StatusDescriber = (status: number) => StatusDescription;

/** `check(status, call)`: returns when `status` is 0, else throws a {@linkcode CudaError}. */
export type Check = (status: number, call: string) => void;

/**
 * A `check` that names failing statuses with the loaded libraries' describers, falling back to the
 * static tables. Describers are looked up at each failure, so libraries loaded later are used too.
 *
 * @example
 * ```ts
 * const check = makeCheck(new Map());
 * check(0, "cudnnCreate"); // returns
 * check(2000, "cudnnConvolutionForward"); // throws "cudnnConvolutionForward failed: CUDNN_STATUS_BAD_PARAM (2000)"
 * ```
 */
export function makeCheck(describers: ReadonlyMap<CudaLibrary, StatusDescriber>): Check {
  return (status, call) => {
    if (status === 0) return;
    throw statusError(status, call, describers);
  };
}

/** The error for a failing `status` of `call`, named as {@linkcode makeCheck} names it, with `extraDetail` appended. */
export function statusError(
  status: number,
  call: string,
  describers: ReadonlyMap<CudaLibrary, StatusDescriber> = new Map(),
  extraDetail = "",
): CudaError {
  const library = libraryOf(call);
  let described: StatusDescription = {};
  try {
    described = describers.get(library)?.(status) ?? {};
  } catch {
    // A describer that fails must not hide the status it was asked about.
  }
  const name = described.name || TABLES[library][status] || `${UNKNOWN_PREFIX[library]}_${status}`;
  const detail = [described.detail && described.detail !== name ? described.detail : "", extraDetail]
    .filter((d) => d).join("\n");
  return new CudaError(call, status, name, detail);
}
