// Change notification, the robust lock and consistent snapshots, as shared_array offers them:
// update_scope, the writer's side of a snapshot. Where a segment keeps its sync block (format
// version 2: right after the trailer, so NumPy, which stops at the data's end, never sees it):
// sync_block_offset() and segment_bytes() in detail/layout.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

#include "detail/layout.hpp"
#include "detail/sync_block.hpp"

namespace shmarray {

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
  template <class>
  friend class shared_array;
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

}  // namespace shmarray
