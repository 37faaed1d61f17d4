# The rules' needs filter (lib/needs.c): records no rule can match are decoded up to System
# only, and the database is the same as with every record decoded whole. On the samples and the
# damaged EVTX seeds of the fuzz corpus (a record damaged after System is rejected alike) and,
# when present, on the real corpus (skipped when absent).
add_test(NAME needs_filter_same_digest_samples
         COMMAND needs_digest ${PROJECT_SOURCE_DIR}/rules --expect-filtered
                 ${PROJECT_SOURCE_DIR}/samples ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/seeds/evtx)
add_test(NAME needs_filter_same_digest_corpus
         COMMAND sh -c "d=\"$1/evtx\"; [ -d \"$d\" ] || d=/work/shared/corpus/evtx; exec \"$0\" \"$2\" --expect-filtered --skip-missing \"$d\""
                 $<TARGET_FILE:needs_digest> ${HVD_CORPUS_DIR} ${PROJECT_SOURCE_DIR}/rules)
set_tests_properties(needs_filter_same_digest_corpus PROPERTIES SKIP_RETURN_CODE 77
                     RESOURCE_LOCK evtx_corpus)
# 'hvdiag rules check' warns about a rule tried on every EVTX event; the shipped set has none.
add_test(NAME rules_check_warns_unkeyed
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/rules_unkeyed_check.sh $<TARGET_FILE:hvdiag>
                 ${PROJECT_SOURCE_DIR})
# A ForwardedEvents export collected from three hosts, diagnosed per host.
add_test(NAME forwarded_events_sample
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/forwarded_sample_check.sh
                 $<TARGET_FILE:hvdiag> $<TARGET_FILE:evtxgen> ${PROJECT_SOURCE_DIR})
