// The layout policy tags (layout_right, layout_left, layout_stride) and the traits the layouts
// share: each layout's mapping is declared here and defined in mdspan_layout_packed.hpp (right,
// left) or mdspan_layout_stride.hpp, so that the layouts can name each other in their converting
// constructors.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

#include "mdspan_extents.hpp"
#include "mdspan_index.hpp"

namespace shmarray {

/// C order: the last index varies fastest (row-major). The layout of C-order segments.
struct layout_right {
  template <class Extents>
  class mapping;
};

/// Fortran order: the first index varies fastest (column-major). The layout of Fortran-order
/// segments.
struct layout_left {
  template <class Extents>
  class mapping;
};

/// Any strides: offset = sum of index[r] * stride[r]. Transposes and most submdspan results.
struct layout_stride {
  template <class Extents>
  class mapping;
};

namespace detail {

/// M is Layout::mapping<E> for some E.
template <class Layout, class M, class = void>
struct is_mapping_of : std::false_type {};
template <class Layout, class M>
struct is_mapping_of<Layout, M, std::void_t<typename M::extents_type>>
    : std::is_same<typename Layout::template mapping<typename M::extents_type>, M> {};
template <class Layout, class M>
inline constexpr bool is_mapping_of_v = is_mapping_of<Layout, M>::value;

/// The standard's layout-mapping-alike: has extents_type (an extents) and the three static
/// is_always_* queries.
template <class M, class = void>
struct is_layout_mapping_alike : std::false_type {};
template <class M>
struct is_layout_mapping_alike<
    M, std::void_t<typename M::extents_type, decltype(M::is_always_strided()),
                   decltype(M::is_always_exhaustive()), decltype(M::is_always_unique())>>
    : std::bool_constant<is_extents_v<typename M::extents_type> &&
                         std::is_same_v<decltype(M::is_always_strided()), bool> &&
                         std::is_same_v<decltype(M::is_always_exhaustive()), bool> &&
                         std::is_same_v<decltype(M::is_always_unique()), bool>> {};
template <class M>
inline constexpr bool is_layout_mapping_alike_v = is_layout_mapping_alike<M>::value;

/// The Mandates of every standard layout: when all extents of E are static, the size of its index
/// space (their product) is representable as E::index_type. Computed without overflow.
template <class E>
constexpr bool static_size_representable() noexcept {
  if constexpr (E::rank_dynamic() != 0) {
    return true;
  } else {
    for (std::size_t r = 0; r < E::rank(); ++r)
      if (E::static_extent(r) == 0) return true;
    unsigned long long size = 1;
    for (std::size_t r = 0; r < E::rank(); ++r) {
      const unsigned long long e = E::static_extent(r);
      if (size > max_of<typename E::index_type> / e) return false;
      size *= e;
    }
    return true;
  }
}

}  // namespace detail
}  // namespace shmarray
