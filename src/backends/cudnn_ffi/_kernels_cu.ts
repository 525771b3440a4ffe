/**
 * The CUDA C source of this backend's own kernels, compiled once per process by NVRTC for the device's
 * compute capability (and by `nvcc --ptx` in the tests).
 *
 * Each kernel reproduces the `cpu` backend's arithmetic: values are widened to double where the cpu backend
 * computes in JavaScript numbers and rounded to float once, sums accumulate in double, and windows are
 * visited in the cpu backend's order, so results agree to the last bit or close to it. The source uses no
 * headers (NVRTC provides the math functions as built-ins) and must be compiled with `--fmad=false`: a fused
 * multiply-add would round differently from the cpu backend's separate multiply and add.
 *
 * @module
 */
import type { BinaryOp, UnaryOp } from "../backend.ts";

/** Most axes a strided kernel takes after adjacent axes are merged. */
export const MAX_RANK = 8;

/** Ints in `AtStrided`: rank, shape, strides of a, strides of b. */
export const STRIDED_INTS = 1 + 3 * MAX_RANK;
/** Ints in `AtPool`. */
export const POOL_INTS = 9;

/** The kernels' entry points (`extern "C"`, so these are also their symbol names). */
export const KERNEL_NAMES = [
  "at_unary",
  "at_binary",
  "at_strided",
  "at_sum_rows",
  "at_sum_cols",
  "at_log_softmax",
  "at_sgd",
  "at_avg_pool",
  "at_avg_pool_backward",
  "at_max_pool",
  "at_max_pool_backward",
  "at_max_pool_gather",
  "at_bn_running_count1",
] as const;

/** A kernel of {@linkcode KERNEL_NAMES}. */
export type KernelName = typeof KERNEL_NAMES[number];

/** Codes of the unary ops in `at_unary`, in the order of its switch. */
export const UNARY_CODES = {
  affine: 0,
  exp: 1,
  log: 2,
  sqrt: 3,
  rsqrt: 4,
  abs: 5,
  sign: 6,
  pow: 7,
  max: 8,
  gt: 9,
} as const satisfies Record<UnaryOp, number>;

/** Codes of the binary ops in `at_binary`. */
export const BINARY_CODES = { add: 0, sub: 1, mul: 2, div: 3 } as const satisfies Record<BinaryOp, number>;

/** Threads per block of the one-dimensional kernels and of the row reductions (a multiple of 32). */
export const BLOCK = 256;
/** Block shape of `at_sum_cols`: 32 columns by 8 slices of the reduced axis. */
export const SUM_COLS_BLOCK = { x: 32, y: 8 } as const;

/** The CUDA C source. */
export const KERNEL_SOURCE: string = String.raw`
// @at/core cudnn backend: elementwise, reduction, softmax, SGD and pooling kernels.
// Compiled by NVRTC with --fmad=false; no headers. With AT_HOST defined (and a small shim providing
// threadIdx, __syncthreads and the like) the same code runs on the host, one thread per launch, which the
// tests use to check the kernels and their argument packing without a GPU.

#define AT_MAX_RANK ${MAX_RANK}

struct AtStrided {
  int rank;
  int shape[AT_MAX_RANK];
  int a[AT_MAX_RANK];
  int b[AT_MAX_RANK];
};

struct AtPool {
  int n, c, h, w, kernel, stride, pad, oh, ow;
};

__device__ __forceinline__ float at_inf() { return __int_as_float(0x7f800000); }
__device__ __forceinline__ double at_nan() { return __longlong_as_double(0x7ff8000000000000LL); }
__device__ __forceinline__ int at_imax(int a, int b) { return a > b ? a : b; }
__device__ __forceinline__ int at_imin(int a, int b) { return a < b ? a : b; }

#define AT_GRID_STRIDE(i, n) \
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

#ifndef AT_HOST
__device__ __forceinline__ double at_warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float at_warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) {
    const float u = __shfl_down_sync(0xffffffffu, v, o);
    v = u > v ? u : v;
  }
  return v;
}
#endif

// Sum of v over a one-dimensional block (whole warps); every thread gets the total. shared holds 32 doubles
// and is free again when this returns.
__device__ double at_block_sum(double v, double* shared) {
  v = at_warp_sum(v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = at_warp_sum(lane < warps ? shared[lane] : 0.0);
    if (lane == 0) shared[0] = v;
  }
  __syncthreads();
  v = shared[0];
  __syncthreads();
  return v;
}

// Maximum of v over the block, ignoring NaN as the cpu backend's 'if (x > max) max = x' does.
__device__ float at_block_max(float v, float* shared) {
  v = at_warp_max(v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = at_warp_max(lane < warps ? shared[lane] : -at_inf());
    if (lane == 0) shared[0] = v;
  }
  __syncthreads();
  v = shared[0];
  __syncthreads();
  return v;
}

// ---- elementwise ----------------------------------------------------------------------------------------

// y = op(x, a, b), computed in double and rounded once, like the cpu backend's unaryScalar.
extern "C" __global__ void at_unary(const float* __restrict__ x, float* __restrict__ y, long long n, int op,
                                    double a, double b) {
  AT_GRID_STRIDE(i, n) {
    const double v = x[i];
    double r;
    switch (op) {
      case 0: r = v * a + b; break;
      case 1: r = exp(v); break;
      case 2: r = log(v); break;
      case 3: r = sqrt(v); break;
      case 4: r = 1.0 / sqrt(v); break;
      case 5: r = fabs(v); break;
      case 6: r = v > 0.0 ? 1.0 : (v < 0.0 ? -1.0 : 0.0); break;
      case 7:
        // JavaScript's x ** a is NaN where C's pow gives 1: a NaN exponent, and |x| = 1 with an infinite one.
        r = (a != a || (fabs(v) == 1.0 && fabs(a) == (double)at_inf())) ? at_nan() : pow(v, a);
        break;
      // max and gt keep a NaN x (as PyTorch's relu and the cpu backend): never fmax, whose NaN gives a.
      case 8: r = (v > a || v != v) ? v : a; break;
      default: r = v > a ? 1.0 : (v != v ? b : 0.0); break;
    }
    y[i] = (float)r;
  }
}

// out[i] = a[ia(i)] op b[ib(i)] over g.shape, ia/ib from the per-axis strides g.a/g.b.
extern "C" __global__ void at_binary(const float* __restrict__ a, const float* __restrict__ b,
                                     float* __restrict__ out, long long n, int op, AtStrided g) {
  AT_GRID_STRIDE(i, n) {
    int rem = (int)i, ia = 0, ib = 0;
#pragma unroll
    for (int j = 0; j < AT_MAX_RANK; j++) {
      const int d = AT_MAX_RANK - 1 - j;
      if (d < g.rank) {
        const int s = g.shape[d], q = rem / s, k = rem - q * s;
        rem = q;
        ia += k * g.a[d];
        ib += k * g.b[d];
      }
    }
    const float x = a[ia], y = b[ib];
    float r;
    switch (op) {
      case 0: r = x + y; break;
      case 1: r = x - y; break;
      case 2: r = x * y; break;
      default: r = x / y; break;
    }
    out[i] = r;
  }
}

// out[i] = x[offset + sum_d idx_d(i) * g.a[d]] over g.shape.
extern "C" __global__ void at_strided(const float* __restrict__ x, float* __restrict__ out, long long n,
                                      long long offset, AtStrided g) {
  AT_GRID_STRIDE(i, n) {
    int rem = (int)i;
    long long ix = offset;
#pragma unroll
    for (int j = 0; j < AT_MAX_RANK; j++) {
      const int d = AT_MAX_RANK - 1 - j;
      if (d < g.rank) {
        const int s = g.shape[d], q = rem / s, k = rem - q * s;
        rem = q;
        ix += (long long)k * g.a[d];
      }
    }
    out[i] = x[ix];
  }
}

// ---- reductions -----------------------------------------------------------------------------------------

// x [outer, reduced] -> out [outer]: one block per row, summed in double.
extern "C" __global__ void at_sum_rows(const float* __restrict__ x, float* __restrict__ out, int outer, int reduced) {
  __shared__ double shared[32];
  for (int row = blockIdx.x; row < outer; row += gridDim.x) {
    const float* p = x + (long long)row * reduced;
    double acc = 0.0;
    for (int r = threadIdx.x; r < reduced; r += blockDim.x) acc += (double)p[r];
    acc = at_block_sum(acc, shared);
    if (threadIdx.x == 0) out[row] = (float)acc;
  }
}

// x [outer, reduced, inner] -> out [outer, inner]: a block of (at most) 32 x 8 threads per blockDim.x adjacent
// columns of one outer index; the rows of threads split the reduced axis, summed in double.
extern "C" __global__ void at_sum_cols(const float* __restrict__ x, float* __restrict__ out, int outer, int reduced,
                                       int inner) {
  __shared__ double part[8][33];
  const int width = (int)blockDim.x;
  const int tiles = (inner + width - 1) / width;
  const long long total = (long long)outer * tiles;
  for (long long t = blockIdx.x; t < total; t += gridDim.x) {
    const int o = (int)(t / tiles);
    const int i = (int)(t - (long long)o * tiles) * width + threadIdx.x;
    double acc = 0.0;
    if (i < inner) {
      const float* p = x + (long long)o * reduced * inner + i;
      for (int r = threadIdx.y; r < reduced; r += blockDim.y) acc += (double)p[(long long)r * inner];
    }
    part[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && i < inner) {
      double s = 0.0;
      for (int y = 0; y < (int)blockDim.y; y++) s += part[y][threadIdx.x];
      out[(long long)o * inner + i] = (float)s;
    }
    __syncthreads();
  }
}

// ---- softmax --------------------------------------------------------------------------------------------

// Row-wise log-softmax of x [rows, cols]: max-shifted, the exponentials summed in double.
extern "C" __global__ void at_log_softmax(const float* __restrict__ x, float* __restrict__ y, int rows, int cols) {
  __shared__ float smax[32];
  __shared__ double ssum[32];
  for (int row = blockIdx.x; row < rows; row += gridDim.x) {
    const float* xr = x + (long long)row * cols;
    float* yr = y + (long long)row * cols;
    float m = -at_inf();
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
      const float v = xr[j];
      m = v > m ? v : m;
    }
    m = at_block_max(m, smax);
    double s = 0.0;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) s += exp((double)xr[j] - (double)m);
    s = at_block_sum(s, ssum);
    const double lse = (double)m + log(s);
    for (int j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = (float)((double)xr[j] - lse);
  }
}

// ---- optimisation ---------------------------------------------------------------------------------------

// SGD with momentum and weight decay, in place, rounded to float at the stages PyTorch rounds.
extern "C" __global__ void at_sgd(float* __restrict__ param, const float* __restrict__ grad,
                                  float* __restrict__ momentum_buffer, long long n, double lr, double momentum,
                                  double weight_decay) {
  AT_GRID_STRIDE(i, n) {
    const double p = param[i];
    const double d = (double)(float)((double)grad[i] + weight_decay * p);
    const double m = (double)(float)(momentum * (double)momentum_buffer[i] + d);
    momentum_buffer[i] = (float)m;
    param[i] = (float)(p - lr * m);
  }
}

// ---- pooling --------------------------------------------------------------------------------------------

// Index within its plane of the first maximum of a window, or of its last NaN (PyTorch's rule: each NaN
// replaces the running maximum), or -1 if the window is all padding.
__device__ int at_window_argmax(const float* plane, const AtPool& g, int y0, int x0) {
  float best = -at_inf();
  int at = -1;
  const int ys = at_imax(y0, 0), ye = at_imin(y0 + g.kernel, g.h), xs = at_imax(x0, 0), xe = at_imin(x0 + g.kernel, g.w);
  for (int iy = ys; iy < ye; iy++) {
    for (int ix = xs; ix < xe; ix++) {
      const int k = iy * g.w + ix;
      const float v = plane[k];
      if (at < 0 || v > best || v != v) {
        best = v;
        at = k;
      }
    }
  }
  return at;
}

// The range [lo, hi] of output positions along one axis whose windows cover input position i.
__device__ __forceinline__ void at_covering(int i, int pad, int kernel, int stride, int out, int& lo, int& hi) {
  const int first = i + pad - kernel + 1;
  lo = first <= 0 ? 0 : (first + stride - 1) / stride;
  hi = at_imin(out - 1, (i + pad) / stride);
}

extern "C" __global__ void at_avg_pool(const float* __restrict__ x, float* __restrict__ y, AtPool g) {
  const long long total = (long long)g.n * g.c * g.oh * g.ow;
  const double area = (double)(g.kernel * g.kernel);
  AT_GRID_STRIDE(o, total) {
    const int ox = (int)(o % g.ow);
    const long long t = o / g.ow;
    const int oy = (int)(t % g.oh);
    const long long p = t / g.oh;
    const int y0 = oy * g.stride - g.pad, x0 = ox * g.stride - g.pad;
    const float* plane = x + p * g.h * g.w;
    double s = 0.0;
    for (int iy = at_imax(y0, 0); iy < at_imin(y0 + g.kernel, g.h); iy++) {
      for (int ix = at_imax(x0, 0); ix < at_imin(x0 + g.kernel, g.w); ix++) s += (double)plane[iy * g.w + ix];
    }
    y[o] = (float)(s / area);
  }
}

// dx gathered per input element over the windows that cover it, in the cpu backend's (oy, ox) order.
extern "C" __global__ void at_avg_pool_backward(const float* __restrict__ dy, float* __restrict__ dx, AtPool g) {
  const long long total = (long long)g.n * g.c * g.h * g.w;
  const double area = (double)(g.kernel * g.kernel);
  AT_GRID_STRIDE(i, total) {
    const int ix = (int)(i % g.w);
    const long long t = i / g.w;
    const int iy = (int)(t % g.h);
    const long long p = t / g.h;
    int oy0, oy1, ox0, ox1;
    at_covering(iy, g.pad, g.kernel, g.stride, g.oh, oy0, oy1);
    at_covering(ix, g.pad, g.kernel, g.stride, g.ow, ox0, ox1);
    const float* d = dy + p * g.oh * g.ow;
    float acc = 0.0f;
    for (int oy = oy0; oy <= oy1; oy++) {
      for (int ox = ox0; ox <= ox1; ox++) acc = (float)((double)acc + (double)d[oy * g.ow + ox] / area);
    }
    dx[i] = acc;
  }
}

extern "C" __global__ void at_max_pool(const float* __restrict__ x, float* __restrict__ y, AtPool g) {
  const long long total = (long long)g.n * g.c * g.oh * g.ow;
  AT_GRID_STRIDE(o, total) {
    const int ox = (int)(o % g.ow);
    const long long t = o / g.ow;
    const int oy = (int)(t % g.oh);
    const long long p = t / g.oh;
    const float* plane = x + p * g.h * g.w;
    const int k = at_window_argmax(plane, g, oy * g.stride - g.pad, ox * g.stride - g.pad);
    y[o] = k < 0 ? -at_inf() : plane[k];
  }
}

// dx gathered per input element: dy of every covering window whose first maximum it is, in (oy, ox) order.
extern "C" __global__ void at_max_pool_backward(const float* __restrict__ x, const float* __restrict__ dy,
                                                float* __restrict__ dx, AtPool g) {
  const long long total = (long long)g.n * g.c * g.h * g.w;
  AT_GRID_STRIDE(i, total) {
    const int ix = (int)(i % g.w);
    const long long t = i / g.w;
    const int iy = (int)(t % g.h);
    const long long p = t / g.h;
    int oy0, oy1, ox0, ox1;
    at_covering(iy, g.pad, g.kernel, g.stride, g.oh, oy0, oy1);
    at_covering(ix, g.pad, g.kernel, g.stride, g.ow, ox0, ox1);
    const float* plane = x + p * g.h * g.w;
    const float* d = dy + p * g.oh * g.ow;
    const int self = iy * g.w + ix;
    float acc = 0.0f;
    for (int oy = oy0; oy <= oy1; oy++) {
      for (int ox = ox0; ox <= ox1; ox++) {
        if (at_window_argmax(plane, g, oy * g.stride - g.pad, ox * g.stride - g.pad) == self) acc += d[oy * g.ow + ox];
      }
    }
    dx[i] = acc;
  }
}

// out[o] = ddx at the first maximum of window o of x (0 for an all-padding window).
extern "C" __global__ void at_max_pool_gather(const float* __restrict__ x, const float* __restrict__ ddx,
                                              float* __restrict__ out, AtPool g) {
  const long long total = (long long)g.n * g.c * g.oh * g.ow;
  AT_GRID_STRIDE(o, total) {
    const int ox = (int)(o % g.ow);
    const long long t = o / g.ow;
    const int oy = (int)(t % g.oh);
    const long long p = t / g.oh;
    const long long base = p * g.h * g.w;
    const int k = at_window_argmax(x + base, g, oy * g.stride - g.pad, ox * g.stride - g.pad);
    out[o] = k < 0 ? 0.0f : ddx[base + k];
  }
}

// ---- batch norm -----------------------------------------------------------------------------------------

// Running statistics when each channel has one value (n * hw = 1): the batch variance is 0, and so is its
// unbiased estimate by the cpu backend's convention (cuDNN would divide by n * hw - 1 = 0).
extern "C" __global__ void at_bn_running_count1(float* __restrict__ running_mean, float* __restrict__ running_var,
                                               const float* __restrict__ mean, int c, double momentum) {
  AT_GRID_STRIDE(i, c) {
    running_mean[i] = (float)((1.0 - momentum) * (double)running_mean[i] + momentum * (double)mean[i]);
    running_var[i] = (float)((1.0 - momentum) * (double)running_var[i] + momentum * 0.0);
  }
}
`;

/** NVRTC / nvcc options every compilation of {@linkcode KERNEL_SOURCE} needs (besides the target). */
export const KERNEL_COMPILE_OPTIONS: readonly string[] = ["--fmad=false", "--std=c++17"];
