# hvdiag dump over the real corpus: counts must match libevtx's own (evtxinfo).
find_program(EVTXINFO evtxinfo)
if(EVTXINFO)
  add_test(NAME dump_corpus_counts
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/dump_counts_check.sh
                   $<TARGET_FILE:hvdiag> ${HVD_CORPUS_DIR}/evtx)
endif()
