// NumPy record dtypes: a C++ struct described with SHMARRAY_RECORD is shared as a structured array,
// NumPy opens it with named fields (np.load('/dev/shm/<name>', mmap_mode='r+')), reads p['x'] and
// changes p['id'] in place, and the C++ side sees the change without any copy.
//
//   particles
// Runs /usr/bin/python3. If that has no NumPy (Debian: apt-get install python3-numpy), it says so
// and exits 0. Exit code 1 if NumPy reads other values or its change is not seen.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <shmarray/shmarray.hpp>
#include <string>

struct Particle {
  double pos[3];
  double mass;
  std::int32_t id;  // then 4 bytes of padding: NumPy sees ('', '|V4')
};
SHMARRAY_RECORD(Particle, pos, mass, id)

int main() {
  const char* python = "/usr/bin/python3";
  if (::access(python, X_OK) != 0) {
    std::printf("skipped: %s is not installed\n", python);
    return 0;
  }
  shmarray::manager mgr;
  auto p = shmarray::shared_array<Particle>::allocate(mgr, {4});
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double x = static_cast<double>(i);
    p.data()[i] = {{x, 2 * x, 3 * x}, 1.5, static_cast<std::int32_t>(i)};
  }
  std::printf("c++: shared 4 particles as '%s', dtype %s\n", p.name().c_str(),
              std::string(p.dtype()).c_str());
  std::fflush(stdout);

  const std::string code =
      "import sys\n"
      "try:\n"
      "    import numpy as np\n"
      "except ImportError:\n"
      "    sys.exit(77)\n"
      "p = np.load('/dev/shm/" +
      p.name() +
      "', mmap_mode='r+')\n"
      "print('numpy: fields', p.dtype.names, 'itemsize', p.dtype.itemsize)\n"
      "print('numpy: x =', p['pos'][:, 0], 'total mass', p['mass'].sum())\n"
      "assert p['pos'][3, 2] == 9 and p['mass'].sum() == 6\n"
      "p['id'] *= 10\n"
      "p.flush()\n";
  pid_t pid = ::fork();
  if (pid == 0) {
    const char* args[] = {python, "-c", code.c_str(), nullptr};
    ::execv(python, const_cast<char* const*>(args));
    ::_exit(127);
  }
  int st = 0;
  if (pid < 0 || ::waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) {
    std::printf("FAILED: could not run Python\n");
    return 1;
  }
  if (WEXITSTATUS(st) == 77) {
    std::printf("skipped: %s has no NumPy (Debian: apt-get install python3-numpy)\n", python);
    return 0;
  }
  if (WEXITSTATUS(st) != 0) {
    std::printf("FAILED: Python exited with code %d\n", WEXITSTATUS(st));
    return 1;
  }
  const bool ok = p.data()[3].id == 30 && p.data()[1].id == 10;
  std::printf("c++: ids now %d %d %d %d\n", p.data()[0].id, p.data()[1].id, p.data()[2].id,
              p.data()[3].id);
  std::printf("%s\n", ok ? "OK: C++ and NumPy agree on the particles"
                         : "FAILED: NumPy's change is not visible");
  return ok ? 0 : 1;
}
