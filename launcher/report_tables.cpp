#include "launcher/report_tables.h"

#include "launcher/html.h"

namespace uda::cli {

namespace {

std::string row(const std::vector<std::string>& cells, const char* tag = "td") {
  std::string html = "<tr>";
  for (const auto& c : cells) html += std::string("<") + tag + ">" + c + "</" + tag + ">";
  return html + "</tr>\n";
}

std::string dg_table_html(const nlohmann::json& t) {
  std::vector<std::string> head{"Algorithm"};
  for (const auto& c : t["columns"]) head.push_back(html_escape(json_text(c)));
  head.push_back("Avg");
  std::string html = "<h4>" + html_escape(json_text(t["title"])) + "</h4>\n<table>\n" + row(head, "th");
  for (const auto& r : t["rows"]) {
    std::vector<std::string> cells{html_escape(json_text(r["algorithm"]))};
    for (const auto& c : r["cells"]) cells.push_back(html_escape(json_text(c["text"])));
    cells.push_back(html_escape(json_text(r["avg_text"])));
    html += row(cells);
  }
  return html + "</table>\n";
}

std::string notes_list(const std::vector<std::string>& notes) {
  if (notes.empty()) return "";
  std::string html = "<details><summary>" + std::to_string(notes.size()) + " note(s)</summary>\n<ul>\n";
  for (const auto& n : notes) html += "<li>" + html_escape(n) + "</li>\n";
  return html + "</ul>\n</details>\n";
}

}  // namespace

std::string collect_html(const CollectResult& r, const std::function<std::string(const std::string&)>& run_link) {
  std::string html = "<p>Selection " + html_escape(r.select) + ", metric " + html_escape(r.metric) +
                     " (%, mean ± sample std over seeds); * marks the best group of its task.</p>\n<table>\n";
  std::vector<std::string> head;
  for (const auto& k : r.task_keys) head.push_back(html_escape(k));
  for (const auto& k : r.hparam_keys) head.push_back(html_escape(k));
  for (const char* h : {"mean ± std", "n", "best", "runs"}) head.push_back(h);
  html += row(head, "th");
  for (const auto& g : r.groups) {
    std::vector<std::string> cells;
    for (const auto& k : r.task_keys) cells.push_back(html_escape(json_text(g.task[k])));
    for (const auto& k : r.hparam_keys) cells.push_back(html_escape(json_text(g.hparams[k])));
    cells.push_back(format_percent(g.mean) + " ± " + (g.std ? format_percent(*g.std) : std::string("n/a")));
    cells.push_back(std::to_string(g.values.size()));
    cells.push_back(g.selected ? "*" : "");
    std::string links;
    for (const auto& dir : g.runs) links += (links.empty() ? "" : " ") + run_link(dir);
    cells.push_back(links);
    html += row(cells);
  }
  return html + "</table>\n" + notes_list(r.notes);
}

std::string dg_html(const DgReport& r) {
  const nlohmann::json j = dg_json(r);
  std::string html = "<h3>Model selection: " + html_escape(json_text(j["method"])) + "</h3>\n<p>" +
                     std::to_string(r.records) + " evaluation record(s); accuracy (%), mean ± standard error over "
                     "trials, as DomainBed's collect_results.</p>\n";
  for (const auto& t : j["tables"]) html += dg_table_html(t);
  html += dg_table_html(j["averages"]);
  return html + notes_list(r.notes);
}

}  // namespace uda::cli
