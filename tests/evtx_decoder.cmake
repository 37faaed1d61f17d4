# hvdiag's own EVTX decoder against libevtx, the reference: the same events from both.
add_test(NAME evtx_decoder_diff_fixtures
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/evtx_diff_fixtures.sh
                 $<TARGET_FILE:hvdiag> $<TARGET_FILE:evtxgen> ${PROJECT_SOURCE_DIR})
# The real corpus (../shared/corpus beside the checkout, or /work/shared/corpus): skipped when
# absent. The three forwarded-event exports libevtx cannot read must give every record, each
# with its rendered message.
add_test(NAME evtx_decoder_diff_corpus
         COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/tools/evtx_diff_check.py
                 $<TARGET_FILE:hvdiag> --first-existing ${HVD_CORPUS_DIR}/evtx
                 /work/shared/corpus/evtx
                 --expect Yamato-Security_hayabusa-sample-evtx__ID1151-Defender_health_status.evtx=455
                 --expect Yamato-Security_hayabusa-sample-evtx__ID131-RDP_brutforce_no_user_info.evtx=154
                 --expect omerbenamram_evtx__MSExchange_Management_wec.evtx=1)
set_tests_properties(evtx_decoder_diff_corpus PROPERTIES SKIP_RETURN_CODE 77)
# The tests that read the whole corpus, one at a time: together they starve each other past
# their time limits on a two-core machine.
set_tests_properties(evtx_decoder_diff_corpus check_evtx_reader check_evtx_native
                     PROPERTIES RESOURCE_LOCK evtx_corpus)
if(TEST dump_corpus_counts)
  set_tests_properties(dump_corpus_counts PROPERTIES RESOURCE_LOCK evtx_corpus)
endif()
