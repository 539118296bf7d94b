// NumPy record (structured) dtypes <-> C++ structs described with SHMARRAY_RECORD (issue 13, point
// 10): the descr at compile time, byte for byte what NumPy 1.24 writes; a C++ owner read by real
// NumPy with named fields; NumPy-written .npy files and segments loaded/attached into the struct;
// every mismatch a type_mismatch naming the first field that differs; structured descrs parsed as
// NumPy's descr_to_dtype reads them; structs without a description unchanged (|V<n> + type hash).
#include <catch2/catch.hpp>

#include <array>
#include <complex>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <shmarray/record.hpp>
#include <shmarray/shmarray.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.hpp"

using shmarray::errc;
using shmarray::shared_array;
namespace npy = shmarray::npy;
using shmtest::contains;
using shmtest::error_of;
using shmtest::message_of;
using shmtest::shm_eraser;
using shmtest::unique_name;

// ---- The structs ---------------------------------------------------------------------------

struct Particle {  // 20 bytes of fields, 4 of padding at the end
  double x, y;
  std::int32_t id;
};
SHMARRAY_RECORD(Particle, x, y, id)

namespace rec {
enum class color : std::uint8_t { red = 1, green = 2 };
struct Inner {  // padding between the fields
  std::uint8_t a;
  float b;
};
SHMARRAY_RECORD(Inner, a, b)
struct Body {
  Inner in;                                      // nested described struct at 0
  double pos[3];                                 // 8
  std::array<std::array<std::int16_t, 3>, 2> m;  // 32, (2, 3)
  std::complex<double> c;                        // 48 (4 bytes of padding before)
  bool flag;                                     // 64
  color col;                                     // 65, an enum: its underlying uint8
  Inner pair[2];                                 // 68, a subarray of a nested struct
};                                               // 88 bytes: 4 of padding at the end
SHMARRAY_RECORD(Body, in, pos, m, c, flag, col, pair)

struct Numbers {  // every number type shared_array maps
  bool b;
  std::int8_t i1;
  std::uint8_t u1;
  std::int16_t i2;
  std::uint16_t u2;
  std::int32_t i4;
  std::uint32_t u4;
  std::int64_t i8;
  std::uint64_t u8;
  float f4;
  double f8;
  std::complex<float> c8;
  std::complex<double> c16;
};
SHMARRAY_RECORD(Numbers, b, i1, u1, i2, u2, i4, u4, i8, u8, f4, f8, c8, c16)

struct Hidden {  // a member left out of the description is padding to NumPy
  std::int32_t kept;
  std::int32_t secret;
  double also;
};
SHMARRAY_RECORD(Hidden, kept, also)
}  // namespace rec

struct Plain {  // no description: raw bytes |V16 and the trailer's type hash, as before
  double a;
  std::int64_t b;
};
struct Plain2 {
  double c;
  std::int64_t d;
};

// ---- Compile time ----------------------------------------------------------------------------

static_assert(npy::record_descr<Particle>() ==
              "[('x', '<f8'), ('y', '<f8'), ('id', '<i4'), ('', '|V4')]");
static_assert(npy::record_descr<rec::Inner>() == "[('a', '|u1'), ('', '|V3'), ('b', '<f4')]");
static_assert(npy::record_descr<rec::Hidden>() ==
              "[('kept', '<i4'), ('', '|V4'), ('also', '<f8')]");
static_assert(npy::record_descr<const Particle>() == npy::record_descr<Particle>());
static_assert(npy::is_record_v<Particle> && npy::is_record_v<const rec::Body>);
static_assert(!npy::is_record_v<Plain> && !npy::is_record_v<double>);
static_assert(npy::is_numpy_type<Particle>() && !npy::is_numpy_type<Plain>());
static_assert(sizeof(rec::Body) == 88 && offsetof(rec::Body, pair) == 66 + 2);

namespace {
shmtest::child_status python(const std::string& code) {
  return shmtest::run_command({"/usr/bin/python3", "-c", code}, std::chrono::seconds(120));
}
#define REQUIRE_NUMPY()             \
  if (!shmtest::python_has_numpy()) \
  SHMTEST_SKIP("/usr/bin/python3 with NumPy not found (apt-get install python3-numpy)")

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// A .npy header for `descr` (any spelling) followed by `data`.
std::string npy_bytes(const std::string& descr, std::size_t count, const void* data,
                      std::size_t nbytes) {
  std::string b = npy::write_header(descr, false, {count});
  b.append(static_cast<const char*>(data), nbytes);
  return b;
}

Particle particle(int i) {
  Particle p{};
  p.x = i + 0.5;
  p.y = -i * 2.0;
  p.id = 100 + i;
  return p;
}

// The NumPy dtypes the structs mean (align=True is what a C compiler does).
const char* const numpy_dtypes =
    "import numpy as np\n"
    "from numpy.lib import format as fmt\n"
    "Particle = np.dtype([('x', '<f8'), ('y', '<f8'), ('id', '<i4')], align=True)\n"
    "Inner = np.dtype([('a', 'u1'), ('b', '<f4')], align=True)\n"
    "Body = np.dtype([('in', Inner), ('pos', '<f8', (3,)), ('m', '<i2', (2, 3)),\n"
    "                 ('c', '<c16'), ('flag', '?'), ('col', 'u1'), ('pair', Inner, (2,))],\n"
    "                align=True)\n"
    "Numbers = np.dtype([('b', '?'), ('i1', 'i1'), ('u1', 'u1'), ('i2', '<i2'), ('u2', '<u2'),\n"
    "                    ('i4', '<i4'), ('u4', '<u4'), ('i8', '<i8'), ('u8', '<u8'),\n"
    "                    ('f4', '<f4'), ('f8', '<f8'), ('c8', '<c8'), ('c16', '<c16')],\n"
    "                   align=True)\n"
    "Hidden = np.dtype({'names': ['kept', 'also'], 'formats': ['<i4', '<f8'],\n"
    "                   'offsets': [0, 8], 'itemsize': 16})\n";
}  // namespace

TEST_CASE("Issue 13: a described struct's descr is NumPy's, byte for byte", "[record][numpy]") {
  CHECK(npy::descr<Particle>() == npy::record_descr<Particle>());
  CHECK(npy::record_descr<rec::Body>() ==
        "[('in', [('a', '|u1'), ('', '|V3'), ('b', '<f4')]), ('pos', '<f8', (3,)), "
        "('m', '<i2', (2, 3)), ('', '|V4'), ('c', '<c16'), ('flag', '|b1'), ('col', '|u1'), "
        "('', '|V2'), ('pair', [('a', '|u1'), ('', '|V3'), ('b', '<f4')], (2,)), ('', '|V4')]");
  CHECK(npy::record_descr<rec::Numbers>() ==
        "[('b', '|b1'), ('i1', '|i1'), ('u1', '|u1'), ('', '|V1'), ('i2', '<i2'), "
        "('u2', '<u2'), ('i4', '<i4'), ('u4', '<u4'), ('i8', '<i8'), ('u8', '<u8'), "
        "('f4', '<f4'), ('', '|V4'), ('f8', '<f8'), ('c8', '<c8'), ('c16', '<c16')]");
  // Parsing our descr gives the struct back: fields, offsets, itemsize.
  const npy::dtype d = npy::parse_dtype(npy::descr<rec::Body>(), "test");
  REQUIRE(d.fields.size() == 7);
  CHECK(d.itemsize == sizeof(rec::Body));
  CHECK(d.fields[1].name == "pos");
  CHECK(d.fields[1].offset == offsetof(rec::Body, pos));
  CHECK(d.fields[2].shape == shmarray::shape_type{2, 3});
  CHECK(d.fields[6].offset == offsetof(rec::Body, pair));
  CHECK(d.fields[6].type.fields[1].offset == offsetof(rec::Inner, b));
  CHECK(npy::dtype_string(d) == npy::descr<rec::Body>());
  CHECK(npy::element_size(npy::descr<rec::Body>()) == sizeof(rec::Body));

  REQUIRE_NUMPY();
  // What NumPy's own writer (dtype_to_descr, as np.save uses it) says for the same dtypes, and
  // the whole header np.save writes for an array of them.
  const std::string ours = std::string(npy::descr<Particle>()) + "\n" + npy::descr<rec::Body>() +
                           "\n" + npy::descr<rec::Numbers>() + "\n" + npy::descr<rec::Hidden>() +
                           "\n";
  auto st = python(std::string(numpy_dtypes) +
                   "import io\n"
                   "for dt in (Particle, Body, Numbers, Hidden):\n"
                   "    print(str(fmt.dtype_to_descr(dt)))\n"
                   "b = io.BytesIO()\n"
                   "np.save(b, np.zeros((2, 3), Particle))\n"
                   "v = b.getvalue()\n"
                   "print(v[10:10 + (v[8] | v[9] << 8)].decode().rstrip())\n");
  INFO(st.out);
  REQUIRE(st.ok());
  CHECK(st.out.substr(0, ours.size()) == ours);
  // The header dict too (NumPy pads it with more spaces, room to grow the shape in place).
  std::string dict = npy::write_header(npy::descr<Particle>(), false, {2, 3}).substr(10);
  dict.erase(dict.find_last_not_of(" \n") + 1);
  CHECK(st.out.substr(ours.size()) == dict + "\n");
}

TEST_CASE("Issue 13: NumPy opens a C++ owner's struct segment with named fields",
          "[record][numpy]") {
  REQUIRE_NUMPY();
  const std::string name = unique_name("rec");
  auto a = shared_array<Particle>::allocate({2, 3}, {name});
  for (std::size_t i = 0; i < a.size(); ++i) a.data()[i] = particle(static_cast<int>(i));
  const std::string body = unique_name("body");
  auto b = shared_array<rec::Body>::allocate({2}, {body});
  for (std::size_t i = 0; i < 2; ++i) {
    rec::Body& v = b.data()[i];
    v.in = {static_cast<std::uint8_t>(7 + i), 1.25f};
    v.pos[0] = 1;
    v.pos[1] = 2;
    v.pos[2] = 3.0 + static_cast<double>(i);
    v.m[1][2] = -5;
    v.c = {0.5, -1.5};
    v.flag = i == 1;
    v.col = rec::color::green;
    v.pair[1].b = 9.5f;
  }
  auto st = python(std::string(numpy_dtypes) + "a = np.load('/dev/shm/" + name +
                   "', mmap_mode='r')\n"
                   "assert a.dtype == Particle, a.dtype\n"
                   "assert a.dtype.names == ('x', 'y', 'id') and a.dtype.itemsize == 24\n"
                   "assert [a.dtype.fields[n][1] for n in a.dtype.names] == [0, 8, 16]\n"
                   "assert a.shape == (2, 3)\n"
                   "assert (a['x'].ravel() == np.arange(6) + 0.5).all(), a['x']\n"
                   "assert (a['y'].ravel() == -2.0 * np.arange(6)).all()\n"
                   "assert (a['id'].ravel() == 100 + np.arange(6)).all()\n"
                   "b = np.load('/dev/shm/" +
                   body +
                   "', mmap_mode='r')\n"
                   "assert b.dtype == Body and b.dtype.itemsize == 88, b.dtype\n"
                   "assert b['in']['a'].tolist() == [7, 8] and b['in']['b'][1] == 1.25\n"
                   "assert b['pos'].shape == (2, 3) and b['pos'][1].tolist() == [1, 2, 4]\n"
                   "assert b['m'].shape == (2, 2, 3) and b['m'][0, 1, 2] == -5\n"
                   "assert b['c'][0] == 0.5 - 1.5j and b['flag'].tolist() == [False, True]\n"
                   "assert b['col'].tolist() == [2, 2] and b['pair']['b'][1, 1] == 9.5\n"
                   "print('ok')\n");
  INFO(st.out);
  CHECK(st.ok());
  // save(): the same header in a file NumPy reads.
  shmtest::temp_dir dir("rec", "/tmp");  // its path goes into Python string literals
  a.save(dir / "p.npy");
  st = python(std::string(numpy_dtypes) + "a = np.load('" + dir / "p.npy" +
              "')\n"
              "assert a.dtype == Particle and a.shape == (2, 3)\n"
              "assert a['id'][1, 2] == 105 and a['x'][1, 2] == 5.5\n");
  INFO(st.out);
  CHECK(st.ok());
}

TEST_CASE("Issue 13: structured .npy files and segments NumPy wrote load and attach",
          "[record][numpy]") {
  REQUIRE_NUMPY();
  shmtest::temp_dir dir("recnp", "/tmp");  // its path goes into Python string literals
  const std::string seg = unique_name("npseg");
  shm_eraser er(seg);
  auto st = python(std::string(numpy_dtypes) +
                   "a = np.zeros(5, Particle)\n"
                   "a['x'] = np.arange(5) * 1.5; a['y'] = -1; a['id'] = np.arange(5) + 40\n"
                   "np.save('" +
                   dir / "p.npy" +
                   "', a)\n"
                   "np.save(open('/dev/shm/" +
                   seg +
                   "', 'wb'), a)\n"
                   "b = np.zeros(3, Body)\n"
                   "b['pos'][2] = [7, 8, 9]; b['in']['b'] = 0.75; b['m'][1, 1, 0] = 12\n"
                   "b['pair']['a'][2, 1] = 3; b['col'] = 1; b['c'] = 2j\n"
                   "np.save('" +
                   dir / "b.npy" +
                   "', b)\n"
                   // Fortran order of a 2-d structured array, and the dict-built dtype NumPy
                   // writes in the list form.
                   "np.save('" +
                   dir / "f.npy" +
                   "', np.asfortranarray(np.zeros((2, 3), Particle)))\n"
                   "h = np.zeros(2, Hidden); h['kept'] = [1, 2]; h['also'] = 0.5\n"
                   "np.save('" +
                   dir / "h.npy" + "', h)\n");
  INFO(st.out);
  REQUIRE(st.ok());
  auto check = [](const Particle* p) {
    for (int i = 0; i < 5; ++i) {
      CHECK(p[i].x == i * 1.5);
      CHECK(p[i].y == -1);
      CHECK(p[i].id == 40 + i);
    }
  };
  auto l = shared_array<Particle>::load(dir / "p.npy");
  CHECK(l.shape() == shmarray::shape_type{5});
  check(l.data());
  auto s = shared_array<const Particle>::attach(seg);  // no trailer: the descr is the check
  check(s.data());
  auto w = shared_array<Particle>::attach(seg);
  w.data()[4].id = -4;
  auto b = shared_array<rec::Body>::load(dir / "b.npy");
  CHECK(b.data()[2].pos[2] == 9);
  CHECK(b.data()[1].in.b == 0.75f);
  CHECK(b.data()[1].m[1][0] == 12);
  CHECK(b.data()[2].pair[1].a == 3);
  CHECK(b.data()[0].col == rec::color::red);
  CHECK(b.data()[1].c == std::complex<double>(0, 2));
  auto f = shared_array<Particle>::load(dir / "f.npy");
  CHECK(f.fortran_order());
  CHECK(f.shape() == shmarray::shape_type{2, 3});
  auto h = shared_array<rec::Hidden>::load(dir / "h.npy");
  CHECK(h.data()[1].kept == 2);
  CHECK(h.data()[1].also == 0.5);
  // NumPy sees the write through the C++ handle.
  st = python(
      "import numpy as np\n"
      "a = np.load('/dev/shm/" +
      seg +
      "', mmap_mode='r')\n"
      "assert a['id'][4] == -4, a\n");
  INFO(st.out);
  CHECK(st.ok());
}

TEST_CASE("Issue 13: other spellings of the same structure are accepted", "[record]") {
  Particle p[2] = {particle(1), particle(2)};
  const std::vector<std::string> same = {
      "[('x', '<f8'), ('y', '<f8'), ('id', '<i4'), ('', '|V2'), ('', '|V2')]",  // split padding
      "[('x', '<f8'), ('y', '<f8'), ('id', '<i4'), ('', '<V4')]",
      "[['x', '<f8'], ['y', '=f8'], ['id', '<i4'], ['', 'V4']]",         // lists, native order
      "[('x', '<f8'),\n ('y', '<f8'),\n ('id', '<i4'),\n ('', '|V4')]",  // old pprint headers
      "[(('x coordinate', 'x'), '<f8'), ('y', '<f8'), ('id', '<i4'), ('', '|V4'),]",  // a title
      "[('x', '<f8'), ('y', '<f8', ()), ('id', '<i4'), ('', '|u1', (4,))]",  // NumPy's '' rule
      "[(\"x\", '<f8'), ('y', ('<f8', ())), ('id', '<i4'), ('', [('', '|V4')], 1)]",
  };
  shmtest::temp_dir dir("recsp", "/tmp");  // its path goes into Python string literals
  for (const auto& d : same) {
    INFO(d);
    CHECK(npy::same_dtype<Particle>(d));
    const std::string bytes = npy_bytes(d, 2, p, sizeof p);
    std::ofstream(dir / "s.npy", std::ios::binary) << bytes;
    auto l = shared_array<Particle>::load(dir / "s.npy");
    CHECK(l.data()[1].id == 102);
    const std::string name = unique_name("sp");
    shm_eraser er(name);
    shmtest::write_raw_segment(name, bytes);
    auto a = shared_array<const Particle>::attach(name);
    CHECK(a.data()[0].x == 1.5);
  }
  // Nested subarray formats flatten: ('pos', ('<f8', (3,))) is ('pos', '<f8', (3,)).
  std::string body = npy::descr<rec::Body>();
  const std::string flat = "('m', '<i2', (2, 3))";
  body.replace(body.find(flat), flat.size(), "('m', ('<i2', (3,)), (2,))");
  const std::string pos = "('pos', '<f8', (3,))";
  body.replace(body.find(pos), pos.size(), "('pos', ('<f8', (3,)))");
  INFO(body);
  CHECK(npy::same_dtype<rec::Body>(body));
}

TEST_CASE("Issue 13: every mismatch is type_mismatch naming the first field that differs",
          "[record][numpy]") {
  REQUIRE_NUMPY();
  struct variant {
    const char* file;
    const char* dtype;  // Python
    const char* says;   // in the message
  };
  const std::vector<variant> variants = {
      {"name", "[('x', '<f8'), ('z', '<f8'), ('id', '<i4')], align=True",
       "field 'y': expected ('y', '<f8') at offset 8, found ('z', '<f8') at offset 8"},
      {"order", "[('y', '<f8'), ('x', '<f8'), ('id', '<i4')], align=True",
       "field 'x': expected ('x', '<f8') at offset 0, found ('y', '<f8') at offset 0"},
      {"type", "[('x', '<f8'), ('y', '<f8'), ('id', '<i8')]",
       "field 'id': expected ('id', '<i4') at offset 16, found ('id', '<i8') at offset 16"},
      {"offset",
       "{'names': ['x', 'y', 'id'], 'formats': ['<f8', '<f8', '<i4'], 'offsets': [0, 8, 20],"
       " 'itemsize': 24}",
       "field 'id': expected ('id', '<i4') at offset 16, found ('id', '<i4') at offset 20"},
      {"itemsize", "[('x', '<f8'), ('y', '<f8'), ('id', '<i4')]",
       "itemsize: expected 24 bytes, found 20"},
      {"fewer",
       "{'names': ['x', 'y'], 'formats': ['<f8', '<f8'], 'offsets': [0, 8], 'itemsize': 24}",
       "field 'id': expected ('id', '<i4') at offset 16, found no such field (the dtype has 2)"},
      {"more",
       "{'names': ['x', 'y', 'id', 'w'], 'formats': ['<f8', '<f8', '<i4', '<i4'],"
       " 'offsets': [0, 8, 16, 20], 'itemsize': 24}",
       "field 'w': expected no field after 'id', found ('w', '<i4') at offset 20"},
      {"big", "[('x', '>f8'), ('y', '>f8'), ('id', '>i4')], align=True",
       "field 'x': expected ('x', '<f8') at offset 0, found ('x', '>f8') at offset 0"},
      {"plain", "('<f8', (3,))", ": not a structured dtype"},
      {"void", "'V24'", "the file holds '|V24'"},
  };
  std::string code = std::string(numpy_dtypes);
  shmtest::temp_dir dir("recmm", "/tmp");  // its path goes into Python string literals
  for (const auto& v : variants)
    code += "np.save('" + dir / v.file + ".npy', np.zeros(2, np.dtype(" + v.dtype + ")))\n";
  // Body: a subarray's shape, and a field inside a nested struct.
  code +=
      "B = [(n, Body.fields[n][0]) for n in Body.names]\n"
      "B[1] = ('pos', '<f8', (2,))\n"
      "np.save('" +
      dir / "shape" +
      ".npy', np.zeros(2, np.dtype(B, align=True)))\n"
      "B = [(n, Body.fields[n][0]) for n in Body.names]\n"
      "B[0] = ('in', np.dtype([('a', 'u1'), ('b', '<i4')], align=True))\n"
      "np.save('" +
      dir / "nested" + ".npy', np.zeros(2, np.dtype(B, align=True)))\n";
  auto st = python(code);
  INFO(st.out);
  REQUIRE(st.ok());
  auto expect = [&](auto tag, const std::string& file, const std::string& says) {
    using T = decltype(tag);
    INFO(file);
    const std::string path = dir / (file + ".npy");
    const std::string m = message_of([&] { shared_array<T>::load(path); });
    INFO(m);
    CHECK(error_of([&] { shared_array<T>::load(path); }) == errc::type_mismatch);
    CHECK(contains(m, says));
    CHECK(contains(m, "load '" + path + "'"));
    // The same bytes as a segment NumPy wrote (no trailer).
    const std::string name = unique_name("mm");
    shm_eraser er(name);
    shmtest::write_raw_segment(name, read_file(path));
    const std::string ma = message_of([&] { shared_array<const T>::attach(name); });
    INFO(ma);
    CHECK(error_of([&] { shared_array<T>::attach(name); }) == errc::type_mismatch);
    std::string says_seg = says;
    if (says_seg.rfind("the file holds", 0) == 0) says_seg.replace(4, 4, "segment");
    CHECK(contains(ma, says_seg));
    CHECK(contains(ma, "attach '" + name + "': the segment holds '"));
    CHECK(shmtest::shm_exists(name));  // a refused attach leaves the segment as it was
  };
  for (const auto& v : variants) expect(Particle{}, v.file, v.says);
  expect(rec::Body{}, "shape",
         "field 'pos': expected ('pos', '<f8', (3,)) at offset 8, found ('pos', '<f8', (2,)) at "
         "offset 8");
  expect(rec::Body{}, "nested",
         "field 'in.b': expected ('b', '<f4') at offset 4, found ('b', '<i4') at offset 4");
  // The message shows both descrs.
  const std::string m = message_of([&] { shared_array<Particle>::load(dir / "type.npy"); });
  CHECK(contains(m, "the file holds '[('x', '<f8'), ('y', '<f8'), ('id', '<i8')]'"));
  CHECK(contains(m, "asked for '" + npy::descr<Particle>() + "'"));
  // A structured file is no double, and no undescribed struct of the same size.
  CHECK(error_of([&] { shared_array<double>::load(dir / "type.npy"); }) == errc::type_mismatch);
  struct raw24 {
    char b[24];
  };
  CHECK(error_of([&] { shared_array<raw24>::load(dir / "type.npy"); }) == errc::type_mismatch);
}

TEST_CASE("Issue 13: structured descrs are parsed as NumPy's descr_to_dtype reads them",
          "[record][numpy][npy]") {
  // Each: a descr, and whether we read it. Where we do, NumPy must read the same itemsize,
  // names and offsets; where we refuse, NumPy must refuse too, except where marked (object
  // fields and escapes in names, which we refuse on purpose).
  struct descr_case {
    const char* text;
    bool ours;
    bool numpy_too = true;
  };
  const std::vector<descr_case> cases = {
      {"[('a', '<i4')]", true},
      {"[('a', '<i4'),]", true},
      {"[]", true},
      {"[('a', [])]", true},
      {"[('a', '<i4', 3)]", true},
      {"[('a', '<i4', (3))]", true},
      {"[('a', '<i4', (0,))]", true},
      {"[('a', '<i4', ())]", true},
      {"[('a', ('<i4', (2,)), (3,))]", true},
      {"[('', '<f8', (2,)), ('a', '<i4')]", true},
      {"[('', '|V3'), ('a', '|u1'), ('', 'V4')]", true},
      {"[('', '<i4'), ('b', '<i4')]", true},
      {"[('', [('x', '<f8')])]", true},
      {"[(('t', 'a'), '<i4'), ('b', '|S3'), ('c', '<U2'), ('d', '<M8[ns]'), ('e', '>c16')]", true},
      {"[['a', '<f8'], ['b', [['c', '|b1']]]]", true},
      {"[('a', '<f8'),\n ('b', '<i2')]", true},
      {"[('a', '<f8'),\f('b', '<i2')]", true},  // a form feed is Python whitespace too
      {"[('a', '<i4'), ('a', '<f8')]", false},
      {"[(('t', 'a'), '<i4'), ('t', '<i4')]", false},
      {"[('a', '<i4', (2,), 5)]", false},
      {"[('a',)]", false},
      {"[('a', '<f3')]", false},
      {"[('a', '<i4'), 'b']", false},
      {"[(1, '<i4')]", false},
      {"[('a', '<i4')", false},
      {"[('a', '<i4')]]", false},
      {"[('a', '<i4', (2, 3)]", false},
      {"{'names': ['a'], 'formats': ['<i4'], 'offsets': [0], 'itemsize': 4}", false},
      {"[('a', 'O')]", false, false},
      {"[('it\\'s', '<i4')]", false, false},
  };
  std::vector<std::string> ours;  // "itemsize name:offset ..." or "error"
  for (const auto& c : cases) {
    INFO(c.text);
    const std::string header = npy::write_header(c.text, false, {1});
    const errc e = error_of([&] { npy::parse_header(header.data(), header.size(), "case"); });
    if (!c.ours) {
      CHECK(e == errc::bad_format);
      ours.push_back("error");
      continue;
    }
    REQUIRE(e == errc{});
    const npy::header h = npy::parse_header(header.data(), header.size(), "case");
    const npy::dtype d = npy::parse_dtype(h.descr, "case");
    std::string s = std::to_string(d.itemsize);
    for (const auto& f : d.fields) s += " " + f.name + ":" + std::to_string(f.offset);
    ours.push_back(s);
    CHECK(npy::element_size(h.descr) == d.itemsize);
  }
  REQUIRE_NUMPY();
  std::string code =
      "import ast\n"
      "from numpy.lib import format as fmt\n"
      "for text in [";
  for (const auto& c : cases) {
    code += "'";
    for (const char* p = c.text; *p; ++p) {
      if (*p == '\\' || *p == '\'') code += '\\';
      if (*p == '\n')
        code += "\\n";
      else if (*p == '\f')
        code += "\\f";
      else
        code += *p;
    }
    code += "', ";
  }
  code +=
      "]:\n"
      "    try:\n"
      "        d = fmt.descr_to_dtype(ast.literal_eval(text))\n"
      "        print(' '.join([str(d.itemsize)] + ['%s:%d' % (n, d.fields[n][1])\n"
      "                                            for n in (d.names or ())]))\n"
      "    except Exception:\n"
      "        print('error')\n";
  auto st = python(code);
  INFO(st.out);
  REQUIRE(st.ok());
  std::istringstream lines(st.out);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    std::string theirs;
    std::getline(lines, theirs);
    INFO(cases[i].text);
    if (cases[i].numpy_too)
      CHECK(theirs == ours[i]);
    else
      CHECK(theirs != "error");  // NumPy reads it; we refuse it on purpose
  }
}

TEST_CASE("Issue 13: structs without a description keep |V<n> and the type hash", "[record]") {
  CHECK(npy::descr<Plain>() == "|V16");
  CHECK(npy::dtype_difference<Plain>("|V8").empty());
  const std::string name = unique_name("plain");
  auto a = shared_array<Plain>::allocate({3}, {name});
  a.data()[2] = {1.5, 7};
  CHECK(a.dtype() == "|V16");
  CHECK(shared_array<Plain>::attach(name).data()[2].b == 7);
  CHECK(error_of([&] { shared_array<Plain2>::attach(name); }) == errc::type_mismatch);
  CHECK(contains(message_of([&] { shared_array<Plain2>::attach(name); }), "type hash"));
  // A described struct does not attach raw bytes, nor raw bytes a described struct.
  struct P24 {
    double a, b, c;
  };
  const std::string raw = unique_name("raw24");
  auto r = shared_array<P24>::allocate({1}, {raw});
  CHECK(contains(message_of([&] { shared_array<Particle>::attach(raw); }),
                 "the segment holds '|V24' (raw bytes (a struct)), asked for '[('x', '<f8')"));
  const std::string pn = unique_name("p");
  auto p = shared_array<Particle>::allocate({1}, {pn});
  CHECK(error_of([&] { shared_array<P24>::attach(pn); }) == errc::type_mismatch);
  CHECK(error_of([&] { shared_array<double>::attach(pn); }) == errc::type_mismatch);
  // A described struct's own segments need no type hash: any struct with the same description
  // is the same dtype (as for NumPy).
  CHECK(shared_array<const Particle>::attach(pn).size() == 1);
}
