# MPI: real mpirun runs of node_shared_check (tests/mpi/), 4 ranks on this one machine with emulated
# nodes both ways -- SHMARRAY_MPI_RANKS_PER_NODE, and fake hosts through OpenMPI's rsh launcher
# (tests/mpi/fake_node_agent.sh: own hostname and /dev/shm per host) -- plus the example, the
# benchmark's smoke run and the packaging of shmarray::mpi. Only when MPI is found. Label: mpi.
# A test that needs a private mount namespace and cannot make one (not root, no unshare) exits
# 77: skipped.
if(NOT TARGET shmarray::mpi)
  return()
endif()

add_executable(node_shared_check ${CMAKE_CURRENT_SOURCE_DIR}/mpi/node_shared_check.cpp)
target_link_libraries(node_shared_check PRIVATE shmarray::mpi shmarray_warnings)
set(_mpi_run ${CMAKE_CURRENT_SOURCE_DIR}/mpi/mpirun_test.sh)

# shmarray_mpi_test(<name> ENV <var=value>... RUN <mpirun_test.sh options> -- <program> <args>)
function(shmarray_mpi_test name)
  cmake_parse_arguments(PARSE_ARGV 1 _t "" "" "ENV;RUN")
  add_test(NAME "mpi: ${name}" COMMAND sh ${_mpi_run} ${_t_RUN})
  # In ASan builds: OpenMPI's components leak ~120 KB per rank and are unloaded at MPI_Finalize
  # (unknown-module frames, so no suppression matches); leak reports only, ASan errors still fail.
  list(APPEND _t_ENV ASAN_OPTIONS=detect_leaks=0)
  set_tests_properties("mpi: ${name}" PROPERTIES LABELS mpi SKIP_RETURN_CODE 77 TIMEOUT 150
    ENVIRONMENT "${_t_ENV}" RESOURCE_LOCK shmarray_mpi FIXTURES_REQUIRED shm_hygiene)
endfunction()

set(_check $<TARGET_FILE:node_shared_check>)
shmarray_mpi_test("one node" ENV EXPECT_NODES=1 RUN -- ${_check})
shmarray_mpi_test("emulated nodes of 2" ENV EXPECT_NODES=2 SHMARRAY_MPI_RANKS_PER_NODE=2
  RUN -- ${_check})
shmarray_mpi_test("emulated nodes of 3 and 1" ENV EXPECT_NODES=2 SHMARRAY_MPI_RANKS_PER_NODE=3
  RUN -- ${_check})
shmarray_mpi_test("fake hosts a:2,b:2" ENV EXPECT_NODES=2 RUN --hosts a:2,b:2 -- ${_check})
shmarray_mpi_test("fake hosts a:3,b:1" ENV EXPECT_NODES=2 RUN --hosts a:3,b:1 -- ${_check})
shmarray_mpi_test("fake hosts a:1,b:1,c:1,d:1" ENV EXPECT_NODES=4
  RUN --hosts a:1,b:1,c:1,d:1 -- ${_check})

# Deliberately broken variants: the checks must catch them (the program exits 0 when they do).
shmarray_mpi_test("mutant without the leaders' broadcast is caught, emulated nodes"
  ENV EXPECT_NODES=2 SHMARRAY_MPI_RANKS_PER_NODE=2 RUN -- ${_check} --mutant skip-bcast)
shmarray_mpi_test("mutant without the leaders' broadcast is caught, fake hosts"
  ENV EXPECT_NODES=2 RUN --hosts a:2,b:2 -- ${_check} --mutant skip-bcast)
shmarray_mpi_test("mutant taking the job as one node is caught, emulated nodes"
  ENV EXPECT_NODES=2 SHMARRAY_MPI_RANKS_PER_NODE=2 RUN -- ${_check} --mutant one-node)
shmarray_mpi_test("mutant taking the job as one node is caught, fake hosts"
  ENV EXPECT_NODES=2 RUN --hosts a:2,b:2 -- ${_check} --mutant one-node)

# The fake-host emulation must be faithful: the same hosts with one /dev/shm for all (the agent's
# tmpfs left out) are caught by the layout checks.
shmarray_mpi_test("broken fake hosts sharing /dev/shm are caught"
  ENV EXPECT_NODES=2 SHMARRAY_FAKE_NODE_BROKEN=1 RUN --hosts a:2,b:2 -- ${_check} --mutant layout)

# Failures: no space on one node (host b gets a 32 MiB /dev/shm); a rank killed mid-job, the
# leader or not, leaves no segment; the control without crash cleanup shows the check would see one.
shmarray_mpi_test("no space on one node: every rank throws no_space"
  ENV EXPECT_NODES=2 SHMARRAY_FAKE_SHM_SIZE_b=32m RUN --hosts a:2,b:2 -- ${_check} --nospace 64)
shmarray_mpi_test("a killed leader leaves no segment" ENV SHMARRAY_MPI_RANKS_PER_NODE=2
  RUN --crash -- ${_check} --crash 0)
shmarray_mpi_test("a killed non-leader leaves no segment" ENV SHMARRAY_MPI_RANKS_PER_NODE=2
  RUN --crash -- ${_check} --crash 3)
shmarray_mpi_test("control: without crash cleanup a killed leader's segment stays"
  ENV SHMARRAY_MPI_RANKS_PER_NODE=2 RUN --crash -- ${_check} --crash-no-cleanup 0)
set_tests_properties("mpi: control: without crash cleanup a killed leader's segment stays"
  PROPERTIES PASS_REGULAR_EXPRESSION "FAIL: segment shmarray-[0-9a-f]+ is still in /dev/shm")

if(SHMARRAY_BUILD_EXAMPLES)  # examples/ is added after tests/: the target comes later
  shmarray_mpi_test("example mpi_row_sum" ENV SHMARRAY_MPI_RANKS_PER_NODE=2
    RUN -- $<TARGET_FILE:mpi_row_sum> 300 200)
  set_tests_properties("mpi: example mpi_row_sum" PROPERTIES
    PASS_REGULAR_EXPRESSION "4 ranks on 2 node\\(s\\).*OK: the sums agree on every rank")
endif()
if(SHMARRAY_BUILD_BENCHMARKS)  # likewise benchmarks/mpi.cmake
  shmarray_mpi_test("benchmark smoke: mpi_distribution" RUN -- $<TARGET_FILE:mpi_distribution>
    --reps 1 1)
  set_tests_properties("mpi: benchmark smoke: mpi_distribution" PROPERTIES
    PASS_REGULAR_EXPRESSION "OK: every rank read the right sum every time")
endif()

# Packaging: a downstream MPI program links shmarray::mpi through find_package(shmarray
# COMPONENTS mpi) of the installed package, and through add_subdirectory; it runs on 2 ranks.
set(_mpi_consumer ${CMAKE_CURRENT_SOURCE_DIR}/mpi/consumer)
set(_mpi_pkg_prefix ${CMAKE_CURRENT_BINARY_DIR}/packaging/prefix)  # where "packaging: install" puts it
foreach(_how package subdirectory)
  add_test(NAME "mpi: packaging: ${_how} consumer"
    COMMAND ${CMAKE_CTEST_COMMAND} --build-and-test ${_mpi_consumer}
            ${CMAKE_CURRENT_BINARY_DIR}/packaging/mpi_${_how}
            --build-generator ${CMAKE_GENERATOR} --build-makeprogram ${CMAKE_MAKE_PROGRAM}
            --build-options -DSHMARRAY_CONSUME=${_how} -DCMAKE_PREFIX_PATH=${_mpi_pkg_prefix}
                            -DSHMARRAY_SOURCE_DIR=${PROJECT_SOURCE_DIR}
                            -DSHMARRAY_MPI_RUN=${_mpi_run}
                            -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}
            --test-command ${CMAKE_CTEST_COMMAND} --output-on-failure)
  set_tests_properties("mpi: packaging: ${_how} consumer" PROPERTIES LABELS mpi TIMEOUT 300
    RESOURCE_LOCK shmarray_mpi FIXTURES_REQUIRED shm_hygiene)
endforeach()
set_tests_properties("mpi: packaging: package consumer" PROPERTIES
  FIXTURES_REQUIRED "shmarray_installed;shm_hygiene")
