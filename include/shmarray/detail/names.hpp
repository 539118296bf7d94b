// Segment names: what a valid name is, and fresh names from OS randomness.
#pragma once

#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "message.hpp"
#include "posix.hpp"

namespace shmarray {

/// The longest segment name accepted (the file /dev/shm/<name> must fit NAME_MAX).
inline constexpr std::size_t max_name_length = 255;
/// Generated names: "shmarray-" and 16 hex digits (64 bits from the OS), 25 characters.
inline constexpr std::size_t generated_name_length = 25;

namespace detail {

/// Checks a user-given name before any system call.
inline void validate_name(std::string_view op, std::string_view name) {
  auto bad = [&](std::string_view why) {
    throw_error(errc::invalid_argument,
                msg(op, ' ', quote_name(name.substr(0, 64)), ": invalid name: ", why));
  };
  if (name.empty()) bad("it is empty (pass no name to have one generated)");
  if (name.size() > max_name_length)
    bad(msg("it has ", name.size(), " characters, at most ", max_name_length, " are allowed"));
  if (name.find('/') != std::string_view::npos)
    bad("it contains '/' (give the name without a slash)");
  if (name.find('\0') != std::string_view::npos) bad("it contains a NUL character");
  if (name == "." || name == "..") bad("'.' and '..' are not segment names");
}

/// A fresh name with 64 bits of OS randomness (getrandom).
inline std::string generate_name() {
  std::uint64_t r = 0;
  auto* p = reinterpret_cast<unsigned char*>(&r);
  std::size_t got = 0;
  while (got < sizeof r) {
    const ssize_t n = retry([&] { return ::getrandom(p + got, sizeof r - got, 0); });
    if (n < 0)
      throw_error(errc::system_error,
                  msg("generate a segment name: getrandom failed: ", std::strerror(errno)), errno);
    got += static_cast<std::size_t>(n);
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "shmarray-%016llx", static_cast<unsigned long long>(r));
  return buf;
}

}  // namespace detail
}  // namespace shmarray
