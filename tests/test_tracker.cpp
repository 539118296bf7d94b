// The manager's crash-cleanup tracker: when the process owning a manager dies (SIGKILL, SIGTERM,
// in the middle of a copy), its segments are gone from /dev/shm within a second; a thread exiting,
// a child holding the socket, or allocation from many threads after fork do not fool it; normal
// shutdown ends it. Owners run in forked children that report through a pipe -- no sleeps.
#include <catch2/catch.hpp>

#include <sys/prctl.h>
#include <sys/resource.h>
#include <shmarray/shmarray.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

using namespace std::chrono_literals;
using shmarray::manager;
using shmarray::shared_array;
using shmtest::shm_exists;
using shmtest::unique_name;

namespace {

/// A forked owner process: it reports lines through a pipe, then blocks until killed (or until
/// the test closes `hold`, when it leaves with _exit -- as abruptly as a crash).
struct owner_proc {
  pid_t pid = -1;
  int rd = -1;
  int hold = -1;
  std::string buffered;

  /// The next line the owner wrote ("" if none came within `bound`).
  std::string line(std::chrono::milliseconds bound = 10s) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    for (;;) {
      auto nl = buffered.find('\n');
      if (nl != std::string::npos) {
        std::string l = buffered.substr(0, nl);
        buffered.erase(0, nl + 1);
        return l;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return {};
      pollfd p{rd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return {};
      char b[512];
      ssize_t n = ::read(rd, b, sizeof b);
      if (n <= 0) return {};
      buffered.append(b, static_cast<std::size_t>(n));
    }
  }
  /// Sends `sig` and reaps the owner.
  shmtest::child_status kill_and_reap(int sig) {
    ::kill(pid, sig);
    auto st = shmtest::wait_child(pid, 10s);
    pid = -1;
    return st;
  }
  ~owner_proc() {
    if (pid > 0) kill_and_reap(SIGKILL);
    if (rd >= 0) ::close(rd);
    if (hold >= 0) ::close(hold);
  }
};

void write_line(int fd, const std::string& s) {
  std::string l = s + "\n";
  REQUIRE(::write(fd, l.data(), l.size()) == static_cast<ssize_t>(l.size()));
}

/// Forks an owner that runs body(report_fd, hold_fd) and then blocks on hold_fd.
std::unique_ptr<owner_proc> start_owner(const std::function<void(int, int)>& body) {
  int rep[2], hold[2];
  REQUIRE(::pipe2(rep, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(hold, O_CLOEXEC) == 0);
  std::fflush(nullptr);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    shmtest::reset_fatal_signals();
    ::close(rep[0]);
    ::close(hold[1]);
    try {
      body(rep[1], hold[0]);
    } catch (const std::exception& e) {
      std::string m = std::string("error ") + e.what() + "\n";
      (void)!::write(rep[1], m.data(), m.size());
      ::_exit(3);
    }
    char c;
    while (::read(hold[0], &c, 1) < 0 && errno == EINTR) {
    }
    ::_exit(0);
  }
  ::close(rep[1]);
  ::close(hold[0]);
  auto o = std::make_unique<owner_proc>();
  o->pid = pid;
  o->rd = rep[0];
  o->hold = hold[1];
  return o;
}

/// Waits (bounded) until none of `names` is in /dev/shm; returns the time it took.
double ms_until_gone(const std::vector<std::string>& names, std::chrono::milliseconds bound) {
  auto t0 = std::chrono::steady_clock::now();
  bool gone = shmtest::eventually(
      [&] {
        for (const auto& n : names)
          if (shm_exists(n)) return false;
        return true;
      },
      bound);
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  for (const auto& n : names) ::shm_unlink(n.c_str());  // never leave them, whatever happened
  return gone ? ms : -1.0;
}

/// Gone, or a zombie nobody reaped yet (the tracker is not our child: init reaps it).
bool process_gone(long pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string all((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto rp = all.rfind(')');
  return rp == std::string::npos || (rp + 2 < all.size() && all[rp + 2] == 'Z');
}

std::vector<std::string> split(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> v;
  std::string w;
  while (in >> w) v.push_back(w);
  return v;
}

shmarray::manager_options no_tracker() {
  shmarray::manager_options o;
  o.crash_cleanup = false;
  return o;
}

}  // namespace

TEST_CASE("SIGKILL right after allocation: the tracker unlinks within 1 s", "[tracker]") {
  auto o = start_owner([](int rep, int) {
    auto* m = new manager;
    auto* a = new shared_array<double>(shared_array<double>::allocate(*m, {1000}));
    auto* b = new shared_array<float>(shared_array<float>::copy(*m, std::vector<float>{1, 2, 3}));
    auto* c = new shared_array<int>(shared_array<int>::allocate_like(*m, *b));
    write_line(rep, a->name() + " " + b->name() + " " + c->name() + " " +
                        std::to_string(m->tracker_pid()));
  });
  auto words = split(o->line());
  REQUIRE(words.size() == 4);
  std::vector<std::string> names(words.begin(), words.begin() + 3);
  const long tracker = std::stol(words[3]);
  for (const auto& n : names) REQUIRE(shm_exists(n));
  const auto t0 = std::chrono::steady_clock::now();
  auto st = o->kill_and_reap(SIGKILL);
  CHECK(st.signal == SIGKILL);
  double ms = ms_until_gone(names, 1000ms);
  CHECK(ms >= 0);
  std::printf(
      "tracker: the SIGKILLed owner's 3 segments were gone %.2f ms after the kill\n",
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  CHECK(shmtest::eventually([&] { return process_gone(tracker); }, 1000ms));
}

TEST_CASE("SIGTERM: the creator's segments are cleaned up too", "[tracker]") {
  auto o = start_owner([](int rep, int) {
    auto* m = new manager;
    auto* a = new shared_array<double>(shared_array<double>::allocate(*m, {16}));
    write_line(rep, a->name());
  });
  std::string name = o->line();
  REQUIRE(shm_exists(name));
  auto st = o->kill_and_reap(SIGTERM);
  CHECK(st.signal == SIGTERM);
  CHECK(ms_until_gone({name}, 1000ms) >= 0);
}

namespace {
int g_report_fd = -1;
extern "C" void report_and_block(int) {
  const char msg[] = "mid-copy\n";
  (void)!::write(g_report_fd, msg, sizeof msg - 1);
  for (;;) ::pause();
}
struct faulting_range {  // a contiguous "range" whose second half faults
  double* p;
  std::size_t n;
  const double* data() const { return p; }
  std::size_t size() const { return n; }
};
}  // namespace

TEST_CASE("SIGKILL in the middle of a copy: the half-written segment is unlinked", "[tracker]") {
  const std::string name = unique_name("midcopy");
  auto o = start_owner([&](int rep, int) {
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::size_t bytes = 64 * page;
    void* mem =
        ::mmap(nullptr, 2 * bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) throw std::runtime_error("mmap");
    std::memset(mem, 1, bytes);
    ::mprotect(static_cast<char*>(mem) + bytes, bytes, PROT_NONE);
    g_report_fd = rep;
    struct sigaction sa {};
    sa.sa_handler = report_and_block;
    ::sigaction(SIGSEGV, &sa, nullptr);
    ::sigaction(SIGBUS, &sa, nullptr);
    auto* m = new manager;
    write_line(rep, "copying");
    shmarray::create_options opts;
    opts.name = name;
    opts.copy_threads = 1;
    faulting_range src{static_cast<double*>(mem), 2 * bytes / sizeof(double)};
    auto a = shared_array<double>::copy(*m, src, opts);  // faults half-way, blocks in the handler
    write_line(rep, "copy returned?!");
  });
  REQUIRE(o->line() == "copying");
  REQUIRE(o->line() == "mid-copy");
  REQUIRE(shm_exists(name));
  {  // created but not published: byte 0 is still 0
    int fd = ::open(("/dev/shm/" + name).c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    unsigned char b0 = 0xff;
    CHECK(::pread(fd, &b0, 1, 0) == 1);
    CHECK(b0 == 0);
    ::close(fd);
  }
  o->kill_and_reap(SIGKILL);
  CHECK(ms_until_gone({name}, 1000ms) >= 0);
}

TEST_CASE("the thread that created the manager exiting does not fool the tracker", "[tracker]") {
  auto o = start_owner([](int rep, int) {
    manager* m = nullptr;
    std::string name;
    std::thread([&] {
      m = new manager;
      auto* a = new shared_array<double>(shared_array<double>::allocate(*m, {8}));
      name = a->name();
    }).join();
    // The creating thread is gone; a round trip proves the tracker saw that and carries on.
    bool ok = m->tracker_responsive(2s) && shm_exists(name);
    write_line(rep, name + (ok ? " alive" : " LOST"));
  });
  auto w = split(o->line());
  REQUIRE(w.size() == 2);
  CHECK(w[1] == "alive");
  CHECK(shm_exists(w[0]));
  o->kill_and_reap(SIGKILL);
  CHECK(ms_until_gone({w[0]}, 1000ms) >= 0);
}

TEST_CASE("the main thread exiting while another thread lives does not fool the tracker",
          "[tracker]") {
  auto o = start_owner([](int rep, int hold) {
    auto* m = new manager;
    auto* a = new shared_array<double>(shared_array<double>::allocate(*m, {8}));
    const std::string name = a->name();
    const long leader = ::getpid();
    std::thread([=] {
      // Wait until the main thread has exited (the leader shows as a zombie), then check.
      bool leader_gone = shmtest::eventually(
          [&] {
            std::ifstream st("/proc/" + std::to_string(leader) + "/task/" + std::to_string(leader) +
                             "/stat");
            std::string all((std::istreambuf_iterator<char>(st)), std::istreambuf_iterator<char>());
            auto rp = all.rfind(')');
            return !st || (rp != std::string::npos && rp + 2 < all.size() && all[rp + 2] == 'Z');
          },
          5000ms);
      bool ok = leader_gone && m->tracker_responsive(2s) && shm_exists(name);
      write_line(rep, name + (ok ? " alive" : " LOST"));
      char c;
      while (::read(hold, &c, 1) < 0 && errno == EINTR) {
      }
      ::_exit(0);
    }).detach();
    // Only this thread ends, without unwinding through Catch's frames (as pthread_exit would).
    ::syscall(SYS_exit, 0);
  });
  auto w = split(o->line());
  REQUIRE(w.size() == 2);
  CHECK(w[1] == "alive");
  o->kill_and_reap(SIGKILL);
  CHECK(ms_until_gone({w[0]}, 1000ms) >= 0);
}

TEST_CASE("a child that inherited the tracker's socket does not keep the segments alive",
          "[tracker]") {
  auto o = start_owner([](int rep, int hold) {
    auto* m = new manager;
    auto* a = new shared_array<double>(shared_array<double>::allocate(*m, {8}));
    pid_t child = ::fork();  // holds every descriptor the owner has, the socket included
    if (child == 0) {
      char c;
      while (::read(hold, &c, 1) < 0 && errno == EINTR) {
      }
      ::_exit(0);
    }
    write_line(rep, a->name() + " " + std::to_string(child));
  });
  auto w = split(o->line());
  REQUIRE(w.size() == 2);
  const pid_t child = static_cast<pid_t>(std::stol(w[1]));
  o->kill_and_reap(SIGKILL);
  CHECK(ms_until_gone({w[0]}, 1000ms) >= 0);
  CHECK(::kill(child, 0) == 0);  // still running, socket and all
  ::kill(child, SIGKILL);        // ours to end (init reaps it: it is not our child)
}

TEST_CASE("allocation from many threads, and a manager made after fork in a threaded program",
          "[tracker]") {
  auto o = start_owner([](int rep, int) {
    std::atomic<bool> stop{false};
    std::vector<std::thread> churn;
    for (int t = 0; t < 3; ++t)  // keep malloc's locks busy while we fork
      churn.emplace_back([&] {
        while (!stop.load()) {
          std::vector<std::unique_ptr<char[]>> v;
          for (int k = 0; k < 64; ++k)
            v.emplace_back(new char[static_cast<std::size_t>(k) * 97 + 1]);
        }
      });
    int grand_pipe[2];
    if (::pipe(grand_pipe) != 0) throw std::runtime_error("pipe");
    std::fflush(nullptr);
    pid_t grand = ::fork();  // a child of a multithreaded process makes a manager and allocates
    if (grand == 0) {
      auto* m2 = new manager;
      auto* a = new shared_array<double>(shared_array<double>::allocate(*m2, {32}));
      std::string l = a->name() + "\n";
      (void)!::write(grand_pipe[1], l.data(), l.size());
      for (;;) ::pause();
    }
    char buf[128] = {};
    ssize_t n = ::read(grand_pipe[0], buf, sizeof buf - 1);
    std::string grand_name(buf, n > 1 ? static_cast<std::size_t>(n - 1) : 0);
    auto* m = new manager;  // forks its tracker while the churn threads run
    std::vector<std::string> names(4 * 8);
    std::vector<std::thread> alloc;
    for (int t = 0; t < 4; ++t)
      alloc.emplace_back([&, t] {
        for (int k = 0; k < 8; ++k) {
          auto* a = new shared_array<float>(shared_array<float>::allocate(*m, {64}));
          names[static_cast<std::size_t>(t * 8 + k)] = a->name();
        }
      });
    for (auto& t : alloc) t.join();
    std::string l = grand_name + " " + std::to_string(grand);
    for (const auto& nm : names) l += " " + nm;
    write_line(rep, l);
    int st = 0;
    while (::waitpid(grand, &st, 0) < 0 && errno == EINTR) {  // reaped by the owner, once killed
    }
    write_line(rep, "grandchild reaped");
    stop = true;
    for (auto& t : churn) t.join();
  });
  auto w = split(o->line());
  REQUIRE(w.size() == 2 + 32);
  const std::string grand_name = w[0];
  const pid_t grand = static_cast<pid_t>(std::stol(w[1]));
  std::vector<std::string> names(w.begin() + 2, w.end());
  for (const auto& n : names) REQUIRE(shm_exists(n));
  REQUIRE(shm_exists(grand_name));
  ::kill(grand, SIGKILL);
  CHECK(o->line() == "grandchild reaped");
  CHECK(ms_until_gone({grand_name}, 1000ms) >= 0);
  o->kill_and_reap(SIGKILL);
  CHECK(ms_until_gone(names, 1000ms) >= 0);
}

TEST_CASE("normal shutdown unlinks and ends the tracker, which is nobody's zombie", "[tracker]") {
  manager m;
  const long t = m.tracker_pid();
  REQUIRE(t > 0);
  CHECK(::getsid(static_cast<pid_t>(t)) != ::getsid(0));  // survives a kill of our group
  int st = 0;
  CHECK(::waitpid(static_cast<pid_t>(t), &st, WNOHANG) == -1);  // not our child
  auto a = shared_array<double>::allocate(m, {4});
  const std::string name = a.name();
  CHECK(m.tracker_responsive());
  m.shutdown();
  CHECK_FALSE(shm_exists(name));
  CHECK(m.tracker_pid() == 0);
  CHECK(shmtest::eventually([&] { return process_gone(t); }, 1000ms));

  long t2 = 0;
  {
    manager scoped;
    t2 = scoped.tracker_pid();
    REQUIRE(t2 > 0);
  }
  CHECK(shmtest::eventually([&] { return process_gone(t2); }, 1000ms));
}

TEST_CASE("an owner that leaves normally (destructors run) removes its segments itself",
          "[tracker]") {
  std::string name = unique_name("normal");
  shmtest::shm_eraser erase(name);
  int p[2];
  REQUIRE(::pipe(p) == 0);
  auto st = shmtest::run_in_child_with_exit([&] {
    ::close(p[0]);
    manager m;
    auto a = shared_array<double>::allocate(m, {4}, {name});
    std::string l = std::to_string(m.tracker_pid()) + "\n";
    (void)!::write(p[1], l.data(), l.size());
    return 0;
  });
  ::close(p[1]);
  char buf[64] = {};
  REQUIRE(::read(p[0], buf, sizeof buf - 1) > 0);
  ::close(p[0]);
  CHECK(st.ok());
  CHECK_FALSE(shm_exists(name));
  const long t = std::atol(buf);
  CHECK(t > 0);
  CHECK(shmtest::eventually([&] { return process_gone(t); }, 1000ms));
}

TEST_CASE("a client that exits does not remove the segment", "[tracker]") {
  manager m;
  auto a = shared_array<double>::allocate(m, {4});
  a.data()[0] = 5;
  const std::string name = a.name();
  auto st = shmtest::run_in_child_with_exit([&] {
    auto c = shared_array<double>::attach(name);
    c.data()[1] = 6;
    return c.data()[0] == 5 ? 0 : 1;
  });
  CHECK(st.ok());
  auto killed = shmtest::run_in_child([&] {
    auto c = shared_array<double>::attach(name);
    ::raise(SIGKILL);
    return 0;
  });
  CHECK(killed.signal == SIGKILL);
  CHECK(shm_exists(name));
  CHECK(a.data()[1] == 6);
}

TEST_CASE("without crash cleanup there is no tracker, and a killed owner leaks", "[tracker]") {
  {
    manager m(no_tracker());
    CHECK(m.tracker_pid() == 0);
    CHECK_FALSE(m.tracker_responsive(10ms));
  }
  auto o = start_owner([](int rep, int) {
    auto* m = new manager(no_tracker());
    auto* a = new shared_array<double>(shared_array<double>::allocate(*m, {4}));
    write_line(rep, a->name());
  });
  std::string name = o->line();
  shmtest::shm_eraser erase(name);
  o->kill_and_reap(SIGKILL);
  CHECK(shm_exists(name));  // nothing was going to remove it: this is what the tracker is for
}

TEST_CASE("the tracker keeps a name that now belongs to another creator", "[tracker]") {
  const std::string taken = unique_name("taken");
  const std::string later = unique_name("later");
  shmtest::shm_eraser e1(taken), e2(later);
  // Someone else (this process) holds `taken`: the owner's allocate fails and is untracked.
  auto mine = shared_array<double>::allocate({4}, {taken});
  const std::string stolen = unique_name("stolen");
  shmtest::shm_eraser e3(stolen);
  auto o = start_owner([&](int rep, int) {
    auto* m = new manager;
    bool refused = false;
    try {
      shared_array<double>::allocate(*m, {4}, {taken});
    } catch (const shmarray::error&) {
      refused = true;
    }
    // `stolen` is tracked, then unlinked behind the manager's back and re-created by another
    // process before the owner dies; the tracker must see the new creator and keep it.
    auto* s = new shared_array<double>(shared_array<double>::allocate(*m, {4}, {stolen}));
    ::shm_unlink(stolen.c_str());
    auto* l = new shared_array<double>(shared_array<double>::allocate(*m, {4}, {later}));
    (void)s;
    (void)l;
    write_line(rep, refused ? "refused" : "NOT refused");
  });
  REQUIRE(o->line() == "refused");
  auto thief = shared_array<double>::allocate({4}, {stolen});
  o->kill_and_reap(SIGKILL);
  CHECK(ms_until_gone({later}, 1000ms) >= 0);  // handled after the others: they are decided
  CHECK(shm_exists(taken));
  CHECK(shm_exists(stolen));
}

TEST_CASE("the tracker holds no inherited descriptor or shared mapping", "[tracker]") {
  auto before = shared_array<double>::allocate({1 << 16});  // mapped before the manager
  int p[2];
  REQUIRE(::pipe(p) == 0);  // not CLOEXEC: a careless tracker would keep the write end
  manager m;
  const long t = m.tracker_pid();
  REQUIRE(t > 0);
  REQUIRE(m.tracker_responsive());
  ::close(p[1]);
  pollfd pf{p[0], POLLIN, 0};
  REQUIRE(::poll(&pf, 1, 1000) == 1);
  char c;
  CHECK(::read(p[0], &c, 1) == 0);  // EOF: nobody else holds the write end
  ::close(p[0]);
  std::ifstream maps("/proc/" + std::to_string(t) + "/maps");
  std::string all((std::istreambuf_iterator<char>(maps)), std::istreambuf_iterator<char>());
  CHECK(all.find(before.name()) == std::string::npos);
  CHECK(all.find("/dev/shm") == std::string::npos);
}

TEST_CASE("pool workers of a managed owner do not fool the tracker", "[tracker][pool]") {
  auto o = start_owner([](int rep, int) {
    auto* m = new manager;
    auto* a = new shared_array<int>(shared_array<int>::allocate(*m, {64}));
    shmarray::process_pool pool(3);
    pool.for_each(64, [&](std::size_t i) { a->data()[i] = static_cast<int>(i); });
    bool ok = m->tracker_responsive(2s) && a->data()[63] == 63;
    write_line(rep, a->name() + (ok ? " ok" : " BAD"));
  });
  auto w = split(o->line());
  REQUIRE(w.size() == 2);
  CHECK(w[1] == "ok");
  CHECK(shm_exists(w[0]));
  o->kill_and_reap(SIGKILL);
  CHECK(ms_until_gone({w[0]}, 1000ms) >= 0);
}

TEST_CASE("Issue 17: the tracker forgets the segment a managed owner's close() unlinked",
          "[tracker][issue17]") {
  const std::string closed = unique_name("closed"), open = unique_name("open");
  shmtest::shm_eraser e1(closed), e2(open);
  auto o = start_owner([&](int rep, int) {
    auto* m = new manager;
    auto a = shared_array<double>::allocate(*m, {4}, {closed});
    auto* b = new shared_array<double>(shared_array<double>::allocate(*m, {4}, {open}));
    (void)b;
    a.close();  // unlinked now, and taken off the tracker's list
    bool gone = !shm_exists(closed) && m->names().size() == 1;
    // The round trip means the tracker has read the withdrawal too.
    write_line(rep, gone && m->tracker_responsive() ? "closed " + std::to_string(m->tracker_pid())
                                                    : "still there");
  });
  auto words = split(o->line());
  REQUIRE(words.size() == 2);
  REQUIRE(words[0] == "closed");
  const long tracker = std::stol(words[1]);
  // The name is free: someone else takes it with a segment that has no trailer, which a tracker
  // still holding the name would unlink.
  shmtest::write_raw_segment(closed, std::string(256, '\0'));
  o->kill_and_reap(SIGKILL);
  CHECK(ms_until_gone({open}, 1000ms) >= 0);  // the crash cleanup still removes what is left
  CHECK(shmtest::eventually([&] { return process_gone(tracker); }, 1000ms));  // it has finished
  CHECK(shm_exists(closed));
}

namespace {
/// Waits (bounded) for a process that is not our child to end, through a pidfd: no polling.
bool wait_gone(long pid, std::chrono::milliseconds bound) {
  int fd = shmtest::pidfd_open_(static_cast<pid_t>(pid));
  if (fd < 0) return errno == ESRCH;
  pollfd p{fd, POLLIN, 0};
  int r;
  do {
    r = ::poll(&p, 1, static_cast<int>(bound.count()));
  } while (r < 0 && errno == EINTR);
  ::close(fd);
  return r == 1;
}

/// The SigIgn mask of a process (/proc/<pid>/status), 0 if unreadable.
unsigned long long ignored_signals(long pid) {
  std::ifstream st("/proc/" + std::to_string(pid) + "/status");
  std::string l;
  while (std::getline(st, l))
    if (l.rfind("SigIgn:", 0) == 0) return std::stoull(l.substr(7), nullptr, 16);
  return 0;
}

bool ignores(long pid, int sig) {
  return (ignored_signals(pid) >> (sig - 1)) & 1u;
}

/// The bytes of segment `name` ("" if it cannot be read).
std::string segment_bytes(const std::string& name) {
  std::ifstream f("/dev/shm/" + name, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

/// Reads one byte from `fd` (the test's "go on"); false on EOF.
bool wait_go(int fd) {
  char c;
  ssize_t n;
  while ((n = ::read(fd, &c, 1)) < 0 && errno == EINTR) {
  }
  return n == 1;
}

void send_go(int fd) {
  REQUIRE(::write(fd, "g", 1) == 1);
}

struct name_buf {  // a segment name through process_pool::map
  char s[64];
};
}  // namespace

TEST_CASE(
    "Issue 13: the tracker survives SIGTERM and SIGINT, also sent the moment the manager "
    "exists, so stopping the whole job leaks nothing",
    "[tracker][issue13]") {
  auto o = start_owner([](int rep, int) {
    ::setpgid(0, 0);  // a job of its own, as a service under systemd
    // A signal right after the constructor returns can reach the tracker before its first
    // instruction; it must survive it and still answer.
    int survived = 0;
    for (int i = 0; i < 20; ++i) {
      manager m;
      const pid_t t = static_cast<pid_t>(m.tracker_pid());
      ::kill(t, SIGTERM);
      ::kill(t, SIGINT);
      if (m.tracker_responsive(2s)) ++survived;
    }
    auto* m = new manager;
    const long t = m->tracker_pid();
    ::kill(static_cast<pid_t>(t), SIGTERM);
    auto* a = new shared_array<double>(shared_array<double>::allocate(*m, {64}));
    auto* b = new shared_array<float>(shared_array<float>::allocate(*m, {8, 8}));
    ::kill(static_cast<pid_t>(t), SIGINT);
    const bool alive = m->tracker_responsive(2s);
    write_line(rep, std::to_string(survived) + " " + (alive ? "alive" : "DEAD") + " " +
                        std::to_string(t) + " " + a->name() + " " + b->name());
  });
  auto w = split(o->line());
  REQUIRE(w.size() == 5);
  CHECK(w[0] == "20");
  CHECK(w[1] == "alive");
  const long tracker = std::stol(w[2]);
  std::vector<std::string> names{w[3], w[4]};
  for (const auto& n : names) REQUIRE(shm_exists(n));
  CHECK(ignores(tracker, SIGTERM));
  CHECK(ignores(tracker, SIGINT));
  // `systemctl stop` (KillMode=control-group): SIGTERM to every process of the service, the
  // tracker (in a session of its own) included, and to the owner's process group.
  CHECK(::kill(static_cast<pid_t>(tracker), SIGTERM) == 0);
  CHECK(::kill(-o->pid, SIGTERM) == 0);
  auto st = shmtest::wait_child(o->pid, 10s);
  o->pid = -1;
  CHECK(st.signal == SIGTERM);
  CHECK(ms_until_gone(names, 1000ms) >= 0);
  CHECK(wait_gone(tracker, 1000ms));  // it cleaned up, then left by itself
}

TEST_CASE(
    "Issue 13: a tracker killed with SIGKILL is replaced at the next allocation, which "
    "hands it every name still listed",
    "[tracker][issue13]") {
  auto o = start_owner([](int rep, int hold) {
    auto* m = new manager;
    auto* a = new shared_array<double>(shared_array<double>::allocate(*m, {16}));
    write_line(rep, std::to_string(m->tracker_pid()) + " " + a->name());
    if (!wait_go(hold)) return;  // the test has killed the tracker and seen it gone
    auto* b = new shared_array<double>(shared_array<double>::allocate(*m, {16}));
    auto* c = new shared_array<int>(shared_array<int>::allocate(*m, {4}));
    write_line(rep, std::to_string(m->tracker_pid()) + " " + b->name() + " " + c->name() + " " +
                        (m->tracker_responsive(2s) ? "responsive" : "SILENT"));
  });
  auto w1 = split(o->line());
  REQUIRE(w1.size() == 2);
  const long t1 = std::stol(w1[0]);
  REQUIRE(t1 > 0);
  REQUIRE(::kill(static_cast<pid_t>(t1), SIGKILL) == 0);
  REQUIRE(wait_gone(t1, 2000ms));
  send_go(o->hold);
  auto w2 = split(o->line());
  REQUIRE(w2.size() == 4);
  const long t2 = std::stol(w2[0]);
  CHECK(t2 > 0);
  CHECK(t2 != t1);
  CHECK(w2[3] == "responsive");
  std::vector<std::string> names{w1[1], w2[1], w2[2]};
  for (const auto& n : names) REQUIRE(shm_exists(n));
  o->kill_and_reap(SIGKILL);
  CHECK(ms_until_gone(names, 1000ms) >= 0);  // the first one too: it was handed over
  CHECK(wait_gone(t2, 1000ms));
}

TEST_CASE(
    "Issue 13: when no tracker can be started in place of a dead one, allocate throws a "
    "clear error and leaves nothing",
    "[tracker][issue13]") {
  // The owner runs out of descriptors on purpose; a sanitizer's runtime needs some of its own
  // (UBSan's vptr check then reports a false error), so this runs in the plain builds only.
  if (shmtest::sanitized)
    SHMTEST_SKIP("a sanitizer's runtime needs descriptors this test takes away");
  const std::string refused = unique_name("refused");
  shmtest::shm_eraser er(refused);
  auto o = start_owner([&](int rep, int hold) {
    auto* m = new manager;
    auto* a = new shared_array<double>(shared_array<double>::allocate(*m, {4}));
    write_line(rep, std::to_string(m->tracker_pid()) + " " + a->name());
    if (!wait_go(hold)) return;
    // No descriptor left (every one below the limit in use): no socket for a new tracker.
    rlimit old{};
    ::getrlimit(RLIMIT_NOFILE, &old);
    int lowest = 0;
    while (::fcntl(lowest, F_GETFD) != -1) ++lowest;
    rlimit tight = old;
    tight.rlim_cur = static_cast<rlim_t>(lowest);
    ::setrlimit(RLIMIT_NOFILE, &tight);
    std::string what;
    shmarray::errc kind{};
    try {
      shmarray::create_options opts;
      opts.name = refused;
      shared_array<double>::allocate(*m, {4}, opts);
    } catch (const shmarray::error& e) {
      what = e.what();
      kind = e.kind();
    }
    ::setrlimit(RLIMIT_NOFILE, &old);
    const bool left = shm_exists(refused);
    const bool listed = m->names().size() != 1;
    // With descriptors again, the next allocation starts a tracker.
    auto* b = new shared_array<double>(shared_array<double>::allocate(*m, {4}));
    write_line(rep, std::string(kind == shmarray::errc::system_error ? "system_error" : "OTHER") +
                        (left ? " LEFT" : " clean") + (listed ? " LISTED" : " unlisted") + " " +
                        std::to_string(m->tracker_pid()) + " " + b->name());
    write_line(rep, what);
  });
  auto w1 = split(o->line());
  REQUIRE(w1.size() == 2);
  const long t1 = std::stol(w1[0]);
  REQUIRE(::kill(static_cast<pid_t>(t1), SIGKILL) == 0);
  REQUIRE(wait_gone(t1, 2000ms));
  send_go(o->hold);
  auto w2 = split(o->line());
  const std::string what = o->line();
  REQUIRE(w2.size() == 5);
  CHECK(w2[0] == "system_error");
  CHECK(w2[1] == "clean");
  CHECK(w2[2] == "unlisted");
  CHECK(std::stol(w2[3]) > 0);
  CHECK(std::stol(w2[3]) != t1);
  CHECK(shmtest::contains(what, "allocate '" + refused + "'"));
  CHECK(shmtest::contains(what, "tracker (pid " + w1[0] + ") is gone"));
  CHECK(shmtest::contains(what, "could not be started"));
  CHECK(shmtest::contains(what, "socketpair"));
  CHECK_FALSE(shm_exists(refused));
  std::vector<std::string> names{w1[1], w2[4]};
  o->kill_and_reap(SIGKILL);
  CHECK(ms_until_gone(names, 1000ms) >= 0);
}

TEST_CASE(
    "Issue 13: what a forked child allocates through the inherited manager goes at the "
    "parent's shutdown, what it closes goes at once",
    "[tracker][issue13][fork]") {
  const std::string kept = unique_name("child-kept"), leaked = unique_name("child-leaked"),
                    closed = unique_name("child-closed"), grand = unique_name("grandchild");
  shmtest::shm_eraser e1(kept), e2(leaked), e3(closed), e4(grand);
  manager m;
  auto mine = shared_array<double>::allocate(m, {4});
  auto st = shmtest::run_in_child([&] {
    auto k = shared_array<double>::allocate(m, {8}, {kept});
    k.data()[7] = 7;
    k.persist();  // the child lets it outlive its handle: the parent's manager removes it
    k.close();
    new shared_array<int>(shared_array<int>::allocate(m, {8}, {leaked}));  // never closed
    auto c = shared_array<float>::allocate(m, {8}, {closed});
    c.close();  // the child made it, so its close() unlinks it
    if (shm_exists(closed) || !shm_exists(kept)) return 1;
    // A grandchild inherits the manager too.
    auto g = shmtest::run_in_child([&] {
      new shared_array<double>(shared_array<double>::allocate(m, {2}, {grand}));
      return 0;
    });
    return g.ok() ? 0 : 2;
  });
  REQUIRE(st.ok());
  CHECK(shm_exists(kept));
  CHECK(shm_exists(leaked));
  CHECK(shm_exists(grand));
  CHECK_FALSE(shm_exists(closed));
  CHECK(m.names() == std::vector<std::string>{mine.name()});  // the parent never saw them
  auto seen = shared_array<double>::attach(kept);  // the parent can use what the child made
  CHECK(seen.data()[7] == 7);
  seen.close();
  const long t = m.tracker_pid();
  m.shutdown();  // returns once the tracker has removed the children's names
  CHECK_FALSE(shm_exists(mine.name()));
  CHECK_FALSE(shm_exists(kept));
  CHECK_FALSE(shm_exists(leaked));
  CHECK_FALSE(shm_exists(grand));
  CHECK(wait_gone(t, 1000ms));
}

TEST_CASE(
    "Issue 13: process_pool workers allocating through the owner's manager: removed at "
    "its shutdown, and by the tracker when the owner is SIGKILLed",
    "[tracker][issue13][pool]") {
  auto o = start_owner([](int rep, int) {
    auto run = [](manager& m) {
      shmarray::process_pool pool(3);
      auto names = pool.map<name_buf>(6, [&](std::size_t i) {
        auto a = shared_array<double>::allocate(m, {32});
        a.data()[31] = static_cast<double>(i);
        a.persist();  // the result outlives the task's handle
        name_buf r{};
        std::snprintf(r.s, sizeof r.s, "%s", a.name().c_str());
        return r;
      });
      std::vector<std::string> v;
      for (std::size_t i = 0; i < names.size(); ++i) {
        auto c = shared_array<const double>::attach(names[i].s);
        if (c.data()[31] != static_cast<double>(i)) v.push_back("BAD");
        v.emplace_back(names[i].s);
      }
      return v;
    };
    {
      manager m;
      auto v = run(m);
      m.shutdown();
      std::string l = "shutdown";
      for (const auto& n : v) l += shm_exists(n) ? " LEFT:" + n : " gone";
      write_line(rep, l);
    }
    auto* m = new manager;  // this one never shuts down: the owner is killed
    auto v = run(*m);
    std::string l = m->tracker_responsive(2s) ? "responsive" : "SILENT";
    for (const auto& n : v) l += " " + n;
    write_line(rep, l);
  });
  CHECK(o->line() == "shutdown gone gone gone gone gone gone");
  auto w = split(o->line());
  REQUIRE(w.size() == 7);
  CHECK(w[0] == "responsive");
  std::vector<std::string> names(w.begin() + 1, w.end());
  for (const auto& n : names) REQUIRE(shm_exists(n));
  o->kill_and_reap(SIGKILL);
  CHECK(ms_until_gone(names, 1000ms) >= 0);
}

TEST_CASE(
    "Issue 13: a forked child refuses to allocate through a manager that cannot hand it "
    "the name (no crash cleanup, or the parent's manager shut down)",
    "[tracker][issue13][fork]") {
  const std::string n1 = unique_name("untracked"), n2 = unique_name("after-shutdown");
  shmtest::shm_eraser e1(n1), e2(n2);
  {
    manager m(no_tracker());
    auto st = shmtest::run_in_child([&] {
      auto msg = shmtest::message_of([&] { shared_array<double>::allocate(m, {4}, {n1}); });
      auto kind = shmtest::error_of([&] { shared_array<double>::allocate(m, {4}, {n1}); });
      bool ok = kind == shmarray::errc::unsupported && shmtest::contains(msg, "'" + n1 + "'") &&
                shmtest::contains(msg, "forked child") && shmtest::contains(msg, "crash_cleanup");
      if (!ok) std::fprintf(stderr, "child: %s\n", msg.c_str());
      return ok && !shm_exists(n1) && m.names().empty() ? 0 : 1;
    });
    CHECK(st.ok());
    CHECK_FALSE(shm_exists(n1));
  }
  int go[2], done[2];
  REQUIRE(::pipe(go) == 0);
  REQUIRE(::pipe(done) == 0);
  manager m;
  std::fflush(nullptr);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    shmtest::reset_fatal_signals();
    ::close(go[1]);
    ::close(done[0]);
    (void)!::write(done[1], "r", 1);
    char c;
    while (::read(go[0], &c, 1) < 0 && errno == EINTR) {
    }
    // The parent has shut its manager down (and its tracker has quit): the child's copy still
    // looks active, but nobody would remove the segment.
    std::string msg;
    shmarray::errc kind{};
    try {
      shared_array<double>::allocate(m, {4}, {n2});
    } catch (const shmarray::error& e) {
      msg = e.what();
      kind = e.kind();
    }
    bool ok = kind == shmarray::errc::closed && shmtest::contains(msg, "'" + n2 + "'") &&
              shmtest::contains(msg, "takes no more names") && !shm_exists(n2);
    if (!ok) std::fprintf(stderr, "child: %s\n", msg.c_str());
    std::fflush(nullptr);
    ::_exit(ok ? 0 : 1);
  }
  ::close(go[0]);
  ::close(done[1]);
  char c;
  REQUIRE(::read(done[0], &c, 1) == 1);
  ::close(done[0]);
  m.shutdown();
  send_go(go[1]);
  ::close(go[1]);
  auto st = shmtest::wait_child(child, 10s);
  CHECK(st.ok());
  CHECK_FALSE(shm_exists(n2));
}

TEST_CASE(
    "Issue 13: the tracker leaves a file someone else put under a name the owner's "
    "segment lost",
    "[tracker][issue13]") {
  const std::string raw = unique_name("raw"), forged = unique_name("forged"),
                    numpy = unique_name("py"), other = unique_name("other"),
                    last = unique_name("last");
  shmtest::shm_eraser e1(raw), e2(forged), e3(numpy), e4(other), e5(last);
  auto o = start_owner([&](int rep, int) {
    auto* m = new manager;
    for (const auto& n : {raw, forged, numpy, other, last})
      new shared_array<double>(shared_array<double>::allocate(*m, {64}, {n}));
    write_line(rep, std::to_string(m->tracker_pid()));
  });
  const std::string tline = o->line();
  REQUIRE_FALSE(tline.empty());
  const long tracker = std::stol(tline);
  const std::string copy = segment_bytes(forged);  // its trailer names the owner
  REQUIRE(copy.size() > 64);
  // Removed behind the manager's back (`shmarray rm`, another tool), then taken by others:
  for (const auto& n : {raw, forged, numpy, other}) REQUIRE(::shm_unlink(n.c_str()) == 0);
  shmtest::write_raw_segment(raw, std::string(4096, '\0'));  // zero-filled, no trailer
  shmtest::write_raw_segment(forged, copy);  // a byte-for-byte copy: trailer and all
  bool python = shmtest::python_has_numpy();
  if (python) {  // a real multiprocessing.shared_memory segment, left for us to remove
    auto st = shmtest::run_command(
        {"/usr/bin/python3", "-c",
         "import sys\n"
         "from multiprocessing import shared_memory, resource_tracker\n"
         "s = shared_memory.SharedMemory(name=sys.argv[1], create=True, size=4096)\n"
         "s.buf[0] = 42\n"
         "resource_tracker.unregister(s._name, 'shared_memory')\n"
         "s.close()\n",
         numpy});
    REQUIRE(st.ok());
  } else {
    shmtest::write_raw_segment(numpy, std::string(4096, '\0'));
  }
  auto theirs = shared_array<double>::allocate({64}, {other});  // shmarray, another creator
  o->kill_and_reap(SIGKILL);
  CHECK(ms_until_gone({last}, 1000ms) >= 0);  // its own segment goes ...
  CHECK(wait_gone(tracker, 1000ms));          // ... and once the tracker has finished:
  CHECK(shm_exists(raw));
  CHECK(shm_exists(forged));
  CHECK(segment_bytes(forged) == copy);
  CHECK(shm_exists(numpy));
  CHECK(shm_exists(other));
  if (!python) WARN("no /usr/bin/python3 with NumPy: a raw file stood in for Python's segment");
}
