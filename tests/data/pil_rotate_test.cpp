// pil_rotate against Pillow: DomainBed's own call (torchvision's rotate on
// Fashion-MNIST images, fill (0,), bilinear) and PIL's Image.rotate on
// random grey and RGB images of random sizes and angles, bit for bit.
#include "data/convert/pil_rotate.h"
#include "tests/data/python_reference.h"
#include "tests/support/test_support.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

using uda::data::Image;
using uda::data_test::ReferenceReader;
using uda::data_test::run_reference;

namespace {

// argv: fashion_dir out_file num_fashion num_random. Records: int32 h, w, c,
// float64 angle, source bytes, rotated bytes (HWC uint8).
const char* kReference = R"(
import gzip, struct, sys
import numpy as np, torch
from PIL import Image
from torchvision.transforms import functional as TF, InterpolationMode
src, out, n_fashion, n_random = sys.argv[1], open(sys.argv[2], "wb"), int(sys.argv[3]), int(sys.argv[4])
def record(arr, angle, rotated):
    h, w, c = arr.shape
    out.write(struct.pack("<iiid", h, w, c, angle) + arr.tobytes() + np.asarray(rotated, np.uint8).reshape(h, w, c).tobytes())
raw = gzip.open(src + "/t10k-images-idx3-ubyte.gz").read()
digits = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)[:n_fashion]
for angle in [0, 15, 30, 45, 60, 75, 90, 180, 270, -30, 7.25, 359.9, 405.5]:
    for d in digits:  # DomainBed's path: ToPILImage, then torchvision's rotate
        img = TF.to_pil_image(torch.from_numpy(d.copy()))
        record(d[:, :, None], float(angle), TF.rotate(img, angle, fill=(0,), interpolation=InterpolationMode.BILINEAR))
rng = np.random.default_rng(7)
for k in range(n_random):
    h, w, c = int(rng.integers(1, 41)), int(rng.integers(1, 41)), (1, 3)[k % 2]
    angle = float(rng.integers(-8, 9) * 45) if k % 5 == 0 else float(rng.uniform(-400, 400))
    arr = rng.integers(0, 256, size=(h, w, c), dtype=np.uint8)
    img = Image.fromarray(arr[:, :, 0] if c == 1 else arr)
    record(arr, angle, img.rotate(angle, Image.BILINEAR, fillcolor=0 if c == 1 else (0, 0, 0)))
)";

}  // namespace

TEST(PilRotate, EqualsPillowBitForBit) {
  ASSERT_TRUE(std::filesystem::exists(uda::data_test::kFashionMnist + "/t10k-images-idx3-ubyte.gz"))
      << "no " << uda::data_test::kFashionMnist << ": install Debian's dataset-fashion-mnist (scripts/install-deps.sh)";
  uda::test::TempDir tmp;
  const int fashion = 200, random = 600;
  run_reference(kReference, {uda::data_test::kFashionMnist, tmp / "ref.bin", std::to_string(fashion), std::to_string(random)});
  ReferenceReader ref(tmp / "ref.bin");
  int images = 0, differing = 0;
  while (!ref.done()) {
    const int h = ref.get<int32_t>(), w = ref.get<int32_t>(), c = ref.get<int32_t>();
    const double angle = ref.get<double>();
    const size_t n = static_cast<size_t>(h) * w * c;
    Image src{h, w, c, ref.bytes(n)};
    const std::vector<uint8_t> want = ref.bytes(n);
    const Image got = uda::data::pil_rotate(src, angle);
    ++images;
    size_t diff = 0;
    for (size_t i = 0; i < n; ++i) diff += got.pixels[i] != want[i];
    if (diff && ++differing <= 5)
      ADD_FAILURE() << h << "x" << w << "x" << c << " image rotated by " << angle << ": " << diff << " of " << n
                    << " values differ from PIL";
  }
  EXPECT_EQ(images, fashion * 13 + random);
  EXPECT_EQ(differing, 0);
}
