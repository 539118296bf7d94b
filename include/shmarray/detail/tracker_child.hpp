// What runs in the crash-cleanup tracker process that tracker.hpp's class tracker starts: the raw
// fork and descriptor calls, the message protocol it shares with the owner, its table of names,
// the check before each unlink, the signals it ignores and its main loop. All of it is
// async-signal-safe: it runs in a child forked from a possibly multithreaded owner.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "layout.hpp"
#include "names.hpp"
#include "posix.hpp"

namespace shmarray {
namespace detail {

/// fork() without the atfork handlers where glibc has _Fork (2.34+): the child runs only
/// async-signal-safe code, so it needs none of them.
inline pid_t raw_fork() noexcept {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  return ::_Fork();
#else
  return ::fork();
#endif
}

inline int pidfd_open(pid_t pid) noexcept {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

/// Closes every descriptor >= 3 except those in keep[0..n) (sorted ascending). Signal-safe.
inline void close_all_but(const int* keep, int n) noexcept {
  unsigned lo = 3;
  for (int i = 0; i <= n; ++i) {
    unsigned hi = i < n ? static_cast<unsigned>(keep[i]) : ~0u;
    if (i < n && keep[i] < 3) continue;
    if (hi > lo) {
#ifdef SYS_close_range
      if (::syscall(SYS_close_range, lo, hi - 1, 0) != 0)
#endif
      {
        unsigned stop = hi == ~0u ? 65536u : hi;
        for (unsigned fd = lo; fd < stop; ++fd) ::close(static_cast<int>(fd));
      }
    }
    if (i < n) lo = static_cast<unsigned>(keep[i]) + 1;
  }
}

namespace tracker_proto {
// Two sockets. Names, from the owner or a forked child of it, one message per send(): op, a length
// byte, the name, then for 'A' the creating process's pid and start time and for 'I' the new
// segment's st_dev and st_ino (two native uint64s). Control, the owner's only: 'P' + a 4-byte
// sequence number, answered 'p' + sequence; 'Q', answered 'q'; first of all the tracker's pid (4
// bytes, from the intermediate child). Every message is far below the socket's atomic datagram
// size.
constexpr char add = 'A', identify = 'I', remove = 'R', ping = 'P', pong = 'p', quit = 'Q',
               quit_ack = 'q';
constexpr std::size_t id_bytes = 2 * sizeof(std::uint64_t);
constexpr std::size_t max_msg = 2 + max_name_length + id_bytes;
}  // namespace tracker_proto

/// The tracker's table of names in memory it maps itself (no malloc after fork).
struct tracker_names {
  struct slot {
    unsigned char len;
    bool has_id;  // dev/ino known: the creator sent them once the segment existed
    char name[max_name_length];
    std::uint64_t creator_pid, creator_start, dev, ino;
  };
  slot* slots = nullptr;
  std::size_t count = 0, cap = 0;

  void add(const char* n, std::size_t len, std::uint64_t pid, std::uint64_t start) noexcept {
    if (count == cap) {
      std::size_t ncap = cap ? cap * 2 : 64;
      void* p = slots ? ::mremap(slots, cap * sizeof(slot), ncap * sizeof(slot), MREMAP_MAYMOVE)
                      : ::mmap(nullptr, ncap * sizeof(slot), PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) return;  // out of memory: this name goes unprotected
      slots = static_cast<slot*>(p);
      cap = ncap;
    }
    slot& s = slots[count];
    s.len = static_cast<unsigned char>(len);
    s.has_id = false;
    std::memcpy(s.name, n, len);
    s.creator_pid = pid;
    s.creator_start = start;
    s.dev = s.ino = 0;
    ++count;
  }
  /// The latest slot for the name, or nullptr.
  slot* find(const char* n, std::size_t len) noexcept {
    for (std::size_t i = count; i-- > 0;)
      if (slots[i].len == len && std::memcmp(slots[i].name, n, len) == 0) return &slots[i];
    return nullptr;
  }
  void remove(const char* n, std::size_t len) noexcept {
    if (slot* s = find(n, len)) {
      *s = slots[count - 1];
      --count;
    }
  }
};

/// Unmaps every shared mapping this process has (the tracker's inherited view of the owner's
/// segments), reading /proc/self/maps into a private buffer first. Signal-safe.
inline void tracker_unmap_shared() noexcept {
  unique_fd fd(retry([] { return ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC); }));
  if (!fd) return;
  std::size_t cap = 1 << 16, len = 0;
  void* m = ::mmap(nullptr, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return;
  char* buf = static_cast<char*>(m);
  for (;;) {
    if (len == cap) {
      void* p = ::mremap(buf, cap, cap * 2, MREMAP_MAYMOVE);
      if (p == MAP_FAILED) break;
      buf = static_cast<char*>(p);
      cap *= 2;
    }
    const ssize_t n = retry([&] { return ::read(fd.get(), buf + len, cap - len); });
    if (n <= 0) break;
    len += static_cast<std::size_t>(n);
  }
  fd.reset();
  auto hex = [](const char*& p, const char* end) {
    std::uintptr_t v = 0;
    for (; p < end; ++p) {
      char c = *p;
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) break;
      v = v * 16 + static_cast<std::uintptr_t>(d);
    }
    return v;
  };
  const char* p = buf;
  const char* end = buf + len;
  while (p < end) {
    const char* eol =
        static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    if (!eol) eol = end;
    std::uintptr_t lo = hex(p, eol);
    if (p < eol && *p == '-') ++p;
    std::uintptr_t hi = hex(p, eol);
    if (p + 5 <= eol && p[0] == ' ' && p[4] == 's' && hi > lo)
      ::munmap(reinterpret_cast<void*>(lo), hi - lo);
    p = eol + 1;
  }
  ::munmap(buf, cap);
}

/// True when the file under `s`'s name is the segment that was registered, so unlinking it takes
/// nothing from anyone else. With the identity recorded: a regular file of the same device and
/// inode. Without it (the creator died between creating the segment and sending its identity, or
/// named it through manager::track alone): unless it is not a regular file or carries a shmarray
/// trailer naming a creator other than the recorded one (a creation in progress has no trailer
/// yet). Signal-safe. The check and the unlink are two calls: a name swapped between the two is the
/// one case left, as for any path-based cleanup.
inline bool tracker_may_unlink(int dir, const char* name, const tracker_names::slot& s) noexcept {
  struct stat st {};
  if (s.has_id) {
    if (::fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
    return S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_dev) == s.dev &&
           static_cast<std::uint64_t>(st.st_ino) == s.ino;
  }
  const unique_fd fd(
      retry([&] { return ::openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK); }));
  if (!fd) return errno != ENOENT;
  trailer t{};
  if (::fstat(fd.get(), &st) != 0) return true;
  return S_ISREG(st.st_mode) &&
         (!read_trailer_at_end(fd.get(), static_cast<std::size_t>(st.st_size), t) ||
          created_by(t, s.creator_pid, s.creator_start));
}

/// The signals the tracker ignores instead of dying of them: SIGINT and SIGTERM (what a terminal's
/// Ctrl-C and `systemctl stop` send every process of the job; CPython's resource tracker ignores
/// the same two), and the terminal and pipe signals.
inline constexpr int tracker_ignored_signals[] = {SIGINT,  SIGTERM, SIGHUP,  SIGQUIT,
                                                  SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU};

/// How long the tracker leaves names queued before it reads them again (batch_ms, at most 500
/// wake-ups a second however fast names come). Names need no answer: the tracker reads every one
/// queued before it answers a ping, quits, or acts on the owner's death, so waking up for each
/// one (a cross-CPU wake-up per allocation) would buy nothing.
inline constexpr int tracker_batch_ms = 2;

/// The tracker process. Never returns. Only async-signal-safe calls from here on. It starts with
/// every signal blocked (tracker::start blocks them before it forks). `data` carries names (from
/// the owner and its forked children), `ctl` the owner's pings and quit.
[[noreturn]] inline void tracker_main(int data, int ctl, int pidfd, int dir, pid_t owner) noexcept {
  // First of all, while every signal is still blocked: ignore those it must survive. One that is
  // already pending (sent the moment the manager existed) is discarded here and kills nobody.
  struct sigaction sa {};
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = SIG_IGN;
  for (int s : tracker_ignored_signals) ::sigaction(s, &sa, nullptr);
  sa.sa_handler = SIG_DFL;  // the owner's handlers are not the tracker's
  for (int s = 1; s < NSIG; ++s) {
    bool ignored = s == SIGKILL || s == SIGSTOP;
    for (int i : tracker_ignored_signals) ignored = ignored || i == s;
    if (!ignored) ::sigaction(s, &sa, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::prctl(PR_SET_NAME, "shmarray-track", 0, 0, 0);
  int nul = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (nul >= 0) {
    for (int fd = 0; fd < 3; ++fd)
      if (fd != nul) ::dup2(nul, fd);
    if (nul > 2) ::close(nul);
  }
  int keep[4] = {data, ctl, pidfd, dir};
  for (int i = 0; i < 4; ++i)  // sort the four
    for (int j = i + 1; j < 4; ++j)
      if (keep[j] < keep[i]) {
        int t = keep[i];
        keep[i] = keep[j];
        keep[j] = t;
      }
  close_all_but(keep, 4);
  tracker_unmap_shared();

  tracker_names names;
  bool data_open = true, ctl_open = true;
  // Reads every queued name message.
  auto drain = [&]() noexcept {
    char buf[tracker_proto::max_msg + 8];
    while (data_open) {
      const ssize_t n = retry([&] { return ::recv(data, buf, sizeof buf, MSG_DONTWAIT); });
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n <= 0) {  // closed by every process that held it (or shut down for reading)
        data_open = false;
        return;
      }
      const char op = buf[0];
      if ((op != tracker_proto::add && op != tracker_proto::identify &&
           op != tracker_proto::remove) ||
          n < 2)
        continue;
      const std::size_t len = static_cast<unsigned char>(buf[1]);
      const std::size_t extra = op == tracker_proto::remove ? 0 : tracker_proto::id_bytes;
      if (len == 0 || len > max_name_length || len + 2 + extra != static_cast<std::size_t>(n))
        continue;
      std::uint64_t v[2] = {0, 0};
      std::memcpy(v, buf + 2 + len, extra);
      if (op == tracker_proto::add) {
        names.add(buf + 2, len, v[0], v[1]);
      } else if (op == tracker_proto::identify) {
        if (tracker_names::slot* s = names.find(buf + 2, len)) {
          s->has_id = true;
          s->dev = v[0];
          s->ino = v[1];
        }
      } else {
        names.remove(buf + 2, len);
      }
    }
  };
  auto unlink_all = [&]() noexcept {
    char name[max_name_length + 1];
    for (std::size_t i = 0; i < names.count; ++i) {
      std::memcpy(name, names.slots[i].name, names.slots[i].len);
      name[names.slots[i].len] = '\0';
      if (tracker_may_unlink(dir, name, names.slots[i])) ::unlinkat(dir, name, 0);
    }
  };
  // A normal shutdown. Take no new names (a forked child's send now fails with EPIPE, so its
  // allocate refuses instead of creating what nobody would remove), read those already queued,
  // and remove every name still listed: the owner has removed its own, so these are its forked
  // children's, which only the tracker knew. Then acknowledge and exit.
  auto quit = [&]() noexcept {
    ::shutdown(data, SHUT_RD);
    drain();
    unlink_all();
    char ack = tracker_proto::quit_ack;
    ::send(ctl, &ack, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    ::_exit(0);
  };
  // Answers the owner's pings (after reading every name sent before them) and its quit.
  auto control = [&]() noexcept {
    char buf[16];
    while (ctl_open) {
      const ssize_t n = retry([&] { return ::recv(ctl, buf, sizeof buf, MSG_DONTWAIT); });
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n <= 0) {
        ctl_open = false;
        return;
      }
      drain();
      if (buf[0] == tracker_proto::quit) quit();
      if (buf[0] == tracker_proto::ping && n == 5) {
        buf[0] = tracker_proto::pong;
        ::send(ctl, buf, 5, MSG_NOSIGNAL | MSG_DONTWAIT);
      }
    }
  };
  bool watch_data = true;
  for (;;) {
    pollfd fds[3] = {{ctl_open ? ctl : -1, POLLIN, 0},
                     {pidfd, POLLIN, 0},
                     {data_open && watch_data ? data : -1, POLLIN, 0}};
    const int wait_ms =
        pidfd < 0 ? (watch_data ? 200 : tracker_batch_ms) : (watch_data ? -1 : tracker_batch_ms);
    const int r = retry([&] { return ::poll(fds, 3, wait_ms); });
    if (r < 0) break;
    if (fds[2].revents != 0) {
      drain();
      watch_data = false;  // let the next names queue up for a while
    } else if (r == 0) {
      watch_data = true;
    }
    if (fds[0].revents != 0) control();
    bool owner_dead = pidfd >= 0 ? fds[1].revents != 0 : (::kill(owner, 0) != 0 && errno == ESRCH);
    if (owner_dead) break;
  }
  // The owner died (or poll failed for good): take in what is still queued, then unlink. A quit
  // it sent just before dying still counts.
  control();
  drain();
  unlink_all();
  ::_exit(0);
}

}  // namespace detail
}  // namespace shmarray
