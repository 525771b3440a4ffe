/**
 * oneDNN 2.x (`libdnnl.so.2`): the symbols this backend binds, and the enum values and struct sizes of the
 * 2.x C API it uses.
 *
 * oneDNN 2.x describes an operation in a large C struct (an "op descriptor", e.g. `dnnl_convolution_desc_t`)
 * filled by a `*_desc_init` call, then asks for a primitive descriptor with `dnnl_primitive_desc_create`.
 * Those structs and `dnnl_memory_desc_t` are passed by pointer: here they are `Uint8Array`s of the sizes in
 * {@linkcode DNNL_SIZES} (`"buffer"` parameters). oneDNN 3.x removed the op descriptors and made memory
 * descriptors opaque, so this table is for 2.x only. Handles (`dnnl_engine_t`, `dnnl_primitive_t`, …) and
 * host data pointers travel as `"u64"` addresses; `dnnl_dims_t` (`int64_t[12]`) as `BigInt64Array`s.
 *
 * Each entry's comment is its C prototype (oneDNN 2.6 `dnnl.h`); `tests/onednn_ffi_test.ts` checks the
 * entries against those comments, the comments against the installed header, and every value below
 * against a C program compiled with it.
 *
 * @module
 */

/** The oneDNN symbols. */
export const DNNL_SYMBOLS = {
  /** const dnnl_version_t *dnnl_version(void) */
  dnnl_version: { parameters: [], result: "pointer" },
  /** const char *dnnl_status2str(dnnl_status_t v) */
  dnnl_status2str: { parameters: ["i32"], result: "pointer" },
  /** dnnl_cpu_isa_t dnnl_get_effective_cpu_isa(void) */
  dnnl_get_effective_cpu_isa: { parameters: [], result: "i32" },
  /** const char *dnnl_cpu_isa2str(dnnl_cpu_isa_t v) */
  dnnl_cpu_isa2str: { parameters: ["i32"], result: "pointer" },

  /** dnnl_status_t dnnl_engine_create(dnnl_engine_t *engine, dnnl_engine_kind_t kind, size_t index) */
  dnnl_engine_create: { parameters: ["buffer", "i32", "usize"], result: "i32" },
  /** dnnl_status_t dnnl_engine_destroy(dnnl_engine_t engine) */
  dnnl_engine_destroy: { parameters: ["u64"], result: "i32" },
  /** dnnl_status_t dnnl_stream_create(dnnl_stream_t *stream, dnnl_engine_t engine, unsigned flags) */
  dnnl_stream_create: { parameters: ["buffer", "u64", "u32"], result: "i32" },

  /**
   * dnnl_status_t dnnl_memory_desc_init_by_tag(dnnl_memory_desc_t *memory_desc, int ndims,
   *   const dnnl_dims_t dims, dnnl_data_type_t data_type, dnnl_format_tag_t tag)
   */
  dnnl_memory_desc_init_by_tag: { parameters: ["buffer", "i32", "buffer", "i32", "i32"], result: "i32" },
  /**
   * dnnl_status_t dnnl_memory_desc_init_by_strides(dnnl_memory_desc_t *memory_desc, int ndims,
   *   const dnnl_dims_t dims, dnnl_data_type_t data_type, const dnnl_dims_t strides)
   */
  dnnl_memory_desc_init_by_strides: { parameters: ["buffer", "i32", "buffer", "i32", "buffer"], result: "i32" },
  /** int dnnl_memory_desc_equal(const dnnl_memory_desc_t *lhs, const dnnl_memory_desc_t *rhs) */
  dnnl_memory_desc_equal: { parameters: ["buffer", "buffer"], result: "i32" },
  /** size_t dnnl_memory_desc_get_size(const dnnl_memory_desc_t *memory_desc) */
  dnnl_memory_desc_get_size: { parameters: ["buffer"], result: "usize" },
  /**
   * dnnl_status_t dnnl_memory_create(dnnl_memory_t *memory, const dnnl_memory_desc_t *memory_desc,
   *   dnnl_engine_t engine, void *handle)
   */
  dnnl_memory_create: { parameters: ["buffer", "buffer", "u64", "u64"], result: "i32" },
  /** dnnl_status_t dnnl_memory_set_data_handle(dnnl_memory_t memory, void *handle) */
  dnnl_memory_set_data_handle: { parameters: ["u64", "u64"], result: "i32" },

  /** dnnl_status_t dnnl_primitive_attr_create(dnnl_primitive_attr_t *attr) */
  dnnl_primitive_attr_create: { parameters: ["buffer"], result: "i32" },
  /** dnnl_status_t dnnl_primitive_attr_set_scratchpad_mode(dnnl_primitive_attr_t attr, dnnl_scratchpad_mode_t mode) */
  dnnl_primitive_attr_set_scratchpad_mode: { parameters: ["u64", "i32"], result: "i32" },

  /**
   * dnnl_status_t dnnl_primitive_desc_create(dnnl_primitive_desc_t *primitive_desc, const_dnnl_op_desc_t op_desc,
   *   const_dnnl_primitive_attr_t attr, dnnl_engine_t engine, const_dnnl_primitive_desc_t hint_forward_primitive_desc)
   */
  dnnl_primitive_desc_create: { parameters: ["buffer", "buffer", "u64", "u64", "u64"], result: "i32" },
  /**
   * dnnl_status_t dnnl_reorder_primitive_desc_create(dnnl_primitive_desc_t *reorder_primitive_desc,
   *   const dnnl_memory_desc_t *src_desc, dnnl_engine_t src_engine, const dnnl_memory_desc_t *dst_desc,
   *   dnnl_engine_t dst_engine, const_dnnl_primitive_attr_t attr)
   */
  dnnl_reorder_primitive_desc_create: {
    parameters: ["buffer", "buffer", "u64", "buffer", "u64", "u64"],
    result: "i32",
  },
  /**
   * dnnl_status_t dnnl_primitive_desc_query(const_dnnl_primitive_desc_t primitive_desc, dnnl_query_t what,
   *   int index, void *result)
   */
  dnnl_primitive_desc_query: { parameters: ["u64", "i32", "i32", "buffer"], result: "i32" },
  /**
   * const dnnl_memory_desc_t *dnnl_primitive_desc_query_md(const_dnnl_primitive_desc_t primitive_desc,
   *   dnnl_query_t what, int index)
   */
  dnnl_primitive_desc_query_md: { parameters: ["u64", "i32", "i32"], result: "pointer" },
  /** dnnl_status_t dnnl_primitive_create(dnnl_primitive_t *primitive, const_dnnl_primitive_desc_t primitive_desc) */
  dnnl_primitive_create: { parameters: ["buffer", "u64"], result: "i32" },
  /**
   * dnnl_status_t dnnl_primitive_execute(const_dnnl_primitive_t primitive, dnnl_stream_t stream, int nargs,
   *   const dnnl_exec_arg_t *args)
   */
  dnnl_primitive_execute: { parameters: ["u64", "u64", "i32", "buffer"], result: "i32" },

  /**
   * dnnl_status_t dnnl_convolution_forward_desc_init(dnnl_convolution_desc_t *conv_desc, dnnl_prop_kind_t prop_kind,
   *   dnnl_alg_kind_t alg_kind, const dnnl_memory_desc_t *src_desc, const dnnl_memory_desc_t *weights_desc,
   *   const dnnl_memory_desc_t *bias_desc, const dnnl_memory_desc_t *dst_desc, const dnnl_dims_t strides,
   *   const dnnl_dims_t padding_l, const dnnl_dims_t padding_r)
   */
  dnnl_convolution_forward_desc_init: {
    parameters: ["buffer", "i32", "i32", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  /**
   * dnnl_status_t dnnl_convolution_backward_data_desc_init(dnnl_convolution_desc_t *conv_desc,
   *   dnnl_alg_kind_t alg_kind, const dnnl_memory_desc_t *diff_src_desc, const dnnl_memory_desc_t *weights_desc,
   *   const dnnl_memory_desc_t *diff_dst_desc, const dnnl_dims_t strides, const dnnl_dims_t padding_l,
   *   const dnnl_dims_t padding_r)
   */
  dnnl_convolution_backward_data_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  /**
   * dnnl_status_t dnnl_convolution_backward_weights_desc_init(dnnl_convolution_desc_t *conv_desc,
   *   dnnl_alg_kind_t alg_kind, const dnnl_memory_desc_t *src_desc, const dnnl_memory_desc_t *diff_weights_desc,
   *   const dnnl_memory_desc_t *diff_bias_desc, const dnnl_memory_desc_t *diff_dst_desc,
   *   const dnnl_dims_t strides, const dnnl_dims_t padding_l, const dnnl_dims_t padding_r)
   */
  dnnl_convolution_backward_weights_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  /**
   * dnnl_status_t dnnl_batch_normalization_forward_desc_init(dnnl_batch_normalization_desc_t *bnrm_desc,
   *   dnnl_prop_kind_t prop_kind, const dnnl_memory_desc_t *data_desc, float epsilon, unsigned flags)
   */
  dnnl_batch_normalization_forward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "f32", "u32"],
    result: "i32",
  },
  /**
   * dnnl_status_t dnnl_batch_normalization_backward_desc_init(dnnl_batch_normalization_desc_t *bnrm_desc,
   *   dnnl_prop_kind_t prop_kind, const dnnl_memory_desc_t *diff_data_desc, const dnnl_memory_desc_t *data_desc,
   *   float epsilon, unsigned flags)
   */
  dnnl_batch_normalization_backward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "f32", "u32"],
    result: "i32",
  },
  /**
   * dnnl_status_t dnnl_binary_desc_init(dnnl_binary_desc_t *binary_desc, dnnl_alg_kind_t alg_kind,
   *   const dnnl_memory_desc_t *src0_desc, const dnnl_memory_desc_t *src1_desc, const dnnl_memory_desc_t *dst_desc)
   */
  dnnl_binary_desc_init: { parameters: ["buffer", "i32", "buffer", "buffer", "buffer"], result: "i32" },
  /**
   * dnnl_status_t dnnl_pooling_v2_forward_desc_init(dnnl_pooling_v2_desc_t *pool_desc, dnnl_prop_kind_t prop_kind,
   *   dnnl_alg_kind_t alg_kind, const dnnl_memory_desc_t *src_desc, const dnnl_memory_desc_t *dst_desc,
   *   const dnnl_dims_t strides, const dnnl_dims_t kernel, const dnnl_dims_t dilation,
   *   const dnnl_dims_t padding_l, const dnnl_dims_t padding_r)
   */
  dnnl_pooling_v2_forward_desc_init: {
    parameters: ["buffer", "i32", "i32", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  /**
   * dnnl_status_t dnnl_pooling_v2_backward_desc_init(dnnl_pooling_v2_desc_t *pool_desc, dnnl_alg_kind_t alg_kind,
   *   const dnnl_memory_desc_t *diff_src_desc, const dnnl_memory_desc_t *diff_dst_desc, const dnnl_dims_t strides,
   *   const dnnl_dims_t kernel, const dnnl_dims_t dilation, const dnnl_dims_t padding_l,
   *   const dnnl_dims_t padding_r)
   */
  dnnl_pooling_v2_backward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  /**
   * dnnl_status_t dnnl_matmul_desc_init(dnnl_matmul_desc_t *matmul_desc, const dnnl_memory_desc_t *src_desc,
   *   const dnnl_memory_desc_t *weights_desc, const dnnl_memory_desc_t *bias_desc,
   *   const dnnl_memory_desc_t *dst_desc)
   */
  dnnl_matmul_desc_init: { parameters: ["buffer", "buffer", "buffer", "buffer", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The opened library. */
export type DnnlLib = Deno.DynamicLibrary<typeof DNNL_SYMBOLS>;

/**
 * The enum values and macros of oneDNN 2.x this backend uses, by their C names (`dnnl_types.h`, 2.6).
 * `tests/onednn_ffi_test.ts` compiles a C program that prints each of them and compares.
 */
export const DNNL = {
  dnnl_unimplemented: 3,

  dnnl_f32: 3,
  dnnl_cpu: 1,
  dnnl_stream_in_order: 1,

  dnnl_format_tag_any: 1,
  dnnl_a: 2,
  dnnl_ab: 3,
  dnnl_abc: 4,
  dnnl_abcd: 5,
  dnnl_aBcd4b: 75,
  dnnl_aBcd8b: 93,
  dnnl_aBcd16b: 69,
  dnnl_blocked: 2,

  dnnl_forward_training: 64,
  dnnl_forward_inference: 96,
  dnnl_backward: 128,

  dnnl_convolution_direct: 1,
  dnnl_convolution_winograd: 2,
  dnnl_binary_add: 131056,
  dnnl_binary_mul: 131057,
  dnnl_binary_div: 131060,
  dnnl_binary_sub: 131061,
  dnnl_binary_gt: 131063,
  dnnl_pooling_avg_include_padding: 767,

  dnnl_use_global_stats: 1,
  dnnl_fuse_norm_relu: 4,
  dnnl_use_scale: 8,
  dnnl_use_shift: 16,

  dnnl_query_impl_info_str: 8,
  dnnl_query_src_md: 129,
  dnnl_query_diff_src_md: 130,
  dnnl_query_weights_md: 131,
  dnnl_query_diff_weights_md: 132,
  dnnl_query_dst_md: 133,
  dnnl_query_diff_dst_md: 134,
  dnnl_query_workspace_md: 135,
  dnnl_query_scratchpad_md: 136,

  dnnl_scratchpad_mode_user: 1,

  DNNL_ARG_SRC: 1,
  DNNL_ARG_SRC_1: 2,
  DNNL_ARG_DST: 17,
  DNNL_ARG_WEIGHTS: 33,
  DNNL_ARG_MEAN: 49,
  DNNL_ARG_VARIANCE: 50,
  DNNL_ARG_SCALE: 51,
  DNNL_ARG_SHIFT: 52,
  DNNL_ARG_WORKSPACE: 64,
  DNNL_ARG_SCRATCHPAD: 80,
  DNNL_ARG_DIFF_SRC: 129,
  DNNL_ARG_DIFF_DST: 145,
  DNNL_ARG_DIFF_WEIGHTS: 161,
  DNNL_ARG_DIFF_SCALE: 255,
  DNNL_ARG_DIFF_SHIFT: 256,

  DNNL_MAX_NDIMS: 12,
  DNNL_RUNTIME_OMP: 2,
  DNNL_RUNTIME_SEQ: 1,
  DNNL_RUNTIME_TBB: 4,
  DNNL_RUNTIME_THREADPOOL: 8,
} as const;

/** `sizeof` of the 2.x structs passed by pointer (`dnnl_types.h`, 2.6, x86-64). */
export const DNNL_SIZES = {
  dnnl_memory_desc_t: 696,
  dnnl_convolution_desc_t: 5976,
  dnnl_batch_normalization_desc_t: 3496,
  dnnl_binary_desc_t: 2096,
  dnnl_pooling_v2_desc_t: 3288,
  dnnl_matmul_desc_t: 2800,
  dnnl_exec_arg_t: 16,
  dnnl_version_t: 32,
  dnnl_dims_t: 96,
} as const;

/** Byte offsets of the fields this backend reads (`offsetof`, oneDNN 2.6, x86-64). */
export const DNNL_OFFSETS = {
  "dnnl_memory_desc_t.ndims": 0,
  "dnnl_memory_desc_t.dims": 8,
  "dnnl_memory_desc_t.format_kind": 312,
  "dnnl_version_t.major": 0,
  "dnnl_version_t.minor": 4,
  "dnnl_version_t.patch": 8,
  "dnnl_version_t.hash": 16,
  "dnnl_version_t.cpu_runtime": 24,
} as const;

/** The largest op descriptor (the size of the scratch `Uint8Array` every `*_desc_init` writes into). */
export const MAX_OP_DESC_BYTES: number = Math.max(
  DNNL_SIZES.dnnl_convolution_desc_t,
  DNNL_SIZES.dnnl_batch_normalization_desc_t,
  DNNL_SIZES.dnnl_binary_desc_t,
  DNNL_SIZES.dnnl_pooling_v2_desc_t,
  DNNL_SIZES.dnnl_matmul_desc_t,
);

/** The symbols of the OpenMP runtime (`libgomp.so.1`) that libdnnl is built against: its thread count. */
export const GOMP_SYMBOLS = {
  /** void omp_set_num_threads(int num_threads) */
  omp_set_num_threads: { parameters: ["i32"], result: "void" },
  /** int omp_get_max_threads(void) */
  omp_get_max_threads: { parameters: [], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The opened OpenMP runtime. */
export type GompLib = Deno.DynamicLibrary<typeof GOMP_SYMBOLS>;
