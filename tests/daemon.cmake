# hvdiagd integration: check_daemon (a Check suite, registered with the other suites) runs
# the real hvdiagd against temp folders and a temp socket. Crash and hang cases need
# hvdiagd_hooks: the same sources with HVD_DAEMON_TEST_HOOKS, which makes a worker crash or
# hang on files named in HVD_TEST_CRASH_ON / HVD_TEST_HANG_ON. It is never installed.
hvd_daemon_executable(hvdiagd_hooks)
target_compile_definitions(hvdiagd_hooks PRIVATE HVD_DAEMON_TEST_HOOKS=1)
set_target_properties(hvdiagd_hooks PROPERTIES RUNTIME_OUTPUT_DIRECTORY
                                               ${CMAKE_CURRENT_BINARY_DIR})
add_dependencies(check_daemon hvdiagd hvdiagd_hooks)
target_compile_definitions(check_daemon PRIVATE
  HVD_TEST_HOOKS_BIN="${CMAKE_CURRENT_BINARY_DIR}/hvdiagd_hooks")
set_tests_properties(check_daemon PROPERTIES TIMEOUT 600
                     ENVIRONMENT "CK_DEFAULT_TIMEOUT=120")

# The same daemon driven from Python: cross-file correlation served on the socket,
# re-exports, a growing cluster.log, rude clients, SIGHUP, SIGTERM, kill -9 and restart.
add_test(NAME daemon_integration
         COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/tools/daemon_check.py $<TARGET_FILE:hvdiagd>
                 $<TARGET_FILE:hvdiag> $<TARGET_FILE:evtxgen> ${PROJECT_SOURCE_DIR})
set_tests_properties(daemon_integration PROPERTIES TIMEOUT 600)

# What the daemon takes for already read: a file replaced during a read then kill -9, a copy
# over it with the same size and mtime while down, a late older cluster.log, rotation by
# rename while down in both listing orders.
add_test(NAME daemon_identity
         COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/tools/daemon_identity_check.py
                 $<TARGET_FILE:hvdiagd> $<TARGET_FILE:hvdiag> $<TARGET_FILE:evtxgen>
                 ${PROJECT_SOURCE_DIR})
set_tests_properties(daemon_identity PROPERTIES TIMEOUT 900)
