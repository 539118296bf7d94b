// A named (or anonymous) shared memory segment: the Boost.Interprocess shared_memory_object that
// creates it (attach opens it with shm_open and O_NONBLOCK, see segment::open), its Boost
// mapped_region, and the 64-byte shmarray trailer. Creation reserves every page
// (posix_fallocate) so a full /dev/shm is an error now, not a SIGBUS later; only the creating
// process ever unlinks; every failure path removes what it created.
#pragma once

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <boost/interprocess/anonymous_shared_memory.hpp>
#include <boost/interprocess/detail/os_file_functions.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/permissions.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "detail/huge_pages.hpp"
#include "detail/shm_dir.hpp"
#include "error.hpp"

namespace shmarray {

/// The longest segment name accepted (the file /dev/shm/<name> must fit NAME_MAX).
inline constexpr std::size_t max_name_length = 255;
/// Generated names: "shmarray-" and 16 hex digits (64 bits from the OS), 25 characters.
inline constexpr std::size_t generated_name_length = 25;

namespace detail {

namespace bip = boost::interprocess;

/// The shmarray control block, at align_up(data end, 64): 64 bytes, native byte order. From
/// version 2 on, the segment's 192-byte sync block follows it (sync.hpp).
struct trailer {
  char magic[8];                // "SHMARRAY"
  std::uint32_t version;        // trailer format version (2; 1: no sync block)
  std::uint32_t flags;          // trailer_flag_detached | trailer_flag_huge
  std::uint64_t creator_pid;    // the process that created the segment
  std::uint64_t creator_start;  // its start time (clock ticks since boot, /proc/<pid>/stat)
  std::uint64_t elem_size;      // sizeof(T)
  std::uint64_t type_hash;      // identifies T beyond its descr (for |V types)
  std::uint64_t data_offset;    // where the elements start
  std::uint64_t data_bytes;     // prod(shape) * sizeof(T)
};
static_assert(sizeof(trailer) == 64, "the trailer is 64 bytes");
inline constexpr char trailer_magic[8] = {'S', 'H', 'M', 'A', 'R', 'R', 'A', 'Y'};
inline constexpr std::uint32_t trailer_version = 2;
/// Trailer flag: the segment is meant to outlive its creator (shared_array::persist(), the tool's
/// load); `shmarray gc` keeps it even when the creator is dead.
inline constexpr std::uint32_t trailer_flag_detached = 1u;
/// Trailer flag: the creator put (some of) the segment on 2 MiB huge pages, so attach maps it
/// 2 MiB-aligned (create_options::huge_pages).
inline constexpr std::uint32_t trailer_flag_huge = 2u;

constexpr std::size_t align_up(std::size_t n, std::size_t a) noexcept {
  return (n + a - 1) / a * a;
}

inline std::string quote_name(std::string_view name) {
  return "'" + std::string(name) + "'";
}

/// Start time of process `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat), 0 if
/// unknown. With the pid it identifies a process even after its pid is reused.
inline std::uint64_t process_start_time(long pid) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');  // the command name may contain spaces and ')'
  if (!p) return 0;
  int field = 2;  // p points at the end of field 2
  for (++p; *p && field < 22; ++p)
    if (*p == ' ') ++field;
  return std::strtoull(p, nullptr, 10);
}

/// This process's start time, cached per pid (a forked child has its own).
inline std::uint64_t self_start_time() noexcept {
  static thread_local long cached_pid = -1;
  static thread_local std::uint64_t cached = 0;
  long pid = static_cast<long>(::getpid());
  if (pid != cached_pid) {
    cached = process_start_time(pid);
    cached_pid = pid;
  }
  return cached;
}

/// Checks a user-given name before any system call.
inline void validate_name(std::string_view op, std::string_view name) {
  auto bad = [&](const std::string& why) {
    throw_error(errc::invalid_argument,
                std::string(op) + " " + quote_name(name.substr(0, 64)) + ": invalid name: " + why);
  };
  if (name.empty()) bad("it is empty (pass no name to have one generated)");
  if (name.size() > max_name_length)
    bad("it has " + std::to_string(name.size()) + " characters, at most " +
        std::to_string(max_name_length) + " are allowed");
  if (name.find('/') != std::string_view::npos)
    bad("it contains '/' (give the name without a slash)");
  if (name.find('\0') != std::string_view::npos) bad("it contains a NUL character");
  if (name == "." || name == "..") bad("'.' and '..' are not segment names");
}

/// A fresh name with 64 bits of OS randomness (getrandom).
inline std::string generate_name() {
  std::uint64_t r = 0;
  auto* p = reinterpret_cast<unsigned char*>(&r);
  std::size_t got = 0;
  while (got < sizeof r) {
    ssize_t n = ::getrandom(p + got, sizeof r - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_error(errc::system_error,
                  std::string("generate a segment name: getrandom failed: ") + std::strerror(errno),
                  errno);
    }
    got += static_cast<std::size_t>(n);
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "shmarray-%016llx", static_cast<unsigned long long>(r));
  return buf;
}

inline std::string human_bytes(std::uint64_t n) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[48];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(n));
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

[[noreturn]] inline void throw_no_space(std::string_view op, std::string_view name,
                                        std::uint64_t asked, int native) {
  struct statvfs vfs {};
  std::string free_part = "free space unknown";
  if (::statvfs("/dev/shm", &vfs) == 0) {
    std::uint64_t free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    free_part =
        std::to_string(free_bytes) + " bytes (" + human_bytes(free_bytes) + ") free in /dev/shm";
  }
  throw_error(errc::no_space,
              std::string(op) + " " + quote_name(name) + ": not enough shared memory: asked for " +
                  std::to_string(asked) + " bytes (" + human_bytes(asked) + "), " + free_part +
                  "; remove stale segments (shmarray gc) or, in a container, give it more "
                  "(docker run --shm-size=...)",
              native);
}

[[noreturn]] inline void throw_os(std::string_view op, std::string_view name, std::string_view call,
                                  int e) {
  errc c = errc_from_errno(e);
  std::string msg = std::string(op) + " " + quote_name(name) + ": " + std::string(call) +
                    " failed: " + std::strerror(e);
  if (c == errc::not_found) msg = std::string(op) + " " + quote_name(name) + ": no such segment";
  if (c == errc::already_exists)
    msg = std::string(op) + " " + quote_name(name) + ": a segment of that name exists already";
  if (c == errc::permission_denied)
    msg = std::string(op) + " " + quote_name(name) + ": permission denied (" + std::string(call) +
          ")";
  throw_error(c, msg, e);
}

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

inline void futex_wake_all(void* addr) noexcept {
  ::syscall(SYS_futex, addr, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

/// Waits (at most `ns`) while the 32-bit word at addr still equals `seen`.
inline void futex_wait(const void* addr, std::uint32_t seen, std::int64_t ns) noexcept {
  timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  ::syscall(SYS_futex, addr, FUTEX_WAIT, seen, &ts, nullptr, 0);
}

[[noreturn]] inline void throw_not_regular(std::string_view op, std::string_view name) {
  throw_error(errc::bad_format,
              std::string(op) + " " + quote_name(name) + ": not a regular file, so not a segment");
}

/// How long an attach may wait for its creator. The clock is read only when a wait begins, so an
/// attach that never waits never reads it.
class deadline {
 public:
  explicit deadline(std::chrono::milliseconds timeout) noexcept : timeout_(timeout) {}
  std::chrono::steady_clock::time_point at() noexcept {
    if (!started_) {
      at_ = std::chrono::steady_clock::now() + timeout_;
      started_ = true;
    }
    return at_;
  }
  bool passed() noexcept { return std::chrono::steady_clock::now() >= at(); }

 private:
  std::chrono::milliseconds timeout_;
  std::chrono::steady_clock::time_point at_{};
  bool started_ = false;
};

/// A mapped shared memory segment. Move-only; close() unmaps and, for the owner in the process that
/// created the segment, unlinks the name. create() closes its descriptor once the mapping exists;
/// open() keeps it for read_at() until drop_fd().
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
    region_.swap(o.region_);
    name_.swap(o.name_);
    std::swap(owner_, o.owner_);
    std::swap(unlink_, o.unlink_);
    std::swap(fd_, o.fd_);
    std::swap(creator_pid_, o.creator_pid_);
    std::swap(size_, o.size_);
    std::swap(mapped_, o.mapped_);
    aligned_.swap(o.aligned_);
    std::swap(huge_, o.huge_);
    std::swap(read_only_, o.read_only_);
  }

  /// Creates `name` with exactly `mode`, reserves `size` bytes and maps them read-write, on huge
  /// pages as `hp` asks (see create_huge). Throws already_exists, no_space, permission_denied, ...
  /// and leaves nothing behind.
  static segment create(std::string_view op, const std::string& name, std::size_t size,
                        unsigned mode, huge_pages hp = huge_pages::off) {
    segment s;
    bip::permissions perm;
    perm.set_permissions(static_cast<int>(mode & 07777));
    bip::shared_memory_object shm;
    try {
      bip::shared_memory_object(bip::create_only, name.c_str(), bip::read_write, perm).swap(shm);
    } catch (const bip::interprocess_exception& e) {
      throw_os(op, name, "shm_open", native_of(e));
    }
    // From here on the name exists: any failure must remove it.
    struct unlink_guard {
      const std::string& n;
      bool armed = true;
      ~unlink_guard() {
        if (armed) bip::shared_memory_object::remove(n.c_str());
      }
    } guard{name};
    s.name_ = name;
    if (size > 0) {
      int fd = shm.get_mapping_handle().handle;
      if (hp != huge_pages::off && size >= huge_page_min_bytes) s.create_huge(op, fd, size, hp);
      int r;
      do {
        r = ::posix_fallocate(fd, 0, static_cast<off_t>(size));
      } while (r == EINTR);
      if (r == ENOSPC || r == ENOMEM || r == EFBIG) throw_no_space(op, name, size, r);
      if (r == EOPNOTSUPP || r == ENODEV) {
        if (::ftruncate(fd, static_cast<off_t>(size)) != 0) throw_os(op, name, "ftruncate", errno);
      } else if (r != 0) {
        throw_os(op, name, "posix_fallocate", r);
      }
      if (!s.aligned_) s.map(op, shm, bip::read_write, size);
    }
    s.owner_ = true;
    s.unlink_ = true;
    s.creator_pid_ = ::getpid();
    s.size_ = size;
    guard.armed = false;
    return s;
  }

  /// Opens an existing segment and maps all of it (read-only when `read_only`). The size is read
  /// with fstat on the descriptor that is mapped. When the segment is still empty (its creator has
  /// not sized it yet) waits until `limit` passes. Keeps the descriptor for read_at() until
  /// drop_fd().
  ///
  /// The descriptor comes from shm_open with O_NONBLOCK and goes to Boost's mapped_region: a FIFO
  /// planted under the name then cannot block the open (O_NONBLOCK), and fstat on the very object
  /// that is mapped refuses it, with no window between a check and the open.
  /// With `map_now` false the caller maps with map_opened() once it has read the trailer.
  static segment open(std::string_view op, std::string name, bool read_only,
                      bool allow_foreign_owner, deadline& limit, bool map_now = true) {
    segment s;
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
                  std::string(op) + " " + quote_name(s.name_) + ": the segment belongs to uid " +
                      std::to_string(st.st_uid) + ", not to this process (uid " +
                      std::to_string(::geteuid()) +
                      "); another user could have planted it. Pass "
                      "attach_options{.allow_foreign_owner = true} if it is expected");
    s.size_ = static_cast<std::size_t>(st.st_size);
    s.read_only_ = read_only;
    if (map_now) s.map_opened(op, false);
    return s;
  }

  /// Maps the segment open() opened without mapping it (or maps it again): 2 MiB-aligned when
  /// `huge` (its trailer says so), so its huge pages are mapped by PMDs.
  void map_opened(std::string_view op, bool huge) {
    if (size_ == 0 || (mapped() && (!huge || aligned_))) return;
    if (huge && size_ >= huge_page_min_bytes) {
      void* p =
          map_aligned_or_throw(op, fd_, size_, read_only_ ? PROT_READ : PROT_READ | PROT_WRITE);
      if (mapped_) {
        bip::mapped_region().swap(region_);
        mapped_ = false;
      }
      aligned_ = raw_mapping(p, size_);
      huge_ = true;
      return;
    }
    map(op, fd_mappable{fd_}, read_only_ ? bip::read_only : bip::read_write, size_);
  }

  /// Anonymous shared memory (no name; shared with children forked after this call).
  static segment anonymous(std::string_view op, std::size_t size, huge_pages hp = huge_pages::off) {
    segment s;
    if (size > 0 && hp != huge_pages::off && size >= huge_page_min_bytes) {
      void* p = map_shared_anonymous(size, true, &s.huge_);
      if (p == MAP_FAILED) throw_no_space(op, "(anonymous)", size, errno);
      s.aligned_ = raw_mapping(p, size);
      if (hp == huge_pages::require && !s.huge_)
        throw_error(errc::no_space, std::string(op) +
                                        " (anonymous): huge pages were required and the kernel "
                                        "gave none (THP disabled, or no free 2 MiB blocks)");
    } else if (size > 0) {
      try {
        bip::anonymous_shared_memory(size).swap(s.region_);
      } catch (const bip::interprocess_exception& e) {
        int n = native_of(e);
        if (n == ENOMEM || n == ENOSPC) throw_no_space(op, "(anonymous)", size, n);
        throw_os(op, "(anonymous)", "mmap", n);
      }
      s.mapped_ = true;
    }
    s.size_ = size;
    s.owner_ = true;
    s.creator_pid_ = ::getpid();
    return s;
  }

  void* base() const noexcept {
    return aligned_ ? aligned_.get() : mapped_ ? region_.get_address() : nullptr;
  }
  /// True when the segment is (partly) on huge pages, or flagged so by its creator.
  bool huge() const noexcept { return huge_; }
  /// The descriptor open() keeps until drop_fd() (-1 otherwise).
  int fd() const noexcept { return fd_; }
  std::size_t size() const noexcept { return size_; }
  const std::string& name() const noexcept { return name_; }
  bool owner() const noexcept { return owner_; }
  long creator_pid() const noexcept { return creator_pid_; }
  bool is_open() const noexcept { return mapped() || !name_.empty() || owner_; }

  /// Unmaps; unlinks when this is the owner and this process created the segment. Never throws.
  void close() noexcept {
    drop_fd();
    if (mapped_) {
      bip::mapped_region().swap(region_);
      mapped_ = false;
    }
    aligned_.reset();
    huge_ = false;
    if (unlink_ && !name_.empty() && creator_pid_ == ::getpid())
      bip::shared_memory_object::remove(name_.c_str());
    owner_ = false;
    unlink_ = false;
    name_.clear();
    size_ = 0;
    creator_pid_ = 0;
  }

  /// Reads up to n bytes at `off` through the descriptor that open() keeps (no page fault on the
  /// mapping, which a later reader may never touch). Returns the bytes read, 0 without a
  /// descriptor.
  std::size_t read_at(std::size_t off, void* buf, std::size_t n) const noexcept {
    const int fd = fd_;
    if (fd < 0) return 0;
    std::size_t got = 0;
    while (got < n) {
      ssize_t r =
          ::pread(fd, static_cast<char*>(buf) + got, n - got, static_cast<off_t>(off + got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got += static_cast<std::size_t>(r);
    }
    return got;
  }
  /// Closes the descriptor open() kept (the mapping stays).
  void drop_fd() noexcept {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }

  /// Unlinks the name now when this handle would at close() (the owner, in the creating process),
  /// keeping the mapping; returns true if it did. Afterwards close() unlinks nothing.
  bool unlink() noexcept {
    const bool mine = unlink_ && !name_.empty() && creator_pid_ == ::getpid();
    if (mine) bip::shared_memory_object::remove(name_.c_str());
    unlink_ = false;
    return mine;
  }
  /// Stops this handle from ever unlinking (a manager took that duty); it stays the owner.
  void disown() noexcept { unlink_ = false; }
  bool unlinks() const noexcept { return unlink_; }

  /// Waits until byte 0 of the mapping is non-zero (the creator published) or `deadline` passes;
  /// returns byte 0. Sleeps on a futex on the first word, which publish() wakes.
  unsigned char wait_ready(std::chrono::steady_clock::time_point deadline) const noexcept {
    if (!mapped() || size_ < 4) return 0;
    const auto* word = static_cast<const std::uint32_t*>(base());
    const auto* byte0 = static_cast<const unsigned char*>(base());
    for (;;) {
      std::uint32_t w = __atomic_load_n(word, __ATOMIC_ACQUIRE);
      unsigned char b = __atomic_load_n(byte0, __ATOMIC_ACQUIRE);
      if (b != 0) return b;
      auto left = deadline - std::chrono::steady_clock::now();
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      if (ns <= 0) return 0;
      futex_wait(word, w, ns);
    }
  }

  /// Stores `b` to byte 0 with release ordering and wakes every process waiting in wait_ready.
  void publish(unsigned char b) noexcept {
    if (!mapped()) return;
    __atomic_store_n(static_cast<unsigned char*>(base()), b, __ATOMIC_RELEASE);
    if (!name_.empty()) futex_wake_all(base());
  }

 private:
  // A descriptor as Boost's mapped_region wants it (the MemoryMappable concept).
  struct fd_mappable {
    int fd;
    bip::mapping_handle_t get_mapping_handle() const noexcept {
      return bip::ipcdetail::mapping_handle_from_file_handle(fd);
    }
  };

  bool mapped() const noexcept { return mapped_ || aligned_; }

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
    aligned_ = raw_mapping(map_aligned_or_throw(op, fd, size, PROT_READ | PROT_WRITE), size);
    void* p = aligned_.get();
    const collapse_result c = collapse_file(fd, p, size);
    huge_ = c.collapsed > 0;
    if (c.error == ENOSPC) throw_no_space(op, name_, size, ENOSPC);
    if (hp == huge_pages::require && c.collapsed < c.blocks)
      throw_error(errc::no_space,
                  std::string(op) + " " + quote_name(name_) + ": huge pages were required; " +
                      std::to_string(c.collapsed) + " of " + std::to_string(c.blocks) +
                      " 2 MiB blocks became huge pages (" +
                      (c.error ? std::strerror(c.error) : "no error") +
                      "): THP disabled (transparent_hugepage/shmem_enabled deny, "
                      "PR_SET_THP_DISABLE), Linux < 6.1, or no free 2 MiB blocks",
                  c.error);
  }

  template <class Mappable>
  void map(std::string_view op, const Mappable& m, bip::mode_t mode, std::size_t size) {
    try {
      bip::mapped_region(m, mode, 0, size).swap(region_);
    } catch (const bip::interprocess_exception& e) {
      int n = native_of(e);
      if (n == ENOMEM) throw_no_space(op, name_, size, n);
      throw_os(op, name_, "mmap", n);
    }
    mapped_ = true;
  }

  // Moves o into this empty segment (close() left region_ unmapped and the rest cleared).
  void take(segment& o) noexcept {
    region_.swap(o.region_);
    name_ = std::move(o.name_);
    o.name_.clear();
    owner_ = std::exchange(o.owner_, false);
    unlink_ = std::exchange(o.unlink_, false);
    mapped_ = std::exchange(o.mapped_, false);
    fd_ = std::exchange(o.fd_, -1);
    creator_pid_ = std::exchange(o.creator_pid_, 0);
    size_ = std::exchange(o.size_, 0);
    aligned_ = std::move(o.aligned_);
    huge_ = std::exchange(o.huge_, false);
    read_only_ = std::exchange(o.read_only_, false);
  }

  bip::mapped_region region_;
  std::string name_;
  int fd_ = -1;  // kept by open() until drop_fd(), for read_at()
  bool owner_ = false;
  bool unlink_ = false;
  bool mapped_ = false;  // region_ holds the mapping
  raw_mapping aligned_;  // or this holds it: a 2 MiB-aligned mapping (huge pages)
  bool huge_ = false;
  bool read_only_ = false;
  long creator_pid_ = 0;
  std::size_t size_ = 0;
};

}  // namespace detail
}  // namespace shmarray
