#!/usr/bin/env python3
"""Reference values for the ImageFolder path, computed by Pillow: tests/fixtures_pil/.

Small source images in the formats and modes an ImageFolder meets (RGB/gray/CMYK JPEG, RGB/RGBA/palette PNG), and
for each, Pillow's output of:

- decode:  Image.open(f).convert("RGB")  -- what torchvision's ImageFolder loader (pil_loader) returns;
- eval:    torchvision's Resize(round(size * 256 / 224)) then CenterCrop(size) on that image, written out with the
           same Pillow calls torchvision makes (torchvision is not needed): F.resize computes the longer side as
           int(short_size * long / short) and calls img.resize((w, h), BILINEAR); F.center_crop cuts at
           int(round((h - size) / 2.0)), int(round((w - size) / 2.0));
- crop:    RandomResizedCrop's resize of a given box: img.crop((left, top, left + w, top + h)).resize((s, s),
           BILINEAR), i.e. F.resized_crop once get_params has drawn the box.

Each output is raw HWC RGB bytes (Image.tobytes()); manifest.json lists the cases. Deterministic: the same
Pillow gives the same files. Needs Debian's python3-pil:

    /usr/bin/python3 tools/make_pil_fixtures.py tests/fixtures_pil && deno fmt tests/fixtures_pil
"""
import json
import os
import random
import sys

import PIL
from PIL import Image, ImageDraw, ImageFilter


def photo(rnd: random.Random, w: int, h: int) -> Image.Image:
    """Gradients, shapes with hard edges and pixel noise: every resampling weight matters somewhere."""
    img = Image.new("RGB", (w, h))
    px = img.load()
    a = [rnd.uniform(-2, 2) for _ in range(6)]
    for y in range(h):
        for x in range(w):
            px[x, y] = tuple(
                max(0, min(255, int(128 + 60 * (a[c] * x / w + a[c + 3] * y / h) + rnd.gauss(0, 25))))
                for c in range(3)
            )
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x0, y0 = rnd.randrange(w), rnd.randrange(h)
        x1, y1 = x0 + rnd.randrange(2, max(3, w // 2)), y0 + rnd.randrange(2, max(3, h // 2))
        colour = tuple(rnd.randrange(256) for _ in range(3))
        (draw.ellipse if rnd.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=colour)
    return img


def sources(rnd: random.Random) -> dict:
    """name -> (image to save, save options)."""
    wide = photo(rnd, 97, 61)
    tall = photo(rnd, 61, 97)
    big = photo(rnd, 200, 134).filter(ImageFilter.GaussianBlur(0.7))
    small = photo(rnd, 40, 33)
    jpeg = photo(rnd, 120, 90).filter(ImageFilter.GaussianBlur(0.8))
    rgba = small.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(small.size))
    return {
        "wide.png": (wide, {}),
        "tall.png": (tall, {}),
        "big.png": (big, {}),
        "photo.jpg": (jpeg, {"quality": 90}),
        "photo444.jpg": (jpeg, {"quality": 85, "subsampling": 0}),
        "gray.jpg": (tall.convert("L"), {"quality": 90}),
        "cmyk.jpg": (wide.convert("CMYK"), {"quality": 90}),
        "rgba.png": (rgba, {}),
        "palette.png": (wide.convert("P"), {}),
    }


def eval_transform(img: Image.Image, size: int) -> Image.Image:
    short_size = round(size * 256 / 224)
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = short_size, int(short_size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    img = img.resize((new_w, new_h), Image.BILINEAR)
    top = int(round((new_h - size) / 2.0))
    left = int(round((new_w - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


def crop_resize(img: Image.Image, box: tuple, size: int) -> Image.Image:
    top, left, h, w = box
    return img.crop((left, top, left + w, top + h)).resize((size, size), Image.BILINEAR)


def crop_boxes(rnd: random.Random, w: int, h: int) -> list:
    """The whole image, corner and edge boxes, a tiny one (upscaled) and random ones."""
    boxes = [(0, 0, h, w), (0, 0, h // 2, w // 3), (h - h // 3, w - w // 2, h // 3, w // 2), (h // 2, w // 2, 3, 4)]
    for _ in range(3):
        bh, bw = rnd.randint(1, h), rnd.randint(1, w)
        boxes.append((rnd.randint(0, h - bh), rnd.randint(0, w - bw), bh, bw))
    return boxes


def main() -> None:
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rnd = random.Random(12)
    cases = []
    for name, (img, options) in sources(rnd).items():
        img.save(os.path.join(out, name), **options)
        rgb = Image.open(os.path.join(out, name)).convert("RGB")
        stem = name.replace(".", "_")

        def emit(kind: str, result: Image.Image, **params) -> None:
            numbers = params.get("box", []) + ([params["size"]] if "size" in params else [])
            label = "_".join([stem, kind] + [str(v) for v in numbers])
            with open(os.path.join(out, label + ".bin"), "wb") as f:
                f.write(result.tobytes())
            cases.append({"source": name, "kind": kind, **params, "width": result.width, "height": result.height,
                          "expected": label + ".bin"})

        emit("decode", rgb)
        for size in (16, 24, 48):
            emit("eval", eval_transform(rgb, size), size=size)
        for box in crop_boxes(rnd, rgb.width, rgb.height):
            size = rnd.choice([8, 16, 24])
            emit("crop", crop_resize(rgb, box, size), box=list(box), size=size)
    manifest = {"pillow": PIL.__version__, "cases": cases}
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
