// MNIST-family IDX files. (Filled in below.)
#include "core/error.h"
#include "data/convert/registry.h"

namespace uda::data {
ConversionPlan plan_idx(const ConvertOptions&) {
  throw UserError("format idx is not built yet", "--format", "use gta5, cityscapes, synthia or toyscenes");
}
}  // namespace uda::data
