// Loading and saving state dicts by official key names.
//
// load_state_dict follows torch.nn.Module.load_state_dict: entries of `sd`
// whose key starts with `prefix` are matched (prefix removed) against the
// module's named_parameters() and named_buffers(). With `strict`, missing
// and unexpected keys are a UserError that lists them by name, names the
// source file and says how to fix it; without `strict` they are reported.
// A shape mismatch is always an error (as in PyTorch).
#pragma once

#include <string>
#include <vector>

#include "storage/tensor_data.h"

namespace torch::nn {
class Module;
}

namespace uda::models {

struct LoadOptions {
  std::string prefix;            // e.g. "model." (student), "ema_model." (teacher)
  bool strict = true;
  std::string source = "state dict";  // file name shown in errors
  // Keys (after removing `prefix`) starting with one of these are ignored in
  // both directions, e.g. {"head."} for MiT ImageNet files.
  std::vector<std::string> ignore;
};

struct LoadReport {
  size_t loaded = 0;
  std::vector<std::string> missing;     // in the module, not in the file
  std::vector<std::string> unexpected;  // in the file (under prefix), not in the module
  std::string summary() const;          // one line: loaded N, missing [...], unexpected [...]
};

LoadReport load_state_dict(torch::nn::Module& module, const storage::StateDict& sd,
                           const LoadOptions& opt = {});

// The module's parameters then buffers, keys prefixed with `prefix`, as CPU copies.
storage::StateDict state_dict(const torch::nn::Module& module, const std::string& prefix = "");

// Reads an official .pth file (a plain state dict or a {"state_dict": ...}
// checkpoint) with uda's safe unpickler.
storage::StateDict read_pth(const std::string& path);

// read_pth + load_state_dict; `opt.source` defaults to `path`.
LoadReport load_pth(torch::nn::Module& module, const std::string& path, LoadOptions opt = {});

}  // namespace uda::models
