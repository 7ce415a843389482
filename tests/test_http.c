/* http tests */
PT_TEST(http_placeholder) { PT_CHECK(1); }
static const pt_test_case http_tests[] = { PT_CASE(http_placeholder) };
