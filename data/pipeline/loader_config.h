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
#include "data/pipeline/domain_split.h"
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

// Domain generalization: one loader per training domain of `split`, drawing
// from the domain's in split, named "source/<domain>"; each step yields one
// batch per training domain (DomainBed: batch per domain, uniform with
// replacement with data.source.sampler = uniform).
std::vector<std::unique_ptr<Loader>> make_domain_loaders(const config::Config& cfg,
                                                         std::shared_ptr<const SampleSource> source,
                                                         const ClassStats& stats, const DomainSplit& split, int rank,
                                                         int world, Allocator allocator = {});

// One sequential evaluation pass over `pool` (e.g. a domain's in or out
// split), sharded over the ranks, data.eval_batch samples per batch, with
// the val stream's transforms.
std::unique_ptr<Loader> make_eval_loader(const config::Config& cfg, const std::string& name,
                                         std::shared_ptr<const SampleSource> source, std::vector<int64_t> pool,
                                         int rank, int world);

}  // namespace uda::data::pipeline
