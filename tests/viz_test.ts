// Drawing attention maps: resampling against PyTorch, the colour of a hot spot in the rendered PNG, the layout and
// size of a figure, image decoding and its errors.
import { decode, encode } from "fast-png";
import { assert, assertClose, assertThrowsWith } from "./_assert.ts";
import { useBackend } from "../src/tensor/device.ts";
import { tensor } from "../src/tensor/tensor.ts";
import { attentionMaps } from "../src/viz/attention.ts";
import { attentionFigure } from "../src/viz/attention_figure.ts";
import { FIGURE_STYLE, figureLayout, figureSvg } from "../src/viz/figure.ts";
import { centerSquare, decodeImage, encodeRgbPng, resizeImage, type RgbImage } from "../src/viz/image.ts";
import { resample } from "../src/viz/resize.ts";
import { svgToPng } from "../src/viz/render.ts";

await useBackend(Deno.env.get("AT_BACKEND") ?? "cpu");

function gray(size: number, level: number): RgbImage {
  return { width: size, height: size, data: new Uint8Array(size * size * 3).fill(level) };
}

/** RGB of pixel (x, y) of a decoded PNG of any channel count. */
function pixel(png: ReturnType<typeof decode>, x: number, y: number): number[] {
  const i = (y * png.width + x) * png.channels;
  return [png.data[i], png.data[i + 1], png.data[i + 2]];
}

Deno.test("resample: enlarging is PyTorch's bilinear interpolate (align_corners=False)", () => {
  // torch.nn.functional.interpolate(torch.tensor([[[[1., 2.], [3., 4.]]]]), size=(4, 4), mode="bilinear")
  const expected = [1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4];
  const out = resample(Float32Array.of(1, 2, 3, 4), 2, 2, 4, 4);
  expected.forEach((v, i) => assertClose(out[i], v, 1e-6, `element ${i}`));
  // Non-square, non-integer factor: (1, 3) -> (1, 5); torch gives [1, 1.6, 2.5, 3.4, 4] for [1, 2.5, 4].
  const row = resample(Float32Array.of(1, 2.5, 4), 1, 3, 1, 5);
  [1, 1.6, 2.5, 3.4, 4].forEach((v, i) => assertClose(row[i], v, 1e-6, `row element ${i}`));
});

Deno.test("resample: shrinking widens the triangle by the factor (PIL's bilinear), so flat stays flat", () => {
  // Halving [0, 1, 0, 1]: output 0 weighs inputs 0, 1, 2 by 0.75, 0.75, 0.25; output 1 inputs 1, 2, 3 by 0.25, 0.75,
  // 0.75 (PIL's Image.resize with BILINEAR gives the same 3/7 and 4/7).
  const row = resample(Float32Array.of(0, 1, 0, 1), 1, 4, 1, 2);
  assertClose(row[0], 3 / 7, 1e-6, "output 0");
  assertClose(row[1], 4 / 7, 1e-6, "output 1");
  for (const v of resample(new Float32Array(35).fill(2.5), 5, 7, 3, 2)) assertClose(v, 2.5, 1e-6, "a flat plane");
  assertThrowsWith(() => resample(new Float32Array(3), 2, 2, 4, 4), "needs 4 values");
});

Deno.test("attentionMaps: x².mean(1) per sample and group, or at() with normalize", async () => {
  // [2, 2, 1, 2]: sample 0 has channels [1, 2] and [3, 4]; sample 1 has [0, −1] and [2, 0].
  const x = tensor(Float32Array.of(1, 2, 3, 4, 0, -1, 2, 0), [2, 2, 1, 2]);
  const plain = await attentionMaps([x]);
  assert.deepEqual(plain.map((s) => [...s[0].values]), [[5, 10], [2, 0.5]]);
  assert.deepEqual([plain[1][0].height, plain[1][0].width, plain[1][0].channels], [1, 2, 2]);
  const unit = await attentionMaps([x], { normalize: true });
  unit[0][0].values.forEach((v, i) => assertClose(v, [5, 10][i] / Math.sqrt(125), 1e-6, `normalised ${i}`));
  await assert.rejects(() => attentionMaps([x.mul(Infinity)]), /group 1 .* non-finite value/);
});

/** matplotlib's inferno at 1 and at 0 (`#fcffa4`, `#000004`). */
const INFERNO_HOT = [252, 255, 164];
const INFERNO_COLD = [0, 0, 4];

Deno.test("a single hot spot in an activation is the hottest colour at that spot of the PNG", async () => {
  const [c, h, w, size] = [4, 8, 8, 64];
  const [hotY, hotX] = [2, 5];
  const cases = [
    { normalize: false, opacity: 1, level: 0 },
    { normalize: true, opacity: 1, level: 0 },
    { normalize: false, opacity: 0.6, level: 100 }, // blended over the gray image: 0.4 · 100 + 0.6 · colour
  ];
  for (const { normalize, opacity, level } of cases) {
    const what = `normalize ${normalize}, opacity ${opacity}`;
    const x = new Float32Array(c * h * w).fill(0.1);
    for (let k = 0; k < c; k++) x[k * h * w + hotY * w + hotX] = 3;
    const maps = (await attentionMaps([tensor(x, [1, c, h, w])], { normalize }))[0];
    const figure = attentionFigure("hot spot", gray(32, level), [{ header: "net", maps }], {
      panelSize: size,
      opacity,
    });
    const png = decode(await svgToPng(figureSvg(figure)));
    const box = figureLayout(figure).panels.find((p) => p.row === 0 && p.column === 1)!;
    const blend = (rgb: number[]) => rgb.map((v) => Math.round((1 - opacity) * level + opacity * v));
    // The cell (2, 5) of 8 covers pixels 40–47 across and 16–23 down; its centre lies between 43 and 44, 19 and 20.
    const scale = size / w;
    const cx = box.x + Math.floor((hotX + 0.5) * scale) - 1;
    const cy = box.y + Math.floor((hotY + 0.5) * scale) - 1;
    for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
      assert.deepEqual(pixel(png, cx + dx, cy + dy), blend(INFERNO_HOT), `${what}: pixel ${dx}, ${dy} of the spot`);
    }
    // Pixels farther than one cell from the spot are the coldest colour.
    for (const [px, py] of [[0, 0], [size - 1, size - 1], [0, size - 1], [hotX * scale - 9, hotY * scale]]) {
      assert.deepEqual(pixel(png, box.x + px, box.y + py), blend(INFERNO_COLD), `${what}: pixel ${px}, ${py}`);
    }
  }
});

Deno.test("a figure has the input and one panel per group in each row, and its PNG the layout's size", async () => {
  const maps = (groups: number) =>
    Array.from({ length: groups }, (_, g) => ({
      height: 8 >> g,
      width: 8 >> g,
      channels: 4,
      values: Float32Array.from({ length: 64 >> (2 * g) }, (_, i) => i),
    }));
  const rows = [{ header: "t", maps: maps(3) }, { header: "s", maps: maps(3), atLosses: [1e-4, 2e-3, 0.03] }];
  const figure = attentionFigure("x", gray(16, 128), rows, { panelSize: 128 });
  assert.equal(figure.rows.length, 2);
  for (const row of figure.rows) assert.equal(row.panels.length, 1 + 3, "the input and one panel per group");
  assert.deepEqual(figure.rows[1].panels.map((p) => p.caption), [
    ["input 16×16"],
    ["group 1 · 8×8", "AT loss 1.00e-4"],
    ["group 2 · 4×4", "AT loss 2.00e-3"],
    ["group 3 · 2×2", "AT loss 0.0300"],
  ]);
  const s = FIGURE_STYLE;
  const width = 2 * s.margin + 4 * 128 + 3 * s.gap; // 4 panels, 3 gaps
  const height = 2 * s.margin + s.titleHeight + 2 * (s.headerHeight + 128 + 2 * s.lineHeight) + s.rowGap;
  const layout = figureLayout(figure);
  assert.deepEqual([layout.width, layout.height], [width, height]);
  assert.equal(layout.panels.length, 8);
  const png = decode(await svgToPng(figureSvg(figure)));
  assert.deepEqual([png.width, png.height], [width, height], "the PNG's size");
  // A long title widens the figure rather than being cut.
  const long = figureLayout({ ...figure, title: "a title far longer than the four panels of this figure are wide" });
  assert.ok(long.width > width, `width ${long.width} for a long title`);
});

Deno.test("decodeImage: PNG of every colour type and JPEG to RGB, centre square, resize", () => {
  const rgba = encode({ width: 2, height: 1, channels: 4, depth: 8, data: Uint8Array.of(255, 0, 0, 255, 0, 0, 0, 0) });
  assert.deepEqual([...decodeImage(rgba, "rgba").data], [255, 0, 0, 255, 255, 255], "alpha over white");
  const gray16 = encode({ width: 1, height: 1, channels: 1, depth: 16, data: Uint16Array.of(0x8040) });
  assert.deepEqual([...decodeImage(gray16, "gray16").data], [0x80, 0x80, 0x80]);
  const bits = encode({ width: 3, height: 1, channels: 1, depth: 1, data: Uint8Array.of(0b10100000) });
  assert.deepEqual([...decodeImage(bits, "1-bit").data], [255, 255, 255, 0, 0, 0, 255, 255, 255]);
  const wide: RgbImage = { width: 4, height: 2, data: Uint8Array.from({ length: 24 }, (_, i) => i) };
  assert.deepEqual([...centerSquare(wide).data], [3, 4, 5, 6, 7, 8, 15, 16, 17, 18, 19, 20]);
  const flat = resizeImage(gray(40, 77), 32, 32);
  assert.ok(flat.data.every((v) => v === 77), "resizing a flat image keeps its level");
  const png = encodeRgbPng(gray(3, 9));
  assert.deepEqual(decodeImage(png, "round trip"), gray(3, 9));
});

Deno.test("decodeImage: JPEG decodes", async () => {
  const { default: jpeg } = await import("jpeg-js");
  const data = new Uint8Array(8 * 8 * 4).fill(200);
  const bytes = jpeg.encode({ width: 8, height: 8, data }, 95).data;
  const img = decodeImage(new Uint8Array(bytes), "flat.jpg");
  assert.deepEqual([img.width, img.height], [8, 8]);
  for (const v of img.data) assertClose(v, 200, 3, "a flat JPEG");
});

Deno.test("decodeImage: bytes that are no image, or a damaged one, are one error naming the file", () => {
  assertThrowsWith(() => decodeImage(new TextEncoder().encode("hello"), "notes.png"), "notes.png", "not a PNG or JPEG");
  assertThrowsWith(() => decodeImage(new Uint8Array(), "empty.png"), "empty.png", "the file is empty");
  const png = encodeRgbPng(gray(8, 1));
  assertThrowsWith(() => decodeImage(png.subarray(0, 40), "cut.png"), "cut.png", "damaged PNG");
  assertThrowsWith(() => decodeImage(Uint8Array.of(0xff, 0xd8, 0xff, 0, 1, 2), "cut.jpg"), "cut.jpg", "damaged JPEG");
});
