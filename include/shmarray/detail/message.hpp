// Building error messages: one variadic concatenation (strings, characters and numbers), the
// quoting of names, byte counts for people, and the throws for OS failures that every layer
// shares. Messages are built only on error paths.
#pragma once

#include <sys/statvfs.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "../error.hpp"

namespace shmarray {
namespace detail {

namespace message_detail {
inline void append(std::string& s, std::string_view v) {
  s.append(v.data(), v.size());
}
inline void append(std::string& s, const char* v) {
  s.append(v);
}
inline void append(std::string& s, char c) {
  s.push_back(c);
}
template <class N, std::enable_if_t<std::is_arithmetic_v<N> && !std::is_same_v<N, char> &&
                                        !std::is_same_v<N, bool>,
                                    int> = 0>
void append(std::string& s, N n) {
  s += std::to_string(n);
}
}  // namespace message_detail

/// Concatenates its arguments: strings, string_views, C strings, characters and numbers (in
/// decimal). msg("attach '", name, "': ", n, " bytes").
template <class... A>
std::string msg(const A&... a) {
  std::string s;
  (message_detail::append(s, a), ...);
  return s;
}

inline std::string quote_name(std::string_view name) {
  return msg('\'', name, '\'');
}

/// "1.5 GiB", "512 bytes" ("512 B" with `short_units`).
inline std::string human_bytes(std::uint64_t n, bool short_units = false) {
  const char* units[] = {short_units ? "B" : "bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[48];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%llu %s", static_cast<unsigned long long>(n), units[0]);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

/// no_space, naming what was asked and what /dev/shm has free, and what to do.
[[noreturn]] inline void throw_no_space(std::string_view op, std::string_view name,
                                        std::uint64_t asked, int native) {
  struct statvfs vfs {};
  std::string free_part = "free space unknown";
  if (::statvfs("/dev/shm", &vfs) == 0) {
    const std::uint64_t free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    free_part = msg(free_bytes, " bytes (", human_bytes(free_bytes), ") free in /dev/shm");
  }
  throw_error(errc::no_space,
              msg(op, ' ', quote_name(name), ": not enough shared memory: asked for ", asked,
                  " bytes (", human_bytes(asked), "), ", free_part,
                  "; remove stale segments (shmarray gc) or, in a container, give it more "
                  "(docker run --shm-size=...)"),
              native);
}

/// The error for a failed system call `call` on segment `name`, with the errc errno maps to.
[[noreturn]] inline void throw_os(std::string_view op, std::string_view name, std::string_view call,
                                  int e) {
  const errc c = errc_from_errno(e);
  const std::string what = msg(op, ' ', quote_name(name));
  switch (c) {
    case errc::not_found: throw_error(c, msg(what, ": no such segment"), e);
    case errc::already_exists:
      throw_error(c, msg(what, ": a segment of that name exists already"), e);
    case errc::permission_denied: throw_error(c, msg(what, ": permission denied (", call, ')'), e);
    default: throw_error(c, msg(what, ": ", call, " failed: ", std::strerror(e)), e);
  }
}

[[noreturn]] inline void throw_not_regular(std::string_view op, std::string_view name) {
  throw_error(errc::bad_format,
              msg(op, ' ', quote_name(name), ": not a regular file, so not a segment"));
}

}  // namespace detail
}  // namespace shmarray
