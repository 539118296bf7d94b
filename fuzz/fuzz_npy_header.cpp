// libFuzzer target: npy::parse_header on arbitrary bytes. It must either throw shmarray::error with
// errc::bad_format or return a header that is consistent with its input: the dict ends inside the
// bytes given and is at most max_header_size characters long, the rank is at most 32, the element
// count does not overflow, the descr is in NumPy's canonical spelling (canonicalize leaves it as
// it is), and writing the header back with npy::write_header and parsing that again gives the
// same descr, order and shape.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <shmarray/npy.hpp>
#include <shmarray/npy_file.hpp>
#include <string>

namespace {
[[noreturn]] void fail(const char* why) {
  std::fprintf(stderr, "fuzz_npy_header: invariant broken: %s\n", why);
  std::abort();
}

void check_parsed(const shmarray::npy::header& h, const std::uint8_t* data, std::size_t size) {
  namespace npy = shmarray::npy;
  if (h.data_offset > size) fail("data_offset beyond the input");
  if (h.data_offset < 10) fail("data_offset inside the prefix");
  if (h.shape.size() > npy::max_rank) fail("rank above 32");
  if (h.descr.size() < 2 || h.descr.size() > 17) fail("descr length out of range");
  npy::canonical_descr c;
  if (!npy::canonicalize(h.descr, c) || c.view() != h.descr) fail("descr not canonical");
  if (npy::element_size(h.descr) > npy::detail::int_max) fail("element size above 2^31 - 1");
  const std::size_t unit = npy::swap_unit(h.descr);
  if (unit != 0 && (npy::element_size(h.descr) % unit != 0 || unit > 16)) fail("swap unit");
  if (h.major < 1 || h.major > 3 || h.minor != 0) fail("unsupported version accepted");
  const std::size_t prefix = h.major == 1 ? 10 : 12;
  if (npy::header_text_length(data + prefix, h.data_offset - prefix, h.major) >
      npy::default_max_header_size)
    fail("a header longer than max_header_size accepted");
  std::size_t n = 0;
  if (!npy::checked_bytes(h.shape, 1, n)) fail("element count overflows");
  if (n != h.count()) fail("count() disagrees with checked_bytes");
  // The helpers used on a parsed descr must cope with whatever the header held.
  (void)npy::itemsize(h.descr);
  (void)npy::same_descr(h.descr, npy::descr<double>());
  (void)npy::same_descr(h.descr, npy::descr<std::uint8_t>());
  (void)npy::byte_swapped(h.descr, npy::descr<double>());
  // Round trip: what we write from the parsed values must parse back to the same values (a
  // canonical descr holds no quote).
  const std::string again = npy::write_header(h.descr, h.fortran_order, h.shape);
  if (again.size() % npy::alignment != 0) fail("written header is not 64-byte aligned");
  npy::header h2;
  try {
    h2 = npy::parse_header(again.data(), again.size(), "round trip");
  } catch (const shmarray::error& e) {
    std::fprintf(stderr, "round trip failed: %s\n", e.what());
    fail("a header we wrote does not parse");
  }
  if (h2.descr != h.descr || h2.fortran_order != h.fortran_order || h2.shape != h.shape)
    fail("round trip changed the header");
  if (h2.data_offset != again.size()) fail("round trip data offset");
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  shmarray::npy::header h;
  try {
    h = shmarray::npy::parse_header(data, size, "fuzz input");
  } catch (const shmarray::error& e) {
    if (e.kind() != shmarray::errc::bad_format) {
      std::fprintf(stderr, "unexpected error kind %d: %s\n", static_cast<int>(e.kind()), e.what());
      fail("parse_header threw something other than bad_format");
    }
    return 0;
  }
  check_parsed(h, data, size);
  return 0;
}
