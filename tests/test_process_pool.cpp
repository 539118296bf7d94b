// process_pool: map/for_each in forked workers, dynamic hand-out, progress, and failures (a task's
// exception, a worker killed by a signal) reported in the parent with nothing left behind: no
// zombie, no descriptor, no mapping.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <shmarray/shmarray.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_support.hpp"

using shmarray::errc;
using shmarray::process_pool;
using shmarray::shared_array;
using shmtest::shm_exists;
using shmtest::unique_name;

namespace {

int count_fds() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  REQUIRE(d != nullptr);
  while (::readdir(d)) ++n;
  ::closedir(d);
  return n;
}

int count_shared_mappings() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  int n = 0;
  while (std::getline(maps, line)) {
    auto sp = line.find(' ');
    if (sp != std::string::npos && sp + 4 < line.size() && line[sp + 4] == 's') ++n;
  }
  return n;
}

/// True when this process has no child left, running or zombie.
bool no_children() {
  int st = 0;
  return ::waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD;
}

/// Uneven work: task i spins for a time that grows with i % 7.
std::uint64_t busy(std::size_t i) {
  volatile std::uint64_t x = i;
  for (std::size_t k = 0; k < (i % 7) * 20000; ++k) x = x * 6364136223846793005ull + 1;
  return x;
}

struct task_result {
  std::uint64_t index;
  double square;
  pid_t pid;
};

/// Runs `fn`, which must throw worker_error; returns it.
template <class Fn>
shmarray::worker_error expect_worker_error(Fn&& fn) {
  try {
    fn();
  } catch (const shmarray::worker_error& e) {
    CHECK(e.code() == errc::worker_failed);
    CHECK(e.kind() == errc::worker_failed);
    return e;
  }
  FAIL("no worker_error was thrown");
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("map returns every result in task order, computed in other processes", "[pool]") {
  process_pool pool(4);
  CHECK(pool.workers() == 4);
  const pid_t me = ::getpid();
  const std::size_t n = 301;
  auto r = pool.map<task_result>(n, [](std::size_t i) {
    busy(i);
    return task_result{i, static_cast<double>(i) * static_cast<double>(i), ::getpid()};
  });
  REQUIRE(r.size() == n);
  std::set<pid_t> pids;
  for (std::size_t i = 0; i < n; ++i) {
    CHECK(r[i].index == i);
    CHECK(r[i].square == static_cast<double>(i) * static_cast<double>(i));
    CHECK(r[i].pid != me);
    pids.insert(r[i].pid);
  }
  CHECK(pids.size() >= 1);
  CHECK(pids.size() <= 4);
  CHECK(no_children());
}

TEST_CASE("map with fewer tasks than workers, one task, and no task", "[pool]") {
  process_pool pool(8);
  auto r = pool.map<int>(3, [](std::size_t i) { return static_cast<int>(i) * 10; });
  CHECK(r == std::vector<int>{0, 10, 20});
  CHECK(pool.map<int>(1, [](std::size_t) { return 7; }) == std::vector<int>{7});
  bool called = false;
  CHECK(pool.map<int>(0, [&](std::size_t) { return 1; }).empty());
  pool.for_each(0, [&](std::size_t) { called = true; });
  CHECK_FALSE(called);
  CHECK(no_children());
}

TEST_CASE("the default pool has one worker per CPU", "[pool]") {
  process_pool pool;
  CHECK(pool.workers() >= 1);
  CHECK(pool.workers() == shmarray::detail::cpu_count());
}

TEST_CASE("for_each writes through shared memory the parent sees (anonymous and named)", "[pool]") {
  auto anon = shared_array<std::int64_t>::allocate_anonymous({1000});
  auto named = shared_array<double>::allocate({10, 100});
  process_pool pool(3);
  pool.for_each(1000, [&](std::size_t i) {
    anon.data()[i] = static_cast<std::int64_t>(i) * 3;
    named.data()[i] = static_cast<double>(busy(i) % 1000);
  });
  for (std::size_t i = 0; i < 1000; ++i) {
    CHECK(anon.data()[i] == static_cast<std::int64_t>(i) * 3);
    CHECK(named.data()[i] == static_cast<double>(busy(i) % 1000));
  }
  // The tasks' ordinary memory stays in the workers.
  int counter = 0;
  pool.for_each(10, [&](std::size_t) { ++counter; });
  CHECK(counter == 0);
}

TEST_CASE("the progress callback runs in the parent, from (0, n) to (n, n), never backwards",
          "[pool]") {
  process_pool pool(3);
  const pid_t me = ::getpid();
  std::vector<std::pair<std::size_t, std::size_t>> calls;
  bool in_parent = true;
  const std::size_t n = 200;
  auto r = pool.map<std::uint64_t>(
      n, [](std::size_t i) { return busy(i); },
      [&](std::size_t done, std::size_t total) {
        in_parent = in_parent && ::getpid() == me;
        calls.emplace_back(done, total);
      });
  CHECK(r.size() == n);
  CHECK(in_parent);
  REQUIRE(calls.size() >= 2);
  CHECK(calls.front() == std::make_pair(std::size_t{0}, n));
  CHECK(calls.back() == std::make_pair(n, n));
  for (std::size_t k = 1; k < calls.size(); ++k) {
    CHECK(calls[k].second == n);
    CHECK(calls[k].first > calls[k - 1].first);
  }
}

TEST_CASE("a progress callback that throws stops and reaps the workers", "[pool]") {
  process_pool pool(2);
  const int fds = count_fds();
  CHECK_THROWS_WITH(pool.for_each(
                        100000, [](std::size_t i) { busy(i); },
                        [](std::size_t done, std::size_t) {
                          if (done > 0) throw std::runtime_error("cancelled by the user");
                        }),
                    "cancelled by the user");
  CHECK(no_children());
  CHECK(count_fds() == fds);
}

TEST_CASE("a task's exception becomes worker_failed naming the task, its type and message",
          "[pool]") {
  process_pool pool(4);
  auto e = expect_worker_error([&] {
    pool.map<int>(100, [](std::size_t i) -> int {
      if (i == 13) throw std::runtime_error("boom at " + std::to_string(i));
      return static_cast<int>(i);
    });
  });
  const std::string what = e.what();
  CHECK(e.task() == 13);
  CHECK(e.exit_code() == 70);
  CHECK(e.signal() == 0);
  CHECK_THAT(what, Catch::Contains("task 13"));
  CHECK_THAT(what, Catch::Contains("std::runtime_error"));
  CHECK_THAT(what, Catch::Contains("boom at 13"));
  CHECK(no_children());

  auto e2 = expect_worker_error([&] {
    pool.for_each(5, [](std::size_t i) {
      if (i == 2) throw 42;
    });
  });
  CHECK(e2.task() == 2);
  CHECK_THAT(std::string(e2.what()), Catch::Contains("int"));
}

TEST_CASE("a huge exception message is truncated, not overflowed", "[pool]") {
  process_pool pool(2);
  auto e = expect_worker_error([&] {
    pool.for_each(2, [](std::size_t i) {
      if (i == 1) throw std::runtime_error(std::string(100000, 'x'));
    });
  });
  CHECK(e.task() == 1);
  CHECK(std::string(e.what()).size() < 2000);
}

TEST_CASE("a worker killed by a signal becomes worker_failed naming the signal and the task",
          "[pool]") {
  process_pool pool(3);
  SECTION("SIGSEGV") {
    auto e = expect_worker_error([&] {
      pool.for_each(50, [](std::size_t i) {
        if (i == 7) ::raise(SIGSEGV);
      });
    });
    CHECK(e.task() == 7);
    CHECK(e.signal() == SIGSEGV);
    CHECK_THAT(std::string(e.what()), Catch::Contains("SIGSEGV"));
    CHECK_THAT(std::string(e.what()), Catch::Contains("task 7"));
  }
  SECTION("a real invalid write") {
    auto e = expect_worker_error([&] {
      pool.for_each(4, [](std::size_t i) {
        if (i == 3) {
          volatile int* p = nullptr;
          *p = 1;
        }
      });
    });
    CHECK(e.task() == 3);
    CHECK(e.signal() == SIGSEGV);
  }
  SECTION("SIGKILL") {
    auto e = expect_worker_error([&] {
      pool.map<int>(20, [](std::size_t i) {
        if (i == 11) ::kill(::getpid(), SIGKILL);
        return 0;
      });
    });
    CHECK(e.task() == 11);
    CHECK(e.signal() == SIGKILL);
    CHECK_THAT(std::string(e.what()), Catch::Contains("SIGKILL"));
  }
  SECTION("a task that calls _exit") {
    auto e = expect_worker_error([&] {
      pool.for_each(6, [](std::size_t i) {
        if (i == 4) ::_exit(0);
      });
    });
    CHECK(e.task() == 4);
    CHECK_THAT(std::string(e.what()), Catch::Contains("exit"));
  }
  CHECK(no_children());
}

TEST_CASE("after a failure the other workers are stopped at once, even in endless tasks",
          "[pool]") {
  process_pool pool(4);
  auto t0 = std::chrono::steady_clock::now();
  auto e = expect_worker_error([&] {
    pool.for_each(4, [](std::size_t i) {
      if (i == 0) throw std::runtime_error("first task fails");
      for (volatile int spin = 0;; spin = spin + 1) {
      }
    });
  });
  CHECK(e.task() == 0);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
  CHECK(no_children());
}

TEST_CASE("failures leak no descriptor, no mapping and no zombie", "[pool]") {
  process_pool pool(3);
  pool.map<int>(3, [](std::size_t) { return 0; });  // warm up lazily created state
  const int fds = count_fds();
  const int maps = count_shared_mappings();
  for (int round = 0; round < 5; ++round) {
    CHECK_THROWS_AS(pool.for_each(
                        30,
                        [](std::size_t i) {
                          if (i == 5) throw std::runtime_error("x");
                          if (i == 6) ::raise(SIGSEGV);
                        },
                        [](std::size_t, std::size_t) {}),
                    shmarray::worker_error);
    pool.map<int>(
        10, [](std::size_t i) { return static_cast<int>(i); }, [](std::size_t, std::size_t) {});
  }
  CHECK(count_fds() == fds);
  CHECK(count_shared_mappings() == maps);
  CHECK(no_children());
}

TEST_CASE("workers never unlink the parent's segments, whatever they close or shut down",
          "[pool][manager]") {
  const std::string own = unique_name("pool-own");
  shmtest::shm_eraser erase_own(own);
  shmarray::manager m;
  auto plain = shared_array<double>::allocate({64}, {own});
  auto managed = shared_array<double>::allocate(m, {64});
  const std::string managed_name = managed.name();
  process_pool pool(2);
  pool.for_each(4, [&](std::size_t i) {
    plain.data()[i] = 1.0 + static_cast<double>(i);
    managed.data()[i] = 2.0;
  });
  pool.for_each(4, [&](std::size_t) {
    plain.close();  // in a worker: unmaps its copy only
    managed.close();
    m.shutdown();
  });
  CHECK(shm_exists(own));
  CHECK(shm_exists(managed_name));
  CHECK(m.is_active());
  CHECK(m.tracker_responsive());
  CHECK(plain.data()[3] == 4.0);
  CHECK(managed.data()[0] == 2.0);
  // A worker that exits through exit() (destructors and all) does not unlink either.
  auto e = expect_worker_error([&] { pool.for_each(1, [&](std::size_t) { std::exit(0); }); });
  (void)e;
  CHECK(shm_exists(own));
  CHECK(shm_exists(managed_name));
  m.shutdown();
  CHECK_FALSE(shm_exists(managed_name));
}

TEST_CASE("workers do not flush the parent's stdio buffers a second time", "[pool]") {
  int p[2];
  REQUIRE(::pipe(p) == 0);
  auto st = shmtest::run_in_child([&] {
    ::close(p[0]);
    ::dup2(p[1], 1);
    ::close(p[1]);
    static char buf[1 << 14];
    std::setvbuf(stdout, buf, _IOFBF, sizeof buf);
    std::printf("parent line\n");  // still in the buffer when the pool forks
    process_pool pool(3);
    pool.for_each(6, [](std::size_t i) {
      if (i == 0) std::printf("worker line\n");
    });
    std::printf("end\n");
    return 0;
  });
  ::close(p[1]);
  std::string out;
  char b[256];
  ssize_t n;
  while ((n = ::read(p[0], b, sizeof b)) > 0) out.append(b, static_cast<std::size_t>(n));
  ::close(p[0]);
  REQUIRE(st.ok());
  // The parent's buffered line was flushed once, before the fork; the worker's own line once.
  CHECK(out == "parent line\nworker line\nend\n");
}

TEST_CASE("progress_bar draws only on a terminal unless forced", "[pool][progress]") {
  shmarray::progress_bar quiet("quiet");
  CHECK(quiet.enabled() == (::isatty(2) == 1));
  int p[2];
  REQUIRE(::pipe(p) == 0);
  auto st = shmtest::run_in_child([&] {
    ::close(p[0]);
    ::dup2(p[1], 2);
    ::close(p[1]);
    shmarray::progress_bar unforced("tiles");
    if (unforced.enabled()) return 1;  // stderr is a pipe here
    unforced(1, 2);
    process_pool pool(2);
    pool.for_each(
        10, [](std::size_t i) { busy(i); }, shmarray::progress_bar("tiles", true));
    return 0;
  });
  ::close(p[1]);
  std::string err;
  char b[256];
  ssize_t n;
  while ((n = ::read(p[0], b, sizeof b)) > 0) err.append(b, static_cast<std::size_t>(n));
  ::close(p[0]);
  REQUIRE(st.ok());
  CHECK_THAT(err, Catch::Contains("tiles"));
  CHECK_THAT(err, Catch::Contains("100%"));
  CHECK_THAT(err, Catch::Contains("10/10"));
  CHECK_THAT(err, Catch::Contains("tasks/s"));
  CHECK(err.back() == '\n');
}
