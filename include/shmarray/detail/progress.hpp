// A terminal progress bar for process_pool (like tqdm): tasks done, rate and time left, redrawn in
// place on stderr -- and only when stderr is a terminal, so logs and CI output stay clean.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>
#include <utility>

namespace shmarray {

/// A progress callback `(done, total)` that draws
///     label  42% |##########              | 420/1000 [00:03<00:04, 131.2 tasks/s]
/// on stderr, at most about ten times a second, and ends the line when done == total. Draws
/// nothing when stderr is not a terminal, unless `force` (for tests and logs that want it).
class progress_bar {
 public:
  explicit progress_bar(std::string label = {}, bool force = false)
      : label_(std::move(label)), enabled_(force || ::isatty(STDERR_FILENO) == 1) {}

  /// Whether this bar draws at all (stderr is a terminal, or forced).
  bool enabled() const noexcept { return enabled_; }

  void operator()(std::size_t done, std::size_t total) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (!started_) {
      start_ = now;
      started_ = true;
    } else if (done < total && now - last_draw_ < std::chrono::milliseconds(100)) {
      return;
    }
    if (finished_) return;
    last_draw_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double frac = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
    const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
    const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0.0;
    constexpr int width = 24;
    char bar[width + 1];
    const int filled = static_cast<int>(frac * width);
    for (int i = 0; i < width; ++i) bar[i] = i < filled ? '#' : ' ';
    bar[width] = '\0';
    char el[48], left[48];
    clock_(el, sizeof el, elapsed);
    clock_(left, sizeof left, eta);
    std::fprintf(stderr, "\r%s%s%3d%% |%s| %zu/%zu [%s<%s, %.1f tasks/s]\x1b[K", label_.c_str(),
                 label_.empty() ? "" : "  ", static_cast<int>(frac * 100), bar, done, total, el,
                 rate > 0 ? left : "?", rate);
    if (done >= total) {
      std::fputc('\n', stderr);
      finished_ = true;
    }
    std::fflush(stderr);
  }

 private:
  static void clock_(char* buf, std::size_t n, double seconds) {
    const long s = static_cast<long>(std::min(seconds, 3.6e8) + 0.5);  // ETA of a stalled run
    if (s >= 3600)
      std::snprintf(buf, n, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
      std::snprintf(buf, n, "%02ld:%02ld", s / 60, s % 60);
  }

  std::string label_;
  bool enabled_;
  bool started_ = false;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_{}, last_draw_{};
};

}  // namespace shmarray
