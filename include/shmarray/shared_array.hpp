// shmarray::shared_array<T>: one N-dimensional array in shared memory, reachable from every process
// that knows its name (or that was forked after it was made). The segment is an .npy file followed
// by a 64-byte trailer, so attach() needs no shape or dtype and NumPy opens it with
// np.load(mmap_mode). Handles are move-only owners (made it) or clients (attached to it); T = const
// U attaches read-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "detail/copy.hpp"
#include "detail/factory.hpp"
#include "detail/layout.hpp"
#include "detail/message.hpp"
#include "detail/names.hpp"
#include "detail/type_hash.hpp"
#include "detail/view.hpp"
#include "error.hpp"
#include "manager.hpp"
#include "mdspan.hpp"
#include "npy.hpp"
#include "npy_dtype.hpp"
#include "npy_file.hpp"
#include "options.hpp"
#include "segment.hpp"
#include "sync.hpp"

namespace shmarray {

template <class T>
class shared_array : public detail::sync_access<shared_array<T>, T> {
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
    std::swap(this->sync_, o.sync_);
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
    return create_(&m, detail::shape_of(like), o, true, "allocate_like", no_fill_);
  }
  template <class Like>
  static shared_array allocate_like(const Like& like, const create_options& o = {}) {
    return create_(nullptr, detail::shape_of(like), o, true, "allocate_like", no_fill_);
  }
  template <class Like>
  static shared_array allocate_like_unsafe(manager& m, const Like& like,
                                           const create_options& o = {}) {
    return create_(&m, detail::shape_of(like), o, false, "allocate_like", no_fill_);
  }
  template <class Like>
  static shared_array allocate_like_unsafe(const Like& like, const create_options& o = {}) {
    return create_(nullptr, detail::shape_of(like), o, false, "allocate_like", no_fill_);
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
      detail::throw_error(errc::closed,
                          detail::msg("save '", path, "': the shared_array is closed"));
    npy::write_file(path, npy::descr<T>(), fortran_, shape_, data_, nbytes());
  }

  /// Shared memory with no name, for fork-based pools: children forked after this call share it;
  /// nothing can attach to it by name and nothing is left behind when the last process exits.
  static shared_array allocate_anonymous(shape_type shape, bool fortran_order = false,
                                         huge_pages hp = huge_pages::prefer) {
    static_assert(!read_only, "shared_array<const T> cannot allocate; attach instead");
    constexpr std::string_view op = "allocate_anonymous";
    detail::check_shape(op, "(anonymous)", shape, sizeof(value_type));
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
    shared_array a;
    const auto [off, fortran] =
        detail::open_unsafe(a.seg_, name, read_only, shape, sizeof(value_type));
    a.set_view_(off, std::move(shape), fortran);
    return a;
  }
  /// Attaches to a segment with no header: the data starts at offset 0, as in segments made by
  /// Python's multiprocessing.shared_memory (and the shared-memory-array package). Checks only that
  /// the segment holds at least prod(shape) * sizeof(T) bytes.
  static shared_array attach_raw(std::string_view name, shape_type shape,
                                 const attach_options& o = {}) {
    shared_array a;
    detail::open_raw(a.seg_, name, read_only, shape, sizeof(value_type), o);
    a.set_view_(0, std::move(shape), false);
    return a;
  }

  // ---- Views and data -----------------------------------------------------------------------

  /// An mdspan over the array: layout_right for C order, layout_left for Fortran order (either
  /// for rank <= 1), layout_stride for both. Valid while this handle is open.
  template <std::size_t Rank, class Layout = layout_right>
  mdspan<T, dextents<std::size_t, Rank>, Layout> view() {
    return detail::make_view<T, Rank, Layout>(data_, shape_, fortran_, is_open(), name());
  }
  template <std::size_t Rank, class Layout = layout_right>
  mdspan<const T, dextents<std::size_t, Rank>, Layout> view() const {
    return detail::make_view<const T, Rank, Layout>(data_, shape_, fortran_, is_open(), name());
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

  // ---- Change notification, the lock, snapshots: detail::sync_access (sync.hpp) -------------
  // has_sync, generation, notify, wait_changed, lock/try_lock*/unlock, lock_recovered, update,
  // read_consistent, snapshot.

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
    this->sync_ = nullptr;
    trailer_at_ = 0;
    data_ = nullptr;
    shape_.clear();
    size_ = 0;
    fortran_ = false;
  }

 private:
  template <class>
  friend class shared_array;

  static detail::layout_plan plan_(std::string_view op, std::string_view name,
                                   const shape_type& shape, bool fortran) {
    return detail::plan_layout(op, name, npy::descr<T>(), fortran, shape, sizeof(value_type));
  }

  // Writes trailer and sync block (and the header, for memory made without a file: anonymous) and
  // sets the view; the caller fills the data, then publishes.
  void finish_create_(shape_type shape, bool fortran, const detail::layout_plan& plan,
                      bool header_too) {
    const std::uint32_t flags = seg_.huge() && !seg_.name().empty() ? detail::trailer_flag_huge : 0;
    this->sync_ = detail::write_layout(static_cast<unsigned char*>(seg_.base()), plan, header_too,
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

  static void no_fill_(shared_array&, int, std::size_t) noexcept {}

  // The one creation path: validate (unless unsafe), plan the layout, create and reserve the
  // segment (tracked by the manager first), write header and trailer, fill, publish. fill(a, fd,
  // data_offset) gets the segment's descriptor when `file_fill` asks for it and the memory is on
  // 4 KiB pages (filling by pwrite/sendfile pays then), else -1.
  template <class Fill>
  static shared_array create_(manager* m, shape_type shape, const create_options& o, bool validate,
                              std::string_view op, Fill&& fill, bool file_fill = false) {
    static_assert(!read_only, "shared_array<const T> cannot allocate; attach instead");
    // The shape is checked in every variant (an overflow check costs nothing, and a handle whose
    // size() exceeds its mapping would be a lie); _unsafe skips the name and mode checks.
    detail::check_shape(op, o.name.empty() ? std::string_view("(new)") : std::string_view(o.name),
                        shape, sizeof(value_type));
    if (validate) detail::validate_create(op, o);
    const detail::layout_plan plan = plan_(op, o.name, shape, o.fortran_order);
    shared_array a;  // with a manager, the manager decides when the name goes (see close())
    detail::create_segment(a.seg_, a.mgr_, m, op, o, plan,
                           file_fill && plan.data_bytes >= detail::file_write_min_bytes);
    a.finish_create_(std::move(shape), o.fortran_order, plan, false);
    // if fill throws, a's destructor unlinks (and untracks) what was created
    fill(a, a.seg_.fd(), plan.data_offset());
    a.seg_.drop_fd();
    a.seg_.publish(detail::published_byte);
    return a;
  }

  template <class Src>
  static shared_array copy_(manager* m, const Src& src, const create_options& o, bool validate) {
    if constexpr (detail::is_shared_array<Src>::value)
      if (!src.is_open())
        detail::throw_error(errc::closed, "copy: the source shared_array is closed");
    auto fill = [&](shared_array& a, int fd, std::size_t data_offset) {
      detail::copy_from(a.data_, a.fortran_, a.size_, src, o.copy_threads, fd, data_offset);
    };
    return create_(m, detail::shape_of(src), o, validate, "copy", fill, true);
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
    auto fill = [&](shared_array& a, int fd, std::size_t data_offset) {
      if (fd >= 0 && !r.swaps_bytes()) return r.send_data_as_stored(fd, data_offset, a.data_);
      detail::populate_pages(a.data_, a.nbytes(), o.copy_threads);  // fault pages in parallel
      r.read_data(a.data_);
    };
    return create_(m, r.hdr().shape, opts, true, "load", fill, true);
  }

  // attach: detail::open_checked (factory.hpp) opens, waits, validates and maps; here the view.
  static shared_array attach_(std::string_view name, const shape_type* expected,
                              const attach_options& o) {
    shared_array a;
    detail::segment_layout l = detail::open_checked(
        a.seg_, name, read_only, o, detail::element_info_of<value_type>(), expected);
    a.set_view_(l.header.data_offset, std::move(l.header.shape), l.header.fortran_order);
    if (l.has_trailer) a.trailer_at_ = l.trailer_at;
    if (l.has_sync()) a.sync_ = sync_block_at(a.seg_.base(), l.trailer_at);
    return a;
  }

  detail::segment seg_;
  T* data_ = nullptr;
  shape_type shape_;
  std::size_t size_ = 0;
  bool fortran_ = false;
  std::shared_ptr<detail::manager_state> mgr_;  // the manager of a managed owner, until released
  std::size_t trailer_at_ = 0;                  // where the trailer is; 0 without one
};

}  // namespace shmarray
