// The stylesheet and scripts of a report page, embedded in the binary at
// build time (no install path to find at run time): launcher/web/*.css,
// *.js and Debian's Chart.js 3.9 (libjs-chart.js). Editing a file of
// launcher/web re-runs CMake.
#pragma once

#include <string>
#include <vector>

namespace uda::cli {

const std::string& report_css();
// In the order the page runs them: checks.js (error capture first), Chart.js,
// charts.js, live.js, report.js.
const std::vector<std::string>& report_scripts();

}  // namespace uda::cli
