// Building loaders from the resolved config (keys declared in
// loader_config.cpp; `uda config doc` lists them):
//
//   data.batch_per_rank, data.workers, train.seed
//   data.<d>.sampler                 source/target: uniform|shuffle|rcs|class_balanced
//   data.source.rcs.{temperature,min_pixels,min_crop_ratio}
//   data.source.per_domain_batches   DG: one loader (batch) per source domain
//   data.<d>.{img_scale,scale_range,crop_size,cat_max_ratio,flip_prob,mean,std}
//   data.<d>.randaugment.{n,m}
// for the streams d = source, target, val. val always reads one sequential
// pass, sharded over the ranks.
//
// Worker usage:
//   auto src = uda::data::Dataset::open(cfg.get<std::string>("data.source.path"));
//   auto loader = make_loader(cfg, "source", src, &src->class_stats(), rank, world);
//   loader->restore(saved_state);              // on resume
//   std::optional<HostBatch> b = loader->next();
//   SamplerState s = loader->state();          // into the rank's checkpoint
#pragma once

#include "core/config.h"
#include "data/class_stats.h"
#include "data/pipeline/loader.h"

#include <memory>
#include <string>
#include <vector>

namespace uda::data::pipeline {

// The transform settings of stream `domain` ("source", "target" or "val").
TransformConfig transform_config(const config::Config& cfg, const std::string& domain);

// One stream's loader. `stats` is needed for rcs and class_balanced
// samplers (may be null otherwise). `allocator` places the batch buffers
// (e.g. pinned memory); empty for the default heap.
std::unique_ptr<Loader> make_loader(const config::Config& cfg, const std::string& domain,
                                    std::shared_ptr<const SampleSource> source, const ClassStats* stats, int rank,
                                    int world, Allocator allocator = {});

// Domain generalization: one loader per domain of a multi-domain source set
// (ClassStats::domain_names / image_domain), named "source/<domain>"; each
// step yields one batch per domain.
std::vector<std::unique_ptr<Loader>> make_domain_loaders(const config::Config& cfg, const std::string& domain,
                                                         std::shared_ptr<const SampleSource> source,
                                                         const ClassStats& stats, int rank, int world,
                                                         Allocator allocator = {});

}  // namespace uda::data::pipeline
