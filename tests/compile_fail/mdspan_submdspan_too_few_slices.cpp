// Compile-fail check (tests/mdspan.cmake): submdspan with fewer slices than the rank must not
// compile. Built with -DSHMARRAY_BAD (must fail) and without (must compile: the control).
#include <shmarray/mdspan.hpp>

int main() {
  int data[24] = {};
  shmarray::mdspan<int, shmarray::dextents<int, 3>> m(data, 2, 3, 4);
  shmarray::mdspan<int, shmarray::dextents<int, 1>> v(data, 24);
  shmarray::mdspan<const int, shmarray::dextents<int, 1>> c = v;
  shmarray::layout_left::mapping<shmarray::dextents<int, 2>> ml(shmarray::dextents<int, 2>(2, 3));
  int r = m(1, 2, 3) + v[0] + c[1] + ml(1, 1) + shmarray::submdspan(m, 0, 0, 0)();
#ifdef SHMARRAY_BAD
  r += shmarray::submdspan(m, 0, 0)();
#endif
  return r == 23 ? 0 : 1;
}
