#!/usr/bin/env python3
"""The reference's image pipeline in Python, for `promptgrid bench --decode` to be compared with.

What CoOp's data loader does per test image (Dassl read_image + CLIP's test transform), with PIL 9.4
and numpy in place of torchvision's ToTensor/Normalize (the same arithmetic): open, convert('RGB'),
resize the shorter side to 224 (BICUBIC), center crop, to float32, normalise. Same kind of files as
the C++ benchmark (500x375 and 375x500, 3 JPEG q90 : 1 PNG), one process, one thread.

    python3 scripts/bench_pil_preprocess.py [images]      # needs python3-pil python3-numpy
"""
import io
import math
import sys
import time

import numpy as np
from PIL import Image

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32).reshape(3, 1, 1)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32).reshape(3, 1, 1)


def photo_like(width, height, rng):
    y, x = np.mgrid[0:height, 0:width]
    channels = [128 + 90 * np.sin(0.02 * x * (c + 1) + 0.03 * y) for c in range(3)]
    rgb = np.stack(channels, axis=-1) + rng.normal(0, 8, (height, width, 3))
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


def test_transform(data, n_px=224):
    image = Image.open(io.BytesIO(data)).convert("RGB")
    w, h = image.size
    if w <= h:
        size = (n_px, int(n_px * h / w))
    else:
        size = (int(n_px * w / h), n_px)
    if size != image.size:
        image = image.resize(size, Image.BICUBIC)
    left = int(round((size[0] - n_px) / 2.0))
    top = int(round((size[1] - n_px) / 2.0))
    image = image.crop((left, top, left + n_px, top + n_px))
    x = np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0
    return (x - MEAN) / STD


def main():
    images = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    rng = np.random.default_rng(7)
    files = []
    for i in range(16):
        width, height = (375, 500) if i % 2 else (500, 375)
        buffer = io.BytesIO()
        if i % 4 == 3:
            photo_like(width, height, rng).save(buffer, format="PNG")
        else:
            photo_like(width, height, rng).save(buffer, format="JPEG", quality=90)
        files.append(buffer.getvalue())
    for data in files:
        test_transform(data)
    start = time.perf_counter()
    for i in range(images):
        test_transform(files[i % len(files)])
    seconds = time.perf_counter() - start
    print(f"PIL {Image.__version__} + numpy, 1 thread: decode + test transform {images / seconds:.1f} images/s")


if __name__ == "__main__":
    main()
