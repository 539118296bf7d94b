# mpi_distribution (not a Google Benchmark: an MPI program run under mpirun), only with
# shmarray::mpi. Its CTest smoke run (1 MiB, one repetition) is registered by tests/mpi.cmake.
if(TARGET shmarray::mpi)
  add_executable(mpi_distribution ${CMAKE_CURRENT_LIST_DIR}/mpi_distribution.cpp)
  target_link_libraries(mpi_distribution PRIVATE shmarray::mpi shmarray_warnings)
endif()
