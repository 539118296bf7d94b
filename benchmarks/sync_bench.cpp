// sync_bench: what change notification, the lock and snapshots cost (issue 16), each against its
// baseline in the same run (absolute numbers drift on this machine; the ratios are the result).
//   1. notify -> wake latency between two processes vs a pipe write -> read between the same two
//      processes (interleaved blocks; median and p99).
//   2. notify(), update() and lock()/unlock() costs vs a plain atomic increment.
//   3. reading a large array: memcpy vs snapshot() vs lock+memcpy vs read_consistent(sum), idle;
//      then under a writer process that updates continuously (snapshot retries, and how often an
//      unprotected copy is torn).
//
//   sync_bench [--rounds=N] [--mib=M] [--seconds=S]       (defaults 20000, 64, 2)
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <shmarray/shmarray.hpp>
#include <string>
#include <vector>

namespace {

using clk = std::chrono::steady_clock;
namespace sd = shmarray::detail;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clk::now().time_since_epoch())
      .count();
}
void spin_ns(std::int64_t ns) {
  const std::int64_t end = now_ns() + ns;
  while (now_ns() < end) {
  }
}
double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}
template <class F>
double median_seconds(int reps, F&& f) {
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto t0 = clk::now();
    f();
    t.push_back(std::chrono::duration<double>(clk::now() - t0).count());
  }
  return pct(t, 0.5);
}
long arg(int argc, char** argv, const char* key, long def) {
  const std::size_t n = std::strlen(key);
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], key, n) == 0 && argv[i][n] == '=')
      return std::strtol(argv[i] + n + 1, nullptr, 10);
  return def;
}

// Shared between the two processes of part 1: the waiter's latencies, and its acks.
struct latency_shared {
  sd::sync_block ack;  // the waiter notifies here when it has read a round
  std::int64_t t0;     // when the notifier sent (both processes read CLOCK_MONOTONIC)
  double futex_us[1 << 16];
  double pipe_us[1 << 16];
};

void part1_latency(long rounds) {
  rounds = std::min(rounds, 1L << 16);
  auto* sh = static_cast<latency_shared*>(::mmap(
      nullptr, sizeof(latency_shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  if (sh == MAP_FAILED) std::exit(1);
  sd::sync_ops::init(&sh->ack, "ack");
  shmarray::manager mgr;
  auto a = shmarray::shared_array<std::uint8_t>::allocate(mgr, {64});
  const std::string name = a.name();
  int to_child[2], to_parent[2];
  if (::pipe(to_child) != 0 || ::pipe(to_parent) != 0) std::exit(1);
  const long block = 100;  // futex and pipe rounds alternate in blocks of this many
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    auto r = shmarray::shared_array<const std::uint8_t>::attach(name);  // read-only waiter
    std::uint64_t seen = 0;  // a fresh segment: the notifier may have notified already
    long nf = 0, np = 0;
    for (long b = 0; nf < rounds || np < rounds; ++b) {
      for (long i = 0; i < block; ++i) {
        if (b % 2 == 0 && nf < rounds) {
          auto g = r.wait_changed(seen, std::chrono::seconds(30));
          if (!g) ::_exit(3);  // bounded: a lost wake-up fails the run instead of hanging it
          seen = *g;
          const std::int64_t t1 = now_ns();
          sh->futex_us[nf++] =
              static_cast<double>(t1 - __atomic_load_n(&sh->t0, __ATOMIC_ACQUIRE)) / 1e3;
          sd::sync_ops::notify(&sh->ack);
        } else if (b % 2 == 1 && np < rounds) {
          std::int64_t t0 = 0;
          if (::read(to_child[0], &t0, sizeof t0) != sizeof t0) ::_exit(2);
          sh->pipe_us[np++] = static_cast<double>(now_ns() - t0) / 1e3;
          char c = 'a';
          if (::write(to_parent[1], &c, 1) != 1) ::_exit(2);
        }
      }
    }
    ::_exit(0);
  }
  long nf = 0, np = 0;
  std::uint64_t acks = 0;
  for (long b = 0; nf < rounds || np < rounds; ++b) {
    for (long i = 0; i < block; ++i) {
      spin_ns(30000);  // let the waiter fall asleep again: wake latency, not a handoff to a spinner
      if (b % 2 == 0 && nf < rounds) {
        __atomic_store_n(&sh->t0, now_ns(), __ATOMIC_RELEASE);
        a.notify();
        auto g = sd::sync_ops::wait_changed(&sh->ack, acks, clk::now() + std::chrono::seconds(30));
        if (!g) {
          std::fprintf(stderr, "sync_bench: no ack within 30 s (round %ld)\n", nf);
          std::exit(1);
        }
        acks = *g;
        ++nf;
      } else if (b % 2 == 1 && np < rounds) {
        const std::int64_t t0 = now_ns();
        if (::write(to_child[1], &t0, sizeof t0) != sizeof t0) std::exit(1);
        char c;
        if (::read(to_parent[0], &c, 1) != 1) std::exit(1);
        ++np;
      }
    }
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  std::vector<double> f(sh->futex_us, sh->futex_us + rounds), p(sh->pipe_us, sh->pipe_us + rounds);
  const double fm = pct(f, 0.5), f99 = pct(f, 0.99), pm = pct(p, 0.5), p99 = pct(p, 0.99);
  std::printf("1. wake latency, %ld rounds each, two processes (waiter attached read-only)\n",
              rounds);
  std::printf("   notify -> wait_changed: median %7.2f us, p99 %7.2f us\n", fm, f99);
  std::printf("   pipe write -> read:     median %7.2f us, p99 %7.2f us\n", pm, p99);
  std::printf("   ratio notify/pipe:      median %.2fx, p99 %.2fx  (goal <= 1.5x)\n", fm / pm,
              f99 / p99);
  ::munmap(sh, sizeof(latency_shared));
  for (int fd : {to_child[0], to_child[1], to_parent[0], to_parent[1]}) ::close(fd);
}

void part2_costs() {
  auto a = shmarray::shared_array<std::uint64_t>::allocate_anonymous({8});
  const int n = 200000;
  std::uint64_t x = 0;
  const double base = median_seconds(5,
                                     [&] {
                                       for (int i = 0; i < n; ++i)
                                         __atomic_add_fetch(&x, 1, __ATOMIC_SEQ_CST);
                                     }) /
                      n * 1e9;
  const double notify = median_seconds(5,
                                       [&] {
                                         for (int i = 0; i < n; ++i) a.notify();
                                       }) /
                        n * 1e9;
  const double lock = median_seconds(5,
                                     [&] {
                                       for (int i = 0; i < n; ++i) {
                                         a.lock();
                                         a.unlock();
                                       }
                                     }) /
                      n * 1e9;
  const double update = median_seconds(5,
                                       [&] {
                                         for (int i = 0; i < n; ++i) {
                                           auto u = a.update();
                                           a.data()[0] = u.generation();
                                         }
                                       }) /
                        n * 1e9;
  std::printf("2. costs per call (no waiters)\n");
  std::printf("   atomic increment (baseline) %7.1f ns\n", base);
  std::printf("   notify()                    %7.1f ns  (%.0fx: a FUTEX_WAKE system call)\n",
              notify, notify / base);
  std::printf("   lock() + unlock()           %7.1f ns  (%.1fx)\n", lock, lock / base);
  std::printf("   update() scope              %7.1f ns  (%.1fx: lock, two increments, a wake)\n",
              update, update / base);
}

constexpr std::size_t page = 4096;
volatile std::uint64_t sink;  // keeps the sums from being optimised away
void write_version(std::uint8_t* d, std::size_t n, std::uint64_t g) {
  std::memset(d, static_cast<int>(g & 0xff), n);
  for (std::size_t p = 0; p + 8 <= n; p += page) std::memcpy(d + p, &g, 8);
}
// True when d holds one version whole (every page word equal, every other byte its low byte).
bool whole(const std::uint8_t* d, std::size_t n) {
  std::uint64_t g;
  std::memcpy(&g, d, 8);
  for (std::size_t p = 0; p < n; p += page) {
    std::uint64_t w;
    std::memcpy(&w, d + p, 8);
    if (w != g) return false;
    for (std::size_t i = p + 8; i < std::min(n, p + page); ++i)
      if (d[i] != static_cast<std::uint8_t>(g)) return false;
  }
  return true;
}

void part3_snapshots(std::size_t mib, double seconds) {
  const std::size_t bytes = mib << 20;
  shmarray::manager mgr;
  auto a = shmarray::shared_array<std::uint8_t>::allocate(mgr, {bytes});
  {
    auto u = a.update();
    write_version(a.data(), bytes, u.generation());
  }
  std::vector<std::uint8_t> copy(bytes);
  std::memset(copy.data(), 1, bytes);  // fault the destination in before timing
  const int reps = 9;
  std::memcpy(copy.data(), a.data(), bytes);  // warm: both sides' pages are mapped from here on
  const double t_memcpy = median_seconds(reps, [&] { std::memcpy(copy.data(), a.data(), bytes); });
  const double t_snap = median_seconds(reps, [&] { (void)a.snapshot(copy.data()); });
  const double t_locked = median_seconds(reps, [&] {
    std::scoped_lock lk(a);
    std::memcpy(copy.data(), a.data(), bytes);
  });
  const auto* w = reinterpret_cast<const std::uint64_t*>(a.data());
  std::uint64_t sum = 0;
  const double t_sum = median_seconds(reps, [&] {
    sum = 0;
    for (std::size_t i = 0; i < bytes / 8; ++i) sum += w[i];
    sink = sum;
  });
  const double t_rc_sum = median_seconds(reps, [&] {
    (void)a.read_consistent([&] {
      sum = 0;
      for (std::size_t i = 0; i < bytes / 8; ++i) sum += w[i];
    });
    sink = sum;
  });
  auto gbs = [&](double t) { return static_cast<double>(bytes) / t / 1e9; };
  std::printf("3. reading %zu MiB, no writer (median of %d)\n", mib, reps);
  std::printf("   memcpy (baseline)          %7.2f ms  %5.1f GB/s\n", t_memcpy * 1e3,
              gbs(t_memcpy));
  std::printf("   snapshot()                 %7.2f ms  %.2fx\n", t_snap * 1e3, t_snap / t_memcpy);
  std::printf("   lock + memcpy + unlock     %7.2f ms  %.2fx\n", t_locked * 1e3,
              t_locked / t_memcpy);
  std::printf("   sum in place (baseline)    %7.2f ms\n", t_sum * 1e3);
  std::printf("   read_consistent(sum)       %7.2f ms  %.2fx\n", t_rc_sum * 1e3, t_rc_sum / t_sum);

  // A writer process updating continuously; this process reads for `seconds`.
  std::fflush(nullptr);
  int go[2];
  if (::pipe(go) != 0) std::exit(1);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(go[1]);
    auto b = shmarray::shared_array<std::uint8_t>::attach(a.name());
    char c;
    if (::read(go[0], &c, 1) != 1) ::_exit(2);
    const auto end = clk::now() + std::chrono::duration<double>(seconds * 2 + 1);
    while (clk::now() < end) {
      auto u = b.update();
      write_version(b.data(), bytes, u.generation());
    }
    ::_exit(0);
  }
  ::close(go[0]);
  const std::uint64_t g0 = a.generation();
  if (::write(go[1], "g", 1) != 1) std::exit(1);
  ::close(go[1]);
  std::uint64_t snaps = 0, retries = 0, torn_snap = 0;
  auto end = clk::now() + std::chrono::duration<double>(seconds);
  while (clk::now() < end) {
    if (!a.snapshot(copy.data(), std::chrono::seconds(5), &retries)) break;
    ++snaps;
    if (!whole(copy.data(), bytes)) ++torn_snap;
  }
  std::uint64_t plain = 0, torn_plain = 0;
  end = clk::now() + std::chrono::duration<double>(seconds);
  while (clk::now() < end) {
    std::memcpy(copy.data(), a.data(), bytes);  // unprotected: the control
    ++plain;
    if (!whole(copy.data(), bytes)) ++torn_plain;
  }
  const std::uint64_t updates = a.generation() - g0;
  ::kill(pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
  std::printf("   under a writer updating continuously (%llu updates in %.0f s):\n",
              static_cast<unsigned long long>(updates), 2 * seconds);
  std::printf("   snapshot():      %llu snapshots, %.2f retries each, %llu torn\n",
              static_cast<unsigned long long>(snaps),
              snaps ? static_cast<double>(retries) / static_cast<double>(snaps) : 0.0,
              static_cast<unsigned long long>(torn_snap));
  std::printf("   plain memcpy:    %llu copies, %llu torn (the control: why snapshots exist)\n",
              static_cast<unsigned long long>(plain), static_cast<unsigned long long>(torn_plain));
  // The writer was killed, maybe in the middle of an update: the next update repairs it.
  auto u = a.update();
  std::printf("   writer SIGKILLed: next update told %s\n", u.recovered() ? "yes"
                                                                          : "no (it was "
                                                                            "between updates)");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    part1_latency(arg(argc, argv, "--rounds", 20000));
    part2_costs();
    part3_snapshots(static_cast<std::size_t>(arg(argc, argv, "--mib", 64)),
                    static_cast<double>(arg(argc, argv, "--seconds", 2)));
  } catch (const shmarray::error& e) {
    std::fprintf(stderr, "sync_bench: %s\n", e.what());
    return 1;
  }
  std::printf("OK\n");
  return 0;
}
