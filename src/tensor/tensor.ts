/**
 * `Tensor`: a float32 array on a backend, with a shape, an optional autograd node, and reference-counted
 * device memory shared by its views.
 *
 * @module
 */
import { type Backend, type DeviceBuffer, elementCount } from "../backends/backend.ts";
import { checkShape, fmtShape } from "./_shape.ts";
import { currentBackend, isRecording, track, untrack } from "./_state.ts";
import * as ew from "./elementwise.ts";
import * as red from "./reduce.ts";
import * as sh from "./shape.ts";
import { matmul } from "./linalg.ts";

/** One recorded operation: its inputs and how to turn the output's gradient into theirs. */
export interface GradNode {
  /** The operation's name, for error messages. */
  readonly op: string;
  /** The tensors it read. */
  readonly inputs: readonly Tensor[];
  /**
   * Gradients for each input given the output's gradient `g`; `needs[i]` is false where input `i`
   * needs none (the rule may skip it and return `undefined` there).
   */
  readonly backward: (g: Tensor, needs: readonly boolean[]) => readonly (Tensor | undefined)[];
}

/** Device memory shared by a tensor and its reshaped views; freed when the last of them is disposed. */
class Storage {
  #refs = 1;
  constructor(readonly backend: Backend, readonly buffer: DeviceBuffer) {}
  retain(): this {
    this.#refs++;
    return this;
  }
  release(): void {
    if (--this.#refs === 0) this.backend.free(this.buffer);
  }
}

// Tensors that are garbage-collected without `dispose()` still give their memory back.
const finalizer = new FinalizationRegistry<Storage>((storage) => storage.release());

/** A float32 tensor. Create one with `tensor(data, shape)`; read it with `await t.data()`. */
export class Tensor {
  /** Sizes of the axes. */
  readonly shape: readonly number[];
  /** Number of elements. */
  readonly size: number;
  /** Always float32. */
  readonly dtype = "float32" as const;
  /** The operation that produced this tensor, when it was recorded for autograd. */
  node: GradNode | undefined;
  #storage: Storage | undefined;
  #leaf = false;

  /** @internal Use {@linkcode tensor} or an op; this wraps a buffer the caller hands over. */
  constructor(
    storageOrBackend: Backend | Storage,
    bufferOrShape: DeviceBuffer | readonly number[],
    shape?: readonly number[],
  ) {
    if (storageOrBackend instanceof Storage) {
      this.#storage = storageOrBackend;
      this.shape = Object.freeze([...(bufferOrShape as readonly number[])]);
    } else {
      this.#storage = new Storage(storageOrBackend, bufferOrShape as DeviceBuffer);
      this.shape = Object.freeze([...shape!]);
    }
    this.size = elementCount(this.shape);
    finalizer.register(this, this.#storage, this);
    track(this);
  }

  /** The backend that owns this tensor's memory. */
  get backend(): Backend {
    return this.#live().backend;
  }
  /** @internal The device buffer (shared with views). */
  get buffer(): DeviceBuffer {
    return this.#live().buffer;
  }
  /** Number of axes. */
  get rank(): number {
    return this.shape.length;
  }
  /** Whether gradients flow to this tensor: a leaf marked by `requireGrad()` or the output of a recorded op. */
  get requiresGrad(): boolean {
    return this.#leaf || this.node !== undefined;
  }
  /** Whether `dispose()` has released this tensor. */
  get disposed(): boolean {
    return this.#storage === undefined;
  }

  #live(): Storage {
    if (!this.#storage) throw new Error(`tensor of shape ${fmtShape(this.shape)} was used after dispose()`);
    return this.#storage;
  }

  /** A view with another shape over the same memory (no copy, no autograd). */
  view(shape: readonly number[]): Tensor {
    return new Tensor(this.#live().retain(), shape);
  }

  /** A new leaf tensor over the same memory that gradients flow to (for `valueAndGrad`). */
  requireGrad(): Tensor {
    const t = this.view(this.shape);
    t.#leaf = true;
    return t;
  }

  /** A view over the same memory, cut from the autograd graph. */
  detach(): Tensor {
    return this.view(this.shape);
  }

  /** Copies the values to the host. The only way to read a tensor; it waits for queued work. */
  data(): Promise<Float32Array> {
    const s = this.#live();
    return s.backend.download(s.buffer);
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new RangeError(`item(): tensor has shape ${fmtShape(this.shape)}, not one element`);
    return (await this.data())[0];
  }

  /** Releases the memory (once every view of it is released). Safe to call twice. */
  dispose(): void {
    if (!this.#storage) return;
    finalizer.unregister(this);
    this.#storage.release();
    this.#storage = undefined;
  }

  /** Keeps this tensor alive past the end of the enclosing `tidy` scopes. */
  keep(): this {
    untrack(this);
    return this;
  }

  // ---- chainable operations (see the functions of the same name) ----
  /** `this + other`, broadcasting. */
  add(other: Tensor | number): Tensor {
    return ew.add(this, other);
  }
  /** `this - other`, broadcasting. */
  sub(other: Tensor | number): Tensor {
    return ew.sub(this, other);
  }
  /** `this * other`, broadcasting. */
  mul(other: Tensor | number): Tensor {
    return ew.mul(this, other);
  }
  /** `this / other`, broadcasting. */
  div(other: Tensor | number): Tensor {
    return ew.div(this, other);
  }
  /** `-this` */
  neg(): Tensor {
    return ew.neg(this);
  }
  /** `e^this` */
  exp(): Tensor {
    return ew.exp(this);
  }
  /** Natural logarithm. */
  log(): Tensor {
    return ew.log(this);
  }
  /** Square root. */
  sqrt(): Tensor {
    return ew.sqrt(this);
  }
  /** `1 / sqrt(this)` */
  rsqrt(): Tensor {
    return ew.rsqrt(this);
  }
  /** `|this|` */
  abs(): Tensor {
    return ew.abs(this);
  }
  /** `this ** p` for a scalar exponent. */
  pow(p: number): Tensor {
    return ew.pow(this, p);
  }
  /** `this * this` */
  square(): Tensor {
    return ew.square(this);
  }
  /** `max(this, 0)` */
  relu(): Tensor {
    return ew.relu(this);
  }
  /** `max(this, min)` */
  clampMin(min: number): Tensor {
    return ew.clampMin(this, min);
  }
  /** Sum over `axes` (all when omitted). */
  sum(axes?: number | readonly number[], keepDims = false): Tensor {
    return red.sum(this, axes, keepDims);
  }
  /** Mean over `axes` (all when omitted). */
  mean(axes?: number | readonly number[], keepDims = false): Tensor {
    return red.mean(this, axes, keepDims);
  }
  /** The same elements in another shape (one axis may be -1), sharing memory. */
  reshape(shape: readonly number[]): Tensor {
    return sh.reshape(this, shape);
  }
  /** Reorders axes: output axis `i` is input axis `axes[i]`. */
  permute(axes: readonly number[]): Tensor {
    return sh.permute(this, axes);
  }
  /** The transpose of a 2-D tensor. */
  transpose(): Tensor {
    return sh.permute(this, [1, 0]);
  }
  /** Repeats along axes of size 1 (and new leading axes) to `shape`. */
  broadcastTo(shape: readonly number[]): Tensor {
    return red.broadcastTo(this, shape);
  }
  /** Matrix product of 2-D tensors. */
  matmul(other: Tensor): Tensor {
    return matmul(this, other);
  }

  /** `Tensor([2, 3])` */
  toString(): string {
    return `Tensor(${fmtShape(this.shape)}${this.disposed ? ", disposed" : ""})`;
  }
}

/** Checks that every tensor lives on one backend and returns it. */
export function backendOf(op: string, ...ts: readonly Tensor[]): Backend {
  const b = ts[0].backend;
  for (const t of ts) {
    if (t.backend !== b) {
      throw new Error(
        `${op}: inputs live on different backends (${b.name} and ${t.backend.name}); create them after one useBackend()`,
      );
    }
  }
  return b;
}

/** Wraps a buffer a kernel returned as a tensor outside the autograd graph. */
export function wrap(backend: Backend, buffer: DeviceBuffer, shape: readonly number[]): Tensor {
  return new Tensor(backend, buffer, shape);
}

/** Wraps an output buffer as a tensor and, when recording and an input needs gradients, attaches its node. */
export function output(
  backend: Backend,
  buffer: DeviceBuffer,
  shape: readonly number[],
  op: string,
  inputs: readonly Tensor[],
  backward: GradNode["backward"],
): Tensor {
  return record(new Tensor(backend, buffer, shape), op, inputs, backward);
}

/** Attaches an autograd node to `out` when recording and an input needs gradients. */
export function record(
  out: Tensor,
  op: string,
  inputs: readonly Tensor[],
  backward: GradNode["backward"],
): Tensor {
  if (isRecording() && inputs.some((t) => t.requiresGrad)) out.node = { op, inputs, backward };
  return out;
}

/**
 * A tensor from host data on the current backend.
 *
 * @example
 * ```ts
 * const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
 * ```
 */
export function tensor(data: ArrayLike<number>, shape?: readonly number[]): Tensor {
  const s = shape ?? [data.length];
  checkShape(s, "tensor");
  if (elementCount(s) !== data.length) {
    throw new RangeError(
      `tensor: ${data.length} values do not fill shape ${fmtShape(s)} (${elementCount(s)} elements)`,
    );
  }
  const b = currentBackend();
  return new Tensor(b, b.upload(data instanceof Float32Array ? data : Float32Array.from(data)), s);
}

/** A tensor of zeros on the current backend. */
export function zeros(shape: readonly number[]): Tensor {
  checkShape(shape, "zeros");
  const b = currentBackend();
  return new Tensor(b, b.zeros(elementCount(shape)), shape);
}

/** A tensor filled with `value` on the current backend. */
export function full(shape: readonly number[], value: number): Tensor {
  checkShape(shape, "full");
  return tensor(new Float32Array(elementCount(shape)).fill(value), shape);
}

/** A one-element tensor of shape `[]`. */
export function scalar(value: number): Tensor {
  return tensor([value], []);
}
