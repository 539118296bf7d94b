// Opening a segment by name through a /dev/shm directory descriptor opened once per process
// (O_PATH | O_DIRECTORY | O_CLOEXEC): openat(dir, name) resolves one path component where glibc's
// shm_open builds "/dev/shm/<name>" and walks it, which is most of what attach can still save.
#pragma once

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace shmarray {
namespace detail {

/// Where POSIX shared memory lives on Linux (glibc's shm_open uses the same directory).
inline constexpr const char* shm_dir_path = "/dev/shm";

/// The cached descriptor and the identity (st_dev, st_ino) of the directory it was opened on.
/// A process that changes what /dev/shm is while it runs (mounts over it, unshare(CLONE_NEWNS) and
/// a new mount, setns) must not keep opening names in the directory it saw first:
///  - a fork marks the cache for checking (pthread_atfork), so a child's first open compares
///    /dev/shm's identity with the cached one and reopens when they differ (fork, unshare,
///    mount: the common way into a new mount namespace);
///  - a name not found is looked up again after the same comparison (the directory moved away);
///  - a descriptor the program closed (EBADF) or reused for a non-directory (ENOTDIR) is
///    reopened, and one reused for another file system is caught by comparing the segment's
///    st_dev with the directory's.
/// Left: a process that itself switches namespace (no fork) keeps the old directory for names that
/// exist in both; shm_dir_forget() makes the next open look again.
class shm_dir {
 public:
  static shm_dir& get() noexcept {
    static shm_dir d;
    return d;
  }

  /// openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC); -1 with errno set on failure (EINVAL for a
  /// name with '/' or an empty one, as shm_open). On success *st holds fstat of the descriptor.
  int open(const char* name, int flags, struct stat* st) noexcept {
    if (name[0] == '\0' || std::strchr(name, '/')) {
      errno = EINVAL;
      return -1;
    }
    flags |= O_NOFOLLOW | O_CLOEXEC;
    int dir = fd_.load(std::memory_order_acquire);
    if (dir < 0 || check_.load(std::memory_order_relaxed)) dir = refresh(dir);
    for (int attempt = 0;; ++attempt) {
      int fd = dir >= 0 ? ::openat(dir, name, flags) : open_by_path(name, flags);
      if (fd >= 0) {
        if (::fstat(fd, st) != 0) {
          int e = errno;
          ::close(fd);
          errno = e;
          return -1;
        }
        // A descriptor number reused by the program for another file system: look again.
        if (dir < 0 || attempt > 0 || st->st_dev == dev_.load(std::memory_order_relaxed)) return fd;
        ::close(fd);
        dir = refresh(dir, true);
        continue;
      }
      const int e = errno;
      if (attempt > 0 || dir < 0) return -1;
      if (e == EBADF || e == ENOTDIR || (e == ENOENT && moved())) {
        dir = refresh(dir, true);
      } else {
        errno = e;
        return -1;
      }
      if (dir < 0) dir = -2;  // no directory: one more try by path
    }
  }

  /// Makes the next open() compare /dev/shm with the cached directory (see the class comment).
  void forget() noexcept { check_.store(true, std::memory_order_relaxed); }

  /// The cached descriptor (-1 before the first open), for tests.
  int cached_fd() const noexcept { return fd_.load(std::memory_order_acquire); }

 private:
  shm_dir() = default;

  // The fallback when /dev/shm cannot be opened as a directory: what shm_open does.
  static int open_by_path(const char* name, int flags) noexcept {
    char path[PATH_MAX];
    if (std::snprintf(path, sizeof path, "%s/%s", shm_dir_path, name) >= int{sizeof path}) {
      errno = ENAMETOOLONG;
      return -1;
    }
    return ::open(path, flags);
  }

  // True when /dev/shm is now another directory than the cached one.
  bool moved() const noexcept {
    struct stat st {};
    if (::stat(shm_dir_path, &st) != 0) return false;
    return static_cast<std::uint64_t>(st.st_dev) != dev_.load(std::memory_order_relaxed) ||
           static_cast<std::uint64_t>(st.st_ino) != ino_.load(std::memory_order_relaxed);
  }

  // Returns a usable directory descriptor (or -1): the cached one unless it is stale, checking
  // /dev/shm's identity when a fork asked for it; `stale` forces a new one. The old descriptor is
  // not closed: another thread may be using it this moment, and after EBADF/ENOTDIR the number
  // belongs to someone else. So one descriptor leaks per namespace change, none otherwise.
  int refresh(int seen, bool stale = false) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    int cur = fd_.load(std::memory_order_acquire);
    if (cur != seen) return cur;  // another thread refreshed it
    if (cur >= 0 && !stale) {
      check_.store(false, std::memory_order_relaxed);
      if (!moved()) return cur;
    }
    int fd = ::open(shm_dir_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0) {
      if (fd >= 0) ::close(fd);
      return -1;
    }
    dev_.store(static_cast<std::uint64_t>(st.st_dev), std::memory_order_relaxed);
    ino_.store(static_cast<std::uint64_t>(st.st_ino), std::memory_order_relaxed);
    check_.store(false, std::memory_order_relaxed);
    fd_.store(fd, std::memory_order_release);
    if (!atfork_) {
      atfork_ = true;
      ::pthread_atfork(nullptr, nullptr, [] { get().forget(); });
    }
    return fd;
  }

  std::atomic<int> fd_{-1};
  std::atomic<bool> check_{false};
  std::atomic<std::uint64_t> dev_{0};
  std::atomic<std::uint64_t> ino_{0};
  std::mutex mutex_;
  bool atfork_ = false;
};

/// Opens the segment `name` (no leading slash) like shm_open(name, flags), through the cached
/// directory; fills *st with its fstat. -1 and errno on failure.
inline int open_shm(const char* name, int flags, struct stat* st) noexcept {
  return shm_dir::get().open(name, flags, st);
}

}  // namespace detail
}  // namespace shmarray
