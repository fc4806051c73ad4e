// The report pages in a real browser: Debian's chromium, headless, loads a
// generated page from disk (offline: everything is inline) and dumps the
// DOM after the scripts ran. The page itself records every script error,
// unhandled rejection and console error into #uda-errors and, after
// drawing, reads its canvases back (getImageData) and writes a verdict into
// #uda-check: canvases, blank ones, errors. chromium's own log of console
// messages (--enable-logging=stderr) must be empty too. A missing chromium
// is a failure, not a skip: scripts/install-deps.sh installs it.
#include "launcher/compare_report.h"
#include "launcher/report.h"

#include "tests/launcher/dg_fixture.h"
#include "tests/launcher/report_fixture.h"
#include "tests/support/test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <sstream>

namespace fs = std::filesystem;
using uda::test::read_text;
using uda::test::TempDir;
using uda::test::write_text;

namespace {

// chromium in PATH (UDA_CHROMIUM overrides), "" when there is none.
std::string find_chromium() {
  if (const char* c = std::getenv("UDA_CHROMIUM"); c && *c) return c;
  std::istringstream path(std::getenv("PATH") ? std::getenv("PATH") : "");
  for (std::string dir; std::getline(path, dir, ':');)
    if (!dir.empty() && fs::exists(fs::path(dir) / "chromium")) return (fs::path(dir) / "chromium").string();
  return "";
}

struct Loaded {
  std::string dom, log;
  int canvases = -1, blank = -1, errors = -1;
  std::string error_text;  // #uda-errors
};

std::string between(const std::string& s, const std::string& open, const std::string& close) {
  const size_t a = s.find(open);
  if (a == std::string::npos) return "";
  const size_t b = s.find(close, a + open.size());
  return s.substr(a + open.size(), b == std::string::npos ? std::string::npos : b - a - open.size());
}

int attribute(const std::string& element, const std::string& name) {
  const std::string v = between(element, name + "=\"", "\"");
  return v.empty() ? -1 : std::atoi(v.c_str());
}

// Loads `page` in headless chromium; the verdict of the page's self-check.
Loaded load(const std::string& page) {
  Loaded r;
  const std::string chromium = find_chromium();
  if (chromium.empty()) {
    ADD_FAILURE() << "chromium not found in PATH: install it (scripts/install-deps.sh installs Debian's chromium) "
                     "or set UDA_CHROMIUM";
    return r;
  }
  TempDir profile;
  const auto c = uda::test::run_command({"timeout", "120", chromium, "--headless=new", "--disable-gpu", "--no-sandbox",
                                         "--no-first-run", "--user-data-dir=" + profile.path(),
                                         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
                                         "--window-size=1200,900", "--dump-dom",
                                         "file://" + fs::absolute(page).string()});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  r.dom = c.out;
  r.log = c.err;
  const std::string check = between(c.out, "<p id=\"uda-check\"", ">");
  r.canvases = attribute(check, "data-canvases");
  r.blank = attribute(check, "data-blank");
  r.errors = attribute(check, "data-errors");
  r.error_text = between(c.out, "<pre id=\"uda-errors\"", "</pre>");
  return r;
}

// Lines of chromium's log that are console messages of the page.
std::string console_lines(const std::string& log) {
  std::istringstream in(log);
  std::string out;
  for (std::string line; std::getline(in, line);)
    if (line.find(":CONSOLE") != std::string::npos) out += line + "\n";
  return out;
}

size_t chart_count(const std::string& page) {
  const std::string open = "<script type=\"application/json\" id=\"uda-data\">";
  const std::string html = read_text(page);
  return nlohmann::json::parse(between(html, open, "</script>"))["charts"].size();
}

void expect_drawn_without_errors(const std::string& page) {
  const Loaded r = load(page);
  EXPECT_EQ(r.errors, 0) << r.error_text;
  EXPECT_EQ(console_lines(r.log), "");
  EXPECT_EQ(r.canvases, static_cast<int>(chart_count(page)));
  EXPECT_GT(r.canvases, 0);
  EXPECT_EQ(r.blank, 0);
}

}  // namespace

TEST(ReportBrowserTest, RunPageDrawsEveryChartWithoutErrors) {
  TempDir t;
  uda::test::write_seg_run(t / "run");
  uda::test::write_seg_pictures(t / "run", 12);
  expect_drawn_without_errors(uda::cli::write_report(t / "run"));
}

TEST(ReportBrowserTest, LiveDomainGeneralizationRunPageDrawsWithoutErrors) {
  TempDir t;
  uda::test::FakeDgRun r;
  r.evals = {{50, {0.5, 0.6}, {0.55, 0.65}}, {100, {0.7, 0.8}, {0.75, 0.85}}};
  r.domains = {"art", "photo"};
  uda::test::write_dg_run(t / "dg", r);
  uda::test::write_dg_pictures(t / "dg", 100);
  // A --watch page whose reload comes after the virtual time budget.
  expect_drawn_without_errors(uda::cli::write_report(t / "dg", "", 60));
}

TEST(ReportBrowserTest, ComparisonPageListsEveryRunOfTheSweep) {
  TempDir t;
  uda::test::write_lr_sweep(t / "sweep");
  const std::string page = uda::cli::write_comparison({t / "sweep"}, "", 0);
  expect_drawn_without_errors(page);
  const Loaded r = load(page);
  for (int k = 0; k < 4; ++k) {
    const std::string run = "run" + std::to_string(k);
    EXPECT_NE(r.dom.find("<a href=\"../" + run + "/report/index.html\">" + run + "</a>"), std::string::npos) << run;
  }
  EXPECT_NE(r.dom.find("optimizer.lr=0.0001 train.seed=2"), std::string::npos);
}

// The checks bite: a script error, a console error and a blank canvas are seen.
TEST(ReportBrowserTest, SelfCheckSeesErrorsAndBlankCanvases) {
  TempDir t;
  uda::test::write_seg_run(t / "run");
  const std::string page = uda::cli::write_report(t / "run");
  std::string html = read_text(page);
  // Before the last script (report.js, which draws and then checks), after checks.js.
  const std::string broken = "<script>document.body.appendChild(Object.assign(document.createElement('canvas'), "
                             "{width: 50, height: 50})); console.error('seen'); undefined_function();</script>\n";
  html.insert(html.rfind("<script>"), broken);
  write_text(t / "broken.html", html);
  const Loaded r = load(t / "broken.html");
  EXPECT_EQ(r.errors, 2) << r.error_text;
  EXPECT_NE(r.error_text.find("undefined_function"), std::string::npos) << r.error_text;
  EXPECT_NE(r.error_text.find("console.error: seen"), std::string::npos) << r.error_text;
  EXPECT_EQ(r.blank, 1);
  EXPECT_EQ(r.canvases, static_cast<int>(chart_count(page)) + 1);
  EXPECT_NE(console_lines(r.log), "");
}

// The controls, driven by a script after the page drew: the log-scale
// toggle, the smoothing slider, drag-to-zoom and double-click to zoom out.
TEST(ReportBrowserTest, ControlsChangeTheChartsWithoutErrors) {
  TempDir t;
  uda::test::write_seg_run(t / "run");
  std::string html = read_text(uda::cli::write_report(t / "run"));
  const std::string drive = R"js(<script>
(() => {
  const canvas = document.querySelector('#chart-loss canvas');
  const chart = Chart.getChart(canvas);
  const seen = [];
  document.querySelector('#chart-loss input[type=checkbox]').click();
  seen.push(`y=${chart.options.scales.y.type}`);
  const slider = document.querySelector('#uda-toolbar input[type=range]');
  slider.value = '0';
  slider.dispatchEvent(new Event('input'));
  seen.push(`datasets=${chart.data.datasets.length}`);
  const r = canvas.getBoundingClientRect();
  const mouse = (target, type, f) => target.dispatchEvent(new MouseEvent(type,
      { clientX: r.left + f * r.width, clientY: r.top + r.height / 2, button: 0, bubbles: true }));
  mouse(canvas, 'mousedown', 0.4);
  mouse(canvas, 'mousemove', 0.7);
  mouse(window, 'mouseup', 0.7);
  seen.push(`zoomed=${chart.options.scales.x.min > 2 && chart.options.scales.x.max < 12}`);
  mouse(canvas, 'dblclick', 0.5);
  seen.push(`unzoomed=${chart.options.scales.x.min === undefined}`);
  const p = document.createElement('p');
  p.id = ['driven', 'result'].join('-');  // not spelled out: the dump has this script's text too
  p.textContent = seen.join(' ');
  document.body.appendChild(p);
  UdaChecks.verdict();
})();
</script>
)js";
  html.insert(html.rfind("</body>"), drive);
  write_text(t / "driven.html", html);
  const Loaded r = load(t / "driven.html");
  EXPECT_EQ(between(r.dom, "<p id=\"driven-result\">", "</p>"), "y=logarithmic datasets=3 zoomed=true unzoomed=true");
  EXPECT_EQ(r.errors, 0) << r.error_text;
  EXPECT_EQ(r.blank, 0);
}
