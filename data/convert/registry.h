// `uda convert`: the list of formats and the entry point.
#pragma once

#include "data/convert/conversion.h"

#include <string>
#include <vector>

namespace uda::data {

const std::vector<std::string>& convert_formats();
// Converts per `options` (UserError for bad input); returns the dataset
// directories written (toyscenes writes three).
std::vector<std::string> convert(const ConvertOptions& options);

// The plans of each format (convert/<format>.cpp).
ConversionPlan plan_gta5(const ConvertOptions& options);
ConversionPlan plan_cityscapes(const ConvertOptions& options);
ConversionPlan plan_synthia(const ConvertOptions& options);
ConversionPlan plan_idx(const ConvertOptions& options);
ConversionPlan plan_imagefolder(const ConvertOptions& options);
// source, target, target_val, in that order: {subdirectory, plan}.
std::vector<std::pair<std::string, ConversionPlan>> plans_toyscenes(const ConvertOptions& options);

}  // namespace uda::data
