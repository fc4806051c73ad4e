// Read-only access to the records of a zip archive as torch.save writes it
// (every record STORED, i.e. uncompressed; zip64 records accepted).
// Malformed or truncated archives, and compressed records, are UserErrors
// naming the file; sizes are checked against the file size before any
// allocation, and every record's CRC-32 is verified when it is read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace uda::storage {

class ZipReader {
 public:
  struct Entry {
    std::string name;
    uint64_t size = 0;           // bytes (== compressed size, STORED)
    uint32_t crc32 = 0;
    uint64_t header_offset = 0;  // of the local file header
    uint16_t method = 0;         // 0 = STORED
  };

  explicit ZipReader(const std::string& path);
  ~ZipReader();
  ZipReader(const ZipReader&) = delete;
  ZipReader& operator=(const ZipReader&) = delete;

  const std::string& path() const { return path_; }
  uint64_t file_size() const { return file_size_; }
  const std::vector<Entry>& entries() const { return entries_; }
  // The record called `name`, or nullptr.
  const Entry* find(const std::string& name) const;
  // The record's bytes, CRC-checked.
  std::vector<uint8_t> read(const Entry& e) const;

 private:
  void parse_central_directory();
  void pread_exact(void* dst, uint64_t size, uint64_t offset, const char* what) const;
  [[noreturn]] void fail(const std::string& reason) const;

  std::string path_;
  int fd_ = -1;
  uint64_t file_size_ = 0;
  std::vector<Entry> entries_;
};

}  // namespace uda::storage
