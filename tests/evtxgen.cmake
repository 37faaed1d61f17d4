# evtxgen's output read by Debian's evtxexport (an independent consumer of the format).
find_program(EVTXEXPORT evtxexport)
if(EVTXEXPORT)
  add_test(NAME evtxgen_evtxexport
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tools/evtxexport_check.sh
                   $<TARGET_FILE:evtxgen> ${CMAKE_CURRENT_SOURCE_DIR}/data/evtx/vmms-ha.xml)
else()
  message(WARNING "evtxexport not found (libevtx-utils): evtxgen_evtxexport test not added")
endif()
