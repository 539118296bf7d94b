// What counts as an index argument of a view, and the integer helpers the view headers share.
// Kept apart from extents so that submdspan can use it on top of std::mdspan too.
#pragma once

#include <cstddef>
#include <limits>
#include <type_traits>
#include <utility>

namespace shmarray {
namespace detail {

/// IndexType of an extents: a signed or unsigned integer type, as the standard mandates — not bool,
/// not a character type (char, wchar_t, char8_t, char16_t, char32_t), not cv-qualified.
template <class T>
inline constexpr bool is_index_type_v =
    std::is_integral_v<T>&& std::is_same_v<T, std::remove_cv_t<T>> && !std::is_same_v<T, bool> &&
    !std::is_same_v<T, char> && !std::is_same_v<T, wchar_t> && !std::is_same_v<T, char16_t> &&
#if defined(__cpp_char8_t)
    !std::is_same_v<T, char8_t> &&
#endif
    !std::is_same_v<T, char32_t>;

/// An index argument passed by value (the index packs of operator(), operator[], extents, the
/// mappings' operator() and the mdspan constructors): is_convertible_v<T, IndexType> and
/// is_nothrow_constructible_v<IndexType, T>, as the standard asks, and converted from std::move(i),
/// so a type convertible only as an rvalue, or only when non-const, qualifies. Never a
/// floating-point number (std::mdspan accepts 1.5 through the implicit conversion; we refuse it at
/// compile time). Integers, enums and integral_constant-like types qualify. For an element read
/// from a std::array or std::span (a const lvalue), use is_index_like_v<const T&, IndexType>.
template <class T, class IndexType>
inline constexpr bool is_index_like_v =
    std::is_convertible_v<T, IndexType>&& std::is_nothrow_constructible_v<IndexType, T> &&
    !std::is_floating_point_v<std::remove_cv_t<std::remove_reference_t<T>>>;

/// The standard's index-cast: an integer stays as it is (so that a bounds check sees its true
/// value, even one that would wrap in IndexType); anything else (bool, an enum, a class) becomes
/// IndexType. Called with std::move(i) for a by-value index, std::as_const(a[r]) for an element.
template <class IndexType, class T>
constexpr auto index_cast(T&& i) noexcept {
  using U = std::remove_cv_t<std::remove_reference_t<T>>;
  if constexpr (std::is_integral_v<U> && !std::is_same_v<U, bool>) {
    return static_cast<U>(i);
  } else {
    return static_cast<IndexType>(std::forward<T>(i));
  }
}

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
