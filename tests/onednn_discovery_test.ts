/**
 * Library discovery of the onednn backend on fake directory layouts (empty files named like the real
 * libraries): search order, other major versions, ldconfig output.
 */
import { assert } from "./_assert.ts";
import { findDnnl, parseLdconfig, searchDirs } from "../src/backends/onednn_ffi/_discovery.ts";

function withTree(fn: (root: string) => void): () => void {
  return () => {
    const root = Deno.makeTempDirSync({ prefix: "onednn_discovery_" });
    try {
      fn(root);
    } finally {
      Deno.removeSync(root, { recursive: true });
    }
  };
}

function files(root: string, paths: readonly string[]): void {
  for (const f of paths) {
    const path = `${root}/${f}`;
    Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    Deno.writeFileSync(path, new Uint8Array());
  }
}

Deno.test(
  "AT_DNNL_LIB_DIR comes first, then LD_LIBRARY_PATH, ldconfig, the system folders and a conda prefix",
  withTree((root) => {
    files(root, [
      "env/libdnnl.so.2",
      "ld/libdnnl.so.2",
      "ldc/libdnnl.so.2",
      "sys/libdnnl.so.2",
      "conda/lib/libdnnl.so.2",
    ]);
    const all = {
      libDirs: `${root}/missing:${root}/env`,
      ldLibraryPath: `${root}/ld`,
      ldconfigDirs: [`${root}/ldc`],
      standardDirs: [`${root}/sys`],
      condaPrefix: `${root}/conda`,
    };
    assert.deepEqual(searchDirs(all).map((d) => d.source), [
      "AT_DNNL_LIB_DIR",
      "LD_LIBRARY_PATH",
      "ldconfig",
      "system",
      "CONDA_PREFIX",
    ]);
    assert.equal(findDnnl(all).path, `${root}/env/libdnnl.so.2`);
    assert.equal(findDnnl({ ...all, libDirs: "" }).path, `${root}/ld/libdnnl.so.2`);
    assert.equal(findDnnl({ ...all, libDirs: "", ldLibraryPath: "" }).source, "ldconfig");
    assert.equal(findDnnl({ condaPrefix: `${root}/conda`, standardDirs: [] }).path, `${root}/conda/lib/libdnnl.so.2`);
  }),
);

Deno.test(
  "a folder with only oneDNN 3.x is remembered, and a 2.x further on is taken",
  withTree((root) => {
    files(root, ["three/libdnnl.so.3", "two/libdnnl.so.2", "two/libdnnl.so.3"]);
    const only3 = findDnnl({ libDirs: `${root}/three`, standardDirs: [] });
    assert.equal(only3.path, undefined);
    assert.deepEqual(only3.otherVersions, [`${root}/three/libdnnl.so.3`]);
    const both = findDnnl({ libDirs: `${root}/three:${root}/two`, standardDirs: [] });
    assert.equal(both.path, `${root}/two/libdnnl.so.2`);
  }),
);

Deno.test("ldconfig -p output gives libdnnl's folders, once each", () => {
  const out = `3 libs found in cache \`/etc/ld.so.cache'
	libdnnl.so.2 (libc6,x86-64) => /lib/x86_64-linux-gnu/libdnnl.so.2
	libdnnl.so (libc6,x86-64) => /lib/x86_64-linux-gnu/libdnnl.so
	libgomp.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libgomp.so.1
	libdnnl.so.3 (libc6,x86-64) => /opt/dnnl/lib/libdnnl.so.3`;
  assert.deepEqual(parseLdconfig(out), ["/lib/x86_64-linux-gnu", "/opt/dnnl/lib"]);
});
