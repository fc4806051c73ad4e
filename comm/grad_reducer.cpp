#include "comm/grad_reducer.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/torch.h>

#include <exception>
#include <numeric>
#include <stdexcept>

namespace uda::comm {

// One fused buffer: the gradients of its parameters, then one "used" flag
// per parameter. The flags are summed with the data, so after the exchange
// every rank knows whether any rank produced a gradient for each parameter.
struct GradReducer::Bucket {
  std::vector<size_t> params;
  std::vector<int64_t> offsets;  // element offset of each parameter's gradient
  int64_t data_numel = 0;
  at::Tensor flat;
  size_t pending = 0;
  std::vector<bool> ready;
  std::vector<float> used;  // host copy of the flags, written into `flat` at launch
  std::unique_ptr<Work> work;
};

GradReducer::GradReducer(Communicator& comm, std::vector<at::Tensor> params, ReducerOptions options)
    : comm_(comm), params_(std::move(params)), options_(options) {
  // Initial order: reverse of registration, roughly the order in which
  // backward produces gradients.
  std::vector<size_t> order(params_.size());
  std::iota(order.rbegin(), order.rend(), 0);
  build_buckets(order);
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!params_[i].requires_grad()) {
      hook_keys_.push_back(0);
      continue;
    }
    // The variable holds its AccumulateGrad node only weakly: keep it alive,
    // or the next backward creates a fresh node without our hook.
    auto acc = torch::autograd::impl::grad_accumulator(params_[i]);
    grad_accumulators_.push_back(acc);
    hook_keys_.push_back(acc->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [this, i](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          on_grad_ready(i);
          return outputs;
        })));
  }
}

GradReducer::~GradReducer() {
  // Collective; skipped while unwinding after an error on this rank (the
  // other ranks may never get here).
  if (std::uncaught_exceptions() == 0) release_buckets();
  for (size_t i = 0, k = 0; i < params_.size(); ++i) {
    if (!hook_keys_[i]) continue;
    grad_accumulators_[k++]->del_post_hook(hook_keys_[i]);
  }
}

void GradReducer::release_buckets() {
  for (auto& b : buckets_) release_exchange_buffer(comm_, b->flat);
  buckets_.clear();
}

void GradReducer::build_buckets(const std::vector<size_t>& order) {
  release_buckets();
  slot_of_.assign(params_.size(), {0, 0});
  // One open bucket per dtype and device, so mixed-precision models work.
  std::vector<std::pair<std::string, size_t>> open;  // key -> bucket index
  for (size_t p : order) {
    const auto& t = params_[p];
    const std::string key = std::string(c10::toString(t.scalar_type())) + "@" + t.device().str();
    const size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
    size_t* current = nullptr;
    for (auto& kv : open)
      if (kv.first == key) current = &kv.second;
    bool need_new = current == nullptr;
    if (current) {
      const size_t cap = *current == 0 ? options_.first_bucket_bytes : options_.bucket_bytes;
      const Bucket& b = *buckets_[*current];
      const size_t used = static_cast<size_t>(b.data_numel) * t.element_size();
      need_new = used > 0 && used + bytes > cap;
    }
    if (need_new) {
      buckets_.push_back(std::make_unique<Bucket>());
      if (current) *current = buckets_.size() - 1;
      else open.emplace_back(key, buckets_.size() - 1);
      for (auto& kv : open)
        if (kv.first == key) current = &kv.second;
    }
    Bucket& b = *buckets_[*current];
    slot_of_[p] = {*current, b.params.size()};
    b.params.push_back(p);
    b.offsets.push_back(b.data_numel);
    b.data_numel += t.numel();
  }
  for (auto& b : buckets_) {
    const auto& t = params_[b->params.front()];
    b->flat = make_exchange_buffer(comm_, b->data_numel + static_cast<int64_t>(b->params.size()),
                                   t.options().requires_grad(false));
    b->ready.assign(b->params.size(), false);
    b->used.assign(b->params.size(), 0.f);
    b->pending = b->params.size();
  }
}

void GradReducer::arm() {
  // One rank: the local gradients are the average already.
  if (comm_.size() == 1) return;
  armed_ = true;
  launched_early_ = 0;
}

void GradReducer::on_grad_ready(size_t i) {
  if (!armed_) return;
  auto [bi, pos] = slot_of_[i];
  Bucket& b = *buckets_[bi];
  if (b.ready[pos]) return;
  const auto& grad = params_[i].grad();
  if (!grad.defined()) return;
  torch::NoGradGuard no_grad;
  b.flat.narrow(0, b.offsets[pos], params_[i].numel()).copy_(grad.reshape(-1));
  b.used[pos] = 1.f;
  b.ready[pos] = true;
  arrival_.push_back(i);
  if (--b.pending == 0) {
    launch(b);
    ++launched_early_;
  }
  // Drive the progress of transfers already in flight (MPI progresses
  // non-blocking collectives only inside MPI calls).
  for (auto& other : buckets_)
    if (other->work) other->work->test();
}

void GradReducer::launch(Bucket& b) {
  auto flags = torch::from_blob(b.used.data(), {static_cast<int64_t>(b.used.size())}, torch::kFloat);
  b.flat.narrow(0, b.data_numel, static_cast<int64_t>(b.used.size())).copy_(flags);
  b.work = comm_.all_reduce_async(b.flat, ReduceOp::Sum);
}

void GradReducer::finalize() {
  if (comm_.size() == 1) return;
  torch::NoGradGuard no_grad;
  for (auto& bp : buckets_) {
    Bucket& b = *bp;
    if (b.work) continue;
    for (size_t pos = 0; pos < b.params.size(); ++pos) {
      if (b.ready[pos]) continue;
      const size_t i = b.params[pos];
      const auto& grad = params_[i].grad();
      auto slot = b.flat.narrow(0, b.offsets[pos], params_[i].numel());
      if (grad.defined()) {
        slot.copy_(grad.reshape(-1));
        b.used[pos] = 1.f;
      } else {
        slot.zero_();
        b.used[pos] = 0.f;
      }
    }
    launch(b);
  }
  const double world = comm_.size();
  for (auto& bp : buckets_) {
    Bucket& b = *bp;
    b.work->wait();
    b.work.reset();
    auto used = b.flat.narrow(0, b.data_numel, static_cast<int64_t>(b.params.size())).to(torch::kCPU, torch::kFloat);
    const float* any_rank_used = used.data_ptr<float>();
    b.flat.narrow(0, 0, b.data_numel).div_(world);
    for (size_t pos = 0; pos < b.params.size(); ++pos) {
      auto& p = params_[b.params[pos]];
      if (any_rank_used[pos] == 0) continue;  // no rank produced a gradient
      auto avg = b.flat.narrow(0, b.offsets[pos], p.numel()).view(p.sizes());
      if (p.grad().defined()) p.mutable_grad().copy_(avg);
      else p.mutable_grad() = torch::empty_like(p).copy_(avg);  // the parameter's memory format
    }
    // Every slot and flag is written again before the next launch.
    b.ready.assign(b.params.size(), false);
    b.used.assign(b.params.size(), 0.f);
    b.pending = b.params.size();
  }
  armed_ = false;
  if (options_.reorder_after_first_step && !reordered_ && !arrival_.empty()) {
    reordered_ = true;
    // Rank 0's arrival order, completed with the parameters that never
    // arrived (reverse registration order), becomes everyone's order.
    std::vector<int64_t> order(arrival_.begin(), arrival_.end());
    std::vector<bool> seen(params_.size(), false);
    for (auto i : arrival_) seen[i] = true;
    for (size_t i = params_.size(); i-- > 0;)
      if (!seen[i]) order.push_back(static_cast<int64_t>(i));
    auto t = torch::tensor(order, torch::kLong);
    if (t.numel() != static_cast<int64_t>(params_.size()))
      throw std::logic_error("reducer: arrival order has the wrong length");
    comm_.broadcast(t, 0);
    std::vector<size_t> new_order(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
    build_buckets(new_order);
  }
  arrival_.clear();
}

size_t GradReducer::num_buckets() const { return buckets_.size(); }

std::vector<std::vector<size_t>> GradReducer::bucket_layout() const {
  std::vector<std::vector<size_t>> out;
  for (const auto& b : buckets_) out.push_back(b->params);
  return out;
}

}  // namespace uda::comm
