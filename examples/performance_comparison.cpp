// The performance comparison from the Python package's README: the same array goes to N worker
// processes, once through a pipe (each worker receives and keeps its own copy, as pickling to a
// multiprocessing worker does) and once through shmarray (each worker attaches to the one shared
// copy by name). Workers are separate programs (this one re-executed), so their private memory is
// their own: each reports its RssAnon from /proc/self/status, the parent reports the wall time.
//
//   performance_comparison [MiB] [workers]      (default 256 MiB, 4 workers)
// Exit code 0 when every worker of both methods computed the same sum.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <shmarray/shmarray.hpp>
#include <string>
#include <thread>
#include <vector>

namespace {

long rss_anon_kb() {
  std::ifstream st("/proc/self/status");
  std::string key;
  long v = -1;
  while (st >> key) {
    if (key == "RssAnon:") {
      st >> v;
      break;
    }
    st.ignore(1 << 12, '\n');
  }
  return v;
}

double sum(const double* p, std::size_t n) {
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += p[i];
  return s;
}

bool read_all(int fd, void* buf, std::size_t n) {
  auto* p = static_cast<char*>(buf);
  while (n) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}
bool write_all(int fd, const void* buf, std::size_t n) {
  auto* p = static_cast<const char*>(buf);
  while (n) {
    ssize_t r = ::write(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

// Worker, pipe method: receive the element count and the elements on stdin, into private memory.
int pipe_worker() {
  std::uint64_t n = 0;
  if (!read_all(0, &n, sizeof n)) return 1;
  std::vector<double> data(n);
  if (!read_all(0, data.data(), n * sizeof(double))) return 1;
  std::printf("%.17g %ld\n", sum(data.data(), data.size()), rss_anon_kb());
  return 0;
}

// Worker, shmarray method: attach read-only by name; the data is never copied.
int shm_worker(const char* name) {
  auto a = shmarray::shared_array<const double>::attach(name);
  std::printf("%.17g %ld\n", sum(a.data(), a.size()), rss_anon_kb());
  return 0;
}

struct outcome {
  double seconds = 0;
  std::vector<double> sums;
  std::vector<long> rss_kb;
  bool ok = true;
};

// Starts `workers` copies of this program with `args`; feed(k, fd) writes worker k's stdin.
template <class Feed>
outcome run(std::size_t workers, const std::vector<std::string>& args, Feed feed) {
  outcome o;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<pid_t> pids;
  std::vector<int> in_fds, out_fds;
  for (std::size_t k = 0; k < workers; ++k) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) std::exit(1);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      std::vector<char*> argv{const_cast<char*>("performance_comparison")};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv("/proc/self/exe", argv.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    pids.push_back(pid);
    in_fds.push_back(in[1]);
    out_fds.push_back(out[0]);
  }
  std::vector<std::thread> feeders;  // one writer per worker, as a pool's task queue would
  for (std::size_t k = 0; k < workers; ++k)
    feeders.emplace_back([&, k] {
      feed(k, in_fds[k]);
      ::close(in_fds[k]);
    });
  for (auto& t : feeders) t.join();
  for (std::size_t k = 0; k < workers; ++k) {
    char buf[128] = {};
    std::size_t len = 0;
    ssize_t r;
    while (len < sizeof buf - 1 && (r = ::read(out_fds[k], buf + len, sizeof buf - 1 - len)) > 0)
      len += static_cast<std::size_t>(r);
    ::close(out_fds[k]);
    double s = 0;
    long kb = -1;
    if (std::sscanf(buf, "%lf %ld", &s, &kb) != 2) o.ok = false;
    o.sums.push_back(s);
    o.rss_kb.push_back(kb);
    int st = 0;
    if (::waitpid(pids[k], &st, 0) != pids[k] || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
      o.ok = false;
  }
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return o;
}

double mean_mib(const std::vector<long>& kb) {
  double s = 0;
  for (long k : kb) s += static_cast<double>(k);
  return kb.empty() ? 0 : s / static_cast<double>(kb.size()) / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "--pipe-worker") == 0) return pipe_worker();
  if (argc == 3 && std::strcmp(argv[1], "--shm-worker") == 0) return shm_worker(argv[2]);
  const double mib = argc > 1 ? std::strtod(argv[1], nullptr) : 256;
  const std::size_t workers = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 4;
  const std::size_t n = static_cast<std::size_t>(mib * 1024 * 1024 / sizeof(double));
  if (n == 0 || workers == 0) {
    std::fprintf(stderr, "usage: performance_comparison [MiB > 0] [workers > 0]\n");
    return 64;
  }
  std::printf("the same %.1f MiB array of doubles (%zu elements) to %zu worker processes\n",
              static_cast<double>(n * sizeof(double)) / (1024.0 * 1024.0), n, workers);

  // The pipe method: the parent's private array, written whole to every worker.
  std::vector<double> data(n);
  for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<double>(i % 1000) * 0.5;
  const double expected = sum(data.data(), n);
  outcome piped = run(workers, {"--pipe-worker"}, [&](std::size_t, int fd) {
    std::uint64_t count = n;
    write_all(fd, &count, sizeof count);
    write_all(fd, data.data(), n * sizeof(double));
  });
  data = std::vector<double>();  // give the memory back before the second run

  // The shmarray method: the array lives in shared memory; workers get only its name.
  shmarray::manager mgr;
  auto shared = shmarray::shared_array<double>::allocate(mgr, {n});
  for (std::size_t i = 0; i < n; ++i) shared.data()[i] = static_cast<double>(i % 1000) * 0.5;
  outcome attached = run(workers, {"--shm-worker", shared.name()}, [](std::size_t, int) {});

  std::printf("%-10s %12s %34s\n", "method", "wall time", "private memory per worker (RssAnon)");
  std::printf("%-10s %10.3f s %30.1f MiB\n", "pipe", piped.seconds, mean_mib(piped.rss_kb));
  std::printf("%-10s %10.3f s %30.1f MiB\n", "shmarray", attached.seconds,
              mean_mib(attached.rss_kb));
  if (attached.seconds > 0 && mean_mib(attached.rss_kb) > 0)
    std::printf("shmarray: %.1fx faster, %.0fx less private memory per worker\n",
                piped.seconds / attached.seconds,
                mean_mib(piped.rss_kb) / mean_mib(attached.rss_kb));
  bool ok = piped.ok && attached.ok;
  for (double s : piped.sums) ok = ok && s == expected;
  for (double s : attached.sums) ok = ok && s == expected;
  std::printf("%s\n", ok ? "OK: every worker computed the same sum" : "FAILED: sums differ");
  return ok ? 0 : 1;
}
