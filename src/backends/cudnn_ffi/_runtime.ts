/**
 * Starting the CUDA side, step by step, stopping at the first missing piece with one error that names it:
 * FFI permission, the driver library, `cuInit`, a device, the cuDNN / cuBLAS / NVRTC libraries, the primary
 * context and stream, the cuDNN and cuBLAS handles, and the compiled kernels.
 *
 * @module
 */
import {
  canRead,
  CUBLAS_FAMILY,
  CUDNN_FAMILY,
  driverCandidates,
  envGet,
  findFamily,
  type FoundLibrary,
  LIB_DIR_ENV,
  type LibraryFamily,
  NVRTC_FAMILY,
  readDiscoveryInput,
  searchDirs,
} from "./_discovery.ts";
import { CUBLAS } from "./_ffi_cublas.ts";
import { CU_DEVICE_ATTRIBUTE, CU_STREAM_NON_BLOCKING, type CudaLib } from "./_ffi_cuda.ts";
import { compileKernels, Kernels } from "./_kernels.ts";
import { describers, dlopenReason, type LibraryFamilies, openDriver, openFamilies } from "./_load.ts";
import { type Check, CudaError, makeCheck, statusError } from "./_status.ts";
import { CudnnUnavailableError } from "./errors.ts";

/** Everything a started backend holds on the CUDA side. */
export interface Runtime {
  readonly cuda: CudaLib;
  readonly libs: LibraryFamilies;
  readonly check: Check;
  readonly device: number;
  readonly context: bigint;
  readonly stream: bigint;
  readonly cudnnHandle: bigint;
  readonly cublasHandle: bigint;
  readonly kernels: Kernels;
  /** Free device memory at start, in bytes. */
  readonly freeBytes: number;
  /** Device, library versions and where the libraries came from, in words. */
  readonly description: string;
}

/** Options read from the environment. */
export interface RuntimeOptions {
  /** `AT_CUDNN_ALGO`: `find` (default) or `heuristic`. */
  readonly algoMode: "find" | "heuristic";
  /** `AT_CUDNN_DETERMINISTIC`: `0` allows non-deterministic convolution algorithms. */
  readonly deterministic: boolean;
}

/** The backend's options from `AT_CUDNN_ALGO` and `AT_CUDNN_DETERMINISTIC`. */
export function readRuntimeOptions(): RuntimeOptions {
  const algo = envGet("AT_CUDNN_ALGO");
  if (algo !== undefined && algo !== "" && algo !== "find" && algo !== "heuristic") {
    throw new RangeError(`AT_CUDNN_ALGO must be "find" or "heuristic", not ${JSON.stringify(algo)}`);
  }
  return {
    algoMode: algo === "heuristic" ? "heuristic" : "find",
    deterministic: envGet("AT_CUDNN_DETERMINISTIC") !== "0",
  };
}

function ffiGranted(): boolean {
  try {
    return Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  } catch {
    return false;
  }
}

function version(v: number, parts: number[]): string {
  const out: number[] = [];
  let rest = v;
  for (const p of parts) {
    out.push(Math.floor(rest / p));
    rest %= p;
  }
  out.push(rest);
  return out.join(".");
}

function missingLibrary(family: LibraryFamily, searched: readonly string[], readable: boolean): CudnnUnavailableError {
  const where = searched.length ? searched.join(", ") : "(no folder could be searched)";
  const permission = readable ? "" : " Without --allow-read no folder can be searched: run with --allow-read or -A.";
  return new CudnnUnavailableError(
    `${family.sonames[0]} (${family.title}) was not found; searched ${where}. Install it (e.g. pip install ` +
      `nvidia-cudnn-cu13 nvidia-cublas nvidia-cuda-nvrtc) or set ${LIB_DIR_ENV} to the folders (colon-separated) ` +
      `that hold libcudnn.so.9, libcublas.so.13 and libnvrtc.so.13.${permission}`,
  );
}

/** Starts the CUDA side, or throws a {@linkcode CudnnUnavailableError} that names the first missing piece. */
export function startRuntime(): Runtime {
  if (!ffiGranted()) {
    throw new CudnnUnavailableError(
      "it loads the CUDA libraries through FFI, which needs permission: run with --allow-ffi " +
        "(with --allow-read --allow-env), or -A",
    );
  }
  const input = readDiscoveryInput();
  const driver = openDriver(driverCandidates(input));
  if (!("lib" in driver)) {
    const missing = driver.failures.every((f) => /no such file/i.test(f));
    throw new CudnnUnavailableError(
      `libcuda.so.1 (the NVIDIA driver's CUDA library) ${missing ? "was not found" : "could not be loaded"}, ` +
        `so there is no usable NVIDIA driver here (${driver.failures.join("; ")}). ` +
        `Set ${LIB_DIR_ENV} to its folder if it is installed elsewhere.`,
    );
  }
  const cuda = driver.lib;
  const cleanup: (() => void)[] = [() => cuda.close()];
  try {
    return startWithDriver(cuda, driver.path, input, cleanup);
  } catch (e) {
    for (const undo of cleanup.reverse()) {
      try {
        undo();
      } catch {
        // Best effort: the error that stopped the start is the one to report.
      }
    }
    if (e instanceof CudnnUnavailableError) throw e;
    if (e instanceof CudaError) throw new CudnnUnavailableError(e.message, { cause: e });
    throw new CudnnUnavailableError(e instanceof Error ? e.message : String(e), { cause: e });
  }
}

function startWithDriver(
  cuda: CudaLib,
  driverPath: string,
  input: ReturnType<typeof readDiscoveryInput>,
  cleanup: (() => void)[],
): Runtime {
  const c = cuda.symbols;
  let check = makeCheck(describers(cuda));
  const init = c.cuInit(0);
  if (init !== 0) {
    throw new CudnnUnavailableError(`${statusError(init, "cuInit", describers(cuda)).message} (driver ${driverPath})`);
  }
  const int = new Int32Array(1);
  check(c.cuDriverGetVersion(int), "cuDriverGetVersion");
  const driverVersion = int[0];
  check(c.cuDeviceGetCount(int), "cuDeviceGetCount");
  if (int[0] < 1) {
    throw new CudnnUnavailableError(
      "the NVIDIA driver sees no CUDA device (cuDeviceGetCount is 0; check CUDA_VISIBLE_DEVICES)",
    );
  }
  check(c.cuDeviceGet(int, 0), "cuDeviceGet");
  const device = int[0];
  const attribute = (a: number): number => {
    check(c.cuDeviceGetAttribute(int, a, device), "cuDeviceGetAttribute");
    return int[0];
  };
  const major = attribute(CU_DEVICE_ATTRIBUTE.COMPUTE_CAPABILITY_MAJOR);
  const minor = attribute(CU_DEVICE_ATTRIBUTE.COMPUTE_CAPABILITY_MINOR);
  const multiprocessors = attribute(CU_DEVICE_ATTRIBUTE.MULTIPROCESSOR_COUNT);
  const nameBytes = new Uint8Array(256);
  check(c.cuDeviceGetName(nameBytes, nameBytes.length, device), "cuDeviceGetName");
  const deviceName = new TextDecoder().decode(nameBytes.subarray(0, Math.max(0, nameBytes.indexOf(0)))).trim();

  // The libraries, each family whole from the first folder that has it.
  const dirs = searchDirs(input);
  const readable = canRead();
  const found: Partial<Record<"cudnn" | "cublas" | "nvrtc", FoundLibrary>> = {};
  for (const [key, family] of [["cudnn", CUDNN_FAMILY], ["cublas", CUBLAS_FAMILY], ["nvrtc", NVRTC_FAMILY]] as const) {
    const lib = findFamily(family, dirs);
    if (!lib) throw missingLibrary(family, dirs.map((d) => d.dir), readable);
    found[key] = lib;
  }
  let libs: LibraryFamilies;
  try {
    libs = openFamilies(found as Required<typeof found>);
  } catch (e) {
    throw new CudnnUnavailableError(`a CUDA library would not load: ${dlopenReason(e)}`, { cause: e });
  }
  cleanup.push(() => {
    libs.cudnn.close();
    libs.cublas.close();
    libs.nvrtc.close();
    for (const p of libs.preloaded) p.close();
  });
  check = makeCheck(describers(cuda, libs));

  const slot = new BigUint64Array(1);
  check(c.cuDevicePrimaryCtxRetain(slot, device), "cuDevicePrimaryCtxRetain");
  const context = slot[0];
  cleanup.push(() => c.cuDevicePrimaryCtxRelease_v2(device));
  check(c.cuCtxSetCurrent(context), "cuCtxSetCurrent");
  check(c.cuStreamCreate(slot, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  const stream = slot[0];
  cleanup.push(() => c.cuStreamDestroy_v2(stream));
  const memory = new BigUint64Array(2);
  check(c.cuMemGetInfo_v2(memory.subarray(0, 1), memory.subarray(1, 2)), "cuMemGetInfo_v2");

  const dnn = libs.cudnn.symbols;
  const created = dnn.cudnnCreate(slot);
  if (created !== 0) {
    const failed = libs.preloadFailures.length
      ? ` (sub-libraries that would not load: ${libs.preloadFailures.join("; ")})`
      : "";
    throw new CudnnUnavailableError(`${statusError(created, "cudnnCreate", describers(cuda, libs)).message}${failed}`);
  }
  const cudnnHandle = slot[0];
  cleanup.push(() => dnn.cudnnDestroy(cudnnHandle));
  check(dnn.cudnnSetStream(cudnnHandle, stream), "cudnnSetStream");

  const blas = libs.cublas.symbols;
  check(blas.cublasCreate_v2(slot), "cublasCreate_v2");
  const cublasHandle = slot[0];
  cleanup.push(() => blas.cublasDestroy_v2(cublasHandle));
  check(blas.cublasSetStream_v2(cublasHandle, stream), "cublasSetStream_v2");
  check(blas.cublasSetMathMode(cublasHandle, CUBLAS.DEFAULT_MATH), "cublasSetMathMode");
  check(blas.cublasGetVersion_v2(cublasHandle, int), "cublasGetVersion_v2");
  const cublasVersion = int[0];

  const nvrtcVersion = new Int32Array(2);
  check(libs.nvrtc.symbols.nvrtcVersion(nvrtcVersion.subarray(0, 1), nvrtcVersion.subarray(1, 2)), "nvrtcVersion");
  const image = compileKernels(libs.nvrtc, check, major * 10 + minor);
  const kernels = new Kernels(cuda, check, stream, image, multiprocessors);

  const cudnnVersion = Number(dnn.cudnnGetVersion());
  const gib = (Number(memory[1]) / 2 ** 30).toFixed(1);
  const description = `cuDNN ${version(cudnnVersion, [10000, 100])}, cuBLAS ${version(cublasVersion, [10000, 100])}, ` +
    `NVRTC ${nvrtcVersion[0]}.${nvrtcVersion[1]} on ${deviceName} (sm_${major}${minor}, ${multiprocessors} SMs, ` +
    `${gib} GiB, driver CUDA ${Math.floor(driverVersion / 1000)}.${(driverVersion % 1000) / 10}); libraries from ${
      [...new Set([found.cudnn!.dir, found.cublas!.dir, found.nvrtc!.dir])].join(", ")
    }`;
  return {
    cuda,
    libs,
    check,
    device,
    context,
    stream,
    cudnnHandle,
    cublasHandle,
    kernels,
    freeBytes: Number(memory[0]),
    description,
  };
}
