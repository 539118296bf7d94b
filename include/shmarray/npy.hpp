// The NumPy .npy format: the descr of each C++ element type (descr<T>), the header struct and its
// layout, and writing a header (write_header). Reading one is npy_parse.hpp, structured dtypes
// npy_record_dtype.hpp and record.hpp: this header includes them at its end, so that including
// any of them gives all (each includes the next: npy_parse_canonical.hpp, npy_parse.hpp, ...).
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

}  // namespace npy
}  // namespace shmarray

// The parser (its fast path first), then structured descrs and SHMARRAY_RECORD.
#include "npy_parse_canonical.hpp"  // IWYU pragma: export
