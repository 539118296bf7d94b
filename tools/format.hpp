// Output helpers for the shmarray tool: a small JSON writer, names made safe for a terminal,
// human-readable sizes and ages, and the elements of an array formatted by their NumPy dtype.
#pragma once

#include <charconv>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <shmarray/detail/message.hpp>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <shmarray/npy.hpp>

namespace shmtool {

// ---- Text
// ----------------------------------------------------------------------------------------

/// `s` with control characters and bytes >= 0x7f written as \xNN, so a hostile file name cannot
/// break a line of output or drive the terminal.
inline std::string printable(std::string_view s) {
  return shmarray::npy::detail::printable_descr(s);
}

/// "42s", "5m07s", "3h12m", "2d04h"; "?" for a negative age (clock skew).
inline std::string short_age(double seconds) {
  if (!(seconds >= 0)) return "?";
  auto s = static_cast<unsigned long long>(seconds);
  char b[32];
  if (s < 60)
    std::snprintf(b, sizeof b, "%llus", s);
  else if (s < 3600)
    std::snprintf(b, sizeof b, "%llum%02llus", s / 60, s % 60);
  else if (s < 86400)
    std::snprintf(b, sizeof b, "%lluh%02llum", s / 3600, s % 3600 / 60);
  else
    std::snprintf(b, sizeof b, "%llud%02lluh", s / 86400, s % 86400 / 3600);
  return b;
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
inline std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> w;
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (w.size() <= i) w.push_back(0);
      if (r[i].size() > w[i]) w[i] = r[i].size();
    }
  std::string out;
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size()) out.append(w[i] - r[i].size() + 2, ' ');
    }
    out += '\n';
  }
  return out;
}

// ---- JSON
// ----------------------------------------------------------------------------------------

/// The length of the well-formed UTF-8 sequence at s[i] (no overlongs, no surrogates, nothing
/// above U+10FFFF), or 0.
inline std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned c = at(0);
  const std::size_t len = c >= 0xc2 && c <= 0xdf   ? 2
                          : c >= 0xe0 && c <= 0xef ? 3
                          : c >= 0xf0 && c <= 0xf4 ? 4
                                                   : 0;
  if (len == 0 || i + len > s.size()) return 0;
  const unsigned lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
  const unsigned hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
  if (at(1) < lo || at(1) > hi) return 0;
  for (std::size_t k = 2; k < len; ++k)
    if ((at(k) & 0xc0) != 0x80) return 0;
  return len;
}

/// A JSON string literal. Valid UTF-8 passes through; control characters are \u escapes; a byte
/// that is not part of valid UTF-8 becomes \u00XX (so the output is always valid JSON).
inline std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t len = c < 0x80 ? 1 : utf8_length(s, i);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f || len == 0) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      out += b;
    } else {
      out.append(s.data() + i, len);
    }
    i += len ? len : 1;
  }
  return out + "\"";
}

/// A number as JSON: integers exactly, floats in their shortest form with a point ("3.0"),
/// non-finite ones as the strings "nan", "inf", "-inf".
template <class T>
std::string json_number(T x) {
  if constexpr (std::is_floating_point_v<T>) {
    const double v = static_cast<double>(x);
    if (!std::isfinite(v)) return json_string(std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
    char b[64];
    std::string s(b, std::to_chars(b, b + sizeof b, v).ptr);
    return s.find_first_of(".eE") == std::string::npos ? s + ".0" : s;
  } else {
    return std::to_string(x);
  }
}

inline std::string json_bool(bool b) {
  return b ? "true" : "false";
}

/// A JSON list of values already in JSON: [a, b].
inline std::string json_list(const std::vector<std::string>& values) {
  std::string s = "[";
  for (std::size_t i = 0; i < values.size(); ++i) s += (i ? ", " : "") + values[i];
  return s + "]";
}

/// A shape as a JSON list: [3, 4].
inline std::string json_shape(const shmarray::shape_type& shape) {
  std::vector<std::string> v;
  for (auto d : shape) v.push_back(std::to_string(d));
  return json_list(v);
}

/// One report written two ways by the same calls: a JSON object, or a table of labelled rows.
/// add(key, json, label, text) makes the member "key": json (none when key is empty) and the row
/// `label text` (none when label is empty); open() and close() nest an object under a row.
class report {
 public:
  explicit report(bool json) : json_(json) {}
  report& add(std::string_view key, std::string_view json, std::string label = {},
              std::string text = {}) {
    if (json_ && !key.empty()) {
      out_.append(first_.back() ? "" : ", ").append(json_string(key)).append(": ").append(json);
      first_.back() = false;
    }
    if (!json_ && !label.empty()) rows_.push_back({std::move(label), std::move(text)});
    return *this;
  }
  /// A number: its row (when labelled) shows it in decimal.
  template <class T>
  report& num(std::string_view key, T v, std::string label = {}) {
    return add(key, json_number(v), std::move(label), std::to_string(v));
  }
  report& open(std::string_view key, std::string label, std::string text) {
    add(key, "{", std::move(label), std::move(text));
    first_.push_back(true);
    return *this;
  }
  report& close() {
    first_.pop_back();
    out_ += '}';
    return *this;
  }
  /// The JSON object, or the table.
  std::string str() const { return json_ ? out_ + "}" : table(rows_); }

 private:
  bool json_;
  std::string out_ = "{";
  std::vector<bool> first_{true};  // per open object: no member yet
  std::vector<std::vector<std::string>> rows_;
};

// ---- Elements by dtype
// ---------------------------------------------------------------------------

/// How to show the elements of one dtype.
struct dtype_view {
  char kind = 'V';        // 'b', 'i', 'u', 'f', 'c', 'm', 'M'; anything else is shown as hex
  std::size_t size = 0;   // bytes per element
  std::size_t swap = 0;   // bytes to reverse at a time: stored in the other byte order (swap_unit)
  std::string_view name;  // "float64", ... or "" for raw bytes
};

inline dtype_view view_of(std::string_view descr, std::size_t size) {
  dtype_view v;
  v.size = size;
  if (descr.size() < 2) return v;
  v.kind = descr[descr[0] == '<' || descr[0] == '>' || descr[0] == '|' || descr[0] == '=' ? 1 : 0];
  v.swap = shmarray::npy::swap_unit(descr);
  struct known {
    char k;
    std::size_t n;
    const char* name;
  };
  static const known table_[] = {
      {'b', 1, "bool"},       {'i', 1, "int8"},        {'i', 2, "int16"},
      {'i', 4, "int32"},      {'i', 8, "int64"},       {'u', 1, "uint8"},
      {'u', 2, "uint16"},     {'u', 4, "uint32"},      {'u', 8, "uint64"},
      {'f', 2, "float16"},    {'f', 4, "float32"},     {'f', 8, "float64"},
      {'c', 8, "complex64"},  {'c', 16, "complex128"}, {'m', 8, "timedelta64"},
      {'M', 8, "datetime64"},
  };
  for (const auto& k : table_)
    if (k.k == v.kind && k.n == size) v.name = k.name;
  if (v.name.empty()) v.kind = 'V';  // f16, c32, S, U, V...: bytes
  return v;
}

/// One element as NumPy would print it ("1.5", "True", "(1+2j)"), or as hex bytes
/// ("0x0102...") for a dtype without a number type here. With json, a JSON value: numbers, true/
/// false, [re, im] for complex, "nan"/"inf" strings for non-finite floats, "0x.." for bytes.
inline std::string format_element(const dtype_view& v, const unsigned char* p, bool json) {
  unsigned char b[16] = {};
  std::memcpy(b, p, v.size <= sizeof b ? v.size : sizeof b);
  if (v.swap && v.kind != 'V') shmarray::npy::swap_bytes(b, v.size, v.swap);
  // Python's repr: 3.0 for a float, but (1-2j) for a complex; a float32 in its own shortest form.
  auto real_text = [&](auto x, bool point) {
    if (std::isnan(x)) return std::string("nan");
    if (std::isinf(x)) return std::string(x > 0 ? "inf" : "-inf");
    char t[64];
    auto r = std::to_chars(t, t + sizeof t, x);
    std::string s(t, r.ptr);
    if (point && s.find_first_of(".e") == std::string::npos) s += ".0";
    return s;
  };
  auto real = [&](auto x) { return json ? json_number(x) : real_text(x, true); };
  auto load = [&](auto tag) {
    decltype(tag) x;
    std::memcpy(&x, b, sizeof x);
    return x;
  };
  auto integer = [&](auto i8, auto i16, auto i32, auto i64) {
    using T = decltype(i64);
    return json_number(v.size == 1   ? T(load(i8))
                       : v.size == 2 ? T(load(i16))
                       : v.size == 4 ? T(load(i32))
                                     : load(i64));
  };
  switch (v.kind) {
    case 'b':
      if (json) return b[0] ? "true" : "false";
      return b[0] ? "True" : "False";
    case 'i':
    case 'm':
    case 'M': return integer(std::int8_t{}, std::int16_t{}, std::int32_t{}, std::int64_t{});
    case 'u': return integer(std::uint8_t{}, std::uint16_t{}, std::uint32_t{}, std::uint64_t{});
    case 'f': {
      if (v.size == 4) return real(load(float{}));
      if (v.size == 8) return real(load(double{}));
      const auto h = static_cast<unsigned>(load(std::uint16_t{}));  // IEEE binary16
      const int e = static_cast<int>((h >> 10) & 0x1f);
      const double m = static_cast<double>(h & 0x3ff);
      const double x = e == 0    ? std::ldexp(m, -24)
                       : e == 31 ? (m == 0 ? INFINITY : NAN)
                                 : std::ldexp(m + 1024, e - 25);
      return real(h & 0x8000 ? -x : x);
    }
    case 'c': {
      auto text = [&](auto z) {
        if (json) return "[" + json_number(z.real()) + ", " + json_number(z.imag()) + "]";
        std::string i = real_text(z.imag(), false);
        if (i[0] != '-') i = "+" + i;
        return "(" + real_text(z.real(), false) + i + "j)";
      };
      return v.size == 8 ? text(load(std::complex<float>{})) : text(load(std::complex<double>{}));
    }
    default: {
      std::string s = json ? "\"0x" : "0x";
      char h[4];
      const std::size_t shown = v.size < 64 ? v.size : 64;  // a 1 KiB struct is not for a terminal
      for (std::size_t k = 0; k < shown; ++k) {
        std::snprintf(h, sizeof h, "%02x", p[k]);
        s += h;
      }
      if (shown < v.size) s += "...";
      return json ? s + "\"" : s;
    }
  }
}

// ---- Structured (record) dtypes
// ---------------------------------------------------------------------------

/// A structured descr in a few words for a table column: "{x, y, id}" with its field names, cut
/// to `width` characters ("{x, y, ...}").
inline std::string record_summary(const shmarray::npy::dtype& d, std::size_t width = 40) {
  std::string s = "{";
  for (std::size_t i = 0; i < d.fields.size(); ++i) {
    std::string next = (i ? ", " : "") + printable(d.fields[i].name);
    if (s.size() + next.size() + 1 > width) {
      s += i ? ", ..." : "...";
      break;
    }
    s += next;
  }
  return s + "}";
}

/// One line per field, nested fields by their dotted names, offsets from the element's start:
/// {"x", "'<f8' (float64) at offset 0"}, {"v", "'<f8' (float64), shape (3,), at offset 24"}.
inline void record_rows(const shmarray::npy::dtype& d, const std::string& prefix, std::size_t base,
                        std::vector<std::pair<std::string, std::string>>& out) {
  for (const auto& f : d.fields) {
    const std::string name = prefix + printable(f.name);
    std::string t;
    if (f.type.structured()) {
      t = "a structure of " + std::to_string(f.type.fields.size()) + " fields, " +
          std::to_string(f.type.itemsize) + " bytes";
    } else {
      const dtype_view v = view_of(f.type.simple, f.type.itemsize);
      t = "'" + printable(f.type.simple) + "'" +
          (v.name.empty() ? std::string() : " (" + std::string(v.name) + ")");
    }
    if (!f.shape.empty()) t += ", shape " + shmarray::npy::shape_string(f.shape);
    if (!f.shape.empty() || f.type.structured()) t += ",";
    out.emplace_back(name, t + " at offset " + std::to_string(base + f.offset));
    if (f.type.structured()) record_rows(f.type, name + ".", base + f.offset, out);
  }
}

/// A structured dtype's fields as JSON: [{"name", "descr" or nested "fields", "offset", "shape"}].
inline std::string record_fields_json(const shmarray::npy::dtype& d) {
  std::vector<std::string> fields;
  for (const auto& f : d.fields) {
    report r(true);
    r.add("name", json_string(f.name));
    if (f.type.structured())
      r.add("fields", record_fields_json(f.type));
    else
      r.add("descr", json_string(f.type.simple));
    fields.push_back(r.num("offset", f.offset).add("shape", json_shape(f.shape)).str());
  }
  return json_list(fields);
}

/// One element of a structured dtype as NumPy prints a record: "(1.5, -2.0, 7, [1.0, 2.0],
/// (0, 2.5))", subarrays as nested lists; with json an object keyed by field name.
inline std::string format_record(const shmarray::npy::dtype& d, const unsigned char* p, bool json);

inline std::string format_value(const shmarray::npy::dtype& t, const unsigned char* p, bool json) {
  if (t.structured()) return format_record(t, p, json);
  return format_element(view_of(t.simple, t.itemsize), p, json);
}

// The values of a subarray from dimension `k` on, as nested lists.
inline std::string format_subarray(const shmarray::npy::dtype_field& f, std::size_t k,
                                   const unsigned char* p, bool json) {
  if (k == f.shape.size()) return format_value(f.type, p, json);
  std::size_t stride = f.type.itemsize;
  for (std::size_t j = k + 1; j < f.shape.size(); ++j) stride *= f.shape[j];
  std::string s = "[";
  for (std::size_t i = 0; i < f.shape[k]; ++i) {
    if (i == 8 && f.shape[k] > 9 && !json) {  // a long subarray is not for a terminal
      s += ", ...";
      break;
    }
    s += (i ? ", " : "") + format_subarray(f, k + 1, p + i * stride, json);
  }
  return s + "]";
}

inline std::string format_record(const shmarray::npy::dtype& d, const unsigned char* p, bool json) {
  std::string s = json ? "{" : "(";
  for (std::size_t i = 0; i < d.fields.size(); ++i) {
    const auto& f = d.fields[i];
    if (i) s += ", ";
    if (json) s += json_string(f.name) + ": ";
    s += format_subarray(f, 0, p + f.offset, json);
  }
  if (!json && d.fields.size() == 1) s += ',';  // Python's 1-tuple
  return s + (json ? "}" : ")");
}

}  // namespace shmtool
