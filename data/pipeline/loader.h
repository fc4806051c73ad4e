// The prefetching loader of one sample stream (one domain of one rank).
//
// N threads read and transform samples into a bounded window of `prefetch`
// steps; next() hands out batches strictly in step order. Which samples a
// step holds comes from the sampler, every random choice of a sample's
// augmentation from the stream key (seed, loader name, step, global slot),
// so batches are identical for any number of threads and the per-rank
// batches of W ranks together equal the batch of one rank with W times the
// batch size. state()/restore() save and resume the position exactly.
//
// A worker's exception is rethrown by next() for the step it belongs to,
// with the loader, sample and step added to the message; the loader then
// stays failed. The destructor (or stop()) ends the threads promptly: each
// finishes at most the sample it is working on.
#pragma once

#include "data/pipeline/host_batch.h"
#include "data/pipeline/sampler.h"
#include "data/pipeline/transform_pipeline.h"
#include "data/sample.h"

#include <condition_variable>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace uda::data::pipeline {

struct LoaderOptions {
  std::string name = "source";  // stream name: salts the augmentation stream, names errors
  uint64_t seed = 0;            // augmentation seed (the sampler has its own)
  int rank = 0;
  int world = 1;
  int batch = 2;      // samples per rank per step
  int threads = 2;    // worker threads (>= 1)
  int prefetch = 2;   // steps prepared ahead of the consumer (>= 1)
  // Rare Class Sampling crop retry (DAFormer UDADataset.get_rare_class_sample):
  // for a sample drawn for class c, the augmentation is re-run (up to 10
  // times) until the crop holds more than min_pixels * min_crop_ratio pixels
  // of c; after 10 failures the last draw is kept. Off when ratio <= 0.
  int64_t rcs_min_pixels = 3000;
  double rcs_min_crop_ratio = 0.5;
  Allocator allocator;  // empty: default_allocate
  // Image planes of the batches; 0 = the source's. 3 with a 1-channel source
  // repeats the grey plane (the normaliser's grey-over-planes path).
  int channels = 0;
};

class Loader {
 public:
  Loader(std::shared_ptr<const SampleSource> source, std::shared_ptr<Sampler> sampler, TransformConfig transforms,
         LoaderOptions options, SamplerState start = {});
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // The batch of the next step; nullopt once a finite sampler's pass is over.
  std::optional<HostBatch> next();
  // The position of the batch the next call to next() returns.
  SamplerState state() const;
  // Drops prefetched work and continues from `s` (as saved by state(),
  // possibly by a run with another number of ranks).
  void restore(const SamplerState& s);
  // Ends the worker threads; next() afterwards throws.
  void stop();

  const LoaderOptions& options() const { return opt_; }
  int64_t global_batch() const { return int64_t{opt_.world} * opt_.batch; }

 private:
  struct StepWork;
  void start_threads();
  void join_threads();
  void worker_loop();
  bool claim(std::unique_lock<std::mutex>& lock, StepWork*& work, int& j);
  std::unique_ptr<StepWork> open_step(int64_t step);
  void process(StepWork& w, int j);
  void assemble(StepWork& w);
  int64_t position_of(int64_t step) const { return base_position_ + (step - base_step_) * global_batch(); }
  bool past_end(int64_t step) const;

  std::shared_ptr<const SampleSource> source_;
  std::shared_ptr<Sampler> sampler_;
  TransformConfig cfg_;
  Normalizer normalizer_;
  LoaderOptions opt_;
  uint64_t stream_key_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::map<int64_t, std::unique_ptr<StepWork>> open_;
  int64_t base_step_ = 0, base_position_ = 0;
  int64_t consume_step_ = 0;  // next step next() returns
  int64_t sched_step_ = 0;    // next step to open
  bool stopping_ = false;
  bool error_seen_ = false;
  std::exception_ptr failed_;
  std::vector<std::thread> threads_;
};

}  // namespace uda::data::pipeline
