// The checkpoint store on one process: round trip, resharding N -> M by
// simulating ranks with the single-rank shard writer, crash and corruption
// fallbacks, disk full, rotation, and asynchronous saving.
#include "core/error.h"
#include "storage/async_checkpointer.h"
#include "storage/checkpoint_files.h"
#include "storage/checkpoint_store.h"
#include "tests/support/test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

namespace uda::storage {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

TensorData pattern(DType dtype, std::vector<int64_t> shape, int seed) {
  TensorData t = make_tensor(dtype, std::move(shape));
  for (size_t i = 0; i < t.bytes.size(); ++i) t.bytes[i] = static_cast<uint8_t>((i * 7 + static_cast<size_t>(seed) * 31) % 253);
  return t;
}

// The state rank `rank` of `world` would hand over at `iteration`.
CheckpointState state_for(int64_t iteration, int rank) {
  CheckpointState s;
  s.iteration = iteration;
  s.config_hash = "cfg123";
  s.metadata = {{"iteration", iteration}, {"lr", 0.5}};
  int seed = static_cast<int>(iteration);
  s.replicated.push_back({"model.backbone.conv.weight", pattern(DType::Float32, {16, 3, 3, 3}, seed)});
  s.replicated.push_back({"model.bn.num_batches_tracked", pattern(DType::Int64, {}, seed + 1)});
  s.replicated.push_back({"ema/weird%name", pattern(DType::BFloat16, {7}, seed + 2)});
  s.replicated.push_back({"optimizer.exp_avg", pattern(DType::Float64, {1001}, seed + 3)});
  s.replicated.push_back({"empty", pattern(DType::Float32, {0, 4}, seed + 4)});
  s.replicated.push_back({"mask", pattern(DType::UInt8, {3}, seed + 5)});
  s.rank_local.push_back({"rng.cpu", pattern(DType::UInt8, {64}, 100 * rank + seed)});
  s.rank_local.push_back({"sampler.position", pattern(DType::Int64, {2}, 200 * rank + seed)});
  return s;
}

// Writes a complete checkpoint as `world` ranks would (no MPI needed).
void save_as_ranks(const std::string& run, int64_t iteration, int world, int keep_last = 3) {
  ASSERT_TRUE(prepare_checkpoint_dir(run, iteration));
  std::vector<Manifest> parts;
  for (int r = 0; r < world; ++r)
    parts.push_back(write_checkpoint_shard(checkpoint_dir(run, iteration), state_for(iteration, r), r, world));
  commit_checkpoint(run, merge_manifests(parts, state_for(iteration, 0).metadata), {keep_last, false});
}

void expect_matches(const LoadedCheckpoint& c, int64_t iteration, int writers) {
  EXPECT_EQ(c.iteration(), iteration);
  EXPECT_EQ(c.manifest.world_size, writers);
  EXPECT_EQ(c.manifest.config_hash, "cfg123");
  EXPECT_EQ(c.manifest.metadata["lr"], 0.5);
  CheckpointState want = state_for(iteration, 0);
  ASSERT_EQ(c.replicated.size(), want.replicated.size());
  for (size_t i = 0; i < want.replicated.size(); ++i) {
    EXPECT_EQ(c.replicated[i].name, want.replicated[i].name);
    EXPECT_EQ(c.replicated[i].data.dtype, want.replicated[i].data.dtype);
    EXPECT_EQ(c.replicated[i].data.shape, want.replicated[i].data.shape);
    EXPECT_EQ(c.replicated[i].data.bytes, want.replicated[i].data.bytes) << want.replicated[i].name;
  }
  ASSERT_EQ(c.rank_local.size(), static_cast<size_t>(writers));
  for (int r = 0; r < writers; ++r) {
    CheckpointState wr = state_for(iteration, r);
    for (const auto& e : wr.rank_local) {
      const TensorData* got = c.find_rank_local(r, e.name);
      ASSERT_TRUE(got) << e.name << " of rank " << r;
      EXPECT_EQ(got->bytes, e.data.bytes);
      EXPECT_EQ(got->shape, e.data.shape);
    }
  }
}

std::string latest_name(const std::string& run) { return read_pointer(run, "latest"); }

TEST(Checkpoint, SingleProcessStoreRoundTrip) {
  uda::test::TempDir run;
  CheckpointStore store({run.path(), 3, MPI_COMM_NULL});
  EXPECT_FALSE(store.load_latest().has_value());  // fresh start
  SaveResult r = store.save(state_for(40, 0));
  EXPECT_FALSE(r.skipped);
  EXPECT_EQ(r.path, checkpoint_dir(run.path(), 40));
  EXPECT_GT(r.bytes, 0u);
  EXPECT_TRUE(fs::exists(r.path + "/manifest.json"));
  EXPECT_TRUE(fs::exists(r.path + "/shard-0.h5"));
  EXPECT_EQ(latest_name(run.path()), "iter_00000040");
  auto c = store.load_latest();
  ASSERT_TRUE(c);
  expect_matches(*c, 40, 1);
  // Saving the same iteration again never touches the complete checkpoint.
  EXPECT_TRUE(store.save(state_for(40, 0)).skipped);
}

TEST(Checkpoint, SlicesCoverEveryTensorExactly) {
  auto s = state_for(3, 0);
  for (int world : {1, 2, 3, 7, 50}) {
    auto plan = plan_slices(s.replicated, world);
    for (size_t i = 0; i < s.replicated.size(); ++i) {
      int64_t at = 0;
      for (const auto& r : plan[i]) {
        EXPECT_LE(r.begin, r.end);
        if (r.end > r.begin) {
          EXPECT_EQ(r.begin, at);
          at = r.end;
        }
      }
      EXPECT_EQ(at, s.replicated[i].data.numel()) << "world " << world;
    }
  }
}

TEST(Checkpoint, WrittenOnTwoRanksReadsOnOneAndThree) {
  uda::test::TempDir run;
  save_as_ranks(run.path(), 100, 2);
  Manifest m = load_checkpoint(checkpoint_dir(run.path(), 100)).manifest;
  // The big tensor is split across both shards (parallel writes).
  const TensorRecord* big = nullptr;
  for (const auto& t : m.tensors)
    if (t.name == "optimizer.exp_avg") big = &t;
  ASSERT_TRUE(big);
  EXPECT_EQ(big->slices.size(), 2u);
  // Loading is independent of the reader's world size: one or three readers
  // each reassemble the same tensors and see both writers' rank-local state.
  for (int readers : {1, 3}) {
    for (int r = 0; r < readers; ++r) expect_matches(*load_latest_checkpoint(run.path()), 100, 2);
  }
  // And a checkpoint of 3 writers reads on 1.
  save_as_ranks(run.path(), 200, 3);
  expect_matches(*load_latest_checkpoint(run.path()), 200, 3);
}

TEST(Checkpoint, KilledMidSaveFallsBackToThePreviousOne) {
  uda::test::TempDir run;
  save_as_ranks(run.path(), 10, 2);
  // Shards of iteration 20 written, killed before the manifest.
  ASSERT_TRUE(prepare_checkpoint_dir(run.path(), 20));
  std::string dir20 = checkpoint_dir(run.path(), 20);
  write_checkpoint_shard(dir20, state_for(20, 0), 0, 2);
  write_checkpoint_shard(dir20, state_for(20, 1), 1, 2);
  // ... and a partial temporary manifest from write_file_atomic.
  uda::test::write_text(dir20 + "/.manifest.json.tmp.1234", "{\"format\": \"uda-chec");
  auto c = load_latest_checkpoint(run.path());
  ASSERT_TRUE(c);
  expect_matches(*c, 10, 2);
  EXPECT_EQ(latest_name(run.path()), "iter_00000010");
  // The next save of iteration 20 replaces the leftover and succeeds.
  save_as_ranks(run.path(), 20, 2);
  expect_matches(*load_latest_checkpoint(run.path()), 20, 2);
}

class Corruption : public ::testing::TestWithParam<std::string> {};

TEST_P(Corruption, IsDetectedReportedAndThePreviousUsed) {
  uda::test::TempDir run;
  save_as_ranks(run.path(), 1, 2);
  save_as_ranks(run.path(), 2, 2);
  std::string dir = checkpoint_dir(run.path(), 2);
  std::string shard = dir + "/shard-1.h5";
  auto before = uda::test::read_text(checkpoint_dir(run.path(), 1) + "/shard-0.h5");
  const std::string kind = GetParam();
  std::string expect;
  if (kind == "truncated_shard") {
    fs::resize_file(shard, fs::file_size(shard) / 2);
    expect = "truncated";
  } else if (kind == "flipped_byte") {
    // Flip one byte inside the data of the last dataset (raw data sits at the end).
    std::string b = uda::test::read_text(shard);
    b[b.size() - 20] = static_cast<char>(b[b.size() - 20] ^ 0x10);
    std::ofstream(shard, std::ios::binary | std::ios::trunc) << b;
    expect = "checksum mismatch";
  } else if (kind == "missing_manifest") {
    fs::remove(dir + "/manifest.json");
    expect = "no manifest.json";
  } else if (kind == "missing_shard") {
    fs::remove(shard);
    expect = "shard-1.h5 is missing";
  } else if (kind == "garbage_manifest") {
    uda::test::write_text(dir + "/manifest.json", "{not json");
    expect = "not valid JSON";
  }
  try {
    load_checkpoint(dir);
    ADD_FAILURE() << "corruption not detected";
  } catch (const UserError& e) {
    EXPECT_THAT(e.line(), HasSubstr(expect));
    EXPECT_EQ(e.where(), dir);
  }
  auto c = load_latest_checkpoint(run.path());
  ASSERT_TRUE(c);
  expect_matches(*c, 1, 2);
  // Nothing of the previous checkpoint was touched.
  EXPECT_EQ(uda::test::read_text(checkpoint_dir(run.path(), 1) + "/shard-0.h5"), before);
}

INSTANTIATE_TEST_SUITE_P(Checkpoint, Corruption,
                         ::testing::Values("truncated_shard", "flipped_byte", "missing_manifest", "missing_shard",
                                           "garbage_manifest"));

TEST(Checkpoint, NoUsableCheckpointIsAClearError) {
  uda::test::TempDir run;
  save_as_ranks(run.path(), 5, 1);
  fs::remove(checkpoint_dir(run.path(), 5) + "/shard-0.h5");
  try {
    load_latest_checkpoint(run.path());
    ADD_FAILURE();
  } catch (const UserError& e) {
    EXPECT_THAT(e.line(), HasSubstr("no usable checkpoint"));
    EXPECT_THAT(e.line(), HasSubstr("iter_00000005"));
  }
}

TEST(Checkpoint, DiskFullFailsCleanlyAndKeepsThePrevious) {
  uda::test::TempDir run;
  {
    CheckpointStore store({run.path(), 3, MPI_COMM_NULL});
    store.save(state_for(1, 0));
  }
  // A child process with a 16 KiB file size limit tries to save a bigger state.
  pid_t pid = fork();
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);  // write() then fails with EFBIG instead of killing us
    struct rlimit lim {16384, 16384};
    setrlimit(RLIMIT_FSIZE, &lim);
    CheckpointState big = state_for(2, 0);
    big.replicated.push_back({"huge", pattern(DType::Float32, {1 << 16}, 9)});
    int code = 3;
    try {
      CheckpointStore store({run.path(), 3, MPI_COMM_NULL});
      store.save(big);
      code = 1;  // should not succeed
    } catch (const UserError& e) {
      code = std::string(e.what()).find("previous checkpoint is intact") != std::string::npos ? 0 : 2;
    } catch (...) {
      code = 4;
    }
    _exit(code);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(latest_name(run.path()), "iter_00000001");
  EXPECT_FALSE(fs::exists(checkpoint_dir(run.path(), 2)));  // partial directory removed
  auto c = load_latest_checkpoint(run.path());
  ASSERT_TRUE(c);
  expect_matches(*c, 1, 1);
}

TEST(Checkpoint, KeepsTheLastKPlusBest) {
  uda::test::TempDir run;
  CheckpointStore store({run.path(), 2, MPI_COMM_NULL});
  store.save(state_for(1, 0));
  store.save(state_for(2, 0), /*best=*/true);
  store.save(state_for(3, 0));
  store.save(state_for(4, 0));
  store.save(state_for(5, 0));
  std::vector<std::string> names;
  for (const auto& d : list_checkpoint_dirs(run.path())) names.push_back(fs::path(d).filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"iter_00000005", "iter_00000004", "iter_00000002"}));
  EXPECT_EQ(read_pointer(run.path(), "best"), "iter_00000002");
  EXPECT_EQ(latest_name(run.path()), "iter_00000005");
  expect_matches(load_checkpoint(checkpoint_dir(run.path(), 2)), 2, 1);
}

TEST(Checkpoint, AsyncSavesOneAtATimeAndCommitsAtStepBoundaries) {
  uda::test::TempDir run;
  CheckpointStore store({run.path(), 5, MPI_COMM_NULL});
  AsyncCheckpointer async(store);
  EXPECT_FALSE(async.poll());  // idle: nothing to do
  SaveResult s1 = async.submit(state_for(10, 0));
  EXPECT_TRUE(async.in_flight());
  EXPECT_FALSE(s1.skipped);
  EXPECT_GE(s1.stall_seconds, 0.0);
  // Until committed, the directory has no manifest and is not loadable.
  EXPECT_FALSE(has_manifest(s1.path));
  // A second submit first finishes and commits the first one.
  SaveResult s2 = async.submit(state_for(20, 0));
  EXPECT_TRUE(has_manifest(checkpoint_dir(run.path(), 10)));
  EXPECT_GE(s2.wait_seconds, 0.0);
  EXPECT_LE(s2.wait_seconds, s2.stall_seconds);
  // Poll until the background write is done (bounded: finish() afterwards anyway).
  std::optional<SaveResult> committed;
  for (int i = 0; i < 1000000 && !committed; ++i) committed = async.poll();
  if (!committed) committed = async.finish();
  ASSERT_TRUE(committed);
  EXPECT_EQ(committed->iteration, 20);
  EXPECT_GT(committed->bytes, 0u);
  EXPECT_FALSE(async.in_flight());
  EXPECT_FALSE(async.finish());
  expect_matches(*load_latest_checkpoint(run.path()), 20, 1);
  expect_matches(load_checkpoint(checkpoint_dir(run.path(), 10)), 10, 1);
}

TEST(Checkpoint, AsyncWriteErrorSurfacesAtCommit) {
  uda::test::TempDir run;
  CheckpointStore store({run.path(), 5, MPI_COMM_NULL});
  store.save(state_for(1, 0));
  AsyncCheckpointer async(store);
  CheckpointState bad = state_for(2, 0);
  bad.replicated.push_back(bad.replicated[0]);  // duplicate name: refused by the writer thread
  async.submit(std::move(bad));
  EXPECT_THROW(async.finish(), UserError);
  EXPECT_FALSE(fs::exists(checkpoint_dir(run.path(), 2)));
  EXPECT_EQ(latest_name(run.path()), "iter_00000001");
}

}  // namespace
}  // namespace uda::storage
