// The strict .npy header parser (parse_header): accepts what NumPy writes (format 1.0, 2.0, 3.0)
// and rejects everything else with errc::bad_format. It never reads past the bytes it is given,
// whatever the header claims, and refuses headers longer than NumPy's max_header_size (10,000)
// unless the caller raises it. Also here: comparing descrs (same_descr, byte_swapped).
#pragma once

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

#include "error.hpp"
#include "npy.hpp"
#include "npy_descr.hpp"
#include "npy_parse_canonical.hpp"

namespace shmarray {
namespace npy {

namespace detail {
// A descr as it can be shown in a message: printable ASCII kept, other bytes as \xNN.
inline std::string printable_descr(std::string_view d) {
  std::string s;
  for (char c : d) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 32 && u < 127) {
      s += c;
    } else {
      const char hex[] = "0123456789abcdef";
      s += "\\x";
      s += hex[u >> 4];
      s += hex[u & 15];
    }
  }
  return s;
}

// Why parse_header refuses a descr string that canonicalize() does not take.
inline std::string descr_problem(std::string_view d) {
  const std::string shown = "descr '" + printable_descr(d) + "'";
  if (d.find(',') != std::string_view::npos || d.find('(') != std::string_view::npos ||
      (!d.empty() && d[0] >= '0' && d[0] <= '9'))
    return shown +
           " is a comma-separated or subarray dtype string, which shmarray does not support "
           "(NumPy writes neither: its files hold dtype.str or a list of fields)";
  if (d.find('/') != std::string_view::npos)
    return shown + ": datetime unit divisors ('[ns/2]') are not supported";
  return shown + " is not a valid NumPy dtype (np.dtype() refuses it too)";
}

// What reading a Python literal (the header dict, a descr list) needs at every token: Python's
// whitespace (form feed included), one expected character, and what stands there instead, for the
// message. Derived (the parser) gives fail(why); every read is bounds-checked against end_.
template <class Derived>
class literal_cursor {
 public:
  // Python's whitespace between tokens.
  static bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
  }
  void skip_ws() noexcept {
    while (p_ < end_ && is_space(*p_)) ++p_;
  }
  bool peek(char c) noexcept {
    skip_ws();
    return p_ < end_ && *p_ == c;
  }
  void expect(char c) {
    if (!peek(c)) static_cast<Derived*>(this)->fail(std::string("expected '") + c + "'" + found());
    ++p_;
  }
  // " but found '<up to shown_ printable characters>'", or " but the <subject> ended".
  std::string found() const {
    if (p_ >= end_) return std::string(" but the ") + subject_ + " ended";
    std::string s = " but found '";
    for (const char* q = p_; q < end_ && q < p_ + shown_; ++q)
      s += (*q >= 32 && *q < 127) ? *q : '?';
    return s + "'";
  }

 protected:
  literal_cursor(const char* b, const char* e, const char* subject, std::size_t shown) noexcept
      : p_(b), end_(e), subject_(subject), shown_(shown) {}

  const char* p_;
  const char* end_;

 private:
  const char* subject_;
  std::size_t shown_;
};

// A cursor over the header dict. `major` is the format version: 1.0 and 2.0 headers may hold
// Python 2 longs, 3.0 headers are UTF-8.
class dict_parser : public literal_cursor<dict_parser> {
  friend class literal_cursor<dict_parser>;

 public:
  dict_parser(const char* b, const char* e, source what, int major)
      : literal_cursor(b, e, "header", 12), what_(what), major_(major) {}

  [[noreturn]] void fail(const std::string& why) const {
    shmarray::detail::throw_error(errc::bad_format, what_.str() + ": bad .npy header: " + why);
  }
  // A quoted string without escapes, as a view into the header (no allocation). Python takes
  // control characters in a string but not NUL or a line end.
  std::string_view string_literal() {
    skip_ws();
    if (p_ >= end_ || (*p_ != '\'' && *p_ != '"')) fail("expected a string" + found());
    char q = *p_++;
    const char* start = p_;
    while (p_ < end_ && *p_ != q) {
      if (*p_ == '\\' || *p_ == '\0' || *p_ == '\n' || *p_ == '\r')
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
  // spaces between. What the list means, check_structured_descr (npy_record_dtype.hpp) says.
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
      } else if (!(c == ',' || is_space(c) || (c >= '0' && c <= '9'))) {
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
  // A dimension: a Python decimal integer (no leading zeros, except in 0 itself). Python 2 longs
  // ("6L") pass in format 1.0 and 2.0 headers only, with an uppercase L, as in NumPy 1.24: it
  // drops an 'L' name token that follows a number before evaluating such headers
  // (format._filter_header), so "6L", "6 L" and "6L L" read as 6 but "6l", "6LL" and any 'L' of a
  // 3.0 header are syntax errors.
  std::size_t integer() {
    skip_ws();
    if (p_ >= end_ || *p_ < '0' || *p_ > '9') fail("expected a non-negative integer" + found());
    const char* start = p_;
    std::size_t v = 0;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
      if (__builtin_mul_overflow(v, std::size_t{10}, &v) ||
          __builtin_add_overflow(v, static_cast<std::size_t>(*p_ - '0'), &v))
        fail("a dimension does not fit in size_t");
      ++p_;
    }
    if (*start == '0' && v != 0)
      fail("'" + std::string(start, p_) + "': a decimal integer with a leading zero is not Python");
    const char* digits_end = p_;
    for (;;) {  // the 'L' tokens NumPy drops
      const char* q = p_;
      while (q < end_ && (*q == ' ' || *q == '\t' || *q == '\f')) ++q;
      if (major_ > 2 || q >= end_ || *q != 'L' || (q + 1 < end_ && identifier_char(q[1]))) break;
      p_ = q + 1;
    }
    const char* q = p_;
    while (q < end_ && (*q == ' ' || *q == '\t' || *q == '\f')) ++q;
    if (q < end_ && (*q == 'L' || *q == 'l'))
      fail("'" + std::string(start, digits_end) + std::string(digits_end, q + 1) +
           "': a Python 2 long suffix NumPy does not read" +
           (major_ > 2 ? std::string(" (format 3.0 headers take none)")
                       : std::string(" (it takes an uppercase 'L' alone, in format 1.0 and 2.0)")));
    return v;
  }
  static bool identifier_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           static_cast<unsigned char>(c) >= 0x80;
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
  source what_;
  int major_;
};
}  // namespace detail

namespace detail {
[[noreturn]] inline void header_too_long(const source& what, std::size_t length,
                                         std::size_t max_header_size, int major) {
  shmarray::detail::throw_error(
      errc::bad_format,
      what.str() + ": the .npy header is " + std::to_string(length) +
          (major == 3 ? " characters" : " bytes") +
          " long, more than max_header_size = " + std::to_string(max_header_size) +
          (max_header_size == default_max_header_size
               ? " (NumPy's limit: np.load refuses it too unless given a larger max_header_size)"
               : "") +
          "; if you trust it, raise " + std::string(what.limit_option));
}
}  // namespace detail

/// Checks a list descr against NumPy's rules for structured dtypes (npy_record_dtype.hpp,
/// included at the end of this header); throws bad_format naming `what`.
inline void check_structured_descr(std::string_view descr, source what);

/// Parses the header at the start of `data` (`size` readable bytes). `what` names the source in
/// messages ("segment 'frames'", "file 'x.npy'"). Throws errc::bad_format for anything that is not
/// a header NumPy 1.24 reads (np.load's verdict) and for what this library cannot represent
/// (structured and subarray dtypes); checks that prod(shape)*itemsize does not overflow, but not
/// that the data fits in `size` (the caller knows the element size). As np.load does, it refuses a
/// header whose text (after the length field) is longer than `max_header_size` characters; pass
/// SIZE_MAX for no limit. The descr it returns is NumPy's canonical spelling (see canonicalize).
/// This form fills `h`, every field of it (after a throw, h holds part of what was read): a
/// caller that keeps the header in a struct of its own is spared moving one.
inline void parse_header(const void* data, std::size_t size, source what,
                         std::size_t max_header_size, header& h) {
  const auto* b = static_cast<const unsigned char*>(data);
  // Messages are built only on the error paths: the success path allocates nothing but the
  // header's shape.
  auto w = [what] { return what.str(); };
  if (size < 10 || std::memcmp(b, magic, magic_size) != 0)
    shmarray::detail::throw_error(errc::bad_format,
                                  w() + ": not a .npy segment (no \\x93NUMPY magic)");
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
  // The length first, so that a caller who read only the start of a long header learns why.
  if (header_exceeds(b, max_header_size))
    detail::header_too_long(what, hlen, max_header_size, h.major);
  if (hlen > size - prefix)
    shmarray::detail::throw_error(errc::bad_format, w() + ": the .npy header claims " +
                                                        std::to_string(hlen) + " bytes but only " +
                                                        std::to_string(size - prefix) + " follow");
  if (hlen > max_header_size) {  // format 3.0: NumPy counts UTF-8 characters
    const std::size_t chars = header_text_length(b + prefix, hlen, h.major);
    if (chars > max_header_size) detail::header_too_long(what, chars, max_header_size, h.major);
  }
  h.data_offset = prefix + hlen;
  const char* p = reinterpret_cast<const char*>(b + prefix);
  std::size_t ignored_bytes;
  if (detail::parse_canonical(p, hlen, h) && checked_bytes(h.shape, 1, ignored_bytes)) return;
  h.shape.clear();
  h.fortran_order = false;
  detail::dict_parser ps(p, p + hlen, what, h.major);
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
        const std::string_view d = ps.string_literal();
        canonical_descr c;
        if (!canonicalize(d, c, h.major == 3)) ps.fail(detail::descr_problem(d));
        h.descr.assign(c.text, c.size);
      }
      seen_descr = true;
    } else if (key == "fortran_order" && !seen_fortran) {
      h.fortran_order = ps.boolean();
      seen_fortran = true;
    } else if (key == "shape" && !seen_shape) {
      h.shape = ps.tuple();
      seen_shape = true;
    } else {
      ps.fail("unexpected or repeated key '" + detail::printable_descr(key) + "'");
    }
    if (!ps.peek(',')) break;
    ps.expect(',');
  }
  ps.expect('}');
  if (!ps.at_end()) ps.fail("extra characters after the dict");
  if (!seen_descr || !seen_fortran || !seen_shape)
    ps.fail("missing key (needs 'descr', 'fortran_order' and 'shape')");
  std::size_t ignored;
  if (!checked_bytes(h.shape, 1, ignored)) ps.fail("the shape's element count overflows size_t");
}
/// The same, returning the header.
inline header parse_header(const void* data, std::size_t size, source what,
                           std::size_t max_header_size = default_max_header_size) {
  header h;
  parse_header(data, size, what, max_header_size, h);
  return h;
}

/// parse_header without messages: false when the bytes are not a header NumPy would write.
inline bool try_parse_header(const void* data, std::size_t size, header& h) noexcept {
  try {
    parse_header(data, size, "", default_max_header_size, h);
    return true;
  } catch (...) {
    return false;
  }
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

/// True when two descrs mean the same dtype, as NumPy sees it: their canonical spellings agree
/// ('f8', '=f8', '|f8' and '<f8' on a little-endian host; '<u1' and '|u1'; 'd' and 'float64').
/// Descrs that are not dtypes are the same only when spelled the same.
inline bool same_descr(std::string_view found, std::string_view ours) noexcept {
  if (found == ours) return true;  // the same spelling: the same dtype, or the same non-dtype
  canonical_descr a, b;
  if (!canonicalize(found, a) || !canonicalize(ours, b)) return found == ours;
  return a.view() == b.view();
}

/// True when `found` is `ours` in the other byte order ('>f8' for '<f8'): data a reader must
/// byte-swap, as load does; attach, which maps the data, cannot.
inline bool byte_swapped(std::string_view found, std::string_view ours) noexcept {
  canonical_descr a, b;
  if (!canonicalize(found, a) || !canonicalize(ours, b)) return false;
  return a.size == b.size && a.text[0] != b.text[0] && a.text[0] != '|' && b.text[0] != '|' &&
         a.view().substr(1) == b.view().substr(1);
}

}  // namespace npy
}  // namespace shmarray

// Structured descrs: parse_header's check_structured_descr is defined there (and SHMARRAY_RECORD,
// record.hpp, included at its end).
#include "npy_record_dtype.hpp"  // IWYU pragma: export
