#include "worker/checkpointer.h"

#include "comm/mpi_runtime.h"
#include "core/error.h"
#include "models/torch_compat.h"
#include "storage/async_checkpointer.h"
#include "storage/checkpoint_store.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <cstring>

namespace uda::worker {

namespace {

storage::DType to_storage_dtype(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return storage::DType::Float32;
    case at::kDouble: return storage::DType::Float64;
    case at::kHalf: return storage::DType::Float16;
    case at::kBFloat16: return storage::DType::BFloat16;
    case at::kLong: return storage::DType::Int64;
    case at::kInt: return storage::DType::Int32;
    case at::kShort: return storage::DType::Int16;
    case at::kChar: return storage::DType::Int8;
    case at::kByte: return storage::DType::UInt8;
    case at::kBool: return storage::DType::Bool;
    default: throw std::invalid_argument(std::string("checkpoint: unsupported dtype ") + c10::toString(t));
  }
}

storage::TensorData to_host(const at::Tensor& t) {
  auto c = t.detach().to(torch::kCPU).contiguous();
  storage::TensorData d;
  d.dtype = to_storage_dtype(c.scalar_type());
  d.shape.assign(c.sizes().begin(), c.sizes().end());
  d.bytes.resize(c.numel() * c.element_size());
  if (!d.bytes.empty()) std::memcpy(d.bytes.data(), c.data_ptr(), d.bytes.size());
  return d;
}

void copy_into(at::Tensor& dst, const storage::TensorData& src, const std::string& name, const std::string& where) {
  std::vector<int64_t> shape(dst.sizes().begin(), dst.sizes().end());
  if (shape != src.shape || to_storage_dtype(dst.scalar_type()) != src.dtype)
    throw UserError("checkpoint entry '" + name + "' has dtype " + storage::dtype_name(src.dtype) + " and another shape/dtype than the model's",
                    where, "resume with the config the checkpoint was written with");
  auto host = torch::from_blob(const_cast<uint8_t*>(src.bytes.data()), shape, dst.options().device(torch::kCPU));
  torch::NoGradGuard ng;
  dst.copy_(host);
}

// Optimizer state entries named optim.<name>.<group>.<index>.<field>.
void collect_optimizer(const std::string& name, torch::optim::Optimizer& opt, std::vector<storage::NamedTensor>& out) {
  auto& groups = opt.param_groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    for (size_t i = 0; i < groups[g].params().size(); ++i) {
      auto it = opt.state().find(torch_compat::optimizer_state_key(groups[g].params()[i]));
      if (it == opt.state().end()) continue;
      const std::string base = "optim." + name + "." + std::to_string(g) + "." + std::to_string(i) + ".";
      auto* st = it->second.get();
      if (auto* s = dynamic_cast<torch::optim::SGDParamState*>(st)) {
        if (s->momentum_buffer().defined()) out.push_back({base + "momentum_buffer", to_host(s->momentum_buffer())});
      } else if (auto* a = dynamic_cast<torch::optim::AdamWParamState*>(st)) {
        out.push_back({base + "step", to_host(torch::tensor(a->step(), torch::kLong))});
        out.push_back({base + "exp_avg", to_host(a->exp_avg())});
        out.push_back({base + "exp_avg_sq", to_host(a->exp_avg_sq())});
        if (a->max_exp_avg_sq().defined()) out.push_back({base + "max_exp_avg_sq", to_host(a->max_exp_avg_sq())});
      } else if (auto* a = dynamic_cast<torch::optim::AdamParamState*>(st)) {
        out.push_back({base + "step", to_host(torch::tensor(a->step(), torch::kLong))});
        out.push_back({base + "exp_avg", to_host(a->exp_avg())});
        out.push_back({base + "exp_avg_sq", to_host(a->exp_avg_sq())});
        if (a->max_exp_avg_sq().defined()) out.push_back({base + "max_exp_avg_sq", to_host(a->max_exp_avg_sq())});
      } else {
        throw std::logic_error("checkpoint: unsupported optimizer state for " + name);
      }
    }
  }
}

at::Tensor tensor_like(const at::Tensor& param, const storage::TensorData& d) {
  auto t = torch::empty(d.shape, param.options().requires_grad(false));
  torch::NoGradGuard ng;
  t.copy_(torch::from_blob(const_cast<uint8_t*>(d.bytes.data()), d.shape, param.options().device(torch::kCPU)));
  return t;
}

void restore_optimizer(const std::string& name, torch::optim::Optimizer& opt, const storage::LoadedCheckpoint& ck) {
  auto& groups = opt.param_groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    for (size_t i = 0; i < groups[g].params().size(); ++i) {
      const auto& p = groups[g].params()[i];
      const std::string base = "optim." + name + "." + std::to_string(g) + "." + std::to_string(i) + ".";
      const auto key = torch_compat::optimizer_state_key(p);
      if (dynamic_cast<torch::optim::SGD*>(&opt)) {
        if (auto* m = ck.find(base + "momentum_buffer")) {
          auto st = std::make_unique<torch::optim::SGDParamState>();
          st->momentum_buffer(tensor_like(p, *m));
          opt.state()[key] = std::move(st);
        }
        continue;
      }
      const auto* step = ck.find(base + "step");
      if (!step) continue;
      int64_t s = 0;
      std::memcpy(&s, step->bytes.data(), sizeof s);
      auto fill = [&](auto st) {
        st->step(s);
        st->exp_avg(tensor_like(p, *ck.find(base + "exp_avg")));
        st->exp_avg_sq(tensor_like(p, *ck.find(base + "exp_avg_sq")));
        if (auto* m = ck.find(base + "max_exp_avg_sq")) st->max_exp_avg_sq(tensor_like(p, *m));
        opt.state()[key] = std::move(st);
      };
      if (dynamic_cast<torch::optim::AdamW*>(&opt)) fill(std::make_unique<torch::optim::AdamWParamState>());
      else fill(std::make_unique<torch::optim::AdamParamState>());
    }
  }
}

class StoreCheckpointer : public Checkpointer {
 public:
  explicit StoreCheckpointer(CheckpointerOptions o) : o_(std::move(o)) {
    storage::CheckpointStoreOptions so;
    so.run_dir = o_.run_dir;
    so.keep_last = o_.keep_last;
    so.comm = comm::ensure_mpi();
    store_ = std::make_unique<storage::CheckpointStore>(so);
    if (o_.async) async_ = std::make_unique<storage::AsyncCheckpointer>(*store_);
  }
  ~StoreCheckpointer() override {
    try {
      wait();
    } catch (const std::exception& e) {
      spdlog::error("checkpoint in flight could not be committed: {}", e.what());
    }
  }

  void save(TrainContext& ctx, BatchSource& data, int64_t next_iter, const nlohmann::json& extra,
            bool wait_for_it) override {
    if (async_) report(async_->wait_idle());  // bounded memory: one host copy in flight
    storage::CheckpointState st;
    st.iteration = next_iter;
    st.config_hash = o_.config_hash;
    st.metadata = extra;
    st.metadata["data"] = data.state();
    st.metadata["skipped_steps"] = ctx.skipped_steps();
    for (const auto& t : ctx.state_tensors())
      (t.replication == Replication::Replicated ? st.replicated : st.rank_local).push_back({t.name, to_host(t.tensor)});
    for (const auto& [name, opt] : ctx.optimizers()) collect_optimizer(name, opt->optimizer(), st.replicated);
    bool best = false;
    if (extra.contains("best") && extra.contains("last_eval") && !extra["best"].is_null())
      best = extra["best"] == extra["last_eval"];
    if (async_ && !wait_for_it) {
      auto r = async_->submit(std::move(st), best);
      spdlog::info("checkpoint {} started (training stalled {:.3f} s)", r.path, r.stall_seconds);
    } else {
      if (async_) report(async_->wait_idle());
      report(store_->save(st, best));
    }
  }

  std::optional<std::pair<int64_t, nlohmann::json>> restore(TrainContext& ctx, BatchSource& data) override {
    std::optional<storage::LoadedCheckpoint> ck;
    if (!o_.resume_from.empty()) ck = store_->load(o_.resume_from);
    else ck = store_->load_latest();
    if (!ck) return std::nullopt;
    const std::string where = ck->path;
    if (ck->manifest.config_hash != o_.config_hash)
      spdlog::warn("resuming {} written with config hash {} under config hash {}", where, ck->manifest.config_hash,
                   o_.config_hash);
    for (auto& t : ctx.state_tensors()) {
      const storage::TensorData* d =
          t.replication == Replication::Replicated ? ck->find(t.name) : ck->find_rank_local(ctx.rank(), t.name);
      if (!d && t.replication == Replication::RankLocal) continue;  // a new rank: fresh local state
      if (!d)
        throw UserError("checkpoint has no entry '" + t.name + "'", where,
                        "resume with the algorithm and model the checkpoint was written with");
      copy_into(t.tensor, *d, t.name, where);
    }
    for (const auto& [name, opt] : ctx.optimizers()) restore_optimizer(name, opt->optimizer(), *ck);
    const auto& meta = ck->manifest.metadata;
    if (meta.contains("data")) data.restore(meta["data"]);
    spdlog::info("restored {} (iteration {}, written by {} rank(s))", where, ck->iteration(),
                 ck->manifest.world_size);
    return std::make_pair(ck->iteration(), meta);
  }

  void wait() override {
    if (async_) report(async_->finish());
  }

 private:
  void report(const std::optional<storage::SaveResult>& r) {
    if (!r) return;
    if (r->skipped) return;
    spdlog::info("checkpoint {} written: {:.1f} MiB, shard write {:.2f} s, training stall {:.3f} s", r->path,
                 r->bytes / 1048576.0, r->write_seconds, r->stall_seconds);
  }

  CheckpointerOptions o_;
  std::unique_ptr<storage::CheckpointStore> store_;
  std::unique_ptr<storage::AsyncCheckpointer> async_;
};

}  // namespace

std::unique_ptr<Checkpointer> make_checkpointer(const CheckpointerOptions& options) {
  return std::make_unique<StoreCheckpointer>(options);
}

}  // namespace uda::worker
