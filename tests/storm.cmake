# Cluster-wide failure storms (stormgen, then evtxgen): check_engine's storm case, and the
# daemon reading a storm of 1600 failing roles within its file_timeout. That case runs as a
# ctest test of its own (the storm tag), so check_daemon keeps its time budget.
add_dependencies(check_engine stormgen evtxgen)
add_dependencies(check_daemon stormgen evtxgen)
set_property(TEST check_daemon APPEND PROPERTY ENVIRONMENT "CK_EXCLUDE_TAGS=storm")
add_test(NAME daemon_storm COMMAND check_daemon)
set_tests_properties(daemon_storm PROPERTIES TIMEOUT 600
                     ENVIRONMENT "CK_INCLUDE_TAGS=storm;CK_DEFAULT_TIMEOUT=120")
