// The "Pictures" section of a run's report page: what the worker wrote into
// <run>/report_images/iter_<N>/ at the newest evaluation (worker/report_images.h):
// evaluation images with ground truth, prediction and pseudo-labels in the
// label palette, the algorithm's image grids, and confusion matrices as
// heat maps; and, when two or more evaluations have algorithm grids, those of
// every evaluation (up to 8, evenly spaced) one row per iteration, to show how
// e.g. a generator's samples change during training. Images are inlined as data: URIs, so the page stays one file.
#pragma once

#include <filesystem>
#include <string>

namespace uda::cli {

// "" when the run has no report images; UserError naming index.json when it
// is malformed.
std::string pictures_section(const std::filesystem::path& run);

}  // namespace uda::cli
