// Pillow 9.4's Image.resize, crop and mirror, reproduced bit for bit (libImaging/Resample.c,
// Geometry.c's ImagingScaleAffine, Image.py's resize), for the images the reference pipeline resizes.
//
// BICUBIC (cubic kernel a = -0.5) is separable: coefficients per output pixel are computed in double
// (support 2 * max(in/out, 1), centre (i + 0.5) * in/out, taps int(centre - support + 0.5) up to
// int(centre + support + 0.5) clipped to the image, kernel((tap - centre + 0.5) / max(in/out, 1)),
// normalised to sum 1). For 8-bit images they become 22-bit fixed point (rounded half away from zero),
// each sample is accumulated from 2^21 and shifted down by 22 and clamped to 0..255; the horizontal
// pass writes a uint8 image that the vertical pass reads; an axis whose size does not change is skipped.
// Mode I is resampled the same way in double, rounded half away from zero to int32 after each pass.
// Used by transforms.h and random_resized_crop.h.
#pragma once

#include "worker/image/image.h"

namespace pg::image {

// Resample.c's BICUBIC on an L, LA, RGB, RGBA, CMYK or I image (channels resampled independently; LA
// and RGBA exactly as given: Image.resize's premultiplication is pil_resize's job).
Image resize_bicubic(const Image& image, int width, int height);

// Image.resize with NEAREST, as PIL does it for P and "1" images (an affine scale): source column
// int(x0 + x * in/out) with x0 = in/(2 out), accumulated in double from left to right; rows likewise.
Image resize_nearest(const Image& image, int width, int height);

// Image.resize(size, BICUBIC) as PIL 9.4 runs it: the same size gives a copy; P and "1" images are
// resized NEAREST; RGBA and LA are premultiplied, resized and unpremultiplied; everything else BICUBIC.
Image pil_resize(const Image& image, int width, int height);

// Image.crop of a box inside the image (a box reaching outside it is an internal error: PIL would pad).
Image crop(const Image& image, int left, int top, int width, int height);

// Image.transpose(FLIP_LEFT_RIGHT), which torchvision's hflip runs on a PIL image.
Image flip_horizontal(const Image& image);

}  // namespace pg::image
