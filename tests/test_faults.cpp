// Fault injection with real processes and the real /dev/shm: owners killed with SIGKILL in the
// middle of allocate/copy, a /dev/shm that fills up during a copy, creators racing for one name,
// attachers racing a creator, broken and hostile segments (truncated, lying headers, garbage,
// directories, FIFOs, symlinks, another user's), bad names and shapes, permissions under every
// umask, and the randomness of generated names. SHMARRAY_STRESS=1 raises the trial counts.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <shmarray/shmarray.hpp>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

using namespace std::chrono_literals;
using shmarray::errc;
using shmarray::shape_type;
using shmarray::shared_array;
using shmtest::count_dir;
using shmtest::error_of;
using shmtest::shm_eraser;
using shmtest::shm_exists;
using shmtest::shm_with_prefix;
using shmtest::stress;
using shmtest::unique_name;
using shmtest::write_raw_segment;

namespace {
int trials(int ci, int stressed) {
  return stress() ? stressed : ci;
}

// The bytes of /dev/shm/<name>.
std::string read_segment(const std::string& name) {
  std::string out;
  int fd = ::open(("/dev/shm/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

// A header NumPy would write, data of `data_bytes` zero bytes, and nothing else.
std::string npy_segment(const std::string& descr, const shape_type& shape, std::size_t data_bytes) {
  return shmarray::npy::write_header(descr, false, shape) + std::string(data_bytes, '\0');
}

// A hand-made .npy header (format 1.0) around an arbitrary dict, padded to 64 bytes.
std::string raw_header(const std::string& dict) {
  std::string d = dict;
  while ((10 + d.size() + 1) % 64 != 0) d += ' ';
  d += '\n';
  std::string h("\x93NUMPY\x01\x00", 8);
  h += static_cast<char>(d.size() & 0xff);
  h += static_cast<char>((d.size() >> 8) & 0xff);
  return h + d;
}

// Reads one byte from fd, waiting at most `bound`. False on timeout or EOF.
bool read_byte(int fd, char& c, std::chrono::milliseconds bound) {
  pollfd p{fd, POLLIN, 0};
  int r;
  do {
    r = ::poll(&p, 1, static_cast<int>(bound.count()));
  } while (r < 0 && errno == EINTR);
  if (r <= 0) return false;
  ssize_t n;
  do {
    n = ::read(fd, &c, 1);
  } while (n < 0 && errno == EINTR);
  return n == 1;
}

struct pipe_pair {
  int r = -1, w = -1;
  pipe_pair() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    r = fds[0];
    w = fds[1];
  }
  pipe_pair(const pipe_pair&) = delete;
  pipe_pair& operator=(const pipe_pair&) = delete;
  void close_r() {
    if (r >= 0) ::close(r);
    r = -1;
  }
  void close_w() {
    if (w >= 0) ::close(w);
    w = -1;
  }
  ~pipe_pair() {
    close_r();
    close_w();
  }
};

// Runs `fn` in a forked child that first waits for EOF on `gate` (the parent closes its write end
// to release every gated child at once). The child closes its copy of the write end first.
pid_t fork_gated(pipe_pair& gate, const std::function<int()>& fn) {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    shmtest::reset_fatal_signals();
    gate.close_w();
    char c;
    while (::read(gate.r, &c, 1) < 0 && errno == EINTR) {
    }
    int code = 3;
    try {
      code = fn();
    } catch (...) {
    }
    ::_exit(code);
  }
  return pid;
}

}  // namespace

// ---- SIGKILL of an owner ---------------------------------------------------------------------

TEST_CASE("SIGKILL of a manager's owner at random points in allocate/copy leaves no segment",
          "[faults][kill]") {
  const int n_trials = trials(24, 200);
  std::mt19937_64 rng(std::random_device{}());
  int survivors_total = 0, killed = 0, exited_early = 0;
  for (int trial = 0; trial < n_trials; ++trial) {
    const std::string prefix = unique_name("kill") + "-";
    pipe_pair progress;
    const unsigned seed = static_cast<unsigned>(rng());
    std::fflush(nullptr);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      shmtest::reset_fatal_signals();
      progress.close_r();
      std::mt19937 crng(seed);
      shmarray::manager m;  // default options: crash cleanup on
      std::vector<shared_array<double>> kept;
      std::vector<double> src(std::size_t{1} << 19, 1.5);  // 4 MiB
      for (int i = 0; i < 64; ++i) {
        if (::write(progress.w, "p", 1) != 1) ::_exit(4);
        const std::string name = prefix + std::to_string(i);
        const std::size_t n = 1 + crng() % src.size();
        switch (crng() % 4) {
          case 0: kept.push_back(shared_array<double>::allocate(m, {n}, {name})); break;
          case 1: {
            auto a = shared_array<double>::copy(
                m, shmarray::mdspan<double, shmarray::dextents<std::size_t, 1>>(src.data(), n),
                {name});
            kept.push_back(std::move(a));
            break;
          }
          case 2: (void)shared_array<double>::copy(m, src, {name}); break;  // closed at once
          default: {
            auto a = shared_array<float>::allocate(m, {n / 2 + 1, 2}, {name});
            a.data()[0] = 1;
            break;
          }
        }
      }
      ::_exit(0);  // not reached in a normal trial: the parent kills us first
    }
    progress.close_w();
    // Let the child get through a random number of operations, then kill it at a random instant
    // inside the next one (a random spin, not a wait for anything).
    const int ops = 1 + static_cast<int>(rng() % 6);
    bool alive = true;
    for (int k = 0; k < ops && alive; ++k) {
      char c;
      alive = read_byte(progress.r, c, 30s);
    }
    const auto spin = std::chrono::microseconds(rng() % 3000);
    const auto until = std::chrono::steady_clock::now() + spin;
    while (std::chrono::steady_clock::now() < until) {
    }
    ::kill(pid, SIGKILL);
    auto st = shmtest::wait_child(pid, 30s);
    if (st.signal == SIGKILL)
      ++killed;
    else
      ++exited_early;
    // The tracker unlinks the dead owner's segments within about a second.
    bool clean = shmtest::eventually([&] { return shm_with_prefix(prefix).empty(); }, 5s);
    auto left = shm_with_prefix(prefix);
    for (const auto& n : left) ::shm_unlink(n.c_str());
    survivors_total += static_cast<int>(left.size());
    INFO("trial " << trial << ": " << left.size() << " segments left, first "
                  << (left.empty() ? std::string("-") : left.front()));
    CHECK(clean);
  }
  WARN("SIGKILL trials: " << n_trials << " (" << killed << " killed mid-operation, " << exited_early
                          << " ended otherwise), segments left: " << survivors_total);
  CHECK(survivors_total == 0);
  CHECK(killed > 0);
}

// ---- /dev/shm full ---------------------------------------------------------------------------

TEST_CASE("a /dev/shm that fills up during copies is no_space, never SIGBUS, nothing left",
          "[faults][nospace]") {
  auto st = shmtest::in_small_dev_shm("1m", [] {
    int bad = 0;
    // 1. A large copy that cannot fit: no_space at creation, nothing left.
    std::vector<double> big(std::size_t{1} << 20, 2.0);  // 8 MiB
    try {
      (void)shared_array<double>::copy(big);
      return 10;
    } catch (const shmarray::error& e) {
      if (e.kind() != errc::no_space) return 11;
    }
    if (count_dir("/dev/shm") != 2) return 12;
    {
      shmarray::manager m;
      if (error_of([&] { (void)shared_array<double>::copy(m, big, {"managed-big"}); }) !=
          errc::no_space)
        return 13;
      if (!m.names().empty()) return 14;  // the failed name is not tracked any more
    }
    if (count_dir("/dev/shm") != 2) return 15;
    // 2. Copies of 96 KiB until the tmpfs is full: each one that succeeds holds its data, the
    //    one that fails is no_space and leaves nothing.
    std::vector<std::int32_t> chunk(24 * 1024);
    std::vector<shared_array<std::int32_t>> kept;
    bool full = false;
    for (int i = 0; i < 64 && !full; ++i) {
      for (std::size_t k = 0; k < chunk.size(); ++k) chunk[k] = static_cast<std::int32_t>(k) + i;
      try {
        kept.push_back(shared_array<std::int32_t>::copy(chunk));
      } catch (const shmarray::error& e) {
        if (e.kind() != errc::no_space) return 20;
        full = true;
      }
    }
    if (!full) return 21;
    if (count_dir("/dev/shm") != 2 + kept.size()) return 22;
    for (std::size_t i = 0; i < kept.size(); ++i)
      for (std::size_t k = 0; k < chunk.size(); k += 997)
        if (kept[i].data()[k] != static_cast<std::int32_t>(k + i)) bad = 23;
    kept.clear();
    if (count_dir("/dev/shm") != 2) return 24;
    return bad;
  });
  if (st.exited && st.code == 77) {
    SHMTEST_SKIP("cannot make a private mount namespace here (needs root / CAP_SYS_ADMIN)");
  }
  CHECK(st.signal == 0);
  CHECK(st.code == 0);
}

TEST_CASE("copies racing a process that fills /dev/shm: data intact or no_space, never SIGBUS",
          "[faults][nospace]") {
  const int rounds = trials(6, 40);
  for (int round = 0; round < rounds; ++round) {
    auto st = shmtest::in_small_dev_shm("1m", [] {
      // A sibling fills /dev/shm through a plain file, 4 KiB at a time, while this process copies.
      pipe_pair go;
      pid_t filler = fork_gated(go, [] {
        int fd = ::open("/dev/shm/filler", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0) return 1;
        std::vector<char> page(4096, 'f');
        while (::write(fd, page.data(), page.size()) == static_cast<ssize_t>(page.size())) {
        }
        ::close(fd);
        return 0;
      });
      std::vector<double> src(32 * 1024);  // 256 KiB
      for (std::size_t k = 0; k < src.size(); ++k) src[k] = static_cast<double>(k);
      go.close_w();  // releases the filler
      std::vector<shared_array<double>> kept;
      int bad = 0, no_space = 0;
      for (int i = 0; i < 16; ++i) {
        try {
          kept.push_back(shared_array<double>::copy(src));
        } catch (const shmarray::error& e) {
          if (e.kind() == errc::no_space)
            ++no_space;
          else
            bad = 30;
        }
      }
      if (!shmtest::wait_child(filler, 30s).ok()) bad = 31;
      for (auto& a : kept)
        for (std::size_t k = 0; k < src.size(); k += 101)
          if (a.data()[k] != src[k]) bad = 32;
      if (no_space == 0) bad = 33;  // 16 x 256 KiB cannot all fit in 1 MiB
      kept.clear();
      ::unlink("/dev/shm/filler");
      if (count_dir("/dev/shm") != 2) bad = 34;
      return bad;
    });
    if (st.exited && st.code == 77) {
      SHMTEST_SKIP("cannot make a private mount namespace here (needs root / CAP_SYS_ADMIN)");
    }
    INFO("round " << round);
    CHECK(st.signal == 0);
    CHECK(st.code == 0);
  }
}

// ---- Races -----------------------------------------------------------------------------------

TEST_CASE("N processes creating the same name at once: exactly one wins", "[faults][race]") {
  const int rounds = trials(20, 200);
  constexpr int n = 8;
  for (int round = 0; round < rounds; ++round) {
    const std::string name = unique_name("race");
    shm_eraser er(name);
    pipe_pair release, results, done;
    std::vector<pid_t> pids;
    for (int i = 0; i < n; ++i) {
      pids.push_back(fork_gated(release, [&, i] {
        char r = 'X';
        shared_array<std::int64_t> a;
        try {
          std::vector<std::int64_t> v(4096, i);
          a = (i % 2) ? shared_array<std::int64_t>::copy(v, {name})
                      : shared_array<std::int64_t>::allocate({4096}, {name});
          a.data()[0] = i;
          r = 'W';
        } catch (const shmarray::error& e) {
          r = e.kind() == errc::already_exists ? 'E' : 'X';
        }
        if (::write(results.w, &r, 1) != 1) return 5;
        done.close_w();
        char c;
        while (::read(done.r, &c, 1) > 0) {  // hold the segment until every racer has tried
        }
        a.close();
        return 0;
      }));
    }
    release.close_w();  // EOF releases all of them at once
    results.close_w();
    int won = 0, lost = 0, other = 0;
    for (int i = 0; i < n; ++i) {
      char c = 0;
      REQUIRE(read_byte(results.r, c, 30s));
      if (c == 'W')
        ++won;
      else if (c == 'E')
        ++lost;
      else
        ++other;
    }
    // While the winner still holds it, the segment is whole.
    CHECK(shared_array<std::int64_t>::attach(name, {4096}).size() == 4096);
    done.close_w();
    for (pid_t p : pids) CHECK(shmtest::wait_child(p, 30s).ok());
    INFO("round " << round);
    CHECK(won == 1);
    CHECK(lost == n - 1);
    CHECK(other == 0);
    CHECK_FALSE(shm_exists(name));
  }
}

TEST_CASE("attach racing creation waits and sees the whole array, or is not_ready",
          "[faults][race]") {
  const int rounds = trials(60, 1000);
  int waited_ok = 0, not_found_first = 0, not_ready = 0;
  std::vector<double> src(64 * 1024);  // 512 KiB: the copy takes a while
  for (std::size_t k = 0; k < src.size(); ++k) src[k] = static_cast<double>(k) * 0.5 + 1;
  for (int round = 0; round < rounds; ++round) {
    const std::string name = unique_name("ready");
    shm_eraser er(name);
    pipe_pair go, created, hold;
    pid_t pid = fork_gated(go, [&] {
      auto a = shared_array<double>::copy(src, {name});
      if (::write(created.w, "c", 1) != 1) return 5;
      hold.close_w();
      char c;
      while (::read(hold.r, &c, 1) > 0) {
      }
      a.close();
      return 0;
    });
    created.close_w();
    go.close_w();
    bool attached = false;
    auto deadline = std::chrono::steady_clock::now() + 30s;
    bool saw_not_found = false;
    while (!attached && std::chrono::steady_clock::now() < deadline) {
      try {
        shmarray::attach_options o;
        o.ready_timeout = 10s;
        auto run = [&](auto b) {
          REQUIRE(b.size() == src.size());
          REQUIRE(b.shape() == shape_type{src.size()});
          bool same = std::equal(b.begin(), b.end(), src.begin());
          CHECK(same);  // never a half-written array
        };
        if (round % 2)
          run(shared_array<const double>::attach(name, o));
        else
          run(shared_array<double>::attach(name, o));
        attached = true;
      } catch (const shmarray::error& e) {
        if (e.kind() == errc::not_found) {
          saw_not_found = true;
          continue;
        }
        INFO(e.what());
        CHECK(e.kind() == errc::not_ready);
        ++not_ready;
        break;
      }
    }
    char c;
    CHECK(read_byte(created.r, c, 30s));
    hold.close_w();
    CHECK(shmtest::wait_child(pid, 30s).ok());
    if (attached) ++waited_ok;
    if (saw_not_found) ++not_found_first;
  }
  WARN("attach racing creation: " << rounds << " rounds, " << waited_ok << " attached ("
                                  << not_found_first << " after not_found), " << not_ready
                                  << " not_ready");
  CHECK(waited_ok + not_ready == rounds);
}

TEST_CASE("an attacher never reads a half-written header: unpublished bytes are not_ready",
          "[faults][race]") {
  // A creator writes the header but byte 0 before the file has its size (segment::create), then
  // data and trailer in any order, and publishes last: at every step, attach with no wait is
  // not_ready (byte 0 still zero) and never anything else.
  std::string name = unique_name("halfwritten");
  shm_eraser er(name);
  const std::string header = shmarray::npy::write_header("<f8", false, {16});
  auto full = header + std::string(16 * 8, '\x01');
  write_raw_segment(name, std::string(full.size(), '\0'));
  int fd = ::shm_open(name.c_str(), O_RDWR, 0);
  REQUIRE(fd >= 0);
  shmarray::attach_options o;
  o.ready_timeout = 0ms;
  // Issue 13 (9): all zeros is no segment being made -- bad_format at once, whatever the wait.
  CHECK(error_of([&] { shared_array<double>::attach(name, o); }) == errc::bad_format);
  REQUIRE(::pwrite(fd, header.data() + 1, header.size() - 1, 1) ==
          static_cast<ssize_t>(header.size() - 1));
  for (std::size_t i = full.size(); i-- > header.size();) {
    REQUIRE(::pwrite(fd, &full[i], 1, static_cast<off_t>(i)) == 1);
    if (i % 7 == 0 || i < header.size() + 16)
      CHECK(error_of([&] { shared_array<double>::attach(name, o); }) == errc::not_ready);
  }
  REQUIRE(::pwrite(fd, &full[0], 1, 0) == 1);
  ::close(fd);
  CHECK(shared_array<double>::attach(name, o).size() == 16);
}

// ---- Broken and hostile segments ----------------------------------------------------------------

TEST_CASE("lying, truncated and garbage segments are bad_format", "[faults][format]") {
  const std::string good = shmarray::npy::write_header("<f8", false, {1000});
  struct broken {
    const char* what;
    std::string bytes;
  };
  std::string v2_huge("\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12);  // claims 2 GiB of header
  std::string v1_long = good.substr(0, 8) + "\xff\xff" + good.substr(10);
  std::vector<broken> cases = {
      {"one byte", "\x93"},
      {"magic only", std::string("\x93NUMPY", 6)},
      {"prefix only", good.substr(0, 10)},
      {"header claims 64 KiB", v1_long + std::string(8000, '\0')},
      {"2.0 header claims 2 GiB", v2_huge + std::string(200, ' ')},
      {"shape claims more data than there is", npy_segment("<f8", {1000}, 7999)},
      {"shape claims far more (1e15 elements)", npy_segment("<f8", {1000000, 1000000000}, 64)},
      {"shape overflows size_t", raw_header("{'descr': '<f8', 'fortran_order': False, 'shape': "
                                            "(18446744073709551615, 2), }") +
                                     std::string(64, '\0')},
      {"dimension with 30 digits",
       raw_header(
           "{'descr': '<f8', 'fortran_order': False, 'shape': (123456789012345678901234567890,"
           "), }")},
      {"negative dimension",
       raw_header("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }") + "xxxxxxxx"},
      {"rank 33", raw_header("{'descr': '<f8', 'fortran_order': False, 'shape': (" +
                             [] {
                               std::string s;
                               for (int i = 0; i < 33; ++i) s += "1, ";
                               return s;
                             }() +
                             "), }") +
                      std::string(8, '\0')},
      {"version 4.0", "\x93NUMPY\x04" + good.substr(7) + std::string(8000, '\0')},
      {"no closing brace", raw_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), ") +
                               std::string(8, '\0')},
      {"missing key", raw_header("{'descr': '<f8', 'shape': (1,), }") + std::string(8, '\0')},
      {"repeated key",
       raw_header("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (1,), }") +
           std::string(8, '\0')},
      {"structured descr that is not a dtype",
       raw_header("{'descr': [('a', '<f3')], 'fortran_order': False, 'shape': (1,), }") +
           std::string(8, '\0')},
      {"NUL inside the dict", raw_header(std::string("{'descr': '<f\0', 'fortran_order': False, "
                                                     "'shape': (1,), }",
                                                     46)) +
                                  std::string(8, '\0')},
      {"garbage", std::string(4096, '\xa5')},
      {"garbage after magic",
       std::string("\x93NUMPY\x01\x00\x40\x00", 10) + std::string(64, '\x7f')},
  };
  // A trailer that disagrees with the header (as a corrupted or hostile segment would have).
  {
    auto a = shared_array<double>::allocate({8});
    std::string bytes = read_segment(a.name());
    REQUIRE(bytes.size() == a.segment_size());
    // trailer.data_offset (the sync block follows the trailer)
    bytes[bytes.size() - sizeof(shmarray::detail::sync_block) - 64 + 48] ^= 0x40;
    cases.push_back({"trailer disagrees with the header", bytes});
  }
  std::size_t tried = 0;
  for (auto& c : cases) {
    INFO(c.what);
    std::string name = unique_name("lie");
    shm_eraser er(name);
    write_raw_segment(name, c.bytes);
    shmarray::attach_options o;
    o.ready_timeout = 20ms;
    CHECK(error_of([&] { shared_array<double>::attach(name, o); }) == errc::bad_format);
    CHECK(error_of([&] { shared_array<const double>::attach(name, o); }) == errc::bad_format);
    tried += 2;
  }
  // A zero-length file: the creator died before sizing it. bad_format after the wait.
  std::string zero = unique_name("zerolen");
  shm_eraser er(zero);
  write_raw_segment(zero, "");
  shmarray::attach_options o;
  o.ready_timeout = 5ms;
  CHECK(error_of([&] { shared_array<double>::attach(zero, o); }) == errc::bad_format);
  CHECK(error_of([&] { shared_array<double>::attach_raw(zero, {1}, o); }) == errc::shape_mismatch);
  WARN("broken segments: " << tried + 2 << " attaches of " << cases.size() + 1
                           << " broken segments, all refused");
}

TEST_CASE("a segment truncated or grown after creation: attach sees the real size",
          "[faults][format][security]") {
  std::string name = unique_name("resized");
  auto a = shared_array<double>::allocate({1000}, {name});
  const std::size_t full = a.segment_size();
  int fd = ::shm_open(name.c_str(), O_RDWR, 0);
  REQUIRE(fd >= 0);
  // Truncated: the header still claims 8000 bytes of data; attach must measure, not trust.
  REQUIRE(::ftruncate(fd, 4096) == 0);
  CHECK(error_of([&] { shared_array<double>::attach(name); }) == errc::bad_format);
  CHECK(error_of([&] { shared_array<double>::attach_raw(name, {1000}); }) == errc::shape_mismatch);
  // Grown: still valid; the handle maps (and reports) what is there now.
  REQUIRE(::ftruncate(fd, static_cast<off_t>(full + 8192)) == 0);
  auto b = shared_array<double>::attach(name);
  CHECK(b.size() == 1000);
  CHECK(b.segment_size() == full + 8192);
  ::close(fd);
}

TEST_CASE("a directory, a FIFO or a symlink where a segment should be is refused, never a hang",
          "[faults][format][security]") {
  std::string dir = unique_name("dir"), fifo = unique_name("fifo"), link = unique_name("link");
  std::string target = unique_name("target");
  REQUIRE(::mkdir(("/dev/shm/" + dir).c_str(), 0700) == 0);
  REQUIRE(::mkfifo(("/dev/shm/" + fifo).c_str(), 0600) == 0);
  auto t = shared_array<double>::allocate({4}, {target});
  REQUIRE(::symlink(target.c_str(), ("/dev/shm/" + link).c_str()) == 0);
  struct cleanup {
    std::string d, f, l;
    ~cleanup() {
      ::rmdir(("/dev/shm/" + d).c_str());
      ::unlink(("/dev/shm/" + f).c_str());
      ::unlink(("/dev/shm/" + l).c_str());
    }
  } cl{dir, fifo, link};
  // In a child, bounded: opening a FIFO for reading would block forever without O_NONBLOCK.
  for (const auto& n : {dir, fifo, link}) {
    for (int ro = 0; ro < 2; ++ro) {
      INFO(n << (ro ? " read-only" : " read-write"));
      auto st = shmtest::run_in_child(
          [&] {
            shmarray::attach_options o;
            o.ready_timeout = 10ms;
            errc e = ro ? error_of([&] { shared_array<const double>::attach(n, o); })
                        : error_of([&] { shared_array<double>::attach(n, o); });
            errc r = error_of([&] { shared_array<double>::attach_raw(n, {1}, o); });
            if (e == errc{} || r == errc{}) return 1;  // attached to something that is no segment
            // A directory or FIFO is not a segment: bad_format. A symlink is never followed
            // (O_NOFOLLOW): the OS error ELOOP, reported as system_error.
            bool is_link = n == cl.l;
            errc want = is_link ? errc::system_error : errc::bad_format;
            if (e != want) return 10 + static_cast<int>(e);
            return 0;
          },
          10s);
      CHECK_FALSE(st.timed_out);
      CHECK(st.code == 0);
    }
  }
  // The planted names block creation: allocate never reuses what someone else put there.
  CHECK(error_of([&] { shared_array<double>::allocate({1}, {fifo}); }) == errc::already_exists);
  CHECK(error_of([&] { shared_array<double>::allocate({1}, {link}); }) == errc::already_exists);
}

TEST_CASE("a name swapped between a segment and a FIFO never blocks a read-only attach",
          "[faults][format][security]") {
  // Another process swaps the name between a real segment and a FIFO (renameat2 RENAME_EXCHANGE,
  // atomic) while this one attaches read-only. A check on the name followed by a blocking open
  // could pass the check on the segment and then open the FIFO, and wait forever for a writer;
  // the open itself must not block (O_NONBLOCK) and fstat on what was opened must decide.
  std::string name = unique_name("swap"), other = unique_name("swapfifo");
  shm_eraser er_name(name), er_other(other);
  auto owner = shared_array<double>::allocate({16}, {name});
  REQUIRE(::mkfifo(("/dev/shm/" + other).c_str(), 0600) == 0);
  const std::string a_path = "/dev/shm/" + name, b_path = "/dev/shm/" + other;
  auto st = shmtest::run_in_child(
      [&] {
        std::atomic<bool> stop{false};
        std::atomic<long> swaps{0};
        std::thread swapper([&] {
          while (!stop.load(std::memory_order_relaxed)) {
            if (::renameat2(AT_FDCWD, a_path.c_str(), AT_FDCWD, b_path.c_str(), RENAME_EXCHANGE) !=
                0)
              break;
            swaps.fetch_add(1, std::memory_order_relaxed);
          }
        });
        int segments = 0, fifos = 0, other_errors = 0;
        shmarray::attach_options o;
        o.ready_timeout = 10ms;
        for (int i = 0; i < 4000; ++i) {
          errc e = error_of([&] { shared_array<const double>::attach(name, o); });
          if (e == errc{})
            ++segments;
          else if (e == errc::bad_format)
            ++fifos;
          else
            ++other_errors;
        }
        stop = true;
        swapper.join();
        std::printf("swaps %ld, attached %d, refused as no segment %d, other errors %d\n",
                    swaps.load(), segments, fifos, other_errors);
        if (swaps.load() == 0) return 77;  // no RENAME_EXCHANGE here: nothing was tested
        if (other_errors != 0) return 2;
        return segments > 0 && fifos > 0 ? 0 : 4;  // both sides of the race were seen
      },
      30s);
  if (st.code == 77) {
    SHMTEST_SKIP("renameat2(RENAME_EXCHANGE) is not supported on /dev/shm here");
  }
  CHECK_FALSE(st.timed_out);
  CHECK(st.code == 0);
}

TEST_CASE("segments created by another uid are refused unless allowed", "[faults][security]") {
  if (::geteuid() != 0) {
    SHMTEST_SKIP("needs root to act as another uid");
  }
  std::string name = unique_name("planted");
  shm_eraser er(name);
  // A real other user (nobody, 65534) creates the segment, world-readable and -writable, as an
  // attacker pre-creating a name a victim will attach to would. The child leaves with _exit, so
  // its handle never unlinks.
  auto st = shmtest::run_in_child([&] {
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) return 2;
    auto a = shared_array<double>::allocate_unsafe({4}, {name, 0666});
    a.data()[0] = 666;
    ::_exit(0);  // no destructor: the segment stays, as a planted one would
  });
  REQUIRE(st.ok());
  struct stat sb {};
  REQUIRE(::stat(("/dev/shm/" + name).c_str(), &sb) == 0);
  REQUIRE(sb.st_uid == 65534u);
  CHECK(error_of([&] { shared_array<double>::attach(name); }) == errc::permission_denied);
  CHECK(error_of([&] { shared_array<const double>::attach(name); }) == errc::permission_denied);
  CHECK(error_of([&] { shared_array<double>::attach_raw(name, {4}); }) == errc::permission_denied);
  shmarray::attach_options o;
  o.allow_foreign_owner = true;
  CHECK(shared_array<double>::attach(name, o).data()[0] == 666);
  // The same check in an unprivileged process (uid 1000) facing the nobody-owned segment.
  auto st2 = shmtest::run_in_child([&] {
    if (::setgroups(0, nullptr) != 0 || ::setgid(1000) != 0 || ::setuid(1000) != 0) return 2;
    if (error_of([&] { shared_array<double>::attach(name); }) != errc::permission_denied) return 3;
    return shared_array<double>::attach(name, o).data()[0] == 666 ? 0 : 4;
  });
  CHECK(st2.ok());
  // And the creator cannot be tricked the other way: allocating the planted name fails.
  CHECK(error_of([&] { shared_array<double>::allocate({4}, {name}); }) == errc::already_exists);
}

TEST_CASE("a mode 000 segment made by another user is permission_denied even when allowed",
          "[faults][security]") {
  if (::geteuid() != 0) {
    SHMTEST_SKIP("needs root to act as another uid");
  }
  std::string name = unique_name("m000");
  auto a = shared_array<double>::allocate({2}, {name, 0});
  auto st = shmtest::run_in_child([&] {
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) return 2;
    shmarray::attach_options o;
    o.allow_foreign_owner = true;
    errc rw = error_of([&] { shared_array<double>::attach(name, o); });
    errc ro = error_of([&] { shared_array<const double>::attach(name, o); });
    return rw == errc::permission_denied && ro == errc::permission_denied ? 0 : 1;
  });
  CHECK(st.ok());
}

// ---- Names and shapes
// ------------------------------------------------------------------------------

TEST_CASE("bad names are invalid_argument everywhere, before any system call", "[faults][names]") {
  std::string nonascii_255, nonascii_256;
  while (nonascii_255.size() < 255) nonascii_255 += "\xc3\xa9";  // é: two bytes
  nonascii_255.resize(253);
  nonascii_255 = "n" + nonascii_255 + "x";  // 255 bytes, valid UTF-8
  nonascii_256 = nonascii_255 + "y";
  const std::vector<std::string> bad = {
      std::string("/"),       std::string("//"),     std::string("a/"),      std::string("\0", 1),
      std::string("x\0y", 3), std::string(256, 'x'), std::string(4096, 'x'), nonascii_256,
      std::string("."),       std::string(".."),
  };
  shmarray::manager m(shmarray::manager_options{false});
  std::size_t fds = count_dir("/proc/self/fd");
  for (const auto& n : bad) {
    INFO("name of " << n.size() << " bytes");
    CHECK(error_of([&] { shared_array<double>::allocate({1}, {n}); }) == errc::invalid_argument);
    CHECK(error_of([&] { shared_array<double>::allocate(m, {1}, {n}); }) == errc::invalid_argument);
    CHECK(error_of([&] { shared_array<double>::copy(std::vector<double>{1}, {n}); }) ==
          errc::invalid_argument);
    CHECK(error_of([&] { shared_array<double>::attach(n); }) == errc::invalid_argument);
    CHECK(error_of([&] { shared_array<double>::attach_raw(n, {1}); }) == errc::invalid_argument);
  }
  CHECK(error_of([] { shared_array<double>::attach(""); }) == errc::invalid_argument);
  CHECK(m.names().empty());
  CHECK(count_dir("/proc/self/fd") == fds);
  // The limits themselves work: 255 bytes of non-ASCII, and odd but legal characters.
  for (const std::string& good :
       {nonascii_255.substr(0, 200) + unique_name("u").substr(0, 55), unique_name("sp ace\ttab"),
        unique_name("new\nline"), unique_name("\xe6\x97\xa5\xe6\x9c\xac"), unique_name("-..-")}) {
    INFO(good);
    std::string n = good.substr(0, 255);
    shm_eraser er(n);
    auto a = shared_array<std::uint8_t>::allocate({3}, {n});
    CHECK(shared_array<std::uint8_t>::attach(n).size() == 3);
  }
}

TEST_CASE("shapes that overflow or exceed rank 32 are refused everywhere", "[faults][shapes]") {
  const std::size_t half = std::size_t{1} << 32;
  const std::vector<shape_type> bad = {
      {SIZE_MAX},         {SIZE_MAX / 8 + 1},     {half, half},
      {half, half, 0, 2}, {std::size_t{1} << 61}, shape_type(33, 1),
      shape_type(64, 2),  shape_type(1000, 1),
  };
  shmarray::manager m(shmarray::manager_options{false});
  // Named, so that "nothing was created" can be checked without counting all of /dev/shm (other
  // test programs run next to this one).
  const std::string name = unique_name("shape");
  shm_eraser er(name);
  for (const auto& s : bad) {
    INFO("rank " << s.size() << " first " << s.front());
    // {half, half, 0, 2} has no elements but its partial products overflow: refused too.
    CHECK(error_of([&] { shared_array<double>::allocate(s, {name}); }) == errc::invalid_argument);
    CHECK(error_of([&] { shared_array<double>::allocate(m, s, {name}); }) ==
          errc::invalid_argument);
    CHECK(error_of([&] { shared_array<double>::attach_raw(name, s); }) == errc::invalid_argument);
    CHECK_FALSE(shm_exists(name));
  }
  CHECK(m.names().empty());
  // A shape that fits size_t but not memory is no_space (or invalid_argument), never a crash.
  errc huge = error_of([&] { shared_array<double>::allocate({std::size_t{1} << 50}, {name}); });
  CHECK((huge == errc::no_space || huge == errc::invalid_argument));
  CHECK_FALSE(shm_exists(name));
}

// ---- Permissions and names: security ---------------------------------------------------------

TEST_CASE("permissions are exactly as asked under any umask, for every factory",
          "[faults][security]") {
  int checked = 0;
  for (mode_t mask : {mode_t{0777}, mode_t{0277}, mode_t{0007}, mode_t{0002}}) {
    for (unsigned mode : {0u, 0200u, 0604u, 0660u, 0644u, 0700u, 0777u}) {
      mode_t old = ::umask(mask);
      shmarray::manager m(shmarray::manager_options{false});
      std::string n1 = unique_name("pa"), n2 = unique_name("pc"), n3 = unique_name("pm");
      auto a = shared_array<float>::allocate({4}, {n1, mode});
      auto c = shared_array<float>::copy(std::vector<float>{1, 2}, {n2, mode});
      auto d = shared_array<float>::allocate(m, {4}, {n3, mode});
      auto g = shared_array<float>::allocate({4}, {"", mode});
      ::umask(old);
      for (const auto& n : {n1, n2, n3, g.name()}) {
        struct stat st {};
        REQUIRE(::stat(("/dev/shm/" + n).c_str(), &st) == 0);
        INFO("umask 0" << std::oct << mask << " mode 0" << mode << " " << n);
        CHECK((st.st_mode & 07777) == mode);
        CHECK(st.st_uid == ::geteuid());
        ++checked;
      }
    }
  }
  // The default is 0600 whatever the umask.
  mode_t old = ::umask(0);
  auto def = shared_array<float>::allocate({1});
  ::umask(old);
  struct stat st {};
  REQUIRE(::stat(("/dev/shm/" + def.name()).c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(checked == 4 * 7 * 4);
}

TEST_CASE("generated names: 10,000 without a duplicate, hex digits uniform", "[faults][names]") {
  const int n = trials(10000, 100000);
  std::set<std::string> seen;
  std::array<long, 16> digits{};
  for (int i = 0; i < n; ++i) {
    std::string s = shmarray::detail::generate_name();
    REQUIRE(s.size() == shmarray::generated_name_length);
    REQUIRE(s.rfind("shmarray-", 0) == 0);
    for (std::size_t k = 9; k < s.size(); ++k) {
      const char c = s[k];
      REQUIRE(((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')));
      ++digits[static_cast<std::size_t>(c <= '9' ? c - '0' : c - 'a' + 10)];
    }
    seen.insert(std::move(s));
  }
  CHECK(seen.size() == static_cast<std::size_t>(n));
  // Chi-square over the 16 digits (15 degrees of freedom): 37.7 is the p = 0.001 critical value;
  // 60 leaves no room for flakiness and still catches a biased or stuck source.
  const double expected = static_cast<double>(n) * 16 / 16;
  double chi2 = 0;
  for (long d : digits)
    chi2 += (static_cast<double>(d) - expected) * (static_cast<double>(d) - expected) / expected;
  INFO("chi-square " << chi2);
  CHECK(chi2 < 60.0);
  // Every position varies (no constant digit hiding in the middle).
  std::set<char> first, last;
  for (const auto& s : seen) {
    first.insert(s[9]);
    last.insert(s.back());
  }
  CHECK(first.size() == 16);
  CHECK(last.size() == 16);
}

TEST_CASE(
    "Issue 13: attach of a zero-filled segment (multiprocessing.shared_memory) is bad_format at "
    "once, naming attach_raw, not not_ready after the whole timeout",
    "[faults][issue13]") {
  shmarray::attach_options o;
  o.ready_timeout = 20s;
  auto check_fast_bad_format = [&](const std::string& name) {
    const auto t0 = std::chrono::steady_clock::now();
    std::string what;
    errc got{};
    try {
      shared_array<double>::attach(name, o);
    } catch (const shmarray::error& e) {
      got = e.kind();
      what = e.what();
    }
    const auto waited = std::chrono::steady_clock::now() - t0;
    INFO(what);
    CHECK(got == errc::bad_format);
    CHECK(shmtest::contains(what, "attach_raw"));
    CHECK(shmtest::contains(what, name));
    CHECK(waited < o.ready_timeout / 2);  // it did not wait for a creator that does not exist
  };
  SECTION("made here: 4096 zero bytes") {
    const std::string name = unique_name("zeros");
    shm_eraser er(name);
    write_raw_segment(name, std::string(4096, '\0'));
    check_fast_bad_format(name);
  }
  SECTION("made by Python's multiprocessing.shared_memory") {
    const std::string name = unique_name("pyshm");
    shm_eraser er(name);
    auto py = shmtest::run_command(
        {"/usr/bin/python3", "-c",
         "import sys\nfrom multiprocessing import shared_memory, resource_tracker\n"
         "m = shared_memory.SharedMemory(name=sys.argv[1], create=True, size=8000)\n"
         "resource_tracker.unregister(m._name, 'shared_memory')\nm.close()\nprint('made')\n",
         name},
        std::chrono::seconds(60));
    if (!py.ok() || !shmtest::contains(py.out, "made"))
      SHMTEST_SKIP("python3 could not make the segment");
    REQUIRE(shm_exists(name));
    check_fast_bad_format(name);
    // attach_raw is the way in, as the message says.
    auto raw = shared_array<const double>::attach_raw(name, {1000});
    CHECK(raw.size() == 1000);
    CHECK(raw.data()[999] == 0.0);
  }
}

TEST_CASE(
    "Issue 13: attach waits for a creator in progress whose file grows from its header to its "
    "full size during the wait, then maps all of it",
    "[faults][issue13][race]") {
  const std::string name = unique_name("growing");
  shm_eraser er(name);
  const std::string header = shmarray::npy::write_header("<f8", false, {16});
  int fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  REQUIRE(fd >= 0);
  // What segment::create writes before sizing: the header but byte 0. The file is that long.
  REQUIRE(::pwrite(fd, header.data() + 1, header.size() - 1, 1) ==
          static_cast<ssize_t>(header.size() - 1));
  std::atomic<long> tid{0};
  std::size_t got_size = 0;
  double got_last = -1;
  std::string failure;
  std::thread attacher([&] {
    tid = static_cast<long>(::syscall(SYS_gettid));
    try {
      shmarray::attach_options o;
      o.ready_timeout = 30s;
      auto a = shared_array<const double>::attach(name, o);
      got_size = a.size();
      got_last = a.data()[15];
    } catch (const std::exception& e) {
      failure = e.what();
    }
  });
  // Wait (bounded) until the attacher sleeps in futex(2) on the segment's first word.
  bool waiting = false;
  const auto bound = std::chrono::steady_clock::now() + 20s;
  while (!waiting && std::chrono::steady_clock::now() < bound) {
    std::this_thread::yield();
    if (tid == 0) continue;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/self/task/%ld/syscall", tid.load());
    if (FILE* f = std::fopen(path, "r")) {
      long nr = -1;
      waiting = std::fscanf(f, "%ld", &nr) == 1 && nr == SYS_futex;
      std::fclose(f);
    }
  }
  CHECK(waiting);
  std::vector<double> data(16);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = 0.5 + static_cast<double>(i);
  REQUIRE(::ftruncate(fd, static_cast<off_t>(header.size() + 16 * sizeof(double))) == 0);
  REQUIRE(::pwrite(fd, data.data(), 16 * sizeof(double), static_cast<off_t>(header.size())) ==
          static_cast<ssize_t>(16 * sizeof(double)));
  void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  REQUIRE(p != MAP_FAILED);
  __atomic_store_n(static_cast<unsigned char*>(p), static_cast<unsigned char>(0x93),
                   __ATOMIC_RELEASE);
  shmarray::detail::futex_wake_all(p);
  ::munmap(p, 4096);
  ::close(fd);
  attacher.join();
  INFO(failure);
  CHECK(failure.empty());
  CHECK(got_size == 16);
  CHECK(got_last == 15.5);
}
