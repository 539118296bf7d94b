// Helpers shared by the tests: unique segment names, an RAII eraser, and real child processes
// (fork or exec) waited for with a bound -- never a sleep.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <shmarray/error.hpp>

namespace shmtest {

/// Skips: a test that cannot make its point here (no NumPy, not root, no namespaces) calls
/// SHMTEST_SKIP("why"). The reason is printed, the test returns (its destructors run: nothing is
/// left behind), and the test executable's main exits with `skip_exit_code` (77, the CTest
/// SKIP_RETURN_CODE of every Catch2 test) when every test it ran passed and one of them skipped,
/// so CTest reports "Skipped" with the reason instead of counting a pass. Run by hand, the reason
/// is printed as a warning and the exit code is 77 too unless a test failed.
inline constexpr int skip_exit_code = 77;
inline std::vector<std::string>& skipped_reasons() {
  static std::vector<std::string> reasons;
  return reasons;
}
#define SHMTEST_SKIP(why)                                                    \
  do {                                                                       \
    std::string shmtest_skip_reason_ = std::string("skipped: ") + (why);     \
    WARN(shmtest_skip_reason_);                                              \
    ::shmtest::skipped_reasons().push_back(std::move(shmtest_skip_reason_)); \
    return;                                                                  \
  } while (0)

/// A name no other test (or test process) uses: "shmt-<pid>-<counter>-<tag>".
inline std::string unique_name(const std::string& tag = "t") {
  static std::atomic<unsigned> counter{0};
  return "shmt-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + tag;
}

/// Writes raw bytes as a segment, as a foreign or broken creator would.
inline void write_raw_segment(const std::string& name, const std::string& bytes,
                              mode_t mode = 0600) {
  int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, mode);
  if (fd < 0) throw std::runtime_error("write_raw_segment: shm_open " + name + " failed");
  bool ok = ::ftruncate(fd, static_cast<off_t>(bytes.size())) == 0 &&
            (bytes.empty() ||
             ::pwrite(fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()));
  ::close(fd);
  if (!ok) throw std::runtime_error("write_raw_segment: could not write " + name);
}

/// The entries of /dev/shm whose name starts with `prefix`.
inline std::vector<std::string> shm_with_prefix(const std::string& prefix) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir("/dev/shm")) {
    while (dirent* e = ::readdir(d))
      if (std::string(e->d_name).rfind(prefix, 0) == 0) out.emplace_back(e->d_name);
    ::closedir(d);
  }
  return out;
}

inline bool shm_exists(const std::string& name) {
  struct stat st {};
  return ::stat(("/dev/shm/" + name).c_str(), &st) == 0;
}

/// Removes a segment at scope exit, whatever the test did.
struct shm_eraser {
  std::string name;
  explicit shm_eraser(std::string n) : name(std::move(n)) {}
  shm_eraser(const shm_eraser&) = delete;
  shm_eraser& operator=(const shm_eraser&) = delete;
  ~shm_eraser() { ::shm_unlink(name.c_str()); }
};

/// The shmarray::error a call throws, or nothing when it throws none.
template <class F>
std::optional<shmarray::error> caught(F&& f) {
  try {
    f();
  } catch (const shmarray::error& e) {
    return e;
  }
  return std::nullopt;
}

/// The errc a call throws as shmarray::error, or errc{} (0, no such errc) when it throws none.
template <class F>
shmarray::errc error_of(F&& f) {
  auto e = caught(std::forward<F>(f));
  return e ? e->kind() : shmarray::errc{};
}

/// The message of the shmarray::error a call throws, "" when it throws none.
template <class F>
std::string message_of(F&& f) {
  auto e = caught(std::forward<F>(f));
  return e ? e->what() : "";
}

inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

/// Entries in a directory ("." and ".." included).
inline std::size_t count_dir(const char* path) {
  std::size_t n = 0;
  if (DIR* d = ::opendir(path)) {
    while (::readdir(d)) ++n;
    ::closedir(d);
  }
  return n;
}

/// A fresh directory ("<prefix>-XXXXXX") under the test binary directory, or under `parent` when
/// given (e.g. "/tmp" for a folder another uid must reach: the build tree may sit under a 0700
/// home), removed with everything in it by the process that made it.
struct temp_dir {
  std::string path;
  pid_t maker = ::getpid();
  explicit temp_dir(const char* prefix = "tmp", const char* parent = nullptr) {
#ifdef SHMARRAY_TEST_BINARY_DIR
    std::string t =
        std::string(parent ? parent : SHMARRAY_TEST_BINARY_DIR) + "/" + prefix + "-XXXXXX";
#else
    std::string t = std::string(parent ? parent : "/tmp") + "/" + prefix + "-XXXXXX";
#endif
    if (!::mkdtemp(t.data())) throw std::runtime_error("mkdtemp " + t + " failed");
    path = t;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    if (::getpid() != maker) return;  // a forked child leaving through std::exit
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& f) const {
    return path + "/" + f;
  }
  /// Entries in the directory (without "." and "..").
  std::size_t count() const {
    return count_dir(path.c_str()) - 2;
  }
};

/// True in ASan and TSan builds, where RSS also counts shadow memory.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
inline constexpr bool sanitized = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
inline constexpr bool sanitized = true;
#else
inline constexpr bool sanitized = false;
#endif
#else
inline constexpr bool sanitized = false;
#endif

/// SHMARRAY_STRESS=1 raises the trial counts of the fault and load tests.
inline bool stress() {
  const char* s = std::getenv("SHMARRAY_STRESS");
  return s && *s && std::string(s) != "0";
}

/// How a child ended.
struct child_status {
  bool exited = false;     // normal exit: see code
  int code = -1;           // exit code when exited
  int signal = 0;          // terminating signal otherwise
  bool timed_out = false;  // we had to kill it
  std::string out;         // what it wrote to stdout (run_command only)
  bool ok() const { return exited && code == 0; }
};

inline int pidfd_open_(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

/// Waits for `pid` to end, at most `bound`; kills and reaps it past the bound.
inline child_status wait_child(pid_t pid, std::chrono::milliseconds bound) {
  child_status st;
  int pfd = pidfd_open_(pid);
  if (pfd >= 0) {
    pollfd p{pfd, POLLIN, 0};
    int r;
    do {
      r = ::poll(&p, 1, static_cast<int>(bound.count()));
    } while (r < 0 && errno == EINTR);
    ::close(pfd);
    if (r == 0) {
      st.timed_out = true;
      ::kill(pid, SIGKILL);
    }
  }
  int ws = 0;
  while (::waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(ws)) {
    st.exited = true;
    st.code = WEXITSTATUS(ws);
  } else if (WIFSIGNALED(ws)) {
    st.signal = WTERMSIG(ws);
  }
  return st;
}

/// In a forked child: fatal signals kill it as usual (not Catch2's handlers, which would report
/// the child's crash as the parent's test failing).
inline void reset_fatal_signals() {
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTERM}) ::signal(sig, SIG_DFL);
}

/// Runs `fn` in a forked child; the child's exit code is fn's return value (3 if it throws).
/// By default the child leaves with _exit: no inherited destructors, no second flush of stdio.
/// With `run_exit_handlers`, it leaves through std::exit, so static destructors run (for "a child
/// that exits normally" tests).
inline child_status run_in_child(const std::function<int()>& fn,
                                 std::chrono::milliseconds bound = std::chrono::seconds(30),
                                 bool run_exit_handlers = false) {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    reset_fatal_signals();
    int code = 3;
    try {
      code = fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: exception: %s\n", e.what());
    } catch (...) {
    }
    if (run_exit_handlers) std::exit(code);
    std::fflush(nullptr);
    ::_exit(code);
  }
  return wait_child(pid, bound);
}

inline child_status run_in_child_with_exit(
    const std::function<int()>& fn, std::chrono::milliseconds bound = std::chrono::seconds(30)) {
  return run_in_child(fn, bound, true);
}

/// Runs `fn` in a forked child with a private mount namespace and a tmpfs of `size` (e.g. "1m")
/// on /dev/shm, so a test can fill shared memory without touching the machine's. The child exits
/// with 77 where that is not permitted (not root); the caller skips then.
inline child_status in_small_dev_shm(const char* size, const std::function<int()>& fn,
                                     std::chrono::milliseconds bound = std::chrono::seconds(60)) {
  return run_in_child(
      [&] {
        if (::unshare(CLONE_NEWNS) != 0) return 77;
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 77;
        std::string opts = std::string("size=") + size;
        if (::mount("tmpfs", "/dev/shm", "tmpfs", 0, opts.c_str()) != 0) return 77;
        return fn();
      },
      bound);
}

/// Runs a program (argv[0] is a path), captures its stdout, at most `bound`.
inline child_status run_command(const std::vector<std::string>& argv,
                                std::chrono::milliseconds bound = std::chrono::seconds(60)) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(fds[1], 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + bound;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fds[0], POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  child_status st = wait_child(pid, left.count() > 0 ? left : std::chrono::milliseconds(1));
  st.out = std::move(out);
  return st;
}

/// True when /usr/bin/python3 exists and imports NumPy.
inline bool python_has_numpy() {
  static const bool has = [] {
    if (::access("/usr/bin/python3", X_OK) != 0) return false;
    return run_command({"/usr/bin/python3", "-c", "import numpy"}, std::chrono::seconds(60)).ok();
  }();
  return has;
}

/// Polls `pred` until it holds or `bound` passes (for effects of another process that has no
/// event to wait on, e.g. a file disappearing). Returns the final value of pred.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds bound) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace shmtest
