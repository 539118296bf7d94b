// The untyped halves of shared_array<T>'s factories; shared_array keeps only what needs T.
//
// Creation: check_shape -> validate_create -> plan_layout (layout.hpp) -> create_segment (a name,
//   the manager's tracking, segment::create with the header in place) -> write_layout -> fill ->
//   publish.
// Attach: open_checked: open -> read_prefix -> (unpublished: wait on byte 0) -> parse_prefix ->
//   the dtype -> check_layout -> the element's alignment and struct hash -> the expected shape ->
//   map (2 MiB-aligned if huge). T comes in as an element_info.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "../error.hpp"
#include "../manager.hpp"
#include "../npy.hpp"
#include "../npy_dtype.hpp"
#include "../options.hpp"
#include "../segment.hpp"
#include "layout.hpp"
#include "message.hpp"
#include "names.hpp"
#include "type_hash.hpp"

namespace shmarray {
namespace detail {

/// What attach checks a segment's dtype against: one element type T, without templates.
struct element_info {
  std::string_view (*descr)() = nullptr;     // T's NumPy descr ("<f8"), for messages
  std::size_t size = 0;                      // sizeof(T)
  std::size_t align = 1;                     // alignof(T)
  std::uint64_t hash = 0;                    // a described struct's type_hash; 0: not checked
  bool (*same)(std::string_view) = nullptr;  // npy::same_dtype<T>
  std::string (*difference)(std::string_view) = nullptr;  // npy::dtype_difference<T>
};

template <class T>
element_info element_info_of() noexcept {
  return {+[] { return std::string_view(npy::descr<T>()); },
          sizeof(T),
          alignof(T),
          npy::is_numpy_type<T>() ? 0 : type_hash<T>(),
          &npy::same_dtype<T>,
          &npy::dtype_difference<T>};
}

/// Checks that `shape` (of elements of `elem_size` bytes) is one NumPy allows and whose size fits
/// in size_t; returns that size in bytes. `name` is "(new)" or "(anonymous)" for a creation.
inline std::size_t check_shape(std::string_view op, std::string_view name, const shape_type& shape,
                               std::size_t elem_size) {
  if (shape.size() > npy::max_rank)
    throw_error(errc::invalid_argument, msg(op, " '", name, "': rank ", shape.size(),
                                            " is more than the 32 dimensions NumPy allows"));
  std::size_t n = 0;
  if (!npy::checked_bytes(shape, elem_size, n))
    throw_error(errc::invalid_argument, msg(op, " '", name, "': shape ", npy::shape_string(shape),
                                            " of ", elem_size, "-byte elements overflows size_t"));
  return n;
}

/// create's checks of what the caller names (skipped by the _unsafe factories): the name, the mode.
inline void validate_create(std::string_view op, const create_options& o) {
  if (!o.name.empty()) validate_name(op, o.name);
  if (o.mode > 07777)
    throw_error(errc::invalid_argument,
                msg(op, ": mode ", o.mode, " is not a permission mode (at most 07777)"));
}

/// Creates the segment of `plan` (sized, reserved, the header in place but unpublished) under
/// o.name, or a generated name retried on a clash. With a manager `m`, the manager tracks the name
/// before it exists and decides when it goes: `seg` is disowned and `mgr` set (if recording the
/// segment's identity throws, seg still owns it and unlinks it when destroyed). `keep_fd`: seg
/// keeps a descriptor for a fill by pwrite/sendfile; `dir_fd`: create in that directory instead
/// of /dev/shm (the tool's SHMARRAY_SHM_DIR); both as segment::create.
inline void create_segment(segment& seg, std::shared_ptr<manager_state>& mgr, manager* m,
                           std::string_view op, const create_options& o, const layout_plan& plan,
                           bool keep_fd = false, int dir_fd = -1) {
  const bool generated = o.name.empty();
  for (int attempt = 0;; ++attempt) {
    std::string name = generated ? generate_name() : o.name;
    if (m) m->track(name);
    try {
      seg = segment::create(op, name, plan.total, o.mode, o.huge_pages, plan.unpublished_header(),
                            dir_fd, keep_fd);
      break;
    } catch (const error& e) {
      if (m) m->untrack(name);
      if (!(generated && e.kind() == errc::already_exists && attempt < 16)) throw;
    }
  }
  if (m) {
    m->created(seg.name());
    seg.disown();
    mgr = m->state();
  }
}

// The segment is not published yet. A creator writes the header (all but byte 0) before the file
// has a size, so a segment without "NUMPY" at bytes 1-5 never was a shmarray/.npy segment: fail at
// once. Otherwise sleep on the futex of the first word until the creator publishes, then read the
// (now final) size and the prefix again.
inline void await_creator(segment& seg, prefix& pre, deadline& limit) {
  const std::string& n = seg.name();
  if (!pre.unpublished())
    throw_error(errc::bad_format,
                msg("attach '", n,
                    "': not a shmarray or .npy segment (no \\x93NUMPY magic, and no creator is "
                    "writing one: byte 0 is ",
                    int{pre.byte0()},
                    "); for a segment of raw data (Python's multiprocessing.shared_memory) use "
                    "attach_raw with the shape"));
  seg.map_opened("attach", false);
  if (seg.wait_ready(limit.at()) == 0)
    throw_error(errc::not_ready,
                msg("attach '", n, "': the creator has not published the segment within ",
                    limit.timeout().count(),
                    " ms (byte 0 is still 0); raise attach_options::ready_timeout, or the "
                    "creator died while writing it"));
  seg.refresh_size("attach");
  read_prefix(seg.fd(), seg.size(), pre);
}

/// Opens and maps the segment `name` into the closed `seg` for elements `t` (read-only when
/// `read_only`), checking
/// everything attach promises; returns its layout (header, trailer). The prefix is read with
/// pread, so a client pays no page fault it does not need; messages are built only on the error
/// paths. `expected`, when given, is the shape the caller requires.
inline segment_layout open_checked(segment& seg, std::string_view name, bool read_only,
                                   const attach_options& o, const element_info& t,
                                   const shape_type* expected) {
  constexpr std::string_view op = "attach";
  validate_name(op, name);
  deadline limit(o.ready_timeout);
  seg.open(op, std::string(name), read_only, o.allow_foreign_owner, limit, false);
  const std::string& n = seg.name();
  auto fail = [&n](errc c, const std::string& why) {
    throw_error(c, msg("attach '", n, "': ", why));
  };
  if (seg.size() == 0)
    fail(errc::bad_format,
         msg("the segment is empty (0 bytes) after waiting ", o.ready_timeout.count(),
             " ms: not a shmarray segment, or its creator died before sizing it"));
  prefix pre;
  read_prefix(seg.fd(), seg.size(), pre);
  if (!pre.published()) await_creator(seg, pre, limit);
  std::atomic_thread_fence(std::memory_order_acquire);
  const std::size_t size = seg.size();
  segment_layout l;
  if (problem p =
          parse_prefix(seg.fd(), size, pre, npy::source(op, n, "attach_options::max_header_size"),
                       o.max_header_size, l.header))
    p.raise(op, n);
  const npy::header& h = l.header;
  if (!t.same(h.descr))
    fail(errc::type_mismatch,
         msg("the segment holds ", describe_descr(h.descr), ", asked for ",
             describe_descr(t.descr()), t.difference(h.descr),
             npy::byte_swapped(h.descr, t.descr())
                 ? ": the other byte order, which attach cannot swap in place (it maps the data); "
                   "load the .npy file with load(), which swaps on the way in, or have NumPy "
                   "write this host's order"
                 : ""));
  if (problem p = check_layout(seg.fd(), size, pre, t.size, l)) p.raise(op, n);
  if (h.data_offset % t.align != 0)
    fail(errc::bad_format,
         msg("the data offset ", h.data_offset, " is not aligned for the element type"));
  if (l.has_trailer && t.hash != 0 && l.tr.type_hash != 0 && l.tr.type_hash != t.hash)
    fail(errc::type_mismatch, msg("the segment holds another ", t.size,
                                  "-byte struct type (type hash differs from T's)"));
  if (expected && *expected != h.shape)
    fail(errc::shape_mismatch, msg("the segment has shape ", npy::shape_string(h.shape),
                                   ", expected ", npy::shape_string(*expected)));
  seg.map_opened(op, l.huge());
  seg.drop_fd();
  return l;
}

/// attach_unsafe: opens and maps `name` trusting the caller (no name, dtype, owner or readiness
/// checks) and returns where the data starts and its order, read from the header's start with one
/// pread. Only a shape larger than the segment is refused (shape_mismatch).
inline std::pair<std::size_t, bool> open_unsafe(segment& seg, std::string_view name, bool read_only,
                                                const shape_type& shape, std::size_t elem_size) {
  constexpr std::string_view op = "attach_unsafe";
  const std::size_t need = check_shape(op, name, shape, elem_size);
  deadline none(std::chrono::milliseconds(0));
  seg.open(op, std::string(name), read_only, true, none);
  prefix pre;
  read_prefix(seg.fd(), seg.size(), pre);
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
  seg.drop_fd();
  if (off > seg.size() || need > seg.size() - off)
    throw_error(
        errc::shape_mismatch,
        msg(op, " '", seg.name(), "': shape ", npy::shape_string(shape), " of ", elem_size,
            "-byte elements needs ", off, " + ", need, " bytes, the segment holds ", seg.size()));
  return {off, fortran};
}

/// attach_raw: opens and maps `name`, a segment with no header (Python's
/// multiprocessing.shared_memory), checking only that it holds the shape's bytes.
inline void open_raw(segment& seg, std::string_view name, bool read_only, const shape_type& shape,
                     std::size_t elem_size, const attach_options& o) {
  constexpr std::string_view op = "attach_raw";
  validate_name(op, name);
  const std::size_t need = check_shape(op, name, shape, elem_size);
  deadline limit(o.ready_timeout);
  seg.open(op, std::string(name), read_only, o.allow_foreign_owner, limit);
  if (seg.size() < need)
    throw_error(errc::shape_mismatch,
                msg(op, " '", seg.name(), "': shape ", npy::shape_string(shape), " of ", elem_size,
                    "-byte elements needs ", need, " bytes, the segment holds ", seg.size()));
  seg.drop_fd();
}

}  // namespace detail
}  // namespace shmarray
