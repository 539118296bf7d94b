// shmarray::manager: the counterpart of Python's SharedMemoryManager. An owner's close() unlinks
// its segment at once; every segment allocated through a manager and still there is unlinked when
// the manager shuts down (destructor or shutdown()), whether or not its handle still exists, and
// only in the process that created the manager. With crash cleanup on (the default) a small tracker
// process (detail/tracker.hpp) also unlinks them if that process dies, SIGKILL included; a forked
// child that allocates through the inherited manager hands its names to that tracker, so the
// parent's shutdown (or the tracker, if the parent dies) removes them too.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "detail/message.hpp"
#include "detail/shm_dir.hpp"
#include "detail/tracker.hpp"
#include "error.hpp"

namespace shmarray {

struct manager_options {
  /// Unlink the manager's segments even if this process dies (SIGKILL included), through a small
  /// tracker process, and let forked children allocate through the manager. Off: cleanup happens
  /// only at shutdown()/destruction, and only the manager's own process may allocate through it.
  bool crash_cleanup = true;
};

namespace detail {
/// What a manager shares with the handles it made: the names it will unlink and the tracker. A
/// handle keeps it alive (shared_ptr), so a handle that outlives its manager can still ask whether
/// its name is still the manager's to unlink (after shutdown it is not).
struct manager_state {
  /// A name the manager (or, in a forked child's copy, the child) will unlink, with the process
  /// that creates it and, once it exists, the identity of the file, so that neither the manager
  /// nor the tracker ever unlinks another file that later took the name.
  struct entry {
    std::string name;
    long creator = 0;
    std::uint64_t creator_start = 0;
    bool has_id = false;
    std::uint64_t dev = 0, ino = 0;
  };

  manager_state(long pid, bool tracked) noexcept : creator_pid(pid), crash_cleanup(tracked) {}
  const long creator_pid;
  const bool crash_cleanup;
  std::mutex mu;
  bool active = true;
  std::vector<entry> names;
  tracker track;

  /// The entry this process created under `name` (nullptr if none). Call with mu held.
  entry* mine(const std::string& name, long self) noexcept {
    for (auto it = names.rbegin(); it != names.rend(); ++it)
      if (it->creator == self && it->name == name) return &*it;
    return nullptr;
  }
  void erase(const entry* e) noexcept { names.erase(names.begin() + (e - names.data())); }

  /// stat of the file under `name` (not following a symlink); false if there is none. By path,
  /// as shm_unlink goes: a manager holds no descriptor of its own for it.
  static bool stat_name(const std::string& name, struct stat& st) noexcept {
    const std::string path = std::string(shm_dir_path) + "/" + name;
    return ::fstatat(AT_FDCWD, path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  }

  /// Unlinks the entry's name unless the file there is no longer the one it created. Returns true
  /// if it unlinked.
  static bool unlink_entry(const entry& e) noexcept {
    if (e.has_id) {
      struct stat st {};
      if (!stat_name(e.name, st)) return false;
      if (static_cast<std::uint64_t>(st.st_dev) != e.dev ||
          static_cast<std::uint64_t>(st.st_ino) != e.ino)
        return false;  // someone else's now: ours was unlinked behind our back
    }
    return ::shm_unlink(e.name.c_str()) == 0;
  }

  /// An owner's close()/unlink(): when `name` is still this manager's and this process created it
  /// (the manager's process, or a forked child for what it allocated through the inherited
  /// manager), unlinks it now and forgets it (the tracker too). Returns true if it unlinked.
  bool release(const std::string& name) noexcept {
    std::lock_guard<std::mutex> lock(mu);
    const entry* e = mine(name, static_cast<long>(::getpid()));
    if (!e) return false;
    const bool removed = unlink_entry(*e);
    erase(e);
    track.remove(name);
    return removed;
  }
};
}  // namespace detail

class manager {
 public:
  manager() : manager(manager_options{}) {}
  /// With crash_cleanup, starts the tracker process; throws errc::system_error if it cannot.
  explicit manager(const manager_options& opts)
      : s_(std::make_shared<detail::manager_state>(static_cast<long>(::getpid()),
                                                   opts.crash_cleanup)) {
    if (opts.crash_cleanup) s_->track.start();
  }
  manager(const manager&) = delete;
  manager& operator=(const manager&) = delete;
  ~manager() { shutdown(); }

  /// Unlinks every segment allocated through this manager and still open or persisted (an
  /// already-unlinked one is fine, and a name someone else has since re-created is left alone),
  /// including those forked children allocated through it (the tracker removes these), then lets
  /// the tracker exit. Idempotent; in a process other than the one that created the manager (a
  /// forked child) it unlinks nothing and leaves the tracker running for the owner.
  void shutdown() noexcept {
    std::lock_guard<std::mutex> lock(s_->mu);
    if (!s_->active) return;
    s_->active = false;
    if (::getpid() == s_->creator_pid)
      for (const auto& e : s_->names) s_->unlink_entry(e);
    s_->names.clear();
    s_->track.stop();  // the owner: waits until the tracker removed the children's names
  }

  /// False once shut down: allocating through it then throws errc::closed.
  bool is_active() const noexcept {
    std::lock_guard<std::mutex> lock(s_->mu);
    return s_->active;
  }
  /// The names of the segments this manager will unlink (an owner's close() takes its name off).
  /// In a forked child: the parent's names as they were at the fork, and the child's own.
  std::vector<std::string> names() const {
    std::lock_guard<std::mutex> lock(s_->mu);
    std::vector<std::string> v;
    v.reserve(s_->names.size());
    for (const auto& e : s_->names) v.push_back(e.name);
    return v;
  }

  /// The pid of the crash-cleanup tracker process; 0 when crash cleanup is off, after shutdown,
  /// and in any process other than the manager's creator. A tracker that died is replaced at the
  /// next allocation, so the pid can change.
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
  /// name is queued on the tracker's socket before this returns. A tracker that died (SIGKILL) is
  /// replaced first, with every name still listed. Throws errc::closed after shutdown (also the
  /// parent's shutdown, seen from a forked child), errc::system_error when no new tracker can be
  /// started, errc::unsupported in a forked child of a manager without crash cleanup.
  void track(const std::string& name) {
    std::lock_guard<std::mutex> lock(s_->mu);
    if (!s_->active)
      detail::throw_error(errc::closed,
                          detail::msg("allocate '", name, "': the manager is shut down"));
    const long self = static_cast<long>(::getpid());
    const bool child = self != s_->creator_pid;
    if (child && !s_->crash_cleanup)
      detail::throw_error(
          errc::unsupported,
          detail::msg(
              "allocate '", name, "': this process (", self,
              ") is a forked child of the manager's process (", s_->creator_pid,
              "), and a manager without crash cleanup has no way to hand it the name, so the "
              "segment would outlive the manager's shutdown; use a manager with crash_cleanup "
              "(the default) or make a manager in the child"));
    detail::manager_state::entry e;
    e.name = name;
    e.creator = self;
    e.creator_start = detail::self_start_time();
    s_->names.push_back(e);
    if (!s_->crash_cleanup) return;
    if (s_->track.add(name, static_cast<std::uint64_t>(self), e.creator_start)) return;
    if (child) {
      s_->names.pop_back();
      detail::throw_error(errc::closed, detail::msg("allocate ", detail::quote_name(name),
                                                    tracker_gone_in_child_()));
    }
    try {
      restart_tracker_(detail::msg("allocate ", detail::quote_name(name)));
    } catch (...) {
      s_->names.pop_back();
      throw;
    }
  }
  /// Records that the segment of a tracked name now exists: its identity (device and inode) goes
  /// to the list and to the tracker, so neither unlinks a different file that later takes the
  /// name. On failure (a forked child whose parent's manager is shut down; no new tracker) the name
  /// is given up and this throws; the caller removes the segment.
  void created(const std::string& name) {
    std::lock_guard<std::mutex> lock(s_->mu);
    const long self = static_cast<long>(::getpid());
    detail::manager_state::entry* e = s_->mine(name, self);
    if (!e) return;
    struct stat st {};
    if (s_->stat_name(name, st)) {
      e->has_id = true;
      e->dev = static_cast<std::uint64_t>(st.st_dev);
      e->ino = static_cast<std::uint64_t>(st.st_ino);
    }
    if (!s_->crash_cleanup || !e->has_id) return;
    if (s_->track.identify(name, e->dev, e->ino)) return;
    const std::string op = detail::msg("allocate ", detail::quote_name(name));
    if (self != s_->creator_pid) {
      s_->erase(e);
      detail::throw_error(errc::closed, detail::msg(op, tracker_gone_in_child_()));
    }
    try {
      restart_tracker_(op);  // lists it again, with its identity
    } catch (...) {
      if (const auto* again = s_->mine(name, self)) s_->erase(again);
      throw;
    }
  }
  /// Gives a name up again (its creation failed and removed it, or it belongs to someone else).
  void untrack(const std::string& name) noexcept {
    std::lock_guard<std::mutex> lock(s_->mu);
    if (const auto* e = s_->mine(name, static_cast<long>(::getpid()))) {
      s_->erase(e);
      s_->track.remove(name);
    }
  }

  /// The state the handles made through this manager share with it (for shared_array).
  const std::shared_ptr<detail::manager_state>& state() const noexcept { return s_; }

 private:
  std::string tracker_gone_in_child_() const {
    return detail::msg(
        ": the crash-cleanup tracker of the manager's process (", s_->creator_pid,
        ") takes no more names (that manager was shut down, or its tracker died), so the "
        "segment would never be removed; make a manager in this process");
  }

  // The tracker died (SIGKILL, OOM killer): start a new one and hand it every name still listed,
  // so crash cleanup never silently stops. Throws errc::system_error if that fails. Mutex held.
  void restart_tracker_(const std::string& op) {
    const long old = s_->track.last_pid();
    s_->track.abandon();
    try {
      s_->track.start();
    } catch (const error& e) {
      detail::throw_error(
          errc::system_error,
          detail::msg(op, ": the crash-cleanup tracker (pid ", old,
                      ") is gone and a new one could not be started, so the segment "
                      "would not be removed after a crash: ",
                      e.what()),
          e.native_error());
    }
    for (const auto& e : s_->names) {
      bool sent = s_->track.add(e.name, static_cast<std::uint64_t>(e.creator), e.creator_start);
      if (sent && e.has_id) sent = s_->track.identify(e.name, e.dev, e.ino);
      if (!sent) {
        s_->track.abandon();
        detail::throw_error(
            errc::system_error,
            detail::msg(op, ": the crash-cleanup tracker (pid ", old,
                        ") is gone, and the one started in its place died at once"));
      }
    }
  }

  std::shared_ptr<detail::manager_state> s_;
};

}  // namespace shmarray
