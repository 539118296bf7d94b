// The .npy header writer and parser: headers written by real NumPy (committed fixtures from
// tests/data/make_fixtures.py), round trips of our own headers, and malformed headers.
#include <catch2/catch.hpp>

#include <complex>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <shmarray/npy.hpp>
#include <string>

using shmarray::errc;
using shmarray::shape_type;
namespace npy = shmarray::npy;

namespace {
std::string read_file(const std::string& name) {
  std::ifstream f(std::string(SHMARRAY_TEST_SOURCE_DIR) + "/data/" + name, std::ios::binary);
  REQUIRE(f.good());
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

errc parse_error(const std::string& bytes) {
  try {
    npy::parse_header(bytes.data(), bytes.size(), "test");
  } catch (const shmarray::error& e) {
    return e.kind();
  }
  return errc{};
}

// A v1.0 header around a dict, as NumPy lays it out (padding to 64).
std::string with_dict(const std::string& dict) {
  std::string d = dict;
  std::size_t total = (10 + d.size() + 1 + 63) / 64 * 64;
  d.append(total - 10 - d.size() - 1, ' ');
  d += '\n';
  std::string h = "\x93NUMPY";
  h += '\x01';
  h += '\x00';
  h += static_cast<char>(d.size() & 0xff);
  h += static_cast<char>(d.size() >> 8);
  return h + d;
}

template <class T>
void check_fixture(const std::string& dtype) {
  const shape_type shapes[] = {{}, {7}, {2, 3, 4}};
  const char* tags[] = {"0d", "1d", "3d"};
  for (int i = 0; i < 3; ++i) {
    INFO(dtype << "_" << tags[i]);
    std::string bytes = read_file(dtype + "_" + tags[i] + ".npy");
    npy::header h = npy::parse_header(bytes.data(), bytes.size(), "fixture");
    CHECK(npy::same_descr(h.descr, npy::descr<T>()));
    CHECK(h.shape == shapes[i]);
    CHECK_FALSE(h.fortran_order);
    CHECK(h.data_offset % 64 == 0);
    REQUIRE(bytes.size() == h.data_offset + h.count() * sizeof(T));
    const T* data = reinterpret_cast<const T*>(bytes.data() + h.data_offset);
    for (std::size_t k = 0; k < h.count(); ++k) {
      if constexpr (std::is_same_v<T, bool>)
        CHECK(data[k] == (k % 2 == 1));
      else if constexpr (std::is_same_v<T, std::complex<float>> ||
                         std::is_same_v<T, std::complex<double>>)
        CHECK(data[k] == T(static_cast<typename T::value_type>(k)));
      else
        CHECK(data[k] == static_cast<T>(k));
    }
    // Our writer produces a header our parser reads back the same, at the same data offset.
    std::string ours = npy::write_header(npy::descr<T>(), false, shapes[i]);
    npy::header back = npy::parse_header(ours.data(), ours.size(), "ours");
    CHECK(back.descr == npy::descr<T>());
    CHECK(back.shape == shapes[i]);
    CHECK(back.data_offset == ours.size());
    CHECK(ours.size() == h.data_offset);  // NumPy would lay it out identically
  }
}
}  // namespace

TEST_CASE("descr of every mapped type matches NumPy's", "[npy]") {
  CHECK(npy::descr<bool>() == "|b1");
  CHECK(npy::descr<std::int8_t>() == "|i1");
  CHECK(npy::descr<std::uint8_t>() == "|u1");
  CHECK(npy::descr<std::int16_t>() == "<i2");
  CHECK(npy::descr<std::uint16_t>() == "<u2");
  CHECK(npy::descr<std::int32_t>() == "<i4");
  CHECK(npy::descr<std::uint32_t>() == "<u4");
  CHECK(npy::descr<std::int64_t>() == "<i8");
  CHECK(npy::descr<std::uint64_t>() == "<u8");
  CHECK(npy::descr<float>() == "<f4");
  CHECK(npy::descr<double>() == "<f8");
  CHECK(npy::descr<std::complex<float>>() == "<c8");
  CHECK(npy::descr<std::complex<double>>() == "<c16");
  struct rgb {
    unsigned char r, g, b;
  };
  CHECK(npy::descr<rgb>() == "|V3");
  CHECK(npy::descr<const double>() == "<f8");
}

TEST_CASE("headers written by NumPy parse, for every dtype and rank", "[npy]") {
  check_fixture<bool>("bool");
  check_fixture<std::int8_t>("int8");
  check_fixture<std::uint8_t>("uint8");
  check_fixture<std::int16_t>("int16");
  check_fixture<std::uint16_t>("uint16");
  check_fixture<std::int32_t>("int32");
  check_fixture<std::uint32_t>("uint32");
  check_fixture<std::int64_t>("int64");
  check_fixture<std::uint64_t>("uint64");
  check_fixture<float>("float32");
  check_fixture<double>("float64");
  check_fixture<std::complex<float>>("complex64");
  check_fixture<std::complex<double>>("complex128");
}

TEST_CASE("Fortran order and format versions 2.0 and 3.0 from NumPy", "[npy]") {
  for (const char* f : {"float64_3d_fortran.npy", "float64_3d_v2.npy", "float64_3d_v3.npy"}) {
    INFO(f);
    std::string bytes = read_file(f);
    npy::header h = npy::parse_header(bytes.data(), bytes.size(), f);
    CHECK(h.descr == "<f8");
    CHECK(h.shape == shape_type{2, 3, 4});
    CHECK(h.fortran_order == (std::string(f).find("fortran") != std::string::npos));
    CHECK(h.major == (std::string(f).find("_v2") != std::string::npos   ? 2
                      : std::string(f).find("_v3") != std::string::npos ? 3
                                                                        : 1));
    const double* d = reinterpret_cast<const double*>(bytes.data() + h.data_offset);
    if (h.fortran_order)  // element (i,j,k) of arange(24).reshape(2,3,4) is 12i+4j+k
      CHECK(d[1] == 12.0);
    else
      CHECK(d[1] == 1.0);
  }
}

TEST_CASE("the parser accepts NumPy's spellings", "[npy]") {
  auto parse = [](const std::string& dict) {
    std::string b = with_dict(dict);
    return npy::parse_header(b.data(), b.size(), "t");
  };
  CHECK(parse("{'shape': (3,), 'fortran_order': True, 'descr': '<i4'}").fortran_order);
  CHECK(parse("{\"descr\":\"<f8\",\"fortran_order\":False,\"shape\":(2,3)}").shape ==
        shape_type{2, 3});
  CHECK(parse("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3,), }").shape ==
        shape_type{2, 3});
  CHECK(parse("{'descr': '<f8', 'fortran_order': False, 'shape': (4L, 5L), }").shape ==
        shape_type{4, 5});
  CHECK(parse("{'descr':'<f8','fortran_order':False,'shape':()}").shape.empty());
}

TEST_CASE("malformed headers are bad_format", "[npy]") {
  std::string good = npy::write_header("<f8", false, {2, 3});
  CHECK(parse_error(good) == errc{});
  std::string b = good;
  b[1] = 'X';
  CHECK(parse_error(b) == errc::bad_format);  // magic
  b = good;
  b[6] = 4;
  CHECK(parse_error(b) == errc::bad_format);                   // version
  CHECK(parse_error(good.substr(0, 9)) == errc::bad_format);   // truncated prefix
  CHECK(parse_error(good.substr(0, 40)) == errc::bad_format);  // length claims more than present
  CHECK(parse_error("") == errc::bad_format);
  for (const char* dict :
       {"{'descr': '<f8', 'fortran_order': False}",                                 // missing key
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x': 1}",          // extra key
        "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",  // repeated
        "{'descr': '<f8', 'fortran_order': Maybe, 'shape': (2,)}",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2)}",  // not a tuple
        "{'descr': '<f8', 'fortran_order': False, 'shape': (-2,)}",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999,)}",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296)}",  // overflow
        "{'descr': [('a', '<f3')], 'fortran_order': False, 'shape': (2,)}",  // no such field type
        "{'descr': [('a', '<f8'), ('a', '<i4')], 'fortran_order': False, 'shape': (2,)}",  // names
        "{'descr': [('a', '<f8')]], 'fortran_order': False, 'shape': (2,)}",  // unbalanced
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)} trailing",
        "{'descr': '<f8, 'fortran_order': False, 'shape': (2,)}", "not a dict at all", "{",
        "{'descr': '', 'fortran_order': False, 'shape': (2,)}"}) {
    INFO(dict);
    CHECK(parse_error(with_dict(dict)) == errc::bad_format);
  }
  std::string deep = "{'descr': '<f8', 'fortran_order': False, 'shape': (";
  for (int i = 0; i < 33; ++i) deep += "1,";
  deep += ")}";
  CHECK(parse_error(with_dict(deep)) == errc::bad_format);  // rank > 32
}

TEST_CASE("error messages name the source and what was found", "[npy]") {
  std::string b = with_dict("{'descr': '<f8', 'fortran_order': Maybe, 'shape': (2,)}");
  try {
    npy::parse_header(b.data(), b.size(), "segment 'frames'");
    FAIL("no throw");
  } catch (const shmarray::error& e) {
    std::string what = e.what();
    CHECK(what.find("segment 'frames'") != std::string::npos);
    CHECK(what.find("True or False") != std::string::npos);
    CHECK(what.find("Maybe") != std::string::npos);
  }
}

TEST_CASE("large dicts switch to format 2.0", "[npy]") {
  shape_type many(32, 1);
  std::string h = npy::write_header("<f8", false, many);
  CHECK(h[6] == 1);  // 32 dims still fit 1.0
  CHECK(h.size() % 64 == 0);
  CHECK(h.back() == '\n');
}
