/**
 * Attention maps of group outputs, read back to the host for drawing.
 *
 * @module
 */
import { at } from "../at.ts";
import { fmtShape } from "../tensor/_shape.ts";
import { noGrad } from "../tensor/autograd.ts";
import { tidy } from "../tensor/memory.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { MapPlane } from "./overlay.ts";

/** Options of {@linkcode attentionMaps}. */
export interface AttentionMapsOptions {
  /**
   * `false` (default): `x².mean(1)`, the map the reference notebook draws. `true`: {@linkcode at}, the same map with
   * each sample's values L2-normalised, as the AT loss compares them.
   */
  readonly normalize?: boolean;
}

/** One group's attention map of one sample, with the group's channel count. */
export interface AttentionMap extends MapPlane {
  /** Channels of the activations the map averages over. */
  readonly channels: number;
}

/**
 * The attention map of every sample of every group output (`[N, C, H, W]` each), on the host: `maps[sample][group]`.
 * Throws naming the group when a map holds a value that is not finite.
 *
 * @example
 * ```ts
 * const { groups } = net.apply(params, stats, x, { train: false });
 * const maps = await attentionMaps(groups); // maps[0][2]: the third group's map of the first image
 * ```
 */
export async function attentionMaps(
  groups: readonly Tensor[],
  options: AttentionMapsOptions = {},
): Promise<AttentionMap[][]> {
  const n = groups[0]?.shape[0] ?? 0;
  const out: AttentionMap[][] = Array.from({ length: n }, () => []);
  for (const [g, x] of groups.entries()) {
    if (x.rank !== 4 || x.shape[0] !== n) {
      throw new RangeError(`attentionMaps: group ${g + 1} is ${fmtShape(x.shape)}; expected [${n}, C, H, W]`);
    }
    const [, channels, height, width] = x.shape;
    const map = noGrad(() => tidy(() => options.normalize ? at(x) : x.square().mean(1)));
    const values = await map.data();
    map.dispose();
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new RangeError(
        `attentionMaps: group ${g + 1} ${fmtShape(x.shape)} has a non-finite value (${values[bad]}) at sample ${
          Math.floor(bad / (height * width))
        }`,
      );
    }
    const size = height * width;
    for (let i = 0; i < n; i++) {
      out[i].push({ height, width, channels, values: values.slice(i * size, (i + 1) * size) });
    }
  }
  return out;
}
