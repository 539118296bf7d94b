// Randomised reference tests of the views (issue 3): every mapping (layout_right, layout_left,
// layout_stride) and every submdspan result is checked element by element against naive index
// formulas written here, for ranks 0-4 and extents 0-7. The seed is fixed and printed; set
// SHMARRAY_MDSPAN_SEED to replay another one.
#define SHMARRAY_BOUNDS_CHECK 1  // slices and indices are validated too: no case may throw
#include <shmarray/mdspan.hpp>

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace sh = shmarray;
using std::size_t;

namespace {

constexpr std::uint64_t default_seed = 20261128;
constexpr int cases_per_rank_and_layout = 700;  // x 5 ranks x 3 layouts = 10,500 cases

std::uint64_t test_seed() {
  if (const char* s = std::getenv("SHMARRAY_MDSPAN_SEED")) return std::strtoull(s, nullptr, 10);
  return default_seed;
}

enum class layout_kind { right, left, stride };
const char* name_of(layout_kind k) {
  return k == layout_kind::right  ? "layout_right"
         : k == layout_kind::left ? "layout_left"
                                  : "layout_stride";
}
template <class L>
constexpr layout_kind kind_of_layout() {
  if constexpr (std::is_same_v<L, sh::layout_right>) return layout_kind::right;
  if constexpr (std::is_same_v<L, sh::layout_left>) return layout_kind::left;
  return layout_kind::stride;
}

struct rng {
  std::mt19937_64 gen;
  explicit rng(std::uint64_t seed) : gen(seed) {}
  /// Uniform in [lo, hi] (written here, so that every standard library gives the same cases).
  int in(int lo, int hi) {
    return lo + static_cast<int>(gen() % static_cast<unsigned>(hi - lo + 1));
  }
};

// --- the naive model
// ------------------------------------------------------------------------------

/// A layout as plain numbers: extents and the stride of each dimension.
struct model {
  std::vector<long> ext;
  std::vector<long> stride;
  size_t rank() const { return ext.size(); }
  long size() const {
    long n = 1;
    for (long e : ext) n *= e;
    return n;
  }
  long offset(const std::vector<long>& idx) const {
    long off = 0;
    for (size_t r = 0; r < rank(); ++r) off += idx[r] * stride[r];
    return off;
  }
};

/// C order: stride[r] is the product of the extents after r. Fortran: before r.
model naive_model(layout_kind k, const std::vector<long>& ext, const std::vector<long>& strides) {
  model m{ext, std::vector<long>(ext.size(), 0)};
  for (size_t r = 0; r < ext.size(); ++r) {
    if (k == layout_kind::stride) {
      m.stride[r] = strides[r];
      continue;
    }
    long s = 1;
    for (size_t q = 0; q < ext.size(); ++q)
      if (k == layout_kind::right ? q > r : q < r) s *= ext[q];
    m.stride[r] = s;
  }
  return m;
}

/// Calls fn(idx) for every multi-index of ext, last index fastest.
template <class Fn>
void for_each_index(const std::vector<long>& ext, Fn&& fn) {
  for (long e : ext)
    if (e == 0) return;
  std::vector<long> idx(ext.size(), 0);
  while (true) {
    fn(idx);
    size_t r = ext.size();
    while (r > 0) {
      --r;
      if (++idx[r] < ext[r]) break;
      idx[r] = 0;
      if (r == 0) return;
    }
    if (ext.empty()) return;
  }
}

/// required_span_size by its definition: 1 + the largest offset, 0 if nothing is indexed.
long naive_required_span_size(const model& m) {
  long top = -1;
  bool any = false;
  for_each_index(m.ext, [&](const std::vector<long>& idx) {
    any = true;
    top = std::max(top, m.offset(idx));
  });
  return any ? top + 1 : 0;
}

/// Exhaustive by definition: every offset in [0, required_span_size) is hit (vacuous if empty).
bool naive_exhaustive(const model& m) {
  std::set<long> hit;
  for_each_index(m.ext, [&](const std::vector<long>& idx) { hit.insert(m.offset(idx)); });
  const long rss = naive_required_span_size(m);
  for (long o = 0; o < rss; ++o)
    if (!hit.count(o)) return false;
  return true;
}

/// Random unique strides: dimensions in a random order, each stride at least the span of the
/// previous ones (sometimes padded); dimensions of extent 0 or 1 sometimes get any stride.
std::vector<long> random_strides(rng& g, const std::vector<long>& ext) {
  const size_t n = ext.size();
  std::vector<size_t> order(n);
  for (size_t r = 0; r < n; ++r) order[r] = r;
  for (size_t r = n; r > 1; --r)
    std::swap(order[r - 1], order[static_cast<size_t>(g.in(0, static_cast<int>(r - 1)))]);
  std::vector<long> s(n, 1);
  long next = g.in(0, 3) == 0 ? g.in(2, 3) : 1;
  for (size_t i = 0; i < n; ++i) {
    const size_t r = order[i];
    s[r] = next;
    next = next * std::max(ext[r], 1L) + (g.in(0, 2) == 0 ? g.in(1, 3) : 0);
  }
  for (size_t r = 0; r < n; ++r)
    if (ext[r] <= 1 && g.in(0, 2) == 0) s[r] = g.in(1, 40);
  return s;
}

std::string describe(layout_kind k, const model& m) {
  std::ostringstream os;
  os << name_of(k) << " extents {";
  for (long e : m.ext) os << e << ",";
  os << "} strides {";
  for (long s : m.stride) os << s << ",";
  os << "}";
  return os.str();
}

struct tally {
  long cases = 0;
  long submdspans = 0;
  long elements = 0;
  long failures = 0;
  std::string first_failure;
  void fail(const std::string& what) {
    if (failures++ == 0) first_failure = what;
  }
};

// --- mappings
// -------------------------------------------------------------------------------------

template <class Layout, class I, size_t R>
typename Layout::template mapping<sh::dextents<I, R>> make_mapping(const model& m) {
  using E = sh::dextents<I, R>;
  std::array<I, R> e{};
  for (size_t r = 0; r < R; ++r) e[r] = static_cast<I>(m.ext[r]);
  if constexpr (std::is_same_v<Layout, sh::layout_stride>) {
    std::array<I, R> s{};
    for (size_t r = 0; r < R; ++r) s[r] = static_cast<I>(m.stride[r]);
    return typename Layout::template mapping<E>(E(e), s);
  } else {
    return typename Layout::template mapping<E>(E(e));
  }
}

template <class Mapping>
long call_mapping(const Mapping& map, const std::vector<long>& idx) {
  constexpr size_t R = Mapping::extents_type::rank();
  std::array<typename Mapping::index_type, R> a{};
  for (size_t r = 0; r < R; ++r) a[r] = static_cast<typename Mapping::index_type>(idx[r]);
  return static_cast<long>(std::apply([&](auto... i) { return map(i...); }, a));
}

/// The mapping against the model: offsets, required_span_size, strides, is_* and the conversion to
/// layout_stride.
template <class Layout, class I, size_t R>
void check_mapping(const model& m, tally& t, const std::string& what) {
  const auto map = make_mapping<Layout, I, R>(m);
  for (size_t r = 0; r < R; ++r)
    if (static_cast<long>(map.extents().extent(r)) != m.ext[r]) t.fail(what + ": extent");
  if (static_cast<long>(map.required_span_size()) != (R == 0 ? 1 : naive_required_span_size(m)))
    t.fail(what + ": required_span_size");
  if (map.is_exhaustive() != naive_exhaustive(m)) t.fail(what + ": is_exhaustive");
  if (!map.is_unique() || !map.is_strided()) t.fail(what + ": is_unique/is_strided");
  if constexpr (R > 0) {
    for (size_t r = 0; r < R; ++r)
      if (static_cast<long>(map.stride(r)) != m.stride[r]) t.fail(what + ": stride");
  }
  const sh::layout_stride::mapping<sh::dextents<I, R>> as_stride(map);
  if (!(as_stride == map)) t.fail(what + ": == after conversion to layout_stride");
  for_each_index(m.ext, [&](const std::vector<long>& idx) {
    ++t.elements;
    const long want = m.offset(idx);
    if (call_mapping(map, idx) != want) t.fail(what + ": offset");
    if (call_mapping(as_stride, idx) != want) t.fail(what + ": offset after conversion");
  });
}

// --- submdspan
// ------------------------------------------------------------------------------------

enum class slice_kind { index, full, pair, strided };
struct slice_spec {
  slice_kind kind;
  long a = 0, b = 0, c = 0;  // index: a; pair: {a, b}; strided: {offset a, extent b, stride c}
  long sub_extent() const {
    switch (kind) {
      case slice_kind::index: return 1;
      case slice_kind::full: return a;  // (a holds the extent for full)
      case slice_kind::pair: return b - a;
      default: return b == 0 ? 0 : 1 + (b - 1) / c;
    }
  }
  long first() const { return kind == slice_kind::full ? 0 : a; }
  /// The source index of result index j.
  long source(long j) const {
    switch (kind) {
      case slice_kind::index: return a;
      case slice_kind::full: return j;
      case slice_kind::pair: return a + j;
      default: return a + j * c;
    }
  }
};

slice_spec random_slice(rng& g, long e) {
  slice_spec s{static_cast<slice_kind>(g.in(e == 0 ? 1 : 0, 3))};
  switch (s.kind) {
    case slice_kind::index: s.a = g.in(0, static_cast<int>(e) - 1); break;
    case slice_kind::full: s.a = e; break;
    case slice_kind::pair:
      s.a = g.in(0, static_cast<int>(e));
      s.b = g.in(static_cast<int>(s.a), static_cast<int>(e));
      break;
    case slice_kind::strided:
      s.a = g.in(0, static_cast<int>(e));
      s.b = g.in(0, static_cast<int>(e - s.a));
      s.c = s.b == 0 ? g.in(0, 3) : g.in(1, 4);
      break;
  }
  return s;
}

template <class S>
S make_slice(const slice_spec& s) {
  if constexpr (std::is_same_v<S, int>) {
    return static_cast<int>(s.a);
  } else if constexpr (std::is_same_v<S, sh::full_extent_t>) {
    return sh::full_extent;
  } else if constexpr (std::is_same_v<S, std::pair<int, int>>) {
    return {static_cast<int>(s.a), static_cast<int>(s.b)};
  } else {
    return sh::strided_slice{static_cast<int>(s.a), static_cast<int>(s.b), static_cast<int>(s.c)};
  }
}

/// The result layout the standard prescribes, computed from the slices alone.
layout_kind expected_layout(layout_kind src, const std::vector<slice_spec>& sl) {
  const size_t n = sl.size();
  if (n == 0 || src == layout_kind::stride) return src;
  std::vector<size_t> kept;
  for (size_t k = 0; k < n; ++k)
    if (sl[k].kind != slice_kind::index) kept.push_back(k);
  const size_t m = kept.size();
  if (m == 0) return src;
  auto full = [&](size_t k) { return sl[k].kind == slice_kind::full; };
  // (our strided_slices have a run-time stride: never unit-stride slices)
  auto unit = [&](size_t k) { return full(k) || sl[k].kind == slice_kind::pair; };
  bool keeps = true;
  if (src == layout_kind::left) {
    for (size_t k = 0; k + 1 < m; ++k) keeps = keeps && full(k);
    keeps = keeps && unit(m - 1) && kept.back() == m - 1;
  } else {
    for (size_t k = n - m + 1; k < n; ++k) keeps = keeps && full(k);
    keeps = keeps && unit(n - m) && kept.front() == n - m;
  }
  return keeps ? src : layout_kind::stride;
}

template <class View, class... S, size_t... K>
auto call_submdspan(const View& v, const std::vector<slice_spec>& sl, std::index_sequence<K...>) {
  return sh::submdspan(v, make_slice<S>(sl[K])...);
}

template <class View, class... S>
void check_submdspan(const View& v, const model& m, const std::vector<slice_spec>& sl, tally& t,
                     const std::string& what) {
  ++t.submdspans;
  const auto sub = call_submdspan<View, S...>(v, sl, std::index_sequence_for<S...>{});
  using Sub = std::remove_const_t<decltype(sub)>;
  constexpr size_t SR = Sub::rank();

  std::vector<size_t> kept;
  for (size_t k = 0; k < sl.size(); ++k)
    if (sl[k].kind != slice_kind::index) kept.push_back(k);
  if (kept.size() != SR) return t.fail(what + ": result rank");

  const layout_kind src_kind = kind_of_layout<typename View::layout_type>();
  if (kind_of_layout<typename Sub::layout_type>() != expected_layout(src_kind, sl))
    t.fail(what + ": result layout " + name_of(kind_of_layout<typename Sub::layout_type>()));

  std::vector<long> sub_ext;
  for (size_t k : kept) sub_ext.push_back(sl[k].sub_extent());
  for (size_t r = 0; r < SR; ++r)
    if (static_cast<long>(sub.extent(r)) != sub_ext[r]) t.fail(what + ": result extent");

  // The offset: m(first...), or required_span_size() when some first index equals its extent.
  long offset = 0;
  bool at_end = false;
  std::vector<long> first;
  for (size_t k = 0; k < sl.size(); ++k) {
    first.push_back(sl[k].first());
    at_end = at_end || first[k] == m.ext[k];
  }
  if (!sl.empty()) offset = at_end ? naive_required_span_size(m) : m.offset(first);
  if (sub.data_handle() != v.data_handle() + offset) t.fail(what + ": data_handle offset");

  // Strides of a layout_stride result: the source stride, times the slice stride when it is
  // smaller than the slice extent.
  if constexpr (std::is_same_v<typename Sub::layout_type, sh::layout_stride> && SR > 0) {
    for (size_t r = 0; r < SR; ++r) {
      const slice_spec& s = sl[kept[r]];
      const long factor = s.kind == slice_kind::strided && s.c < s.b ? s.c : 1;
      if (static_cast<long>(sub.stride(r)) != m.stride[kept[r]] * factor)
        t.fail(what + ": result stride");
    }
  }

  // Every element: the same object as the source element the slices select.
  for_each_index(sub_ext, [&](const std::vector<long>& j) {
    ++t.elements;
    std::vector<long> src(sl.size());
    size_t r = 0;
    for (size_t k = 0; k < sl.size(); ++k)
      src[k] = sl[k].kind == slice_kind::index ? sl[k].a : sl[k].source(j[r++]);
    std::array<int, SR> ja{};
    for (size_t q = 0; q < SR; ++q) ja[q] = static_cast<int>(j[q]);
    const int* got = &sub[ja];
    const int* want = v.data_handle() + m.offset(src);
    if (got != want || *got != static_cast<int>(m.offset(src))) t.fail(what + ": element");
  });
}

/// Instantiates check_submdspan for the slice types the specs ask for (4^rank combinations).
template <class View, class... S>
void dispatch_slices(const View& v, const model& m, const std::vector<slice_spec>& sl, tally& t,
                     const std::string& what) {
  constexpr size_t d = sizeof...(S);
  if constexpr (d == View::rank()) {
    check_submdspan<View, S...>(v, m, sl, t, what);
  } else {
    switch (sl[d].kind) {
      case slice_kind::index: return dispatch_slices<View, S..., int>(v, m, sl, t, what);
      case slice_kind::full:
        return dispatch_slices<View, S..., sh::full_extent_t>(v, m, sl, t, what);
      case slice_kind::pair:
        return dispatch_slices<View, S..., std::pair<int, int>>(v, m, sl, t, what);
      default:
        return dispatch_slices<View, S..., sh::strided_slice<int, int, int>>(v, m, sl, t, what);
    }
  }
}

template <class Layout, size_t R>
void run_cases(rng& g, tally& t) {
  constexpr layout_kind kind = kind_of_layout<Layout>();
  for (int c = 0; c < cases_per_rank_and_layout; ++c) {
    ++t.cases;
    std::vector<long> ext(R);
    for (auto& e : ext) e = g.in(0, 7);
    const model m =
        naive_model(kind, ext, kind == layout_kind::stride ? random_strides(g, ext) : ext);
    const std::string what = "case " + std::to_string(t.cases) + " " + describe(kind, m);

    check_mapping<Layout, int, R>(m, t, what + " [int]");
    check_mapping<Layout, size_t, R>(m, t, what + " [size_t]");

    // A buffer whose element at each offset holds that offset.
    std::vector<int> buf(
        static_cast<size_t>(std::max(R == 0 ? 1L : naive_required_span_size(m), 1L)));
    for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<int>(i);
    const sh::mdspan<int, sh::dextents<int, R>, Layout> v(buf.data(),
                                                          make_mapping<Layout, int, R>(m));
    const sh::mdspan<const int, sh::dextents<size_t, R>, sh::layout_stride> vs = v;
    for_each_index(m.ext, [&](const std::vector<long>& idx) {
      std::array<int, R> a{};
      for (size_t r = 0; r < R; ++r) a[r] = static_cast<int>(idx[r]);
      if (&v[a] != buf.data() + m.offset(idx) || &vs[a] != &v[a]) t.fail(what + ": mdspan element");
    });

    for (int s = 0; s < 2; ++s) {
      std::vector<slice_spec> sl;
      for (long e : ext) sl.push_back(random_slice(g, e));
      dispatch_slices<decltype(v)>(v, m, sl, t, what + " slices #" + std::to_string(s));
    }
  }
}

template <class Layout>
void run_layout(rng& g, tally& t) {
  run_cases<Layout, 0>(g, t);
  run_cases<Layout, 1>(g, t);
  run_cases<Layout, 2>(g, t);
  run_cases<Layout, 3>(g, t);
  run_cases<Layout, 4>(g, t);
}

}  // namespace

TEST_CASE("mdspan reference: mappings and submdspan against naive formulas",
          "[mdspan][reference]") {
  const std::uint64_t seed = test_seed();
  std::printf("mdspan reference tests: seed %llu (set SHMARRAY_MDSPAN_SEED to replay another)\n",
              static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  INFO("seed " << seed);
  rng g(seed);
  tally t;
  run_layout<sh::layout_right>(g, t);
  run_layout<sh::layout_left>(g, t);
  run_layout<sh::layout_stride>(g, t);
  std::printf(
      "mdspan reference tests: %ld cases, %ld submdspans, %ld element checks, %ld failures\n",
      t.cases, t.submdspans, t.elements, t.failures);
  INFO("first failure: " << t.first_failure);
  CHECK(t.cases >= 10000);
  CHECK(t.submdspans >= 10000);
  CHECK(t.failures == 0);
}

TEST_CASE("mdspan reference: the naive model itself", "[mdspan][reference]") {
  // The model must agree with hand-computed values, or the reference proves nothing.
  const model r = naive_model(layout_kind::right, {2, 3, 4}, {});
  CHECK(r.stride == std::vector<long>{12, 4, 1});
  CHECK(r.offset({1, 2, 3}) == 23);
  const model l = naive_model(layout_kind::left, {2, 3, 4}, {});
  CHECK(l.stride == std::vector<long>{1, 2, 6});
  CHECK(naive_required_span_size(l) == 24);
  CHECK(naive_exhaustive(l));
  const model s = naive_model(layout_kind::stride, {2, 3}, {4, 1});
  CHECK(naive_required_span_size(s) == 7);
  CHECK_FALSE(naive_exhaustive(s));
  CHECK(naive_exhaustive(naive_model(layout_kind::stride, {2, 1, 2}, {1, 5, 2})));
  CHECK(naive_exhaustive(naive_model(layout_kind::stride, {2, 0}, {7, 9})));
  long n = 0;
  for_each_index({2, 0, 3}, [&](const std::vector<long>&) { ++n; });
  CHECK(n == 0);
  for_each_index({}, [&](const std::vector<long>&) { ++n; });
  CHECK(n == 1);
  CHECK(expected_layout(layout_kind::right, {{slice_kind::index, 1},
                                             {slice_kind::pair, 0, 2},
                                             {slice_kind::full, 3}}) == layout_kind::right);
  CHECK(expected_layout(layout_kind::right, {{slice_kind::full, 2}, {slice_kind::pair, 0, 2}}) ==
        layout_kind::stride);
  CHECK(expected_layout(layout_kind::left, {{slice_kind::full, 2},
                                            {slice_kind::pair, 0, 2},
                                            {slice_kind::index, 1}}) == layout_kind::left);
}
