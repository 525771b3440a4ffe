/**
 * Compiling {@linkcode KERNEL_SOURCE} with NVRTC for the device's compute capability, loading it with
 * `cuModuleLoadData`, and launching its kernels with `cuLaunchKernel`.
 *
 * @module
 */
import { KernelArgs } from "./_args.ts";
import type { CudaLib } from "./_ffi_cuda.ts";
import type { NvrtcLib } from "./_ffi_nvrtc.ts";
import { KERNEL_COMPILE_OPTIONS, KERNEL_NAMES, KERNEL_SOURCE, type KernelName } from "./_kernels_cu.ts";
import { type Check, CudaError } from "./_status.ts";

const encoder = new TextEncoder();

/** A NUL-terminated copy of a string. */
export function cStringBytes(s: string): Uint8Array {
  return encoder.encode(`${s}\0`);
}

/**
 * A `const char* const*` array of strings: the strings NUL-terminated in one block (kept alive by the
 * returned object) and a table of their addresses.
 */
export function cStringArray(strings: readonly string[]): { table: BigUint64Array; storage: Uint8Array } {
  const parts = strings.map(cStringBytes);
  const storage = new Uint8Array(Math.max(256, parts.reduce((n, p) => n + p.length, 0)));
  const table = new BigUint64Array(Math.max(1, strings.length));
  const base = Deno.UnsafePointer.value(Deno.UnsafePointer.of(storage));
  let offset = 0;
  parts.forEach((p, i) => {
    storage.set(p, offset);
    table[i] = base + BigInt(offset);
    offset += p.length;
  });
  return { table, storage };
}

/** The NVRTC target for a device: a CUBIN for its own architecture, or PTX for the newest NVRTC knows. */
export function chooseTarget(
  computeCapability: number,
  supported: readonly number[],
): { option: string; cubin: boolean } {
  if (supported.length === 0 || supported.includes(computeCapability)) {
    return { option: `--gpu-architecture=sm_${computeCapability}`, cubin: true };
  }
  const newest = Math.max(...supported);
  if (computeCapability > newest) return { option: `--gpu-architecture=compute_${newest}`, cubin: false };
  throw new RangeError(
    `NVRTC cannot compile for compute capability ${Math.floor(computeCapability / 10)}.${computeCapability % 10}` +
      ` (it supports ${supported.join(", ")})`,
  );
}

function supportedArchs(nvrtc: NvrtcLib): number[] {
  const { nvrtcGetNumSupportedArchs, nvrtcGetSupportedArchs } = nvrtc.symbols;
  if (!nvrtcGetNumSupportedArchs || !nvrtcGetSupportedArchs) return [];
  const count = new Int32Array(1);
  if (nvrtcGetNumSupportedArchs(count) !== 0 || count[0] <= 0) return [];
  const archs = new Int32Array(count[0]);
  return nvrtcGetSupportedArchs(archs) === 0 ? [...archs] : [];
}

/** Compiles the kernel source for `computeCapability` (e.g. 90); returns the CUBIN or NUL-terminated PTX image. */
export function compileKernels(nvrtc: NvrtcLib, check: Check, computeCapability: number): Uint8Array {
  const s = nvrtc.symbols;
  const target = chooseTarget(computeCapability, supportedArchs(nvrtc));
  const slot = new BigUint64Array(1);
  check(
    s.nvrtcCreateProgram(slot, cStringBytes(KERNEL_SOURCE), cStringBytes("at_kernels.cu"), 0, null, null),
    "nvrtcCreateProgram",
  );
  const program = slot[0];
  try {
    const options = cStringArray([...KERNEL_COMPILE_OPTIONS, target.option]);
    const status = s.nvrtcCompileProgram(program, KERNEL_COMPILE_OPTIONS.length + 1, options.table);
    if (status !== 0) {
      let log = "";
      try {
        log = programLog(nvrtc, check, program);
      } catch {
        // The compile status says enough without the log.
      }
      try {
        check(status, "nvrtcCompileProgram");
      } catch (e) {
        if (e instanceof CudaError && log) {
          throw new CudaError(e.call, e.status, e.statusName, `${target.option}\n${log}`, { cause: e });
        }
        throw e;
      }
    }
    const size = new BigUint64Array(1);
    if (target.cubin) {
      check(s.nvrtcGetCUBINSize(program, size), "nvrtcGetCUBINSize");
      const image = new Uint8Array(Number(size[0]));
      check(s.nvrtcGetCUBIN(program, image), "nvrtcGetCUBIN");
      return image;
    }
    check(s.nvrtcGetPTXSize(program, size), "nvrtcGetPTXSize");
    const image = new Uint8Array(Number(size[0]) + 1);
    check(s.nvrtcGetPTX(program, image), "nvrtcGetPTX");
    return image;
  } finally {
    s.nvrtcDestroyProgram(slot.fill(program));
  }
}

function programLog(nvrtc: NvrtcLib, check: Check, program: bigint): string {
  const size = new BigUint64Array(1);
  check(nvrtc.symbols.nvrtcGetProgramLogSize(program, size), "nvrtcGetProgramLogSize");
  const log = new Uint8Array(Number(size[0]) + 1);
  check(nvrtc.symbols.nvrtcGetProgramLog(program, log), "nvrtcGetProgramLog");
  const end = log.indexOf(0);
  return new TextDecoder().decode(log.subarray(0, end < 0 ? log.length : end)).trim();
}

/** The loaded kernel module: one function handle per kernel, and the argument block launches use. */
export class Kernels {
  readonly #cuda: CudaLib;
  readonly #check: Check;
  readonly #stream: bigint;
  readonly #module: bigint;
  readonly #functions: Record<KernelName, bigint>;
  /** Fill this (after `begin()`) with the next launch's arguments. */
  readonly args: KernelArgs = new KernelArgs();
  /** Most blocks a grid-stride kernel is given. */
  readonly maxBlocks: number;

  constructor(cuda: CudaLib, check: Check, stream: bigint, image: Uint8Array, multiprocessors: number) {
    this.#cuda = cuda;
    this.#check = check;
    this.#stream = stream;
    const slot = new BigUint64Array(1);
    check(cuda.symbols.cuModuleLoadData(slot, image), "cuModuleLoadData");
    this.#module = slot[0];
    const functions = {} as Record<KernelName, bigint>;
    for (const name of KERNEL_NAMES) {
      check(cuda.symbols.cuModuleGetFunction(slot, this.#module, cStringBytes(name)), "cuModuleGetFunction");
      functions[name] = slot[0];
    }
    this.#functions = functions;
    this.maxBlocks = Math.max(1, multiprocessors) * 32;
  }

  /** Launches `name` with the arguments packed in {@linkcode Kernels.args}. */
  launch(name: KernelName, grid: number, block: number, blockY = 1): void {
    this.#check(
      this.#cuda.symbols.cuLaunchKernel(
        this.#functions[name],
        grid,
        1,
        1,
        block,
        blockY,
        1,
        0,
        this.#stream,
        this.args.table,
        null,
      ),
      "cuLaunchKernel",
    );
  }

  /** Blocks of `block` threads for a grid-stride loop over `n` items. */
  gridFor(n: number, block: number): number {
    return Math.max(1, Math.min(Math.ceil(n / block), this.maxBlocks));
  }

  /** Unloads the module. */
  dispose(): void {
    this.#cuda.symbols.cuModuleUnload(this.#module);
  }
}
