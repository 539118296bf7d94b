// Copying bytes into freshly created shared memory (copy, load). The kernel's page faults on fresh
// shmem pages dominate this; see the Performance notes in README.md.
#pragma once

#include <cstddef>
#include <cstring>

namespace shmarray {
namespace detail {

/// Copies n bytes to dst (new shared memory) from src. `threads`: 0 = automatic, 1 = one thread.
inline void copy_bytes(void* dst, const void* src, std::size_t n, unsigned threads) {
  (void)threads;
  if (n) std::memcpy(dst, src, n);
}

}  // namespace detail
}  // namespace shmarray
