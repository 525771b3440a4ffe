/**
 * Finding oneDNN (`libdnnl.so.2`) on disk. Folders are searched in this order:
 *
 * 1. `AT_DNNL_LIB_DIR` (colon-separated folders);
 * 2. `LD_LIBRARY_PATH`;
 * 3. the folders `ldconfig -p` names for libdnnl (when `--allow-run` covers it);
 * 4. the usual system folders (`/usr/lib/x86_64-linux-gnu`, `/usr/local/lib`, …);
 * 5. the `lib` folder of a conda environment (`CONDA_PREFIX`).
 *
 * The first folder that holds `libdnnl.so.2` wins. Folders that hold only another major version
 * (`libdnnl.so.3`, oneDNN 3.x, whose C API differs) are remembered, so the error can name what was found.
 * Everything here is plain file-system work on an explicit {@linkcode DiscoveryInput}, so tests run it on
 * fake directory layouts.
 *
 * @module
 */
import {
  envGet,
  isDir,
  join,
  ldconfigDirs,
  listDir,
  parseLdconfig as parseLdconfigOf,
  splitPath,
} from "../_library_search.ts";

export { canRead, envGet } from "../_library_search.ts";

/** The environment variable with extra folders (colon-separated) to search first. */
export const LIB_DIR_ENV = "AT_DNNL_LIB_DIR";

/** The soname of the oneDNN major version this backend speaks. */
export const DNNL_SONAME = "libdnnl.so.2";

/** The command that installs it on Debian and Ubuntu. */
export const INSTALL_HINT = "apt-get install libdnnl2 (Debian 12, Ubuntu 22.04 and later)";

/** What discovery looks at; {@linkcode readDiscoveryInput} fills it from the process environment. */
export interface DiscoveryInput {
  /** `AT_DNNL_LIB_DIR`: colon-separated folders searched first. */
  readonly libDirs?: string;
  /** `LD_LIBRARY_PATH`. */
  readonly ldLibraryPath?: string;
  /** `CONDA_PREFIX`. */
  readonly condaPrefix?: string;
  /** Folders `ldconfig -p` names for libdnnl. */
  readonly ldconfigDirs?: readonly string[];
  /** The system folders (default {@linkcode STANDARD_DIRS}). */
  readonly standardDirs?: readonly string[];
}

/** System folders. */
export const STANDARD_DIRS: readonly string[] = [
  "/usr/lib/x86_64-linux-gnu",
  "/usr/lib/aarch64-linux-gnu",
  "/usr/lib64",
  "/usr/lib",
  "/lib/x86_64-linux-gnu",
  "/usr/local/lib",
  "/usr/local/lib64",
  "/opt/intel/oneapi/dnnl/latest/lib",
];

/** One folder to search and why it is searched. */
export interface SearchDir {
  readonly dir: string;
  /** e.g. `"AT_DNNL_LIB_DIR"`, `"ldconfig"`, `"system"`, `"CONDA_PREFIX"`. */
  readonly source: string;
}

/** The outcome of a search: the library to load, and other versions seen on the way. */
export interface Found {
  /** Absolute path of `libdnnl.so.2`, when found. */
  readonly path?: string;
  /** Where it was found (a {@linkcode SearchDir.source}). */
  readonly source?: string;
  /** `libdnnl.so.<major>` files of other major versions seen in the searched folders. */
  readonly otherVersions: readonly string[];
  /** The folders searched. */
  readonly searched: readonly SearchDir[];
}

/** Every folder to search, in order, without duplicates or missing folders. */
export function searchDirs(input: DiscoveryInput): SearchDir[] {
  const all: SearchDir[] = [];
  for (const dir of splitPath(input.libDirs)) all.push({ dir, source: LIB_DIR_ENV });
  for (const dir of splitPath(input.ldLibraryPath)) all.push({ dir, source: "LD_LIBRARY_PATH" });
  for (const dir of input.ldconfigDirs ?? []) all.push({ dir, source: "ldconfig" });
  for (const dir of input.standardDirs ?? STANDARD_DIRS) all.push({ dir, source: "system" });
  if (input.condaPrefix) all.push({ dir: join(input.condaPrefix, "lib"), source: "CONDA_PREFIX" });
  const seen = new Set<string>();
  return all.filter(({ dir }) => {
    const key = dir.replace(/\/+$/, "");
    if (seen.has(key) || !isDir(dir)) return false;
    seen.add(key);
    return true;
  });
}

/** Searches the folders of `input` for `libdnnl.so.2`, noting other major versions on the way. */
export function findDnnl(input: DiscoveryInput): Found {
  const searched = searchDirs(input);
  const otherVersions: string[] = [];
  for (const { dir, source } of searched) {
    const entries = listDir(dir);
    if (entries.includes(DNNL_SONAME)) return { path: join(dir, DNNL_SONAME), source, otherVersions, searched };
    for (const name of entries) {
      if (/^libdnnl\.so\.\d+$/.test(name)) otherVersions.push(join(dir, name));
    }
  }
  return { otherVersions, searched };
}

/** The discovery input of this process: its environment variables (where readable) and `ldconfig -p`. */
export function readDiscoveryInput(): DiscoveryInput {
  return {
    libDirs: envGet(LIB_DIR_ENV),
    ldLibraryPath: envGet("LD_LIBRARY_PATH"),
    condaPrefix: envGet("CONDA_PREFIX"),
    ldconfigDirs: ldconfigDirs(LIBRARIES),
  };
}

/** The libraries whose `ldconfig -p` entries this backend searches. */
const LIBRARIES = /^libdnnl/;

/** Folders of libdnnl in `ldconfig -p` output. */
export function parseLdconfig(output: string): string[] {
  return parseLdconfigOf(output, LIBRARIES);
}
