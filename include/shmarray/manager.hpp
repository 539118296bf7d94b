// shmarray::manager: the counterpart of Python's SharedMemoryManager. Every segment allocated
// through a manager is unlinked when the manager shuts down (destructor or shutdown()), whether or
// not its handle still exists, and only in the process that created the manager. With crash cleanup
// on (the default) a small tracker process (detail/tracker.hpp) also unlinks them if that process
// dies, SIGKILL included.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
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

class manager {
 public:
  manager() : manager(manager_options{}) {}
  /// With crash_cleanup, starts the tracker process; throws errc::system_error if it cannot.
  explicit manager(const manager_options& opts) : opts_(opts), creator_pid_(::getpid()) {
    if (opts_.crash_cleanup) tracker_.start();
  }
  manager(const manager&) = delete;
  manager& operator=(const manager&) = delete;
  ~manager() { shutdown(); }

  /// Unlinks every segment allocated through this manager (an already-unlinked one is fine), then
  /// lets the tracker exit. Idempotent; in a process other than the one that created the manager
  /// (a forked child) it unlinks nothing and leaves the tracker running for the owner.
  void shutdown() noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    if (!active_) return;
    active_ = false;
    if (::getpid() != creator_pid_) {
      tracker_.stop();  // closes this process's copy of the socket only
      return;
    }
    for (const auto& n : names_) ::shm_unlink(n.c_str());
    names_.clear();
    tracker_.stop();
  }

  /// False once shut down: allocating through it then throws errc::closed.
  bool is_active() const noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    return active_;
  }
  /// The names of the segments this manager will unlink.
  std::vector<std::string> names() const {
    std::lock_guard<std::mutex> lock(mu_);
    return names_;
  }
  const manager_options& options() const noexcept { return opts_; }

  /// The pid of the crash-cleanup tracker process; 0 when crash cleanup is off, after shutdown,
  /// and in any process other than the manager's creator.
  long tracker_pid() const noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    return tracker_.pid();
  }
  /// A round trip to the tracker: true when it answered within `bound`, which means it has taken
  /// in every name announced before the call. False without a tracker.
  bool tracker_responsive(std::chrono::milliseconds bound = std::chrono::seconds(1)) {
    std::lock_guard<std::mutex> lock(mu_);
    return tracker_.ping(bound);
  }

  /// Takes on a name before its segment is created (so a crash during creation is covered): the
  /// name is queued on the tracker's socket before this returns. Throws errc::closed after
  /// shutdown.
  void track(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!active_)
      detail::throw_error(errc::closed, "allocate '" + name + "': the manager is shut down");
    names_.push_back(name);
    if (::getpid() == creator_pid_) tracker_.add(name);
  }
  /// Gives a name up again (its creation failed and removed it, or it belongs to someone else).
  void untrack(const std::string& name) noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find(names_.begin(), names_.end(), name);
    if (it != names_.end()) {
      names_.erase(it);
      if (::getpid() == creator_pid_) tracker_.remove(name);
    }
  }

 private:
  manager_options opts_;
  long creator_pid_;
  mutable std::mutex mu_;
  bool active_ = true;
  std::vector<std::string> names_;
  detail::tracker tracker_;
};

}  // namespace shmarray
