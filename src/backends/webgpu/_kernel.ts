/**
 * Kernel specifications: everything the runtime needs to compile one compute pipeline and to bind its
 * buffers and uniforms. WGSL is generated as a pure function of compile-time configuration, and the
 * spec's `key` names exactly that configuration (never a runtime size), so one pipeline serves every
 * shape. Sizes travel in the uniform struct `Params` (binding after the storage buffers).
 *
 * @module
 */
import { WGSL_GROUP_INDEX } from "./_dispatch.ts";

/** The WGSL scalar type of one uniform field. */
export type ParamType = "u32" | "i32" | "f32";

/** One binding of a kernel: a storage buffer, or a texture copy of one (see `_texture.ts`). */
export interface BindingSpec {
  /** Name of the WGSL variable. */
  readonly name: string;
  /** `read` binds read-only storage (or a texture); `read_write` lets the kernel write it. */
  readonly access: "read" | "read_write";
  /**
   * Element type the kernel sees (`f32` unless stated; `vec4f` views 4 floats; `u32` for index scratch),
   * or `texture`: a `texture_2d<f32>` read with `tex_at` (bound to a `GpuTexture`).
   */
  readonly type?: "f32" | "u32" | "vec2f" | "vec4f" | "texture";
}

/** A compiled-once compute kernel. */
export interface KernelSpec {
  /** Cache key: the op and its compile-time configuration. */
  readonly key: string;
  /** The contract op it serves, for error messages (`conv2d`, `batchNormTrain`, …). */
  readonly op: string;
  readonly bindings: readonly BindingSpec[];
  /** Uniform fields, in order. */
  readonly params: readonly (readonly [string, ParamType])[];
  /** Invocations per workgroup. */
  readonly workgroupSize: number;
  /** The complete WGSL module. */
  readonly source: string;
}

/** What a kernel file declares; {@linkcode defineKernel} adds the bindings, uniforms and shared helpers. */
export interface KernelDefinition {
  readonly key: string;
  readonly op: string;
  readonly bindings: readonly BindingSpec[];
  readonly params: readonly (readonly [string, ParamType])[];
  readonly workgroupSize: number;
  /** WGSL after the generated header: helpers and `main` (start it with `wgslEntry(workgroupSize)`). */
  readonly body: string;
}

/** WGSL helpers every kernel may call. */
const COMMON = `${WGSL_GROUP_INDEX}
// Read from a private variable so that no compiler folds them at shader-creation time.
var<private> NAN_BITS: u32 = 0x7fc00000u;
var<private> NEG_INF_BITS: u32 = 0xff800000u;
fn nan_f32() -> f32 { return bitcast<f32>(NAN_BITS); }
fn neg_inf_f32() -> f32 { return bitcast<f32>(NEG_INF_BITS); }
// Bit test: comparisons of a value with itself may be folded away by fast-math compilers.
fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }
// a / b for a < 2^24 through a float reciprocal (inv_b = f32(1 / b)), corrected to be exact; integer
// division is a scalar loop on SIMD CPUs (software adapters) and many instructions on GPUs.
fn fast_div(a: u32, b: u32, inv_b: f32) -> u32 {
  var q = u32(f32(a) * inv_b);
  let r = i32(a) - i32(q * b);
  q = select(q, q - 1u, r < 0);
  q = select(q, q + 1u, r >= i32(b));
  return q;
}`;

const cache = new Map<string, KernelSpec>();

/** Builds (once per key) the kernel's complete WGSL: bindings, the `Params` struct, helpers, body. */
export function defineKernel(key: string, build: () => KernelDefinition): KernelSpec {
  const hit = cache.get(key);
  if (hit) return hit;
  const def = build();
  if (def.key !== key) throw new Error(`webgpu kernel ${key}: definition reports key ${def.key}`);
  const bindings = def.bindings.map((b, i) => {
    if (b.type === "texture") {
      if (b.access !== "read") throw new Error(`webgpu kernel ${key}: texture ${b.name} can only be read`);
      return `@group(0) @binding(${i}) var ${b.name}: texture_2d<f32>;`;
    }
    const access = b.access === "read" ? "read" : "read_write";
    return `@group(0) @binding(${i}) var<storage, ${access}> ${b.name}: array<${b.type ?? "f32"}>;`;
  });
  const fields = def.params.length ? def.params.map(([n, t]) => `  ${n}: ${t},`) : ["  unused: u32,"];
  const source = [
    `// ${def.op}: ${key}`,
    ...bindings,
    `struct Params {\n${fields.join("\n")}\n}`,
    `@group(0) @binding(${def.bindings.length}) var<uniform> u: Params;`,
    COMMON,
    def.body,
  ].join("\n");
  const spec: KernelSpec = {
    key,
    op: def.op,
    bindings: def.bindings,
    params: def.params,
    workgroupSize: def.workgroupSize,
    source,
  };
  cache.set(key, spec);
  return spec;
}

/** Uniform values for {@linkcode fast_div}: the divisor and its float reciprocal. */
export function divisor(b: number): [number, number] {
  return [b, b > 0 ? Math.fround(1 / b) : 0];
}
