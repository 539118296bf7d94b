// `shmarray save` and `shmarray load`: copy between a segment and an .npy file, streaming in chunks
// (never a second full-size buffer). load makes the segment through the library's one creation
// path (detail/layout.hpp: plan_layout -> segment::create -> write_layout -> fill -> publish) for
// any dtype the file holds, and leaves it in place when the tool exits (trailer flag detached).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <complex>
#include <cstdint>
#include <cstring>
#include <shmarray/detail/layout.hpp>
#include <shmarray/detail/type_hash.hpp>
#include <shmarray/npy_file.hpp>
#include <shmarray/segment.hpp>
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

/// Copies the data of segment `p` (published shmarray or plain .npy; probe_file waited for an
/// unpublished one) to the .npy file `file`, replacing it atomically.
inline void save_segment(const probe& p, const std::string& file) {
  const std::string what = "save '" + p.name + "'";
  if (p.kind == kind::unpublished)
    sa::detail::throw_error(sa::errc::not_ready,
                            what +
                                ": the segment is not published (byte 0 is still 0): its "
                                "creator is still writing it, or died while writing it");
  if (p.kind == kind::unreadable)
    sa::detail::throw_error(sa::errc::permission_denied, what + ": " + p.problem);
  if (p.kind != kind::shmarray && p.kind != kind::npy)
    sa::detail::throw_error(
        sa::errc::bad_format,
        what + (p.header_too_long ? ": " : ": not a shmarray segment: ") + printable(p.problem));
  const std::size_t bytes = p.layout.data_bytes;
  sa::npy::file_writer w(file, p.header.descr, p.header.fortran_order, p.header.shape);
  std::vector<char> buf(std::min<std::size_t>(bytes, std::size_t{1} << 20));
  for (std::size_t done = 0; done < bytes;) {
    const std::size_t n = std::min(buf.size(), bytes - done);
    if (p.read(p.header.data_offset + done, buf.data(), n) != n) {
      const int e = errno;
      sa::detail::throw_error(e ? sa::detail::errc_from_errno(e) : sa::errc::bad_format,
                              what + ": " + (e ? std::strerror(e) : "the segment shrank"), e);
    }
    w.write(buf.data(), n);
    done += n;
  }
  w.commit();
}

/// Streams the .npy file `file` into a new segment `dir`/`name` (generated when empty) with
/// permissions `mode`, publishes it and leaves it there: the trailer carries the detached flag,
/// so `gc` does not take the tool's exit for a crash. Returns the name. On any failure the new
/// segment is removed. The bytes are copied as stored: a '>i4' file makes a '>i4' segment, which
/// NumPy reads as it reads the file (shared_array<T>::load of the file swaps instead). The descr
/// is written in NumPy's canonical spelling ('f8' -> '<f8'). A header longer than
/// `max_header_size` is refused, as np.load refuses it.
inline std::string load_file(const std::string& dir, const std::string& file, std::string name,
                             unsigned mode,
                             std::size_t max_header_size = sa::npy::default_max_header_size) {
  namespace d = sa::detail;
  sa::npy::file_reader r(file, max_header_size, "--max-header-size");
  const std::string descr = r.hdr().descr;
  const d::layout_plan plan =
      d::plan_layout("load", file, descr, r.hdr().fortran_order, r.hdr().shape, r.item_size());
  const bool generated = name.empty();
  if (!generated) d::validate_name("load", name);
  const d::unique_fd dir_fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd) d::throw_os("load", dir, "open", errno);
  d::segment seg;
  for (int attempt = 0;; ++attempt) {
    if (generated) name = d::generate_name();
    try {
      seg = d::segment::create("load", name, plan.total, mode, sa::huge_pages::prefer,
                               plan.unpublished_header(), dir_fd.get());
      break;
    } catch (const sa::error& e) {
      if (!(generated && e.kind() == sa::errc::already_exists && attempt < 16)) throw;
    }
  }
  // The hash shared_array<T> writes for this dtype, so the segment is the one
  // shared_array<T>::load would make; 0 for dtypes with no C++ type here (|V: see docs/tool.md).
  std::uint64_t hash = 0;
  with_numpy_type(descr, [&](auto tag) { hash = d::type_hash<decltype(tag)>(); });
  auto* base = static_cast<unsigned char*>(seg.base());
  const std::uint32_t flags = d::trailer_flag_detached | (seg.huge() ? d::trailer_flag_huge : 0u);
  d::write_layout(base, plan, false, r.item_size(), hash, flags, name);
  r.read_data_as_stored(base + plan.data_offset());
  seg.publish(d::published_byte);
  seg.disown();  // the segment outlives the tool
  return name;
}

}  // namespace shmtool
