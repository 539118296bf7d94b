// The fast path of the .npy header parser: the dict exactly as NumPy (and write_header) spell it,
// parsed in one pass without allocating (attach's hot path); parse_header (npy_parse.hpp) falls
// back to its general parser for anything else.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "npy.hpp"
#include "npy_descr.hpp"

namespace shmarray {
namespace npy {

namespace detail {
// The fast path: the dict exactly as NumPy (and write_header) spell it,
//   {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }   + spaces + '\n'
// parsed in one pass. Anything else (other key orders, spacing, quotes) returns false and goes to
// the general parser, which accepts every spelling NumPy reads and explains what is wrong.

// Skips the literal `s` at p (false if it is not there); inlined, so memcmp's length is known.
template <std::size_t N>
__attribute__((always_inline)) inline bool skip_literal(const char*& p, const char* e,
                                                        const char (&s)[N]) noexcept {
  constexpr std::size_t k = N - 1;
  if (static_cast<std::size_t>(e - p) < k || std::memcmp(p, s, k) != 0) return false;
  p += k;
  return true;
}
/// The canonical dict's head, `{'descr': '<d>', 'fortran_order': <b>`: returns where it ends, or
/// nullptr when the bytes are not spelled that way. Inlined into parse_canonical (attach's hot
/// path); attach_unsafe reads the order with parse_canonical_head alone.
__attribute__((always_inline)) inline const char* canonical_head(const char* p, const char* e,
                                                                 std::string_view& descr,
                                                                 bool& fortran) noexcept {
  if (!skip_literal(p, e, "{'descr': '")) return nullptr;
  const char* d = p;
  while (p < e && *p != '\'') {
    if (*p == '\\' || *p == '"' || static_cast<unsigned char>(*p) < 32) return nullptr;
    ++p;
  }
  const std::size_t dl = static_cast<std::size_t>(p - d);
  if (p == e || dl > 64) return nullptr;
  ++p;
  if (!skip_literal(p, e, ", 'fortran_order': ")) return nullptr;
  if (skip_literal(p, e, "True"))
    fortran = true;
  else if (skip_literal(p, e, "False"))
    fortran = false;
  else
    return nullptr;
  descr = std::string_view(d, dl);
  return p;
}
inline const char* parse_canonical_head(const char* p, const char* e, std::string_view& descr,
                                        bool& fortran) noexcept {
  return canonical_head(p, e, descr, fortran);
}

inline bool parse_canonical(const char* p, std::size_t n, header& h) {
  const char* const e = p + n;
  auto lit = [&](const auto& s) { return skip_literal(p, e, s); };
  std::string_view descr;
  bool fortran = false;
  p = canonical_head(p, e, descr, fortran);  // inlined: this is attach's hot path
  if (!p) return false;
  // NumPy's own spelling of a number needs no canonicalising (and no copy).
  canonical_descr c;
  if (!is_canonical_number(descr)) {
    if (!canonicalize(descr, c, h.major == 3)) return false;
    descr = c.view();
  }
  if (!lit(", 'shape': (")) return false;
  std::size_t dims[max_rank];
  std::size_t rank = 0;
  if (!lit(")")) {
    for (;;) {
      if (p == e || *p < '0' || *p > '9' || rank == max_rank) return false;
      if (*p == '0' && e - p > 1 && p[1] >= '0' && p[1] <= '9') return false;  // "06"
      std::size_t v = 0;
      for (; p < e && *p >= '0' && *p <= '9'; ++p)
        if (__builtin_mul_overflow(v, std::size_t{10}, &v) ||
            __builtin_add_overflow(v, static_cast<std::size_t>(*p - '0'), &v))
          return false;
      dims[rank++] = v;
      if (lit(", ")) continue;
      if (lit(",)")) break;
      if (rank > 1 && lit(")")) break;
      return false;
    }
  }
  if (!lit(", }")) return false;
  // The padding: spaces, then (optionally) the newline. Sixteen spaces at a time, and a short
  // rest as the last eight bytes of a padding of eight or more.
  const char* const pad_end = e[-1] == '\n' ? e - 1 : e;  // e[-1] exists: the dict was read
  constexpr std::uint64_t spaces = 0x2020202020202020u;
  auto word = [](const char* q) {
    std::uint64_t w;
    std::memcpy(&w, q, 8);
    return w;
  };
  if (pad_end - p >= 8) {
    for (; pad_end - p >= 16; p += 16)
      if (((word(p) ^ spaces) | (word(p + 8) ^ spaces)) != 0) return false;
    if (pad_end - p >= 8) {
      if (word(p) != spaces) return false;
      p += 8;
    }
    if (p != pad_end && word(pad_end - 8) != spaces) return false;
  } else {
    for (; p < pad_end; ++p)
      if (*p != ' ') return false;
  }
  h.descr.clear();  // then append: fewer instructions than assign's general replace
  h.descr.append(descr.data(), descr.size());
  h.fortran_order = fortran;
  h.shape.assign(dims, dims + rank);
  return true;
}
}  // namespace detail

}  // namespace npy
}  // namespace shmarray

// The rest of the parser: parse_header.
#include "npy_parse.hpp"  // IWYU pragma: export
