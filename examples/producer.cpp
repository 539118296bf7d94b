// A producer program: it creates a named array, fills it, publishes it (attachers wait for that)
// and keeps it alive until told to stop. Its partner is `consumer`, a separate program that gets
// the name on its command line -- the C++ counterpart of passing a SharedMemoryArray to another
// Python process. Element (i, j) holds i * 1000 + j, which the consumer checks.
//
//   producer <name> [rows] [cols] [--hold-ms N] [--stream N]
//
// Prints "ready <name> <rows> <cols>" once the array is published, then waits until a line (or end
// of file) arrives on stdin -- or N milliseconds with --hold-ms -- and removes the segment.
// Streaming mode (--stream N): after "ready" and a first line on stdin (the consumers are
// attached), it updates the array N times, version g holding i * 1000 + j + g * 1e6, each inside
// update() so consumers' snapshots see whole versions only; prints "streamed N versions" and then
// waits as above.
// Exit codes: 0 done, 1 the segment could not be created, 64 usage.
#include <poll.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <shmarray/shmarray.hpp>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  std::string name;
  std::size_t dims[2] = {480, 640};
  int ndims = 0;
  long hold_ms = -1;
  long stream = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::printf("usage: producer <name> [rows] [cols] [--hold-ms N]\n");
      return 0;
    }
    if (argv[i][0] == '-' && std::strcmp(argv[i], "--hold-ms") != 0 &&
        std::strcmp(argv[i], "--stream") != 0) {
      std::fprintf(
          stderr,
          "producer: unknown option %s\nusage: producer <name> [rows] [cols] [--hold-ms N]\n",
          argv[i]);
      return 64;
    }
    if (std::strcmp(argv[i], "--hold-ms") == 0 && i + 1 < argc)
      hold_ms = std::strtol(argv[++i], nullptr, 10);
    else if (std::strcmp(argv[i], "--stream") == 0 && i + 1 < argc)
      stream = std::strtol(argv[++i], nullptr, 10);
    else if (name.empty())
      name = argv[i];
    else if (ndims < 2)
      dims[ndims++] = std::strtoul(argv[i], nullptr, 10);
  }
  if (name.empty()) {
    std::fprintf(stderr, "usage: producer <name> [rows] [cols] [--hold-ms N]\n");
    return 64;
  }
  try {
    // The data is built first and copied in: copy() publishes the segment only once it is
    // complete, so a consumer that is already waiting never sees a half-written frame.
    std::vector<double> staging(dims[0] * dims[1]);
    for (std::size_t i = 0; i < dims[0]; ++i)
      for (std::size_t j = 0; j < dims[1]; ++j)
        staging[i * dims[1] + j] = static_cast<double>(i * 1000 + j);
    shmarray::mdspan<const double, shmarray::dextents<std::size_t, 2>> src(staging.data(), dims[0],
                                                                           dims[1]);
    shmarray::manager mgr;  // unlinks the segment at the end -- or if this process is killed
    auto frame = shmarray::shared_array<double>::copy(mgr, src, {name});
    std::printf("ready %s %zu %zu\n", name.c_str(), dims[0], dims[1]);
    std::fflush(stdout);

    if (stream > 0) {
      char line[64];
      (void)std::fgets(line, sizeof line, stdin);  // the consumers are attached: go
      auto v = frame.view<2>();
      for (long n = 0; n < stream; ++n) {
        auto u = frame.update();  // readers' snapshots never see this half done
        const double base = static_cast<double>(u.generation()) * 1e6;
        for (std::size_t i = 0; i < dims[0]; ++i)
          for (std::size_t j = 0; j < dims[1]; ++j)
            v(i, j) = static_cast<double>(i * 1000 + j) + base;
      }  // the scope's end publishes the version and wakes the consumers
      std::printf("streamed %ld versions\n", stream);
      std::fflush(stdout);
    }
    if (hold_ms >= 0) {
      pollfd p{-1, 0, 0};
      ::poll(&p, 0, static_cast<int>(hold_ms));
    } else {
      char line[64];
      (void)std::fgets(line, sizeof line, stdin);  // a line or EOF: stop
    }
    std::printf("producer: done, removing '%s'\n", name.c_str());
  } catch (const shmarray::error& e) {
    std::fprintf(stderr, "producer: %s\n", e.what());
    return 1;
  }
  return 0;
}
