// The system-call layer every other header uses: one retry wrapper for EINTR, full pread/pwrite
// loops, an owned descriptor, a cleanup guard, the futex, process start times and the deadline an
// attach waits against. Nothing here knows the segment format.
#pragma once

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace shmarray {
namespace detail {

/// Calls f() again while it fails with EINTR: for calls that return -1 and set errno (as fmt's
/// FMT_RETRY). Returns f()'s last result.
template <class F>
auto retry(F&& f) noexcept(noexcept(f())) -> decltype(f()) {
  decltype(f()) r;
  do {
    r = f();
  } while (r == -1 && errno == EINTR);
  return r;
}

/// The same for calls that return the error number itself (posix_fallocate, pthread_*).
template <class F>
int retry_rc(F&& f) noexcept(noexcept(f())) {
  int r;
  do {
    r = f();
  } while (r == EINTR);
  return r;
}

/// Reads up to n bytes at `off`, looping over short reads; returns how many it read (fewer at the
/// end of the file or on an error, which leaves errno set; errno is 0 at the end of the file).
inline std::size_t pread_full(int fd, void* buf, std::size_t n, std::size_t off) noexcept {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = retry([&] {
      return ::pread(fd, static_cast<char*>(buf) + got, n - got, static_cast<off_t>(off + got));
    });
    if (r <= 0) {
      if (r == 0) errno = 0;
      break;
    }
    got += static_cast<std::size_t>(r);
  }
  return got;
}

/// Writes all n bytes at `off`; false (errno set) if it could not.
inline bool pwrite_full(int fd, const void* buf, std::size_t n, std::size_t off) noexcept {
  std::size_t done = 0;
  while (done < n) {
    const ssize_t r = retry([&] {
      return ::pwrite(fd, static_cast<const char*>(buf) + done, n - done,
                      static_cast<off_t>(off + done));
    });
    if (r <= 0) {
      if (r == 0) errno = EIO;
      return false;
    }
    done += static_cast<std::size_t>(r);
  }
  return true;
}

/// An owned file descriptor (-1: none).
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  int release() noexcept { return std::exchange(fd_, -1); }
  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

/// Runs a cleanup when it goes out of scope unless dismissed: what a failure path must undo
/// (unlink a half-made segment, unmap, ...).
template <class F>
class scope_guard {
 public:
  explicit scope_guard(F f) noexcept : f_(std::move(f)) {}
  scope_guard(const scope_guard&) = delete;
  scope_guard& operator=(const scope_guard&) = delete;
  ~scope_guard() {
    if (armed_) f_();
  }
  void dismiss() noexcept { armed_ = false; }

 private:
  F f_;
  bool armed_ = true;
};

inline void futex_wake_all(void* addr) noexcept {
  ::syscall(SYS_futex, addr, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

/// Waits (at most `ns`) while the 32-bit word at addr still equals `seen`.
inline void futex_wait(const void* addr, std::uint32_t seen, std::int64_t ns) noexcept {
  timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  ::syscall(SYS_futex, addr, FUTEX_WAIT, seen, &ts, nullptr, 0);
}

/// Waits until byte 0 at `base` (4-aligned, at least 4 bytes mapped) is non-zero or `deadline`
/// passes; returns byte 0. Sleeps on a futex on the first word, which the writer of byte 0 wakes.
inline unsigned char wait_byte0(const void* base,
                                std::chrono::steady_clock::time_point deadline) noexcept {
  const auto* word = static_cast<const std::uint32_t*>(base);
  const auto* byte0 = static_cast<const unsigned char*>(base);
  for (;;) {
    const std::uint32_t w = __atomic_load_n(word, __ATOMIC_ACQUIRE);
    const unsigned char b = __atomic_load_n(byte0, __ATOMIC_ACQUIRE);
    if (b != 0) return b;
    const auto left = deadline - std::chrono::steady_clock::now();
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    if (ns <= 0) return 0;
    futex_wait(word, w, ns);
  }
}

/// Start time of process `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat), 0 if
/// unknown. With the pid it identifies a process even after its pid is reused. Allocates nothing
/// (the tracker calls it in a child forked from a threaded process).
inline std::uint64_t process_start_time(long pid) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  const int fd = retry([&] { return ::open(path, O_RDONLY | O_CLOEXEC); });
  if (fd < 0) return 0;
  char buf[1024];
  const std::size_t n = pread_full(fd, buf, sizeof buf - 1, 0);
  ::close(fd);
  if (n == 0) return 0;
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');  // the command name may contain spaces and ')'
  if (!p) return 0;
  int field = 2;  // p points at the end of field 2
  for (++p; *p && field < 22; ++p)
    if (*p == ' ') ++field;
  return std::strtoull(p, nullptr, 10);
}

/// This process's start time, cached per pid (a forked child has its own).
inline std::uint64_t self_start_time() noexcept {
  static thread_local long cached_pid = -1;
  static thread_local std::uint64_t cached = 0;
  const long pid = static_cast<long>(::getpid());
  if (pid != cached_pid) {
    cached = process_start_time(pid);
    cached_pid = pid;
  }
  return cached;
}

/// How long an attach may wait for its creator. The clock is read only when a wait begins, so an
/// attach that never waits never reads it.
class deadline {
 public:
  explicit deadline(std::chrono::milliseconds timeout) noexcept : timeout_(timeout) {}
  std::chrono::steady_clock::time_point at() noexcept {
    if (!started_) {
      at_ = std::chrono::steady_clock::now() + timeout_;
      started_ = true;
    }
    return at_;
  }
  bool passed() noexcept { return std::chrono::steady_clock::now() >= at(); }
  std::chrono::milliseconds timeout() const noexcept { return timeout_; }

 private:
  std::chrono::milliseconds timeout_;
  std::chrono::steady_clock::time_point at_{};
  bool started_ = false;
};

}  // namespace detail
}  // namespace shmarray
