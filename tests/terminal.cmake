# Input text reaches the terminal escaped (analyze, query, dump), with real EVTX files,
# cluster.log files and archives.
add_test(NAME terminal_output_escaped
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/terminal_check.sh $<TARGET_FILE:hvdiag>
                 $<TARGET_FILE:evtxgen> ${PROJECT_SOURCE_DIR})
