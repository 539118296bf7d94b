// A 64-bit identity of a C++ type, recorded in the trailer so that two structs of the same size
// (both "|V<n>" to NumPy) are told apart at attach.
#pragma once

#include <cstddef>
#include <cstdint>

namespace shmarray {
namespace detail {

constexpr bool starts_with_(const char* p, const char* prefix) noexcept {
  for (; *prefix; ++p, ++prefix)
    if (*p != *prefix) return false;
  return true;
}

/// A 64-bit identity of T beyond its descr: FNV-1a over the type's name (as the compiler spells it
/// in __PRETTY_FUNCTION__, without spaces and anonymous-namespace markers, so g++ and clang agree),
/// its size and alignment. It separates |V<n> types (structs) of equal size; for NumPy types the
/// descr is what counts. 0 in a trailer means "unknown" (a segment made by the shmarray tool).
template <class T>
constexpr std::uint64_t type_hash() noexcept {
  const char* p = __PRETTY_FUNCTION__;
  std::uint64_t h = 1469598103934665603ull;
  // Hash from "T = " onwards: the part that names T, the same for every call site.
  for (const char* q = p; *q; ++q)
    if (starts_with_(q, "T = ")) {
      p = q + 4;
      break;
    }
  while (*p && *p != ']' && *p != ';') {
    if (starts_with_(p, "{anonymous}::")) {
      p += 13;
      continue;
    }
    if (starts_with_(p, "(anonymous namespace)::")) {
      p += 23;
      continue;
    }
    if (*p != ' ') {
      h ^= static_cast<unsigned char>(*p);
      h *= 1099511628211ull;
    }
    ++p;
  }
  h ^= sizeof(T) * 0x9e3779b97f4a7c15ull;
  h ^= alignof(T);
  return h | 1;  // never 0
}

}  // namespace detail
}  // namespace shmarray
