// `shmarray save` and `shmarray load`: copy between a segment and an .npy file, streaming in chunks
// (never a second full-size buffer). load lays the segment out exactly as shared_array does --
// npy::write_header, the data, detail::trailer at align_up(end, 64), byte 0 published last -- for
// any dtype the file holds, and leaves it in place when the tool exits.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <complex>
#include <cstdint>
#include <cstring>
#include <shmarray/npy_file.hpp>
#include <shmarray/segment.hpp>
#include <shmarray/shared_array.hpp>
#include <shmarray/sync.hpp>
#include <string>
#include <vector>

#include "probe.hpp"

namespace shmtool {

/// Calls f(T{}) for the C++ element type whose descr means the same as `descr` on this host
/// (the types shared_array maps to NumPy dtypes); false when there is none (|V, S, U, '>' on a
/// little-endian host, ...).
template <class F>
bool with_numpy_type(std::string_view descr, F&& f) {
  bool done = false;
  auto one = [&](auto tag) {
    using T = decltype(tag);
    if (!done && sa::npy::same_descr(descr, sa::npy::descr<T>())) {
      f(tag);
      done = true;
    }
  };
  one(bool{});
  one(std::int8_t{});
  one(std::uint8_t{});
  one(std::int16_t{});
  one(std::uint16_t{});
  one(std::int32_t{});
  one(std::uint32_t{});
  one(std::int64_t{});
  one(std::uint64_t{});
  one(float{});
  one(double{});
  one(std::complex<float>{});
  one(std::complex<double>{});
  return done;
}

/// Copies the data of segment `p` (published shmarray or plain .npy) to the .npy file `file`,
/// replacing it atomically. Waits up to `ready_ms` for an unpublished segment.
inline void save_segment(probe& p, const std::string& file, long ready_ms) {
  const std::string what = "save '" + p.name + "'";
  for (long waited = 0; p.k == kind::unpublished && waited < ready_ms; waited += 10) {
    timespec ts{0, 10 * 1000 * 1000};
    ::nanosleep(&ts, nullptr);
    unsigned char b = 0;
    if (pread_exact(p.fd.get(), &b, 1, 0) && b == 0x93) p.k = kind::shmarray;
  }
  if (p.k == kind::unpublished)
    sa::detail::throw_error(sa::errc::not_ready,
                            what +
                                ": the segment is not published (byte 0 is still 0): its "
                                "creator is still writing it, or died while writing it");
  if (p.k == kind::unreadable)
    sa::detail::throw_error(sa::errc::permission_denied, what + ": " + p.problem);
  if (p.k != kind::shmarray && p.k != kind::npy)
    sa::detail::throw_error(
        sa::errc::bad_format,
        what + (p.header_too_long ? ": " : ": not a shmarray segment: ") + printable(p.problem));
  sa::npy::file_writer w(file, p.hdr.descr, p.hdr.fortran_order, p.hdr.shape);
  std::vector<char> buf(std::min<std::size_t>(p.data_bytes, std::size_t{1} << 20));
  for (std::size_t done = 0; done < p.data_bytes;) {
    std::size_t n = std::min(buf.size(), p.data_bytes - done);
    if (!pread_exact(p.fd.get(), buf.data(), n, p.hdr.data_offset + done)) {
      int e = errno;
      sa::detail::throw_error(e ? sa::detail::errc_from_errno(e) : sa::errc::bad_format,
                              what + ": " + (e ? std::strerror(e) : "the segment shrank"), e);
    }
    w.write(buf.data(), n);
    done += n;
  }
  w.commit();
}

/// Streams the .npy file `file` into a new segment `dir`/`name` (generated when empty) with
/// permissions `mode`, publishes it and leaves it there: the trailer carries flag_detached, so
/// `gc` does not take the tool's exit for a crash. Returns the name. On any failure the new
/// segment is removed. The bytes are copied as stored: a '>i4' file makes a '>i4' segment, which
/// NumPy reads as it reads the file (shared_array<T>::load of the file swaps instead). The descr
/// is written in NumPy's canonical spelling ('f8' -> '<f8'). A header longer than
/// `max_header_size` is refused, as np.load refuses it.
inline std::string load_file(const std::string& dir, const std::string& file, std::string name,
                             unsigned mode,
                             std::size_t max_header_size = sa::npy::default_max_header_size) {
  sa::npy::file_reader r(file, max_header_size, "--max-header-size");
  const std::string descr = r.hdr().descr;
  const std::string header = sa::npy::write_header(descr, r.hdr().fortran_order, r.hdr().shape);
  const std::size_t nbytes = r.data_bytes();
  std::size_t end = 0;
  if (__builtin_add_overflow(header.size(), nbytes, &end) || end > (SIZE_MAX >> 1))
    sa::detail::throw_error(sa::errc::invalid_argument,
                            "load '" + file + "': the array is too large for memory");
  const std::size_t trailer_at = sa::detail::align_up(end, 64);
  const std::size_t total = sa::segment_bytes(trailer_at);

  const bool generated = name.empty();
  if (!generated) sa::detail::validate_name("load", name);
  std::string path;
  unique_fd fd;
  for (int attempt = 0;; ++attempt) {
    if (generated) name = sa::detail::generate_name();
    path = dir + "/" + name;
    fd = unique_fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                          static_cast<mode_t>(mode)));
    if (fd.get() >= 0) break;
    const int e = errno;
    if (!(generated && e == EEXIST && attempt < 16)) sa::detail::throw_os("load", name, "open", e);
  }
  // From here on the name exists: any failure removes it.
  struct unlink_guard {
    const std::string& path;
    bool armed = true;
    ~unlink_guard() {
      if (armed) ::unlink(path.c_str());
    }
  } guard{path};
  if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0)  // exactly `mode`, whatever the umask
    sa::detail::throw_os("load", name, "fchmod", errno);
  int rc;
  do {
    rc = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(total));
  } while (rc == EINTR);
  if (rc == ENOSPC || rc == ENOMEM || rc == EFBIG)
    sa::detail::throw_no_space("load", name, total, rc);
  if (rc == EOPNOTSUPP || rc == ENODEV) {
    if (::ftruncate(fd.get(), static_cast<off_t>(total)) != 0)
      sa::detail::throw_os("load", name, "ftruncate", errno);
  } else if (rc != 0) {
    sa::detail::throw_os("load", name, "posix_fallocate", rc);
  }
  void* addr = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (addr == MAP_FAILED) sa::detail::throw_os("load", name, "mmap", errno);
  struct unmap_guard {
    void* a;
    std::size_t n;
    ~unmap_guard() { ::munmap(a, n); }
  } unmap{addr, total};
  auto* base = static_cast<unsigned char*>(addr);

  // Header with byte 0 left zero, the data, the trailer; then publish byte 0.
  std::memcpy(base + 1, header.data() + 1, header.size() - 1);
  r.read_data_as_stored(base + header.size());
  sa::detail::trailer t{};
  std::memcpy(t.magic, sa::detail::trailer_magic, sizeof t.magic);
  t.version = sa::detail::trailer_version;
  t.flags = flag_detached;
  t.creator_pid = static_cast<std::uint64_t>(::getpid());
  t.creator_start = sa::detail::self_start_time();
  t.elem_size = r.item_size();
  // The hash shared_array<T> writes for this dtype, so the segment is the one
  // shared_array<T>::load would make; 0 for dtypes with no C++ type here (|V: see docs/tool.md).
  t.type_hash = 0;
  with_numpy_type(descr, [&](auto tag) { t.type_hash = sa::detail::type_hash<decltype(tag)>(); });
  t.data_offset = header.size();
  t.data_bytes = nbytes;
  std::memcpy(base + trailer_at, &t, sizeof t);
  sa::detail::sync_ops::init(sa::sync_block_at(base, trailer_at), name);
  __atomic_store_n(base, static_cast<unsigned char>(0x93), __ATOMIC_RELEASE);
  sa::detail::futex_wake_all(base);
  guard.armed = false;
  return name;
}

}  // namespace shmtool
