/**
 * Finding the CUDA libraries on disk: the driver's `libcuda.so.1`, and cuDNN, cuBLAS and NVRTC with the
 * sub-libraries each loads by bare soname (which this backend preloads by absolute path, so neither a
 * launcher nor `LD_LIBRARY_PATH` is needed).
 *
 * Folders are searched in this order, and each library family is taken whole from the first folder that
 * has its front library (never mixing a system cuDNN with a pip one):
 *
 * 1. `AT_CUDA_LIB_DIR` (colon-separated folders);
 * 2. `LD_LIBRARY_PATH`;
 * 3. NVIDIA's Python wheels (`site-packages/nvidia/{cudnn,cu13,cublas,cuda_nvrtc}/lib`) of the Python
 *    environments in `VIRTUAL_ENV`, `CONDA_PREFIX`, of each `python3` on `PATH`, and the user site;
 * 4. the folders `ldconfig -p` names for these libraries (when `--allow-run` covers it);
 * 5. the usual system folders (`/usr/local/nvidia/lib64`, `/usr/lib/x86_64-linux-gnu`, `/usr/local/cuda/lib64`, …).
 *
 * Everything here is plain file-system work on an explicit {@linkcode DiscoveryInput}, so tests run it on
 * fake directory layouts.
 *
 * @module
 */
import {
  envGet,
  isDir,
  isFile,
  join,
  ldconfigDirs,
  listDir,
  parent,
  parseLdconfig as parseLdconfigOf,
  splitPath,
} from "../_library_search.ts";

export { canRead, envGet } from "../_library_search.ts";

/** The environment variable with extra folders (colon-separated) to search first. */
export const LIB_DIR_ENV = "AT_CUDA_LIB_DIR";

/** What discovery looks at; {@linkcode readDiscoveryInput} fills it from the process environment. */
export interface DiscoveryInput {
  /** `AT_CUDA_LIB_DIR`: colon-separated folders searched first. */
  readonly libDirs?: string;
  /** `LD_LIBRARY_PATH`. */
  readonly ldLibraryPath?: string;
  /** `PATH`, to find Python environments (a folder holding `python3` or `python`). */
  readonly path?: string;
  /** `VIRTUAL_ENV`. */
  readonly virtualEnv?: string;
  /** `CONDA_PREFIX`. */
  readonly condaPrefix?: string;
  /** `HOME`, for the user site (`~/.local`). */
  readonly home?: string;
  /** Folders `ldconfig -p` names for CUDA libraries. */
  readonly ldconfigDirs?: readonly string[];
  /** The system folders searched last (default {@linkcode STANDARD_DIRS}). */
  readonly standardDirs?: readonly string[];
}

/** System folders searched last. */
export const STANDARD_DIRS: readonly string[] = [
  "/usr/local/nvidia/lib64",
  "/usr/local/nvidia/lib",
  "/usr/lib/x86_64-linux-gnu",
  "/usr/lib/aarch64-linux-gnu",
  "/usr/lib/wsl/lib",
  "/usr/lib64",
  "/usr/lib",
  "/lib/x86_64-linux-gnu",
  "/lib64",
  "/usr/local/cuda/lib64",
  "/usr/local/cuda/targets/x86_64-linux/lib",
  "/usr/local/cuda/targets/sbsa-linux/lib",
];

/** The sub-folders of `site-packages/nvidia/` that NVIDIA's CUDA 13 (and 12) wheels install libraries into. */
export const WHEEL_SUBDIRS: readonly string[] = ["cudnn", "cu13", "cublas", "cuda_nvrtc"];

/** One folder to search and why it is searched. */
export interface SearchDir {
  readonly dir: string;
  /** e.g. `"AT_CUDA_LIB_DIR"`, `"python /opt/torch/.venv"`, `"ldconfig"`, `"system"`. */
  readonly source: string;
}

/** A library family found in one folder: the front library to bind, and what to preload before it. */
export interface FoundLibrary {
  /** Absolute path of the library whose symbols are bound. */
  readonly path: string;
  /** Its folder. */
  readonly dir: string;
  /** Absolute paths of the sub-libraries to load first, in order. */
  readonly preload: readonly string[];
}

/** A library family: its front library's sonames (preferred first) and its sub-libraries. */
export interface LibraryFamily {
  /** What the user knows it as, for messages: `"cuDNN 9"`. */
  readonly title: string;
  /** Sonames of the front library, preferred first. */
  readonly sonames: readonly string[];
  /** The sub-libraries to preload from the same folder, given the folder's entries and the soname found. */
  readonly preload: (entries: readonly string[], soname: string) => string[];
}

const CUDNN_SUBLIBRARY_ORDER = [
  "libcudnn_graph.so.9",
  "libcudnn_engines_precompiled.so.9",
  "libcudnn_engines_runtime_compiled.so.9",
  "libcudnn_heuristic.so.9",
  "libcudnn_ops.so.9",
  "libcudnn_cnn.so.9",
  "libcudnn_adv.so.9",
];

/** cuDNN 9: the `libcudnn.so.9` dispatcher and every `libcudnn_*.so.9` beside it (known ones first). */
export const CUDNN_FAMILY: LibraryFamily = {
  title: "cuDNN 9",
  sonames: ["libcudnn.so.9"],
  preload: (entries) => {
    const known = CUDNN_SUBLIBRARY_ORDER.filter((name) => entries.includes(name));
    const others = entries.filter((name) => /^libcudnn_\w+\.so\.9$/.test(name) && !known.includes(name)).sort();
    return [...known, ...others];
  },
};

/** cuBLAS: `libcublas.so.13` (or 12) with its `libcublasLt` of the same major version. */
export const CUBLAS_FAMILY: LibraryFamily = {
  title: "cuBLAS",
  sonames: ["libcublas.so.13", "libcublas.so.12"],
  preload: (entries, soname) => {
    const lt = soname.replace("libcublas.", "libcublasLt.");
    return entries.includes(lt) ? [lt] : [];
  },
};

/** NVRTC: `libnvrtc.so.13` (or 12) with its `libnvrtc-builtins.so.<major>.*` (and nvJitLink, where beside it). */
export const NVRTC_FAMILY: LibraryFamily = {
  title: "NVRTC",
  sonames: ["libnvrtc.so.13", "libnvrtc.so.12"],
  preload: (entries, soname) => {
    const major = soname.slice("libnvrtc.so.".length);
    const prefix = `libnvrtc-builtins.so.${major}`;
    const builtins = entries.filter((name) => name === prefix || name.startsWith(`${prefix}.`)).sort();
    const jitLink = `libnvJitLink.so.${major}`;
    return [...(entries.includes(jitLink) ? [jitLink] : []), ...builtins];
  },
};

/** The driver library's soname. */
export const DRIVER_SONAME = "libcuda.so.1";

/** The `site-packages` / `dist-packages` folders of a Python installation prefix. */
export function sitePackages(prefix: string): string[] {
  const out: string[] = [];
  for (const libDir of ["lib", "lib64", "local/lib"]) {
    const base = join(prefix, libDir);
    for (const name of listDir(base).filter((n) => /^python3(\.\d+)?$/.test(n)).sort()) {
      for (const site of ["site-packages", "dist-packages"]) {
        const dir = join(join(base, name), site);
        if (isDir(dir)) out.push(dir);
      }
    }
  }
  return out;
}

/** Python installation prefixes to look into: virtual/conda environments, each `python3` on `PATH`, the user site. */
export function pythonPrefixes(input: DiscoveryInput): SearchDir[] {
  const out: SearchDir[] = [];
  if (input.virtualEnv) out.push({ dir: input.virtualEnv, source: "VIRTUAL_ENV" });
  if (input.condaPrefix) out.push({ dir: input.condaPrefix, source: "CONDA_PREFIX" });
  for (const bin of splitPath(input.path)) {
    if (isFile(join(bin, "python3")) || isFile(join(bin, "python"))) {
      out.push({ dir: parent(bin), source: `python in ${bin}` });
    }
  }
  if (input.home) out.push({ dir: join(input.home, ".local"), source: "user site" });
  return out;
}

/** The NVIDIA wheel library folders (`site-packages/nvidia/<sub>/lib`) under a Python prefix. */
export function wheelLibDirs(prefix: string): string[] {
  const out: string[] = [];
  for (const site of sitePackages(prefix)) {
    for (const sub of WHEEL_SUBDIRS) {
      const dir = `${site}/nvidia/${sub}/lib`;
      if (isDir(dir)) out.push(dir);
    }
  }
  return out;
}

/** Every folder to search for cuDNN, cuBLAS and NVRTC, in order, without duplicates or missing folders. */
export function searchDirs(input: DiscoveryInput): SearchDir[] {
  const all: SearchDir[] = [];
  for (const dir of splitPath(input.libDirs)) all.push({ dir, source: LIB_DIR_ENV });
  for (const dir of splitPath(input.ldLibraryPath)) all.push({ dir, source: "LD_LIBRARY_PATH" });
  for (const prefix of pythonPrefixes(input)) {
    for (const dir of wheelLibDirs(prefix.dir)) all.push({ dir, source: prefix.source });
  }
  for (const dir of input.ldconfigDirs ?? []) all.push({ dir, source: "ldconfig" });
  for (const dir of input.standardDirs ?? STANDARD_DIRS) all.push({ dir, source: "system" });
  const seen = new Set<string>();
  return all.filter(({ dir }) => {
    const key = dir.replace(/\/+$/, "");
    if (seen.has(key) || !isDir(dir)) return false;
    seen.add(key);
    return true;
  });
}

/** The first folder of `dirs` that holds the family's front library, with the sub-libraries beside it. */
export function findFamily(family: LibraryFamily, dirs: readonly SearchDir[]): FoundLibrary | undefined {
  for (const soname of family.sonames) {
    for (const { dir } of dirs) {
      const path = join(dir, soname);
      if (!isFile(path)) continue;
      const entries = listDir(dir);
      return { path, dir, preload: family.preload(entries, soname).map((name) => join(dir, name)) };
    }
  }
  return undefined;
}

/**
 * Where to try `libcuda.so.1`, in order: `AT_CUDA_LIB_DIR` folders that hold it, the bare soname (the
 * system's own search: ld.so cache, `LD_LIBRARY_PATH`), then the system folders that hold it. Toolkit stub
 * libraries (`…/stubs/libcuda.so`) are never named: they only fail with CUDA_ERROR_STUB_LIBRARY.
 */
export function driverCandidates(input: DiscoveryInput): string[] {
  const found = (dirs: readonly string[]) => dirs.map((d) => join(d, DRIVER_SONAME)).filter(isFile);
  const out = [...found(splitPath(input.libDirs)), DRIVER_SONAME, ...found(input.standardDirs ?? STANDARD_DIRS)];
  return [...new Set(out)];
}

/** The discovery input of this process: its environment variables (where readable) and `ldconfig -p`. */
export function readDiscoveryInput(): DiscoveryInput {
  return {
    libDirs: envGet(LIB_DIR_ENV),
    ldLibraryPath: envGet("LD_LIBRARY_PATH"),
    path: envGet("PATH"),
    virtualEnv: envGet("VIRTUAL_ENV"),
    condaPrefix: envGet("CONDA_PREFIX"),
    home: envGet("HOME"),
    ldconfigDirs: ldconfigDirs(LIBRARIES),
  };
}

/** The libraries whose `ldconfig -p` entries this backend searches. */
const LIBRARIES = /^lib(?:cuda|cudnn|cublas|nvrtc)/;

/** Folders of CUDA-related libraries in `ldconfig -p` output. */
export function parseLdconfig(output: string): string[] {
  return parseLdconfigOf(output, LIBRARIES);
}
