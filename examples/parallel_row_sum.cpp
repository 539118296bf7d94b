// The flagship example (the Python package's Quick Start): a 1000x1000 array of random doubles in
// shared memory, its rows summed by forked worker processes that read the same memory -- no copy per
// worker -- and the total checked against a serial sum.
//
//   parallel_row_sum [rows] [cols] [workers]
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <shmarray/shmarray.hpp>
#include <vector>

int main(int argc, char** argv) {
  const std::size_t rows = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1000;
  const std::size_t cols = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 1000;
  const long ncpu = ::sysconf(_SC_NPROCESSORS_ONLN);
  const std::size_t workers = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : static_cast<std::size_t>(ncpu > 0 ? ncpu : 2);

  // The manager unlinks everything it made when it goes out of scope (like SharedMemoryManager).
  shmarray::manager mgr;
  auto data = shmarray::shared_array<double>::allocate(mgr, {rows, cols});
  auto sums = shmarray::shared_array<double>::allocate(mgr, {rows});

  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  for (double& x : data) x = uni(rng);

  // Each worker sums a block of rows and writes the row sums into the shared result array.
  auto m = data.view<2>();
  auto out = sums.view<1>();
  std::vector<pid_t> pids;
  for (std::size_t w = 0; w < workers; ++w) {
    pid_t pid = ::fork();
    if (pid < 0) {
      std::perror("fork");
      return 1;
    }
    if (pid == 0) {
      for (std::size_t i = w; i < rows; i += workers) {
        double s = 0;
        for (std::size_t j = 0; j < cols; ++j) s += m(i, j);
        out(i) = s;
      }
      ::_exit(0);  // no destructors in the child: the parent owns the segments
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "worker %d failed\n", static_cast<int>(pid));
      return 1;
    }
  }

  double parallel = 0, serial = 0;
  for (double s : sums) parallel += s;
  for (double x : data) serial += x;
  std::printf("rows %zu x cols %zu, %zu worker processes, segment '%s'\n", rows, cols, workers,
              data.name().c_str());
  std::printf("parallel total: %.6f\nserial total:   %.6f\n", parallel, serial);
  const bool ok = std::fabs(parallel - serial) <= 1e-9 * std::fabs(serial) + 1e-9;
  std::printf("%s\n", ok ? "OK: the sums agree" : "MISMATCH");
  return ok ? 0 : 1;
}
