/**
 * Opening the native libraries with `Deno.dlopen`: the driver, then each library family with its
 * sub-libraries preloaded by absolute path, and the status describers each library offers.
 *
 * @module
 */
import { CUBLAS_SYMBOLS, type CublasLib } from "./_ffi_cublas.ts";
import { CUDA_SYMBOLS, type CudaLib } from "./_ffi_cuda.ts";
import { CUDNN_SYMBOLS, type CudnnLib } from "./_ffi_cudnn.ts";
import { NVRTC_SYMBOLS, type NvrtcLib } from "./_ffi_nvrtc.ts";
import type { FoundLibrary } from "./_discovery.ts";
import type { CudaLibrary, StatusDescriber } from "./_status.ts";

/** A library opened only so the dynamic linker knows its soname (no symbols bound). */
export type Preloaded = Deno.DynamicLibrary<Record<string, never>>;

/** The text of a C string a pointer points to, or undefined for NULL. */
export function cString(pointer: Deno.PointerValue): string | undefined {
  return pointer ? Deno.UnsafePointerView.getCString(pointer) : undefined;
}

/** The text of the C string whose address an out-parameter (`const char **`) received. */
export function cStringAt(address: bigint): string | undefined {
  return address ? cString(Deno.UnsafePointer.create(address)) : undefined;
}

/** Why a library did not open, from a `Deno.dlopen` error. */
export function dlopenReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replaceAll(/Could not open library:\s*/gi, "").trim();
}

/** The driver library opened from the first candidate that loads, or every candidate's failure. */
export function openDriver(candidates: readonly string[]): { lib: CudaLib; path: string } | { failures: string[] } {
  const failures: string[] = [];
  for (const path of candidates) {
    try {
      return { lib: Deno.dlopen(path, CUDA_SYMBOLS), path };
    } catch (e) {
      const reason = dlopenReason(e);
      failures.push(reason.startsWith(path) ? reason : `${path}: ${reason}`);
    }
  }
  return { failures };
}

/**
 * Preloads `paths` (retrying those that fail while others still load, since one may need another), and
 * returns the libraries that loaded and the failures that remained.
 */
export function preload(paths: readonly string[]): { loaded: Preloaded[]; failures: string[] } {
  const loaded: Preloaded[] = [];
  let pending = [...paths];
  let failures: string[] = [];
  for (let progress = true; pending.length > 0 && progress;) {
    progress = false;
    const next: string[] = [];
    failures = [];
    for (const path of pending) {
      try {
        loaded.push(Deno.dlopen(path, {}));
        progress = true;
      } catch (e) {
        next.push(path);
        failures.push(`${path}: ${dlopenReason(e)}`);
      }
    }
    pending = next;
  }
  return { loaded, failures };
}

/** The three library families, opened. */
export interface LibraryFamilies {
  readonly cudnn: CudnnLib;
  readonly cublas: CublasLib;
  readonly nvrtc: NvrtcLib;
  /** Sub-libraries kept open so the dispatchers find them by soname. */
  readonly preloaded: readonly Preloaded[];
  /** Sub-libraries that would not load (cuDNN then fails when it needs them; reported with that failure). */
  readonly preloadFailures: readonly string[];
}

/**
 * Opens cuBLAS, NVRTC and cuDNN in that order (cuDNN loads cuBLASLt and NVRTC itself for some engines),
 * each after its sub-libraries. Throws the `Deno.dlopen` error of a front library that does not open.
 */
export function openFamilies(
  found: { cudnn: FoundLibrary; cublas: FoundLibrary; nvrtc: FoundLibrary },
): LibraryFamilies {
  const preloaded: Preloaded[] = [];
  const preloadFailures: string[] = [];
  const open = <S extends Deno.ForeignLibraryInterface>(lib: FoundLibrary, symbols: S): Deno.DynamicLibrary<S> => {
    const p = preload(lib.preload);
    preloaded.push(...p.loaded);
    preloadFailures.push(...p.failures);
    return Deno.dlopen(lib.path, symbols);
  };
  try {
    const cublas = open(found.cublas, CUBLAS_SYMBOLS);
    const nvrtc = open(found.nvrtc, NVRTC_SYMBOLS);
    const cudnn = open(found.cudnn, CUDNN_SYMBOLS);
    return { cudnn, cublas, nvrtc, preloaded, preloadFailures };
  } catch (e) {
    for (const lib of preloaded) lib.close();
    throw e;
  }
}

/** The status describers of the opened libraries, for `makeCheck`. */
export function describers(
  cuda: CudaLib,
  families?: Pick<LibraryFamilies, "cudnn" | "cublas" | "nvrtc">,
): Map<CudaLibrary, StatusDescriber> {
  const out = new Map<CudaLibrary, StatusDescriber>();
  const slot = new BigUint64Array(1);
  out.set("cuda", (status) => {
    slot[0] = 0n;
    const name = cuda.symbols.cuGetErrorName(status, slot) === 0 ? cStringAt(slot[0]) : undefined;
    slot[0] = 0n;
    const detail = cuda.symbols.cuGetErrorString(status, slot) === 0 ? cStringAt(slot[0]) : undefined;
    return { name, detail };
  });
  if (!families) return out;
  const { cudnn, cublas, nvrtc } = families;
  out.set("cudnn", (status) => {
    const message = new Uint8Array(512);
    cudnn.symbols.cudnnGetLastErrorString(message, BigInt(message.length));
    const end = message.indexOf(0);
    const detail = new TextDecoder().decode(message.subarray(0, end < 0 ? message.length : end)).trim();
    return { name: cString(cudnn.symbols.cudnnGetErrorString(status)), detail };
  });
  out.set("cublas", (status) => ({
    name: cublas.symbols.cublasGetStatusName ? cString(cublas.symbols.cublasGetStatusName(status)) : undefined,
    detail: cublas.symbols.cublasGetStatusString ? cString(cublas.symbols.cublasGetStatusString(status)) : undefined,
  }));
  out.set("nvrtc", (status) => ({ name: cString(nvrtc.symbols.nvrtcGetErrorString(status)) }));
  return out;
}
