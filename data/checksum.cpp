#include "data/checksum.h"

#include "core/error.h"

#include <xxhash.h>

#include <cstdio>
#include <memory>
#include <vector>

namespace uda::data {

uint64_t xxh64_file(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw UserError("cannot read shard file", path, "check that the dataset directory is complete and readable");
  std::unique_ptr<XXH64_state_t, XXH_errorcode (*)(XXH64_state_t*)> state(XXH64_createState(), &XXH64_freeState);
  XXH64_reset(state.get(), 0);
  std::vector<char> buf(1 << 20);
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) XXH64_update(state.get(), buf.data(), n);
  if (std::ferror(f.get())) throw UserError("read error on file", path, "check the disk and the file");
  return XXH64_digest(state.get());
}

std::string hex64(uint64_t value) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

}  // namespace uda::data
