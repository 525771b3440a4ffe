/**
 * The cudnn backend's CUDA C kernels compile with `nvcc --ptx` for Hopper (sm_90, the GPU machines') and
 * Turing (sm_75, the oldest CUDA 13 supports), with the options the backend gives NVRTC; every kernel the
 * backend launches is an entry point, with the struct parameters as large as the host packs them.
 * Skipped, with the reason, where nvcc is not on PATH.
 */
import {
  KERNEL_COMPILE_OPTIONS,
  KERNEL_NAMES,
  KERNEL_SOURCE,
  POOL_INTS,
  STRIDED_INTS,
} from "../src/backends/cudnn_ffi/_kernels_cu.ts";

function nvccVersion(): string | undefined {
  try {
    const out = new Deno.Command("nvcc", { args: ["--version"], stdout: "piped", stderr: "null" }).outputSync();
    return out.success ? new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) : undefined;
  } catch {
    return undefined;
  }
}

const nvcc = nvccVersion();
if (!nvcc) console.log("cudnn nvcc tests ignored: nvcc is not on PATH (install the CUDA toolkit to run them)");

/** The parameter declarations of each `.entry` in PTX text. */
function entries(ptx: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of ptx.matchAll(/\.entry\s+(\w+)\s*\(([^)]*)\)/g)) {
    out.set(m[1], m[2].split(",").map((p) => p.trim()).filter((p) => p));
  }
  return out;
}

for (const arch of ["sm_90", "sm_75"]) {
  Deno.test({
    name: `the kernel source compiles with nvcc --ptx -arch=${arch}`,
    ignore: !nvcc,
    fn: async () => {
      const dir = await Deno.makeTempDir({ prefix: "cudnn_nvcc_" });
      try {
        await Deno.writeTextFile(`${dir}/at_kernels.cu`, KERNEL_SOURCE);
        const out = await new Deno.Command("nvcc", {
          args: [
            "--ptx",
            `-arch=${arch}`,
            ...KERNEL_COMPILE_OPTIONS,
            "-Werror",
            "all-warnings",
            "-o",
            `${dir}/k.ptx`,
            `${dir}/at_kernels.cu`,
          ],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const log = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
        if (!out.success) throw new Error(`nvcc (${nvcc}) failed:\n${log}`);
        const ptx = entries(await Deno.readTextFile(`${dir}/k.ptx`));
        const missing = KERNEL_NAMES.filter((k) => !ptx.has(k));
        if (missing.length) throw new Error(`kernels missing from the PTX: ${missing.join(", ")}`);
        const last = (k: string) => ptx.get(k)!.at(-1)!;
        if (!last("at_binary").endsWith(`[${STRIDED_INTS * 4}]`)) {
          throw new Error(`at_binary's struct: ${last("at_binary")}`);
        }
        if (!last("at_strided").endsWith(`[${STRIDED_INTS * 4}]`)) {
          throw new Error(`at_strided's struct: ${last("at_strided")}`);
        }
        if (!last("at_max_pool").endsWith(`[${POOL_INTS * 4}]`)) {
          throw new Error(`at_max_pool's struct: ${last("at_max_pool")}`);
        }
        if (ptx.get("at_unary")!.length !== 6) {
          throw new Error(`at_unary has ${ptx.get("at_unary")!.length} parameters`);
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}
