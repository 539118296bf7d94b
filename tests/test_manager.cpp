// manager: the counterpart of Python's SharedMemoryManager. Its segments are unlinked at shutdown
// (destructor or shutdown()), whatever became of their handles, and only by its creating process.
#include <catch2/catch.hpp>

#include <shmarray/shmarray.hpp>
#include <string>
#include <utility>
#include <vector>

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
    b.close();               // an owner's close() unlinks at once (issue 17)
    CHECK_FALSE(shm_exists(n2));
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

TEST_CASE("Issue 17: a managed owner's close() unlinks its segment", "[manager][issue17]") {
  manager m(no_tracker());
  const std::string prefix = "shmt-" + std::to_string(::getpid()) + "-";
  const std::size_t before = shmtest::shm_with_prefix(prefix).size();
  // A long-running service: many allocate + close cycles must not grow /dev/shm or the list.
  for (int i = 0; i < 50; ++i) {
    std::string n = unique_name("cycle");
    auto a = shared_array<double>::allocate(m, {64}, {n});
    a.data()[63] = i;
    REQUIRE(shm_exists(n));
    a.close();
    CHECK_FALSE(shm_exists(n));
  }
  CHECK(shmtest::shm_with_prefix(prefix).size() == before);
  CHECK(m.names().empty());

  // The destructor is close(); a moved-to handle closes for the one it came from.
  std::string nd = unique_name("dtor"), nm = unique_name("moved");
  { auto d = shared_array<float>::allocate(m, {3}, {nd}); }
  CHECK_FALSE(shm_exists(nd));
  {
    auto a = shared_array<float>::allocate(m, {3}, {nm});
    shared_array<float> b = std::move(a);
    a.close();  // moved from: nothing to do
    CHECK(shm_exists(nm));
  }
  CHECK_FALSE(shm_exists(nm));
  CHECK(m.names().empty());

  // persist() opts out of close()'s unlink; the manager still removes it at shutdown.
  std::string np = unique_name("persisted");
  auto p = shared_array<double>::allocate(m, {2}, {np});
  p.persist();
  p.close();
  CHECK(shm_exists(np));
  CHECK(m.names() == std::vector<std::string>{np});
  m.shutdown();
  CHECK_FALSE(shm_exists(np));
}

TEST_CASE("Issue 17: a managed owner's close() unlinks only in the creating process",
          "[manager][issue17][fork]") {
  manager m(no_tracker());
  auto a = shared_array<double>::allocate(m, {4});
  const std::string name = a.name();
  auto st = shmtest::run_in_child([&] {
    a.close();  // the child's copy of the owner: must leave the parent's segment
    return shm_exists(name) ? 0 : 1;
  });
  REQUIRE(st.ok());
  CHECK(shm_exists(name));
  CHECK(m.names().size() == 1);
  a.close();
  CHECK_FALSE(shm_exists(name));
  CHECK(m.names().empty());
}

TEST_CASE("Issue 17: a handle that outlives its manager leaves a re-created name alone",
          "[manager][issue17]") {
  std::string name = unique_name("reborn");
  shmtest::shm_eraser er(name);
  shared_array<double> escaped;
  {
    manager m(no_tracker());
    escaped = shared_array<double>::allocate(m, {4}, {name});
  }  // the manager unlinked it; the name is free again
  CHECK_FALSE(shm_exists(name));
  shmtest::write_raw_segment(name, std::string(64, 'x'));  // someone else takes the name
  escaped.close();
  CHECK(shm_exists(name));
}

TEST_CASE(
    "Issue 13: neither shutdown nor close() unlinks a file someone else put under a name "
    "the manager's segment lost",
    "[manager][issue13]") {
  for (bool tracked : {false, true}) {
    CAPTURE(tracked);
    const std::string by_close = unique_name("re-close"), at_shutdown = unique_name("re-shut"),
                      own = unique_name("own");
    shmtest::shm_eraser e1(by_close), e2(at_shutdown), e3(own);
    manager m(tracked ? shmarray::manager_options{} : no_tracker());
    auto a = shared_array<double>::allocate(m, {4}, {by_close});
    auto b = shared_array<double>::allocate(m, {4}, {at_shutdown});
    b.persist();
    b.close();  // the manager is to remove it at shutdown
    auto c = shared_array<double>::allocate(m, {4}, {own});
    c.persist();
    c.close();
    // Removed behind the manager's back, then re-created by a non-shmarray creator.
    REQUIRE(::shm_unlink(by_close.c_str()) == 0);
    REQUIRE(::shm_unlink(at_shutdown.c_str()) == 0);
    shmtest::write_raw_segment(by_close, std::string(4096, '\0'));
    shmtest::write_raw_segment(at_shutdown, std::string(4096, '\0'));
    CHECK_FALSE(a.unlink());  // reports that it removed nothing
    CHECK(shm_exists(by_close));
    CHECK(m.names() == std::vector<std::string>{at_shutdown, own});
    m.shutdown();
    CHECK(shm_exists(at_shutdown));
    CHECK_FALSE(shm_exists(own));  // what is still its own goes as before
  }
}
