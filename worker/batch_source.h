// Where the trainer's batches come from. The data-backed implementation
// (worker/data_streams.h) wraps the prefetching loaders of data/pipeline;
// tests may provide synthetic sources.
#pragma once

#include "algos/algorithm.h"
#include "worker/train_data_info.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace uda::worker {

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // The batch of iteration `iter`, on `device` (iterations are consecutive).
  virtual algos::Batch next(int64_t iter) = 0;
  // Position of every stream, for checkpoints; restore() continues exactly.
  virtual nlohmann::json state() const = 0;
  virtual void restore(const nlohmann::json& state) = 0;
  // The datasets behind the streams (what the algorithm may read through
  // TrainContext::data_info()); empty for synthetic sources.
  virtual TrainDataInfo info() const { return {}; }
};

// One pass over this rank's part of an evaluation set.
class EvalSource {
 public:
  virtual ~EvalSource() = default;
  virtual void reset() = 0;
  // Next image batch [N,3,H,W] and labels [N,h,w] (int64, 255 = ignore) or
  // [N] class ids; false at the end of the pass.
  virtual bool next(at::Tensor& images, at::Tensor& labels) = 0;
  virtual int num_classes() const = 0;
  virtual std::vector<std::string> class_names() const = 0;
};

// Everything one evaluation covers: named sets, each one pass. Plain
// validation is one unnamed set (its metrics keep their names: miou,
// accuracy, ...); domain generalization evaluates every domain's in and out
// split (env<i>_in, env<i>_out: metrics env<i>_in_acc, ...) and adds summary
// metrics (worker/data_streams.h).
class EvalSuite {
 public:
  struct Set {
    std::string name;  // "" for the single validation set
    std::unique_ptr<EvalSource> source;
    std::string domain = {};  // the domain of every image of the set; "" when unknown or mixed
  };
  explicit EvalSuite(std::vector<Set> sets) : sets_(std::move(sets)) {}
  virtual ~EvalSuite() = default;
  std::vector<Set>& sets() { return sets_; }
  // Summary metrics from the per-set ones of one evaluation record.
  virtual void summarize(nlohmann::json& record) const {}

 private:
  std::vector<Set> sets_;
};

// A suite of one unnamed set (nullptr stays nullptr: no evaluation).
inline std::unique_ptr<EvalSuite> single_set(std::unique_ptr<EvalSource> source) {
  if (!source) return nullptr;
  std::vector<EvalSuite::Set> sets;
  sets.push_back({"", std::move(source)});
  return std::make_unique<EvalSuite>(std::move(sets));
}

}  // namespace uda::worker
