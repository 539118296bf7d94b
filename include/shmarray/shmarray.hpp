// shmarray: share one N-dimensional numeric array between processes through shared memory, with
// zero copies. The umbrella header: include this, or the one header of the concept you need.
#pragma once

#include "error.hpp"
#include "manager.hpp"
#include "mdspan.hpp"
#include "npy.hpp"
#include "npy_file.hpp"
#include "process_pool.hpp"
#include "record.hpp"
#include "segment.hpp"
#include "shared_array.hpp"
#include "sync.hpp"
#include "version.hpp"
