// NumPy dtypes for people: readable names for the descrs shmarray maps to C++ types, for messages.
#pragma once

#include <string>
#include <string_view>

#include "detail/message.hpp"

namespace shmarray {
namespace detail {

/// Readable names for the NumPy types we map, for messages.
inline std::string describe_descr(std::string_view d) {
  std::string s = quote_name(d);
  if (d.size() < 3) return s;
  std::string_view k = d.substr(1);
  const char* n = nullptr;
  if (k == "f8")
    n = "float64/double";
  else if (k == "f4")
    n = "float32/float";
  else if (k == "i8")
    n = "int64";
  else if (k == "i4")
    n = "int32";
  else if (k == "i2")
    n = "int16";
  else if (k == "i1")
    n = "int8";
  else if (k == "u8")
    n = "uint64";
  else if (k == "u4")
    n = "uint32";
  else if (k == "u2")
    n = "uint16";
  else if (k == "u1")
    n = "uint8";
  else if (k == "b1")
    n = "bool";
  else if (k == "c8")
    n = "complex64/std::complex<float>";
  else if (k == "c16")
    n = "complex128/std::complex<double>";
  else if (k[0] == 'V')
    n = "raw bytes (a struct)";
  return n ? msg(s, " (", n, ")") : s;
}

}  // namespace detail
}  // namespace shmarray
