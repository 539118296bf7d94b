// Views (issue 3): element access through shmarray::mdspan costs what hand-written pointer
// arithmetic costs. Each view benchmark has a raw twin doing the same index arithmetic by hand
// (BM_View_Sum_3D_right vs BM_Raw_Sum_3D_right); compare ratios within one run.
// Bounds checks are off here (SHMARRAY_BOUNDS_CHECK=0, set by benchmarks/views.cmake too).
#ifndef SHMARRAY_BOUNDS_CHECK
#define SHMARRAY_BOUNDS_CHECK 0
#endif
#include <benchmark/benchmark.h>

#include <array>
#include <cstddef>
#include <cstdlib>
#include <shmarray/mdspan.hpp>
#include <vector>

namespace {

namespace sh = shmarray;
using std::size_t;

bool smoke() {
  return std::getenv("SHMARRAY_BENCH_SMOKE") != nullptr;
}
size_t side_2d() {
  return smoke() ? 16 : 1024;
}
size_t side_3d() {
  return smoke() ? 8 : 96;
}
constexpr size_t row_padding = 8;  // layout_stride: rows padded by 8 elements

std::vector<double> make_buffer(size_t n) {
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<double>(i % 17) * 0.5;
  return v;
}

void finish(benchmark::State& state, size_t elements) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(elements * sizeof(double)));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(elements));
}

// --- 2-D ----------------------------------------------------------------------------------------

void BM_View_Sum_2D_right(benchmark::State& state) {
  const size_t n0 = side_2d(), n1 = side_2d();
  auto buf = make_buffer(n0 * n1);
  const sh::mdspan<const double, sh::dextents<size_t, 2>> v(buf.data(), n0, n1);
  for (auto _ : state) {
    double sum = 0;
    for (size_t i = 0; i < v.extent(0); ++i)
      for (size_t j = 0; j < v.extent(1); ++j) sum += v(i, j);
    benchmark::DoNotOptimize(sum);
    benchmark::ClobberMemory();
  }
  finish(state, n0 * n1);
}
void BM_Raw_Sum_2D_right(benchmark::State& state) {
  const size_t n0 = side_2d(), n1 = side_2d();
  auto buf = make_buffer(n0 * n1);
  const double* p = buf.data();
  for (auto _ : state) {
    double sum = 0;
    for (size_t i = 0; i < n0; ++i)
      for (size_t j = 0; j < n1; ++j) sum += p[i * n1 + j];
    benchmark::DoNotOptimize(sum);
    benchmark::ClobberMemory();
  }
  finish(state, n0 * n1);
}

void BM_View_Sum_2D_left(benchmark::State& state) {
  const size_t n0 = side_2d(), n1 = side_2d();
  auto buf = make_buffer(n0 * n1);
  const sh::mdspan<const double, sh::dextents<size_t, 2>, sh::layout_left> v(buf.data(), n0, n1);
  for (auto _ : state) {
    double sum = 0;
    for (size_t j = 0; j < v.extent(1); ++j)
      for (size_t i = 0; i < v.extent(0); ++i) sum += v(i, j);
    benchmark::DoNotOptimize(sum);
    benchmark::ClobberMemory();
  }
  finish(state, n0 * n1);
}
void BM_Raw_Sum_2D_left(benchmark::State& state) {
  const size_t n0 = side_2d(), n1 = side_2d();
  auto buf = make_buffer(n0 * n1);
  const double* p = buf.data();
  for (auto _ : state) {
    double sum = 0;
    for (size_t j = 0; j < n1; ++j)
      for (size_t i = 0; i < n0; ++i) sum += p[i + j * n0];
    benchmark::DoNotOptimize(sum);
    benchmark::ClobberMemory();
  }
  finish(state, n0 * n1);
}

void BM_View_Sum_2D_stride(benchmark::State& state) {
  const size_t n0 = side_2d(), n1 = side_2d(), s0 = n1 + row_padding;
  size_t s1 = 1;
  benchmark::DoNotOptimize(s1);  // run-time strides, in the view as in the raw twin
  auto buf = make_buffer(n0 * s0);
  using E = sh::dextents<size_t, 2>;
  const sh::mdspan<const double, E, sh::layout_stride> v(
      buf.data(), sh::layout_stride::mapping<E>(E(n0, n1), std::array<size_t, 2>{s0, s1}));
  for (auto _ : state) {
    double sum = 0;
    for (size_t i = 0; i < v.extent(0); ++i)
      for (size_t j = 0; j < v.extent(1); ++j) sum += v(i, j);
    benchmark::DoNotOptimize(sum);
    benchmark::ClobberMemory();
  }
  finish(state, n0 * n1);
}
void BM_Raw_Sum_2D_stride(benchmark::State& state) {
  const size_t n0 = side_2d(), n1 = side_2d(), s0 = n1 + row_padding;
  size_t s1 = 1;
  benchmark::DoNotOptimize(s1);  // run-time strides, in the view as in the raw twin
  auto buf = make_buffer(n0 * s0);
  const double* p = buf.data();
  for (auto _ : state) {
    double sum = 0;
    for (size_t i = 0; i < n0; ++i)
      for (size_t j = 0; j < n1; ++j) sum += p[i * s0 + j * s1];
    benchmark::DoNotOptimize(sum);
    benchmark::ClobberMemory();
  }
  finish(state, n0 * n1);
}

// --- 3-D ----------------------------------------------------------------------------------------

void BM_View_Sum_3D_right(benchmark::State& state) {
  const size_t n = side_3d();
  auto buf = make_buffer(n * n * n);
  const sh::mdspan<const double, sh::dextents<size_t, 3>> v(buf.data(), n, n, n);
  for (auto _ : state) {
    double sum = 0;
    for (size_t i = 0; i < v.extent(0); ++i)
      for (size_t j = 0; j < v.extent(1); ++j)
        for (size_t k = 0; k < v.extent(2); ++k) sum += v(i, j, k);
    benchmark::DoNotOptimize(sum);
    benchmark::ClobberMemory();
  }
  finish(state, n * n * n);
}
void BM_Raw_Sum_3D_right(benchmark::State& state) {
  const size_t n0 = side_3d(), n1 = n0, n2 = n0;
  auto buf = make_buffer(n0 * n1 * n2);
  const double* p = buf.data();
  for (auto _ : state) {
    double sum = 0;
    for (size_t i = 0; i < n0; ++i)
      for (size_t j = 0; j < n1; ++j)
        for (size_t k = 0; k < n2; ++k) sum += p[(i * n1 + j) * n2 + k];
    benchmark::DoNotOptimize(sum);
    benchmark::ClobberMemory();
  }
  finish(state, n0 * n1 * n2);
}

void BM_View_Sum_3D_left(benchmark::State& state) {
  const size_t n = side_3d();
  auto buf = make_buffer(n * n * n);
  const sh::mdspan<const double, sh::dextents<size_t, 3>, sh::layout_left> v(buf.data(), n, n, n);
  for (auto _ : state) {
    double sum = 0;
    for (size_t k = 0; k < v.extent(2); ++k)
      for (size_t j = 0; j < v.extent(1); ++j)
        for (size_t i = 0; i < v.extent(0); ++i) sum += v(i, j, k);
    benchmark::DoNotOptimize(sum);
    benchmark::ClobberMemory();
  }
  finish(state, n * n * n);
}
void BM_Raw_Sum_3D_left(benchmark::State& state) {
  const size_t n0 = side_3d(), n1 = n0, n2 = n0;
  auto buf = make_buffer(n0 * n1 * n2);
  const double* p = buf.data();
  for (auto _ : state) {
    double sum = 0;
    for (size_t k = 0; k < n2; ++k)
      for (size_t j = 0; j < n1; ++j)
        for (size_t i = 0; i < n0; ++i) sum += p[i + n0 * (j + n1 * k)];
    benchmark::DoNotOptimize(sum);
    benchmark::ClobberMemory();
  }
  finish(state, n0 * n1 * n2);
}

void BM_View_Sum_3D_stride(benchmark::State& state) {
  const size_t n = side_3d(), s1 = n + row_padding, s0 = n * s1;
  size_t s2 = 1;
  benchmark::DoNotOptimize(s2);  // run-time strides, in the view as in the raw twin
  auto buf = make_buffer(n * s0);
  using E = sh::dextents<size_t, 3>;
  const sh::mdspan<const double, E, sh::layout_stride> v(
      buf.data(), sh::layout_stride::mapping<E>(E(n, n, n), std::array<size_t, 3>{s0, s1, s2}));
  for (auto _ : state) {
    double sum = 0;
    for (size_t i = 0; i < v.extent(0); ++i)
      for (size_t j = 0; j < v.extent(1); ++j)
        for (size_t k = 0; k < v.extent(2); ++k) sum += v(i, j, k);
    benchmark::DoNotOptimize(sum);
    benchmark::ClobberMemory();
  }
  finish(state, n * n * n);
}
void BM_Raw_Sum_3D_stride(benchmark::State& state) {
  const size_t n = side_3d(), s1 = n + row_padding, s0 = n * s1;
  size_t s2 = 1;
  benchmark::DoNotOptimize(s2);  // run-time strides, in the view as in the raw twin
  auto buf = make_buffer(n * s0);
  const double* p = buf.data();
  for (auto _ : state) {
    double sum = 0;
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < n; ++j)
        for (size_t k = 0; k < n; ++k) sum += p[i * s0 + j * s1 + k * s2];
    benchmark::DoNotOptimize(sum);
    benchmark::ClobberMemory();
  }
  finish(state, n * n * n);
}

}  // namespace

BENCHMARK(BM_View_Sum_2D_right);
BENCHMARK(BM_Raw_Sum_2D_right);
BENCHMARK(BM_View_Sum_2D_left);
BENCHMARK(BM_Raw_Sum_2D_left);
BENCHMARK(BM_View_Sum_2D_stride);
BENCHMARK(BM_Raw_Sum_2D_stride);
BENCHMARK(BM_View_Sum_3D_right);
BENCHMARK(BM_Raw_Sum_3D_right);
BENCHMARK(BM_View_Sum_3D_left);
BENCHMARK(BM_Raw_Sum_3D_left);
BENCHMARK(BM_View_Sum_3D_stride);
BENCHMARK(BM_Raw_Sum_3D_stride);

BENCHMARK_MAIN();
