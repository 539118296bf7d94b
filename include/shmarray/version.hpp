// shmarray version: the one place it is written. CMake reads these three macros.
#pragma once

#define SHMARRAY_VERSION_MAJOR 0
#define SHMARRAY_VERSION_MINOR 1
#define SHMARRAY_VERSION_PATCH 0

#define SHMARRAY_VERSION \
  (SHMARRAY_VERSION_MAJOR * 10000 + SHMARRAY_VERSION_MINOR * 100 + SHMARRAY_VERSION_PATCH)
