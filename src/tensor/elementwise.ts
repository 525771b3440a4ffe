/**
 * Elementwise operations with NumPy broadcasting, each with its gradient written in these same
 * operations (so gradients can be differentiated again).
 *
 * @module
 */
import type { BinaryOp, UnaryOp } from "../backends/backend.ts";
import { broadcastShapes, broadcastStrides } from "./_shape.ts";
import { sumTo } from "./reduce.ts";
import { backendOf, output, type Tensor } from "./tensor.ts";

function unaryOp(
  name: string,
  op: UnaryOp,
  x: Tensor,
  a: number,
  b: number,
  backward: ((g: Tensor, out: Tensor) => Tensor) | null,
): Tensor {
  const be = backendOf(name, x);
  const buf = be.unary(op, x.buffer, a, b);
  // Piecewise-constant ops (sign, greaterThan) pass no gradient, so they record no inputs.
  const out: Tensor = output(be, buf, x.shape, name, backward ? [x] : [], (g) => [backward!(g, out)]);
  return out;
}

function binaryOp(
  op: BinaryOp,
  a: Tensor,
  b: Tensor,
  backward: (g: Tensor, needs: readonly boolean[]) => readonly (Tensor | undefined)[],
): Tensor {
  const be = backendOf(op, a, b);
  const shape = broadcastShapes(op, a.shape, b.shape);
  const buf = be.binary(
    op,
    a.buffer,
    broadcastStrides(a.shape, shape),
    b.buffer,
    broadcastStrides(b.shape, shape),
    shape,
  );
  return output(be, buf, shape, op, [a, b], backward);
}

/** `x * a + b` for scalars `a`, `b`. */
export function affine(x: Tensor, a: number, b: number): Tensor {
  return unaryOp("affine", "affine", x, a, b, (g) => affine(g, a, 0));
}

/** `a + b`, broadcasting. */
export function add(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === "number") return affine(a, 1, b);
  return binaryOp("add", a, b, (g, needs) => [
    needs[0] ? sumTo(g, a.shape) : undefined,
    needs[1] ? sumTo(g, b.shape) : undefined,
  ]);
}

/** `a - b`, broadcasting. */
export function sub(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === "number") return affine(a, 1, -b);
  return binaryOp("sub", a, b, (g, needs) => [
    needs[0] ? sumTo(g, a.shape) : undefined,
    needs[1] ? neg(sumTo(g, b.shape)) : undefined,
  ]);
}

/** `a * b`, broadcasting. */
export function mul(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === "number") return affine(a, b, 0);
  return binaryOp("mul", a, b, (g, needs) => [
    needs[0] ? sumTo(mul(g, b), a.shape) : undefined,
    needs[1] ? sumTo(mul(g, a), b.shape) : undefined,
  ]);
}

/** `a / b`, broadcasting. */
export function div(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === "number") return affine(a, 1 / b, 0);
  return binaryOp("div", a, b, (g, needs) => [
    needs[0] ? sumTo(div(g, b), a.shape) : undefined,
    needs[1] ? sumTo(neg(div(mul(g, a), mul(b, b))), b.shape) : undefined,
  ]);
}

/** `-x` */
export function neg(x: Tensor): Tensor {
  return affine(x, -1, 0);
}

/** `e^x` */
export function exp(x: Tensor): Tensor {
  return unaryOp("exp", "exp", x, 0, 0, (g, out) => mul(g, out));
}

/** Natural logarithm. */
export function log(x: Tensor): Tensor {
  return unaryOp("log", "log", x, 0, 0, (g) => div(g, x));
}

/** Square root. */
export function sqrt(x: Tensor): Tensor {
  return unaryOp("sqrt", "sqrt", x, 0, 0, (g, out) => div(g, affine(out, 2, 0)));
}

/** `1 / sqrt(x)` */
export function rsqrt(x: Tensor): Tensor {
  return unaryOp("rsqrt", "rsqrt", x, 0, 0, (g, out) => mul(g, affine(pow(out, 3), -0.5, 0)));
}

/** `|x|`; its gradient at 0 is 0. */
export function abs(x: Tensor): Tensor {
  return unaryOp("abs", "abs", x, 0, 0, (g) => mul(g, sign(x)));
}

/** `sign(x)` in {-1, 0, 1}; no gradient flows through it. */
export function sign(x: Tensor): Tensor {
  return unaryOp("sign", "sign", x, 0, 0, null);
}

/** `x ** p` for a scalar exponent (NaN for negative `x` and fractional `p`, as in PyTorch). */
export function pow(x: Tensor, p: number): Tensor {
  if (p === 1) return affine(x, 1, 0);
  // PyTorch computes these two exponents as sqrt and rsqrt, so that −∞ gives NaN (`x ** 0.5` is ∞, `x ** -0.5`
  // is 0); its gradient stays `p x^(p−1)`.
  const op = p === 0.5 ? "sqrt" : p === -0.5 ? "rsqrt" : "pow";
  return unaryOp("pow", op, x, p, 0, (g) => mul(g, affine(pow(x, p - 1), p, 0)));
}

/** `x * x` */
export function square(x: Tensor): Tensor {
  return mul(x, x);
}

/** `max(x, min)`, NaN where `x` is NaN; the gradient flows where `x > min` (not at a NaN, as PyTorch's `clamp_min`). */
export function clampMin(x: Tensor, min: number): Tensor {
  return unaryOp("clampMin", "max", x, min, 0, (g) => mul(g, greaterThan(x, min)));
}

/**
 * `max(x, 0)`, NaN where `x` is NaN; the gradient flows where `x > 0` or `x` is NaN (PyTorch's
 * `threshold_backward`), see {@linkcode reluMask}.
 */
export function relu(x: Tensor): Tensor {
  return unaryOp("relu", "max", x, 0, 0, (g) => mul(g, reluMask(x)));
}

/** `x > threshold ? 1 : 0` (0 where `x` is NaN); no gradient flows through it. */
export function greaterThan(x: Tensor, threshold: number): Tensor {
  return unaryOp("greaterThan", "gt", x, threshold, 0, null);
}

/**
 * The gradient mask of {@linkcode relu} at `x` (or at its output, which is positive or NaN where `x` is):
 * 1 where `x > 0` or `x` is NaN, else 0. PyTorch passes the gradient where the ReLU's output is NaN.
 */
export function reluMask(x: Tensor): Tensor {
  return unaryOp("reluMask", "gt", x, 0, 1, null);
}
