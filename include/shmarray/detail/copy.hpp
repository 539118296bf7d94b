// Copying bytes into freshly created shared memory (copy, load). What costs here is not memcpy but
// the kernel: one page fault per fresh 4 KiB page. copy_bytes maps the destination pages in with
// MADV_POPULATE_WRITE (one system call per chunk instead of one fault per page) and, for large
// copies, splits populating and copying across threads. Measurements: docs/performance.md.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <iterator>
#include <thread>
#include <type_traits>
#include <vector>

#include "../mdspan.hpp"
#include "../npy.hpp"
#include "posix.hpp"

namespace shmarray {

template <class T>
class shared_array;

namespace detail {

#if defined(__linux__) && !defined(MADV_POPULATE_WRITE)
#define MADV_POPULATE_WRITE 23  // Linux 5.14; older headers lack it, older kernels say EINVAL
#endif

/// Below this many bytes a copy runs in the calling thread: starting a thread costs ~50-100 us
/// here, the fault-and-copy of 4 MiB about 1.5 ms; above it each extra thread must get at least
/// this much to be worth starting.
inline constexpr std::size_t parallel_copy_min_bytes = std::size_t{4} << 20;
/// Never more threads than this, whatever hardware_concurrency says: page faults on one file
/// contend on its mapping's locks, and memory bandwidth is shared.
inline constexpr unsigned parallel_copy_max_threads = 8;

inline std::size_t page_size() noexcept {
  static const std::size_t p = [] {
    long s = ::sysconf(_SC_PAGESIZE);
    return s > 0 ? static_cast<std::size_t>(s) : std::size_t{4096};
  }();
  return p;
}

/// Maps the pages of [p, p + n) writable without touching their contents (best effort: returns
/// false when the kernel cannot, and the later writes fault the pages in one by one). Much cheaper
/// than taking one page fault per page, which on a VM is a trap of a few microseconds each.
inline bool populate_write(void* p, std::size_t n) noexcept {
#if defined(__linux__)
  if (n == 0) return true;
  const std::size_t ps = page_size();
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t b = a / ps * ps;
  const std::uintptr_t e = (a + n + ps - 1) / ps * ps;
  return ::madvise(reinterpret_cast<void*>(b), e - b, MADV_POPULATE_WRITE) == 0;
#else
  (void)p;
  (void)n;
  return false;
#endif
}

/// How many threads copy_bytes uses for n bytes when asked for `threads` (0 = automatic).
/// Small copies never ask the system: hardware_concurrency() reads /sys (three system calls).
inline unsigned copy_thread_count(std::size_t n, unsigned threads) noexcept {
  const std::size_t by_size = n / parallel_copy_min_bytes;
  if (by_size < 2 || threads == 1) return 1;
  unsigned t = threads;
  if (t == 0) {
    static const unsigned cores = [] {
      unsigned c = std::thread::hardware_concurrency();
      return c == 0 ? 1u : std::min(c, parallel_copy_max_threads);
    }();
    t = cores;
  }
  if (by_size < t) t = static_cast<unsigned>(by_size);
  return t;
}

/// Runs f(offset, length) over [0, n) split into t chunks, one per thread (the calling thread
/// takes the first). Boundaries fall on page boundaries of `base`, so no page is touched by two
/// threads. If a thread cannot be started the calling thread does its part: never throws.
template <class F>
void for_each_chunk(const void* base, std::size_t n, unsigned t, F f) noexcept {
  if (t <= 1) {
    f(std::size_t{0}, n);
    return;
  }
  const std::size_t ps = page_size();
  const std::size_t lead = (ps - reinterpret_cast<std::uintptr_t>(base) % ps) % ps;
  const std::size_t chunk = (n / t + ps - 1) / ps * ps;
  std::vector<std::thread> pool;
  std::size_t started_from = n;  // [started_from, n) belongs to started threads
  try {
    pool.reserve(t - 1);
    for (unsigned k = t - 1; k >= 1; --k) {
      const std::size_t b = std::min(n, lead + k * chunk);
      const std::size_t e = k == t - 1 ? n : std::min(n, lead + (k + 1) * chunk);
      if (b >= e) continue;
      pool.emplace_back(f, b, e - b);
      started_from = b;
    }
  } catch (...) {  // std::system_error (no thread resources) or bad_alloc: do the rest here
  }
  f(std::size_t{0}, started_from);
  for (auto& th : pool) th.join();
}

/// Copies n bytes to dst (new shared memory) from src; the ranges must not overlap. `threads`:
/// 0 = automatic (one thread per core, for copies of several MiB), 1 = the calling thread only,
/// k = at most k threads. Each thread populates its pages, then copies into them. Never throws.
inline void copy_bytes(void* dst, const void* src, std::size_t n, unsigned threads) noexcept {
  if (n == 0) return;
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  for_each_chunk(d, n, copy_thread_count(n, threads), [d, s](std::size_t off, std::size_t len) {
    if (len == 0) return;
    populate_write(d + off, len);
    std::memcpy(d + off, s + off, len);
  });
}

/// Below this a new segment is filled through its mapping (segment::create keeps no descriptor for
/// fill_bytes or a sendfile): a few pages cost a fault each either way.
inline constexpr std::size_t file_write_min_bytes = std::size_t{64} << 10;

/// Copies n bytes from src into new shared memory `dst`. Given the memory's file descriptor `fd`
/// (>= 0: the segment is on 4 KiB pages, and `dst` maps it at `file_off`), it writes the bytes
/// into the file: pwrite allocates and fills each page in the kernel, with no page fault, 1.03-1.2x
/// the two threads of copy_bytes here (bench_shared_array copy/shmarray_4k). One thread: tmpfs
/// serialises writes to a file (the inode lock), two threads measured 0.94-1.08x. Otherwise, or if
/// the write fails, copy_bytes. Never throws.
inline void fill_bytes(void* dst, const void* src, std::size_t n, unsigned threads, int fd,
                       std::size_t file_off) noexcept {
  if (n == 0 || (fd >= 0 && pwrite_full(fd, src, n, file_off))) return;
  copy_bytes(dst, src, n, threads);
}

/// Maps every page of [p, p + n) writable, from several threads for large ranges (`threads` as
/// for copy_bytes), so that later writes (a producer filling a new array, pread streaming a file
/// into it) take no page faults. Best effort, never throws.
inline void populate_pages(void* p, std::size_t n, unsigned threads) noexcept {
  if (n == 0) return;
  auto* d = static_cast<unsigned char*>(p);
  for_each_chunk(d, n, copy_thread_count(n, threads), [d](std::size_t off, std::size_t len) {
    if (len) populate_write(d + off, len);
  });
}

// ---- Copying an mdspan, a shared_array or a range into a new array --------------------------

template <class T>
struct is_mdspan : std::false_type {};
template <class T, class E, class L, class A>
struct is_mdspan<mdspan<T, E, L, A>> : std::true_type {};

template <class T>
struct is_shared_array : std::false_type {};
template <class T>
struct is_shared_array<shared_array<T>> : std::true_type {};

template <class R, class = void>
struct is_contiguous_range : std::false_type {};
template <class R>
struct is_contiguous_range<R, std::void_t<decltype(std::data(std::declval<const R&>())),
                                          decltype(std::size(std::declval<const R&>()))>>
    : std::true_type {};

/// Copies a strided source (extents `ext`, strides `stride` in elements) into the contiguous
/// `dst`, in C order or, with `fortran`, in Fortran order.
template <class T, class S>
void gather(T* dst, const S* src, const std::size_t* ext, const std::ptrdiff_t* stride,
            std::size_t rank, bool fortran) {
  std::size_t n = 1;
  for (std::size_t r = 0; r < rank; ++r) n *= ext[r];
  if (n == 0) return;
  if (rank == 0) {
    *dst = *src;
    return;
  }
  // Walk the destination in its own order; the innermost destination dimension is contiguous.
  std::size_t inner = fortran ? 0 : rank - 1;
  std::size_t idx[npy::max_rank] = {};
  std::ptrdiff_t off = 0;
  const std::size_t len = ext[inner];
  const std::ptrdiff_t s_in = stride[inner];
  for (std::size_t done = 0; done < n; done += len) {
    const S* p = src + off;
    if (s_in == 1)
      for (std::size_t i = 0; i < len; ++i) dst[i] = static_cast<T>(p[i]);
    else
      for (std::size_t i = 0; i < len; ++i)
        dst[i] = static_cast<T>(p[static_cast<std::ptrdiff_t>(i) * s_in]);
    dst += len;
    // Advance the outer dimensions (odometer), from the fastest-varying outward.
    for (std::size_t k = 1; k < rank; ++k) {
      std::size_t r = fortran ? k : rank - 1 - k;
      if (++idx[r] < ext[r]) {
        off += stride[r];
        break;
      }
      off -= stride[r] * static_cast<std::ptrdiff_t>(idx[r] - 1);
      idx[r] = 0;
    }
  }
}

/// Fills `dst` (n elements, C or Fortran order) from a shared_array of the same shape. `fd`,
/// `file_off`: as for fill_bytes.
template <class T, class Src>
void copy_from_array(T* dst, bool fortran, std::size_t n, const Src& src, unsigned threads,
                     int fd = -1, std::size_t file_off = 0) {
  if (n == 0) return;
  if (fortran == src.fortran_order() || src.rank() <= 1) {
    fill_bytes(dst, src.data(), n * sizeof(T), threads, fd, file_off);
    return;
  }
  const std::size_t rank = src.rank();
  std::vector<std::ptrdiff_t> st(rank);
  std::ptrdiff_t s = 1;
  for (std::size_t k = 0; k < rank; ++k) {
    const std::size_t r = src.fortran_order() ? k : rank - 1 - k;
    st[r] = s;
    s *= static_cast<std::ptrdiff_t>(src.shape()[r]);
  }
  gather(dst, src.data(), src.shape().data(), st.data(), rank, fortran);
}

/// Fills `dst` (n elements, C or Fortran order) from an mdspan of the same extents: one memcpy
/// when the layouts agree, else a strided gather. `fd`, `file_off`: as for fill_bytes.
template <class T, class Src>
void copy_from_mdspan(T* dst, bool fortran, std::size_t n, const Src& src, unsigned threads,
                      int fd = -1, std::size_t file_off = 0) {
  if (n == 0) return;
  constexpr std::size_t rank = Src::rank();
  if constexpr (rank == 0) {  // one element, and no stride() to ask (it needs rank > 0)
    dst[0] = src();
  } else {
    using L = typename Src::layout_type;
    if constexpr (std::is_same_v<L, layout_right> || std::is_same_v<L, layout_left>) {
      const bool same_order = (!fortran && std::is_same_v<L, layout_right>) ||
                              (fortran && std::is_same_v<L, layout_left>) || rank <= 1;
      if (same_order) {
        fill_bytes(dst, src.data_handle(), n * sizeof(T), threads, fd, file_off);
        return;
      }
    }
    std::array<std::size_t, rank> ext{};
    std::array<std::ptrdiff_t, rank> st{};
    for (std::size_t r = 0; r < rank; ++r) {
      ext[r] = static_cast<std::size_t>(src.extent(r));
      st[r] = static_cast<std::ptrdiff_t>(src.stride(r));
    }
    gather(dst, src.data_handle(), ext.data(), st.data(), rank, fortran);
  }
}

/// The shape of what allocate_like/copy take: a shared_array, an mdspan or a contiguous range.
template <class Like>
shape_type shape_of(const Like& like) {
  if constexpr (is_shared_array<Like>::value) {
    return like.shape();
  } else if constexpr (is_mdspan<Like>::value) {
    shape_type s(Like::rank());
    for (std::size_t r = 0; r < Like::rank(); ++r) s[r] = static_cast<std::size_t>(like.extent(r));
    return s;
  } else {
    static_assert(is_contiguous_range<Like>::value,
                  "allocate_like/copy: expected a shared_array, an mdspan or a contiguous range");
    return shape_type{static_cast<std::size_t>(std::size(like))};
  }
}

/// Fills `dst` (n elements of T, C or Fortran order) from copy()'s source, of the same shape: a
/// shared_array (open: the caller checks), an mdspan of any layout or a contiguous range. With
/// `fd` >= 0 (memory on 4 KiB pages, that file at `file_off`), contiguous sources are written
/// into the file (fill_bytes).
template <class T, class Src>
void copy_from(T* dst, bool fortran, std::size_t n, const Src& src, unsigned threads, int fd = -1,
               std::size_t file_off = 0) {
  if constexpr (is_shared_array<Src>::value) {
    static_assert(std::is_same_v<typename Src::value_type, T>,
                  "copy: the source's element type must be T");
    copy_from_array(dst, fortran, n, src, threads, fd, file_off);
  } else if constexpr (is_mdspan<Src>::value) {
    static_assert(std::is_same_v<std::remove_cv_t<typename Src::element_type>, T>,
                  "copy: the mdspan's element type must be T");
    copy_from_mdspan(dst, fortran, n, src, threads, fd, file_off);
  } else {
    static_assert(is_contiguous_range<Src>::value,
                  "copy: expected an mdspan, a shared_array or a contiguous range of T");
    static_assert(
        std::is_same_v<std::remove_cv_t<std::remove_reference_t<decltype(*std::data(src))>>, T>,
        "copy: the range's element type must be T");
    if (n) fill_bytes(dst, std::data(src), n * sizeof(T), threads, fd, file_off);
  }
}

}  // namespace detail
}  // namespace shmarray
