// Looking at one file in the shared memory directory without trusting it: is it a shmarray segment
// (an .npy header, the data, a trailer that agrees), one not yet published, a plain .npy file, or
// something else; who made it and is that process still alive. Reads with pread only (no mapping),
// so a file that shrinks under us is an error, never a SIGBUS.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <shmarray/error.hpp>
#include <shmarray/npy.hpp>
#include <shmarray/npy_file.hpp>
#include <shmarray/segment.hpp>
#include <shmarray/sync.hpp>
#include <string>
#include <utility>
#include <vector>

#include "format.hpp"

namespace shmtool {

namespace sa = shmarray;

/// Trailer flag set by `shmarray load`: the segment outlives its creator on purpose, so `gc` must
/// not take the creator's exit for a crash. (Proposed for segment.hpp; see docs/tool.md.)
inline constexpr std::uint32_t flag_detached = 1;

/// The directory that holds the segments: $SHMARRAY_SHM_DIR, else /dev/shm.
inline std::string shm_dir() {
  const char* d = std::getenv("SHMARRAY_SHM_DIR");
  std::string s = d && *d ? d : "/dev/shm";
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

/// An owned file descriptor.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int get() const noexcept { return fd_; }

 private:
  int fd_ = -1;
};

enum class kind {
  shmarray,     // header, data and a matching trailer; published (byte 0 is 0x93)
  unpublished,  // the same, but byte 0 is still 0: being written, or its creator died writing it
  npy,          // a valid .npy file with no shmarray trailer (copied here by hand)
  foreign,      // anything else (see probe::problem)
  empty,        // 0 bytes
  unreadable,   // we may not open it (see probe::problem)
};

inline const char* kind_name(kind k) {
  switch (k) {
    case kind::shmarray: return "shmarray";
    case kind::unpublished: return "unpublished";
    case kind::npy: return "npy";
    case kind::foreign: return "foreign";
    case kind::empty: return "empty";
    case kind::unreadable: return "unreadable";
  }
  return "?";
}

/// Whether a segment's creator still runs.
enum class liveness { alive, dead, unknown, detached };

inline const char* liveness_name(liveness l) {
  switch (l) {
    case liveness::alive: return "alive";
    case liveness::dead: return "dead";
    case liveness::unknown: return "unknown";
    case liveness::detached: return "detached";
  }
  return "?";
}

/// The creator is identified by pid *and* start time: a pid reused by another process has another
/// start time, so it does not count as the creator. `unknown` when /proc hides the process
/// (hidepid) or the trailer holds no pid; gc removes only `dead`.
inline liveness creator_liveness(const sa::detail::trailer& t) {
  if (t.flags & flag_detached) return liveness::detached;
  if (t.creator_pid == 0 || t.creator_pid > static_cast<std::uint64_t>(INT_MAX))
    return liveness::unknown;
  const long pid = static_cast<long>(t.creator_pid);
  const std::uint64_t start = sa::detail::process_start_time(pid);
  if (start != 0) {
    if (t.creator_start == 0) return liveness::alive;  // no start time recorded: trust the pid
    return start == t.creator_start ? liveness::alive : liveness::dead;
  }
  if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM)
    return liveness::unknown;  // it exists, but /proc does not show it to us
  return errno == ESRCH ? liveness::dead : liveness::unknown;
}

/// "alice", or "" when the uid has no name here.
inline std::string user_name(uid_t uid) {
  struct passwd pw {};
  struct passwd* res = nullptr;
  std::vector<char> buf(16384);
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &res) == 0 && res) return res->pw_name;
  return "";
}

/// What one file in the shm directory is.
struct probe {
  std::string name, path;
  kind k = kind::foreign;
  std::string problem;           // why it is foreign/unreadable (a one-line message)
  bool header_too_long = false;  // foreign because its header exceeds the max_header_size asked
  struct stat st {};             // lstat/fstat of the file
  double age = -1;               // seconds since it was created (birth time, else status change)
  unsigned char byte0 = 0;
  bool has_header = false;
  sa::npy::header hdr;
  std::size_t item = 0, data_bytes = 0;
  bool has_trailer = false;
  std::size_t trailer_at = 0;
  sa::detail::trailer tr{};
  bool has_sync = false;          // trailer version 2 or later: a sync block follows the trailer
  std::size_t sync_at = 0;        // its offset (the generation counter is its first 8 bytes)
  sa::detail::sync_block sync{};  // a copy read with pread: a moment's state, never locked
  unique_fd fd;  // open read-only while the probe lives (save reads the data through it)

  bool is_shmarray() const noexcept { return k == kind::shmarray || k == kind::unpublished; }
};

inline double age_of(int fd, const struct stat& st) {
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  double t =
      static_cast<double>(st.st_ctim.tv_sec) + 1e-9 * static_cast<double>(st.st_ctim.tv_nsec);
#ifdef STATX_BTIME
  struct statx sx {};
  if (fd >= 0 && ::statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &sx) == 0 &&
      (sx.stx_mask & STATX_BTIME))
    t = static_cast<double>(sx.stx_btime.tv_sec) + 1e-9 * static_cast<double>(sx.stx_btime.tv_nsec);
#else
  (void)fd;
#endif
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec) - t;
}

/// Reads exactly n bytes at `at`; false if the file is shorter or the read fails (errno set).
inline bool pread_exact(int fd, void* dst, std::size_t n, std::size_t at) {
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(at));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (r == 0) errno = 0;
      return false;
    }
    p += r;
    at += static_cast<std::size_t>(r);
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

/// Looks at `dir`/`name`. Throws shmarray::error: not_found when there is no such file, and, with
/// `must_open`, permission_denied when it may not be read; without must_open an unreadable file
/// is reported as kind::unreadable (ls lists what it can). A header longer than
/// `max_header_size` (NumPy's limit by default) makes the file foreign, as np.load refuses it.
inline probe probe_file(const std::string& op, const std::string& dir, const std::string& name,
                        bool must_open,
                        std::size_t max_header_size = sa::npy::default_max_header_size) {
  probe p;
  p.name = name;
  p.path = dir + "/" + name;
  const std::string what = op + " '" + printable(name) + "'";
  if (::lstat(p.path.c_str(), &p.st) != 0) {
    int e = errno;
    if (e == ENOENT)
      sa::detail::throw_error(sa::errc::not_found, what + ": no such segment in " + dir, e);
    sa::detail::throw_error(sa::detail::errc_from_errno(e),
                            what + ": stat failed: " + std::strerror(e), e);
  }
  if (!S_ISREG(p.st.st_mode)) {
    p.k = kind::foreign;
    p.problem = "not a regular file";
    p.age = age_of(-1, p.st);
    return p;
  }
  p.fd = unique_fd(::open(p.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (p.fd.get() < 0) {
    int e = errno;
    if (e == ENOENT)
      sa::detail::throw_error(sa::errc::not_found, what + ": no such segment in " + dir, e);
    p.k = kind::unreadable;
    p.problem = std::string("cannot open it: ") + std::strerror(e);
    p.age = age_of(-1, p.st);
    if (must_open)
      sa::detail::throw_error(sa::detail::errc_from_errno(e),
                              what + ": permission denied (open: " + std::strerror(e) + ")", e);
    return p;
  }
  ::fstat(p.fd.get(), &p.st);  // the file we opened, not a name that may have moved
  p.age = age_of(p.fd.get(), p.st);
  const auto size = static_cast<std::size_t>(p.st.st_size);
  if (size == 0) {
    p.k = kind::empty;
    p.problem = "the file is empty (0 bytes)";
    return p;
  }
  // Enough for the headers NumPy and shmarray write; more only for a longer header within the
  // limit. The parser checks the claimed length.
  std::string buf(size < 4096 ? size : 4096, '\0');
  bool read_ok = pread_exact(p.fd.get(), buf.data(), buf.size(), 0);
  const auto* b = reinterpret_cast<const unsigned char*>(buf.data());
  if (read_ok && buf.size() >= 12 && std::memcmp(buf.data() + 1, "NUMPY", 5) == 0 && b[6] >= 1 &&
      b[6] <= 3 && !sa::npy::header_exceeds(b, max_header_size)) {
    const std::size_t end = sa::npy::data_offset_of(b), have = buf.size();
    if (end > have) {
      buf.resize(end < size ? end : size);
      read_ok = pread_exact(p.fd.get(), buf.data() + have, buf.size() - have, have);
    }
  }
  if (!read_ok) {
    p.k = kind::foreign;
    p.problem = std::string("read failed: ") + (errno ? std::strerror(errno) : "file shrank");
    return p;
  }
  p.byte0 = static_cast<unsigned char>(buf[0]);
  if (p.byte0 == 0 && buf.size() >= 6 && std::memcmp(buf.data() + 1, "NUMPY", 5) == 0)
    buf[0] = '\x93';  // unpublished: parse the header its creator has written
  try {
    p.hdr = sa::npy::parse_header(buf.data(), buf.size(),
                                  sa::npy::source("", "", "--max-header-size"), max_header_size);
  } catch (const sa::error& e) {
    p.k = kind::foreign;
    const auto* h = reinterpret_cast<const unsigned char*>(buf.data());  // buf may have grown
    if (buf.size() >= 12 && std::memcmp(h, sa::npy::magic, sa::npy::magic_size) == 0 && h[6] >= 1 &&
        h[6] <= 3) {  // parse_header's rule, to tell this refusal from the others
      const std::size_t prefix = h[6] == 1 ? 10 : 12, end = sa::npy::data_offset_of(h);
      p.header_too_long =
          sa::npy::header_exceeds(h, max_header_size) ||
          (end <= buf.size() &&
           sa::npy::header_text_length(h + prefix, end - prefix, h[6]) > max_header_size);
    }
    p.problem = e.what();  // ": not a .npy segment ...: bad segment format"
    const std::string suffix = ": " + e.code().message();
    if (p.problem.size() > suffix.size() &&
        p.problem.compare(p.problem.size() - suffix.size(), suffix.size(), suffix) == 0)
      p.problem.resize(p.problem.size() - suffix.size());
    if (p.problem.compare(0, 2, ": ") == 0) p.problem.erase(0, 2);
    return p;
  }
  p.has_header = true;
  p.item = sa::npy::element_size(p.hdr.descr);
  const std::size_t have = size > p.hdr.data_offset ? size - p.hdr.data_offset : 0;
  if (p.item == 0) {
    p.k = kind::foreign;
    p.problem = "dtype '" + p.hdr.descr + "' is not supported";
    return p;
  }
  if (!sa::npy::checked_bytes(p.hdr.shape, p.item, p.data_bytes) || p.data_bytes > have) {
    p.k = kind::foreign;
    p.problem = "truncated: the header's shape " + sa::npy::shape_string(p.hdr.shape) + " of '" +
                p.hdr.descr + "' needs " + std::to_string(p.data_bytes) +
                " bytes of data, the file has " + std::to_string(have);
    return p;
  }
  p.trailer_at = sa::detail::align_up(p.hdr.data_offset + p.data_bytes, 64);
  if (p.trailer_at <= size && size - p.trailer_at >= sizeof(sa::detail::trailer) &&
      pread_exact(p.fd.get(), &p.tr, sizeof p.tr, p.trailer_at) &&
      std::memcmp(p.tr.magic, sa::detail::trailer_magic, sizeof p.tr.magic) == 0) {
    if (p.tr.data_offset != p.hdr.data_offset || p.tr.data_bytes != p.data_bytes ||
        p.tr.elem_size != p.item) {
      p.k = kind::foreign;
      p.problem = "the shmarray trailer disagrees with the header (element size " +
                  std::to_string(p.tr.elem_size) + ", data " + std::to_string(p.tr.data_bytes) +
                  " bytes at " + std::to_string(p.tr.data_offset) + ")";
      return p;
    }
    p.has_trailer = true;
    p.sync_at = sa::sync_block_offset(p.trailer_at);
    p.has_sync = p.tr.version >= sa::sync_format_version &&
                 size >= p.sync_at + sizeof(sa::detail::sync_block) &&
                 pread_exact(p.fd.get(), &p.sync, sizeof p.sync, p.sync_at);
  }
  if (p.has_trailer)
    p.k = p.byte0 == 0x93 ? kind::shmarray : kind::unpublished;
  else if (p.byte0 == 0x93)
    p.k = kind::npy;
  else {
    p.k = kind::foreign;
    p.problem = "byte 0 is 0 but there is no shmarray trailer";
  }
  return p;
}

/// The names in `dir`, sorted ("." and ".." left out).
inline std::vector<std::string> list_dir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    int e = errno;
    sa::detail::throw_error(sa::detail::errc_from_errno(e),
                            "cannot list " + dir + ": " + std::strerror(e), e);
  }
  std::vector<std::string> names;
  while (dirent* ent = ::readdir(d)) {
    std::string n = ent->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

/// Removes `dir`/`name` if it is still the file `p` looked at (same device and inode): a file
/// swapped in under the same name after the check is not removed. Throws the OS error.
inline void remove_checked(const probe& p) {
  struct stat now {};
  if (::lstat(p.path.c_str(), &now) != 0) {
    int e = errno;
    sa::detail::throw_error(sa::detail::errc_from_errno(e),
                            "remove '" + p.name + "': " + std::strerror(e), e);
  }
  if (now.st_dev != p.st.st_dev || now.st_ino != p.st.st_ino)
    sa::detail::throw_error(sa::errc::not_found,
                            "remove '" + p.name + "': it was replaced meanwhile; left alone");
  if (::unlink(p.path.c_str()) != 0) {
    int e = errno;
    auto c = sa::detail::errc_from_errno(e);
    sa::detail::throw_error(
        c,
        "remove '" + p.name + "': " +
            (c == sa::errc::permission_denied
                 ? std::string("permission denied (it belongs to ") +
                       (user_name(p.st.st_uid).empty() ? "uid " + std::to_string(p.st.st_uid)
                                                       : user_name(p.st.st_uid)) +
                       ")"
                 : std::string("unlink: ") + std::strerror(e)),
        e);
  }
}

}  // namespace shmtool
