#include "data/pipeline/malloc_tuning.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace uda::data::pipeline {

void keep_large_buffers_in_heap() {
#if defined(__GLIBC__)
  // 64 MiB covers a 2048x1024 RGB image and a batch of 512x512 float crops;
  // the trim threshold keeps a few such blocks cached per arena.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
#endif
}

}  // namespace uda::data::pipeline
