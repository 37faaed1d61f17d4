# cmake --install into a temporary DESTDIR: layout, man pages, unit and configuration.
add_test(NAME packaging_install
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/packaging_check.sh ${PROJECT_BINARY_DIR}
                 ${PROJECT_SOURCE_DIR})

# The packaged configuration is one the daemon accepts (rules pointed at the source tree).
add_test(NAME packaging_config_accepted
         COMMAND sh -c "sed 's|^rules = .*|rules = ${PROJECT_SOURCE_DIR}/rules|' ${PROJECT_SOURCE_DIR}/packaging/hvdiag.conf > ${CMAKE_CURRENT_BINARY_DIR}/packaged.conf && $<TARGET_FILE:hvdiagd> -c ${CMAKE_CURRENT_BINARY_DIR}/packaged.conf --check-config")

# The Debian package builds from the checkout and holds what the unit and man pages promise.
add_test(NAME packaging_deb
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/deb_check.sh ${PROJECT_SOURCE_DIR})
set_tests_properties(packaging_deb PROPERTIES TIMEOUT 600)
