// The sync block: 192 bytes of shared memory (any shared memory; in a segment it follows the
// trailer) holding a generation counter that processes wait on (a futex: no busy waiting), the
// seqlock that lets readers take whole snapshots without blocking the writer, and a robust lock.
// All of it works across fork, exec and read-only mappings (readers only load and futex-wait).
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#include "robust_mutex.hpp"

#ifdef SHMARRAY_TSAN  // robust_mutex.hpp detects it
extern "C" void AnnotateIgnoreReadsBegin(const char* file, int line);
extern "C" void AnnotateIgnoreReadsEnd(const char* file, int line);
#endif

namespace shmarray {
namespace detail {

/// Three cache lines, so readers polling the counter never share a line with lockers.
///   +0    seq: 2 * generation, + 1 while an update is in progress (a seqlock), native order
///   +64   the robust mutex (pthread_mutex_t), +128 who holds it (robust_mutex_storage)
struct sync_block {
  alignas(64) std::uint64_t seq;
  std::uint64_t reserved[7];
  robust_mutex_storage lock;
};
static_assert(sizeof(sync_block) == 192, "the sync block is three cache lines");
static_assert(offsetof(sync_block, lock) == 64, "the lock starts on the second cache line");

/// The futex word of the counter: its low 32 bits (every change of seq changes them).
inline const std::uint32_t* seq_futex_word(const sync_block* b) noexcept {
  const auto* w = reinterpret_cast<const std::uint32_t*>(&b->seq);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  return w + 1;
#else
  return w;
#endif
}

/// Sleeps while the 32-bit word at `addr` equals `seen`, at most until `deadline` (absolute,
/// CLOCK_MONOTONIC, which is steady_clock; time_point::max() waits without a bound). A shared
/// futex: it works between processes and on a read-only mapping.
inline void futex_wait_until(const std::uint32_t* addr, std::uint32_t seen,
                             std::chrono::steady_clock::time_point deadline) noexcept {
  timespec ts{};
  timespec* tp = nullptr;
  if (deadline != std::chrono::steady_clock::time_point::max()) {
    auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
    if (ns < 0) ns = 0;
    ts = {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    tp = &ts;
  }
  ::syscall(SYS_futex, addr, FUTEX_WAIT_BITSET, seen, tp, nullptr, FUTEX_BITSET_MATCH_ANY);
}

/// A deadline `timeout` from now, saturating (a huge timeout waits forever).
inline std::chrono::steady_clock::time_point deadline_after(std::chrono::nanoseconds timeout) {
  auto now = std::chrono::steady_clock::now();
  if (timeout >= std::chrono::steady_clock::time_point::max() - now)
    return std::chrono::steady_clock::time_point::max();
  return now + timeout;
}

/// The operations on a sync block. The counter is only touched with atomic builtins; the block
/// itself is plain memory that any process may map.
class sync_ops {
 public:
  /// Makes `b` (zeroed or not) a fresh block: generation 0, the lock free.
  static void init(sync_block* b, std::string_view name) {
    std::memset(static_cast<void*>(b), 0, sizeof *b);
    robust_mutex::init(&b->lock, name);
  }

  /// Completed updates and notifications so far.
  static std::uint64_t generation(const sync_block* b) noexcept { return load(b) >> 1; }

  /// Bumps the generation and wakes every waiter. Needs no lock. Returns the new generation.
  static std::uint64_t notify(sync_block* b) noexcept {
    std::uint64_t s = __atomic_add_fetch(&b->seq, 2, __ATOMIC_SEQ_CST);
    wake(b);
    return s >> 1;
  }

  /// Waits until the generation differs from `seen` or `deadline` passes. Returns the generation
  /// then, nullopt on timeout.
  static std::optional<std::uint64_t> wait_changed(const sync_block* b, std::uint64_t seen,
                                                   std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      const std::uint64_t s = load(b);
      if ((s >> 1) != seen) return s >> 1;
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      futex_wait_until(seq_futex_word(b), static_cast<std::uint32_t>(s), deadline);
    }
  }

  /// Starts an update; the caller holds the lock. Returns the generation the update will
  /// produce. When a writer died in the middle of one (seq is odd), the update continues it.
  static std::uint64_t begin_update(sync_block* b) noexcept {
    std::uint64_t s = load(b);
    if ((s & 1) == 0) s = __atomic_add_fetch(&b->seq, 1, __ATOMIC_ACQ_REL);
    std::atomic_thread_fence(std::memory_order_release);  // seq is odd before any data store
    return (s >> 1) + 1;
  }
  /// Ends an update: the data stores become visible with the new, even, seq; wakes waiters.
  static std::uint64_t end_update(sync_block* b) noexcept {
    std::uint64_t s = __atomic_add_fetch(&b->seq, 1, __ATOMIC_RELEASE);
    wake(b);
    return s >> 1;
  }
  /// True while an update is in progress (or a writer died in one that nobody finished).
  static bool updating(const sync_block* b) noexcept { return (load(b) & 1) != 0; }

  /// Runs `read` over the live data until it ran while no update was in progress and none began
  /// (a seqlock read); `read` may see torn data in the runs that are thrown away, so it must only
  /// copy or accumulate, never trust what it reads. Returns the generation it read, nullopt when
  /// `deadline` passed first. `retries` counts the runs thrown away.
  template <class F>
  static std::optional<std::uint64_t> read_consistent(
      const sync_block* b, F&& read, std::chrono::steady_clock::time_point deadline,
      std::uint64_t* retries = nullptr) {
    for (;;) {
      const std::uint64_t s1 = load(b);
      if (s1 & 1) {  // a writer is in the middle of an update: sleep until it ends
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        futex_wait_until(seq_futex_word(b), static_cast<std::uint32_t>(s1), deadline);
        continue;
      }
#ifdef SHMARRAY_TSAN
      // The racy reads are the point of a seqlock (the result is used only if no write
      // overlapped); TSan cannot know that, so they are hidden from it.
      AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
#endif
      read();
#ifdef SHMARRAY_TSAN
      AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
#endif
      std::atomic_thread_fence(std::memory_order_acquire);  // the data loads before seq's
      if (__atomic_load_n(&b->seq, __ATOMIC_RELAXED) == s1) return s1 >> 1;
      if (retries) ++*retries;
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    }
  }

 private:
  static std::uint64_t load(const sync_block* b) noexcept {
    return __atomic_load_n(&b->seq, __ATOMIC_ACQUIRE);
  }
  static void wake(const sync_block* b) noexcept {
    ::syscall(SYS_futex, seq_futex_word(b), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
  }
};

}  // namespace detail
}  // namespace shmarray
