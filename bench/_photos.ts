/**
 * The images the decoding and ImageFolder benchmarks read: `PHOTOS=<folder>`, else 32 photo-like 500 × 375 JPEGs
 * (quality 90) and 8 PNGs made by `tools/make_bench_photos.py` with `PYTHON` (default `/usr/bin/python3`, which
 * needs Debian's python3-pil) in a temporary folder that is removed when the program ends.
 *
 * @module
 */

/** The folder of benchmark photos. */
export async function photoFolder(): Promise<string> {
  const given = Deno.env.get("PHOTOS");
  if (given) return given;
  const dir = await Deno.makeTempDir({ prefix: "bench_photos_" });
  globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
  const script = new URL("../tools/make_bench_photos.py", import.meta.url).pathname;
  const python = Deno.env.get("PYTHON") ?? "/usr/bin/python3";
  const { success, stderr } = await new Deno.Command(python, { args: [script, dir], stderr: "piped" }).output();
  if (!success) {
    throw new Error(
      `${python} ${script} failed (set PHOTOS to a folder of .jpg and .png images, or PYTHON to a python with ` +
        `PIL): ${new TextDecoder().decode(stderr)}`,
    );
  }
  return dir;
}
