// shmarray::extents and dextents: the shape of a view, a mix of compile-time (static) and run-time
// (dynamic) extents, as std::extents in C++23 [mdspan.extents]. Static extents take no storage and
// cost no load; only the dynamic ones are stored.
#pragma once

#include <array>
#include <cstddef>
#include <limits>
#include <type_traits>
#include <utility>

#if __has_include(<version>)
#include <version>
#endif
#if defined(__cpp_lib_span)
#include <span>
#endif

#include "mdspan_bounds_check.hpp"
#include "mdspan_index.hpp"

namespace shmarray {

inline constexpr std::size_t dynamic_extent = std::numeric_limits<std::size_t>::max();

template <class IndexType, std::size_t... Extents>
class extents;

namespace detail {

template <class T>
struct is_extents : std::false_type {};
template <class I, std::size_t... E>
struct is_extents<extents<I, E...>> : std::true_type {};
template <class T>
inline constexpr bool is_extents_v = is_extents<T>::value;

template <std::size_t... E>
inline constexpr std::size_t count_dynamic = (std::size_t{0} + ... +
                                              std::size_t{E == dynamic_extent ? 1u : 0u});

/// dynamic_index[r]: how many dynamic extents come before dimension r (size rank + 1).
template <std::size_t... E>
constexpr std::array<std::size_t, sizeof...(E) + 1> make_dynamic_index() noexcept {
  std::array<std::size_t, sizeof...(E) + 1> out{};
  constexpr std::size_t statics[] = {E..., 0};
  std::size_t n = 0;
  for (std::size_t r = 0; r < sizeof...(E); ++r) {
    out[r] = n;
    if (statics[r] == dynamic_extent) ++n;
  }
  out[sizeof...(E)] = n;
  return out;
}

/// Storage of the dynamic extents; empty (and free, by the empty-base optimisation) when all
/// extents are static.
template <class I, std::size_t N>
struct dynamic_extents_storage {
  std::array<I, N> dynamic_values_{};
};
template <class I>
struct dynamic_extents_storage<I, 0> {};

/// Extents OE can be converted to E: same rank, and every pair of static extents agrees.
template <bool SameRank, class E, class OE>
struct extents_compatible_impl : std::false_type {};
template <class I, std::size_t... E, class OI, std::size_t... OE>
struct extents_compatible_impl<true, extents<I, E...>, extents<OI, OE...>>
    : std::bool_constant<((E == dynamic_extent || OE == dynamic_extent || E == OE) && ...)> {};
template <class E, class OE>
inline constexpr bool extents_compatible_v =
    extents_compatible_impl<E::rank() == OE::rank(), E, OE>::value;

/// The conversion OE -> E is explicit when a dynamic extent becomes static or values may not fit.
template <bool SameRank, class E, class OE>
struct extents_conversion_explicit_impl : std::true_type {};
template <class I, std::size_t... E, class OI, std::size_t... OE>
struct extents_conversion_explicit_impl<true, extents<I, E...>, extents<OI, OE...>>
    : std::bool_constant<(((E != dynamic_extent) && (OE == dynamic_extent)) || ... || false) ||
                         (max_of<I> < max_of<OI>)> {};
template <class E, class OE>
inline constexpr bool extents_conversion_explicit_v =
    extents_conversion_explicit_impl<E::rank() == OE::rank(), E, OE>::value;

template <class>
inline constexpr std::size_t dynamic_extent_for = dynamic_extent;

/// Compile-time access to extent R (no branch on a static extent, even at -O0).
struct extents_access {
  template <std::size_t R, class E>
  static constexpr typename E::index_type get(const E& e) noexcept {
    return e.template extent_at_<R>();
  }
};
template <std::size_t R, class E>
constexpr typename E::index_type extent_at(const E& e) noexcept {
  return extents_access::get<R>(e);
}

}  // namespace detail

/// The shape of a view: rank() extents, each static (a template argument) or dynamic
/// (dynamic_extent, given at run time). IndexType is the signed or unsigned integer type of
/// indices and extents.
template <class IndexType, std::size_t... Extents>
class extents
    : private detail::dynamic_extents_storage<IndexType, detail::count_dynamic<Extents...>> {
  static_assert(detail::is_index_type_v<IndexType>,
                "shmarray::extents<IndexType, ...>: IndexType must be a signed or unsigned integer "
                "type (not bool, char, wchar_t, char8_t, char16_t, char32_t, nor cv-qualified)");
  static_assert(((Extents == dynamic_extent ||
                  static_cast<unsigned long long>(Extents) <= detail::max_of<IndexType>)&&...),
                "shmarray::extents: every static extent must be representable as IndexType");

  friend struct detail::extents_access;

 public:
  using index_type = IndexType;
  using size_type = std::make_unsigned_t<IndexType>;
  using rank_type = std::size_t;

  static constexpr rank_type rank() noexcept { return sizeof...(Extents); }
  static constexpr rank_type rank_dynamic() noexcept { return detail::count_dynamic<Extents...>; }
  /// Precondition: r < rank().
  static constexpr std::size_t static_extent(rank_type r) noexcept { return statics_[r]; }
  /// Precondition: r < rank().
  constexpr index_type extent(rank_type r) const noexcept {
    if constexpr (rank_dynamic() == 0) {
      return static_cast<index_type>(statics_[r]);
    } else {
      return statics_[r] == dynamic_extent ? this->dynamic_values_[dynamic_index_[r]]
                                           : static_cast<index_type>(statics_[r]);
    }
  }

  /// All dynamic extents zero.
  constexpr extents() noexcept = default;

  /// From other extents of the same rank whose static extents agree with ours. Explicit when a
  /// dynamic extent becomes static or the index type narrows. Precondition: the values fit.
  template <
      class OI, std::size_t... OE,
      std::enable_if_t<detail::extents_compatible_v<extents, extents<OI, OE...>> &&
                           !detail::extents_conversion_explicit_v<extents, extents<OI, OE...>>,
                       int> = 0>
  constexpr extents(const extents<OI, OE...>& other) noexcept {
    assign_from_all(other);
  }
  template <class OI, std::size_t... OE,
            std::enable_if_t<detail::extents_compatible_v<extents, extents<OI, OE...>> &&
                                 detail::extents_conversion_explicit_v<extents, extents<OI, OE...>>,
                             int> = 0>
  constexpr explicit extents(const extents<OI, OE...>& other) noexcept {
    assign_from_all(other);
  }

  /// From the dynamic extents only, or from all rank() extents (the static ones must then equal
  /// their template arguments).
  template <class... OI,
            std::enable_if_t<(sizeof...(OI) == rank_dynamic() || sizeof...(OI) == rank()) &&
                                 (detail::is_index_like_v<OI, index_type> && ...),
                             int> = 0>
  constexpr explicit extents(OI... exts) noexcept {
    const std::array<index_type, sizeof...(OI)> values{static_cast<index_type>(std::move(exts))...};
    assign_from_array(values);
  }

  /// From a std::array of the dynamic extents (implicit) or of all extents (explicit). The
  /// elements are read as const lvalues (std::as_const), as the standard says.
  template <class OI, std::size_t N,
            std::enable_if_t<N == rank_dynamic() && detail::is_index_like_v<const OI&, index_type>,
                             int> = 0>
  constexpr extents(const std::array<OI, N>& exts) noexcept {
    assign_from_array(exts);
  }
  template <class OI, std::size_t N,
            std::enable_if_t<N != rank_dynamic() && N == rank() &&
                                 detail::is_index_like_v<const OI&, index_type>,
                             int> = 0>
  constexpr explicit extents(const std::array<OI, N>& exts) noexcept {
    assign_from_array(exts);
  }

#if defined(__cpp_lib_span)
  /// From a std::span of the dynamic extents (implicit) or of all extents (explicit).
  template <class OI, std::size_t N,
            std::enable_if_t<N == rank_dynamic() && detail::is_index_like_v<const OI&, index_type>,
                             int> = 0>
  constexpr extents(std::span<OI, N> exts) noexcept {
    assign_from_array(exts);
  }
  template <class OI, std::size_t N,
            std::enable_if_t<N != rank_dynamic() && N == rank() &&
                                 detail::is_index_like_v<const OI&, index_type>,
                             int> = 0>
  constexpr explicit extents(std::span<OI, N> exts) noexcept {
    assign_from_array(exts);
  }
#endif

  /// Same rank and the same extent values (index types and static-ness may differ).
  template <class OI, std::size_t... OE>
  friend constexpr bool operator==(const extents& lhs, const extents<OI, OE...>& rhs) noexcept {
    if constexpr (rank() != sizeof...(OE)) {
      return false;
    } else {
      for (rank_type r = 0; r < rank(); ++r) {
        if (static_cast<unsigned long long>(lhs.extent(r)) !=
            static_cast<unsigned long long>(rhs.extent(r)))
          return false;
      }
      return true;
    }
  }
#if __cplusplus < 202002L
  template <class OI, std::size_t... OE>
  friend constexpr bool operator!=(const extents& lhs, const extents<OI, OE...>& rhs) noexcept {
    return !(lhs == rhs);
  }
#endif

 private:
  static constexpr std::size_t statics_[rank() + 1] = {Extents..., 0};
  static constexpr std::array<std::size_t, rank() + 1> dynamic_index_ =
      detail::make_dynamic_index<Extents...>();

  template <std::size_t R>
  constexpr index_type extent_at_() const noexcept {
    if constexpr (statics_[R] == dynamic_extent) {
      return this->dynamic_values_[dynamic_index_[R]];
    } else {
      return static_cast<index_type>(statics_[R]);
    }
  }

  template <class V>
  static constexpr void check_value(V v, rank_type r) noexcept {
    if constexpr (detail::bounds_check_enabled) {
      if constexpr (std::is_signed_v<V>) {
        if (v < 0) detail::precondition_failed("extents: a negative extent");
      }
      if (static_cast<unsigned long long>(v) > detail::max_of<index_type>)
        detail::precondition_failed("extents: an extent is not representable as index_type");
      if (statics_[r] != dynamic_extent && static_cast<unsigned long long>(v) != statics_[r])
        detail::precondition_failed("extents: a value differs from its static extent");
    } else {
      (void)v;
      (void)r;
    }
  }

  template <class Other>
  constexpr void assign_from_all(const Other& other) noexcept {
    for (rank_type r = 0; r < rank(); ++r) {
      check_value(other.extent(r), r);
      if constexpr (rank_dynamic() > 0) {
        if (statics_[r] == dynamic_extent)
          this->dynamic_values_[dynamic_index_[r]] = static_cast<index_type>(other.extent(r));
      }
    }
  }

  /// values holds rank_dynamic() dynamic extents, or rank() extents.
  template <class Array>
  constexpr void assign_from_array(const Array& values) noexcept {
    const std::size_t n = values.size();
    if (n == rank() && n != rank_dynamic()) {
      for (rank_type r = 0; r < n; ++r) {
        const index_type v = static_cast<index_type>(std::as_const(values[r]));
        check_value(v, r);
        if constexpr (rank_dynamic() > 0) {
          if (statics_[r] == dynamic_extent) this->dynamic_values_[dynamic_index_[r]] = v;
        }
      }
    } else {
      for (rank_type d = 0; d < n; ++d) {
        const index_type v = static_cast<index_type>(std::as_const(values[d]));
        if constexpr (rank_dynamic() > 0) {
          check_value(v, dynamic_rank_of(d));
          this->dynamic_values_[d] = v;
        }
      }
    }
  }

  /// The dimension of the d-th dynamic extent.
  static constexpr rank_type dynamic_rank_of(std::size_t d) noexcept {
    rank_type r = 0;
    while (r < rank() && !(statics_[r] == dynamic_extent && dynamic_index_[r] == d)) ++r;
    return r;
  }
};

/// extents(3, 4) is dextents<std::size_t, 2>.
template <class... Integrals,
          std::enable_if_t<(std::is_convertible_v<Integrals, std::size_t> && ...), int> = 0>
explicit extents(Integrals...) -> extents<std::size_t, detail::dynamic_extent_for<Integrals>...>;

namespace detail {
template <class IndexType, class Seq>
struct make_dextents;
template <class IndexType, std::size_t... R>
struct make_dextents<IndexType, std::index_sequence<R...>> {
  using type = extents<IndexType, ((void)R, dynamic_extent)...>;
};
}  // namespace detail

/// Rank extents, all dynamic.
template <class IndexType, std::size_t Rank>
using dextents = typename detail::make_dextents<IndexType, std::make_index_sequence<Rank>>::type;

}  // namespace shmarray
