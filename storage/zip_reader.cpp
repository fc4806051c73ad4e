#include "storage/zip_reader.h"

#include "core/error.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace uda::storage {

namespace {
constexpr uint32_t kEocdSig = 0x06054b50, kZip64LocatorSig = 0x07064b50, kZip64EocdSig = 0x06064b50,
                   kCentralSig = 0x02014b50, kLocalSig = 0x04034b50;

uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t le32(const uint8_t* p) { return le16(p) | (static_cast<uint32_t>(le16(p + 2)) << 16); }
uint64_t le64(const uint8_t* p) { return le32(p) | (static_cast<uint64_t>(le32(p + 4)) << 32); }
}  // namespace

ZipReader::ZipReader(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0)
    throw UserError("cannot open .pth file: " + std::string(std::strerror(errno)), path,
                    "check that the file exists and is readable");
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    throw UserError("not a regular file", path, "pass a .pth file written by torch.save");
  }
  file_size_ = static_cast<uint64_t>(st.st_size);
  try {
    parse_central_directory();
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    throw;
  }
}

ZipReader::~ZipReader() {
  if (fd_ >= 0) ::close(fd_);
}

void ZipReader::fail(const std::string& reason) const {
  throw UserError("not a readable torch.save zip archive: " + reason, path_,
                  "the file is truncated or corrupt, or not written by torch.save (>= 1.6, zip format)");
}

void ZipReader::pread_exact(void* dst, uint64_t size, uint64_t offset, const char* what) const {
  if (offset > file_size_ || size > file_size_ - offset) fail(std::string(what) + " lies beyond the end of the file");
  auto* p = static_cast<uint8_t*>(dst);
  while (size > 0) {
    ssize_t n = ::pread(fd_, p, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(std::string("read error in ") + what);
    p += n;
    offset += static_cast<uint64_t>(n);
    size -= static_cast<uint64_t>(n);
  }
}

void ZipReader::parse_central_directory() {
  // The end-of-central-directory record sits in the last 22 + 65535 bytes.
  if (file_size_ < 22) fail("file too small (" + std::to_string(file_size_) + " bytes)");
  uint64_t tail_size = std::min<uint64_t>(file_size_, 22 + 65535);
  std::vector<uint8_t> tail(tail_size);
  pread_exact(tail.data(), tail_size, file_size_ - tail_size, "end of central directory");
  int64_t eocd = -1;
  for (int64_t i = static_cast<int64_t>(tail_size) - 22; i >= 0; --i) {
    if (le32(&tail[i]) == kEocdSig) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail("no end-of-central-directory record (truncated?)");
  const uint8_t* e = &tail[eocd];
  uint64_t count = le16(e + 10), cd_size = le32(e + 12), cd_offset = le32(e + 16);
  uint64_t eocd_abs = file_size_ - tail_size + static_cast<uint64_t>(eocd);
  if (eocd_abs >= 20) {
    uint8_t loc[20];
    pread_exact(loc, 20, eocd_abs - 20, "zip64 locator");
    if (le32(loc) == kZip64LocatorSig) {
      uint64_t z64 = le64(loc + 8);
      uint8_t rec[56];
      pread_exact(rec, 56, z64, "zip64 end of central directory");
      if (le32(rec) != kZip64EocdSig) fail("bad zip64 end-of-central-directory signature");
      count = le64(rec + 32);
      cd_size = le64(rec + 40);
      cd_offset = le64(rec + 48);
    }
  }
  if (cd_offset > file_size_ || cd_size > file_size_ - cd_offset) fail("central directory lies beyond the end of the file");
  if (count > cd_size / 46) fail("central directory declares more records than it can hold");
  std::vector<uint8_t> cd(cd_size);
  pread_exact(cd.data(), cd_size, cd_offset, "central directory");
  size_t pos = 0;
  entries_.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    if (pos + 46 > cd.size() || le32(&cd[pos]) != kCentralSig) fail("bad central directory record");
    const uint8_t* h = &cd[pos];
    Entry en;
    en.method = le16(h + 10);
    en.crc32 = le32(h + 16);
    uint64_t csize = le32(h + 20), usize = le32(h + 24);
    size_t name_len = le16(h + 28), extra_len = le16(h + 30), comment_len = le16(h + 32);
    en.header_offset = le32(h + 42);
    if (pos + 46 + name_len + extra_len + comment_len > cd.size()) fail("central directory record overruns");
    en.name.assign(reinterpret_cast<const char*>(h + 46), name_len);
    // Zip64 extended information: present fields replace the 0xFFFFFFFF ones, in order.
    const uint8_t* x = h + 46 + name_len;
    for (size_t xp = 0; xp + 4 <= extra_len;) {
      uint16_t id = le16(x + xp), len = le16(x + xp + 2);
      if (xp + 4 + len > extra_len) break;
      if (id == 0x0001) {
        const uint8_t* f = x + xp + 4;
        size_t left = len;
        auto next = [&](uint64_t& v) {
          if (v != 0xFFFFFFFFu) return;
          if (left < 8) fail("short zip64 extra field");
          v = le64(f);
          f += 8;
          left -= 8;
        };
        next(usize);
        next(csize);
        next(en.header_offset);
      }
      xp += 4 + len;
    }
    en.size = en.method == 0 ? usize : csize;
    if (en.method == 0 && csize != usize) fail("record '" + en.name + "' has inconsistent sizes");
    if (en.header_offset > file_size_ || en.size > file_size_ - en.header_offset)
      fail("record '" + en.name + "' lies beyond the end of the file (truncated?)");
    entries_.push_back(std::move(en));
    pos += 46 + name_len + extra_len + comment_len;
  }
}

const ZipReader::Entry* ZipReader::find(const std::string& name) const {
  for (const auto& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

std::vector<uint8_t> ZipReader::read(const Entry& e) const {
  if (e.method != 0)
    fail("record '" + e.name + "' is compressed (method " + std::to_string(e.method) +
         "); torch.save writes uncompressed records");
  uint8_t lh[30];
  pread_exact(lh, 30, e.header_offset, "local file header");
  if (le32(lh) != kLocalSig) fail("bad local header signature for record '" + e.name + "'");
  uint64_t data_offset = e.header_offset + 30 + le16(lh + 26) + le16(lh + 28);
  if (data_offset > file_size_ || e.size > file_size_ - data_offset)
    fail("data of record '" + e.name + "' lies beyond the end of the file (truncated?)");
  std::vector<uint8_t> out(e.size);
  pread_exact(out.data(), e.size, data_offset, "record data");
  // zlib's crc32 takes a uInt length; feed it in chunks.
  uLong crc = ::crc32(0L, Z_NULL, 0);
  for (uint64_t off = 0; off < out.size();) {
    uInt n = static_cast<uInt>(std::min<uint64_t>(out.size() - off, 1u << 30));
    crc = ::crc32(crc, out.data() + off, n);
    off += n;
  }
  if (static_cast<uint32_t>(crc) != e.crc32) fail("CRC-32 mismatch in record '" + e.name + "' (corrupt file)");
  return out;
}

}  // namespace uda::storage
