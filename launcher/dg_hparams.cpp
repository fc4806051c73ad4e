#include "launcher/dg_hparams.h"

#include "core/numpy_random.h"

#include <cmath>

namespace uda::cli {

namespace {

// The random_val_fn shapes of the registry.
enum class Draw {
  kFixed,      // lambda r: <default>
  kPow10,      // lambda r: 10**r.uniform(lo, hi)
  kPow2Int,    // lambda r: int(2**r.uniform(lo, hi))
  kChoice,     // lambda r: r.choice([floats])
  kChoiceInt,  // lambda r: int(r.choice([ints])), or r.choice([ints]) (an np.int64)
};

struct Def {
  std::string name;
  nlohmann::json default_value;
  Draw draw = Draw::kFixed;
  double lo = 0, hi = 0;
  std::vector<double> choices;
};

Def fixed(const std::string& name, nlohmann::json v) { return {name, std::move(v), Draw::kFixed, 0, 0, {}}; }
Def pow10(const std::string& name, double def, double lo, double hi) { return {name, def, Draw::kPow10, lo, hi, {}}; }
Def pow2_int(const std::string& name, int64_t def, double lo, double hi) {
  return {name, def, Draw::kPow2Int, lo, hi, {}};
}
Def choice(const std::string& name, double def, std::vector<double> c) { return {name, def, Draw::kChoice, 0, 0, c}; }
Def choice_int(const std::string& name, int64_t def, std::vector<double> c) {
  return {name, def, Draw::kChoiceInt, 0, 0, c};
}

bool is_dann(const std::string& a) { return a == "DANN" || a == "CDANN"; }

// hparams_registry.py:39 and the algorithm blocks :49-57, :100-105.
void algorithm_defs(const std::string& a, std::vector<Def>& d) {
  d.push_back(choice("resnet_dropout", 0., {0., 0.1, 0.5}));  // :39
  if (is_dann(a)) {
    d.push_back(pow10("lambda", 1.0, -2, 2));                       // :50
    d.push_back(pow10("weight_decay_d", 0., -6, -2));               // :51
    d.push_back(pow2_int("d_steps_per_g_step", 1, 0, 3));           // :52
    d.push_back(pow10("grad_penalty", 0., -2, 1));                  // :53
    d.push_back(choice("beta1", 0.5, {0., 0.5}));                   // :54
    d.push_back(pow2_int("mlp_width", 256, 6, 10));                 // :55
    d.push_back(choice_int("mlp_depth", 3, {3, 4, 5}));             // :56
    d.push_back(choice("mlp_dropout", 0., {0., 0.1, 0.5}));         // :57
  } else if (a == "MMD" || a == "CORAL") {
    d.push_back(pow10("mmd_gamma", 1., -1, 1));  // :100-101
  } else if (a == "MLDG") {
    d.push_back(pow10("mldg_beta", 1., -1, 1));           // :104
    d.push_back(choice_int("n_meta_test", 2, {1, 2}));    // :105
  }
}

// The dataset-and-algorithm blocks, hparams_registry.py:205-248 (the ADRMX,
// ARM and RDM branches belong to algorithms uda does not run).
void dataset_defs(const std::string& a, const std::string& dataset, bool small, std::vector<Def>& d) {
  d.push_back(small ? pow10("lr", 1e-3, -4.5, -2.5) : pow10("lr", 5e-5, -5, -3.5));  // :209, :214
  d.push_back(small ? fixed("weight_decay", 0.) : pow10("weight_decay", 0., -6, -2));  // :217, :219
  if (small)
    d.push_back(pow2_int("batch_size", 64, 3, 9));  // :222
  else if (dataset == "DomainNet")
    d.push_back(pow2_int("batch_size", 32, 3, 5));  // :231
  else
    d.push_back(pow2_int("batch_size", 32, 3, 5.5));  // :233
  if (!is_dann(a)) return;
  d.push_back(small ? pow10("lr_g", 1e-3, -4.5, -2.5) : pow10("lr_g", 5e-5, -5, -3.5));  // :236, :238
  d.push_back(small ? pow10("lr_d", 1e-3, -4.5, -2.5) : pow10("lr_d", 5e-5, -5, -3.5));  // :241, :243
  d.push_back(small ? fixed("weight_decay_g", 0.) : pow10("weight_decay_g", 0., -6, -2));  // :246, :248
}

// random_val_fn(np.random.RandomState(numpy_random::seed_hash(random_seed, name))), :23-26.
nlohmann::json draw(const Def& d, int64_t random_seed) {
  numpy_random::RandomState r(numpy_random::seed_hash({random_seed, d.name}));
  switch (d.draw) {
    case Draw::kFixed: return d.default_value;
    case Draw::kPow10: return std::pow(10.0, r.uniform(d.lo, d.hi));
    case Draw::kPow2Int: return static_cast<int64_t>(std::pow(2.0, r.uniform(d.lo, d.hi)));
    case Draw::kChoice: return d.choices[r.choice(d.choices.size())];
    case Draw::kChoiceInt: return static_cast<int64_t>(d.choices[r.choice(d.choices.size())]);
  }
  return nullptr;
}

}  // namespace

const std::vector<DgAlgorithm>& dg_algorithms() {
  static const std::vector<DgAlgorithm> kAll{
      {"erm", "ERM"}, {"mldg", "MLDG"}, {"coral", "CORAL"}, {"mmd", "MMD"}, {"dann", "DANN"}, {"cdann", "CDANN"}};
  return kAll;
}

const DgAlgorithm* find_dg_algorithm(const std::string& uda_name) {
  for (const auto& a : dg_algorithms())
    if (a.uda_name == uda_name) return &a;
  return nullptr;
}

std::string dg_algorithm_names() {
  std::string out;
  for (const auto& a : dg_algorithms()) out += (out.empty() ? "" : ", ") + a.uda_name;
  return out;
}

bool domainbed_small_images(const std::string& dataset) {
  return dataset == "Debug28" || dataset == "RotatedMNIST" || dataset == "ColoredMNIST";
}

std::vector<DgHparam> dg_hparams(const DgAlgorithm& algorithm, const std::string& dataset, bool small_images,
                                 int64_t hparams_seed, int64_t trial_seed) {
  std::vector<Def> defs;
  algorithm_defs(algorithm.domainbed_name, defs);
  dataset_defs(algorithm.domainbed_name, dataset, small_images, defs);
  const int64_t random_seed = numpy_random::seed_hash({hparams_seed, trial_seed});
  std::vector<DgHparam> out;
  for (const auto& d : defs) out.push_back({d.name, hparams_seed == 0 ? d.default_value : draw(d, random_seed)});
  return out;
}

}  // namespace uda::cli
