// Live interop with real NumPy (Debian's python3-numpy at /usr/bin/python3):
// np.load(mmap_mode='r+') of our segments both ways, Fortran order, and attach_raw of a
// multiprocessing.shared_memory segment. Skipped, with a printed reason, where /usr/bin/python3 has
// no NumPy.
#include <catch2/catch.hpp>

#include <shmarray/shmarray.hpp>
#include <string>

#include "test_support.hpp"

using shmarray::shape_type;
using shmarray::shared_array;
using shmtest::unique_name;

namespace {
shmtest::child_status python(const std::string& code) {
  return shmtest::run_command({"/usr/bin/python3", "-c", code}, std::chrono::seconds(120));
}
#define REQUIRE_NUMPY()             \
  if (!shmtest::python_has_numpy()) \
  SHMTEST_SKIP("/usr/bin/python3 with NumPy not found (apt-get install python3-numpy)")
}  // namespace

TEST_CASE("np.load(mmap_mode='r+') sees our data and its writes reach C++", "[numpy]") {
  REQUIRE_NUMPY();
  std::string name = unique_name("np");
  auto a = shared_array<double>::allocate({3, 4}, {name});
  for (std::size_t i = 0; i < a.size(); ++i) a.data()[i] = static_cast<double>(i) * 1.5;
  auto st = python(
      "import numpy as np\n"
      "a = np.load('/dev/shm/" +
      name +
      "', mmap_mode='r+')\n"
      "assert a.dtype == np.float64 and a.shape == (3, 4), (a.dtype, a.shape)\n"
      "assert (a == np.arange(12).reshape(3, 4) * 1.5).all()\n"
      "a[2, 3] = -7.0\n"
      "a.flush()\n"
      "print('ok')\n");
  INFO(st.out);
  REQUIRE(st.ok());
  CHECK(a.view<2>()(2, 3) == -7.0);
}

TEST_CASE("Fortran-order segments round-trip through NumPy", "[numpy]") {
  REQUIRE_NUMPY();
  std::string name = unique_name("npf");
  auto a = shared_array<std::int32_t>::allocate({2, 3}, {name, 0600, true});
  auto v = a.view<2, shmarray::layout_left>();
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 3; ++j) v(i, j) = static_cast<std::int32_t>(10 * i + j);
  auto st = python(
      "import numpy as np\n"
      "a = np.load('/dev/shm/" +
      name +
      "', mmap_mode='r+')\n"
      "assert a.flags['F_CONTIGUOUS'] and not a.flags['C_CONTIGUOUS']\n"
      "assert a.dtype == np.int32 and a.shape == (2, 3)\n"
      "assert a[1, 2] == 12 and a[0, 1] == 1, a\n"
      "a[1, 0] = 99\n"
      "a.flush()\n");
  INFO(st.out);
  REQUIRE(st.ok());
  CHECK(v(1, 0) == 99);
}

TEST_CASE("every mapped dtype and 0-d arrays read back in NumPy", "[numpy]") {
  REQUIRE_NUMPY();
  auto b = shared_array<bool>::allocate({3});
  b.data()[1] = true;
  auto c = shared_array<std::complex<float>>::allocate({2});
  c.data()[1] = {1.0f, -2.0f};
  auto u = shared_array<std::uint16_t>::allocate({});
  u.data()[0] = 65535;
  auto st = python(
      "import numpy as np\n"
      "b = np.load('/dev/shm/" +
      b.name() +
      "', mmap_mode='r')\n"
      "assert b.dtype == np.bool_ and list(b) == [False, True, False]\n"
      "c = np.load('/dev/shm/" +
      c.name() +
      "', mmap_mode='r')\n"
      "assert c.dtype == np.complex64 and c[1] == 1 - 2j\n"
      "u = np.load('/dev/shm/" +
      u.name() +
      "', mmap_mode='r')\n"
      "assert u.shape == () and u.dtype == np.uint16 and int(u) == 65535\n");
  INFO(st.out);
  CHECK(st.ok());
}

TEST_CASE("a segment NumPy saved into /dev/shm attaches without a trailer", "[numpy]") {
  REQUIRE_NUMPY();
  std::string name = unique_name("npsave");
  shmtest::shm_eraser er(name);
  auto st = python(
      "import numpy as np\n"
      "np.save(open('/dev/shm/" +
      name + "', 'wb'), np.arange(6, dtype='<i8').reshape(2, 3))\n");
  REQUIRE(st.ok());
  auto a = shared_array<std::int64_t>::attach(name, {2, 3});
  CHECK(a.view<2>()(1, 2) == 5);
}

TEST_CASE("attach_raw reads a multiprocessing.shared_memory segment made by Python",
          "[numpy][raw]") {
  REQUIRE_NUMPY();
  std::string name = unique_name("psm");
  shmtest::shm_eraser er(name);  // Python leaves it to us
  auto st = python(
      "import numpy as np\n"
      "from multiprocessing import shared_memory, resource_tracker\n"
      "shm = shared_memory.SharedMemory(name='" +
      name +
      "', create=True, size=4*5*8)\n"
      "a = np.ndarray((4, 5), dtype=np.float64, buffer=shm.buf)\n"
      "a[:] = np.arange(20).reshape(4, 5) + 0.25\n"
      "del a\n"
      "resource_tracker.unregister(shm._name, 'shared_memory')\n"
      "shm.close()\n");
  INFO(st.out);
  REQUIRE(st.ok());
  auto a = shared_array<double>::attach_raw(name, {4, 5});
  CHECK(a.view<2>()(3, 4) == 19.25);
  a.view<2>()(0, 0) = 100;
  auto st2 = python(
      "import numpy as np\n"
      "from multiprocessing import shared_memory, resource_tracker\n"
      "shm = shared_memory.SharedMemory(name='" +
      name +
      "')\n"
      "resource_tracker.unregister(shm._name, 'shared_memory')\n"
      "a = np.ndarray((4, 5), dtype=np.float64, buffer=shm.buf)\n"
      "assert a[0, 0] == 100\n"
      "del a\n"
      "shm.close()\n");
  INFO(st2.out);
  CHECK(st2.ok());
}
