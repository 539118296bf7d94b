// NumPy structured dtypes as a .npy header describes them: the parsed form (dtype, dtype_field),
// the strict parser of list descrs (parse_dtype, check_structured_descr), the size of any dtype a
// file can carry (element_size), NumPy's spelling of one (dtype_string) and the first difference
// between two (first_difference). The C++ side, SHMARRAY_RECORD, is record.hpp.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "error.hpp"
#include "npy.hpp"
#include "npy_descr.hpp"
#include "npy_parse.hpp"

namespace shmarray {
namespace npy {

// ---- Parsed dtypes --------------------------------------------------------------------------

struct dtype_field;

/// A dtype as a .npy header describes it: a simple descr ("<f8") or a structure of fields.
struct dtype {
  std::string simple;               // "<f8", "|V4", ...; empty for a structure
  std::vector<dtype_field> fields;  // a structure's fields in offset order, padding left out
  std::size_t itemsize = 0;         // bytes per element, padding included
  bool structured() const noexcept { return simple.empty(); }
};

/// One named field of a structure.
struct dtype_field {
  std::string name;
  std::string title;                    // NumPy's optional title ("" when none)
  std::size_t offset = 0;               // from the start of the enclosing structure
  shape_type shape;                     // a subarray field's dimensions, () for a single value
  dtype type;                           // the type of each value
  std::size_t bytes() const noexcept {  // type.itemsize * prod(shape); parse_dtype checked it
    std::size_t n = type.itemsize;
    for (auto d : shape) n *= d;
    return n;
  }
};

namespace detail {
// The size of a simple descr a file can carry, 0 when it cannot (see element_size): numbers,
// raw bytes ('V<n>', 'S<n>'), UCS-4 strings ('U<n>': 4 bytes a character) and datetimes, in any
// spelling NumPy reads ('f8', 'd', 'float64': see canonicalize). Object arrays ('O', pickles),
// empty items ('S0') and what is not a dtype are 0.
inline std::size_t simple_size(std::string_view d) noexcept {
  canonical_descr c;
  if (!canonicalize(d, c) || c.text[1] == 'O') return 0;
  return canonical_itemsize(c.view());
}

inline bool is_void_descr(std::string_view d) noexcept {
  return !d.empty() && (d[0] == 'V' || (d.size() > 1 && d[1] == 'V'));
}

// A cursor over a descr literal, as Python's literal_eval and NumPy's descr_to_dtype read it:
// a string, or a list of fields (name, format[, shape]) where a name is 'n' or ('title', 'n'), a
// format is a string, a list (a nested structure) or (format, shape), and a shape is a tuple of
// integers or one integer. Fields are tuples or lists. Every read is bounds-checked.
class dtype_parser : literal_cursor<dtype_parser> {
  friend class literal_cursor<dtype_parser>;

 public:
  dtype_parser(std::string_view text, source what)
      : literal_cursor(text.data(), text.data() + text.size(), "descr", 16), what_(what) {}

  dtype parse() {
    dtype d = peek('[') ? structure(0) : simple(string());
    skip_ws();
    if (p_ != end_) fail("extra characters after the descr" + found());
    return d;
  }

 private:
  static constexpr std::size_t max_depth = 32;

  [[noreturn]] void fail(const std::string& why) const {
    shmarray::detail::throw_error(errc::bad_format,
                                  what_.str() + ": bad .npy header: in the descr: " + why);
  }
  bool skip_comma() {
    if (!peek(',')) return false;
    ++p_;
    return true;
  }
  // '(' or '[': the opening of a tuple or list; returns the character that closes it.
  char open_sequence(const char* what) {
    if (peek('(')) {
      ++p_;
      return ')';
    }
    if (peek('[')) {
      ++p_;
      return ']';
    }
    fail(std::string("expected ") + what + found());
  }
  std::string_view string() {
    skip_ws();
    if (p_ >= end_ || (*p_ != '\'' && *p_ != '"')) fail("expected a string" + found());
    const char q = *p_++;
    const char* start = p_;
    while (p_ < end_ && *p_ != q) {
      if (*p_ == '\\' || static_cast<unsigned char>(*p_) < 32)
        fail("unsupported character (an escape or a control character) in a string");
      ++p_;
    }
    if (p_ >= end_) fail("unterminated string");
    return std::string_view(start, static_cast<std::size_t>(p_++ - start));
  }
  std::size_t integer() {
    skip_ws();
    if (p_ >= end_ || *p_ < '0' || *p_ > '9') fail("expected a non-negative integer" + found());
    std::size_t v = 0;
    for (; p_ < end_ && *p_ >= '0' && *p_ <= '9'; ++p_)
      if (__builtin_mul_overflow(v, std::size_t{10}, &v) ||
          __builtin_add_overflow(v, static_cast<std::size_t>(*p_ - '0'), &v))
        fail("a dimension does not fit in size_t");
    return v;
  }
  dtype simple(std::string_view s) {
    dtype d;
    d.itemsize = simple_size(s);
    if (d.itemsize == 0)
      fail("'" + std::string(s) +
           "' is not a dtype a file can carry (numbers, bool, complex, 'V', 'S', 'U', datetimes)");
    d.simple = s;
    return d;
  }
  // A shape: (2, 3), (3,), () or a bare 3, appended to `dims`.
  void shape(shape_type& dims) {
    skip_ws();
    if (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
      dims.push_back(integer());
    } else {
      const char close = open_sequence("a shape");
      while (!peek(close)) {
        dims.push_back(integer());
        if (!skip_comma()) break;
      }
      expect(close);
    }
    if (dims.size() > max_rank) fail("a subarray of more than 32 dimensions");
  }
  // A field's format; a subarray's dimensions (outer first) go to `dims`.
  dtype format(shape_type& dims, std::size_t depth) {
    if (depth > max_depth) fail("nested more than 32 levels deep");
    if (peek('[')) return structure(depth + 1);
    if (peek('(')) {  // (format, shape)
      ++p_;
      shape_type inner;
      dtype t = format(inner, depth + 1);
      expect(',');
      shape(dims);
      skip_comma();
      expect(')');
      dims.insert(dims.end(), inner.begin(), inner.end());
      if (dims.size() > max_rank) fail("a subarray of more than 32 dimensions");
      return t;
    }
    return simple(string());
  }
  // `names` holds the names and titles of the structure's fields so far (views into the text).
  void field(dtype& d, std::size_t& at, std::size_t depth,
             std::unordered_set<std::string_view>& names) {
    const char close = open_sequence("a field (a tuple: name, format[, shape])");
    std::string_view name, title;
    bool plain_name = true;
    skip_ws();
    if (p_ < end_ && (*p_ == '(' || *p_ == '[')) {  // ('title', 'name')
      const char c = open_sequence("a name");
      title = string();
      expect(',');
      name = string();
      skip_comma();
      expect(c);
      plain_name = false;
    } else {
      name = string();
    }
    expect(',');
    dtype_field f;
    shape_type inner;
    f.type = format(inner, depth);
    if (skip_comma() && !peek(close)) {
      shape(f.shape);
      skip_comma();
    }
    expect(close);
    f.shape.insert(f.shape.end(), inner.begin(), inner.end());
    if (f.shape.size() > max_rank) fail("a subarray of more than 32 dimensions");
    std::size_t bytes = f.type.itemsize;
    for (auto n : f.shape)
      if (__builtin_mul_overflow(bytes, n, &bytes)) fail("a field's size overflows size_t");
    // NumPy's rule (descr_to_dtype): an unnamed void field -- 'V<n>' or any subarray -- is padding.
    const bool padding =
        plain_name && name.empty() &&
        (!f.shape.empty() || (!f.type.structured() && is_void_descr(f.type.simple)));
    if (!padding) {
      if (!names.insert(name).second)
        fail("the name '" + std::string(name) + "' is used twice (as a name or a title)");
      if (!title.empty() && !names.insert(title).second)
        fail("the title '" + std::string(title) + "' is used twice (as a name or a title)");
      f.name = name;
      f.title = title;
      f.offset = at;
      d.fields.push_back(std::move(f));
    }
    if (__builtin_add_overflow(at, bytes, &at)) fail("the itemsize overflows size_t");
  }
  dtype structure(std::size_t depth) {
    expect('[');
    dtype d;
    std::size_t at = 0;
    std::unordered_set<std::string_view> names;
    while (!peek(']')) {
      field(d, at, depth, names);
      if (!skip_comma()) break;
    }
    expect(']');
    d.itemsize = at;
    return d;
  }

  source what_;
};
}  // namespace detail

/// True for a list descr (a structured dtype), as parse_header stores it.
inline bool is_structured(std::string_view descr) noexcept {
  return !descr.empty() && descr.front() == '[';
}

/// Parses a descr as a header holds it: a simple descr ("<f8") or a list of fields. Throws
/// bad_format, naming `what`, for anything NumPy 1.24 would not read as a dtype (and for object
/// fields, and escapes in names). NumPy's dict form ({'names': ...}) is refused, as np.load does.
inline dtype parse_dtype(std::string_view descr, source what) {
  return detail::dtype_parser(descr, what).parse();
}

/// Declared in npy_parse.hpp: parse_header's check of a list descr.
inline void check_structured_descr(std::string_view descr, source what) {
  (void)parse_dtype(descr, what);
}

/// Bytes per element of a descr whose data the file layer can carry, or 0 when it cannot:
/// numbers ('b1', 'i', 'u', 'f', 'c'), raw bytes ('V<n>', 'S<n>'), UCS-4 strings ('U<n>': 4 bytes a
/// character), datetimes ('m8[unit]', 'M8[unit]') and structures of these (a list descr). Object
/// arrays ('O', pickles) and anything else are 0. The byte order character ('<', '>', '|', '=') is
/// optional.
inline std::size_t element_size(std::string_view d) noexcept {
  if (!is_structured(d)) return detail::simple_size(d);
  try {
    return parse_dtype(d, "descr").itemsize;
  } catch (...) {  // bad_format, or no memory for the parse
    return 0;
  }
}

namespace detail {
inline void append_dtype(std::string& s, const dtype& d) {
  if (!d.structured()) {
    s.append("'").append(d.simple).append("'");
    return;
  }
  s += '[';
  std::size_t at = 0;
  bool first = true;
  auto pad = [&](std::size_t n) {
    s.append(first ? "" : ", ").append("('', '|V").append(std::to_string(n)).append("')");
    first = false;
  };
  for (const auto& f : d.fields) {
    if (f.offset > at) pad(f.offset - at);
    s.append(first ? "(" : ", (");
    first = false;
    if (f.title.empty())
      s.append("'").append(f.name).append("', ");
    else
      s.append("('").append(f.title).append("', '").append(f.name).append("'), ");
    append_dtype(s, f.type);
    if (!f.shape.empty()) s.append(", ").append(shape_string(f.shape));
    s += ')';
    at = f.offset + f.bytes();
  }
  if (d.itemsize > at) pad(d.itemsize - at);
  s += ']';
}
}  // namespace detail

/// The descr as NumPy writes it: "'<f8'", or "[('x', '<f8'), ('', '|V4')]" (padding as
/// ('', '|V<n>') entries, subarrays flattened into one shape).
inline std::string dtype_string(const dtype& d) {
  std::string s;
  detail::append_dtype(s, d);
  return s;
}

namespace detail {
inline std::string type_text(const dtype& t) {
  std::string s = dtype_string(t);
  if (s.size() <= 72) return s;
  return "[... " + std::to_string(t.fields.size()) + " fields, " + std::to_string(t.itemsize) +
         " bytes]";
}
inline std::string field_text(const dtype_field& f, std::size_t base) {
  std::string s = "('" + f.name + "', " + type_text(f.type);
  if (!f.shape.empty()) s += ", " + shape_string(f.shape);
  return s + ") at offset " + std::to_string(base + f.offset);
}
// `path` names the structure ("" at the top, "pos." inside field pos); offsets are shown from the
// start of the element.
inline std::string difference(const dtype& e, const dtype& f, const std::string& path,
                              std::size_t base) {
  const std::size_t n = e.fields.size() > f.fields.size() ? e.fields.size() : f.fields.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (i >= f.fields.size())
      return "field '" + path + e.fields[i].name + "': expected " + field_text(e.fields[i], base) +
             ", found no such field (" +
             (path.empty() ? std::string("the dtype")
                           : "'" + path.substr(0, path.size() - 1) + "'") +
             " has " + std::to_string(f.fields.size()) + ")";
    if (i >= e.fields.size())
      return "field '" + path + f.fields[i].name + "': expected no field" +
             (i == 0 ? std::string() : " after '" + path + e.fields[i - 1].name + "'") +
             ", found " + field_text(f.fields[i], base);
    const dtype_field& a = e.fields[i];
    const dtype_field& b = f.fields[i];
    const bool same = a.name == b.name && a.offset == b.offset && a.shape == b.shape &&
                      a.type.structured() == b.type.structured() &&
                      (a.type.structured() || same_descr(b.type.simple, a.type.simple));
    if (!same)
      return "field '" + path + a.name + "': expected " + field_text(a, base) + ", found " +
             field_text(b, base);
    if (a.type.structured()) {
      std::string d = difference(a.type, b.type, path + a.name + ".", base + a.offset);
      if (!d.empty()) return d;
    }
  }
  if (e.itemsize != f.itemsize)
    return (path.empty() ? std::string("itemsize")
                         : "itemsize of '" + path.substr(0, path.size() - 1) + "'") +
           ": expected " + std::to_string(e.itemsize) + " bytes, found " +
           std::to_string(f.itemsize) + " (the fields agree; the padding at the end differs)";
  return {};
}
}  // namespace detail

/// The first difference between two dtypes, as a phrase for a message ("field 'id': expected
/// ('id', '<i4') at offset 16, found ('id', '<i8') at offset 16"), or "" when they hold the same
/// bytes the same way: the same fields in the same order with the same names, offsets, shapes and
/// types (same_descr, so '|u1' and 'u1' agree), and the same itemsize. Titles and the spelling of
/// padding do not count.
inline std::string first_difference(const dtype& expected, const dtype& found) {
  if (expected.structured() != found.structured() ||
      (!expected.structured() && !same_descr(found.simple, expected.simple)))
    return "expected " + detail::type_text(expected) + ", found " + detail::type_text(found);
  return expected.structured() ? detail::difference(expected, found, "", 0) : std::string();
}

}  // namespace npy
}  // namespace shmarray

// Structs described with SHMARRAY_RECORD, whose dtypes are checked against these.
#include "record.hpp"  // IWYU pragma: export
