#include "data/pipeline/malloc_tuning.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdlib>
#include <cstring>

namespace {

// Bytes glibc currently serves with mmap (blocks above its mmap threshold).
size_t mmapped_bytes() { return mallinfo2().hblkhd; }

}  // namespace

TEST(MallocTuning, MultiMegabyteBlocksComeFromTheHeapAndStayThere) {
  // Fresh process (one test per process): glibc's default threshold is 128 KiB.
  constexpr size_t kBlock = 8u << 20;  // a decoded 1280x720 float image is ~11 MB
  const size_t before = mmapped_bytes();
  {
    void* p = std::malloc(kBlock);
    ASSERT_NE(p, nullptr);
    std::memset(p, 1, kBlock);
    EXPECT_GE(mmapped_bytes(), before + kBlock) << "without tuning, glibc should mmap an 8 MiB block";
    std::free(p);
  }
  uda::data::pipeline::keep_large_buffers_in_heap();
  void* p = std::malloc(kBlock);
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, kBlock);
  EXPECT_EQ(mmapped_bytes(), before) << "after tuning, the block must come from the heap";
  const size_t heap_in_use = mallinfo2().arena;
  std::free(p);
  EXPECT_EQ(mallinfo2().arena, heap_in_use) << "freeing it must not return the heap to the kernel";
}
