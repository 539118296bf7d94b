// Attach from multiple processes: one process creates a named array, several independent
// processes (this program re-executed, so nothing is inherited but the name on the command line)
// attach to it by name, each fills its own row, and the creator sees every write -- no copies.
//
//   attach_multiple [processes] [cols]
// Exit code 0 when every row holds what its process wrote.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <shmarray/shmarray.hpp>
#include <string>
#include <vector>

namespace {

// A separate process: attach by name (shape and dtype come from the segment) and fill row k.
int worker(const std::string& name, std::size_t k) {
  try {
    auto a = shmarray::shared_array<double>::attach(name);
    auto v = a.view<2>();
    if (k >= v.extent(0)) return 2;
    for (std::size_t j = 0; j < v.extent(1); ++j) {
      if (v(k, j) != -1.0) return 3;  // the creator's initial value must be visible
      v(k, j) = static_cast<double>(k) + static_cast<double>(j) / 1e6;
    }
    std::printf("  process %d attached to '%s' and wrote row %zu\n", static_cast<int>(::getpid()),
                name.c_str(), k);
    return 0;
  } catch (const shmarray::error& e) {
    std::fprintf(stderr, "worker %zu: %s\n", k, e.what());
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--worker") == 0)
    return worker(argv[2], std::strtoul(argv[3], nullptr, 10));
  const std::size_t procs = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 4;
  const std::size_t cols = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 1000;

  shmarray::manager mgr;
  auto a = shmarray::shared_array<double>::allocate(mgr, {procs, cols});
  for (double& x : a) x = -1.0;
  std::printf("created '%s' (%zu x %zu doubles); starting %zu processes\n", a.name().c_str(), procs,
              cols, procs);
  std::fflush(stdout);

  std::vector<pid_t> pids;
  for (std::size_t k = 0; k < procs; ++k) {
    pid_t pid = ::fork();
    if (pid == 0) {
      std::string ks = std::to_string(k);
      const char* args[] = {argv[0], "--worker", a.name().c_str(), ks.c_str(), nullptr};
      ::execv("/proc/self/exe", const_cast<char* const*>(args));
      std::perror("execv");
      ::_exit(127);
    }
    if (pid < 0) {
      std::perror("fork");
      return 1;
    }
    pids.push_back(pid);
  }
  int failed = 0;
  for (pid_t pid : pids) {
    int st = 0;
    if (::waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) ++failed;
  }
  std::size_t wrong = 0;
  auto v = a.view<2>();
  for (std::size_t k = 0; k < procs; ++k)
    for (std::size_t j = 0; j < cols; ++j)
      if (v(k, j) != static_cast<double>(k) + static_cast<double>(j) / 1e6) ++wrong;
  if (failed || wrong) {
    std::printf("FAILED: %d processes failed, %zu values wrong\n", failed, wrong);
    return 1;
  }
  std::printf("OK: the creator sees all %zu rows written by %zu other processes\n", procs, procs);
  return 0;
}
