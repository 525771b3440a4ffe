/**
 * Whether a training run can fit in memory, answered before anything is allocated: a network too large for the
 * machine fails at once with what it asked for, not after minutes of allocation.
 *
 * @module
 */
import { type WrnConfig, wrnParameterCount } from "../nn/wrn.ts";

const GB = 1e9;

/**
 * Floats kept per image through a WRN training step at `imageSize`²: every block keeps about six activation
 * tensors for its backward pass (two batch-norm outputs, two convolution outputs, the sum, the ReLU mask).
 */
function wrnActivationsPerImage({ depth, width }: WrnConfig, imageSize: number): number {
  const n = (depth - 4) / 6;
  const plane = imageSize * imageSize;
  const widths = [16, 32, 64].map((c) => Math.floor(c * width));
  return 16 * plane + 6 * n * (widths[0] * plane + widths[1] * (plane / 4) + widths[2] * (plane / 16));
}

/** Bytes a WRN training step needs: parameters, gradients, momentum and a copy in flight, plus activations. */
export function wrnTrainingBytes(config: WrnConfig, batch: number, imageSize: number): {
  params: number;
  paramBytes: number;
  activationBytes: number;
} {
  const params = wrnParameterCount(config);
  return { params, paramBytes: 4 * 4 * params, activationBytes: 4 * batch * wrnActivationsPerImage(config, imageSize) };
}

/** The machine's memory in bytes, or undefined where it cannot be read (no `--allow-sys`). */
function machineBytes(): number | undefined {
  try {
    return Deno.systemMemoryInfo().total;
  } catch {
    return undefined;
  }
}

/**
 * Throws a `RangeError` naming the flags when training WRN `config` at `batch` images of `imageSize`² cannot fit
 * in this machine's memory; `flags` names them for the message (e.g. `--depth, --width or --batch_size`).
 */
export function checkTrainingFits(config: WrnConfig, batch: number, imageSize: number, flags: string): void {
  const total = machineBytes() ?? Infinity;
  const { params, paramBytes, activationBytes } = wrnTrainingBytes(config, batch, imageSize);
  const need = paramBytes + activationBytes;
  if (need <= total) return;
  const fmt = (b: number) => `${(b / GB).toPrecision(3)} GB`;
  throw new RangeError(
    `WRN-${config.depth}-${config.width} at batch ${batch} needs about ${fmt(need)} (${params.toExponential(3)} ` +
      `parameters: ${fmt(paramBytes)} with gradients and momentum; activations ${fmt(activationBytes)}), more than ` +
      `this machine's ${fmt(total)}: lower ${flags}`,
  );
}
