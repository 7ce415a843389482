/* The one test runner: includes the implementation and every per-concern
   test file, so internals (pt__json_str, pt__url_parse, ...) are testable.
   Usage: tests/run [substring...]   runs the tests whose suite/name match. */
#define PACKTRACK_IMPLEMENTATION
/* The built-in client resolves through this (tests/test_http.c): it hangs
   on *.hang.test names, to test that deadlines cut name resolution off. */
struct addrinfo;
static int th_getaddrinfo(const char *host, const char *port, const struct addrinfo *hints, struct addrinfo **res);
#define PT__GETADDRINFO th_getaddrinfo
#include "../packtrack.h"
#include <netdb.h>      /* EAI_* for th_getaddrinfo, also when PACKTRACK_NO_SOCKETS leaves it out of packtrack.h */
#include "pt_test.h"
#include "test_server.c"
#include "test_util.h"

#include "test_json.c"
#include "test_http.c"
#include "test_ingest.c"
#include "test_pipeline.c"
#include "test_schedule.c"
#include "test_transport.c"
#include "test_pump.c"
#if !defined(PACKTRACK_NO_SPOOL)   /* the mutants of tests/mutants/build_*.mut build without it */
#include "test_spool.c"
#endif
#include "test_build.c"
#include "test_cli.c"
#include "test_hostile.c"
#include "test_api.c"
#include "test_tls.c"
#include "test_recovery.c"

#include <time.h>
#include <signal.h>
#include <unistd.h>

typedef struct pt_suite { const char *name; const pt_test_case *cases; size_t n; } pt_suite;
#define PT_SUITE_ENTRY(arr) { #arr, arr, sizeof(arr) / sizeof(arr[0]) }
static const pt_suite pt_suites[] = {
    PT_SUITE_ENTRY(json_tests),
    PT_SUITE_ENTRY(http_tests),
    PT_SUITE_ENTRY(ingest_tests),
    PT_SUITE_ENTRY(pipeline_tests),
    PT_SUITE_ENTRY(schedule_tests),
    PT_SUITE_ENTRY(transport_tests),
    PT_SUITE_ENTRY(pump_tests),
#if !defined(PACKTRACK_NO_SPOOL)
    PT_SUITE_ENTRY(spool_tests),
#endif
    PT_SUITE_ENTRY(build_tests),
    PT_SUITE_ENTRY(cli_tests),
    PT_SUITE_ENTRY(hostile_tests),
    PT_SUITE_ENTRY(api_tests),
    PT_SUITE_ENTRY(tls_tests),
    PT_SUITE_ENTRY(recovery_tests),
};

static double pt_t_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A hung test must fail the run, not stall CI: each test gets a watchdog. */
static void pt_t_watchdog(int sig) {
    static const char msg[] = "\nFAIL: test watchdog fired (a test ran past its time limit): ";
    (void)sig;
    (void)!write(2, msg, sizeof msg - 1);
    if (pt_t_current) (void)!write(2, pt_t_current, strlen(pt_t_current));
    (void)!write(2, "\n", 1);
    _exit(70);
}

int main(int argc, char **argv) {
    int passed = 0, failed = 0, skipped = 0, a;
    size_t s, i;
#if !defined(PACKTRACK_NO_SPOOL)
    if (argc > 1 && strcmp(argv[1], "--spool-crash-child") == 0) return ts_crash_child(argc, argv);
    if (argc > 1 && strcmp(argv[1], "--spool-child") == 0) return ts_child_main(argc, argv);
#endif
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGALRM, pt_t_watchdog);
    for (s = 0; s < sizeof pt_suites / sizeof pt_suites[0]; s++) {
        for (i = 0; i < pt_suites[s].n; i++) {
            const pt_test_case *tc = &pt_suites[s].cases[i];
            int want = 1, excluded = 0;
            double t0;
            /* arguments select tests by substring of the test or suite name;
               an argument "-name" excludes instead (only exclusions: all else runs) */
            for (a = 1; a < argc; a++) if (argv[a][0] != '-') want = 0;
            for (a = 1; a < argc; a++) {
                const char *pat = argv[a][0] == '-' ? argv[a] + 1 : argv[a];
                int hit = strstr(tc->name, pat) || strstr(pt_suites[s].name, pat);
                if (hit && argv[a][0] == '-') excluded = 1;
                else if (hit) want = 1;
            }
            if (!want || excluded) continue;
            pt_t_failed_checks = 0; pt_t_skipped = 0; pt_t_current = tc->name;
            t0 = pt_t_now();
            alarm(600);          /* far above any test's run time, also under valgrind */
            tc->fn();
            alarm(0);
            if (pt_t_failed_checks) { failed++; printf("FAIL %s (%d checks failed, %.0f ms)\n", tc->name, pt_t_failed_checks, (pt_t_now() - t0) * 1e3); }
            else if (pt_t_skipped) { skipped++; printf("skip %s\n", tc->name); }
            else { passed++; printf("ok   %s (%.0f ms)\n", tc->name, (pt_t_now() - t0) * 1e3); }
        }
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
