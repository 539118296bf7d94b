// The program benchmarks/attach_callgrind.sh runs under callgrind: the user-space instructions of
// one shared_array<double>::attach / attach_unsafe / allocate of a small published float64
// segment. Each measured call sits alone in a named, never-inlined extern "C" function (closing
// the handle happens outside it), so --toggle-collect=<fn> counts exactly the factory.
//
// usage: attach_callgrind_driver attach|attach_unsafe|allocate [N]
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <shmarray/shared_array.hpp>
#include <string>
#include <unistd.h>

namespace sh = shmarray;
using array = sh::shared_array<double>;

#define SHMARRAY_MEASURED extern "C" __attribute__((noinline, used))

SHMARRAY_MEASURED void measured_attach(const std::string& name, array& out) {
  out = array::attach(name);
}
SHMARRAY_MEASURED void measured_attach_unsafe(const std::string& name, array& out) {
  out = array::attach_unsafe(name, {16});
}
SHMARRAY_MEASURED void measured_allocate(array& out) { out = array::allocate({16}); }

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s attach|attach_unsafe|allocate [N]\n", argv[0]);
    return 2;
  }
  const std::string what = argv[1];
  const long n = argc > 2 ? std::atol(argv[2]) : 100;
  const std::string name = "shmarray-attach-cg-" + std::to_string(::getpid());
  sh::create_options o;
  o.name = name;
  array owner = array::allocate({16}, o);  // the one published segment every attach opens
  for (long i = 0; i < n; ++i) {
    array a;
    if (what == "attach")
      measured_attach(name, a);
    else if (what == "attach_unsafe")
      measured_attach_unsafe(name, a);
    else if (what == "allocate")
      measured_allocate(a);
    else {
      std::fprintf(stderr, "unknown: %s\n", what.c_str());
      return 2;
    }
    if (a.size() != 16) return 1;
    a.close();
  }
  owner.close();
  std::printf("%ld\n", n);
  return 0;
}
