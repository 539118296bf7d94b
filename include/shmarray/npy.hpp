// The NumPy .npy format: the descr of each element type, writing a header, and a strict parser that
// accepts what NumPy writes (format 1.0, 2.0, 3.0) and rejects everything else with
// errc::bad_format. The parser never reads past the bytes it is given, whatever the header claims.
#pragma once

#include <complex>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "error.hpp"

namespace shmarray {

using shape_type = std::vector<std::size_t>;

namespace npy {

inline constexpr char magic[] = "\x93NUMPY";  // 6 bytes, then major, minor
inline constexpr std::size_t magic_size = 6;
inline constexpr std::size_t alignment = 64;  // data offset alignment (NumPy uses 64 since 1.14)
inline constexpr std::size_t max_rank = 32;   // NumPy's NPY_MAXDIMS

namespace detail {
inline constexpr bool little_endian =
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    false;
#else
    true;
#endif
inline constexpr char byte_order = little_endian ? '<' : '>';

template <class T>
inline constexpr bool is_complex_v = false;
template <class T>
inline constexpr bool is_complex_v<std::complex<T>> = true;

// 'kind' letter of the NumPy type string ('b', 'i', 'u', 'f', 'c'), or 'V' for anything else.
template <class T>
constexpr char kind() {
  if constexpr (std::is_same_v<T, bool>)
    return 'b';
  else if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>)
    return 'f';
  else if constexpr (std::is_same_v<T, std::complex<float>> ||
                     std::is_same_v<T, std::complex<double>>)
    return 'c';
  else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, char> &&
                     !std::is_same_v<T, wchar_t> && !std::is_same_v<T, char16_t> &&
                     !std::is_same_v<T, char32_t>)
    return std::is_signed_v<T> ? 'i' : 'u';
  else
    return 'V';
}
}  // namespace detail

/// Structs described with SHMARRAY_RECORD (record.hpp) are found by argument-dependent lookup of
/// shmarray_record(record_tag<T>), so this header needs nothing of record.hpp to recognise them.
template <class T>
struct record_tag {};
namespace detail {
template <class T, class = void>
struct record_of {};
template <class T>
struct record_of<T, std::void_t<decltype(shmarray_record(record_tag<T>{}))>> {
  using type = decltype(shmarray_record(record_tag<T>{}));
};
template <class T, class = void>
inline constexpr bool is_record_v = false;
template <class T>
inline constexpr bool is_record_v<T, std::void_t<typename record_of<T>::type>> = true;
}  // namespace detail

/// The NumPy descr of T: "<f8" for double, "|u1" for unsigned char, "|V12" for a 12-byte struct,
/// a structured descr "[('x', '<f8'), ...]" for a struct described with SHMARRAY_RECORD.
/// `char` (whose signedness varies) is stored as a raw byte "|V1"; use int8_t/uint8_t for numbers.
template <class T>
const std::string& descr() {
  using U = std::remove_cv_t<T>;
  if constexpr (detail::is_record_v<U>) {
    static const std::string record(detail::record_of<U>::type::descr());
    return record;
  }
  static const std::string value = [] {
    constexpr char k = detail::kind<U>();
    std::string s;
    if (k == 'b') return std::string("|b1");
    if (k == 'V' || sizeof(U) == 1)
      s += '|';
    else
      s += detail::byte_order;
    s += k;
    s += std::to_string(sizeof(U));
    return s;
  }();
  return value;
}

/// True when T has a NumPy dtype of its own (not the raw-bytes |V<n>): a number, or a struct
/// described with SHMARRAY_RECORD.
template <class T>
constexpr bool is_numpy_type() {
  return detail::kind<std::remove_cv_t<T>>() != 'V' || detail::is_record_v<std::remove_cv_t<T>>;
}

/// A parsed .npy header.
/// Where the data starts, from a header's first bytes: the 10- (format 1.0) or 12-byte prefix plus
/// the header length it stores. Precondition: `b` holds at least 12 bytes (a 1.0 prefix reads 10).
/// Checks nothing else: parse_header validates.
inline std::size_t data_offset_of(const unsigned char* b) noexcept {
  return b[6] == 1 ? 10 + (std::size_t{b[8]} | std::size_t{b[9]} << 8)
                   : 12 + (std::size_t{b[8]} | std::size_t{b[9]} << 8 | std::size_t{b[10]} << 16 |
                           std::size_t{b[11]} << 24);
}

struct header {
  std::string descr;            // e.g. "<f8"
  bool fortran_order = false;   // column-major data
  shape_type shape;             // () for 0-d
  std::size_t data_offset = 0;  // where the elements start
  int major = 1, minor = 0;     // format version

  /// Number of elements (1 for 0-d). Precondition: the header came from parse() (no overflow).
  std::size_t count() const noexcept {
    std::size_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

/// prod(shape) * elem_size, or false when it overflows size_t.
inline bool checked_bytes(const shape_type& shape, std::size_t elem_size,
                          std::size_t& out) noexcept {
  std::size_t n = elem_size;
  for (auto d : shape)
    if (__builtin_mul_overflow(n, d, &n)) return false;
  out = n;
  return true;
}

/// "(3, 4)", "(5,)", "()": the shape as Python writes a tuple.
inline std::string shape_string(const shape_type& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ',';
  s += ')';
  return s;
}

/// The header bytes for an array: magic, version, length, the dict, padded with spaces and ended by
/// '\n' so that the data starts at a multiple of 64. Format 1.0 unless the dict needs 2.0.
inline std::string write_header(std::string_view descr_, bool fortran_order,
                                const shape_type& shape) {
  const bool list = !descr_.empty() && descr_[0] == '[';  // a structured descr, unquoted
  std::string dict = list ? "{'descr': " : "{'descr': '";
  dict += descr_;
  dict += list ? ", 'fortran_order': " : "', 'fortran_order': ";
  dict += fortran_order ? "True" : "False";
  dict += ", 'shape': ";
  dict += shape_string(shape);
  dict += ", }";
  std::size_t prefix = 10;
  std::size_t total = (prefix + dict.size() + 1 + alignment - 1) / alignment * alignment;
  int major = 1;
  if (total - prefix > 0xffff) {
    prefix = 12;
    total = (prefix + dict.size() + 1 + alignment - 1) / alignment * alignment;
    major = 2;
  }
  std::size_t hlen = total - prefix;
  std::string out(magic, magic_size);
  out += static_cast<char>(major);
  out += '\0';
  out += static_cast<char>(hlen & 0xff);
  out += static_cast<char>((hlen >> 8) & 0xff);
  if (major == 2) {
    out += static_cast<char>((hlen >> 16) & 0xff);
    out += static_cast<char>((hlen >> 24) & 0xff);
  }
  out += dict;
  out.append(total - out.size() - 1, ' ');
  out += '\n';
  return out;
}

/// Names what a header came from, for messages: `what` ("file 'x.npy'"), or `what` and a `name`
/// quoted after it ("attach 'frames'"), put together only when a message is built.
struct source {
  std::string_view what;
  std::string_view name;
  // Implicit, so that callers can pass any string as before.
  source(const char* w) noexcept : what(w) {}
  source(const std::string& w) noexcept : what(w) {}
  source(std::string_view w, std::string_view n = {}) noexcept : what(w), name(n) {}
  std::string str() const {
    std::string s(what);
    if (!name.empty()) s.append(" '").append(name).append("'");
    return s;
  }
};

namespace detail {
// A cursor over the header dict; every read is bounds-checked against `end`.
class dict_parser {
 public:
  dict_parser(const char* b, const char* e, source what) : p_(b), end_(e), what_(what) {}

  [[noreturn]] void fail(const std::string& why) const {
    shmarray::detail::throw_error(errc::bad_format, what_.str() + ": bad .npy header: " + why);
  }
  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool peek(char c) {
    skip_ws();
    return p_ < end_ && *p_ == c;
  }
  void expect(char c) {
    if (!peek(c)) fail(std::string("expected '") + c + "'" + found());
    ++p_;
  }
  std::string found() const {
    if (p_ >= end_) return " but the header ended";
    std::string s = " but found '";
    for (const char* q = p_; q < end_ && q < p_ + 12; ++q) s += (*q >= 32 && *q < 127) ? *q : '?';
    return s + "'";
  }
  // A quoted string without escapes, as a view into the header (no allocation).
  std::string_view string_literal() {
    skip_ws();
    if (p_ >= end_ || (*p_ != '\'' && *p_ != '"')) fail("expected a string" + found());
    char q = *p_++;
    const char* start = p_;
    while (p_ < end_ && *p_ != q) {
      if (*p_ == '\\' || static_cast<unsigned char>(*p_) < 32)
        fail("unsupported character in a string");
      ++p_;
    }
    if (p_ >= end_) fail("unterminated string");
    std::string_view s(start, static_cast<std::size_t>(p_ - start));
    ++p_;
    return s;
  }
  // A list literal "[...]" (a structured descr) as a view into the header: brackets and
  // parentheses balanced, strings as string_literal reads them, nothing but numbers, commas and
  // spaces between. What the list means, check_structured_descr (record.hpp) says.
  std::string_view list_literal() {
    skip_ws();
    const char* start = p_;
    char open[64];
    std::size_t depth = 0;
    do {
      if (p_ >= end_) fail("unterminated list" + found());
      const char c = *p_;
      if (c == '\'' || c == '"') {
        string_literal();
        continue;
      }
      if (c == '[' || c == '(') {
        if (depth == sizeof open) fail("a descr nested more than 64 levels deep");
        open[depth++] = c;
      } else if (c == ']' || c == ')') {
        if (depth == 0 || open[depth - 1] != (c == ']' ? '[' : '(')) fail("unbalanced" + found());
        --depth;
      } else if (!(c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
                   (c >= '0' && c <= '9'))) {
        fail("unexpected character in a list descr" + found());
      }
      ++p_;
    } while (depth > 0);
    return std::string_view(start, static_cast<std::size_t>(p_ - start));
  }
  bool boolean() {
    skip_ws();
    if (match("True")) return true;
    if (match("False")) return false;
    fail("expected True or False" + found());
  }
  std::size_t integer() {
    skip_ws();
    if (p_ >= end_ || *p_ < '0' || *p_ > '9') fail("expected a non-negative integer" + found());
    std::size_t v = 0;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
      if (__builtin_mul_overflow(v, std::size_t{10}, &v) ||
          __builtin_add_overflow(v, static_cast<std::size_t>(*p_ - '0'), &v))
        fail("a dimension does not fit in size_t");
      ++p_;
    }
    if (p_ < end_ && (*p_ == 'L' || *p_ == 'l')) ++p_;  // Python 2 longs
    return v;
  }
  shape_type tuple() {
    expect('(');
    shape_type shape;
    shape.reserve(4);  // one allocation for the common ranks
    if (peek(')')) {
      ++p_;
      return shape;
    }
    for (;;) {
      if (shape.size() == max_rank) fail("more than 32 dimensions");
      shape.push_back(integer());
      if (peek(',')) {
        ++p_;
        if (peek(')')) break;
        continue;
      }
      if (shape.size() == 1) fail("a 1-tuple needs a trailing comma" + found());
      break;
    }
    expect(')');
    return shape;
  }
  bool match(const char* word) {
    std::size_t n = std::strlen(word);
    if (static_cast<std::size_t>(end_ - p_) >= n && std::memcmp(p_, word, n) == 0) {
      p_ += n;
      return true;
    }
    return false;
  }
  bool at_end() {
    skip_ws();
    return p_ >= end_;
  }

 private:
  const char* p_;
  const char* end_;
  source what_;
};
}  // namespace detail

namespace detail {
// The fast path: the dict exactly as NumPy (and write_header) spell it,
//   {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }   + spaces + '\n'
// parsed in one pass. Anything else (other key orders, spacing, quotes) returns false and goes to
// the general parser, which accepts every spelling NumPy reads and explains what is wrong.
inline bool parse_canonical(const char* p, std::size_t n, header& h) {
  const char* const e = p + n;
  auto lit = [&](const char* s, std::size_t k) {
    if (static_cast<std::size_t>(e - p) < k || std::memcmp(p, s, k) != 0) return false;
    p += k;
    return true;
  };
  if (!lit("{'descr': '", 11)) return false;
  const char* d = p;
  while (p < e && *p != '\'') {
    if (*p == '\\' || *p == '"' || static_cast<unsigned char>(*p) < 32) return false;
    ++p;
  }
  const std::size_t dl = static_cast<std::size_t>(p - d);
  if (p == e || dl < 2 || dl > 16) return false;
  ++p;
  if (!lit(", 'fortran_order': ", 19)) return false;
  bool fortran;
  if (lit("True", 4))
    fortran = true;
  else if (lit("False", 5))
    fortran = false;
  else
    return false;
  if (!lit(", 'shape': (", 12)) return false;
  std::size_t dims[max_rank];
  std::size_t rank = 0;
  if (!lit(")", 1)) {
    for (;;) {
      if (p == e || *p < '0' || *p > '9' || rank == max_rank) return false;
      std::size_t v = 0;
      for (; p < e && *p >= '0' && *p <= '9'; ++p)
        if (__builtin_mul_overflow(v, std::size_t{10}, &v) ||
            __builtin_add_overflow(v, static_cast<std::size_t>(*p - '0'), &v))
          return false;
      dims[rank++] = v;
      if (lit(", ", 2)) continue;
      if (lit(",)", 2)) break;
      if (rank > 1 && lit(")", 1)) break;
      return false;
    }
  }
  if (!lit(", }", 3)) return false;
  // The padding: spaces, eight at a time, then the newline.
  for (std::uint64_t w; e - p >= 8; p += 8) {
    std::memcpy(&w, p, 8);
    if (w != 0x2020202020202020u) break;
  }
  while (p < e && *p == ' ') ++p;
  if (p < e && *p == '\n') ++p;
  if (p != e) return false;
  h.descr.assign(d, dl);
  h.fortran_order = fortran;
  h.shape.assign(dims, dims + rank);
  return true;
}
}  // namespace detail

/// Checks a list descr against NumPy's rules for structured dtypes (record.hpp, included at the
/// end of this header); throws bad_format naming `what`.
inline void check_structured_descr(std::string_view descr, source what);

/// Parses the header at the start of `data` (`size` readable bytes). `what` names the source in
/// messages ("segment 'frames'", "file 'x.npy'"). Throws errc::bad_format for anything that is not
/// a header NumPy would write; checks that prod(shape)*itemsize does not overflow, but not that the
/// data fits in `size` (the caller knows the element size).
inline header parse_header(const void* data, std::size_t size, source what) {
  const auto* b = static_cast<const unsigned char*>(data);
  // Messages are built only on the error paths: the success path allocates nothing but the
  // header's shape.
  auto w = [what] { return what.str(); };
  if (size < 10 || std::memcmp(b, magic, magic_size) != 0)
    shmarray::detail::throw_error(errc::bad_format,
                                  w() + ": not a .npy segment (no \\x93NUMPY magic)");
  header h;
  h.major = b[6];
  h.minor = b[7];
  if (h.major < 1 || h.major > 3 || h.minor != 0)
    shmarray::detail::throw_error(
        errc::bad_format, w() + ": unsupported .npy format version " + std::to_string(h.major) +
                              "." + std::to_string(h.minor) + " (expected 1.0, 2.0 or 3.0)");
  std::size_t prefix = h.major == 1 ? 10 : 12;
  if (size < prefix)
    shmarray::detail::throw_error(errc::bad_format, w() + ": truncated .npy header");
  std::size_t hlen = data_offset_of(b) - prefix;
  if (hlen > size - prefix)
    shmarray::detail::throw_error(errc::bad_format, w() + ": the .npy header claims " +
                                                        std::to_string(hlen) + " bytes but only " +
                                                        std::to_string(size - prefix) + " follow");
  h.data_offset = prefix + hlen;
  const char* p = reinterpret_cast<const char*>(b + prefix);
  std::size_t ignored_bytes;
  if (detail::parse_canonical(p, hlen, h) && checked_bytes(h.shape, 1, ignored_bytes)) return h;
  h.shape.clear();
  detail::dict_parser ps(p, p + hlen, what);
  bool seen_descr = false, seen_fortran = false, seen_shape = false;
  ps.expect('{');
  while (!ps.peek('}')) {
    std::string_view key = ps.string_literal();
    ps.expect(':');
    if (key == "descr" && !seen_descr) {
      if (ps.peek('[')) {
        h.descr = ps.list_literal();
        check_structured_descr(h.descr, what);
      } else {
        h.descr = ps.string_literal();
      }
      seen_descr = true;
    } else if (key == "fortran_order" && !seen_fortran) {
      h.fortran_order = ps.boolean();
      seen_fortran = true;
    } else if (key == "shape" && !seen_shape) {
      h.shape = ps.tuple();
      seen_shape = true;
    } else {
      ps.fail("unexpected or repeated key '" + std::string(key) + "'");
    }
    if (!ps.peek(',')) break;
    ps.expect(',');
  }
  ps.expect('}');
  if (!ps.at_end()) ps.fail("extra characters after the dict");
  if (!seen_descr || !seen_fortran || !seen_shape)
    ps.fail("missing key (needs 'descr', 'fortran_order' and 'shape')");
  if ((h.descr.empty() || h.descr[0] != '[') && (h.descr.size() < 2 || h.descr.size() > 16))
    ps.fail("descr '" + h.descr + "' is not a simple dtype");
  std::size_t ignored;
  if (!checked_bytes(h.shape, 1, ignored)) ps.fail("the shape's element count overflows size_t");
  return h;
}

/// The item size encoded in a simple descr ("<f8" -> 8), or 0 if it has none.
inline std::size_t itemsize(std::string_view d) noexcept {
  std::size_t i = 0;
  while (i < d.size() && (d[i] < '0' || d[i] > '9')) ++i;
  if (i == d.size()) return 0;
  std::size_t v = 0;
  for (; i < d.size(); ++i) {
    if (d[i] < '0' || d[i] > '9' || v > 1000000) return 0;
    v = v * 10 + static_cast<std::size_t>(d[i] - '0');
  }
  return v;
}

/// True when a descr read from a file means the same as ours ('=' and '|' and '<' on a
/// little-endian host are the same for single bytes, etc.).
inline bool same_descr(std::string_view found, std::string_view ours) noexcept {
  if (found == ours) return true;
  if (found.size() != ours.size() || found.size() < 2) return false;
  if (found.substr(1) != ours.substr(1)) return false;
  auto norm = [](char c, std::string_view rest) {
    if (c == '=') return detail::byte_order;
    if (c == '|' && rest.size() >= 2 && rest.substr(1) == "1") return '|';
    return c;
  };
  char a = norm(found[0], found.substr(1)), b = norm(ours[0], ours.substr(1));
  if (a == b) return true;
  // One-byte types: byte order is meaningless, NumPy writes '|'.
  if (found.substr(1).size() >= 2 && found.substr(2) == "1") return true;
  return false;
}

}  // namespace npy
}  // namespace shmarray

// Structured descrs and SHMARRAY_RECORD: parse_header's check_structured_descr is defined there.
#include "record.hpp"  // IWYU pragma: export
