#include "data/pipeline/malloc_tuning.h"

// <malloc.h> first: __GLIBC__ is defined only once a C library header has
// been read (testing it before any was included compiled this to nothing).
#if __has_include(<malloc.h>)
#include <malloc.h>
#endif

namespace uda::data::pipeline {

void keep_large_buffers_in_heap() {
#if defined(__GLIBC__)
  // 32 MiB covers a 2048x1024 RGB image and a batch of 512x512 float crops.
  // It is also the largest value glibc accepts (half its 64 MiB per-thread
  // heap): a larger one is silently ignored, and since setting any of these
  // options turns off glibc's adaptive threshold, every large block would
  // then be mmap()ed, the worst case. The trim threshold keeps freed blocks
  // cached in each arena.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
#endif
}

}  // namespace uda::data::pipeline
