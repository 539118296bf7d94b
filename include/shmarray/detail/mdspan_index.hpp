// What counts as an index argument of a view, and the integer helpers the view headers share.
// Kept apart from extents so that submdspan can use it on top of std::mdspan too.
#pragma once

#include <cstddef>
#include <limits>
#include <type_traits>

namespace shmarray {
namespace detail {

/// An index argument: convertible to the index type without throwing, as the standard asks, but
/// never a floating-point number (std::mdspan accepts 1.5 through the implicit conversion; we
/// refuse it at compile time). Integers, enums and integral_constant-like types qualify.
template <class T, class IndexType>
inline constexpr bool is_index_like_v =
    std::is_convertible_v<const T&, IndexType>&&
        std::is_nothrow_constructible_v<IndexType, const T&> &&
    !std::is_floating_point_v<std::remove_cv_t<std::remove_reference_t<T>>>;

/// The largest value of an integer type, as unsigned long long (for comparisons across types).
template <class I>
inline constexpr unsigned long long max_of =
    static_cast<unsigned long long>(std::numeric_limits<I>::max());

/// Product of all extents of an extents object, in std::size_t.
template <class E>
constexpr std::size_t extents_product(const E& e) noexcept {
  std::size_t p = 1;
  for (std::size_t r = 0; r < E::rank(); ++r) p *= static_cast<std::size_t>(e.extent(r));
  return p;
}

}  // namespace detail
}  // namespace shmarray
