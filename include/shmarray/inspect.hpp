// shmarray::inspect: what a segment holds, without knowing its element type and without trusting
// it -- a shmarray segment (header, data, a trailer that agrees), one not yet published, a plain
// .npy file, or something else; who made it and whether that process still runs. Reads with pread
// only (no mapping of the data), so a file that shrinks meanwhile is an error, never a SIGBUS.
// The tool's ls/info/gc/save are built on it; attach uses the same checks (detail/layout.hpp).
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <string_view>

#include "detail/layout.hpp"
#include "detail/message.hpp"
#include "detail/names.hpp"
#include "detail/posix.hpp"
#include "detail/shm_dir.hpp"
#include "error.hpp"
#include "npy.hpp"
#include "npy_file.hpp"

namespace shmarray {

/// What kind of file a name holds.
enum class segment_kind {
  shmarray,     // header, data and a matching trailer; published (byte 0 is 0x93)
  unpublished,  // the same, but byte 0 is still 0: being written, or its creator died writing it
  npy,          // a valid .npy file with no shmarray trailer (copied here by hand, or NumPy's)
  foreign,      // anything else (segment_info::problem says why)
  empty,        // 0 bytes
  unreadable,   // this process may not open it (segment_info::problem says why)
};

inline const char* to_string(segment_kind k) noexcept {
  switch (k) {
    case segment_kind::shmarray: return "shmarray";
    case segment_kind::unpublished: return "unpublished";
    case segment_kind::npy: return "npy";
    case segment_kind::foreign: return "foreign";
    case segment_kind::empty: return "empty";
    case segment_kind::unreadable: return "unreadable";
  }
  return "?";
}

inline const char* to_string(creator_state c) noexcept {
  switch (c) {
    case creator_state::alive: return "alive";
    case creator_state::dead: return "dead";
    case creator_state::unknown: return "unknown";
    case creator_state::detached: return "detached";
  }
  return "?";
}

struct inspect_options {
  /// The directory that holds the segment; "" is /dev/shm (where shared_array makes them).
  std::string directory;
  /// How long to wait for an unpublished segment's creator (0: report it as it is now).
  std::chrono::milliseconds ready_timeout{0};
  /// Throw permission_denied when the file may not be opened (else: segment_kind::unreadable).
  bool must_open = true;
  /// The longest .npy header read (NumPy's max_header_size); a longer one makes the file foreign.
  std::size_t max_header_size = npy::default_max_header_size;
  /// How messages name the option that raises it.
  std::string_view limit_option = "max_header_size";
};

/// What inspect() found. Move-only: it keeps the file open (read() reads through it, so the data
/// read is the file inspected even if the name is replaced meanwhile).
struct segment_info {
  std::string name;
  segment_kind kind = segment_kind::foreign;
  std::string problem;            // why it is foreign/unreadable/empty: one line
  struct stat st {};              // fstat of the file opened
  unsigned char byte0 = 0;        // 0x93 once published
  bool has_header = false;        // a .npy header NumPy would read
  bool header_too_long = false;   // foreign because the header exceeds max_header_size
  npy::header header;             // descr, fortran_order, shape, data_offset
  detail::segment_layout layout;  // element size, data bytes, the trailer and where it is
  bool has_sync = false;          // trailer version 2 or later: a sync block follows the trailer
  std::size_t sync_at = 0;        // its offset (the generation counter is its first 8 bytes)
  detail::sync_block sync{};      // a copy read with pread: a moment's state, never locked
  creator_state creator = creator_state::unknown;  // from the trailer (unknown without one)

  bool is_shmarray() const noexcept {
    return kind == segment_kind::shmarray || kind == segment_kind::unpublished;
  }
  bool has_trailer() const noexcept { return layout.has_trailer; }
  const detail::trailer& trailer() const noexcept { return layout.tr; }
  /// Reads up to n bytes at `off` of the file inspected; returns how many it read.
  std::size_t read(std::size_t off, void* buf, std::size_t n) const noexcept {
    return fd_ ? detail::pread_full(fd_.get(), buf, n, off) : 0;
  }
  /// The descriptor kept open (-1 for a file that could not be opened, or after close()).
  int native_handle() const noexcept { return fd_.get(); }
  /// Closes the file (the rest of the result stays): for listing many files.
  void close() noexcept { fd_.reset(); }

 private:
  friend segment_info inspect(std::string_view, const inspect_options&);
  detail::unique_fd fd_;
};

namespace detail {

// Opens `name` in `dir` ("" = /dev/shm, through the cached directory) for reading, never blocking
// and never following a symbolic link; fills *st.
inline int open_for_inspect(const std::string& dir, std::string_view name, struct stat* st) {
  const int flags = O_RDONLY | O_NONBLOCK;
  const std::string n(name);
  if (dir.empty()) return open_shm(n.c_str(), flags, st);
  const std::string path = msg(dir, '/', n);
  const int fd = retry([&] { return ::open(path.c_str(), flags | O_NOFOLLOW | O_CLOEXEC); });
  if (fd >= 0 && ::fstat(fd, st) != 0) {
    const int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

// Looks at the open file: its header, its data's extent, its trailer and sync block.
inline void examine(segment_info& info, const inspect_options& o) {
  const int fd = info.native_handle();
  const auto size = static_cast<std::size_t>(info.st.st_size);
  info.has_header = false;
  info.header_too_long = false;
  info.layout = {};
  info.has_sync = false;
  info.problem.clear();
  if (!S_ISREG(info.st.st_mode)) {
    info.kind = segment_kind::foreign;
    info.problem = "not a regular file";
    return;
  }
  if (size == 0) {
    info.kind = segment_kind::empty;
    info.problem = "the file is empty (0 bytes)";
    return;
  }
  prefix pre;
  read_prefix(fd, size, pre);
  info.byte0 = pre.byte0();
  info.kind = segment_kind::foreign;
  if (problem p = parse_prefix(fd, size, pre, npy::source("", "", o.limit_option),
                               o.max_header_size, info.layout.header)) {
    info.problem = p.reason;
    const auto* b = reinterpret_cast<const unsigned char*>(pre.bytes);
    if (pre.got >= 12 && (pre.published() || pre.unpublished()) && b[6] >= 1 && b[6] <= 3) {
      const std::size_t dict = b[6] == 1 ? 10 : 12, end = npy::data_offset_of(b);
      info.header_too_long = npy::header_exceeds(b, o.max_header_size) ||
                             (end <= pre.got && npy::header_text_length(b + dict, end - dict,
                                                                        b[6]) > o.max_header_size);
    }
    return;
  }
  info.has_header = true;
  info.header = info.layout.header;
  const std::size_t item = npy::element_size(info.header.descr);
  if (item == 0) {
    info.problem = msg("dtype '", info.header.descr, "' is not supported");
    return;
  }
  if (problem p = check_layout(fd, size, pre, item, info.layout)) {
    info.problem = p.reason;
    return;
  }
  if (info.layout.has_trailer) {
    info.sync_at = sync_block_offset(info.layout.trailer_at);
    info.has_sync = info.layout.has_sync() &&
                    pread_full(fd, &info.sync, sizeof info.sync, info.sync_at) == sizeof info.sync;
    info.creator = creator_of(info.layout.tr);
    info.kind = pre.published() ? segment_kind::shmarray : segment_kind::unpublished;
  } else if (pre.published()) {
    info.kind = segment_kind::npy;
  } else {
    info.problem = "byte 0 is 0 but there is no shmarray trailer";
  }
}

// Sleeps until the creator publishes the file open in `info` (a futex on its first word, through
// a read-only mapping of one page) or the timeout passes.
inline void await_published(segment_info& info, const inspect_options& o) {
  void* p = ::mmap(nullptr, 4096, PROT_READ, MAP_SHARED, info.native_handle(), 0);
  if (p == MAP_FAILED) return;
  wait_byte0(p, std::chrono::steady_clock::now() + o.ready_timeout);
  ::munmap(p, 4096);
  if (::fstat(info.native_handle(), &info.st) == 0) examine(info, o);
}

}  // namespace detail

/// Looks at the segment `name` (in /dev/shm, or o.directory). Throws not_found when there is no
/// such file and, with o.must_open, permission_denied when it may not be read; everything else
/// about the file -- not a segment, truncated, a trailer that disagrees -- is reported in the
/// result (kind and problem), not thrown.
inline segment_info inspect(std::string_view name, const inspect_options& o = {}) {
  detail::validate_name("inspect", name);
  segment_info info;
  info.name = std::string(name);
  const std::string what = detail::msg("inspect ", detail::quote_name(name));
  info.fd_.reset(detail::open_for_inspect(o.directory, name, &info.st));
  if (!info.fd_) {
    const int e = errno;
    if (e == ENOENT) detail::throw_os("inspect", name, "open", e);
    if (e == ELOOP || e == EISDIR || e == ENXIO) {  // a symbolic link, a directory, a socket
      info.kind = segment_kind::foreign;
      info.problem = "not a regular file";
      return info;
    }
    info.kind = segment_kind::unreadable;
    info.problem = detail::msg("cannot open it: ", std::strerror(e));
    if (o.must_open)
      detail::throw_error(detail::errc_from_errno(e),
                          detail::msg(what, ": permission denied (open: ", std::strerror(e), ')'),
                          e);
    return info;
  }
  detail::examine(info, o);
  if (info.kind == segment_kind::unpublished && o.ready_timeout.count() > 0)
    detail::await_published(info, o);
  return info;
}

}  // namespace shmarray
