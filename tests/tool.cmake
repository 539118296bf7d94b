# The tool's tests run the real `shmarray` binary (SHMARRAY_TOOLS_DIR): build it first. Without the
# tool (SHMARRAY_BUILD_TOOLS=OFF) test_tool skips its cases with a warning.
if(SHMARRAY_BUILD_TOOLS AND EXISTS "${PROJECT_SOURCE_DIR}/tools/CMakeLists.txt"
   AND TARGET test_tool)
  add_dependencies(test_tool shmarray_tool)
  # Smoke tests of the installed-name binary, independent of Catch2.
  add_test(NAME "tool: --version exits 0" COMMAND $<TARGET_FILE:shmarray_tool> --version)
  set_tests_properties("tool: --version exits 0" PROPERTIES PASS_REGULAR_EXPRESSION "^shmarray [0-9]+\\.[0-9]+\\.[0-9]+")
  add_test(NAME "tool: an unknown command exits 1"
    COMMAND sh -c "\"$0\" frobnicate; test $? -eq 1" $<TARGET_FILE:shmarray_tool>)
  set_tests_properties("tool: --version exits 0" "tool: an unknown command exits 1"
    PROPERTIES FIXTURES_REQUIRED shm_hygiene TIMEOUT 60)
endif()
