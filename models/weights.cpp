#include "models/weights.h"

#include <torch/torch.h>

#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "models/tensor_convert.h"
#include "storage/pth_reader.h"

namespace uda::models {
namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

std::string join_limited(const std::vector<std::string>& keys, size_t limit = 12) {
  std::ostringstream os;
  for (size_t i = 0; i < keys.size() && i < limit; ++i) os << (i ? ", " : "") << keys[i];
  if (keys.size() > limit) os << ", ... (" << keys.size() - limit << " more)";
  return os.str();
}

std::string shape_str(c10::IntArrayRef s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << ")";
  return os.str();
}

// Every parameter and buffer by its dotted name, in the order of PyTorch's
// state_dict(): each module's own parameters, then its own buffers, then its
// children depth-first.
std::vector<std::pair<std::string, torch::Tensor>> named_tensors(const torch::nn::Module& m) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : m.named_modules("", /*include_self=*/true)) {
    const std::string base = item.key().empty() ? "" : item.key() + ".";
    for (const auto& p : item.value()->named_parameters(/*recurse=*/false))
      if (p.value().defined()) out.emplace_back(base + p.key(), p.value());
    for (const auto& b : item.value()->named_buffers(/*recurse=*/false))
      if (b.value().defined()) out.emplace_back(base + b.key(), b.value());
  }
  return out;
}

}  // namespace

std::string LoadReport::summary() const {
  std::ostringstream os;
  os << "loaded " << loaded << " tensors";
  if (!missing.empty()) os << "; missing " << missing.size() << ": " << join_limited(missing);
  if (!unexpected.empty()) os << "; unexpected " << unexpected.size() << ": " << join_limited(unexpected);
  return os.str();
}

LoadReport load_state_dict(torch::nn::Module& module, const storage::StateDict& sd, const LoadOptions& opt) {
  auto ignored = [&](const std::string& k) {
    for (const auto& p : opt.ignore)
      if (starts_with(k, p)) return true;
    return false;
  };
  std::map<std::string, const storage::TensorData*> file;
  std::vector<std::string> file_order;
  for (const auto& [key, value] : sd) {
    if (!starts_with(key, opt.prefix)) continue;
    std::string k = key.substr(opt.prefix.size());
    if (ignored(k)) continue;
    if (file.emplace(k, &value).second) file_order.push_back(k);
  }

  LoadReport report;
  std::set<std::string> seen;
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : named_tensors(module)) {
    if (ignored(name)) continue;
    seen.insert(name);
    auto it = file.find(name);
    if (it == file.end()) {
      report.missing.push_back(name);
      continue;
    }
    auto src = to_torch(*it->second);
    if (src.sizes() != target.sizes()) {
      throw UserError("tensor '" + opt.prefix + name + "' has shape " + shape_str(src.sizes()) +
                          " in the file but " + shape_str(target.sizes()) + " in the model",
                      opt.source,
                      "the file was written for another architecture; check model.backbone.type, "
                      "model.head.* and model.num_classes");
    }
    target.copy_(src.to(target.scalar_type()));
    ++report.loaded;
  }
  for (const auto& k : file_order)
    if (!seen.count(k)) report.unexpected.push_back(k);

  if (opt.strict && (!report.missing.empty() || !report.unexpected.empty())) {
    std::ostringstream what;
    what << "weights do not match the model";
    if (!opt.prefix.empty()) what << " under prefix '" << opt.prefix << "'";
    if (!report.missing.empty()) what << "; missing " << report.missing.size() << ": " << join_limited(report.missing);
    if (!report.unexpected.empty())
      what << "; unexpected " << report.unexpected.size() << ": " << join_limited(report.unexpected);
    throw UserError(what.str(), opt.source,
                    "check the architecture keys (model.backbone.type, model.head.type, model.num_classes) "
                    "and model.pretrained_key_prefix, or load non-strictly");
  }
  return report;
}

storage::StateDict state_dict(const torch::nn::Module& module, const std::string& prefix) {
  storage::StateDict out;
  for (const auto& [name, t] : named_tensors(module)) out.emplace_back(prefix + name, from_torch(t));
  return out;
}

storage::StateDict read_pth(const std::string& path) { return storage::read_pth_state_dict(path); }

LoadReport load_pth(torch::nn::Module& module, const std::string& path, LoadOptions opt) {
  if (opt.source.empty() || opt.source == LoadOptions{}.source) opt.source = path;
  return load_state_dict(module, read_pth(path), opt);
}

}  // namespace uda::models
