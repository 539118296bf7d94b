# Every example runs under CTest with its exit code (and the line that says it worked) checked.
#
# Two roles in one file: included by tests/CMakeLists.txt it registers the tests; run with
# `cmake -P` it is the checker each test invokes:
#   -DEXE=<program> -DARGS=<args separated by |> -DEXPECT_CODE=<n> -DEXPECT_OUTPUT=<regex>
#   -DNUMPY_OUTPUT=<regex>  (required in the output as well when /usr/bin/python3 has NumPy)
# (PASS_REGULAR_EXPRESSION alone would make CTest ignore the exit code.)
if(CMAKE_SCRIPT_MODE_FILE)
  string(REPLACE "|" ";" _args "${ARGS}")
  execute_process(COMMAND "${EXE}" ${_args}
    RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err TIMEOUT 600)
  message("${_out}")
  if(_err)
    message("stderr:\n${_err}")
  endif()
  if(NOT "${_rc}" STREQUAL "${EXPECT_CODE}")
    message(FATAL_ERROR "${EXE}: exit code ${_rc}, expected ${EXPECT_CODE}")
  endif()
  if(DEFINED EXPECT_OUTPUT AND NOT "${_out}${_err}" MATCHES "${EXPECT_OUTPUT}")
    message(FATAL_ERROR "${EXE}: the output does not contain '${EXPECT_OUTPUT}'")
  endif()
  if(DEFINED NUMPY_OUTPUT)
    execute_process(COMMAND /usr/bin/python3 -c "import numpy" RESULT_VARIABLE _np
      OUTPUT_QUIET ERROR_QUIET)
    if(_np EQUAL 0 AND NOT "${_out}" MATCHES "${NUMPY_OUTPUT}")
      message(FATAL_ERROR "${EXE}: NumPy is installed, yet the output lacks '${NUMPY_OUTPUT}'")
    elseif(NOT _np EQUAL 0)
      # Reported by CTest as skipped (SKIP_REGULAR_EXPRESSION), not as a pass.
      message("SHMTEST-SKIPPED: /usr/bin/python3 with NumPy not found")
    endif()
  endif()
  return()
endif()

if(NOT SHMARRAY_BUILD_EXAMPLES)
  return()
endif()

set(_shmarray_example_checker "${CMAKE_CURRENT_LIST_FILE}")
# Names unique to this build tree, so two build trees can run their suites at once.
string(MD5 _shmarray_tree "${CMAKE_BINARY_DIR}")
string(SUBSTRING "${_shmarray_tree}" 0 10 _shmarray_tree)

# shmarray_example_test(<test> <target> <exit code> <output regex> [args...])
function(shmarray_example_test test target code regex)
  string(REPLACE ";" "|" _args "${ARGN}")
  add_test(NAME example_${test}
    COMMAND ${CMAKE_COMMAND} "-DEXE=$<TARGET_FILE:${target}>" "-DARGS=${_args}"
            "-DEXPECT_CODE=${code}" "-DEXPECT_OUTPUT=${regex}" ${SHMARRAY_EXAMPLE_EXTRA}
            -P "${_shmarray_example_checker}")
  set_tests_properties(example_${test} PROPERTIES FIXTURES_REQUIRED shm_hygiene TIMEOUT 300)
endfunction()

shmarray_example_test(parallel_row_sum parallel_row_sum 0 "OK: the sums agree" 200 300 3)
shmarray_example_test(scoped_cleanup scoped_cleanup 0 "OK: everything was cleaned up")
shmarray_example_test(attach_multiple attach_multiple 0 "OK: the creator sees all 3 rows" 3 200)
shmarray_example_test(performance_comparison performance_comparison 0
  "OK: every worker computed the same sum" 8 2)
shmarray_example_test(image_pipeline image_pipeline 0 "OK: all 35 tiles match" 300 400 64 2)
shmarray_example_test(producer producer 0 "ready shmex-${_shmarray_tree}-p"
  shmex-${_shmarray_tree}-p 20 30 --hold-ms 0)
shmarray_example_test(consumer_times_out consumer 2 "timed out after 200 ms"
  shmex-${_shmarray_tree}-absent --timeout-ms 200)
set(SHMARRAY_EXAMPLE_EXTRA "-DNUMPY_OUTPUT=OK: C.. sees NumPy's change")
shmarray_example_test(numpy_interop numpy_interop 0 "OK: C.. sees NumPy's change|skipped"
  "${PROJECT_SOURCE_DIR}/examples/numpy_interop.py")
set_tests_properties(example_numpy_interop PROPERTIES SKIP_REGULAR_EXPRESSION "SHMTEST-SKIPPED")
# Issue 13: a struct described with SHMARRAY_RECORD, read and changed by NumPy by field name.
set(SHMARRAY_EXAMPLE_EXTRA "-DNUMPY_OUTPUT=OK: C.. and NumPy agree on the particles")
shmarray_example_test(particles particles 0 "OK: C.. and NumPy agree on the particles|skipped")
set_tests_properties(example_particles PROPERTIES SKIP_REGULAR_EXPRESSION "SHMTEST-SKIPPED")
unset(SHMARRAY_EXAMPLE_EXTRA)

# The producer/consumer pairing test (test_producer_consumer.cpp) executes the two programs.
if(TARGET test_producer_consumer)
  add_dependencies(test_producer_consumer producer consumer)
endif()
