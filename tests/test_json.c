/* json tests */
PT_TEST(json_placeholder) { PT_CHECK(1); }
static const pt_test_case json_tests[] = { PT_CASE(json_placeholder) };
