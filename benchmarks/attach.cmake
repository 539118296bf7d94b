# attach_callgrind.sh's driver (user-space instructions per attach, attach_unsafe and allocate
# under callgrind), built at -O2 whatever the build type. No CTest threshold: instruction counts
# depend on the compiler and the standard library; run the script to compare two trees.
add_executable(attach_callgrind_driver ${CMAKE_CURRENT_LIST_DIR}/attach_callgrind_driver.cpp)
target_link_libraries(attach_callgrind_driver PRIVATE shmarray::shmarray shmarray_warnings)
target_compile_options(attach_callgrind_driver PRIVATE -O2)
