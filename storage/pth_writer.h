// Writing a StateDict as a PyTorch .pth file that Python's torch.load reads:
// torch.save's zip layout (<archive>/data.pkl, <archive>/data/<i>,
// <archive>/version) with a protocol-2 pickle of a collections.OrderedDict
// of tensors (torch._utils._rebuild_tensor_v2 over typed storages).
#pragma once

#include "storage/tensor_data.h"

#include <string>
#include <utility>
#include <vector>

namespace uda::storage {

struct PthWriteOptions {
  // Folder name of the records inside the zip; empty: the file's stem
  // (what torch.save uses).
  std::string archive_name;
  // Optional _metadata attribute of the OrderedDict (module prefix ->
  // version), as nn.Module.state_dict() attaches it; empty: none.
  std::vector<std::pair<std::string, int>> module_versions;
};

// Writes atomically (temporary file, fsync, rename). UserError on I/O errors.
void write_pth(const std::string& path, const StateDict& sd, const PthWriteOptions& options = {});

// The pickle alone (data.pkl) for `sd`, storages named "0", "1", ...
std::vector<uint8_t> pickle_state_dict(const StateDict& sd, const PthWriteOptions& options = {});

}  // namespace uda::storage
