// The iteration loop of one rank: schedules, the algorithm's step, metrics,
// evaluation, checkpoints and preemption.
#pragma once

#include "algos/algorithm.h"
#include "comm/communicator.h"
#include "worker/batch_source.h"
#include "worker/evaluator.h"
#include "worker/train_context.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>

namespace uda::config {
class Config;
}

namespace uda::worker {

class ReportImages;

// Saves and restores the whole training state (worker/checkpointer.h).
class Checkpointer {
 public:
  virtual ~Checkpointer() = default;
  // `next_iter`: the iteration the run continues with after a resume.
  virtual void save(TrainContext& ctx, BatchSource& data, int64_t next_iter, const nlohmann::json& extra,
                    bool wait) = 0;
  // Restores the newest complete checkpoint; returns its next_iter and extra.
  virtual std::optional<std::pair<int64_t, nlohmann::json>> restore(TrainContext& ctx, BatchSource& data) = 0;
  virtual void wait() = 0;
};

struct TrainResult {
  int64_t iterations_done = 0;
  bool preempted = false;
  nlohmann::json last_eval;  // {"miou":..., ...} or null
};

class Trainer {
 public:
  Trainer(const config::Config& cfg, comm::Communicator& comm, c10::Device device, std::string run_dir);
  ~Trainer();

  // Builds the algorithm (algorithm.name) and broadcasts its state from rank 0.
  void setup(std::unique_ptr<BatchSource> data, std::unique_ptr<EvalSuite> eval,
             std::unique_ptr<Checkpointer> checkpointer);
  TrainResult run();

  TrainContext& context() { return *ctx_; }
  algos::Algorithm& algorithm() { return *algorithm_; }

 private:
  nlohmann::json evaluate_now(int64_t iter);
  // Per-step means of the algorithm's scalars and of the timings; the time
  // in global-batch collectives only when some were called (global_calls
  // > 0, the same count on every rank).
  void log_metrics(int64_t iter, const algos::Scalars& sums, int64_t steps, double data_s, double step_s,
                   double global_s, int64_t global_calls);

  const config::Config& cfg_;
  comm::Communicator& comm_;
  std::string run_dir_;
  std::unique_ptr<TrainContext> ctx_;
  std::unique_ptr<algos::Algorithm> algorithm_;
  std::unique_ptr<BatchSource> data_;
  std::unique_ptr<EvalSuite> eval_;
  std::unique_ptr<Checkpointer> checkpointer_;
  std::unique_ptr<ReportImages> report_images_;  // rank 0 with train.report_images > 0
  std::optional<AttackFn> eval_attack_;           // train.eval_attack (built, and checked, at setup)
  int64_t start_iter_ = 0;
  nlohmann::json best_;
  bool owns_batch_norm_sync_ = false;  // installed runtime.sync_bn; removed on destruction
};

// Broadcasts every tracked tensor from rank 0 (start, and after resume).
void synchronize_replicas(TrainContext& ctx);
// Broadcasts the tracked modules' buffers (BatchNorm statistics) from rank 0.
void synchronize_buffers(TrainContext& ctx);

}  // namespace uda::worker
