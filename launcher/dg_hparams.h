// DomainBed's hyper-parameter registry (domainbed/hparams_registry.py at
// b93c22a) for the algorithms uda implements (ERM, DANN, CDANN, CORAL, MMD,
// MLDG) and the generic hyper-parameters those use, reproduced exactly:
// defaults, random distributions, and the per-hyper-parameter numpy
// RandomState(seed_hash(random_seed, name)) draws (:19-26). Only the
// hyper-parameters uda maps to a config key are listed (the constant
// switches data_augmentation, resnet18, freeze_bn, ... are not).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace uda::cli {

struct DgAlgorithm {
  std::string uda_name;        // algorithm.name
  std::string domainbed_name;  // DomainBed's class name: seeds and tables use it
};

// In DomainBed's algorithms.ALGORITHMS order (algorithms.py:25-60): the row
// order of the result tables.
const std::vector<DgAlgorithm>& dg_algorithms();
// nullptr when the registry has no entry for `uda_name`.
const DgAlgorithm* find_dg_algorithm(const std::string& uda_name);
std::string dg_algorithm_names();  // "erm, mldg, ..." for messages

// SMALL_IMAGES of hparams_registry.py:15: the datasets that get the small-
// image branches when a sweep does not say otherwise.
bool domainbed_small_images(const std::string& dataset);

struct DgHparam {
  std::string name;     // DomainBed's name (lr, batch_size, lambda, ...)
  nlohmann::json value;  // int or float, as DomainBed's Python value
};

// The hyper-parameters of one DomainBed job (scripts/train.py:75-79):
// hparams_seed 0 gives default_hparams(algorithm, dataset)
// (hparams_registry.py:253-254), any other random_hparams(algorithm,
// dataset, seed_hash(hparams_seed, trial_seed)) (:257-258). `dataset` is
// DomainBed's name (it decides the DomainNet batch size, :230-231);
// `small_images` picks the SMALL_IMAGES branches.
std::vector<DgHparam> dg_hparams(const DgAlgorithm& algorithm, const std::string& dataset, bool small_images,
                                 int64_t hparams_seed, int64_t trial_seed);

}  // namespace uda::cli
