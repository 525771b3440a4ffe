/**
 * The device side of the webgpu backend: pipelines compiled once and cached by kernel key, pooled
 * buffers, uniforms written into one ring per batch, many dispatches recorded into one command encoder
 * and submitted together, and errors that name the kernel that caused them.
 *
 * Ordering rules that make pooling and batching safe:
 * - The queue executes in submission order, and so does one encoder: a buffer freed and handed out
 *   again is only written by commands recorded after every command that read it.
 * - `queue.writeBuffer` runs on the queue timeline *now*, ahead of commands still being recorded, so an
 *   upload into a buffer that a recorded command uses flushes the batch first.
 * - Uniforms of a batch are written with one `writeBuffer` right before its `submit`; the next batch
 *   reuses the ring after that submit, which the queue orders after the previous batch.
 *
 * @module
 */
import type { DeviceBuffer } from "../backend.ts";
import { BufferPool } from "./_buffer_pool.ts";
import { type Grid, gridFor } from "./_dispatch.ts";
import type { KernelSpec } from "./_kernel.ts";
import { type GpuTexture, TexturePool, textureReadable, textureVariant } from "./_texture.ts";

/** A buffer of the webgpu backend. */
export class GpuBuffer implements DeviceBuffer {
  #gpu: GPUBuffer | undefined;

  constructor(readonly size: number, gpu: GPUBuffer, readonly runtime: GpuRuntime) {
    this.#gpu = gpu;
  }

  /** The GPU buffer; throws once the buffer has been freed. */
  get gpu(): GPUBuffer {
    if (!this.#gpu) throw new Error(`webgpu: a buffer of ${this.size} floats was used after free()`);
    return this.#gpu;
  }

  /** Whether `free()` gave the memory back. */
  get freed(): boolean {
    return this.#gpu === undefined;
  }

  /** Detaches the GPU buffer (for the pool). */
  take(): GPUBuffer {
    const gpu = this.gpu;
    this.#gpu = undefined;
    return gpu;
  }
}

/** Tuning of the runtime. */
export interface RuntimeOptions {
  /** Dispatches recorded before a batch is submitted without being asked. */
  readonly maxBatch: number;
  /** Bytes the buffer pool may keep for reuse. */
  readonly maxPooledBytes: number;
  /** Time every dispatch with timestamp queries (the device must have "timestamp-query"). */
  readonly profile?: boolean;
  /**
   * Read-only operands of at least this many floats are read through textures (see `_texture.ts`): for
   * software adapters, where that is several times faster than storage-buffer loads. Default: never.
   */
  readonly textureMinFloats?: number;
}

/** Device time spent in one kernel, summed over its dispatches. */
export interface KernelTime {
  readonly kernel: string;
  readonly dispatches: number;
  readonly ms: number;
}

interface CompiledKernel {
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
}

const STORAGE_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
const STAGING_USAGE = GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST;

/**
 * A promise that settles after both `a` and `b`, holding neither's value. `Promise.all([a, b])` resolves to
 * `[value of a, value of b]`, so a running chain of them (one link per dispatch and per submit) would keep
 * an array for every link ever made: ~25 KiB of heap per training step of a WRN, never collected.
 */
function both(a: Promise<void>, b: Promise<unknown>): Promise<void> {
  return Promise.all([a, b]).then(() => {});
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(bytes % 2 ** 20 ? 1 : 0)} MiB`;
}

/** Device, pipeline cache, buffer pool and command batching. */
export class GpuRuntime {
  readonly limits: GPUSupportedLimits;
  readonly #device: GPUDevice;
  readonly #pipelines = new Map<string, CompiledKernel>();
  readonly #pool: BufferPool;
  readonly #staging: BufferPool;
  readonly #textures: TexturePool;
  readonly #options: RuntimeOptions;
  /** Serial of the last batch whose commands use each GPU buffer (pooled buffers outlive their wrappers). */
  readonly #lastUse = new WeakMap<GPUBuffer, number>();
  /**
   * The texture copy of each buffer's current contents, kept for the next kernel that reads the buffer
   * through a texture (an activation is read by several: batch-norm statistics, their application, the
   * next convolution). Dropped when the buffer is written, released or handed out again.
   */
  readonly #textureCopies = new Map<GPUBuffer, GpuTexture>();
  #textureCopyBytes = 0;

  // The batch being recorded.
  #encoder: GPUCommandEncoder | undefined;
  #batch = 0;
  #dispatches = 0;
  #kernelsInBatch: string[] = [];
  readonly #slotBytes: number;
  readonly #uniformRing: GPUBuffer;
  readonly #uniformData: ArrayBuffer;
  readonly #uniformU32: Uint32Array;
  readonly #uniformI32: Int32Array;
  readonly #uniformF32: Float32Array;

  // Errors reported asynchronously, surfaced by the next call.
  #error: Error | undefined;
  #errorOrder = Infinity;
  #watched = 0;
  #lost: Error | undefined;
  /** The rejecters of the waits in progress (`#unlessLost`), called if the device is lost. */
  readonly #waits = new Set<(lost: Error) => void>();
  #checks: Promise<void> = Promise.resolve();
  #destroyed = false;

  // Profiling with timestamp queries: two per dispatch of the batch.
  readonly #querySet: GPUQuerySet | undefined;
  #profiled: Promise<void> = Promise.resolve();
  readonly #times = new Map<string, { dispatches: number; ns: number }>();

  constructor(device: GPUDevice, options: RuntimeOptions) {
    this.#device = device;
    this.#options = options;
    this.limits = device.limits;
    this.#pool = new BufferPool(device, STORAGE_USAGE, "at/core tensor", options.maxPooledBytes);
    this.#staging = new BufferPool(device, STAGING_USAGE, "at/core staging", 64 * 2 ** 20);
    this.#textures = new TexturePool(device, options.maxPooledBytes);
    this.#slotBytes = Math.max(256, device.limits.minUniformBufferOffsetAlignment);
    this.#uniformRing = device.createBuffer({
      size: this.#slotBytes * options.maxBatch,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: "at/core uniforms",
    });
    this.#uniformData = new ArrayBuffer(this.#slotBytes * options.maxBatch);
    this.#uniformU32 = new Uint32Array(this.#uniformData);
    this.#uniformI32 = new Int32Array(this.#uniformData);
    this.#uniformF32 = new Float32Array(this.#uniformData);
    device.lost.then((info) => {
      this.#lost ??= new Error(
        `webgpu: the device was lost (reason: ${info.reason ?? "unknown"}${info.message ? `: ${info.message}` : ""})` +
          (this.#kernelsInBatch.length ? `; kernels in flight: ${this.#kernelSummary()}` : ""),
      );
      for (const reject of this.#waits) reject(this.#lost);
      this.#waits.clear();
    });
    if (options.profile) {
      this.#querySet = device.createQuerySet({ type: "timestamp", count: 2 * options.maxBatch });
    }
    device.addEventListener("uncapturederror", (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      this.#fail(
        `webgpu: uncaptured ${error.constructor.name} after kernels ${this.#kernelSummary()}: ${error.message}`,
      );
    });
  }

  /** Whether the device has gone (lost or destroyed). */
  get lost(): boolean {
    return this.#lost !== undefined || this.#destroyed;
  }

  #kernelSummary(): string {
    const names = this.#kernelsInBatch;
    const last = names.slice(-8).join(", ");
    return names.length > 8 ? `… ${last}` : last || "(none)";
  }

  /** Records an error; of several, the one from the earliest call wins (its effects caused the rest). */
  #fail(message: string, order = Infinity): void {
    if (this.#error && order >= this.#errorOrder) return;
    this.#error = new Error(message);
    this.#errorOrder = order;
  }

  /**
   * `work`, or a rejection with the device loss if that comes first. Not `Promise.race` with a promise of
   * the loss: that promise never settles, and every race would leave a reaction on it for good (one per
   * download).
   */
  #unlessLost<T>(work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      work.then(resolve, reject).finally(() => this.#waits.delete(reject));
      if (this.#lost) reject(this.#lost);
      else this.#waits.add(reject);
    });
  }

  /** Throws the first error reported since, or the device loss. */
  check(): void {
    if (this.#destroyed) throw new Error("webgpu: the backend was disposed; start a new one");
    if (this.#lost) throw this.#lost;
    if (this.#error) throw this.#error;
  }

  // ---- memory ----

  /** A buffer of `size` floats with undefined contents (the caller writes all of it). */
  alloc(size: number): GpuBuffer {
    this.check();
    const bytes = Math.max(4, size * 4);
    const maxBuffer = this.limits.maxBufferSize;
    if (bytes > maxBuffer) {
      throw new RangeError(
        `webgpu: a buffer of ${size} floats (${mib(bytes)}) is larger than this device's maxBufferSize (${
          mib(maxBuffer)
        })`,
      );
    }
    const { buffer } = this.#pool.acquire(bytes);
    this.#dropTextureCopy(buffer);
    return new GpuBuffer(size, buffer, this);
  }

  /** A buffer of `size` zeros. */
  zeros(size: number): GpuBuffer {
    this.check();
    const bytes = Math.max(4, size * 4);
    const { buffer, fresh } = this.#pool.acquire(bytes);
    this.#dropTextureCopy(buffer);
    const out = new GpuBuffer(size, buffer, this);
    if (!fresh && size > 0) this.#encoderFor(out).clearBuffer(buffer, 0, size * 4);
    return out;
  }

  /** A buffer holding a copy of `data`. */
  upload(data: Float32Array): GpuBuffer {
    const out = this.alloc(data.length);
    if (data.length === 0) return out;
    // writeBuffer runs before the commands still being recorded; a buffer they use must wait for them.
    if (this.#encoder && this.#lastUse.get(out.gpu) === this.#batch) this.flush();
    // A view of shared memory is copied: writeBuffer takes ArrayBuffer-backed data only.
    const source = data.buffer instanceof ArrayBuffer ? data as Float32Array<ArrayBuffer> : new Float32Array(data);
    this.#device.queue.writeBuffer(out.gpu, 0, source);
    return out;
  }

  /** Gives a buffer back to the pool. */
  release(buffer: GpuBuffer): void {
    if (buffer.freed) throw new Error(`webgpu free: a buffer of ${buffer.size} floats was freed twice`);
    const gpu = buffer.take();
    if (this.#destroyed) return;
    this.#dropTextureCopy(gpu);
    this.#pool.release(gpu);
  }

  /** Gives the texture copy of `gpu`'s contents, if any, back to the texture pool. */
  #dropTextureCopy(gpu: GPUBuffer): void {
    const t = this.#textureCopies.get(gpu);
    if (!t) return;
    this.#textureCopies.delete(gpu);
    this.#textureCopyBytes -= t.bytes;
    this.#textures.release(t);
  }

  /** The texture copy of `b`'s contents: the kept one, or a new copy recorded into `encoder` (kept if room). */
  #textureCopy(encoder: GPUCommandEncoder, b: GpuBuffer): { texture: GpuTexture; kept: boolean } {
    const hit = this.#textureCopies.get(b.gpu);
    if (hit && hit.floats >= b.size) return { texture: hit, kept: true };
    this.#dropTextureCopy(b.gpu);
    const texture = this.#textures.copyFrom(encoder, b.gpu, b.size);
    // Kept copies share the pools' budget; beyond it a copy serves one dispatch.
    if (this.#textureCopyBytes + texture.bytes > this.#options.maxPooledBytes) return { texture, kept: false };
    this.#textureCopies.set(b.gpu, texture);
    this.#textureCopyBytes += texture.bytes;
    return { texture, kept: true };
  }

  /** Copies `size` floats from `src` into a new buffer, in queue order. */
  copy(src: GpuBuffer, size: number = src.size): GpuBuffer {
    const out = this.alloc(size);
    if (size > 0) this.#encoderFor(src, out).copyBufferToBuffer(src.gpu, 0, out.gpu, 0, size * 4);
    return out;
  }

  /** Whether a buffer of `floats` floats fits in a texture on this device (a kernel's texture binding). */
  textureFits(floats: number): boolean {
    return this.#textures.fits(floats);
  }

  /** Reads a buffer back; waits for every command recorded before it. */
  async download(buffer: GpuBuffer): Promise<Float32Array> {
    this.check();
    const bytes = buffer.size * 4;
    if (bytes === 0) {
      await this.#settle();
      return new Float32Array(0);
    }
    const { buffer: staging } = this.#staging.acquire(bytes);
    this.#encoderFor(buffer).copyBufferToBuffer(buffer.gpu, 0, staging, 0, bytes);
    this.flush();
    try {
      await this.#unlessLost(staging.mapAsync(GPUMapMode.READ, 0, bytes));
    } catch (e) {
      this.check();
      throw new Error(`webgpu download: mapping the staging buffer failed: ${e instanceof Error ? e.message : e}`, {
        cause: e,
      });
    }
    const out = new Float32Array(staging.getMappedRange(0, bytes).slice(0));
    staging.unmap();
    this.#staging.release(staging);
    await this.#settle();
    return out;
  }

  /** Waits for the error-scope results of everything submitted so far and throws the first error. */
  async #settle(): Promise<void> {
    this.flush();
    await this.#checks;
    this.check();
  }

  // ---- kernels ----

  #compile(spec: KernelSpec): CompiledKernel {
    const hit = this.#pipelines.get(spec.key);
    if (hit) return hit;
    const device = this.#device;
    device.pushErrorScope("validation");
    const module = device.createShaderModule({ code: spec.source, label: spec.key });
    const entries: GPUBindGroupLayoutEntry[] = spec.bindings.map((b, binding) =>
      b.type === "texture"
        ? { binding, visibility: GPUShaderStage.COMPUTE, texture: { sampleType: "unfilterable-float" } }
        : {
          binding,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: b.access === "read" ? "read-only-storage" : "storage" },
        }
    );
    entries.push({ binding: spec.bindings.length, visibility: GPUShaderStage.COMPUTE, buffer: { type: "uniform" } });
    const layout = device.createBindGroupLayout({ entries, label: spec.key });
    const pipeline = device.createComputePipeline({
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: "main" },
      label: spec.key,
    });
    this.#watch(device.popErrorScope(), `compiling kernel ${spec.key} (${spec.op})`, module);
    const compiled = { pipeline, layout };
    this.#pipelines.set(spec.key, compiled);
    return compiled;
  }

  #watch(scope: Promise<GPUError | null>, what: string, module?: GPUShaderModule): void {
    const order = this.#watched++;
    const check = scope.then(async (error) => {
      if (!error) return;
      let detail = error.message;
      if (module) {
        const info = await module.getCompilationInfo();
        const lines = info.messages.map((m) => `${m.type} at ${m.lineNum}:${m.linePos}: ${m.message}`);
        if (lines.length) detail += `\n${lines.join("\n")}`;
      }
      this.#fail(`webgpu: ${what} failed: ${detail}`, order);
    }, (e) => this.#fail(`webgpu: ${what}: ${e instanceof Error ? e.message : e}`, order));
    this.#checks = both(this.#checks, check);
  }

  /**
   * Records one dispatch of `spec` over `groups` workgroups (laid out by `gridFor`) with `buffers` bound
   * in the order of `spec.bindings` and `params` in the order of `spec.params`.
   *
   * A buffer bound where the kernel reads a texture is copied into a pooled one first (see `_texture.ts`);
   * with `textureMinFloats`, so is every large read-only operand, through the kernel's texture variant.
   */
  run(spec: KernelSpec, buffers: readonly GpuBuffer[], params: readonly number[], groups: number): void {
    this.check();
    if (groups === 0) return;
    if (buffers.length !== spec.bindings.length) {
      throw new Error(
        `webgpu ${spec.op}: kernel ${spec.key} binds ${spec.bindings.length} buffers, got ${buffers.length}`,
      );
    }
    if (params.length !== spec.params.length) {
      throw new Error(
        `webgpu ${spec.op}: kernel ${spec.key} takes ${spec.params.length} parameters, got ${params.length}`,
      );
    }
    const maxBinding = this.limits.maxStorageBufferBindingSize;
    for (let i = 0; i < buffers.length; i++) {
      const b = buffers[i];
      if (spec.bindings[i].type === "texture") {
        if (!this.#textures.fits(b.size)) {
          throw new RangeError(
            `webgpu ${spec.op}: operand ${spec.bindings[i].name} of ${b.size} floats does not fit in a texture on ` +
              `this device; use a smaller batch or the cpu backend`,
          );
        }
        continue;
      }
      const bytes = b.size * 4;
      if (bytes > maxBinding) {
        throw new RangeError(
          `webgpu ${spec.op}: buffer ${spec.bindings[i].name} of ${b.size} floats (${mib(bytes)}) exceeds ` +
            `this adapter's maxStorageBufferBindingSize (${mib(maxBinding)}); use a smaller batch or the cpu backend`,
        );
      }
      if (spec.bindings[i].access === "read_write" && buffers.some((o, j) => j !== i && o === b)) {
        throw new Error(
          `webgpu ${spec.op}: buffer ${spec.bindings[i].name} is written and also bound as another operand`,
        );
      }
    }
    let mask = 0;
    const minFloats = this.#options.textureMinFloats ?? Infinity;
    for (let i = 0; i < buffers.length; i++) {
      const size = buffers[i].size;
      if (size >= minFloats && size > 0 && this.#textures.fits(size) && textureReadable(spec, i)) mask |= 1 << i;
    }
    const kernel = mask ? textureVariant(spec, mask) : spec;
    const grid: Grid = gridFor(groups, this.limits.maxComputeWorkgroupsPerDimension);
    const { pipeline, layout } = this.#compile(kernel);
    if (this.#dispatches >= this.#options.maxBatch) this.flush();
    const encoder = this.#encoderFor(...buffers);
    const textures = buffers.map((b, i) =>
      kernel.bindings[i].type === "texture" ? this.#textureCopy(encoder, b) : undefined
    );

    const slot = this.#dispatches++;
    const base = (slot * this.#slotBytes) / 4;
    for (let i = 0; i < params.length; i++) {
      const t = spec.params[i][1];
      if (t === "f32") this.#uniformF32[base + i] = params[i];
      else if (t === "i32") this.#uniformI32[base + i] = params[i];
      else this.#uniformU32[base + i] = params[i];
    }
    const uniformBytes = Math.max(16, Math.ceil((params.length * 4) / 16) * 16);
    this.#kernelsInBatch.push(kernel.op === kernel.key ? kernel.op : `${kernel.op}[${kernel.key}]`);

    const device = this.#device;
    device.pushErrorScope("validation");
    const entries: GPUBindGroupEntry[] = buffers.map((b, binding) => ({
      binding,
      resource: textures[binding]?.texture.view ?? { buffer: b.gpu, offset: 0, size: Math.max(4, b.size * 4) },
    }));
    entries.push({
      binding: buffers.length,
      resource: { buffer: this.#uniformRing, offset: slot * this.#slotBytes, size: uniformBytes },
    });
    const bindGroup = device.createBindGroup({ layout, entries });
    const pass = encoder.beginComputePass(
      this.#querySet
        ? {
          timestampWrites: {
            querySet: this.#querySet,
            beginningOfPassWriteIndex: 2 * slot,
            endOfPassWriteIndex: 2 * slot + 1,
          },
        }
        : undefined,
    );
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    pass.end();
    this.#watch(device.popErrorScope(), `kernel ${kernel.key} (${kernel.op}, grid ${grid.join("x")})`);
    // Later commands are recorded after this one: the textures may serve them again. A buffer this
    // kernel writes no longer matches its texture copy.
    for (const t of textures) if (t && !t.kept) this.#textures.release(t.texture);
    for (let i = 0; i < buffers.length; i++) {
      if (kernel.bindings[i].access === "read_write") this.#dropTextureCopy(buffers[i].gpu);
    }
  }

  #encoderFor(...buffers: GpuBuffer[]): GPUCommandEncoder {
    for (const b of buffers) this.#lastUse.set(b.gpu, this.#batch);
    return this.#encoder ??= this.#device.createCommandEncoder({ label: `at/core batch ${this.#batch}` });
  }

  /** Submits the recorded batch (uniforms first). */
  flush(): void {
    const encoder = this.#encoder;
    if (!encoder || this.lost) return;
    const device = this.#device;
    if (this.#dispatches > 0) {
      device.queue.writeBuffer(this.#uniformRing, 0, this.#uniformData, 0, this.#dispatches * this.#slotBytes);
    }
    const timed = this.#querySet && this.#dispatches > 0 ? this.#resolveTimes(encoder) : undefined;
    device.pushErrorScope("validation");
    device.queue.submit([encoder.finish()]);
    if (timed) this.#profiled = both(this.#profiled, timed());
    this.#watch(device.popErrorScope(), `submitting kernels ${this.#kernelSummary()}`);
    this.#encoder = undefined;
    this.#dispatches = 0;
    this.#kernelsInBatch = [];
    this.#batch++;
    this.#pool.destroyRetired();
    this.#staging.destroyRetired();
    this.#textures.destroyRetired();
  }

  /** Records the copy of this batch's timestamps; the returned function maps them once submitted. */
  #resolveTimes(encoder: GPUCommandEncoder): () => Promise<void> {
    const count = 2 * this.#dispatches;
    const kernels = this.#kernelsInBatch;
    const resolve = this.#device.createBuffer({
      size: count * 8,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const read = this.#device.createBuffer({
      size: count * 8,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    encoder.resolveQuerySet(this.#querySet!, 0, count, resolve, 0);
    encoder.copyBufferToBuffer(resolve, 0, read, 0, count * 8);
    return async () => {
      await read.mapAsync(GPUMapMode.READ);
      const stamps = new BigInt64Array(read.getMappedRange());
      for (let i = 0; i < kernels.length; i++) {
        const entry = this.#times.get(kernels[i]) ?? { dispatches: 0, ns: 0 };
        entry.dispatches++;
        entry.ns += Number(stamps[2 * i + 1] - stamps[2 * i]);
        this.#times.set(kernels[i], entry);
      }
      read.unmap();
      read.destroy();
      resolve.destroy();
    };
  }

  /** Device time per kernel since the last call, longest first (empty unless profiling). */
  async takeProfile(): Promise<KernelTime[]> {
    this.flush();
    await this.#profiled;
    const out = [...this.#times].map(([kernel, t]) => ({ kernel, dispatches: t.dispatches, ms: t.ns / 1e6 }));
    this.#times.clear();
    return out.sort((a, b) => b.ms - a.ms);
  }

  /** Waits until the device has finished everything submitted (for benchmarks). */
  async finish(): Promise<void> {
    this.flush();
    await this.#unlessLost(this.#device.queue.onSubmittedWorkDone());
    await this.#settle();
  }

  /** Releases the device; every later call throws. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#textureCopies.clear();
    this.#pool.clear();
    this.#staging.clear();
    this.#textures.clear();
    this.#device.destroy();
  }
}
