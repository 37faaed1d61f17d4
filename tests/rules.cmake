# The shipped rule set: every file valid, every rule's examples pass through the engine.
add_test(NAME rules_check_shipped COMMAND hvdiag rules check ${PROJECT_SOURCE_DIR}/rules)
add_test(NAME rules_test_shipped COMMAND hvdiag rules test ${PROJECT_SOURCE_DIR}/rules)
