// The flagship row sum (parallel_row_sum.cpp) across the ranks of an MPI job, with one copy of the
// matrix per node instead of one per rank: rank 0 fills it, broadcast_from(0) gives every node its
// copy, each rank sums its block of rows straight from its node's copy, and the node leaders add
// up the row sums. Run with: mpirun -np 4 ./mpi_row_sum [rows] [cols]
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <shmarray/mpi.hpp>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const std::size_t rows = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1000;
  const std::size_t cols = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 1000;
  int bad = rows > INT_MAX ? 1 : 0;  // the leaders' MPI_Allreduce counts rows in an int
  {
    shmarray::mpi::node_layout layout(MPI_COMM_WORLD);  // which ranks share a node
    using node_array = shmarray::mpi::node_shared_array<double>;
    auto data = node_array::allocate(layout, {rows, cols});  // collective: one copy per node
    auto sums = node_array::allocate(layout, {rows});

    if (layout.rank() == 0) {  // rank 0 writes straight into its node's copy
      std::mt19937_64 rng(42);
      std::uniform_real_distribution<double> uni(0.0, 1.0);
      for (double& x : data.array()) x = uni(rng);
    }
    data.broadcast_from(0);  // every node's copy now holds rank 0's data

    // Each row is summed once, by one rank of the job, reading its node's copy.
    auto m = data.view<2>();
    auto s = sums.view<1>();
    const auto mine = layout.comm_block(rows);
    for (std::size_t i = mine.begin; i < mine.end; ++i) {
      double t = 0;
      for (std::size_t j = 0; j < cols; ++j) t += m(i, j);
      s(i) = t;
    }
    sums.node_barrier();  // this node's rows are in its copy of `sums` (the others are 0)
    if (layout.is_leader() && layout.node_count() > 1 && !bad)
      MPI_Allreduce(MPI_IN_PLACE, sums.data(), static_cast<int>(rows), MPI_DOUBLE, MPI_SUM,
                    layout.leaders());
    sums.node_barrier();  // every node's copy holds every row's sum

    // Check on every rank: the row sums against the matrix, the total against a serial sum.
    double parallel = 0, serial = 0;
    for (std::size_t i = 0; i < rows; ++i) parallel += s(i);
    for (double x : data.array()) serial += x;
    for (std::size_t i = mine.begin; i < mine.end; ++i) {
      double t = 0;
      for (std::size_t j = 0; j < cols; ++j) t += m(i, j);
      bad += t != s(i) ? 1 : 0;
    }
    bad += std::fabs(parallel - serial) <= 1e-9 * std::fabs(serial) + 1e-9 ? 0 : 1;
    int all_bad = 0;
    MPI_Allreduce(&bad, &all_bad, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    bad = all_bad;
    if (layout.rank() == 0) {
      std::printf("%d ranks on %d node(s), one copy per node: '%s' (%zu x %zu, %.1f MiB)\n",
                  layout.size(), layout.node_count(), data.name().c_str(), rows, cols,
                  static_cast<double>(data.nbytes()) / (1 << 20));
      std::printf("parallel total: %.6f\nserial total:   %.6f\n", parallel, serial);
      std::printf("%s\n", bad ? "MISMATCH" : "OK: the sums agree on every rank");
    }
  }
  MPI_Finalize();
  return bad ? 1 : 0;
}
