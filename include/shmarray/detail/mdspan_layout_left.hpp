// layout_left::mapping: Fortran order (column-major), the first index varies fastest, as
// std::layout_left [mdspan.layout.left]. The offset is Horner's rule, last index first, unrolled at
// compile time.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

#include "mdspan_bounds_check.hpp"
#include "mdspan_extents.hpp"
#include "mdspan_layouts_fwd.hpp"

namespace shmarray {

template <class Extents>
class layout_left::mapping {
  static_assert(detail::is_extents_v<Extents>,
                "layout_left::mapping<Extents>: Extents must be a shmarray::extents");

 public:
  using extents_type = Extents;
  using index_type = typename extents_type::index_type;
  using size_type = typename extents_type::size_type;
  using rank_type = typename extents_type::rank_type;
  using layout_type = layout_left;

  constexpr mapping() noexcept = default;
  constexpr mapping(const mapping&) noexcept = default;
  /// Precondition: the product of the extents is representable as index_type.
  constexpr mapping(const extents_type& e) noexcept : extents_(e) {}

  template <class OE, std::enable_if_t<std::is_constructible_v<extents_type, OE> &&
                                           std::is_convertible_v<OE, extents_type>,
                                       int> = 0>
  constexpr mapping(const mapping<OE>& other) noexcept : extents_(other.extents()) {}
  template <class OE, std::enable_if_t<std::is_constructible_v<extents_type, OE> &&
                                           !std::is_convertible_v<OE, extents_type>,
                                       int> = 0>
  constexpr explicit mapping(const mapping<OE>& other) noexcept : extents_(other.extents()) {}

  /// Rank 0 and rank 1: Fortran and C order are the same thing.
  template <class OE, std::enable_if_t<(extents_type::rank() <= 1) &&
                                           std::is_constructible_v<extents_type, OE> &&
                                           std::is_convertible_v<OE, extents_type>,
                                       int> = 0>
  constexpr mapping(const layout_right::mapping<OE>& other) noexcept : extents_(other.extents()) {}
  template <class OE, std::enable_if_t<(extents_type::rank() <= 1) &&
                                           std::is_constructible_v<extents_type, OE> &&
                                           !std::is_convertible_v<OE, extents_type>,
                                       int> = 0>
  constexpr explicit mapping(const layout_right::mapping<OE>& other) noexcept
      : extents_(other.extents()) {}

  /// From a strided mapping whose strides are those of Fortran order (precondition). Explicit
  /// unless rank 0.
  template <class OE,
            std::enable_if_t<
                (extents_type::rank() == 0) && std::is_constructible_v<extents_type, OE>, int> = 0>
  constexpr mapping(const layout_stride::mapping<OE>& other) noexcept : extents_(other.extents()) {}
  template <class OE,
            std::enable_if_t<
                (extents_type::rank() > 0) && std::is_constructible_v<extents_type, OE>, int> = 0>
  constexpr explicit mapping(const layout_stride::mapping<OE>& other) noexcept
      : extents_(other.extents()) {
    if constexpr (detail::bounds_check_enabled) {
      if (extents_type::rank() > 0 && detail::extents_product(extents_) > 0) {
        for (rank_type r = 0; r < extents_type::rank(); ++r) {
          if (static_cast<std::size_t>(other.stride(r)) != static_cast<std::size_t>(stride(r)))
            detail::precondition_failed(
                "layout_left::mapping from layout_stride::mapping: strides are not Fortran order");
        }
      }
    }
  }

  constexpr mapping& operator=(const mapping&) noexcept = default;

  constexpr const extents_type& extents() const noexcept { return extents_; }

  /// The product of the extents (1 for rank 0, 0 when an extent is 0).
  constexpr index_type required_span_size() const noexcept {
    return static_cast<index_type>(detail::extents_product(extents_));
  }

  /// i0 + e0 * (i1 + e1 * (i2 + ...)). Precondition: each index is in range.
  template <class... Indices,
            std::enable_if_t<sizeof...(Indices) == extents_type::rank() &&
                                 (detail::is_index_like_v<Indices, index_type> && ...),
                             int> = 0>
  constexpr index_type operator()(Indices... idx) const noexcept {
    return static_cast<index_type>(
        offset(std::make_index_sequence<extents_type::rank()>{},
               static_cast<std::size_t>(static_cast<index_type>(idx))...));
  }

  static constexpr bool is_always_unique() noexcept { return true; }
  static constexpr bool is_always_exhaustive() noexcept { return true; }
  static constexpr bool is_always_strided() noexcept { return true; }
  static constexpr bool is_unique() noexcept { return true; }
  static constexpr bool is_exhaustive() noexcept { return true; }
  static constexpr bool is_strided() noexcept { return true; }

  /// The product of the extents before r. Precondition: r < rank().
  template <class E = extents_type, std::enable_if_t<(E::rank() > 0), int> = 0>
  constexpr index_type stride(rank_type r) const noexcept {
    std::size_t s = 1;
    for (rank_type k = 0; k < r; ++k) s *= static_cast<std::size_t>(extents_.extent(k));
    return static_cast<index_type>(s);
  }

  template <class OE, std::enable_if_t<OE::rank() == extents_type::rank(), int> = 0>
  friend constexpr bool operator==(const mapping& x, const mapping<OE>& y) noexcept {
    return x.extents() == y.extents();
  }
#if __cplusplus < 202002L
  template <class OE, std::enable_if_t<OE::rank() == extents_type::rank(), int> = 0>
  friend constexpr bool operator!=(const mapping& x, const mapping<OE>& y) noexcept {
    return !(x.extents() == y.extents());
  }
#endif

 private:
  // Horner's rule from the last index down: R runs 0..rank-1, dimension rank-1-R is visited.
  template <std::size_t... R, class... S>
  constexpr std::size_t offset(std::index_sequence<R...>, S... i) const noexcept {
    constexpr std::size_t n = extents_type::rank();
    const std::size_t idx[n + 1] = {i..., 0};
    std::size_t off = 0;
    ((off =
          off * static_cast<std::size_t>(detail::extent_at<n - 1 - R>(extents_)) + idx[n - 1 - R]),
     ...);
    (void)idx;
    return off;
  }

  extents_type extents_{};
};

}  // namespace shmarray
