/**
 * Dispatch math, in one place: how many workgroups an op needs, and how a linear workgroup count is
 * laid out on the 3-D grid so that no dimension exceeds `maxComputeWorkgroupsPerDimension`.
 *
 * Every kernel recovers its linear workgroup index with {@linkcode WGSL_GROUP_INDEX}; workgroups past
 * the logical count (the grid is rounded up when it has to be split) return at once.
 *
 * @module
 */

/** A workgroup grid for `dispatchWorkgroups(x, y, z)`. */
export type Grid = readonly [number, number, number];

/** Number of workgroups of `size` invocations that cover `count` items (one item per invocation). */
export function groupsFor(count: number, size: number): number {
  return Math.ceil(count / size);
}

/**
 * Lays `groups` workgroups out on a grid whose every dimension is at most `maxPerDimension`: a 1-D grid
 * when it fits, else the most square 2-D (then 3-D) grid that covers it. The grid may hold a few more
 * workgroups than asked for; kernels skip those.
 */
export function gridFor(groups: number, maxPerDimension: number): Grid {
  if (!Number.isInteger(groups) || groups < 0) throw new RangeError(`webgpu dispatch: bad workgroup count ${groups}`);
  if (groups <= maxPerDimension) return [groups, 1, 1];
  const y = Math.ceil(groups / maxPerDimension);
  if (y <= maxPerDimension) return [Math.ceil(groups / y), y, 1];
  const plane = maxPerDimension * maxPerDimension;
  const z = Math.ceil(groups / plane);
  if (z > maxPerDimension) {
    throw new RangeError(`webgpu dispatch: ${groups} workgroups exceed a ${maxPerDimension}^3 grid`);
  }
  return [maxPerDimension, maxPerDimension, z];
}

/** WGSL: the linear workgroup index from the `wid` and `nwg` builtins of every entry point. */
export const WGSL_GROUP_INDEX = `fn group_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + nwg.x * (wid.y + nwg.y * wid.z);
}`;

/** WGSL: the entry-point signature every kernel uses. */
export function wgslEntry(workgroupSize: number): string {
  return `@compute @workgroup_size(${workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lidx: u32) {
  let group = group_index(wid, nwg);`;
}

/**
 * WGSL: the entry point of a kernel that gives each invocation one item: `index` (default `i`) numbers
 * the invocations, and those at or past `limit` (a WGSL expression) return at once.
 */
export function wgslForEach(workgroupSize: number, limit: string, index = "i"): string {
  return `${wgslEntry(workgroupSize)}
  let ${index} = group * ${workgroupSize}u + lidx;
  if (${index} >= ${limit}) { return; }`;
}
