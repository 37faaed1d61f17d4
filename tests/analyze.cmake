# hvdiag analyze end to end on the sample bundles, with real database files.
add_test(NAME analyze_samples
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/analyze_check.sh $<TARGET_FILE:hvdiag>
                 $<TARGET_FILE:evtxgen> ${PROJECT_SOURCE_DIR})

# The HTML reports in a real headless Chromium (skipped without it); screenshots for a person
# are left in the build tree's artifacts/ folder.
add_test(NAME report_in_chromium
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/report_check.sh $<TARGET_FILE:hvdiag>
                 ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/artifacts)
set_tests_properties(report_in_chromium PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)

# The terminal table of a storm: a few diagnoses listed, the rest summed up; columns aligned.
add_test(NAME analyze_table_storm
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/table_check.sh $<TARGET_FILE:hvdiag>
                 ${PROJECT_SOURCE_DIR})

# The JSON report of a big analysis is written as the store answers: its peak RSS stays with
# the table's, where a report held whole would add its own size.
add_test(NAME analyze_json_streamed
         COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/tools/json_stream_check.py
                 $<TARGET_FILE:hvdiag> $<TARGET_FILE:evtxgen> ${PROJECT_SOURCE_DIR})
set_tests_properties(analyze_json_streamed PROPERTIES TIMEOUT 600)
