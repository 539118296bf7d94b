// What the tool adds to shmarray::inspect: the folder it looks in ($SHMARRAY_SHM_DIR, else
// /dev/shm), a file's path and age, user names, listing a folder, and removing a file only if it is
// still the one inspected. What a segment is -- header, trailer, state, creator -- is inspect's.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <shmarray/detail/message.hpp>
#include <shmarray/error.hpp>
#include <shmarray/inspect.hpp>
#include <string>
#include <utility>
#include <vector>

#include "format.hpp"

namespace shmtool {

namespace sa = shmarray;
using kind = sa::segment_kind;
using liveness = sa::creator_state;
using errc = sa::errc;
using sa::detail::msg;
using sa::detail::throw_error;

/// The directory that holds the segments: $SHMARRAY_SHM_DIR, else /dev/shm.
inline std::string shm_dir() {
  const char* d = std::getenv("SHMARRAY_SHM_DIR");
  std::string s = d && *d ? d : sa::detail::shm_dir_path;
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

/// "alice", or "" when the uid has no name here.
inline std::string user_name(uid_t uid) {
  struct passwd pw {};
  struct passwd* res = nullptr;
  std::vector<char> buf(16384);
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &res) == 0 && res) return res->pw_name;
  return "";
}

/// The user name, else the uid.
inline std::string owner_string(uid_t uid) {
  std::string n = user_name(uid);
  return n.empty() ? std::to_string(uid) : n;
}

/// Seconds since the file was created (birth time, else status change).
inline double age_of(int fd, const struct stat& st) {
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  auto secs = [](auto s, auto ns) {
    return static_cast<double>(s) + 1e-9 * static_cast<double>(ns);
  };
  double t = secs(st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
#ifdef STATX_BTIME
  struct statx sx {};
  if (fd >= 0 && ::statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &sx) == 0 &&
      (sx.stx_mask & STATX_BTIME))
    t = secs(sx.stx_btime.tv_sec, sx.stx_btime.tv_nsec);
#else
  (void)fd;
#endif
  return secs(now.tv_sec, now.tv_nsec) - t;
}

/// One file of the folder, as inspect() saw it, with its path and age.
struct probe : sa::segment_info {
  std::string path;
  double age = -1;
  probe(sa::segment_info&& i, std::string p) : sa::segment_info(std::move(i)), path(std::move(p)) {}
};

/// Inspects `dir`/`name` (waiting up to `ready` for an unpublished one; a header longer than
/// `max_header_size`, NumPy's limit by default, makes it foreign). Throws shmarray::error:
/// not_found when there is no such file, and, with `must_open`, permission_denied when it may not
/// be read; without must_open an unreadable file is kind::unreadable (ls lists what it can).
inline probe probe_file(const std::string& op, const std::string& dir, const std::string& name,
                        bool must_open, std::chrono::milliseconds ready = {},
                        std::size_t max_header_size = sa::npy::default_max_header_size) {
  try {
    sa::inspect_options o;
    o.directory = dir == sa::detail::shm_dir_path ? "" : dir;
    o.ready_timeout = ready;
    o.must_open = must_open;
    o.max_header_size = max_header_size;
    o.limit_option = "--max-header-size";
    probe p(sa::inspect(name, o), dir + "/" + name);
    if (p.native_handle() >= 0 || ::lstat(p.path.c_str(), &p.st) == 0)
      p.age = age_of(p.native_handle(), p.st);
    return p;
  } catch (const sa::error& e) {
    const errc k = e.kind();
    if (k != errc::not_found && k != errc::permission_denied) throw;
    throw_error(k,
                msg(op, " '", printable(name), "': ",
                    k == errc::not_found
                        ? "no such segment in " + dir
                        : msg("permission denied (open: ", std::strerror(e.native_error()), ')')),
                e.native_error());
  }
}

/// Throws errno `e` as the failure of `what` (the error kind errno maps to).
[[noreturn]] inline void throw_errno(const std::string& what, int e) {
  throw_error(sa::detail::errc_from_errno(e), msg(what, ": ", std::strerror(e)), e);
}

/// The names in `dir`, sorted ("." and ".." left out).
inline std::vector<std::string> list_dir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) throw_errno("cannot list " + dir, errno);
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
  const std::string what = "remove '" + p.name + "'";
  struct stat now {};
  if (::lstat(p.path.c_str(), &now) != 0) throw_errno(what, errno);
  if (now.st_dev != p.st.st_dev || now.st_ino != p.st.st_ino)
    throw_error(errc::not_found, what + ": it was replaced meanwhile; left alone");
  if (::unlink(p.path.c_str()) != 0) {
    const int e = errno;
    if (sa::detail::errc_from_errno(e) != errc::permission_denied)
      throw_errno(what + ": unlink", e);
    const std::string u = user_name(p.st.st_uid);
    throw_error(errc::permission_denied,
                msg(what, ": permission denied (it belongs to ",
                    u.empty() ? "uid " + std::to_string(p.st.st_uid) : u, ')'),
                e);
  }
}

}  // namespace shmtool
