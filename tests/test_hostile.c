/* hostile tests: filled in by the hostile work */
PT_TEST(hostile_placeholder) { PT_CHECK(1); }
static const pt_test_case hostile_tests[] = { PT_CASE(hostile_placeholder) };
