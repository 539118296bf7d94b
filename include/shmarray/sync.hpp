// Change notification, the robust lock and consistent snapshots, as shared_array offers them:
// update_scope, the writer's side of a snapshot. Where a segment keeps its sync block (format
// version 2: right after the trailer, so NumPy, which stops at the data's end, never sees it):
// sync_block_offset() and segment_bytes() in detail/layout.hpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#include "detail/layout.hpp"
#include "detail/message.hpp"
#include "detail/sync_block.hpp"

namespace shmarray {

namespace detail {
template <class Derived, class T>
class sync_access;
}  // namespace detail

/// A writer's update of an array that readers snapshot: holds the segment's lock and marks the
/// data as being written (readers' snapshots wait or retry meanwhile); when it ends -- destroyed or
/// commit() -- the new generation is published and waiters wake. Move-only; a moved-from scope
/// does nothing. Made by shared_array::update().
class update_scope {
 public:
  update_scope(update_scope&& o) noexcept
      : b_(std::exchange(o.b_, nullptr)), name_(o.name_), gen_(o.gen_), recovered_(o.recovered_) {}
  update_scope& operator=(update_scope&&) = delete;
  update_scope(const update_scope&) = delete;
  update_scope& operator=(const update_scope&) = delete;
  ~update_scope() { commit(); }

  /// The generation readers will see once this update ends.
  std::uint64_t generation() const noexcept { return gen_; }
  /// True when the lock was taken from a holder that died holding it, or a writer died in the
  /// middle of an update: the data may be half-written, and this update should rewrite it whole.
  bool recovered() const noexcept { return recovered_; }

  /// Ends the update now (publishes, wakes, unlocks); returns the new generation. Never throws.
  std::uint64_t commit() noexcept {
    if (!b_) return gen_;
    detail::sync_block* b = std::exchange(b_, nullptr);
    const std::uint64_t g = detail::sync_ops::end_update(b);
    try {
      detail::robust_mutex::unlock(&b->lock, name_);
    } catch (...) {  // cannot happen: this thread took the lock in the constructor
    }
    return g;
  }

 private:
  template <class, class>
  friend class detail::sync_access;
  // Takes the lock (blocking), then marks the update as begun.
  update_scope(detail::sync_block* b, std::string_view name) : b_(b), name_(name) {
    detail::robust_mutex::lock(&b->lock, name_);
    recovered_ = b->lock.recovered != 0 || detail::sync_ops::updating(b);
    gen_ = detail::sync_ops::begin_update(b);
  }

  detail::sync_block* b_;
  std::string_view name_;
  std::uint64_t gen_ = 0;
  bool recovered_ = false;
};

namespace detail {

/// shared_array's change notification, lock and snapshot members (the CRTP base of
/// shared_array<T>: Derived gives name(), is_open(), data() and nbytes()). Segments of format
/// version 2 (made by this version, by fork or by name) carry a sync block. Older segments, raw
/// segments, plain .npy files and attach_unsafe handles have none: these members then throw
/// errc::unsupported. Read-only handles (shared_array<const U>) read the generation, wait for
/// changes and take snapshots, but cannot notify, lock or update (a compile error): all three
/// write to the block, which they map PROT_READ -- and a reader that could take the lock could
/// stall the writer, which a snapshot never does.
template <class Derived, class T>
class sync_access {
  static constexpr bool read_only_ = std::is_const_v<T>;

 public:
  /// True when the segment has a generation counter and a lock.
  bool has_sync() const noexcept { return sync_ != nullptr; }
  /// The number of updates and notifications so far (0 for a new segment).
  std::uint64_t generation() const { return sync_ops::generation(block_("generation")); }
  /// Bumps the generation (release ordering: stores before it are visible to whoever sees the
  /// new value) and wakes every waiting process. Returns the new generation.
  std::uint64_t notify() {
    static_assert(!read_only_, "notify: a read-only handle cannot change the generation");
    return sync_ops::notify(block_("notify"));
  }
  /// Sleeps (a futex: no CPU) until the generation is no longer `seen`; returns it, or nullopt
  /// when `timeout` passes first. Any timeout works; the default waits forever.
  std::optional<std::uint64_t> wait_changed(
      std::uint64_t seen,
      std::chrono::nanoseconds timeout = std::chrono::nanoseconds::max()) const {
    return sync_ops::wait_changed(block_("wait_changed"), seen, deadline_after(timeout));
  }

  /// The segment's robust, process-shared lock (Lockable: std::unique_lock, std::scoped_lock). A
  /// holder that dies never blocks the others: the next locker gets the lock, and
  /// lock_recovered() then tells it the data may be half-updated. Relocking from the holding
  /// thread throws invalid_argument (it would deadlock).
  void lock() {
    static_assert(!read_only_,
                  "lock: a read-only handle cannot take the lock (it maps it read-only)");
    robust_mutex::lock(&block_("lock")->lock, self_().name());
  }
  bool try_lock() {
    static_assert(!read_only_, "try_lock: a read-only handle cannot take the lock");
    return robust_mutex::try_lock(&block_("try_lock")->lock, self_().name());
  }
  template <class Rep, class Period>
  bool try_lock_for(std::chrono::duration<Rep, Period> d) {
    static_assert(!read_only_, "try_lock_for: a read-only handle cannot take the lock");
    return robust_mutex::try_lock_until(
        &block_("try_lock_for")->lock,
        deadline_after(std::chrono::duration_cast<std::chrono::nanoseconds>(d)), self_().name());
  }
  template <class Clock, class Duration>
  bool try_lock_until(std::chrono::time_point<Clock, Duration> t) {
    return try_lock_for(t - Clock::now());
  }
  /// Releases the lock; throws invalid_argument when this thread does not hold it.
  void unlock() {
    static_assert(!read_only_, "unlock: a read-only handle cannot hold the lock");
    robust_mutex::unlock(&block_("unlock")->lock, self_().name());
  }
  /// For the lock's holder: true when it took the lock from a holder that died holding it.
  bool lock_recovered() const { return block_("lock_recovered")->lock.recovered != 0; }

  /// Starts an update that snapshot() readers never see half-done: takes the lock, and when the
  /// scope ends publishes the next generation and wakes waiters. Write the data in between.
  update_scope update() {
    static_assert(!read_only_, "update: a read-only handle cannot write");
    return update_scope(block_("update"), self_().name());
  }
  /// Runs `read()` (which reads this array's data) until a run overlapped no update() and returns
  /// the generation it read, nullopt if `timeout` passed first. `read` must only copy or
  /// accumulate: runs that overlapped an update see torn data and are thrown away. Never blocks a
  /// writer. `retries`, when given, counts the runs thrown away.
  template <class F>
  std::optional<std::uint64_t> read_consistent(
      F&& read, std::chrono::nanoseconds timeout = std::chrono::nanoseconds::max(),
      std::uint64_t* retries = nullptr) const {
    return sync_ops::read_consistent(block_("read_consistent"), std::forward<F>(read),
                                     deadline_after(timeout), retries);
  }
  /// Copies the whole array (size() elements) to `dst` as one update left it; returns that
  /// update's generation, nullopt if `timeout` passed first (e.g. a writer died mid-update and
  /// nobody has written since).
  std::optional<std::uint64_t> snapshot(std::remove_cv_t<T>* dst,
                                        std::chrono::nanoseconds timeout = std::chrono::seconds(10),
                                        std::uint64_t* retries = nullptr) const {
    const Derived& a = self_();
    return read_consistent([&] { std::memcpy(dst, a.data(), a.nbytes()); }, timeout, retries);
  }

 protected:
  sync_block* sync_ = nullptr;  // in the segment, after the trailer; null without one

 private:
  const Derived& self_() const noexcept { return static_cast<const Derived&>(*this); }
  sync_block* block_(const char* op) const {
    if (!sync_) {
      const Derived& a = self_();
      if (!a.is_open()) throw_error(errc::closed, msg(op, ": the shared_array is closed"));
      throw_error(errc::unsupported,
                  msg(op, " '", a.name(),
                      "': the segment has no generation counter or lock (made by an older "
                      "shmarray, a raw or plain .npy segment, or attached with attach_unsafe); "
                      "recreate it with this version"));
    }
    return sync_;
  }
};

}  // namespace detail
}  // namespace shmarray
