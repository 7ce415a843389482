/* ingest tests */
PT_TEST(ingest_placeholder) { PT_CHECK(1); }
static const pt_test_case ingest_tests[] = { PT_CASE(ingest_placeholder) };
