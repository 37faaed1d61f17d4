# cmake --install into a temporary DESTDIR: layout, man pages, unit and configuration.
add_test(NAME packaging_install
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/packaging_check.sh ${PROJECT_BINARY_DIR}
                 ${PROJECT_SOURCE_DIR})

# The packaged configuration is one the daemon accepts (rules pointed at the source tree).
add_test(NAME packaging_config_accepted
         COMMAND sh -c "sed 's|^rules = .*|rules = ${PROJECT_SOURCE_DIR}/rules|' ${PROJECT_SOURCE_DIR}/packaging/hvdiag.conf > ${CMAKE_CURRENT_BINARY_DIR}/packaged.conf && $<TARGET_FILE:hvdiagd> -c ${CMAKE_CURRENT_BINARY_DIR}/packaged.conf --check-config")

# Every key lib/config.c accepts is described in hvdiagd(8) and shown in hvdiag.conf, and
# neither describes a key it does not accept.
add_test(NAME packaging_config_keys_documented
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/config_keys_check.sh ${PROJECT_SOURCE_DIR})
