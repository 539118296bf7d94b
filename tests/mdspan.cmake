# Views (issue 3): compile-fail checks, and the view tests built again in C++20 and C++2b mode
# (C++2b exercises multidimensional operator[]).

# --- compile-fail tests ---------------------------------------------------------------------------
# Each case is tests/compile_fail/mdspan_<case>.cpp with its bad line under #ifdef SHMARRAY_BAD.
# "bad" builds it with -DSHMARRAY_BAD (must fail); "control" builds it without (must succeed, so the
# failure is the intended error and not a typo). Both run `cmake --build` on an EXCLUDE_FROM_ALL
# target, so a plain build never trips on them. A case "<case>:<variant>" is one of several bad
# builds of the same file, with -DSHMARRAY_BAD_VARIANT=<variant> (a type, a layout, or a macro the
# file defines); the file's control is built once.
set(_mdspan_compile_fail_cases
  wrong_index_count_too_few
  wrong_index_count_too_many
  index_double
  index_pointer
  bracket_index_double
  submdspan_too_many_slices
  submdspan_too_few_slices
  submdspan_double_slice
  const_to_mutable
  layout_right_from_left_rank2
  # issue 13: the standard's Mandates and constraints
  extents_index_type:bool extents_index_type:char extents_index_type:wchar_t
  extents_index_type:char8_t extents_index_type:char16_t extents_index_type:char32_t
  layout_static_size:layout_right layout_static_size:layout_left layout_static_size:layout_stride
  layout_rank0_stride:layout_right layout_rank0_stride:layout_left
  index_value_category:pack_only_lvalue index_value_category:pack_throwing
  index_value_category:extents_only_lvalue index_value_category:mapping_only_lvalue
  index_value_category:array_only_rvalue index_value_category:array_bracket_only_rvalue)
# What a bad build of a file must print, where that is set: then the intended error, and no other,
# passes (the Mandates are our static_asserts; a refused overload is "no match[ing]" or "no viable").
set(_mdspan_compile_fail_expect_extents_index_type
  "IndexType must be a signed or unsigned integer type")
set(_mdspan_compile_fail_expect_layout_static_size
  "mapping<Extents>: the extents are all static and their product is not representable")
set(_mdspan_compile_fail_expect_layout_rank0_stride "no matching member function|no matching function")
set(_mdspan_compile_fail_expect_index_value_category "no match|no viable")
set(_mdspan_compile_fail_controls)
foreach(_case IN LISTS _mdspan_compile_fail_cases)
  string(REPLACE ":" ";" _parts "${_case}")
  list(GET _parts 0 _file)
  list(LENGTH _parts _nparts)
  set(_variant "")
  if(_nparts GREATER 1)
    list(GET _parts 1 _variant)
  endif()
  set(_kinds bad)
  if(NOT _file IN_LIST _mdspan_compile_fail_controls)
    list(APPEND _mdspan_compile_fail_controls ${_file})
    list(APPEND _kinds control)
  endif()
  foreach(_kind IN LISTS _kinds)
    if(_kind STREQUAL "bad")
      set(_name "${_case}")
    else()
      set(_name "${_file}")
    endif()
    string(REPLACE ":" "_" _target_name "${_name}")
    set(_target mdspan_compile_fail_${_target_name}_${_kind})
    set(_test "mdspan compile-fail: ${_name} (${_kind})")
    add_executable(${_target} EXCLUDE_FROM_ALL
      ${CMAKE_CURRENT_SOURCE_DIR}/compile_fail/mdspan_${_file}.cpp)
    target_link_libraries(${_target} PRIVATE shmarray::shmarray shmarray_warnings)
    if(_kind STREQUAL "bad")
      target_compile_definitions(${_target} PRIVATE SHMARRAY_BAD=1)
      if(_variant)
        target_compile_definitions(${_target} PRIVATE SHMARRAY_BAD_VARIANT=${_variant})
      endif()
      if(_variant STREQUAL "char8_t")  # a type of C++20 (and a keyword there)
        set_target_properties(${_target} PROPERTIES CXX_STANDARD 20 CXX_STANDARD_REQUIRED ON)
      endif()
    endif()
    add_test(NAME "${_test}" COMMAND ${CMAKE_COMMAND} --build ${PROJECT_BINARY_DIR} --target ${_target})
    # One at a time: concurrent builds in one build tree may race on its bookkeeping.
    set_tests_properties("${_test}" PROPERTIES
      FIXTURES_REQUIRED shm_hygiene TIMEOUT 300 RESOURCE_LOCK shmarray_build_tree)
    if(_kind STREQUAL "bad")
      if(DEFINED _mdspan_compile_fail_expect_${_file})
        set_tests_properties("${_test}" PROPERTIES
          PASS_REGULAR_EXPRESSION "${_mdspan_compile_fail_expect_${_file}}")
      else()
        set_tests_properties("${_test}" PROPERTIES WILL_FAIL TRUE)
      endif()
    endif()
  endforeach()
endforeach()

# --- the view tests in newer language modes --------------------------------------------------------
include(CheckCXXCompilerFlag)
set(_mdspan_std_modes 20)
check_cxx_compiler_flag(-std=c++2b SHMARRAY_HAVE_STD_CXX2B)
if(SHMARRAY_HAVE_STD_CXX2B)
  list(APPEND _mdspan_std_modes 23)
endif()
foreach(_std IN LISTS _mdspan_std_modes)
  foreach(_name test_mdspan test_mdspan_reference test_mdspan_static)
    if(NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${_name}.cpp)
      continue()
    endif()
    set(_target ${_name}_cxx${_std})
    add_executable(${_target} ${CMAKE_CURRENT_SOURCE_DIR}/${_name}.cpp)
    target_link_libraries(${_target} PRIVATE shmarray_test_main)
    if(_std STREQUAL "23")
      # CMake 3.25 knows cxx_std_23; -std=c++2b is what g++ 12 and clang 14 call it.
      set_target_properties(${_target} PROPERTIES CXX_STANDARD 23 CXX_STANDARD_REQUIRED ON
                                                  CXX_EXTENSIONS OFF)
    else()
      set_target_properties(${_target} PROPERTIES CXX_STANDARD ${_std} CXX_STANDARD_REQUIRED ON
                                                  CXX_EXTENSIONS OFF)
    endif()
    catch_discover_tests(${_target}
      TEST_PREFIX "${_name} (C++${_std}): "
      PROPERTIES FIXTURES_REQUIRED shm_hygiene TIMEOUT 300 SKIP_RETURN_CODE 77)
  endforeach()
endforeach()

# --- the "names are the std:: ones" path -------------------------------------------------------------
# No compiler here has <mdspan>; a stand-in (tests/compile_fail/mdspan_std_alias/fake_std/mdspan)
# puts a renamed copy of our implementation into std, and __cpp_lib_mdspan is defined, so that
# <shmarray/mdspan.hpp> takes its alias path and its own submdspan runs on the "std" types.
set(_mdspan_fake_impl ${CMAKE_CURRENT_BINARY_DIR}/mdspan_std_alias/shmarray_fake_std_impl)
file(GLOB _mdspan_detail_headers CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/include/shmarray/detail/mdspan_*.hpp)
foreach(_header IN LISTS _mdspan_detail_headers)
  get_filename_component(_header_name ${_header} NAME)
  configure_file(${_header} ${_mdspan_fake_impl}/${_header_name} COPYONLY)
endforeach()
add_executable(mdspan_std_alias_check ${CMAKE_CURRENT_SOURCE_DIR}/compile_fail/mdspan_std_alias/main.cpp)
target_link_libraries(mdspan_std_alias_check PRIVATE shmarray::shmarray shmarray_warnings)
target_include_directories(mdspan_std_alias_check BEFORE PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/compile_fail/mdspan_std_alias/fake_std
  ${CMAKE_CURRENT_BINARY_DIR}/mdspan_std_alias)
target_compile_definitions(mdspan_std_alias_check PRIVATE __cpp_lib_mdspan=202207L)
add_test(NAME "mdspan std alias path: builds and runs" COMMAND mdspan_std_alias_check)
set_tests_properties("mdspan std alias path: builds and runs" PROPERTIES
  FIXTURES_REQUIRED shm_hygiene TIMEOUT 60)
