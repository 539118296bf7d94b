// Views (issue 3): the program benchmarks/views_callgrind.sh runs under callgrind. Each kernel is a
// named, never-inlined extern "C" function: a sum through an mdspan (view_*) and its raw twin doing
// the same index arithmetic by hand (raw_*). The script counts instructions inside one kernel per
// run (--toggle-collect) and prints view/raw per layout. Always -O2, bounds checks off.
//
// usage: views_callgrind_driver <kernel>|all [side2d side3d]
#ifndef SHMARRAY_BOUNDS_CHECK
#define SHMARRAY_BOUNDS_CHECK 0
#endif
#include <array>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <shmarray/mdspan.hpp>
#include <vector>

namespace sh = shmarray;
using std::size_t;

#define SHMARRAY_KERNEL extern "C" __attribute__((noinline, used))

// --- layout_right
// -----------------------------------------------------------------------------------
SHMARRAY_KERNEL double view_sum_2d_right(const double* p, size_t n0, size_t n1) {
  const sh::mdspan<const double, sh::dextents<size_t, 2>> v(p, n0, n1);
  double sum = 0;
  for (size_t i = 0; i < v.extent(0); ++i)
    for (size_t j = 0; j < v.extent(1); ++j) sum += v(i, j);
  return sum;
}
SHMARRAY_KERNEL double raw_sum_2d_right(const double* p, size_t n0, size_t n1) {
  double sum = 0;
  for (size_t i = 0; i < n0; ++i)
    for (size_t j = 0; j < n1; ++j) sum += p[i * n1 + j];
  return sum;
}
SHMARRAY_KERNEL double view_sum_3d_right(const double* p, size_t n0, size_t n1, size_t n2) {
  const sh::mdspan<const double, sh::dextents<size_t, 3>> v(p, n0, n1, n2);
  double sum = 0;
  for (size_t i = 0; i < v.extent(0); ++i)
    for (size_t j = 0; j < v.extent(1); ++j)
      for (size_t k = 0; k < v.extent(2); ++k) sum += v(i, j, k);
  return sum;
}
SHMARRAY_KERNEL double raw_sum_3d_right(const double* p, size_t n0, size_t n1, size_t n2) {
  double sum = 0;
  for (size_t i = 0; i < n0; ++i)
    for (size_t j = 0; j < n1; ++j)
      for (size_t k = 0; k < n2; ++k) sum += p[(i * n1 + j) * n2 + k];
  return sum;
}

// --- layout_left
// ------------------------------------------------------------------------------------
SHMARRAY_KERNEL double view_sum_2d_left(const double* p, size_t n0, size_t n1) {
  const sh::mdspan<const double, sh::dextents<size_t, 2>, sh::layout_left> v(p, n0, n1);
  double sum = 0;
  for (size_t j = 0; j < v.extent(1); ++j)
    for (size_t i = 0; i < v.extent(0); ++i) sum += v(i, j);
  return sum;
}
SHMARRAY_KERNEL double raw_sum_2d_left(const double* p, size_t n0, size_t n1) {
  double sum = 0;
  for (size_t j = 0; j < n1; ++j)
    for (size_t i = 0; i < n0; ++i) sum += p[i + n0 * j];
  return sum;
}
SHMARRAY_KERNEL double view_sum_3d_left(const double* p, size_t n0, size_t n1, size_t n2) {
  const sh::mdspan<const double, sh::dextents<size_t, 3>, sh::layout_left> v(p, n0, n1, n2);
  double sum = 0;
  for (size_t k = 0; k < v.extent(2); ++k)
    for (size_t j = 0; j < v.extent(1); ++j)
      for (size_t i = 0; i < v.extent(0); ++i) sum += v(i, j, k);
  return sum;
}
SHMARRAY_KERNEL double raw_sum_3d_left(const double* p, size_t n0, size_t n1, size_t n2) {
  double sum = 0;
  for (size_t k = 0; k < n2; ++k)
    for (size_t j = 0; j < n1; ++j)
      for (size_t i = 0; i < n0; ++i) sum += p[i + n0 * (j + n1 * k)];
  return sum;
}

// --- layout_stride (strides are run-time values for both)
// -----------------------------------------
SHMARRAY_KERNEL double view_sum_2d_stride(const double* p, size_t n0, size_t n1, size_t s0,
                                          size_t s1) {
  using E = sh::dextents<size_t, 2>;
  const sh::mdspan<const double, E, sh::layout_stride> v(
      p, sh::layout_stride::mapping<E>(E(n0, n1), std::array<size_t, 2>{s0, s1}));
  double sum = 0;
  for (size_t i = 0; i < v.extent(0); ++i)
    for (size_t j = 0; j < v.extent(1); ++j) sum += v(i, j);
  return sum;
}
SHMARRAY_KERNEL double raw_sum_2d_stride(const double* p, size_t n0, size_t n1, size_t s0,
                                         size_t s1) {
  double sum = 0;
  for (size_t i = 0; i < n0; ++i)
    for (size_t j = 0; j < n1; ++j) sum += p[i * s0 + j * s1];
  return sum;
}
SHMARRAY_KERNEL double view_sum_3d_stride(const double* p, size_t n0, size_t n1, size_t n2,
                                          size_t s0, size_t s1, size_t s2) {
  using E = sh::dextents<size_t, 3>;
  const sh::mdspan<const double, E, sh::layout_stride> v(
      p, sh::layout_stride::mapping<E>(E(n0, n1, n2), std::array<size_t, 3>{s0, s1, s2}));
  double sum = 0;
  for (size_t i = 0; i < v.extent(0); ++i)
    for (size_t j = 0; j < v.extent(1); ++j)
      for (size_t k = 0; k < v.extent(2); ++k) sum += v(i, j, k);
  return sum;
}
SHMARRAY_KERNEL double raw_sum_3d_stride(const double* p, size_t n0, size_t n1, size_t n2,
                                         size_t s0, size_t s1, size_t s2) {
  double sum = 0;
  for (size_t i = 0; i < n0; ++i)
    for (size_t j = 0; j < n1; ++j)
      for (size_t k = 0; k < n2; ++k) sum += p[i * s0 + j * s1 + k * s2];
  return sum;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <kernel>|all [side2d side3d]\n", argv[0]);
    return 2;
  }
  const char* which = argv[1];
  const size_t a = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 256;  // 2-D side
  const size_t b = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 40;   // 3-D side
  const size_t pad = 8;
  std::vector<double> buf((b + pad) * (b + pad) * (b + pad) + (a + pad) * (a + pad));
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<double>(i % 13);
  const double* p = buf.data();
  const bool all = std::strcmp(which, "all") == 0;
  int ran = 0;
  auto run = [&](const char* name, auto fn) {
    if (!all && std::strcmp(which, name) != 0) return;
    ++ran;
    std::printf("%-20s %.1f\n", name, fn());
  };
  run("view_sum_2d_right", [&] { return view_sum_2d_right(p, a, a); });
  run("raw_sum_2d_right", [&] { return raw_sum_2d_right(p, a, a); });
  run("view_sum_3d_right", [&] { return view_sum_3d_right(p, b, b, b); });
  run("raw_sum_3d_right", [&] { return raw_sum_3d_right(p, b, b, b); });
  run("view_sum_2d_left", [&] { return view_sum_2d_left(p, a, a); });
  run("raw_sum_2d_left", [&] { return raw_sum_2d_left(p, a, a); });
  run("view_sum_3d_left", [&] { return view_sum_3d_left(p, b, b, b); });
  run("raw_sum_3d_left", [&] { return raw_sum_3d_left(p, b, b, b); });
  const size_t one = argc > 4 ? std::strtoul(argv[4], nullptr, 10) : 1;  // a run-time 1
  run("view_sum_2d_stride", [&] { return view_sum_2d_stride(p, a, a, a + pad, one); });
  run("raw_sum_2d_stride", [&] { return raw_sum_2d_stride(p, a, a, a + pad, one); });
  run("view_sum_3d_stride",
      [&] { return view_sum_3d_stride(p, b, b, b, b * (b + pad), b + pad, one); });
  run("raw_sum_3d_stride",
      [&] { return raw_sum_3d_stride(p, b, b, b, b * (b + pad), b + pad, one); });
  if (ran == 0) {
    std::fprintf(stderr, "unknown kernel '%s'\n", which);
    return 2;
  }
  return 0;
}
