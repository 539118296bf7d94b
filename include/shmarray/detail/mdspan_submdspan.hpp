// submdspan: a view of part of an mdspan, as C++26 std::submdspan [mdspan.sub]. A slice per
// dimension: an index (drops the dimension), full_extent, a {begin, end} pair or tuple, or a
// strided_slice. layout_right/left are kept where the slices allow it, else layout_stride results.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "../mdspan.hpp"  // the mdspan names: ours, or std's where <mdspan> exists
#include "mdspan_bounds_check.hpp"
#include "mdspan_index.hpp"

namespace shmarray {
namespace detail {

/// integral_constant and its look-alikes: a static integer value (not bool).
template <class T, class = void>
struct is_integral_constant_like : std::false_type {};
template <class T>
struct is_integral_constant_like<T, std::void_t<decltype(T::value)>>
    : std::bool_constant<std::is_integral_v<std::remove_cv_t<decltype(T::value)>> &&
                         !std::is_same_v<bool, std::remove_cv_t<decltype(T::value)>> &&
                         std::is_convertible_v<T, std::remove_cv_t<decltype(T::value)>>> {};
template <class T>
inline constexpr bool is_integral_constant_like_v = is_integral_constant_like<T>::value;

template <class T>
inline constexpr bool is_slice_integer_v =
    (std::is_integral_v<T> && !std::is_same_v<T, bool>) || is_integral_constant_like_v<T>;

}  // namespace detail

/// The slice "the whole dimension".
struct full_extent_t {
  explicit full_extent_t() = default;
};
inline constexpr full_extent_t full_extent{};

/// extent indices from offset on, every stride-th: strided_slice{1, 6, 2} picks 1, 3, 5. Note that
/// extent counts source indices, not picked ones (those are 1 + (extent - 1) / stride).
/// Each member is an integer or an integral_constant (which makes the result extent static).
template <class OffsetType, class ExtentType, class StrideType>
struct strided_slice {
  using offset_type = OffsetType;
  using extent_type = ExtentType;
  using stride_type = StrideType;
  static_assert(detail::is_slice_integer_v<OffsetType> && detail::is_slice_integer_v<ExtentType> &&
                    detail::is_slice_integer_v<StrideType>,
                "strided_slice: offset, extent and stride must be integers or integral_constants");

  OffsetType offset{};
  ExtentType extent{};
  StrideType stride{};
};
template <class OffsetType, class ExtentType, class StrideType>
strided_slice(OffsetType, ExtentType, StrideType)
    -> strided_slice<OffsetType, ExtentType, StrideType>;

/// What submdspan_mapping returns: the new mapping and the offset of its first element.
template <class LayoutMapping>
struct submdspan_mapping_result {
  LayoutMapping mapping = LayoutMapping();
  std::size_t offset;
};

namespace detail {

// --- slice classification ---------------------------------------------------------------------

/// The value of an integer or an integral_constant, as I.
template <class I, class T>
constexpr I de_ice(const T& t) noexcept {
  if constexpr (is_integral_constant_like_v<T>) {
    return static_cast<I>(T::value);
  } else {
    return static_cast<I>(t);
  }
}

template <class T>
struct is_strided_slice : std::false_type {};
template <class O, class E, class S>
struct is_strided_slice<strided_slice<O, E, S>> : std::true_type {};

/// A tuple-like of two indices: std::pair, std::tuple, std::array<_, 2>, ...
template <class T, class I, class = void>
struct is_index_pair_like : std::false_type {};
template <class T, class I>
struct is_index_pair_like<T, I, std::enable_if_t<std::tuple_size<T>::value == 2>>
    : std::bool_constant<is_index_like_v<const std::tuple_element_t<0, T>&, I> &&
                         is_index_like_v<const std::tuple_element_t<1, T>&, I>> {};

enum class slice_kind { index, full, pair, strided, invalid };

template <class S, class I>
constexpr slice_kind kind_of() noexcept {
  if constexpr (is_strided_slice<S>::value) {
    return slice_kind::strided;
  } else if constexpr (std::is_convertible_v<S, full_extent_t>) {
    return slice_kind::full;
  } else if constexpr (is_index_pair_like<S, I>::value) {
    return slice_kind::pair;
  } else if constexpr (is_index_like_v<const S&, I>) {
    return slice_kind::index;
  } else {
    return slice_kind::invalid;
  }
}

/// A slice that keeps its source indices contiguous: full_extent, a pair, a stride-1 strided_slice
/// whose stride is an integral_constant.
template <class S, class I>
constexpr bool is_unit_stride_slice() noexcept {
  constexpr slice_kind k = kind_of<S, I>();
  if constexpr (k == slice_kind::strided) {
    if constexpr (is_integral_constant_like_v<typename S::stride_type>) {
      return S::stride_type::value == 1;
    } else {
      return false;
    }
  } else {
    return k == slice_kind::full || k == slice_kind::pair;
  }
}

/// The static extent of the result for a kept dimension of static extent E.
template <class I, std::size_t E, class S>
constexpr std::size_t sub_static_extent() noexcept {
  constexpr slice_kind k = kind_of<S, I>();
  if constexpr (k == slice_kind::full) {
    return E;
  } else if constexpr (k == slice_kind::pair) {
    using B = std::remove_cv_t<std::tuple_element_t<0, S>>;
    using L = std::remove_cv_t<std::tuple_element_t<1, S>>;
    if constexpr (is_integral_constant_like_v<B> && is_integral_constant_like_v<L>) {
      return static_cast<std::size_t>(de_ice<I>(L{}) - de_ice<I>(B{}));
    } else {
      return dynamic_extent;
    }
  } else if constexpr (k == slice_kind::strided) {
    using X = typename S::extent_type;
    using Y = typename S::stride_type;
    if constexpr (is_integral_constant_like_v<X>) {
      if constexpr (X::value == 0) {
        return 0;
      } else if constexpr (is_integral_constant_like_v<Y>) {
        return static_cast<std::size_t>(1 + (X::value - 1) / Y::value);
      } else {
        return dynamic_extent;
      }
    } else {
      return dynamic_extent;
    }
  } else {  // an index: the dimension is dropped, the value is never used
    return dynamic_extent;
  }
}

/// The type submdspan_extents returns: kept dimensions in order, static where the slices say so.
template <class I, class Kept, class StaticExtents, class... Slices>
struct sub_extents_builder;
template <class I, std::size_t... Kept>
struct sub_extents_builder<I, std::index_sequence<Kept...>, std::index_sequence<>> {
  using type = extents<I, Kept...>;
};
template <class I, std::size_t... Kept, std::size_t E0, std::size_t... Es, class S0, class... Ss>
struct sub_extents_builder<I, std::index_sequence<Kept...>, std::index_sequence<E0, Es...>, S0,
                           Ss...> {
  using type = typename std::conditional_t<
      kind_of<S0, I>() == slice_kind::index,
      sub_extents_builder<I, std::index_sequence<Kept...>, std::index_sequence<Es...>, Ss...>,
      sub_extents_builder<I, std::index_sequence<Kept..., sub_static_extent<I, E0, S0>()>,
                          std::index_sequence<Es...>, Ss...>>::type;
};

template <class Extents, class Seq, class... Slices>
struct sub_extents_type_impl;
template <class Extents, std::size_t... R, class... Slices>
struct sub_extents_type_impl<Extents, std::index_sequence<R...>, Slices...> {
  using type = typename sub_extents_builder<typename Extents::index_type, std::index_sequence<>,
                                            std::index_sequence<Extents::static_extent(R)...>,
                                            Slices...>::type;
};
template <class Extents, class... Slices>
using sub_extents_t =
    typename sub_extents_type_impl<Extents, std::make_index_sequence<Extents::rank()>,
                                   Slices...>::type;

/// kept[r]: the source dimension of result dimension r.
template <class I, class... Slices>
constexpr auto kept_dimensions() noexcept {
  constexpr bool dropped[] = {(kind_of<Slices, I>() == slice_kind::index)..., false};
  constexpr std::size_t n =
      (std::size_t{0} + ... + std::size_t{kind_of<Slices, I>() == slice_kind::index ? 0u : 1u});
  std::array<std::size_t, n> kept{};
  std::size_t j = 0;
  for (std::size_t k = 0; k < sizeof...(Slices); ++k)
    if (!dropped[k]) kept[j++] = k;
  return kept;
}

// --- per-slice values -------------------------------------------------------------------------

/// First source index of a slice.
template <class I, class S>
constexpr I first_of(const S& s) noexcept {
  constexpr slice_kind k = kind_of<S, I>();
  if constexpr (k == slice_kind::index) {
    return de_ice<I>(s);
  } else if constexpr (k == slice_kind::full) {
    return I{0};
  } else if constexpr (k == slice_kind::pair) {
    return de_ice<I>(std::get<0>(s));
  } else {
    return de_ice<I>(s.offset);
  }
}

/// One past the last source index of a slice in a dimension of extent e.
template <class I, class S>
constexpr I last_of(const S& s, I e) noexcept {
  constexpr slice_kind k = kind_of<S, I>();
  if constexpr (k == slice_kind::index) {
    return static_cast<I>(de_ice<I>(s) + 1);
  } else if constexpr (k == slice_kind::full) {
    return e;
  } else if constexpr (k == slice_kind::pair) {
    return de_ice<I>(std::get<1>(s));
  } else {
    return static_cast<I>(de_ice<I>(s.offset) + de_ice<I>(s.extent));
  }
}

/// The extent of the result for a kept slice in a dimension of extent e.
template <class I, class S>
constexpr I sub_extent_of(const S& s, I e) noexcept {
  if constexpr (kind_of<S, I>() == slice_kind::strided) {
    const I x = de_ice<I>(s.extent);
    return x == 0 ? I{0} : static_cast<I>(1 + (x - 1) / de_ice<I>(s.stride));
  } else {
    return static_cast<I>(last_of<I>(s, e) - first_of<I>(s));
  }
}

/// The factor a kept slice puts on its source stride.
template <class I, class S>
constexpr I stride_factor_of(const S& s) noexcept {
  if constexpr (kind_of<S, I>() == slice_kind::strided) {
    const I y = de_ice<I>(s.stride);
    return y < de_ice<I>(s.extent) ? y : I{1};
  } else {
    (void)s;
    return I{1};
  }
}

/// With bounds checks on: 0 <= first <= last <= extent (first < extent for an index) and a
/// positive stride for a non-empty strided_slice; throws std::out_of_range naming the slice.
template <class I, class S>
void check_slice(const S& s, I e, std::size_t dim, std::size_t rank) {
  constexpr slice_kind k = kind_of<S, I>();
  const auto first = static_cast<long long>(first_of<I>(s));
  const auto last = static_cast<long long>(last_of<I>(s, e));
  const auto ext = static_cast<long long>(e);
  if constexpr (k == slice_kind::index) {
    if (!index_in_range(first_of<I>(s), e))
      throw_bad_slice("index " + index_to_string(first_of<I>(s)), static_cast<std::size_t>(e), dim,
                      rank);
  } else if constexpr (k == slice_kind::pair) {
    if (first < 0 || first > last || last > ext)
      throw_bad_slice("{" + std::to_string(first) + ", " + std::to_string(last) + "}",
                      static_cast<std::size_t>(e), dim, rank);
  } else if constexpr (k == slice_kind::strided) {
    const auto x = static_cast<long long>(de_ice<I>(s.extent));
    const auto y = static_cast<long long>(de_ice<I>(s.stride));
    if (first < 0 || x < 0 || last > ext || (x > 0 && y <= 0))
      throw_bad_slice("strided_slice{offset " + std::to_string(first) + ", extent " +
                          std::to_string(x) + ", stride " + std::to_string(y) + "}",
                      static_cast<std::size_t>(e), dim, rank);
  }
}

// --- the mapping ------------------------------------------------------------------------------

/// layout_left stays layout_left when the result keeps the first dimensions: slices 0..m-2 are
/// full_extent, slice m-1 is unit-stride (m = result rank), the rest are indices.
template <class I, class... Slices>
constexpr bool keeps_layout_left() noexcept {
  constexpr std::size_t n = sizeof...(Slices);
  constexpr auto kept = kept_dimensions<I, Slices...>();
  constexpr std::size_t m = kept.size();
  if constexpr (m == 0) {
    return true;
  } else {
    constexpr bool full[] = {std::is_convertible_v<Slices, full_extent_t>..., false};
    constexpr bool unit[] = {is_unit_stride_slice<Slices, I>()..., false};
    for (std::size_t k = 0; k + 1 < m; ++k)
      if (!full[k]) return false;
    return unit[m - 1] && kept[m - 1] == m - 1 && m <= n;
  }
}

/// layout_right stays layout_right when the result keeps the last dimensions: slices n-m+1..n-1
/// are full_extent, slice n-m is unit-stride, the others are indices.
template <class I, class... Slices>
constexpr bool keeps_layout_right() noexcept {
  constexpr std::size_t n = sizeof...(Slices);
  constexpr auto kept = kept_dimensions<I, Slices...>();
  constexpr std::size_t m = kept.size();
  if constexpr (m == 0) {
    return true;
  } else {
    constexpr bool full[] = {std::is_convertible_v<Slices, full_extent_t>..., false};
    constexpr bool unit[] = {is_unit_stride_slice<Slices, I>()..., false};
    for (std::size_t k = n - m + 1; k < n; ++k)
      if (!full[k]) return false;
    return unit[n - m] && kept[0] == n - m;
  }
}

template <class Mapping, std::size_t... R>
constexpr std::size_t offset_of(const Mapping& m,
                                const std::array<typename Mapping::index_type, sizeof...(R)>& first,
                                std::index_sequence<R...>) noexcept {
  for (std::size_t k = 0; k < sizeof...(R); ++k)
    if (first[k] == m.extents().extent(k)) return static_cast<std::size_t>(m.required_span_size());
  return static_cast<std::size_t>(m(first[R]...));
}

/// The extents of the result (see submdspan_extents).
template <class E, std::size_t... R, class... Slices>
constexpr auto sub_extents_of(const E& src, std::index_sequence<R...>, const Slices&... slices) {
  using I = typename E::index_type;
  using sub_ext_t = sub_extents_t<E, Slices...>;
  constexpr auto kept = kept_dimensions<I, Slices...>();
  const std::array<I, sizeof...(R) + 1> all{sub_extent_of<I>(slices, src.extent(R))..., I{0}};
  std::array<I, kept.size()> values{};
  for (std::size_t r = 0; r < kept.size(); ++r) values[r] = all[kept[r]];
  (void)all;
  return sub_ext_t(values);
}

template <class E, std::size_t... R, class... Slices>
void check_slices(const E& src, std::index_sequence<R...>, const Slices&... slices) {
  (check_slice<typename E::index_type>(slices, src.extent(R), R, E::rank()), ...);
}

/// The mapping and offset of submdspan(m, slices...), as the standard's submdspan_mapping for the
/// layout_left, layout_right and layout_stride (and any other strided mapping, which gives
/// layout_stride).
template <class Mapping, std::size_t... R, class... Slices>
constexpr auto submdspan_mapping_impl(const Mapping& m, std::index_sequence<R...> seq,
                                      const Slices&... slices) {
  using src_extents = typename Mapping::extents_type;
  using I = typename src_extents::index_type;
  using layout = typename Mapping::layout_type;
  using sub_ext_t = sub_extents_t<src_extents, Slices...>;
  constexpr std::size_t n = src_extents::rank();
  constexpr auto kept = kept_dimensions<I, Slices...>();
  constexpr std::size_t sub_rank = kept.size();

  if constexpr (n == 0) {
    (void)seq;
    return submdspan_mapping_result<Mapping>{m, 0};
  } else {
    const sub_ext_t sub_ext = sub_extents_of(m.extents(), seq, slices...);
    const std::array<I, n> first{first_of<I>(slices)...};
    const std::size_t offset = offset_of(m, first, seq);
    if constexpr (std::is_same_v<layout, layout_left> && keeps_layout_left<I, Slices...>()) {
      return submdspan_mapping_result<layout_left::mapping<sub_ext_t>>{
          layout_left::mapping<sub_ext_t>(sub_ext), offset};
    } else if constexpr (std::is_same_v<layout, layout_right> &&
                         keeps_layout_right<I, Slices...>()) {
      return submdspan_mapping_result<layout_right::mapping<sub_ext_t>>{
          layout_right::mapping<sub_ext_t>(sub_ext), offset};
    } else {
      static_assert(Mapping::is_always_strided(),
                    "submdspan: only strided layouts (layout_right, layout_left, layout_stride, "
                    "or any mapping with stride()) can be sliced");
      const std::array<I, n> factor{stride_factor_of<I>(slices)...};
      std::array<I, sub_rank> strides{};
      for (std::size_t r = 0; r < sub_rank; ++r)
        strides[r] = static_cast<I>(m.stride(kept[r]) * factor[kept[r]]);
      return submdspan_mapping_result<layout_stride::mapping<sub_ext_t>>{
          layout_stride::mapping<sub_ext_t>(sub_ext, strides), offset};
    }
  }
}

}  // namespace detail

/// The extents of submdspan(m, slices...) for m.extents() == src.
template <class IndexType, std::size_t... Extents, class... Slices>
constexpr auto submdspan_extents(const extents<IndexType, Extents...>& src, Slices... slices) {
  static_assert(sizeof...(Slices) == sizeof...(Extents),
                "submdspan_extents: give exactly one slice per dimension (rank() slices)");
  return detail::sub_extents_of(src, std::make_index_sequence<sizeof...(Slices)>{}, slices...);
}

/// A view of part of src: one slice per dimension. Each index slice drops its dimension.
/// With bounds checks on, a slice outside its dimension throws std::out_of_range.
template <class ElementType, class Extents, class LayoutPolicy, class AccessorPolicy,
          class... SliceSpecifiers>
constexpr auto submdspan(const mdspan<ElementType, Extents, LayoutPolicy, AccessorPolicy>& src,
                         SliceSpecifiers... slices) {
  using I = typename Extents::index_type;
  constexpr bool count_ok = sizeof...(SliceSpecifiers) == Extents::rank();
  constexpr bool kinds_ok =
      ((detail::kind_of<SliceSpecifiers, I>() != detail::slice_kind::invalid) && ...);
  static_assert(count_ok, "submdspan: give exactly one slice per dimension (rank() slices)");
  static_assert(kinds_ok,
                "submdspan: each slice must be an index, full_extent, a {begin, end} pair or "
                "tuple, or a strided_slice");
  if constexpr (count_ok && kinds_ok) {  // (else: only the static_assert above is reported)
    if constexpr (detail::bounds_check_enabled) {
      detail::check_slices(src.extents(), std::make_index_sequence<Extents::rank()>{}, slices...);
    }
    auto sub = detail::submdspan_mapping_impl(
        src.mapping(), std::make_index_sequence<Extents::rank()>{}, slices...);
    using sub_mapping = decltype(sub.mapping);
    using result =
        mdspan<ElementType, typename sub_mapping::extents_type, typename sub_mapping::layout_type,
               typename AccessorPolicy::offset_policy>;
    return result(src.accessor().offset(src.data_handle(), sub.offset), sub.mapping,
                  typename AccessorPolicy::offset_policy(src.accessor()));
  }
}

}  // namespace shmarray
