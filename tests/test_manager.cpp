// manager: the counterpart of Python's SharedMemoryManager. Its segments are unlinked at shutdown
// (destructor or shutdown()), whatever became of their handles, and only by its creating process.
#include <catch2/catch.hpp>

#include <shmarray/shmarray.hpp>
#include <string>

#include "test_support.hpp"

using shmarray::errc;
using shmarray::manager;
using shmarray::shared_array;
using shmtest::shm_exists;
using shmtest::unique_name;

namespace {
shmarray::manager_options no_tracker() {
  shmarray::manager_options o;
  o.crash_cleanup = false;
  return o;
}
}  // namespace

TEST_CASE("a manager unlinks its segments at destruction, even moved or closed ones", "[manager]") {
  std::string n1 = unique_name("m1"), n2 = unique_name("m2"), n3;
  shared_array<double> escaped;
  {
    manager m;
    auto a = shared_array<double>::allocate(m, {4}, {n1});
    auto b = shared_array<float>::allocate(m, {2, 2}, {n2});
    auto c = shared_array<int>::allocate(m, {3});
    n3 = c.name();
    CHECK(a.owner());
    CHECK(m.names().size() == 3);
    escaped = std::move(a);  // the handle outlives the manager
    b.close();               // a managed handle's close() only unmaps
    CHECK(shm_exists(n2));
    CHECK(shm_exists(n1));
  }
  CHECK_FALSE(shm_exists(n1));
  CHECK_FALSE(shm_exists(n2));
  CHECK_FALSE(shm_exists(n3));
  // The escaped handle still maps the (now nameless) memory; closing it is harmless.
  escaped.data()[0] = 1;
  escaped.close();
}

TEST_CASE("shutdown is idempotent, tolerates segments already unlinked, and ends allocation",
          "[manager]") {
  manager m(no_tracker());
  auto a = shared_array<double>::allocate(m, {4});
  std::string name = a.name();
  REQUIRE(::shm_unlink(name.c_str()) == 0);  // someone removed it already
  m.shutdown();
  m.shutdown();
  CHECK_FALSE(m.is_active());
  try {
    shared_array<double>::allocate(m, {1});
    FAIL("allocate after shutdown did not throw");
  } catch (const shmarray::error& e) {
    CHECK(e.kind() == errc::closed);
  }
  CHECK(m.names().empty());
}

TEST_CASE("a forked child's manager shutdown leaves the parent's segments", "[manager][fork]") {
  manager m(no_tracker());
  auto a = shared_array<double>::allocate(m, {4});
  std::string name = a.name();
  auto st = shmtest::run_in_child([&] {
    m.shutdown();
    a.close();
    return 0;
  });
  REQUIRE(st.ok());
  CHECK(shm_exists(name));
  m.shutdown();
  CHECK_FALSE(shm_exists(name));
}

TEST_CASE("a failed managed creation is not tracked", "[manager]") {
  manager m(no_tracker());
  std::string name = unique_name("taken");
  auto a = shared_array<double>::allocate(m, {1}, {name});
  CHECK_THROWS_AS(shared_array<double>::allocate(m, {1}, {name}), shmarray::error);
  CHECK(m.names().size() == 1);
  auto b = shared_array<double>::copy(m, std::vector<double>{1, 2, 3});
  CHECK(m.names().size() == 2);
  CHECK(b.data()[2] == 3);
}
