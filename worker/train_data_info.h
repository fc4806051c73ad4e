// What the training data are, for algorithms that need more than the
// batches: the trainer takes it from the BatchSource and hands it to the
// algorithm through TrainContext::data_info() before Algorithm::setup. Read
// from the datasets' manifests and stored class statistics (class_stats.json,
// docs/FORMATS.md) at open: no pass over the data. Synthetic sources (tests)
// leave it empty.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace uda::worker {

struct StreamInfo {
  std::string path;  // dataset directory; "" when the stream is absent
  std::string key;   // the config key naming it, e.g. "data.source.path"
  std::string task;  // "classification" | "segmentation"
  std::vector<std::string> class_names;
  // The stored class statistics summed over the samples the stream draws
  // from (DG: the training domains' in splits): samples per class for a
  // classification set, pixels per class for a segmentation set. All zero
  // when the statistics count no labelled sample.
  std::vector<int64_t> class_counts;
  std::string sampler;  // data.<stream>.sampler
};

struct TrainDataInfo {
  StreamInfo source, target;
  // Domain generalization (data.source.per_domain_batches): the training
  // domains' names in the order of Batch::domains; empty otherwise.
  std::vector<std::string> training_domains;
};

}  // namespace uda::worker
