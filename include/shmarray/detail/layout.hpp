// The segment format, in one place: an .npy file (header, then the data at a multiple of 64) whose
// byte 0 (0x93, the magic's first byte) is written last, then -- at the first multiple of 64 after
// the data -- the 64-byte shmarray trailer, then (trailer version 2) the 192-byte sync block.
//
//   [0x93|NUMPY|ver|len|dict ... \n][data: prod(shape) * itemsize][pad to 64][trailer][sync block]
//   ^ byte 0: 0 while the creator writes, 0x93 once published
//
// Creators: plan_layout -> segment::create (the header, except byte 0, is written before the file
// is sized, so an opener never sees a sized file without "NUMPY" at bytes 1-5) -> write_layout ->
// fill -> publish. Readers: read_prefix -> classify -> parse_prefix -> check_layout. Who made a
// segment and whether it still runs: creator_of. Nothing here maps memory (segment.hpp does).
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "../error.hpp"
#include "../npy.hpp"
#include "message.hpp"
#include "posix.hpp"
#include "sync_block.hpp"

namespace shmarray {

/// The first trailer version whose segments carry a sync block.
inline constexpr std::uint32_t sync_format_version = 2;

namespace detail {

/// The shmarray control block, at trailer_offset(): 64 bytes, native byte order. From version 2
/// on, the segment's 192-byte sync block follows it.
struct trailer {
  char magic[8];                // "SHMARRAY"
  std::uint32_t version;        // trailer format version (2; 1: no sync block)
  std::uint32_t flags;          // trailer_flag_detached | trailer_flag_huge
  std::uint64_t creator_pid;    // the process that created the segment
  std::uint64_t creator_start;  // its start time (clock ticks since boot, /proc/<pid>/stat)
  std::uint64_t elem_size;      // bytes per element
  std::uint64_t type_hash;      // identifies T beyond its descr (for |V types); 0: not recorded
  std::uint64_t data_offset;    // where the elements start
  std::uint64_t data_bytes;     // prod(shape) * elem_size
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

/// Byte 0 of a published segment: the first byte of the .npy magic.
inline constexpr unsigned char published_byte = 0x93;
static_assert(static_cast<unsigned char>(npy::magic[0]) == published_byte);

constexpr std::size_t align_up(std::size_t n, std::size_t a) noexcept {
  return (n + a - 1) / a * a;
}

/// The one rule for where the trailer is: the first multiple of 64 at or after the data's end.
constexpr std::size_t trailer_offset(std::size_t data_offset, std::size_t data_bytes) noexcept {
  return align_up(data_offset + data_bytes, 64);
}

inline bool is_trailer(const trailer& t) noexcept {
  return std::memcmp(t.magic, trailer_magic, sizeof t.magic) == 0;
}

}  // namespace detail

/// The offset of a segment's sync block: right after its trailer. The generation counter is the
/// 64-bit word at this offset (native byte order): 2 * generation, + 1 while an update runs. That
/// is all a NumPy reader needs (examples/shm_generation.py).
constexpr std::size_t sync_block_offset(std::size_t trailer_offset) noexcept {
  return trailer_offset + sizeof(detail::trailer);
}
/// The whole size of a segment (version 2) whose trailer is at `trailer_offset`: the sync block
/// is its last part.
constexpr std::size_t segment_bytes(std::size_t trailer_offset) noexcept {
  return sync_block_offset(trailer_offset) + sizeof(detail::sync_block);
}
/// The sync block of the segment mapped at `base` whose trailer is at `trailer_offset`.
inline detail::sync_block* sync_block_at(void* base, std::size_t trailer_offset) noexcept {
  return reinterpret_cast<detail::sync_block*>(static_cast<unsigned char*>(base) +
                                               sync_block_offset(trailer_offset));
}

namespace detail {

// ---- Creating ---------------------------------------------------------------------------------

/// A new segment's layout, computed before anything is created.
struct layout_plan {
  std::string header;          // the .npy header bytes; header.size() is the data offset
  std::size_t data_bytes = 0;  // prod(shape) * elem_size
  std::size_t trailer_at = 0;  // trailer_offset(header.size(), data_bytes)
  std::size_t total = 0;       // segment_bytes(trailer_at)
  std::size_t data_offset() const noexcept { return header.size(); }
  /// What segment::create writes at offset 1 before sizing the file: the header but byte 0.
  std::string_view unpublished_header() const noexcept {
    return std::string_view(header).substr(1);
  }
};

/// Plans a segment for `shape` of `descr` elements of `elem_size` bytes. The caller has checked
/// the shape (rank, overflow of prod(shape) * elem_size); what is left is the header's own size.
inline layout_plan plan_layout(std::string_view op, std::string_view name, std::string_view descr,
                               bool fortran, const shape_type& shape, std::size_t elem_size) {
  layout_plan p;
  p.header = npy::write_header(descr, fortran, shape);
  npy::checked_bytes(shape, elem_size, p.data_bytes);
  std::size_t end = 0;
  if (__builtin_add_overflow(p.header.size(), p.data_bytes, &end) || end > (SIZE_MAX >> 1))
    throw_error(errc::invalid_argument,
                msg(op, ' ', quote_name(name), ": the array is too large for memory"));
  p.trailer_at = trailer_offset(p.header.size(), p.data_bytes);
  p.total = segment_bytes(p.trailer_at);
  return p;
}

/// Writes the header (all but byte 0: a segment made through a mapping only, anonymous memory),
/// the trailer naming this process as the creator, and a fresh sync block; returns the block.
/// Byte 0 stays 0 until publish().
inline sync_block* write_layout(unsigned char* base, const layout_plan& p, bool header_too,
                                std::size_t elem_size, std::uint64_t type_hash, std::uint32_t flags,
                                std::string_view name) {
  if (header_too) std::memcpy(base + 1, p.header.data() + 1, p.header.size() - 1);
  trailer t{};
  std::memcpy(t.magic, trailer_magic, sizeof t.magic);
  t.version = trailer_version;
  t.flags = flags;
  t.creator_pid = static_cast<std::uint64_t>(::getpid());
  t.creator_start = self_start_time();
  t.elem_size = elem_size;
  t.type_hash = type_hash;
  t.data_offset = p.header.size();
  t.data_bytes = p.data_bytes;
  std::memcpy(base + p.trailer_at, &t, sizeof t);
  sync_block* b = sync_block_at(base, p.trailer_at);
  sync_ops::init(b, name);
  return b;
}

/// Sets trailer flags in a mapped segment (persist(): trailer_flag_detached).
inline void add_trailer_flags(unsigned char* base, std::size_t trailer_at,
                              std::uint32_t flags) noexcept {
  trailer t;
  std::memcpy(&t, base + trailer_at, sizeof t);
  if (!is_trailer(t)) return;
  t.flags |= flags;
  std::memcpy(base + trailer_at, &t, sizeof t);
}

// ---- Reading ----------------------------------------------------------------------------------

/// The first bytes of a segment, read with pread (no mapping, no page fault): NumPy's headers are
/// 64-256 bytes, so one read usually brings the header and, for small arrays, the trailer.
struct prefix {
  char bytes[512];
  std::size_t got = 0;
  unsigned char byte0() const noexcept { return got ? static_cast<unsigned char>(bytes[0]) : 0; }
  /// Byte 0 published and the magic in place.
  bool published() const noexcept {
    return got >= npy::magic_size && std::memcmp(bytes, npy::magic, npy::magic_size) == 0;
  }
  /// Byte 0 still 0 and "NUMPY" at bytes 1-5: a creator is writing it (or died doing so).
  bool unpublished() const noexcept {
    return got >= npy::magic_size && bytes[0] == 0 &&
           std::memcmp(bytes + 1, npy::magic + 1, npy::magic_size - 1) == 0;
  }
};

inline void read_prefix(int fd, std::size_t size, prefix& p) noexcept {
  p.got = pread_full(fd, p.bytes, size < sizeof p.bytes ? size : sizeof p.bytes, 0);
}

/// Why a segment cannot be used: an errc and the bare reason (no "op 'name': " in front).
struct problem {
  errc code{};
  std::string reason;
  explicit operator bool() const noexcept { return code != errc{}; }
  [[noreturn]] void raise(std::string_view op, std::string_view name) const {
    throw_error(code, msg(op, ' ', quote_name(name), ": ", reason));
  }
};

/// What a segment's header and trailer say, checked against each other and the file's size.
struct segment_layout {
  npy::header header;
  std::size_t elem_size = 0;   // bytes per element
  std::size_t data_bytes = 0;  // prod(shape) * elem_size
  std::size_t trailer_at = 0;  // trailer_offset(data offset, data_bytes)
  bool has_trailer = false;    // a shmarray trailer that agrees with the header
  trailer tr{};
  bool has_sync() const noexcept { return has_trailer && tr.version >= sync_format_version; }
  bool huge() const noexcept { return has_trailer && (tr.flags & trailer_flag_huge) != 0; }
  bool detached() const noexcept { return has_trailer && (tr.flags & trailer_flag_detached) != 0; }
};

/// Parses the header in `pre` (published, or unpublished with the creator's header in place),
/// reading the rest of a header longer than the prefix through `fd` -- unless it is longer than
/// `max_header_size` (NumPy's rule), which parse_header then refuses. `what` names the segment in
/// parse_header's messages.
inline problem parse_prefix(int fd, std::size_t size, const prefix& pre, npy::source what,
                            std::size_t max_header_size, npy::header& out) {
  const char* hdr = pre.bytes;
  std::size_t got = pre.got;
  std::string large;
  char patched[sizeof pre.bytes];
  const bool unpublished = got > 0 && pre.bytes[0] == 0;
  if (unpublished) {  // parse what the creator wrote, as if published
    std::memcpy(patched, pre.bytes, got);
    patched[0] = npy::magic[0];
    hdr = patched;
  }
  if (got >= 12) {
    const std::size_t end = npy::data_offset_of(reinterpret_cast<const unsigned char*>(hdr));
    if (end > got && end <= size && std::memcmp(hdr, npy::magic, npy::magic_size) == 0 &&
        !npy::header_exceeds(reinterpret_cast<const unsigned char*>(hdr), max_header_size)) {
      large.resize(end);  // a long header: read all of it
      got = pread_full(fd, large.data(), end, 0);
      if (got) large[0] = npy::magic[0];
      hdr = large.data();
    }
  }
  try {
    npy::parse_header(hdr, got, what, max_header_size, out);
  } catch (const error& e) {
    std::string_view r = e.reason();
    const std::string w = what.str();
    if (r.substr(0, w.size()) == w) r.remove_prefix(w.size());
    if (r.substr(0, 2) == ": ") r.remove_prefix(2);
    return {e.kind(), std::string(r)};
  }
  return {};
}

/// Checks that the data of `l.header` (elements of `elem_size` bytes) fits in `size` bytes, and
/// reads the trailer (from `pre` when it came along, else through `fd`): a trailer that contradicts
/// the header means a corrupt segment; one promising a sync block the file lacks too. Fills `l`.
inline problem check_layout(int fd, std::size_t size, const prefix& pre, std::size_t elem_size,
                            segment_layout& l) {
  const npy::header& h = l.header;
  l.elem_size = elem_size;
  if (!npy::checked_bytes(h.shape, elem_size, l.data_bytes) || h.data_offset > size ||
      l.data_bytes > size - h.data_offset)
    return {errc::bad_format,
            msg("truncated: the header's shape ", npy::shape_string(h.shape), " needs ",
                h.data_offset, " + ", l.data_bytes, " bytes, the segment holds only ", size)};
  l.trailer_at = trailer_offset(h.data_offset, l.data_bytes);
  const std::size_t tat = l.trailer_at;
  trailer& t = l.tr;
  bool have = false;
  if (tat <= size && size - tat >= sizeof t) {
    if (tat + sizeof t <= pre.got) {
      std::memcpy(&t, pre.bytes + tat, sizeof t);
      have = true;
    } else {
      have = pread_full(fd, &t, sizeof t, tat) == sizeof t;
    }
  }
  if (!have || !is_trailer(t)) return {};
  if (t.elem_size != elem_size || t.data_offset != h.data_offset || t.data_bytes != l.data_bytes)
    return {errc::bad_format,
            msg("the trailer disagrees with the header (element size ", t.elem_size, ", data ",
                t.data_bytes, " bytes at ", t.data_offset, ")")};
  if (t.version >= sync_format_version && size < segment_bytes(tat))
    return {errc::bad_format, msg("the trailer (version ", t.version, ") promises a sync block at ",
                                  sync_block_offset(tat), ", but the segment ends at ", size)};
  l.has_trailer = true;
  return {};
}

/// Finds the trailer of a shmarray segment of `size` bytes from the file's end alone (version 2:
/// followed by the sync block; version 1: last), for a reader with no header parser (the tracker,
/// which runs in a child forked from a threaded process and must not allocate).
inline bool read_trailer_at_end(int fd, std::size_t size, trailer& t) noexcept {
  for (std::size_t tail : {sizeof(trailer) + sizeof(sync_block), sizeof(trailer)})
    if (size >= tail && pread_full(fd, &t, sizeof t, size - tail) == sizeof t && is_trailer(t) &&
        (tail == sizeof(trailer) || t.version >= sync_format_version))
      return true;
  return false;
}

}  // namespace detail

/// Whether a segment's creator still runs (inspect(), `shmarray ls`, `shmarray gc`).
enum class creator_state { alive, dead, unknown, detached };

namespace detail {

// ---- Who made it ------------------------------------------------------------------------------

/// The liveness rule: the creator is identified by pid *and* start time, so a pid reused by
/// another process does not count as the creator. `unknown` when /proc hides the process
/// (hidepid) or the trailer holds no pid; `detached` when the segment is meant to outlive it.
inline creator_state creator_of(const trailer& t) noexcept {
  if (t.flags & trailer_flag_detached) return creator_state::detached;
  if (t.creator_pid == 0 || t.creator_pid > static_cast<std::uint64_t>(INT_MAX))
    return creator_state::unknown;
  const long pid = static_cast<long>(t.creator_pid);
  const std::uint64_t start = process_start_time(pid);
  if (start != 0) {
    if (t.creator_start == 0) return creator_state::alive;  // no start time recorded: the pid
    return start == t.creator_start ? creator_state::alive : creator_state::dead;
  }
  if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM)
    return creator_state::unknown;  // it exists, but /proc does not show it to us
  return errno == ESRCH ? creator_state::dead : creator_state::unknown;
}

/// True when the trailer names the process (pid, start time) as the segment's creator.
inline bool created_by(const trailer& t, std::uint64_t pid, std::uint64_t start) noexcept {
  return t.creator_pid == pid && (t.creator_start == 0 || start == 0 || t.creator_start == start);
}

}  // namespace detail
}  // namespace shmarray
