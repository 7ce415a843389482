/* run_suite.c - the Windows runner of the real suites: tests/test_http.c,
   tests/test_ingest.c, tests/test_pipeline.c, tests/test_transport.c,
   tests/test_pump.c, tests/test_spool.c, tests/test_api.c and
   tests/test_recovery.c, the same files as on Linux, with the in-process test server
   (tests/test_server.c on Winsock 2 through tests/win/compat.h), built with
   mingw-w64 and run under wine (or on Windows) by tests/win/run.sh.
   Mirrors tests/run.c: the implementation and the test files in one
   translation unit; a watchdog (a thread here, alarm() there) fails a hung
   test; arguments select tests by substring of the suite or test name.
   Last line: "N passed, N failed, N skipped"; exit status 1 on any failure.
   The library keeps its own Win32 threads, condition variables and Winsock;
   only the test code (server, producers) runs on winpthreads. */
#define PACKTRACK_IMPLEMENTATION
/* As in tests/run.c: the built-in client resolves through th_getaddrinfo
   (tests/test_http.c), which hangs on *.hang.test names. Winsock's
   getaddrinfo has the same signature (ADDRINFOA is struct addrinfo). */
struct addrinfo;
static int th_getaddrinfo(const char *host, const char *port, const struct addrinfo *hints, struct addrinfo **res);
#define PT__GETADDRINFO th_getaddrinfo
#include "../../packtrack.h"
#include "../pt_test.h"
#include "../test_server.c"
#include "../test_util.h"

#include "../test_http.c"
#include "../test_ingest.c"
#include "../test_pipeline.c"
#include "../test_schedule.c"
#include "../test_transport.c"
#include "../test_pump.c"
#include "../test_spool.c"
#include "../test_api.c"
#include "../test_recovery.c"

#include <io.h>

typedef struct pt_suite { const char *name; const pt_test_case *cases; size_t n; } pt_suite;
#define PT_SUITE_ENTRY(arr) { #arr, arr, sizeof(arr) / sizeof(arr[0]) }
static const pt_suite pt_suites[] = {
    PT_SUITE_ENTRY(http_tests),
    PT_SUITE_ENTRY(ingest_tests),
    PT_SUITE_ENTRY(pipeline_tests),
    PT_SUITE_ENTRY(schedule_tests),
    PT_SUITE_ENTRY(transport_tests),
    PT_SUITE_ENTRY(pump_tests),
    PT_SUITE_ENTRY(spool_tests),
    PT_SUITE_ENTRY(api_tests),
    PT_SUITE_ENTRY(recovery_tests),
};

/* Per-test limit: far above any test's run time under wine (the slowest,
   pipeline_concurrency, takes ~12 s); PT_WATCHDOG_S overrides. */
#define PT_WIN_WATCHDOG_S 120

static double pt_t_now(void) { return (double)pt__mono_ns() / 1e9; }

/* The watchdog: the test thread arms it with a deadline; if the deadline
   passes, the test failed by hanging and the process ends with status 70. */
static volatile LONG64 pt_w_deadline_ms;   /* 0: disarmed */
static volatile LONG pt_w_passed, pt_w_failed, pt_w_skipped;
static DWORD WINAPI pt_w_watchdog(LPVOID arg) {
    static const char msg[] = "\nFAIL: test watchdog fired (a test ran past its time limit): ";
    (void)arg;
    for (;;) {
        LONG64 d = InterlockedCompareExchange64(&pt_w_deadline_ms, 0, 0);
        if (d && pt_now_ms() > d) {
            (void)!_write(2, msg, sizeof msg - 1);
            if (pt_t_current) (void)!_write(2, pt_t_current, (unsigned)strlen(pt_t_current));
            (void)!_write(2, "\n", 1);
            printf("%ld passed, %ld failed, %ld skipped\n", (long)pt_w_passed, (long)pt_w_failed + 1, (long)pt_w_skipped);
            fflush(stdout);
            TerminateProcess(GetCurrentProcess(), 70);
        }
        Sleep(200);
    }
    return 0;
}

int main(int argc, char **argv) {
    int a, limit_s = PT_WIN_WATCHDOG_S;
    size_t s, i;
    const char *env = getenv("PT_WATCHDOG_S");
    HANDLE wd;
    WSADATA wsa;
    if (argc > 1 && strcmp(argv[1], "--spool-child") == 0) return ts_child_main(argc, argv);
    if (env && atoi(env) > 0) limit_s = atoi(env);
    setvbuf(stdout, NULL, _IONBF, 0);
    setvbuf(stderr, NULL, _IONBF, 0);
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) { printf("WSAStartup failed\n0 passed, 1 failed, 0 skipped\n"); return 1; }
    wd = CreateThread(NULL, 0, pt_w_watchdog, NULL, 0, NULL);
    if (!wd) { printf("cannot start the watchdog thread\n0 passed, 1 failed, 0 skipped\n"); return 1; }
    for (s = 0; s < sizeof pt_suites / sizeof pt_suites[0]; s++) {
        /* per suite: one line with its counts and wall time, for run.sh's log */
        long p0 = pt_w_passed, f0 = pt_w_failed, k0 = pt_w_skipped;
        double ts = pt_t_now();
        for (i = 0; i < pt_suites[s].n; i++) {
            const pt_test_case *tc = &pt_suites[s].cases[i];
            int want = 1, excluded = 0;
            double t0;
            /* as tests/run.c: substrings select, "-name" excludes (only
               exclusions: all else runs) */
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
            InterlockedExchange64(&pt_w_deadline_ms, pt_now_ms() + (LONG64)limit_s * 1000);
            tc->fn();
            InterlockedExchange64(&pt_w_deadline_ms, 0);
            if (pt_t_failed_checks) { InterlockedIncrement(&pt_w_failed); printf("FAIL %s (%d checks failed, %.0f ms)\n", tc->name, pt_t_failed_checks, (pt_t_now() - t0) * 1e3); }
            else if (pt_t_skipped) { InterlockedIncrement(&pt_w_skipped); printf("skip %s\n", tc->name); }
            else { InterlockedIncrement(&pt_w_passed); printf("ok   %s (%.0f ms)\n", tc->name, (pt_t_now() - t0) * 1e3); }
        }
        if (pt_w_passed + pt_w_failed + pt_w_skipped > p0 + f0 + k0)
            printf("  -- suite %s: %ld passed, %ld failed, %ld skipped, %.1f s\n", pt_suites[s].name, (long)(pt_w_passed - p0),
                   (long)(pt_w_failed - f0), (long)(pt_w_skipped - k0), pt_t_now() - ts);
    }
    printf("%ld passed, %ld failed, %ld skipped\n", (long)pt_w_passed, (long)pt_w_failed, (long)pt_w_skipped);
    return pt_w_failed ? 1 : 0;
}
