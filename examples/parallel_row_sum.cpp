// The flagship example (the Python package's Quick Start): a 1000x1000 array of random doubles in
// shared memory, its rows summed by a process_pool whose forked workers read the same memory -- no
// copy per worker -- and the total checked against a serial sum.
//
//   parallel_row_sum [rows] [cols] [workers]
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
  const unsigned workers = argc > 3 ? static_cast<unsigned>(std::strtoul(argv[3], nullptr, 10)) : 0;

  // The manager unlinks everything it made when it goes out of scope (like SharedMemoryManager).
  shmarray::manager mgr;
  auto data = shmarray::shared_array<double>::allocate(mgr, {rows, cols});

  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  for (double& x : data) x = uni(rng);

  // One task per row: the workers see `data` (forked after it was made) and return the row sums
  // through shared memory, in row order. Tasks are handed out dynamically.
  shmarray::process_pool pool(workers);  // 0: one worker per CPU
  auto m = data.view<2>();
  std::vector<double> sums = pool.map<double>(rows, [&](std::size_t i) {
    double s = 0;
    for (std::size_t j = 0; j < cols; ++j) s += m(i, j);
    return s;
  });

  double parallel = 0, serial = 0;
  for (double s : sums) parallel += s;
  for (double x : data) serial += x;
  std::printf("rows %zu x cols %zu, %u worker processes, segment '%s'\n", rows, cols,
              pool.workers(), data.name().c_str());
  std::printf("parallel total: %.6f\nserial total:   %.6f\n", parallel, serial);
  const bool ok = std::fabs(parallel - serial) <= 1e-9 * std::fabs(serial) + 1e-9;
  std::printf("%s\n", ok ? "OK: the sums agree" : "MISMATCH");
  return ok ? 0 : 1;
}
