// The `shmarray` command-line tool, run as a real program on real segments in /dev/shm: ls and info
// (text and --json read back by Python), gc after a creator was SIGKILLed, rm and foreign files,
// save/load checked by NumPy and by C++ attach, bad files, permissions, exit codes. Every case
// restricts ls/gc to its own names (a pattern with its pid), so segments of other tests running at
// the same time are never touched.
#include <catch2/catch.hpp>

// shmarray before <filesystem>: that brings std::quoted, which ADL prefers to the unqualified
// quoted(name) calls in segment.hpp (reported; remove this ordering once segment.hpp qualifies
// them).
#include <shmarray/shmarray.hpp>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <complex>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "test_support.hpp"

using shmarray::shared_array;
using shmtest::shm_eraser;
using shmtest::shm_exists;
using shmtest::unique_name;

extern char** environ;

namespace {

const std::string tool_path = std::string(SHMARRAY_TOOLS_DIR) + "/shmarray";

/// The tool as another uid can run it: a copy in a 0755 folder under /tmp, made on first use and
/// removed at exit. Running the build tree's binary as 'nobody' fails (exit 127) wherever the
/// checkout sits under a folder that uid cannot traverse, such as root's 0700 home.
const std::string& tool_for_other_users() {
  static const shmtest::temp_dir dir("shmt-tool", "/tmp");
  static const std::string path = [] {
    std::string p = dir / "shmarray";
    std::filesystem::copy_file(tool_path, p);
    if (::chmod(dir.path.c_str(), 0755) != 0 || ::chmod(p.c_str(), 0755) != 0)
      throw std::runtime_error("chmod " + p + " failed");
    return p;
  }();
  return path;
}

struct result {
  int code = -1;  // exit code, or -1 if it did not exit normally
  std::string out, err;
};

/// Runs the tool with `args`, extra environment entries ("K=V") and, when uid >= 0, as that user
/// (the test must be root). Captures stdout and stderr; at most 60 s.
result tool(const std::vector<std::string>& args, const std::vector<std::string>& env = {},
            int uid = -1) {
  int out[2], err[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
  std::vector<std::string> argv{uid >= 0 ? tool_for_other_users() : tool_path};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) envs.emplace_back(*e);
  envs.insert(envs.end(), env.begin(), env.end());
  std::vector<char*> av, ev;
  for (auto& a : argv) av.push_back(a.data());
  av.push_back(nullptr);
  for (auto& e : envs) ev.push_back(e.data());
  ev.push_back(nullptr);
  std::fflush(nullptr);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    if (uid >= 0) {
      ::setgroups(0, nullptr);
      if (::setresgid(static_cast<gid_t>(uid), static_cast<gid_t>(uid), static_cast<gid_t>(uid)) !=
              0 ||
          ::setresuid(static_cast<uid_t>(uid), static_cast<uid_t>(uid), static_cast<uid_t>(uid)) !=
              0)
        ::_exit(126);
    }
    ::execve(av[0], av.data(), ev.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  result r;
  pollfd p[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sink[2] = {&r.out, &r.err};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int open_fds = 2;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    int n = ::poll(p, 2, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (int i = 0; i < 2; ++i) {
      if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      ssize_t k = ::read(p[i].fd, buf, sizeof buf);
      if (k > 0) {
        sink[i]->append(buf, static_cast<std::size_t>(k));
      } else if (k == 0 || errno != EINTR) {
        ::close(p[i].fd);
        p[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& q : p)
    if (q.fd >= 0) ::close(q.fd);
  auto st = shmtest::wait_child(pid, std::chrono::seconds(5));
  r.code = st.exited ? st.code : -1;
  return r;
}

/// Python with NumPy: runs `code` with sys.argv[1:] = args; its stdout.
shmtest::child_status python(const std::string& code, const std::vector<std::string>& args = {}) {
  std::vector<std::string> argv{"/usr/bin/python3", "-c", code};
  argv.insert(argv.end(), args.begin(), args.end());
  return shmtest::run_command(argv, std::chrono::seconds(120));
}

/// An error is one line on stderr, prefixed by the program name.
bool one_line_error(const result& r) {
  return !r.err.empty() && r.err.rfind("shmarray", 0) == 0 && r.err.find('\n') == r.err.size() - 1;
}

/// A directory for files, removed with everything in it.
struct temp_dir : shmtest::temp_dir {
  temp_dir() : shmtest::temp_dir("tool") {}
};

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << bytes;
  REQUIRE(f.good());
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

/// The names this test process makes all start with this: "shmt-<pid>-*".
std::string my_pattern() {
  return "shmt-" + std::to_string(::getpid()) + "-*";
}

/// A forked child that runs `setup` (in which it may allocate, attach, lock), says so through a
/// pipe and then waits to be killed. Returns its pid once it is ready (bounded: 30 s).
pid_t ready_child(const std::function<void()>& setup) {
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  std::fflush(nullptr);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    shmtest::reset_fatal_signals();
    ::close(fds[0]);
    try {
      setup();
      char c = 'r';
      if (::write(fds[1], &c, 1) != 1) ::_exit(2);
      for (;;) ::pause();
    } catch (...) {
      ::_exit(3);
    }
  }
  ::close(fds[1]);
  pollfd p{fds[0], POLLIN, 0};
  int r;
  do {
    r = ::poll(&p, 1, 30000);
  } while (r < 0 && errno == EINTR);
  char c = 0;
  const bool ready = r == 1 && ::read(fds[0], &c, 1) == 1 && c == 'r';
  ::close(fds[0]);
  if (!ready) {
    ::kill(pid, SIGKILL);
    shmtest::wait_child(pid, std::chrono::seconds(30));
  }
  REQUIRE(ready);
  return pid;
}

/// A segment whose creator is dead: a forked child allocates `name` (no manager), says so
/// through a pipe, and is SIGKILLed. Then it is reaped, so its pid is gone.
void make_orphan(const std::string& name) {
  pid_t pid = ready_child([&] {
    static auto a = shared_array<float>::allocate({5}, {name});  // outlives setup: never closed
    for (std::size_t i = 0; i < a.size(); ++i) a.data()[i] = static_cast<float>(i);
  });
  ::kill(pid, SIGKILL);
  auto st = shmtest::wait_child(pid, std::chrono::seconds(30));
  REQUIRE(st.signal == SIGKILL);
  REQUIRE(shm_exists(name));
}

/// The line of `text` that starts with `name` and a space ("" if none).
std::string line_of(const std::string& text, const std::string& name) {
  std::size_t at = text.rfind(name + " ", 0) == 0 ? 0 : text.find("\n" + name + " ");
  if (at == std::string::npos) return "";
  if (text[at] == '\n') ++at;
  return text.substr(at, text.find('\n', at) - at);
}

#define REQUIRE_TOOL()                        \
  if (::access(tool_path.c_str(), X_OK) != 0) \
  SHMTEST_SKIP(tool_path + " not built (configure with SHMARRAY_BUILD_TOOLS)")
#define REQUIRE_NUMPY()             \
  if (!shmtest::python_has_numpy()) \
  SHMTEST_SKIP("/usr/bin/python3 with NumPy not found (apt-get install python3-numpy)")

}  // namespace

TEST_CASE("usage errors exit 1 with one line on stderr, --help exits 0", "[tool][usage]") {
  REQUIRE_TOOL();
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"frobnicate"},
      {"info"},
      {"info", "a", "b"},
      {"rm"},
      {"save", "x"},
      {"save", "x", "y", "z"},
      {"load"},
      {"ls", "--bogus"},
      {"ls", "--json=yes"},
      {"info", "-n", "many", "x"},
      {"info", "--count"},
      {"info", "a/b"},
      {"info", ".."},
      {"load", "--mode", "999", "f.npy"},
      {"load", "--name=", "f.npy"},
      {"help", "frobnicate"},
  };
  for (const auto& args : bad) {
    result r = tool(args);
    std::string cmd;
    for (const auto& a : args) cmd += a + " ";
    INFO("shmarray " << cmd << "-> " << r.code << ", stderr: " << r.err);
    CHECK(r.code == 1);
    CHECK(one_line_error(r));
    CHECK(r.out.empty());
  }
  for (std::string c : {"ls", "info", "rm", "gc", "save", "load"}) {
    result r = tool({c, "--help"});
    CHECK(r.code == 0);
    CHECK(r.out.rfind("Usage: shmarray " + c, 0) == 0);
    CHECK(tool({"help", c}).out == r.out);
    CHECK(tool({c, "-h"}).out == r.out);
  }
  result h = tool({"--help"});
  CHECK(h.code == 0);
  CHECK(h.out.find("Exit codes") != std::string::npos);
  result v = tool({"--version"});
  CHECK(v.code == 0);
  CHECK(v.out.rfind("shmarray " + std::to_string(SHMARRAY_VERSION_MAJOR) + ".", 0) == 0);
  if (::geteuid() != 0) {
    result g = tool({"gc", "--all-users", my_pattern()});
    CHECK(g.code == 4);
    CHECK(one_line_error(g));
  }
}

TEST_CASE("ls and info describe segments made by the test", "[tool][ls][info]") {
  REQUIRE_TOOL();
  const std::string n1 = unique_name("f8"), n2 = unique_name("i4F"), n3 = unique_name("c8"),
                    n4 = unique_name("b1");
  auto a = shared_array<double>::allocate({3, 4}, {n1});
  for (std::size_t i = 0; i < a.size(); ++i) a.data()[i] = static_cast<double>(i) * 1.5;
  auto f = shared_array<std::int32_t>::allocate({2, 3}, {n2, 0600, true});
  auto fv = f.view<2, shmarray::layout_left>();
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 3; ++j) fv(i, j) = static_cast<std::int32_t>(10 * i + j);
  auto z = shared_array<std::complex<float>>::allocate({}, {n3});
  z.data()[0] = {1.0f, -2.5f};
  auto b = shared_array<bool>::allocate({3}, {n4});
  b.data()[1] = true;
  const std::string pid = std::to_string(::getpid());

  result ls = tool({"ls", my_pattern()});
  INFO(ls.out << ls.err);
  REQUIRE(ls.code == 0);
  CHECK(ls.err.empty());
  CHECK(ls.out.rfind("NAME", 0) == 0);
  std::string l1 = line_of(ls.out, n1);
  CHECK(l1.find("<f8") != std::string::npos);
  CHECK(l1.find("(3, 4)") != std::string::npos);
  CHECK(l1.find(" ready ") != std::string::npos);
  CHECK(l1.find(pid + " alive") != std::string::npos);
  CHECK(line_of(ls.out, n2).find("(2, 3)  F") != std::string::npos);
  CHECK(line_of(ls.out, n3).find("<c8") != std::string::npos);
  CHECK(line_of(ls.out, n4).find("|b1") != std::string::npos);
  // Another pattern lists nothing of ours.
  result none = tool({"ls", "shmt-" + pid + "-no-such-*"});
  CHECK(none.code == 0);
  CHECK(none.out.find("no shmarray segments") != std::string::npos);

  result info = tool({"info", n1});
  INFO(info.out << info.err);
  REQUIRE(info.code == 0);
  for (const std::string& want : std::vector<std::string>{
           "'<f8' (float64), 8 bytes per element", "(3, 4), 12 elements", "C (row-major)",
           "NPY format 1.0", "SHMARRAY, version 2", "pid " + pid + ", started at tick", ": alive",
           "data offset:  128", "data bytes:   96",
           "[0.0, 1.5, 3.0, 4.5, 6.0, 7.5, 9.0, 10.5, 12.0, 13.5, ...] (first 10 of 12",
           "mode 0600"})
    CHECK(info.out.find(want) != std::string::npos);
  CHECK(tool({"info", "-n", "2", n1}).out.find("[0.0, 1.5, ...] (first 2 of 12") !=
        std::string::npos);
  // Fortran order: elements in C index order, like numpy's a.flat.
  CHECK(tool({"info", n2}).out.find("[0, 1, 2, 10, 11, 12] (C index order)") != std::string::npos);
  CHECK(tool({"info", n3}).out.find("[(1-2.5j)]") != std::string::npos);
  CHECK(tool({"info", n4}).out.find("[False, True, False]") != std::string::npos);

  REQUIRE_NUMPY();
  result lj = tool({"ls", "--json", my_pattern()});
  REQUIRE(lj.code == 0);
  auto st = python(
      "import json, sys, os\n"
      "d = json.loads(sys.argv[1])\n"
      "assert d['shm_dir'] == '/dev/shm', d\n"
      "s = {e['name']: e for e in d['segments']}\n"
      "a, f, z, b = (s[n] for n in sys.argv[2:6])\n"
      "assert len(s) == 4, s.keys()\n"
      "assert a['dtype'] == '<f8' and a['shape'] == [3, 4] and a['fortran_order'] is False, a\n"
      "assert a['kind'] == 'shmarray' and a['published'] is True, a\n"
      "assert a['creator'] == 'alive' and a['creator_pid'] == int(sys.argv[6]), a\n"
      "assert a['uid'] == os.geteuid() and a['mode'] == '0600' and a['data_bytes'] == 96, a\n"
      "assert a['size'] == os.stat('/dev/shm/' + a['name']).st_size, a\n"
      "assert 0 <= a['age_seconds'] < 600, a\n"
      "assert f['fortran_order'] is True and f['dtype'] == '<i4', f\n"
      "assert z['shape'] == [] and z['dtype'] == '<c8', z\n"
      "assert b['dtype'] == '|b1', b\n"
      "print('ok')\n",
      {lj.out, n1, n2, n3, n4, pid});
  INFO(st.out);
  CHECK(st.ok());

  result ij = tool({"info", "--json", n2});
  REQUIRE(ij.code == 0);
  result zj = tool({"info", "--json", n3});
  REQUIRE(zj.code == 0);
  st = python(
      "import json, sys\n"
      "d = json.loads(sys.argv[1])\n"
      "h, t = d['header'], d['trailer']\n"
      "assert d['name'] == sys.argv[3] and d['kind'] == 'shmarray' and d['published'], d\n"
      "assert h == {'format_version': '1.0', 'descr': '<i4', 'shape': [2, 3],\n"
      "             'fortran_order': True, 'data_offset': 128, 'item_size': 4,\n"
      "             'data_bytes': 24}, h\n"
      "assert t['magic'] == 'SHMARRAY' and t['version'] == 2 and t['flags'] == 0, t\n"
      "assert t['creator_pid'] == int(sys.argv[4]) and t['creator'] == 'alive', t\n"
      "assert t['creator_start'] > 0 and t['offset'] == 192, t\n"
      "assert t['elem_size'] == 4 and t['data_offset'] == 128 and t['data_bytes'] == 24, t\n"
      "assert t['type_hash'].startswith('0x') and len(t['type_hash']) == 18, t\n"
      "assert d['count'] == 6 and d['elements'] == [0, 1, 2, 10, 11, 12], d\n"
      "z = json.loads(sys.argv[2])\n"
      "assert z['elements'] == [[1.0, -2.5]] and z['count'] == 1, z\n"
      "print('ok')\n",
      {ij.out, zj.out, n2, pid});
  INFO(st.out);
  CHECK(st.ok());
}

namespace tooltest {
struct Inner {
  std::uint8_t a;
  float b;
};
SHMARRAY_RECORD(Inner, a, b)
struct Particle {
  double x, y;
  std::int32_t id;
  double v[3];
  Inner in;
};
SHMARRAY_RECORD(Particle, x, y, id, v, in)
}  // namespace tooltest

TEST_CASE("Issue 13: ls, info, save and load show and carry a structured dtype",
          "[tool][ls][info][record]") {
  REQUIRE_TOOL();
  using tooltest::Particle;
  const std::string n = unique_name("rec");
  auto a = shared_array<Particle>::allocate({2}, {n});
  for (int i = 0; i < 2; ++i)
    a.data()[i] = {i + 0.5, -1.0 * i, 7 + i, {1, 2, 3.0 + i}, {static_cast<std::uint8_t>(i), 2.5f}};
  result ls = tool({"ls", my_pattern()});
  INFO(ls.out << ls.err);
  REQUIRE(ls.code == 0);
  CHECK(line_of(ls.out, n).find(" {x, y, id, v, in}  (2,) ") != std::string::npos);
  result info = tool({"info", n});
  INFO(info.out << info.err);
  REQUIRE(info.code == 0);
  for (
      const std::string& want : std::vector<std::string>{
          "'" + shmarray::npy::descr<Particle>() + "' (structured: 5 fields), 56 bytes per element",
          "field x:      '<f8' (float64) at offset 0\n",
          "field id:     '<i4' (int32) at offset 16\n",
          "field v:      '<f8' (float64), shape (3,), at offset 24\n",
          "field in:     a structure of 2 fields, 8 bytes, at offset 48\n",
          "field in.b:   '<f4' (float32) at offset 52\n",
          "[(0.5, -0.0, 7, [1.0, 2.0, 3.0], (0, 2.5)), (1.5, -1.0, 8, [1.0, 2.0, 4.0], (1, 2.5))]"})
    CHECK(info.out.find(want) != std::string::npos);
  // save writes the structured header NumPy reads; load makes a segment attach<Particle> takes.
  shmtest::temp_dir dir("toolrec");
  REQUIRE(tool({"save", n, dir / "p.npy"}).code == 0);
  auto back = shared_array<Particle>::load(dir / "p.npy");
  CHECK(back.data()[1].v[2] == 4.0);
  const std::string m = unique_name("recload");
  shm_eraser er(m);
  REQUIRE(tool({"load", "--name", m, dir / "p.npy"}).code == 0);
  CHECK(shared_array<const Particle>::attach(m).data()[1].in.a == 1);
  REQUIRE_NUMPY();
  result ij = tool({"info", "--json", n});
  REQUIRE(ij.code == 0);
  auto st = python(
      "import json, sys\n"
      "import numpy as np\n"
      "d = json.loads(sys.argv[1])\n"
      "f = d['header']['fields']\n"
      "assert [e['name'] for e in f] == ['x', 'y', 'id', 'v', 'in'], f\n"
      "assert f[3] == {'name': 'v', 'descr': '<f8', 'offset': 24, 'shape': [3]}, f\n"
      "assert f[4]['fields'][1] == {'name': 'b', 'descr': '<f4', 'offset': 4, 'shape': []}, f\n"
      "e = d['elements'][1]\n"
      "assert e == {'x': 1.5, 'y': -1.0, 'id': 8, 'v': [1.0, 2.0, 4.0],\n"
      "             'in': {'a': 1, 'b': 2.5}}, e\n"
      "a = np.load(sys.argv[2])\n"
      "assert a.dtype.names == ('x', 'y', 'id', 'v', 'in') and a['v'][1, 2] == 4.0, a\n"
      "print('ok')\n",
      {ij.out, dir / "p.npy"});
  INFO(st.out);
  CHECK(st.ok());
}

TEST_CASE("info shows the generation and the lock: free, held by a live process, dead holder",
          "[tool][info][sync][fork]") {
  REQUIRE_TOOL();
  const std::string n = unique_name("sync");
  auto a = shared_array<std::int32_t>::allocate({4}, {n});
  for (int i = 0; i < 3; ++i) a.notify();
  result free = tool({"info", n});
  INFO(free.out << free.err);
  REQUIRE(free.code == 0);
  CHECK(free.out.find("generation:   3\n") != std::string::npos);
  CHECK(free.out.find("lock:         free\n") != std::string::npos);

  // A child takes the lock and says so; info sees it held by that live process.
  pid_t holder = ready_child([&] {
    static auto b = shared_array<std::int32_t>::attach(n);  // outlives setup: the child pauses
    b.lock();
  });
  const std::string hp = std::to_string(holder);
  result held = tool({"info", n});
  INFO(held.out << held.err);
  CHECK(held.out.find("lock:         held (by pid " + hp + ", thread " + hp + ": alive)") !=
        std::string::npos);
  result hj = tool({"info", "--json", n});
  CHECK(hj.out.find("\"lock\": {\"held\": true, \"holder_pid\": " + hp) != std::string::npos);

  // Killed holding it: free, and the next locker will be told.
  ::kill(holder, SIGKILL);
  REQUIRE(shmtest::wait_child(holder, std::chrono::seconds(30)).signal == SIGKILL);
  result dead = tool({"info", n});
  INFO(dead.out << dead.err);
  CHECK(dead.out.find("lock:         free; its last holder (pid " + hp +
                      ") died holding it: the next locker is told") != std::string::npos);
  a.lock();
  CHECK(a.lock_recovered());
  a.unlock();
  CHECK(tool({"info", n}).out.find("lock:         free; taken from a dead holder 1 time\n") !=
        std::string::npos);
  if (shmtest::python_has_numpy()) {
    auto st = python(
        "import json, sys\n"
        "d = json.loads(sys.argv[1])['sync']\n"
        "assert d['generation'] == 3 and d['updating'] is False, d\n"
        "assert d['offset'] == 192 + 64, d\n"
        "l = d['lock']\n"
        "assert l['held'] is False and l['owner_died'] is False and l['recoveries'] == 1, l\n"
        "print('ok')\n",
        {tool({"info", "--json", n}).out});
    INFO(st.out);
    CHECK(st.ok());
  }
}

TEST_CASE("unpublished segments, and a reused pid is not the creator", "[tool][ls][gc]") {
  REQUIRE_TOOL();
  const std::string n = unique_name("unpub");
  auto a = shared_array<double>::allocate({4}, {n});
  {
    int fd = ::open(("/dev/shm/" + n).c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    char zero = 0;
    REQUIRE(::pwrite(fd, &zero, 1, 0) == 1);
    ::close(fd);
  }
  result ls = tool({"ls", my_pattern()});
  CHECK(line_of(ls.out, n).find(" unpublished ") != std::string::npos);
  result info = tool({"info", n});
  CHECK(info.code == 0);
  CHECK(info.out.find("unpublished (byte 0 is 0") != std::string::npos);
  temp_dir dir;
  result save = tool({"save", n, dir / "x.npy"});  // waits a second, then gives up
  CHECK(save.code == 3);
  CHECK(one_line_error(save));
  CHECK(save.err.find("not published") != std::string::npos);
  CHECK(!std::filesystem::exists(dir / "x.npy"));

  // The trailer names this process, but with another start time: the pid was "reused".
  const std::string m = unique_name("reused");
  auto b = shared_array<float>::allocate({3}, {m});
  {
    int fd = ::open(("/dev/shm/" + m).c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    const auto at = static_cast<off_t>(b.segment_size() - sizeof(shmarray::detail::sync_block) -
                                       64 + offsetof(shmarray::detail::trailer, creator_start));
    std::uint64_t start = 0;
    REQUIRE(::pread(fd, &start, sizeof start, at) == sizeof start);
    CHECK(start == shmarray::detail::self_start_time());
    start += 1;
    REQUIRE(::pwrite(fd, &start, sizeof start, at) == sizeof start);
    ::close(fd);
  }
  ls = tool({"ls", my_pattern()});
  CHECK(ls.out.find(std::to_string(::getpid()) + " dead") != std::string::npos);
  result gc = tool({"gc", my_pattern()});
  INFO(gc.out << gc.err);
  CHECK(gc.code == 0);
  CHECK(gc.out.find("removed " + m + " (creator pid") != std::string::npos);
  CHECK(gc.out.find(n) == std::string::npos);  // unpublished, but its creator (us) is alive
  CHECK(!shm_exists(m));
  CHECK(shm_exists(n));
}

TEST_CASE("gc removes segments whose creator was SIGKILLed and keeps live ones",
          "[tool][gc][fork]") {
  REQUIRE_TOOL();
  const std::string dead = unique_name("dead"), live = unique_name("live");
  shm_eraser erase_dead(dead);
  make_orphan(dead);
  auto keep = shared_array<double>::allocate({2}, {live});

  result ls = tool({"ls", my_pattern()});
  INFO(ls.out << ls.err);
  CHECK(line_of(ls.out, dead).find(" ready ") != std::string::npos);
  CHECK(line_of(ls.out, dead).find(" dead ") != std::string::npos);
  CHECK(ls.out.find(std::to_string(::getpid()) + " alive") != std::string::npos);

  result dry = tool({"gc", "--dry-run", my_pattern()});
  INFO(dry.out << dry.err);
  CHECK(dry.code == 0);
  CHECK(dry.out.find("would remove " + dead + " (creator pid") != std::string::npos);
  CHECK(dry.out.find(live) == std::string::npos);
  CHECK(dry.out.find("would remove 1 segment,") != std::string::npos);
  CHECK(shm_exists(dead));
  CHECK(shm_exists(live));
  CHECK(tool({"gc", "-n", my_pattern()}).out == dry.out);

  result gc = tool({"gc", my_pattern()});
  INFO(gc.out << gc.err);
  CHECK(gc.code == 0);
  CHECK(gc.err.empty());
  CHECK(gc.out.find("removed " + dead) != std::string::npos);
  CHECK(gc.out.find("removed 1 segment,") != std::string::npos);
  CHECK(!shm_exists(dead));
  CHECK(shm_exists(live));
  CHECK(tool({"gc", my_pattern()}).out == "removed 0 segments, 0 B\n");
  CHECK(keep.data()[0] == 0.0);

  if (::geteuid() == 0) {
    // Only the caller's own segments, unless --all-users.
    const std::string other = unique_name("other-user");
    shm_eraser erase_other(other);
    make_orphan(other);
    REQUIRE(::chown(("/dev/shm/" + other).c_str(), 65534, 65534) == 0);
    CHECK(tool({"gc", my_pattern()}).out == "removed 0 segments, 0 B\n");
    CHECK(shm_exists(other));
    result all = tool({"gc", "--all-users", my_pattern()});
    CHECK(all.code == 0);
    CHECK(all.out.find("removed " + other) != std::string::npos);
    CHECK(!shm_exists(other));
  }
}

TEST_CASE("rm removes segments and refuses anything else unless --force", "[tool][rm]") {
  REQUIRE_TOOL();
  const std::string foreign = unique_name("foreign"), seg = unique_name("seg"),
                    copy = unique_name("npycopy"), empty = unique_name("empty");
  shm_eraser e1(foreign), e2(copy), e3(empty);
  write_file("/dev/shm/" + foreign, "hello, I am not an array\n");
  write_file("/dev/shm/" + copy,
             read_file(std::string(SHMARRAY_TEST_SOURCE_DIR) + "/data/int32_1d.npy"));
  write_file("/dev/shm/" + empty, "");
  auto a = shared_array<std::uint8_t>::allocate({16}, {seg});

  result r = tool({"rm", foreign});
  INFO(r.err);
  CHECK(r.code == 3);
  CHECK(one_line_error(r));
  CHECK(r.err.find("not a shmarray segment") != std::string::npos);
  CHECK(r.err.find("--force") != std::string::npos);
  CHECK(shm_exists(foreign));
  CHECK(tool({"rm", copy}).code == 3);  // a plain .npy file: no trailer, not ours
  CHECK(tool({"rm", empty}).code == 3);
  CHECK(shm_exists(copy));

  // ls hides them; ls --all shows what they are.
  result ls = tool({"ls", my_pattern()});
  CHECK(ls.out.find(seg) != std::string::npos);
  CHECK(ls.out.find(foreign) == std::string::npos);
  result all = tool({"ls", "--all", my_pattern()});
  CHECK(line_of(all.out, foreign).find(" foreign ") != std::string::npos);
  CHECK(line_of(all.out, copy).find(" npy ") != std::string::npos);
  CHECK(line_of(all.out, empty).find(" empty ") != std::string::npos);
  result info = tool({"info", foreign});
  CHECK(info.code == 3);
  CHECK(one_line_error(info));
  CHECK(tool({"info", copy}).out.find("trailer:        none") != std::string::npos);

  result missing = tool({"rm", unique_name("missing")});
  CHECK(missing.code == 2);
  CHECK(one_line_error(missing));
  CHECK(missing.err.find("no such segment") != std::string::npos);

  // Every name is tried; the first failure sets the exit code.
  result both = tool({"rm", foreign, seg});
  CHECK(both.code == 3);
  CHECK(!shm_exists(seg));
  CHECK(shm_exists(foreign));

  CHECK(tool({"rm", "--force", foreign, copy}).code == 0);
  CHECK(tool({"rm", "-f", empty}).code == 0);
  CHECK(!shm_exists(foreign));
  CHECK(!shm_exists(copy));
  CHECK(!shm_exists(empty));
}

TEST_CASE("save writes .npy files that NumPy reads", "[tool][save][numpy]") {
  REQUIRE_TOOL();
  temp_dir dir;
  auto a = shared_array<double>::allocate({3, 4}, {unique_name("save")});
  for (std::size_t i = 0; i < a.size(); ++i) a.data()[i] = static_cast<double>(i) * 1.5;
  auto f = shared_array<std::int16_t>::allocate({2, 3, 4}, {unique_name("saveF"), 0600, true});
  auto fv = f.view<3, shmarray::layout_left>();
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 3; ++j)
      for (std::size_t k = 0; k < 4; ++k)
        fv(i, j, k) = static_cast<std::int16_t>(100 * i + 10 * j + k);
  auto z = shared_array<std::complex<double>>::allocate({}, {unique_name("save0d")});
  z.data()[0] = {3.0, -4.0};
  for (auto* s : {&a.name(), &f.name(), &z.name()}) {
    result r = tool({"save", *s, dir / (*s + ".npy")});
    INFO(r.err);
    CHECK(r.code == 0);
    CHECK(r.out.empty());
  }
  CHECK(tool({"save", unique_name("missing"), dir / "m.npy"}).code == 2);
  CHECK(tool({"save", a.name(), dir / "no/such/dir/x.npy"}).code == 2);
  const std::string foreign = unique_name("foreign");
  shm_eraser ef(foreign);
  write_file("/dev/shm/" + foreign, "not an array");
  result bad = tool({"save", foreign, dir / "f.npy"});
  CHECK(bad.code == 3);
  CHECK(one_line_error(bad));
  // No temporary files left next to the targets.
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path)) {
    (void)e;
    ++files;
  }
  CHECK(files == 3);

  REQUIRE_NUMPY();
  auto st = python(
      "import numpy as np, sys\n"
      "a = np.load(sys.argv[1])\n"
      "assert a.dtype == np.float64 and a.shape == (3, 4), a\n"
      "assert (a == np.arange(12).reshape(3, 4) * 1.5).all(), a\n"
      "f = np.load(sys.argv[2])\n"
      "assert f.dtype == np.int16 and f.shape == (2, 3, 4) and f.flags['F_CONTIGUOUS'], f\n"
      "i, j, k = np.indices((2, 3, 4))\n"
      "assert (f == 100 * i + 10 * j + k).all(), f\n"
      "z = np.load(sys.argv[3])\n"
      "assert z.shape == () and z.dtype == np.complex128 and z == 3 - 4j, z\n"
      "print('ok')\n",
      {dir / (a.name() + ".npy"), dir / (f.name() + ".npy"), dir / (z.name() + ".npy")});
  INFO(st.out);
  CHECK(st.ok());
}

TEST_CASE("load makes a segment that outlives the tool, for C++ and NumPy", "[tool][load][numpy]") {
  REQUIRE_TOOL();
  REQUIRE_NUMPY();
  temp_dir dir;
  auto st = python(
      "import numpy as np, sys, os\n"
      "d = sys.argv[1]\n"
      "np.save(os.path.join(d, 'f4F.npy'), np.asfortranarray(np.arange(24, dtype='<f4')"
      ".reshape(2, 3, 4)))\n"
      "np.save(os.path.join(d, 'i8_0d.npy'), np.array(-42, dtype='<i8'))\n"
      "np.save(os.path.join(d, 'c16.npy'), np.array([1+2j, -3.5j], dtype='<c16'))\n"
      "np.save(os.path.join(d, 'b1.npy'), np.array([True, False, True]))\n"
      "np.save(os.path.join(d, 'u2.npy'), np.arange(5, dtype='<u2') * 1000)\n"
      "np.save(os.path.join(d, 'V12.npy'), np.frombuffer(bytes(range(36)), dtype='V12'))\n"
      "np.save(os.path.join(d, 'be_i4.npy'), np.array([1, 258, -3], dtype='>i4'))\n"
      "np.save(os.path.join(d, 'empty.npy'), np.zeros((0, 3)))\n"
      "print('ok')\n",
      {dir.path});
  REQUIRE(st.ok());
  const std::vector<std::string> files = {"f4F", "i8_0d", "c16",   "b1",
                                          "u2",  "V12",   "be_i4", "empty"};
  std::vector<std::string> names;
  std::vector<std::unique_ptr<shm_eraser>> erasers;
  for (const auto& f : files) {
    std::string n = unique_name("load-" + f);
    erasers.push_back(std::make_unique<shm_eraser>(n));
    result r = tool({"load", "--name", n, dir / (f + ".npy")});
    INFO(f << ": " << r.err);
    REQUIRE(r.code == 0);
    CHECK(r.out == n + "\n");
    CHECK(shm_exists(n));  // the tool has exited; the segment stays
    names.push_back(n);
  }
  // C++ attaches the native types.
  auto f4 = shared_array<float>::attach(names[0]);
  CHECK(f4.fortran_order());
  CHECK(f4.shape() == shmarray::shape_type{2, 3, 4});
  CHECK(f4.view<3, shmarray::layout_left>()(1, 2, 3) == 23.0f);
  auto i8 = shared_array<const std::int64_t>::attach(names[1]);
  CHECK(i8.shape().empty());
  CHECK(i8.data()[0] == -42);
  auto c16 = shared_array<std::complex<double>>::attach(names[2]);
  CHECK(c16.data()[1] == std::complex<double>(0, -3.5));
  auto b1 = shared_array<bool>::attach(names[3]);
  CHECK((b1.data()[0] && !b1.data()[1] && b1.data()[2]));
  auto u2 = shared_array<std::uint16_t>::attach(names[4]);
  CHECK(u2.data()[4] == 4000);
  CHECK(shared_array<double>::attach(names[7]).shape() == shmarray::shape_type{0, 3});
  // A big-endian file keeps its byte order: C++ on a little-endian host refuses it as int32.
  try {
    shared_array<std::int32_t>::attach(names[6]);
    CHECK(!shmarray::npy::detail::little_endian);
  } catch (const shmarray::error& e) {
    CHECK(e.kind() == shmarray::errc::type_mismatch);
  }
  // NumPy reads every one from /dev/shm as it read the file.
  std::vector<std::string> args{dir.path};
  for (std::size_t i = 0; i < files.size(); ++i) {
    args.push_back(dir / (files[i] + ".npy"));
    args.push_back("/dev/shm/" + names[i]);
  }
  st = python(
      "import numpy as np, sys\n"
      "a = sys.argv[2:]\n"
      "for src, shm in zip(a[0::2], a[1::2]):\n"
      "    x, y = np.load(src), np.load(shm, mmap_mode='r')\n"
      "    assert x.dtype == y.dtype and x.shape == y.shape, (src, x.dtype, y.dtype)\n"
      "    assert x.flags['F_CONTIGUOUS'] == y.flags['F_CONTIGUOUS'] or x.ndim < 2, src\n"
      "    assert x.tobytes() == y.tobytes(), src\n"
      "print('ok')\n",
      args);
  INFO(st.out);
  CHECK(st.ok());

  // The tool's own segments are detached: gc does not take the tool's exit for a crash.
  result ls = tool({"ls", my_pattern()});
  CHECK(ls.out.find(" detached ") != std::string::npos);
  CHECK(ls.out.find(" dead ") == std::string::npos);
  CHECK(tool({"gc", my_pattern()}).out == "removed 0 segments, 0 B\n");
  CHECK(tool({"info", names[5]}).out.find("0x000102030405060708090a0b, 0x0c0d") !=
        std::string::npos);
  CHECK(tool({"info", names[6]}).out.find("[1, 258, -3]") != std::string::npos);

  // A taken name is exit code 6; the segment is untouched.
  result taken = tool({"load", "--name", names[1], dir / "u2.npy"});
  CHECK(taken.code == 6);
  CHECK(one_line_error(taken));
  CHECK(i8.data()[0] == -42);

  // A generated name; --mode sets the permissions exactly.
  result gen = tool({"load", "--mode", "0640", dir / "u2.npy"});
  REQUIRE(gen.code == 0);
  std::string g = gen.out.substr(0, gen.out.size() - 1);
  shm_eraser eg(g);
  CHECK(g.size() == shmarray::generated_name_length);
  CHECK(g.rfind("shmarray-", 0) == 0);
  struct stat sb {};
  REQUIRE(::stat(("/dev/shm/" + g).c_str(), &sb) == 0);
  CHECK((sb.st_mode & 07777) == 0640);
  CHECK(shared_array<std::uint16_t>::attach(g).data()[3] == 3000);

  // Format 3.0 fixture, through to C++.
  std::string v3 = unique_name("v3");
  shm_eraser ev3(v3);
  REQUIRE(tool({"load", std::string(SHMARRAY_TEST_SOURCE_DIR) + "/data/float64_3d_v3.npy", "--name",
                v3})
              .code == 0);
  auto d3 = shared_array<double>::attach(v3, {2, 3, 4});
  CHECK(d3.data()[23] == 23.0);

  // rm removes what load made.
  CHECK(tool({"rm", v3}).code == 0);
  CHECK(!shm_exists(v3));
}

TEST_CASE("bad files are one-line errors with exit code 3 and leave no segment",
          "[tool][load][format]") {
  REQUIRE_TOOL();
  temp_dir dir;
  const std::string good =
      read_file(std::string(SHMARRAY_TEST_SOURCE_DIR) + "/data/float64_3d.npy");
  REQUIRE(good.size() == 128 + 24 * 8);
  std::string wrong_magic = good;
  wrong_magic[1] = 'X';
  std::string truncated = good.substr(0, good.size() - 8);
  std::string lying = good;  // header length says 0xffff bytes follow
  lying[8] = '\xff';
  lying[9] = '\xff';
  std::string pickled = good.substr(0, 10);
  {
    std::string dict = "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }";
    dict.append(128 - 10 - dict.size() - 1, ' ');
    dict += '\n';
    pickled[8] = static_cast<char>(dict.size());
    pickled[9] = 0;
    pickled += dict + std::string(16, '\0');
  }
  const std::vector<std::pair<std::string, std::string>> cases = {{"wrong_magic", wrong_magic},
                                                                  {"truncated", truncated},
                                                                  {"lying", lying},
                                                                  {"pickled", pickled},
                                                                  {"empty", ""},
                                                                  {"text", "hello\n"}};
  for (const auto& c : cases) {
    write_file(dir / (c.first + ".npy"), c.second);
    const std::string n = unique_name("bad");
    shm_eraser e(n);
    result r = tool({"load", "--name", n, dir / (c.first + ".npy")});
    INFO(c.first << ": " << r.code << " " << r.err);
    CHECK(r.code == 3);
    CHECK(one_line_error(r));
    CHECK(r.out.empty());
    CHECK(!shm_exists(n));
  }
  CHECK(tool({"load", dir / "truncated.npy"}).err.find("truncated") != std::string::npos);
  result missing = tool({"load", dir / "missing.npy"});
  CHECK(missing.code == 2);
  CHECK(one_line_error(missing));
  CHECK(tool({"load", dir.path}).code == 3);  // a directory

  // A segment whose header promises more data than the file holds.
  const std::string seg = unique_name("shortseg");
  shm_eraser es(seg);
  write_file("/dev/shm/" + seg, truncated);
  result info = tool({"info", seg});
  CHECK(info.code == 3);
  CHECK(one_line_error(info));
  CHECK(info.err.find("truncated") != std::string::npos);
  CHECK(tool({"save", seg, dir / "out.npy"}).code == 3);
}

TEST_CASE("permission denied is exit code 4", "[tool][permissions]") {
  REQUIRE_TOOL();
  if (::geteuid() == 0) {
    // Root's private segment, seen by 'nobody'.
    auto a = shared_array<double>::allocate({4}, {unique_name("private")});
    shmtest::temp_dir dir("shmt-perm",
                          "/tmp");  // reachable by 'nobody': only the segment is forbidden
    ::chmod(dir.path.c_str(), 0777);
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"info", a.name()}, {"rm", a.name()}, {"save", a.name(), dir / "x.npy"}}) {
      result r = tool(args, {}, 65534);
      INFO(args[0] << ": " << r.code << " " << r.err);
      CHECK(r.code == 4);
      CHECK(one_line_error(r));
      CHECK(r.err.find("permission denied") != std::string::npos);
    }
    CHECK(shm_exists(a.name()));
    result gc = tool({"gc", "--all-users"}, {}, 65534);
    CHECK(gc.code == 4);
    CHECK(one_line_error(gc));
  } else {
    auto a = shared_array<double>::allocate({4}, {unique_name("mode000"), 0});
    result r = tool({"info", a.name()});
    CHECK(r.code == 4);
    CHECK(one_line_error(r));
  }
}

TEST_CASE("SHMARRAY_SHM_DIR points the tool at another directory", "[tool][dir]") {
  REQUIRE_TOOL();
  temp_dir shm;
  const std::vector<std::string> env{"SHMARRAY_SHM_DIR=" + shm.path};
  result l = tool(
      {"load", "--name", "seg", std::string(SHMARRAY_TEST_SOURCE_DIR) + "/data/int32_3d.npy"}, env);
  REQUIRE(l.code == 0);
  REQUIRE(std::filesystem::exists(shm / "seg"));
  write_file(shm / "junk", "junk");
  write_file(shm / "nl\nname", "x");
  std::filesystem::create_directory(shm / "subdir");
  result ls = tool({"ls"}, env);
  CHECK(ls.out.find("seg ") != std::string::npos);
  CHECK(ls.out.find("junk") == std::string::npos);
  result all = tool({"ls", "--all"}, env);
  INFO(all.out);
  CHECK(line_of(all.out, "junk").find(" foreign ") != std::string::npos);
  CHECK(line_of(all.out, "nl\\x0aname").find(" foreign ") != std::string::npos);  // terminal-safe
  CHECK(line_of(all.out, "subdir").find(" foreign ") != std::string::npos);
  CHECK(tool({"info", "seg"}, env).out.find("[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ...]") !=
        std::string::npos);
  CHECK(tool({"rm", "subdir"}, env).code == 3);
  CHECK(tool({"rm", "seg"}, env).code == 0);
  CHECK(!std::filesystem::exists(shm / "seg"));
  CHECK(tool({"ls"}, env).out == "no shmarray segments in " + shm.path + "\n");
}

TEST_CASE("info says how much of a segment is on huge pages", "[tool][info][huge]") {
  REQUIRE_TOOL();
  const std::string on = unique_name("huge"), off = unique_name("small");
  shmarray::create_options o{on};
  o.huge_pages = shmarray::huge_pages::prefer;
  auto h = shared_array<double>::allocate({(std::size_t{5} << 20) / 8}, o);
  shmarray::create_options p{off};
  p.huge_pages = shmarray::huge_pages::off;
  auto s = shared_array<double>::allocate({(std::size_t{5} << 20) / 8}, p);
  result ri = tool({"info", on});
  INFO(ri.out << ri.err);
  REQUIRE(ri.code == 0);
  const std::string want = std::to_string(h.huge_page_bytes()) + " bytes (";
  CHECK(line_of(ri.out, "huge pages:").find(want) != std::string::npos);
  if (h.huge_page_bytes() > 0)
    CHECK(line_of(ri.out, "  flags:").find("(huge") != std::string::npos);
  result so = tool({"info", off});
  CHECK(line_of(so.out, "huge pages:").find(" 0 bytes (") != std::string::npos);
  CHECK(line_of(so.out, "  flags:").find("(huge") == std::string::npos);
  result j = tool({"info", "--json", on});
  INFO(j.out);
  CHECK(j.out.find("\"huge_page_bytes\": " + std::to_string(h.huge_page_bytes())) !=
        std::string::npos);
}

// ---- Issue 13: NumPy 1.24's .npy rules in the tool ---------------------------------------------

TEST_CASE(
    "Issue 13: info, save and load refuse a header longer than max_header_size unless "
    "--max-header-size raises it",
    "[tool][issue13]") {
  REQUIRE_TOOL();
  temp_dir dir;
  // Three int64s after a 10006-byte header (data offset 10016): NumPy refuses it by default.
  std::string text = "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }";
  text.append(10006 - text.size() - 1, ' ');
  text += '\n';
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(text.size() & 0xff);
  bytes += static_cast<char>(text.size() >> 8);
  bytes += text;
  for (std::int64_t v : {5, -6, 7}) bytes.append(reinterpret_cast<const char*>(&v), 8);
  const std::string seg = unique_name("longhdr");
  shm_eraser es(seg);
  shmtest::write_raw_segment(seg, bytes);
  write_file(dir / "long.npy", bytes);

  result info = tool({"info", seg});
  INFO(info.err);
  CHECK(info.code == 3);
  CHECK(one_line_error(info));
  CHECK(info.err.find("10006 bytes long") != std::string::npos);
  CHECK(info.err.find("max_header_size = 10000 (NumPy") != std::string::npos);
  CHECK(info.err.find("--max-header-size") != std::string::npos);
  result raised = tool({"info", "--max-header-size", "10006", seg});
  INFO(raised.err);
  CHECK(raised.code == 0);
  CHECK(raised.out.find("'<i8'") != std::string::npos);
  CHECK(raised.out.find("[5, -6, 7]") != std::string::npos);
  CHECK(raised.out.find("data offset:  10016") != std::string::npos);

  result save = tool({"save", seg, dir / "out.npy"});
  CHECK(save.code == 3);
  CHECK(save.err.find("--max-header-size") != std::string::npos);
  CHECK(!std::filesystem::exists(dir / "out.npy"));
  CHECK(tool({"save", "--max-header-size=20000", seg, dir / "out.npy"}).code == 0);
  CHECK(shared_array<std::int64_t>::load(dir / "out.npy").data()[1] == -6);  // a short header now

  const std::string n = unique_name("longload");
  shm_eraser en(n);
  result load = tool({"load", "--name", n, dir / "long.npy"});
  CHECK(load.code == 3);
  CHECK(one_line_error(load));
  CHECK(load.err.find("load '" + (dir / "long.npy") + "'") != std::string::npos);
  CHECK(load.err.find("--max-header-size") != std::string::npos);
  CHECK(!shm_exists(n));
  REQUIRE(tool({"load", "--max-header-size", "10006", "--name", n, dir / "long.npy"}).code == 0);
  CHECK(shared_array<std::int64_t>::attach(n).data()[2] ==
        7);  // default limit: its header is short

  result bad = tool({"info", "--max-header-size", "lots", seg});
  CHECK(bad.code == 1);
  CHECK(one_line_error(bad));
  // ls sees a file it cannot read as a segment; the reason says why.
  result ls = tool({"ls", "--all", "--json", my_pattern()});
  CHECK(ls.out.find("10006 bytes long") != std::string::npos);

  if (!shmtest::python_has_numpy()) SHMTEST_SKIP("the NumPy half: /usr/bin/python3 with NumPy");
  auto st = python(
      "import numpy as np, sys\n"
      "try:\n"
      "    np.load(sys.argv[1]); sys.exit('NumPy read it')\n"
      "except ValueError as e:\n"
      "    assert 'max_header_size' in str(e)\n"
      "assert list(np.load(sys.argv[1], max_header_size=10006)) == [5, -6, 7]\n"
      "assert list(np.load(sys.argv[2])) == [5, -6, 7]\n",
      {dir / "long.npy", dir / "out.npy"});
  INFO(st.out);
  CHECK(st.ok());
}

TEST_CASE(
    "Issue 13: ls and info list valid .npy files of the dtypes NumPy writes, in NumPy's "
    "spelling",
    "[tool][issue13][numpy]") {
  REQUIRE_TOOL();
  REQUIRE_NUMPY();
  const std::vector<std::string> dtypes = {"S3",  "<U2", "<M8[ns]", "<m8[s]", ">c16",
                                           "<f2", "|V4", ">i4",     "<f16"};
  std::vector<std::string> names;
  std::vector<std::unique_ptr<shm_eraser>> erasers;
  std::string code = "import numpy as np, sys\n";
  for (std::size_t i = 0; i < dtypes.size(); ++i) {
    names.push_back(unique_name("dt" + std::to_string(i)));
    erasers.push_back(std::make_unique<shm_eraser>(names.back()));
    code += "np.save(open('/dev/shm/" + names.back() + "', 'wb'), np.zeros(2, dtype='" + dtypes[i] +
            "'))\n";
  }
  // Hand-made headers NumPy reads: no byte order ('f8'), and 'b', which is int8.
  for (const char* d : {"f8", "b"}) {
    names.push_back(unique_name(std::string("hand-") + d));
    erasers.push_back(std::make_unique<shm_eraser>(names.back()));
    code += "t = \"{'descr': '" + std::string(d) +
            "', 'fortran_order': False, 'shape': (2,), }\".ljust(117) + '\\n'\n"
            "open('/dev/shm/" +
            names.back() +
            "', 'wb').write(b'\\x93NUMPY\\x01\\x00\\x76\\x00' + t.encode() + bytes(16))\n"
            "assert np.load('/dev/shm/" +
            names.back() + "').shape == (2,)\n";
  }
  auto st = python(code);
  INFO(code << st.out);
  REQUIRE(st.ok());
  result ls = tool({"ls", "--all", my_pattern()});
  INFO(ls.out << ls.err);
  CHECK(ls.code == 0);
  const std::vector<std::string> shown = {"|S3", "<U2", "<M8[ns]", "<m8[s]", ">c16", "<f2",
                                          "|V4", ">i4", "<f16",    "<f8",    "|i1"};
  for (std::size_t i = 0; i < names.size(); ++i) {
    INFO(names[i]);
    const std::string line = line_of(ls.out, names[i]);
    CHECK(line.find(" npy ") != std::string::npos);
    CHECK(line.find(" " + shown[i] + " ") != std::string::npos);
    result info = tool({"info", names[i]});
    CHECK(info.code == 0);
    CHECK(info.out.find("'" + shown[i] + "'") != std::string::npos);
  }
  CHECK(tool({"info", names[dtypes.size() + 1]}).out.find("(int8)") != std::string::npos);
  CHECK(shared_array<double>::attach(names[dtypes.size()]).size() == 2);
}
