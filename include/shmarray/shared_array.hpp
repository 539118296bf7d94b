// shmarray::shared_array<T>: one N-dimensional array in shared memory, reachable from every process
// that knows its name (or that was forked after it was made). The segment is an .npy file followed
// by a 64-byte trailer, so attach() needs no shape or dtype and NumPy opens it with
// np.load(mmap_mode). Handles are move-only owners (made it) or clients (attached to it); T = const
// U attaches read-only.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "detail/copy.hpp"
#include "detail/layout.hpp"
#include "detail/message.hpp"
#include "detail/names.hpp"
#include "detail/type_hash.hpp"
#include "error.hpp"
#include "manager.hpp"
#include "mdspan.hpp"
#include "npy.hpp"
#include "npy_dtype.hpp"
#include "npy_file.hpp"
#include "options.hpp"
#include "record.hpp"
#include "segment.hpp"
#include "sync.hpp"

namespace shmarray {

template <class T>
class shared_array {
  using value_type_ = std::remove_cv_t<T>;
  static_assert(std::is_trivially_copyable_v<value_type_>,
                "shared_array<T>: T must be trivially copyable (it lives in raw shared memory "
                "that other processes read and write)");
  static_assert(!std::is_volatile_v<T>, "shared_array<T>: T must not be volatile");
  static_assert(!std::is_pointer_v<value_type_>,
                "shared_array<T>: pointers are meaningless in another process");

 public:
  using element_type = T;
  using value_type = value_type_;
  using size_type = std::size_t;
  using pointer = T*;
  using iterator = T*;
  using const_iterator = const T*;
  /// True for shared_array<const U>: attached read-only, mapped PROT_READ.
  static constexpr bool read_only = std::is_const_v<T>;

  /// An empty handle (is_open() == false).
  shared_array() noexcept = default;
  shared_array(shared_array&& o) noexcept { swap(o); }
  /// Closes this handle first (unlinking if it is the owner), then takes o's segment.
  shared_array& operator=(shared_array&& o) noexcept {
    if (this != &o) {
      close();
      swap(o);
    }
    return *this;
  }
  shared_array(const shared_array&) = delete;
  shared_array& operator=(const shared_array&) = delete;
  ~shared_array() { close(); }

  void swap(shared_array& o) noexcept {
    seg_.swap(o.seg_);
    std::swap(data_, o.data_);
    shape_.swap(o.shape_);
    std::swap(size_, o.size_);
    std::swap(fortran_, o.fortran_);
    mgr_.swap(o.mgr_);
    std::swap(sync_, o.sync_);
    std::swap(trailer_at_, o.trailer_at_);
  }
  friend void swap(shared_array& a, shared_array& b) noexcept { a.swap(b); }

  // ---- Factories: owners --------------------------------------------------------------------

  /// A new zero-filled array. close() (or the destructor) of this handle unlinks it; a manager
  /// also unlinks it at its shutdown if it is still there (moved away, persisted) and, with crash
  /// cleanup, if this process dies. Throws invalid_argument, already_exists, no_space, ...
  static shared_array allocate(manager& m, shape_type shape, const create_options& o = {}) {
    return create_(&m, std::move(shape), o, true, "allocate", no_fill_);
  }
  static shared_array allocate(shape_type shape, const create_options& o = {}) {
    return create_(nullptr, std::move(shape), o, true, "allocate", no_fill_);
  }
  static shared_array allocate_unsafe(manager& m, shape_type shape, const create_options& o = {}) {
    return create_(&m, std::move(shape), o, false, "allocate", no_fill_);
  }
  static shared_array allocate_unsafe(shape_type shape, const create_options& o = {}) {
    return create_(nullptr, std::move(shape), o, false, "allocate", no_fill_);
  }

  /// A new zero-filled array with the shape of `like` (a shared_array, an mdspan or a range). The
  /// order is the options' (C unless fortran_order), as for every factory.
  template <class Like>
  static shared_array allocate_like(manager& m, const Like& like, const create_options& o = {}) {
    return create_(&m, shape_of_(like), o, true, "allocate_like", no_fill_);
  }
  template <class Like>
  static shared_array allocate_like(const Like& like, const create_options& o = {}) {
    return create_(nullptr, shape_of_(like), o, true, "allocate_like", no_fill_);
  }
  template <class Like>
  static shared_array allocate_like_unsafe(manager& m, const Like& like,
                                           const create_options& o = {}) {
    return create_(&m, shape_of_(like), o, false, "allocate_like", no_fill_);
  }
  template <class Like>
  static shared_array allocate_like_unsafe(const Like& like, const create_options& o = {}) {
    return create_(nullptr, shape_of_(like), o, false, "allocate_like", no_fill_);
  }

  /// A new array holding a copy of `src`: any mdspan (any layout: transposes and slices are
  /// gathered into this array's order), a shared_array (of either order), or a contiguous range
  /// (1-D). The new array's order is the options' (C unless fortran_order); indices keep values.
  /// The data is written before the segment is published, so no attacher sees a half-copied array.
  template <class Src>
  static shared_array copy(manager& m, const Src& src, const create_options& o = {}) {
    return copy_(&m, src, o, true);
  }
  template <class Src>
  static shared_array copy(const Src& src, const create_options& o = {}) {
    return copy_(nullptr, src, o, true);
  }
  template <class Src>
  static shared_array copy_unsafe(manager& m, const Src& src, const create_options& o = {}) {
    return copy_(&m, src, o, false);
  }
  template <class Src>
  static shared_array copy_unsafe(const Src& src, const create_options& o = {}) {
    return copy_(nullptr, src, o, false);
  }

  /// A new array holding the contents of an .npy file (NumPy format 1.0-3.0, C or Fortran order,
  /// which the array keeps). The file's dtype must be T's in either byte order (type_mismatch
  /// otherwise): a file in the other one ('>f8' on x86-64, as a.astype('>f8') saves) is
  /// byte-swapped on the way in, so the values equal NumPy's. A truncated file, a header that
  /// lies or one longer than create_options::max_header_size is bad_format. The data streams from
  /// the file into shared memory.
  static shared_array load(manager& m, const std::string& path, const create_options& o = {}) {
    return load_(&m, path, o);
  }
  static shared_array load(const std::string& path, const create_options& o = {}) {
    return load_(nullptr, path, o);
  }

  /// Writes the array to `path` as an .npy file that np.load reads (replaced atomically).
  void save(const std::string& path) const {
    if (!is_open())
      detail::throw_error(errc::closed, "save '" + path + "': the shared_array is closed");
    npy::write_file(path, npy::descr<T>(), fortran_, shape_, data_, nbytes());
  }

  /// Shared memory with no name, for fork-based pools: children forked after this call share it;
  /// nothing can attach to it by name and nothing is left behind when the last process exits.
  static shared_array allocate_anonymous(shape_type shape, bool fortran_order = false,
                                         huge_pages hp = huge_pages::prefer) {
    static_assert(!read_only, "shared_array<const T> cannot allocate; attach instead");
    constexpr std::string_view op = "allocate_anonymous";
    check_shape_(op, "(anonymous)", shape);
    const detail::layout_plan plan = plan_(op, "(anonymous)", shape, fortran_order);
    shared_array a;
    a.seg_ = detail::segment::anonymous(op, plan.total, hp);
    a.finish_create_(std::move(shape), fortran_order, plan, true);
    a.seg_.publish(detail::published_byte);
    return a;
  }

  // ---- Factories: clients -------------------------------------------------------------------

  /// Attaches to the segment `name`: its shape, dtype and order come from the segment, and are
  /// checked against T. Waits up to ready_timeout for a creator that has not published yet. A
  /// segment in the other byte order ('>f8') is a type_mismatch: attach maps the data and cannot
  /// swap it; load() the file instead. Throws not_found, type_mismatch, bad_format (also for a
  /// header longer than attach_options::max_header_size), not_ready, permission_denied, ...
  static shared_array attach(std::string_view name, const attach_options& o = {}) {
    return attach_(name, nullptr, o);
  }
  /// Attaches and also checks the shape: shape_mismatch names both shapes.
  static shared_array attach(std::string_view name, shape_type expected,
                             const attach_options& o = {}) {
    return attach_(name, &expected, o);
  }
  /// Attaches trusting the caller: no name, dtype, owner or readiness checks. The shape given is
  /// used as is; the data offset is read from the header. A shape that overflows is
  /// invalid_argument and one larger than the segment is shape_mismatch (both cost nothing).
  static shared_array attach_unsafe(std::string_view name, shape_type shape) {
    constexpr std::string_view op = "attach_unsafe";
    check_shape_(op, name, shape);
    shared_array a;
    detail::deadline none(std::chrono::milliseconds(0));
    a.seg_ = detail::segment::open(op, std::string(name), read_only, true, none);
    // One pread of the header's start: the data offset and the order, from the one parser.
    detail::prefix pre;
    detail::read_prefix(a.seg_.fd(), a.seg_.size(), pre);
    std::size_t off = 0;
    bool fortran = false;
    if (pre.got >= 12) {
      off = npy::data_offset_of(reinterpret_cast<const unsigned char*>(pre.bytes));
      const std::size_t dict = pre.bytes[6] == 1 ? 10 : 12;
      std::string_view descr;
      npy::header h;
      // The dict's head as NumPy spells it gives the order; any other spelling is parsed whole.
      if (off <= pre.got &&
          npy::detail::parse_canonical_head(pre.bytes + dict, pre.bytes + off, descr, fortran) ==
              nullptr &&
          npy::try_parse_header(pre.bytes, pre.got, h))
        fortran = h.fortran_order;
    }
    a.seg_.drop_fd();
    std::size_t need = 0;
    npy::checked_bytes(shape, sizeof(value_type), need);
    if (off > a.seg_.size() || need > a.seg_.size() - off)
      detail::throw_error(
          errc::shape_mismatch,
          detail::msg(op, " '", a.seg_.name(), "': shape ", npy::shape_string(shape), " of ",
                      sizeof(value_type), "-byte elements needs ", off, " + ", need,
                      " bytes, the segment holds ", a.seg_.size()));
    a.set_view_(off, std::move(shape), fortran);
    return a;
  }
  /// Attaches to a segment with no header: the data starts at offset 0, as in segments made by
  /// Python's multiprocessing.shared_memory (and the shared-memory-array package). Checks only that
  /// the segment holds at least prod(shape) * sizeof(T) bytes.
  static shared_array attach_raw(std::string_view name, shape_type shape,
                                 const attach_options& o = {}) {
    constexpr std::string_view op = "attach_raw";
    detail::validate_name(op, name);
    std::string n(name);
    check_shape_(op, n, shape);
    std::size_t need = 0;
    npy::checked_bytes(shape, sizeof(value_type), need);
    shared_array a;
    detail::deadline limit(o.ready_timeout);
    a.seg_ = detail::segment::open(op, std::move(n), read_only, o.allow_foreign_owner, limit);
    if (a.seg_.size() < need)
      detail::throw_error(
          errc::shape_mismatch,
          detail::msg(op, " '", a.seg_.name(), "': shape ", npy::shape_string(shape), " of ",
                      sizeof(value_type), "-byte elements needs ", need,
                      " bytes, the segment holds ", a.seg_.size()));
    a.seg_.drop_fd();
    a.set_view_(0, std::move(shape), false);
    return a;
  }

  // ---- Views and data -----------------------------------------------------------------------

  /// An mdspan over the array: layout_right for C order, layout_left for Fortran order (either
  /// for rank <= 1), layout_stride for both. Valid while this handle is open.
  template <std::size_t Rank, class Layout = layout_right>
  mdspan<T, dextents<std::size_t, Rank>, Layout> view() {
    return make_view_<T, Rank, Layout>();
  }
  template <std::size_t Rank, class Layout = layout_right>
  mdspan<const T, dextents<std::size_t, Rank>, Layout> view() const {
    return make_view_<const T, Rank, Layout>();
  }

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  /// Number of elements (1 for a 0-d array).
  std::size_t size() const noexcept { return size_; }
  std::size_t nbytes() const noexcept { return size_ * sizeof(T); }
  bool empty() const noexcept { return size_ == 0; }
  /// Flat iteration in memory order.
  T* begin() noexcept { return data_; }
  T* end() noexcept { return data_ + size_; }
  const T* begin() const noexcept { return data_; }
  const T* end() const noexcept { return data_ + size_; }

  /// The segment's name ("" for anonymous memory).
  const std::string& name() const noexcept { return seg_.name(); }
  const shape_type& shape() const noexcept { return shape_; }
  std::size_t rank() const noexcept { return shape_.size(); }
  /// The NumPy descr of T, e.g. "<f8".
  std::string_view dtype() const noexcept { return npy::descr<T>(); }
  bool fortran_order() const noexcept { return fortran_; }
  /// True for the handle that created the segment (also when a manager will unlink it).
  bool owner() const noexcept { return seg_.owner(); }
  bool is_open() const noexcept { return seg_.is_open(); }
  /// The whole mapped segment: header, data, trailer and sync block (np.load reads the first
  /// two).
  std::size_t segment_size() const noexcept { return seg_.size(); }
  /// How many bytes of this handle's mapping sit on 2 MiB huge pages mapped as such (see
  /// create_options::huge_pages). Reads /proc/self/smaps, a few hundred microseconds: for
  /// diagnostics and tests, not for loops. 0 when closed or unknown.
  std::size_t huge_page_bytes() const noexcept {
    const long long n = seg_.base() ? detail::pmd_mapped_bytes(seg_.base()) : 0;
    return n > 0 ? static_cast<std::size_t>(n) : 0;
  }

  /// Lets the segment outlive this handle and its process: close() no longer unlinks it, and the
  /// trailer is marked detached so `shmarray gc` keeps it after this process exits (remove it with
  /// `shmarray rm`). A manager's segments are still removed by the manager, at its shutdown.
  void persist() noexcept {
    static_assert(!read_only, "persist: a read-only handle does not own the segment");
    seg_.disown();
    mgr_.reset();
    if (trailer_at_ && !seg_.name().empty())
      detail::add_trailer_flags(static_cast<unsigned char*>(seg_.base()), trailer_at_,
                                detail::trailer_flag_detached);
  }

  // ---- Change notification, the lock, snapshots (sync.hpp) ----------------------------------
  // Segments of format version 2 (made by this version, by fork or by name) carry a sync block.
  // Older segments, raw segments, plain .npy files and attach_unsafe handles have none: these
  // members then throw errc::unsupported. Read-only handles (shared_array<const U>) read the
  // generation, wait for changes and take snapshots, but cannot notify, lock or update (a compile
  // error): all three write to the block, which they map PROT_READ -- and a reader that could take
  // the lock could stall the writer, which a snapshot never does.

  /// True when the segment has a generation counter and a lock.
  bool has_sync() const noexcept { return sync_ != nullptr; }
  /// The number of updates and notifications so far (0 for a new segment).
  std::uint64_t generation() const {
    return detail::sync_ops::generation(sync_or_throw_("generation"));
  }
  /// Bumps the generation (release ordering: stores before it are visible to whoever sees the
  /// new value) and wakes every waiting process. Returns the new generation.
  std::uint64_t notify() {
    static_assert(!read_only, "notify: a read-only handle cannot change the generation");
    return detail::sync_ops::notify(sync_or_throw_("notify"));
  }
  /// Sleeps (a futex: no CPU) until the generation is no longer `seen`; returns it, or nullopt
  /// when `timeout` passes first. Any timeout works; the default waits forever.
  std::optional<std::uint64_t> wait_changed(
      std::uint64_t seen,
      std::chrono::nanoseconds timeout = std::chrono::nanoseconds::max()) const {
    return detail::sync_ops::wait_changed(sync_or_throw_("wait_changed"), seen,
                                          detail::deadline_after(timeout));
  }

  /// The segment's robust, process-shared lock (Lockable: std::unique_lock, std::scoped_lock). A
  /// holder that dies never blocks the others: the next locker gets the lock, and
  /// lock_recovered() then tells it the data may be half-updated. Relocking from the holding
  /// thread throws invalid_argument (it would deadlock).
  void lock() {
    static_assert(!read_only,
                  "lock: a read-only handle cannot take the lock (it maps it read-only)");
    detail::robust_mutex::lock(&sync_or_throw_("lock")->lock, name());
  }
  bool try_lock() {
    static_assert(!read_only, "try_lock: a read-only handle cannot take the lock");
    return detail::robust_mutex::try_lock(&sync_or_throw_("try_lock")->lock, name());
  }
  template <class Rep, class Period>
  bool try_lock_for(std::chrono::duration<Rep, Period> d) {
    static_assert(!read_only, "try_lock_for: a read-only handle cannot take the lock");
    return detail::robust_mutex::try_lock_until(
        &sync_or_throw_("try_lock_for")->lock,
        detail::deadline_after(std::chrono::duration_cast<std::chrono::nanoseconds>(d)), name());
  }
  template <class Clock, class Duration>
  bool try_lock_until(std::chrono::time_point<Clock, Duration> t) {
    return try_lock_for(t - Clock::now());
  }
  /// Releases the lock; throws invalid_argument when this thread does not hold it.
  void unlock() {
    static_assert(!read_only, "unlock: a read-only handle cannot hold the lock");
    detail::robust_mutex::unlock(&sync_or_throw_("unlock")->lock, name());
  }
  /// For the lock's holder: true when it took the lock from a holder that died holding it.
  bool lock_recovered() const { return sync_or_throw_("lock_recovered")->lock.recovered != 0; }

  /// Starts an update that snapshot() readers never see half-done: takes the lock, and when the
  /// scope ends publishes the next generation and wakes waiters. Write the data in between.
  update_scope update() {
    static_assert(!read_only, "update: a read-only handle cannot write");
    return update_scope(sync_or_throw_("update"), name());
  }
  /// Runs `read()` (which reads this array's data) until a run overlapped no update() and returns
  /// the generation it read, nullopt if `timeout` passed first. `read` must only copy or
  /// accumulate: runs that overlapped an update see torn data and are thrown away. Never blocks a
  /// writer. `retries`, when given, counts the runs thrown away.
  template <class F>
  std::optional<std::uint64_t> read_consistent(
      F&& read, std::chrono::nanoseconds timeout = std::chrono::nanoseconds::max(),
      std::uint64_t* retries = nullptr) const {
    return detail::sync_ops::read_consistent(sync_or_throw_("read_consistent"),
                                             std::forward<F>(read), detail::deadline_after(timeout),
                                             retries);
  }
  /// Copies the whole array (size() elements) to `dst` as one update left it; returns that
  /// update's generation, nullopt if `timeout` passed first (e.g. a writer died mid-update and
  /// nobody has written since).
  std::optional<std::uint64_t> snapshot(value_type* dst,
                                        std::chrono::nanoseconds timeout = std::chrono::seconds(10),
                                        std::uint64_t* retries = nullptr) const {
    return read_consistent([&] { std::memcpy(dst, data_, nbytes()); }, timeout, retries);
  }

  /// Removes the segment's name now and keeps the mapping (Python's unlink()): other processes
  /// can no longer attach, the ones attached keep their views, the memory goes when the last
  /// mapping does. Only an owner, and only in the process that created the segment, unlinks (a
  /// managed one also leaves its manager's list). Returns true if this call removed the name;
  /// idempotent, never throws. After it, close() and the manager leave the name alone.
  bool unlink() noexcept {
    const bool removed = mgr_ ? mgr_->release(seg_.name()) : seg_.unlink();
    seg_.disown();
    mgr_.reset();
    return removed;
  }

  /// Unmaps; an owner also unlinks the name (and leaves its manager's list), unless persist() or
  /// unlink() came first, and only in the process that created it (a forked child never removes
  /// its parent's segment). Idempotent, never throws.
  void close() noexcept {
    if (mgr_) mgr_->release(seg_.name());
    mgr_.reset();
    seg_.close();
    sync_ = nullptr;
    trailer_at_ = 0;
    data_ = nullptr;
    shape_.clear();
    size_ = 0;
    fortran_ = false;
  }

 private:
  template <class>
  friend class shared_array;

  detail::sync_block* sync_or_throw_(const char* op) const {
    if (!sync_) {
      if (!is_open())
        detail::throw_error(errc::closed, detail::msg(op, ": the shared_array is closed"));
      detail::throw_error(errc::unsupported,
                          detail::msg(op, " '", name(),
                                      "': the segment has no generation counter or lock (made by "
                                      "an older shmarray, a raw or plain .npy segment, or "
                                      "attached with attach_unsafe); recreate it with this "
                                      "version"));
    }
    return sync_;
  }

  static void check_shape_(std::string_view op, std::string_view name, const shape_type& shape) {
    if (shape.size() > npy::max_rank)
      detail::throw_error(errc::invalid_argument,
                          detail::msg(op, " '", name, "': rank ", shape.size(),
                                      " is more than the 32 dimensions NumPy allows"));
    std::size_t n = 0;
    if (!npy::checked_bytes(shape, sizeof(value_type), n))
      detail::throw_error(errc::invalid_argument,
                          detail::msg(op, " '", name, "': shape ", npy::shape_string(shape), " of ",
                                      sizeof(value_type), "-byte elements overflows size_t"));
  }

  static detail::layout_plan plan_(std::string_view op, std::string_view name,
                                   const shape_type& shape, bool fortran) {
    return detail::plan_layout(op, name, npy::descr<T>(), fortran, shape, sizeof(value_type));
  }

  // Writes trailer and sync block (and the header, for memory made without a file: anonymous) and
  // sets the view; the caller fills the data, then publishes.
  void finish_create_(shape_type shape, bool fortran, const detail::layout_plan& plan,
                      bool header_too) {
    const std::uint32_t flags = seg_.huge() && !seg_.name().empty() ? detail::trailer_flag_huge : 0;
    sync_ = detail::write_layout(static_cast<unsigned char*>(seg_.base()), plan, header_too,
                                 sizeof(value_type), detail::type_hash<value_type>(), flags,
                                 seg_.name());
    trailer_at_ = plan.trailer_at;
    set_view_(plan.data_offset(), std::move(shape), fortran);
  }

  void set_view_(std::size_t data_offset, shape_type shape, bool fortran) {
    data_ = reinterpret_cast<T*>(static_cast<unsigned char*>(seg_.base()) + data_offset);
    std::size_t n = 1;
    for (auto d : shape) n *= d;
    size_ = n;
    shape_ = std::move(shape);
    fortran_ = fortran;
  }

  static void no_fill_(shared_array&) noexcept {}

  // The one creation path: validate (unless unsafe), plan the layout, create and reserve the
  // segment (tracked by the manager first), write header and trailer, fill, publish.
  template <class Fill>
  static shared_array create_(manager* m, shape_type shape, const create_options& o, bool validate,
                              std::string_view op, Fill&& fill) {
    static_assert(!read_only, "shared_array<const T> cannot allocate; attach instead");
    const bool generated = o.name.empty();
    // The shape is checked in every variant (an overflow check costs nothing, and a handle whose
    // size() exceeds its mapping would be a lie); _unsafe skips the name and mode checks.
    check_shape_(op, generated ? std::string_view("(new)") : std::string_view(o.name), shape);
    if (validate) {
      if (!generated) detail::validate_name(op, o.name);
      if (o.mode > 07777)
        detail::throw_error(
            errc::invalid_argument,
            detail::msg(op, ": mode ", o.mode, " is not a permission mode (at most 07777)"));
    }
    const detail::layout_plan plan = plan_(op, o.name, shape, o.fortran_order);
    shared_array a;
    for (int attempt = 0;; ++attempt) {
      std::string name = generated ? detail::generate_name() : o.name;
      if (m) m->track(name);
      try {
        a.seg_ = detail::segment::create(op, name, plan.total, o.mode, o.huge_pages,
                                         plan.unpublished_header());
        break;
      } catch (const error& e) {
        if (m) m->untrack(name);
        if (!(generated && e.kind() == errc::already_exists && attempt < 16)) throw;
      }
    }
    if (m) {  // the manager, not the segment, decides when the name goes (see close())
      m->created(a.seg_.name());  // its identity; if this throws, a's segment unlinks itself
      a.seg_.disown();
      a.mgr_ = m->state();
    }
    a.finish_create_(std::move(shape), o.fortran_order, plan, false);
    fill(a);  // if it throws, a's destructor unlinks (and untracks) what was created
    a.seg_.publish(detail::published_byte);
    return a;
  }

  template <class Like>
  static shape_type shape_of_(const Like& like) {
    if constexpr (detail::is_shared_array<Like>::value) {
      return like.shape();
    } else if constexpr (detail::is_mdspan<Like>::value) {
      shape_type s(Like::rank());
      for (std::size_t r = 0; r < Like::rank(); ++r)
        s[r] = static_cast<std::size_t>(like.extent(r));
      return s;
    } else {
      static_assert(detail::is_contiguous_range<Like>::value,
                    "allocate_like/copy: expected a shared_array, an mdspan or a contiguous range");
      return shape_type{static_cast<std::size_t>(std::size(like))};
    }
  }
  template <class Src>
  static shared_array copy_(manager* m, const Src& src, const create_options& o, bool validate) {
    if constexpr (detail::is_shared_array<Src>::value) {
      static_assert(std::is_same_v<typename Src::value_type, value_type>,
                    "copy: the source's element type must be T");
      if (!src.is_open())
        detail::throw_error(errc::closed, "copy: the source shared_array is closed");
      auto fill = [&](shared_array& a) {
        detail::copy_from_array(a.data_, a.fortran_, a.size_, src, o.copy_threads);
      };
      return create_(m, src.shape(), o, validate, "copy", fill);
    } else if constexpr (detail::is_mdspan<Src>::value) {
      static_assert(std::is_same_v<std::remove_cv_t<typename Src::element_type>, value_type>,
                    "copy: the mdspan's element type must be T");
      auto fill = [&](shared_array& a) {
        detail::copy_from_mdspan(a.data_, a.fortran_, a.size_, src, o.copy_threads);
      };
      return create_(m, shape_of_(src), o, validate, "copy", fill);
    } else {
      static_assert(detail::is_contiguous_range<Src>::value,
                    "copy: expected an mdspan, a shared_array or a contiguous range of T");
      static_assert(
          std::is_same_v<std::remove_cv_t<std::remove_reference_t<decltype(*std::data(src))>>,
                         value_type>,
          "copy: the range's element type must be T");
      auto fill = [&](shared_array& a) {
        if (a.size_) detail::copy_bytes(a.data_, std::data(src), a.nbytes(), o.copy_threads);
      };
      return create_(m, shape_of_(src), o, validate, "copy", fill);
    }
  }

  static shared_array load_(manager* m, const std::string& path, const create_options& o) {
    npy::file_reader r(path, o.max_header_size, "create_options::max_header_size");
    if (!npy::same_dtype<T>(r.data_descr()))  // '>f8' is swapped into a double
      detail::throw_error(
          errc::type_mismatch,
          detail::msg("load '", path, "': the file holds ", detail::describe_descr(r.hdr().descr),
                      ", asked for ", detail::describe_descr(npy::descr<T>()),
                      npy::dtype_difference<T>(r.hdr().descr)));
    create_options opts = o;
    opts.fortran_order = r.hdr().fortran_order;
    auto fill = [&](shared_array& a) {
      detail::populate_pages(a.data_, a.nbytes(), o.copy_threads);  // fault pages in parallel
      r.read_data(a.data_);
    };
    return create_(m, r.hdr().shape, opts, true, "load", fill);
  }

  // attach: open -> read the prefix (pread: the mapping is not touched, so a client pays no page
  // fault it does not need) -> wait for an unpublished segment -> parse -> check T -> check the
  // layout and trailer -> map -> view. Messages are built only on the error paths.
  static shared_array attach_(std::string_view name, const shape_type* expected,
                              const attach_options& o) {
    constexpr std::string_view op = "attach";
    detail::validate_name(op, name);
    detail::deadline limit(o.ready_timeout);
    shared_array a;
    a.seg_ = detail::segment::open(op, std::string(name), read_only, o.allow_foreign_owner, limit,
                                   false);
    const std::string& n = a.seg_.name();
    auto fail = [&n](errc c, const std::string& why) {
      detail::throw_error(c, detail::msg("attach '", n, "': ", why));
    };
    if (a.seg_.size() == 0)
      fail(errc::bad_format,
           detail::msg("the segment is empty (0 bytes) after waiting ", o.ready_timeout.count(),
                       " ms: not a shmarray segment, or its creator died before sizing it"));
    detail::prefix pre;
    detail::read_prefix(a.seg_.fd(), a.seg_.size(), pre);
    if (!pre.published()) await_creator_(a, pre, limit);
    std::atomic_thread_fence(std::memory_order_acquire);
    const std::size_t size = a.seg_.size();
    detail::segment_layout l;
    if (detail::problem p = detail::parse_prefix(
            a.seg_.fd(), size, pre, npy::source(op, n, "attach_options::max_header_size"),
            o.max_header_size, l.header))
      p.raise(op, n);
    const npy::header& h = l.header;
    if (!npy::same_dtype<T>(h.descr))
      fail(errc::type_mismatch,
           detail::msg("the segment holds ", detail::describe_descr(h.descr), ", asked for ",
                       detail::describe_descr(npy::descr<T>()), npy::dtype_difference<T>(h.descr),
                       npy::byte_swapped(h.descr, npy::descr<T>())
                           ? ": the other byte order, which attach cannot swap in place (it maps "
                             "the data); load the .npy file with load(), which swaps on the way "
                             "in, or have NumPy write this host's order"
                           : ""));
    if (detail::problem p = detail::check_layout(a.seg_.fd(), size, pre, sizeof(value_type), l))
      p.raise(op, n);
    if (h.data_offset % alignof(value_type) != 0)
      fail(errc::bad_format,
           detail::msg("the data offset ", h.data_offset, " is not aligned for the element type"));
    if (l.has_trailer && !npy::is_numpy_type<value_type>() && l.tr.type_hash != 0 &&
        l.tr.type_hash != detail::type_hash<value_type>())
      fail(errc::type_mismatch, detail::msg("the segment holds another ", sizeof(value_type),
                                            "-byte struct type (type hash differs from T's)"));
    if (expected && *expected != h.shape)
      fail(errc::shape_mismatch, detail::msg("the segment has shape ", npy::shape_string(h.shape),
                                             ", expected ", npy::shape_string(*expected)));
    a.seg_.map_opened(op, l.huge());
    a.seg_.drop_fd();
    a.set_view_(h.data_offset, std::move(l.header.shape), h.fortran_order);
    if (l.has_trailer) a.trailer_at_ = l.trailer_at;
    if (l.has_sync()) a.sync_ = sync_block_at(a.seg_.base(), l.trailer_at);
    return a;
  }

  // The segment is not published yet. A creator writes the header (all but byte 0) before the
  // file has a size, so a segment without "NUMPY" at bytes 1-5 never was a shmarray/.npy
  // segment: fail at once. Otherwise sleep on the futex of the first word until the creator
  // publishes, then read the (now final) size and the prefix again.
  static void await_creator_(shared_array& a, detail::prefix& pre, detail::deadline& limit) {
    const std::string& n = a.seg_.name();
    if (!pre.unpublished())
      detail::throw_error(
          errc::bad_format,
          detail::msg("attach '", n,
                      "': not a shmarray or .npy segment (no \\x93NUMPY magic, and no creator is "
                      "writing one: byte 0 is ",
                      int{pre.byte0()},
                      "); for a segment of raw data (Python's multiprocessing.shared_memory) use "
                      "attach_raw with the shape"));
    a.seg_.map_opened("attach", false);
    if (a.seg_.wait_ready(limit.at()) == 0)
      detail::throw_error(
          errc::not_ready,
          detail::msg("attach '", n, "': the creator has not published the segment within ",
                      limit.timeout().count(),
                      " ms (byte 0 is still 0); raise attach_options::ready_timeout, or the "
                      "creator died while writing it"));
    a.seg_.refresh_size("attach");
    detail::read_prefix(a.seg_.fd(), a.seg_.size(), pre);
  }

  template <class U, std::size_t Rank, class Layout>
  mdspan<U, dextents<std::size_t, Rank>, Layout> make_view_() const {
    using E = dextents<std::size_t, Rank>;
    if (!is_open())
      detail::throw_error(errc::closed, "view: the shared_array is closed (or moved from)");
    if (Rank != shape_.size())
      detail::throw_error(errc::invalid_argument, "view<" + std::to_string(Rank) + ">() of '" +
                                                      name() + "': the array has rank " +
                                                      std::to_string(shape_.size()) + ", not " +
                                                      std::to_string(Rank));
    std::array<std::size_t, Rank> ext{};
    for (std::size_t r = 0; r < Rank; ++r) ext[r] = shape_[r];
    E e(ext);
    U* p = data_;
    if constexpr (std::is_same_v<Layout, layout_stride>) {
      std::array<std::size_t, Rank> st{};
      std::size_t s = 1;
      for (std::size_t k = 0; k < Rank; ++k) {
        std::size_t r = fortran_ ? k : Rank - 1 - k;
        st[r] = s;
        s *= ext[r];
      }
      return {p, typename Layout::template mapping<E>(e, st)};
    } else {
      static_assert(std::is_same_v<Layout, layout_right> || std::is_same_v<Layout, layout_left>,
                    "view: Layout must be layout_right, layout_left or layout_stride");
      constexpr bool want_fortran = std::is_same_v<Layout, layout_left>;
      if (Rank > 1 && want_fortran != fortran_)
        detail::throw_error(errc::layout_mismatch,
                            "view of '" + name() + "': the array is in " +
                                (fortran_ ? "Fortran (column-major) order; use layout_left"
                                          : "C (row-major) order; use layout_right") +
                                " or layout_stride");
      return {p, typename Layout::template mapping<E>(e)};
    }
  }

  detail::segment seg_;
  T* data_ = nullptr;
  shape_type shape_;
  std::size_t size_ = 0;
  bool fortran_ = false;
  std::shared_ptr<detail::manager_state> mgr_;  // the manager of a managed owner, until released
  detail::sync_block* sync_ = nullptr;  // in the segment, after the trailer; null without one
  std::size_t trailer_at_ = 0;          // where the trailer is; 0 without one
};

}  // namespace shmarray
