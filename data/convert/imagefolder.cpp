#include "core/error.h"
#include "data/convert/registry.h"

namespace uda::data {
ConversionPlan plan_imagefolder(const ConvertOptions&) {
  throw UserError("format imagefolder is not built yet", "--format", "use gta5, cityscapes, synthia or toyscenes");
}
}  // namespace uda::data
