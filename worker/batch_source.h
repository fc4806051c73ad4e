// Where the trainer's batches come from. The data-backed implementation
// (worker/data_streams.h) wraps the prefetching loaders of data/pipeline;
// tests may provide synthetic sources.
#pragma once

#include "algos/algorithm.h"

#include <nlohmann/json.hpp>

namespace uda::worker {

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // The batch of iteration `iter`, on `device` (iterations are consecutive).
  virtual algos::Batch next(int64_t iter) = 0;
  // Position of every stream, for checkpoints; restore() continues exactly.
  virtual nlohmann::json state() const = 0;
  virtual void restore(const nlohmann::json& state) = 0;
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

}  // namespace uda::worker
