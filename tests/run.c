/* The one test runner: includes the implementation and every per-concern
   test file, so internals (pt__json_str, pt__url_parse, ...) are testable.
   Usage: tests/run [substring...]   runs the tests whose suite/name match. */
#define PACKTRACK_IMPLEMENTATION
#include "../packtrack.h"
#include "pt_test.h"
#include "test_server.c"
#include "test_util.h"

#include "test_json.c"
#include "test_http.c"
#include "test_ingest.c"
#include "test_pipeline.c"
#include "test_transport.c"
#include "test_spool.c"
#include "test_cli.c"
#include "test_hostile.c"

#include <time.h>

typedef struct pt_suite { const char *name; const pt_test_case *cases; size_t n; } pt_suite;
#define PT_SUITE_ENTRY(arr) { #arr, arr, sizeof(arr) / sizeof(arr[0]) }
static const pt_suite pt_suites[] = {
    PT_SUITE_ENTRY(json_tests),
    PT_SUITE_ENTRY(http_tests),
    PT_SUITE_ENTRY(ingest_tests),
    PT_SUITE_ENTRY(pipeline_tests),
    PT_SUITE_ENTRY(transport_tests),
    PT_SUITE_ENTRY(spool_tests),
    PT_SUITE_ENTRY(cli_tests),
    PT_SUITE_ENTRY(hostile_tests),
};

static double pt_t_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    int passed = 0, failed = 0, skipped = 0, a;
    size_t s, i;
    setvbuf(stdout, NULL, _IONBF, 0);
    for (s = 0; s < sizeof pt_suites / sizeof pt_suites[0]; s++) {
        for (i = 0; i < pt_suites[s].n; i++) {
            const pt_test_case *tc = &pt_suites[s].cases[i];
            int want = argc < 2;
            double t0;
            for (a = 1; a < argc; a++)
                if (strstr(tc->name, argv[a]) || strstr(pt_suites[s].name, argv[a])) want = 1;
            if (!want) continue;
            pt_t_failed_checks = 0; pt_t_skipped = 0; pt_t_current = tc->name;
            t0 = pt_t_now();
            tc->fn();
            if (pt_t_failed_checks) { failed++; printf("FAIL %s (%d checks failed, %.0f ms)\n", tc->name, pt_t_failed_checks, (pt_t_now() - t0) * 1e3); }
            else if (pt_t_skipped) { skipped++; printf("skip %s\n", tc->name); }
            else { passed++; printf("ok   %s (%.0f ms)\n", tc->name, (pt_t_now() - t0) * 1e3); }
        }
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
