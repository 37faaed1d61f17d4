# cmake --install into a temporary DESTDIR: layout, man pages, unit and configuration.
add_test(NAME packaging_install
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/packaging_check.sh ${PROJECT_BINARY_DIR}
                 ${PROJECT_SOURCE_DIR})
