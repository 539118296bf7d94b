# Packaging: the library is consumed by a downstream project through add_subdirectory and through an
# installed find_package(shmarray); asking for a version that does not exist is refused.
set(_pkg_prefix ${CMAKE_CURRENT_BINARY_DIR}/packaging/prefix)
set(_consumer_src ${CMAKE_CURRENT_SOURCE_DIR}/consumer)

add_test(NAME "packaging: install"
  COMMAND ${CMAKE_COMMAND} --install ${PROJECT_BINARY_DIR} --prefix ${_pkg_prefix} --component Unspecified)
set_tests_properties("packaging: install" PROPERTIES FIXTURES_SETUP shmarray_installed)

add_test(NAME "packaging: find_package consumer"
  COMMAND ${CMAKE_CTEST_COMMAND} --build-and-test ${_consumer_src}
          ${CMAKE_CURRENT_BINARY_DIR}/packaging/find_package
          --build-generator ${CMAKE_GENERATOR} --build-makeprogram ${CMAKE_MAKE_PROGRAM}
          --build-options -DSHMARRAY_CONSUME=package -DCMAKE_PREFIX_PATH=${_pkg_prefix}
                          -DSHMARRAY_WANT_VERSION=${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}
                          -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}
          --test-command ${CMAKE_CTEST_COMMAND} --output-on-failure)
add_test(NAME "packaging: find_package refuses a version that does not exist"
  COMMAND ${CMAKE_CTEST_COMMAND} --build-and-test ${_consumer_src}
          ${CMAKE_CURRENT_BINARY_DIR}/packaging/find_package_bad_version
          --build-generator ${CMAKE_GENERATOR} --build-makeprogram ${CMAKE_MAKE_PROGRAM}
          --build-options -DSHMARRAY_CONSUME=package -DCMAKE_PREFIX_PATH=${_pkg_prefix}
                          -DSHMARRAY_WANT_VERSION=99.0 -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER})
set_tests_properties("packaging: find_package consumer"
  "packaging: find_package refuses a version that does not exist"
  PROPERTIES FIXTURES_REQUIRED "shmarray_installed;shm_hygiene" TIMEOUT 300)
set_tests_properties("packaging: find_package refuses a version that does not exist"
  PROPERTIES PASS_REGULAR_EXPRESSION "shmarrayConfigVersion.cmake|version: ${PROJECT_VERSION}")

add_test(NAME "packaging: add_subdirectory consumer"
  COMMAND ${CMAKE_CTEST_COMMAND} --build-and-test ${_consumer_src}
          ${CMAKE_CURRENT_BINARY_DIR}/packaging/subdirectory
          --build-generator ${CMAKE_GENERATOR} --build-makeprogram ${CMAKE_MAKE_PROGRAM}
          --build-options -DSHMARRAY_CONSUME=subdirectory -DSHMARRAY_SOURCE_DIR=${PROJECT_SOURCE_DIR}
                          -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}
          --test-command ${CMAKE_CTEST_COMMAND} --output-on-failure)
set_tests_properties("packaging: add_subdirectory consumer" PROPERTIES
  FIXTURES_REQUIRED shm_hygiene TIMEOUT 300)
