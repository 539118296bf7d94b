// An image processing pipeline: a large grayscale image lives in shared memory, is split into
// tiles, and a process_pool computes each tile's mean and standard deviation in parallel, with a
// progress bar on the terminal (tasks, rate, time left; nothing when stderr is not a terminal).
// The workers read the image where it is: forked after it was made, they share its pages.
//
//   image_pipeline [height] [width] [tile] [workers]     (default 8192 8192 256, one per CPU)
// Exit code 0 when the parallel statistics match a serial computation.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <shmarray/shmarray.hpp>
#include <vector>

namespace {

struct tile_stats {
  double mean;
  double stddev;
};

// Mean and standard deviation of rows [r0, r1) x columns [c0, c1) of `img`.
template <class View>
tile_stats stats(const View& img, std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1) {
  double s = 0, s2 = 0;
  for (std::size_t i = r0; i < r1; ++i)
    for (std::size_t j = c0; j < c1; ++j) {
      const double v = img(i, j);
      s += v;
      s2 += v * v;
    }
  const double n = static_cast<double>((r1 - r0) * (c1 - c0));
  const double mean = s / n;
  return {mean, std::sqrt(std::max(0.0, s2 / n - mean * mean))};
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t h = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 8192;
  const std::size_t w = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 8192;
  const std::size_t t = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 256;
  const unsigned workers = argc > 4 ? static_cast<unsigned>(std::strtoul(argv[4], nullptr, 10)) : 0;
  if (h == 0 || w == 0 || t == 0) {
    std::fprintf(stderr, "usage: image_pipeline [height] [width] [tile] [workers]\n");
    return 64;
  }

  shmarray::manager mgr;
  auto image = shmarray::shared_array<float>::allocate(mgr, {h, w});
  auto px = image.view<2>();
  std::uint32_t noise = 12345;
  for (std::size_t i = 0; i < h; ++i)  // a smooth pattern plus a little deterministic noise
    for (std::size_t j = 0; j < w; ++j) {
      noise = noise * 1664525u + 1013904223u;
      px(i, j) = static_cast<float>(128.0 +
                                    100.0 * std::sin(static_cast<double>(i) * 0.003) *
                                        std::cos(static_cast<double>(j) * 0.002) +
                                    static_cast<double>(noise >> 28));
    }

  const std::size_t tiles_y = (h + t - 1) / t, tiles_x = (w + t - 1) / t;
  const std::size_t tiles = tiles_y * tiles_x;
  auto tile_of = [&](std::size_t k) {
    const std::size_t ty = k / tiles_x, tx = k % tiles_x;
    return stats(px, ty * t, std::min(h, ty * t + t), tx * t, std::min(w, tx * t + t));
  };

  shmarray::process_pool pool(workers);
  std::printf("image %zu x %zu floats in '%s' (%.1f MiB), %zu tiles of %zu x %zu, %u workers\n", h,
              w, image.name().c_str(), static_cast<double>(image.nbytes()) / (1024.0 * 1024.0),
              tiles, t, t, pool.workers());
  std::fflush(stdout);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<tile_stats> result =
      pool.map<tile_stats>(tiles, tile_of, shmarray::progress_bar("tiles"));
  const double parallel_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const auto t1 = std::chrono::steady_clock::now();
  std::size_t mismatches = 0;
  for (std::size_t k = 0; k < tiles; ++k) {
    const tile_stats s = tile_of(k);
    if (std::fabs(s.mean - result[k].mean) > 1e-9 || std::fabs(s.stddev - result[k].stddev) > 1e-9)
      ++mismatches;
  }
  const double serial_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();

  std::size_t busiest = 0;
  for (std::size_t k = 1; k < tiles; ++k)
    if (result[k].stddev > result[busiest].stddev) busiest = k;
  std::printf("tile (%zu, %zu) varies most: mean %.2f, std %.2f\n", busiest / tiles_x,
              busiest % tiles_x, result[busiest].mean, result[busiest].stddev);
  std::printf("parallel %.3f s, serial %.3f s (%.1fx)\n", parallel_s, serial_s,
              parallel_s > 0 ? serial_s / parallel_s : 0.0);
  if (mismatches) {
    std::printf("MISMATCH in %zu tiles\n", mismatches);
    return 1;
  }
  std::printf("OK: all %zu tiles match the serial computation\n", tiles);
  return 0;
}
