/**
 * The front end's only module-level state: the current backend, whether operations are recorded for
 * autograd, and the stack of memory scopes. Private: callers use `useBackend`, `noGrad` and `tidy`.
 *
 * @module
 */
import type { Backend } from "../backends/backend.ts";
import { CpuBackend } from "../backends/cpu/mod.ts";

let current: Backend | undefined;
let recording = true;

/** The backend new tensors are created on (the cpu backend until `useBackend` picks another). */
export function currentBackend(): Backend {
  return current ??= new CpuBackend();
}

export function setCurrentBackend(backend: Backend): void {
  current = backend;
}

/** Whether new operations are recorded on the autograd graph. */
export function isRecording(): boolean {
  return recording;
}

/** Runs `fn` with recording switched on or off, restoring the previous mode afterwards. */
export function withRecording<T>(on: boolean, fn: () => T): T {
  const before = recording;
  recording = on;
  try {
    return fn();
  } finally {
    recording = before;
  }
}

/** Something a scope can release: a tensor. */
export interface Disposable {
  dispose(): void;
}

const scopes: Set<Disposable>[] = [];

/** Registers a new tensor with the innermost scope, if any. */
export function track(t: Disposable): void {
  scopes.at(-1)?.add(t);
}

/** Opens a scope; every tensor created until `closeScope` is registered with it. */
export function openScope(): Set<Disposable> {
  const scope = new Set<Disposable>();
  scopes.push(scope);
  return scope;
}

/** Closes the innermost scope: disposes its tensors except `keep`, which move to the enclosing scope. */
export function closeScope(scope: Set<Disposable>, keep: ReadonlySet<Disposable>): void {
  if (scopes.pop() !== scope) throw new Error("tidy: scopes closed out of order (was tidy given an async function?)");
  const parent = scopes.at(-1);
  for (const t of scope) {
    if (keep.has(t)) parent?.add(t);
    else t.dispose();
  }
}

/** Removes `t` from every open scope, so no scope disposes it. */
export function untrack(t: Disposable): void {
  for (const scope of scopes) scope.delete(t);
}
