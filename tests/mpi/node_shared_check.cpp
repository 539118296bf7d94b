// node_shared_check: checks <shmarray/mpi.hpp> on whatever node layout mpirun gives it (one node;
// emulated nodes, SHMARRAY_MPI_RANKS_PER_NODE=k; fake hosts with their own /dev/shm), run by
// tests/mpi/mpirun_test.sh. EXPECT_NODES is the number of nodes the launch makes. Exit 0 when
// every check passed on every rank.
//   node_shared_check                     every check (below)
//   node_shared_check --mutant MODE       a deliberately broken variant, which the sharing and
//       broadcast checks must catch (exit 0 when they do): skip-bcast (broadcast_from replaced by
//       a node barrier: the leaders never send), one-node (the whole job taken as one node),
//       layout (the layout checks alone, run on a broken emulation that they must catch)
//   node_shared_check --nospace MIB       a MIB-MiB array that one node's /dev/shm cannot hold:
//       errc::no_space on every rank, nothing left on any node, the job goes on
//   node_shared_check --crash VICTIM      rank VICTIM SIGKILLs itself while every node holds a
//       segment; the leaders print "segment NAME tracker PID" for mpirun_test.sh --crash
//   node_shared_check --crash-no-cleanup VICTIM   the same without crash cleanup (tracker 0): the
//       control that shows mpirun_test.sh --crash notices a segment left behind
//   node_shared_check --big               a 2.25 GiB broadcast (more than INT_MAX bytes)
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <shmarray/mpi.hpp>
#include <string>
#include <vector>

namespace {

using shmarray::errc;
using shmarray::shape_type;
using shmarray::mpi::node_layout;
using shmarray::mpi::node_options;
using shmarray::mpi::node_shared_array;

// ---- checks, counted per area so that a mutant's report says what caught it ------------------

enum area { layout_area, sharing, mapping, broadcast, memory, views, errors, interop, areas };
const char* const area_names[areas] = {"layout", "sharing", "mapping", "broadcast",
                                       "memory", "views",   "errors",  "interop"};
int failures[areas] = {};
int checks = 0;
int world_rank = 0;

void check(bool ok, area a, const std::string& what) {
  ++checks;
  if (ok) return;
  ++failures[a];
  std::fprintf(stderr, "rank %d: FAILED [%s] %s\n", world_rank, area_names[a], what.c_str());
}

// ---- /proc/self/smaps: which file backs an address, and how much of it this process holds -------

struct mapping_info {
  std::string dev, path;
  unsigned long inode = 0;
  long rss_kb = -1, pss_kb = -1;
};

mapping_info mapping_of(const void* p) {
  const auto at = reinterpret_cast<unsigned long>(p);
  std::ifstream in("/proc/self/smaps");
  std::string line;
  mapping_info m;
  bool inside = false;
  while (std::getline(in, line)) {
    unsigned long lo = 0, hi = 0, off = 0, inode = 0;
    char perms[8] = {}, dev[32] = {};
    int path_at = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx %7s %lx %31s %lu %n", &lo, &hi, perms, &off, dev, &inode,
                    &path_at) >= 6) {
      if (inside) break;  // the next mapping's header
      if (at >= lo && at < hi) {
        inside = true;
        m.dev = dev;
        m.inode = inode;
        if (path_at > 0) m.path = line.substr(static_cast<std::size_t>(path_at));
      }
      continue;
    }
    if (!inside) continue;
    long kb = 0;
    if (std::sscanf(line.c_str(), "Rss: %ld kB", &kb) == 1) m.rss_kb = kb;
    if (std::sscanf(line.c_str(), "Pss: %ld kB", &kb) == 1) m.pss_kb = kb;
  }
  return m;
}

bool exists_in_dev_shm(const std::string& name) {
  struct stat st {};
  return ::stat(("/dev/shm/" + name).c_str(), &st) == 0;
}

// ---- helpers ----------------------------------------------------------------------------------

/// The value a test writes at flat index i for a given tag: exact in a double.
double code(long tag, std::size_t i) {
  return static_cast<double>(tag) * 1e7 + static_cast<double>(i % 999983);
}

/// A name every rank agrees on, unique to this job.
std::string job_name(const char* tag) {
  long pid = ::getpid();
  MPI_Bcast(&pid, 1, MPI_LONG, 0, MPI_COMM_WORLD);
  return "shmt-mpi-" + std::to_string(pid) + "-" + tag;
}

/// The errc f throws (errc{} when none), on this rank alone.
template <class F>
errc local_error_of(F&& f) {
  try {
    f();
  } catch (const shmarray::error& e) {
    return e.kind();
  }
  return errc{};
}

/// The errc every rank got from f (errc{} for none) agrees on all ranks and is `want`.
template <class F>
void throws_everywhere(errc want, const std::string& what, F&& f) {
  int got = 0;
  std::string message;
  try {
    f();
  } catch (const shmarray::error& e) {
    got = static_cast<int>(e.kind());
    message = e.what();
  }
  int lo = 0, hi = 0;
  MPI_Allreduce(&got, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&got, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  check(lo == hi && got == static_cast<int>(want), errors,
        what + ": every rank must throw errc " + std::to_string(static_cast<int>(want)) +
            "; this rank got " + std::to_string(got) + " (ranks: " + std::to_string(lo) + ".." +
            std::to_string(hi) + ") " + message);
  if (world_rank == 0 && !message.empty())
    std::printf("  %s -> %s\n", what.c_str(), message.c_str());
}

// ---- the layout and the pure pieces -------------------------------------------------------------

void check_layout(const node_layout& l) {
  if (const char* e = std::getenv("EXPECT_NODES"))
    check(l.node_count() == std::atoi(e), layout_area,
          "node_count " + std::to_string(l.node_count()) + ", expected " + e);
  check((l.leaders() != MPI_COMM_NULL) == l.is_leader(), layout_area, "leaders communicator");
  int leader = l.is_leader() ? 1 : 0, leaders = 0;
  MPI_Allreduce(&leader, &leaders, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  check(leaders == l.node_count(), layout_area, "one leader per node");
  check(l.node_of(l.rank()) == l.node_index(), layout_area, "node_of(rank) is my node");
  int node_members = 0;
  for (int r = 0; r < l.size(); ++r) node_members += l.node_of(r) == l.node_index() ? 1 : 0;
  check(node_members == l.node_size(), layout_area, "node_of agrees with node_size");
  const char* k = std::getenv("SHMARRAY_MPI_RANKS_PER_NODE");
  const bool split = k && std::atoi(k) > 0 && std::atoi(k) < l.size() && l.node_count() > 1;
  if (k) check(l.subdivided() == split, layout_area, "subdivided() under emulated nodes");

  // The emulation is faithful: fake hosts are separate machines (own hostname, own /dev/shm: a
  // segment made on rank 0's node cannot be seen, let alone attached, from another); emulated
  // nodes are one machine (one hostname, one /dev/shm), kept apart by the layout alone, which the
  // mapping checks below then prove.
  char host[MPI_MAX_PROCESSOR_NAME] = {};
  int host_len = 0;
  MPI_Get_processor_name(host, &host_len);
  std::vector<char> hosts(static_cast<std::size_t>(l.size()) * MPI_MAX_PROCESSOR_NAME);
  MPI_Allgather(host, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, hosts.data(), MPI_MAX_PROCESSOR_NAME,
                MPI_CHAR, MPI_COMM_WORLD);
  shmarray::shared_array<double> probe;
  const std::string probe_name = job_name("probe");
  if (l.rank() == 0) {
    shmarray::create_options c;
    c.name = probe_name;
    probe = shmarray::shared_array<double>::allocate({1}, c);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const bool same_machine_as_0 = l.node_of(0) == l.node_index() || l.subdivided();
  check(exists_in_dev_shm(probe_name) == same_machine_as_0, layout_area,
        "rank 0's segment is " + std::string(same_machine_as_0 ? "not " : "") +
            "in this rank's /dev/shm");
  if (!same_machine_as_0)
    check(local_error_of([&] { (void)shmarray::shared_array<double>::attach(probe_name); }) ==
              errc::not_found,
          layout_area, "attaching rank 0's segment from another fake host fails with not_found");
  for (int r = 0; r < l.size(); ++r) {
    const bool same_host =
        std::strncmp(host, &hosts[static_cast<std::size_t>(r) * MPI_MAX_PROCESSOR_NAME],
                     MPI_MAX_PROCESSOR_NAME) == 0;
    const bool same_machine = l.node_of(r) == l.node_index() || l.subdivided();
    check(same_host == same_machine, layout_area,
          "rank " + std::to_string(r) + " runs on host '" +
              &hosts[static_cast<std::size_t>(r) * MPI_MAX_PROCESSOR_NAME] + "', this rank on '" +
              host + "'");
  }
  MPI_Barrier(MPI_COMM_WORLD);
  probe.close();

  // block(): consecutive, covering, balanced.
  for (std::size_t n : {0u, 1u, 7u, 64u, 1001u})
    for (std::size_t parts : {1u, 2u, 3u, 4u, 7u}) {
      std::size_t next = 0, lo = SIZE_MAX, hi = 0;
      for (std::size_t p = 0; p < parts; ++p) {
        auto b = shmarray::mpi::block(n, parts, p);
        check(b.begin == next && b.end >= b.begin, layout_area, "block() is consecutive");
        next = b.end;
        lo = std::min(lo, b.size());
        hi = std::max(hi, b.size());
      }
      check(next == n && hi - lo <= 1, layout_area, "block() covers [0, n) evenly");
    }
  // The broadcast's pieces: never above INT_MAX, so counts of 2^31 elements and more work.
  using shmarray::detail::bcast_piece;
  constexpr std::size_t gib = std::size_t{1} << 30;
  check(bcast_piece(std::size_t{1} << 34, 0) == static_cast<int>(gib), broadcast, "default piece");
  check(bcast_piece(std::size_t{1} << 34, SIZE_MAX) == INT_MAX, broadcast, "piece <= INT_MAX");
  check(bcast_piece(5, 4099) == 5 && bcast_piece(9000, 4099) == 4099, broadcast, "small pieces");
  std::size_t left = (std::size_t{1} << 31) + 5, pieces = 0;  // 2^31 + 5 bytes in INT_MAX pieces
  while (left > 0) {
    left -= static_cast<std::size_t>(bcast_piece(left, SIZE_MAX));
    ++pieces;
  }
  check(pieces == 2, broadcast, "2^31 + 5 bytes take 2 pieces");
}

// ---- what the mutants must fail: sharing, mapping, broadcast, memory ----------------------------

/// `ref` is the true layout; `arrays` the one the arrays are made on (the same, unless a mutant).
void check_core(const node_layout& ref, const node_layout& arrays, bool skip_bcast) {
  const std::size_t rows = 256, cols = 1031;  // 2 MiB of doubles, rows that straddle pages
  auto a = node_shared_array<double>::allocate(arrays, {rows, cols});
  auto v = a.view<2>();
  check(v.extent(0) == rows && v.extent(1) == cols, views, "extents");

  // Each rank writes its share of rows of its node's copy; then every rank must find its whole
  // copy written by its own node's ranks: theirs are visible, no other node's are.
  const auto mine = ref.node_block(rows);
  for (std::size_t i = mine.begin; i < mine.end; ++i)
    for (std::size_t j = 0; j < cols; ++j) v(i, j) = code(ref.node_index() + 1, i * cols + j);
  shmarray::detail::fenced_barrier(MPI_COMM_WORLD);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j)
      wrong += v(i, j) != code(ref.node_index() + 1, i * cols + j);
  check(wrong == 0, sharing,
        std::to_string(wrong) + " elements of my node's copy were not written by my node's ranks");
  MPI_Barrier(MPI_COMM_WORLD);

  // One file per node: (device, inode) shared by the ranks of a node, by nobody else.
  const mapping_info m = mapping_of(a.data());
  check(m.path == "/dev/shm/" + a.name(), mapping, "mapped from " + m.path);
  unsigned long id[2] = {m.inode, std::hash<std::string>{}(m.dev)};
  std::vector<unsigned long> all(2 * static_cast<std::size_t>(ref.size()));
  MPI_Allgather(id, 2, MPI_UNSIGNED_LONG, all.data(), 2, MPI_UNSIGNED_LONG, MPI_COMM_WORLD);
  for (int r = 0; r < ref.size(); ++r) {
    const bool same_file = all[2 * static_cast<std::size_t>(r)] == id[0] &&
                           all[2 * static_cast<std::size_t>(r) + 1] == id[1];
    check(same_file == (ref.node_of(r) == ref.node_index()), mapping,
          "rank " + std::to_string(r) + (same_file ? " maps" : " does not map") + " my file");
  }

  // broadcast_from every root, with the default pieces and with odd 4099-byte ones.
  for (std::size_t chunk : {std::size_t{0}, std::size_t{4099}}) {
    node_options o;
    o.bcast_chunk = chunk;
    auto b = node_shared_array<double>::allocate(arrays, {rows, cols}, o);
    auto w = b.view<2>();
    for (int root = 0; root < ref.size(); ++root) {
      if (ref.rank() == root)
        for (std::size_t i = 0; i < rows; ++i)
          for (std::size_t j = 0; j < cols; ++j) w(i, j) = code(100 + root, i * cols + j);
      if (skip_bcast)
        b.node_barrier();  // the mutant: as if the leaders' MPI_Bcast were left out
      else
        b.broadcast_from(root);
      std::size_t bad = 0;
      for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j) bad += w(i, j) != code(100 + root, i * cols + j);
      check(bad == 0, broadcast,
            "root " + std::to_string(root) + ", chunk " + std::to_string(chunk) + ": " +
                std::to_string(bad) + " elements differ from the root's");
      MPI_Barrier(MPI_COMM_WORLD);  // nobody writes the next root's data while others still read
    }
  }

  // Same physical pages: every rank has read every page of its node's copy, so each holds
  // 1/node_size of it (Pss) -- one copy per node. (The header and trailer pages: 2 pages slack.)
  MPI_Barrier(MPI_COMM_WORLD);
  const mapping_info after = mapping_of(a.data());
  MPI_Barrier(MPI_COMM_WORLD);  // nobody unmaps its copy before every rank has measured
  const long expect = after.rss_kb / ref.node_size();
  check(after.rss_kb >= static_cast<long>(rows * cols * 8 / 1024) &&
            std::labs(after.pss_kb - expect) <= 8 + expect / 50,
        memory,
        "Pss " + std::to_string(after.pss_kb) + " kB of Rss " + std::to_string(after.rss_kb) +
            " kB, expected Rss / " + std::to_string(ref.node_size()));
}

// ---- views, shapes, names, errors, NumPy ------------------------------------------------------

void check_views(const node_layout& l) {
  // A Fortran-order 3-D array written by the last rank through layout_left, read everywhere
  // through layout_left and layout_stride; the elements sit at the same offsets on every rank.
  node_options o;
  o.create.fortran_order = true;
  auto a = node_shared_array<int>::allocate(l, {5, 7, 11}, o);
  const int root = l.size() - 1;
  auto f = a.view<3, shmarray::layout_left>();
  auto idx = [](std::size_t i, std::size_t j, std::size_t k) {
    return static_cast<int>(i * 10000 + j * 100 + k);
  };
  if (l.rank() == root)
    for (std::size_t i = 0; i < 5; ++i)
      for (std::size_t j = 0; j < 7; ++j)
        for (std::size_t k = 0; k < 11; ++k) f(i, j, k) = idx(i, j, k);
  a.broadcast_from(root);
  auto s = a.view<3, shmarray::layout_stride>();
  std::size_t bad = 0;
  for (std::size_t i = 0; i < 5; ++i)
    for (std::size_t j = 0; j < 7; ++j)
      for (std::size_t k = 0; k < 11; ++k)
        bad += f(i, j, k) != idx(i, j, k) || s(i, j, k) != idx(i, j, k);
  check(bad == 0, views, std::to_string(bad) + " elements differ through the views");
  long off[2] = {&f(4, 6, 10) - a.data(), &s(1, 2, 3) - a.data()}, lo[2], hi[2];
  MPI_Allreduce(off, lo, 2, MPI_LONG, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(off, hi, 2, MPI_LONG, MPI_MAX, MPI_COMM_WORLD);
  check(lo[0] == hi[0] && lo[1] == hi[1] && off[0] == 4 + 5 * (6 + 7 * 10) &&
            off[1] == 1 + 5 * (2 + 7 * 3),
        views, "element offsets agree with the root's (Fortran order)");
  check(local_error_of([&] { (void)a.view<3>(); }) == errc::layout_mismatch, views,
        "a C-order view of a Fortran array is refused");

  // Empty and 0-d arrays.
  auto e = node_shared_array<double>::allocate(l, {0, 8});
  e.broadcast_from(0);
  check(e.size() == 0 && e.shape() == shape_type{0, 8}, views, "an empty array");
  auto z = node_shared_array<double>::allocate(l, {});
  if (l.rank() == root) *z.data() = 2.5;
  z.broadcast_from(root);
  check(z.size() == 1 && *z.data() == 2.5, views, "a 0-d array");
}

void check_errors(const node_layout& l) {
  const bool last = l.rank() == l.size() - 1;
  throws_everywhere(errc::invalid_argument, "a shape that differs on the last rank", [&] {
    (void)node_shared_array<double>::allocate(l, {4, last ? 9u : 8u});
  });
  throws_everywhere(errc::invalid_argument, "a rank that differs on the last rank", [&] {
    (void)node_shared_array<double>::allocate(l, last ? shape_type{32} : shape_type{4, 8});
  });
  throws_everywhere(errc::invalid_argument, "a shape that overflows size_t", [&] {
    (void)node_shared_array<double>::allocate(l, {std::size_t{1} << 62, 8});
  });
  throws_everywhere(errc::invalid_argument, "33 dimensions",
                    [&] { (void)node_shared_array<double>::allocate(l, shape_type(33, 1)); });
  node_options bad_name;
  bad_name.create.name = std::string(300, 'n');  // refused by the leaders' allocate
  throws_everywhere(errc::invalid_argument, "a name that is too long",
                    [&] { (void)node_shared_array<double>::allocate(l, {4}, bad_name); });

  // A failure on one node only: node 0's name is taken, so its leader fails and the others
  // succeed; every rank must throw already_exists and the other nodes' segments must be gone.
  node_options taken;
  taken.create.name = job_name("taken");
  const std::string on_node0 = taken.create.name + (l.subdivided() ? ".node0" : "");
  shmarray::shared_array<double> squatter;
  if (l.rank() == 0) {
    shmarray::create_options c;
    c.name = on_node0;
    squatter = shmarray::shared_array<double>::allocate({1}, c);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  throws_everywhere(errc::already_exists, "a name taken on node 0",
                    [&] { (void)node_shared_array<double>::allocate(l, {1000}, taken); });
  const std::string mine =
      taken.create.name + (l.subdivided() ? ".node" + std::to_string(l.node_index()) : "");
  if (l.is_leader() && l.node_index() != 0)
    check(!exists_in_dev_shm(mine), errors, mine + " was left behind after the failure");
  MPI_Barrier(MPI_COMM_WORLD);
  squatter.close();

  auto a = node_shared_array<double>::allocate(l, {3});
  throws_everywhere(errc::invalid_argument, "different roots",
                    [&] { a.broadcast_from(l.rank() == 0 ? 1 : 0); });
  throws_everywhere(errc::invalid_argument, "a root outside the communicator",
                    [&] { a.broadcast_from(l.size()); });
  a.close();
  throws_everywhere(errc::closed, "broadcast_from after close", [&] { a.broadcast_from(0); });
}

void check_names_and_interop(const node_layout& l) {
  // A given name, with the caller's manager on the leaders: the name is per node; close()
  // removes it at once although the manager lives on.
  shmarray::manager mgr;
  node_options o;
  o.create.name = job_name("given");
  o.mgr = &mgr;
  auto a = node_shared_array<double>::allocate(l, {64, 64}, o);
  const std::string want =
      o.create.name + (l.subdivided() ? ".node" + std::to_string(l.node_index()) : "");
  check(a.name() == want, interop, "name " + a.name() + ", expected " + want);
  check((a.segment_manager() == &mgr) == l.is_leader(), interop, "segment_manager()");
  check(exists_in_dev_shm(want), interop, want + " is in /dev/shm");
  auto v = a.view<2>();
  if (l.rank() == 0) v(3, 5) = 42.25;
  a.broadcast_from(0);

  // NumPy opens the node's copy by name (np.load of the .npy-formatted segment).
  if (l.rank() == 0) {
    const std::string cmd = "/usr/bin/python3 -c \"import numpy as np; a = np.load('/dev/shm/" +
                            a.name() +
                            "', mmap_mode='r'); print(a.dtype, a.shape, a[3, 5])\" 2>/dev/null";
    char line[256] = {};
    FILE* p = ::popen(cmd.c_str(), "r");
    const bool got = p && std::fgets(line, sizeof line, p);
    const int rc = p ? ::pclose(p) : -1;
    if (got && rc == 0)
      check(std::string(line) == "float64 (64, 64) 42.25\n", interop,
            "numpy read: " + std::string(line));
    else
      std::printf("  numpy: not available, np.load check skipped\n");
  }
  MPI_Barrier(MPI_COMM_WORLD);
  a.close();
  if (l.is_leader()) check(!exists_in_dev_shm(want), interop, want + " is gone after close()");
  MPI_Barrier(MPI_COMM_WORLD);
}

// ---- the failure modes ------------------------------------------------------------------------

int run_nospace(const node_layout& l, std::size_t mib) {
  node_options o;
  o.create.name = job_name("nospace");
  throws_everywhere(errc::no_space, std::to_string(mib) + " MiB on a node with less",
                    [&] { (void)node_shared_array<unsigned char>::allocate(l, {mib << 20}, o); });
  check(!exists_in_dev_shm(o.create.name), errors,
        "a segment is left on node " + std::to_string(l.node_index()));
  auto small = node_shared_array<double>::allocate(l, {16});  // the job goes on
  if (l.rank() == 0) small.data()[15] = 7;
  small.broadcast_from(0);
  check(small.data()[15] == 7, broadcast, "a small array after the failure");
  return 0;
}

[[noreturn]] void run_crash(const node_layout& l, int victim, bool cleanup) {
  node_options o;
  o.crash_cleanup = cleanup;
  auto a = node_shared_array<double>::allocate(l, {1024, 1024}, o);
  if (l.rank() == 0) a.view<2>()(1, 1) = 1;
  a.broadcast_from(0);
  if (l.is_leader()) {
    const long tracker = a.segment_manager() ? a.segment_manager()->tracker_pid() : 0;
    std::printf("segment %s tracker %ld\n", a.name().c_str(), tracker);
    if (!exists_in_dev_shm(a.name()) || (tracker > 0) != cleanup)
      std::printf("FAIL: no segment, or a tracker where none was asked for (or the reverse)\n");
    std::fflush(stdout);
  }
  MPI_Barrier(MPI_COMM_WORLD);  // every segment is announced before anyone dies
  if (l.rank() == victim) ::raise(SIGKILL);
  MPI_Barrier(MPI_COMM_WORLD);  // never completes: mpirun ends the job
  std::printf("FAIL: the job survived the kill\n");
  std::exit(1);
}

void run_big(const node_layout& l) {
  const std::size_t n = (std::size_t{9} << 30) / 4;  // 2.25 GiB: more than INT_MAX bytes
  auto a = node_shared_array<unsigned char>::allocate(l, {n});
  auto byte = [](std::size_t i) { return static_cast<unsigned char>(i * 7 + 3); };
  if (l.rank() == 0)
    for (std::size_t i = 0; i < n; ++i) a.data()[i] = byte(i);
  const double t = MPI_Wtime();
  a.broadcast_from(0);
  std::size_t bad = 0;
  for (std::size_t i = 0; i < n; i += 4093) bad += a.data()[i] != byte(i);
  bad += a.data()[n - 1] != byte(n - 1);
  check(bad == 0, broadcast, "the 2.25 GiB broadcast");
  if (l.rank() == 0) std::printf("  big: 2.25 GiB broadcast in %.2f s\n", MPI_Wtime() - t);
}

int report(const node_layout& l, const char* mutant) {
  int total[areas] = {}, all_checks = 0;
  MPI_Allreduce(failures, total, areas, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  MPI_Allreduce(&checks, &all_checks, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  int failed = 0;
  std::string by;
  for (int a = 0; a < areas; ++a)
    if (total[a]) {
      failed += total[a];
      by += std::string(by.empty() ? "" : ", ") + area_names[a] + " " + std::to_string(total[a]);
    }
  const bool ok = mutant ? failed > 0 : failed == 0;
  if (l.rank() == 0) {
    std::printf("%d nodes (%s), %d ranks: %d checks, %d failed%s%s\n", l.node_count(),
                l.subdivided() ? "emulated" : "real", l.size(), all_checks, failed,
                by.empty() ? "" : ": ", by.c_str());
    if (mutant)
      std::printf("%s: the mutant '%s' was %s\n", ok ? "OK" : "FAIL", mutant,
                  ok ? "caught" : "NOT caught");
    else
      std::printf("%s\n", ok ? "OK: every check passed" : "FAIL");
  }
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  const std::string mode = argc > 1 ? argv[1] : "";
  const char* arg = argc > 2 ? argv[2] : "";
  int rc = 0;
  {
    node_layout l(MPI_COMM_WORLD);
    if (mode == "--mutant") {
      if (std::strcmp(arg, "one-node") == 0) {
        // The whole job as one node. On fake hosts the layout itself refuses it (the group spans
        // machines); on one machine the sharing and mapping checks must catch it.
        try {
          node_layout whole(MPI_COMM_WORLD, MPI_COMM_WORLD);
          check_core(l, whole, false);
        } catch (const shmarray::error& e) {
          check(false, layout_area, std::string("refused: ") + e.what());
        }
      } else if (std::strcmp(arg, "layout") == 0) {
        check_layout(l);
      } else {
        check_core(l, l, true);
      }
      rc = report(l, arg);
    } else if (mode == "--nospace") {
      run_nospace(l, std::strtoul(arg, nullptr, 10));
      rc = report(l, nullptr);
    } else if (mode == "--crash" || mode == "--crash-no-cleanup") {
      run_crash(l, std::atoi(arg), mode == "--crash");
    } else if (mode == "--big") {
      run_big(l);
      rc = report(l, nullptr);
    } else {
      check_layout(l);
      check_core(l, l, false);
      check_views(l);
      check_errors(l);
      check_names_and_interop(l);
      rc = report(l, nullptr);
    }
  }
  MPI_Finalize();
  return rc;
}
