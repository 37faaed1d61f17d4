# hvdiagd as a real process: watched folder, socket, signals, kill -9 and restart.
add_test(NAME daemon_integration
         COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/tools/daemon_check.py $<TARGET_FILE:hvdiagd>
                 $<TARGET_FILE:hvdiag> $<TARGET_FILE:evtxgen> ${PROJECT_SOURCE_DIR})
set_tests_properties(daemon_integration PROPERTIES TIMEOUT 600)
