#include "algos/algorithm.h"
#include "core/error.h"

#include <map>

namespace uda::algos {

namespace {
std::map<std::string, AlgorithmFactory>& registry() {
  static std::map<std::string, AlgorithmFactory> r;
  return r;
}
}  // namespace

AlgorithmRegistrar::AlgorithmRegistrar(const std::string& name, AlgorithmFactory factory) {
  registry()[name] = std::move(factory);
}

std::vector<std::string> registered_algorithms() {
  std::vector<std::string> out;
  for (const auto& kv : registry()) out.push_back(kv.first);
  return out;
}

std::unique_ptr<Algorithm> make_algorithm(const std::string& name) {
  auto it = registry().find(name);
  if (it == registry().end()) {
    std::string known;
    for (const auto& kv : registry()) known += (known.empty() ? "" : ", ") + kv.first;
    throw UserError("unknown algorithm '" + name + "'", "algorithm.name", "use one of: " + known);
  }
  return it->second();
}

}  // namespace uda::algos
