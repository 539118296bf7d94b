// Compile-fail check (tests/mdspan.cmake): layout_right's and layout_left's stride() need
// rank() > 0, while layout_stride's is unconstrained (issue 13). A bad build calls stride() on a
// rank-0 SHMARRAY_BAD_VARIANT mapping; the control names layout_stride's rank-0 stride() (which
// exists but has no valid argument) and calls a rank-2 one.
#include <shmarray/mdspan.hpp>

using scalar = shmarray::extents<int>;

int main() {
  shmarray::layout_stride::mapping<scalar> s;
  using stride_type = decltype(s.stride(0));
  shmarray::layout_right::mapping<shmarray::extents<int, 3, 4>> m;
  stride_type r = s.required_span_size() + m.stride(0);
#ifdef SHMARRAY_BAD
  shmarray::SHMARRAY_BAD_VARIANT::mapping<scalar> bad;
  r += bad.stride(0);
#endif
  return r == 5 ? 0 : 1;
}
