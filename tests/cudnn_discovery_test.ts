/**
 * Library discovery of the cudnn backend on fake directory layouts (empty files named like the real
 * libraries): search order, NVIDIA wheel layouts, sub-library preload order, CUDA 12 fallbacks, ldconfig.
 */
import {
  CUBLAS_FAMILY,
  CUDNN_FAMILY,
  driverCandidates,
  findFamily,
  NVRTC_FAMILY,
  parseLdconfig,
  searchDirs,
  sitePackages,
} from "../src/backends/cudnn_ffi/_discovery.ts";

function assertEquals<T>(actual: T, expected: T, what: string): void {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}:\n  got      ${a}\n  expected ${e}`);
}

/** Creates empty files (and their folders) under `root`. */
function layout(root: string, files: readonly string[]): void {
  for (const f of files) {
    const path = `${root}/${f}`;
    Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    Deno.writeFileSync(path, new Uint8Array());
  }
}

const CUDNN_WHEEL = [
  "libcudnn.so.9",
  "libcudnn_ops.so.9",
  "libcudnn_cnn.so.9",
  "libcudnn_adv.so.9",
  "libcudnn_graph.so.9",
  "libcudnn_heuristic.so.9",
  "libcudnn_engines_precompiled.so.9",
  "libcudnn_engines_runtime_compiled.so.9",
  "libcudnn_ext.so.9",
  "libcudnn_engines_tensor_ir.so.9",
];
const CU13_WHEEL = [
  "libcublas.so.13",
  "libcublasLt.so.13",
  "libnvrtc.so.13",
  "libnvrtc-builtins.so.13.0",
  "libnvJitLink.so.13",
  "libcudart.so.13",
];

function withTree(fn: (root: string) => void): () => void {
  return () => {
    const root = Deno.makeTempDirSync({ prefix: "cudnn_discovery_" });
    try {
      fn(root);
    } finally {
      Deno.removeSync(root, { recursive: true });
    }
  };
}

Deno.test(
  "a python on PATH leads to its NVIDIA wheels, and the whole cuDNN family comes from one folder",
  withTree((root) => {
    const site = "venv/lib/python3.12/site-packages/nvidia";
    layout(root, [
      "venv/bin/python3",
      ...CUDNN_WHEEL.map((f) => `${site}/cudnn/lib/${f}`),
      ...CU13_WHEEL.map((f) => `${site}/cu13/lib/${f}`),
      "sys/lib/libcudnn.so.9",
    ]);
    const dirs = searchDirs({ path: `/nonexistent:${root}/venv/bin`, standardDirs: [`${root}/sys/lib`] });
    assertEquals(
      dirs.map((d) => d.dir.slice(root.length + 1)),
      [`${site}/cudnn/lib`, `${site}/cu13/lib`, "sys/lib"],
      "search folders",
    );
    const cudnn = findFamily(CUDNN_FAMILY, dirs)!;
    assertEquals(cudnn.path, `${root}/${site}/cudnn/lib/libcudnn.so.9`, "cuDNN from the wheel, not the system");
    assertEquals(
      cudnn.preload.map((p) => p.slice(p.lastIndexOf("/") + 1)),
      [
        "libcudnn_graph.so.9",
        "libcudnn_engines_precompiled.so.9",
        "libcudnn_engines_runtime_compiled.so.9",
        "libcudnn_heuristic.so.9",
        "libcudnn_ops.so.9",
        "libcudnn_cnn.so.9",
        "libcudnn_adv.so.9",
        "libcudnn_engines_tensor_ir.so.9",
        "libcudnn_ext.so.9",
      ],
      "cuDNN sub-libraries, known ones in load order, then the rest",
    );
    const cublas = findFamily(CUBLAS_FAMILY, dirs)!;
    assertEquals(cublas.path, `${root}/${site}/cu13/lib/libcublas.so.13`, "cuBLAS");
    assertEquals(cublas.preload, [`${root}/${site}/cu13/lib/libcublasLt.so.13`], "cuBLASLt preloaded");
    const nvrtc = findFamily(NVRTC_FAMILY, dirs)!;
    assertEquals(
      nvrtc.preload,
      [`${root}/${site}/cu13/lib/libnvJitLink.so.13`, `${root}/${site}/cu13/lib/libnvrtc-builtins.so.13.0`],
      "nvJitLink and the NVRTC builtins preloaded",
    );
  }),
);

Deno.test(
  "AT_CUDA_LIB_DIR comes first, then LD_LIBRARY_PATH, VIRTUAL_ENV, PATH pythons, ldconfig, the system",
  withTree((root) => {
    layout(root, [
      "override/libcublas.so.13",
      "override/libcublasLt.so.13",
      "ld/libnvrtc.so.13",
      "venv/lib/python3.11/site-packages/nvidia/cu13/lib/libcublas.so.13",
      "conda/lib/python3.10/site-packages/nvidia/cudnn/lib/libcudnn.so.9",
      "usr/bin/python3",
      "usr/local/lib/python3.11/dist-packages/nvidia/cublas/lib/libcublas.so.12",
      "ldconfig/libcudnn.so.9",
      "sys/libcuda.so.1",
    ]);
    const dirs = searchDirs({
      libDirs: `${root}/override:${root}/missing`,
      ldLibraryPath: `${root}/ld:${root}/override`,
      virtualEnv: `${root}/venv`,
      condaPrefix: `${root}/conda`,
      path: `${root}/usr/bin`,
      ldconfigDirs: [`${root}/ldconfig`],
      standardDirs: [`${root}/sys`],
    });
    assertEquals(
      dirs.map((d) => `${d.source}: ${d.dir.slice(root.length + 1)}`),
      [
        "AT_CUDA_LIB_DIR: override",
        "LD_LIBRARY_PATH: ld",
        "VIRTUAL_ENV: venv/lib/python3.11/site-packages/nvidia/cu13/lib",
        "CONDA_PREFIX: conda/lib/python3.10/site-packages/nvidia/cudnn/lib",
        `python in ${root}/usr/bin: usr/local/lib/python3.11/dist-packages/nvidia/cublas/lib`,
        "ldconfig: ldconfig",
        "system: sys",
      ],
      "search order (missing folders and duplicates dropped)",
    );
    assertEquals(findFamily(CUBLAS_FAMILY, dirs)?.dir, `${root}/override`, "cuBLAS from AT_CUDA_LIB_DIR");
    assertEquals(findFamily(NVRTC_FAMILY, dirs)?.dir, `${root}/ld`, "NVRTC from LD_LIBRARY_PATH");
    assertEquals(
      findFamily(CUDNN_FAMILY, dirs)?.dir,
      `${root}/conda/lib/python3.10/site-packages/nvidia/cudnn/lib`,
      "cuDNN from the conda environment before ldconfig's",
    );
  }),
);

Deno.test(
  "CUDA 12 libraries are the fallback when no CUDA 13 ones are found",
  withTree((root) => {
    layout(root, [
      "a/libcublas.so.12",
      "a/libcublasLt.so.12",
      "a/libnvrtc.so.12",
      "a/libnvrtc-builtins.so.12.4",
      "a/libnvrtc-builtins.so.13.0",
    ]);
    const dirs = searchDirs({ libDirs: `${root}/a`, standardDirs: [] });
    const cublas = findFamily(CUBLAS_FAMILY, dirs)!;
    assertEquals(
      [cublas.path, ...cublas.preload],
      [`${root}/a/libcublas.so.12`, `${root}/a/libcublasLt.so.12`],
      "cuBLAS 12",
    );
    const nvrtc = findFamily(NVRTC_FAMILY, dirs)!;
    assertEquals(
      nvrtc.preload,
      [`${root}/a/libnvrtc-builtins.so.12.4`],
      "only the builtins of NVRTC's own major version",
    );
    assertEquals(findFamily(CUDNN_FAMILY, dirs), undefined, "no cuDNN");
  }),
);

Deno.test(
  "the driver is tried from AT_CUDA_LIB_DIR, then by soname, then from the system folders (never a stub)",
  withTree((root) => {
    layout(root, ["over/libcuda.so.1", "nvidia/lib64/libcuda.so.1", "cuda/lib64/stubs/libcuda.so"]);
    assertEquals(
      driverCandidates({
        libDirs: `${root}/over:${root}/empty`,
        standardDirs: [`${root}/nvidia/lib64`, `${root}/cuda/lib64/stubs`],
      }),
      [`${root}/over/libcuda.so.1`, "libcuda.so.1", `${root}/nvidia/lib64/libcuda.so.1`],
      "driver candidates",
    );
    assertEquals(driverCandidates({ standardDirs: [] }), ["libcuda.so.1"], "by soname alone");
  }),
);

Deno.test(
  "site-packages and dist-packages of every python3.x under a prefix",
  withTree((root) => {
    layout(root, [
      "lib/python3.12/site-packages/x",
      "lib/python3.9/site-packages/x",
      "lib/python3/dist-packages/x",
      "local/lib/python3.11/dist-packages/x",
      "lib/python2.7/site-packages/x",
    ]);
    assertEquals(
      sitePackages(root).map((d) => d.slice(root.length + 1)),
      [
        "lib/python3/dist-packages",
        "lib/python3.12/site-packages",
        "lib/python3.9/site-packages",
        "local/lib/python3.11/dist-packages",
      ],
      "site folders",
    );
  }),
);

Deno.test("ldconfig -p output yields the folders of CUDA libraries", () => {
  const out = `1234 libs found in cache \`/etc/ld.so.cache'
	libz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1
	libcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1
	libcudnn.so.9 (libc6,x86-64) => /opt/cudnn/lib/libcudnn.so.9
	libcublasLt.so.13 (libc6,x86-64) => /usr/local/cuda-13.0/lib64/libcublasLt.so.13
	libnvrtc.so.13 (libc6,x86-64) => /usr/local/cuda-13.0/lib64/libnvrtc.so.13
`;
  assertEquals(
    parseLdconfig(out),
    ["/usr/lib/x86_64-linux-gnu", "/opt/cudnn/lib", "/usr/local/cuda-13.0/lib64"],
    "ldconfig folders",
  );
});
