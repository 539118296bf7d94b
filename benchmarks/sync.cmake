# benchmarks/sync_bench: notify -> wake latency against a pipe, lock/notify/update costs, snapshot
# costs (issue 16; not a Google Benchmark program). CTest runs it once at tiny sizes.
add_executable(sync_bench ${CMAKE_CURRENT_LIST_DIR}/sync_bench.cpp)
target_link_libraries(sync_bench PRIVATE shmarray::shmarray shmarray_warnings)
if(SHMARRAY_BUILD_TESTS)
  add_test(NAME "benchmark smoke: sync_bench"
    COMMAND sync_bench --rounds=200 --mib=1 --seconds=0)
  set_tests_properties("benchmark smoke: sync_bench" PROPERTIES
    FIXTURES_REQUIRED shm_hygiene TIMEOUT 300 PASS_REGULAR_EXPRESSION "OK")
endif()
