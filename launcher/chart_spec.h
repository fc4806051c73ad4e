// What a chart of a report page shows, as the page's JSON data: the page's
// script (launcher/web/charts.js) draws each spec with Chart.js into its
// placeholder element.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace uda::cli {

struct ChartSeries {
  std::string label;
  std::string colour;  // "#rrggbb"
  bool dash = false;
  std::vector<std::pair<double, double>> points;  // (x, y) by x; a y that is NaN is a gap
};

struct LineChart {
  std::string id;  // unique on the page; the placeholder is #chart-<id>
  std::string x_label = "iteration", y_label, unit;
  bool log_toggle = false;  // offers a log-scale y axis
  bool smooth = false;      // follows the page's smoothing slider
  bool small = false;       // a small chart of a grid
  bool legend = true;
  std::optional<double> y_min, y_max;
  std::vector<ChartSeries> series;
};

// Horizontal bars, one per label, from 0 to x_max.
struct BarChart {
  std::string id, x_label, unit, colour;
  double x_max = 100;
  std::vector<std::string> labels;
  std::vector<double> values;  // NaN: no bar
};

// Whether any series has a finite value.
bool has_values(const LineChart& c);

nlohmann::json to_json(const LineChart& c);
nlohmann::json to_json(const BarChart& c);

// The element the page's script draws chart `id` into.
std::string chart_placeholder(const std::string& id);

// The colour of the i-th series or group: matplotlib's tab10, then hues a
// golden angle apart.
std::string series_colour(size_t i);

}  // namespace uda::cli
