// The data-backed BatchSource and EvalSource: converted datasets on disk,
// read by the prefetching loaders of data/pipeline, handed to the algorithm
// as tensors on the rank's device (data.source / data.target / data.val).
#pragma once

#include "worker/batch_source.h"

#include <c10/core/Device.h>

#include <memory>

namespace uda::config {
class Config;
}

namespace uda::worker {

// Opens data.source (required), data.target and data.val (optional: empty
// path means absent) and checks that their class lists agree with each
// other and with model.num_classes.
std::unique_ptr<BatchSource> make_train_streams(const config::Config& cfg, int rank, int world, c10::Device device);
// What the trainer evaluates: data.val (one set; nullptr when its path is
// empty) or, for domain generalization (data.source.per_domain_batches), the
// in and out split of every domain of data.source (env<i>_in, env<i>_out),
// summarised as DomainBed's training-domain validation accuracy
// (train_domain_val_acc: mean over training domains of their out-split
// accuracy) and test_domain_acc (mean over test domains of their in-split
// accuracy).
std::unique_ptr<EvalSuite> make_eval_suite(const config::Config& cfg, int rank, int world, c10::Device device);
// Evaluation of a given dataset directory (uda eval --dataset).
std::unique_ptr<EvalSource> make_eval_stream_for(const config::Config& cfg, const std::string& path, int rank,
                                                 int world, c10::Device device);

}  // namespace uda::worker
