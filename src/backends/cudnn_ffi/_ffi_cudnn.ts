/**
 * cuDNN 9 (`libcudnn.so.9`, the dispatcher that loads the `libcudnn_*` sub-libraries): the symbols this
 * backend binds. Legacy (imperative) API: deprecated in 9.x but exported and binary-stable within major
 * version 9.
 *
 * Handles, descriptors and device pointers travel as `"u64"` bigints; `alpha`/`beta` scale factors are host
 * pointers (`"buffer"`, a `Float32Array(1)` for float data); `exponentialAverageFactor` and `epsilon` are
 * doubles by value (`"f64"`).
 *
 * Each entry's comment is its C prototype (cuDNN 9 headers); `tests/cudnn_ffi_test.ts` checks the entries
 * against those comments.
 *
 * @module
 */

/** The cuDNN symbols. */
export const CUDNN_SYMBOLS = {
  /** size_t cudnnGetVersion(void) */
  cudnnGetVersion: { parameters: [], result: "usize" },
  /** const char *cudnnGetErrorString(cudnnStatus_t status) */
  cudnnGetErrorString: { parameters: ["i32"], result: "pointer" },
  /** void cudnnGetLastErrorString(char *message, size_t max_size) */
  cudnnGetLastErrorString: { parameters: ["buffer", "usize"], result: "void" },
  /** cudnnStatus_t cudnnCreate(cudnnHandle_t *handle) */
  cudnnCreate: { parameters: ["buffer"], result: "i32" },
  /** cudnnStatus_t cudnnDestroy(cudnnHandle_t handle) */
  cudnnDestroy: { parameters: ["u64"], result: "i32" },
  /** cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t streamId) */
  cudnnSetStream: { parameters: ["u64", "u64"], result: "i32" },

  /** cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *tensorDesc) */
  cudnnCreateTensorDescriptor: { parameters: ["buffer"], result: "i32" },
  /**
   * cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t tensorDesc, cudnnTensorFormat_t format,
   *   cudnnDataType_t dataType, int n, int c, int h, int w)
   */
  cudnnSetTensor4dDescriptor: { parameters: ["u64", "i32", "i32", "i32", "i32", "i32", "i32"], result: "i32" },
  /** cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t tensorDesc) */
  cudnnDestroyTensorDescriptor: { parameters: ["u64"], result: "i32" },
  /** cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t *filterDesc) */
  cudnnCreateFilterDescriptor: { parameters: ["buffer"], result: "i32" },
  /**
   * cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t filterDesc, cudnnDataType_t dataType,
   *   cudnnTensorFormat_t format, int k, int c, int h, int w)
   */
  cudnnSetFilter4dDescriptor: { parameters: ["u64", "i32", "i32", "i32", "i32", "i32", "i32"], result: "i32" },
  /** cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t filterDesc) */
  cudnnDestroyFilterDescriptor: { parameters: ["u64"], result: "i32" },
  /** cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *convDesc) */
  cudnnCreateConvolutionDescriptor: { parameters: ["buffer"], result: "i32" },
  /**
   * cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t convDesc, int pad_h, int pad_w,
   *   int u, int v, int dilation_h, int dilation_w, cudnnConvolutionMode_t mode, cudnnDataType_t computeType)
   */
  cudnnSetConvolution2dDescriptor: {
    parameters: ["u64", "i32", "i32", "i32", "i32", "i32", "i32", "i32", "i32"],
    result: "i32",
  },
  /** cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t convDesc, cudnnMathType_t mathType) */
  cudnnSetConvolutionMathType: { parameters: ["u64", "i32"], result: "i32" },
  /** cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t convDesc) */
  cudnnDestroyConvolutionDescriptor: { parameters: ["u64"], result: "i32" },
  /**
   * cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(const cudnnConvolutionDescriptor_t convDesc,
   *   const cudnnTensorDescriptor_t inputTensorDesc, const cudnnFilterDescriptor_t filterDesc, int *n, int *c,
   *   int *h, int *w)
   */
  cudnnGetConvolution2dForwardOutputDim: {
    parameters: ["u64", "u64", "u64", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },

  /** cudnnStatus_t cudnnGetConvolutionForwardAlgorithmMaxCount(cudnnHandle_t handle, int *count) */
  cudnnGetConvolutionForwardAlgorithmMaxCount: { parameters: ["u64", "buffer"], result: "i32" },
  /** cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithmMaxCount(cudnnHandle_t handle, int *count) */
  cudnnGetConvolutionBackwardDataAlgorithmMaxCount: { parameters: ["u64", "buffer"], result: "i32" },
  /** cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(cudnnHandle_t handle, int *count) */
  cudnnGetConvolutionBackwardFilterAlgorithmMaxCount: { parameters: ["u64", "buffer"], result: "i32" },
  /**
   * cudnnStatus_t cudnnFindConvolutionForwardAlgorithmEx(cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
   *   const void *x, const cudnnFilterDescriptor_t wDesc, const void *w, const cudnnConvolutionDescriptor_t convDesc,
   *   const cudnnTensorDescriptor_t yDesc, void *y, const int requestedAlgoCount, int *returnedAlgoCount,
   *   cudnnConvolutionFwdAlgoPerf_t *perfResults, void *workSpace, size_t workSpaceSizeInBytes)
   */
  cudnnFindConvolutionForwardAlgorithmEx: {
    parameters: ["u64", "u64", "u64", "u64", "u64", "u64", "u64", "u64", "i32", "buffer", "buffer", "u64", "usize"],
    result: "i32",
  },
  /**
   * cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithmEx(cudnnHandle_t handle,
   *   const cudnnFilterDescriptor_t wDesc, const void *w, const cudnnTensorDescriptor_t dyDesc, const void *dy,
   *   const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t dxDesc, void *dx,
   *   const int requestedAlgoCount, int *returnedAlgoCount, cudnnConvolutionBwdDataAlgoPerf_t *perfResults,
   *   void *workSpace, size_t workSpaceSizeInBytes)
   */
  cudnnFindConvolutionBackwardDataAlgorithmEx: {
    parameters: ["u64", "u64", "u64", "u64", "u64", "u64", "u64", "u64", "i32", "buffer", "buffer", "u64", "usize"],
    result: "i32",
  },
  /**
   * cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithmEx(cudnnHandle_t handle,
   *   const cudnnTensorDescriptor_t xDesc, const void *x, const cudnnTensorDescriptor_t dyDesc, const void *y,
   *   const cudnnConvolutionDescriptor_t convDesc, const cudnnFilterDescriptor_t dwDesc, void *dw,
   *   const int requestedAlgoCount, int *returnedAlgoCount, cudnnConvolutionBwdFilterAlgoPerf_t *perfResults,
   *   void *workSpace, size_t workSpaceSizeInBytes)
   */
  cudnnFindConvolutionBackwardFilterAlgorithmEx: {
    parameters: ["u64", "u64", "u64", "u64", "u64", "u64", "u64", "u64", "i32", "buffer", "buffer", "u64", "usize"],
    result: "i32",
  },
  /**
   * cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,
   *   const cudnnFilterDescriptor_t filterDesc, const cudnnConvolutionDescriptor_t convDesc,
   *   const cudnnTensorDescriptor_t destDesc, const int requestedAlgoCount, int *returnedAlgoCount,
   *   cudnnConvolutionFwdAlgoPerf_t *perfResults)
   */
  cudnnGetConvolutionForwardAlgorithm_v7: {
    parameters: ["u64", "u64", "u64", "u64", "u64", "i32", "buffer", "buffer"],
    result: "i32",
  },
  /**
   * cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t handle,
   *   const cudnnFilterDescriptor_t filterDesc, const cudnnTensorDescriptor_t diffDesc,
   *   const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t gradDesc,
   *   const int requestedAlgoCount, int *returnedAlgoCount, cudnnConvolutionBwdDataAlgoPerf_t *perfResults)
   */
  cudnnGetConvolutionBackwardDataAlgorithm_v7: {
    parameters: ["u64", "u64", "u64", "u64", "u64", "i32", "buffer", "buffer"],
    result: "i32",
  },
  /**
   * cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t handle,
   *   const cudnnTensorDescriptor_t srcDesc, const cudnnTensorDescriptor_t diffDesc,
   *   const cudnnConvolutionDescriptor_t convDesc, const cudnnFilterDescriptor_t gradDesc,
   *   const int requestedAlgoCount, int *returnedAlgoCount, cudnnConvolutionBwdFilterAlgoPerf_t *perfResults)
   */
  cudnnGetConvolutionBackwardFilterAlgorithm_v7: {
    parameters: ["u64", "u64", "u64", "u64", "u64", "i32", "buffer", "buffer"],
    result: "i32",
  },
  /**
   * cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
   *   const cudnnFilterDescriptor_t wDesc, const cudnnConvolutionDescriptor_t convDesc,
   *   const cudnnTensorDescriptor_t yDesc, cudnnConvolutionFwdAlgo_t algo, size_t *sizeInBytes)
   */
  cudnnGetConvolutionForwardWorkspaceSize: {
    parameters: ["u64", "u64", "u64", "u64", "u64", "i32", "buffer"],
    result: "i32",
  },
  /**
   * cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t handle,
   *   const cudnnFilterDescriptor_t wDesc, const cudnnTensorDescriptor_t dyDesc,
   *   const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t dxDesc,
   *   cudnnConvolutionBwdDataAlgo_t algo, size_t *sizeInBytes)
   */
  cudnnGetConvolutionBackwardDataWorkspaceSize: {
    parameters: ["u64", "u64", "u64", "u64", "u64", "i32", "buffer"],
    result: "i32",
  },
  /**
   * cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t handle,
   *   const cudnnTensorDescriptor_t xDesc, const cudnnTensorDescriptor_t dyDesc,
   *   const cudnnConvolutionDescriptor_t convDesc, const cudnnFilterDescriptor_t gradDesc,
   *   cudnnConvolutionBwdFilterAlgo_t algo, size_t *sizeInBytes)
   */
  cudnnGetConvolutionBackwardFilterWorkspaceSize: {
    parameters: ["u64", "u64", "u64", "u64", "u64", "i32", "buffer"],
    result: "i32",
  },
  /**
   * cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t handle, const void *alpha, const cudnnTensorDescriptor_t xDesc,
   *   const void *x, const cudnnFilterDescriptor_t wDesc, const void *w, const cudnnConvolutionDescriptor_t convDesc,
   *   cudnnConvolutionFwdAlgo_t algo, void *workSpace, size_t workSpaceSizeInBytes, const void *beta,
   *   const cudnnTensorDescriptor_t yDesc, void *y)
   */
  cudnnConvolutionForward: {
    parameters: ["u64", "buffer", "u64", "u64", "u64", "u64", "u64", "i32", "u64", "usize", "buffer", "u64", "u64"],
    result: "i32",
  },
  /**
   * cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t handle, const void *alpha,
   *   const cudnnFilterDescriptor_t wDesc, const void *w, const cudnnTensorDescriptor_t dyDesc, const void *dy,
   *   const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionBwdDataAlgo_t algo, void *workSpace,
   *   size_t workSpaceSizeInBytes, const void *beta, const cudnnTensorDescriptor_t dxDesc, void *dx)
   */
  cudnnConvolutionBackwardData: {
    parameters: ["u64", "buffer", "u64", "u64", "u64", "u64", "u64", "i32", "u64", "usize", "buffer", "u64", "u64"],
    result: "i32",
  },
  /**
   * cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t handle, const void *alpha,
   *   const cudnnTensorDescriptor_t xDesc, const void *x, const cudnnTensorDescriptor_t dyDesc, const void *dy,
   *   const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionBwdFilterAlgo_t algo, void *workSpace,
   *   size_t workSpaceSizeInBytes, const void *beta, const cudnnFilterDescriptor_t dwDesc, void *dw)
   */
  cudnnConvolutionBackwardFilter: {
    parameters: ["u64", "buffer", "u64", "u64", "u64", "u64", "u64", "i32", "u64", "usize", "buffer", "u64", "u64"],
    result: "i32",
  },

  /**
   * cudnnStatus_t cudnnBatchNormalizationForwardTraining(cudnnHandle_t handle, cudnnBatchNormMode_t mode,
   *   const void *alpha, const void *beta, const cudnnTensorDescriptor_t xDesc, const void *x,
   *   const cudnnTensorDescriptor_t yDesc, void *y, const cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc,
   *   const void *bnScale, const void *bnBias, double exponentialAverageFactor, void *resultRunningMean,
   *   void *resultRunningVariance, double epsilon, void *resultSaveMean, void *resultSaveInvVariance)
   */
  cudnnBatchNormalizationForwardTraining: {
    parameters: [
      "u64",
      "i32",
      "buffer",
      "buffer",
      "u64",
      "u64",
      "u64",
      "u64",
      "u64",
      "u64",
      "u64",
      "f64",
      "u64",
      "u64",
      "f64",
      "u64",
      "u64",
    ],
    result: "i32",
  },
  /**
   * cudnnStatus_t cudnnBatchNormalizationForwardInference(cudnnHandle_t handle, cudnnBatchNormMode_t mode,
   *   const void *alpha, const void *beta, const cudnnTensorDescriptor_t xDesc, const void *x,
   *   const cudnnTensorDescriptor_t yDesc, void *y, const cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc,
   *   const void *bnScale, const void *bnBias, const void *estimatedMean, const void *estimatedVariance,
   *   double epsilon)
   */
  cudnnBatchNormalizationForwardInference: {
    parameters: [
      "u64",
      "i32",
      "buffer",
      "buffer",
      "u64",
      "u64",
      "u64",
      "u64",
      "u64",
      "u64",
      "u64",
      "u64",
      "u64",
      "f64",
    ],
    result: "i32",
  },
  /**
   * cudnnStatus_t cudnnBatchNormalizationBackward(cudnnHandle_t handle, cudnnBatchNormMode_t mode,
   *   const void *alphaDataDiff, const void *betaDataDiff, const void *alphaParamDiff, const void *betaParamDiff,
   *   const cudnnTensorDescriptor_t xDesc, const void *x, const cudnnTensorDescriptor_t dyDesc, const void *dy,
   *   const cudnnTensorDescriptor_t dxDesc, void *dx, const cudnnTensorDescriptor_t dBnScaleBiasDesc,
   *   const void *bnScale, void *dBnScaleResult, void *dBnBiasResult, double epsilon, const void *savedMean,
   *   const void *savedInvVariance)
   */
  cudnnBatchNormalizationBackward: {
    parameters: [
      "u64",
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "u64",
      "u64",
      "u64",
      "u64",
      "u64",
      "u64",
      "u64",
      "u64",
      "u64",
      "u64",
      "f64",
      "u64",
      "u64",
    ],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded cuDNN library. */
export type CudnnLib = Deno.DynamicLibrary<typeof CUDNN_SYMBOLS>;

/** cuDNN enum values used here (cuDNN 9 headers). */
export const CUDNN = {
  DATA_FLOAT: 0,
  TENSOR_NCHW: 0,
  CROSS_CORRELATION: 1,
  /** No tensor-core math: FP32 convolutions stay FP32 (no TF32), as PyTorch with `allow_tf32 = False`. */
  FMA_MATH: 3,
  DEFAULT_MATH: 0,
  TENSOR_OP_MATH: 1,
  TENSOR_OP_MATH_ALLOW_CONVERSION: 2,
  DETERMINISTIC: 1,
  BATCHNORM_SPATIAL: 1,
} as const;

/** Size in bytes of `cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t` on x86-64. */
export const ALGO_PERF_BYTES = 48;
