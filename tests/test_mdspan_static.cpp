// Compile-time contracts of the views (issue 3): trivially copyable mappings and accessors,
// noexcept where the standard says so, the is_always_* values and deduction guide results.
// Built with bounds checks off: its one test case checks that indexing is then plain arithmetic.
#define SHMARRAY_BOUNDS_CHECK 0
#include <shmarray/mdspan.hpp>

#include <array>
#include <catch2/catch.hpp>
#include <cstddef>
#include <type_traits>
#include <utility>

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
