/**
 * Read-only copies of buffers as textures, for kernels that read through the texture unit.
 *
 * Why: on a software adapter (llvmpipe, lavapipe; Mesa 22.3 measured) a storage-buffer or
 * workgroup-memory load runs as a scalar loop over the SIMD lanes with a branch per lane, about 6 ns a
 * float on 2 cores, while a `textureLoad` of an `rgba32float` texel is a branch-free vector gather, about
 * 1 ns a float. A kernel that reads each input many times (a convolution) gains more than the copy costs.
 *
 * A buffer of `n` floats becomes an `rgba32float` texture `TEXTURE_WIDTH` texels wide: float `i` is
 * component `i % 4` of texel `t = i / 4`, at `(t % TEXTURE_WIDTH, t / TEXTURE_WIDTH)`. Textures are pooled
 * by height; reuse is safe for the reason buffer reuse is (see `_runtime.ts`): the queue runs in order,
 * and textures are written only by commands recorded after every command that read them.
 *
 * @module
 */
import { FreeLists } from "./_buffer_pool.ts";
import type { KernelSpec } from "./_kernel.ts";

/** Texels per texture row (a power of two, so that WGSL splits an index with a mask and a shift). */
export const TEXTURE_WIDTH = 1024;
/** `log2(TEXTURE_WIDTH)`. */
export const TEXTURE_WIDTH_LOG2 = 10;
const ROW_BYTES = TEXTURE_WIDTH * 16;

/**
 * WGSL: `fn <name>_texel(i: u32) -> vec4f`, texel `i` of the texture binding `name` laid out as above.
 * A texel past the end reads as whatever the implementation's robust access gives; callers mask it.
 */
export function wgslTexel(name: string): string {
  return `fn ${name}_texel(i: u32) -> vec4f {
  return textureLoad(${name}, vec2u(i & ${TEXTURE_WIDTH - 1}u, i >> ${TEXTURE_WIDTH_LOG2}u), 0);
}`;
}

/** Rows of the texture that holds `floats` floats. */
export function textureRows(floats: number): number {
  return Math.max(1, Math.ceil(Math.ceil(floats / 4) / TEXTURE_WIDTH));
}

/** A pooled texture holding a copy of a buffer. */
export class GpuTexture {
  #texture: GPUTexture | undefined;
  readonly view: GPUTextureView;

  /** Bytes of the texture (its whole height). */
  readonly bytes: number;

  constructor(texture: GPUTexture, readonly floats: number) {
    this.#texture = texture;
    this.view = texture.createView();
    this.bytes = texture.height * ROW_BYTES;
  }

  /** Detaches the texture (for the pool); throws when already detached. */
  take(): GPUTexture {
    const t = this.#texture;
    if (!t) throw new Error(`webgpu: a texture of ${this.floats} floats was released twice`);
    this.#texture = undefined;
    return t;
  }
}

/** Textures of width `TEXTURE_WIDTH`, pooled by height (rounded up to a multiple of 16 rows). */
export class TexturePool {
  readonly #lists: FreeLists<GPUTexture>;

  constructor(private readonly device: GPUDevice, maxPooledBytes: number) {
    this.#lists = new FreeLists(maxPooledBytes);
  }

  /** Whether a buffer of `floats` floats fits the device's texture limits. */
  fits(floats: number): boolean {
    return Math.ceil(textureRows(floats) / 16) * 16 <= this.device.limits.maxTextureDimension2D;
  }

  /** Records into `encoder` the copy of the first `floats` floats of `src` into a pooled texture. */
  copyFrom(encoder: GPUCommandEncoder, src: GPUBuffer, floats: number): GpuTexture {
    const rows = textureRows(floats);
    const height = Math.ceil(rows / 16) * 16;
    const texture = this.#lists.take(height, height * ROW_BYTES) ?? this.device.createTexture({
      size: [TEXTURE_WIDTH, height],
      format: "rgba32float",
      usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST,
      label: `at/core texture ${height} rows`,
    });
    const texels = Math.ceil(floats / 4);
    const full = Math.floor(texels / TEXTURE_WIDTH);
    if (full > 0) {
      encoder.copyBufferToTexture({ buffer: src, bytesPerRow: ROW_BYTES }, { texture }, [TEXTURE_WIDTH, full]);
    }
    const rest = texels - full * TEXTURE_WIDTH;
    if (rest > 0) {
      encoder.copyBufferToTexture(
        { buffer: src, offset: full * ROW_BYTES },
        { texture, origin: [0, full] },
        [rest, 1],
      );
    }
    return new GpuTexture(texture, floats);
  }

  /** Returns a texture to the pool (or retires it when the pool is over budget). */
  release(t: GpuTexture): void {
    const texture = t.take();
    this.#lists.put(texture.height, texture.height * ROW_BYTES, texture);
  }

  /** Destroys retired textures; call right after a submit, which holds its own references. */
  destroyRetired(): void {
    this.#lists.destroyRetired();
  }

  /** Destroys every pooled texture. */
  clear(): void {
    this.#lists.clear();
  }
}

const derived = new Map<string, KernelSpec>();

/**
 * Whether a kernel's binding `i` can be read through a texture instead: a read-only `f32` or `vec4f`
 * array that the kernel only indexes (never passes to `arrayLength`).
 */
export function textureReadable(spec: KernelSpec, i: number): boolean {
  const b = spec.bindings[i];
  return b.access === "read" && (b.type === undefined || b.type === "f32" || b.type === "vec4f") &&
    !spec.source.includes(`arrayLength(&${b.name})`);
}

/** Replaces every `name[index]` of `source` by `tex_read_name(index)` (brackets balanced, whole words only). */
function rewriteReads(source: string, name: string): string {
  let out = "";
  let at = 0;
  const word = new RegExp(`(?<![A-Za-z0-9_.])${name}\\[`, "g");
  for (let m = word.exec(source); m; m = word.exec(source)) {
    let depth = 1, j = m.index + name.length + 1;
    for (; j < source.length && depth > 0; j++) {
      if (source[j] === "[") depth++;
      else if (source[j] === "]") depth--;
    }
    const index = rewriteReads(source.slice(m.index + name.length + 1, j - 1), name);
    out += `${source.slice(at, m.index)}tex_read_${name}(${index})`;
    at = j;
    word.lastIndex = j;
  }
  return out + source.slice(at);
}

/**
 * The variant of `spec` that reads the bindings in `mask` (bit i: binding i; each `textureReadable`)
 * from textures holding the same floats: the declaration becomes a `texture_2d<f32>`, and each indexed
 * read goes through `tex_read_name`, which fetches the texel and picks the component.
 */
export function textureVariant(spec: KernelSpec, mask: number): KernelSpec {
  const key = `${spec.key}_tex${mask.toString(16)}`;
  const hit = derived.get(key);
  if (hit) return hit;
  let source = spec.source;
  const bindings = spec.bindings.map((b, i) => {
    if (!(mask & (1 << i))) return b;
    if (!textureReadable(spec, i)) throw new Error(`webgpu kernel ${spec.key}: binding ${b.name} cannot be a texture`);
    const declaration = new RegExp(`@group\\(0\\) @binding\\(${i}\\) var<storage, read> ${b.name}: array<[a-z0-9]+>;`);
    if (!declaration.test(source)) throw new Error(`webgpu kernel ${spec.key}: no declaration of ${b.name}`);
    const accessor = b.type === "vec4f"
      ? `fn tex_read_${b.name}(i: u32) -> vec4f { return ${b.name}_texel(i); }`
      : `fn tex_read_${b.name}(i: u32) -> f32 { let t = ${b.name}_texel(i >> 2u); return t[i & 3u]; }`;
    source = rewriteReads(source, b.name).replace(
      declaration,
      `@group(0) @binding(${i}) var ${b.name}: texture_2d<f32>;\n${wgslTexel(b.name)}\n${accessor}`,
    );
    return { ...b, type: "texture" as const };
  });
  const variant: KernelSpec = { ...spec, key, bindings, source };
  derived.set(key, variant);
  return variant;
}
