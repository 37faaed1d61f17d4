# Sample bundles told through different sources give the same diagnoses.
add_test(NAME clusterlog_bundle_as_full_as_evtx
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/clusterlog_bundle_check.sh
                 $<TARGET_FILE:hvdiag> ${PROJECT_SOURCE_DIR})
add_test(NAME corpus_clusterlog_excerpt
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/corpus_excerpt_check.sh
                 $<TARGET_FILE:hvdiag> ${PROJECT_SOURCE_DIR} ${HVD_CORPUS_DIR})
set_tests_properties(corpus_clusterlog_excerpt PROPERTIES SKIP_RETURN_CODE 77)
add_test(NAME samples_new_families
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/samples_names_check.sh
                 $<TARGET_FILE:hvdiag> ${PROJECT_SOURCE_DIR})
add_test(NAME samples_families
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/samples_families_check.sh
                 $<TARGET_FILE:hvdiag> ${PROJECT_SOURCE_DIR})
add_test(NAME samples_network
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/samples_network_check.sh
                 $<TARGET_FILE:hvdiag> ${PROJECT_SOURCE_DIR})
add_test(NAME samples_storage_families
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/samples_storage_check.sh
                 $<TARGET_FILE:hvdiag> ${PROJECT_SOURCE_DIR})
# The membership families: joins refused (authentication, version), a form refused, a network
# down, a cluster split in two.
add_test(NAME samples_join
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/samples_join_check.sh
                 $<TARGET_FILE:hvdiag> ${PROJECT_SOURCE_DIR})
