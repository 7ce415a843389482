/* cli tests: filled in by the cli work */
PT_TEST(cli_placeholder) { PT_CHECK(1); }
static const pt_test_case cli_tests[] = { PT_CASE(cli_placeholder) };
