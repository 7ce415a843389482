/* transport tests: filled in by the transport work */
PT_TEST(transport_placeholder) { PT_CHECK(1); }
static const pt_test_case transport_tests[] = { PT_CASE(transport_placeholder) };
