// shmarray::manager: the counterpart of Python's SharedMemoryManager. An owner's close() unlinks
// its segment at once; every segment allocated through a manager and still there is unlinked when
// the manager shuts down (destructor or shutdown()), whether or not its handle still exists, and
// only in the process that created the manager. With crash cleanup on (the default) a small tracker
// process (detail/tracker.hpp) also unlinks them if that process dies, SIGKILL included.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "detail/tracker.hpp"
#include "error.hpp"

namespace shmarray {

struct manager_options {
  /// Unlink the manager's segments even if this process dies (SIGKILL included), through a small
  /// tracker process. Off: cleanup happens only at shutdown()/destruction.
  bool crash_cleanup = true;
};

namespace detail {
/// What a manager shares with the handles it made: the names it will unlink and the tracker. A
/// handle keeps it alive (shared_ptr), so a handle that outlives its manager can still ask whether
/// its name is still the manager's to unlink (after shutdown it is not).
struct manager_state {
  explicit manager_state(long pid) noexcept : creator_pid(pid) {}
  const long creator_pid;
  std::mutex mu;
  bool active = true;
  std::vector<std::string> names;
  tracker track;

  /// An owner's close()/unlink(): when `name` is still this manager's and this is the process that
  /// made the manager, unlinks it now and forgets it (the tracker too). Returns true if it
  /// unlinked.
  bool release(const std::string& name) noexcept {
    std::lock_guard<std::mutex> lock(mu);
    if (::getpid() != creator_pid) return false;
    auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) return false;
    ::shm_unlink(name.c_str());
    names.erase(it);
    track.remove(name);
    return true;
  }
};
}  // namespace detail

class manager {
 public:
  manager() : manager(manager_options{}) {}
  /// With crash_cleanup, starts the tracker process; throws errc::system_error if it cannot.
  explicit manager(const manager_options& opts)
      : s_(std::make_shared<detail::manager_state>(static_cast<long>(::getpid()))) {
    if (opts.crash_cleanup) s_->track.start();
  }
  manager(const manager&) = delete;
  manager& operator=(const manager&) = delete;
  ~manager() { shutdown(); }

  /// Unlinks every segment allocated through this manager and still open or persisted (an
  /// already-unlinked one is fine), then lets the tracker exit. Idempotent; in a process other than
  /// the one that created the manager (a forked child) it unlinks nothing and leaves the tracker
  /// running for the owner.
  void shutdown() noexcept {
    std::lock_guard<std::mutex> lock(s_->mu);
    if (!s_->active) return;
    s_->active = false;
    if (::getpid() == s_->creator_pid)
      for (const auto& n : s_->names) ::shm_unlink(n.c_str());
    s_->names.clear();
    s_->track.stop();  // in a forked child: closes this process's copy of the socket only
  }

  /// False once shut down: allocating through it then throws errc::closed.
  bool is_active() const noexcept {
    std::lock_guard<std::mutex> lock(s_->mu);
    return s_->active;
  }
  /// The names of the segments this manager will unlink (an owner's close() takes its name off).
  std::vector<std::string> names() const {
    std::lock_guard<std::mutex> lock(s_->mu);
    return s_->names;
  }

  /// The pid of the crash-cleanup tracker process; 0 when crash cleanup is off, after shutdown,
  /// and in any process other than the manager's creator.
  long tracker_pid() const noexcept {
    std::lock_guard<std::mutex> lock(s_->mu);
    return s_->track.pid();
  }
  /// A round trip to the tracker: true when it answered within `bound`, which means it has taken
  /// in every name announced before the call. False without a tracker.
  bool tracker_responsive(std::chrono::milliseconds bound = std::chrono::seconds(1)) {
    std::lock_guard<std::mutex> lock(s_->mu);
    return s_->track.ping(bound);
  }

  /// Takes on a name before its segment is created (so a crash during creation is covered): the
  /// name is queued on the tracker's socket before this returns. Throws errc::closed after
  /// shutdown.
  void track(const std::string& name) {
    std::lock_guard<std::mutex> lock(s_->mu);
    if (!s_->active)
      detail::throw_error(errc::closed, "allocate '" + name + "': the manager is shut down");
    s_->names.push_back(name);
    if (::getpid() == s_->creator_pid) s_->track.add(name);
  }
  /// Gives a name up again (its creation failed and removed it, or it belongs to someone else).
  void untrack(const std::string& name) noexcept {
    std::lock_guard<std::mutex> lock(s_->mu);
    auto it = std::find(s_->names.begin(), s_->names.end(), name);
    if (it != s_->names.end()) {
      s_->names.erase(it);
      if (::getpid() == s_->creator_pid) s_->track.remove(name);
    }
  }

  /// The state the handles made through this manager share with it (for shared_array).
  const std::shared_ptr<detail::manager_state>& state() const noexcept { return s_; }

 private:
  std::shared_ptr<detail::manager_state> s_;
};

}  // namespace shmarray
