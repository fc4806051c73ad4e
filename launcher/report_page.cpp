#include "launcher/report_page.h"

#include "launcher/chart_spec.h"
#include "launcher/html.h"
#include "launcher/report_assets.h"

#include <ctime>

namespace uda::cli {

namespace {

std::string local_time_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S", &tm);
  return b;
}

std::string live_notice(int interval_s) {
  return "<p class=\"live\">Live view: <code>uda report --watch</code> rewrites this page every " +
         std::to_string(interval_s) + " s while training runs, and the page reloads itself. Written " +
         local_time_now() + ".</p>\n";
}

}  // namespace

std::string script_safe_json(const nlohmann::json& j) {
  const std::string text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '<': out += "\\u003c"; break;
      case '>': out += "\\u003e"; break;
      case '&': out += "\\u0026"; break;
      default: out += c;
    }
  }
  return out;
}

void ReportBody::line_chart(const std::string& heading, const LineChart& c, const std::string& when_empty) {
  html += "<h2>" + heading + "</h2>\n";
  if (has_values(c))
    line_chart_only(c);
  else
    html += "<p>" + when_empty + "</p>\n";
}

void ReportBody::line_chart_only(const LineChart& c) {
  html += chart_placeholder(c.id);
  charts.push_back(to_json(c));
}

void ReportBody::bar_chart(const BarChart& c) {
  html += chart_placeholder(c.id);
  charts.push_back(to_json(c));
}

std::string report_page(const std::string& title, const ReportBody& body, int live_interval_s) {
  nlohmann::json data{{"charts", body.charts}, {"live", nullptr}};
  if (live_interval_s > 0) data["live"] = {{"interval_s", live_interval_s}};
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
                     html_escape(title) + "</title>\n<style>\n" + report_css() + "</style>\n</head>\n<body>\n";
  html += "<pre id=\"uda-errors\" hidden></pre>\n<div id=\"uda-toolbar\"></div>\n";
  if (live_interval_s > 0) html += live_notice(live_interval_s);
  html += body.html;
  html += "<noscript><p>The charts are drawn by JavaScript, which is off.</p></noscript>\n";
  html += "<p id=\"uda-check\" hidden></p>\n";
  html += "<script type=\"application/json\" id=\"uda-data\">" + script_safe_json(data) + "</script>\n";
  for (const auto& script : report_scripts()) html += "<script>\n" + script + "\n</script>\n";
  return html + "</body>\n</html>\n";
}

}  // namespace uda::cli
