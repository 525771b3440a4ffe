/**
 * Finding native libraries on this machine, for the FFI backends (cudnn_ffi, onednn_ffi): path lists, folders,
 * `ldconfig -p`, and environment variables read only where permission was already granted (never a prompt).
 *
 * @module
 */

/** The folders of a `:`-separated list (`LD_LIBRARY_PATH`, `AT_*_LIB_DIR`), blanks dropped. */
export function splitPath(value: string | undefined): string[] {
  return (value ?? "").split(":").map((d) => d.trim()).filter((d) => d.length > 0);
}

/** `dir/name`. */
export function join(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

/** The folder holding `path`. */
export function parent(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  const i = trimmed.lastIndexOf("/");
  return i <= 0 ? "/" : trimmed.slice(0, i);
}

/** Whether `path` is a folder (false where it is missing or unreadable). */
export function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** Whether `path` is a file (false where it is missing or unreadable). */
export function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** The entries of a folder, or none when it is missing or unreadable. */
export function listDir(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return [];
  }
}

/** An environment variable where this process may read it, else undefined (never a permission prompt). */
export function envGet(name: string): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") return undefined;
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** Whether this process may read the file system (discovery sees nothing without it). */
export function canRead(): boolean {
  try {
    return Deno.permissions.querySync({ name: "read" }).state === "granted";
  } catch {
    return false;
  }
}

/** Folders of the libraries whose file names `library` matches (e.g. `/^libdnnl/`), in `ldconfig -p` output. */
export function parseLdconfig(output: string, library: RegExp): string[] {
  const dirs: string[] = [];
  for (const line of output.split("\n")) {
    const m = /^\s*(\S+)\s.*=>\s*(\S+)\s*$/.exec(line);
    if (m && library.test(m[1])) dirs.push(parent(m[2]));
  }
  return [...new Set(dirs)];
}

/** The folders `ldconfig -p` lists for `library`, where `ldconfig` may be run; else none. */
export function ldconfigDirs(library: RegExp): string[] {
  for (const command of ["ldconfig", "/sbin/ldconfig", "/usr/sbin/ldconfig"]) {
    try {
      if (Deno.permissions.querySync({ name: "run", command }).state !== "granted") continue;
      const out = new Deno.Command(command, { args: ["-p"], stdout: "piped", stderr: "null" }).outputSync();
      if (out.success) return parseLdconfig(new TextDecoder().decode(out.stdout), library);
    } catch {
      // Not installed under this name, or not allowed: try the next.
    }
  }
  return [];
}
