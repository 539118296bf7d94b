# benchmarks/compare: shmarray vs pipes vs Python's multiprocessing.shared_memory, side by side
# (not a Google Benchmark program). CTest runs it once at tiny sizes to prove it runs.
add_executable(compare ${CMAKE_CURRENT_LIST_DIR}/compare.cpp)
target_link_libraries(compare PRIVATE shmarray::shmarray shmarray_warnings)
if(SHMARRAY_BUILD_TESTS)
  add_test(NAME "benchmark smoke: compare"
    COMMAND compare ${CMAKE_CURRENT_BINARY_DIR}/compare-smoke.csv --sizes=64K,256K --workers=2
            --reps=1 --python=off)
  set_tests_properties("benchmark smoke: compare" PROPERTIES
    FIXTURES_REQUIRED shm_hygiene TIMEOUT 300)
endif()
