/* spool tests: filled in by the spool work */
PT_TEST(spool_placeholder) { PT_CHECK(1); }
static const pt_test_case spool_tests[] = { PT_CASE(spool_placeholder) };
