// shared_array<T>: factories, attach validation, ownership rules, names, permissions, shapes,
// views, copies, and that failures leave nothing behind. Cross-process cases fork or re-run this
// binary.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <array>
#include <complex>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <shmarray/shmarray.hpp>
#include <string>
#include <vector>

#include "test_support.hpp"

using namespace std::chrono_literals;
using shmarray::errc;
using shmarray::shape_type;
using shmarray::shared_array;
using shmtest::contains;
using shmtest::count_dir;
using shmtest::error_of;
using shmtest::message_of;
using shmtest::shm_eraser;
using shmtest::unique_name;
using shmtest::write_raw_segment;

namespace {
// Entries in /dev/shm that this test process named (other tests run in parallel).
std::size_t count_mine() {
  return shmtest::shm_with_prefix("shmt-" + std::to_string(::getpid()) + "-").size();
}
// Mappings of shared memory segments only (sanitizer allocators add mappings of their own).
std::size_t count_maps() {
  std::ifstream f("/proc/self/maps");
  std::size_t n = 0;
  std::string line;
  while (std::getline(f, line))
    if (line.find("/dev/shm/") != std::string::npos) ++n;
  return n;
}
struct point {
  float x, y;
};
struct span2 {
  std::int32_t a, b;
};
}  // namespace

TEST_CASE("allocate makes a zero-filled, named, private segment that close() removes",
          "[shared_array]") {
  auto a = shared_array<double>::allocate({3, 4});
  REQUIRE(a.is_open());
  CHECK(a.owner());
  CHECK(a.shape() == shape_type{3, 4});
  CHECK(a.size() == 12);
  CHECK(a.nbytes() == 96);
  CHECK(a.rank() == 2);
  CHECK(a.dtype() == "<f8");
  CHECK(a.name().size() == shmarray::generated_name_length);
  CHECK(a.name().rfind("shmarray-", 0) == 0);
  for (double v : a) CHECK(v == 0.0);
  REQUIRE(shmtest::shm_exists(a.name()));
  struct stat st {};
  REQUIRE(::stat(("/dev/shm/" + a.name()).c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  std::string name = a.name();
  a.close();
  CHECK_FALSE(a.is_open());
  CHECK_FALSE(shmtest::shm_exists(name));
  a.close();  // idempotent
  CHECK(a.data() == nullptr);
}

TEST_CASE("generated names are distinct and unpredictable", "[shared_array][names]") {
  std::vector<std::string> names;
  for (int i = 0; i < 64; ++i) names.push_back(shmarray::detail::generate_name());
  std::sort(names.begin(), names.end());
  CHECK(std::unique(names.begin(), names.end()) == names.end());
  // 16 hex digits after the prefix: 64 bits.
  for (const auto& n : names) {
    CHECK(n.size() == 25);
    CHECK(n.find_first_not_of("0123456789abcdef", 9) == std::string::npos);
  }
}

TEST_CASE("attach by name sees the owner's data, shape and dtype", "[shared_array]") {
  std::string name = unique_name("attach");
  auto a = shared_array<std::int32_t>::allocate({2, 3}, {name});
  for (std::size_t i = 0; i < a.size(); ++i) a.data()[i] = static_cast<std::int32_t>(i * 10);
  auto b = shared_array<std::int32_t>::attach(name);
  CHECK_FALSE(b.owner());
  CHECK(b.name() == name);
  CHECK(b.shape() == shape_type{2, 3});
  CHECK(b.dtype() == "<i4");
  CHECK(b.data()[5] == 50);
  b.data()[0] = 7;
  CHECK(a.data()[0] == 7);
  auto c = shared_array<std::int32_t>::attach(name, {2, 3});
  CHECK(c.size() == 6);
  b.close();  // a client's close never unlinks
  CHECK(shmtest::shm_exists(name));
}

TEST_CASE("attach checks dtype, shape, and says what it found", "[shared_array]") {
  std::string name = unique_name("check");
  auto a = shared_array<float>::allocate({4}, {name});
  std::string m = message_of([&] { shared_array<double>::attach(name); });
  CHECK(contains(m, "'" + name + "'"));
  CHECK(contains(m, "'<f4'"));
  CHECK(contains(m, "'<f8'"));
  CHECK(error_of([&] { shared_array<double>::attach(name); }) == errc::type_mismatch);
  CHECK(error_of([&] { shared_array<std::int32_t>::attach(name); }) == errc::type_mismatch);
  CHECK(error_of([&] { shared_array<float>::attach(name, {2, 2}); }) == errc::shape_mismatch);
  m = message_of([&] { shared_array<float>::attach(name, {5}); });
  CHECK(contains(m, "(4,)"));
  CHECK(contains(m, "(5,)"));
}

TEST_CASE("struct element types are told apart by the trailer's type hash", "[shared_array]") {
  std::string name = unique_name("struct");
  auto a = shared_array<point>::allocate({3}, {name});
  CHECK(a.dtype() == "|V8");
  a.data()[1] = point{1.5f, 2.5f};
  auto b = shared_array<point>::attach(name);
  CHECK(b.data()[1].y == 2.5f);
  CHECK(error_of([&] { shared_array<span2>::attach(name); }) == errc::type_mismatch);
}

TEST_CASE("std::error_code comparisons with errc work", "[error]") {
  try {
    shared_array<double>::attach(unique_name("missing"));
    FAIL("attach of a missing segment did not throw");
  } catch (const shmarray::error& e) {
    CHECK(e.code() == errc::not_found);
    CHECK(e.code() == std::errc::no_such_file_or_directory);
    CHECK(e.native_error() == ENOENT);
    const std::system_error& se = e;
    CHECK(se.code().category().name() == std::string("shmarray"));
  }
  std::error_code ec = errc::bad_format;
  CHECK(ec.message() == "bad segment format");
}

TEST_CASE("an existing name is already_exists and the first segment survives", "[shared_array]") {
  std::string name = unique_name("dup");
  auto a = shared_array<double>::allocate({2}, {name});
  a.data()[0] = 42;
  CHECK(error_of([&] { shared_array<double>::allocate({2}, {name}); }) == errc::already_exists);
  CHECK(shared_array<double>::attach(name).data()[0] == 42);
}

TEST_CASE("bad names are invalid_argument before any system call", "[shared_array][names]") {
  std::size_t fds = count_dir("/proc/self/fd");
  for (const std::string& bad :
       {std::string(), std::string("a/b"), std::string("/lead"), std::string("a\0b", 3),
        std::string(256, 'x'), std::string(".."), std::string(".")}) {
    INFO("name of length " << bad.size());
    if (!bad.empty())  // an empty name asks allocate for a generated one
      CHECK(error_of([&] { shared_array<double>::allocate({2}, {bad}); }) ==
            errc::invalid_argument);
    CHECK(error_of([&] { shared_array<double>::attach(bad); }) == errc::invalid_argument);
  }
  CHECK(count_dir("/proc/self/fd") == fds);
  // The longest name that fits NAME_MAX works, and so do non-ASCII names.
  std::string longest = unique_name("long");
  longest.resize(255, 'y');
  auto a = shared_array<double>::allocate({1}, {longest});
  CHECK(shared_array<double>::attach(longest).size() == 1);
  std::string utf8 = unique_name("\xc3\xa9t\xc3\xa9");
  auto b = shared_array<double>::allocate({1}, {utf8});
  CHECK(shmtest::shm_exists(utf8));
}

TEST_CASE("permissions are exactly the mode asked, whatever the umask",
          "[shared_array][security]") {
  for (mode_t mask : {mode_t{0}, mode_t{077}, mode_t{022}}) {
    for (unsigned mode : {0600u, 0640u, 0666u, 0400u}) {
      mode_t old = ::umask(mask);
      std::string name = unique_name("mode");
      auto a = shared_array<std::uint8_t>::allocate({8}, {name, mode});
      ::umask(old);
      struct stat st {};
      REQUIRE(::stat(("/dev/shm/" + name).c_str(), &st) == 0);
      INFO("umask " << mask << " mode " << mode);
      CHECK((st.st_mode & 07777) == mode);
    }
  }
  CHECK(error_of([] {
          shared_array<double>::allocate({1}, {"", 010000});
        }) == errc::invalid_argument);
}

TEST_CASE("0-d and zero-size arrays", "[shared_array][shapes]") {
  std::string n0 = unique_name("zerod");
  auto s = shared_array<double>::allocate({}, {n0});
  CHECK(s.size() == 1);
  CHECK(s.rank() == 0);
  s.data()[0] = 3.5;
  auto s2 = shared_array<double>::attach(n0);
  CHECK(s2.shape().empty());
  CHECK(s2.data()[0] == 3.5);
  CHECK(s2.view<0>()() == 3.5);

  std::string nz = unique_name("empty");
  auto z = shared_array<float>::allocate({0, 5}, {nz});
  CHECK(z.size() == 0);
  CHECK(z.empty());
  CHECK(z.begin() == z.end());
  auto z2 = shared_array<float>::attach(nz);
  CHECK(z2.shape() == shape_type{0, 5});
  CHECK(z2.empty());
  CHECK(z2.view<2>().extent(1) == 5);
}

TEST_CASE("shapes that overflow or have too many dimensions are refused",
          "[shared_array][shapes]") {
  std::size_t big = std::size_t{1} << 62;
  CHECK(error_of([&] { shared_array<double>::allocate({big, 4}); }) == errc::invalid_argument);
  CHECK(error_of([&] { shared_array<double>::allocate({SIZE_MAX}); }) == errc::invalid_argument);
  CHECK(error_of([&] { shared_array<double>::allocate(shape_type(33, 1)); }) ==
        errc::invalid_argument);
  CHECK(shared_array<double>::allocate(shape_type(32, 1)).size() == 1);
}

TEST_CASE("only the creating process unlinks: a forked child's destructors leave it",
          "[shared_array][fork]") {
  static shared_array<double> in_static;  // destroyed at the child's exit()
  std::string name = unique_name("forkowner");
  auto a = shared_array<double>::allocate({16}, {name});
  a.data()[3] = 9;
  auto st = shmtest::run_in_child_with_exit([&] {
    in_static = shared_array<double>::attach(name);
    { shared_array<double> moved = std::move(a); }  // the inherited owner handle is destroyed here
    return 0;
  });
  REQUIRE(st.ok());
  CHECK(shmtest::shm_exists(name));
  CHECK(a.data()[3] == 9);
  auto st2 = shmtest::run_in_child([&] {
    a.close();
    return 0;
  });
  REQUIRE(st2.ok());
  CHECK(shmtest::shm_exists(name));
  a.close();
  CHECK_FALSE(shmtest::shm_exists(name));
}

TEST_CASE("writes are visible across processes, both ways", "[shared_array][fork]") {
  std::string name = unique_name("both");
  auto a = shared_array<std::int64_t>::allocate({100}, {name});
  for (std::size_t i = 0; i < 100; ++i) a.data()[i] = static_cast<std::int64_t>(i);
  auto st = shmtest::run_in_child([&] {
    auto b = shared_array<std::int64_t>::attach(name, {100});
    for (std::size_t i = 0; i < 100; ++i)
      if (b.data()[i] != static_cast<std::int64_t>(i)) return 1;
    for (std::size_t i = 0; i < 100; ++i) b.data()[i] = -b.data()[i];
    return 0;
  });
  REQUIRE(st.ok());
  for (std::size_t i = 0; i < 100; ++i) CHECK(a.data()[i] == -static_cast<std::int64_t>(i));
}

TEST_CASE("child: attach by name (run by the exec test)", "[.][child]") {
  const char* name = std::getenv("SHMARRAY_TEST_CHILD_NAME");
  REQUIRE(name);
  auto b = shared_array<double>::attach(name);
  REQUIRE(b.shape() == shape_type{10, 10});
  auto v = b.view<2>();
  for (std::size_t i = 0; i < 10; ++i)
    for (std::size_t j = 0; j < 10; ++j) REQUIRE(v(i, j) == static_cast<double>(i * 10 + j));
  v(9, 9) = -1;
}

TEST_CASE("a name passed to an exec'd program attaches like a pickled handle",
          "[shared_array][exec]") {
  std::string name = unique_name("exec");
  auto a = shared_array<double>::allocate({10, 10}, {name});
  for (std::size_t i = 0; i < 100; ++i) a.data()[i] = static_cast<double>(i);
  ::setenv("SHMARRAY_TEST_CHILD_NAME", name.c_str(), 1);
  auto st =
      shmtest::run_command({"/proc/self/exe", "child: attach by name (run by the exec test)"});
  ::unsetenv("SHMARRAY_TEST_CHILD_NAME");
  INFO(st.out);
  REQUIRE(st.ok());
  CHECK(a.data()[99] == -1);
  CHECK(shmtest::shm_exists(name));  // the exec'd client did not remove it
}

TEST_CASE("attach after unlink is not_found", "[shared_array]") {
  auto a = shared_array<double>::allocate({2});
  std::string name = a.name();
  a.close();
  CHECK(error_of([&] { shared_array<double>::attach(name); }) == errc::not_found);
}

TEST_CASE("an unpublished segment is not_ready after the timeout; a late publish is seen",
          "[shared_array][ready]") {
  std::string name = unique_name("ready");
  shm_eraser er(name);
  std::string header = shmarray::npy::write_header("<f8", false, {4});
  std::string bytes = header + std::string(4 * 8 + 64, '\0');
  bytes[0] = '\0';
  write_raw_segment(name, bytes);
  auto t0 = std::chrono::steady_clock::now();
  CHECK(error_of([&] { shared_array<double>::attach(name, {50ms}); }) == errc::not_ready);
  CHECK(std::chrono::steady_clock::now() - t0 >= 50ms);
  CHECK(contains(message_of([&] { shared_array<double>::attach(name, {10ms}); }), "not published"));
  // A child publishes byte 0 once it knows we are attaching; attach must wake up and succeed.
  int go[2];
  REQUIRE(::pipe(go) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    char c;
    if (::read(go[0], &c, 1) != 1) ::_exit(2);
    int fd = ::shm_open(name.c_str(), O_RDWR, 0);
    void* p = ::mmap(nullptr, bytes.size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    __atomic_store_n(static_cast<unsigned char*>(p), 0x93, __ATOMIC_RELEASE);
    shmarray::detail::futex_wake_all(p);
    ::_exit(0);
  }
  REQUIRE(::write(go[1], "g", 1) == 1);
  auto b = shared_array<double>::attach(name, {10s});
  CHECK(b.size() == 4);
  CHECK(shmtest::wait_child(pid, 10s).ok());
  ::close(go[0]);
  ::close(go[1]);
}

TEST_CASE("broken segments are bad_format, never a crash", "[shared_array][format]") {
  std::string good = shmarray::npy::write_header("<f8", false, {1000});
  struct broken {
    const char* what;
    std::string bytes;
  };
  std::vector<broken> cases = {
      {"truncated data", good + std::string(100, '\0')},
      {"truncated header", good.substr(0, 30)},
      {"garbage", std::string(200, 'z')},
      {"wrong magic", "\x93NUMPX" + good.substr(6) + std::string(8000, '\0')},
  };
  for (auto& c : cases) {
    INFO(c.what);
    std::string name = unique_name("broken");
    shm_eraser er(name);
    write_raw_segment(name, c.bytes);
    CHECK(error_of([&] { shared_array<double>::attach(name, {20ms}); }) == errc::bad_format);
  }
  // Empty (a creator that died before sizing it): waits for the timeout, then bad_format.
  std::string name = unique_name("zero");
  shm_eraser er(name);
  write_raw_segment(name, "");
  CHECK(error_of([&] { shared_array<double>::attach(name, {20ms}); }) == errc::bad_format);
}

TEST_CASE("attach_raw reads a headerless segment and checks its size", "[shared_array][raw]") {
  std::string name = unique_name("raw");
  shm_eraser er(name);
  std::vector<double> v(12);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i) / 2;
  write_raw_segment(name, std::string(reinterpret_cast<const char*>(v.data()), v.size() * 8));
  auto a = shared_array<double>::attach_raw(name, {3, 4});
  CHECK(a.view<2>()(2, 3) == 5.5);
  CHECK_FALSE(a.owner());
  CHECK(error_of([&] { shared_array<double>::attach_raw(name, {4, 4}); }) == errc::shape_mismatch);
  a.close();
  CHECK(shmtest::shm_exists(name));
}

TEST_CASE("copy from ranges, shared arrays and strided views", "[shared_array][copy]") {
  std::vector<int> v{1, 2, 3, 4, 5, 6};
  auto a = shared_array<int>::copy(v);
  CHECK(a.shape() == shape_type{6});
  CHECK(std::equal(a.begin(), a.end(), v.begin()));
  std::array<float, 3> arr{1.5f, 2.5f, 3.5f};
  CHECK(shared_array<float>::copy(arr).data()[2] == 3.5f);

  // A 2x3 C-order array and its transpose as a layout_stride view (3x2).
  auto c = shared_array<int>::copy(
      shmarray::mdspan<int, shmarray::dextents<std::size_t, 2>>(v.data(), 2, 3));
  CHECK(c.shape() == shape_type{2, 3});
  CHECK(c.view<2>()(1, 2) == 6);
  using E2 = shmarray::dextents<std::size_t, 2>;
  shmarray::layout_stride::mapping<E2> tmap(E2(3, 2), std::array<std::size_t, 2>{1, 3});
  shmarray::mdspan<int, E2, shmarray::layout_stride> t(v.data(), tmap);
  auto tc = shared_array<int>::copy(t);
  CHECK(tc.shape() == shape_type{3, 2});
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 2; ++j) CHECK(tc.view<2>()(i, j) == v[j * 3 + i]);
  auto tf = shared_array<int>::copy(t, {"", 0600, true});
  CHECK(tf.fortran_order());
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 2; ++j)
      CHECK(tf.view<2, shmarray::layout_left>()(i, j) == v[j * 3 + i]);

  // shared_array -> shared_array, C to Fortran and back.
  auto back = shared_array<int>::copy(tf, {"", 0600, false});
  CHECK_FALSE(back.fortran_order());
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 2; ++j) CHECK(back.view<2>()(i, j) == v[j * 3 + i]);
  auto same = shared_array<int>::copy(tf, {"", 0600, true});
  CHECK(same.fortran_order());
  CHECK(std::equal(same.begin(), same.end(), tf.begin()));

  auto like = shared_array<double>::allocate_like(t);
  CHECK(like.shape() == shape_type{3, 2});
  auto like2 = shared_array<float>::allocate_like(tf);
  CHECK_FALSE(like2.fortran_order());  // the order is always the options'
  CHECK(like2.shape() == tf.shape());
}

TEST_CASE("views follow the segment's order", "[shared_array][views]") {
  auto c = shared_array<double>::allocate({2, 3});
  auto f = shared_array<double>::allocate({2, 3}, {"", 0600, true});
  CHECK(error_of([&] { c.view<2, shmarray::layout_left>(); }) == errc::layout_mismatch);
  CHECK(error_of([&] { f.view<2>(); }) == errc::layout_mismatch);
  CHECK(error_of([&] { c.view<3>(); }) == errc::invalid_argument);
  CHECK(contains(message_of([&] { c.view<3>(); }), "rank 2"));
  auto fv = f.view<2, shmarray::layout_left>();
  fv(1, 0) = 5;
  CHECK(f.data()[1] == 5);  // column-major: (1,0) is the second element
  auto sv = f.view<2, shmarray::layout_stride>();
  CHECK(sv(1, 0) == 5);
  CHECK(sv.stride(1) == 2);
  auto cv = c.view<2, shmarray::layout_stride>();
  CHECK(cv.stride(0) == 3);
  const auto& cc = c;
  auto ro = cc.view<2>();
  static_assert(std::is_same_v<decltype(ro)::element_type, const double>);
  c.close();
  CHECK(error_of([&] { c.view<2>(); }) == errc::closed);
}

TEST_CASE("handles move; moved-from handles are closed and safe", "[shared_array]") {
  auto a = shared_array<double>::allocate({4});
  std::string name = a.name();
  shared_array<double> b = std::move(a);
  CHECK_FALSE(a.is_open());
  CHECK(b.is_open());
  CHECK(b.name() == name);
  a.close();
  CHECK(shmtest::shm_exists(name));
  shared_array<double> c = shared_array<double>::allocate({1});
  std::string cname = c.name();
  c = std::move(b);  // c's old segment is closed (and removed)
  CHECK_FALSE(shmtest::shm_exists(cname));
  CHECK(c.name() == name);
  static_assert(!std::is_copy_constructible_v<shared_array<double>>);
  static_assert(std::is_nothrow_move_constructible_v<shared_array<double>>);
}

TEST_CASE("read-only attach maps PROT_READ: the OS refuses a write", "[shared_array][readonly]") {
  std::string name = unique_name("ro");
  auto a = shared_array<double>::allocate({8}, {name});
  a.data()[2] = 4;
  auto r = shared_array<const double>::attach(name);
  CHECK(r.data()[2] == 4);
  static_assert(std::is_same_v<decltype(r.data()), const double*>);
  static_assert(std::is_same_v<decltype(r.view<1>())::element_type, const double>);
  auto st = shmtest::run_in_child([&] {
    const_cast<double*>(r.data())[2] = 5;  // the mapping is read-only: SIGSEGV
    return 0;
  });
  CHECK(st.signal == SIGSEGV);
  CHECK(a.data()[2] == 4);
}

TEST_CASE("anonymous shared memory is shared with forked children and has no name",
          "[shared_array][anonymous]") {
  auto a = shared_array<int>::allocate_anonymous({4, 4});
  CHECK(a.name().empty());
  CHECK(a.owner());
  auto st = shmtest::run_in_child([&] {
    a.view<2>()(3, 3) = 33;
    return 0;
  });
  REQUIRE(st.ok());
  CHECK(a.view<2>()(3, 3) == 33);
}

TEST_CASE("unsafe factories make the same segments", "[shared_array][unsafe]") {
  std::string name = unique_name("unsafe");
  auto a = shared_array<double>::allocate_unsafe({5}, {name});
  a.data()[4] = 1;
  auto b = shared_array<double>::attach(name, {5});
  CHECK(b.data()[4] == 1);
  auto c = shared_array<double>::attach_unsafe(name, {5});
  CHECK(c.data()[4] == 1);
  std::vector<double> v{1, 2};
  CHECK(shared_array<double>::copy_unsafe(v).data()[1] == 2);
  CHECK(shared_array<double>::allocate_like_unsafe(a).size() == 5);
}

TEST_CASE("failures leave no segment, mapping or fd behind", "[shared_array][hygiene]") {
  std::string name = unique_name("fail");
  auto keep = shared_array<double>::allocate({4}, {name});
  // attach keeps one descriptor of /dev/shm per process (detail/shm_dir.hpp), opened by the first
  // attach: open it before counting, so what is counted is what each failure leaves.
  (void)shared_array<const double>::attach(name);
  std::size_t fds = count_dir("/proc/self/fd"), maps = count_maps(), shm = count_mine();
  for (int i = 0; i < 50; ++i) {
    CHECK(error_of([&] { shared_array<double>::allocate({4}, {name}); }) == errc::already_exists);
    CHECK(error_of([&] { shared_array<float>::attach(name); }) == errc::type_mismatch);
    CHECK(error_of([&] { shared_array<double>::attach(name, {3}); }) == errc::shape_mismatch);
    CHECK(error_of([&] { shared_array<double>::attach(unique_name("nope")); }) == errc::not_found);
    CHECK(error_of([&] { keep.view<2>(); }) == errc::invalid_argument);
  }
  CHECK(count_dir("/proc/self/fd") == fds);
  CHECK(count_maps() == maps);
  CHECK(count_mine() == shm);
}

TEST_CASE("a full /dev/shm is no_space at creation, never SIGBUS", "[shared_array][nospace]") {
  // In a child with a private mount namespace and a 1 MiB tmpfs on /dev/shm.
  auto st = shmtest::in_small_dev_shm("1m", [] {
    int bad = 0;
    try {
      auto a = shared_array<double>::allocate({1024, 1024});  // 8 MiB
      bad = 1;
    } catch (const shmarray::error& e) {
      std::string m = e.what();
      if (e.kind() != errc::no_space) bad = 2;
      if (m.find("asked for 8388") == std::string::npos || m.find("free") == std::string::npos ||
          m.find("--shm-size") == std::string::npos)
        bad = 3;
    }
    if (count_dir("/dev/shm") != 2) bad = 4;  // only . and ..
    // What fits still works, up to the last page.
    try {
      auto b = shared_array<std::uint8_t>::allocate({512 * 1024});
      for (auto& x : b) x = 1;
    } catch (...) {
      bad = 5;
    }
    return bad;
  });
  if (st.exited && st.code == 77) {
    SHMTEST_SKIP("cannot make a private mount namespace here (needs root / CAP_SYS_ADMIN)");
  }
  CHECK(st.signal == 0);
  CHECK(st.code == 0);
}

TEST_CASE("attach refuses a segment owned by another user unless told to",
          "[shared_array][security]") {
  if (::geteuid() != 0) {
    SHMTEST_SKIP("needs root to create a segment owned by another uid");
  }
  std::string name = unique_name("foreign");
  shm_eraser er(name);
  {
    auto a = shared_array<double>::allocate_unsafe({4}, {name, 0666});
    a.data()[0] = 1;
    REQUIRE(::chown(("/dev/shm/" + name).c_str(), 65534, 65534) == 0);  // as if nobody made it
    CHECK(error_of([&] { shared_array<double>::attach(name); }) == errc::permission_denied);
    CHECK(contains(message_of([&] { shared_array<double>::attach(name); }), "uid 65534"));
    shmarray::attach_options o;
    o.allow_foreign_owner = true;
    CHECK(shared_array<double>::attach(name, o).data()[0] == 1);
  }
}

TEST_CASE("a mode 000 segment is permission_denied for a non-root attacher",
          "[shared_array][security]") {
  std::string name = unique_name("mode000");
  auto a = shared_array<double>::allocate({2}, {name, 0});
  auto st = shmtest::run_in_child([&] {
    if (::geteuid() == 0) {
      if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 4;
    }
    try {
      shmarray::attach_options o;
      o.allow_foreign_owner = true;
      shared_array<double>::attach(name, o);
    } catch (const shmarray::error& e) {
      return e.kind() == errc::permission_denied ? 0 : 2;
    }
    return 1;
  });
  CHECK(st.ok());
}

TEST_CASE("save and load round-trip through .npy files", "[shared_array][npyfile]") {
  std::string dir = SHMARRAY_TEST_BINARY_DIR;
  auto a = shared_array<float>::allocate({2, 3}, {"", 0600, true});
  for (std::size_t i = 0; i < a.size(); ++i) a.data()[i] = static_cast<float>(i) + 0.5f;
  std::string path = dir + "/roundtrip-" + std::to_string(::getpid()) + ".npy";
  a.save(path);
  auto b = shared_array<float>::load(path);
  ::unlink(path.c_str());
  CHECK(b.fortran_order());
  CHECK(b.shape() == a.shape());
  CHECK(std::equal(a.begin(), a.end(), b.begin()));
  auto f = shared_array<double>::load(std::string(SHMARRAY_TEST_SOURCE_DIR) +
                                      "/data/float64_3d_fortran.npy");
  CHECK(f.fortran_order());
  CHECK(f.view<3, shmarray::layout_left>()(1, 2, 3) == 23.0);
  CHECK(error_of([] {
          shared_array<float>::load(std::string(SHMARRAY_TEST_SOURCE_DIR) + "/data/float64_1d.npy");
        }) == errc::type_mismatch);
  CHECK(error_of([] { shared_array<float>::load("/nonexistent/x.npy"); }) == errc::not_found);
}

TEST_CASE("persist() lets a segment outlive its handle, marked detached", "[shared_array]") {
  auto a = shared_array<double>::allocate({4});
  std::string name = a.name();
  shm_eraser er(name);
  a.data()[0] = 2;
  a.persist();
  a.close();
  REQUIRE(shmtest::shm_exists(name));
  auto b = shared_array<double>::attach(name);
  CHECK(b.data()[0] == 2);
  shmarray::detail::trailer t;
  const auto* base = reinterpret_cast<const unsigned char*>(b.data()) - 128;
  std::memcpy(&t, base + 128 + 64, sizeof t);
  CHECK(std::memcmp(t.magic, "SHMARRAY", 8) == 0);
  CHECK((t.flags & shmarray::detail::trailer_flag_detached) != 0);
}

TEST_CASE("type hashes separate structs of equal size and are never 0 (unknown)",
          "[shared_array]") {
  using shmarray::detail::type_hash;
  CHECK(type_hash<point>() != type_hash<span2>());
  CHECK(type_hash<point>() != 0);
}

TEST_CASE("Issue 17: unlink() removes the name now and keeps the mapping",
          "[shared_array][issue17]") {
  std::string name = unique_name("unlinknow");
  shm_eraser er(name);
  auto a = shared_array<double>::allocate({4}, {name});
  auto b = shared_array<double>::attach(name);
  a.data()[0] = 1;
  CHECK_FALSE(b.unlink());  // a client never unlinks
  CHECK(shmtest::shm_exists(name));
  CHECK(a.unlink());
  CHECK_FALSE(shmtest::shm_exists(name));
  CHECK(error_of([&] { shared_array<double>::attach(name); }) == errc::not_found);
  a.data()[1] = 2;  // both mappings still work and still share the memory
  CHECK(b.data()[0] == 1);
  CHECK(b.data()[1] == 2);
  CHECK(a.is_open());
  CHECK(a.owner());
  CHECK_FALSE(a.unlink());  // idempotent
  // The name is free again; whoever takes it next is not touched by a's close().
  auto c = shared_array<double>::allocate({2}, {name});
  a.close();
  CHECK(shmtest::shm_exists(name));
  c.close();
  CHECK_FALSE(shmtest::shm_exists(name));

  // Only the creating process unlinks.
  auto d = shared_array<int>::allocate({2});
  const std::string dn = d.name();
  auto st = shmtest::run_in_child([&] { return d.unlink() ? 1 : 0; });
  REQUIRE(st.ok());
  CHECK(shmtest::shm_exists(dn));
  CHECK(d.unlink());
  CHECK_FALSE(shmtest::shm_exists(dn));

  // A managed owner leaves its manager's list too.
  shmarray::manager m(shmarray::manager_options{false});
  auto e = shared_array<float>::allocate(m, {3});
  const std::string en = e.name();
  CHECK(e.unlink());
  CHECK_FALSE(shmtest::shm_exists(en));
  CHECK(m.names().empty());
  CHECK_FALSE(e.unlink());
  e.data()[2] = 5;
  CHECK(e.data()[2] == 5);
}

TEST_CASE("Issue 17: every factory refuses an overflowing shape, _unsafe ones too",
          "[shared_array][issue17][shapes]") {
  const std::size_t fds = count_dir("/proc/self/fd"), maps = count_maps(), shm = count_mine();
  const shape_type huge{std::size_t(-10)}, product{10, std::size_t(-5)};
  shmarray::manager m(shmarray::manager_options{false});
  for (const shape_type& s : {huge, product}) {
    CHECK(error_of([&] { shared_array<double>::allocate_unsafe(s); }) == errc::invalid_argument);
    CHECK(error_of([&] { shared_array<double>::allocate_unsafe(m, s); }) == errc::invalid_argument);
    CHECK(error_of([&] { shared_array<double>::allocate(s); }) == errc::invalid_argument);
    CHECK(error_of([&] { shared_array<double>::allocate_anonymous(s); }) == errc::invalid_argument);
    CHECK(error_of([&] { shared_array<double>::attach_unsafe("shmt-none", s); }) ==
          errc::invalid_argument);
    CHECK(error_of([&] { shared_array<double>::attach_raw("shmt-none", s); }) ==
          errc::invalid_argument);
  }
  // Overflow of the whole segment (data fits size_t, header + data + trailer does not).
  CHECK(error_of([&] { shared_array<char>::allocate_unsafe({SIZE_MAX - 8}); }) ==
        errc::invalid_argument);
  CHECK(message_of([&] { shared_array<double>::allocate_unsafe(huge); }).find("overflows") !=
        std::string::npos);
  CHECK(m.names().empty());
  CHECK(count_dir("/proc/self/fd") == fds);
  CHECK(count_maps() == maps);
  CHECK(count_mine() == shm);
}

TEST_CASE("Issue 17: attach_unsafe with a shape larger than the segment is shape_mismatch",
          "[shared_array][issue17][unsafe]") {
  std::string name = unique_name("small");
  // 128 header + 32 data + pad + trailer + sync block
  auto a = shared_array<double>::allocate({4}, {name});
  REQUIRE(a.segment_size() == 256 + sizeof(shmarray::detail::sync_block));
  // attach keeps one descriptor of /dev/shm per process (detail/shm_dir.hpp): open it before
  // counting, so what is counted is what each refusal leaves.
  (void)shared_array<const double>::attach(name);
  const std::size_t fds = count_dir("/proc/self/fd"), maps = count_maps();
  CHECK(error_of([&] { shared_array<double>::attach_unsafe(name, {1000}); }) ==
        errc::shape_mismatch);
  std::string msg = message_of([&] { shared_array<double>::attach_unsafe(name, {1000}); });
  CHECK(contains(msg, name));
  CHECK(contains(msg, "8000"));
  CHECK(contains(msg, std::to_string(a.segment_size())));
  // The bound is the mapping's end: 40 doubles after the 128-byte header fill it exactly (data,
  // trailer and sync block: 448 bytes).
  auto whole = shared_array<double>::attach_unsafe(name, {40});
  CHECK(whole.nbytes() + 128 == whole.segment_size());
  CHECK(error_of([&] { shared_array<double>::attach_unsafe(name, {41}); }) == errc::shape_mismatch);
  CHECK(error_of([&] {
          shared_array<double>::attach_unsafe(name, {2, 21});
        }) == errc::shape_mismatch);
  CHECK(count_dir("/proc/self/fd") == fds);
  CHECK(count_maps() == maps + 1);  // `whole`
  // An empty segment holds no element.
  std::string empty = unique_name("nothing");
  shm_eraser er(empty);
  write_raw_segment(empty, "");
  CHECK(error_of([&] { shared_array<double>::attach_unsafe(empty, {1}); }) == errc::shape_mismatch);
  CHECK(shared_array<double>::attach_unsafe(empty, {0}).size() == 0);
}

TEST_CASE("Issue 17: every factory accepts rank 0", "[shared_array][issue17][shapes]") {
  using shmarray::extents;
  using shmarray::layout_left;
  using shmarray::layout_stride;
  using shmarray::mdspan;
  using E0 = extents<std::size_t>;
  shmarray::manager m(shmarray::manager_options{false});
  double x = 2.5;
  mdspan<double, E0> right(&x);
  mdspan<const double, E0, layout_left> left(&x);
  mdspan<double, E0, layout_stride> strided(&x, layout_stride::mapping<E0>());
  // One element after the 128-byte header, then the trailer: nbytes() is inside the mapping.
  auto fits = [](const shared_array<double>& a) {
    return a.rank() == 0 && a.size() == 1 && a.nbytes() == 8 && a.data() != nullptr &&
           a.segment_size() >= 128 + 8 + 64;
  };
  auto c1 = shared_array<double>::copy(m, right);
  auto c2 = shared_array<double>::copy(left);
  auto c3 = shared_array<double>::copy_unsafe(m, strided);
  auto c4 = shared_array<double>::copy(c1);
  for (auto* a : {&c1, &c2, &c3, &c4}) {
    CHECK(fits(*a));
    CHECK(a->view<0>()() == 2.5);
  }
  auto l1 = shared_array<double>::allocate_like(m, right);
  auto l2 = shared_array<double>::allocate_like_unsafe(c1);
  auto l3 = shared_array<double>::allocate_unsafe({});
  auto an = shared_array<double>::allocate_anonymous({});
  for (auto* a : {&l1, &l2, &l3, &an}) {
    CHECK(fits(*a));
    CHECK(a->data()[0] == 0.0);
  }
  auto t1 = shared_array<double>::attach(c1.name());
  auto t2 = shared_array<double>::attach(c1.name(), shape_type{});
  auto t3 = shared_array<double>::attach_unsafe(c1.name(), {});
  auto t4 = shared_array<const double>::attach(c2.name());
  for (auto* a : {&t1, &t2, &t3}) {
    CHECK(fits(*a));
    CHECK(a->view<0>()() == 2.5);
  }
  CHECK(t4.view<0>()() == 2.5);
  std::string raw = unique_name("raw0d");
  shm_eraser er(raw);
  write_raw_segment(raw, std::string(reinterpret_cast<const char*>(&x), sizeof x));
  CHECK(shared_array<double>::attach_raw(raw, {}).view<0>()() == 2.5);
  auto f =
      shared_array<double>::load(m, std::string(SHMARRAY_TEST_SOURCE_DIR) + "/data/float64_0d.npy");
  CHECK(f.rank() == 0);
  CHECK(f.size() == 1);
}
