// `uda collect`'s tables as HTML, for the comparison page of `uda report`:
// mean ± std over seeds per hyper-parameter group, and DomainBed's tables of
// domain generalization sweeps.
#pragma once

#include "launcher/collect_table.h"
#include "launcher/dg_table.h"

#include <functional>
#include <string>

namespace uda::cli {

// `run_link(dir)`: the HTML naming one run of a group (a link to its page).
std::string collect_html(const CollectResult& r, const std::function<std::string(const std::string&)>& run_link);

// One table per dataset and the averages, cells as `uda collect` prints them.
std::string dg_html(const DgReport& r);

}  // namespace uda::cli
