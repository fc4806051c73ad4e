// `uda report`: the page of one run (one self-contained file: Chart.js and
// the page's scripts inline, the charts as JSON data, the pictures as data:
// URIs), the comparison page of a sweep or of several runs, --watch, and the
// errors for missing or malformed inputs. That the pages draw in a browser
// is report_browser_test.cpp's part.
#include "launcher/compare_report.h"
#include "launcher/report.h"

#include "core/error.h"
#include "launcher/subprocess.h"
#include "tests/launcher/dg_fixture.h"
#include "tests/launcher/report_fixture.h"
#include "tests/support/test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

namespace fs = std::filesystem;
using nlohmann::json;
using uda::test::read_text;
using uda::test::TempDir;
using uda::test::write_text;

namespace {

// The page data: the JSON of <script type="application/json" id="uda-data">.
json page_data(const std::string& html) {
  const std::string open = "<script type=\"application/json\" id=\"uda-data\">";
  const size_t at = html.find(open);
  if (at == std::string::npos) return nullptr;
  const size_t start = at + open.size();
  return json::parse(html.substr(start, html.find("</script>", start) - start));
}

json chart(const json& data, const std::string& id) {
  for (const auto& c : data["charts"])
    if (c["id"] == id) return c;
  return nullptr;
}

std::vector<std::string> labels(const json& chart) {
  std::vector<std::string> out;
  for (const auto& s : chart["series"]) out.push_back(s["label"].get<std::string>());
  return out;
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST(ReportTest, RunPageIsOneSelfContainedFileWithChartJsInline) {
  TempDir t;
  uda::test::write_seg_run(t / "run");
  const std::string index = uda::cli::write_report(t / "run");
  EXPECT_EQ(fs::path(index), fs::canonical(t / "run") / "report" / "index.html");
  EXPECT_EQ(std::distance(fs::directory_iterator(t / "run/report"), fs::directory_iterator()), 1);  // no PNGs
  const std::string html = read_text(index);
  EXPECT_NE(html.find("Chart.js v3"), std::string::npos);  // Debian's chart.min.js, inlined
  EXPECT_NE(html.find("const UdaCharts"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find(" src=\"http"), std::string::npos);
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  const json data = page_data(html);
  ASSERT_TRUE(data.is_object());
  EXPECT_TRUE(data["live"].is_null());
}

TEST(ReportTest, ChartsCarryEveryLossLearningRateAndEvaluationSeries) {
  TempDir t;
  uda::test::write_seg_run(t / "run");
  const json data = page_data(read_text(uda::cli::write_report(t / "run")));
  const json loss = chart(data, "loss");
  EXPECT_EQ(labels(loss), (std::vector<std::string>{"loss_<x>", "loss_mix", "loss_seg"}));  // a record's key order
  EXPECT_TRUE(loss["log"].get<bool>());
  EXPECT_TRUE(loss["smooth"].get<bool>());
  EXPECT_EQ(loss["series"][1]["points"][2], json({6, nullptr}));  // loss_mix null at iteration 6: a gap
  EXPECT_EQ(loss["series"][2]["points"][0], json({2, 1.75}));
  EXPECT_EQ(labels(chart(data, "lr")), (std::vector<std::string>{"lr model", "lr model.head"}));
  const json eval = chart(data, "eval");
  EXPECT_EQ(labels(eval), (std::vector<std::string>{"mIoU", "accuracy"}));
  EXPECT_DOUBLE_EQ(eval["series"][0]["points"][2][1].get<double>(), 65.43);
  EXPECT_EQ(eval["y_max"], 100);
  // The series of a chart have different colours.
  EXPECT_NE(loss["series"][0]["colour"], loss["series"][1]["colour"]);
  // Per-class IoU of the last evaluation as bars (the absent class none), and over the evaluations.
  const json bars = chart(data, "per-class");
  EXPECT_EQ(bars["type"], "bar");
  EXPECT_EQ(bars["values"], json({80.0, 40.0, nullptr, 20.0}));
  EXPECT_EQ(bars["labels"][2], uda::test::report_classes()[2]);
  EXPECT_EQ(chart(data, "per-class-curves")["series"].size(), 4u);
  // Other values: step_time (smoothed) and eval_seconds (not).
  const json step = chart(data, "value-0"), eval_s = chart(data, "value-1");
  EXPECT_EQ(labels(step), std::vector<std::string>{"step_time"});
  EXPECT_TRUE(step["smooth"].get<bool>());
  EXPECT_EQ(labels(eval_s), std::vector<std::string>{"eval_seconds"});
  EXPECT_FALSE(eval_s["smooth"].get<bool>());
  // Every chart has its placeholder.
  const std::string html = read_text(t / "run/report/index.html");
  for (const auto& c : data["charts"])
    EXPECT_NE(html.find("id=\"chart-" + c["id"].get<std::string>() + "\""), std::string::npos) << c["id"];
}

TEST(ReportTest, PageHasLabelsFinalMetricsAndEscapesFileStrings) {
  TempDir t;
  uda::test::write_seg_run(t / "run");
  const std::string html = read_text(uda::cli::write_report(t / "run"));
  for (const char* s : {"<title>uda report: run</title>", "dacs", "mit_b0", "daformer", "adamw", "road", "sky",
                        "65.43", "81.20", "best miou over 3 evaluation(s): 65.43 % at iteration 12", "absent"})
    EXPECT_NE(html.find(s), std::string::npos) << s;
  // Strings from the files are escaped, in the HTML and in the page data.
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_EQ(html.find("loss_<x>"), std::string::npos);
  EXPECT_NE(html.find("loss_\\u003cx\\u003e"), std::string::npos);
  EXPECT_EQ(html.find("No evaluation yet"), std::string::npos);
}

TEST(ReportTest, RunWithoutEvaluationsStillGetsAPage) {
  TempDir t;
  uda::test::write_seg_run(t / "run", /*with_evals=*/false);
  const std::string out = t / "elsewhere/report";
  const std::string index = uda::cli::write_report(t / "run", out);
  EXPECT_EQ(index, out + "/index.html");
  const std::string html = read_text(index);
  EXPECT_NE(html.find("No evaluation yet"), std::string::npos);
  const json data = page_data(html);
  EXPECT_FALSE(chart(data, "loss").is_null());
  EXPECT_TRUE(chart(data, "eval").is_null());
  EXPECT_TRUE(chart(data, "per-class").is_null());
  EXPECT_EQ(html.find("id=\"chart-eval\""), std::string::npos);
}

TEST(ReportTest, DomainGeneralizationRunShowsEachDomainsAccuracy) {
  TempDir t;
  uda::test::FakeDgRun r;
  r.evals = {{50, {0.5, 0.6}, {0.55, 0.65}}, {100, {0.7, 0.8}, {0.75, 0.85}}};
  r.domains = {"art", "photo"};
  uda::test::write_dg_run(t / "dg", r);
  const json data = page_data(read_text(uda::cli::write_report(t / "dg")));
  const json domains = chart(data, "domains");
  EXPECT_EQ(labels(domains), (std::vector<std::string>{"art (test) in", "art (test) out", "photo in", "photo out"}));
  EXPECT_FALSE(domains["series"][0]["dash"].get<bool>());
  EXPECT_TRUE(domains["series"][1]["dash"].get<bool>());
  EXPECT_DOUBLE_EQ(domains["series"][3]["points"][1][1].get<double>(), 85.0);
}

TEST(ReportTest, PicturesOfTheNewestEvaluationAreInlined) {
  TempDir t;
  uda::test::write_seg_run(t / "run");
  uda::test::write_seg_pictures(t / "run", 8, 1);
  uda::test::write_seg_pictures(t / "run", 12, 2);
  const std::string html = read_text(uda::cli::write_report(t / "run"));
  EXPECT_NE(html.find("Pictures (evaluation at iteration 12)"), std::string::npos);
  // 2 rows of 4, the grid, and the grid of both evaluations through training.
  EXPECT_EQ(count(html, "src=\"data:image/png;base64,iVBORw0KGgo"), 2u * 4 + 1 + 2);
  EXPECT_NE(html.find("pseudo-label"), std::string::npos);
  EXPECT_NE(html.find("<figcaption>samples</figcaption>"), std::string::npos);
  EXPECT_NE(html.find("background:#804080"), std::string::npos);  // the palette's legend: road
  EXPECT_NE(html.find("&lt;script&gt;alert(1)"), std::string::npos);

  uda::test::write_dg_pictures(t / "run", 16);
  const std::string dg = read_text(uda::cli::write_report(t / "run"));
  EXPECT_NE(dg.find("Confusion matrices"), std::string::npos);
  EXPECT_NE(dg.find("art in split (test domain)"), std::string::npos);
  EXPECT_NE(dg.find("<details><summary>The other splits</summary>\n<h4>photo out split</h4>"), std::string::npos);
  EXPECT_NE(dg.find(">50</td>"), std::string::npos);
}

TEST(ReportTest, AlgorithmGridsOfEveryEvaluationAreShownInOrderOfIteration) {
  TempDir t;
  uda::test::write_seg_run(t / "run");
  uda::test::write_seg_pictures(t / "run", 12, 1);
  // One evaluation: no "through training" rows.
  EXPECT_EQ(read_text(uda::cli::write_report(t / "run")).find("through training"), std::string::npos);
  uda::test::write_seg_pictures(t / "run", 4, 1);
  uda::test::write_seg_pictures(t / "run", 8, 1);
  std::string html = read_text(uda::cli::write_report(t / "run"));
  const size_t section = html.find("The algorithm's pictures through training");
  ASSERT_NE(section, std::string::npos);
  const size_t r4 = html.find("<th>iteration 4</th>", section), r8 = html.find("<th>iteration 8</th>", section),
               r12 = html.find("<th>iteration 12</th>", section);
  ASSERT_NE(r4, std::string::npos);
  EXPECT_LT(r4, r8);
  EXPECT_LT(r8, r12);
  EXPECT_NE(r12, std::string::npos);
  // Many evaluations: 8 rows, the first and the newest among them.
  for (int iter = 16; iter <= 60; iter += 4) uda::test::write_seg_pictures(t / "run", iter, 1);
  html = read_text(uda::cli::write_report(t / "run"));
  EXPECT_EQ(count(html.substr(html.find("through training")), "<th>iteration "), 8u);
  EXPECT_NE(html.find("<th>iteration 4</th>"), std::string::npos);
  EXPECT_NE(html.find("<th>iteration 60</th>"), std::string::npos);
}

TEST(ReportTest, MalformedMetricsLineIsAUserErrorNamingFileAndLine) {
  TempDir t;
  uda::test::write_seg_run(t / "run");
  write_text(t / "run/metrics.jsonl", "{\"iter\": 2, \"loss_seg\": 1.0}\n{\"iter\": 4, \"loss_seg\": \n"
                                       "{\"iter\": 6, \"loss_seg\": 0.5}\n");
  try {
    uda::cli::write_report(t / "run");
    FAIL() << "no UserError";
  } catch (const uda::UserError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("metrics.jsonl:2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("line 2"), std::string::npos) << msg;
  }
  // A record without "iter" is malformed too.
  write_text(t / "run/metrics.jsonl", "{\"iter\": 2}\n{\"loss_seg\": 1.0}\n");
  try {
    uda::cli::write_report(t / "run");
    FAIL() << "no UserError";
  } catch (const uda::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("metrics.jsonl:2"), std::string::npos) << e.what();
  }
}

TEST(ReportTest, IncompleteLastLineOfARunningTrainerIsLeftOut) {
  TempDir t;
  uda::test::write_seg_run(t / "run");
  write_text(t / "run/metrics.jsonl", read_text(t / "run/metrics.jsonl") + "{\"iter\": 14, \"loss_se");
  const std::string html = read_text(uda::cli::write_report(t / "run"));
  EXPECT_NE(html.find("incomplete"), std::string::npos);
  EXPECT_NE(html.find("Iteration 12:"), std::string::npos);  // the last complete record
  EXPECT_NE(html.find("not finished: last logged iteration 12 of 12"), std::string::npos);
}

TEST(ReportTest, RecordsLoggedAgainAfterAResumeReplaceTheEarlierOnes) {
  TempDir t;
  uda::test::write_seg_run(t / "run");
  write_text(t / "run/metrics.jsonl", "{\"iter\": 2, \"loss_seg\": 1.0}\n{\"iter\": 4, \"loss_seg\": 0.9}\n"
                                       "{\"iter\": 4, \"loss_seg\": 0.7}\n{\"iter\": 6, \"loss_seg\": 0.5}\n");
  const std::string html = read_text(uda::cli::write_report(t / "run"));
  EXPECT_EQ(chart(page_data(html), "loss")["series"][0]["points"], json({{2, 1.0}, {4, 0.7}, {6, 0.5}}));
  EXPECT_NE(html.find("logged again"), std::string::npos);
}

TEST(ReportTest, MissingRunDirectoryOrMetricsIsAUserError) {
  TempDir t;
  try {
    uda::cli::write_report(t / "nope");
    FAIL() << "no UserError";
  } catch (const uda::UserError& e) {
    EXPECT_NE(std::string(e.what()).find(t / "nope"), std::string::npos) << e.what();
  }
  fs::create_directories(t / "empty");
  try {
    uda::cli::write_report(t / "empty");
    FAIL() << "no UserError";
  } catch (const uda::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("metrics.jsonl"), std::string::npos) << e.what();
  }
}

TEST(CompareReportTest, SweepPageListsEveryRunWithALinkToItsPage) {
  TempDir t;
  uda::test::write_lr_sweep(t / "sweep");
  const std::string index = uda::cli::write_comparison({t / "sweep"}, "", 0);
  EXPECT_EQ(fs::path(index), fs::path(t / "sweep/report/index.html"));
  const std::string html = read_text(index);
  EXPECT_NE(html.find("Comparison: sweep lr-search"), std::string::npos);
  for (int k = 0; k < 4; ++k) {
    const std::string run = "run" + std::to_string(k);
    EXPECT_NE(html.find("<a href=\"../" + run + "/report/index.html\">" + run + "</a>"), std::string::npos) << run;
    EXPECT_TRUE(fs::exists(t / "sweep" + "/" + run + "/report/index.html")) << run;
  }
  EXPECT_NE(html.find("<td>running</td>"), std::string::npos);  // run3 has no DONE
  // The varied key and the seed are columns.
  EXPECT_NE(html.find("<th>optimizer.lr</th><th>train.seed</th>"), std::string::npos);
}

TEST(CompareReportTest, CurvesAreOverlaidColouredByGroupAndDashedBySeed) {
  TempDir t;
  uda::test::write_lr_sweep(t / "sweep");
  const json data = page_data(read_text(uda::cli::write_comparison({t / "sweep"}, "", 0)));
  ASSERT_EQ(data["charts"].size(), 2u);  // mIoU, loss_seg
  const json miou = chart(data, "curve-0"), loss = chart(data, "curve-1");
  EXPECT_EQ(labels(miou), (std::vector<std::string>{"optimizer.lr=0.001 train.seed=1", "optimizer.lr=0.001 train.seed=2",
                                                    "optimizer.lr=0.0001 train.seed=1",
                                                    "optimizer.lr=0.0001 train.seed=2"}));
  const json& s = miou["series"];
  EXPECT_EQ(s[0]["colour"], s[1]["colour"]);
  EXPECT_NE(s[0]["colour"], s[2]["colour"]);
  EXPECT_EQ(s[2]["colour"], s[3]["colour"]);
  EXPECT_FALSE(s[0]["dash"].get<bool>());
  EXPECT_TRUE(s[1]["dash"].get<bool>());
  EXPECT_DOUBLE_EQ(s[0]["points"][1][1].get<double>(), 100 * (0.3 + 0.1 + 0.01 + 0.1));
  EXPECT_TRUE(loss["log"].get<bool>());
  EXPECT_EQ(loss["series"].size(), 4u);
}

TEST(CompareReportTest, CollectTableGroupsTheFinishedRunsOverSeeds) {
  TempDir t;
  uda::test::write_lr_sweep(t / "sweep");
  const std::string html = read_text(uda::cli::write_comparison({t / "sweep"}, "", 0));
  EXPECT_NE(html.find("Selection oracle, metric miou"), std::string::npos);
  // lr 1e-3: runs 0 and 1 (51 and 52 %); lr 1e-4: run 2 only (run 3 unfinished).
  EXPECT_NE(html.find("<td>0.001</td><td>51.50 ± 0.71</td><td>2</td><td>*</td>"), std::string::npos) << html;
  EXPECT_NE(html.find("<td>0.0001</td><td>42.00 ± n/a</td><td>1</td>"), std::string::npos);
  EXPECT_NE(html.find("run3: left out (not finished)"), std::string::npos);
}

TEST(CompareReportTest, DomainGeneralizationSweepGetsDomainBedsTables) {
  TempDir t;
  for (int trial = 0; trial < 2; ++trial) {
    uda::test::FakeDgRun r;
    r.trial_seed = trial;
    r.evals = {{50, {0.5, 0.6}, {0.55, 0.65}}, {100, {0.7, 0.8}, {0.75, 0.85}}};
    r.domains = {"art", "photo"};
    uda::test::write_dg_run(t / "sweep/run" + std::to_string(trial), r);
  }
  const std::string html = read_text(uda::cli::write_comparison({t / "sweep"}, "", 0));
  EXPECT_NE(html.find("Model selection: training-domain validation set"), std::string::npos) << html;
  EXPECT_NE(html.find("Model selection: test-domain validation set (oracle)"), std::string::npos);
  EXPECT_NE(html.find("<h4>RotatedFMNIST</h4>"), std::string::npos);
  EXPECT_NE(html.find("<th>art</th>"), std::string::npos);
  // The two trials are one group (one colour), the second dashed.
  const json s = chart(page_data(html), "curve-0")["series"];
  EXPECT_EQ(s[0]["colour"], s[1]["colour"]);
  EXPECT_TRUE(s[1]["dash"].get<bool>());
}

TEST(CompareReportTest, SeveralRunDirectoriesNeedAnOutputDirectory) {
  TempDir t;
  uda::test::write_lr_sweep(t / "sweep");
  EXPECT_THROW(uda::cli::write_comparison({t / "sweep/run0", t / "sweep/run2"}, "", 0), uda::UserError);
  const std::string html =
      read_text(uda::cli::write_comparison({t / "sweep/run0", t / "sweep/run2"}, t / "cmp", 0));
  EXPECT_NE(html.find("Comparison: 2 runs"), std::string::npos);
  EXPECT_NE(html.find("<a href=\"../sweep/run2/report/index.html\">run2</a>"), std::string::npos);
  EXPECT_THROW(uda::cli::write_comparison({t / "sweep/run0", t / "nope"}, t / "cmp", 0), uda::UserError);
}

TEST(ReportCli, MissingRunDirectoryExitsTwoWithOneErrorLine) {
  TempDir t;
  const auto r = uda::test::run_uda({"report", t / "nope"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("uda: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("nope"), std::string::npos) << r.err;
}

TEST(ReportCli, PrintsThePathOfTheIndexPage) {
  TempDir t;
  uda::test::write_seg_run(t / "run");
  const auto r = uda::test::run_uda({"report", t / "run", "--out", t / "out"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, t / "out" + "/index.html\n");
  uda::test::write_lr_sweep(t / "sweep");
  const auto s = uda::test::run_uda({"report", t / "sweep"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(s.out, t / "sweep/report/index.html\n");
}

TEST(ReportCli, WatchOfAFinishedRunWritesOnePageThatDoesNotReload) {
  TempDir t;
  uda::test::write_seg_run(t / "run");
  write_text(t / "run/DONE", "12\n");
  const auto r = uda::test::run_uda({"report", "--watch", "--interval", "1", t / "run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, fs::canonical(t / "run").string() + "/report/index.html\n");
  EXPECT_TRUE(page_data(read_text(t / "run/report/index.html"))["live"].is_null());
}

TEST(ReportCli, WatchRewritesAReloadingPageUntilTheRunFinishes) {
  TempDir t;
  uda::test::write_seg_run(t / "run");
  const pid_t pid = uda::cli::spawn_logged({UDA_BINARY, "report", "--watch", "--interval", "1", t / "run"}, t / "log");
  const std::string index = t / "run/report/index.html";
  auto wait_for = [](const std::function<bool()>& done) {  // up to 20 s
    for (int i = 0; i < 200; ++i, std::this_thread::sleep_for(std::chrono::milliseconds(100)))
      if (done()) return true;
    return false;
  };
  ASSERT_TRUE(wait_for([&] { return fs::exists(index); })) << read_text(t / "log");
  const std::string live = read_text(index);
  EXPECT_EQ(page_data(live)["live"], json({{"interval_s", 1}}));
  EXPECT_NE(live.find("uda report --watch</code> rewrites this page every 1 s"), std::string::npos);
  // A new record shows up on the next page; DONE ends the watch with a page that no longer reloads.
  write_text(t / "run/metrics.jsonl", read_text(t / "run/metrics.jsonl") + "{\"iter\": 14, \"loss_seg\": 0.25}\n");
  EXPECT_TRUE(wait_for([&] { return read_text(index).find("Iteration 14:") != std::string::npos; }));
  write_text(t / "run/DONE", "14\n");
  int status = -1;
  if (!wait_for([&] { return waitpid(pid, &status, WNOHANG) == pid; })) {
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "--watch did not end after DONE: " << read_text(t / "log");
  }
  EXPECT_EQ(uda::cli::exit_code_of(status), 0) << read_text(t / "log");
  EXPECT_TRUE(page_data(read_text(index))["live"].is_null());
  EXPECT_NE(read_text(t / "log").find("the page no longer reloads"), std::string::npos);
}
