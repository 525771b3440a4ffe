// The attention page as a person sees it: `cli/visualize.ts --html` opened in headless Chromium (Debian's
// `chromium`), its screenshot checked for coloured panels. Skipped, with the reason, where Chromium is absent.
import { decode } from "fast-png";
import { assert } from "./_assert.ts";
import { photo, runCli, writeRun } from "./_viz.ts";

const BACKEND = Deno.env.get("AT_BACKEND") ?? "cpu";

/** The Chromium command, or why there is none. */
async function findChromium(): Promise<{ command?: string; reason: string }> {
  for (const command of [Deno.env.get("AT_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"]) {
    if (!command) continue;
    try {
      const p = await new Deno.Command(command, { args: ["--version"], stdout: "null", stderr: "null" }).output();
      if (p.success) return { command, reason: "" };
    } catch { /* not installed under that name */ }
  }
  return { reason: "no chromium found (apt-get install chromium, or set AT_CHROMIUM)" };
}

const chromium = await findChromium();
if (!chromium.command) console.log(`visualize_html_test skipped: ${chromium.reason}`);

const SIZE = 64;

/** One layout for the probe and the screenshot: the same window, one device pixel per CSS pixel. */
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1"]
  .concat("--window-size=800,900");

async function screenshot(page: string, out: string): Promise<ReturnType<typeof decode>> {
  const p = await new Deno.Command(chromium.command!, {
    args: [...FLAGS, `--screenshot=${out}`, `file://${page}`],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  assert.ok(p.success, `chromium failed:\n${new TextDecoder().decode(p.stderr)}`);
  return decode(await Deno.readFile(out));
}

/** Where Chromium lays out each panel's picture: `[row, column, x, y, width, height]`, read with `--dump-dom`. */
async function panelBoxes(html: string, dir: string): Promise<number[][]> {
  const script = `<script>document.body.dataset.boxes = JSON.stringify([...document.querySelectorAll("figure.panel")]
    .map((f) => { const r = f.querySelector("img").getBoundingClientRect();
      return [+f.dataset.row, +f.dataset.column, r.x, r.y, r.width, r.height]; }));</script></body>`;
  await Deno.writeTextFile(`${dir}/probe.html`, html.replace("</body>", script));
  const p = await new Deno.Command(chromium.command!, {
    args: [...FLAGS, "--dump-dom", `file://${dir}/probe.html`],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const dom = new TextDecoder().decode(p.stdout);
  const boxes = /data-boxes="([^"]*)"/.exec(dom);
  assert.ok(p.success && boxes, `chromium --dump-dom gave no boxes:\n${new TextDecoder().decode(p.stderr)}`);
  return JSON.parse(boxes[1].replaceAll("&quot;", '"'));
}

/** The share of a box's pixels whose channels differ by more than 24: colour, where gray inputs have none. */
function colouredShare(png: ReturnType<typeof decode>, [x0, y0, w, h]: number[]): number {
  let n = 0;
  for (let y = Math.ceil(y0); y < Math.floor(y0 + h); y++) {
    for (let x = Math.ceil(x0); x < Math.floor(x0 + w); x++) {
      const p = (y * png.width + x) * png.channels;
      const [r, g, b] = [png.data[p], png.data[p + 1], png.data[p + 2]];
      if (Math.max(r, g, b) - Math.min(r, g, b) > 24) n++;
    }
  }
  return n / ((Math.floor(y0 + h) - Math.ceil(y0)) * (Math.floor(x0 + w) - Math.ceil(x0)));
}

Deno.test({
  name: "visualize.ts --html: in Chromium, the page shows every attention panel, and none is blank",
  ignore: !chromium.command,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "at-visualize-html-" });
    try {
      await writeRun(`${dir}/student`, 10, 0.5);
      await writeRun(`${dir}/teacher`, 10, 1);
      await Deno.writeFile(`${dir}/gray.png`, photo(true));
      const r = await runCli(
        "visualize",
        dir,
        ...["--backend", BACKEND, "--model", "student", "--teacher", "teacher", "--out", "maps", "--html"],
        ...["--size", String(SIZE), "--opacity", "0.8", "gray.png"],
      );
      assert.equal(r.code, 0, r.err);
      const page = `${dir}/maps/attention.html`;
      const html = await Deno.readTextFile(page);
      const boxes = await panelBoxes(html, `${dir}/maps`);
      assert.equal(boxes.length, 8, "two rows of the input and three groups");
      const shot = await screenshot(page, `${dir}/shot.png`);
      // The input is gray, so colour in a panel comes from its attention map; a blank or broken picture has none.
      for (const [row, column, ...box] of boxes) {
        assert.ok(box[1] + box[3] <= shot.height, `panel ${row}, ${column} lies within the screenshot`);
        const share = colouredShare(shot, box);
        if (column === 0) assert.ok(share < 0.05, `the input panel of row ${row} is gray (${share})`);
        else assert.ok(share > 0.5, `panel ${row}, ${column}: only ${(100 * share).toFixed(1)}% of it is coloured`);
      }
      // The same page with one picture removed shows that panel blank: the check can fail.
      const pictures = /src="data:image\/png;base64,[^"]*"/g;
      let k = 0;
      const broken = html.replace(pictures, (m) => (k++ === 2 ? 'src=""' : m));
      await Deno.writeTextFile(`${dir}/maps/broken.html`, broken);
      const brokenShot = await screenshot(`${dir}/maps/broken.html`, `${dir}/broken.png`);
      const [, , ...brokenBox] = boxes[2];
      assert.ok(colouredShare(brokenShot, brokenBox) < 0.05, "a panel without its picture is seen as blank");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
