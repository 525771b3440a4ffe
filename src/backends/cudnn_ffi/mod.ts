/**
 * The `cudnn` backend: NVIDIA GPUs through `Deno.dlopen` of the CUDA driver API, cuDNN 9 (convolutions,
 * batch norm), cuBLAS (matrix products) and NVRTC (this backend's own elementwise, reduction, softmax,
 * pooling and SGD kernels, compiled once per process for the device).
 *
 * Needs `--allow-ffi` (with `--allow-read --allow-env`), an NVIDIA driver, and the libraries, found through
 * `AT_CUDA_LIB_DIR`, `LD_LIBRARY_PATH`, the NVIDIA pip wheels of a Python environment (e.g. PyTorch's) or
 * the system library folders. `AT_CUDNN_ALGO=heuristic` picks convolution algorithms by cuDNN's heuristics
 * instead of timing them; `AT_CUDNN_DETERMINISTIC=0` allows non-deterministic ones.
 *
 * @module
 */
export { availability, create } from "./start.ts";
export { CudnnUnavailableError } from "./errors.ts";
export type { Availability, CreateOptions } from "./start.ts";
