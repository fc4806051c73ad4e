// What an algorithm sees of the worker: config, communicator, device, the
// iteration, and the registry of everything stateful (networks, optimizers,
// reducers, extra tensors), which the trainer checkpoints, schedules and
// keeps identical across ranks.
#pragma once

#include "comm/communicator.h"
#include "comm/grad_reducer.h"
#include "worker/lr_schedule.h"
#include "worker/optimizer_factory.h"
#include "worker/train_data_info.h"

#include <ATen/core/Generator.h>
#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace torch::nn {
class Module;
}
namespace uda::config {
class Config;
}

namespace uda::worker {

// A network stepped by its own optimizer, whose gradients its own reducer
// exchanges: the pair most algorithms register per trained network
// (TrainContext::add_update).
class Update {
 public:
  Update(OptimizerBundle& optimizer, comm::GradReducer& reducer) : optimizer_(optimizer), reducer_(reducer) {}
  OptimizerBundle& optimizer() { return optimizer_; }
  comm::GradReducer& reducer() { return reducer_; }
  void zero_grad() { optimizer_.zero_grad(); }
  // The last backward of the network's step — its gradients are exchanged
  // while it runs — then gradient clipping and the optimizer step. Earlier
  // backward passes of the step only accumulate (plain loss.backward()).
  void backward_and_step(const at::Tensor& loss);

 private:
  OptimizerBundle& optimizer_;
  comm::GradReducer& reducer_;
};

enum class Replication {
  Replicated,  // identical on every rank (parameters, optimizer state)
  RankLocal,   // differs per rank (RNG state, local queues)
};

struct TrackedTensor {
  std::string name;
  at::Tensor tensor;
  Replication replication;
};

class TrainContext {
 public:
  TrainContext(const config::Config& cfg, comm::Communicator& comm, c10::Device device);
  ~TrainContext();

  const config::Config& config() const { return cfg_; }
  comm::Communicator& comm() { return comm_; }
  c10::Device device() const { return device_; }
  int rank() const;
  int world_size() const;
  uint64_t seed() const { return seed_; }
  int64_t iter() const { return iter_; }
  int64_t max_iters() const { return max_iters_; }
  void set_iter(int64_t iter) { iter_ = iter; }
  const LrSchedule& schedule() const { return *schedule_; }
  // bf16 autocast requested (runtime.precision) and supported on the device.
  bool autocast_bf16() const;
  // The training data's description (worker/train_data_info.h), set by the
  // trainer before Algorithm::setup; empty for synthetic sources.
  const TrainDataInfo& data_info() const { return data_info_; }
  void set_data_info(TrainDataInfo info) { data_info_ = std::move(info); }

  // A network whose parameters and buffers are checkpointed under `name.`
  // and broadcast from rank 0 at start and after resume.
  void track_module(const std::string& name, std::shared_ptr<torch::nn::Module> module);
  // An optimizer from a config section; its lr follows the schedule when
  // `scheduled`. Its state is checkpointed under `optim.<name>.`.
  OptimizerBundle& add_optimizer(const std::string& name, const nlohmann::json& section,
                                 const NamedParameters& params, bool scheduled = true,
                                 const std::string& where = "optimizer");
  // A gradient reducer over `params` (one per independently stepped network).
  comm::GradReducer& add_reducer(const std::string& name, std::vector<at::Tensor> params);
  // Both for every parameter of `module`, under one name: the optimizer from
  // `section` (errors name `where`), the reducer over the same tensors.
  Update add_update(const std::string& name, torch::nn::Module& module, const nlohmann::json& section,
                    bool scheduled = true, const std::string& where = "optimizer");
  void track_tensor(const std::string& name, at::Tensor tensor, Replication replication);

  // Agreement on a loss before its backward pass: every rank learns whether
  // any rank's loss is NaN/Inf. With train.nan_policy=stop that is a
  // UserError naming the loss and the iteration; with skip it returns false
  // (the algorithm skips the update) and the skip is counted.
  bool check_loss(const std::string& name, const at::Tensor& loss);
  int64_t skipped_steps() const { return skipped_steps_; }

  // Statistics over the global batch (all ranks' samples of this step), so
  // that a loss or weight taken "over the batch" is the same for W ranks x b
  // as for one rank x W*b (docs/SCALING.md). Collective: every rank calls.
  double global_sum(double local) const;
  // The global mean of a quantity whose local sum and count are given:
  // local_sum * W / (sum of counts over ranks). Averaging the ranks'
  // gradients (what the reducer does) then gives the gradient of the
  // global mean. With one rank: local_sum / local_count.
  at::Tensor global_mean(const at::Tensor& local_sum, double local_count) const;

  // A generator for one sample's randomness, a pure function of (seed,
  // stream, global sample slot): identical whatever the number of ranks.
  at::Generator sample_generator(const std::string& stream, int64_t global_slot) const;
  // A generator shared by all ranks for this iteration (same draws everywhere).
  at::Generator step_generator(const std::string& stream) const;
  // One key per batch row for the stochastic layers' per-sample draws
  // (models/layers/sample_randomness.h): a function of (seed, stream, global
  // slot), e.g. SampleKeyScope scope(ctx.sample_keys("source", batch.source.indices)).
  std::vector<uint64_t> sample_keys(const std::string& stream, const at::Tensor& global_slots) const;

  // Registry, for the trainer and the checkpoint code.
  const std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>>& modules() const { return modules_; }
  const std::vector<std::pair<std::string, std::unique_ptr<OptimizerBundle>>>& optimizers() const {
    return optimizers_;
  }
  const std::vector<bool>& optimizer_scheduled() const { return scheduled_; }
  const std::vector<TrackedTensor>& tensors() const { return tensors_; }
  // Every tracked tensor by name: module parameters/buffers, extra tensors.
  std::vector<TrackedTensor> state_tensors() const;

 private:
  const config::Config& cfg_;
  comm::Communicator& comm_;
  c10::Device device_;
  uint64_t seed_;
  int64_t iter_ = 0;
  int64_t skipped_steps_ = 0;
  bool nan_skip_ = false;
  int64_t max_iters_;
  std::unique_ptr<LrSchedule> schedule_;
  TrainDataInfo data_info_;
  std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> modules_;
  std::vector<std::pair<std::string, std::unique_ptr<OptimizerBundle>>> optimizers_;
  std::vector<bool> scheduled_;
  std::vector<std::pair<std::string, std::unique_ptr<comm::GradReducer>>> reducers_;
  std::vector<TrackedTensor> tensors_;
};

// A 64-bit key from parts (SplitMix64 chaining): seeds derived from it are
// independent for different parts.
uint64_t mix_seed(uint64_t seed, const std::string& stream, int64_t a, int64_t b = 0);

}  // namespace uda::worker
