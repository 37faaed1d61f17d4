# Monitoring outputs: syslog delivery and Prometheus metrics.
# check_syslog5424 delivers to a real rsyslogd it starts itself; without rsyslogd it runs
# the format tests and reports the suite skipped.
set_tests_properties(check_syslog5424 PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)

# hvdiagd's Prometheus metrics scraped over HTTP from the running daemon: counters move
# after a dropped export, the textfile, 404/405, rude clients, bad address and port in use.
add_test(NAME daemon_metrics
         COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/tools/metrics_check.py
                 $<TARGET_FILE:hvdiagd> ${PROJECT_SOURCE_DIR})
set_tests_properties(daemon_metrics PROPERTIES TIMEOUT 300)
