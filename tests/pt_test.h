/* pt_test.h - the smallest test harness that does the job.
   PT_TEST(name) defines a test; PT_CHECK(cond) records file:line and goes on;
   PT_SKIP(reason) ends the test as skipped. Suites list their tests in an
   explicit table (PT_SUITE) that tests/run.c walks. The runner's last line is
   "N passed, N failed, N skipped". */
#ifndef PT_TEST_H
#define PT_TEST_H
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

typedef void (*pt_test_fn)(void);
typedef struct pt_test_case { const char *name; pt_test_fn fn; } pt_test_case;

static int pt_t_failed_checks;   /* checks failed in the current test */
static int pt_t_total_checks;
static int pt_t_skipped;
static const char *pt_t_current;

#define PT_TEST(name) static void name(void)
#define PT_CASE(name) { #name, name }
#define PT_CHECK(cond) pt_t_check((cond) != 0, #cond, __FILE__, __LINE__)
#define PT_CHECK_MSG(cond, ...) do { if (!pt_t_check((cond) != 0, #cond, __FILE__, __LINE__)) { fprintf(stderr, "      "); fprintf(stderr, __VA_ARGS__); fprintf(stderr, "\n"); } } while (0)
#define PT_CHECK_EQ(a, b) do { long long pt_a_ = (long long)(a), pt_b_ = (long long)(b); \
    if (!pt_t_check(pt_a_ == pt_b_, #a " == " #b, __FILE__, __LINE__)) fprintf(stderr, "      %lld != %lld\n", pt_a_, pt_b_); } while (0)
#define PT_CHECK_STR(a, b) do { const char *pt_a_ = (a), *pt_b_ = (b); \
    if (!pt_t_check(pt_a_ && pt_b_ && strcmp(pt_a_, pt_b_) == 0, #a " == " #b, __FILE__, __LINE__)) fprintf(stderr, "      \"%s\" != \"%s\"\n", pt_a_ ? pt_a_ : "(null)", pt_b_ ? pt_b_ : "(null)"); } while (0)
#define PT_REQUIRE(cond) do { if (!PT_CHECK(cond)) return; } while (0)
#define PT_SKIP(reason) do { pt_t_skipped = 1; fprintf(stderr, "    skip: %s\n", reason); return; } while (0)

static int pt_t_check(int ok, const char *expr, const char *file, int line) {
    pt_t_total_checks++;
    if (!ok) {
        pt_t_failed_checks++;
        fprintf(stderr, "    FAIL %s:%d: %s  [in %s]\n", file, line, expr, pt_t_current ? pt_t_current : "?");
    }
    return ok;
}
#endif
