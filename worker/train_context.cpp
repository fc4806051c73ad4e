#include "worker/train_context.h"

#include "core/config.h"
#include "core/error.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <stdexcept>

namespace uda::worker {

uint64_t mix_seed(uint64_t seed, const std::string& stream, int64_t a, int64_t b) {
  auto splitmix = [](uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  };
  uint64_t h = splitmix(seed);
  for (unsigned char c : stream) h = splitmix(h ^ c);
  h = splitmix(h ^ static_cast<uint64_t>(a));
  return splitmix(h ^ static_cast<uint64_t>(b));
}

TrainContext::TrainContext(const config::Config& cfg, comm::Communicator& comm, c10::Device device)
    : cfg_(cfg), comm_(comm), device_(device) {
  seed_ = static_cast<uint64_t>(cfg.get<int64_t>("train.seed"));
  max_iters_ = cfg.get<int64_t>("train.max_iters");
  schedule_ = std::make_unique<LrSchedule>(lr_schedule_from_config(cfg));
  nan_skip_ = cfg.get<std::string>("train.nan_policy") == "skip";
}

bool TrainContext::check_loss(const std::string& name, const at::Tensor& loss) {
  auto bad = torch::tensor({torch::isfinite(loss.detach()).all().item<bool>() ? 0.0f : 1.0f});
  comm_.all_reduce(bad, comm::ReduceOp::Sum);
  if (bad.item<float>() == 0) return true;
  if (!nan_skip_)
    throw UserError("non-finite loss '" + name + "' at iteration " + std::to_string(iter_) + " on " +
                        std::to_string(static_cast<int>(bad.item<float>())) + " rank(s)",
                    "train.nan_policy",
                    "lower optimizer.lr, set optimizer.grad_clip, check the data, or set train.nan_policy=skip");
  ++skipped_steps_;
  return false;
}

TrainContext::~TrainContext() = default;

int TrainContext::rank() const { return comm_.rank(); }
int TrainContext::world_size() const { return comm_.size(); }

bool TrainContext::autocast_bf16() const {
  return cfg_.get<std::string>("runtime.precision") == "bf16";
}

void TrainContext::track_module(const std::string& name, std::shared_ptr<torch::nn::Module> module) {
  for (const auto& m : modules_)
    if (m.first == name) throw std::logic_error("module tracked twice: " + name);
  modules_.emplace_back(name, std::move(module));
}

OptimizerBundle& TrainContext::add_optimizer(const std::string& name, const nlohmann::json& section,
                                             const NamedParameters& params, bool scheduled,
                                             const std::string& where) {
  optimizers_.emplace_back(name, build_optimizer(section, params, where));
  scheduled_.push_back(scheduled);
  return *optimizers_.back().second;
}

comm::GradReducer& TrainContext::add_reducer(const std::string& name, std::vector<at::Tensor> params) {
  reducers_.emplace_back(name, std::make_unique<comm::GradReducer>(comm_, std::move(params)));
  return *reducers_.back().second;
}

Update TrainContext::add_update(const std::string& name, torch::nn::Module& module, const nlohmann::json& section,
                                bool scheduled, const std::string& where) {
  NamedParameters params;
  std::vector<at::Tensor> tensors;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) {
    params.emplace_back(p.key(), p.value());
    tensors.push_back(p.value());
  }
  auto& optimizer = add_optimizer(name, section, params, scheduled, where);
  return Update(optimizer, add_reducer(name, std::move(tensors)));
}

void Update::backward_and_step(const at::Tensor& loss) {
  reducer_.arm();
  loss.backward();
  reducer_.finalize();
  optimizer_.clip_gradients();
  optimizer_.step();
}

void TrainContext::track_tensor(const std::string& name, at::Tensor tensor, Replication replication) {
  tensors_.push_back({name, std::move(tensor), replication});
}

at::Generator TrainContext::sample_generator(const std::string& stream, int64_t global_slot) const {
  return at::make_generator<at::CPUGeneratorImpl>(mix_seed(seed_, stream, global_slot));
}

double TrainContext::global_sum(double local) const {
  if (comm_.size() == 1) return local;
  auto t = torch::tensor({local}, torch::kDouble);
  comm_.all_reduce(t, comm::ReduceOp::Sum);
  return t.item<double>();
}

at::Tensor TrainContext::global_mean(const at::Tensor& local_sum, double local_count) const {
  return local_sum * (static_cast<double>(comm_.size()) / global_sum(local_count));
}

std::vector<uint64_t> TrainContext::sample_keys(const std::string& stream, const at::Tensor& global_slots) const {
  if (!global_slots.defined())
    throw std::logic_error("sample_keys(\"" + stream + "\"): the batch carries no global sample slots (DomainBatch::indices)");
  auto slots = global_slots.to(torch::kCPU).to(torch::kLong).contiguous();
  std::vector<uint64_t> keys(static_cast<size_t>(slots.numel()));
  const int64_t* s = slots.data_ptr<int64_t>();
  for (size_t i = 0; i < keys.size(); ++i) keys[i] = mix_seed(seed_, stream, s[i], -2);
  return keys;
}

at::Generator TrainContext::step_generator(const std::string& stream) const {
  return at::make_generator<at::CPUGeneratorImpl>(mix_seed(seed_, stream, iter_, -1));
}

std::vector<TrackedTensor> TrainContext::state_tensors() const {
  std::vector<TrackedTensor> out;
  for (const auto& [name, m] : modules_) {
    for (const auto& p : m->named_parameters(true)) out.push_back({name + "." + p.key(), p.value(), Replication::Replicated});
    for (const auto& b : m->named_buffers(true)) out.push_back({name + "." + b.key(), b.value(), Replication::Replicated});
  }
  for (const auto& t : tensors_) out.push_back(t);
  return out;
}

}  // namespace uda::worker
