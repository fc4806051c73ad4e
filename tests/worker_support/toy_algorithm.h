// A tiny segmentation algorithm (BatchNorm-free unless asked) and a synthetic batch source
// for trainer tests (no dataset, no large model).
#pragma once

#include "worker/batch_source.h"

#include <memory>

namespace uda::test {

// Images and labels of global slot k are a pure function of k; rank r of W
// with per-rank batch b holds slots [t*W*b + r*b, t*W*b + (r+1)*b).
class SyntheticSource : public worker::BatchSource {
 public:
  SyntheticSource(int rank, int world, int batch, int size = 8, int classes = 4)
      : rank_(rank), world_(world), batch_(batch), size_(size), classes_(classes) {}
  algos::Batch next(int64_t iter) override;
  nlohmann::json state() const override { return {{"next_iter", next_}}; }
  void restore(const nlohmann::json& s) override { next_ = s.at("next_iter").get<int64_t>(); }

 private:
  int rank_, world_, batch_, size_, classes_;
  int64_t next_ = 0;
};

class SyntheticEval : public worker::EvalSource {
 public:
  SyntheticEval(int rank, int world) : rank_(rank), world_(world) {}
  void reset() override { pos_ = rank_; }
  bool next(at::Tensor& images, at::Tensor& labels) override;
  int num_classes() const override { return 4; }
  std::vector<std::string> class_names() const override { return {"a", "b", "c", "d"}; }

 private:
  int rank_, world_;
  int pos_ = 0;
};

// Registers algorithm "test_toy" (and "test_nan", whose loss becomes NaN at
// iteration 2; "test_toy_bn", the same net with a BatchNorm; "test_toy_pictures",
// with pseudo-labels (its prediction) and an image grid "samples" for the
// report images) once.
void register_toy_algorithms();

}  // namespace uda::test
