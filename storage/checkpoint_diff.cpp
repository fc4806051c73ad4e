#include "storage/checkpoint_diff.h"

#include "core/error.h"
#include "storage/checkpoint_files.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>

namespace uda::storage {

namespace {

TensorDifference missing(const std::string& name, const char* note) {
  TensorDifference d;
  d.name = name;
  d.relative = d.absolute = std::numeric_limits<double>::infinity();
  d.note = note;
  return d;
}

float half_to_float(uint16_t h, bool bfloat) {
  uint32_t bits;
  if (bfloat) {
    bits = static_cast<uint32_t>(h) << 16;
  } else {
    const uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0) {
      const float v = std::ldexp(static_cast<float>(mant), -24);
      return sign ? -v : v;
    }
    bits = sign | (exp == 31 ? 0x7f800000u | (mant << 13) : ((exp + 112) << 23) | (mant << 13));
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

double element(const TensorData& t, int64_t i) {
  const uint8_t* p = t.bytes.data() + static_cast<size_t>(i) * dtype_size(t.dtype);
  switch (t.dtype) {
    case DType::Float32: { float v; std::memcpy(&v, p, 4); return v; }
    case DType::Float64: { double v; std::memcpy(&v, p, 8); return v; }
    case DType::Float16:
    case DType::BFloat16: { uint16_t v; std::memcpy(&v, p, 2); return half_to_float(v, t.dtype == DType::BFloat16); }
    default: return 0;
  }
}

bool is_float(DType t) {
  return t == DType::Float32 || t == DType::Float64 || t == DType::Float16 || t == DType::BFloat16;
}

TensorDifference compare(const std::string& name, const TensorData& a, const TensorData& b) {
  TensorDifference d{name};
  if (a.dtype != b.dtype || a.shape != b.shape) {
    d.relative = d.absolute = std::numeric_limits<double>::infinity();
    d.note = "dtype or shape differs";
    return d;
  }
  if (!is_float(a.dtype)) {
    d.relative = d.absolute = a.bytes == b.bytes ? 0.0 : 1.0;
    return d;
  }
  double diff = 0, scale = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double x = element(a, i), y = element(b, i);
    diff = std::max(diff, std::abs(x - y));
    scale = std::max(scale, std::abs(y));
    if (std::isnan(x) != std::isnan(y)) diff = std::numeric_limits<double>::infinity();
    d.squared_diff += (x - y) * (x - y);
    d.squared_ref += y * y;
  }
  d.absolute = diff;
  d.relative = scale > 0 ? diff / scale : diff;
  return d;
}

}  // namespace

std::vector<TensorDifference> compare_checkpoints(const LoadedCheckpoint& a, const LoadedCheckpoint& b) {
  std::map<std::string, const TensorData*> in_b;
  for (const auto& t : b.replicated) in_b[t.name] = &t.data;
  std::vector<TensorDifference> out;
  for (const auto& t : a.replicated) {
    auto it = in_b.find(t.name);
    if (it == in_b.end()) {
      out.push_back(missing(t.name, "only in the first checkpoint"));
      continue;
    }
    out.push_back(compare(t.name, t.data, *it->second));
    in_b.erase(it);
  }
  for (const auto& [name, data] : in_b)
    out.push_back(missing(name, "only in the second checkpoint"));
  std::stable_sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x.relative > y.relative; });
  return out;
}

double overall_relative_l2(const std::vector<TensorDifference>& diffs) {
  double num = 0, den = 0;
  for (const auto& d : diffs) {
    if (std::isinf(d.relative)) return std::numeric_limits<double>::infinity();
    num += d.squared_diff, den += d.squared_ref;
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

LoadedCheckpoint load_checkpoint_or_run(const std::string& path) {
  if (has_manifest(path)) return load_checkpoint(path);
  if (std::filesystem::is_directory(checkpoints_root(path))) {
    if (auto c = load_latest_checkpoint(path)) return *c;
  }
  throw UserError("no checkpoint found", path, "give a checkpoint directory (iter_N) or a run directory with checkpoints");
}

}  // namespace uda::storage
