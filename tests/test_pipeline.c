/* pipeline tests */
PT_TEST(pipeline_placeholder) { PT_CHECK(1); }
static const pt_test_case pipeline_tests[] = { PT_CASE(pipeline_placeholder) };
