// Compile-time contracts of the views (issue 3): trivially copyable mappings and accessors,
// noexcept where the standard says so, the is_always_* values and deduction guide results; and
// the standard's rules that issue 13 found broken (index conversions, Mandates, LWG 4021/4511).
// Built with bounds checks off: its one test case checks that indexing is then plain arithmetic.
#define SHMARRAY_BOUNDS_CHECK 0
#include <shmarray/mdspan.hpp>

#include <array>
#include <catch2/catch.hpp>
#include <cstddef>
#include <type_traits>
#include <utility>
#if defined(__cpp_lib_span)
#include <span>
#endif

namespace sh = shmarray;
using std::size_t;

namespace {

using E0 = sh::extents<int>;
using E2s = sh::extents<int, 3, 4>;
using E2d = sh::dextents<size_t, 2>;
using E3m = sh::extents<unsigned, 2, sh::dynamic_extent, 4>;

// --- trivially copyable, default constructible --------------------------------------------------

template <class E>
constexpr bool mappings_trivially_copyable =
    std::is_trivially_copyable_v<sh::layout_right::mapping<E>>&& std::is_trivially_copyable_v<
        sh::layout_left::mapping<E>>&& std::is_trivially_copyable_v<sh::layout_stride::mapping<E>>;
static_assert(mappings_trivially_copyable<E0>);
static_assert(mappings_trivially_copyable<E2s>);
static_assert(mappings_trivially_copyable<E2d>);
static_assert(mappings_trivially_copyable<E3m>);
static_assert(std::is_trivially_copyable_v<E2d> && std::is_trivially_copyable_v<E2s>);
static_assert(std::is_trivially_copyable_v<sh::default_accessor<double>>);
static_assert(std::is_trivially_copyable_v<sh::default_accessor<const double>>);
static_assert(std::is_empty_v<sh::default_accessor<float>>);
static_assert(std::is_empty_v<E2s>);
static_assert(std::is_trivially_copyable_v<sh::mdspan<double, E2d>>);
static_assert(std::is_trivially_copyable_v<sh::mdspan<double, E3m, sh::layout_stride>>);
static_assert(std::is_nothrow_default_constructible_v<sh::layout_right::mapping<E2d>>);
static_assert(std::is_nothrow_default_constructible_v<sh::layout_stride::mapping<E2d>>);

// --- noexcept where the standard says so --------------------------------------------------------

template <class M, class E = typename M::extents_type>
constexpr bool mapping_noexcept =
    noexcept(std::declval<const M&>().extents()) && noexcept(std::declval<const M&>().required_span_size()) && noexcept(std::declval<const M&>()(0, 0)) && noexcept(
        std::declval<const M&>().stride(
            0)) && noexcept(std::declval<const M&>()
                                .is_unique()) && noexcept(std::declval<const M&>()
                                                              .is_exhaustive()) && noexcept(std::declval<const M&>()
                                                                                                .is_strided()) && noexcept(M::is_always_unique()) && noexcept(std::
                                                                                                                                                                  declval<
                                                                                                                                                                      const M&>() ==
                                                                                                                                                              std::declval<
                                                                                                                                                                  const M&>()) &&
    std::is_nothrow_copy_constructible_v<M>&& std::is_nothrow_copy_assignable_v<M> &&
    (std::is_same_v<typename M::layout_type, sh::layout_stride> ||
     std::is_nothrow_constructible_v<M, const E&>);
static_assert(mapping_noexcept<sh::layout_right::mapping<E2d>>);
static_assert(mapping_noexcept<sh::layout_left::mapping<E2d>>);
static_assert(mapping_noexcept<sh::layout_stride::mapping<E2d>>);
static_assert(std::is_nothrow_constructible_v<sh::layout_stride::mapping<E2d>, const E2d&,
                                              const std::array<int, 2>&>);
static_assert(std::is_nothrow_constructible_v<sh::layout_stride::mapping<E2d>,
                                              const sh::layout_right::mapping<E2s>&>);
static_assert(std::is_nothrow_constructible_v<sh::layout_right::mapping<E2s>,
                                              const sh::layout_stride::mapping<E2d>&>);

static_assert(noexcept(E2d::rank()) && noexcept(E2d::rank_dynamic()) && noexcept(
    E2d::static_extent(0)) && noexcept(std::declval<E2d>().extent(0)));
static_assert(std::is_nothrow_constructible_v<E2d, int, long>);
static_assert(std::is_nothrow_constructible_v<E2d, const std::array<int, 2>&>);
static_assert(std::is_nothrow_constructible_v<E2d, const E2s&>);
static_assert(noexcept(std::declval<E2d>() == std::declval<E2s>()));

static_assert(noexcept(std::declval<sh::default_accessor<int>>().access(nullptr, 0)));
static_assert(noexcept(std::declval<sh::default_accessor<int>>().offset(nullptr, 0)));
static_assert(
    std::is_nothrow_constructible_v<sh::default_accessor<const int>, sh::default_accessor<int>>);

using M2 = sh::mdspan<float, E2d, sh::layout_left>;
static_assert(noexcept(std::declval<M2>().extents()) && noexcept(std::declval<M2>().extent(0)) && noexcept(
    std::declval<M2>()
        .size()) && noexcept(std::declval<M2>()
                                 .empty()) && noexcept(std::declval<M2>()
                                                           .data_handle()) && noexcept(std::declval<M2>()
                                                                                           .mapping()) && noexcept(std::declval<M2>()
                                                                                                                       .accessor()) && noexcept(M2::rank()) && noexcept(M2::rank_dynamic()) && noexcept(M2::
                                                                                                                                                                                                            static_extent(
                                                                                                                                                                                                                0)));
static_assert(std::is_nothrow_swappable_v<M2>);

// --- is_always_* --------------------------------------------------------------------------------

template <class M, bool U, bool X, bool S>
constexpr bool always_is =
    M::is_always_unique() == U&& M::is_always_exhaustive() == X&& M::is_always_strided() == S;
static_assert(always_is<sh::layout_right::mapping<E2d>, true, true, true>);
static_assert(always_is<sh::layout_left::mapping<E3m>, true, true, true>);
static_assert(always_is<sh::layout_stride::mapping<E2d>, true, false, true>);
static_assert(always_is<sh::layout_stride::mapping<E0>, true, true, true>);  // LWG 4266
static_assert(always_is<sh::layout_stride::mapping<sh::extents<int, 0, sh::dynamic_extent>>, true,
                        true, true>);  // a static 0: always empty (LWG 4266)
static_assert(always_is<sh::mdspan<int, E2d, sh::layout_stride>, true, false, true>);
static_assert(always_is<sh::mdspan<int, E2d>, true, true, true>);

// --- extents, constexpr -------------------------------------------------------------------------

static_assert(E3m::rank() == 3 && E3m::rank_dynamic() == 1);
static_assert(E3m::static_extent(1) == sh::dynamic_extent && E3m::static_extent(2) == 4);
static_assert(E3m(5).extent(1) == 5 && E3m(5).extent(2) == 4);
static_assert(E2s{} == E2d(3, 4));
static_assert(sh::layout_right::mapping<E2s>{}(2, 3) == 11);
static_assert(sh::layout_left::mapping<E2s>{}(2, 3) == 11);
static_assert(sh::layout_left::mapping<E2s>{}(1, 2) == 7);
static_assert(sh::layout_stride::mapping<E2s>({}, std::array<int, 2>{1, 3}).required_span_size() ==
              12);
static_assert(sh::layout_stride::mapping<E2s>({}, std::array<int, 2>{1, 3}).is_exhaustive());
static_assert(
    std::is_same_v<sh::dextents<short, 3>,
                   sh::extents<short, sh::dynamic_extent, sh::dynamic_extent, sh::dynamic_extent>>);

// --- deduction guides ---------------------------------------------------------------------------

static_assert(std::is_same_v<decltype(sh::extents(1, 2u)), sh::dextents<size_t, 2>>);
static_assert(std::is_same_v<decltype(sh::mdspan(std::declval<double (&)[64]>())),
                             sh::mdspan<double, sh::extents<size_t, 64>>>);
static_assert(std::is_same_v<decltype(sh::mdspan(std::declval<double*>())),
                             sh::mdspan<double, sh::extents<size_t>>>);
static_assert(std::is_same_v<decltype(sh::mdspan(std::declval<double*>(), 4, 4)),
                             sh::mdspan<double, sh::dextents<size_t, 2>>>);
static_assert(std::is_same_v<decltype(sh::mdspan(std::declval<const double*>(), 4)),
                             sh::mdspan<const double, sh::dextents<size_t, 1>>>);
static_assert(
    std::is_same_v<decltype(sh::mdspan(std::declval<double*>(), std::array<int, 3>{2, 2, 2})),
                   sh::mdspan<double, sh::dextents<size_t, 3>>>);
static_assert(
    std::is_same_v<decltype(sh::mdspan(std::declval<double*>(), E3m(2))), sh::mdspan<double, E3m>>);
static_assert(
    std::is_same_v<decltype(sh::mdspan(std::declval<double*>(), sh::layout_left::mapping<E2s>())),
                   sh::mdspan<double, E2s, sh::layout_left>>);
static_assert(
    std::is_same_v<decltype(sh::mdspan(std::declval<double*>(), sh::layout_stride::mapping<E2d>(),
                                       sh::default_accessor<double>())),
                   sh::mdspan<double, E2d, sh::layout_stride>>);
static_assert(
    std::is_same_v<decltype(sh::strided_slice{1, 2L, 3u}), sh::strided_slice<int, long, unsigned>>);

// --- submdspan result types ---------------------------------------------------------------------

using V3 = sh::mdspan<double, sh::extents<int, 3, 4, 5>>;
using V3L = sh::mdspan<double, sh::extents<int, 3, 4, 5>, sh::layout_left>;
using F = sh::full_extent_t;
using P = std::pair<int, int>;
template <class V, class... S>
using sub_t = decltype(sh::submdspan(std::declval<V>(), std::declval<S>()...));
static_assert(std::is_same_v<sub_t<V3, int, P, F>,
                             sh::mdspan<double, sh::extents<int, sh::dynamic_extent, 5>>>);
static_assert(std::is_same_v<sub_t<V3, F, F, F>, V3>);
static_assert(std::is_same_v<sub_t<V3, int, int, int>, sh::mdspan<double, sh::extents<int>>>);
static_assert(std::is_same_v<sub_t<V3, P, P, F>::layout_type, sh::layout_stride>);
static_assert(std::is_same_v<sub_t<V3, F, int, F>::layout_type, sh::layout_stride>);
static_assert(std::is_same_v<sub_t<V3L, F, P, int>::layout_type, sh::layout_left>);
static_assert(
    std::is_same_v<sub_t<V3L, F, P, int>::extents_type, sh::extents<int, 3, sh::dynamic_extent>>);
static_assert(std::is_same_v<sub_t<V3L, int, F, F>::layout_type, sh::layout_stride>);
static_assert(std::is_same_v<sub_t<V3L, int, int, int>::layout_type, sh::layout_left>);
static_assert(
    std::is_same_v<sub_t<V3, int, int,
                         sh::strided_slice<int, int, std::integral_constant<int, 1>>>::layout_type,
                   sh::layout_right>);
static_assert(std::is_same_v<sub_t<V3, int, int,
                                   sh::strided_slice<int, std::integral_constant<int, 5>,
                                                     std::integral_constant<int, 2>>>::extents_type,
                             sh::extents<int, 3>>);
static_assert(
    std::is_same_v<sub_t<sh::mdspan<double, sh::extents<int, 3, 4>, sh::layout_stride>, int, int>,
                   sh::mdspan<double, sh::extents<int>, sh::layout_stride>>);

// --- issue 13: the standard's rules that conformance suites check -------------------------------

// Point 1: layout_stride::mapping::stride is unconstrained (it exists for rank 0, where no r is
// valid); layout_right's and layout_left's need rank() > 0.
template <class M, class = void>
struct has_stride : std::false_type {};
template <class M>
struct has_stride<M, std::void_t<decltype(std::declval<const M&>().stride(0))>> : std::true_type {};
using S0 = sh::layout_stride::mapping<E0>;
static_assert(has_stride<S0>::value);
static_assert(std::is_same_v<decltype(std::declval<const S0&>().stride(0)), int>);
static_assert(noexcept(std::declval<const S0&>().stride(0)));
static_assert(!has_stride<sh::layout_right::mapping<E0>>::value);
static_assert(!has_stride<sh::layout_left::mapping<E0>>::value);
static_assert(has_stride<sh::layout_right::mapping<E2d>>::value &&
              has_stride<sh::layout_left::mapping<E2d>>::value);

// Point 2: mdspan::is_always_* are noexcept (LWG 4021).
template <class M>
constexpr bool always_noexcept = noexcept(M::is_always_unique()) && noexcept(
    M::is_always_exhaustive()) && noexcept(M::is_always_strided());
static_assert(always_noexcept<M2>);
static_assert(always_noexcept<sh::mdspan<int, E3m, sh::layout_stride>>);
static_assert(always_noexcept<sh::mdspan<int, E0, sh::layout_right>>);

// Point 3: index types that convert to int only in some value categories. An index passed by value
// is converted from std::move(i): is_convertible_v<T, index_type> and
// is_nothrow_constructible_v<index_type, T>. A std::array or std::span element is read as a const
// lvalue: is_convertible_v<const T&, index_type> and is_nothrow_constructible_v<index_type, const
// T&>.
struct only_rvalue {  // convertible only as an rvalue
  int v;
  constexpr operator int() && noexcept { return v; }
};
struct only_nonconst {  // convertible only when non-const (any value category)
  int v;
  constexpr operator int() noexcept { return v; }
};
struct not_mutable_lvalue {  // convertible as an rvalue or a const lvalue, not as a non-const
                             // lvalue
  int v;
  constexpr operator int() const& noexcept { return v; }
  operator int() & = delete;
};
struct only_lvalue {  // is_convertible_v<only_lvalue, int> is false: refused by the index packs
  int v;
  constexpr operator int() & noexcept { return v; }
};
struct throwing_index {  // convertible, but not without throwing: refused everywhere
  int v;
  constexpr operator int() const { return v; }
};

using R2 = sh::layout_right::mapping<E2s>;
using L2 = sh::layout_left::mapping<E2s>;
using S2 = sh::layout_stride::mapping<E2s>;
using C2 = sh::mdspan<const int, E2s>;
using D2 = sh::mdspan<const int, E2d>;

template <class T>
constexpr bool pack_accepted =
    std::is_nothrow_constructible_v<E2d, T, T>&& std::is_invocable_v<const R2&, T, T>&&
        std::is_invocable_v<const L2&, T, T>&& std::is_invocable_v<const S2&, T, T>&&
            std::is_invocable_v<const C2&, T, T>&& std::is_constructible_v<D2, const int*, T, T>;
template <class T>
constexpr bool pack_refused =
    !std::is_constructible_v<E2d, T, T> && !std::is_invocable_v<const R2&, T, T> &&
    !std::is_invocable_v<const L2&, T, T> && !std::is_invocable_v<const S2&, T, T> &&
    !std::is_invocable_v<const C2&, T, T> && !std::is_constructible_v<D2, const int*, T, T>;
static_assert(pack_accepted<only_rvalue>);
static_assert(pack_accepted<only_nonconst>);
static_assert(pack_accepted<not_mutable_lvalue>);
static_assert(pack_refused<only_lvalue>);
static_assert(pack_refused<throwing_index>);
static_assert(noexcept(std::declval<const R2&>()(only_rvalue{1}, only_nonconst{2})) && noexcept(
    std::declval<const S2&>()(only_rvalue{1}, only_nonconst{2})));

template <class M, class A, class = void>
struct has_subscript : std::false_type {};
template <class M, class A>
struct has_subscript<M, A, std::void_t<decltype(std::declval<const M&>()[std::declval<A>()])>>
    : std::true_type {};

template <class T>
constexpr bool array_accepted = std::is_nothrow_constructible_v<E2d, const std::array<T, 2>&>&&
    std::is_nothrow_constructible_v<S2, const E2s&, const std::array<T, 2>&>&& std::is_invocable_v<
        const C2&, const std::array<T, 2>&>&& has_subscript<C2, const std::array<T, 2>&>::value&&
        std::is_constructible_v<D2, const int*, const std::array<T, 2>&>;
template <class T>
constexpr bool array_refused = !std::is_constructible_v<E2d, const std::array<T, 2>&> &&
                               !std::is_constructible_v<S2, const E2s&, const std::array<T, 2>&> &&
                               !std::is_invocable_v<const C2&, const std::array<T, 2>&> &&
                               !has_subscript<C2, const std::array<T, 2>&>::value &&
                               !std::is_constructible_v<D2, const int*, const std::array<T, 2>&>;
static_assert(array_accepted<not_mutable_lvalue>);
static_assert(array_refused<only_rvalue>);
static_assert(array_refused<only_nonconst>);
static_assert(array_refused<only_lvalue>);
static_assert(array_refused<throwing_index>);

constexpr int grid[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
constexpr C2 cgrid(grid);
static_assert(cgrid(only_rvalue{2}, only_nonconst{3}) == 11);
static_assert(cgrid(not_mutable_lvalue{1}, only_rvalue{2}) == 6);
static_assert(cgrid(std::array<not_mutable_lvalue, 2>{{{2}, {1}}}) == 9);
static_assert(cgrid[std::array<not_mutable_lvalue, 2>{{{1}, {3}}}] == 7);
#if defined(__cpp_multidimensional_subscript)
static_assert(cgrid[only_rvalue{2}, only_nonconst{3}] == 11);
#endif
constexpr sh::mdspan<const int, sh::extents<int, 12>> line(grid);
static_assert(line[only_rvalue{7}] == 7 && line[only_nonconst{8}] == 8 &&
              line(only_rvalue{9}) == 9);
static_assert(R2{}(only_rvalue{1}, only_nonconst{2}) == 6);
static_assert(L2{}(only_rvalue{1}, only_nonconst{2}) == 7);
static_assert(S2(E2s{}, std::array<not_mutable_lvalue, 2>{{{1}, {3}}})(only_rvalue{2},
                                                                       only_nonconst{1}) == 5);
static_assert(E2d(only_rvalue{3}, only_nonconst{4}).extent(0) == 3 &&
              E2d(only_rvalue{3}, only_nonconst{4}).extent(1) == 4);
static_assert(E3m(only_rvalue{7}).extent(1) == 7);
static_assert(E2d(std::array<not_mutable_lvalue, 2>{{{5}, {6}}}).extent(1) == 6);
static_assert(D2(grid, only_rvalue{4}, only_nonconst{3})(only_rvalue{3}, only_rvalue{2}) == 11);
static_assert(D2(grid, std::array<not_mutable_lvalue, 2>{{{4}, {3}}}).extent(0) == 4);

#if defined(__cpp_lib_span)
// A std::span of non-const elements hands out non-const lvalues: the standard reads them through
// std::as_const, so not_mutable_lvalue works there too.
template <class T, std::size_t N>
using span_t = std::span<T, N>;
static_assert(std::is_nothrow_constructible_v<E2d, span_t<not_mutable_lvalue, 2>> &&
              std::is_nothrow_constructible_v<S2, const E2s&, span_t<not_mutable_lvalue, 2>> &&
              has_subscript<C2, span_t<not_mutable_lvalue, 2>>::value &&
              std::is_constructible_v<D2, const int*, span_t<not_mutable_lvalue, 2>>);
static_assert(!std::is_constructible_v<E2d, span_t<only_rvalue, 2>> &&
              !std::is_constructible_v<S2, const E2s&, span_t<only_nonconst, 2>> &&
              !has_subscript<C2, span_t<only_rvalue, 2>>::value &&
              !std::is_constructible_v<D2, const int*, span_t<only_nonconst, 2>>);
constexpr bool span_elements_read_as_const() {
  std::array<not_mutable_lvalue, 2> ext{{{3}, {4}}}, strides{{{1}, {3}}}, idx{{{2}, {1}}};
  const E2d e{span_t<not_mutable_lvalue, 2>(ext)};
  const S2 m(E2s{}, span_t<not_mutable_lvalue, 2>(strides));
  const D2 d(grid, span_t<not_mutable_lvalue, 2>(ext));
  return e.extent(0) == 3 && e.extent(1) == 4 && m.stride(1) == 3 && d.extent(1) == 4 &&
         cgrid[span_t<not_mutable_lvalue, 2>(idx)] == 9;
}
static_assert(span_elements_read_as_const());
#endif

// Point 4: the deduction guide mdspan(data_handle, mapping, accessor) takes the handle by value
// (LWG 4511), so a volatile handle deduces; so do the pointer guides.
using VP = float* volatile;
static_assert(
    std::is_same_v<decltype(sh::mdspan(std::declval<VP&>(), sh::layout_stride::mapping<E2d>(),
                                       sh::default_accessor<float>())),
                   sh::mdspan<float, E2d, sh::layout_stride>>);
static_assert(
    std::is_same_v<decltype(sh::mdspan(std::declval<VP&>(), sh::layout_left::mapping<E2s>(),
                                       sh::default_accessor<float>())),
                   sh::mdspan<float, E2s, sh::layout_left>>);
static_assert(std::is_same_v<decltype(sh::mdspan(std::declval<VP&>(), 2, 3)),
                             sh::mdspan<float, sh::dextents<size_t, 2>>>);
static_assert(std::is_same_v<decltype(sh::mdspan(std::declval<VP&>())),
                             sh::mdspan<float, sh::extents<size_t>>>);

// Point 5: the Mandates. IndexType is a signed or unsigned integer type (the compile-fail tests
// check that extents<char> and the like do not compile), and a layout mapping of all-static
// extents needs their product representable as index_type (extents<signed char, 20, 20> does not
// compile).
static_assert(sh::detail::is_index_type_v<signed char> &&
              sh::detail::is_index_type_v<unsigned char> && sh::detail::is_index_type_v<short> &&
              sh::detail::is_index_type_v<int> && sh::detail::is_index_type_v<unsigned long> &&
              sh::detail::is_index_type_v<long long> && sh::detail::is_index_type_v<size_t>);
static_assert(!sh::detail::is_index_type_v<bool> && !sh::detail::is_index_type_v<char> &&
              !sh::detail::is_index_type_v<wchar_t> && !sh::detail::is_index_type_v<char16_t> &&
              !sh::detail::is_index_type_v<char32_t> && !sh::detail::is_index_type_v<const int> &&
              !sh::detail::is_index_type_v<float> && !sh::detail::is_index_type_v<int&>);
#if defined(__cpp_char8_t)
static_assert(!sh::detail::is_index_type_v<char8_t>);
#endif
template <class E>
constexpr bool fits = sh::detail::static_size_representable<E>();
static_assert(!fits<sh::extents<signed char, 20, 20>>);
static_assert(!fits<sh::extents<signed char, 64, 2>>);  // 128
static_assert(fits<sh::extents<signed char, 127, 1>>);
static_assert(fits<sh::extents<signed char, 20, sh::dynamic_extent>>);  // not all static
static_assert(fits<sh::extents<signed char, 127, 127, 0>>);             // empty: size 0
static_assert(fits<sh::extents<unsigned char, 255>> && !fits<sh::extents<unsigned char, 16, 16>>);
static_assert(!fits<sh::extents<size_t, size_t{1} << 32, size_t{1} << 32>>);  // 2^64 wraps
static_assert(fits<sh::extents<size_t, size_t{1} << 32, (size_t{1} << 32) - 1>>);
static_assert(fits<E0>);
// At the limit the mappings exist, with the size they must have.
static_assert(sh::layout_right::mapping<sh::extents<signed char, 127, 1>>{}.required_span_size() ==
              127);
static_assert(
    sh::layout_stride::mapping<sh::extents<unsigned char, 15, 17>>{}.required_span_size() == 255);

}  // namespace

TEST_CASE("without bounds checks, indexing is plain arithmetic", "[mdspan][static]") {
  STATIC_REQUIRE_FALSE(sh::detail::bounds_check_enabled);
  int buf[40] = {};
  for (int i = 0; i < 40; ++i) buf[i] = i;
  // A 3x4 view of a larger buffer: (3, 1) is out of range, and is simply 3 * 4 + 1.
  sh::mdspan<int, sh::dextents<int, 2>> m(buf, 3, 4);
  CHECK(m(3, 1) == 13);
  CHECK(m(0, 7) == 7);
  CHECK(sh::submdspan(m, 2, sh::full_extent)(5) == 13);
}
