/**
 * The CUDA driver API (`libcuda.so.1`, installed with the NVIDIA driver): the symbols this backend binds.
 *
 * Versioned names are bound explicitly (`cuMemAlloc_v2`, not `cuMemAlloc`): the unsuffixed exports keep the
 * old 32-bit ABI for binary compatibility, and cuda.h only maps the names with `#define`s. Handles
 * (`CUcontext`, `CUstream`, `CUmodule`, `CUfunction`, `CUevent`) and device pointers (`CUdeviceptr`) travel as
 * `"u64"` bigints; out-parameters are `"buffer"`s (a `BigUint64Array(1)` or `Int32Array(1)`).
 *
 * Each entry's comment is its C prototype (cuda.h, CUDA 13.0); `tests/cudnn_ffi_test.ts` checks the entries
 * against those comments and the comments against cuda.h where it is installed.
 *
 * @module
 */

/** The CUDA driver symbols. */
export const CUDA_SYMBOLS = {
  /** CUresult cuInit(unsigned int Flags) */
  cuInit: { parameters: ["u32"], result: "i32" },
  /** CUresult cuDriverGetVersion(int *driverVersion) */
  cuDriverGetVersion: { parameters: ["buffer"], result: "i32" },
  /** CUresult cuGetErrorName(CUresult error, const char **pStr) */
  cuGetErrorName: { parameters: ["i32", "buffer"], result: "i32" },
  /** CUresult cuGetErrorString(CUresult error, const char **pStr) */
  cuGetErrorString: { parameters: ["i32", "buffer"], result: "i32" },
  /** CUresult cuDeviceGetCount(int *count) */
  cuDeviceGetCount: { parameters: ["buffer"], result: "i32" },
  /** CUresult cuDeviceGet(CUdevice *device, int ordinal) */
  cuDeviceGet: { parameters: ["buffer", "i32"], result: "i32" },
  /** CUresult cuDeviceGetName(char *name, int len, CUdevice dev) */
  cuDeviceGetName: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  /** CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev) */
  cuDeviceGetAttribute: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  /** CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev) */
  cuDeviceTotalMem_v2: { parameters: ["buffer", "i32"], result: "i32" },
  /** CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev) */
  cuDevicePrimaryCtxRetain: { parameters: ["buffer", "i32"], result: "i32" },
  /** CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) */
  cuDevicePrimaryCtxRelease_v2: { parameters: ["i32"], result: "i32" },
  /** CUresult cuCtxSetCurrent(CUcontext ctx) */
  cuCtxSetCurrent: { parameters: ["u64"], result: "i32" },
  /** CUresult cuCtxSynchronize(void) */
  cuCtxSynchronize: { parameters: [], result: "i32" },
  /** CUresult cuMemGetInfo_v2(size_t *free, size_t *total) */
  cuMemGetInfo_v2: { parameters: ["buffer", "buffer"], result: "i32" },
  /** CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize) */
  cuMemAlloc_v2: { parameters: ["buffer", "usize"], result: "i32" },
  /** CUresult cuMemFree_v2(CUdeviceptr dptr) */
  cuMemFree_v2: { parameters: ["u64"], result: "i32" },
  /** CUresult cuMemAllocHost_v2(void **pp, size_t bytesize) */
  cuMemAllocHost_v2: { parameters: ["buffer", "usize"], result: "i32" },
  /** CUresult cuMemFreeHost(void *p) */
  cuMemFreeHost: { parameters: ["u64"], result: "i32" },
  /** CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount, CUstream hStream) */
  cuMemcpyHtoDAsync_v2: { parameters: ["u64", "buffer", "usize", "u64"], result: "i32" },
  /** CUresult cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream) */
  cuMemcpyDtoHAsync_v2: { parameters: ["u64", "u64", "usize", "u64"], result: "i32" },
  /** CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream) */
  cuMemcpyDtoDAsync_v2: { parameters: ["u64", "u64", "usize", "u64"], result: "i32" },
  /** CUresult cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream) */
  cuMemsetD32Async: { parameters: ["u64", "u32", "usize", "u64"], result: "i32" },
  /** CUresult cuModuleLoadData(CUmodule *module, const void *image) */
  cuModuleLoadData: { parameters: ["buffer", "buffer"], result: "i32" },
  /** CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name) */
  cuModuleGetFunction: { parameters: ["buffer", "u64", "buffer"], result: "i32" },
  /** CUresult cuModuleUnload(CUmodule hmod) */
  cuModuleUnload: { parameters: ["u64"], result: "i32" },
  /**
   * CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
   *   unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ, unsigned int sharedMemBytes,
   *   CUstream hStream, void **kernelParams, void **extra)
   */
  cuLaunchKernel: {
    parameters: ["u64", "u32", "u32", "u32", "u32", "u32", "u32", "u32", "u64", "buffer", "pointer"],
    result: "i32",
  },
  /** CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags) */
  cuStreamCreate: { parameters: ["buffer", "u32"], result: "i32" },
  /** CUresult cuStreamSynchronize(CUstream hStream) */
  cuStreamSynchronize: { parameters: ["u64"], result: "i32" },
  /** CUresult cuStreamDestroy_v2(CUstream hStream) */
  cuStreamDestroy_v2: { parameters: ["u64"], result: "i32" },
  /** CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags) */
  cuEventCreate: { parameters: ["buffer", "u32"], result: "i32" },
  /** CUresult cuEventRecord(CUevent hEvent, CUstream hStream) */
  cuEventRecord: { parameters: ["u64", "u64"], result: "i32" },
  /** CUresult cuEventQuery(CUevent hEvent) */
  cuEventQuery: { parameters: ["u64"], result: "i32" },
  /** CUresult cuEventSynchronize(CUevent hEvent) */
  cuEventSynchronize: { parameters: ["u64"], result: "i32" },
  /** CUresult cuEventDestroy_v2(CUevent hEvent) */
  cuEventDestroy_v2: { parameters: ["u64"], result: "i32" },
  /** CUresult cuEventElapsedTime_v2(float *pMilliseconds, CUevent hStart, CUevent hEnd) */
  cuEventElapsedTime_v2: { parameters: ["buffer", "u64", "u64"], result: "i32", optional: true },
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded driver library. */
export type CudaLib = Deno.DynamicLibrary<typeof CUDA_SYMBOLS>;

/** `CUdevice_attribute` values used here. */
export const CU_DEVICE_ATTRIBUTE = {
  MULTIPROCESSOR_COUNT: 16,
  COMPUTE_CAPABILITY_MAJOR: 75,
  COMPUTE_CAPABILITY_MINOR: 76,
} as const;

/** `CUresult` codes this backend reacts to. */
export const CU_RESULT = {
  SUCCESS: 0,
  OUT_OF_MEMORY: 2,
  NOT_READY: 600,
} as const;

/** `CU_STREAM_NON_BLOCKING`: the stream does not synchronise with the legacy default stream. */
export const CU_STREAM_NON_BLOCKING = 1;
/** `CU_EVENT_DISABLE_TIMING`: a cheaper event, for waiting only. */
export const CU_EVENT_DISABLE_TIMING = 2;
