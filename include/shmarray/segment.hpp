// A named (or anonymous) shared memory segment: the Boost.Interprocess shared_memory_object that
// creates it (attach opens it through the cached /dev/shm directory with O_NONBLOCK, see
// segment::open) and its mapping (2 MiB-aligned for huge pages, else where the last one was).
// Creation reserves every page (posix_fallocate) so a full /dev/shm is an error now, not a SIGBUS
// later; only the creating process ever unlinks; every failure path removes what it created.
// Nothing here knows the .npy format or the trailer (detail/layout.hpp does).
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <boost/interprocess/permissions.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "detail/huge_pages.hpp"
#include "detail/message.hpp"
#include "detail/names.hpp"
#include "detail/posix.hpp"
#include "detail/shm_dir.hpp"
#include "error.hpp"

namespace shmarray {

namespace detail {

namespace bip = boost::interprocess;

inline int native_of(const bip::interprocess_exception& e) noexcept {
  int n = e.get_native_error();
  if (n != 0) return n;
  switch (e.get_error_code()) {
    case bip::already_exists_error: return EEXIST;
    case bip::not_found_error: return ENOENT;
    case bip::security_error: return EACCES;
    case bip::out_of_space_error: return ENOSPC;
    case bip::out_of_memory_error: return ENOMEM;
    default: return EIO;
  }
}

/// A mapped shared memory segment. Move-only; close() unmaps and, for the owner in the process that
/// created the segment, unlinks the name. create() closes its descriptor once the mapping exists
/// (unless asked to keep it for the fill); open() keeps it (for the pread of header and trailer)
/// until drop_fd().
class segment {
 public:
  segment() = default;
  segment(segment&& o) noexcept { take(o); }
  segment& operator=(segment&& o) noexcept {
    if (this != &o) {
      close();
      take(o);
    }
    return *this;
  }
  segment(const segment&) = delete;
  segment& operator=(const segment&) = delete;
  ~segment() { close(); }

  void swap(segment& o) noexcept {
    map_.swap(o.map_);
    name_.swap(o.name_);
    std::swap(owner_, o.owner_);
    std::swap(unlink_, o.unlink_);
    std::swap(fd_, o.fd_);
    std::swap(creator_pid_, o.creator_pid_);
    std::swap(dir_fd_, o.dir_fd_);
    std::swap(size_, o.size_);
    std::swap(aligned_, o.aligned_);
    std::swap(huge_, o.huge_);
    std::swap(read_only_, o.read_only_);
  }

  /// Creates `name` with exactly `mode`, writes `head` at offset 1 (byte 0 stays 0) *before* the
  /// file has its size -- so whoever opens a sized segment finds those bytes in place -- then
  /// reserves `size` bytes and maps them read-write, on huge pages as `hp` asks (see
  /// create_huge). In /dev/shm through Boost's shared_memory_object, or, with `dir_fd` >= 0, in
  /// that directory (the tool's SHMARRAY_SHM_DIR). With `keep_fd`, memory left on 4 KiB pages
  /// keeps a descriptor of the file until drop_fd(), for filling by pwrite/sendfile (fd() is -1
  /// on huge pages, or if it could not: the caller writes through the mapping then). Throws
  /// already_exists, no_space, permission_denied, ... and leaves nothing behind.
  static segment create(std::string_view op, const std::string& name, std::size_t size,
                        unsigned mode, huge_pages hp, std::string_view head, int dir_fd = -1,
                        bool keep_fd = false) {
    segment s;
    bip::shared_memory_object shm;
    unique_fd own;
    if (dir_fd < 0) {
      bip::permissions perm;
      perm.set_permissions(static_cast<int>(mode & 07777));
      try {
        bip::shared_memory_object(bip::create_only, name.c_str(), bip::read_write, perm).swap(shm);
      } catch (const bip::interprocess_exception& e) {
        throw_os(op, name, "shm_open", native_of(e));
      }
    } else {
      own.reset(retry([&] {
        return ::openat(dir_fd, name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        static_cast<mode_t>(mode & 07777));
      }));
      if (!own) throw_os(op, name, "open", errno);
    }
    s.name_ = name;
    s.dir_fd_ = dir_fd;
    // From here on the name exists: any failure must remove it.
    scope_guard guard([&s] { s.remove_name(); });
    const int fd = dir_fd < 0 ? shm.get_mapping_handle().handle : own.get();
    if (dir_fd >= 0 && ::fchmod(fd, static_cast<mode_t>(mode & 07777)) != 0)  // whatever the umask
      throw_os(op, name, "fchmod", errno);
    if (!head.empty() && size > head.size() && !pwrite_full(fd, head.data(), head.size(), 1))
      errno == ENOSPC ? throw_no_space(op, name, size, errno) : throw_os(op, name, "pwrite", errno);
    if (size > 0) {
      if (hp != huge_pages::off && size >= huge_page_min_bytes) s.create_huge(op, fd, size, hp);
      const int r = retry_rc([&] { return ::posix_fallocate(fd, 0, static_cast<off_t>(size)); });
      if (r == ENOSPC || r == ENOMEM || r == EFBIG) throw_no_space(op, name, size, r);
      if (r == EOPNOTSUPP || r == ENODEV) {
        if (::ftruncate(fd, static_cast<off_t>(size)) != 0) throw_os(op, name, "ftruncate", errno);
      } else if (r != 0) {
        throw_os(op, name, "posix_fallocate", r);
      }
      if (!s.map_) s.map_plain(op, fd, PROT_READ | PROT_WRITE, size);
    }
    s.owner_ = true;
    s.unlink_ = true;
    s.creator_pid_ = ::getpid();
    s.size_ = size;
    if (keep_fd && !s.huge_)  // on huge pages the mapping fills as fast (a fault per 2 MiB)
      s.fd_ = dir_fd < 0 ? ::fcntl(fd, F_DUPFD_CLOEXEC, 0) : own.release();
    guard.dismiss();
    return s;
  }

  /// Opens an existing segment into this closed one (constructed in place: attach's hot path pays
  /// no move) and maps all of it (read-only when `read_only`). The size is read
  /// with fstat on the descriptor that is mapped. When the segment is still empty (its creator has
  /// not sized it yet) waits until `limit` passes. Keeps the descriptor (for
  /// pread) until drop_fd().
  ///
  /// The descriptor comes from shm_open with O_NONBLOCK and is the one mapped: a FIFO
  /// planted under the name then cannot block the open (O_NONBLOCK), and fstat on the very object
  /// that is mapped refuses it, with no window between a check and the open.
  /// With `map_now` false the caller maps with map_opened() once it has read the trailer.
  void open(std::string_view op, std::string name, bool read_only, bool allow_foreign_owner,
            deadline& limit, bool map_now = true) {
    segment& s = *this;
    s.name_ = std::move(name);
    struct stat st {};
    s.fd_ = open_shm(s.name_.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_NONBLOCK, &st);
    if (s.fd_ < 0) {
      int e = errno;
      // glibc's shm_open reports a directory (EISDIR) as EINVAL, as it does a name with a '/'.
      if ((e == EINVAL || e == EISDIR) && !s.name_.empty() &&
          s.name_.find('/') == std::string::npos)
        throw_not_regular(op, s.name_);
      throw_os(op, s.name_, "shm_open", e);
    }
    long backoff_us = 20;
    for (;;) {
      if (!S_ISREG(st.st_mode)) throw_not_regular(op, s.name_);
      if (st.st_size > 0 || limit.passed()) break;
      timespec ts{0, backoff_us * 1000};
      ::nanosleep(&ts, nullptr);
      if (backoff_us < 2000) backoff_us *= 2;
      if (::fstat(s.fd_, &st) != 0) throw_os(op, s.name_, "fstat", errno);
    }
    if (!allow_foreign_owner && st.st_uid != ::geteuid())
      throw_error(errc::permission_denied,
                  msg(op, ' ', quote_name(s.name_), ": the segment belongs to uid ", st.st_uid,
                      ", not to this process (uid ", ::geteuid(),
                      "); another user could have planted it. Pass "
                      "attach_options{.allow_foreign_owner = true} if it is expected"));
    s.size_ = static_cast<std::size_t>(st.st_size);
    s.read_only_ = read_only;
    if (map_now) s.map_opened(op, false);
  }

  /// Maps the segment open() opened without mapping it (or maps it again): 2 MiB-aligned when
  /// `huge` (its trailer says so), so its huge pages are mapped by PMDs.
  void map_opened(std::string_view op, bool huge) {
    if (size_ == 0 || (map_ && (!huge || aligned_))) return;
    const int prot = read_only_ ? PROT_READ : PROT_READ | PROT_WRITE;
    if (huge && size_ >= huge_page_min_bytes) {
      void* p = map_aligned_or_throw(op, fd_, size_, prot);
      map_ = raw_mapping(p, size_);
      aligned_ = true;
      huge_ = true;
      return;
    }
    map_plain(op, fd_, prot, size_);
  }

  /// Reads the size again (after a wait for the creator: the file it opened may have been only
  /// the header then); a mapping of the old size is dropped so map_opened() maps all of it.
  void refresh_size(std::string_view op) {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw_os(op, name_, "fstat", errno);
    const auto n = static_cast<std::size_t>(st.st_size);
    if (n == size_) return;
    map_.reset();
    aligned_ = false;
    size_ = n;
  }

  /// Anonymous shared memory (no name; shared with children forked after this call).
  static segment anonymous(std::string_view op, std::size_t size, huge_pages hp = huge_pages::off) {
    segment s;
    if (size > 0 && hp != huge_pages::off && size >= huge_page_min_bytes) {
      void* p = map_shared_anonymous(size, true, &s.huge_);
      if (p == MAP_FAILED) throw_no_space(op, "(anonymous)", size, errno);
      s.map_ = raw_mapping(p, size);
      s.aligned_ = true;
      if (hp == huge_pages::require && !s.huge_)
        throw_error(errc::no_space, msg(op,
                                        " (anonymous): huge pages were required and the kernel "
                                        "gave none (THP disabled, or no free 2 MiB blocks)"));
    } else if (size > 0) {
      void* p = map_shared_anonymous(size, false);
      if (p == MAP_FAILED) {
        const int n = errno;
        if (n == ENOMEM || n == ENOSPC) throw_no_space(op, "(anonymous)", size, n);
        throw_os(op, "(anonymous)", "mmap", n);
      }
      s.map_ = raw_mapping(p, size);
    }
    s.size_ = size;
    s.owner_ = true;
    s.creator_pid_ = ::getpid();
    return s;
  }

  void* base() const noexcept { return map_.get(); }
  /// True when the segment is (partly) on huge pages, or flagged so by its creator.
  bool huge() const noexcept { return huge_; }
  /// The descriptor open() (or create() with keep_fd) keeps until drop_fd() (-1 otherwise).
  int fd() const noexcept { return fd_; }
  std::size_t size() const noexcept { return size_; }
  const std::string& name() const noexcept { return name_; }
  bool owner() const noexcept { return owner_; }
  bool is_open() const noexcept { return mapped() || !name_.empty() || owner_; }

  /// Unmaps; unlinks when this is the owner and this process created the segment. Never throws.
  void close() noexcept {
    drop_fd();
    map_.reset();
    aligned_ = false;
    huge_ = false;
    if (unlink_ && !name_.empty() && creator_pid_ == ::getpid()) remove_name();
    owner_ = false;
    unlink_ = false;
    name_.clear();
    size_ = 0;
    creator_pid_ = 0;
    dir_fd_ = -1;
  }

  /// Closes the descriptor open() kept (the mapping stays).
  void drop_fd() noexcept {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }

  /// Unlinks the name now when this handle would at close() (the owner, in the creating process),
  /// keeping the mapping; returns true if it did. Afterwards close() unlinks nothing.
  bool unlink() noexcept {
    const bool mine = unlink_ && !name_.empty() && creator_pid_ == ::getpid();
    if (mine) remove_name();
    unlink_ = false;
    return mine;
  }
  /// Stops this handle from ever unlinking (a manager took that duty); it stays the owner.
  void disown() noexcept { unlink_ = false; }

  /// Waits until byte 0 of the mapping is non-zero (the creator published) or `deadline` passes;
  /// returns byte 0 (see wait_byte0).
  unsigned char wait_ready(std::chrono::steady_clock::time_point deadline) const noexcept {
    return mapped() && size_ >= 4 ? wait_byte0(base(), deadline) : 0;
  }

  /// Stores `b` to byte 0 with release ordering and wakes every process waiting in wait_ready.
  void publish(unsigned char b) noexcept {
    if (!mapped()) return;
    __atomic_store_n(static_cast<unsigned char*>(base()), b, __ATOMIC_RELEASE);
    if (!name_.empty()) futex_wake_all(base());
  }

 private:
  bool mapped() const noexcept { return static_cast<bool>(map_); }

  void remove_name() const noexcept {
    if (dir_fd_ >= 0)
      ::unlinkat(dir_fd_, name_.c_str(), 0);
    else
      bip::shared_memory_object::remove(name_.c_str());
  }

  // A shared, 2 MiB-aligned mapping of `size` bytes of `fd` (detail/huge_pages.hpp); ENOMEM is
  // no_space, any other failure the OS error.
  void* map_aligned_or_throw(std::string_view op, int fd, std::size_t size, int prot) const {
    void* p = map_aligned(size, prot, MAP_SHARED, fd);
    if (p == MAP_FAILED) {
      const int e = errno;
      if (e == ENOMEM) throw_no_space(op, name_, size, e);
      throw_os(op, name_, "mmap", e);
    }
    return p;
  }

  // The huge-page path of create() for the new file fd of `size` bytes: size it, map it
  // 2 MiB-aligned, seed and collapse its whole 2 MiB blocks (detail/huge_pages.hpp); create()'s
  // posix_fallocate then reserves whatever is not on huge pages yet, so a full /dev/shm is still
  // no_space here. `require`: no_space unless every whole block became a huge page.
  void create_huge(std::string_view op, int fd, std::size_t size, huge_pages hp) {
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) throw_os(op, name_, "ftruncate", errno);
    map_ = raw_mapping(map_aligned_or_throw(op, fd, size, PROT_READ | PROT_WRITE), size);
    aligned_ = true;
    void* p = map_.get();
    const collapse_result c = collapse_file(fd, p, size);
    huge_ = c.collapsed > 0;
    if (c.error == ENOSPC) throw_no_space(op, name_, size, ENOSPC);
    if (hp == huge_pages::require && c.collapsed < c.blocks)
      throw_error(errc::no_space,
                  msg(op, ' ', quote_name(name_), ": huge pages were required; ", c.collapsed,
                      " of ", c.blocks, " 2 MiB blocks became huge pages (",
                      c.error ? std::strerror(c.error) : "no error",
                      "): THP disabled (transparent_hugepage/shmem_enabled deny, "
                      "PR_SET_THP_DISABLE), Linux < 6.1, or no free 2 MiB blocks"),
                  c.error);
  }

  // A shared mapping of `size` bytes of fd where the last one was (map_reusing, no alignment:
  // 4 KiB pages); ENOMEM is no_space, any other failure the OS error.
  void map_plain(std::string_view op, int fd, int prot, std::size_t size) {
    void* p = map_reusing(size, prot, MAP_SHARED, fd);
    if (p == MAP_FAILED) {
      const int e = errno;
      if (e == ENOMEM) throw_no_space(op, name_, size, e);
      throw_os(op, name_, "mmap", e);
    }
    map_ = raw_mapping(p, size);
    aligned_ = false;
  }

  // Moves o into this empty segment (close() left it unmapped and the rest cleared).
  void take(segment& o) noexcept {
    map_ = std::move(o.map_);
    name_ = std::move(o.name_);
    o.name_.clear();
    owner_ = std::exchange(o.owner_, false);
    unlink_ = std::exchange(o.unlink_, false);
    fd_ = std::exchange(o.fd_, -1);
    creator_pid_ = std::exchange(o.creator_pid_, 0);
    dir_fd_ = std::exchange(o.dir_fd_, -1);
    size_ = std::exchange(o.size_, 0);
    aligned_ = std::exchange(o.aligned_, false);
    huge_ = std::exchange(o.huge_, false);
    read_only_ = std::exchange(o.read_only_, false);
  }

  raw_mapping map_;  // the whole segment, mapped
  std::string name_;
  int fd_ = -1;  // kept by open() (and create(keep_fd)) until drop_fd()
  bool owner_ = false;
  bool unlink_ = false;
  bool aligned_ = false;  // map_ is 2 MiB-aligned (huge pages)
  bool huge_ = false;
  bool read_only_ = false;
  long creator_pid_ = 0;
  int dir_fd_ = -1;  // create() in another directory than /dev/shm (not owned)
  std::size_t size_ = 0;
};

}  // namespace detail
}  // namespace shmarray
