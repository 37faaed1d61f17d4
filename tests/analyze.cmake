# hvdiag analyze end to end on the sample bundles, with real database files.
add_test(NAME analyze_samples
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/analyze_check.sh $<TARGET_FILE:hvdiag>
                 $<TARGET_FILE:evtxgen> ${PROJECT_SOURCE_DIR})
