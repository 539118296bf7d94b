// shmarray::manager: the counterpart of Python's SharedMemoryManager. Every segment allocated through
// a manager is unlinked when the manager shuts down (destructor or shutdown()), whether or not its
// handle still exists, and only in the process that created the manager.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

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
  explicit manager(const manager_options& opts) : opts_(opts), creator_pid_(::getpid()) {}
  manager(const manager&) = delete;
  manager& operator=(const manager&) = delete;
  ~manager() { shutdown(); }

  /// Unlinks every segment allocated through this manager (an already-unlinked one is fine).
  /// Idempotent; does nothing in a process other than the one that created the manager.
  void shutdown() noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    if (!active_) return;
    active_ = false;
    if (::getpid() != creator_pid_) return;
    for (const auto& n : names_) ::shm_unlink(n.c_str());
    names_.clear();
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

  /// Takes on a name before its segment is created (so a crash during creation is covered).
  /// Throws errc::closed after shutdown.
  void track(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!active_)
      detail::throw_error(errc::closed, "allocate '" + name + "': the manager is shut down");
    names_.push_back(name);
  }
  /// Gives a name up again (its creation failed and removed it).
  void untrack(const std::string& name) noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find(names_.begin(), names_.end(), name);
    if (it != names_.end()) names_.erase(it);
  }

 private:
  manager_options opts_;
  long creator_pid_;
  mutable std::mutex mu_;
  bool active_ = true;
  std::vector<std::string> names_;
};

}  // namespace shmarray
