/**
 * The host side of the cudnn backend that needs no GPU: kernel argument packing (the `kernelParams` pointer
 * table), status messages, size classes, axis merging, the row-major GEMM swap, algorithm choice and the
 * NVRTC target and option strings.
 */
import fc from "fast-check";
import { KernelArgs } from "../src/backends/cudnn_ffi/_args.ts";
import { ALGO_PERF_BYTES } from "../src/backends/cudnn_ffi/_ffi_cudnn.ts";
import { parseAlgoPerfs, pickAlgo } from "../src/backends/cudnn_ffi/_conv.ts";
import { collapseAxes, rowMajorSgemm, stridedStruct } from "../src/backends/cudnn_ffi/_geometry.ts";
import { chooseTarget, cStringArray } from "../src/backends/cudnn_ffi/_kernels.ts";
import { MAX_RANK, STRIDED_INTS } from "../src/backends/cudnn_ffi/_kernels_cu.ts";
import { sizeClass } from "../src/backends/cudnn_ffi/_memory.ts";
import { CudaError, makeCheck, statusError } from "../src/backends/cudnn_ffi/_status.ts";
import { gemm } from "../src/backends/cpu/gemm.ts";

function assert(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

function view(address: bigint): Deno.UnsafePointerView {
  return new Deno.UnsafePointerView(Deno.UnsafePointer.create(address)!);
}

Deno.test("kernel arguments: each kernelParams entry points at its value, 8-byte aligned", () => {
  const args = new KernelArgs();
  const struct = [3, 4, 5, 6];
  args.begin().ptr(0x7f00_1234_5678n).i32(-7).u32(0xffff_fff0).i64(2 ** 40 + 3).f32(1.5).f64(Math.PI).ints(struct, 6);
  assert(args.count === 7, `packed ${args.count} arguments`);
  for (let i = 0; i < args.count; i++) {
    assert(args.table[i] === args.base + BigInt(args.offsetOf(i)), `entry ${i} is not base + offset`);
    assert(args.offsetOf(i) % 8 === 0, `argument ${i} is at offset ${args.offsetOf(i)}`);
  }
  // Read back through the pointers, as the driver does.
  assert(view(args.table[0]).getBigUint64() === 0x7f00_1234_5678n, "pointer argument");
  assert(view(args.table[1]).getInt32() === -7, "int argument");
  assert(view(args.table[2]).getUint32() === 0xffff_fff0, "unsigned argument");
  assert(view(args.table[3]).getBigInt64() === BigInt(2 ** 40 + 3), "long long argument");
  assert(view(args.table[4]).getFloat32() === 1.5, "float argument");
  assert(view(args.table[5]).getFloat64() === Math.PI, "double argument");
  const s = view(args.table[6]);
  const ints = [0, 1, 2, 3, 4, 5].map((i) => s.getInt32(4 * i));
  assert(JSON.stringify(ints) === JSON.stringify([3, 4, 5, 6, 0, 0]), `struct argument ${ints}`);
  // No two arguments overlap.
  assert(args.offsetOf(6) - args.offsetOf(5) >= 8 && args.offsetOf(1) - args.offsetOf(0) >= 8, "overlap");
  // begin() starts over at the same block.
  args.begin().f64(2);
  assert(args.count === 1 && args.table[0] === args.base && view(args.base).getFloat64() === 2, "begin() resets");
});

Deno.test("kernel arguments: the strided struct fits its C layout (rank, shape, two stride arrays)", () => {
  const g = stridedStruct("t", { shape: [2, 3], strides: [[3, 1], [0, 1]] });
  assert(g.length === STRIDED_INTS, `${g.length} ints`);
  assert(
    g[0] === 2 && g[1] === 2 && g[2] === 3 && g[1 + MAX_RANK] === 3 && g[1 + 2 * MAX_RANK + 1] === 1,
    `layout ${g}`,
  );
  let threw = false;
  try {
    stridedStruct("t", { shape: new Array(MAX_RANK + 1).fill(2), strides: [[], []] });
  } catch (e) {
    threw = e instanceof RangeError;
  }
  assert(threw, "more axes than the kernels take is an error");
});

Deno.test("C string arrays: a table of addresses of NUL-terminated strings", () => {
  const { table, storage } = cStringArray(["--fmad=false", "--gpu-architecture=sm_90"]);
  const base = Deno.UnsafePointer.value(Deno.UnsafePointer.of(storage));
  assert(table[0] === base, "first string at the start");
  assert(view(table[0]).getCString() === "--fmad=false", "first string");
  assert(view(table[1]).getCString() === "--gpu-architecture=sm_90", "second string");
});

Deno.test("check: a failing status names the call, the status and the library's own words", () => {
  const check = makeCheck(
    new Map([[
      "cudnn",
      (s: number) => ({ name: s === 2000 ? "CUDNN_STATUS_BAD_PARAM" : undefined, detail: "x is null" }),
    ]]),
  );
  check(0, "cudnnConvolutionForward");
  let error: unknown;
  try {
    check(2000, "cudnnConvolutionForward");
  } catch (e) {
    error = e;
  }
  assert(error instanceof CudaError, "throws a CudaError");
  const e = error as CudaError;
  assert(e.message === "cudnnConvolutionForward failed: CUDNN_STATUS_BAD_PARAM (2000): x is null", e.message);
  assert(e.library === "cudnn" && e.status === 2000 && e.call === "cudnnConvolutionForward", "fields");
  // Without describers the static tables name the status; unknown codes still say which library.
  assert(statusError(100, "cuInit").message === "cuInit failed: CUDA_ERROR_NO_DEVICE (100)", "driver table");
  assert(
    statusError(7, "cublasSgemm_v2").message === "cublasSgemm_v2 failed: CUBLAS_STATUS_INVALID_VALUE (7)",
    "cuBLAS table",
  );
  assert(
    statusError(6, "nvrtcCompileProgram").message === "nvrtcCompileProgram failed: NVRTC_ERROR_COMPILATION (6)",
    "NVRTC table",
  );
  assert(statusError(4242, "cudnnFoo").message === "cudnnFoo failed: CUDNN_STATUS_4242 (4242)", "unknown code");
  // A describer that throws does not hide the status.
  const shaky = makeCheck(
    new Map([["cuda", () => {
      throw new Error("boom");
    }]]),
  );
  try {
    shaky(2, "cuMemAlloc_v2");
  } catch (e) {
    assert((e as Error).message === "cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2)", (e as Error).message);
  }
});

Deno.test("memory size classes hold the request and waste at most a quarter", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 34 }), (bytes) => {
      const c = sizeClass(bytes);
      return c >= bytes && c >= 512 && (bytes <= 512 || c <= bytes * 1.25 + 1) && sizeClass(c) === c;
    }),
  );
});

/** Index `i` of an `outShape` view, read through per-axis strides as the strided kernels do. */
function kernelIndex(i: number, shape: readonly number[], strides: readonly number[]): number {
  let rem = i, at = 0;
  for (let d = shape.length - 1; d >= 0; d--) {
    const k = rem % shape[d];
    rem = Math.floor(rem / shape[d]);
    at += k * strides[d];
  }
  return at;
}

Deno.test("merging axes keeps every element's source index", () => {
  const shapeArb = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 7 });
  fc.assert(
    fc.property(shapeArb, fc.integer({ min: 0, max: 3 }), fc.boolean(), (shape, kind, broadcast) => {
      const contiguous = shape.map((_, d) => shape.slice(d + 1).reduce((p, x) => p * x, 1));
      const a = kind === 0
        ? contiguous
        : kind === 1
        ? [...contiguous].reverse()
        : contiguous.map((s, d) => (d % 2 ? 0 : s));
      const b = broadcast ? shape.map(() => 0) : contiguous;
      const merged = collapseAxes(shape, [a, b]);
      const n = shape.reduce((p, x) => p * x, 1);
      for (let i = 0; i < n; i++) {
        if (kernelIndex(i, shape, a) !== kernelIndex(i, merged.shape, merged.strides[0])) return false;
        if (kernelIndex(i, shape, b) !== kernelIndex(i, merged.shape, merged.strides[1])) return false;
      }
      return merged.shape.length <= shape.length && merged.shape.every((d) => d > 1);
    }),
  );
  const flat = collapseAxes([2, 3, 4], [[12, 4, 1], [12, 4, 1]]);
  assert(JSON.stringify(flat) === JSON.stringify({ shape: [24], strides: [[1], [1]] }), "contiguous becomes one axis");
});

/** The BLAS reference semantics of column-major `sgemm` (what cuBLAS computes). */
function sgemmColumnMajor(
  ta: number,
  tb: number,
  m: number,
  n: number,
  k: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  c: Float32Array,
  ldc: number,
): void {
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < m; i++) {
      let acc = 0;
      for (let l = 0; l < k; l++) {
        acc += (ta ? a[l + i * lda] : a[i + l * lda]) * (tb ? b[j + l * ldb] : b[l + j * ldb]);
      }
      c[i + j * ldc] = acc;
    }
  }
}

Deno.test("the column-major SGEMM arguments compute the row-major product of the cpu backend", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 7 }),
      fc.integer({ min: 1, max: 7 }),
      fc.integer({ min: 1, max: 7 }),
      fc.boolean(),
      fc.boolean(),
      (m, n, k, transA, transB) => {
        const a = Float32Array.from({ length: m * k }, (_, i) => (i * 7) % 5 - 2);
        const b = Float32Array.from({ length: k * n }, (_, i) => (i * 3) % 7 - 3);
        const want = new Float32Array(m * n);
        gemm(m, n, k, transA, transB, { a, aOffset: 0, b, bOffset: 0, c: want, cOffset: 0 }, false);
        const g = rowMajorSgemm(m, n, k, transA, transB);
        const got = new Float32Array(m * n);
        const [first, second] = g.first === "b" ? [b, a] : [a, b];
        // The leading dimensions must be legal for cuBLAS: at least the stored rows of each operand.
        if (g.lda < (g.transa ? g.k : g.m) || g.ldb < (g.transb ? g.n : g.k) || g.ldc < g.m) return false;
        sgemmColumnMajor(g.transa, g.transb, g.m, g.n, g.k, first, g.lda, second, g.ldb, got, g.ldc);
        return got.every((v, i) => v === want[i]);
      },
    ),
  );
});

function perfBytes(
  perfs: { algo: number; status: number; time: number; memory: number; determinism: number; mathType: number }[],
) {
  const bytes = new Uint8Array(perfs.length * ALGO_PERF_BYTES);
  const v = new DataView(bytes.buffer);
  perfs.forEach((p, i) => {
    const o = i * ALGO_PERF_BYTES;
    v.setInt32(o, p.algo, true);
    v.setInt32(o + 4, p.status, true);
    v.setFloat32(o + 8, p.time, true);
    v.setBigUint64(o + 16, BigInt(p.memory), true);
    v.setInt32(o + 24, p.determinism, true);
    v.setInt32(o + 28, p.mathType, true);
  });
  return bytes;
}

Deno.test("algorithm choice: first usable, deterministic preferred, never tensor-op math", () => {
  const ranked = [
    { algo: 7, status: 3000, time: 0.1, memory: 0, determinism: 1, mathType: 0 },
    { algo: 6, status: 0, time: 0.2, memory: 1 << 20, determinism: 0, mathType: 3 },
    { algo: 1, status: 0, time: 0.3, memory: 0, determinism: 1, mathType: 1 },
    { algo: 2, status: 0, time: 0.4, memory: 1 << 30, determinism: 1, mathType: 3 },
    { algo: 0, status: 0, time: 0.9, memory: 4096, determinism: 1, mathType: 0 },
  ];
  const perfs = parseAlgoPerfs(perfBytes(ranked), ranked.length);
  assert(JSON.stringify(perfs[3]) === JSON.stringify({ ...ranked[3], time: Math.fround(0.4) }), "parsed");
  assert(pickAlgo(perfs, true, Infinity)?.algo === 2, "fastest deterministic");
  assert(pickAlgo(perfs, true, 1 << 20)?.algo === 0, "deterministic within the workspace");
  assert(pickAlgo(perfs, false, 1 << 20)?.algo === 6, "fastest when determinism is not asked for");
  assert(pickAlgo(perfs.slice(0, 1), true, Infinity) === undefined, "none usable");
});

Deno.test("NVRTC target: a CUBIN for the device, PTX for a newer one", () => {
  assert(chooseTarget(90, [75, 80, 86, 89, 90]).option === "--gpu-architecture=sm_90", "sm_90");
  assert(chooseTarget(90, []).cubin, "unknown support list: try the device's own");
  const newer = chooseTarget(120, [75, 80, 90, 100]);
  assert(newer.option === "--gpu-architecture=compute_100" && !newer.cubin, "PTX for a newer device");
  let threw = false;
  try {
    chooseTarget(61, [75, 80, 90]);
  } catch (e) {
    threw = e instanceof RangeError && /6\.1/.test(e.message);
  }
  assert(threw, "an older device than NVRTC supports");
});
