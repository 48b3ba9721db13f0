# wufei_add_test(NAME SOURCES src... LIBS lib...): one Criterion test
# executable registered with ctest. Sanitizer reports abort the test.
function(wufei_add_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} ${CRITERION_LINK_LIBRARIES})
  target_include_directories(${name} PRIVATE ${CRITERION_INCLUDE_DIRS} ${CMAKE_SOURCE_DIR})
  target_compile_definitions(${name} PRIVATE
    WUFEI_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
    WUFEI_CATALOGUE="${WUFEI_CATALOGUE_PATH}"
    WUFEID_PATH="$<TARGET_FILE:wufeid>"
    WUFEI_CLI_PATH="$<TARGET_FILE:wufei>")
  add_test(NAME ${name} COMMAND ${name} --jobs 1 --full-stats)
  set_tests_properties(${name} PROPERTIES TIMEOUT 600
    ENVIRONMENT "ASAN_OPTIONS=abort_on_error=1:detect_leaks=1;UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1")
endfunction()
