/**
 * Parameter initialisers of the reference code, drawn on the host from a seeded generator.
 *
 * @module
 */
import { elementCount } from "../backends/backend.ts";
import type { Rng } from "../rng.ts";

/**
 * Kaiming-normal (He) weights as `torch.nn.init.kaiming_normal_` with its defaults: std `sqrt(2 / fanIn)`,
 * where fanIn is the product of every axis but the first (`in · k · k` for `[out, in, k, k]`).
 */
export function kaimingNormal(rng: Rng, shape: readonly number[]): Float32Array {
  const size = elementCount(shape);
  const fanIn = size / shape[0];
  const std = Math.sqrt(2 / fanIn);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = rng.normal() * std;
  return out;
}

/** Uniform in [0, 1), as `torch.rand` (the reference's batch norm scale). */
export function uniform(rng: Rng, size: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = rng.uniform();
  return out;
}
