#include "storage/pth_writer.h"

#include "core/error.h"
#include "core/fs.h"
#include "storage/zip_writer.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

namespace uda::storage {

namespace {

const char* storage_global(DType t) {
  switch (t) {
    case DType::Float32: return "FloatStorage";
    case DType::Float64: return "DoubleStorage";
    case DType::Float16: return "HalfStorage";
    case DType::BFloat16: return "BFloat16Storage";
    case DType::Int64: return "LongStorage";
    case DType::Int32: return "IntStorage";
    case DType::Int16: return "ShortStorage";
    case DType::Int8: return "CharStorage";
    case DType::UInt8: return "ByteStorage";
    case DType::Bool: return "BoolStorage";
  }
  return "FloatStorage";
}

// Emits pickle opcodes (protocol 2, the subset torch.save uses).
class PickleOut {
 public:
  std::vector<uint8_t> bytes;
  void op(uint8_t o) { bytes.push_back(o); }
  void raw(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    bytes.insert(bytes.end(), b, b + n);
  }
  void u32(uint32_t v) {
    for (int k = 0; k < 4; ++k) bytes.push_back(static_cast<uint8_t>(v >> (8 * k)));
  }
  void global(const std::string& module, const std::string& name) {
    op('c');
    raw(module.data(), module.size());
    op('\n');
    raw(name.data(), name.size());
    op('\n');
  }
  void str(const std::string& s) {
    op('X');
    u32(static_cast<uint32_t>(s.size()));
    raw(s.data(), s.size());
  }
  void integer(int64_t v) {
    if (v >= INT32_MIN && v <= INT32_MAX) {
      op('J');
      u32(static_cast<uint32_t>(static_cast<int32_t>(v)));
      return;
    }
    op(0x8a);  // LONG1, 8 bytes little-endian two's complement
    op(8);
    for (int k = 0; k < 8; ++k) bytes.push_back(static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * k)));
  }
  void int_tuple(const std::vector<int64_t>& v) {
    if (v.empty()) {
      op(')');
      return;
    }
    op('(');
    for (int64_t x : v) integer(x);
    op('t');
  }
  void empty_ordered_dict() {
    global("collections", "OrderedDict");
    op(')');
    op('R');
  }
};

}  // namespace

std::vector<uint8_t> pickle_state_dict(const StateDict& sd, const PthWriteOptions& options) {
  PickleOut p;
  p.op(0x80);
  p.op(2);
  p.empty_ordered_dict();
  size_t i = 0;
  // SETITEMS in batches of 1000, as Python's pickler does.
  for (size_t start = 0; start < sd.size(); start += 1000) {
    p.op('(');
    for (size_t k = start; k < sd.size() && k < start + 1000; ++k, ++i) {
      const auto& [name, t] = sd[k];
      std::vector<int64_t> stride(t.shape.size());
      int64_t s = 1;
      for (size_t d = t.shape.size(); d-- > 0;) {
        stride[d] = s;
        s *= t.shape[d];
      }
      p.str(name);
      p.global("torch._utils", "_rebuild_tensor_v2");
      p.op('(');
      p.op('(');  // persistent id ('storage', type, key, location, numel)
      p.str("storage");
      p.global("torch", storage_global(t.dtype));
      p.str(std::to_string(i));
      p.str("cpu");
      p.integer(t.numel());
      p.op('t');
      p.op('Q');
      p.integer(0);  // storage offset
      p.int_tuple(t.shape);
      p.int_tuple(stride);
      p.op(0x89);  // requires_grad False
      p.empty_ordered_dict();  // backward hooks
      p.op('t');
      p.op('R');
    }
    p.op('u');
  }
  if (!options.module_versions.empty()) {
    p.op('}');
    p.str("_metadata");
    p.empty_ordered_dict();
    p.op('(');
    for (const auto& [prefix, version] : options.module_versions) {
      p.str(prefix);
      p.op('}');
      p.str("version");
      p.integer(version);
      p.op('s');
    }
    p.op('u');
    p.op('s');
    p.op('b');
  }
  p.op('.');
  return std::move(p.bytes);
}

void write_pth(const std::string& path, const StateDict& sd, const PthWriteOptions& options) {
  namespace fs = std::filesystem;
  for (const auto& [name, t] : sd)
    if (t.bytes.size() != static_cast<size_t>(t.numel()) * dtype_size(t.dtype))
      throw std::invalid_argument("write_pth: tensor '" + name + "' has " + std::to_string(t.bytes.size()) +
                                  " bytes, its shape and dtype need " +
                                  std::to_string(t.numel() * static_cast<int64_t>(dtype_size(t.dtype))));
  fs::path target(path);
  std::string archive = options.archive_name.empty() ? target.stem().string() : options.archive_name;
  fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string tmp = (dir / ("." + target.filename().string() + ".tmp." + std::to_string(::getpid()))).string();
  try {
    ZipWriter zip(tmp);
    std::vector<uint8_t> pkl = pickle_state_dict(sd, options);
    zip.add(archive + "/data.pkl", pkl.data(), pkl.size());
    for (size_t i = 0; i < sd.size(); ++i)
      zip.add(archive + "/data/" + std::to_string(i), sd[i].second.bytes.data(), sd[i].second.bytes.size());
    const std::string version = "3\n";
    zip.add(archive + "/version", version.data(), version.size());
    zip.finish();
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      throw UserError("cannot rename " + tmp + " to the output", path, "check that the folder is writable");
    fs_util::fsync_path(dir.string());
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
}

}  // namespace uda::storage
