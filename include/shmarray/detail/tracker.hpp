// The crash-cleanup tracker behind shmarray::manager: a small process that learns every name the
// manager is about to create and unlinks those names if the process owning the manager dies
// (SIGKILL included). It exits on its own when the manager shuts down normally.
//
// How it stays honest:
//  - It watches the owner *process* through a pidfd opened before the fork, which becomes readable
//    only when the whole thread group has exited: a thread that exits (PR_SET_PDEATHSIG's trap) or
//    a forked child that keeps the socket open (an EOF-based tracker's trap) cannot fool it.
//  - It ignores SIGINT and SIGTERM (as CPython's resource tracker does), so `systemctl stop` or a
//    Ctrl-C that signals every process of a service kills the owners and leaves the tracker to
//    clean up after them. Every signal is blocked from before the fork until the tracker has set
//    its dispositions, so a signal sent the moment the manager exists cannot catch it half-way.
//  - After fork it does only async-signal-safe things (raw system calls, no malloc, no locks), so a
//    multithreaded owner cannot deadlock it. Its table of names lives in memory it mmaps itself.
//  - Names reach it as small messages on a SOCK_SEQPACKET socket, sent *before* the segment is
//    created, together with the creating process (pid and start time); once the segment exists,
//    a second message gives its identity (st_dev, st_ino). It reads them in batches (every
//    tracker_batch_ms at most), and always all that is queued before it answers a ping on its
//    second socket, quits, or acts on the owner's death.
//  - Forked children of the owner that allocate through the inherited manager send their names on
//    the same socket, so the tracker also removes those, at the owner's death or at its shutdown.
//  - It is double-forked and calls setsid(): it is not the owner's child (no zombie, invisible to
//    the owner's waitpid(-1)), and killing the owner's process group does not kill it.
//  - It unmaps the shared mappings it inherited, so it never pins the memory of a segment the
//    owner later closes; it closes every inherited descriptor but its own four.
//  - Before unlinking a name it checks that the file there is the one that was registered: the
//    same device and inode, or (when the creator died before it could send them) a shmarray
//    trailer naming the recorded creator, or no trailer yet. A file someone else put under the
//    name (after this manager's segment was unlinked behind its back) is kept.
//
// This file holds the owner's side, class tracker; what runs in the tracker process is in
// tracker_child.hpp.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>

#include "../error.hpp"
#include "message.hpp"
#include "names.hpp"
#include "posix.hpp"
#include "tracker_child.hpp"

namespace shmarray {
namespace detail {

/// The owner's side: starts the tracker, sends it names, stops it. Not thread-safe by itself
/// (manager serialises calls). Only the process that started it pings or stops the tracker; a
/// forked child may send names on the inherited socket (add/identify/remove), and its stop() just
/// closes its copy of the socket.
class tracker {
 public:
  tracker() = default;
  tracker(const tracker&) = delete;
  tracker& operator=(const tracker&) = delete;
  ~tracker() { stop(); }

  /// Starts the tracker process. Throws errc::system_error when it cannot (no fork allowed, no
  /// /dev/shm, ...), naming the option that turns crash cleanup off.
  void start() {
    auto fail = [](const char* call, int e) {
      throw_error(errc::system_error,
                  msg("manager: cannot start the crash-cleanup tracker: ", call,
                      " failed: ", std::strerror(e),
                      " (pass manager_options{.crash_cleanup = false} to run without it)"),
                  e);
    };
    // Names (sv), pings and quit (cv): the [0] ends are the owner's, the [1] ends the tracker's.
    // Every descriptor opened here is closed on the way out of a failure.
    int raw[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, raw) != 0)
      fail("socketpair", errno);
    unique_fd sv0(raw[0]), sv1(raw[1]);
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, raw) != 0)
      fail("socketpair", errno);
    unique_fd cv0(raw[0]), cv1(raw[1]);
    unique_fd dir(retry([] { return ::open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC); }));
    if (!dir) fail("open /dev/shm", errno);
    const pid_t owner = ::getpid();
    unique_fd pidfd(pidfd_open(owner));  // none on old kernels: the tracker polls kill(owner, 0)
    // Every signal stays blocked in the children until the tracker has set what it ignores, so
    // SIGTERM/SIGINT sent to the job right now (systemctl stop, Ctrl-C) cannot kill it half-way.
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t mid = raw_fork();
    if (mid == 0) {  // the intermediate child: new session, fork the tracker, report its pid
      // Neither child returns from here (tracker_main and _exit): no destructor runs in them.
      sv0.reset();
      cv0.reset();
      ::setsid();
      pid_t t = raw_fork();
      if (t == 0) tracker_main(sv1.get(), cv1.get(), pidfd.get(), dir.get(), owner);
      std::int32_t msg = t > 0 ? static_cast<std::int32_t>(t) : -errno;
      ::send(cv1.get(), &msg, sizeof msg, MSG_NOSIGNAL);
      ::_exit(0);
    }
    int fork_errno = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    sv1.reset();
    cv1.reset();
    dir.reset();
    pidfd.reset();
    if (mid < 0) fail("fork", fork_errno);
    retry([&] { return ::waitpid(mid, nullptr, 0); });
    std::int32_t msg = 0;
    ssize_t n = recv_bounded(cv0.get(), &msg, sizeof msg, 5000);
    if (n != static_cast<ssize_t>(sizeof msg) || msg <= 0)
      fail("fork (tracker)", msg < 0 ? -msg : EIO);
    fd_ = sv0.release();
    ctl_ = cv0.release();
    pid_ = static_cast<pid_t>(msg);
    owner_ = owner;
  }

  bool running() const noexcept { return fd_ >= 0 && owner_ == ::getpid(); }
  /// True while this process (the owner or a forked child of it) holds a socket to a tracker.
  bool connected() const noexcept { return fd_ >= 0; }
  /// The tracker's pid (0 when none runs for this process).
  long pid() const noexcept { return running() ? static_cast<long>(pid_) : 0; }
  /// The pid of the tracker this handle was connected to, in any process (0 if none).
  long last_pid() const noexcept { return static_cast<long>(pid_); }

  /// Announces a name about to be created by process `creator` (started at `creator_start`).
  /// Returns false if the tracker is not there (dead, or shut down and taking no more names).
  bool add(const std::string& name, std::uint64_t creator, std::uint64_t creator_start) noexcept {
    const std::uint64_t v[2] = {creator, creator_start};
    return send_name(tracker_proto::add, name, v);
  }
  /// Gives the identity of the segment just created under an announced name.
  bool identify(const std::string& name, std::uint64_t dev, std::uint64_t ino) noexcept {
    const std::uint64_t v[2] = {dev, ino};
    return send_name(tracker_proto::identify, name, v);
  }
  /// Withdraws a name (its creation failed, or its creator unlinked it).
  bool remove(const std::string& name) noexcept {
    return send_name(tracker_proto::remove, name, nullptr);
  }

  /// A round trip: true once the tracker has answered, so it has handled everything sent before.
  bool ping(std::chrono::milliseconds bound) noexcept {
    if (!running()) return false;
    char msg[5] = {tracker_proto::ping};
    const std::uint32_t seq = ++seq_;
    std::memcpy(msg + 1, &seq, 4);
    if (!send_all(ctl_, msg, sizeof msg)) return false;
    auto deadline = std::chrono::steady_clock::now() + bound;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      char reply[8];
      ssize_t n = recv_bounded(ctl_, reply, sizeof reply, left > 0 ? left : 0);
      if (n <= 0) return false;
      std::uint32_t got = 0;
      if (n == 5 && reply[0] == tracker_proto::pong) std::memcpy(&got, reply + 1, 4);
      if (got == seq) return true;
    }
  }

  /// Normal shutdown: asks the tracker to remove the names still listed (its owner's forked
  /// children's) and exit, and waits (bounded) for its acknowledgement. In a process other than
  /// the owner, only closes this copy of the socket. Idempotent.
  void stop() noexcept {
    if (fd_ < 0) return;
    if (owner_ == ::getpid()) {
      char q = tracker_proto::quit;
      if (send_all(ctl_, &q, 1)) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        for (;;) {
          auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
          char reply[8];
          ssize_t n = recv_bounded(ctl_, reply, sizeof reply, left > 0 ? left : 0);
          if (n <= 0 || reply[0] == tracker_proto::quit_ack) break;
        }
      }
    }
    abandon();
  }

  /// Forgets a tracker that is gone (closes the socket without asking anything).
  void abandon() noexcept {
    close_all({fd_, ctl_});
    fd_ = ctl_ = -1;
    pid_ = 0;
  }

 private:
  static ssize_t recv_bounded(int fd, void* buf, std::size_t len, long ms) noexcept {
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      const int r = retry([&] { return ::poll(&p, 1, static_cast<int>(ms)); });
      if (r <= 0) return -1;
      const ssize_t n = retry([&] { return ::recv(fd, buf, len, MSG_DONTWAIT); });
      if (n < 0 && errno == EAGAIN) continue;  // nothing queued after all: poll again
      return n;
    }
  }
  static void close_all(std::initializer_list<int> fds) noexcept {
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
  }
  static bool send_all(int fd, const void* msg, std::size_t len) noexcept {
    return retry([&] { return ::send(fd, msg, len, MSG_NOSIGNAL); }) == static_cast<ssize_t>(len);
  }
  // A dead tracker (or one that has shut down) makes send() fail with EPIPE: the message itself is
  // the liveness check, at no extra system call.
  bool send_name(char op, const std::string& name, const std::uint64_t* v) noexcept {
    if (fd_ < 0 || name.empty() || name.size() > max_name_length) return false;
    char msg[tracker_proto::max_msg];
    msg[0] = op;
    msg[1] = static_cast<char>(static_cast<unsigned char>(name.size()));
    std::memcpy(msg + 2, name.data(), name.size());
    std::size_t len = name.size() + 2;
    if (v) {
      std::memcpy(msg + len, v, tracker_proto::id_bytes);
      len += tracker_proto::id_bytes;
    }
    return send_all(fd_, msg, len);
  }

  int fd_ = -1;   // names (any process holding it may send)
  int ctl_ = -1;  // pings and quit (the owner only)
  pid_t pid_ = 0;
  pid_t owner_ = 0;
  std::uint32_t seq_ = 0;
};

}  // namespace detail
}  // namespace shmarray
