#include "data/pipeline/basic_samplers.h"

#include "data/pipeline/rng.h"

#include <stdexcept>
#include <utility>

namespace uda::data::pipeline {

namespace {
void require_nonempty(const std::vector<int64_t>& pool, const char* who) {
  if (pool.empty()) throw std::invalid_argument(std::string(who) + ": empty sampling pool");
}
// Distinct salts keep the streams of different samplers with the same seed apart.
constexpr uint64_t kUniformSalt = 0x756e69666f726dULL;  // "uniform"
constexpr uint64_t kShuffleSalt = 0x73687566666c65ULL;  // "shuffle"
}  // namespace

UniformSampler::UniformSampler(std::vector<int64_t> pool, uint64_t seed)
    : pool_(std::move(pool)), seed_(seed) {
  require_nonempty(pool_, "UniformSampler");
}

SampleRef UniformSampler::draw(const DrawRequest& r) {
  Rng rng(derive_key(seed_, kUniformSalt, static_cast<uint64_t>(r.step), static_cast<uint64_t>(r.slot)));
  return {pool_[rng.below(pool_.size())], -1};
}

ShuffleSampler::ShuffleSampler(std::vector<int64_t> pool, uint64_t seed)
    : pool_(std::move(pool)), seed_(seed) {
  require_nonempty(pool_, "ShuffleSampler");
}

std::vector<int64_t> ShuffleSampler::epoch_order(int64_t e) const {
  std::vector<int64_t> order = pool_;
  Rng rng(derive_key(seed_, kShuffleSalt, static_cast<uint64_t>(e)));
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  return order;
}

SampleRef ShuffleSampler::draw(const DrawRequest& r) {
  const auto n = static_cast<int64_t>(pool_.size());
  const int64_t e = r.position / n;
  if (e != cached_epoch_) {
    cached_ = epoch_order(e);
    cached_epoch_ = e;
  }
  return {cached_[static_cast<size_t>(r.position % n)], -1};
}

SequentialSampler::SequentialSampler(std::vector<int64_t> pool) : pool_(std::move(pool)) {}

SampleRef SequentialSampler::draw(const DrawRequest& r) {
  if (r.position < 0 || r.position >= length())
    throw std::out_of_range("SequentialSampler: position past the end of the pass");
  return {pool_[static_cast<size_t>(r.position)], -1};
}

}  // namespace uda::data::pipeline
