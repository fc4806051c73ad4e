// `uda report`: plots decoded back with libpng (sizes, drawn series colours,
// bar lengths), the HTML page (labels, final metrics, escaping) and the
// errors for missing or malformed inputs.
#include "launcher/report.h"

#include "core/error.h"
#include "tests/support/test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <png.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace fs = std::filesystem;
using nlohmann::json;
using uda::cli::Rgb;
using uda::test::read_text;
using uda::test::TempDir;
using uda::test::write_text;

namespace {

struct Decoded {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;

  Rgb at(int x, int y) const {
    const size_t i = (static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)) * 3;
    return {rgb[i], rgb[i + 1], rgb[i + 2]};
  }
  size_t count(Rgb c) const {
    size_t n = 0;
    for (size_t i = 0; i + 2 < rgb.size(); i += 3) n += rgb[i] == c.r && rgb[i + 1] == c.g && rgb[i + 2] == c.b;
    return n;
  }
  size_t count_in_row(int y, Rgb c) const {
    size_t n = 0;
    for (int x = 0; x < width; ++x) n += at(x, y) == c;
    return n;
  }
};

// Decodes with libpng itself (not with the code under test).
Decoded decode(const std::string& path) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  Decoded d;
  if (!png_image_begin_read_from_file(&image, path.c_str())) {
    ADD_FAILURE() << path << ": " << image.message;
    return d;
  }
  image.format = PNG_FORMAT_RGB;
  d.width = static_cast<int>(image.width);
  d.height = static_cast<int>(image.height);
  d.rgb.resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, d.rgb.data(), 0, nullptr)) {
    ADD_FAILURE() << path << ": " << image.message;
    png_image_free(&image);
    return {};
  }
  return d;
}

const std::vector<std::string> kClasses{"road", "car", "<script>alert(1)</script>", "sky"};

// A run directory as the trainer writes it: 6 logged steps (one loss value
// null), 3 evaluations, the last with an absent class.
void write_run(const std::string& dir, bool with_evals = true) {
  write_text(dir + "/config.json",
             json{{"algorithm", {{"name", "dacs"}}},
                  {"model", {{"backbone", {{"type", "mit_b0"}}}, {"head", {{"type", "daformer"}}}}},
                  {"data", {{"batch_per_rank", 4}}},
                  {"optimizer", {{"type", "adamw"}, {"lr", 6e-4}}},
                  {"train", {{"max_iters", 12}}}}
                 .dump(2));
  std::string metrics;
  for (int i = 1; i <= 6; ++i) {
    json j{{"iter", 2 * i},
           {"loss_seg", 2.0 - 0.25 * i},
           {"loss_mix", i == 3 ? json(nullptr) : json(0.1 * i)},
           {"loss_<x>", 0.3},
           {"data_time", 0.01},
           {"step_time", 0.3},
           // As the trainer names parameter groups; model.norm has model's values.
           {"lr",
            {{"model", 6e-4 * (1 - i / 12.0)}, {"model.head", 6e-3 * (1 - i / 12.0)}, {"model.norm", 6e-4 * (1 - i / 12.0)}}}};
    metrics += j.dump() + "\n";
  }
  write_text(dir + "/metrics.jsonl", metrics);
  if (!with_evals) return;
  std::string evals;
  evals += json{{"iter", 4}, {"miou", 0.30}, {"accuracy", 0.60}, {"classes", kClasses},
                {"per_class_iou", {0.5, 0.2, nullptr, 0.2}}}
               .dump() +
           "\n";
  evals += json{{"iter", 8}, {"miou", 0.50}, {"accuracy", 0.70}, {"classes", kClasses},
                {"per_class_iou", {0.7, 0.3, nullptr, 0.5}}}
               .dump() +
           "\n";
  evals += json{{"iter", 12}, {"miou", 0.6543}, {"accuracy", 0.812}, {"classes", kClasses},
                {"per_class_iou", {0.8, 0.4, nullptr, 0.2}}}
               .dump() +
           "\n";
  write_text(dir + "/eval.jsonl", evals);
}

}  // namespace

TEST(ReportTest, WritesChartsThatDecodeToTheDocumentedSizesWithTheSeriesDrawn) {
  TempDir t;
  write_run(t / "run");
  const std::string index = uda::cli::write_report(t / "run");
  EXPECT_EQ(fs::path(index), fs::canonical(t / "run") / "report" / "index.html");
  ASSERT_TRUE(fs::exists(index));

  for (const char* name : {"loss.png", "lr.png", "miou.png"}) {
    const Decoded d = decode(t / "run/report/" + name);
    EXPECT_EQ(d.width, uda::cli::kReportChartWidth) << name;
    EXPECT_EQ(d.height, uda::cli::kReportChartHeight) << name;
    EXPECT_GT(d.count(uda::cli::series_colour(1)), 100u) << name;  // the second series was drawn
  }
  // loss.png: loss_<x>, loss_mix, loss_seg (one value null); miou.png: miou, accuracy.
  const Decoded loss = decode(t / "run/report/loss.png"), miou = decode(t / "run/report/miou.png");
  EXPECT_GT(loss.count(uda::cli::series_colour(0)), 100u);
  EXPECT_GT(loss.count(uda::cli::series_colour(2)), 100u);
  EXPECT_EQ(loss.count(uda::cli::series_colour(3)), 0u);
  EXPECT_GT(miou.count(uda::cli::series_colour(0)), 100u);
  EXPECT_EQ(miou.count(uda::cli::series_colour(2)), 0u);
  // lr.png: lr model.norm, drawn last, covers lr model (the same values).
  EXPECT_GT(decode(t / "run/report/lr.png").count(uda::cli::series_colour(2)), 100u);
}

TEST(ReportTest, PerClassBarsAreProportionalToTheLastEvaluation) {
  TempDir t;
  write_run(t / "run");
  uda::cli::write_report(t / "run");
  const Decoded d = decode(t / "run/report/per_class_iou.png");
  const int n = static_cast<int>(kClasses.size());
  ASSERT_EQ(d.width, uda::cli::kReportChartWidth);
  ASSERT_EQ(d.height, uda::cli::per_class_chart_height(kClasses.size()));
  const int row = uda::cli::per_class_chart_height(n) - uda::cli::per_class_chart_height(n - 1);
  const int margin = (d.height - n * row) / 2;
  auto bar = [&](int i) { return d.count_in_row(margin + i * row + row / 2, uda::cli::series_colour(0)); };
  // Last evaluation: road 0.8, car 0.4, (absent), sky 0.2.
  ASSERT_GT(bar(0), 0u);
  EXPECT_NEAR(static_cast<double>(bar(0)) / static_cast<double>(bar(1)), 2.0, 0.05);
  EXPECT_NEAR(static_cast<double>(bar(1)) / static_cast<double>(bar(3)), 2.0, 0.05);
  EXPECT_EQ(bar(2), 0u);  // absent class: no bar
  EXPECT_NEAR(static_cast<double>(bar(0)) / (d.width - 2 * margin), 0.8, 0.02);
}

TEST(ReportTest, PageHasLabelsFinalMetricsLegendAndEscapesFileStrings) {
  TempDir t;
  write_run(t / "run");
  const std::string html = read_text(uda::cli::write_report(t / "run"));
  for (const char* s : {"<title>uda report: run</title>", "dacs", "mit_b0", "daformer", "adamw",
                        "src=\"loss.png\"", "src=\"lr.png\"", "src=\"miou.png\"", "src=\"per_class_iou.png\"",
                        "road", "car", "sky", "65.43", "81.20", "loss_seg", "loss_mix", "lr model.head",
                        "lr model.norm: last 0.0003 (iteration 12), min 0.0003, max 0.00055; the same values as lr model"})
    EXPECT_NE(html.find(s), std::string::npos) << s;
  // Legend colours are the series colours of the PNGs.
  EXPECT_NE(html.find("background:" + uda::cli::to_hex(uda::cli::series_colour(0))), std::string::npos);
  EXPECT_NE(html.find("background:#1f77b4"), std::string::npos);
  // Strings from the files are escaped: the hostile class name and loss key.
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("loss_&lt;x&gt;"), std::string::npos);
  EXPECT_EQ(html.find("loss_<x>"), std::string::npos);
  // Axis ranges: iterations 2..12 fit in the x axis given on the page.
  EXPECT_NE(html.find("x: iteration from "), std::string::npos);
  EXPECT_NE(html.find("absent"), std::string::npos);  // the class without a value
  EXPECT_EQ(html.find("No evaluation yet"), std::string::npos);
}

TEST(ReportTest, RunWithoutEvaluationsStillGetsAPage) {
  TempDir t;
  write_run(t / "run", /*with_evals=*/false);
  const std::string out = t / "elsewhere/report";
  const std::string index = uda::cli::write_report(t / "run", out);
  EXPECT_EQ(index, out + "/index.html");
  const std::string html = read_text(index);
  EXPECT_NE(html.find("No evaluation yet"), std::string::npos);
  EXPECT_TRUE(fs::exists(out + "/loss.png"));
  EXPECT_TRUE(fs::exists(out + "/lr.png"));
  EXPECT_FALSE(fs::exists(out + "/miou.png"));
  EXPECT_FALSE(fs::exists(out + "/per_class_iou.png"));
  EXPECT_EQ(html.find("src=\"miou.png\""), std::string::npos);
}

TEST(ReportTest, MalformedMetricsLineIsAUserErrorNamingFileAndLine) {
  TempDir t;
  write_run(t / "run");
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
  write_run(t / "run");
  write_text(t / "run/metrics.jsonl", read_text(t / "run/metrics.jsonl") + "{\"iter\": 14, \"loss_se");
  const std::string html = read_text(uda::cli::write_report(t / "run"));
  EXPECT_NE(html.find("incomplete"), std::string::npos);
  EXPECT_NE(html.find("iteration 12)"), std::string::npos);  // the last complete record
}

TEST(ReportTest, RecordsLoggedAgainAfterAResumeReplaceTheEarlierOnes) {
  TempDir t;
  write_run(t / "run");
  write_text(t / "run/metrics.jsonl", "{\"iter\": 2, \"loss_seg\": 1.0}\n{\"iter\": 4, \"loss_seg\": 0.9}\n"
                                       "{\"iter\": 4, \"loss_seg\": 0.7}\n{\"iter\": 6, \"loss_seg\": 0.5}\n");
  const std::string html = read_text(uda::cli::write_report(t / "run"));
  EXPECT_NE(html.find("loss_seg: last 0.5 (iteration 6), min 0.5, max 1"), std::string::npos) << html;
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
  write_run(t / "run");
  const auto r = uda::test::run_uda({"report", t / "run", "--out", t / "out"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, t / "out" + "/index.html\n");
  EXPECT_TRUE(fs::exists(t / "out/per_class_iou.png"));
}
