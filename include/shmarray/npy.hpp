// The NumPy .npy format: the descr of each element type, writing a header, and a strict parser that
// accepts what NumPy writes (format 1.0, 2.0, 3.0) and rejects everything else with
// errc::bad_format. The parser never reads past the bytes it is given, whatever the header claims,
// and refuses headers longer than NumPy's max_header_size (10,000) unless the caller raises it.
#pragma once

#include <charconv>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "error.hpp"
#include "npy_descr.hpp"

namespace shmarray {

using shape_type = std::vector<std::size_t>;

namespace npy {

inline constexpr char magic[] = "\x93NUMPY";  // 6 bytes, then major, minor
inline constexpr std::size_t magic_size = 6;
inline constexpr std::size_t alignment = 64;  // data offset alignment (NumPy uses 64 since 1.14)
inline constexpr std::size_t max_rank = 32;   // NumPy's NPY_MAXDIMS
/// NumPy's limit on the header it reads (numpy.lib.format._MAX_HEADER_SIZE): np.load refuses a
/// longer one unless given a larger max_header_size (literal_eval is slow on huge input). Ours is
/// the same by default; attach_options, create_options (for load) and the tool raise it.
inline constexpr std::size_t default_max_header_size = 10000;

namespace detail {
inline constexpr bool little_endian = host_little_endian;  // npy_descr.hpp
inline constexpr char byte_order = native_order;

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

namespace detail {
/// The descr of a type that is not a record, known at compile time: "|b1" for bool, '|' for raw
/// bytes and one-byte numbers, else this host's byte order; the kind; the size ("<f8", "|V12").
struct simple_descr {
  char text[24] = {};
  std::size_t size = 0;
  constexpr std::string_view view() const noexcept { return {text, size}; }
};
template <class U>
constexpr simple_descr make_simple_descr() noexcept {
  simple_descr d;
  constexpr char k = kind<U>();
  d.text[0] = k == 'b' || k == 'V' || sizeof(U) == 1 ? '|' : byte_order;
  d.text[1] = k;
  char digits[24] = {};
  std::size_t n = 0;
  for (std::size_t v = sizeof(U); v > 0; v /= 10) digits[n++] = static_cast<char>('0' + v % 10);
  d.size = 2;
  while (n > 0) d.text[d.size++] = digits[--n];
  return d;
}
template <class U>
inline constexpr simple_descr simple_descr_v = make_simple_descr<U>();
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
  static const std::string value(detail::simple_descr_v<U>.view());
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

/// The length NumPy compares with max_header_size: that of the header text after the length field
/// as Python decodes it, so its bytes for formats 1.0 and 2.0 (latin-1) and its UTF-8 characters
/// for 3.0. `text` holds the `n` bytes of that text.
inline std::size_t header_text_length(const unsigned char* text, std::size_t n,
                                      int major) noexcept {
  if (major != 3) return n;
  std::size_t chars = 0;
  for (std::size_t i = 0; i < n; ++i) chars += (text[i] & 0xc0) != 0x80;  // not a continuation
  return chars;
}

/// True when a header's first 12 bytes (`b`, after the magic) already show that it is longer than
/// `max_header_size`, so a caller need not read the rest: for format 3.0 it takes more than four
/// bytes a character allowed. parse_header makes the exact check.
inline bool header_exceeds(const unsigned char* b, std::size_t max_header_size) noexcept {
  const std::size_t n = data_offset_of(b) - (b[6] == 1 ? 10 : 12);
  return b[6] == 3 ? n / 4 > max_header_size : n > max_header_size;
}

struct header {
  std::string descr;            // NumPy's canonical spelling (dtype.str), e.g. "<f8" for 'f8'
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
/// Written in place into the one string returned (allocate's path: no temporaries).
inline std::string write_header(std::string_view descr_, bool fortran_order,
                                const shape_type& shape) {
  const bool list = !descr_.empty() && descr_[0] == '[';  // a structured descr, unquoted
  // A list is written unquoted.
  const std::string_view head = list ? "{'descr': " : "{'descr': '",
                         order = list ? ", 'fortran_order': " : "', 'fortran_order': ";
  constexpr std::string_view shape_key = ", 'shape': (", tail = ", }";
  const std::string_view value = fortran_order ? "True" : "False";
  // The shape as Python writes a tuple: "(3, 4)", "(5,)", "()".
  std::size_t shape_chars = 1 + (shape.size() == 1);  // ')' and a 1-tuple's ','
  for (std::size_t i = 0; i < shape.size(); ++i) {
    std::size_t digits = 1;
    for (std::size_t d = shape[i]; d >= 10; d /= 10) ++digits;
    shape_chars += digits + (i ? 2 : 0);
  }
  const std::size_t dict = head.size() + descr_.size() + order.size() + value.size() +
                           shape_key.size() + shape_chars + tail.size();
  std::size_t prefix = 10;
  std::size_t total = (prefix + dict + 1 + alignment - 1) / alignment * alignment;
  int major = 1;
  if (total - prefix > 0xffff) {
    prefix = 12;
    total = (prefix + dict + 1 + alignment - 1) / alignment * alignment;
    major = 2;
  }
  const std::size_t hlen = total - prefix;
  std::string out(total, ' ');
  char* p = out.data();
  auto put = [&p](std::string_view v) {
    std::memcpy(p, v.data(), v.size());
    p += v.size();
  };
  put(std::string_view(magic, magic_size));
  *p++ = static_cast<char>(major);
  *p++ = '\0';
  *p++ = static_cast<char>(hlen & 0xff);
  *p++ = static_cast<char>((hlen >> 8) & 0xff);
  if (major == 2) {
    *p++ = static_cast<char>((hlen >> 16) & 0xff);
    *p++ = static_cast<char>((hlen >> 24) & 0xff);
  }
  put(head);
  if (!descr_.empty()) put(descr_);  // its data() may be null, which memcpy must not get
  put(order);
  put(value);
  put(shape_key);
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) put(", ");
    char digits[24];
    const auto r = std::to_chars(digits, digits + sizeof digits, shape[i]);
    put(std::string_view(digits, static_cast<std::size_t>(r.ptr - digits)));
  }
  if (shape.size() == 1) *p++ = ',';
  *p++ = ')';
  put(tail);
  out[total - 1] = '\n';  // the rest is the spaces it was made of
  return out;
}

/// Names what a header came from, for messages: `what` ("file 'x.npy'"), or `what` and a `name`
/// quoted after it ("attach 'frames'"), put together only when a message is built; and the
/// setting that raises max_header_size for it ("attach_options::max_header_size").
struct source {
  std::string_view what;
  std::string_view name;
  std::string_view limit_option = "max_header_size";
  // Implicit, so that callers can pass any string as before.
  source(const char* w) noexcept : what(w) {}
  source(const std::string& w) noexcept : what(w) {}
  source(std::string_view w, std::string_view n = {}, std::string_view option = {}) noexcept
      : what(w), name(n) {
    if (!option.empty()) limit_option = option;
  }
  std::string str() const {
    std::string s(what);
    if (!name.empty()) s.append(" '").append(name).append("'");
    return s;
  }
};

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

// A cursor over the header dict; every read is bounds-checked against `end`. `major` is the
// format version: 1.0 and 2.0 headers may hold Python 2 longs, 3.0 headers are UTF-8.
class dict_parser {
 public:
  dict_parser(const char* b, const char* e, source what, int major)
      : p_(b), end_(e), what_(what), major_(major) {}

  [[noreturn]] void fail(const std::string& why) const {
    shmarray::detail::throw_error(errc::bad_format, what_.str() + ": bad .npy header: " + why);
  }
  // Python's whitespace between tokens (form feed included).
  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r' || *p_ == '\f'))
      ++p_;
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
  const char* p_;
  const char* end_;
  source what_;
  int major_;
};
}  // namespace detail

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

/// Checks a list descr against NumPy's rules for structured dtypes (record.hpp, included at the
/// end of this header); throws bad_format naming `what`.
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

// Structured descrs and SHMARRAY_RECORD: parse_header's check_structured_descr is defined there.
#include "record.hpp"  // IWYU pragma: export
