# Fuzz targets, one per input surface: tests/fuzz/fuzz_<surface>.c defines
# LLVMFuzzerTestOneInput(); its seed corpus is tests/fuzz/seeds/<surface>/.
#
# Every build (gcc, any sanitizer) makes replay_<surface>: the target with a small main()
# that feeds it each seed once, and ctest runs it as fuzz_replay_<surface>, so the seeds
# (the inputs fuzzing found, kept as regressions) are replayed under ASan+UBSan in CI.
#
# With clang and -DHVD_FUZZ=ON the real libFuzzer binaries fuzz_<surface> are built too,
# over a copy of lib/ compiled with coverage (tests/fuzz/README.md says how to run them):
#   CC=clang cmake -S . -B build-fuzz -DHVD_FUZZ=ON && cmake --build build-fuzz --target fuzz_all
set(HVD_FUZZ_SURFACES eventxml evtx evtx_native clusterlog rules msgtable names config query
    bundle)
option(HVD_FUZZ "Build the libFuzzer targets (needs clang)" OFF)

set(_fuzz ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
set(_fuzz_defs
    HVD_FUZZ_XSD="${PROJECT_SOURCE_DIR}/rules/hvdiag-rules.xsd"
    HVD_FUZZ_RULES="${PROJECT_SOURCE_DIR}/rules"
    HVD_FUZZ_STORE_INPUT="${CMAKE_CURRENT_SOURCE_DIR}/data/clusterlog/ws2016.log")

foreach(surface ${HVD_FUZZ_SURFACES})
  add_executable(replay_${surface} ${_fuzz}/fuzz_${surface}.c ${_fuzz}/fuzz_util.c
                 ${_fuzz}/replay_main.c)
  target_include_directories(replay_${surface} PRIVATE ${_fuzz})
  target_compile_definitions(replay_${surface} PRIVATE ${_fuzz_defs})
  target_link_libraries(replay_${surface} PRIVATE hvd)
  add_test(NAME fuzz_replay_${surface} COMMAND replay_${surface} ${_fuzz}/seeds/${surface})
  set_tests_properties(fuzz_replay_${surface} PROPERTIES TIMEOUT 600)
endforeach()

if(HVD_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "HVD_FUZZ needs clang (CC=clang)")
  endif()
  # lib/ again, instrumented for coverage; the sanitizers match the fuzz binaries.
  file(GLOB _lib_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/lib/*.c)
  add_library(hvd_fuzzlib STATIC ${_lib_sources})
  target_include_directories(hvd_fuzzlib PUBLIC ${PROJECT_SOURCE_DIR}/lib)
  target_compile_definitions(hvd_fuzzlib PRIVATE HVD_RULES_DIR="${HVD_RULES_DIR}")
  # clang flags the va_list formatting in error.c and log.c, which gcc accepts.
  target_compile_options(hvd_fuzzlib PRIVATE -fsanitize=fuzzer-no-link,address,undefined
                         -Wno-format-nonliteral)
  # The same libraries as hvd, whatever lib/CMakeLists.txt lists.
  get_target_property(_hvd_deps hvd INTERFACE_LINK_LIBRARIES)
  target_link_libraries(hvd_fuzzlib PUBLIC ${_hvd_deps})
  add_custom_target(fuzz_all)
  foreach(surface ${HVD_FUZZ_SURFACES})
    add_executable(fuzz_${surface} ${_fuzz}/fuzz_${surface}.c ${_fuzz}/fuzz_util.c)
    target_include_directories(fuzz_${surface} PRIVATE ${_fuzz})
    target_compile_definitions(fuzz_${surface} PRIVATE ${_fuzz_defs})
    target_compile_options(fuzz_${surface} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(fuzz_${surface} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_${surface} PRIVATE hvd_fuzzlib)
    add_dependencies(fuzz_all fuzz_${surface})
  endforeach()
endif()
