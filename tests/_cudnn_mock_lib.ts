/**
 * A stand-in for the four CUDA libraries, built with the host C++ compiler, so the cudnn backend's whole
 * host side runs without a GPU: "device" memory is host memory, `cuLaunchKernel` runs the backend's own
 * kernel source compiled for the host (one thread per launch), and cuDNN / cuBLAS are naive loops that
 * follow the C API's documented semantics and check their descriptor arguments. It catches wrong argument
 * order, packing, geometry and TF32 settings; it says nothing about the real libraries' speed.
 *
 * Behaviour switches (environment variables of the process that loads it): `MOCK_CUINIT` (cuInit's status),
 * `MOCK_DEVICES` (device count), `MOCK_CUDNN_CREATE` (cudnnCreate's status).
 *
 * @module
 */
import { KERNEL_NAMES, KERNEL_SOURCE } from "../src/backends/cudnn_ffi/_kernels_cu.ts";

const SHIM = String.raw`
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <utility>
#define AT_HOST 1
struct AtDim3 { unsigned x, y, z; };
static AtDim3 threadIdx = {0, 0, 0}, blockIdx = {0, 0, 0}, blockDim = {1, 1, 1}, gridDim = {1, 1, 1};
#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static
static inline void __syncthreads() {}
static inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
static inline double __longlong_as_double(long long i) { double d; std::memcpy(&d, &i, 8); return d; }
static inline double at_warp_sum(double v) { return v; }
static inline float at_warp_max(float v) { return v; }
`;

const MOCK = String.raw`
typedef unsigned long long u64;

template <typename F> struct Tramp;
template <typename... A> struct Tramp<void(A...)> {
  template <void (*F)(A...), std::size_t... I> static void call(void** p, std::index_sequence<I...>) {
    F(*static_cast<typename std::decay<A>::type*>(p[I])...);
  }
  template <void (*F)(A...)> static void run(void** p) { call<F>(p, std::index_sequence_for<A...>{}); }
};
struct KernelEntry { const char* name; void (*run)(void**); };
#define AT_KERNEL(name) { #name, &Tramp<decltype(name)>::run<name> }
static const KernelEntry kKernels[] = { __KERNELS__ };

static int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

extern "C" {
// ---- CUDA driver ----
int cuInit(unsigned) { return env_int("MOCK_CUINIT", 0); }
int cuDriverGetVersion(int* v) { *v = 13000; return 0; }
int cuGetErrorName(int e, const char** s) {
  *s = e == 100 ? "CUDA_ERROR_NO_DEVICE" : e == 2 ? "CUDA_ERROR_OUT_OF_MEMORY" : e == 1 ? "CUDA_ERROR_INVALID_VALUE"
     : e == 500 ? "CUDA_ERROR_NOT_FOUND" : "CUDA_ERROR_UNKNOWN";
  return 0;
}
int cuGetErrorString(int e, const char** s) { *s = e == 100 ? "no CUDA-capable device is detected" : "mock error"; return 0; }
int cuDeviceGetCount(int* c) { *c = env_int("MOCK_DEVICES", 1); return 0; }
int cuDeviceGet(int* d, int ordinal) { *d = ordinal; return 0; }
int cuDeviceGetName(char* name, int len, int) { std::strncpy(name, "Mock GPU", len); return 0; }
int cuDeviceGetAttribute(int* v, int a, int) { *v = a == 75 ? 9 : a == 76 ? 0 : a == 16 ? 4 : 0; return 0; }
int cuDeviceTotalMem_v2(size_t* b, int) { *b = (size_t)1 << 33; return 0; }
int cuDevicePrimaryCtxRetain(u64* ctx, int) { *ctx = 0x1000; return 0; }
int cuDevicePrimaryCtxRelease_v2(int) { return 0; }
int cuCtxSetCurrent(u64 ctx) { return ctx == 0x1000 ? 0 : 201; }
int cuCtxSynchronize() { return 0; }
int cuMemGetInfo_v2(size_t* f, size_t* t) { *f = (size_t)1 << 32; *t = (size_t)1 << 33; return 0; }
int cuMemAlloc_v2(u64* p, size_t n) { *p = (u64)std::malloc(n); return *p ? 0 : 2; }
int cuMemFree_v2(u64 p) { std::free((void*)p); return 0; }
int cuMemAllocHost_v2(void** p, size_t n) { *p = std::malloc(n); return *p ? 0 : 2; }
int cuMemFreeHost(u64 p) { std::free((void*)p); return 0; }
int cuMemcpyHtoDAsync_v2(u64 d, const void* s, size_t n, u64) { std::memcpy((void*)d, s, n); return 0; }
int cuMemcpyDtoHAsync_v2(u64 d, u64 s, size_t n, u64) { std::memcpy((void*)d, (void*)s, n); return 0; }
int cuMemcpyDtoDAsync_v2(u64 d, u64 s, size_t n, u64) { std::memmove((void*)d, (void*)s, n); return 0; }
int cuMemsetD32Async(u64 d, unsigned v, size_t n, u64) { for (size_t i = 0; i < n; i++) ((unsigned*)d)[i] = v; return 0; }
int cuModuleLoadData(u64* m, const void* image) { *m = image ? 0x2000 : 0; return image ? 0 : 200; }
int cuModuleGetFunction(u64* f, u64, const char* name) {
  for (const KernelEntry& k : kKernels) if (std::strcmp(k.name, name) == 0) { *f = (u64)&k; return 0; }
  return 500;
}
int cuModuleUnload(u64) { return 0; }
int cuLaunchKernel(u64 f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned, u64,
                   void** params, void** extra) {
  if (!f || !params || extra || gx < 1 || gy < 1 || gz < 1 || bx * by * bz < 1 || bx * by * bz > 1024) return 1;
  ((const KernelEntry*)f)->run(params);
  return 0;
}
int cuStreamCreate(u64* s, unsigned) { *s = 0x3000; return 0; }
int cuStreamSynchronize(u64) { return 0; }
int cuStreamDestroy_v2(u64) { return 0; }
int cuEventCreate(u64* e, unsigned) { static u64 next = 0x4000; *e = next++; return 0; }
// A recorded event reads as not ready once, so the backend's polling path runs too.
static u64 g_pending[64];
int cuEventRecord(u64 e, u64) {
  for (u64& p : g_pending) if (p == 0 || p == e) { p = e; return 0; }
  return 0;
}
int cuEventQuery(u64 e) {
  for (u64& p : g_pending) if (p == e) { p = 0; return 600; }
  return 0;
}
int cuEventSynchronize(u64) { return 0; }
int cuEventDestroy_v2(u64) { return 0; }
int cuEventElapsedTime_v2(float* ms, u64, u64) { *ms = 0; return 0; }

// ---- cuDNN (legacy API, naive) ----
struct Desc { int kind, n, c, h, w, pad, stride, dilation, mode, compute, math; };
enum { TENSOR = 1, FILTER = 2, CONV = 3 };
static Desc* D(u64 p) { return (Desc*)p; }
size_t cudnnGetVersion() { return 90600; }
const char* cudnnGetErrorString(int s) {
  return s == 1008 ? "CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED" : s == 2000 ? "CUDNN_STATUS_BAD_PARAM"
       : s == 3000 ? "CUDNN_STATUS_NOT_SUPPORTED" : "CUDNN_STATUS_INTERNAL_ERROR";
}
void cudnnGetLastErrorString(char* m, size_t n) { if (n) m[0] = 0; }
int cudnnCreate(u64* h) { *h = 0x5000; return env_int("MOCK_CUDNN_CREATE", 0); }
int cudnnDestroy(u64) { return 0; }
int cudnnSetStream(u64 h, u64 s) { return h == 0x5000 && s == 0x3000 ? 0 : 2000; }
static int create_desc(u64* d, int kind) { Desc* x = (Desc*)std::calloc(1, sizeof(Desc)); x->kind = kind; *d = (u64)x; return 0; }
int cudnnCreateTensorDescriptor(u64* d) { return create_desc(d, TENSOR); }
int cudnnCreateFilterDescriptor(u64* d) { return create_desc(d, FILTER); }
int cudnnCreateConvolutionDescriptor(u64* d) { return create_desc(d, CONV); }
int cudnnDestroyTensorDescriptor(u64 d) { std::free((void*)d); return 0; }
int cudnnDestroyFilterDescriptor(u64 d) { std::free((void*)d); return 0; }
int cudnnDestroyConvolutionDescriptor(u64 d) { std::free((void*)d); return 0; }
int cudnnSetTensor4dDescriptor(u64 d, int format, int type, int n, int c, int h, int w) {
  if (D(d)->kind != TENSOR || format != 0 || type != 0 || n < 1 || c < 1 || h < 1 || w < 1) return 2000;
  D(d)->n = n; D(d)->c = c; D(d)->h = h; D(d)->w = w; return 0;
}
int cudnnSetFilter4dDescriptor(u64 d, int type, int format, int k, int c, int h, int w) {
  if (D(d)->kind != FILTER || format != 0 || type != 0 || k < 1 || c < 1 || h < 1 || w < 1) return 2000;
  D(d)->n = k; D(d)->c = c; D(d)->h = h; D(d)->w = w; return 0;
}
int cudnnSetConvolution2dDescriptor(u64 d, int ph, int pw, int u, int v, int dh, int dw, int mode, int compute) {
  if (D(d)->kind != CONV || ph != pw || u != v || dh != 1 || dw != 1 || mode != 1 || compute != 0) return 2000;
  D(d)->pad = ph; D(d)->stride = u; D(d)->dilation = dh; D(d)->mode = mode; D(d)->compute = compute; return 0;
}
int cudnnSetConvolutionMathType(u64 d, int math) { D(d)->math = math; return 0; }
static bool conv_ok(u64 xd, u64 wd, u64 cd, u64 yd) {
  Desc *x = D(xd), *w = D(wd), *c = D(cd), *y = D(yd);
  if (x->kind != TENSOR || w->kind != FILTER || c->kind != CONV || y->kind != TENSOR) return false;
  if (c->math != 3) return false;  // FMA math only: no TF32
  return x->c == w->c && y->n == x->n && y->c == w->n && y->h == (x->h + 2 * c->pad - w->h) / c->stride + 1 &&
         y->w == (x->w + 2 * c->pad - w->w) / c->stride + 1;
}
int cudnnGetConvolution2dForwardOutputDim(u64 cd, u64 xd, u64 wd, int* n, int* c, int* h, int* w) {
  Desc *x = D(xd), *f = D(wd), *cv = D(cd);
  if (x->kind != TENSOR || f->kind != FILTER || cv->kind != CONV) return 2000;
  *n = x->n; *c = f->n; *h = (x->h + 2 * cv->pad - f->h) / cv->stride + 1; *w = (x->w + 2 * cv->pad - f->w) / cv->stride + 1;
  return 0;
}
static int max_count(u64, int* c) { *c = 3; return 0; }
int cudnnGetConvolutionForwardAlgorithmMaxCount(u64 h, int* c) { return max_count(h, c); }
int cudnnGetConvolutionBackwardDataAlgorithmMaxCount(u64 h, int* c) { return max_count(h, c); }
int cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(u64 h, int* c) { return max_count(h, c); }
// Ranked results: a fast non-deterministic algorithm, a tensor-op one, then a deterministic one.
static void perf(int requested, int* returned, unsigned char* out) {
  struct P { int algo, status; float time; size_t memory; int determinism, math, reserved[3]; };
  static_assert(sizeof(P) == 48, "cudnnConvolution*AlgoPerf_t is 48 bytes");
  const P ps[3] = {{1, 0, 0.5f, 4096, 0, 3, {0}}, {6, 0, 0.6f, 0, 1, 1, {0}}, {0, 0, 1.0f, 1024, 1, 3, {0}}};
  int n = requested < 3 ? requested : 3;
  std::memcpy(out, ps, n * sizeof(P));
  *returned = n;
}
int cudnnFindConvolutionForwardAlgorithmEx(u64, u64 xd, u64 x, u64 wd, u64 w, u64 cd, u64 yd, u64 y, int req, int* ret,
                                           unsigned char* p, u64 ws, size_t wsb) {
  if (!conv_ok(xd, wd, cd, yd) || !x || !w || !y || (wsb && !ws)) return 2000;
  perf(req, ret, p); return 0;
}
int cudnnFindConvolutionBackwardDataAlgorithmEx(u64, u64 wd, u64 w, u64 dyd, u64 dy, u64 cd, u64 dxd, u64 dx, int req,
                                                int* ret, unsigned char* p, u64 ws, size_t wsb) {
  if (!conv_ok(dxd, wd, cd, dyd) || !w || !dy || !dx || (wsb && !ws)) return 2000;
  perf(req, ret, p); return 0;
}
int cudnnFindConvolutionBackwardFilterAlgorithmEx(u64, u64 xd, u64 x, u64 dyd, u64 dy, u64 cd, u64 dwd, u64 dw, int req,
                                                  int* ret, unsigned char* p, u64 ws, size_t wsb) {
  if (!conv_ok(xd, dwd, cd, dyd) || !x || !dy || !dw || (wsb && !ws)) return 2000;
  perf(req, ret, p); return 0;
}
int cudnnGetConvolutionForwardAlgorithm_v7(u64, u64 xd, u64 wd, u64 cd, u64 yd, int req, int* ret, unsigned char* p) {
  if (!conv_ok(xd, wd, cd, yd)) return 2000;
  perf(req, ret, p); return 0;
}
int cudnnGetConvolutionBackwardDataAlgorithm_v7(u64, u64 wd, u64 dyd, u64 cd, u64 dxd, int req, int* ret, unsigned char* p) {
  if (!conv_ok(dxd, wd, cd, dyd)) return 2000;
  perf(req, ret, p); return 0;
}
int cudnnGetConvolutionBackwardFilterAlgorithm_v7(u64, u64 xd, u64 dyd, u64 cd, u64 dwd, int req, int* ret, unsigned char* p) {
  if (!conv_ok(xd, dwd, cd, dyd)) return 2000;
  perf(req, ret, p); return 0;
}
static size_t ws_of(int algo) { return algo == 1 ? 4096 : algo == 0 ? 1024 : 0; }
int cudnnGetConvolutionForwardWorkspaceSize(u64, u64 xd, u64 wd, u64 cd, u64 yd, int algo, size_t* s) {
  if (!conv_ok(xd, wd, cd, yd)) return 2000;
  *s = ws_of(algo); return 0;
}
int cudnnGetConvolutionBackwardDataWorkspaceSize(u64, u64 wd, u64 dyd, u64 cd, u64 dxd, int algo, size_t* s) {
  if (!conv_ok(dxd, wd, cd, dyd)) return 2000;
  *s = ws_of(algo); return 0;
}
int cudnnGetConvolutionBackwardFilterWorkspaceSize(u64, u64 xd, u64 dyd, u64 cd, u64 dwd, int algo, size_t* s) {
  if (!conv_ok(xd, dwd, cd, dyd)) return 2000;
  *s = ws_of(algo); return 0;
}
// Calls f(xIndex, wIndex, yIndex) for every term of the cross-correlation.
extern "C++" template <typename F> inline void conv_terms(const Desc* x, const Desc* w, const Desc* cv, const Desc* y, F f) {
  for (int n = 0; n < x->n; n++) for (int k = 0; k < w->n; k++) for (int oy = 0; oy < y->h; oy++)
    for (int ox = 0; ox < y->w; ox++) for (int c = 0; c < x->c; c++) for (int ky = 0; ky < w->h; ky++)
      for (int kx = 0; kx < w->w; kx++) {
        const int iy = oy * cv->stride - cv->pad + ky, ix = ox * cv->stride - cv->pad + kx;
        if (iy < 0 || iy >= x->h || ix < 0 || ix >= x->w) continue;
        f((size_t)((n * x->c + c) * x->h + iy) * x->w + ix, (size_t)((k * w->c + c) * w->h + ky) * w->w + kx,
          (size_t)((n * y->c + k) * y->h + oy) * y->w + ox);
      }
}
static size_t count(const Desc* d) { return (size_t)d->n * d->c * d->h * d->w; }
static void blend(float* out, const double* acc, size_t n, const void* alpha, const void* beta) {
  const float a = *(const float*)alpha, b = *(const float*)beta;
  for (size_t i = 0; i < n; i++) out[i] = (float)(a * acc[i] + (b != 0 ? b * out[i] : 0.0));
}
static bool ws_ok(int algo, u64 ws, size_t wsb) { return wsb >= ws_of(algo) && (ws_of(algo) == 0 || ws); }
int cudnnConvolutionForward(u64, const void* alpha, u64 xd, u64 x, u64 wd, u64 w, u64 cd, int algo, u64 ws, size_t wsb,
                            const void* beta, u64 yd, u64 y) {
  if (!conv_ok(xd, wd, cd, yd) || !ws_ok(algo, ws, wsb)) return 2000;
  double* acc = (double*)std::calloc(count(D(yd)), sizeof(double));
  conv_terms(D(xd), D(wd), D(cd), D(yd), [&](size_t xi, size_t wi, size_t yi) { acc[yi] += (double)((float*)x)[xi] * ((float*)w)[wi]; });
  blend((float*)y, acc, count(D(yd)), alpha, beta); std::free(acc); return 0;
}
int cudnnConvolutionBackwardData(u64, const void* alpha, u64 wd, u64 w, u64 dyd, u64 dy, u64 cd, int algo, u64 ws,
                                 size_t wsb, const void* beta, u64 dxd, u64 dx) {
  if (!conv_ok(dxd, wd, cd, dyd) || !ws_ok(algo, ws, wsb)) return 2000;
  double* acc = (double*)std::calloc(count(D(dxd)), sizeof(double));
  conv_terms(D(dxd), D(wd), D(cd), D(dyd), [&](size_t xi, size_t wi, size_t yi) { acc[xi] += (double)((float*)dy)[yi] * ((float*)w)[wi]; });
  blend((float*)dx, acc, count(D(dxd)), alpha, beta); std::free(acc); return 0;
}
int cudnnConvolutionBackwardFilter(u64, const void* alpha, u64 xd, u64 x, u64 dyd, u64 dy, u64 cd, int algo, u64 ws,
                                   size_t wsb, const void* beta, u64 dwd, u64 dw) {
  if (!conv_ok(xd, dwd, cd, dyd) || !ws_ok(algo, ws, wsb)) return 2000;
  double* acc = (double*)std::calloc(count(D(dwd)), sizeof(double));
  conv_terms(D(xd), D(dwd), D(cd), D(dyd), [&](size_t xi, size_t wi, size_t yi) { acc[wi] += (double)((float*)x)[xi] * ((float*)dy)[yi]; });
  blend((float*)dw, acc, count(D(dwd)), alpha, beta); std::free(acc); return 0;
}
static bool bn_ok(int mode, u64 xd, u64 pd) {
  Desc *x = D(xd), *p = D(pd);
  return mode == 1 && x->kind == TENSOR && p->kind == TENSOR && p->n == 1 && p->c == x->c && p->h == 1 && p->w == 1;
}
// Per channel: f(index) over the n and spatial positions of channel c.
extern "C++" template <typename F> inline void each(const Desc* x, int c, F f) {
  const size_t hw = (size_t)x->h * x->w;
  for (int n = 0; n < x->n; n++) for (size_t i = 0; i < hw; i++) f(((size_t)n * x->c + c) * hw + i);
}
int cudnnBatchNormalizationForwardTraining(u64, int mode, const void* alpha, const void* beta, u64 xd, u64 x, u64 yd,
                                           u64 y, u64 pd, u64 scale, u64 bias, double factor, u64 rm, u64 rv,
                                           double eps, u64 sm, u64 si) {
  if (!bn_ok(mode, xd, pd) || xd != yd || *(const float*)alpha != 1 || *(const float*)beta != 0) return 2000;
  if ((rm == 0) != (rv == 0)) return 2000;
  const Desc* X = D(xd);
  const double cnt = (double)X->n * X->h * X->w;
  const float *xs = (const float*)x, *g = (const float*)scale, *b = (const float*)bias;
  for (int c = 0; c < X->c; c++) {
    double s = 0, ss = 0;
    each(X, c, [&](size_t i) { s += xs[i]; });
    const double mean = s / cnt;
    each(X, c, [&](size_t i) { ss += (xs[i] - mean) * (xs[i] - mean); });
    const double var = ss / cnt, inv = 1 / std::sqrt(var + eps);
    each(X, c, [&](size_t i) { ((float*)y)[i] = (float)(g[c] * (xs[i] - mean) * inv + b[c]); });
    ((float*)sm)[c] = (float)mean; ((float*)si)[c] = (float)inv;
    if (rm) {
      ((float*)rm)[c] = (float)((1 - factor) * ((float*)rm)[c] + factor * mean);
      ((float*)rv)[c] = (float)((1 - factor) * ((float*)rv)[c] + factor * ss / (cnt - 1));
    }
  }
  return 0;
}
int cudnnBatchNormalizationForwardInference(u64, int mode, const void* alpha, const void* beta, u64 xd, u64 x, u64 yd,
                                            u64 y, u64 pd, u64 scale, u64 bias, u64 m, u64 v, double eps) {
  if (!bn_ok(mode, xd, pd) || xd != yd || *(const float*)alpha != 1 || *(const float*)beta != 0) return 2000;
  const Desc* X = D(xd);
  for (int c = 0; c < X->c; c++) {
    const double k = ((float*)scale)[c] / std::sqrt((double)((float*)v)[c] + eps);
    each(X, c, [&](size_t i) { ((float*)y)[i] = (float)(k * (((float*)x)[i] - ((float*)m)[c]) + ((float*)bias)[c]); });
  }
  return 0;
}
int cudnnBatchNormalizationBackward(u64, int mode, const void* ad, const void* bd, const void* ap, const void* bp, u64 xd,
                                    u64 x, u64 dyd, u64 dy, u64 dxd, u64 dx, u64 pd, u64 scale, u64 dscale, u64 dbias,
                                    double, u64 sm, u64 si) {
  if (!bn_ok(mode, xd, pd) || xd != dyd || xd != dxd || !sm || !si) return 2000;
  if (*(const float*)ad != 1 || *(const float*)bd != 0 || *(const float*)ap != 1 || *(const float*)bp != 0) return 2000;
  const Desc* X = D(xd);
  const double cnt = (double)X->n * X->h * X->w;
  const float *xs = (const float*)x, *d = (const float*)dy;
  for (int c = 0; c < X->c; c++) {
    const double m = ((float*)sm)[c], inv = ((float*)si)[c];
    double sd = 0, sdx = 0;
    each(X, c, [&](size_t i) { sd += d[i]; sdx += d[i] * (xs[i] - m) * inv; });
    ((float*)dbias)[c] = (float)sd; ((float*)dscale)[c] = (float)sdx;
    const double k = ((float*)scale)[c] * inv;
    each(X, c, [&](size_t i) { ((float*)dx)[i] = (float)(k * (d[i] - sd / cnt - (xs[i] - m) * inv * sdx / cnt)); });
  }
  return 0;
}

// ---- cuBLAS ----
int cublasCreate_v2(u64* h) { *h = 0x6000; return 0; }
int cublasDestroy_v2(u64) { return 0; }
int cublasGetVersion_v2(u64, int* v) { *v = 130000; return 0; }
int cublasSetStream_v2(u64 h, u64 s) { return h == 0x6000 && s == 0x3000 ? 0 : 7; }
int cublasSetMathMode(u64, int mode) { return mode == 0 ? 0 : 7; }
const char* cublasGetStatusName(int s) { return s == 7 ? "CUBLAS_STATUS_INVALID_VALUE" : "CUBLAS_STATUS_INTERNAL_ERROR"; }
const char* cublasGetStatusString(int) { return "mock cuBLAS error"; }
int cublasSgemm_v2(u64, int ta, int tb, int m, int n, int k, const float* alpha, u64 A, int lda, u64 B, int ldb,
                   const float* beta, u64 C, int ldc) {
  if (m < 0 || n < 0 || k < 0 || lda < std::max(1, ta ? k : m) || ldb < std::max(1, tb ? n : k) || ldc < std::max(1, m)) return 7;
  const float *a = (const float*)A, *b = (const float*)B;
  for (int j = 0; j < n; j++) for (int i = 0; i < m; i++) {
    double acc = 0;
    for (int l = 0; l < k; l++) acc += (double)(ta ? a[l + (size_t)i * lda] : a[i + (size_t)l * lda]) * (tb ? b[j + (size_t)l * ldb] : b[l + (size_t)j * ldb]);
    float* c = (float*)C + i + (size_t)j * ldc;
    *c = (float)(*alpha * acc + (*beta != 0 ? *beta * *c : 0.0));
  }
  return 0;
}

// ---- NVRTC ----
const char* nvrtcGetErrorString(int s) { return s == 5 ? "NVRTC_ERROR_INVALID_OPTION" : s == 6 ? "NVRTC_ERROR_COMPILATION" : "NVRTC_ERROR_INTERNAL_ERROR"; }
int nvrtcVersion(int* major, int* minor) { *major = 13; *minor = 0; return 0; }
int nvrtcGetNumSupportedArchs(int* n) { *n = 3; return 0; }
int nvrtcGetSupportedArchs(int* a) { a[0] = 75; a[1] = 80; a[2] = 90; return 0; }
int nvrtcCreateProgram(u64* p, const char* src, const char* name, int nh, const void* h, const void* inc) {
  if (!src || !std::strstr(src, "at_unary") || !name || nh != 0 || h || inc) return 3;
  *p = 0x7000; return 0;
}
int nvrtcCompileProgram(u64 p, int n, const char* const* options) {
  bool fmad = false, arch = false;
  for (int i = 0; i < n; i++) {
    if (std::strcmp(options[i], "--fmad=false") == 0) fmad = true;
    if (std::strcmp(options[i], "--gpu-architecture=sm_90") == 0) arch = true;
  }
  return p == 0x7000 && fmad && arch ? 0 : 5;
}
int nvrtcGetProgramLogSize(u64, size_t* n) { *n = 1; return 0; }
int nvrtcGetProgramLog(u64, char* log) { log[0] = 0; return 0; }
int nvrtcGetCUBINSize(u64, size_t* n) { *n = 8; return 0; }
int nvrtcGetCUBIN(u64, char* c) { std::memcpy(c, "MOCKCUBN", 8); return 0; }
int nvrtcGetPTXSize(u64, size_t* n) { *n = 8; return 0; }
int nvrtcGetPTX(u64, char* c) { std::memcpy(c, "MOCKPTX", 8); return 0; }
int nvrtcDestroyProgram(u64* p) { *p = 0; return 0; }
}
`;

/** The mock's C++ source: the kernel source compiled for the host, then the four libraries' functions. */
export function mockSource(): string {
  const kernels = KERNEL_NAMES.map((name) => `AT_KERNEL(${name})`).join(", ");
  return `${SHIM}\n${KERNEL_SOURCE}\n${MOCK.replace("__KERNELS__", kernels)}`;
}

/** The host C++ compiler, if there is one. */
export function hostCompiler(): string | undefined {
  for (const cxx of ["g++", "c++", "clang++"]) {
    try {
      if (new Deno.Command(cxx, { args: ["--version"], stdout: "null", stderr: "null" }).outputSync().success) {
        return cxx;
      }
    } catch {
      // not installed
    }
  }
  return undefined;
}

/** The sonames the backend opens; the mock is installed under each. */
export const MOCK_SONAMES = ["libcuda.so.1", "libcudnn.so.9", "libcublas.so.13", "libnvrtc.so.13"] as const;

/**
 * Compiles the mock into `dir` and copies it under each of `sonames` there. Throws with the compiler's
 * output when it fails.
 */
export async function buildMock(dir: string, cxx: string, sonames: readonly string[] = MOCK_SONAMES): Promise<void> {
  const src = `${dir}/mock_cuda.cpp`;
  const lib = `${dir}/mock_cuda.so`;
  await Deno.writeTextFile(src, mockSource());
  const out = await new Deno.Command(cxx, {
    args: ["-std=c++17", "-O1", "-shared", "-fPIC", "-w", "-o", lib, src],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`${cxx} failed on the mock:\n${new TextDecoder().decode(out.stderr)}`);
  for (const name of sonames) await Deno.copyFile(lib, `${dir}/${name}`);
}
