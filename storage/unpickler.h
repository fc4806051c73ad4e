// A small, safe unpickler for the pickles inside torch.save archives.
//
// It implements the opcodes of pickle protocols 2-4 that describe plain
// data (containers, numbers, strings) and resolves exactly these globals:
// collections.OrderedDict, torch._utils._rebuild_tensor_v2,
// torch._utils._rebuild_parameter and the torch.*Storage typed storages
// (through persistent ids). Nothing else is resolved or executed: any other
// global or opcode is a UserError that names the file, the byte offset, the
// opcode or global, and says that only tensor state dicts are supported.
// Resource use is bounded: nesting depth, total tensor bytes materialised,
// and every length is checked against the remaining input before use.
#pragma once

#include "storage/py_value.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace uda::storage {

struct UnpickleLimits {
  uint32_t max_depth = 100;
  // Python values created (a state dict of 1000 tensors needs ~20k).
  uint64_t max_values = 2'000'000;
  // Total bytes of all tensors materialised (views of shared storages are
  // copied, so a hostile pickle could otherwise multiply a small file).
  uint64_t max_tensor_bytes = uint64_t{1} << 34;
};

// Returns the bytes of storage record `key` holding `numel` elements of
// `dtype`; throws UserError when missing or of the wrong size.
using StorageLoader =
    std::function<std::shared_ptr<const std::vector<uint8_t>>(const std::string& key, DType dtype, int64_t numel)>;

// Unpickles `data`. `where` names the input in error messages (the file).
PyValuePtr unpickle(const uint8_t* data, size_t size, const std::string& where, const StorageLoader& storages,
                    const UnpickleLimits& limits = {});

}  // namespace uda::storage
