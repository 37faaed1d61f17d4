# hvdiag analyze and query behave as documented at their edges (databases, sockets,
# options, time ranges, rules, summaries), driven through the real binary.
add_test(NAME cli_no_surprises
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/cli_check.sh $<TARGET_FILE:hvdiag>
                 $<TARGET_FILE:evtxgen> ${PROJECT_SOURCE_DIR})
