// layout_stride::mapping: any positive strides, offset = sum of index[r] * stride[r], as
// std::layout_stride [mdspan.layout.stride]. Transposes, padded rows and most submdspan results.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "mdspan_bounds_check.hpp"
#include "mdspan_extents.hpp"
#include "mdspan_layout_packed.hpp"
#include "mdspan_layouts_fwd.hpp"

namespace shmarray {
namespace detail {

/// True when some static extent of E is 0: every such index space is empty.
template <class E>
constexpr bool has_static_zero_extent() noexcept {
  for (std::size_t r = 0; r < E::rank(); ++r)
    if (E::static_extent(r) == 0) return true;
  return false;
}

/// SM can be converted to layout_stride::mapping<E>: a unique, strided mapping with compatible
/// extents. Implicit for the standard layouts with convertible extents.
template <class E, class SM, bool = is_layout_mapping_alike_v<SM>>
struct stride_from_mapping {
  static constexpr bool ok = false;
  static constexpr bool implicit = false;
};
template <class E, class SM>
struct stride_from_mapping<E, SM, true> {
  static constexpr bool ok = std::is_constructible_v<E, typename SM::extents_type> &&
                             SM::is_always_unique() && SM::is_always_strided();
  static constexpr bool implicit =
      std::is_convertible_v<typename SM::extents_type, E> &&
      (is_mapping_of_v<layout_left, SM> || is_mapping_of_v<layout_right, SM> ||
       is_mapping_of_v<layout_stride, SM>);
};

/// A strided mapping to compare with layout_stride::mapping<E>.
template <class E, class OM, bool = is_layout_mapping_alike_v<OM>>
struct stride_comparable : std::false_type {};
template <class E, class OM>
struct stride_comparable<E, OM, true>
    : std::bool_constant<OM::extents_type::rank() == E::rank() && OM::is_always_strided()> {};

}  // namespace detail

template <class Extents>
class layout_stride::mapping {
  static_assert(detail::is_extents_v<Extents>,
                "layout_stride::mapping<Extents>: Extents must be a shmarray::extents");
  static_assert(detail::static_size_representable<Extents>(),
                "layout_stride::mapping<Extents>: the extents are all static and their product is "
                "not representable as index_type");

 public:
  using extents_type = Extents;
  using index_type = typename extents_type::index_type;
  using size_type = typename extents_type::size_type;
  using rank_type = typename extents_type::rank_type;
  using layout_type = layout_stride;

 private:
  static constexpr rank_type rank_ = extents_type::rank();
  using strides_type = std::array<index_type, rank_>;

 public:
  /// Default extents with the strides of C order.
  constexpr mapping() noexcept : mapping(layout_right::mapping<extents_type>()) {}
  constexpr mapping(const mapping&) noexcept = default;

  /// Precondition: every stride > 0 (unless an extent is 0), the mapping is unique, and
  /// required_span_size() fits. The strides are read as const lvalues (std::as_const).
  template <class OI, std::enable_if_t<detail::is_index_like_v<const OI&, index_type>, int> = 0>
  constexpr mapping(const extents_type& e, const std::array<OI, rank_>& s) noexcept
      : extents_(e), strides_(cast_strides(s, std::make_index_sequence<rank_>{})) {
    check_strides();
  }
#if defined(__cpp_lib_span)
  template <class OI, std::enable_if_t<detail::is_index_like_v<const OI&, index_type>, int> = 0>
  constexpr mapping(const extents_type& e, std::span<OI, rank_> s) noexcept
      : extents_(e), strides_(cast_strides(s, std::make_index_sequence<rank_>{})) {
    check_strides();
  }
#endif

  /// From any unique strided mapping (layout_right, layout_left, layout_stride, ...).
  template <class SM, std::enable_if_t<detail::stride_from_mapping<extents_type, SM>::ok &&
                                           detail::stride_from_mapping<extents_type, SM>::implicit,
                                       int> = 0>
  constexpr mapping(const SM& other) noexcept
      : extents_(other.extents()), strides_(strides_of(other)) {}
  template <class SM, std::enable_if_t<detail::stride_from_mapping<extents_type, SM>::ok &&
                                           !detail::stride_from_mapping<extents_type, SM>::implicit,
                                       int> = 0>
  constexpr explicit mapping(const SM& other) noexcept
      : extents_(other.extents()), strides_(strides_of(other)) {}

  constexpr mapping& operator=(const mapping&) noexcept = default;

  constexpr const extents_type& extents() const noexcept {
    return extents_;
  }
  constexpr strides_type strides() const noexcept {
    return strides_;
  }

  /// 1 for rank 0; 0 when an extent is 0; else 1 + sum of (extent[r] - 1) * stride[r].
  constexpr index_type required_span_size() const noexcept {
    if constexpr (rank_ == 0) {
      return 1;
    } else {
      std::size_t size = 1;
      for (rank_type r = 0; r < rank_; ++r) {
        const std::size_t e = static_cast<std::size_t>(extents_.extent(r));
        if (e == 0) return 0;
        size += (e - 1) * static_cast<std::size_t>(strides_[r]);
      }
      return static_cast<index_type>(size);
    }
  }

  /// Sum of index[r] * stride[r]. Precondition: each index is in range. Each index is converted
  /// from std::move(idx).
  template <class... Indices,
            std::enable_if_t<sizeof...(Indices) == rank_ &&
                                 (detail::is_index_like_v<Indices, index_type> && ...),
                             int> = 0>
  constexpr index_type operator()(Indices... idx) const noexcept {
    return static_cast<index_type>(
        offset(std::make_index_sequence<rank_>{},
               static_cast<std::size_t>(static_cast<index_type>(std::move(idx)))...));
  }

  static constexpr bool is_always_unique() noexcept {
    return true;
  }
  /// True for rank 0 and for extents with a static 0, whose index spaces are empty (LWG 4266).
  static constexpr bool is_always_exhaustive() noexcept {
    return rank_ == 0 || detail::has_static_zero_extent<extents_type>();
  }
  static constexpr bool is_always_strided() noexcept {
    return true;
  }
  static constexpr bool is_unique() noexcept {
    return true;
  }
  static constexpr bool is_strided() noexcept {
    return true;
  }

  /// Every offset in [0, required_span_size()) is reached by some index. True for rank 0 and for an
  /// empty index space (LWG 4266); otherwise (the mapping being unique) exactly when
  /// required_span_size() equals the number of indices. This is what libstdc++ and libc++ compute;
  /// the C++23 text's "a permutation of the dimensions chains the strides" answers false for some
  /// exhaustive mappings with an extent of 1 (extents {2, 1, 2}, strides {1, 5, 2}: LWG 4562).
  constexpr bool is_exhaustive() const noexcept {
    if constexpr (rank_ == 0) {
      return true;
    } else {
      const std::size_t size = detail::extents_product(extents_);
      return size == 0 || size == static_cast<std::size_t>(required_span_size());
    }
  }

  /// Precondition: r < rank(). Unconstrained, as the standard declares it (unlike layout_right's
  /// and layout_left's, which need rank() > 0): for rank 0 it exists and cannot be called validly.
  constexpr index_type stride(rank_type r) const noexcept {
    return strides_[r];
  }

  /// Equal extents, equal strides, and y maps the zero index to offset 0.
  template <class OM, std::enable_if_t<detail::stride_comparable<extents_type, OM>::value, int> = 0>
  friend constexpr bool operator==(const mapping& x, const OM& y) noexcept {
    return equal(x, y);
  }
#if __cplusplus < 202002L
  template <class OM, std::enable_if_t<detail::stride_comparable<extents_type, OM>::value &&
                                           !detail::is_mapping_of_v<layout_stride, OM>,
                                       int> = 0>
  friend constexpr bool operator==(const OM& y, const mapping& x) noexcept {
    return equal(x, y);
  }
  template <class OM, std::enable_if_t<detail::stride_comparable<extents_type, OM>::value, int> = 0>
  friend constexpr bool operator!=(const mapping& x, const OM& y) noexcept {
    return !equal(x, y);
  }
  template <class OM, std::enable_if_t<detail::stride_comparable<extents_type, OM>::value &&
                                           !detail::is_mapping_of_v<layout_stride, OM>,
                                       int> = 0>
  friend constexpr bool operator!=(const OM& y, const mapping& x) noexcept {
    return !equal(x, y);
  }
#endif

 private:
  template <class Array, std::size_t... R>
  static constexpr strides_type cast_strides(const Array& s, std::index_sequence<R...>) noexcept {
    return strides_type{{static_cast<index_type>(std::as_const(s[R]))...}};
  }

  template <class SM>
  static constexpr strides_type strides_of(const SM& other) noexcept {
    strides_type s{};
    if constexpr (rank_ > 0) {
      for (rank_type r = 0; r < rank_; ++r) s[r] = static_cast<index_type>(other.stride(r));
    } else {
      (void)other;
    }
    return s;
  }

  constexpr void check_strides() const noexcept {
    // Strides of an empty index space are not checked: submdspan of a C-order view with a zero
    // extent yields zero strides (LWG 4606 finds the standard's precondition too strict there).
    if constexpr (detail::bounds_check_enabled && rank_ > 0) {
      if (detail::extents_product(extents_) == 0) return;
      for (rank_type r = 0; r < rank_; ++r) {
        if (!(strides_[r] > 0))
          detail::precondition_failed("layout_stride::mapping: every stride must be > 0");
      }
    }
  }

  template <class OM>
  static constexpr bool equal(const mapping& x, const OM& y) noexcept {
    if (!(x.extents() == y.extents())) return false;
    if constexpr (rank_ == 0) {
      return static_cast<std::size_t>(y()) == 0;
    } else {
      if (detail::extents_product(y.extents()) != 0 &&
          static_cast<std::size_t>(zero_offset(y, std::make_index_sequence<rank_>{})) != 0)
        return false;
      for (rank_type r = 0; r < rank_; ++r) {
        if (static_cast<std::size_t>(x.stride(r)) != static_cast<std::size_t>(y.stride(r)))
          return false;
      }
      return true;
    }
  }

  template <class OM, std::size_t... R>
  static constexpr auto zero_offset(const OM& y, std::index_sequence<R...>) noexcept {
    return y(((void)R, typename OM::index_type{0})...);
  }

  template <std::size_t... R, class... S>
  constexpr std::size_t offset(std::index_sequence<R...>, S... i) const noexcept {
    return (std::size_t{0} + ... + (i * static_cast<std::size_t>(strides_[R])));
  }

  extents_type extents_{};
  strides_type strides_{};
};

}  // namespace shmarray
