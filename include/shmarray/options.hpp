// The options of shared_array's factories: how a new segment is made and how an existing one is
// attached. Aggregates, for designated initialisers: {.name = "frames", .fortran_order = true}.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "detail/huge_pages.hpp"
#include "npy.hpp"

namespace shmarray {

/// How a new segment is made. An aggregate: `{.name = "frames", .fortran_order = true}`.
struct create_options {
  std::string name;            // "" -> generated: "shmarray-" + 64 random bits, 25 characters
  unsigned mode = 0600;        // the segment's permissions, exactly (whatever the umask)
  bool fortran_order = false;  // NPY 'fortran_order': column-major; views are layout_left
  unsigned copy_threads = 0;   // copy/load: 0 = automatic (threads for large arrays), 1 = off
  /// 2 MiB huge pages for segments of at least 2 MiB, where the kernel gives them (prefer), or
  /// never (off), or as a condition (require: no_space otherwise). See detail/huge_pages.hpp.
  shmarray::huge_pages huge_pages = shmarray::huge_pages::prefer;
  /// load: the longest .npy header accepted, in characters (NumPy's max_header_size, same
  /// default); raise it for a trusted file with a longer one. SIZE_MAX: no limit.
  std::size_t max_header_size = npy::default_max_header_size;
};

/// How an existing segment is attached.
struct attach_options {
  /// How long to wait for a creator that has not published the segment yet.
  std::chrono::milliseconds ready_timeout{1000};
  /// Accept a segment owned by another uid. Off by default: another user could have created the
  /// name in advance and be waiting for this process to write secrets into it or read its data.
  bool allow_foreign_owner = false;
  /// The longest .npy header accepted, in characters: NumPy's max_header_size, same default
  /// (10,000). Raise it for a trusted segment with a longer one. SIZE_MAX: no limit.
  std::size_t max_header_size = npy::default_max_header_size;
};

}  // namespace shmarray
