// Small filesystem helpers with crash-safe semantics.
#pragma once

#include <string>

namespace uda::fs_util {

// Writes `data` to `path` atomically: a temporary file in the same
// directory is written, fsynced and renamed over `path`, then the directory
// is fsynced. A reader sees either the old or the new content, never a mix.
void write_file_atomic(const std::string& path, const std::string& data);
// fsync of a file or directory; throws std::system_error on failure.
void fsync_path(const std::string& path);
// The whole file as a string; UserError naming the file when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace uda::fs_util
