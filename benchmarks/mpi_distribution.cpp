// mpi_distribution: how long it takes, and how much memory, to get an array of doubles from rank 0
// to every rank of an MPI job: MPI_Bcast into private copies (the baseline) against
// node_shared_array on one node and on nodes of 2 ranks (groups given to node_layout), measured
// in one run, with the ratios against the baseline and the goals.
//
//   mpirun -np 4 ./mpi_distribution [--reps N] [MiB...]      (default: --reps 3 256 1024)
//
// Time: from "rank 0 holds the data" to "every rank can read it" (max over ranks; the root's fill
// is not timed), median of N; node-shared splits it into allocate and distribute. Then every rank
// reads its copy once (page faults included) to check the sum. Memory: the growth of Pss summed
// over the ranks while the copies exist (RSS would count a shared page once per rank), and the
// leaders' tracker processes apart.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <shmarray/mpi.hpp>
#include <string>
#include <vector>

namespace {

using shmarray::mpi::node_layout;
using shmarray::mpi::node_shared_array;

/// Pss of a process in KiB, from /proc/<pid>/smaps_rollup (-1 if unreadable).
long pss_kb(const std::string& pid = "self") {
  std::ifstream in("/proc/" + pid + "/smaps_rollup");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("Pss:", 0) == 0) return std::atol(line.c_str() + 4);
  return -1;
}

double max_over_ranks(double t) {
  double m = 0;
  MPI_Allreduce(&t, &m, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return m;
}
long sum_over_ranks(long v) {
  long s = 0;
  MPI_Allreduce(&v, &s, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  return s;
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double value(std::size_t i) {
  return static_cast<double>(i % 1000) * 0.5;
}
void fill(double* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) p[i] = value(i);
}
/// Every rank reads its whole copy; returns the time (max over ranks) and counts wrong sums.
double read_and_check(const double* p, std::size_t n, double expect, int& wrong) {
  MPI_Barrier(MPI_COMM_WORLD);
  const double t0 = MPI_Wtime();
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += p[i];
  const double t = max_over_ranks(MPI_Wtime() - t0);
  wrong += s == expect ? 0 : 1;
  return t;
}

struct figures {
  std::vector<double> alloc, dist, read;
  long pss_kb = 0, tracker_kb = 0;
};

figures run_private(std::size_t n, int reps, double expect, int& wrong) {
  figures f;
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  for (int r = 0; r < reps; ++r) {
    const long before = pss_kb();
    std::unique_ptr<double[]> buf;
    if (rank == 0) {
      buf.reset(new double[n]);
      fill(buf.get(), n);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = MPI_Wtime();
    if (rank != 0) buf.reset(new double[n]);  // untouched: its pages fault in during the Bcast
    shmarray::detail::bcast_bytes(buf.get(), n * sizeof(double), 0, MPI_COMM_WORLD, 0);
    f.alloc.push_back(0);
    f.dist.push_back(max_over_ranks(MPI_Wtime() - t0));
    f.read.push_back(read_and_check(buf.get(), n, expect, wrong));
    f.pss_kb = sum_over_ranks(pss_kb() - before);
    MPI_Barrier(MPI_COMM_WORLD);
  }
  return f;
}

figures run_shared(const node_layout& l, std::size_t n, int reps, double expect, int& wrong) {
  figures f;
  for (int r = 0; r < reps; ++r) {
    const long before = pss_kb();
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    auto a = node_shared_array<double>::allocate(l, {n});
    f.alloc.push_back(max_over_ranks(MPI_Wtime() - t0));
    if (l.rank() == 0) fill(a.data(), n);  // straight into rank 0's node's copy
    MPI_Barrier(MPI_COMM_WORLD);
    t0 = MPI_Wtime();
    a.broadcast_from(0);
    f.dist.push_back(max_over_ranks(MPI_Wtime() - t0));
    f.read.push_back(read_and_check(a.data(), n, expect, wrong));
    f.pss_kb = sum_over_ranks(pss_kb() - before);
    long tracker = 0;
    if (a.segment_manager() && a.segment_manager()->tracker_pid() > 0)
      tracker = pss_kb(std::to_string(a.segment_manager()->tracker_pid()));
    f.tracker_kb = sum_over_ranks(tracker);
    MPI_Barrier(MPI_COMM_WORLD);
  }
  return f;
}

void print(const char* what, const figures& f, const figures& base, double mib, int copies,
           const char* goal, double goal_ratio) {
  const double alloc = median(f.alloc), dist = median(f.dist), base_t = median(base.dist);
  const double mem = static_cast<double>(f.pss_kb) / 1024;
  std::printf(
      "  %-30s alloc %6.3f s  distribute %6.3f s  read %6.3f s | Pss +%7.1f MiB = %.3f x "
      "%d cop%s",
      what, alloc, dist, median(f.read), mem, mem / (mib * copies), copies,
      copies == 1 ? "y" : "ies");
  if (f.tracker_kb) std::printf(" (+ trackers %.1f MiB)", static_cast<double>(f.tracker_kb) / 1024);
  std::printf("\n");
  if (!goal) return;
  const double ratio = dist / base_t;
  std::printf(
      "  %-30s distribute / private = %.4f (goal <= %g: %s), (alloc + distribute) / "
      "private = %.3f; memory within 5%% of %d cop%s: %s\n",
      "", ratio, goal_ratio, ratio <= goal_ratio ? "met" : "MISSED", (alloc + dist) / base_t,
      copies, copies == 1 ? "y" : "ies",
      std::fabs(mem / (mib * copies) - 1) <= 0.05 ? "met" : "MISSED");
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int reps = 3;
  std::vector<std::size_t> sizes;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
      reps = std::max(1, std::atoi(argv[++i]));
    else
      sizes.push_back(std::strtoul(argv[i], nullptr, 10));
  }
  if (sizes.empty()) sizes = {256, 1024};
  int wrong = 0;
  {
    node_layout one(MPI_COMM_WORLD);  // the nodes mpirun gives (one node on one machine)
    MPI_Comm machine = MPI_COMM_NULL, pair = MPI_COMM_NULL;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &machine);
    int machine_rank = 0;
    MPI_Comm_rank(machine, &machine_rank);
    MPI_Comm_split(machine, machine_rank / 2, machine_rank, &pair);
    node_layout pairs(MPI_COMM_WORLD, pair);  // nodes of 2 ranks: emulated on one machine
    MPI_Comm_free(&pair);
    MPI_Comm_free(&machine);
    if (one.rank() == 0)
      std::printf(
          "mpi_distribution: %d ranks, %d node(s) as launched, %d with nodes of 2 ranks; "
          "median of %d\n",
          one.size(), one.node_count(), pairs.node_count(), reps);
    for (std::size_t mib : sizes) {
      const std::size_t n = mib << 17;  // doubles
      double expect = 0;
      for (std::size_t i = 0; i < n; ++i) expect += value(i);
      const figures base = run_private(n, reps, expect, wrong);
      const figures f1 = run_shared(one, n, reps, expect, wrong);
      const figures f2 = run_shared(pairs, n, reps, expect, wrong);
      if (one.rank() != 0) continue;
      const double m = static_cast<double>(mib);
      std::string l1 = "node-shared, " + std::to_string(one.node_count()) + " node(s)";
      std::string l2 = "node-shared, " + std::to_string(pairs.node_count()) + " nodes" +
                       (pairs.subdivided() ? " (emulated)" : "");
      std::printf("%zu MiB of doubles:\n", mib);
      print("private copies (MPI_Bcast)", base, base, m, one.size(), nullptr, 0);
      print(l1.c_str(), f1, base, m, one.node_count(), "goal", one.node_count() == 1 ? 0.01 : 0.5);
      print(l2.c_str(), f2, base, m, pairs.node_count(), "goal", 0.5);
    }
  }
  int all_wrong = 0;
  MPI_Allreduce(&wrong, &all_wrong, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0)
    std::printf("%s\n", all_wrong ? "FAIL: some rank read a wrong sum"
                                  : "OK: every rank read the right sum every time");
  MPI_Finalize();
  return all_wrong ? 1 : 0;
}
