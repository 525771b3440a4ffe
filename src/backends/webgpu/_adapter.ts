/**
 * Finding an adapter and a device, describing them in words, and deciding whether `auto` should take a
 * software adapter. Every way of failing becomes one `Error` that says why; nothing here hangs.
 *
 * @module
 */

/** What the backend reports about its adapter. */
export interface AdapterReport {
  readonly vendor: string;
  readonly architecture: string;
  readonly description: string;
  /** A CPU rasteriser (llvmpipe, lavapipe, SwiftShader, WARP) or an adapter flagged as fallback. */
  readonly software: boolean;
  /** The adapter's `isFallbackAdapter` flag as reported (undefined when the runtime does not say). */
  readonly fallback: boolean | undefined;
  /** One line for `Backend.description`. */
  readonly summary: string;
}

const TIMEOUT_MS = 30_000;

const VENDORS: Record<number, string> = {
  0x1002: "AMD",
  0x1010: "Imagination",
  0x106b: "Apple",
  0x10de: "NVIDIA",
  0x13b5: "ARM",
  0x1414: "Microsoft",
  0x15ad: "VMware",
  0x1af4: "virtio",
  0x5143: "Qualcomm",
  0x8086: "Intel",
  0x10005: "Mesa",
};

const SOFTWARE_NAMES = /llvmpipe|lavapipe|softpipe|swiftshader|swrast|software|basic render|\bwarp\b/i;

function vendorName(vendor: string): string {
  const id = /^(0x[0-9a-f]+|\d+)$/i.test(vendor) ? Number(vendor) : NaN;
  if (Number.isFinite(id)) return `${VENDORS[id] ?? "unknown vendor"} (0x${id.toString(16)})`;
  return vendor || "unknown vendor";
}

/** Describes an adapter from its info (a pure function, for tests). */
export function describeAdapter(info: {
  vendor?: string;
  architecture?: string;
  description?: string;
  device?: string;
  isFallbackAdapter?: boolean;
}): AdapterReport {
  const vendor = vendorName(info.vendor ?? "");
  const architecture = info.architecture || "unknown architecture";
  const description = info.description || info.device || "unnamed adapter";
  const fallback = info.isFallbackAdapter;
  const software = fallback === true || SOFTWARE_NAMES.test(`${description} ${info.vendor} ${info.architecture}`);
  const kind = software ? `software adapter${fallback ? " (isFallbackAdapter)" : ""}` : "hardware adapter";
  return {
    vendor,
    architecture,
    description,
    software,
    fallback,
    summary: `${description}; vendor ${vendor}, ${architecture}; ${kind}`,
  };
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`webgpu: ${what} did not answer within ${TIMEOUT_MS / 1000} s`)),
      TIMEOUT_MS,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const RUNTIME_DIR = "XDG_RUNTIME_DIR";

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync(descriptor).state === "granted";
}

/**
 * Calls `start` with `XDG_RUNTIME_DIR` pointing at a new private (0700) directory when the variable is unset or
 * not an absolute path, then restores it and removes the directory. Requesting an adapter makes Mesa's drivers
 * look for a Wayland display, and without the variable libwayland prints `error: XDG_RUNTIME_DIR is invalid or
 * not set in the environment.` (twice, on every request) although nothing fails. Deno reaches the driver within
 * the `requestAdapter()` call itself, so the variable is set only for that call, and the program's environment is
 * the same afterwards. Without env permission for the variable and write permission for the temporary directory,
 * `start` runs as it is.
 */
function withRuntimeDir<T>(start: () => T): T {
  if (Deno.build.os === "windows" || Deno.build.os === "darwin") return start();
  if (!granted({ name: "env", variable: RUNTIME_DIR })) return start();
  const before = Deno.env.get(RUNTIME_DIR);
  if (before?.startsWith("/")) return start();
  const temporary = (granted({ name: "env", variable: "TMPDIR" }) && Deno.env.get("TMPDIR")) || "/tmp";
  if (!granted({ name: "write", path: temporary })) return start();
  let dir: string;
  try {
    dir = Deno.makeTempDirSync({ dir: temporary, prefix: "at-core-runtime-" });
    Deno.chmodSync(dir, 0o700);
  } catch {
    return start();
  }
  Deno.env.set(RUNTIME_DIR, dir);
  try {
    return start();
  } finally {
    if (before === undefined) Deno.env.delete(RUNTIME_DIR);
    else Deno.env.set(RUNTIME_DIR, before);
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // An empty directory left in the temporary folder harms nothing.
    }
  }
}

/** The adapter, or an error that says why there is none. */
export async function requestAdapter(): Promise<{ adapter: GPUAdapter; report: AdapterReport }> {
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (!gpu) {
    throw new Error("webgpu: navigator.gpu is not available in this runtime (Deno exposes it; is WebGPU disabled?)");
  }
  let adapter: GPUAdapter | null;
  try {
    const request = withRuntimeDir(() => gpu.requestAdapter({ powerPreference: "high-performance" }));
    adapter = await withTimeout(request, "requestAdapter()");
  } catch (e) {
    throw new Error(`webgpu: requestAdapter() failed: ${e instanceof Error ? e.message : e}`, { cause: e });
  }
  if (!adapter) {
    throw new Error(
      "webgpu: no adapter: navigator.gpu.requestAdapter() returned null (no GPU driver and no software " +
        "adapter; on Debian/Ubuntu `apt-get install mesa-vulkan-drivers` provides lavapipe)",
    );
  }
  // GPUAdapterInfo keeps its fields on the prototype: read them one by one.
  const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
  const fallback = (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter ??
    (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const report = describeAdapter({
    vendor: info?.vendor,
    architecture: info?.architecture,
    description: info?.description,
    device: info?.device,
    isFallbackAdapter: fallback,
  });
  return { adapter, report };
}

/** A device with the adapter's largest buffer limits, or an error that says why not. */
export async function requestDevice(adapter: GPUAdapter, report: AdapterReport, profile: boolean): Promise<GPUDevice> {
  const limits = adapter.limits;
  const requiredFeatures: GPUFeatureName[] = profile && adapter.features.has("timestamp-query")
    ? ["timestamp-query"]
    : [];
  try {
    return await withTimeout(
      adapter.requestDevice({
        label: "at/core",
        requiredFeatures,
        requiredLimits: {
          maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
          maxBufferSize: limits.maxBufferSize,
        },
      }),
      "requestDevice()",
    );
  } catch (e) {
    throw new Error(`webgpu: requestDevice() failed on ${report.description}: ${e instanceof Error ? e.message : e}`, {
      cause: e,
    });
  }
}
