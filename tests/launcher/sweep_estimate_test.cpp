// The sweep estimate: a job's shape from its config, the timing of a
// finished run, the closest matching runs, and the duration text.
#include "launcher/sweep_estimate.h"
#include "tests/launcher/dg_fixture.h"
#include "tests/support/test_support.h"

#include <gtest/gtest.h>

using nlohmann::json;
using namespace uda::cli;

TEST(SweepEstimate, JobShapeFromTheConfig) {
  const JobShape s = job_shape(json{{"algorithm", {{"name", "dann"}}},
                                    {"data", {{"source", {{"path", "/d"}}}, {"batch_per_rank", 16}}},
                                    {"train", {{"max_iters", 5001}, {"eval_interval", 100}}}});
  EXPECT_EQ(s.source, "/d");
  EXPECT_EQ(s.algorithm, "dann");
  EXPECT_EQ(s.iterations, 5001);
  EXPECT_EQ(s.evaluations, 51);
  EXPECT_EQ(s.batch_per_rank, 16);
  EXPECT_EQ(job_shape(json{{"train", {{"max_iters", 10}, {"eval_interval", 0}}}}).evaluations, 1);
}

TEST(SweepEstimate, FromFinishedRunsOfTheSameDatasetAndAlgorithm) {
  uda::test::TempDir t;
  uda::test::FakeDgRun erm;
  erm.dataset = "A";
  erm.batch_per_rank = 8;
  erm.step_time = 0.4;  // 0.05 s per sample
  erm.eval_seconds = 3;
  erm.evals = {{0, {0.5, 0.5}, {0.5, 0.5}}};
  uda::test::write_dg_run(t / "erm", erm);
  auto dann = erm;
  dann.algorithm = "dann";
  dann.step_time = 0.8;  // 0.1 s per sample
  dann.eval_seconds = 5;
  uda::test::write_dg_run(t / "dann", dann);
  auto unfinished = erm;
  unfinished.done = false;
  unfinished.step_time = 100;
  uda::test::write_dg_run(t / "u", unfinished);
  const auto timings = read_timings(t.path());
  ASSERT_EQ(timings.size(), 2u);

  JobShape job;
  job.source = "/data/A";
  job.algorithm = "erm";
  job.iterations = 100;
  job.evaluations = 2;
  job.batch_per_rank = 16;  // twice the measured batch
  EXPECT_DOUBLE_EQ(*job_seconds(job, timings), 100 * 16 * 0.05 + 2 * 3.0);
  job.algorithm = "coral";  // no coral run: both runs of the dataset
  EXPECT_DOUBLE_EQ(*job_seconds(job, timings), 100 * 16 * 0.075 + 2 * 4.0);
  job.source = "/data/B";  // another dataset: every run
  EXPECT_DOUBLE_EQ(*job_seconds(job, timings), 100 * 16 * 0.075 + 2 * 4.0);
  EXPECT_FALSE(job_seconds(job, {}).has_value());
  EXPECT_TRUE(read_timings(t / "nonexistent").empty());
}

TEST(SweepEstimate, DurationText) {
  EXPECT_EQ(format_duration(40.4), "40 s");
  EXPECT_EQ(format_duration(14 * 60 + 10), "14 min");
  EXPECT_EQ(format_duration(2 * 3600 + 5 * 60), "2 h 05 min");
  EXPECT_EQ(format_duration(3600 * 3 - 10), "3 h 00 min");
}
