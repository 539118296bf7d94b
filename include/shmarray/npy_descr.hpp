// NumPy's dtype strings: which descr strings NumPy 1.24 reads as a dtype, and their canonical
// spelling, NumPy's dtype.str ('f8' -> '<f8', 'b' -> '|i1', '=M8[1ns]' -> '<M8[ns]'). parse_header
// stores the canonical form, same_descr compares it, swap_unit tells a file in the other byte
// order. Covers NumPy's type strings and type names, not structured, subarray or comma-separated
// dtypes.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace shmarray {
namespace npy {

namespace detail {
inline constexpr bool host_little_endian =
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    false;
#else
    true;
#endif
inline constexpr char native_order = host_little_endian ? '<' : '>';
}  // namespace detail

/// A descr in NumPy's canonical spelling, held inline: at most 17 characters ('<M8[2147483647ns]').
struct canonical_descr {
  char text[24] = {};
  std::size_t size = 0;
  std::string_view view() const noexcept { return {text, size}; }
};

namespace detail {
constexpr bool c_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

inline constexpr std::size_t int_max = 2147483647;  // NumPy keeps item sizes in a C int

// A type string's size as NumPy reads it (strtol over the rest of the string): C whitespace, an
// optional sign, then only digits. Refuses what NumPy turns into a negative or wrapped item size.
inline bool size_number(std::string_view s, std::size_t& n) noexcept {
  std::size_t i = 0;
  while (i < s.size() && c_space(s[i])) ++i;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  if (i == s.size()) return false;
  std::size_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + static_cast<std::size_t>(s[i] - '0');
    if (v > int_max) return false;
  }
  if (negative && v != 0) return false;
  n = v;
  return true;
}

// Appends to `out`; false when it would not fit (it always does for what the grammar allows).
inline bool append(canonical_descr& out, std::string_view s) noexcept {
  if (s.empty()) return true;  // its data() may be null, which memcpy must not get
  if (s.size() > sizeof out.text - 1 - out.size) return false;
  std::memcpy(out.text + out.size, s.data(), s.size());
  out.size += s.size();
  return true;
}
inline bool append(canonical_descr& out, std::size_t n) noexcept {
  char digits[24];
  auto r = std::to_chars(digits, digits + sizeof digits, n);
  return append(out, std::string_view(digits, static_cast<std::size_t>(r.ptr - digits)));
}

// NumPy's canonical form of a dtype of kind `kind` and size `n` (characters for 'U', nothing for
// 'O'), asked for in byte order `order` (0 when none was given), with a datetime `unit` ("[ns]").
inline bool emit(canonical_descr& out, char order, char kind, std::size_t n,
                 std::string_view unit = {}) noexcept {
  const bool no_order = kind == 'b' || kind == 'S' || kind == 'V' || kind == 'O' ||
                        ((kind == 'i' || kind == 'u') && n == 1);
  out = canonical_descr{};
  out.text[0] = no_order ? '|' : (order == '<' || order == '>') ? order : native_order;
  out.text[1] = kind;
  out.size = 2;
  return (kind == 'O' || append(out, n)) && append(out, unit);
}

// Datetime metadata after "M8" or "datetime64": "[ns]", "[25ns]", "[generic]". The count is read
// as strtol reads it (leading whitespace, '+'); NumPy's divisor form "[ns/2]" is not supported
// (NumPy turns it into another unit, and crashes on "[ns/0]"). 'μs' is U+03BC, in UTF-8: only a
// format 3.0 header can hold it. Writes the canonical unit: "" for generic, no count of 1.
inline bool datetime_unit(std::string_view s, bool utf8, canonical_descr& unit) noexcept {
  if (s.size() < 3 || s.front() != '[' || s.back() != ']') return false;
  const std::string_view in = s.substr(1, s.size() - 2);
  std::size_t j = 0;
  while (j < in.size() && c_space(in[j])) ++j;
  if (j < in.size() && in[j] == '+') ++j;
  std::size_t count = 1;
  std::string_view u = in;  // without a count, the unit is all of it (whitespace included)
  if (j < in.size() && in[j] >= '0' && in[j] <= '9') {
    count = 0;
    for (; j < in.size() && in[j] >= '0' && in[j] <= '9'; ++j) {
      count = count * 10 + static_cast<std::size_t>(in[j] - '0');
      if (count > int_max) return false;
    }
    u = in.substr(j);
  }
  unit = canonical_descr{};
  if (u == "generic") return true;
  if (utf8 && u == "\xce\xbcs") u = "us";
  static constexpr std::string_view units[] = {"Y",  "M",  "W",  "D",  "h",  "m", "s",
                                               "ms", "us", "ns", "ps", "fs", "as"};
  bool known = false;
  for (auto k : units) known = known || u == k;
  if (!known) return false;
  return append(unit, "[") && (count == 1 || append(unit, count)) && append(unit, u) &&
         append(unit, "]");
}

struct type_name {
  std::string_view name;
  char kind;
  std::size_t size;  // 0 for the flexible types; a name with no type on this host is left out
};

// NumPy 1.24's type names (numpy.sctypeDict and the Python builtins np.dtype() takes), with the
// sizes they have on this host. They take no byte order character.
inline bool from_type_name(std::string_view d, canonical_descr& out) noexcept {
  constexpr std::size_t ld = sizeof(long double);
  static constexpr type_name names[] = {
      {"bool", 'b', 1},
      {"bool8", 'b', 1},
      {"bool_", 'b', 1},
      {"byte", 'i', 1},
      {"int8", 'i', 1},
      {"ubyte", 'u', 1},
      {"uint8", 'u', 1},
      {"short", 'i', sizeof(short)},
      {"int16", 'i', 2},
      {"ushort", 'u', sizeof(short)},
      {"uint16", 'u', 2},
      {"intc", 'i', sizeof(int)},
      {"int32", 'i', 4},
      {"uintc", 'u', sizeof(int)},
      {"uint32", 'u', 4},
      {"int", 'i', sizeof(long)},
      {"int_", 'i', sizeof(long)},
      {"long", 'i', sizeof(long)},
      {"int0", 'i', sizeof(void*)},
      {"intp", 'i', sizeof(void*)},
      {"longlong", 'i', sizeof(long long)},
      {"int64", 'i', 8},
      {"uint", 'u', sizeof(long)},
      {"ulong", 'u', sizeof(long)},
      {"uint0", 'u', sizeof(void*)},
      {"uintp", 'u', sizeof(void*)},
      {"ulonglong", 'u', sizeof(long long)},
      {"uint64", 'u', 8},
      {"half", 'f', 2},
      {"float16", 'f', 2},
      {"single", 'f', 4},
      {"float32", 'f', 4},
      {"double", 'f', 8},
      {"float", 'f', 8},
      {"float_", 'f', 8},
      {"float64", 'f', 8},
      {"longdouble", 'f', ld},
      {"longfloat", 'f', ld},
      {ld == 16   ? "float128"
       : ld == 12 ? "float96"
                  : "",
       'f', ld},
      {"csingle", 'c', 8},
      {"singlecomplex", 'c', 8},
      {"complex64", 'c', 8},
      {"cdouble", 'c', 16},
      {"cfloat", 'c', 16},
      {"complex", 'c', 16},
      {"complex_", 'c', 16},
      {"complex128", 'c', 16},
      {"clongdouble", 'c', 2 * ld},
      {"clongfloat", 'c', 2 * ld},
      {"longcomplex", 'c', 2 * ld},
      {ld == 16   ? "complex256"
       : ld == 12 ? "complex192"
                  : "",
       'c', 2 * ld},
      {"bytes", 'S', 0},
      {"bytes0", 'S', 0},
      {"bytes_", 'S', 0},
      {"string_", 'S', 0},
      {"str", 'U', 0},
      {"str0", 'U', 0},
      {"str_", 'U', 0},
      {"unicode", 'U', 0},
      {"unicode_", 'U', 0},
      {"object", 'O', 0},
      {"object0", 'O', 0},
      {"object_", 'O', 0},
      {"void", 'V', 0},
      {"void0", 'V', 0},
  };
  for (const auto& n : names)
    if (!n.name.empty() && d == n.name) return emit(out, 0, n.kind, n.size);
  return false;
}
}  // namespace detail

namespace detail {
// The fast path of canonicalize: a number's descr already spelled as NumPy writes it ('<f8',
// '>i4', '|u1', '|b1', '<c16'), which is its own canonical form. True for exactly some of the
// strings the general path returns unchanged; false sends everything else there.
__attribute__((always_inline)) inline bool is_canonical_number(std::string_view d) noexcept {
  const std::size_t len = d.size();
  if (len < 3 || len > 4) return false;
  const char order = d[0], kind = d[1], c2 = d[2], c3 = len == 4 ? d[3] : '0';
  if (c2 < '1' || c2 > '9' || c3 < '0' || c3 > '9') return false;
  const std::size_t n =
      len == 3 ? static_cast<std::size_t>(c2 - '0')
               : static_cast<std::size_t>(c2 - '0') * 10 + static_cast<std::size_t>(c3 - '0');
  constexpr std::size_t ld = sizeof(long double);
  if (order == '|') return n == 1 && (kind == 'b' || kind == 'i' || kind == 'u');
  if (order != '<' && order != '>') return false;
  switch (kind) {
    case 'i':
    case 'u': return n == 2 || n == 4 || n == 8;
    case 'f': return n == 2 || n == 4 || n == 8 || n == ld;
    case 'c': return n == 8 || n == 16 || n == 2 * ld;
    default: return false;
  }
}
}  // namespace detail

/// NumPy's canonical spelling (dtype.str) of a descr string, when NumPy 1.24 reads it as a dtype
/// that is neither structured nor a subarray: type strings ('<f8', 'f8', 'd', '|S5', 'U',
/// '>M8[ns]', with NumPy's quirks: 'b' is int8 but 'b1' is bool, 'c' is S1, '|f8' is native, 'f 08'
/// is f8) and type names ('float64', 'int', 'str', 'datetime64[ns]'). `utf8`: the descr comes from
/// a format 3.0 header (UTF-8), where 'μs' can be spelled. False for anything NumPy refuses, and
/// for what it accepts but this library cannot represent: comma-separated and subarray strings
/// ('f8,i4', '(2,)f8', '2f8', also '1f8' and 'f8,', which NumPy reads as plain f8), datetime unit
/// divisors ('M8[ns/2]'), and item sizes above 2^31-1, which NumPy wraps around.
inline bool canonicalize(std::string_view d, canonical_descr& out, bool utf8 = false) noexcept {
  using namespace detail;
  if (is_canonical_number(d)) {  // what NumPy writes for numbers, the common case
    out = canonical_descr{};
    std::memcpy(out.text, d.data(), d.size());
    out.size = d.size();
    return true;
  }
  if (d.empty()) return false;
  // Type names are lowercase words of three letters or more (the common '<f8' skips the table).
  if (d.size() >= 3 && d[0] >= 'a' && d[0] <= 'z' && from_type_name(d, out)) return true;
  const char order = (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=') ? d[0] : '\0';
  const std::string_view t = d.substr(order ? 1 : 0);
  // datetime64 and timedelta64 are the only names that take a byte order and a unit.
  for (std::string_view name : {std::string_view("datetime64"), std::string_view("timedelta64")}) {
    if (t.substr(0, name.size()) != name) continue;
    canonical_descr unit;
    const std::string_view rest = t.substr(name.size());
    if (!rest.empty() && !datetime_unit(rest, utf8, unit)) return false;
    return emit(out, order, name[0] == 'd' ? 'M' : 'm', 8, unit.view());
  }
  if (t.empty()) return false;
  const char code = t[0];
  const std::string_view rest = t.substr(1);
  if (rest.empty()) {  // a one-character type code
    struct unsized {
      char code, kind;
      std::size_t size;
    };
    constexpr std::size_t ld = sizeof(long double);
    // NumPy also reads the character whose code is a type number (NPY_BOOL = 0 ... NPY_HALF = 23,
    // the deprecated NPY_CHAR = 26) as that type: '\x07' is NPY_LONG.
    static constexpr unsized codes[] = {
        {'\x00', 'b', 1},
        {'\x01', 'i', 1},
        {'\x02', 'u', 1},
        {'\x03', 'i', sizeof(short)},
        {'\x04', 'u', sizeof(short)},
        {'\x05', 'i', sizeof(int)},
        {'\x06', 'u', sizeof(int)},
        {'\x07', 'i', sizeof(long)},
        {'\x08', 'u', sizeof(long)},
        {'\x09', 'i', sizeof(long long)},
        {'\x0a', 'u', sizeof(long long)},
        {'\x0b', 'f', 4},
        {'\x0c', 'f', 8},
        {'\x0d', 'f', ld},
        {'\x0e', 'c', 8},
        {'\x0f', 'c', 16},
        {'\x10', 'c', 2 * ld},
        {'\x11', 'O', 0},
        {'\x12', 'S', 0},
        {'\x13', 'U', 0},
        {'\x14', 'V', 0},
        {'\x15', 'M', 8},
        {'\x16', 'm', 8},
        {'\x17', 'f', 2},
        {'\x1a', 'S', 1},
        {'?', 'b', 1},
        {'b', 'i', 1},
        {'B', 'u', 1},
        {'h', 'i', sizeof(short)},
        {'H', 'u', sizeof(short)},
        {'i', 'i', sizeof(int)},
        {'I', 'u', sizeof(int)},
        {'l', 'i', sizeof(long)},
        {'L', 'u', sizeof(long)},
        {'q', 'i', sizeof(long long)},
        {'Q', 'u', sizeof(long long)},
        {'p', 'i', sizeof(void*)},
        {'P', 'u', sizeof(void*)},
        {'e', 'f', 2},
        {'f', 'f', 4},
        {'d', 'f', 8},
        {'g', 'f', ld},
        {'F', 'c', 8},
        {'D', 'c', 16},
        {'G', 'c', 2 * ld},
        {'S', 'S', 0},
        {'a', 'S', 0},
        {'c', 'S', 1},
        {'U', 'U', 0},
        {'V', 'V', 0},
        {'O', 'O', 0},
        {'M', 'M', 8},
        {'m', 'm', 8},
    };
    for (const auto& c : codes)
      if (c.code == code) return emit(out, order, c.kind, c.size);
    return false;
  }
  if ((code == 'M' || code == 'm') && rest.size() > 1 && rest[0] == '8' && rest[1] == '[') {
    canonical_descr unit;
    return datetime_unit(rest.substr(1), utf8, unit) && emit(out, order, code, 8, unit.view());
  }
  std::size_t n = 0;
  if (!size_number(rest, n)) return false;
  constexpr std::size_t ld = sizeof(long double);
  switch (code) {
    case 'b': return n == 1 && emit(out, order, 'b', 1);
    case 'i':
    case 'u': return (n == 1 || n == 2 || n == 4 || n == 8) && emit(out, order, code, n);
    case 'f': return (n == 2 || n == 4 || n == 8 || n == ld) && emit(out, order, 'f', n);
    case 'c': return (n == 8 || n == 16 || n == 2 * ld) && emit(out, order, 'c', n);
    case 'M':
    case 'm': return n == 8 && emit(out, order, code, 8);
    case 'O': return (n == 4 || n == 8) && emit(out, order, 'O', 0);
    case 'S':
    case 'a': return emit(out, order, 'S', n);
    case 'V': return emit(out, order, 'V', n);
    case 'U': return n <= int_max / 4 && emit(out, order, 'U', n);
    default: return false;
  }
}

/// The bytes one element of a canonical descr takes (dtype.itemsize): 20 for '<U5', the pointer
/// size for '|O', 0 for the empty 'S0'/'U0'/'V0' and for what is not canonical.
inline std::size_t canonical_itemsize(std::string_view c) noexcept {
  if (c.size() < 2) return 0;
  if (c[1] == 'O') return c.size() == 2 ? sizeof(void*) : 0;
  std::size_t n = 0, i = 2;
  for (; i < c.size() && c[i] >= '0' && c[i] <= '9'; ++i)
    n = n * 10 + static_cast<std::size_t>(c[i] - '0');
  if (i == 2 || n > detail::int_max) return 0;
  return c[1] == 'U' ? 4 * n : n;
}

/// For a descr whose data is in the other byte order than this host's ('>f8' on x86-64): how many
/// bytes to reverse at a time (8 for '>f8', 8 for '>c16': each half, 4 for '>U5': each UCS-4
/// character). 0 when nothing needs swapping: this host's order, '|' types, or not a dtype.
inline std::size_t swap_unit(std::string_view d) noexcept {
  canonical_descr c;
  if (!canonicalize(d, c) || c.text[0] == '|' || c.text[0] == detail::native_order) return 0;
  const std::size_t size = canonical_itemsize(c.view());
  return c.text[1] == 'c' ? size / 2 : c.text[1] == 'U' ? 4 : size;
}

/// Reverses the bytes of each `unit`-byte piece of `p` (n bytes, a multiple of unit): NumPy's
/// byteswap() for one swap_unit().
inline void swap_bytes(void* p, std::size_t n, std::size_t unit) noexcept {
  auto* b = static_cast<unsigned char*>(p);
  switch (unit) {
    case 2:
      for (std::size_t i = 0; i + 2 <= n; i += 2) {
        std::uint16_t v;
        std::memcpy(&v, b + i, 2);
        v = __builtin_bswap16(v);
        std::memcpy(b + i, &v, 2);
      }
      return;
    case 4:
      for (std::size_t i = 0; i + 4 <= n; i += 4) {
        std::uint32_t v;
        std::memcpy(&v, b + i, 4);
        v = __builtin_bswap32(v);
        std::memcpy(b + i, &v, 4);
      }
      return;
    case 8:
      for (std::size_t i = 0; i + 8 <= n; i += 8) {
        std::uint64_t v;
        std::memcpy(&v, b + i, 8);
        v = __builtin_bswap64(v);
        std::memcpy(b + i, &v, 8);
      }
      return;
    default:
      if (unit < 2) return;
      for (std::size_t i = 0; i + unit <= n; i += unit)
        for (std::size_t lo = i, hi = i + unit - 1; lo < hi; ++lo, --hi) {
          const unsigned char t = b[lo];
          b[lo] = b[hi];
          b[hi] = t;
        }
  }
}

}  // namespace npy
}  // namespace shmarray
