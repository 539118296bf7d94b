// Bounds checking for shmarray views: decides whether index and slice checks are compiled in, and
// holds the cold, never-inlined functions that report a violation (so the hot path stays small).
// SHMARRAY_BOUNDS_CHECK undefined: on unless NDEBUG; defined empty or non-zero: on; defined 0: off.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <type_traits>

#if defined(SHMARRAY_BOUNDS_CHECK)
#if (0 - SHMARRAY_BOUNDS_CHECK - 1) == 1  // defined with no value: `#define SHMARRAY_BOUNDS_CHECK`
#define SHMARRAY_DETAIL_BOUNDS_CHECK 1
#elif SHMARRAY_BOUNDS_CHECK
#define SHMARRAY_DETAIL_BOUNDS_CHECK 1
#else
#define SHMARRAY_DETAIL_BOUNDS_CHECK 0
#endif
#elif defined(NDEBUG)
#define SHMARRAY_DETAIL_BOUNDS_CHECK 0
#else
#define SHMARRAY_DETAIL_BOUNDS_CHECK 1
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SHMARRAY_DETAIL_COLD __attribute__((noinline, cold))
#else
#define SHMARRAY_DETAIL_COLD
#endif

namespace shmarray {
namespace detail {

/// True when this translation unit compiles index and slice checks in. Every translation unit of
/// a program should agree (the views' inline functions differ otherwise).
inline constexpr bool bounds_check_enabled = SHMARRAY_DETAIL_BOUNDS_CHECK != 0;

/// Any integer (or an index converted to the index type) as text, sign kept.
template <class I>
std::string index_to_string(I i) {
  if constexpr (std::is_signed_v<I>) {
    return std::to_string(static_cast<long long>(i));
  } else {
    return std::to_string(static_cast<unsigned long long>(i));
  }
}

/// 0 <= i < extent, whatever the (integral) types of i and extent.
template <class I, class E>
constexpr bool index_in_range(I i, E extent) noexcept {
  if constexpr (std::is_signed_v<I>) {
    if (i < 0) return false;
  }
  return static_cast<unsigned long long>(i) < static_cast<unsigned long long>(extent);
}

/// Throws std::out_of_range: "index 7 is out of range for extent 5 in dimension 1 of a rank-3
/// mdspan". Called only when a check failed.
[[noreturn]] SHMARRAY_DETAIL_COLD inline void throw_index_out_of_range(const std::string& index,
                                                                       std::size_t extent,
                                                                       std::size_t dimension,
                                                                       std::size_t rank) {
  throw std::out_of_range("shmarray::mdspan: index " + index + " is out of range for extent " +
                          std::to_string(extent) + " in dimension " + std::to_string(dimension) +
                          " of a rank-" + std::to_string(rank) + " mdspan (valid: 0 <= index < " +
                          std::to_string(extent) + ")");
}

/// Throws std::out_of_range for a submdspan slice outside its dimension.
[[noreturn]] SHMARRAY_DETAIL_COLD inline void throw_bad_slice(const std::string& what,
                                                              std::size_t extent,
                                                              std::size_t dimension,
                                                              std::size_t rank) {
  throw std::out_of_range("shmarray::submdspan: slice " + what + " does not fit extent " +
                          std::to_string(extent) + " of dimension " + std::to_string(dimension) +
                          " of a rank-" + std::to_string(rank) + " mdspan");
}

/// For preconditions of noexcept functions (constructors of extents and mappings): prints the
/// message and aborts, as a contract violation cannot be thrown from there.
[[noreturn]] SHMARRAY_DETAIL_COLD inline void precondition_failed(const char* what) noexcept {
  std::fprintf(stderr, "shmarray: precondition violated: %s\n", what);
  std::fflush(stderr);
  std::abort();
}

}  // namespace detail
}  // namespace shmarray
