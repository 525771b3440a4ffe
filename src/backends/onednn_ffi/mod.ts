/**
 * The `onednn` backend: the CPU through `Deno.dlopen` of oneDNN 2.x (`libdnnl.so.2`, the library PyTorch's
 * CPU convolutions run on; Debian/Ubuntu: `apt-get install libdnnl2`). Convolutions, batch norm and average
 * pooling run in oneDNN's JIT kernels, in its blocked layouts between kernels; the other kernels are the cpu
 * backend's TypeScript kernels on the same host memory.
 *
 * Needs `--allow-ffi` (with `--allow-read --allow-env`). The library is found through `AT_DNNL_LIB_DIR`,
 * `LD_LIBRARY_PATH`, `ldconfig -p`, the system library folders and `CONDA_PREFIX`. `AT_DNNL_LAYOUT=plain`
 * reorders every output to plain NCHW (as PyTorch does) instead of keeping blocked layouts;
 * `AT_DNNL_WINOGRAD=0` keeps every convolution on the direct kernels.
 *
 * @module
 */
export { availability, create, LAYOUT_ENV, WINOGRAD_ENV } from "./start.ts";
export { OnednnError, OnednnUnavailableError } from "./errors.ts";
export type { Availability, CreateOptions } from "./start.ts";
