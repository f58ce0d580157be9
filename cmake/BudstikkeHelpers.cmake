# Small build helpers in the style of Abseil's absl_cc_library: explicit sources
# and dependencies, a budstikke::<name> alias, warnings and sanitizers linked
# PRIVATE from INTERFACE targets.

add_library(budstikke_warnings INTERFACE)
target_compile_options(budstikke_warnings INTERFACE
  -Wall -Wextra -Wno-unused-parameter -Wnon-virtual-dtor -Wimplicit-fallthrough)

add_library(budstikke_hardening INTERFACE)
target_compile_options(budstikke_hardening INTERFACE
  -fstack-protector-strong $<$<NOT:$<CONFIG:Debug>>:-D_FORTIFY_SOURCE=2>)

add_library(budstikke_sanitizers INTERFACE)
if(BUDSTIKKE_ASAN)
  target_compile_options(budstikke_sanitizers INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(budstikke_sanitizers INTERFACE -fsanitize=address,undefined)
endif()

# The server's allocator: gperftools' tcmalloc (per-thread caches) instead of
# glibc malloc. A referral is built on the domain thread and freed on a gRPC
# thread; glibc returns such memory to another thread's arena under a lock.
# referral_bench, 12 pairs of 1 s slices, process CPU per Send 280-294 us with
# glibc against 252-265 us with tcmalloc; the echo unchanged at 156-165 us
# (docs/PERFORMANCE.md, Referrals, sixth round). Not with sanitizers, which
# bring their own allocator. Linked without --as-needed: nothing calls it by
# name, it replaces malloc and free.
add_library(budstikke_malloc INTERFACE)
if(TARGET PkgConfig::TCMALLOC)
  target_link_libraries(budstikke_malloc INTERFACE
    "-Wl,--push-state,--no-as-needed" PkgConfig::TCMALLOC "-Wl,--pop-state")
endif()

# Applies warnings only to first-party code; sanitizers are global in ASan builds
# so that every object file agrees.
if(BUDSTIKKE_ASAN)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
# Fuzzing (tests/fuzz): every first-party object gets libFuzzer's coverage
# instrumentation and ASan + UBSan (any UBSan finding aborts, so the fuzzer
# reports it as a crash); only the fuzz targets link libFuzzer's main.
if(BUDSTIKKE_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# budstikke_cc_library(NAME n SRCS a.cc HDRS a.h DEPS x y [PUBLIC_DEFINES ...])
function(budstikke_cc_library)
  cmake_parse_arguments(B "" "NAME" "SRCS;HDRS;DEPS" ${ARGN})
  if(B_SRCS)
    add_library(budstikke_${B_NAME} STATIC ${B_SRCS} ${B_HDRS})
    target_include_directories(budstikke_${B_NAME} PUBLIC
      $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}> $<INSTALL_INTERFACE:include>)
    set_target_properties(budstikke_${B_NAME} PROPERTIES EXPORT_NAME ${B_NAME})
    target_link_libraries(budstikke_${B_NAME} PUBLIC ${B_DEPS}
      PRIVATE budstikke_warnings budstikke_hardening)
  else()
    add_library(budstikke_${B_NAME} INTERFACE)
    target_include_directories(budstikke_${B_NAME} INTERFACE ${PROJECT_SOURCE_DIR})
    target_link_libraries(budstikke_${B_NAME} INTERFACE ${B_DEPS})
  endif()
  add_library(budstikke::${B_NAME} ALIAS budstikke_${B_NAME})
endfunction()

# `unit_tests` builds everything the tests labelled `unit` run: every
# budstikke_cc_test with LABELS unit joins it, and a script test labelled
# `unit` adds what it runs with budstikke_unit_test_needs(target...).
# make test-asan builds this target and runs `ctest -L unit`.
if(BUDSTIKKE_BUILD_TESTS)
  add_custom_target(unit_tests)
endif()
function(budstikke_unit_test_needs)
  if(BUDSTIKKE_BUILD_TESTS)
    add_dependencies(unit_tests ${ARGN})
  endif()
endfunction()

# budstikke_cc_test(NAME n SRCS a_test.cc DEPS x y LABELS l [TIMEOUT s])
# Registers a GoogleTest binary with CTest (one CTest entry per binary keeps
# CTest start-up cheap; gtest output names the failing case).
function(budstikke_cc_test)
  if(NOT BUDSTIKKE_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(B "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  # Every test says what it is: `unit` (no servers or processes; run again
  # under ASan by make test-asan), `integration` or `e2e`.
  if(NOT B_LABELS)
    message(FATAL_ERROR "budstikke_cc_test(${B_NAME}): give LABELS unit, integration or e2e")
  endif()
  add_executable(${B_NAME} ${B_SRCS})
  set_target_properties(${B_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${B_NAME} PRIVATE ${B_DEPS} GTest::gmock GTest::gtest_main
    budstikke_warnings)
  add_test(NAME ${B_NAME} COMMAND ${B_NAME})
  if(NOT B_TIMEOUT)
    set(B_TIMEOUT 300)
  endif()
  set_tests_properties(${B_NAME} PROPERTIES TIMEOUT ${B_TIMEOUT}
    ENVIRONMENT "BUDSTIKKE_SOURCE_DIR=${PROJECT_SOURCE_DIR};BUDSTIKKE_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
  set_tests_properties(${B_NAME} PROPERTIES LABELS "${B_LABELS}")
  if("unit" IN_LIST B_LABELS)
    add_dependencies(unit_tests ${B_NAME})
  endif()
endfunction()

# budstikke_cc_binary(NAME n SRCS main.cc DEPS x y)
function(budstikke_cc_binary)
  cmake_parse_arguments(B "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${B_NAME} ${B_SRCS})
  target_link_libraries(${B_NAME} PRIVATE ${B_DEPS} budstikke_warnings budstikke_hardening)
endfunction()
