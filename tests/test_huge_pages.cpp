// Huge pages on plain /dev/shm (detail/huge_pages.hpp, create_options::huge_pages) and the cached
// /dev/shm directory of attach (detail/shm_dir.hpp): what they do where the kernel allows it, and
// that every way the kernel refuses falls back without losing a guarantee.
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <numeric>
#include <shmarray/shmarray.hpp>
#include <vector>

#include "test_support.hpp"

using shmarray::errc;
using shmarray::huge_pages;
using shmarray::shared_array;
using shmtest::error_of;

namespace {

constexpr std::size_t mib = std::size_t{1} << 20;

bool aligned_2m(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % shmarray::detail::huge_page_size == 0;
}

// The mapping's base: the data sits at the end of the .npy prefix, whose length the segment's
// first 10 bytes give (format 1.0: magic, version, 2-byte little-endian header length).
template <class T>
const void* base_of(const shared_array<T>& a) {
  unsigned char prefix[10] = {};
  int fd = ::shm_open(a.name().c_str(), O_RDONLY, 0);
  REQUIRE(fd >= 0);
  const bool read_all =
      ::pread(fd, prefix, sizeof prefix, 0) == static_cast<ssize_t>(sizeof prefix);
  ::close(fd);
  REQUIRE(read_all);
  const std::size_t data_offset = 10u + prefix[8] + 256u * prefix[9];
  return reinterpret_cast<const unsigned char*>(a.data()) - data_offset;
}

/// Whether this kernel and process give huge pages through MADV_COLLAPSE at all (Linux >= 6.1,
/// THP not disabled): a 2 MiB block of shared anonymous memory, seeded and collapsed.
bool kernel_collapses() {
  bool huge = false;
  void* p = shmarray::detail::map_shared_anonymous(2 * mib, true, &huge);
  if (p != MAP_FAILED) ::munmap(p, 2 * mib);
  return huge;
}

shmarray::create_options with(huge_pages hp) {
  shmarray::create_options o;
  o.huge_pages = hp;
  return o;
}

shmarray::create_options named(std::string name) {
  shmarray::create_options o;
  o.name = std::move(name);
  return o;
}

std::vector<double> ramp(std::size_t n) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<double>(i % 4099);
  return v;
}

}  // namespace

TEST_CASE("map_aligned gives 2 MiB-aligned mappings, again and again, next to others", "[huge]") {
  std::vector<std::pair<void*, std::size_t>> maps;
  for (std::size_t k = 0; k < 24; ++k) {
    const std::size_t n = (k % 5 + 1) * mib + 4096 * k;
    void* p =
        shmarray::detail::map_aligned(n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    REQUIRE(p != MAP_FAILED);
    CHECK(aligned_2m(p));
    static_cast<unsigned char*>(p)[n - 1] = 1;  // the whole length is mapped
    if (k % 3 == 0)
      shmarray::detail::unmap_and_remember(p, n);  // the freed range is offered to the next one
    else
      maps.emplace_back(p, n);
  }
  for (auto& m : maps) ::munmap(m.first, m.second);
}

TEST_CASE("a 4 KiB-page attach maps where the last closed one was, else where the kernel says",
          "[huge]") {
  const auto src = ramp(mib / sizeof(double));  // 1 MiB: no whole block, so never aligned
  auto a = shared_array<double>::copy(src);
  const void* first = nullptr;
  {
    auto b = shared_array<const double>::attach(a.name());
    first = base_of(b);
  }
  {
    auto b = shared_array<const double>::attach(a.name());
    CHECK(base_of(b) == first);  // the freed range was offered and taken
    CHECK(std::equal(src.begin(), src.end(), b.begin()));
  }
  // The freed range is taken by someone else: the hint is only a hint, the attach maps elsewhere.
  void* squat = ::mmap(const_cast<void*>(first), 4096, PROT_READ,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  REQUIRE(squat == first);
  {
    auto b = shared_array<const double>::attach(a.name());
    CHECK(base_of(b) != first);
    CHECK(std::equal(src.begin(), src.end(), b.begin()));
  }
  ::munmap(squat, 4096);
  // An unaligned freed range is never handed to map_aligned: its mappings stay 2 MiB-aligned.
  // (A smaller length than the freed one, so only the alignment can refuse it.)
  for (int tries = 0; tries < 4; ++tries) {
    bool unaligned = false;
    {
      auto b = shared_array<const double>::attach(a.name());
      unaligned = !aligned_2m(base_of(b));  // top-down addresses: aligned by chance 1 in 512
    }
    if (!unaligned) continue;
    void* p = shmarray::detail::map_aligned(mib / 2, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    REQUIRE(p != MAP_FAILED);
    CHECK(aligned_2m(p));
    ::munmap(p, mib / 2);
    break;
  }
}

TEST_CASE("huge_pages::prefer: a large copy is on huge pages and an attacher maps it aligned",
          "[huge]") {
  if (!kernel_collapses()) {
    SHMTEST_SKIP("this kernel or process gives no huge pages through MADV_COLLAPSE");
  }
  const auto src = ramp(5 * mib / sizeof(double));  // 5 MiB: two whole blocks and a 4 KiB tail
  auto a = shared_array<double>::copy(src, with(huge_pages::prefer));
  CHECK(aligned_2m(base_of(a)));
  CHECK(a.huge_page_bytes() == 4 * mib);  // every whole block; the tail stays 4 KiB
  CHECK(std::equal(src.begin(), src.end(), a.begin()));
  auto b = shared_array<const double>::attach(a.name());
  CHECK(aligned_2m(base_of(b)));
  double sum = 0;
  for (double x : b) sum += x;
  CHECK(sum == std::accumulate(src.begin(), src.end(), 0.0));
  CHECK(b.huge_page_bytes() == 4 * mib);
  // allocate takes the same path and is zero-filled
  auto z = shared_array<std::int32_t>::allocate({3 * mib / 4}, with(huge_pages::require));
  CHECK(z.huge_page_bytes() == 2 * mib);
  CHECK(std::all_of(z.begin(), z.end(), [](std::int32_t v) { return v == 0; }));
}

TEST_CASE("huge_pages::off and small arrays: 4 KiB pages, attach maps as before", "[huge]") {
  const auto src = ramp(3 * mib / sizeof(double));
  auto a = shared_array<double>::copy(src, with(huge_pages::off));
  CHECK(a.huge_page_bytes() == 0);
  auto b = shared_array<const double>::attach(a.name());
  CHECK(std::equal(src.begin(), src.end(), b.begin()));
  CHECK(b.huge_page_bytes() == 0);
  auto small = shared_array<double>::copy(ramp(1000), with(huge_pages::require));
  CHECK(small.huge_page_bytes() == 0);  // no whole 2 MiB block: nothing to require
}

TEST_CASE("4 KiB pages: copy writes into the file, load sends the file; values, orders, errors",
          "[huge][npyfile]") {
  const std::size_t fds = shmtest::count_dir("/proc/self/fd");
  const auto src = ramp(mib / sizeof(double) * 3 + 5);  // not a whole number of pages
  auto off = with(huge_pages::off);
  {  // a contiguous range (pwrite) and a shared_array in the same order (pwrite)
    auto a = shared_array<double>::copy(src, off);
    CHECK(std::equal(src.begin(), src.end(), a.begin()));
    auto b = shared_array<double>::copy(a, off);
    CHECK(std::equal(src.begin(), src.end(), b.begin()));
    CHECK(shmtest::count_dir("/proc/self/fd") == fds);  // creation keeps no descriptor
    // a Fortran-order copy of a C-order array is a gather (through the mapping): same values
    auto fo = off;
    fo.fortran_order = true;
    const std::size_t rows = 3, cols = src.size() / 3;
    auto c = shared_array<double>::copy(
        shmarray::mdspan<const double, shmarray::dextents<std::size_t, 2>>(src.data(), rows, cols),
        fo);
    auto v = c.view<2, shmarray::layout_left>();
    CHECK(v(2, cols - 1) == src[2 * cols + cols - 1]);
    CHECK(v(1, 7) == src[cols + 7]);
    // and a Fortran-order mdspan into a Fortran-order array is contiguous again (pwrite)
    auto d = shared_array<double>::copy(v, fo);
    CHECK(std::equal(c.begin(), c.end(), d.begin()));
    CHECK(d.huge_page_bytes() == 0);
    // the other readers see what was written into the file
    auto r = shared_array<const double>::attach(d.name());
    CHECK(std::equal(c.begin(), c.end(), r.begin()));
  }
  shmtest::temp_dir dir("sendfile");
  {  // load: sendfile from the file, the whole of it, in both orders
    auto a = shared_array<double>::copy(src);
    a.save(dir / "c.npy");
    auto b = shared_array<double>::load(dir / "c.npy", off);
    CHECK(std::equal(src.begin(), src.end(), b.begin()));
    CHECK(b.huge_page_bytes() == 0);
    auto fo = off;
    fo.fortran_order = true;
    auto f = shared_array<double>::copy(a, fo);
    f.save(dir / "f.npy");
    auto g = shared_array<double>::load(dir / "f.npy", off);
    CHECK(g.fortran_order());
    CHECK(std::equal(f.begin(), f.end(), g.begin()));
    CHECK(shmtest::count_dir("/proc/self/fd") == fds);
  }
  {  // a file cut short is still bad_format, with nothing left behind
    const std::string name = shmtest::unique_name("cut");
    shmtest::shm_eraser e(name);
    auto a = shared_array<double>::copy(src);
    a.save(dir / "cut.npy");
    REQUIRE(::truncate((dir / "cut.npy").c_str(), 4096 * 100) == 0);
    auto o = off;
    o.name = name;
    CHECK(error_of([&] { shared_array<double>::load(dir / "cut.npy", o); }) == errc::bad_format);
    CHECK(!shmtest::shm_exists(name));
    CHECK(shmtest::count_dir("/proc/self/fd") == fds);
  }
}

TEST_CASE("a large copy collapses its blocks from several threads, all of them", "[huge]") {
  if (!kernel_collapses()) {
    SHMTEST_SKIP("this kernel or process gives no huge pages through MADV_COLLAPSE");
  }
  const auto src = ramp(96 * mib / sizeof(double));  // 48 blocks: split across threads
  auto a = shared_array<double>::copy(src, with(huge_pages::require));
  CHECK(a.huge_page_bytes() == 96 * mib);
  CHECK(std::equal(src.begin(), src.end(), a.begin()));
  const auto r = shmarray::detail::collapse_parallel(nullptr, 0);
  CHECK(r.blocks == 0);
  CHECK(r.collapsed == 0);
}

TEST_CASE(
    "a block the kernel will not collapse (EAGAIN) stays on 4 KiB pages; the other blocks of its "
    "chunk are on huge pages and counted",
    "[huge][faults]") {
  if (!kernel_collapses()) {
    SHMTEST_SKIP("this kernel or process gives no huge pages through MADV_COLLAPSE");
  }
  // What fragmentation does to a creation (a block the kernel cannot collapse now, with a
  // retryable error), provoked for real: a page held by a pipe (vmsplice takes a reference to
  // it) makes MADV_COLLAPSE of its block fail with EAGAIN. 20 blocks: the first chunk of 16 holds
  // the pinned block 5; the kernel collapses the other 15 and fails the call, so collapse() must
  // retry that chunk block by block to know what became huge (require counts on it; without the
  // retry it reports 4); the second chunk of 4 collapses whole.
  const std::size_t blocks = 20, pinned = 5, n = blocks * shmarray::detail::huge_page_size;
  void* m =
      shmarray::detail::map_aligned(n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
  REQUIRE(m != MAP_FAILED);
  const shmarray::detail::raw_mapping unmap_at_end(m, n);
  auto* p = static_cast<unsigned char*>(m);
  REQUIRE(shmarray::detail::seed_mapping(p, n) == 0);
  auto mark = [](std::size_t b) { return static_cast<unsigned char>('a' + b); };
  for (std::size_t b = 0; b < blocks; ++b) p[b * shmarray::detail::huge_page_size + 1] = mark(b);
  int pipe_fd[2];
  REQUIRE(::pipe(pipe_fd) == 0);
  iovec v{p + pinned * shmarray::detail::huge_page_size, 4096};
  const bool spliced = ::vmsplice(pipe_fd[1], &v, 1, 0) == 4096;
  const auto r = shmarray::detail::collapse(p, n);
  ::close(pipe_fd[0]);
  ::close(pipe_fd[1]);
  CHECK(spliced);
  CHECK(r.blocks == blocks);
  CHECK(r.collapsed == blocks - 1);
  CHECK(r.error != 0);
  CHECK(r.error != EINVAL);
  CHECK(shmarray::detail::pmd_mapped_bytes(p) ==
        static_cast<long long>((blocks - 1) * shmarray::detail::huge_page_size));
  bool intact = true;
  for (std::size_t b = 0; b < blocks; ++b)
    intact = intact && p[b * shmarray::detail::huge_page_size + 1] == mark(b);
  CHECK(intact);
  // Once the pipe let go, the block collapses like the others.
  CHECK(shmarray::detail::collapse(p, n).collapsed == blocks);
  CHECK(shmarray::detail::pmd_mapped_bytes(p) == static_cast<long long>(n));
}

TEST_CASE(
    "a process with THP disabled (PR_SET_THP_DISABLE): prefer falls back, require is "
    "no_space, nothing left",
    "[huge][faults]") {
  auto st = shmtest::run_in_child([] {
    if (::prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0) return 77;
    const auto src = ramp(4 * mib / sizeof(double));
    {
      auto a = shared_array<double>::copy(src, with(huge_pages::prefer));
      if (a.huge_page_bytes() != 0) return 10;
      if (!std::equal(src.begin(), src.end(), a.begin())) return 11;
      auto b = shared_array<const double>::attach(a.name());
      if (!std::equal(src.begin(), src.end(), b.begin())) return 12;
    }
    // A named segment, so that "nothing left" is checked for it alone (other tests running
    // meanwhile add and remove segments of their own).
    shmarray::manager m;
    auto named = with(huge_pages::require);
    named.name = shmtest::unique_name("thpoff");
    if (error_of([&] { (void)shared_array<double>::copy(m, src, named); }) != errc::no_space)
      return 13;
    if (!m.names().empty() || shmtest::shm_exists(named.name)) return 14;
    if (error_of([&] {
          (void)shared_array<double>::allocate_anonymous({src.size()}, false, huge_pages::require);
        }) != errc::no_space)
      return 15;
    auto anon = shared_array<double>::allocate_anonymous({src.size()});  // prefer: 4 KiB
    return anon.huge_page_bytes() == 0 && anon.data()[src.size() - 1] == 0 ? 0 : 16;
  });
  if (st.exited && st.code == 77) {
    SHMTEST_SKIP("prctl(PR_SET_THP_DISABLE) is not available");
  }
  CHECK(st.signal == 0);
  CHECK(st.code == 0);
}

TEST_CASE(
    "a /dev/shm too small: huge-page copies are no_space at creation, never SIGBUS; what "
    "fits holds its data",
    "[huge][faults][nospace]") {
  auto st = shmtest::in_small_dev_shm("8m", [] {
    const auto big = ramp(12 * mib / sizeof(double));
    for (auto hp : {huge_pages::prefer, huge_pages::require}) {
      if (error_of([&] { (void)shared_array<double>::copy(big, with(hp)); }) != errc::no_space)
        return 10;
      if (shmtest::count_dir("/dev/shm") != 2) return 11;
    }
    // 5 MiB fits; a second 5 MiB does not, though some of its blocks might collapse first
    const auto mid = ramp(5 * mib / sizeof(double));
    auto a = shared_array<double>::copy(mid, with(huge_pages::prefer));
    if (!std::equal(mid.begin(), mid.end(), a.begin())) return 12;
    if (error_of([&] { (void)shared_array<double>::copy(mid); }) != errc::no_space) return 13;
    if (shmtest::count_dir("/dev/shm") != 3) return 14;
    a.close();
    return shmtest::count_dir("/dev/shm") == 2 ? 0 : 15;
  });
  if (st.exited && st.code == 77) {
    SHMTEST_SKIP("cannot make a private mount namespace here (needs root / CAP_SYS_ADMIN)");
  }
  CHECK(st.signal == 0);
  CHECK(st.code == 0);
}

TEST_CASE("anonymous arrays on huge pages are shared with forked children", "[huge]") {
  if (!kernel_collapses()) {
    SHMTEST_SKIP("this kernel or process gives no huge pages through MADV_COLLAPSE");
  }
  auto a = shared_array<std::uint64_t>::allocate_anonymous({(4 * mib) / 8});
  CHECK(a.huge_page_bytes() >= 2 * mib);
  auto st = shmtest::run_in_child([&] {
    for (std::size_t i = 0; i < a.size(); ++i) a.data()[i] = i * 3;
    return 0;
  });
  REQUIRE(st.ok());
  bool same = true;
  for (std::size_t i = 0; i < a.size(); ++i) same = same && a.data()[i] == i * 3;
  CHECK(same);
}

TEST_CASE("process_pool results of several MiB are right on the huge-page block", "[huge][pool]") {
  shmarray::process_pool pool(2);
  auto r = pool.map<std::size_t>(std::size_t{1} << 19, [](std::size_t i) { return i * 7 + 1; });
  bool ok = r.size() == (std::size_t{1} << 19);
  for (std::size_t i = 0; ok && i < r.size(); ++i) ok = r[i] == i * 7 + 1;
  CHECK(ok);
}

TEST_CASE("attach through the cached /dev/shm directory survives a closed descriptor",
          "[huge][shm_dir]") {
  auto a = shared_array<int>::copy(std::vector<int>{1, 2, 3});
  (void)shared_array<const int>::attach(a.name());
  auto st = shmtest::run_in_child([&] {
    const int dir = shmarray::detail::shm_dir::get().cached_fd();
    if (dir < 0) return 10;
    ::close(dir);  // a program that closes every descriptor it did not open itself
    auto b = shared_array<const int>::attach(a.name());
    if (b.data()[2] != 3) return 11;
    // the number reused for a file elsewhere (not a directory): reopened too
    int other = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (other != dir) return 0;  // the number went elsewhere: nothing more to test
    auto c = shared_array<const int>::attach(a.name());
    return c.data()[0] == 1 ? 0 : 12;
  });
  CHECK(st.ok());
}

TEST_CASE("a fork into a new mount namespace does not attach through the old /dev/shm",
          "[huge][shm_dir]") {
  // The parent's cached directory is the machine's /dev/shm...
  auto outer = shared_array<int>::copy(std::vector<int>{7}, named(shmtest::unique_name("ns")));
  (void)shared_array<const int>::attach(outer.name());
  REQUIRE(shmarray::detail::shm_dir::get().cached_fd() >= 0);
  const std::string outer_name = outer.name();
  // ...the child's /dev/shm is a private tmpfs (in_small_dev_shm forks, unshares, mounts).
  auto st = shmtest::in_small_dev_shm("1m", [&] {
    if (error_of([&] { (void)shared_array<const int>::attach(outer_name); }) != errc::not_found)
      return 10;  // the machine's segment is not visible through a stale descriptor
    auto inner = shared_array<int>::copy(std::vector<int>{8}, named(outer_name));
    auto b = shared_array<const int>::attach(outer_name);
    if (b.data()[0] != 8) return 11;  // the namespace's own segment of the same name
    // The same process mounting over /dev/shm again (no fork): a name only the new mount
    // holds is found (not_found makes attach look at /dev/shm again).
    if (::mount("tmpfs", "/dev/shm", "tmpfs", 0, "size=1m") != 0) return 77;
    auto fresh = shared_array<int>::copy(std::vector<int>{9}, named("fresh-" + outer_name));
    auto c = shared_array<const int>::attach(fresh.name());
    if (c.data()[0] != 9) return 12;
    shmarray::detail::shm_dir::get().forget();  // and the explicit way for names in both
    auto same = shared_array<int>::copy(std::vector<int>{10}, named(outer_name));
    auto d = shared_array<const int>::attach(outer_name);
    return d.data()[0] == 10 ? 0 : 13;
  });
  if (st.exited && st.code == 77) {
    SHMTEST_SKIP("cannot make a private mount namespace here (needs root / CAP_SYS_ADMIN)");
  }
  CHECK(st.code == 0);
  auto again = shared_array<const int>::attach(outer_name);  // the parent is unaffected
  CHECK(again.data()[0] == 7);
}
