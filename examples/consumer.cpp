// A consumer program: it gets a segment's name on its command line, waits for the producer (which
// may not have started yet) to create and publish it, attaches read-only -- no shape or dtype
// needed, the segment describes itself -- and checks every element (i, j) == i * 1000 + j.
//
//   consumer <name> [--timeout-ms N] [--stream N]     (default 5000 ms)
//
// Streaming mode (--stream N): waits for each change (wait_changed: a futex, no CPU), takes a
// snapshot (a whole version, never a torn one) and checks every element is
// i * 1000 + j + g * 1e6 for the version g it got, until it has seen version N.
//
// Waiting is event-driven: inotify on /dev/shm for the name to appear, then the segment's ready
// byte (a futex) for the producer to publish.
// Exit codes: 0 data correct, 1 data wrong, 2 no (published) segment within the timeout,
// 3 another error (wrong element type, bad segment, ...), 64 usage.
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <shmarray/shmarray.hpp>
#include <string>
#include <vector>

namespace {

bool exists(const std::string& name) {
  struct stat st {};
  return ::stat(("/dev/shm/" + name).c_str(), &st) == 0;
}

/// Waits until /dev/shm/<name> exists or the deadline passes, without polling in a loop.
bool wait_for_name(const std::string& name, std::chrono::steady_clock::time_point deadline) {
  int in = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (in >= 0) ::inotify_add_watch(in, "/dev/shm", IN_CREATE | IN_MOVED_TO);
  bool found = false;
  for (;;) {
    if (exists(name)) {  // checked after the watch is set: no creation can slip between
      found = true;
      break;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) break;
    if (in < 0) {  // no inotify: check every 10 ms
      pollfd none{-1, 0, 0};
      ::poll(&none, 0, 10);
      continue;
    }
    pollfd p{in, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) > 0) {
      char buf[4096];
      while (::read(in, buf, sizeof buf) > 0) {
      }
    }
  }
  if (in >= 0) ::close(in);
  return found;
}

/// Streaming mode: every version seen must be whole; the last one must be seen.
int follow_stream(const shmarray::shared_array<const double>& frame, std::uint64_t last) {
  const std::size_t rows = frame.shape()[0], cols = frame.shape()[1];
  std::vector<double> copy(frame.size());
  std::uint64_t seen = 0, versions = 0, retries = 0;
  std::printf("consumer: following '%s'\n", frame.name().c_str());
  std::fflush(stdout);
  while (seen < last) {
    if (!frame.wait_changed(seen, std::chrono::seconds(60))) {
      std::fprintf(stderr, "consumer: no new version after %llu within 60 s\n",
                   static_cast<unsigned long long>(seen));
      return 2;
    }
    auto g = frame.snapshot(copy.data(), std::chrono::seconds(60), &retries);
    if (!g) return 2;
    const double base = static_cast<double>(*g) * 1e6;
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < cols; ++j)
        if (copy[i * cols + j] != static_cast<double>(i * 1000 + j) + base) {
          std::printf("consumer: version %llu is torn at (%zu, %zu)\n",
                      static_cast<unsigned long long>(*g), i, j);
          return 1;
        }
    ++versions;
    seen = *g;
  }
  std::printf(
      "consumer: OK, saw %llu of %llu versions, every one whole, the last included "
      "(%llu snapshots retried)\n",
      static_cast<unsigned long long>(versions), static_cast<unsigned long long>(last),
      static_cast<unsigned long long>(retries));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string name;
  long timeout_ms = 5000;
  long stream = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::printf("usage: consumer <name> [--timeout-ms N]\n");
      return 0;
    }
    if (argv[i][0] == '-' && std::strcmp(argv[i], "--timeout-ms") != 0 &&
        std::strcmp(argv[i], "--stream") != 0) {
      std::fprintf(stderr, "consumer: unknown option %s\n", argv[i]);
      return 64;
    }
    if (std::strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc)
      timeout_ms = std::strtol(argv[++i], nullptr, 10);
    else if (std::strcmp(argv[i], "--stream") == 0 && i + 1 < argc)
      stream = std::strtol(argv[++i], nullptr, 10);
    else if (name.empty())
      name = argv[i];
  }
  if (name.empty()) {
    std::fprintf(stderr, "usage: consumer <name> [--timeout-ms N]\n");
    return 64;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const auto deadline = t0 + std::chrono::milliseconds(timeout_ms);
  if (!wait_for_name(name, deadline)) {
    std::fprintf(stderr,
                 "consumer: timed out after %ld ms: no segment '%s' appeared (is the producer "
                 "running? pass --timeout-ms to wait longer)\n",
                 timeout_ms, name.c_str());
    return 2;
  }
  try {
    shmarray::attach_options opts;
    opts.ready_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (opts.ready_timeout.count() < 1) opts.ready_timeout = std::chrono::milliseconds(1);
    auto frame = shmarray::shared_array<const double>::attach(name, opts);
    if (frame.rank() != 2) {
      std::fprintf(stderr, "consumer: '%s' has rank %zu, expected 2\n", name.c_str(), frame.rank());
      return 3;
    }
    if (stream > 0) return follow_stream(frame, static_cast<std::uint64_t>(stream));
    auto v = frame.view<2>();
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < v.extent(0); ++i)
      for (std::size_t j = 0; j < v.extent(1); ++j)
        if (v(i, j) != static_cast<double>(i * 1000 + j)) ++wrong;
    const double waited =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (wrong) {
      std::printf("consumer: '%s': %zu of %zu values are wrong\n", name.c_str(), wrong,
                  frame.size());
      return 1;
    }
    std::printf("consumer: OK, '%s' holds %zux%zu doubles, all as expected (waited %.1f ms)\n",
                name.c_str(), v.extent(0), v.extent(1), waited);
    return 0;
  } catch (const shmarray::error& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    if (e.kind() == shmarray::errc::not_ready || e.kind() == shmarray::errc::not_found) return 2;
    return 3;
  }
}
