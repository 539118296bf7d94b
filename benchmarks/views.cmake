# Views (issue 3): the mdspan benchmark is measured at -O2 with bounds checks off whatever the build
# type, and a small driver is run under callgrind by views_callgrind.sh (instruction counts of each
# view loop against its raw-pointer twin). When valgrind is there, CTest checks the ratios too.
if(TARGET bench_views)
  target_compile_definitions(bench_views PRIVATE SHMARRAY_BOUNDS_CHECK=0)
  if(NOT CMAKE_BUILD_TYPE OR CMAKE_BUILD_TYPE STREQUAL "Debug")
    target_compile_options(bench_views PRIVATE -O2)
  endif()
endif()

add_executable(views_callgrind_driver ${CMAKE_CURRENT_LIST_DIR}/views_callgrind_driver.cpp)
target_link_libraries(views_callgrind_driver PRIVATE shmarray::shmarray shmarray_warnings)
target_compile_definitions(views_callgrind_driver PRIVATE SHMARRAY_BOUNDS_CHECK=0)
# The goal is stated at -O2: this comes after the build type's flags, so it wins.
target_compile_options(views_callgrind_driver PRIVATE -O2)

find_program(SHMARRAY_VALGRIND valgrind)
if(SHMARRAY_BUILD_TESTS AND SHMARRAY_VALGRIND)
  # Fails when a view loop executes more than 1% more instructions than its raw twin.
  add_test(NAME "benchmark: views callgrind ratio"
    COMMAND ${CMAKE_CURRENT_LIST_DIR}/views_callgrind.sh $<TARGET_FILE:views_callgrind_driver>
            --max-ratio 1.01)
  set_tests_properties("benchmark: views callgrind ratio" PROPERTIES
    FIXTURES_REQUIRED shm_hygiene TIMEOUT 600)
endif()
