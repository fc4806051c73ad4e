// The domain-generalization view of a multi-domain dataset: which domains
// are trained on and which are held out as test domains, and for every
// domain its "in" and "out" splits — DomainBed's protocol
// (scripts/train.py:116-141, lib/misc.py split_dataset): the out split of
// domain i is the first int(n_i * holdout_fraction) of the domain's samples
// shuffled by numpy's RandomState(seed_hash(split_seed, i)), the in split the
// rest. The same numbers as DomainBed for the same environments and trial
// seed. A view over the stored dataset; nothing is rewritten.
//
// Config keys (declared in core/common_keys.cpp: collect reads them too):
//   data.test_domains      domains held out (indices or names); [] = none
//   data.holdout_fraction  share of every domain in its out split (0.2)
//   data.split_seed        DomainBed's trial seed
#pragma once

#include "core/config.h"
#include "data/class_stats.h"

#include <cstdint>
#include <string>
#include <vector>

namespace uda::data::pipeline {

struct DomainSplit {
  std::vector<std::string> names;           // domain names, in dataset order
  std::vector<std::vector<int64_t>> in, out;  // dataset indices per domain
  std::vector<bool> is_test;                // held out from training

  std::vector<int> training_domains() const;
  std::vector<int> test_domains() const;
};

// Reads the keys above and splits the domains of `stats`. UserError naming
// the key and the fix for an unknown test domain, a dataset without domains,
// every domain held out, a fraction outside [0, 1), or a training domain
// whose in split is empty.
DomainSplit split_domains(const config::Config& cfg, const ClassStats& stats, const std::string& dataset_path);

}  // namespace uda::data::pipeline
