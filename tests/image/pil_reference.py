#!/usr/bin/python3
"""What PIL makes of images the goldens do not cover, for tests/image/pil_cross_check_test.cpp.

    /usr/bin/python3 pil_reference.py OUT_DIR

Makes images with numpy (fixed seeds): some saved by PIL itself (JPEG 4:2:0 / 4:2:2 / 4:4:4,
progressive, grey, CMYK; PNG RGB, RGBA, LA, P with tRNS, 16-bit grey), the rest by the small PNG
encoder below, which writes every bit depth and colour type, Adam7 interlacing, short palettes
and damaged files PIL cannot write. Then opens each with PIL as the reference pipeline does and writes,
as raw bytes in OUT_DIR:
  <case>.raw        np.asarray(Image.open(f)): the pixels in the mode PIL opened ("1" as 0/255, "I" int32)
  <case>.rgb        .convert('RGB')
  <case>.<order>@N  torchvision Resize(N, BICUBIC) + CenterCrop(N) in CLIP's order (own mode, convert
                    last) or Dassl's (convert first); torchvision 0.14's size arithmetic, PIL's pixels
  <case>.box<k>@N   .convert('RGB').crop(box).resize((N, N), BICUBIC) (F.resized_crop), optionally mirrored
and OUT_DIR/manifest.json describing every case, including the files PIL refuses (truncated data, a
decompression bomb, garbage) so that the C++ side can check it refuses them too.
"""
import io
import json
import os
import struct
import sys
import warnings
import zlib

import numpy as np
import PIL
from PIL import Image

BICUBIC = Image.Resampling.BICUBIC
N_PX = (16, 37, 80)


# --- a PNG encoder for what PIL cannot write ---------------------------------------------------------

def chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def pack_row(values, bit_depth):
    values = np.asarray(values, dtype=np.int64).ravel()
    if bit_depth == 16:
        return values.astype(">u2").tobytes()
    if bit_depth == 8:
        return values.astype(np.uint8).tobytes()
    per_byte = 8 // bit_depth
    values = np.concatenate([values, np.zeros((-len(values)) % per_byte, dtype=np.int64)]).reshape(-1, per_byte)
    packed = np.zeros(len(values), dtype=np.int64)
    for k in range(per_byte):
        packed = (packed << bit_depth) | values[:, k]
    return packed.astype(np.uint8).tobytes()


ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def encode_png(samples, bit_depth, color_type, palette=None, trns=None, interlace=False):
    """samples: [h, w, channels] integers; palette: list of (r, g, b)."""
    h, w = samples.shape[:2]
    if interlace:
        passes = [samples[y0::dy, x0::dx] for x0, y0, dx, dy in ADAM7]
    else:
        passes = [samples]
    raw = b"".join(b"\x00" + pack_row(row, bit_depth) for p in passes if p.shape[0] and p.shape[1] for row in p)
    header = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, int(interlace))
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
    if palette is not None:
        out += chunk(b"PLTE", bytes(np.asarray(palette, dtype=np.uint8).ravel()))
    if trns is not None:
        out += chunk(b"tRNS", trns)
    return out + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def png_chunks(data):
    """(offset, length, tag) of every chunk."""
    chunks, pos = [], 8
    while pos + 8 <= len(data):
        length, tag = struct.unpack(">I4s", data[pos:pos + 8])
        chunks.append((pos, length, tag))
        pos += 12 + length
    return chunks


# --- synthetic content --------------------------------------------------------------------------------

def smooth(h, w, channels, seed, top=256):
    """Gradients, a hard-edged block and noise: both smooth areas and edges for the resampler."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    planes = []
    for c in range(channels):
        base = 0.5 + 0.45 * np.sin(x / (3.0 + 2 * c) + y / (5.0 + c) + c)
        base[(y > h // 3) & (x < w // 2)] = (c * 0.37) % 1.0
        planes.append(base)
    values = np.stack(planes, axis=-1) * (top - 1) + rng.normal(0, top / 40.0, (h, w, channels))
    return np.clip(np.rint(values), 0, top - 1).astype(np.int64)


def alpha_plane(h, w, seed):
    """Fully transparent, fully opaque and partial alpha, so premultiplication matters."""
    a = smooth(h, w, 1, seed)[..., 0]
    a[: h // 3, :] = 0
    a[h // 3: h // 2, :] = 255
    return a


def pil_bytes(image, fmt, **params):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def u8(a):
    return np.asarray(a, dtype=np.uint8)


def make_cases():
    """name -> (file bytes, extension, expectation): 'decode' (compare with PIL) or 'unsupported'."""
    cases = {}
    rgb = lambda h, w, s: Image.fromarray(u8(smooth(h, w, 3, s)), "RGB")
    cases["rgb_1x17"] = (pil_bytes(rgb(17, 1, 1), "PNG"), "png")
    cases["rgb_23x1"] = (pil_bytes(rgb(1, 23, 2), "PNG"), "png")
    cases["rgb_3x2"] = (pil_bytes(rgb(2, 3, 3), "PNG"), "png")
    cases["rgb_97x61"] = (pil_bytes(rgb(61, 97, 4), "PNG"), "png")
    cases["jpeg420_101x77"] = (pil_bytes(rgb(77, 101, 5), "JPEG", quality=90, subsampling=2), "jpg")
    cases["jpeg422_99x64"] = (pil_bytes(rgb(64, 99, 6), "JPEG", quality=90, subsampling=1), "jpg")
    cases["jpeg444_64x99"] = (pil_bytes(rgb(99, 64, 7), "JPEG", quality=95, subsampling=0), "jpg")
    cases["jpeg420_1x9"] = (pil_bytes(rgb(9, 1, 8), "JPEG", quality=90, subsampling=2), "jpg")
    cases["jpeg420_7x3"] = (pil_bytes(rgb(3, 7, 9), "JPEG", quality=75, subsampling=2), "jpg")
    cases["progressive_83x59"] = (pil_bytes(rgb(59, 83, 10), "JPEG", quality=85, progressive=True), "jpg")
    gray = Image.fromarray(u8(smooth(70, 45, 1, 11)[..., 0]), "L")
    cases["gray_45x70"] = (pil_bytes(gray, "JPEG", quality=90), "jpg")
    cmyk = Image.fromarray(u8(smooth(30, 40, 4, 12)), "CMYK")
    cases["cmyk_40x30"] = (pil_bytes(cmyk, "JPEG", quality=90), "jpg")
    rgba = np.concatenate([smooth(40, 50, 3, 13), alpha_plane(40, 50, 14)[..., None]], axis=-1)
    cases["rgba_50x40"] = (pil_bytes(Image.fromarray(u8(rgba), "RGBA"), "PNG"), "png")
    la = np.stack([smooth(21, 33, 1, 15)[..., 0], alpha_plane(21, 33, 16)], axis=-1)
    cases["la_33x21"] = (pil_bytes(Image.fromarray(u8(la), "LA"), "PNG"), "png")
    p = Image.fromarray(u8(smooth(17, 31, 1, 17)[..., 0] % 200), "P")
    p.putpalette(list(u8(smooth(1, 200, 3, 18)).ravel()))
    cases["p_trns_31x17"] = (pil_bytes(p, "PNG", transparency=5), "png")
    i16 = Image.fromarray(smooth(19, 29, 1, 19, top=600)[..., 0].astype(np.uint16))  # mode I;16
    cases["i16_pil_29x19"] = (pil_bytes(i16, "PNG"), "png")

    g = lambda h, w, s, top: smooth(h, w, 1, s, top)
    cases["gray1_13x7"] = (encode_png(g(7, 13, 20, 2), 1, 0), "png")
    cases["gray2_13x7"] = (encode_png(g(7, 13, 21, 4), 2, 0), "png")
    cases["gray4_13x7"] = (encode_png(g(7, 13, 22, 16), 4, 0), "png")
    cases["gray8_interlaced_17x11"] = (encode_png(g(11, 17, 23, 256), 8, 0, interlace=True), "png")
    cases["gray16_interlaced_21x13"] = (encode_png(g(13, 21, 24, 700), 16, 0, interlace=True), "png")
    cases["gray16_wide_41x5"] = (encode_png(g(5, 41, 25, 65536), 16, 0), "png")
    cases["rgb16_19x11"] = (encode_png(smooth(11, 19, 3, 26, 65536), 16, 2), "png")
    rgba16 = np.concatenate([smooth(9, 11, 3, 27, 65536), alpha_plane(9, 11, 28)[..., None] * 257], axis=-1)
    cases["rgba16_11x9"] = (encode_png(rgba16, 16, 6), "png")
    la16 = np.stack([g(7, 12, 29, 65536)[..., 0], alpha_plane(7, 12, 30) * 257], axis=-1)
    cases["la16_12x7"] = (encode_png(la16, 16, 4), "png")
    palette = u8(smooth(1, 256, 3, 31))[0]
    cases["p1_9x5"] = (encode_png(g(5, 9, 32, 2), 1, 3, palette=palette[:2]), "png")
    cases["p2_interlaced_10x9"] = (encode_png(g(9, 10, 33, 4), 2, 3, palette=palette[:4], interlace=True), "png")
    # Indices 10..15 lie past the 10 PLTE entries: PIL shows its grey ramp there.
    cases["p4_short_palette_15x6"] = (encode_png(g(6, 15, 34, 16), 4, 3, palette=palette[:10]), "png")
    cases["p8_trns_interlaced_23x14"] = (
        encode_png(g(14, 23, 35, 256), 8, 3, palette=palette, trns=bytes(range(0, 256, 8)), interlace=True), "png")
    cases["rgb8_interlaced_37x29"] = (encode_png(smooth(29, 37, 3, 36), 8, 2, interlace=True), "png")
    rgba8 = np.concatenate([smooth(8, 9, 3, 37), alpha_plane(8, 9, 38)[..., None]], axis=-1)
    cases["rgba8_interlaced_9x8"] = (encode_png(rgba8, 8, 6, interlace=True), "png")
    cases["gray8_trns_16x4"] = (encode_png(g(4, 16, 39, 256), 8, 0, trns=b"\x00\x07"), "png")

    # Damaged and foreign files: PIL's verdict is recorded, the C++ side must agree.
    jpeg = cases["jpeg420_101x77"][0]
    progressive = cases["progressive_83x59"][0]
    png = cases["rgb_97x61"][0]
    cases["truncated_baseline"] = (jpeg[: len(jpeg) * 6 // 10], "jpg")
    cases["truncated_progressive"] = (progressive[: len(progressive) * 8 // 10], "jpg")
    cases["jpeg_without_eoi"] = (jpeg[:-2], "jpg")
    cases["jpeg_cut_scan_then_eoi"] = (jpeg[: len(jpeg) // 2] + b"\xff\xd9", "jpg")
    cases["jpeg_trailing_garbage"] = (jpeg + b"\x00garbage after the image" * 3, "jpg")
    sof = jpeg.index(b"\xff\xc0")
    bomb = bytearray(jpeg)
    bomb[sof + 5: sof + 9] = struct.pack(">HH", 65000, 65000)  # height, width
    cases["jpeg_bomb_65000x65000"] = (bytes(bomb), "jpg")
    cases["truncated_png"] = (png[: len(png) // 2], "png")
    chunks = png_chunks(png)
    iend = [c for c in chunks if c[2] == b"IEND"][0]
    cases["png_without_iend"] = (png[: iend[0]], "png")
    cases["png_without_last_idat_crc"] = (png[: iend[0] - 4], "png")
    idat = [c for c in chunks if c[2] == b"IDAT"][-1]
    bad_crc = bytearray(png)
    bad_crc[idat[0] + 8 + idat[1]] ^= 0xFF
    cases["png_bad_idat_crc"] = (bytes(bad_crc), "png")
    bad_header = bytearray(png)
    bad_header[8 + 8 + 13] ^= 0xFF  # IHDR's CRC
    cases["png_bad_ihdr_crc"] = (bytes(bad_header), "png")
    bomb_png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0))
    bomb_png += chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    cases["png_bomb_20000x20000"] = (bomb_png, "png")
    cases["garbage"] = (bytes(np.random.default_rng(40).integers(0, 256, 500, dtype=np.uint8)), "bin")
    cases["text"] = (b"this is not an image\n" * 10, "txt")
    cases["empty"] = (b"", "png")
    cases["gif"] = (pil_bytes(rgb(8, 8, 41).convert("P"), "GIF"), "gif")
    return cases


# --- torchvision 0.14's Resize(int) and CenterCrop on PIL images ---------------------------------------

def tv_resize(img, n):
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    if short == n:
        return img
    new_short, new_long = n, int(n * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    return img.resize((new_w, new_h), BICUBIC)


def tv_center_crop(img, n):
    w, h = img.size
    top, left = int(round((h - n) / 2.0)), int(round((w - n) / 2.0))
    return img.crop((left, top, left + n, top + n))


def raw_pixels(img):
    a = np.asarray(img)
    if img.mode == "1":
        a = a.astype(np.uint8) * 255
    if img.mode == "I":
        a = a.astype("<i4")
    return a.tobytes()


def boxes(w, h):
    return [(0, 0, w, h), (w // 4, h // 5, w // 4 + max(1, w // 2), h // 5 + max(1, h // 2)), (w - 1, h - 1, w, h)]


def main(out_dir):
    # convert('RGB') of a P image with tRNS warns that the transparency is dropped: that is the point.
    warnings.filterwarnings("ignore", message="Palette images with Transparency")
    os.makedirs(out_dir, exist_ok=True)
    manifest = {"pil_version": PIL.__version__, "numpy_version": np.__version__, "cases": []}
    for name, (data, extension) in make_cases().items():
        path = os.path.join(out_dir, name + "." + extension)
        with open(path, "wb") as f:
            f.write(data)
        case = {"name": name, "file": path}
        try:
            img = Image.open(path)
            img.load()
            rgb = img.convert("RGB")
        except Exception as e:  # PIL refuses it: so must the C++ side
            case.update(pil="error", error=f"{type(e).__name__}: {e}")
            manifest["cases"].append(case)
            continue
        case.update(pil="ok", format=img.format, mode=img.mode, size=list(img.size), outputs=[])
        if img.format not in ("JPEG", "PNG"):
            case["pil"] = "unsupported"
            manifest["cases"].append(case)
            continue

        def output(suffix, image, **fields):
            file = os.path.join(out_dir, f"{name}.{suffix}")
            with open(file, "wb") as f:
                f.write(image if isinstance(image, bytes) else raw_pixels(image))
            return dict(file=file, **fields)

        case["raw"] = output("raw", raw_pixels(img))
        case["rgb"] = output("rgb", rgb)
        for n in N_PX:
            clip = tv_center_crop(tv_resize(img, n), n).convert("RGB")
            dassl = tv_center_crop(tv_resize(rgb, n), n)
            case["outputs"].append(output(f"clip@{n}", clip, kind="clip", n_px=n))
            case["outputs"].append(output(f"dassl@{n}", dassl, kind="dassl", n_px=n))
            for k, box in enumerate(boxes(*img.size)):
                view = rgb.crop(box).resize((n, n), BICUBIC)
                flip = k == 1
                if flip:
                    view = view.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
                case["outputs"].append(output(f"box{k}@{n}", view, kind="box", n_px=n, box=list(box), flip=flip))
        manifest["cases"].append(case)
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
