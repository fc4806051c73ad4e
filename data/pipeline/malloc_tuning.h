// Keeps the loader's multi-megabyte buffers (decoded 1280x720 images, crops,
// batches) in the malloc heap instead of fresh mmap()s: glibc serves such
// sizes with mmap and returns them on free, so every sample would fault in
// and zero its pages again (measured: ~45% of loader time). Process-wide,
// so the program (the worker, the benchmark) calls it once at start-up; the
// library never does it behind the caller's back. Equivalent to
// GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=536870912
#pragma once

namespace uda::data::pipeline {

// No-op where the C library has no mallopt (non-glibc).
void keep_large_buffers_in_heap();

}  // namespace uda::data::pipeline
