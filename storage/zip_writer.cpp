#include "storage/zip_writer.h"

#include "core/error.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace uda::storage {

namespace {
constexpr uint64_t k32 = 0xFFFFFFFFu;
constexpr size_t kAlign = 64;  // torch aligns record data for mmap-based readers

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v));
  b.push_back(static_cast<uint8_t>(v >> 8));
}
void put32(std::vector<uint8_t>& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v));
  put16(b, static_cast<uint16_t>(v >> 16));
}
void put64(std::vector<uint8_t>& b, uint64_t v) {
  put32(b, static_cast<uint32_t>(v));
  put32(b, static_cast<uint32_t>(v >> 32));
}
uint32_t crc_of(const void* data, size_t size) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  const auto* p = static_cast<const Bytef*>(data);
  for (size_t off = 0; off < size;) {
    uInt n = static_cast<uInt>(std::min<size_t>(size - off, 1u << 30));
    crc = ::crc32(crc, p + off, n);
    off += n;
  }
  return static_cast<uint32_t>(crc);
}
}  // namespace

ZipWriter::ZipWriter(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw UserError("cannot create file: " + std::string(std::strerror(errno)), path,
                    "check that the folder exists and is writable");
}

ZipWriter::~ZipWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void ZipWriter::write_all(const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd_, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw UserError("write failed: " + std::string(std::strerror(errno)), path_,
                      "check free disk space and quotas");
    p += n;
    size -= static_cast<size_t>(n);
    pos_ += static_cast<uint64_t>(n);
  }
}

void ZipWriter::add(const std::string& name, const void* data, size_t size) {
  Record r{name, pos_, size, crc_of(data, size)};
  bool z64 = size >= k32 || pos_ >= k32;
  std::vector<uint8_t> h;
  put32(h, 0x04034b50);
  put16(h, z64 ? 45 : 20);  // version needed
  put16(h, 0);              // flags
  put16(h, 0);              // STORED
  put16(h, 0);              // time
  put16(h, 0);              // date (fixed, like torch)
  put32(h, r.crc);
  put32(h, z64 ? static_cast<uint32_t>(k32) : static_cast<uint32_t>(size));
  put32(h, z64 ? static_cast<uint32_t>(k32) : static_cast<uint32_t>(size));
  put16(h, static_cast<uint16_t>(name.size()));
  size_t extra_fixed = z64 ? 20 : 0;
  size_t before_pad = h.size() + 2 + name.size() + extra_fixed + 4;  // +4: padding field header
  size_t pad = (kAlign - (pos_ + before_pad) % kAlign) % kAlign;
  put16(h, static_cast<uint16_t>(extra_fixed + 4 + pad));
  h.insert(h.end(), name.begin(), name.end());
  if (z64) {
    put16(h, 0x0001);
    put16(h, 16);
    put64(h, size);
    put64(h, size);
  }
  put16(h, 0x4246);  // "FB": torch's padding field id
  put16(h, static_cast<uint16_t>(pad));
  h.insert(h.end(), pad, 'Z');
  write_all(h.data(), h.size());
  write_all(data, size);
  records_.push_back(std::move(r));
}

void ZipWriter::finish() {
  uint64_t cd_offset = pos_;
  std::vector<uint8_t> cd;
  for (const auto& r : records_) {
    bool z64 = r.size >= k32 || r.offset >= k32;
    put32(cd, 0x02014b50);
    put16(cd, z64 ? 45 : 20);  // made by
    put16(cd, z64 ? 45 : 20);  // needed
    put16(cd, 0);
    put16(cd, 0);
    put16(cd, 0);
    put16(cd, 0);
    put32(cd, r.crc);
    put32(cd, z64 ? static_cast<uint32_t>(k32) : static_cast<uint32_t>(r.size));
    put32(cd, z64 ? static_cast<uint32_t>(k32) : static_cast<uint32_t>(r.size));
    put16(cd, static_cast<uint16_t>(r.name.size()));
    put16(cd, z64 ? 28 : 0);
    put16(cd, 0);  // comment
    put16(cd, 0);  // disk
    put16(cd, 0);  // internal attributes
    put32(cd, 0);  // external attributes
    put32(cd, z64 ? static_cast<uint32_t>(k32) : static_cast<uint32_t>(r.offset));
    cd.insert(cd.end(), r.name.begin(), r.name.end());
    if (z64) {
      put16(cd, 0x0001);
      put16(cd, 24);
      put64(cd, r.size);
      put64(cd, r.size);
      put64(cd, r.offset);
    }
  }
  write_all(cd.data(), cd.size());
  uint64_t cd_size = cd.size(), count = records_.size();
  std::vector<uint8_t> end;
  bool z64 = count >= 0xFFFF || cd_offset >= k32 || cd_size >= k32;
  if (z64) {
    uint64_t z64_offset = pos_;
    put32(end, 0x06064b50);
    put64(end, 44);
    put16(end, 45);
    put16(end, 45);
    put32(end, 0);
    put32(end, 0);
    put64(end, count);
    put64(end, count);
    put64(end, cd_size);
    put64(end, cd_offset);
    put32(end, 0x07064b50);
    put32(end, 0);
    put64(end, z64_offset);
    put32(end, 1);
  }
  put32(end, 0x06054b50);
  put16(end, 0);
  put16(end, 0);
  put16(end, z64 ? 0xFFFF : static_cast<uint16_t>(count));
  put16(end, z64 ? 0xFFFF : static_cast<uint16_t>(count));
  put32(end, z64 ? static_cast<uint32_t>(k32) : static_cast<uint32_t>(cd_size));
  put32(end, z64 ? static_cast<uint32_t>(k32) : static_cast<uint32_t>(cd_offset));
  put16(end, 0);
  write_all(end.data(), end.size());
  if (::fsync(fd_) != 0)
    throw UserError("fsync failed: " + std::string(std::strerror(errno)), path_, "check the disk");
  int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) throw UserError("close failed: " + std::string(std::strerror(errno)), path_, "check the disk");
}

}  // namespace uda::storage
