# libFuzzer target for cluster.log input; clang only, off by default:
#   CC=clang cmake -S . -B build-fuzz -DHVD_FUZZ=ON && cmake --build build-fuzz --target fuzz_clusterlog
#   build-fuzz/tests/fuzz_clusterlog tests/data/clusterlog
option(HVD_FUZZ "Build the libFuzzer targets (needs clang)" OFF)
if(HVD_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
  # The reader's sources are compiled in with coverage instrumentation.
  set(_lib ${PROJECT_SOURCE_DIR}/lib)
  add_executable(fuzz_clusterlog fuzz/fuzz_clusterlog.c ${_lib}/clusterlog_reader.c
                 ${_lib}/text.c ${_lib}/buf.c ${_lib}/alloc.c ${_lib}/error.c ${_lib}/log.c
                 ${_lib}/hvtime.c ${_lib}/event.c)
  target_include_directories(fuzz_clusterlog PRIVATE ${_lib})
  # clang flags the va_list formatting in error.c and log.c, which gcc accepts.
  target_compile_options(fuzz_clusterlog PRIVATE -fsanitize=fuzzer,address,undefined
                         -Wno-format-nonliteral)
  target_link_options(fuzz_clusterlog PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_clusterlog PRIVATE m)
endif()

# libFuzzer target for hvdiag's own EVTX decoder:
#   build-fuzz/tests/fuzz_evtx_native tests/fuzz/seeds_evtx_native
if(HVD_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
  add_executable(fuzz_evtx_native fuzz/fuzz_evtx_native.c ${_lib}/evtx_native.c
                 ${_lib}/evtx_binxml.c ${_lib}/buf.c ${_lib}/alloc.c ${_lib}/error.c
                 ${_lib}/log.c ${_lib}/hvtime.c ${_lib}/event.c)
  target_include_directories(fuzz_evtx_native PRIVATE ${_lib})
  target_compile_options(fuzz_evtx_native PRIVATE -fsanitize=fuzzer,address,undefined
                         -Wno-format-nonliteral)
  target_link_options(fuzz_evtx_native PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_evtx_native PRIVATE PkgConfig::ZLIB m)
endif()
