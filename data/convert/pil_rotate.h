// PIL's Image.rotate(angle, resample=BILINEAR, expand=False, center=None,
// fillcolor=0), reproduced in double precision. torchvision's
// transforms.functional.rotate(img, angle, fill=(0,), interpolation=BILINEAR)
// calls exactly this on a PIL image, and DomainBed's RotatedMNIST uses it
// (domainbed/datasets.py:171-179 at b93c22a). Verified bit for bit against
// Pillow 9.4.0 (tests/data/domainbed_mnist_test.cpp).
#pragma once

#include "data/sample.h"

namespace uda::data {

// Rotates `image` by `degrees` counter-clockwise about (width/2, height/2),
// keeping its size: each output pixel samples the source bilinearly, edge
// pixels replicated, and is 0 where the sample point falls outside the
// source. Every channel is interpolated alike (PIL's "L" and "RGB" filters).
Image pil_rotate(const Image& image, double degrees);

}  // namespace uda::data
