#include "launcher/chart_spec.h"

#include "launcher/html.h"

#include <cmath>
#include <cstdio>

namespace uda::cli {

namespace {

nlohmann::json value_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

std::string hex(double r, double g, double b) {
  char s[8];
  std::snprintf(s, sizeof s, "#%02x%02x%02x", static_cast<int>(std::lround(255 * r)),
                static_cast<int>(std::lround(255 * g)), static_cast<int>(std::lround(255 * b)));
  return s;
}

// HSL (hue in degrees, saturation and lightness in [0, 1]) to "#rrggbb".
std::string hsl_hex(double h, double s, double l) {
  const double c = (1 - std::abs(2 * l - 1)) * s;
  const double hp = std::fmod(h, 360.0) / 60;
  const double x = c * (1 - std::abs(std::fmod(hp, 2.0) - 1));
  double r = 0, g = 0, b = 0;
  if (hp < 1) r = c, g = x;
  else if (hp < 2) r = x, g = c;
  else if (hp < 3) g = c, b = x;
  else if (hp < 4) g = x, b = c;
  else if (hp < 5) r = x, b = c;
  else r = c, b = x;
  const double m = l - c / 2;
  return hex(r + m, g + m, b + m);
}

}  // namespace

bool has_values(const LineChart& c) {
  for (const auto& s : c.series)
    for (const auto& p : s.points)
      if (std::isfinite(p.second)) return true;
  return false;
}

nlohmann::json to_json(const LineChart& c) {
  nlohmann::json series = nlohmann::json::array();
  for (const auto& s : c.series) {
    nlohmann::json points = nlohmann::json::array();
    for (const auto& [x, y] : s.points) points.push_back({x, value_or_null(y)});
    series.push_back({{"label", s.label}, {"colour", s.colour}, {"dash", s.dash}, {"points", std::move(points)}});
  }
  nlohmann::json j{{"id", c.id},         {"type", "line"},          {"x_label", c.x_label},
                   {"y_label", c.y_label}, {"unit", c.unit},          {"log", c.log_toggle},
                   {"smooth", c.smooth},   {"legend", c.legend},      {"series", std::move(series)}};
  if (c.small) j["size"] = "small";
  if (c.y_min) j["y_min"] = *c.y_min;
  if (c.y_max) j["y_max"] = *c.y_max;
  return j;
}

nlohmann::json to_json(const BarChart& c) {
  nlohmann::json values = nlohmann::json::array();
  for (double v : c.values) values.push_back(value_or_null(v));
  return {{"id", c.id},         {"type", "bar"},   {"x_label", c.x_label}, {"unit", c.unit},
          {"colour", c.colour}, {"x_max", c.x_max}, {"labels", c.labels},   {"values", std::move(values)}};
}

std::string chart_placeholder(const std::string& id) {
  return "<div class=\"chart\" id=\"chart-" + html_escape(id) + "\"></div>\n";
}

std::string series_colour(size_t i) {
  static const char* kTab10[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  if (i < 10) return kTab10[i];
  return hsl_hex(static_cast<double>(i) * 137.508, 0.65, 0.45);
}

}  // namespace uda::cli
