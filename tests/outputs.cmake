# hvdiagd's outputs with the real daemon (tools/outputs_check.py): the JSON lines file
# through logrotate rename and copytruncate, the on_incident hook (JSON on stdin, failing,
# hanging), --check-config of output keys; a kill -9 loop where every incident change
# still reaches the file and the hook; journald through journalctl (skipped, 77, where
# systemd-journald does not run).
add_test(NAME outputs_integration
         COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/tools/outputs_check.py
                 $<TARGET_FILE:hvdiagd> ${PROJECT_SOURCE_DIR})
add_test(NAME outputs_kill9
         COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/tools/outputs_check.py
                 $<TARGET_FILE:hvdiagd> ${PROJECT_SOURCE_DIR} kill)
add_test(NAME outputs_journald
         COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/tools/outputs_check.py
                 $<TARGET_FILE:hvdiagd> ${PROJECT_SOURCE_DIR} journald)
# syslog to a real rsyslogd started by the test (skipped, 77, without rsyslogd).
add_test(NAME outputs_syslog
         COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/tools/outputs_check.py
                 $<TARGET_FILE:hvdiagd> ${PROJECT_SOURCE_DIR} syslog)
set_tests_properties(outputs_integration outputs_kill9 outputs_journald outputs_syslog
                     PROPERTIES TIMEOUT 600)
set_tests_properties(outputs_journald outputs_syslog PROPERTIES SKIP_RETURN_CODE 77)
