// A downstream program: allocate, attach, view, close. Exit 0 when all agree.
#include <cstdio>
#include <shmarray/shmarray.hpp>

int main() {
  auto a = shmarray::shared_array<double>::allocate({2, 2});
  a.view<2>()(1, 1) = 4.0;
  auto b = shmarray::shared_array<const double>::attach(a.name());
  std::printf("shmarray %d.%d.%d: %s holds %g\n", SHMARRAY_VERSION_MAJOR, SHMARRAY_VERSION_MINOR,
              SHMARRAY_VERSION_PATCH, a.name().c_str(), b.view<2>()(1, 1));
  return b.view<2>()(1, 1) == 4.0 ? 0 : 1;
}
