// examples/producer and examples/consumer as real separate programs meeting on a name given on the
// command line, started in both orders; the consumer waits for the producer (inotify, then the
// ready byte) and times out cleanly, with exit code 2 and a message, when none comes. Ordering
// comes from the programs' own output and exit, never from sleeps.
#include <catch2/catch.hpp>

#include <shmarray/shmarray.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "test_support.hpp"

using namespace std::chrono_literals;
using shmtest::shm_exists;
using shmtest::unique_name;

namespace {

const std::string examples = SHMARRAY_EXAMPLES_DIR;

/// A program running with its stdin and (merged) stdout/stderr on pipes.
struct program {
  pid_t pid = -1;
  int in = -1;
  int out = -1;
  std::string output;

  program(const std::vector<std::string>& argv) {
    int i[2], o[2];
    REQUIRE(::pipe2(i, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(o, O_CLOEXEC) == 0);
    std::fflush(nullptr);
    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::dup2(i[0], 0);
      ::dup2(o[1], 1);
      ::dup2(o[1], 2);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(i[0]);
    ::close(o[1]);
    in = i[1];
    out = o[0];
  }
  program(const program&) = delete;
  program& operator=(const program&) = delete;
  ~program() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      shmtest::wait_child(pid, 10s);
    }
    if (in >= 0) ::close(in);
    if (out >= 0) ::close(out);
  }

  /// Reads output until it contains `needle` (true) or EOF / `bound` passes (false).
  bool wait_for(const std::string& needle, std::chrono::milliseconds bound = 10s) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    while (output.find(needle) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || out < 0) return false;
      pollfd p{out, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char b[1024];
      ssize_t n = ::read(out, b, sizeof b);
      if (n <= 0) {
        ::close(out);
        out = -1;
        return output.find(needle) != std::string::npos;
      }
      output.append(b, static_cast<std::size_t>(n));
    }
    return true;
  }
  /// Closes stdin, reads the rest of the output and reaps the program.
  shmtest::child_status finish(std::chrono::milliseconds bound = 20s) {
    if (in >= 0) {
      ::close(in);
      in = -1;
    }
    wait_for(std::string(1, '\0'), bound);  // i.e. until EOF
    auto st = shmtest::wait_child(pid, bound);
    pid = -1;
    st.out = output;
    return st;
  }
};

bool built() {
  return ::access((examples + "/producer").c_str(), X_OK) == 0 &&
         ::access((examples + "/consumer").c_str(), X_OK) == 0;
}
#define REQUIRE_EXAMPLES() \
  if (!built()) SHMTEST_SKIP("examples not built in " + examples)

/// True once `pid` holds an inotify descriptor: the consumer is waiting for the name to appear.
bool waits_on_inotify(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd/";
  for (int fd = 0; fd < 64; ++fd) {
    char target[128] = {};
    ssize_t n = ::readlink((dir + std::to_string(fd)).c_str(), target, sizeof target - 1);
    if (n > 0 && std::string(target).find("inotify") != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("producer first, then consumer: the consumer attaches by name and checks the data",
          "[examples][exec]") {
  REQUIRE_EXAMPLES();
  const std::string name = unique_name("pc1");
  shmtest::shm_eraser erase(name);
  program producer({examples + "/producer", name, "48", "64"});
  REQUIRE(producer.wait_for("ready " + name + " 48 64\n"));
  program consumer({examples + "/consumer", name, "--timeout-ms", "10000"});
  auto c = consumer.finish();
  INFO(c.out);
  CHECK(c.ok());
  CHECK_THAT(c.out, Catch::Contains("OK, '" + name + "' holds 48x64 doubles"));
  CHECK(shm_exists(name));  // a client that exits leaves the segment
  auto p = producer.finish();
  INFO(p.out);
  CHECK(p.ok());
  CHECK_FALSE(shm_exists(name));
  // Attaching after the producer removed it: not found, so the consumer times out cleanly.
  program late({examples + "/consumer", name, "--timeout-ms", "100"});
  auto l = late.finish();
  CHECK(l.exited);
  CHECK(l.code == 2);
}

TEST_CASE("consumer first: it waits for the producer, then succeeds", "[examples][exec]") {
  REQUIRE_EXAMPLES();
  const std::string name = unique_name("pc2");
  shmtest::shm_eraser erase(name);
  program consumer({examples + "/consumer", name, "--timeout-ms", "20000"});
  // Bounded wait for an event: the consumer has set up its watch on /dev/shm.
  REQUIRE(shmtest::eventually([&] { return waits_on_inotify(consumer.pid); }, 10000ms));
  int st = 0;
  REQUIRE(::waitpid(consumer.pid, &st, WNOHANG) == 0);  // still waiting: no producer yet
  program producer({examples + "/producer", name, "300", "200"});
  auto c = consumer.finish();
  INFO(c.out);
  CHECK(c.ok());
  CHECK_THAT(c.out, Catch::Contains("OK, '" + name + "' holds 300x200 doubles"));
  REQUIRE(producer.wait_for("ready " + name));
  auto p = producer.finish();
  CHECK(p.ok());
  CHECK_FALSE(shm_exists(name));
}

TEST_CASE("consumer first with no producer: a clean timeout, exit code 2 and a message",
          "[examples][exec]") {
  REQUIRE_EXAMPLES();
  const std::string name = unique_name("nobody");
  program consumer({examples + "/consumer", name, "--timeout-ms", "300"});
  auto c = consumer.finish();
  CHECK(c.exited);
  CHECK(c.code == 2);
  CHECK_THAT(c.out, Catch::Contains("timed out after 300 ms"));
  CHECK_THAT(c.out, Catch::Contains(name));
  CHECK_FALSE(shm_exists(name));
}

TEST_CASE("a segment that exists but is never published: the consumer times out on readiness",
          "[examples][exec]") {
  REQUIRE_EXAMPLES();
  const std::string name = unique_name("unpublished");
  shmtest::shm_eraser erase(name);
  int fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  REQUIRE(fd >= 0);
  // A creator that never publishes: the header but byte 0 in place (written before the size, as
  // segment::create does), sized, byte 0 still 0.
  const std::string header = shmarray::npy::write_header("<f8", false, {16});
  REQUIRE(::pwrite(fd, header.data() + 1, header.size() - 1, 1) ==
          static_cast<ssize_t>(header.size() - 1));
  REQUIRE(::ftruncate(fd, 4096) == 0);
  ::close(fd);
  program consumer({examples + "/consumer", name, "--timeout-ms", "300"});
  auto c = consumer.finish();
  INFO(c.out);
  CHECK(c.exited);
  CHECK(c.code == 2);
  CHECK_THAT(c.out, Catch::Contains("not published"));
}

TEST_CASE("consumer usage errors exit 64", "[examples][exec]") {
  REQUIRE_EXAMPLES();
  program consumer({examples + "/consumer"});
  auto c = consumer.finish();
  CHECK(c.code == 64);
  CHECK_THAT(c.out, Catch::Contains("usage"));
}

TEST_CASE(
    "Issue 16: streaming: the producer updates 300 times, 3 consumer programs see only "
    "whole versions and the last one, and NumPy reads the generation",
    "[examples][exec][sync]") {
  REQUIRE_EXAMPLES();
  const std::string name = unique_name("stream");
  shmtest::shm_eraser erase(name);
  program producer({examples + "/producer", name, "240", "320", "--stream", "300"});
  REQUIRE(producer.wait_for("ready " + name));
  std::vector<std::unique_ptr<program>> consumers;
  for (int i = 0; i < 3; ++i) {
    consumers.push_back(std::make_unique<program>(std::vector<std::string>{
        examples + "/consumer", name, "--stream", "300", "--timeout-ms", "20000"}));
    REQUIRE(consumers.back()->wait_for("following '" + name + "'"));
  }
  REQUIRE(::write(producer.in, "go\n", 3) == 3);
  REQUIRE(producer.wait_for("streamed 300 versions", 120s));
  for (auto& c : consumers) {
    auto st = c->finish(120s);
    INFO(st.out);
    CHECK(st.ok());
    CHECK_THAT(st.out, Catch::Contains("every one whole, the last included"));
  }
  if (shmtest::python_has_numpy()) {
    auto py = shmtest::run_command(
        {"/usr/bin/python3",
         std::string(SHMARRAY_TEST_SOURCE_DIR) + "/../examples/shm_generation.py", name},
        60s);
    INFO(py.out);
    CHECK(py.ok());
    CHECK_THAT(py.out, Catch::Contains("generation 300, snapshot float64 (240, 320)"));
  } else {
    WARN("no NumPy: the Python helper was not run");
  }
  auto p = producer.finish();
  CHECK(p.ok());
  CHECK_FALSE(shm_exists(name));
}
