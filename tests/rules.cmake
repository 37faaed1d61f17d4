# Rule sets through the CLI: the shipped set (when its files exist at configure time), the
# synthetic set of the engine suite, and a folder without rule files (exit status 2).
file(GLOB HVD_SHIPPED_RULE_FILES ${PROJECT_SOURCE_DIR}/rules/*.xml)
if(HVD_SHIPPED_RULE_FILES)
  add_test(NAME rules_check_shipped COMMAND hvdiag rules check ${PROJECT_SOURCE_DIR}/rules)
  add_test(NAME rules_test_shipped COMMAND hvdiag rules test ${PROJECT_SOURCE_DIR}/rules)
endif()
add_test(NAME rules_test_synthetic
         COMMAND hvdiag rules test --xsd ${PROJECT_SOURCE_DIR}/rules/hvdiag-rules.xsd
                 ${CMAKE_CURRENT_SOURCE_DIR}/data/rules)
file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/empty-rules)
add_test(NAME rules_test_empty_folder_exits_2
         COMMAND sh -c "out=$(\"$0\" rules test --xsd \"$1\" \"$2\" 2>&1); rc=$?; echo \"$out\"; test $rc -eq 2 && echo \"$out\" | grep -q 'no rule files'"
                 $<TARGET_FILE:hvdiag> ${PROJECT_SOURCE_DIR}/rules/hvdiag-rules.xsd
                 ${CMAKE_CURRENT_BINARY_DIR}/empty-rules)
