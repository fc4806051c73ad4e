#include "worker/trainer.h"

#include "comm/global_batch_clock.h"
#include "comm/replicas.h"
#include "core/config.h"
#include "core/error.h"
#include "core/schema.h"
#include "data/pipeline/loader_config.h"
#include "models/layers/iteration_schedule.h"
#include "models/layers/sample_randomness.h"
#include "models/sync_batch_norm.h"
#include "worker/evaluator.h"
#include "worker/preemption.h"
#include "worker/report_images.h"
#include "worker/robust_eval.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cmath>
#include <filesystem>
#include <fstream>

namespace uda::worker {

namespace {
using config::Type;
const config::KeyRegistrar kTrainerKeys({
    {"train.nan_policy", Type::String, "stop",
     "On a NaN/Inf loss: stop (error naming the loss) or skip (no update, counted).", false, {"stop", "skip"}},
    {"train.preempt_signal", Type::String, "USR2",
     "Signal that asks for checkpoint-and-requeue besides SIGTERM (USR2: NCCL may use USR1)."},
    {"train.verify_replicas_interval", Type::Int, 0,
     "Debug: check every N iterations that all ranks hold identical parameters (0 = off)."},
    {"train.eval_metric", Type::String, "miou", "Metric that selects the best checkpoint (higher is better)."},
    {"train.checkpoint_samples", Type::Bool, true,
     "With every checkpoint, rank 0 writes the algorithm's pictures (Algorithm::report_images, e.g. a GAN's "
     "samples) into samples/iter_N/ (grids + index.json); nothing for algorithms without pictures."},
    {"train.report_images", Type::Int, 4,
     "Pictures rank 0 writes at each evaluation into report_images/iter_N/ for `uda report`: this many evaluation "
     "images with ground truth, prediction and pseudo-labels (segmentation), confusion matrices (classification), "
     "the algorithm's image grids; 0 = off."},
});

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double max_rss_mb() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}

// Fault injection for the resume tests (docs/TESTING.md): a real SIGKILL of
// rank 0 right after the checkpoint of an iteration is committed, or a real
// preemption signal raised on rank 0 at the start of an iteration.
int64_t env_iter(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoll(v, nullptr, 10) : -1;
}

std::string format_eta(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const int64_t t = static_cast<int64_t>(s);
  char buf[32];
  snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  return buf;
}
}  // namespace

// BatchNorm running statistics are per-rank buffers (train-mode BN uses batch
// statistics, so they do not affect training). Before anything reads them —
// evaluation, a checkpoint, a replica check — every rank takes rank 0's,
// which is what PyTorch DDP's broadcast_buffers does (at every forward).
void synchronize_buffers(TrainContext& ctx) {
  comm::NamedTensors nt;
  for (const auto& [name, m] : ctx.modules())
    for (const auto& b : m->named_buffers(true)) nt.emplace_back(name + "." + b.key(), b.value());
  comm::broadcast_from_rank0(ctx.comm(), nt);
}

void synchronize_replicas(TrainContext& ctx) {
  comm::NamedTensors nt;
  for (auto& t : ctx.state_tensors())
    if (t.replication == Replication::Replicated) nt.emplace_back(t.name, t.tensor);
  comm::broadcast_from_rank0(ctx.comm(), nt);
}

Trainer::Trainer(const config::Config& cfg, comm::Communicator& comm, c10::Device device, std::string run_dir)
    : cfg_(cfg), comm_(comm), run_dir_(std::move(run_dir)) {
  ctx_ = std::make_unique<TrainContext>(cfg, comm, device);
}

Trainer::~Trainer() {
  if (owns_batch_norm_sync_) models::set_batch_norm_sync({});
  models::require_sample_keys(false);
}

void Trainer::setup(std::unique_ptr<BatchSource> data, std::unique_ptr<EvalSuite> eval,
                    std::unique_ptr<Checkpointer> checkpointer) {
  data_ = std::move(data);
  eval_ = std::move(eval);
  checkpointer_ = std::move(checkpointer);
  // Same initial weights on every rank: seed the init, then broadcast anyway
  // (a backbone loaded from a file on rank 0 only would differ otherwise).
  torch::manual_seed(ctx_->seed());
  // runtime.sync_bn: BatchNorm statistics over the global batch (every
  // training-mode BatchNorm of every network exchanges them on the training
  // communicator; the same order on all ranks because the code path is).
  if (cfg_.get<bool>("runtime.sync_bn") && comm_.size() > 1) {
    models::set_batch_norm_sync([this](at::Tensor& t) { comm_.all_reduce(t, comm::ReduceOp::Sum); });
    owns_batch_norm_sync_ = true;
  }
  // Dropout and drop path must draw per sample inside the algorithms'
  // SampleKeyScopes: a draw outside one is a plugin bug, reported at once.
  models::require_sample_keys(true);
  algorithm_ = algos::make_algorithm(cfg_.get<std::string>("algorithm.name"));
  if (data_) ctx_->set_data_info(data_->info());
  algorithm_->setup(*ctx_);
  if (checkpointer_) {
    if (auto restored = checkpointer_->restore(*ctx_, *data_)) {
      start_iter_ = restored->first;
      best_ = restored->second.value("best", nlohmann::json());
      spdlog::info("resumed from iteration {}", start_iter_);
    }
  }
  synchronize_replicas(*ctx_);
  install_preemption_handlers(cfg_.get<std::string>("train.preempt_signal"));
  // Built here so that a bad train.eval_attack_* is refused before training,
  // not at the first evaluation.
  eval_attack_ = make_eval_attack(
      cfg_, [this](const at::Tensor& x) { return algorithm_->predict(x); }, ctx_->device());
  const int64_t pictures = cfg_.get<int64_t>("train.report_images");
  if (pictures > 0 && comm_.rank() == 0) {
    const auto val = data::pipeline::transform_config(cfg_, "val");
    report_images_ = std::make_unique<ReportImages>(static_cast<int>(pictures), val.mean, val.std);
  }
}

nlohmann::json Trainer::evaluate_now(int64_t iter) {
  if (!eval_) return nullptr;
  auto t0 = Clock::now();
  auto j = evaluate_suite([this](const at::Tensor& x) { return algorithm_->predict(x); }, *eval_, comm_,
                          report_images_.get(), [this](const std::string& d) { algorithm_->set_eval_domain(d); },
                          eval_attack_ ? &*eval_attack_ : nullptr);
  algorithm_->set_eval_domain("");
  std::string summary;
  for (const char* key :
       {"miou", "accuracy", "train_domain_val_acc", "test_domain_acc", "pgd_accuracy", "pgd_test_domain_acc"})
    if (j.contains(key) && j[key].is_number()) summary += fmt::format("  {} {:.2f}", key, 100 * j[key].get<double>());
  j["iter"] = iter;
  if (comm_.rank() == 0) {
    // The log line carries the time it took; the returned record (the run's
    // result, final_eval.json) only what was measured, so that a resumed run's
    // result equals an uninterrupted one's.
    const double seconds = seconds_since(t0);
    spdlog::info("eval @ {}:{}  ({:.1f} s)", iter, summary, seconds);
    auto line = j;
    line["eval_seconds"] = seconds;
    std::ofstream(std::filesystem::path(run_dir_) / "eval.jsonl", std::ios::app) << line.dump() << "\n";
  }
  if (report_images_) report_images_->write(run_dir_, iter, j, *algorithm_);
  return j;
}

void Trainer::log_metrics(int64_t iter, const algos::Scalars& sums, int64_t steps, double data_s, double step_s,
                          double global_s, int64_t global_calls) {
  // Average each scalar over the logged steps and over ranks.
  std::vector<double> values;
  for (const auto& kv : sums) values.push_back(kv.second / std::max<int64_t>(steps, 1));
  values.push_back(data_s / std::max<int64_t>(steps, 1));
  values.push_back(step_s / std::max<int64_t>(steps, 1));
  if (global_calls > 0) values.push_back(global_s / std::max<int64_t>(steps, 1));
  auto t = torch::tensor(values, torch::kDouble);
  comm_.all_reduce(t, comm::ReduceOp::Average);
  if (comm_.rank() != 0) return;
  nlohmann::json j;
  j["iter"] = iter + 1;
  for (size_t i = 0; i < sums.size(); ++i) j[sums[i].first] = t[static_cast<int64_t>(i)].item<double>();
  const double data_time = t[static_cast<int64_t>(sums.size())].item<double>();
  const double step_time = t[static_cast<int64_t>(sums.size()) + 1].item<double>();
  j["data_time"] = data_time;
  j["step_time"] = step_time;
  // The mean over ranks of each rank's time in the losses' gathers and
  // differentiable all-reduces (comm/global_batch_clock.h).
  if (global_calls > 0) j["global_batch_time"] = t[static_cast<int64_t>(sums.size()) + 2].item<double>();
  nlohmann::json lrs;
  for (const auto& [name, opt] : ctx_->optimizers())
    for (size_t g = 0; g < opt->groups().size(); ++g)
      lrs[name + (opt->groups()[g].key.empty() ? "" : "." + opt->groups()[g].key)] = opt->group_lr(g);
  j["lr"] = lrs;
  j["max_rss_mb"] = max_rss_mb();
  j["skipped_steps"] = ctx_->skipped_steps();
  std::ofstream(std::filesystem::path(run_dir_) / "metrics.jsonl", std::ios::app) << j.dump() << "\n";
  std::string losses;
  for (size_t i = 0; i < sums.size(); ++i)
    losses += fmt::format(" {} {:.4f}", sums[i].first, t[static_cast<int64_t>(i)].item<double>());
  const double eta = step_time * static_cast<double>(ctx_->max_iters() - iter - 1);
  spdlog::info("iter {}/{}{}  | {:.3f} s/it (data {:.3f})  ETA {}", iter + 1, ctx_->max_iters(), losses, step_time,
               data_time, format_eta(eta));
}

TrainResult Trainer::run() {
  TrainResult result;
  const int64_t max_iters = ctx_->max_iters();
  const int64_t log_every = std::max<int64_t>(1, cfg_.get<int64_t>("train.log_interval"));
  const int64_t eval_every = cfg_.get<int64_t>("train.eval_interval");
  const int64_t ckpt_every = cfg_.get<int64_t>("train.checkpoint_interval");
  const int64_t verify_every = cfg_.get<int64_t>("train.verify_replicas_interval");
  const std::string metric = cfg_.get<std::string>("train.eval_metric");

  const int64_t kill_after = env_iter("UDA_FAULT_KILL_AFTER_ITER");
  const int64_t signal_at = env_iter("UDA_FAULT_SIGNAL_AT_ITER");
  algos::Scalars sums;
  int64_t logged_steps = 0;
  double data_s = 0, step_s = 0, global_s = 0;
  int64_t global_calls = 0;
  for (int64_t iter = start_iter_; iter < max_iters; ++iter) {
    ctx_->set_iter(iter);
    // Layers whose state follows the iteration (Dynamic Convolution's
    // temperature) are told it before the step: generic, no method here.
    for (const auto& [name, module] : ctx_->modules()) models::set_training_iteration(*module, iter);
    // uda's stochastic layers draw per sample (models/layers/sample_randomness.h);
    // anything else drawn from torch's process generator depends only on
    // (seed, rank, iteration): a resumed run continues exactly without
    // saving generator states (worker/checkpointer.h).
    torch::manual_seed(mix_seed(ctx_->seed(), "process", iter, comm_.rank()));
    for (size_t i = 0; i < ctx_->optimizers().size(); ++i)
      if (ctx_->optimizer_scheduled()[i]) ctx_->optimizers()[i].second->apply_schedule(ctx_->schedule(), iter);
    if (iter == signal_at && comm_.rank() == 0) std::raise(SIGTERM);
    auto t0 = Clock::now();
    algos::Batch batch = data_->next(iter);
    auto t1 = Clock::now();
    const auto global_before = comm::global_batch_clock();
    algos::Scalars scalars = algorithm_->train_step(batch, *ctx_);
    const auto global_after = comm::global_batch_clock();
    data_s += std::chrono::duration<double>(t1 - t0).count();
    step_s += seconds_since(t0);
    global_s += global_after.seconds - global_before.seconds;
    global_calls += global_after.calls - global_before.calls;
    for (const auto& [name, v] : scalars) {
      if (!std::isfinite(v) && name.rfind("loss", 0) == 0 && cfg_.get<std::string>("train.nan_policy") == "stop")
        throw UserError("non-finite loss '" + name + "' at iteration " + std::to_string(iter), "train.nan_policy",
                        "lower optimizer.lr, set optimizer.grad_clip, check the data, or set train.nan_policy=skip");
      auto it = std::find_if(sums.begin(), sums.end(), [&](const auto& kv) { return kv.first == name; });
      if (it == sums.end()) sums.emplace_back(name, v);
      else it->second += v;
    }
    ++logged_steps;
    result.iterations_done = iter + 1;
    const bool last = iter + 1 == max_iters;
    if ((iter + 1) % log_every == 0 || last) {
      log_metrics(iter, sums, logged_steps, data_s, step_s, global_s, global_calls);
      sums.clear();
      logged_steps = 0;
      data_s = step_s = global_s = 0;
      global_calls = 0;
    }
    const bool eval_now = (eval_every > 0 && (iter + 1) % eval_every == 0) || last;
    if (verify_every > 0 && (iter + 1) % verify_every == 0) {
      synchronize_buffers(*ctx_);
      comm::NamedTensors nt;
      for (auto& t : ctx_->state_tensors())
        if (t.replication == Replication::Replicated) nt.emplace_back(t.name, t.tensor);
      auto bad = comm::find_replica_mismatch(comm_, nt);
      if (!bad.empty()) throw std::runtime_error("replicas diverged at iteration " + std::to_string(iter + 1) + ": " + bad);
    }
    if (eval_now) {
      synchronize_buffers(*ctx_);
      result.last_eval = evaluate_now(iter + 1);
      if (!result.last_eval.is_null() && result.last_eval.contains(metric) && !result.last_eval[metric].is_null() &&
          (best_.is_null() || result.last_eval[metric].get<double>() > best_[metric].get<double>()))
        best_ = result.last_eval;
    }
    // All ranks agree on preemption at the step boundary.
    auto flag = torch::tensor({preemption_requested() ? 1.0f : 0.0f});
    comm_.all_reduce(flag, comm::ReduceOp::Sum);
    const bool preempt = flag.item<float>() > 0;
    const bool periodic = ckpt_every > 0 && (iter + 1) % ckpt_every == 0;
    if (checkpointer_ && (periodic || last || preempt)) {
      synchronize_buffers(*ctx_);
      checkpointer_->save(*ctx_, *data_, iter + 1, {{"best", best_}, {"last_eval", result.last_eval}},
                          /*wait=*/last || preempt);
      // The algorithm's pictures (a generator's samples) beside the checkpoint.
      if (comm_.rank() == 0 && cfg_.get<bool>("train.checkpoint_samples"))
        write_checkpoint_samples(run_dir_, iter + 1, *algorithm_);
    }
    if (iter + 1 == kill_after && checkpointer_) {
      checkpointer_->wait();  // collective: the checkpoint is complete on every rank
      if (comm_.rank() == 0) std::raise(SIGKILL);
    }
    if (preempt && !last) {
      spdlog::warn("preemption signal {}: checkpoint written at iteration {}, exiting for requeue",
                   preemption_signal(), iter + 1);
      result.preempted = true;
      return result;
    }
  }
  if (checkpointer_) checkpointer_->wait();
  return result;
}

}  // namespace uda::worker
