// layout_right::mapping (C order, row-major: the last index varies fastest, as std::layout_right
// [mdspan.layout.right]) and layout_left::mapping (Fortran order, column-major: the first index
// varies fastest, as std::layout_left [mdspan.layout.left]). The two are mirror images, so both are
// detail::packed_mapping, parameterised by the layout; each is still a class template of its own,
// as in the standard. The offset is Horner's rule unrolled at compile time, in std::size_t.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

#include "mdspan_bounds_check.hpp"
#include "mdspan_extents.hpp"
#include "mdspan_layouts_fwd.hpp"

namespace shmarray {
namespace detail {

/// The mapping of a packed (exhaustive, gap-free) layout: Layout is layout_right or layout_left.
template <class Layout, class Extents>
class packed_mapping {
  static_assert(std::is_same_v<Layout, layout_right> || std::is_same_v<Layout, layout_left>,
                "packed_mapping: Layout is layout_right or layout_left");
  static_assert(is_extents_v<Extents>,
                "Layout::mapping<Extents>: Extents must be a "
                "shmarray::extents");
  static_assert(!std::is_same_v<Layout, layout_right> || static_size_representable<Extents>(),
                "layout_right::mapping<Extents>: the extents are all static and their product is "
                "not representable as index_type");
  static_assert(!std::is_same_v<Layout, layout_left> || static_size_representable<Extents>(),
                "layout_left::mapping<Extents>: the extents are all static and their product is "
                "not representable as index_type");
  static constexpr bool right = std::is_same_v<Layout, layout_right>;
  using other_layout = std::conditional_t<right, layout_left, layout_right>;
  template <class E>
  using same_mapping = typename Layout::template mapping<E>;
  template <class E>
  using other_mapping = typename other_layout::template mapping<E>;

 public:
  using extents_type = Extents;
  using index_type = typename extents_type::index_type;
  using size_type = typename extents_type::size_type;
  using rank_type = typename extents_type::rank_type;
  using layout_type = Layout;

  constexpr packed_mapping() noexcept = default;
  /// Precondition: the product of the extents is representable as index_type.
  constexpr packed_mapping(const extents_type& e) noexcept : extents_(e) {}

  template <class OE, std::enable_if_t<std::is_constructible_v<extents_type, OE> &&
                                           std::is_convertible_v<OE, extents_type>,
                                       int> = 0>
  constexpr packed_mapping(const same_mapping<OE>& other) noexcept : extents_(other.extents()) {}
  template <class OE, std::enable_if_t<std::is_constructible_v<extents_type, OE> &&
                                           !std::is_convertible_v<OE, extents_type>,
                                       int> = 0>
  constexpr explicit packed_mapping(const same_mapping<OE>& other) noexcept
      : extents_(other.extents()) {}

  /// Rank 0 and rank 1: C and Fortran order are the same thing.
  template <class OE, std::enable_if_t<(extents_type::rank() <= 1) &&
                                           std::is_constructible_v<extents_type, OE> &&
                                           std::is_convertible_v<OE, extents_type>,
                                       int> = 0>
  constexpr packed_mapping(const other_mapping<OE>& other) noexcept : extents_(other.extents()) {}
  template <class OE, std::enable_if_t<(extents_type::rank() <= 1) &&
                                           std::is_constructible_v<extents_type, OE> &&
                                           !std::is_convertible_v<OE, extents_type>,
                                       int> = 0>
  constexpr explicit packed_mapping(const other_mapping<OE>& other) noexcept
      : extents_(other.extents()) {}

  /// From a strided mapping whose strides are those of this order (precondition). Explicit unless
  /// rank 0.
  template <class OE,
            std::enable_if_t<
                (extents_type::rank() == 0) && std::is_constructible_v<extents_type, OE>, int> = 0>
  constexpr packed_mapping(const layout_stride::mapping<OE>& other) noexcept
      : extents_(other.extents()) {}
  template <class OE,
            std::enable_if_t<
                (extents_type::rank() > 0) && std::is_constructible_v<extents_type, OE>, int> = 0>
  constexpr explicit packed_mapping(const layout_stride::mapping<OE>& other) noexcept
      : extents_(other.extents()) {
    if constexpr (bounds_check_enabled) {
      if (extents_type::rank() > 0 && extents_product(extents_) > 0) {
        for (rank_type r = 0; r < extents_type::rank(); ++r) {
          if (static_cast<std::size_t>(other.stride(r)) != static_cast<std::size_t>(stride(r)))
            precondition_failed(right ? "layout_right::mapping from layout_stride::mapping: "
                                        "strides are not C order"
                                      : "layout_left::mapping from layout_stride::mapping: "
                                        "strides are not Fortran order");
        }
      }
    }
  }

  constexpr const extents_type& extents() const noexcept { return extents_; }

  /// The product of the extents (1 for rank 0, 0 when an extent is 0).
  constexpr index_type required_span_size() const noexcept {
    return static_cast<index_type>(extents_product(extents_));
  }

  /// C order: ((i0 * e1 + i1) * e2 + i2) ...; Fortran order: i0 + e0 * (i1 + e1 * (i2 + ...)).
  /// Precondition: each index is in range. Each index is converted from std::move(idx).
  template <class... Indices, std::enable_if_t<sizeof...(Indices) == extents_type::rank() &&
                                                   (is_index_like_v<Indices, index_type> && ...),
                                               int> = 0>
  constexpr index_type operator()(Indices... idx) const noexcept {
    return static_cast<index_type>(
        offset(std::make_index_sequence<extents_type::rank()>{},
               static_cast<std::size_t>(static_cast<index_type>(std::move(idx)))...));
  }

  static constexpr bool is_always_unique() noexcept { return true; }
  static constexpr bool is_always_exhaustive() noexcept { return true; }
  static constexpr bool is_always_strided() noexcept { return true; }
  static constexpr bool is_unique() noexcept { return true; }
  static constexpr bool is_exhaustive() noexcept { return true; }
  static constexpr bool is_strided() noexcept { return true; }

  /// The product of the extents after r (C order) or before r (Fortran order). Precondition:
  /// r < rank().
  template <class E = extents_type, std::enable_if_t<(E::rank() > 0), int> = 0>
  constexpr index_type stride(rank_type r) const noexcept {
    std::size_t s = 1;
    const rank_type from = right ? r + 1 : 0, to = right ? extents_type::rank() : r;
    for (rank_type k = from; k < to; ++k) s *= static_cast<std::size_t>(extents_.extent(k));
    return static_cast<index_type>(s);
  }

  template <class OE, std::enable_if_t<OE::rank() == extents_type::rank(), int> = 0>
  friend constexpr bool operator==(const same_mapping<Extents>& x,
                                   const same_mapping<OE>& y) noexcept {
    return x.extents() == y.extents();
  }
#if __cplusplus < 202002L
  template <class OE, std::enable_if_t<OE::rank() == extents_type::rank(), int> = 0>
  friend constexpr bool operator!=(const same_mapping<Extents>& x,
                                   const same_mapping<OE>& y) noexcept {
    return !(x.extents() == y.extents());
  }
#endif

 private:
  // Horner's rule over the dimensions from the slowest to the fastest: R runs 0..rank-1 and visits
  // dimension R (C order) or rank-1-R (Fortran order).
  template <std::size_t... R, class... S>
  constexpr std::size_t offset(std::index_sequence<R...>, S... i) const noexcept {
    constexpr std::size_t n = extents_type::rank();
    std::size_t off = 0;
    if constexpr (right) {
      ((off = off * static_cast<std::size_t>(extent_at<R>(extents_)) + i), ...);
    } else {
      const std::size_t idx[n + 1] = {i..., 0};
      ((off = off * static_cast<std::size_t>(extent_at<n - 1 - R>(extents_)) + idx[n - 1 - R]),
       ...);
      (void)idx;
    }
    return off;
  }

  extents_type extents_{};
};

}  // namespace detail

template <class Extents>
class layout_right::mapping : public detail::packed_mapping<layout_right, Extents> {
 public:
  using detail::packed_mapping<layout_right, Extents>::packed_mapping;
};

template <class Extents>
class layout_left::mapping : public detail::packed_mapping<layout_left, Extents> {
 public:
  using detail::packed_mapping<layout_left, Extents>::packed_mapping;
};

}  // namespace shmarray
