// The one Catch2 main shared by every test executable. A run in which every test passed but one
// called SHMTEST_SKIP exits with shmtest::skip_exit_code, which CTest reports as skipped.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "test_support.hpp"

#include <cstdio>

int main(int argc, char* argv[]) {
  const int failed = Catch::Session().run(argc, argv);
  if (failed != 0) return failed;
  const auto& skipped = shmtest::skipped_reasons();
  if (skipped.empty()) return 0;
  for (const auto& why : skipped) std::printf("%s\n", why.c_str());
  return shmtest::skip_exit_code;
}
