#include "launcher/pictures_section.h"

#include "core/error.h"
#include "core/fs.h"
#include "launcher/html.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <utility>
#include <vector>

namespace fs = std::filesystem;
using nlohmann::json;

namespace uda::cli {

namespace {

// The newest report_images/iter_<N> with an index.json (the worker writes it last).
std::optional<fs::path> newest_images_dir(const fs::path& run) {
  std::optional<fs::path> best;
  long long best_iter = -1;
  std::error_code ec;
  if (!fs::is_directory(run / "report_images")) return best;
  for (const auto& e : fs::directory_iterator(run / "report_images", ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("iter_", 0) != 0 || !fs::exists(e.path() / "index.json")) continue;
    const long long iter = std::atoll(name.c_str() + 5);
    if (iter > best_iter) {
      best_iter = iter;
      best = e.path();
    }
  }
  return best;
}

// Every report_images/iter_<N> with an index.json, by iteration.
std::vector<std::pair<long long, fs::path>> images_dirs(const fs::path& run) {
  std::vector<std::pair<long long, fs::path>> out;
  std::error_code ec;
  if (!fs::is_directory(run / "report_images")) return out;
  for (const auto& e : fs::directory_iterator(run / "report_images", ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("iter_", 0) != 0 || !fs::exists(e.path() / "index.json")) continue;
    out.emplace_back(std::atoll(name.c_str() + 5), e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string base64(const std::string& bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

// An <img> of a PNG of `dir` (named by the manifest; only a plain file name
// is accepted), or a note when it is missing.
std::string image(const fs::path& dir, const json& name, const std::string& alt) {
  if (!name.is_string()) return "<span class=\"dim\">none</span>";
  const fs::path file = dir / fs::path(name.get<std::string>()).filename();
  if (!fs::exists(file)) return "<span class=\"dim\">missing: " + html_escape(file.filename().string()) + "</span>";
  return "<img alt=\"" + html_escape(alt) + "\" src=\"data:image/png;base64," +
         base64(fs_util::read_file(file.string())) + "\">";
}

std::string palette_legend(const json& m) {
  const json& colours = m.value("palette", json::array());
  const json& names = m.value("classes", json::array());
  std::string html = "<div class=\"palette\">";
  for (size_t c = 0; c < colours.size(); ++c) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "#%02x%02x%02x", colours[c][0].get<int>(), colours[c][1].get<int>(),
                  colours[c][2].get<int>());
    html += "<span><span class=\"swatch\" style=\"background:" + std::string(hex) + "\"></span>" +
            html_escape(c < names.size() ? json_text(names[c]) : "class " + std::to_string(c)) + "</span>";
  }
  return html + "<span><span class=\"swatch\" style=\"background:#000\"></span>ignored (255)</span></div>\n";
}

std::string segmentation_table(const fs::path& dir, const json& m) {
  const json& rows = m.value("segmentation", json::array());
  if (rows.empty()) return "";
  const bool pseudo = std::any_of(rows.begin(), rows.end(), [](const json& r) { return r.contains("pseudo_label"); });
  std::string html = "<p>The first " + std::to_string(rows.size()) +
                     " evaluation image(s) of rank 0, labels in the palette below.</p>\n"
                     "<table class=\"samples\">\n<tr><th>image</th><th>ground truth</th><th>prediction</th>" +
                     std::string(pseudo ? "<th>pseudo-label</th>" : "") + "</tr>\n";
  for (const auto& r : rows) {
    html += "<tr><td>" + image(dir, r.value("image", json()), "image") + "</td><td>" +
            image(dir, r.value("ground_truth", json()), "ground truth") + "</td><td>" +
            image(dir, r.value("prediction", json()), "prediction") + "</td>";
    if (pseudo) html += "<td>" + image(dir, r.value("pseudo_label", json()), "pseudo-label") + "</td>";
    html += "</tr>\n";
  }
  return html + "</table>\n" + palette_legend(m);
}

std::string grids(const fs::path& dir, const json& m) {
  std::string html;
  for (const auto& g : m.value("grids", json::array())) {
    const std::string name = json_text(g.value("name", json("")));
    html += "<figure>" + image(dir, g.value("file", json()), name) + "<figcaption>" + html_escape(name) +
            "</figcaption></figure>\n";
  }
  return html;
}

// A confusion matrix as a table: rows true classes, columns predictions,
// each cell shaded by its share of the row (the class's recall on the diagonal).
std::string heat_map(const json& counts, const std::vector<std::string>& classes) {
  std::string html = "<table class=\"heatmap\">\n<tr><th>true \\ predicted</th>";
  for (const auto& c : classes) html += "<th>" + html_escape(c) + "</th>";
  html += "</tr>\n";
  for (size_t r = 0; r < counts.size(); ++r) {
    double total = 0;
    for (const auto& v : counts[r]) total += v.get<double>();
    html += "<tr><th>" + html_escape(r < classes.size() ? classes[r] : std::to_string(r)) + "</th>";
    for (const auto& v : counts[r]) {
      const double share = total > 0 ? v.get<double>() / total : 0;
      char style[96];
      std::snprintf(style, sizeof style, "background:rgba(31,119,180,%.3f);color:%s", share,
                    share > 0.6 ? "#fff" : "#222");
      html += "<td style=\"" + std::string(style) + "\">" + format_number(v.get<double>()) + "</td>";
    }
    html += "</tr>\n";
  }
  return html + "</table>\n";
}

// "env2_in" -> "<domain 2> in split", marked when domain 2 is a test domain.
std::pair<std::string, bool> set_label(const std::string& set, const json& m) {
  if (set.empty()) return {"validation set", true};
  const size_t us = set.rfind('_');
  if (set.rfind("env", 0) != 0 || us == std::string::npos) return {set, false};
  const int d = std::atoi(set.c_str() + 3);
  const json& domains = m.value("domains", json::array());
  const json& tests = m.value("test_domains", json::array());
  const bool test = std::find(tests.begin(), tests.end(), json(d)) != tests.end();
  const std::string name = d < static_cast<int>(domains.size()) ? json_text(domains[d]) : set.substr(0, us);
  return {name + " " + set.substr(us + 1) + " split" + (test ? " (test domain)" : ""), test};
}

std::string confusion_matrices(const json& m) {
  const json& sets = m.value("confusion", json::array());
  if (sets.empty()) return "";
  std::vector<std::string> classes;
  for (const auto& c : m.value("classes", json::array())) classes.push_back(json_text(c));
  std::string shown, others;
  for (const auto& s : sets) {
    const auto [label, test] = set_label(json_text(s.value("set", json(""))), m);
    (test ? shown : others) += "<h4>" + html_escape(label) + "</h4>\n" + heat_map(s.value("counts", json::array()), classes);
  }
  std::string html = "<h3>Confusion matrices</h3>\n<p>Counts; rows are the true classes, shaded by their share of "
                     "the row.</p>\n" + shown;
  if (!others.empty()) html += "<details><summary>The other splits</summary>\n" + others + "</details>\n";
  return html;
}

// The algorithm's grids of every evaluation (at most kMaxEvolution of them,
// evenly spaced, the first and the newest included), one row per
// iteration: how a generator's samples change during training. "" when
// fewer than two evaluations have grids.
constexpr size_t kMaxEvolution = 8;

std::string grids_through_training(const fs::path& run) {
  std::vector<std::pair<long long, std::pair<fs::path, json>>> rows;
  for (const auto& [iter, dir] : images_dirs(run)) {
    const json m = json::parse(fs_util::read_file((dir / "index.json").string()), nullptr, false);
    if (m.is_object() && m.contains("grids") && !m["grids"].empty()) rows.push_back({iter, {dir, m}});
  }
  if (rows.size() < 2) return "";
  std::vector<size_t> shown;
  if (rows.size() <= kMaxEvolution) {
    for (size_t i = 0; i < rows.size(); ++i) shown.push_back(i);
  } else {
    for (size_t k = 0; k < kMaxEvolution; ++k) shown.push_back(k * (rows.size() - 1) / (kMaxEvolution - 1));
  }
  std::string html = "<h3>The algorithm's pictures through training</h3>\n<table class=\"grids\">\n";
  for (size_t i : shown) {
    const auto& [iter, dm] = rows[i];
    html += "<tr><th>iteration " + std::to_string(iter) + "</th>";
    for (const auto& g : dm.second["grids"]) {
      const std::string name = json_text(g.value("name", json("")));
      html += "<td>" + image(dm.first, g.value("file", json()), name) + "<br><span class=\"dim\">" +
              html_escape(name) + "</span></td>";
    }
    html += "</tr>\n";
  }
  return html + "</table>\n";
}

}  // namespace

std::string pictures_section(const fs::path& run) {
  const auto dir = newest_images_dir(run);
  if (!dir) return "";
  const fs::path index = *dir / "index.json";
  const json m = json::parse(fs_util::read_file(index.string()), nullptr, false);
  if (!m.is_object())
    throw UserError("malformed JSON", index.string(), "delete the file; the worker writes it at the next evaluation");
  std::string html = "<h2>Pictures (evaluation at iteration " + json_text(m.value("iter", json("?"))) +
                     ")</h2>\n<div class=\"pictures\">\n";
  html += segmentation_table(*dir, m) + grids(*dir, m) + grids_through_training(run) + confusion_matrices(m);
  return html + "</div>\n<p class=\"dim\">From <code>" + html_escape(dir->string()) + "</code>.</p>\n";
}

}  // namespace uda::cli
