// Views over shared arrays: the std::mdspan vocabulary (extents, layouts, default_accessor, mdspan,
// submdspan) for C++17, so that code moves to std::mdspan by changing a namespace. Where the
// standard library has <mdspan> (__cpp_lib_mdspan), the shmarray names are the std:: ones.
#pragma once

#if __has_include(<version>)
#include <version>
#endif

// SHMARRAY_NO_STD_MDSPAN forces shmarray's own implementation even where <mdspan> exists (every
// translation unit of a program must agree).
#if defined(__cpp_lib_mdspan) && !defined(SHMARRAY_NO_STD_MDSPAN)
#define SHMARRAY_USES_STD_MDSPAN 1
#include <mdspan>
namespace shmarray {
using std::default_accessor;
using std::dextents;
using std::dynamic_extent;
using std::extents;
using std::layout_left;
using std::layout_right;
using std::layout_stride;
using std::mdspan;
}  // namespace shmarray
#else
#define SHMARRAY_USES_STD_MDSPAN 0
#include "detail/mdspan_accessor.hpp"
#include "detail/mdspan_bounds_check.hpp"
#include "detail/mdspan_extents.hpp"
#include "detail/mdspan_layout_packed.hpp"
#include "detail/mdspan_layout_stride.hpp"
#include "detail/mdspan_mdspan.hpp"
#endif

// submdspan, full_extent, strided_slice: the std ones only where the library has them too.
#if SHMARRAY_USES_STD_MDSPAN && defined(__cpp_lib_submdspan)
namespace shmarray {
using std::full_extent;
using std::full_extent_t;
using std::strided_slice;
using std::submdspan;
using std::submdspan_extents;
using std::submdspan_mapping_result;
}  // namespace shmarray
#else
#include "detail/mdspan_submdspan.hpp"
#endif
