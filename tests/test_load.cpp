// Load: thousands of create/attach/close cycles, in one process and across forked workers, must
// not grow the open file descriptors (/proc/self/fd), the mappings (/proc/self/maps) or /dev/shm.
// The default counts are the 10,000 cycles; SHMARRAY_STRESS=1 multiplies them by 10.
#include <catch2/catch.hpp>

#include <dirent.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <shmarray/shmarray.hpp>
#include <string>
#include <vector>

#include "test_support.hpp"

using namespace std::chrono_literals;
using shmarray::errc;
using shmarray::shared_array;
using shmtest::count_dir;
using shmtest::stress;
using shmtest::unique_name;

namespace {
// All mappings, and those of shared memory segments (named, or unlinked: "(deleted)").
std::size_t count_maps(bool shm_only = false) {
  std::ifstream f("/proc/self/maps");
  std::size_t n = 0;
  std::string line;
  while (std::getline(f, line))
    if (!shm_only || line.find("/dev/shm/") != std::string::npos) ++n;
  return n;
}
// Our own segments in /dev/shm (other test programs may run next to this one).
std::size_t count_prefix(const std::string& prefix) {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/dev/shm")) {
    while (dirent* e = ::readdir(d))
      if (std::string(e->d_name).rfind(prefix, 0) == 0) ++n;
    ::closedir(d);
  }
  return n;
}

// Segment mappings must come back exactly; the total may move a little as the allocator (ASan's
// especially) maps arenas on its own, but must not grow with the number of cycles.
struct usage {
  std::size_t fds, shm_maps, maps;
  static usage now() { return {count_dir("/proc/self/fd"), count_maps(true), count_maps()}; }
  bool same_as(const usage& o) const {
    return fds == o.fds && shm_maps == o.shm_maps && maps <= o.maps + max_allocator_maps;
  }
  static constexpr std::size_t max_allocator_maps = 32;
};

// One cycle: create (allocate, copy, or through a manager), attach read-write and read-only,
// touch the data, fail an attach with the wrong type, close everything. Returns false on a
// wrong value (the CHECKs stay outside: Catch2 is not for forked children).
bool cycle(const std::string& prefix, int i, shmarray::manager& m) {
  const std::string name = prefix + std::to_string(i);
  const std::size_t n = 1 + static_cast<std::size_t>(i % 512);
  shared_array<std::int32_t> a;
  switch (i % 3) {
    case 0: a = shared_array<std::int32_t>::allocate({n}, {name}); break;
    case 1: a = shared_array<std::int32_t>::copy(std::vector<std::int32_t>(n, i), {name}); break;
    default: a = shared_array<std::int32_t>::allocate(m, {n}, {name}); break;
  }
  a.data()[n - 1] = i;
  bool ok = true;
  {
    auto b = shared_array<std::int32_t>::attach(name, {n});
    auto c = shared_array<const std::int32_t>::attach(name);
    ok = b.data()[n - 1] == i && c.data()[n - 1] == i;
    try {
      shared_array<double>::attach(name);
      ok = false;
    } catch (const shmarray::error& e) {
      ok = ok && e.kind() == errc::type_mismatch;
    }
  }
  const bool managed = i % 3 == 2;
  a.close();
  if (managed) ::shm_unlink(name.c_str());  // the manager's copy of the name is then a no-op
  return ok;
}
}  // namespace

TEST_CASE("10,000 create/attach/close cycles in one process leak nothing", "[load]") {
  const int n = stress() ? 100000 : 10000;
  const std::string prefix = unique_name("load") + "-";
  shmarray::manager m(shmarray::manager_options{false});
  // Warm up: first-use allocations (static strings, the allocator's arenas) are not leaks.
  for (int i = 0; i < 30; ++i) REQUIRE(cycle(prefix, i, m));
  const usage before = usage::now();
  int bad = 0;
  for (int i = 30; i < n; ++i)
    if (!cycle(prefix, i, m)) ++bad;
  const usage after = usage::now();
  CHECK(bad == 0);
  CHECK(after.fds == before.fds);
  CHECK(after.shm_maps == before.shm_maps);
  CHECK(after.maps <= before.maps + usage::max_allocator_maps);
  CHECK(count_prefix(prefix) == 0);
  WARN(n << " cycles in one process: fds " << before.fds << " -> " << after.fds
         << ", segment mappings " << before.shm_maps << " -> " << after.shm_maps
         << ", all mappings " << before.maps << " -> " << after.maps);
}

TEST_CASE("10,000 cycles across forked workers leak nothing, in them or here", "[load][fork]") {
  constexpr int workers = 4;
  const int per = (stress() ? 100000 : 10000) / workers;
  const std::string prefix = unique_name("fload") + "-";
  const usage before = usage::now();
  std::vector<pid_t> pids;
  for (int w = 0; w < workers; ++w) {
    std::fflush(nullptr);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      shmtest::reset_fatal_signals();
      int code = 0;
      try {
        const std::string mine = prefix + std::to_string(w) + "-";
        shmarray::manager m;  // with its crash-cleanup tracker, as a real worker would have
        for (int i = 0; i < 30; ++i)
          if (!cycle(mine, i, m)) code = 1;
        const usage b = usage::now();
        for (int i = 30; i < per; ++i)
          if (!cycle(mine, i, m)) code = 1;
        const usage a = usage::now();
        if (a.fds != b.fds) code |= 2;
        if (!a.same_as(b)) code |= 4;
        if (count_prefix(mine) != 0) code |= 8;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "worker %d: %s\n", w, e.what());
        code = 16;
      }
      std::fflush(nullptr);
      ::_exit(code);
    }
    pids.push_back(pid);
  }
  for (pid_t p : pids) {
    auto st = shmtest::wait_child(p, 240s);
    INFO("worker exit code " << st.code << " (1 wrong value, 2 fds, 4 maps, 8 /dev/shm)");
    CHECK(st.ok());
  }
  CHECK(count_prefix(prefix) == 0);
  const usage after = usage::now();
  CHECK(after.fds == before.fds);
  CHECK(after.shm_maps == before.shm_maps);
}

TEST_CASE("failing operations in a loop leak nothing", "[load][hygiene]") {
  const int n = stress() ? 20000 : 2000;
  const std::string name = unique_name("lfail");
  auto keep = shared_array<double>::allocate({4}, {name});
  const std::string missing = unique_name("missing");
  shmarray::attach_options quick;
  quick.ready_timeout = 0ms;
  auto one = [&](int i) {
    int kinds = 0;
    auto expect = [&](errc want, auto&& f) {
      try {
        f();
      } catch (const shmarray::error& e) {
        if (e.kind() == want) ++kinds;
      }
    };
    expect(errc::already_exists, [&] { shared_array<double>::allocate({4}, {name}); });
    expect(errc::type_mismatch, [&] { shared_array<float>::attach(name, quick); });
    expect(errc::shape_mismatch, [&] { shared_array<double>::attach(name, {3}, quick); });
    expect(errc::not_found, [&] { shared_array<double>::attach(missing, quick); });
    expect(errc::invalid_argument, [&] { shared_array<double>::allocate({1}, {"a/b"}); });
    expect(errc::invalid_argument, [&] {
      shared_array<double>::allocate({std::size_t{1} << 62, 4});
    });
    (void)i;
    return kinds == 6;
  };
  for (int i = 0; i < 20; ++i) REQUIRE(one(i));
  const usage before = usage::now();
  int bad = 0;
  for (int i = 0; i < n; ++i)
    if (!one(i)) ++bad;
  const usage after = usage::now();
  CHECK(bad == 0);
  CHECK(after.fds == before.fds);
  CHECK(after.shm_maps == before.shm_maps);
  CHECK(after.maps <= before.maps + usage::max_allocator_maps);
  CHECK(shmtest::shm_exists(name));  // failed creations never removed the existing segment
}

TEST_CASE("Issue 13: refused headers, swapped loads and refused swapped attaches leak nothing",
          "[load][hygiene][issue13]") {
  const int n = stress() ? 5000 : 500;
  shmtest::temp_dir dir("load13");
  const char other = shmarray::npy::detail::little_endian ? '>' : '<';
  // Four doubles (1, 0, 0, 0) in the other byte order than this host's, and a header 10006 bytes
  // long (over NumPy's limit): each as a segment and as a file.
  auto make = [](const std::string& descr, std::size_t text_size) {
    std::string t = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (4,), }";
    t.append(text_size - t.size() - 1, ' ');
    t += '\n';
    std::string h = std::string("\x93NUMPY\x01\x00", 8);
    h += static_cast<char>(t.size() & 0xff);
    h += static_cast<char>(t.size() >> 8);
    std::string data(32, '\0');  // 1.0 is 3f f0 00 00 00 00 00 00 big-endian
    data[0] = '\x3f';
    data[1] = '\xf0';
    if (descr[0] == '<') std::reverse(data.begin(), data.begin() + 8);
    return h + t + data;
  };
  const std::string swapped = make(std::string(1, other) + "f8", 118);
  const std::string longer = make("<f8", 10006);
  const std::string seg_swapped = unique_name("l13s"), seg_long = unique_name("l13l");
  shmtest::shm_eraser e1(seg_swapped), e2(seg_long);
  shmtest::write_raw_segment(seg_swapped, swapped);
  shmtest::write_raw_segment(seg_long, longer);
  {
    std::ofstream(dir / "s.npy", std::ios::binary) << swapped;
    std::ofstream(dir / "l.npy", std::ios::binary) << longer;
  }
  shmarray::attach_options quick;
  quick.ready_timeout = 0ms;
  const std::string prefix = unique_name("l13") + "-";
  auto one = [&](int i) {
    int ok = 0;
    auto expect = [&](errc want, auto&& f) {
      try {
        f();
      } catch (const shmarray::error& e) {
        if (e.kind() == want) ++ok;
      }
    };
    expect(errc::type_mismatch, [&] { shared_array<double>::attach(seg_swapped, quick); });
    expect(errc::bad_format, [&] { shared_array<double>::attach(seg_long, quick); });
    expect(errc::bad_format, [&] { shared_array<double>::load(dir / "l.npy"); });
    expect(errc::type_mismatch, [&] { shared_array<float>::load(dir / "s.npy"); });
    auto a = shared_array<double>::load(dir / "s.npy", {prefix + std::to_string(i)});
    if (a.data()[0] == 1.0) ++ok;
    return ok == 5;
  };
  for (int i = 0; i < 10; ++i) REQUIRE(one(i));
  const usage before = usage::now();
  int bad = 0;
  for (int i = 10; i < n; ++i)
    if (!one(i)) ++bad;
  const usage after = usage::now();
  CHECK(bad == 0);
  CHECK(after.fds == before.fds);
  CHECK(after.shm_maps == before.shm_maps);
  CHECK(after.maps <= before.maps + usage::max_allocator_maps);
  CHECK(count_prefix(prefix) == 0);
}
