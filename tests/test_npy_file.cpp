// .npy files in and out at library level: shared_array<T>::load of NumPy-written fixtures (formats
// 1.0, 2.0, 3.0, every mapped dtype, 0-d, Fortran order), save read back by NumPy, bad files as
// bad_format with nothing left behind, npy::file_writer's atomic replacement, and a 64 MiB file
// streamed both ways without a second full-size buffer (peak RSS).
#include <catch2/catch.hpp>

// shmarray before <filesystem>: that brings std::quoted, which ADL prefers to the unqualified
// quoted(name) calls in segment.hpp (reported; remove this ordering once segment.hpp qualifies
// them).
#include <shmarray/shmarray.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <complex>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test_support.hpp"

using shmarray::errc;
using shmarray::shape_type;
using shmarray::shared_array;
using shmtest::error_of;
using shmtest::shm_eraser;
using shmtest::shm_exists;
using shmtest::unique_name;

namespace {

const std::string data_dir = std::string(SHMARRAY_TEST_SOURCE_DIR) + "/data/";

struct temp_dir : shmtest::temp_dir {
  temp_dir() : shmtest::temp_dir("npyfile") {}
};

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << bytes;
  REQUIRE(f.good());
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

/// Peak resident set size of this process in KiB (VmHWM).
long peak_rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

/// Resets VmHWM to the current RSS (Linux >= 4.0); false where that is not possible.
bool reset_peak_rss() {
  int fd = ::open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, "5", 1) == 1;
  ::close(fd);
  return ok;
}

template <class T>
const char* fixture_name();
template <>
const char* fixture_name<bool>() {
  return "bool";
}
template <>
const char* fixture_name<std::int8_t>() {
  return "int8";
}
template <>
const char* fixture_name<std::uint8_t>() {
  return "uint8";
}
template <>
const char* fixture_name<std::int16_t>() {
  return "int16";
}
template <>
const char* fixture_name<std::uint16_t>() {
  return "uint16";
}
template <>
const char* fixture_name<std::int32_t>() {
  return "int32";
}
template <>
const char* fixture_name<std::uint32_t>() {
  return "uint32";
}
template <>
const char* fixture_name<std::int64_t>() {
  return "int64";
}
template <>
const char* fixture_name<std::uint64_t>() {
  return "uint64";
}
template <>
const char* fixture_name<float>() {
  return "float32";
}
template <>
const char* fixture_name<double>() {
  return "float64";
}
template <>
const char* fixture_name<std::complex<float>>() {
  return "complex64";
}
template <>
const char* fixture_name<std::complex<double>>() {
  return "complex128";
}

/// The fixtures hold arange(n) cast to the dtype (bool: odd indices are True).
template <class T>
T expected(std::size_t i) {
  if constexpr (std::is_same_v<T, bool>)
    return i % 2 == 1;
  else if constexpr (std::is_same_v<T, std::complex<float>> ||
                     std::is_same_v<T, std::complex<double>>)
    return T(static_cast<typename T::value_type>(i), 0);
  else
    return static_cast<T>(i);
}

}  // namespace

TEMPLATE_TEST_CASE("load reads NumPy-written files of every mapped dtype", "[npyfile][load]", bool,
                   std::int8_t, std::uint8_t, std::int16_t, std::uint16_t, std::int32_t,
                   std::uint32_t, std::int64_t, std::uint64_t, float, double, std::complex<float>,
                   std::complex<double>) {
  const std::vector<std::pair<std::string, shape_type>> shapes = {
      {"0d", {}}, {"1d", {7}}, {"3d", {2, 3, 4}}};
  for (const auto& [tag, shape] : shapes) {
    const std::string file = data_dir + fixture_name<TestType>() + "_" + tag + ".npy";
    INFO(file);
    auto a = shared_array<TestType>::load(file);
    CHECK(a.shape() == shape);
    CHECK(!a.fortran_order());
    CHECK(a.owner());
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(a.data()[i] == expected<TestType>(i));
  }
}

TEST_CASE("formats 1.0, 2.0 and 3.0 and Fortran order load alike", "[npyfile][load]") {
  for (const char* f : {"float64_3d.npy", "float64_3d_v2.npy", "float64_3d_v3.npy"}) {
    INFO(f);
    auto a = shared_array<double>::load(data_dir + f);
    CHECK(a.shape() == shape_type{2, 3, 4});
    for (std::size_t i = 0; i < 24; ++i) CHECK(a.data()[i] == static_cast<double>(i));
  }
  shmarray::manager m;
  const std::string name = unique_name("fortran");
  auto f = shared_array<double>::load(m, data_dir + "float64_3d_fortran.npy", {name});
  CHECK(f.name() == name);
  CHECK(f.fortran_order());
  auto v = f.view<3, shmarray::layout_left>();
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 3; ++j)
      for (std::size_t k = 0; k < 4; ++k)
        CHECK(v(i, j, k) == static_cast<double>(12 * i + 4 * j + k));
  // The loaded segment is a normal one: attach sees the same.
  auto g = shared_array<const double>::attach(name, {2, 3, 4});
  CHECK(g.fortran_order());
  m.shutdown();
  CHECK(!shm_exists(name));
}

TEST_CASE("save writes what NumPy reads, C and Fortran order, 0-d", "[npyfile][save][numpy]") {
  temp_dir dir;
  auto a = shared_array<std::int32_t>::allocate({2, 3}, {"", 0600, true});
  auto v = a.view<2, shmarray::layout_left>();
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 3; ++j) v(i, j) = static_cast<std::int32_t>(10 * i + j);
  a.save(dir / "f.npy");
  auto z = shared_array<std::complex<float>>::allocate({});
  z.data()[0] = {1.5f, -2.0f};
  z.save(dir / "z.npy");
  auto e = shared_array<double>::allocate({0, 4});
  e.save(dir / "e.npy");
  CHECK(dir.count() == 3);  // no temporary files left
  // Round trip in C++.
  auto b = shared_array<std::int32_t>::load(dir / "f.npy");
  CHECK(b.fortran_order());
  CHECK(std::equal(a.begin(), a.end(), b.begin(), b.end()));
  CHECK(shared_array<std::complex<float>>::load(dir / "z.npy").data()[0] == z.data()[0]);
  CHECK(shared_array<double>::load(dir / "e.npy").shape() == shape_type{0, 4});
  if (!shmtest::python_has_numpy()) {
    SHMTEST_SKIP("the NumPy half: /usr/bin/python3 with NumPy not found");
  }
  auto st = shmtest::run_command(
      {"/usr/bin/python3", "-c",
       "import numpy as np, sys\n"
       "f = np.load(sys.argv[1])\n"
       "assert f.dtype == np.int32 and f.shape == (2, 3) and f.flags['F_CONTIGUOUS'], f\n"
       "assert (f == [[0, 1, 2], [10, 11, 12]]).all(), f\n"
       "z = np.load(sys.argv[2])\n"
       "assert z.shape == () and z.dtype == np.complex64 and z == 1.5 - 2j, z\n"
       "e = np.load(sys.argv[3])\n"
       "assert e.shape == (0, 4) and e.dtype == np.float64, e\n"
       "print('ok')\n",
       dir / "f.npy", dir / "z.npy", dir / "e.npy"},
      std::chrono::seconds(120));
  INFO(st.out);
  CHECK(st.ok());
}

TEST_CASE("bad files are bad_format and leave no segment behind", "[npyfile][format]") {
  temp_dir dir;
  const std::string good = read_bytes(data_dir + "float64_3d.npy");
  REQUIRE(good.size() == 128 + 24 * 8);
  auto with = [&](std::size_t at, char c) {
    std::string s = good;
    s[at] = c;
    return s;
  };
  auto header = [](const std::string& dict) {
    std::string d = dict;
    d.append(128 - 10 - d.size() - 1, ' ');
    d += '\n';
    return std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(d.size()) + '\0' + d;
  };
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"wrong magic", with(1, 'X')},
      {"version 4.0", with(6, '\x04')},
      {"truncated data", good.substr(0, good.size() - 1)},
      {"only a header", good.substr(0, 128)},
      {"truncated header", good.substr(0, 40)},
      {"header longer than the file", with(9, '\x7f')},
      {"empty", ""},
      {"object dtype",
       header("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }") + std::string(16, '\0')},
      {"shape that lies", header("{'descr': '<f8', 'fortran_order': False, 'shape': "
                                 "(1000000000000,), }") +
                              std::string(64, '\0')},
      {"shape that overflows",
       header("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }")},
      {"structured dtype with an object field",
       header("{'descr': [('a', 'O')], 'fortran_order': False, 'shape': (1,), }") +
           std::string(8, '\0')},
  };
  for (const auto& [what, bytes] : bad) {
    INFO(what);
    write_bytes(dir / "bad.npy", bytes);
    const std::string name = unique_name("bad");
    shm_eraser e(name);
    CHECK(error_of([&] { shared_array<double>::load(dir / "bad.npy", {name}); }) ==
          errc::bad_format);
    CHECK(!shm_exists(name));
    CHECK(error_of([&] { shmarray::npy::file_reader r(dir / "bad.npy"); }) == errc::bad_format);
  }
  // The messages name the file and say what is wrong.
  write_bytes(dir / "t.npy", good.substr(0, good.size() - 8));
  try {
    shared_array<double>::load(dir / "t.npy");
    FAIL("no error");
  } catch (const shmarray::error& e) {
    CHECK(std::string(e.what()).find(dir / "t.npy") != std::string::npos);
    CHECK(std::string(e.what()).find("truncated") != std::string::npos);
    CHECK(std::string(e.what()).find("192 bytes") != std::string::npos);
  }
  CHECK(error_of([&] { shared_array<double>::load(dir.path); }) == errc::bad_format);
  CHECK(error_of([&] { shared_array<double>::load(dir / "missing.npy"); }) == errc::not_found);
  CHECK(error_of([&] { shared_array<float>::load(data_dir + "float64_1d.npy"); }) ==
        errc::type_mismatch);
}

TEST_CASE("npy::element_size knows the dtypes a file can carry", "[npyfile]") {
  using shmarray::npy::element_size;
  CHECK(element_size("<f8") == 8);
  CHECK(element_size("|b1") == 1);
  CHECK(element_size("|u1") == 1);
  CHECK(element_size(">i4") == 4);
  CHECK(element_size("=f2") == 2);
  CHECK(element_size("<c16") == 16);
  CHECK(element_size("|V12") == 12);
  CHECK(element_size("|S5") == 5);
  CHECK(element_size("<U3") == 12);  // UCS-4
  CHECK(element_size("<M8[ns]") == 8);
  CHECK(element_size("<m8") == 8);
  CHECK(element_size("|O") == 0);
  CHECK(element_size("|O8") == 0);
  CHECK(element_size("<f3") == 0);
  CHECK(element_size("|b2") == 0);
  CHECK(element_size("<i8[ns]") == 0);
  CHECK(element_size("|V0") == 0);
  CHECK(element_size("") == 0);
  CHECK(element_size("<") == 0);
}

TEST_CASE("file_writer replaces a file atomically or not at all", "[npyfile][save]") {
  using shmarray::npy::file_writer;
  temp_dir dir;
  const std::string path = dir / "x.npy";
  write_bytes(path, "old contents");
  {
    file_writer w(path, "<f8", false, {4});
    double d[2] = {1, 2};
    w.write(d, sizeof d);
    CHECK(error_of([&] { w.commit(); }) == errc::invalid_argument);  // half the data
    double more[3] = {3, 4, 5};
    CHECK(error_of([&] { w.write(more, sizeof more); }) == errc::invalid_argument);  // too much
  }  // destroyed uncommitted: the temporary file goes, the old file stays
  CHECK(read_bytes(path) == "old contents");
  CHECK(dir.count() == 1);
  {
    file_writer w(path, "<f8", false, {4});
    for (int i = 0; i < 4; ++i) {
      double d = i;
      w.write(&d, sizeof d);
    }
    w.commit();
    CHECK(error_of([&] { w.commit(); }) == errc::closed);
  }
  CHECK(dir.count() == 1);
  auto a = shared_array<double>::load(path);
  CHECK(a.shape() == shape_type{4});
  CHECK(a.data()[3] == 3.0);
  CHECK(error_of([&] { file_writer w(dir / "no/such/dir.npy", "<f8", false, {1}); }) ==
        errc::not_found);
  CHECK(error_of([&] { file_writer w(dir / "o.npy", "|O", false, {1}); }) ==
        errc::invalid_argument);
}

TEST_CASE("a 64 MiB file streams in and out without a second full-size buffer",
          "[npyfile][large]") {
  temp_dir dir;
  constexpr std::size_t n = std::size_t{8} << 20;  // 8 Mi doubles = 64 MiB
  constexpr long array_kib = static_cast<long>(n * sizeof(double) / 1024);
  const std::string in = dir / "big.npy", out = dir / "big-out.npy";
  {  // Written in 1 MiB pieces, so the test itself never holds the array.
    shmarray::npy::file_writer w(in, "<f8", false, {n});
    std::vector<double> chunk(std::size_t{1} << 17);
    for (std::size_t done = 0; done < n; done += chunk.size()) {
      for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<double>(done + i);
      w.write(chunk.data(), chunk.size() * sizeof(double));
    }
    w.commit();
  }
  const bool reset = reset_peak_rss();
  const long before = peak_rss_kib();
  REQUIRE(before > 0);
  {
    auto a = shared_array<double>::load(in);
    REQUIRE(a.size() == n);
    CHECK(a.data()[0] == 0.0);
    CHECK(a.data()[n / 2] == static_cast<double>(n / 2));
    CHECK(a.data()[n - 1] == static_cast<double>(n - 1));
    a.save(out);
  }
  const long grew = peak_rss_kib() - before;
  INFO("peak RSS grew by " << grew << " KiB for a " << array_kib
                           << " KiB array (VmHWM reset: " << reset << ")");
  // The segment's own pages count once (shared memory is resident when touched); a second
  // full-size buffer would double that. Under ASan/TSan the shadow memory of every touched page
  // counts too, so RSS says nothing there: the check runs in the plain builds.
  if (shmtest::sanitized)
    WARN("peak-RSS bound not checked under a sanitizer (shadow memory); grew " << grew << " KiB");
  else
    CHECK(grew < array_kib + array_kib / 4);
  CHECK(std::filesystem::file_size(out) == std::filesystem::file_size(in));
  // Same bytes, compared a piece at a time.
  std::ifstream x(in, std::ios::binary), y(out, std::ios::binary);
  std::vector<char> bx(1 << 20), by(1 << 20);
  bool same = true;
  while (same && x && y) {
    x.read(bx.data(), static_cast<std::streamsize>(bx.size()));
    y.read(by.data(), static_cast<std::streamsize>(by.size()));
    same = x.gcount() == y.gcount() && std::equal(bx.begin(), bx.begin() + x.gcount(), by.begin());
  }
  CHECK(same);
}

// ---- Issue 13: NumPy 1.24's rules for load and file_reader ----------------------------------

namespace {
// An .npy file: a format 1.0 header around `dict` (padded to 64, or to exactly `text_size`
// bytes of header text when given), then `data`.
std::string npy_bytes(const std::string& dict, const std::string& data, std::size_t text_size = 0) {
  std::string d = dict;
  const std::size_t major = text_size > 0xffff ? 2 : 1, prefix = major == 1 ? 10 : 12;
  const std::size_t n = text_size ? text_size : (prefix + d.size() + 1 + 63) / 64 * 64 - prefix;
  d.append(n - d.size() - 1, ' ');
  d += '\n';
  std::string h = "\x93NUMPY";
  h += static_cast<char>(major);
  h += '\0';
  for (std::size_t i = 0; i < (major == 1 ? 2u : 4u); ++i)
    h += static_cast<char>((d.size() >> (8 * i)) & 0xff);
  return h + d + data;
}

// The bytes of `v` with each element (each half of a complex) in the other byte order.
template <class T>
std::string swapped_bytes(const std::vector<T>& v) {
  std::string s(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  constexpr std::size_t unit = shmarray::npy::detail::is_complex_v<T> ? sizeof(T) / 2 : sizeof(T);
  shmarray::npy::swap_bytes(s.data(), s.size(), unit);
  return s;
}

std::string other_order(const std::string& descr) {
  return (shmarray::npy::detail::little_endian ? ">" : "<") + descr.substr(1);
}

template <class T>
void check_swapped_load(const std::string& path, const std::vector<T>& values) {
  INFO(path);
  const std::string d = other_order(shmarray::npy::descr<T>());
  write_bytes(path, npy_bytes("{'descr': '" + d + "', 'fortran_order': False, 'shape': (" +
                                  std::to_string(values.size()) + ",), }",
                              swapped_bytes(values)));
  auto a = shared_array<T>::load(path);
  REQUIRE(a.size() == values.size());
  CHECK(std::equal(values.begin(), values.end(), a.begin()));
  CHECK(a.dtype() == shmarray::npy::descr<T>());
  shmarray::npy::file_reader r(path);
  CHECK(r.hdr().descr == d);
  CHECK(r.data_descr() == shmarray::npy::descr<T>());
  CHECK(r.swaps_bytes());
  std::vector<T> got(values.size()), raw(values.size());
  r.read_data(got.data());
  CHECK(got == values);
  r.read_data_as_stored(raw.data());
  CHECK(std::memcmp(raw.data(), swapped_bytes(values).data(), raw.size() * sizeof(T)) == 0);
}
}  // namespace

TEST_CASE("Issue 13: a descr without byte order loads as native ('f8', 'i4')",
          "[npyfile][load][issue13]") {
  temp_dir dir;
  const std::vector<double> d = {1.5, -2.25, 1e300};
  write_bytes(dir / "f8.npy", npy_bytes("{'descr': 'f8', 'fortran_order': False, 'shape': (3,), }",
                                        std::string(reinterpret_cast<const char*>(d.data()), 24)));
  auto a = shared_array<double>::load(dir / "f8.npy");
  CHECK(std::equal(d.begin(), d.end(), a.begin()));
  CHECK(shmarray::npy::file_reader(dir / "f8.npy").hdr().descr == "<f8");
  const std::vector<std::int32_t> i = {7, -8};
  write_bytes(dir / "i4.npy", npy_bytes("{'descr': 'i4', 'fortran_order': True, 'shape': (2,), }",
                                        std::string(reinterpret_cast<const char*>(i.data()), 8)));
  CHECK(shared_array<std::int32_t>::load(dir / "i4.npy").data()[1] == -8);
  for (const char* spelled : {"=i4", "|i4", "i", "int32", "intc"}) {
    INFO(spelled);
    write_bytes(dir / "s.npy", npy_bytes(std::string("{'descr': '") + spelled +
                                             "', 'fortran_order': False, 'shape': (2,), }",
                                         std::string(reinterpret_cast<const char*>(i.data()), 8)));
    CHECK(shared_array<std::int32_t>::load(dir / "s.npy").data()[0] == 7);
  }
  // 'b' is NumPy's int8, not bool.
  write_bytes(dir / "b.npy",
              npy_bytes("{'descr': 'b', 'fortran_order': False, 'shape': (1,), }", "\xff"));
  CHECK(shared_array<std::int8_t>::load(dir / "b.npy").data()[0] == -1);
  CHECK(error_of([&] { shared_array<bool>::load(dir / "b.npy"); }) == errc::type_mismatch);
}

TEST_CASE("Issue 13: load byte-swaps a file in the other byte order on the way in",
          "[npyfile][load][issue13]") {
  temp_dir dir;
  check_swapped_load<double>(dir / "f8.npy", {1.5, -0.0, 1e-310, 123456789.125});
  check_swapped_load<float>(dir / "f4.npy", {1.5f, -3.0f});
  check_swapped_load<std::int32_t>(dir / "i4.npy", {1, 258, -3, 0x12345678});
  check_swapped_load<std::uint16_t>(dir / "u2.npy", {1, 0xff00, 0x1234});
  check_swapped_load<std::int64_t>(dir / "i8.npy", {-1, 0x0102030405060708});
  check_swapped_load<std::complex<double>>(dir / "c16.npy", {{1.0, -2.0}, {0.5, 3.25}});
  check_swapped_load<std::complex<float>>(dir / "c8.npy", {{1.0f, -2.0f}});
  // One-byte types have no byte order: '>u1' is '|u1'.
  write_bytes(dir / "u1.npy",
              npy_bytes("{'descr': '>u1', 'fortran_order': False, 'shape': (2,), }", "\x01\x02"));
  CHECK(!shmarray::npy::file_reader(dir / "u1.npy").swaps_bytes());
  CHECK(shared_array<std::uint8_t>::load(dir / "u1.npy").data()[1] == 2);
  // Another type in the other order is still a type mismatch, which says what the file holds.
  const std::string msg = shmtest::message_of([&] { shared_array<float>::load(dir / "f8.npy"); });
  CHECK(msg.find(other_order("<f8")) != std::string::npos);
  CHECK(error_of([&] { shared_array<float>::load(dir / "f8.npy"); }) == errc::type_mismatch);
  // More than one 16 MiB chunk, and a last chunk that is not full: every element swapped once.
  const std::size_t n = (std::size_t{20} << 20) / 8 + 3;
  {
    std::vector<double> v(n);
    for (std::size_t k = 0; k < n; ++k) v[k] = static_cast<double>(k) + 0.5;
    write_bytes(dir / "big.npy",
                npy_bytes("{'descr': '" + other_order("<f8") +
                              "', 'fortran_order': False, 'shape': (" + std::to_string(n) + ",), }",
                          swapped_bytes(v)));
  }
  auto big = shared_array<double>::load(dir / "big.npy");
  std::size_t wrong = 0;
  for (std::size_t k = 0; k < n; ++k) wrong += big.data()[k] != static_cast<double>(k) + 0.5;
  CHECK(wrong == 0);
}

TEST_CASE("Issue 13: load and file_reader refuse a header longer than max_header_size",
          "[npyfile][load][issue13]") {
  temp_dir dir;
  const std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }";
  const std::string one(8, '\0');
  write_bytes(dir / "ok.npy", npy_bytes(dict, one, 10000));
  write_bytes(dir / "long.npy", npy_bytes(dict, one, 10001));
  write_bytes(dir / "huge.npy", npy_bytes(dict, one, std::size_t{2} << 20));  // 2 MiB, format 2.0
  CHECK(shared_array<double>::load(dir / "ok.npy").size() == 1);
  for (const char* f : {"long.npy", "huge.npy"}) {
    INFO(f);
    const std::string name = unique_name("long");
    shm_eraser e(name);
    shmarray::create_options o;
    o.name = name;
    const std::string msg = shmtest::message_of([&] { shared_array<double>::load(dir / f, o); });
    CHECK(error_of([&] { shared_array<double>::load(dir / f, o); }) == errc::bad_format);
    CHECK(msg.find(dir / f) != std::string::npos);
    CHECK(msg.find(std::string(f) == "long.npy" ? "10001 bytes long" : "2097152 bytes long") !=
          std::string::npos);
    CHECK(msg.find("max_header_size = 10000 (NumPy") != std::string::npos);
    CHECK(msg.find("create_options::max_header_size") != std::string::npos);
    CHECK(!shm_exists(name));
    CHECK(error_of([&] { shmarray::npy::file_reader r(dir / f); }) == errc::bad_format);
    // Raised, as np.load(max_header_size=...) is: the whole header is read, however long.
    o.max_header_size = std::size_t{4} << 20;
    auto a = shared_array<double>::load(dir / f, o);
    CHECK(a.size() == 1);
    CHECK(a.name() == name);
    shmarray::npy::file_reader r(dir / f, SIZE_MAX);
    CHECK(r.hdr().shape == shape_type{1});
  }
  // A descr that is not a dtype is refused by the parser, naming it.
  write_bytes(dir / "f3.npy",
              npy_bytes("{'descr': '<f3', 'fortran_order': False, 'shape': (1,), }", one));
  const std::string msg =
      shmtest::message_of([&] { shmarray::npy::file_reader r(dir / "f3.npy"); });
  CHECK(msg.find("descr '<f3' is not a valid NumPy dtype") != std::string::npos);
}
