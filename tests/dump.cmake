# hvdiag dump over the real corpus: counts must match libevtx's own (evtxinfo).
find_program(EVTXINFO evtxinfo)
if(EVTXINFO)
  add_test(NAME dump_corpus_counts
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/dump_counts_check.sh
                   $<TARGET_FILE:hvdiag> ${HVD_CORPUS_DIR}/evtx)
endif()

# hvdiag dump of a hostile export under hvdiag's own memory limit.
add_test(NAME dump_memory_limit
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/memory_limit_check.sh $<TARGET_FILE:hvdiag>
                 ${CMAKE_CURRENT_SOURCE_DIR}/data)
set_tests_properties(dump_memory_limit PROPERTIES TIMEOUT 120)
