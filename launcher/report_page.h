// One report page as a single self-contained HTML file: the stylesheet, the
// static body, the page data (chart specs, live reload) as JSON and the
// scripts (launcher/report_assets.h), all inline; it opens offline.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace uda::cli {

struct LineChart;
struct BarChart;

// A page's body as it is built: HTML and the specs of the charts placed in it.
struct ReportBody {
  std::string html;
  std::vector<nlohmann::json> charts;

  // A heading, then the chart's placeholder, or `when_empty` (HTML) when the
  // chart has no value.
  void line_chart(const std::string& heading, const LineChart& c, const std::string& when_empty);
  // The chart's placeholder alone (a heading of level 3 inside a grid, ...).
  void line_chart_only(const LineChart& c);
  void bar_chart(const BarChart& c);
};

// The whole page; the body's charts are drawn into their placeholders.
// `live_interval_s` > 0: a page of `uda report --watch`, which says so and
// reloads itself after that many seconds.
std::string report_page(const std::string& title, const ReportBody& body, int live_interval_s);

// JSON that is safe inside a <script> element: <, > and & as \u escapes,
// invalid UTF-8 replaced.
std::string script_safe_json(const nlohmann::json& j);

}  // namespace uda::cli
