// Compile-fail check (tests/mdspan.cmake): extents<IndexType, ...> mandates a signed or unsigned
// integer type, so bool and the character types must not compile (issue 13). A bad build defines
// SHMARRAY_BAD_VARIANT as the type; the control builds the integer types at the edges.
#include <shmarray/mdspan.hpp>

int main() {
  shmarray::extents<signed char, 3, shmarray::dynamic_extent> a(4);
  shmarray::extents<unsigned char, 2> b;
  using E = shmarray::extents<unsigned long long, 5, shmarray::dynamic_extent>;
  shmarray::layout_right::mapping<E> m(E(7));
  int r = a.extent(1) + b.extent(0) + static_cast<int>(m.required_span_size());
#ifdef SHMARRAY_BAD
  shmarray::extents<SHMARRAY_BAD_VARIANT, 2> bad;
  r += static_cast<int>(bad.extent(0));
#endif
  return r == 41 ? 0 : 1;
}
