// NumPy interop: a C++ program shares an array, a Python script (examples/numpy_interop.py) opens
// the very same memory with np.load('/dev/shm/<name>', mmap_mode='r+') -- a shmarray segment is a
// valid .npy file -- and changes it; the C++ side sees the change without any copy.
//
//   numpy_interop [path/to/numpy_interop.py]
// Runs /usr/bin/python3. If that has no NumPy (Debian: apt-get install python3-numpy), it says so
// and exits 0. Exit code 1 if the change is not seen or the script fails.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <shmarray/shmarray.hpp>
#include <string>

int main(int argc, char** argv) {
  std::string script = argc > 1 ? argv[1] : std::string(__FILE__);
  if (argc <= 1) script = script.substr(0, script.find_last_of('/') + 1) + "numpy_interop.py";
  const char* python = "/usr/bin/python3";
  if (::access(python, X_OK) != 0) {
    std::printf("skipped: %s is not installed\n", python);
    return 0;
  }

  shmarray::manager mgr;
  auto a = shmarray::shared_array<double>::allocate(mgr, {3, 4});
  auto v = a.view<2>();
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 4; ++j) v(i, j) = static_cast<double>(i * 10 + j);
  std::printf("c++: shared a 3x4 array of doubles as '%s'; running %s %s\n", a.name().c_str(),
              python, script.c_str());
  std::fflush(stdout);

  pid_t pid = ::fork();
  if (pid == 0) {
    const char* args[] = {python, script.c_str(), a.name().c_str(), nullptr};
    ::execv(python, const_cast<char* const*>(args));
    ::_exit(127);
  }
  int st = 0;
  if (pid < 0 || ::waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) {
    std::printf("FAILED: could not run the script\n");
    return 1;
  }
  if (WEXITSTATUS(st) == 77) {
    std::printf("skipped: %s has no NumPy (Debian: apt-get install python3-numpy)\n", python);
    return 0;
  }
  if (WEXITSTATUS(st) != 0) {
    std::printf("FAILED: the script exited with code %d\n", WEXITSTATUS(st));
    return 1;
  }
  bool ok = v(0, 0) == 12345.0;
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 4; ++j)
      if (i + j > 0 && v(i, j) != -static_cast<double>(i * 10 + j)) ok = false;
  std::printf("c++: a(0, 0) = %g, a(2, 3) = %g\n", v(0, 0), v(2, 3));
  std::printf("%s\n", ok ? "OK: C++ sees NumPy's change" : "FAILED: the change is not visible");
  return ok ? 0 : 1;
}
