// Writes a zip archive of STORED records the way torch.save does: each
// record's data starts on a 64-byte boundary (padding in the local header's
// extra field), CRC-32 set, fixed timestamps; zip64 records when an offset
// or size needs it. Errors (disk full, ...) are UserErrors naming the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace uda::storage {

class ZipWriter {
 public:
  explicit ZipWriter(const std::string& path);
  ~ZipWriter();  // closes without finishing: the file is then not a valid archive
  ZipWriter(const ZipWriter&) = delete;
  ZipWriter& operator=(const ZipWriter&) = delete;

  void add(const std::string& name, const void* data, size_t size);
  // Writes the central directory, fsyncs and closes the file.
  void finish();

 private:
  struct Record {
    std::string name;
    uint64_t offset, size;
    uint32_t crc;
  };
  void write_all(const void* data, size_t size);

  std::string path_;
  int fd_ = -1;
  uint64_t pos_ = 0;
  std::vector<Record> records_;
};

}  // namespace uda::storage
