// The program benchmarks/attach_callgrind.sh runs under callgrind: the user-space instructions of
// one shared_array<double>::attach / attach_unsafe / allocate of a small published float64
// segment. Each measured call sits alone in a named, never-inlined extern "C" function that
// constructs the handle in place (no move, no destructor: closing happens outside it), so
// --toggle-collect=<fn> counts exactly the factory. One unmeasured call of each first resolves the
// dynamic linker's lazy bindings.
//
// usage: attach_callgrind_driver attach|attach_unsafe|allocate [N]
#include <unistd.h>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <shmarray/shared_array.hpp>
#include <string>

namespace sh = shmarray;
using array = sh::shared_array<double>;

#define SHMARRAY_MEASURED extern "C" __attribute__((noinline, used))

// Guaranteed copy elision: the factory's result is built right in `out`.
SHMARRAY_MEASURED void measured_attach(const std::string& name, void* out) {
  ::new (out) array(array::attach(name));
}
SHMARRAY_MEASURED void measured_attach_unsafe(const std::string& name, void* out) {
  ::new (out) array(array::attach_unsafe(name, {16}));
}
SHMARRAY_MEASURED void measured_allocate(void* out) {
  ::new (out) array(array::allocate({16}));
}

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
  if (what != "attach" && what != "attach_unsafe" && what != "allocate") {
    std::fprintf(stderr, "unknown: %s\n", what.c_str());
    return 2;
  }
  {  // unmeasured: the first call of each resolves its PLT entries
    array a = array::attach(name);
    array b = array::attach_unsafe(name, {16});
    array c = array::allocate({16});
  }
  alignas(array) unsigned char storage[sizeof(array)];
  for (long i = 0; i < n; ++i) {
    if (what == "attach")
      measured_attach(name, storage);
    else if (what == "attach_unsafe")
      measured_attach_unsafe(name, storage);
    else
      measured_allocate(storage);
    array* a = std::launder(reinterpret_cast<array*>(storage));
    const bool ok = a->size() == 16;
    a->~array();
    if (!ok) return 1;
  }
  owner.close();
  std::printf("%ld\n", n);
  return 0;
}
