// Compile-fail check (tests/mdspan.cmake): a layout mapping of all-static extents whose size is
// not representable as index_type must not compile (the Mandates of layout_right, layout_left and
// layout_stride; issue 13). A bad build defines SHMARRAY_BAD_VARIANT as the layout; the control
// builds the sizes at the limit, and past it with a dynamic extent (a precondition there).
#include <array>
#include <shmarray/mdspan.hpp>

using limit = shmarray::extents<signed char, 127, 1>;
using dynamic = shmarray::extents<signed char, 20, shmarray::dynamic_extent>;

int main() {
  shmarray::layout_right::mapping<limit> right;
  shmarray::layout_left::mapping<limit> left;
  shmarray::layout_stride::mapping<limit> stride;
  shmarray::layout_stride::mapping<dynamic> small(dynamic(5), std::array<int, 2>{1, 20});
  int r = right.required_span_size() + left.required_span_size() + stride.required_span_size() +
          small.required_span_size();
#ifdef SHMARRAY_BAD
  shmarray::SHMARRAY_BAD_VARIANT::mapping<shmarray::extents<signed char, 20, 20>> bad;
  r += bad.required_span_size();
#endif
  return r == 3 * 127 + 100 ? 0 : 1;
}
