// compare: one array handed to N worker processes through shmarray and through pipes, side by
// side, plus the plain C sequence and (when /usr/bin/python3 has NumPy) Python's
// multiprocessing.shared_memory for copy and attach. Workers are this program re-executed
// (/proc/self/exe --worker), so their memory is their own: each sums the array, reports, and waits
// on a pipe while the parent reads its RssAnon (/proc/<pid>/status) and Pss (smaps_rollup).
//
//   compare [out.csv] [--sizes=8M,64M,256M] [--workers=2] [--reps=5] [--python=auto|off]
//   [--goals-only]
//
// Sizes take K, M or G (MiB without a suffix). Prints a table of ratios; writes CSV (compare.csv).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <shmarray/shmarray.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using clk = std::chrono::steady_clock;

double since(clk::time_point t0) {
  return std::chrono::duration<double>(clk::now() - t0).count();
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "compare: %s%s%s\n", what.c_str(), errno ? ": " : "",
               errno ? std::strerror(errno) : "");
  std::exit(2);
}

void write_all(int fd, const void* p, std::size_t n) {
  const auto* b = static_cast<const char*>(p);
  while (n) {
    ssize_t w = ::write(fd, b, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) die("write");
    b += w;
    n -= static_cast<std::size_t>(w);
  }
}

/// Reads exactly n bytes; false at end of file before any byte.
bool read_all(int fd, void* p, std::size_t n) {
  auto* b = static_cast<char*>(p);
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, b + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) die("read");
    if (r == 0) {
      if (got == 0) return false;
      die("read: unexpected end of file");
    }
    got += static_cast<std::size_t>(r);
  }
  return true;
}

// ---- the worker (this program with --worker <cmd fd> <result fd>) ---------------------------

struct command {
  std::uint32_t kind;  // 1 = attach the segment `name`; 2 = `count` doubles follow on the pipe;
                       // 3 = attach `name` and time two passes over it
  std::uint32_t pad;
  std::uint64_t count;  // elements
  char name[64];
};
struct result {
  double sum;
  std::int32_t ok;
  std::int32_t pad;
  double pass1_s, pass2_s;  // kind 3
};

double sum_of(const double* p, std::size_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += p[i];
    s1 += p[i + 1];
    s2 += p[i + 2];
    s3 += p[i + 3];
  }
  for (; i < n; ++i) s0 += p[i];
  return (s0 + s1) + (s2 + s3);
}

int worker_main(int cmd, int res) {
  command c{};
  if (!read_all(cmd, &c, sizeof c)) return 0;
  result r{0, 1, 0, 0, 0};
  shmarray::shared_array<const double> a;
  std::vector<double> own;
  try {
    if (c.kind == 1) {
      a = shmarray::shared_array<const double>::attach(c.name);
      r.sum = sum_of(a.data(), a.size());
    } else if (c.kind == 3) {
      a = shmarray::shared_array<const double>::attach(c.name);
      auto t0 = clk::now();
      r.sum = sum_of(a.data(), a.size());
      r.pass1_s = since(t0);
      t0 = clk::now();
      const double again = sum_of(a.data(), a.size());
      r.pass2_s = since(t0);
      if (again != r.sum) r.ok = 0;
    } else {
      own.resize(c.count);
      read_all(cmd, own.data(), c.count * sizeof(double));
      r.sum = sum_of(own.data(), own.size());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "compare worker: %s\n", e.what());
    r.ok = 0;
  }
  write_all(res, &r, sizeof r);
  // The barrier: hold the memory until the parent has measured it and closes the pipe.
  char b;
  while (::read(cmd, &b, 1) > 0) {
  }
  return 0;
}

// ---- the parent's side of a worker ---------------------------------------------------------

struct worker {
  pid_t pid = -1;
  int cmd = -1;  // parent writes
  int res = -1;  // parent reads
};

worker spawn_worker() {
  int c[2], r[2];
  if (::pipe2(c, O_CLOEXEC) != 0 || ::pipe2(r, O_CLOEXEC) != 0) die("pipe2");
  ::fcntl(c[1], F_SETPIPE_SZ, 1 << 20);  // the largest unprivileged pipe: fair to pipes
  pid_t pid = ::fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    ::fcntl(c[0], F_SETFD, 0);
    ::fcntl(r[1], F_SETFD, 0);
    std::string a = std::to_string(c[0]), b = std::to_string(r[1]);
    const char* argv[] = {"compare", "--worker", a.c_str(), b.c_str(), nullptr};
    ::execv("/proc/self/exe", const_cast<char* const*>(argv));
    ::_exit(127);
  }
  ::close(c[0]);
  ::close(r[1]);
  return {pid, c[1], r[0]};
}

long proc_kib(pid_t pid, const char* file, const char* key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + file);
  std::string line;
  const std::size_t klen = std::strlen(key);
  while (std::getline(in, line))
    if (line.compare(0, klen, key) == 0) return std::strtol(line.c_str() + klen, nullptr, 10);
  return -1;
}

struct share_result {
  double wall_s = 0;
  long rss_anon_kib = 0;  // sum over workers
  long pss_kib = 0;       // sum over workers
};

/// Hands `src` to n fresh workers, through shmarray (use_shm) or a pipe each; times until every
/// worker has summed it, then reads the workers' memory while they wait.
share_result share(const std::vector<double>& src, unsigned n, bool use_shm, double expect) {
  std::vector<worker> ws;
  for (unsigned i = 0; i < n; ++i) ws.push_back(spawn_worker());
  share_result out;
  shmarray::shared_array<double> arr;
  auto t0 = clk::now();
  if (use_shm) {
    arr = shmarray::shared_array<double>::copy(src);
    command c{};
    c.kind = 1;
    c.count = src.size();
    std::snprintf(c.name, sizeof c.name, "%s", arr.name().c_str());
    for (auto& w : ws) write_all(w.cmd, &c, sizeof c);
  } else {
    std::vector<std::thread> senders;
    for (auto& w : ws)
      senders.emplace_back([&src, fd = w.cmd] {
        command c{};
        c.kind = 2;
        c.count = src.size();
        write_all(fd, &c, sizeof c);
        write_all(fd, src.data(), src.size() * sizeof(double));
      });
    for (auto& t : senders) t.join();
  }
  bool ok = true;
  for (auto& w : ws) {
    result r{};
    if (!read_all(w.res, &r, sizeof r)) die("a worker died");
    ok = ok && r.ok && r.sum == expect;
  }
  out.wall_s = since(t0);
  for (auto& w : ws) {
    out.rss_anon_kib += proc_kib(w.pid, "status", "RssAnon:");
    out.pss_kib += proc_kib(w.pid, "smaps_rollup", "Pss:");
  }
  for (auto& w : ws) {
    ::close(w.cmd);  // releases the worker from the barrier
    ::close(w.res);
    int status = 0;
    ::waitpid(w.pid, &status, 0);
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  if (!ok)
    die(std::string("a worker got a wrong sum or failed (") + (use_shm ? "shm" : "pipe") + ")");
  return out;
}

// ---- copy and attach, C++ side -------------------------------------------------------------

double raw_copy_s(const std::vector<double>& src) {
  const std::size_t n = src.size() * sizeof(double);
  std::string name = "/shmarray-compare-" + std::to_string(::getpid());
  auto t0 = clk::now();
  int fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0) die("shm_open");
  if (::ftruncate(fd, static_cast<off_t>(n)) != 0) die("ftruncate");
  void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) die("mmap");
  std::memcpy(p, src.data(), n);
  double t = since(t0);
  ::munmap(p, n);
  ::shm_unlink(name.c_str());
  return t;
}

double shm_copy_s(const std::vector<double>& src) {
  auto t0 = clk::now();
  auto a = shmarray::shared_array<double>::copy(src);
  return since(t0);
}

template <class T>
T median_of(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/// Median attach time (shmarray, or shm_open+fstat+mmap) over `k` attaches of one segment.
double attach_s(const std::string& name, bool raw, int k) {
  std::vector<double> t;
  for (int i = 0; i < k; ++i) {
    auto t0 = clk::now();
    if (raw) {
      std::string p = "/" + name;
      int fd = ::shm_open(p.c_str(), O_RDWR, 0);
      struct stat sb {};
      ::fstat(fd, &sb);
      void* m = ::mmap(nullptr, static_cast<std::size_t>(sb.st_size), PROT_READ | PROT_WRITE,
                       MAP_SHARED, fd, 0);
      ::close(fd);
      t.push_back(since(t0));
      ::munmap(m, static_cast<std::size_t>(sb.st_size));
    } else {
      auto a = shmarray::shared_array<double>::attach(name);
      t.push_back(since(t0));
    }
  }
  return median_of(t);
}

// ---- the goals of the huge-pages issue, each a ratio within one run -------------------------

/// memcpy into a buffer whose pages are already mapped: what a copy could cost at best. One
/// untimed write per 4 KiB page first re-maps dst writable (after any fork, the workers, its
/// pages are copy-on-write and the first write to each takes a fault) without pulling all of it
/// into the cache, which would make the baseline a cache-to-cache copy at 8 MiB.
double warm_memcpy_s(const std::vector<double>& src, std::vector<double>& dst) {
  auto* d = reinterpret_cast<volatile unsigned char*>(dst.data());
  for (std::size_t off = 0; off < dst.size() * sizeof(double); off += 4096) d[off] = 1;
  auto t0 = clk::now();
  std::memcpy(dst.data(), src.data(), src.size() * sizeof(double));
  double t = since(t0);
  asm volatile("" : : "r"(dst.data()) : "memory");
  return t;
}

/// One repetition of the goal figures at one size, for huge_pages off or prefer.
struct goal_sample {
  double copy_s = 0;                        // shared_array::copy (create + fill + publish)
  double copy_ratio = 0;                    // warm memcpy time / copy_s (median of the pairs)
  double remove_s = 0;                      // close() of that owner: munmap + unlink
  double free_floor_s = 0;                  // munmap of as much private THP memory, just before
  double attach_s = 0;                      // median attach of that segment
  double bare_s = 0;                        // median shm_open+fstat+mmap+close of it
  bool huge = false;                        // whether the segment got huge pages
  double pass_ratio = 0, attach_ratio = 0;  // the readers' median pass1/pass2; attach / bare
  double remove_ratio = 0;                  // summarize(): median of remove_s / free_floor_s
};

double attach_s(const std::string& name, bool raw, int k);

/// Maps, populates and unmaps private memory for n bytes (and 2 MiB more), and returns how long
/// the munmap of the first n bytes took. On this VM the guest hands memory that stayed free for a
/// few seconds back to the host (free page reporting), and the next allocation of it pays a host
/// fault per page: 5-20x the library's own cost (the first 1 GiB creation after an idle pause takes
/// 1-4 s, whatever the route). Touching as much memory just before a timed creation measures the
/// library as it runs back to back, on memory the host backs, like the warm memcpy. The n bytes
/// start on a 2 MiB boundary and are asked for as transparent huge pages, so their munmap is what
/// the kernel takes to free that much memory on huge pages: the floor for removing a huge segment,
/// in the same run.
double back_free_memory(std::size_t n) {
  constexpr std::size_t huge = std::size_t{2} << 20;
  const std::size_t len = n + 3 * huge;
  void* m = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return 0;
  auto* base = static_cast<char*>(m);
  auto* p =
      reinterpret_cast<char*>((reinterpret_cast<std::uintptr_t>(base) + huge - 1) & ~(huge - 1));
  ::madvise(p, n + huge, MADV_HUGEPAGE);
  ::madvise(p, n + huge, 23 /* MADV_POPULATE_WRITE */);
  auto t0 = clk::now();
  ::munmap(p, n);
  const double s = since(t0);
  ::munmap(base, len);  // the rest (munmap of a range partly unmapped is fine)
  return s;
}

goal_sample goal_run(const std::vector<double>& src, std::vector<double>& warm_dst,
                     shmarray::huge_pages hp, double expect, int attaches, bool cold) {
  goal_sample g;
  const std::size_t bytes = src.size() * sizeof(double);
  shmarray::create_options o;
  o.huge_pages = hp;
  // Each copy is paired with a warm memcpy under the same conditions (each after freshly backed
  // memory was written, which also leaves the CPU cache alike), and the figure is the median of
  // the pairs' ratios. A copy of 8 MiB takes ~1.5 ms, as short as the VM's hiccups: below 64 MiB,
  // seven pairs; the last copy is the segment read below.
  const int copies = bytes < (std::size_t{64} << 20) ? 7 : 1;
  std::vector<double> ct, cr;
  shmarray::shared_array<double> a;
  for (int k = 0; k < copies; ++k) {
    a.close();
    if (!cold) back_free_memory(bytes);
    const double warm = warm_memcpy_s(src, warm_dst);
    if (!cold) g.free_floor_s = back_free_memory(bytes);
    auto t0 = clk::now();
    a = shmarray::shared_array<double>::copy(src, o);
    ct.push_back(since(t0));
    cr.push_back(warm / ct.back());
  }
  g.copy_s = median_of(ct);
  g.copy_ratio = median_of(cr);
  g.huge = a.huge_page_bytes() > 0;
  // The readers: fresh processes that never touched the segment, started one after another after
  // the timed copy, so their start-up (exec, dynamic loading) does not compete with it for the two
  // cores. A pass over 1 GiB takes ~40 ms, within reach of the VM's hiccups (single ratios
  // range 0.82-0.99 at 1 GiB): five readers per repetition, and the median of their ratios.
  constexpr int readers = 5;
  std::vector<double> ratio;
  for (int k = 0; k < readers; ++k) {
    worker w = spawn_worker();
    command c{};
    c.kind = 3;
    c.count = src.size();
    std::snprintf(c.name, sizeof c.name, "%s", a.name().c_str());
    write_all(w.cmd, &c, sizeof c);
    result r{};
    if (!read_all(w.res, &r, sizeof r) || !r.ok || r.sum != expect) die("a reader failed");
    ::close(w.cmd);
    ::close(w.res);
    ::waitpid(w.pid, nullptr, 0);
    ratio.push_back(r.pass1_s / r.pass2_s);
  }
  g.pass_ratio = median_of(ratio);
  // attach and bare alternate in rounds, so drift hits both alike
  std::vector<double> at, bt;
  for (int round = 0; round < 5; ++round) {
    at.push_back(attach_s(a.name(), false, attaches / 5 + 1));
    bt.push_back(attach_s(a.name(), true, attaches / 5 + 1));
  }
  g.attach_s = median_of(at);
  g.bare_s = median_of(bt);
  auto t0 = clk::now();
  a.close();
  g.remove_s = since(t0);
  return g;
}

// ---- Python: multiprocessing.shared_memory + NumPy ------------------------------------------

const char* python_script = R"PY(
import json, sys, time
import numpy as np
from multiprocessing import shared_memory
sizes = [int(x) for x in sys.argv[1].split(",")]
reps, attaches = int(sys.argv[2]), int(sys.argv[3])
def median(v):
    v = sorted(v)
    return v[len(v) // 2]
for n in sizes:
    src = np.arange(n // 8, dtype=np.float64)
    copy_t, attach_t = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        shm = shared_memory.SharedMemory(create=True, size=n)
        a = np.ndarray(src.shape, dtype=src.dtype, buffer=shm.buf)
        a[:] = src
        copy_t.append(time.perf_counter() - t0)
        for _ in range(attaches):
            t0 = time.perf_counter()
            other = shared_memory.SharedMemory(name=shm.name)
            b = np.ndarray(src.shape, dtype=src.dtype, buffer=other.buf)
            attach_t.append(time.perf_counter() - t0)
            del b
            other.close()  # (Python < 3.13 registers attachers with the resource tracker too:
            # a set, so the creator's unlink below unregisters the name once for both)
        del a
        shm.close()
        shm.unlink()
    print(json.dumps({"bytes": n, "copy_s": median(copy_t), "attach_s": median(attach_t)}))
    sys.stdout.flush()
)PY";

bool python_has_numpy() {
  return std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

double json_number(const std::string& line, const std::string& key) {
  auto at = line.find("\"" + key + "\":");
  if (at == std::string::npos) return NAN;
  return std::strtod(line.c_str() + at + key.size() + 3, nullptr);
}

/// Runs the embedded script; returns {copy_s, attach_s} per size (NaN when Python failed).
std::vector<std::pair<double, double>> run_python(const std::vector<std::size_t>& sizes, int reps,
                                                  int attaches) {
  std::vector<std::pair<double, double>> out(sizes.size(), {NAN, NAN});
  char path[] = "/tmp/shmarray-compare-XXXXXX.py";
  int fd = ::mkstemps(path, 3);
  if (fd < 0) return out;
  write_all(fd, python_script, std::strlen(python_script));
  ::close(fd);
  std::string list;
  for (auto s : sizes) list += (list.empty() ? "" : ",") + std::to_string(s);
  std::string cmd = std::string("/usr/bin/python3 ") + path + " " + list + " " +
                    std::to_string(reps) + " " + std::to_string(attaches);
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) {
      std::string line(buf);
      auto n = static_cast<std::size_t>(json_number(line, "bytes"));
      for (std::size_t i = 0; i < sizes.size(); ++i)
        if (sizes[i] == n) out[i] = {json_number(line, "copy_s"), json_number(line, "attach_s")};
    }
    ::pclose(p);
  }
  ::unlink(path);
  return out;
}

// ---- main -----------------------------------------------------------------------------------

std::size_t parse_size(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  std::size_t mult = std::size_t{1} << 20;
  if (end && *end) {
    switch (*end) {
      case 'K':
      case 'k': mult = std::size_t{1} << 10; break;
      case 'M':
      case 'm': mult = std::size_t{1} << 20; break;
      case 'G':
      case 'g': mult = std::size_t{1} << 30; break;
      default: throw std::invalid_argument("bad size: " + s);
    }
  }
  auto bytes = static_cast<std::size_t>(v * static_cast<double>(mult));
  return bytes / sizeof(double) * sizeof(double);
}

std::string label(std::size_t b) {
  char buf[32];
  if (b >= (std::size_t{1} << 30) && b % (std::size_t{1} << 30) == 0)
    std::snprintf(buf, sizeof buf, "%zuGiB", b >> 30);
  else if (b >= (std::size_t{1} << 20))
    std::snprintf(buf, sizeof buf, "%zuMiB", b >> 20);
  else
    std::snprintf(buf, sizeof buf, "%zuKiB", b >> 10);
  return buf;
}

/// The medians of goal samples, field by field (and whether every repetition got huge pages).
goal_sample summarize(const std::vector<goal_sample>& v) {
  auto med = [&v](double goal_sample::*f) {
    std::vector<double> x;
    for (const auto& g : v) x.push_back(g.*f);
    return median_of(x);
  };
  goal_sample m;
  m.copy_s = med(&goal_sample::copy_s);
  m.remove_s = med(&goal_sample::remove_s);
  m.free_floor_s = med(&goal_sample::free_floor_s);
  m.attach_s = med(&goal_sample::attach_s);
  m.bare_s = med(&goal_sample::bare_s);
  m.huge = std::all_of(v.begin(), v.end(), [](const goal_sample& g) { return g.huge; });
  // ratios of medians would mix repetitions: take the median of the per-repetition ratios
  std::vector<double> p, a, f;
  for (const auto& g : v) {
    p.push_back(g.pass_ratio);
    a.push_back(g.attach_s / g.bare_s);
    f.push_back(g.free_floor_s > 0 ? g.remove_s / g.free_floor_s : std::nan(""));
  }
  m.pass_ratio = median_of(p);
  m.copy_ratio = med(&goal_sample::copy_ratio);
  m.attach_ratio = median_of(a);
  m.remove_ratio = median_of(f);
  return m;
}

struct goal_row {
  std::size_t bytes;
  double warm_s;
  goal_sample off, on;
};

/// Prints the goals table: one column per size, ratios of the same run.
void print_goals(const std::vector<goal_row>& rows, int reps) {
  std::printf(
      "\nGoals (medians of %d repetitions, each a ratio within one run; huge = "
      "huge_pages::prefer, off = huge_pages::off)\n",
      reps);
  std::printf("%-44s", "");
  for (const auto& r : rows) std::printf(" %9s", label(r.bytes).c_str());
  std::printf("   goal\n");
  auto line = [&rows](const char* what, const char* goal, auto f) {
    std::printf("%-44s", what);
    for (const auto& r : rows) std::printf(" %9.3f", f(r));
    std::printf("   %s\n", goal);
  };
  line("copy speed / warm memcpy, off", "", [](const goal_row& r) { return r.off.copy_ratio; });
  line("copy speed / warm memcpy, huge", ">= 0.6 (8 MiB), >= 0.45 (>= 256 MiB)",
       [](const goal_row& r) { return r.on.copy_ratio; });
  line("fresh reader 1st pass speed / 2nd, off", "",
       [](const goal_row& r) { return 1 / r.off.pass_ratio; });
  line("fresh reader 1st pass speed / 2nd, huge", ">= 0.95",
       [](const goal_row& r) { return 1 / r.on.pass_ratio; });
  line("remove the segment (close), ms, off", "",
       [](const goal_row& r) { return r.off.remove_s * 1e3; });
  line("remove the segment (close), ms, huge", "<= 3 ms (1 GiB)",
       [](const goal_row& r) { return r.on.remove_s * 1e3; });
  line("  freeing as much private THP memory, ms", "(the kernel's floor, same run)",
       [](const goal_row& r) { return r.on.free_floor_s * 1e3; });
  line("  remove, huge / that floor", "", [](const goal_row& r) { return r.on.remove_ratio; });
  line("attach / bare shm_open+fstat+mmap+close, off", "<= 1.25",
       [](const goal_row& r) { return r.off.attach_ratio; });
  line("attach / bare shm_open+fstat+mmap+close, huge", "<= 1.25",
       [](const goal_row& r) { return r.on.attach_ratio; });
  line("warm memcpy GB/s (the baseline)", "",
       [](const goal_row& r) { return static_cast<double>(r.bytes) / r.warm_s / 1e9; });
  line("huge pages in every repetition (1 = yes)", "",
       [](const goal_row& r) { return r.on.huge ? 1.0 : 0.0; });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--worker") == 0)
    return worker_main(std::atoi(argv[2]), std::atoi(argv[3]));

  std::string csv = "compare.csv", python = "auto";
  std::vector<std::size_t> sizes;
  unsigned workers = 2;
  int reps = 5;
  bool goals_only = false;
  bool cold = false;  // goals: do not back free memory before each creation (back_free_memory)  //
                      // skip the pipe/shmarray hand-over (its 2 x size of private memory)
  try {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--sizes=", 0) == 0) {
        std::stringstream ss(a.substr(8));
        std::string item;
        while (std::getline(ss, item, ',')) sizes.push_back(parse_size(item));
      } else if (a.rfind("--workers=", 0) == 0) {
        workers = static_cast<unsigned>(std::stoul(a.substr(10)));
      } else if (a.rfind("--reps=", 0) == 0) {
        reps = std::stoi(a.substr(7));
      } else if (a == "--cold") {
        cold = true;
      } else if (a == "--goals-only") {
        goals_only = true;
        python = "off";
      } else if (a.rfind("--python=", 0) == 0) {
        python = a.substr(9);
      } else if (a == "-h" || a == "--help") {
        std::puts(
            "compare [out.csv] [--sizes=8M,64M,256M] [--workers=2] [--reps=5] "
            "[--python=auto|off] [--goals-only] [--cold]");
        return 0;
      } else if (!a.empty() && a[0] != '-') {
        csv = a;
      } else {
        throw std::invalid_argument("unknown argument: " + a);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "compare: %s\n", e.what());
    return 2;
  }
  if (sizes.empty()) sizes = {std::size_t{8} << 20, std::size_t{64} << 20, std::size_t{256} << 20};
  if (workers == 0 || reps <= 0) {
    std::fprintf(stderr, "compare: --workers and --reps must be positive\n");
    return 2;
  }
  const int attaches = 101;

  std::vector<std::pair<double, double>> py(sizes.size(), {NAN, NAN});
  const bool have_py = python != "off" && python_has_numpy();
  if (have_py) py = run_python(sizes, reps, attaches);

  std::vector<goal_row> goals;
  std::FILE* out = std::fopen(csv.c_str(), "w");
  if (!out) die("open " + csv);
  std::fprintf(out,
               "size_bytes,size_mib,workers,shm_wall_ms,pipe_wall_ms,shm_rssanon_kib,"
               "pipe_rssanon_kib,shm_pss_kib,pipe_pss_kib,shm_copy_ms,raw_copy_ms,py_copy_ms,"
               "shm_attach_us,raw_attach_us,py_attach_us,warm_memcpy_ms,copy_off_ms,copy_huge_ms,"
               "pass_ratio_off,pass_ratio_huge,remove_off_ms,remove_huge_ms,attach_ratio_off,"
               "attach_ratio_huge,free_floor_ms\n");
  std::printf("%u workers, %d repetitions (medians); ratios > 1 favour shmarray\n\n", workers,
              reps);
  std::printf("%-8s | %-27s | %-25s | %-23s | %-19s\n", "size", "wall: pipe / shmarray",
              "workers' RssAnon: pipe/shm", "copy: C / py / shmarray", "attach: C / py / shm");
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const std::size_t bytes = sizes[i];
    std::vector<double> src(bytes / sizeof(double));
    for (std::size_t k = 0; k < src.size(); ++k) src[k] = static_cast<double>(k % 1024);
    const double expect = sum_of(src.data(), src.size());
    std::vector<double> sw, pw, sc, rc;
    std::vector<long> sr, pr, sp, pp;
    for (int r = 0; r < reps; ++r) {  // interleaved, so drift hits both alike
      share_result s, p;
      if (!goals_only) {
        s = share(src, workers, true, expect);
        p = share(src, workers, false, expect);
      }
      sw.push_back(s.wall_s);
      pw.push_back(p.wall_s);
      sr.push_back(s.rss_anon_kib);
      pr.push_back(p.rss_anon_kib);
      sp.push_back(s.pss_kib);
      pp.push_back(p.pss_kib);
      sc.push_back(shm_copy_s(src));
      rc.push_back(raw_copy_s(src));
    }
    // The goals: copy ÷ warm memcpy, a fresh reader's first ÷ second pass, removal, attach ÷
    // bare, with huge pages off and on, interleaved per repetition.
    std::vector<double> warm_dst(src.size());
    std::memset(warm_dst.data(), 1, bytes);  // maps its pages
    std::vector<double> wt;
    std::vector<goal_sample> g_off, g_on;
    for (int r = 0; r < reps; ++r) {
      wt.push_back(warm_memcpy_s(src, warm_dst));
      g_off.push_back(goal_run(src, warm_dst, shmarray::huge_pages::off, expect, attaches, cold));
      g_on.push_back(goal_run(src, warm_dst, shmarray::huge_pages::prefer, expect, attaches, cold));
    }
    warm_dst = {};
    goals.push_back(goal_row{bytes, median_of(wt), summarize(g_off), summarize(g_on)});
    double sa, ra;
    {
      auto a = shmarray::shared_array<double>::copy(src);
      sa = attach_s(a.name(), false, attaches);
      ra = attach_s(a.name(), true, attaches);
    }
    const double swm = median_of(sw), pwm = median_of(pw), scm = median_of(sc), rcm = median_of(rc);
    const long srm = median_of(sr), prm = median_of(pr), spm = median_of(sp), ppm = median_of(pp);
    const double pyc = py[i].first, pya = py[i].second;
    const goal_row& gr = goals.back();
    std::fprintf(
        out,
        "%zu,%.3f,%u,%.3f,%.3f,%ld,%ld,%ld,%ld,%.3f,%.3f,%.3f,%.2f,%.2f,%.2f,%.3f,%.3f,%.3f,"
        "%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f\n",
        bytes, static_cast<double>(bytes) / (1 << 20), workers, swm * 1e3, pwm * 1e3, srm, prm, spm,
        ppm, scm * 1e3, rcm * 1e3, pyc * 1e3, sa * 1e6, ra * 1e6, pya * 1e6, gr.warm_s * 1e3,
        gr.off.copy_s * 1e3, gr.on.copy_s * 1e3, gr.off.pass_ratio, gr.on.pass_ratio,
        gr.off.remove_s * 1e3, gr.on.remove_s * 1e3, gr.off.attach_ratio, gr.on.attach_ratio,
        gr.on.free_floor_s * 1e3);
    char py_c[32] = "n/a", py_a[32] = "n/a";
    if (!std::isnan(pyc)) std::snprintf(py_c, sizeof py_c, "%.2fx", pyc / scm);
    if (!std::isnan(pya)) std::snprintf(py_a, sizeof py_a, "%.2fx", pya / sa);
    std::printf(
        "%-8s | %7.1f / %6.1f ms = %5.2fx | %7ld / %5ld KiB = %5.0fx | %5.2fx / %6s /  1.00 | "
        "%4.2fx / %5s / 1.00\n",
        label(bytes).c_str(), pwm * 1e3, swm * 1e3, pwm / swm, prm, srm,
        static_cast<double>(prm) / static_cast<double>(std::max(srm, 1L)), rcm / scm, py_c, ra / sa,
        py_a);
    std::printf(
        "%-8s |   Pss of the workers: pipe %ld KiB, shmarray %ld KiB (the shared pages, "
        "split among %u+1 processes)\n",
        "", ppm, spm, workers);
  }
  std::fclose(out);
  print_goals(goals, reps);
  std::printf(
      "\ncopy: time of the plain C sequence (or Python) / shmarray::copy; attach: the same "
      "for attach.\nwrote %s%s\n",
      csv.c_str(),
      have_py ? "" : " (Python columns empty: --python=off, or no NumPy in /usr/bin/python3)");
  return 0;
}
