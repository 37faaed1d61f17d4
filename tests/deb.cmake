# The Debian package: scripts/build-deb into a temporary directory, then lintian, its
# contents, its conffile and maintainer scripts, the unit against the binaries, the packaged
# daemon against the packaged configuration, and the same file list as cmake --install.
# Fails (does not skip) without dpkg-buildpackage or lintian. Off inside the package's own
# build (packaging/debian/rules), which would otherwise build itself again.
option(HVD_TEST_DEB "Test that the Debian package builds (needs dpkg-dev, debhelper, lintian)"
       ON)
if(HVD_TEST_DEB)
  add_test(NAME deb_package
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/deb_check.sh ${PROJECT_SOURCE_DIR}
                   ${PROJECT_BINARY_DIR})
  # A nocheck build takes well under a minute on 2 cores; the limit catches a hang.
  set_tests_properties(deb_package PROPERTIES TIMEOUT 300)
endif()
