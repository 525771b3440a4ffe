#!/usr/bin/env python3
"""Photo-like JPEGs (and a few PNGs) for bench/decode_bench.ts and bench/imagefolder_bench.ts.

No real photos ship with the repository, so these imitate their statistics: smooth colour gradients, flat shapes
with sharp edges, a slight blur and luminance noise, 500x375 or 375x500 (ImageNet's most common sizes), saved at
JPEG quality 90 with 4:2:0 chroma subsampling (PIL's default) -- about 77 kB each, against ImageNet's ~110 kB.

Needs Debian's python3-pil:  /usr/bin/python3 tools/make_bench_photos.py OUT_DIR [COUNT]
"""
import random
import sys

from PIL import Image, ImageChops, ImageDraw, ImageFilter


def photo(rnd: random.Random, w: int, h: int) -> Image.Image:
    channels = []
    for _ in range(3):
        gradient = Image.linear_gradient("L").rotate(rnd.uniform(0, 360)).resize((w, h))
        a, b = rnd.uniform(0.3, 1), rnd.uniform(0, 100)
        gradient = gradient.point(lambda v: min(255, int(a * v + b)))
        channels.append(ImageChops.add(gradient, Image.effect_noise((w, h), 12), 1, -128))
    img = Image.merge("RGB", channels)
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = rnd.randrange(w), rnd.randrange(h)
        x1, y1 = x0 + rnd.randrange(10, 200), y0 + rnd.randrange(10, 200)
        colour = tuple(rnd.randrange(256) for _ in range(3))
        (draw.ellipse if rnd.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=colour)
    img = img.filter(ImageFilter.GaussianBlur(1.0))
    noise = Image.effect_noise((w, h), 10)
    return ImageChops.add(img, Image.merge("RGB", [noise] * 3), 1, -128)


def main() -> None:
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    rnd = random.Random(0)
    for i in range(count):
        w, h = (500, 375) if i % 3 else (375, 500)
        img = photo(rnd, w, h)
        img.save(f"{out}/photo_{i:02d}.jpg", quality=90)
        if i < 8:
            img.save(f"{out}/photo_{i:02d}.png")


if __name__ == "__main__":
    main()
