/**
 * Reverse-mode automatic differentiation over the graph that recorded operations leave behind.
 *
 * `gradients` is the engine; `valueAndGrad` and `grad` wrap a function the way JAX does. With
 * `createGraph` the backward pass is itself recorded, so a gradient can be differentiated again.
 *
 * @module
 */
import { BOOLEAN, optionsChecker } from "../_options.ts";
import { fmtShape } from "./_shape.ts";
import { closeScope, type Disposable, isRecording, openScope, withRecording } from "./_state.ts";
import { add } from "./elementwise.ts";
import { tensorsIn } from "./memory.ts";
import { Tensor, wrap } from "./tensor.ts";

/** Options of {@linkcode gradients}. */
export interface GradientsOptions {
  /** The gradient of the output (default: ones, for a one-element output). */
  readonly seed?: Tensor;
  /** Record the backward pass so its results can be differentiated again. Default false. */
  readonly createGraph?: boolean;
  /** `needs[i] === false` skips input `i` (its result is `undefined`). */
  readonly needs?: readonly boolean[];
}

const checkGradientsOptions = optionsChecker<GradientsOptions>("gradients", {
  seed: { expected: "a Tensor", test: (v) => v instanceof Tensor },
  createGraph: BOOLEAN,
  needs: { expected: "an array of booleans", test: (v) => Array.isArray(v) && v.every((b) => typeof b === "boolean") },
});

/**
 * Gradients of `output` w.r.t. each of `inputs` (zeros for inputs it does not depend on). The
 * traversal stops at `inputs`: they are treated as leaves even when they were computed.
 *
 * @example
 * ```ts
 * const x = tensor([1, 2, 3]).requireGrad();
 * const [dx] = gradients(x.square().sum(), [x]); // 2x
 * ```
 */
export function gradients(
  output: Tensor,
  inputs: readonly Tensor[],
  options: GradientsOptions = {},
): (Tensor | undefined)[] {
  checkGradientsOptions(options);
  const { seed, createGraph = false, needs } = options;
  if (!seed && output.size !== 1) {
    throw new RangeError(
      `gradients: output has shape ${fmtShape(output.shape)}; give a seed or reduce it to one element`,
    );
  }
  if (seed && seed.size !== output.size) {
    throw new RangeError(`gradients: seed ${fmtShape(seed.shape)} does not match output ${fmtShape(output.shape)}`);
  }
  const wanted = new Set(inputs.filter((_, i) => needs?.[i] !== false));
  const { order, relevant } = topologicalOrder(output, wanted);

  const scope = openScope();
  const results = new Set<Disposable>();
  try {
    return withRecording(createGraph, () => {
      const grads = new Map<Tensor, Tensor>();
      const holders = new Map<Tensor, number>();
      const hold = (t: Tensor) => holders.set(t, (holders.get(t) ?? 0) + 1);
      // Frees a gradient as soon as nothing needs it (only gradients made here, and never when recording).
      const release = (t: Tensor) => {
        const n = (holders.get(t) ?? 1) - 1;
        if (n > 0) return holders.set(t, n);
        holders.delete(t);
        if (!createGraph && scope.has(t)) t.dispose();
      };
      const accumulate = (t: Tensor, part: Tensor) => {
        if (part.size !== t.size) {
          throw new Error(`autograd: gradient ${fmtShape(part.shape)} does not match its input ${fmtShape(t.shape)}`);
        }
        const old = grads.get(t);
        const next = old ? add(old, part) : part.shape.length === t.shape.length ? part : part.reshape(t.shape);
        grads.set(t, next);
        hold(next);
        if (old) {
          release(old);
          if (!holders.has(part) && !createGraph && scope.has(part)) part.dispose();
        }
      };
      accumulate(
        output,
        seed ?? wrap(output.backend, output.backend.upload(new Float32Array(output.size).fill(1)), output.shape),
      );

      for (let i = order.length - 1; i >= 0; i--) {
        const t = order[i];
        const node = t.node;
        if (wanted.has(t) || !node) continue;
        const g = grads.get(t);
        if (!g) continue;
        const mask = node.inputs.map((x) => relevant.has(x));
        const parts = node.backward(g, mask);
        node.inputs.forEach((x, j) => {
          const part = parts[j];
          if (mask[j] && part) accumulate(x, part);
        });
        grads.delete(t);
        release(g);
      }
      const out = inputs.map((x, i) => {
        if (needs?.[i] === false) return undefined;
        return grads.get(x) ?? wrap(x.backend, x.backend.zeros(x.size), x.shape);
      });
      for (const t of out) if (t) results.add(t);
      return out;
    });
  } finally {
    closeScope(scope, createGraph ? scope : results);
  }
}

/** Tensors reachable backwards from `output` in post-order, and those from which a wanted input is reachable. */
function topologicalOrder(output: Tensor, wanted: ReadonlySet<Tensor>): { order: Tensor[]; relevant: Set<Tensor> } {
  const order: Tensor[] = [];
  const relevant = new Set<Tensor>();
  const visited = new Set<Tensor>([output]);
  const stack: [Tensor, number][] = [[output, 0]];
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, next] = top;
    const inputs = wanted.has(t) ? [] : t.node?.inputs ?? [];
    if (next < inputs.length) {
      top[1]++;
      const x = inputs[next];
      if (!visited.has(x) && x.requiresGrad) {
        visited.add(x);
        stack.push([x, 0]);
      }
      continue;
    }
    stack.pop();
    order.push(t);
    if (wanted.has(t) || inputs.some((x) => relevant.has(x))) relevant.add(t);
  }
  return { order, relevant };
}

/** Differentiable arguments: one tensor, an array of tensors, or a record of named tensors. */
export type Params = Tensor | readonly Tensor[] | { readonly [name: string]: Tensor };

/** `P` with every tensor replaced by its gradient. */
export type GradsOf<P> = P extends Tensor ? Tensor : { [K in keyof P]: Tensor };

/** What the function given to {@linkcode valueAndGrad} returns: a one-element loss, or the loss and extras. */
export type LossResult<A> = Tensor | { readonly value: Tensor; readonly aux: A };

/** The value of the function, its extras, and the gradient for every tensor of the first argument. */
export interface ValueAndGrad<P, A> {
  /** The function's one-element value. */
  readonly value: Tensor;
  /** The extras the function returned beside its value. */
  readonly aux: A;
  /** The gradient of the value for every tensor of the first argument, in its structure. */
  readonly grads: GradsOf<P>;
}

/** Options of {@linkcode valueAndGrad} and {@linkcode grad}. */
export interface GradOptions {
  /** Keep the graph of the gradient computation, so the gradients can be differentiated again. */
  readonly createGraph?: boolean;
}

const checkGradOptions = {
  valueAndGrad: optionsChecker<GradOptions>("valueAndGrad", { createGraph: BOOLEAN }),
  grad: optionsChecker<GradOptions>("grad", { createGraph: BOOLEAN }),
};

function leavesOf(params: Params): Tensor[] {
  if (Array.isArray(params)) return [...params];
  if (typeof (params as Tensor).requireGrad === "function") return [params as Tensor];
  return Object.values(params);
}

function rebuild<P extends Params>(params: P, ts: Tensor[]): P {
  if (Array.isArray(params)) return ts as unknown as P;
  if (typeof (params as Tensor).requireGrad === "function") return ts[0] as unknown as P;
  return Object.fromEntries(Object.keys(params).map((k, i) => [k, ts[i]])) as unknown as P;
}

/**
 * Wraps `f(params, ...args)` so that it returns the value and the gradient w.r.t. every tensor in `params`.
 * `f` returns a one-element tensor, or `{ value, aux }` to pass extra results (logits, statistics) through.
 * Intermediate tensors are freed before it returns, unless `createGraph` keeps them for a further gradient.
 *
 * @example
 * ```ts
 * const step = valueAndGrad((p: Record<string, Tensor>, x: Tensor) => p.w.mul(x).sum());
 * const { value, grads } = step({ w }, x); // grads.w equals x
 * ```
 */
export function valueAndGrad<P extends Params, Args extends unknown[], A = undefined>(
  f: (params: P, ...args: Args) => LossResult<A>,
  options: GradOptions = {},
): (params: P, ...args: Args) => ValueAndGrad<P, A> {
  checkGradOptions.valueAndGrad(options);
  const createGraph = options.createGraph ?? false;
  return (params, ...args) => {
    const scope = openScope();
    let result: ValueAndGrad<P, A> | undefined;
    try {
      // A tensor already on a recorded graph (an outer gradient's) gets a recorded identity, so the outer
      // graph flows through this gradient; anything else becomes a fresh leaf.
      const outer = isRecording();
      const leaves = leavesOf(params).map((p) => (outer && p.requiresGrad ? p.reshape(p.shape) : p.requireGrad()));
      const r = withRecording(true, () => f(rebuild(params, leaves), ...args));
      const { value, aux } = r instanceof Tensor ? { value: r, aux: undefined as A } : r;
      if (value.size !== 1) {
        throw new RangeError(
          `valueAndGrad: the function must return a one-element tensor, got shape ${fmtShape(value.shape)}`,
        );
      }
      const grads = gradients(value, leaves, { createGraph }) as Tensor[];
      result = { value, aux, grads: rebuild(params as Params, grads) as GradsOf<P> };
      return result;
    } finally {
      closeScope(scope, createGraph ? scope : tensorsIn([result?.value, result?.aux, result?.grads]));
    }
  };
}

/**
 * Wraps `f` so that it returns only the gradient w.r.t. its first argument.
 *
 * @example
 * ```ts
 * const dx = grad((x: Tensor) => x.pow(3).sum(), { createGraph: true })(x); // 3x², itself differentiable
 * ```
 */
export function grad<P extends Params, Args extends unknown[]>(
  f: (params: P, ...args: Args) => Tensor,
  options: GradOptions = {},
): (params: P, ...args: Args) => GradsOf<P> {
  checkGradOptions.grad(options);
  const vg = valueAndGrad(f, options);
  return (params, ...args) => vg(params, ...args).grads;
}

/** Runs `fn` without recording operations for autograd (evaluation, teacher forward passes). */
export function noGrad<T>(fn: () => T): T {
  return withRecording(false, fn);
}
