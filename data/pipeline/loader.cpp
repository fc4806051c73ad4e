#include "data/pipeline/loader.h"

#include "core/error.h"
#include "data/pipeline/image_transforms.h"
#include "data/pipeline/rng.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

namespace uda::data::pipeline {

std::shared_ptr<void> default_allocate(size_t bytes) {
  const size_t rounded = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) throw std::bad_alloc();
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

struct Loader::StepWork {
  int64_t step = 0;
  int64_t position = 0;
  int n = 0;           // samples of this rank in this step
  int next_claim = 0;  // first unclaimed sample
  int remaining = 0;   // samples not finished
  std::vector<SampleRef> refs;
  std::vector<int64_t> slots;
  std::vector<Transformed> pending;  // variable-size outputs, assembled at the end
  HostBatch batch;
  std::exception_ptr error;
  std::string error_context;
  bool done = false;
};

Loader::Loader(std::shared_ptr<const SampleSource> source, std::shared_ptr<Sampler> sampler,
               TransformConfig transforms, LoaderOptions options, SamplerState start)
    : source_(std::move(source)),
      sampler_(std::move(sampler)),
      cfg_(transforms),
      normalizer_(cfg_),
      opt_(std::move(options)),
      stream_key_(derive_key(opt_.seed, name_key(opt_.name))) {
  if (!source_ || !sampler_) throw std::invalid_argument("Loader: source and sampler are required");
  if (opt_.threads < 1 || opt_.prefetch < 1 || opt_.batch < 1 || opt_.world < 1 || opt_.rank < 0 ||
      opt_.rank >= opt_.world)
    throw std::invalid_argument("Loader '" + opt_.name + "': invalid threads/prefetch/batch/rank/world");
  if (!opt_.allocator) opt_.allocator = default_allocate;
  base_step_ = consume_step_ = sched_step_ = start.step;
  base_position_ = start.position;
  start_threads();
}

Loader::~Loader() { stop(); }

void Loader::start_threads() {
  stopping_ = false;
  for (int i = 0; i < opt_.threads; ++i) threads_.emplace_back([this] { worker_loop(); });
}

void Loader::join_threads() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  done_cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void Loader::stop() {
  join_threads();
  std::lock_guard<std::mutex> lock(mu_);
  open_.clear();
}

bool Loader::past_end(int64_t step) const {
  const int64_t len = sampler_->length();
  return len >= 0 && position_of(step) >= len;
}

SamplerState Loader::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {consume_step_, position_of(consume_step_)};
}

void Loader::restore(const SamplerState& s) {
  join_threads();
  {
    std::lock_guard<std::mutex> lock(mu_);
    open_.clear();
    base_step_ = consume_step_ = sched_step_ = s.step;
    base_position_ = s.position;
    error_seen_ = false;
    failed_ = nullptr;
  }
  start_threads();
}

// Called with mu_ held. Draws the step's samples (the sampler is only ever
// used here, under the lock, in step order) and allocates fixed-size outputs.
std::unique_ptr<Loader::StepWork> Loader::open_step(int64_t step) {
  auto w = std::make_unique<StepWork>();
  w->step = step;
  w->position = position_of(step);
  const int64_t len = sampler_->length();
  for (int j = 0; j < opt_.batch; ++j) {
    const int64_t slot = global_slot(opt_.rank, opt_.world, j);
    if (len >= 0 && w->position + slot >= len) break;  // slots grow with j: the rest are past the end too
    DrawRequest r{step, slot, w->position + slot};
    w->refs.push_back(sampler_->draw(r));
    w->slots.push_back(slot);
  }
  w->n = w->remaining = static_cast<int>(w->refs.size());
  HostBatch& b = w->batch;
  b.step = step;
  b.size = w->n;
  b.channels = opt_.channels > 0 ? opt_.channels : source_->channels();
  b.indices.resize(w->n);
  b.domains.assign(w->n, 0);
  b.names.resize(w->n);
  b.class_labels.assign(w->n, -1);
  b.rare_class.resize(w->n);
  b.image_sizes.resize(w->n);
  b.label_sizes.resize(w->n);
  for (int j = 0; j < w->n; ++j) {
    b.indices[j] = w->refs[j].index;
    b.rare_class[j] = w->refs[j].rare_class;
  }
  if (cfg_.fixed_output_size()) {
    b.height = b.label_height = cfg_.crop_size[0];
    b.width = b.label_width = cfg_.crop_size[1];
    b.images = std::static_pointer_cast<float>(opt_.allocator(b.image_elements() * sizeof(float)));
    b.labels = std::static_pointer_cast<uint8_t>(opt_.allocator(std::max<size_t>(b.label_elements(), 1)));
  } else {
    w->pending.resize(w->n);
  }
  if (w->n == 0) w->done = true;  // a rank with nothing left in the last step of a pass
  return w;
}

bool Loader::claim(std::unique_lock<std::mutex>& lock, StepWork*& work, int& j) {
  for (;;) {
    if (stopping_) return false;
    for (auto& [step, w] : open_) {
      if (w->next_claim < w->n) {
        work = w.get();
        j = w->next_claim++;
        return true;
      }
    }
    if (!error_seen_ && sched_step_ < consume_step_ + opt_.prefetch && !past_end(sched_step_)) {
      const int64_t s = sched_step_++;
      auto w = open_step(s);
      const bool empty = w->n == 0;
      open_[s] = std::move(w);
      if (empty) done_cv_.notify_all();
      continue;
    }
    work_cv_.wait(lock);
  }
}

void Loader::worker_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  StepWork* w = nullptr;
  int j = 0;
  while (claim(lock, w, j)) {
    lock.unlock();
    std::exception_ptr err;
    std::string context;
    try {
      process(*w, j);
    } catch (...) {
      err = std::current_exception();
      context = "loader '" + opt_.name + "' (rank " + std::to_string(opt_.rank) + "): sample " +
                std::to_string(w->refs[j].index) + " at step " + std::to_string(w->step);
    }
    lock.lock();
    if (err && !w->error) {
      w->error = err;
      w->error_context = context;
      error_seen_ = true;
    }
    if (--w->remaining == 0) {
      if (!w->error && !cfg_.fixed_output_size()) {
        // Only this thread touches a step whose samples are all finished.
        lock.unlock();
        try {
          assemble(*w);
        } catch (...) {
          w->error = std::current_exception();
          w->error_context = "loader '" + opt_.name + "': assembling step " + std::to_string(w->step);
        }
        lock.lock();
      }
      w->done = true;
      done_cv_.notify_all();
    }
  }
}

void Loader::process(StepWork& w, int j) {
  const SampleRef& ref = w.refs[j];
  Sample s = source_->read(static_cast<size_t>(ref.index));
  // The augmentation stream of this global slot: independent of rank,
  // thread and timing.
  Rng rng(derive_key(stream_key_, static_cast<uint64_t>(w.step), static_cast<uint64_t>(w.slots[j])));
  Transformed t = apply_transforms(s.image, s.label, cfg_, rng);
  if (ref.rare_class >= 0 && opt_.rcs_min_crop_ratio > 0 && !t.label.pixels.empty()) {
    const double need = static_cast<double>(opt_.rcs_min_pixels) * opt_.rcs_min_crop_ratio;
    for (int attempt = 0; attempt < 10; ++attempt) {
      if (static_cast<double>(count_class(t.label, ref.rare_class)) > need) break;
      t = apply_transforms(s.image, s.label, cfg_, rng);
    }
  }
  HostBatch& b = w.batch;
  b.names[j] = s.name;
  b.domains[j] = s.domain;
  b.class_labels[j] = s.class_label;
  b.image_sizes[j] = {t.image.height, t.image.width};
  b.label_sizes[j] = {t.label.height, t.label.width};
  if (cfg_.fixed_output_size()) {
    normalizer_.write_chw(t.image, const_cast<float*>(b.image(j)), b.channels, b.height, b.width);
    uint8_t* lab = b.labels.get() + static_cast<size_t>(j) * b.label_height * b.label_width;
    if (t.label.pixels.empty())
      std::fill(lab, lab + static_cast<size_t>(b.label_height) * b.label_width, kIgnoreLabel);
    else
      write_label(t.label, lab, b.label_height, b.label_width);
  } else {
    w.pending[j] = std::move(t);
  }
}

// Variable-size outputs (evaluation without crop): pad every sample to the
// largest in the batch.
void Loader::assemble(StepWork& w) {
  HostBatch& b = w.batch;
  b.height = b.width = b.label_height = b.label_width = 0;
  for (const auto& t : w.pending) {
    b.height = std::max(b.height, t.image.height);
    b.width = std::max(b.width, t.image.width);
    b.label_height = std::max(b.label_height, t.label.height);
    b.label_width = std::max(b.label_width, t.label.width);
  }
  b.images = std::static_pointer_cast<float>(opt_.allocator(std::max<size_t>(b.image_elements(), 1) * sizeof(float)));
  b.labels = std::static_pointer_cast<uint8_t>(opt_.allocator(std::max<size_t>(b.label_elements(), 1)));
  for (int j = 0; j < w.n; ++j) {
    normalizer_.write_chw(w.pending[j].image, const_cast<float*>(b.image(j)), b.channels, b.height, b.width);
    if (b.label_elements())
      write_label(w.pending[j].label, b.labels.get() + static_cast<size_t>(j) * b.label_height * b.label_width,
                  b.label_height, b.label_width);
  }
  w.pending.clear();
}

std::optional<HostBatch> Loader::next() {
  std::unique_lock<std::mutex> lock(mu_);
  if (failed_) std::rethrow_exception(failed_);
  if (stopping_) throw std::logic_error("Loader '" + opt_.name + "': next() after stop()");
  const int64_t t = consume_step_;
  if (past_end(t)) return std::nullopt;
  work_cv_.notify_all();
  done_cv_.wait(lock, [&] {
    auto it = open_.find(t);
    return stopping_ || (it != open_.end() && it->second->done);
  });
  if (stopping_) throw std::logic_error("Loader '" + opt_.name + "' stopped while waiting");
  auto node = open_.extract(t);
  ++consume_step_;
  StepWork& w = *node.mapped();
  if (w.error) {
    // Keep the type a user can act on; add where it happened.
    try {
      std::rethrow_exception(w.error);
    } catch (const UserError& e) {
      failed_ = std::make_exception_ptr(UserError(e.what_part(), w.error_context + ": " + e.where(), e.fix()));
    } catch (const std::exception& e) {
      failed_ = std::make_exception_ptr(std::runtime_error(w.error_context + ": " + e.what()));
    } catch (...) {
      failed_ = std::make_exception_ptr(std::runtime_error(w.error_context + ": unknown error"));
    }
    lock.unlock();
    join_threads();  // nothing more will be consumed
    std::rethrow_exception(failed_);
  }
  lock.unlock();
  work_cv_.notify_all();  // a slot in the prefetch window is free
  return std::move(w.batch);
}

}  // namespace uda::data::pipeline
