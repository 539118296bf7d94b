// Unit tests of the views (issue 3): extents, the three layouts, default_accessor, mdspan,
// submdspan and bounds checking. Randomised checks against a naive formula are in
// test_mdspan_reference.cpp; compile-time contracts in test_mdspan_static.cpp.
#define SHMARRAY_BOUNDS_CHECK 1
#include <shmarray/mdspan.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "test_support.hpp"

namespace sh = shmarray;
using std::size_t;

namespace {

std::vector<int> iota_buffer(size_t n) {
  std::vector<int> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

/// Runs fn in a forked child with stderr captured; returns how it ended and what it printed.
shmtest::child_status run_capturing_stderr(const std::function<void()>& fn) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  auto st = shmtest::run_in_child([&] {
    ::dup2(fds[1], 2);
    fn();
    return 0;
  });
  ::close(fds[1]);
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) st.out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  return st;
}

}  // namespace

// --- extents ------------------------------------------------------------------------------------

TEST_CASE("extents: static and dynamic extents", "[mdspan][extents]") {
  using E = sh::extents<int, 3, sh::dynamic_extent, 5, sh::dynamic_extent>;
  STATIC_REQUIRE(E::rank() == 4);
  STATIC_REQUIRE(E::rank_dynamic() == 2);
  STATIC_REQUIRE(E::static_extent(0) == 3);
  STATIC_REQUIRE(E::static_extent(1) == sh::dynamic_extent);
  STATIC_REQUIRE(std::is_same_v<E::index_type, int>);
  STATIC_REQUIRE(std::is_same_v<E::size_type, unsigned>);
  STATIC_REQUIRE(std::is_same_v<E::rank_type, size_t>);

  const E from_dynamic(4, 6);
  CHECK(from_dynamic.extent(0) == 3);
  CHECK(from_dynamic.extent(1) == 4);
  CHECK(from_dynamic.extent(2) == 5);
  CHECK(from_dynamic.extent(3) == 6);

  const E from_all(3, 4L, 5u, short{6});
  CHECK(from_all == from_dynamic);

  const E from_array(std::array<long, 2>{4, 6});
  CHECK(from_array == from_dynamic);
  const E from_all_array(std::array<int, 4>{3, 4, 5, 6});
  CHECK(from_all_array == from_dynamic);

  const E zeros;
  CHECK(zeros.extent(1) == 0);
  CHECK(zeros.extent(0) == 3);
  CHECK(zeros.extent(3) == 0);
}

TEST_CASE("extents: all static costs no storage, rank 0 is fine", "[mdspan][extents]") {
  STATIC_REQUIRE(std::is_empty_v<sh::extents<size_t, 2, 3>>);
  STATIC_REQUIRE(sizeof(sh::dextents<size_t, 3>) == 3 * sizeof(size_t));
  STATIC_REQUIRE(sizeof(sh::extents<int, 2, sh::dynamic_extent>) == sizeof(int));
  using E0 = sh::extents<size_t>;
  STATIC_REQUIRE(E0::rank() == 0);
  STATIC_REQUIRE(E0::rank_dynamic() == 0);
  CHECK(E0{} == sh::extents<int>{});
}

TEST_CASE("extents: dextents, deduction guide, comparison across types", "[mdspan][extents]") {
  STATIC_REQUIRE(std::is_same_v<sh::dextents<int, 2>,
                                sh::extents<int, sh::dynamic_extent, sh::dynamic_extent>>);
  STATIC_REQUIRE(std::is_same_v<sh::dextents<size_t, 0>, sh::extents<size_t>>);
  sh::extents e(2, 3u, 4L);
  STATIC_REQUIRE(std::is_same_v<decltype(e), sh::dextents<size_t, 3>>);
  CHECK(e.extent(2) == 4);

  CHECK(sh::extents<int, 2, 3>{} == sh::extents<size_t, sh::dynamic_extent, 3>(2));
  CHECK(sh::extents<int, 2, 3>{} != sh::extents<size_t, sh::dynamic_extent, 3>(4));
  CHECK(sh::extents<int, 2, 3>{} != sh::extents<int, 2, 3, 1>{});
  CHECK(sh::extents<int>{} != sh::extents<int, 1>{});
}

TEST_CASE("extents: converting constructors", "[mdspan][extents]") {
  using S = sh::extents<int, 2, 3>;
  using D = sh::dextents<size_t, 2>;
  // static -> dynamic, int -> size_t: implicit.
  STATIC_REQUIRE(std::is_convertible_v<S, D>);
  const D d = S{};
  CHECK(d.extent(0) == 2);
  CHECK(d.extent(1) == 3);
  // dynamic -> static, or narrowing index type: explicit only.
  STATIC_REQUIRE(std::is_constructible_v<S, D>);
  STATIC_REQUIRE(!std::is_convertible_v<D, S>);
  STATIC_REQUIRE(!std::is_convertible_v<sh::dextents<size_t, 2>, sh::dextents<int, 2>>);
  STATIC_REQUIRE(std::is_constructible_v<sh::dextents<int, 2>, sh::dextents<size_t, 2>>);
  CHECK(S(d) == d);
  // different static extents, different rank: not at all.
  STATIC_REQUIRE(!std::is_constructible_v<S, sh::extents<int, 2, 4>>);
  STATIC_REQUIRE(!std::is_constructible_v<S, sh::extents<int, 2>>);
  // from arrays: exactly rank_dynamic() (implicit) or rank() values (explicit).
  STATIC_REQUIRE(std::is_convertible_v<std::array<int, 2>, D>);
  STATIC_REQUIRE(
      !std::is_convertible_v<std::array<int, 2>, sh::extents<int, 2, sh::dynamic_extent>>);
  STATIC_REQUIRE(
      std::is_constructible_v<sh::extents<int, 2, sh::dynamic_extent>, std::array<int, 2>>);
  STATIC_REQUIRE(!std::is_constructible_v<D, std::array<int, 3>>);
  // from values: rank_dynamic() or rank() of them, never floating point.
  STATIC_REQUIRE(!std::is_constructible_v<D, int>);
  STATIC_REQUIRE(!std::is_constructible_v<D, double, double>);
  STATIC_REQUIRE(!std::is_constructible_v<D, int*, int>);
}

TEST_CASE("extents: a value that contradicts a static extent aborts with bounds checks on",
          "[mdspan][extents][contract]") {
  auto st = run_capturing_stderr([] {
    const sh::extents<int, 2, sh::dynamic_extent> e(3, 4);  // 3 != 2
    (void)e;
  });
  CHECK(st.signal == SIGABRT);
  CHECK(st.out.find("differs from its static extent") != std::string::npos);
}

// --- layouts ------------------------------------------------------------------------------------

TEST_CASE("layout_right: C order", "[mdspan][layout]") {
  using E = sh::extents<int, 2, sh::dynamic_extent, 4>;
  const sh::layout_right::mapping<E> m(E(3));
  CHECK(m.required_span_size() == 24);
  CHECK(m(0, 0, 0) == 0);
  CHECK(m(0, 0, 1) == 1);
  CHECK(m(0, 1, 0) == 4);
  CHECK(m(1, 0, 0) == 12);
  CHECK(m(1, 2, 3) == 23);
  CHECK(m.stride(0) == 12);
  CHECK(m.stride(1) == 4);
  CHECK(m.stride(2) == 1);
  CHECK(m.extents() == E(3));
  STATIC_REQUIRE(m.is_always_unique() && m.is_always_exhaustive() && m.is_always_strided());
  CHECK((m.is_unique() && m.is_exhaustive() && m.is_strided()));
  CHECK(m == sh::layout_right::mapping<sh::dextents<size_t, 3>>(sh::dextents<size_t, 3>(2, 3, 4)));
  CHECK(m != sh::layout_right::mapping<sh::dextents<size_t, 3>>(sh::dextents<size_t, 3>(2, 3, 5)));
}

TEST_CASE("layout_left: Fortran order", "[mdspan][layout]") {
  using E = sh::dextents<size_t, 3>;
  const sh::layout_left::mapping<E> m(E(2, 3, 4));
  CHECK(m.required_span_size() == 24);
  CHECK(m(1, 0, 0) == 1);
  CHECK(m(0, 1, 0) == 2);
  CHECK(m(0, 0, 1) == 6);
  CHECK(m(1, 2, 3) == 1 + 2 * 2 + 3 * 6);
  CHECK(m.stride(0) == 1);
  CHECK(m.stride(1) == 2);
  CHECK(m.stride(2) == 6);
  STATIC_REQUIRE(m.is_always_exhaustive());
}

TEST_CASE("layouts: rank 0 and zero extents", "[mdspan][layout]") {
  const sh::layout_right::mapping<sh::extents<int>> r0;
  CHECK(r0.required_span_size() == 1);
  CHECK(r0() == 0);
  const sh::layout_left::mapping<sh::extents<int, 3, 0>> z;
  CHECK(z.required_span_size() == 0);
  CHECK(z.stride(1) == 3);
  const sh::layout_stride::mapping<sh::extents<int>> s0;
  CHECK(s0.required_span_size() == 1);
  CHECK(s0.is_exhaustive());
}

TEST_CASE("layout conversions allowed by the standard", "[mdspan][layout]") {
  using E = sh::dextents<int, 2>;
  using R = sh::layout_right::mapping<E>;
  using L = sh::layout_left::mapping<E>;
  using S = sh::layout_stride::mapping<E>;
  // right/left -> stride: implicit.
  STATIC_REQUIRE(std::is_convertible_v<R, S>);
  STATIC_REQUIRE(std::is_convertible_v<L, S>);
  const S from_right = R(E(3, 4));
  CHECK(from_right.stride(0) == 4);
  CHECK(from_right.stride(1) == 1);
  CHECK(from_right == R(E(3, 4)));
  CHECK(R(E(3, 4)) == from_right);
  const S from_left = L(E(3, 4));
  CHECK(from_left.stride(0) == 1);
  CHECK(from_left.stride(1) == 3);
  // stride -> right/left: explicit (precondition: the strides match).
  STATIC_REQUIRE(!std::is_convertible_v<S, R>);
  STATIC_REQUIRE(std::is_constructible_v<R, S>);
  CHECK(R(from_right) == R(E(3, 4)));
  CHECK(L(from_left) == L(E(3, 4)));
  // right <-> left only for rank <= 1.
  STATIC_REQUIRE(!std::is_constructible_v<R, L>);
  STATIC_REQUIRE(!std::is_constructible_v<L, R>);
  using E1 = sh::dextents<int, 1>;
  STATIC_REQUIRE(
      std::is_convertible_v<sh::layout_left::mapping<E1>, sh::layout_right::mapping<E1>>);
  STATIC_REQUIRE(
      std::is_convertible_v<sh::layout_right::mapping<E1>, sh::layout_left::mapping<E1>>);
  const sh::layout_right::mapping<E1> r1 = sh::layout_left::mapping<E1>(E1(7));
  CHECK(r1.extents().extent(0) == 7);
  // rank 0: stride -> right implicit.
  STATIC_REQUIRE(std::is_convertible_v<sh::layout_stride::mapping<sh::extents<int>>,
                                       sh::layout_right::mapping<sh::extents<int>>>);
  // extents conversions carry over: static -> dynamic implicit, dynamic -> static explicit.
  STATIC_REQUIRE(std::is_convertible_v<sh::layout_right::mapping<sh::extents<int, 3, 4>>, R>);
  STATIC_REQUIRE(!std::is_convertible_v<R, sh::layout_right::mapping<sh::extents<int, 3, 4>>>);
  STATIC_REQUIRE(std::is_constructible_v<sh::layout_right::mapping<sh::extents<int, 3, 4>>, R>);
}

TEST_CASE("layout_stride -> layout_right with the wrong strides aborts with bounds checks on",
          "[mdspan][layout][contract]") {
  auto st = run_capturing_stderr([] {
    using E = sh::dextents<int, 2>;
    const sh::layout_stride::mapping<E> s(E(3, 4), std::array<int, 2>{1, 3});
    const sh::layout_right::mapping<E> r(s);
    (void)r;
  });
  CHECK(st.signal == SIGABRT);
  CHECK(st.out.find("not C order") != std::string::npos);
}

TEST_CASE("layout_stride: mapping, required_span_size, equality", "[mdspan][layout]") {
  using E = sh::dextents<size_t, 2>;
  const sh::layout_stride::mapping<E> m(E(3, 4), std::array<size_t, 2>{10, 2});
  CHECK(m(0, 0) == 0);
  CHECK(m(2, 3) == 26);
  CHECK(m.required_span_size() == 1 + 2 * 10 + 3 * 2);
  CHECK(m.strides() == std::array<size_t, 2>{10, 2});
  CHECK(!m.is_exhaustive());
  STATIC_REQUIRE(m.is_always_unique() && m.is_always_strided());
  STATIC_REQUIRE(!sh::layout_stride::mapping<E>::is_always_exhaustive());
  CHECK(m == sh::layout_stride::mapping<sh::extents<int, 3, 4>>({}, std::array<int, 2>{10, 2}));
  CHECK(m != sh::layout_stride::mapping<E>(E(3, 4), std::array<size_t, 2>{10, 3}));
  CHECK(m != sh::layout_right::mapping<E>(E(3, 4)));
  // Default: C-order strides.
  const sh::layout_stride::mapping<sh::extents<int, 2, 3, 4>> d;
  CHECK(d.stride(0) == 12);
  CHECK(d.stride(2) == 1);
  CHECK(d.is_exhaustive());
}

TEST_CASE("layout_stride: is_exhaustive, zero extents and extents of 1", "[mdspan][layout]") {
  using E2 = sh::dextents<int, 2>;
  using E3 = sh::dextents<int, 3>;
  auto ex = [](auto e, auto s) {
    return sh::layout_stride::mapping<decltype(e)>(e, s).is_exhaustive();
  };
  CHECK(ex(E2(2, 3), std::array<int, 2>{3, 1}));
  CHECK(ex(E2(2, 3), std::array<int, 2>{1, 2}));
  CHECK_FALSE(ex(E2(2, 3), std::array<int, 2>{4, 1}));
  CHECK_FALSE(ex(E2(2, 3), std::array<int, 2>{1, 3}));
  // Extents of 1: any stride there reaches nothing new (LWG 4562's example: exhaustive).
  CHECK(ex(E3(2, 1, 2), std::array<int, 3>{1, 5, 2}));
  CHECK(ex(E2(1, 1), std::array<int, 2>{7, 9}));
  // An empty index space is exhaustive whatever the strides (LWG 4266's example).
  CHECK(ex(E3(2, 2, 0), std::array<int, 3>{2, 6, 20}));
  CHECK(ex(E2(0, 3), std::array<int, 2>{1, 1}));
  // is_always_exhaustive: rank 0, or a static 0 extent.
  STATIC_REQUIRE(sh::layout_stride::mapping<sh::extents<int>>::is_always_exhaustive());
  STATIC_REQUIRE(
      sh::layout_stride::mapping<sh::extents<int, sh::dynamic_extent, 0>>::is_always_exhaustive());
  STATIC_REQUIRE(!sh::layout_stride::mapping<sh::extents<int, 1, 1>>::is_always_exhaustive());
}

// A user-defined strided mapping with an offset: not equal to a layout_stride mapping.
struct shifted {
  using extents_type = sh::dextents<int, 1>;
  using index_type = int;
  extents_type e{4};
  int base = 0;
  constexpr const extents_type& extents() const { return e; }
  constexpr int operator()(int i) const { return base + i; }
  constexpr int stride(size_t) const { return 1; }
  constexpr int required_span_size() const { return base + 4; }
  static constexpr bool is_always_unique() { return true; }
  static constexpr bool is_always_exhaustive() { return false; }
  static constexpr bool is_always_strided() { return true; }
};

TEST_CASE("layout_stride: equality needs the other mapping's offset of the zero index to be 0",
          "[mdspan][layout]") {
  const sh::layout_stride::mapping<sh::dextents<int, 1>> m(sh::dextents<int, 1>(4),
                                                           std::array<int, 1>{1});
  CHECK(m == shifted{});
  CHECK_FALSE(m == shifted{sh::dextents<int, 1>(4), 1});
}

// --- default_accessor ---------------------------------------------------------------------------

TEST_CASE("default_accessor", "[mdspan][accessor]") {
  double d[4] = {1, 2, 3, 4};
  const sh::default_accessor<double> a;
  CHECK(a.access(d, 2) == 3);
  CHECK(a.offset(d, 3) == d + 3);
  a.access(d, 1) = 20;
  CHECK(d[1] == 20);
  const sh::default_accessor<const double> c = a;
  CHECK(c.access(d, 1) == 20);
  STATIC_REQUIRE(
      !std::is_constructible_v<sh::default_accessor<double>, sh::default_accessor<const double>>);
  STATIC_REQUIRE(
      !std::is_constructible_v<sh::default_accessor<double>, sh::default_accessor<float>>);
}

// --- mdspan -------------------------------------------------------------------------------------

TEST_CASE("mdspan: constructors", "[mdspan]") {
  auto buf = iota_buffer(60);
  int* p = buf.data();
  using E = sh::extents<int, 3, sh::dynamic_extent, 5>;
  using M = sh::mdspan<int, E>;
  const M from_dynamic(p, 4);
  const M from_all(p, 3, 4, 5);
  const M from_array(p, std::array<int, 1>{4});
  const M from_all_array(p, std::array<size_t, 3>{3, 4, 5});
  const M from_extents(p, E(4));
  const M from_mapping(p, sh::layout_right::mapping<E>(E(4)));
  const M from_all_three(p, sh::layout_right::mapping<E>(E(4)), sh::default_accessor<int>());
  for (const M* m : {&from_dynamic, &from_all, &from_array, &from_all_array, &from_extents,
                     &from_mapping, &from_all_three}) {
    CHECK(m->data_handle() == p);
    CHECK(m->extent(1) == 4);
    CHECK((*m)(2, 3, 4) == 59);
  }
  // The null view: only with a dynamic extent.
  const sh::mdspan<int, sh::dextents<int, 2>> null;
  CHECK(null.data_handle() == nullptr);
  CHECK(null.empty());
  STATIC_REQUIRE(!std::is_default_constructible_v<sh::mdspan<int, sh::extents<int, 2>>>);
  // Wrong number of extents, or non-integers: no constructor.
  STATIC_REQUIRE(!std::is_constructible_v<M, int*, int, int>);
  STATIC_REQUIRE(!std::is_constructible_v<M, int*, double>);
  STATIC_REQUIRE(!std::is_constructible_v<M, const int*, int>);
  STATIC_REQUIRE(!std::is_convertible_v<int*, M>);
}

TEST_CASE("mdspan: deduction guides", "[mdspan]") {
  auto buf = iota_buffer(24);
  int* p = buf.data();
  sh::mdspan a(p, 2, 3, 4);
  STATIC_REQUIRE(std::is_same_v<decltype(a), sh::mdspan<int, sh::dextents<size_t, 3>>>);
  CHECK(a(1, 2, 3) == 23);
  sh::mdspan b(p, std::array<int, 2>{4, 6});
  STATIC_REQUIRE(std::is_same_v<decltype(b), sh::mdspan<int, sh::dextents<size_t, 2>>>);
  sh::mdspan c(p, sh::extents<int, 4, 6>{});
  STATIC_REQUIRE(std::is_same_v<decltype(c), sh::mdspan<int, sh::extents<int, 4, 6>>>);
  sh::mdspan d(p, sh::layout_left::mapping<sh::extents<int, 4, 6>>{});
  STATIC_REQUIRE(
      std::is_same_v<decltype(d), sh::mdspan<int, sh::extents<int, 4, 6>, sh::layout_left>>);
  CHECK(d(1, 1) == 5);
  sh::mdspan e(p,
               sh::layout_stride::mapping<sh::dextents<int, 1>>(sh::dextents<int, 1>(3),
                                                                std::array<int, 1>{5}),
               sh::default_accessor<int>());
  STATIC_REQUIRE(
      std::is_same_v<decltype(e), sh::mdspan<int, sh::dextents<int, 1>, sh::layout_stride>>);
  CHECK(e[2] == 10);
  int arr[5] = {0, 1, 2, 3, 4};
  sh::mdspan f(arr);
  STATIC_REQUIRE(std::is_same_v<decltype(f), sh::mdspan<int, sh::extents<size_t, 5>>>);
  CHECK(f[4] == 4);
  sh::mdspan g(p);
  STATIC_REQUIRE(std::is_same_v<decltype(g), sh::mdspan<int, sh::extents<size_t>>>);
  CHECK(g() == 0);
  const int* cp = p;
  sh::mdspan h(cp, 24);
  STATIC_REQUIRE(std::is_same_v<decltype(h), sh::mdspan<const int, sh::dextents<size_t, 1>>>);
}

TEST_CASE("mdspan: converting constructor", "[mdspan]") {
  auto buf = iota_buffer(12);
  sh::mdspan<int, sh::extents<int, 3, 4>> m(buf.data());
  // T -> const T, static -> dynamic, int -> size_t index: implicit.
  sh::mdspan<const int, sh::dextents<size_t, 2>> c = m;
  CHECK(c(2, 3) == 11);
  // layout_right -> layout_stride: implicit.
  sh::mdspan<const int, sh::dextents<int, 2>, sh::layout_stride> s = m;
  CHECK(s.stride(0) == 4);
  CHECK(s(1, 2) == 6);
  // const T -> T: no; dynamic -> static: explicit.
  STATIC_REQUIRE(!std::is_constructible_v<sh::mdspan<int, sh::dextents<int, 2>>, decltype(c)>);
  STATIC_REQUIRE(!std::is_convertible_v<sh::mdspan<int, sh::dextents<int, 2>>, decltype(m)>);
  sh::mdspan<int, sh::dextents<int, 2>> d = m;
  auto back = sh::mdspan<int, sh::extents<int, 3, 4>>(d);
  CHECK(back(2, 1) == 9);
  // layout_stride -> layout_right: explicit.
  STATIC_REQUIRE(!std::is_convertible_v<decltype(s), sh::mdspan<const int, sh::dextents<int, 2>>>);
  const auto r = sh::mdspan<const int, sh::dextents<int, 2>>(s);
  CHECK(r(2, 2) == 10);
}

TEST_CASE("mdspan: observers", "[mdspan]") {
  auto buf = iota_buffer(24);
  sh::mdspan<int, sh::extents<size_t, 2, sh::dynamic_extent, 4>, sh::layout_left> m(buf.data(), 3);
  STATIC_REQUIRE(m.rank() == 3);
  STATIC_REQUIRE(m.rank_dynamic() == 1);
  STATIC_REQUIRE(m.static_extent(0) == 2);
  STATIC_REQUIRE(m.static_extent(1) == sh::dynamic_extent);
  CHECK(m.extent(1) == 3);
  CHECK(m.size() == 24);
  CHECK_FALSE(m.empty());
  CHECK(m.extents() == sh::dextents<int, 3>(2, 3, 4));
  CHECK(m.mapping().required_span_size() == 24);
  CHECK(m.stride(2) == 6);
  CHECK(m.is_unique());
  CHECK(m.is_exhaustive());
  CHECK(m.is_strided());
  STATIC_REQUIRE(decltype(m)::is_always_exhaustive());
  STATIC_REQUIRE(std::is_same_v<decltype(m)::value_type, int>);
  STATIC_REQUIRE(std::is_same_v<decltype(m)::reference, int&>);
  STATIC_REQUIRE(std::is_same_v<sh::mdspan<const int, sh::dextents<int, 1>>::value_type, int>);
  sh::mdspan<int, sh::dextents<int, 2>> e(buf.data(), 3, 0);
  CHECK(e.empty());
  CHECK(e.size() == 0);
  sh::mdspan<int, sh::extents<int>> scalar(buf.data() + 5);
  CHECK(scalar.size() == 1);
  CHECK_FALSE(scalar.empty());
  CHECK(scalar() == 5);
}

TEST_CASE("mdspan: indexing with operator(), operator[], std::array, any integer type",
          "[mdspan]") {
  auto buf = iota_buffer(24);
  sh::mdspan<int, sh::dextents<size_t, 3>> m(buf.data(), 2, 3, 4);
  CHECK(m(1, 2, 3) == 23);
  CHECK(m(short{1}, 2u, 3L) == 23);
  CHECK(m(std::uint8_t{1}, std::int64_t{1}, std::size_t{1}) == 17);
  CHECK(m(std::integral_constant<int, 1>{}, 0, 0) == 12);
  enum plain { one = 1 };
  CHECK(m(one, one, one) == 17);
  CHECK(m(std::array<int, 3>{1, 0, 2}) == 14);
  CHECK(m[std::array<size_t, 3>{0, 2, 1}] == 9);
  m(0, 0, 1) = 100;
  CHECK(buf[1] == 100);
#if defined(__cpp_multidimensional_subscript)
  CHECK(m[1, 2, 3] == 23);
  sh::mdspan<int, sh::extents<int>> scalar(buf.data() + 7);
  CHECK(scalar[] == 7);
#endif
  sh::mdspan<int, sh::dextents<int, 1>> v(buf.data(), 24);
  CHECK(v[5] == 5);
  CHECK(v(6) == 6);
  // Wrong count, floating point, pointers: no operator (the compile-fail tests prove the errors).
  STATIC_REQUIRE(!std::is_invocable_v<decltype(m), int, int>);
  STATIC_REQUIRE(!std::is_invocable_v<decltype(m), int, int, int, int>);
  STATIC_REQUIRE(!std::is_invocable_v<decltype(m), double, int, int>);
  STATIC_REQUIRE(!std::is_invocable_v<decltype(m), int*, int, int>);
  STATIC_REQUIRE(std::is_invocable_v<decltype(m), int, long, unsigned char>);
}

TEST_CASE("mdspan: index types convertible only as rvalues or only when non-const", "[mdspan]") {
  // The standard converts each index from std::move(i) (issue 13); test_mdspan_static.cpp has
  // the compile-time side, this is the run-time side with bounds checks on.
  struct rvalue_index {
    int v;
    operator int() && noexcept { return v; }
  };
  struct nonconst_index {
    int v;
    operator int() noexcept { return v; }
  };
  auto buf = iota_buffer(60);
  sh::mdspan<int, sh::extents<int, 3, sh::dynamic_extent, 5>> m(buf.data(), rvalue_index{4});
  CHECK(m.extent(1) == 4);
  CHECK(m(rvalue_index{2}, nonconst_index{3}, rvalue_index{4}) == 59);
  m(nonconst_index{1}, rvalue_index{0}, nonconst_index{2}) = -1;
  CHECK(buf[22] == -1);
#if defined(__cpp_multidimensional_subscript)
  CHECK(m[rvalue_index{2}, nonconst_index{3}, rvalue_index{4}] == 59);
#endif
  // The converted value is what the bounds check sees and names.
  CHECK_THROWS_WITH((m(rvalue_index{0}, nonconst_index{4}, rvalue_index{0})),
                    Catch::Contains("index 4") && Catch::Contains("dimension 1"));
  CHECK_THROWS_WITH((m(rvalue_index{-1}, 0, 0)), Catch::Contains("index -1"));
  sh::mdspan<int, sh::dextents<int, 1>> v(buf.data(), rvalue_index{5});
  CHECK(v[rvalue_index{3}] == 3);
  CHECK(v(nonconst_index{4}) == 4);
  CHECK_THROWS_WITH(v[nonconst_index{5}],
                    Catch::Contains("index 5") && Catch::Contains("extent 5"));
}

TEST_CASE("mdspan: swap and copies are views", "[mdspan]") {
  auto a = iota_buffer(6);
  auto b = iota_buffer(6);
  sh::mdspan<int, sh::dextents<int, 2>> x(a.data(), 2, 3);
  sh::mdspan<int, sh::dextents<int, 2>> y(b.data(), 3, 2);
  swap(x, y);
  CHECK(x.data_handle() == b.data());
  CHECK(x.extent(0) == 3);
  CHECK(y.extent(0) == 2);
  auto z = y;
  z(0, 0) = 42;
  CHECK(a[0] == 42);
}

// --- bounds checks ------------------------------------------------------------------------------

TEST_CASE("bounds checks name the index, the extent and the dimension", "[mdspan][bounds]") {
  STATIC_REQUIRE(sh::detail::bounds_check_enabled);
  auto buf = iota_buffer(60);
  sh::mdspan<int, sh::extents<int, 3, sh::dynamic_extent, 5>> m(buf.data(), 4);
  CHECK_NOTHROW((m(2, 3, 4)));
  CHECK_THROWS_AS((m(3, 0, 0)), std::out_of_range);
  CHECK_THROWS_WITH((m(0, 4, 0)), Catch::Contains("index 4") && Catch::Contains("extent 4") &&
                                      Catch::Contains("dimension 1") && Catch::Contains("rank-3"));
  CHECK_THROWS_WITH((m(0, 0, -1)), Catch::Contains("index -1") && Catch::Contains("extent 5") &&
                                       Catch::Contains("dimension 2"));
  CHECK_THROWS_WITH((m(std::array<long, 3>{0, 0, 7})), Catch::Contains("index 7"));
  CHECK_THROWS_WITH((m[std::array<size_t, 3>{9, 0, 0}]), Catch::Contains("index 9"));
  // An index that would wrap in index_type is still caught, in a std::array too.
  CHECK_THROWS_WITH((m(0, 0, (1LL << 32) + 1)), Catch::Contains("index 4294967297"));
  CHECK_THROWS_WITH((m(std::array<long long, 3>{0, (1LL << 32) + 2, 0})),
                    Catch::Contains("index 4294967298") && Catch::Contains("dimension 1"));
  CHECK_THROWS_WITH((m[std::array<long long, 3>{(1LL << 32) + 1, 0, 0}]),
                    Catch::Contains("index 4294967297") && Catch::Contains("dimension 0"));
  sh::mdspan<int, sh::dextents<size_t, 1>> v(buf.data(), 3);
  CHECK_THROWS_WITH(v[3], Catch::Contains("index 3") && Catch::Contains("extent 3") &&
                              Catch::Contains("dimension 0") && Catch::Contains("rank-1"));
  sh::mdspan<int, sh::dextents<size_t, 2>> empty(buf.data(), 0, 3);
  CHECK_THROWS_AS((empty(0, 0)), std::out_of_range);
}

TEST_CASE("bounds checks on submdspan slices", "[mdspan][bounds][submdspan]") {
  auto buf = iota_buffer(60);
  sh::mdspan<int, sh::dextents<int, 3>> m(buf.data(), 3, 4, 5);
  CHECK_THROWS_WITH(
      (sh::submdspan(m, 3, sh::full_extent, sh::full_extent)),
      Catch::Contains("index 3") && Catch::Contains("extent 3") && Catch::Contains("dimension 0"));
  CHECK_THROWS_WITH(
      (sh::submdspan(m, 0, std::pair{2, 5}, sh::full_extent)),
      Catch::Contains("{2, 5}") && Catch::Contains("extent 4") && Catch::Contains("dimension 1"));
  CHECK_THROWS_AS((sh::submdspan(m, 0, std::pair{3, 2}, sh::full_extent)), std::out_of_range);
  CHECK_THROWS_WITH((sh::submdspan(m, 0, 0, sh::strided_slice{2, 4, 1})),
                    Catch::Contains("strided_slice") && Catch::Contains("dimension 2"));
  CHECK_THROWS_AS((sh::submdspan(m, 0, 0, sh::strided_slice{0, 2, 0})), std::out_of_range);
  CHECK_NOTHROW((sh::submdspan(m, 0, std::pair{4, 4}, sh::strided_slice{5, 0, 0})));
}

// --- submdspan ----------------------------------------------------------------------------------

TEST_CASE("submdspan: slice kinds and result layouts (layout_right source)",
          "[mdspan][submdspan]") {
  auto buf = iota_buffer(60);
  sh::mdspan<int, sh::extents<int, 3, sh::dynamic_extent, 5>> m(buf.data(), 4);

  // Leading indices, then one range, then full: still C order.
  auto rows = sh::submdspan(m, 1, std::pair{1, 3}, sh::full_extent);
  STATIC_REQUIRE(std::is_same_v<decltype(rows)::layout_type, sh::layout_right>);
  STATIC_REQUIRE(
      std::is_same_v<decltype(rows)::extents_type, sh::extents<int, sh::dynamic_extent, 5>>);
  CHECK(rows.extent(0) == 2);
  CHECK(rows(1, 4) == m(1, 2, 4));

  // A range in a non-contiguous place: layout_stride.
  auto cols = sh::submdspan(m, sh::full_extent, 2, std::tuple{1, 4});
  STATIC_REQUIRE(std::is_same_v<decltype(cols)::layout_type, sh::layout_stride>);
  CHECK(cols.extent(0) == 3);
  CHECK(cols.extent(1) == 3);
  CHECK(cols.stride(0) == 20);
  CHECK(cols.stride(1) == 1);
  CHECK(cols(2, 2) == m(2, 2, 3));

  // strided_slice: every second index; extent counts source indices.
  auto every2 = sh::submdspan(m, sh::strided_slice{0, 3, 2}, 0, sh::strided_slice{1, 4, 2});
  STATIC_REQUIRE(std::is_same_v<decltype(every2)::layout_type, sh::layout_stride>);
  CHECK(every2.extent(0) == 2);
  CHECK(every2.extent(1) == 2);
  CHECK(every2.stride(0) == 40);
  CHECK(every2.stride(1) == 2);
  CHECK(every2(1, 1) == m(2, 0, 3));

  // Static extents from integral_constant slices.
  using c0 = std::integral_constant<int, 0>;
  using c1 = std::integral_constant<int, 1>;
  using c2 = std::integral_constant<int, 2>;
  using c5 = std::integral_constant<int, 5>;
  auto st = sh::submdspan(m, std::pair{c0{}, c2{}}, 0, sh::strided_slice{c0{}, c5{}, c2{}});
  STATIC_REQUIRE(std::is_same_v<decltype(st)::extents_type, sh::extents<int, 2, 3>>);
  CHECK(st(1, 2) == m(1, 0, 4));
  auto unit = sh::submdspan(m, 0, 1, sh::strided_slice{1, 3, c1{}});
  STATIC_REQUIRE(std::is_same_v<decltype(unit)::layout_type, sh::layout_right>);
  CHECK(unit(2) == m(0, 1, 3));
  auto not_unit = sh::submdspan(m, 0, 1, sh::strided_slice{1, 3, 1});  // runtime stride
  STATIC_REQUIRE(std::is_same_v<decltype(not_unit)::layout_type, sh::layout_stride>);
  auto zero = sh::submdspan(m, 0, 1, sh::strided_slice{1, c0{}, 3});
  STATIC_REQUIRE(decltype(zero)::static_extent(0) == 0);

  // All indices: rank 0, still layout_right.
  auto one = sh::submdspan(m, 2, 3, 4);
  STATIC_REQUIRE(decltype(one)::rank() == 0);
  STATIC_REQUIRE(std::is_same_v<decltype(one)::layout_type, sh::layout_right>);
  CHECK(one() == 59);

  // All full: the same view.
  auto all = sh::submdspan(m, sh::full_extent, sh::full_extent, sh::full_extent);
  STATIC_REQUIRE(std::is_same_v<decltype(all), decltype(m)>);
  CHECK(all.data_handle() == m.data_handle());

  // std::array as a pair.
  auto arr = sh::submdspan(m, 0, 0, std::array<int, 2>{2, 4});
  CHECK(arr.extent(0) == 2);
  CHECK(arr(0) == 2);
}

TEST_CASE("submdspan: layout_left source", "[mdspan][submdspan]") {
  auto buf = iota_buffer(60);
  sh::mdspan<int, sh::dextents<size_t, 3>, sh::layout_left> m(buf.data(), 3, 4, 5);
  auto a = sh::submdspan(m, sh::full_extent, std::pair{1, 3}, 4);
  STATIC_REQUIRE(std::is_same_v<decltype(a)::layout_type, sh::layout_left>);
  CHECK(a(2, 1) == m(2, 2, 4));
  auto b = sh::submdspan(m, std::pair{1, 3}, sh::full_extent, 4);
  STATIC_REQUIRE(std::is_same_v<decltype(b)::layout_type, sh::layout_stride>);
  CHECK(b(1, 3) == m(2, 3, 4));
  auto c = sh::submdspan(m, 1, sh::full_extent, sh::full_extent);
  STATIC_REQUIRE(std::is_same_v<decltype(c)::layout_type, sh::layout_stride>);
  CHECK(c.stride(0) == 3);
  CHECK(c(3, 4) == m(1, 3, 4));
}

TEST_CASE("submdspan: layout_stride source, nested slices, const views", "[mdspan][submdspan]") {
  auto buf = iota_buffer(60);
  sh::mdspan<int, sh::dextents<int, 2>> m(buf.data(), 6, 10);
  // A transpose as a layout_stride view.
  sh::mdspan<const int, sh::dextents<int, 2>, sh::layout_stride> t(
      buf.data(), {sh::dextents<int, 2>(10, 6), std::array<int, 2>{1, 10}});
  CHECK(t(3, 2) == m(2, 3));
  auto s = sh::submdspan(t, sh::strided_slice{1, 9, 3}, std::pair{2, 5});
  STATIC_REQUIRE(std::is_same_v<decltype(s)::element_type, const int>);
  STATIC_REQUIRE(std::is_same_v<decltype(s)::layout_type, sh::layout_stride>);
  CHECK(s.extent(0) == 3);
  CHECK(s.extent(1) == 3);
  CHECK(s(2, 1) == m(3, 7));
  auto ss = sh::submdspan(s, 1, sh::full_extent);
  CHECK(ss.extent(0) == 3);
  CHECK(ss(2) == m(4, 4));
}

TEST_CASE("submdspan: empty ranges and the offset past the end", "[mdspan][submdspan]") {
  auto buf = iota_buffer(12);
  sh::mdspan<int, sh::dextents<int, 2>> m(buf.data(), 3, 4);
  // first == extent in some dimension: the offset is required_span_size(), the view is empty.
  auto e = sh::submdspan(m, std::pair{3, 3}, std::pair{1, 3});
  CHECK(e.empty());
  CHECK(e.data_handle() == buf.data() + 12);
  auto f = sh::submdspan(m, std::pair{1, 2}, std::pair{4, 4});
  CHECK(f.empty());
  CHECK(f.data_handle() == buf.data() + 12);
  // Empty source: offset 0 (not m(first...)).
  sh::mdspan<int, sh::dextents<int, 2>> z(buf.data(), 0, 4);
  auto g = sh::submdspan(z, sh::full_extent, std::pair{2, 3});
  CHECK(g.data_handle() == buf.data());
  // A strided_slice of extent 1 or 0 keeps the source stride.
  auto h = sh::submdspan(m, 0, sh::strided_slice{1, 1, 3});
  CHECK(h.stride(0) == 1);
  CHECK(h(0) == 1);
}

TEST_CASE("submdspan_extents", "[mdspan][submdspan]") {
  const sh::extents<int, 3, sh::dynamic_extent, 5> e(4);
  auto s = sh::submdspan_extents(e, sh::full_extent, 1, sh::strided_slice{0, 5, 2});
  STATIC_REQUIRE(std::is_same_v<decltype(s), sh::extents<int, 3, sh::dynamic_extent>>);
  CHECK(s.extent(1) == 3);
}
