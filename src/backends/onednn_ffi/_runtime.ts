/**
 * Starting oneDNN, step by step, stopping at the first missing piece with one error that names it: FFI
 * permission, the library (or a major version this backend cannot use), the CPU engine and stream, and
 * the OpenMP thread count.
 *
 * @module
 */
import {
  canRead,
  DNNL_SONAME,
  findDnnl,
  type Found,
  INSTALL_HINT,
  LIB_DIR_ENV,
  readDiscoveryInput,
} from "./_discovery.ts";
import { DNNL, DNNL_OFFSETS, DNNL_SYMBOLS, type DnnlLib, GOMP_SYMBOLS, type GompLib } from "./_ffi_dnnl.ts";
import { type Check, makeCheck } from "./_status.ts";
import { OnednnUnavailableError } from "./errors.ts";

/** Everything a started backend holds on the oneDNN side. */
export interface Runtime {
  readonly lib: DnnlLib;
  readonly check: Check;
  readonly engine: bigint;
  readonly stream: bigint;
  /** Threads oneDNN's primitives use. */
  readonly threads: number;
  /** `"2.6.3"`. */
  readonly version: string;
  /** Library, version, threading runtime, instruction set and path, in words. */
  readonly description: string;
}

function ffiGranted(): boolean {
  try {
    return Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  } catch {
    return false;
  }
}

function dlopenReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replaceAll(/Could not open library:\s*/gi, "").trim();
}

function cString(pointer: Deno.PointerValue): string | undefined {
  return pointer ? Deno.UnsafePointerView.getCString(pointer) : undefined;
}

const RUNTIME_NAMES: Readonly<Record<number, string>> = {
  [DNNL.DNNL_RUNTIME_SEQ]: "sequential",
  [DNNL.DNNL_RUNTIME_OMP]: "OpenMP",
  [DNNL.DNNL_RUNTIME_TBB]: "TBB",
  [DNNL.DNNL_RUNTIME_THREADPOOL]: "threadpool",
};

/** What `dnnl_version()` reports. */
interface Version {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly hash: string;
  readonly cpuRuntime: number;
}

function readVersion(lib: { symbols: Pick<DnnlLib["symbols"], "dnnl_version"> }): Version {
  const pointer = lib.symbols.dnnl_version();
  if (!pointer) throw new OnednnUnavailableError("dnnl_version() returned NULL");
  const view = new Deno.UnsafePointerView(pointer);
  const hash = view.getPointer(DNNL_OFFSETS["dnnl_version_t.hash"]);
  return {
    major: view.getInt32(DNNL_OFFSETS["dnnl_version_t.major"]),
    minor: view.getInt32(DNNL_OFFSETS["dnnl_version_t.minor"]),
    patch: view.getInt32(DNNL_OFFSETS["dnnl_version_t.patch"]),
    hash: cString(hash) ?? "",
    cpuRuntime: view.getUint32(DNNL_OFFSETS["dnnl_version_t.cpu_runtime"]),
  };
}

/**
 * Sets oneDNN's OpenMP threads for the calling thread (the JavaScript thread, which runs every primitive):
 * `omp_set_num_threads` of the `libgomp.so.1` that libdnnl loaded. Returns the count in effect, or
 * undefined when the OpenMP runtime cannot be reached (oneDNN then uses its default: one per core).
 */
function setOmpThreads(threads: number): number | undefined {
  let gomp: GompLib | undefined;
  try {
    gomp = Deno.dlopen("libgomp.so.1", GOMP_SYMBOLS);
  } catch {
    return undefined;
  }
  // Kept open for the life of the process: libdnnl holds the same library anyway.
  gomp.symbols.omp_set_num_threads(threads);
  return gomp.symbols.omp_get_max_threads();
}

/**
 * Makes OpenMP's idle threads sleep at once (`OMP_WAIT_POLICY=passive`) unless the user chose a policy
 * (`OMP_WAIT_POLICY` or `GOMP_SPINCOUNT` set). libgomp spins by default after every parallel region: on a
 * machine whose cores other processes (or this backend's own TypeScript worker threads) also use, that spinning
 * took the core they needed, and a 2-thread AT step ran 1.6–1.9× slower than with passive waiting (see
 * docs/design.md). Read by libgomp when it loads, so it must be set before libdnnl is opened; returns the policy.
 */
function waitPolicy(): string {
  const get = (name: string) => {
    try {
      return Deno.permissions.querySync({ name: "env", variable: name }).state === "granted"
        ? Deno.env.get(name)
        : undefined;
    } catch {
      return undefined;
    }
  };
  const chosen = get("OMP_WAIT_POLICY") ?? (get("GOMP_SPINCOUNT") !== undefined ? "GOMP_SPINCOUNT" : undefined);
  if (chosen !== undefined) return chosen;
  try {
    Deno.env.set("OMP_WAIT_POLICY", "passive");
    return "passive";
  } catch {
    return "OpenMP's default";
  }
}

/**
 * Starts oneDNN with `threads` threads, or throws an {@linkcode OnednnUnavailableError} that names the
 * first missing piece.
 */
export function startRuntime(threads: number): Runtime {
  if (!ffiGranted()) {
    throw new OnednnUnavailableError(
      "it loads oneDNN (libdnnl) through FFI, which needs permission: run with --allow-ffi " +
        "(with --allow-read --allow-env), or -A",
    );
  }
  const found = findDnnl(readDiscoveryInput());
  if (!found.path) throw new OnednnUnavailableError(missingLibraryReason(found, canRead()));
  const policy = waitPolicy();
  // The version first, through the one symbol every major version has: a 3.x lacks the 2.x op descriptors,
  // and binding the whole table would fail with a less helpful "undefined symbol".
  let major: number;
  try {
    const probe = Deno.dlopen(found.path, { dnnl_version: DNNL_SYMBOLS.dnnl_version });
    try {
      major = readVersion(probe).major;
    } finally {
      probe.close();
    }
  } catch (e) {
    throw new OnednnUnavailableError(
      `${found.path} (found through ${found.source}) could not be loaded: ${dlopenReason(e)}. ` +
        `Reinstall it (${INSTALL_HINT}) or set ${LIB_DIR_ENV} to another copy.`,
      { cause: e },
    );
  }
  if (major !== 2) {
    throw new OnednnUnavailableError(
      `${found.path} reports oneDNN ${major}.x, but this backend speaks the oneDNN 2.x C API. Install oneDNN 2.x: ` +
        `${INSTALL_HINT}, or set ${LIB_DIR_ENV} to a folder with a 2.x ${DNNL_SONAME}.`,
    );
  }
  let lib: DnnlLib;
  try {
    lib = Deno.dlopen(found.path, DNNL_SYMBOLS);
  } catch (e) {
    throw new OnednnUnavailableError(
      `${found.path} (found through ${found.source}) could not be loaded: ${dlopenReason(e)}. ` +
        `Reinstall it (${INSTALL_HINT}) or set ${LIB_DIR_ENV} to another copy.`,
      { cause: e },
    );
  }
  try {
    return startWithLibrary(lib, found.path, threads, policy);
  } catch (e) {
    lib.close();
    if (e instanceof OnednnUnavailableError) throw e;
    throw new OnednnUnavailableError(e instanceof Error ? e.message : String(e), { cause: e });
  }
}

/**
 * Why no usable oneDNN was found: the folders searched, other major versions seen there, the install
 * command, and the permission a search needs.
 */
export function missingLibraryReason(found: Found, readable: boolean): string {
  const where = found.searched.length ? found.searched.map((d) => d.dir).join(", ") : "(no folder could be searched)";
  const others = found.otherVersions.length
    ? ` Found ${found.otherVersions.join(", ")}: another major version (oneDNN 3.x changed the C API this ` +
      `backend calls), which this backend cannot use.`
    : "";
  const permission = readable ? "" : " Without --allow-read no folder can be searched: run with --allow-read or -A.";
  return `${DNNL_SONAME} (oneDNN 2.x) was not found; searched ${where}.${others} Install it: ${INSTALL_HINT}, ` +
    `or set ${LIB_DIR_ENV} to the folder that holds ${DNNL_SONAME}.${permission}`;
}

function startWithLibrary(lib: DnnlLib, path: string, threads: number, policy: string): Runtime {
  const version = readVersion(lib);
  const versionText = `${version.major}.${version.minor}.${version.patch}`;
  const check = makeCheck((status) => cString(lib.symbols.dnnl_status2str(status)));
  const slot = new BigUint64Array(1);
  check(lib.symbols.dnnl_engine_create(slot, DNNL.dnnl_cpu, 0n), "dnnl_engine_create", "the CPU engine");
  const engine = slot[0];
  try {
    check(lib.symbols.dnnl_stream_create(slot, engine, DNNL.dnnl_stream_in_order), "dnnl_stream_create");
  } catch (e) {
    lib.symbols.dnnl_engine_destroy(engine);
    throw e;
  }
  const stream = slot[0];
  const runtime = RUNTIME_NAMES[version.cpuRuntime] ?? `runtime ${version.cpuRuntime}`;
  let effective = threads;
  if (version.cpuRuntime === DNNL.DNNL_RUNTIME_OMP) effective = setOmpThreads(threads) ?? navigator.hardwareConcurrency;
  else if (version.cpuRuntime === DNNL.DNNL_RUNTIME_SEQ) effective = 1;
  const isa = cString(lib.symbols.dnnl_cpu_isa2str(lib.symbols.dnnl_get_effective_cpu_isa())) ?? "unknown ISA";
  const waiting = version.cpuRuntime === DNNL.DNNL_RUNTIME_OMP ? ` (${policy} waiting)` : "";
  const hash = version.hash && version.hash !== "N/A" ? ` (${version.hash.slice(0, 8)})` : "";
  const description = `oneDNN ${versionText}${hash}, ${runtime}, ${effective} thread${effective === 1 ? "" : "s"}` +
    `${waiting}, ${isa}; ${path}`;
  return { lib, check, engine, stream, threads: effective, version: versionText, description };
}
