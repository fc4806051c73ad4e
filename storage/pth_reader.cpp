#include "storage/pth_reader.h"

#include "core/error.h"
#include "storage/unpickler.h"
#include "storage/zip_reader.h"

namespace uda::storage {

namespace {
// A state dict pickle is tiny (~100 bytes per tensor); anything far larger is
// not one and would only cost memory.
constexpr uint64_t kMaxPickleBytes = uint64_t{64} << 20;

std::string archive_prefix(const ZipReader& zip) {
  // torch names every record "<archive>/...": the folder holding data.pkl.
  const ZipReader::Entry* best = nullptr;
  for (const auto& e : zip.entries()) {
    if (e.name == "data.pkl" || (e.name.size() > 9 && e.name.compare(e.name.size() - 9, 9, "/data.pkl") == 0)) {
      if (!best || e.name.size() < best->name.size()) best = &e;
    }
  }
  if (!best)
    throw UserError("no data.pkl record in the archive", zip.path(),
                    "not a torch.save file (or written by torch < 1.6 in the legacy format; re-save it with a current torch)");
  return best->name.substr(0, best->name.size() - 8);  // keeps the trailing '/'
}
}  // namespace

PyValuePtr read_pth(const std::string& path) {
  ZipReader zip(path);
  std::string prefix = archive_prefix(zip);
  const ZipReader::Entry* pkl = zip.find(prefix + "data.pkl");
  if (pkl->size > kMaxPickleBytes)
    throw UserError("data.pkl is " + std::to_string(pkl->size) + " bytes, too large for a tensor state dict", path,
                    "only tensor state dicts are supported");
  std::vector<uint8_t> pickle = zip.read(*pkl);
  StorageLoader loader = [&](const std::string& key, DType dtype, int64_t numel) {
    const ZipReader::Entry* rec = zip.find(prefix + "data/" + key);
    if (!rec) throw UserError("storage record 'data/" + key + "' is missing", path, "the file is truncated or corrupt");
    uint64_t want = static_cast<uint64_t>(numel) * dtype_size(dtype);
    if (static_cast<uint64_t>(numel) > (uint64_t{1} << 60) || rec->size != want)
      throw UserError("storage record 'data/" + key + "' holds " + std::to_string(rec->size) + " bytes, the pickle declares " +
                          std::to_string(numel) + " x " + dtype_name(dtype),
                      path, "the file is corrupt");
    return std::make_shared<const std::vector<uint8_t>>(zip.read(*rec));
  };
  UnpickleLimits limits;
  limits.max_tensor_bytes = 2 * zip.file_size() + (uint64_t{64} << 20);
  return unpickle(pickle.data(), pickle.size(), path, loader, limits);
}

StateDict state_dict_from(const PyValue& root, const std::string& where) {
  const PyValue* sd = &root;
  if (root.is_dict()) {
    if (auto inner = root.get("state_dict"); inner && inner->is_dict()) sd = inner.get();
  }
  if (!sd->is_dict())
    throw UserError("the file holds a " + root.type_name() + ", not a state dict", where,
                    "pass a file holding a dict of tensors, or a checkpoint with a 'state_dict' entry");
  StateDict out;
  out.reserve(sd->dict.size());
  for (const auto& [k, v] : sd->dict) {
    if (!k->is_str()) throw UserError("state dict key of type " + k->type_name(), where, "keys must be strings");
    if (v->kind != PyValue::Kind::Tensor)
      throw UserError("state dict entry '" + k->s + "' is a " + v->type_name() + ", not a tensor", where,
                      "pass a file holding a dict of tensors, or a checkpoint with a 'state_dict' entry");
    out.emplace_back(k->s, *v->tensor);
  }
  return out;
}

StateDict read_pth_state_dict(const std::string& path) { return state_dict_from(*read_pth(path), path); }

StateDict select_prefix(const StateDict& sd, const std::string& prefix) {
  StateDict out;
  for (const auto& [k, v] : sd)
    if (k.compare(0, prefix.size(), prefix) == 0) out.emplace_back(k.substr(prefix.size()), v);
  return out;
}

}  // namespace uda::storage
