#include "launcher/seed_hash.h"

#include <openssl/evp.h>

#include <cctype>
#include <stdexcept>

namespace uda::cli {

bool is_identifier(const std::string& s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!(std::isalnum(c) || c == '_')) return false;
  return true;
}

namespace {

struct Repr {
  std::string operator()(int64_t v) const { return std::to_string(v); }
  std::string operator()(const std::string& s) const {
    if (!is_identifier(s)) throw std::invalid_argument("seed_hash: not an identifier: " + s);
    return "'" + s + "'";
  }
  std::string operator()(const std::vector<int64_t>& l) const {
    std::string out = "[";
    for (size_t i = 0; i < l.size(); ++i) out += (i ? ", " : "") + std::to_string(l[i]);
    return out + "]";
  }
};

}  // namespace

std::string py_tuple_repr(const std::vector<PyArg>& args) {
  std::string out = "(";
  for (size_t i = 0; i < args.size(); ++i) out += (i ? ", " : "") + std::visit(Repr{}, args[i]);
  return out + (args.size() == 1 ? ",)" : ")");
}

uint32_t seed_hash(const std::vector<PyArg>& args) {
  const std::string text = py_tuple_repr(args);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), md, &len, EVP_md5(), nullptr) != 1 || len != 16)
    throw std::runtime_error("EVP_Digest(md5) failed");
  const uint32_t low = (uint32_t{md[12]} << 24) | (uint32_t{md[13]} << 16) | (uint32_t{md[14]} << 8) | md[15];
  return low & 0x7fffffffu;
}

}  // namespace uda::cli
