// shmarray::error and shmarray::errc: the one exception type the library throws.
// An error carries an errc (or the OS errno) and a message naming the segment, what was expected,
// what was found and, where it helps, what to do.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <system_error>

namespace shmarray {

enum class errc : int {
  invalid_argument = 1,  // bad name, shape, option: nothing was touched
  not_found,             // no segment of that name
  already_exists,        // a segment of that name exists already
  no_space,              // /dev/shm (or the memory limit) cannot hold the segment
  permission_denied,     // mode or owner forbid the access
  type_mismatch,         // the segment holds another element type
  shape_mismatch,        // the segment holds another shape
  layout_mismatch,       // C order asked, Fortran order found, or the reverse
  bad_format,            // not a shmarray/.npy segment, or a corrupt one
  not_ready,             // the creator has not published the segment in time
  closed,                // the handle is closed (or moved from)
  worker_failed,         // a process_pool task threw or its worker died
  system_error,          // any other OS failure (the message names the call and errno)
  unsupported,           // the segment lacks the feature (no sync block: an older or raw segment)
};

namespace detail {
class errc_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "shmarray"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::invalid_argument: return "invalid argument";
      case errc::not_found: return "segment not found";
      case errc::already_exists: return "segment already exists";
      case errc::no_space: return "not enough shared memory";
      case errc::permission_denied: return "permission denied";
      case errc::type_mismatch: return "element type mismatch";
      case errc::shape_mismatch: return "shape mismatch";
      case errc::layout_mismatch: return "layout mismatch";
      case errc::bad_format: return "bad segment format";
      case errc::not_ready: return "segment not ready";
      case errc::closed: return "handle is closed";
      case errc::worker_failed: return "worker failed";
      case errc::system_error: return "system error";
      case errc::unsupported: return "not supported by this segment";
    }
    return "unknown shmarray error";
  }
  std::error_condition default_error_condition(int ev) const noexcept override {
    switch (static_cast<errc>(ev)) {
      case errc::invalid_argument: return std::errc::invalid_argument;
      case errc::not_found: return std::errc::no_such_file_or_directory;
      case errc::already_exists: return std::errc::file_exists;
      case errc::no_space: return std::errc::no_space_on_device;
      case errc::permission_denied: return std::errc::permission_denied;
      default: return {ev, *this};
    }
  }
};
}  // namespace detail

/// The category of shmarray::errc codes.
inline const std::error_category& shmarray_category() noexcept {
  static const detail::errc_category_impl instance;
  return instance;
}

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), shmarray_category()};
}

/// The exception every shmarray operation throws. `code()` compares equal to a shmarray::errc;
/// `native_error()` is the errno behind it (0 when none).
class error : public std::system_error {
 public:
  error(errc e, const std::string& what, int native = 0)
      : std::system_error(make_error_code(e), what), native_(native), reason_size_(what.size()) {}
  errc kind() const noexcept { return static_cast<errc>(code().value()); }
  int native_error() const noexcept { return native_; }
  /// The message alone, without what()'s ": <category message>" suffix.
  std::string_view reason() const noexcept { return std::string_view(what(), reason_size_); }

 private:
  int native_;
  std::size_t reason_size_;
};

namespace detail {
/// Throws from a cold, out-of-line function so the callers' hot paths stay small.
[[noreturn]] __attribute__((noinline, cold)) inline void throw_error(errc e,
                                                                     const std::string& what,
                                                                     int native = 0) {
  throw error(e, what, native);
}

/// Maps an errno value from a system call to the closest errc.
inline errc errc_from_errno(int e) noexcept {
  switch (e) {
    case ENOENT: return errc::not_found;
    case EEXIST: return errc::already_exists;
    case ENOSPC:
    case ENOMEM:
    case EFBIG: return errc::no_space;
    case EACCES:
    case EPERM: return errc::permission_denied;
    case EINVAL:
    case ENAMETOOLONG: return errc::invalid_argument;
    default: return errc::system_error;
  }
}
}  // namespace detail
}  // namespace shmarray

template <>
struct std::is_error_code_enum<shmarray::errc> : std::true_type {};
