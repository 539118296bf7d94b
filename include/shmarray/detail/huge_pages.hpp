// Huge (2 MiB) pages for segments on a tmpfs that does not give them by itself (/dev/shm is
// mounted huge=never almost everywhere): seed one 4 KiB page per 2 MiB block, then MADV_COLLAPSE
// (Linux >= 6.1) turns the blocks into huge pages. Plus the 2 MiB-aligned mappings that let a
// process map them with PMDs, and how much of a mapping is on huge pages (smaps).
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <system_error>
#include <thread>
#include <utility>

#include "posix.hpp"

namespace shmarray {

/// Whether a new segment's memory is put on 2 MiB huge pages (create_options::huge_pages).
/// Huge pages make creating, first reads and removal of large arrays 2-60x cheaper on this kind of
/// machine (docs/performance.md). The kernel may refuse them (no MADV_COLLAPSE before Linux 6.1,
/// THP disabled for the machine, the cgroup or the process, no contiguous free memory).
enum class huge_pages : unsigned char {
  off,     // 4 KiB pages (or whatever the tmpfs mount gives, e.g. huge=always)
  prefer,  // huge pages where the kernel gives them, 4 KiB pages elsewhere (the "try" policy)
  require  // every whole 2 MiB block on a huge page, else errc::no_space; nothing left behind
};

namespace detail {

inline constexpr std::size_t huge_page_size = std::size_t{2} << 20;
/// Below this a segment holds no whole 2 MiB block, so huge pages cannot apply.
inline constexpr std::size_t huge_page_min_bytes = huge_page_size;

#if defined(__linux__) && !defined(MADV_COLLAPSE)
#define MADV_COLLAPSE 25  // Linux 6.1; older kernels say EINVAL
#endif

/// Where the next 2 MiB-aligned mapping is asked for: just below the last one (the kernel hands
/// out addresses top-down, so the range there is usually free). 0: unknown yet.
inline std::atomic<std::uintptr_t>& aligned_map_cursor() noexcept {
  static std::atomic<std::uintptr_t> c{0};
  return c;
}

/// The last range a segment unmapped (address and length), offered to the next mapping: a
/// program that attaches and closes in turn gets the same addresses again. An mmap at a free
/// hinted address skips the kernel's search for a gap (~0.08 us of a 4.5 us attach here).
struct freed_range {
  std::atomic<std::uintptr_t> at{0};
  std::atomic<std::size_t> size{0};
};
inline freed_range& last_freed_range() noexcept {
  static freed_range r;
  return r;
}

/// Unmaps a mapping and remembers its range for the next map_aligned or map_reusing.
inline void unmap_and_remember(void* p, std::size_t size) noexcept {
  ::munmap(p, size);
  auto& f = last_freed_range();
  f.size.store(size, std::memory_order_relaxed);
  f.at.store(reinterpret_cast<std::uintptr_t>(p), std::memory_order_release);
}

// mmap at `hint` if the kernel gives exactly that address; nullptr if it gives another one,
// MAP_FAILED on error.
inline void* map_at_hint(std::uintptr_t hint, std::size_t size, int prot, int flags,
                         int fd) noexcept {
  void* p = ::mmap(reinterpret_cast<void*>(hint), size, prot, flags, fd, 0);
  if (p == MAP_FAILED || reinterpret_cast<std::uintptr_t>(p) == hint) return p;
  ::munmap(p, size);
  return nullptr;
}

/// Maps `size` bytes of fd shared, at the range unmapped last when it is large enough (a hint:
/// the kernel puts the mapping elsewhere if that range is taken meanwhile), else where the kernel
/// chooses. For mappings that need no alignment (4 KiB pages). MAP_FAILED and errno on error.
inline void* map_reusing(std::size_t size, int prot, int flags, int fd) noexcept {
  auto& freed = last_freed_range();
  std::uintptr_t hint = 0;
  if (freed.size.load(std::memory_order_relaxed) >= size)
    hint = freed.at.exchange(0, std::memory_order_acquire);
  return ::mmap(reinterpret_cast<void*>(hint), size, prot, flags, fd, 0);
}

/// Maps `size` bytes of fd (or anonymous memory with fd = -1 and MAP_ANONYMOUS in flags) at a
/// 2 MiB-aligned address, so whole 2 MiB blocks of the file can be mapped by one PMD each. The
/// alignment comes from an address hint, never MAP_FIXED over a range found free earlier (another
/// thread may have mapped it since): first the aligned address just below the previous aligned
/// mapping (one mmap, as cheap as an unaligned one); if the kernel answers elsewhere, a range of
/// size + 2 MiB is reserved and the mapping made over its aligned part with MAP_FIXED (inside
/// our own reservation, so nothing else can be hit), and the reserve's ends unmapped.
/// MAP_FAILED and errno on error.
inline void* map_aligned(std::size_t size, int prot, int flags, int fd) noexcept {
  const std::uintptr_t mask = ~(std::uintptr_t{huge_page_size} - 1);
  auto& cursor = aligned_map_cursor();
  auto& freed = last_freed_range();
  // The range unmapped last, if it is aligned and large enough (taken: two threads do not both
  // try it; a plain mapping's unaligned range is left for the next plain one).
  std::uintptr_t at = freed.at.load(std::memory_order_relaxed);
  if (at != 0 && (at & ~mask) == 0 && freed.size.load(std::memory_order_relaxed) >= size &&
      freed.at.compare_exchange_strong(at, 0, std::memory_order_acquire)) {
    void* p = map_at_hint(at, size, prot, flags, fd);
    if (p) return p;
  }
  const std::uintptr_t below = cursor.load(std::memory_order_relaxed);
  if (below > size + huge_page_size) {
    const std::uintptr_t hint = (below - size) & mask;
    void* p = map_at_hint(hint, size, prot, flags, fd);
    if (p) {
      if (p != MAP_FAILED) cursor.store(hint, std::memory_order_relaxed);
      return p;
    }
  }
  const std::size_t span = size + huge_page_size;
  void* r = ::mmap(nullptr, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (r == MAP_FAILED) return MAP_FAILED;
  const auto b = reinterpret_cast<std::uintptr_t>(r);
  const std::uintptr_t a = (b + huge_page_size - 1) & mask;
  void* p = ::mmap(reinterpret_cast<void*>(a), size, prot, flags | MAP_FIXED, fd, 0);
  if (p == MAP_FAILED) {
    int e = errno;
    ::munmap(r, span);
    errno = e;
    return MAP_FAILED;
  }
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::uintptr_t end = (a + size + page - 1) / page * page;
  if (a > b) ::munmap(r, a - b);
  if (b + span > end) ::munmap(reinterpret_cast<void*>(end), b + span - end);
  cursor.store(a, std::memory_order_relaxed);
  return p;
}

/// What collapse() did.
struct collapse_result {
  std::size_t blocks = 0;     // whole 2 MiB blocks in the range
  std::size_t collapsed = 0;  // of which are now huge pages
  int error = 0;              // the last error of MADV_COLLAPSE (0 = none)
};

/// Puts the whole 2 MiB blocks of [base, base + size) on huge pages: base must be 2 MiB-aligned
/// and map offset 0 of a shmem file (a tmpfs file, shared anonymous memory) or be anonymous.
/// MADV_COLLAPSE wants a page already in each block, so the caller seeds one first (seed_file,
/// seed_mapping). Runs in chunks of 32 MiB: the first EINVAL means the kernel or process refuses
/// (no MADV_COLLAPSE, THP never or deny, PR_SET_THP_DISABLE, a full tmpfs) and stops; a chunk that
/// fails otherwise (EAGAIN, ENOMEM: no free contiguous memory) is retried block by block, and
/// blocks that still fail stay on 4 KiB pages (Linux 6.x collapses the other blocks of a failing
/// call already; the retry is what counts them). Never throws.
inline collapse_result collapse(void* base, std::size_t size) noexcept {
  collapse_result r;
  r.blocks = size / huge_page_size;
  constexpr std::size_t chunk_blocks = 16;
  auto* p = static_cast<unsigned char*>(base);
  for (std::size_t b = 0; b < r.blocks; b += chunk_blocks) {
    const std::size_t n = b + chunk_blocks <= r.blocks ? chunk_blocks : r.blocks - b;
    if (::madvise(p + b * huge_page_size, n * huge_page_size, MADV_COLLAPSE) == 0) {
      r.collapsed += n;
      continue;
    }
    r.error = errno;
    if (r.error == EINVAL) return r;
    for (std::size_t k = b; k < b + n; ++k) {
      if (::madvise(p + k * huge_page_size, huge_page_size, MADV_COLLAPSE) == 0)
        ++r.collapsed;
      else if ((r.error = errno) == EINVAL)
        return r;
    }
  }
  return r;
}

/// collapse() of a large range split across threads: the kernel zeroes each new huge page in the
/// thread that collapses it (1 GiB: ~55 ms in one thread here, the largest part of creating it),
/// so two cores halve that. From 64 MiB up, one thread per 32 MiB at most, at most
/// hardware_concurrency() and 8; a thread that cannot be started leaves its part to the caller.
/// Errors combine as collapse() reports them: EINVAL (refused) wins, else the last error seen.
inline collapse_result collapse_parallel(void* base, std::size_t size) noexcept {
  constexpr std::size_t min_blocks_per_thread = 16;  // 32 MiB
  constexpr unsigned max_threads = 8;
  const std::size_t blocks = size / huge_page_size;
  unsigned n = std::thread::hardware_concurrency();
  if (n > max_threads) n = max_threads;
  if (blocks / min_blocks_per_thread < n) n = static_cast<unsigned>(blocks / min_blocks_per_thread);
  if (n < 2) return collapse(base, size);
  collapse_result part[max_threads];
  std::thread worker[max_threads];
  auto* p = static_cast<unsigned char*>(base);
  const std::size_t per = (blocks + n - 1) / n;
  auto range = [&](unsigned k) {
    const std::size_t b0 = k * per, b1 = b0 + per < blocks ? b0 + per : blocks;
    part[k] =
        b0 < b1 ? collapse(p + b0 * huge_page_size, (b1 - b0) * huge_page_size) : collapse_result{};
  };
  for (unsigned k = 1; k < n; ++k) {
    try {
      worker[k] = std::thread(range, k);
    } catch (const std::system_error&) {  // no thread: this one does that part
      range(k);
    }
  }
  range(0);
  collapse_result r;
  r.blocks = blocks;
  for (unsigned k = 0; k < n; ++k) {
    if (worker[k].joinable()) worker[k].join();
    r.collapsed += part[k].collapsed;
    if (part[k].error != 0 && r.error != EINVAL) r.error = part[k].error;
  }
  return r;
}

/// Allocates one 4 KiB page at the start of every whole 2 MiB block of fd's first `size` bytes
/// (the seed MADV_COLLAPSE needs; fallocate takes no page fault). Returns 0 or the errno of the
/// first failure (ENOSPC on a full tmpfs; EOPNOTSUPP where fallocate is not supported).
inline int seed_file(int fd, std::size_t size) noexcept {
  for (std::size_t off = 0; off + huge_page_size <= size; off += huge_page_size) {
    if (retry([&] { return ::fallocate(fd, 0, static_cast<off_t>(off), 4096); }) != 0) return errno;
  }
  return 0;
}

#if defined(__linux__) && !defined(MADV_POPULATE_WRITE)
#define MADV_POPULATE_WRITE 23
#endif

/// The seed for memory with no descriptor (shared anonymous): maps one page of each whole block
/// writable. Returns 0 or errno.
inline int seed_mapping(void* base, std::size_t size) noexcept {
  auto* p = static_cast<unsigned char*>(base);
  for (std::size_t off = 0; off + huge_page_size <= size; off += huge_page_size)
    if (::madvise(p + off, 4096, MADV_POPULATE_WRITE) != 0) return errno;
  return 0;
}

/// Shared anonymous memory on huge pages where the kernel gives them: mapped 2 MiB-aligned,
/// seeded and collapsed when at least one whole block fits. MAP_FAILED and errno on failure.
/// *huge (if given) says whether any block became a huge page.
inline void* map_shared_anonymous(std::size_t size, bool want_huge, bool* huge = nullptr) noexcept {
  if (huge) *huge = false;
  constexpr int prot = PROT_READ | PROT_WRITE;
  if (!want_huge || size < huge_page_min_bytes)
    return ::mmap(nullptr, size, prot, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  void* p = map_aligned(size, prot, MAP_SHARED | MAP_ANONYMOUS, -1);
  if (p == MAP_FAILED) return p;
  if (seed_mapping(p, size) == 0) {
    const collapse_result c = collapse_parallel(p, size);
    if (huge) *huge = c.collapsed > 0;
  }
  return p;
}

/// Seeds and collapses a new tmpfs file of `size` bytes (sized, no pages yet) mapped from offset
/// 0 at the 2 MiB-aligned `base`. The blocks that fail stay 4 KiB pages with their seed; the
/// caller's posix_fallocate allocates the rest (and says ENOSPC when it does not fit).
inline collapse_result collapse_file(int fd, void* base, std::size_t size) noexcept {
  collapse_result r;
  r.blocks = size / huge_page_size;
  if ((r.error = seed_file(fd, size)) != 0) return r;
  return collapse_parallel(base, size);
}

/// A mapping made by map_aligned or map_reusing (or plain mmap), unmapped (unmap_and_remember) when
/// destroyed. Move-only.
class raw_mapping {
 public:
  raw_mapping() = default;
  raw_mapping(void* p, std::size_t n) noexcept : p_(p), n_(n) {}
  raw_mapping(raw_mapping&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }
  raw_mapping& operator=(raw_mapping&& o) noexcept {
    swap(o);
    return *this;
  }
  raw_mapping(const raw_mapping&) = delete;
  raw_mapping& operator=(const raw_mapping&) = delete;
  ~raw_mapping() { reset(); }
  void swap(raw_mapping& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
  }
  void reset() noexcept {
    if (p_) unmap_and_remember(p_, n_);
    p_ = nullptr;
    n_ = 0;
  }
  void* get() const noexcept { return p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }

 private:
  void* p_ = nullptr;
  std::size_t n_ = 0;
};

/// Bytes of the mapping that starts at `addr` that are mapped by PMDs, i.e. on huge pages and
/// mapped as such (ShmemPmdMapped + FilePmdMapped + AnonHugePages of /proc/self/smaps); -1 when
/// there is no such mapping or smaps cannot be read. Costs a read of smaps: for tools and tests.
inline long long pmd_mapped_bytes(const void* addr) noexcept {
  std::FILE* f = std::fopen("/proc/self/smaps", "re");
  if (!f) return -1;
  char line[512];
  bool in = false;
  long long kib = -1;
  const auto want = reinterpret_cast<std::uintptr_t>(addr);
  while (std::fgets(line, sizeof line, f)) {
    // A mapping's first line starts with its address in lower-case hex ("7f12...-7f13... rw-s");
    // its fields start with a capitalised name ("ShmemPmdMapped:    2048 kB").
    if ((line[0] >= '0' && line[0] <= '9') || (line[0] >= 'a' && line[0] <= 'f')) {
      if (in) break;
      char* end = nullptr;
      const unsigned long long s = std::strtoull(line, &end, 16);
      in = end != line && *end == '-' && s == want;
      if (in) kib = 0;
      continue;
    }
    if (!in) continue;
    for (const char* field : {"ShmemPmdMapped:", "FilePmdMapped:", "AnonHugePages:"}) {
      const std::size_t n = std::strlen(field);
      if (std::strncmp(line, field, n) != 0) continue;
      char* end = nullptr;
      const long long v = std::strtoll(line + n, &end, 10);
      if (end != line + n) kib += v;
      break;
    }
  }
  std::fclose(f);
  return kib < 0 ? -1 : kib * 1024;
}

#if defined(__linux__) && !defined(MADV_POPULATE_READ)
#define MADV_POPULATE_READ 22
#endif

/// How many of the first `size` bytes of the shmem file fd are on huge pages: maps it read-only
/// and 2 MiB-aligned for a moment, maps every page in (MADV_POPULATE_READ: 4 KiB pages cost
/// ~45 ms/GiB here) and reads smaps. -1 when unknown. For `shmarray info`, not for hot paths.
/// On a file with holes the read faults would allocate them: use it on allocated segments.
inline long long huge_bytes_of_file(int fd, std::size_t size) noexcept {
  if (size < huge_page_size) return 0;
  void* p = map_aligned(size, PROT_READ, MAP_SHARED, fd);
  if (p == MAP_FAILED) return -1;
  long long n = ::madvise(p, size, MADV_POPULATE_READ) == 0 ? pmd_mapped_bytes(p) : -1;
  unmap_and_remember(p, size);
  return n;
}

}  // namespace detail
}  // namespace shmarray
