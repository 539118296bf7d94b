// Checks shmarray's std-alias path (tests/mdspan.cmake): built with __cpp_lib_mdspan defined and a
// stand-in <mdspan> (fake_std/mdspan), shmarray's names must be the std:: ones and shmarray's own
// submdspan (no __cpp_lib_submdspan) must work on them through their public API only.
#include <shmarray/mdspan.hpp>

#include <cstdio>
#include <type_traits>
#include <utility>

static_assert(SHMARRAY_USES_STD_MDSPAN == 1, "the std alias path was not taken");
static_assert(std::is_same_v<shmarray::mdspan<int, shmarray::dextents<int, 2>>,
                             std::mdspan<int, std::dextents<int, 2>>>);
static_assert(std::is_same_v<shmarray::layout_stride::mapping<shmarray::extents<int, 2, 3>>,
                             std::layout_stride::mapping<std::extents<int, 2, 3>>>);
static_assert(shmarray::dynamic_extent == std::dynamic_extent);

int main() {
  int data[60];
  for (int i = 0; i < 60; ++i) data[i] = i;
  std::mdspan<int, std::dextents<int, 3>> m(data, 3, 4, 5);
  shmarray::mdspan<const int, shmarray::dextents<int, 3>> c = m;
  auto rows = shmarray::submdspan(c, 1, std::pair{1, 3}, shmarray::full_extent);
  static_assert(std::is_same_v<decltype(rows)::layout_type, std::layout_right>);
  auto cols = shmarray::submdspan(m, shmarray::full_extent, 2, shmarray::strided_slice{1, 4, 2});
  static_assert(std::is_same_v<decltype(cols)::layout_type, std::layout_stride>);
  std::mdspan<int, std::dextents<int, 2>, std::layout_left> l(data, 6, 10);
  auto lc = shmarray::submdspan(l, shmarray::full_extent, std::pair{2, 4});
  static_assert(std::is_same_v<decltype(lc)::layout_type, std::layout_left>);
  auto e = shmarray::submdspan_extents(m.extents(), 0, shmarray::full_extent, std::pair{1, 2});
  const bool ok = rows(1, 4) == 34 && cols(2, 1) == 53 && cols.stride(1) == 2 && lc(5, 1) == 23 &&
                  e.extent(0) == 4 && e.extent(1) == 1;
  std::printf("std alias path: %s\n", ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
