/**
 * Matrix products. One primitive, `op(a) · op(b)` with optional transposes, whose gradients are the
 * same primitive, so it differentiates any number of times.
 *
 * @module
 */
import { BOOLEAN, optionsChecker } from "../_options.ts";
import { fmtShape } from "./_shape.ts";
import { add } from "./elementwise.ts";
import { backendOf, output, type Tensor } from "./tensor.ts";

/** Transposes applied to the operands of {@linkcode matmulT}. */
export interface MatmulOptions {
  /** `a` is stored `[k, m]` and used transposed. */
  readonly transA?: boolean;
  /** `b` is stored `[n, k]` and used transposed. */
  readonly transB?: boolean;
}

const checkMatmulOptions = optionsChecker<MatmulOptions>("matmulT", { transA: BOOLEAN, transB: BOOLEAN });

/**
 * `op(a) · op(b)` for 2-D tensors, `[m, k] · [k, n] -> [m, n]`.
 *
 * @example
 * ```ts
 * const y = matmulT(x, w, { transB: true }); // x [n, in] · w[out, in]ᵀ -> [n, out]
 * ```
 */
export function matmulT(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  checkMatmulOptions(options);
  const { transA = false, transB = false } = options;
  const be = backendOf("matmul", a, b);
  if (a.rank !== 2 || b.rank !== 2) {
    throw new RangeError(`matmul: expects 2-D tensors, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  }
  const [m, ka] = transA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [kb, n] = transB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  if (ka !== kb) {
    throw new RangeError(
      `matmul: inner sizes differ: ${fmtShape(a.shape)}${transA ? "ᵀ" : ""} · ${fmtShape(b.shape)}${
        transB ? "ᵀ" : ""
      } (${ka} vs ${kb})`,
    );
  }
  const buf = be.matmul(a.buffer, b.buffer, m, n, ka, transA, transB);
  return output(be, buf, [m, n], "matmul", [a, b], (g, needs) => [
    // d op(a) = g · op(b)ᵀ and d op(b) = op(a)ᵀ · g, each stored back in its operand's layout.
    needs[0]
      ? (transA ? matmulT(b, g, { transA: transB, transB: true }) : matmulT(g, b, { transB: !transB }))
      : undefined,
    needs[1]
      ? (transB ? matmulT(g, a, { transA: true, transB: transA }) : matmulT(a, g, { transA: !transA }))
      : undefined,
  ]);
}

/** `a · b` for 2-D tensors. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  return matmulT(a, b);
}

/**
 * A fully connected layer as PyTorch's `F.linear`: `x [n, in] · weight[out, in]ᵀ + bias[out]`.
 *
 * @example
 * ```ts
 * const logits = linear(features, params["fc.weight"], params["fc.bias"]);
 * ```
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  const y = matmulT(x, weight, { transB: true });
  return bias ? add(y, bias) : y;
}
