// The mdspan over a shared array's data: shared_array::view() builds it here from the pointer,
// the shape and the order, checking the requested rank and layout against the array's.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>
#include <type_traits>

#include "../error.hpp"
#include "../mdspan.hpp"
#include "../npy.hpp"
#include "message.hpp"

namespace shmarray {
namespace detail {

/// layout_right for C order, layout_left for Fortran order (either for rank <= 1), layout_stride
/// for both; `open` false (a closed handle) is errc::closed, a rank other than the array's
/// invalid_argument, the other order's packed layout layout_mismatch.
template <class U, std::size_t Rank, class Layout>
mdspan<U, dextents<std::size_t, Rank>, Layout> make_view(U* p, const shape_type& shape,
                                                         bool fortran, bool open,
                                                         std::string_view name) {
  using E = dextents<std::size_t, Rank>;
  if (!open) throw_error(errc::closed, "view: the shared_array is closed (or moved from)");
  if (Rank != shape.size())
    throw_error(errc::invalid_argument,
                msg("view<", Rank, ">() of '", name, "': the array has rank ", shape.size(),
                    ", not ", Rank));
  std::array<std::size_t, Rank> ext{};
  for (std::size_t r = 0; r < Rank; ++r) ext[r] = shape[r];
  E e(ext);
  if constexpr (std::is_same_v<Layout, layout_stride>) {
    std::array<std::size_t, Rank> st{};
    std::size_t s = 1;
    for (std::size_t k = 0; k < Rank; ++k) {
      const std::size_t r = fortran ? k : Rank - 1 - k;
      st[r] = s;
      s *= ext[r];
    }
    return {p, typename Layout::template mapping<E>(e, st)};
  } else {
    static_assert(std::is_same_v<Layout, layout_right> || std::is_same_v<Layout, layout_left>,
                  "view: Layout must be layout_right, layout_left or layout_stride");
    constexpr bool want_fortran = std::is_same_v<Layout, layout_left>;
    if (Rank > 1 && want_fortran != fortran)
      throw_error(errc::layout_mismatch,
                  msg("view of '", name, "': the array is in ",
                      fortran ? "Fortran (column-major) order; use layout_left"
                              : "C (row-major) order; use layout_right",
                      " or layout_stride"));
    return {p, typename Layout::template mapping<E>(e)};
  }
}

}  // namespace detail
}  // namespace shmarray
