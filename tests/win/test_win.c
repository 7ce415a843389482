/* test_win.c - checks packtrack.h's Win32 platform layer (threads, condition
   variables, clocks, Winsock) through the public API only.
   Built with mingw-w64 and run under wine (or on Windows) by tests/win/run.sh:
       test_win.exe http://127.0.0.1:PORT [http://127.0.0.1:PORT2]
   argv[1]: a test server that answers 200; argv[2] (optional): one that reads
   requests and never answers (test_server --stall). Last line:
   "N passed, N failed" (", N skipped"); exit status 1 on any failure. */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <stdio.h>
#include <string.h>

/* The header after windows.h: the usual order in a Windows program. */
#define PACKTRACK_IMPLEMENTATION
#include "../../packtrack.h"

static const char *g_url;        /* answers 200 */
static const char *g_stall_url;  /* never answers (may be NULL) */
static int g_fail_checks, g_skipped;
/* What the answering server should have seen, for run.sh to compare with its
   log: events accepted (2xx) and clients that talked to it. */
static unsigned long long g_server_events;
static int g_server_clients;
static const char *g_test;

#define CHECK(cond) check_((cond) != 0, #cond, __LINE__)
#define CHECK_EQ(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
    if (!check_(a_ == b_, #a " == " #b, __LINE__)) fprintf(stderr, "      %lld != %lld\n", a_, b_); } while (0)
#define CHECK_RES(call, want) do { pt_result r_ = (call); \
    if (!check_(r_ == (want), #call " == " #want, __LINE__)) fprintf(stderr, "      got %d (%s)\n", (int)r_, pt_strerror(r_)); } while (0)
#define SKIP(reason) do { g_skipped = 1; fprintf(stderr, "    skip: %s\n", reason); return; } while (0)

static int check_(int ok, const char *expr, int line) {
    if (!ok) {
        g_fail_checks++;
        fprintf(stderr, "    FAIL test_win.c:%d: %s  [in %s]\n", line, expr, g_test);
    }
    return ok;
}

/* Wall time in ms, from a clock the library does not use for its waits. */
static double now_ms(void) {
    static LARGE_INTEGER f;
    LARGE_INTEGER t;
    if (!f.QuadPart) QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&t);
    return (double)t.QuadPart * 1000.0 / (double)f.QuadPart;
}

static pt_event make_event(const char *msg) {
    pt_event ev;
    memset(&ev, 0, sizeof ev);
    ev.source_system = "win-test";
    ev.workflow_id = "wf-win";
    ev.actor_type = "agent";
    ev.actor_id = "a-1";
    ev.severity = PT_SEVERITY_INFO;
    ev.status = PT_STATUS_SUCCESS;
    ev.message = msg;
    return ev;
}

static pt_config base_config(const char *url) {
    pt_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.api_key = "test-key";
    cfg.base_url = url;
    return cfg;
}

/* pt_close for a client of g_url; counts what it delivered for the server check. */
static pt_result close_counted(pt_client *c, int timeout_ms, pt_close_report *rep) {
    pt_close_report local;
    pt_result r;
    if (!rep) rep = &local;
    memset(rep, 0, sizeof *rep);
    r = pt_close(c, timeout_ms, rep);
    g_server_events += rep->delivered;
    g_server_clients++;
    return r;
}

static int identity_holds(const pt_client_stats *s) {
    return s->tracked == s->delivered + s->failed + s->dropped + s->pending;
}

static unsigned long long report_sum(const pt_close_report *r) {
    return r->delivered + r->spooled + r->failed_rejected + r->failed_exhausted + r->failed_oversize +
           r->dropped_queue_full + r->dropped_sampled + r->abandoned;
}

/* A 127.0.0.1 port nobody listens on: bind to port 0, read it, close. */
static int unused_port(void) {
    struct sockaddr_in a;
    int len = (int)sizeof a, port = 0;
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET) return 0;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (bind(s, (struct sockaddr *)&a, len) == 0 && getsockname(s, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    closesocket(s);
    return port;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_clock_and_version(void) {
    int64_t t0 = pt_now_ms(), t1;
    double w0 = now_ms(), w1;
    Sleep(100);
    t1 = pt_now_ms(); w1 = now_ms();
    CHECK(t1 >= t0);
    /* the library's monotonic clock agrees with QPC within a scheduler tick or two */
    CHECK(t1 - t0 >= 80 && t1 - t0 <= (int64_t)(w1 - w0) + 40);
    CHECK(strcmp(pt_version(), PACKTRACK_VERSION_STRING) == 0);
    CHECK(pt_strerror((pt_result)12345) != NULL);
}

static void test_event_json_uuid_and_host(void) {
    pt_config cfg = base_config(g_url);
    pt_client *c = NULL;
    pt_event ev = make_event("json");
    char a[2048], b[2048];
    size_t na = 0, nb = 0;
    const char *ka, *kb;
    cfg.include_host_context = 1;
    CHECK_RES(pt_client_new(&cfg, &c, NULL), PT_OK);
    if (!c) return;
    CHECK_RES(pt_event_to_json(c, &ev, a, sizeof a, &na, NULL), PT_OK);
    CHECK_RES(pt_event_to_json(c, &ev, b, sizeof b, &nb, NULL), PT_OK);
    CHECK(na > 0 && na == strlen(a));
    CHECK(strstr(a, "\"windows\"") != NULL);         /* host.os */
    ka = strstr(a, "\"idempotency_key\":\"");
    kb = strstr(b, "\"idempotency_key\":\"");
    CHECK(ka && kb);
    if (ka && kb) {
        ka += 19; kb += 19;
        CHECK(ka[14] == '4');                         /* UUID v4 */
        CHECK(strncmp(ka, kb, 36) != 0);              /* fresh key per event */
    }
    /* numbers go through the C library's printf (msvcrt or UCRT here) */
    {
        pt_field md[6];
        md[0] = pt_field_double("a", 12.5);
        md[1] = pt_field_double("b", 1e20);
        md[2] = pt_field_double("c", 1.5e-7);
        md[3] = pt_field_double("d", 0.1);
        md[4] = pt_field_int("e", (int64_t)-9223372036854775807LL - 1);
        md[5] = pt_field_double("f", 1.0 / 3.0);
        ev.metadata = md; ev.metadata_count = 6;
        CHECK_RES(pt_event_to_json(c, &ev, a, sizeof a, &na, NULL), PT_OK);
        CHECK(strstr(a, "\"a\":12.5") != NULL);
        CHECK(strstr(a, "\"e\":-9223372036854775808") != NULL);
        CHECK_RES(pt_track_json(c, a, na), PT_OK);     /* valid JSON, as the library sees it */
        if (getenv("PT_SHOW")) fprintf(stderr, "      %s\n", a);
    }
    CHECK_RES(close_counted(c, 1000, NULL), PT_OK);
    pt_client_free(c);
}

static void test_sync_ingest(void) {
    pt_config cfg = base_config(g_url);
    pt_client *c = NULL;
    pt_client_stats st;
    pt_error err;
    int i, ok = 0, one_attempt = 0;
    CHECK_RES(pt_client_new(&cfg, &c, &err), PT_OK);
    if (!c) { fprintf(stderr, "      %s\n", err.message); return; }
    for (i = 0; i < 20; i++) {
        pt_event ev = make_event("sync");
        memset(&err, 0, sizeof err);
        if (pt_ingest(c, &ev, &err) == PT_OK) ok++;
        else fprintf(stderr, "      ingest %d: %s\n", i, err.message);
        if (err.attempts == 1 && err.http_status == 200) one_attempt++;
    }
    CHECK_EQ(ok, 20);
    CHECK_EQ(one_attempt, 20);
    g_server_events += (unsigned long long)ok;
    /* a batch through the built-in deflate encoder */
    cfg.enable_gzip = 1;
    cfg.compress_min_bytes = 1;
    {
        pt_client *g = NULL;
        pt_event evs[3];
        evs[0] = make_event("gz-1"); evs[1] = make_event("gz-2"); evs[2] = make_event("gz-3");
        CHECK_RES(pt_client_new(&cfg, &g, NULL), PT_OK);
        if (g) {
            pt_client_stats gs;
            if (pt_ingest_batch(g, evs, 3, &err) == PT_OK) g_server_events += 3;
            else CHECK(!"pt_ingest_batch with gzip failed");
            CHECK_RES(pt_stats(g, &gs), PT_OK);
            /* the request went out gzip'd (ratio is the deflate tests' business) */
            CHECK(gs.bytes_sent > 0 && gs.bytes_uncompressed > 0 && gs.bytes_sent != gs.bytes_uncompressed);
            CHECK_RES(close_counted(g, 1000, NULL), PT_OK);
            pt_client_free(g);
        }
    }
    CHECK_RES(pt_stats(c, &st), PT_OK);
    CHECK_EQ(st.batches_sent, 20);
    CHECK_EQ(st.requests_failed, 0);
    CHECK_EQ(st.retried_requests, 0);
    CHECK_RES(close_counted(c, 1000, NULL), PT_OK);
    pt_client_free(c);
}

#define PRODUCERS 4
#define PER_PRODUCER 5000
typedef struct producer { pt_client *c; int id; int ok; int other; } producer;

static DWORD WINAPI producer_main(LPVOID p) {
    producer *pr = (producer *)p;
    char msg[64];
    int i;
    for (i = 0; i < PER_PRODUCER; i++) {
        pt_event ev;
        pt_field md[2];
        sprintf(msg, "t%d-%d", pr->id, i);
        ev = make_event(msg);
        md[0] = pt_field_int("thread", pr->id);
        md[1] = pt_field_int("i", i);
        ev.metadata = md; ev.metadata_count = 2;
        if (pt_track(pr->c, &ev) == PT_OK) pr->ok++;
        else pr->other++;
    }
    return 0;
}

static void test_async_threads(void) {
    pt_config cfg = base_config(g_url);
    pt_client *c = NULL;
    pt_client_stats st;
    pt_close_report rep;
    producer pr[PRODUCERS];
    HANDLE th[PRODUCERS];
    int i, ok = 0, started = 0, identity_ok = 1, samples = 0;
    double t0;
    cfg.queue_capacity = 32768;         /* the queue bound is not under test here */
    cfg.queue_max_bytes = 64u << 20;
    cfg.batch_size = 500;
    cfg.flush_interval_ms = 20;
    CHECK_RES(pt_client_new(&cfg, &c, NULL), PT_OK);
    if (!c) return;
    for (i = 0; i < PRODUCERS; i++) {
        pr[i].c = c; pr[i].id = i; pr[i].ok = 0; pr[i].other = 0;
        th[i] = CreateThread(NULL, 0, producer_main, &pr[i], 0, NULL);
        if (th[i]) started++;
    }
    CHECK_EQ(started, PRODUCERS);
    if (started != PRODUCERS) { pt_close(c, 0, NULL); pt_client_free(c); return; }
    /* the identity holds at every instant, also while producers run */
    while (WaitForMultipleObjects(PRODUCERS, th, TRUE, 1) == WAIT_TIMEOUT) {
        if (pt_stats(c, &st) == PT_OK) { samples++; if (!identity_holds(&st)) identity_ok = 0; }
    }
    for (i = 0; i < PRODUCERS; i++) { CloseHandle(th[i]); ok += pr[i].ok; }
    CHECK(identity_ok);
    CHECK_EQ(ok, PRODUCERS * PER_PRODUCER);
    t0 = now_ms();
    CHECK_RES(pt_flush(c, 30000), PT_OK);
    CHECK_RES(pt_stats(c, &st), PT_OK);
    CHECK_EQ(st.tracked, PRODUCERS * PER_PRODUCER);
    CHECK_EQ(st.delivered, PRODUCERS * PER_PRODUCER);
    CHECK_EQ(st.pending, 0);
    CHECK(identity_holds(&st));
    CHECK(st.batches_sent >= (PRODUCERS * PER_PRODUCER) / 500);
    fprintf(stderr, "    async: %d stats samples while tracking, flush %.0f ms, %llu batches\n",
            samples, now_ms() - t0, (unsigned long long)st.batches_sent);
    CHECK_RES(close_counted(c, 5000, &rep), PT_OK);
    CHECK_EQ(rep.tracked, PRODUCERS * PER_PRODUCER);
    CHECK_EQ(rep.delivered, PRODUCERS * PER_PRODUCER);
    CHECK_EQ(rep.abandoned, 0);
    CHECK_EQ(report_sum(&rep), rep.tracked);
    CHECK_EQ(rep.timed_out, 0);
    /* after close: a closed result, and a second close is safe */
    {
        pt_event ev = make_event("late");
        CHECK_RES(pt_track(c, &ev), PT_ERR_CLOSED);
        CHECK_RES(pt_close(c, 0, NULL), PT_ERR_CLOSED);
    }
    pt_client_free(c);
}

static void test_close_drains(void) {
    pt_config cfg = base_config(g_url);
    pt_client *c = NULL;
    pt_close_report rep;
    int i;
    cfg.flush_interval_ms = 60000;      /* only close sends */
    CHECK_RES(pt_client_new(&cfg, &c, NULL), PT_OK);
    if (!c) return;
    for (i = 0; i < 250; i++) {
        pt_event ev = make_event("drain");
        CHECK_RES(pt_track(c, &ev), PT_OK);
    }
    CHECK_RES(close_counted(c, 5000, &rep), PT_OK);
    CHECK_EQ(rep.tracked, 250);
    CHECK_EQ(rep.delivered, 250);
    CHECK_EQ(report_sum(&rep), 250);
    pt_client_free(c);
}

static void test_manual_pump(void) {
    pt_config cfg = base_config(g_url);
    pt_client *c = NULL;
    pt_client_stats st;
    pt_close_report rep;
    int i;
    double t0;
    cfg.manual_mode = 1;
    cfg.batch_size = 10;
    cfg.flush_interval_ms = 10;
    CHECK_RES(pt_client_new(&cfg, &c, NULL), PT_OK);
    if (!c) return;
    for (i = 0; i < 50; i++) {
        pt_event ev = make_event("manual");
        CHECK_RES(pt_track(c, &ev), PT_OK);
    }
    Sleep(50);
    CHECK_RES(pt_stats(c, &st), PT_OK);
    CHECK_EQ(st.delivered, 0);          /* no thread: nothing moves without pt_pump */
    t0 = now_ms();
    do {
        pt_pump(c, 50);
        pt_stats(c, &st);
    } while (st.delivered < 50 && now_ms() - t0 < 5000);
    CHECK_EQ(st.delivered, 50);
    CHECK(identity_holds(&st));
    CHECK_RES(close_counted(c, 1000, &rep), PT_OK);
    CHECK_EQ(rep.delivered, 50);
    CHECK_EQ(report_sum(&rep), rep.tracked);
    pt_client_free(c);
}

static void test_connection_refused(void) {
    char url[64];
    pt_config cfg;
    pt_client *c = NULL;
    pt_error err;
    pt_close_report rep;
    int port = unused_port(), i;
    double t0, dt;
    pt_result r;
    if (!port) SKIP("could not find a free port");
    sprintf(url, "http://127.0.0.1:%d", port);
    cfg = base_config(url);
    cfg.max_retries = PT_RETRIES_NONE;
    cfg.connect_timeout_ms = 5000;
    cfg.flush_interval_ms = 10;
    CHECK_RES(pt_client_new(&cfg, &c, NULL), PT_OK);
    if (!c) return;
    {
        pt_event ev = make_event("refused");
        memset(&err, 0, sizeof err);
        t0 = now_ms();
        r = pt_ingest(c, &ev, &err);
        dt = now_ms() - t0;
        CHECK_RES(r, PT_ERR_CONNECT);
        CHECK(err.retryable);
        CHECK_EQ(err.attempts, 1);
        /* Linux (wine) refuses at once; real Windows retries a refused SYN
           for ~2 s before it reports WSAECONNREFUSED. */
        CHECK(dt < 3000);
        fprintf(stderr, "    refused: PT_ERR_CONNECT after %.0f ms (%s)\n", dt, err.message);
    }
    for (i = 0; i < 10; i++) {
        pt_event ev = make_event("never");
        CHECK_RES(pt_track(c, &ev), PT_OK);
    }
    Sleep(100);                         /* let the flush thread start failing */
    memset(&rep, 0, sizeof rep);
    t0 = now_ms();
    r = pt_close(c, 300, &rep);
    dt = now_ms() - t0;
    CHECK_RES(r, PT_ERR_TIMEOUT);
    CHECK(dt < 350);
    CHECK_EQ(rep.tracked, 10);
    CHECK_EQ(rep.delivered, 0);
    CHECK_EQ(rep.abandoned, rep.tracked);
    CHECK_EQ(rep.timed_out, 1);
    fprintf(stderr, "    refused: pt_close(300) returned in %.0f ms\n", dt);
    pt_client_free(c);
}

/* https: WinHTTP (the default) takes it, with the system store: ca_file
   is refused since WinHTTP cannot use it; PACKTRACK_NO_WINHTTP builds
   have no TLS transport. Never a fallback to http. */
static void test_https_without_tls(void) {
    pt_config cfg = base_config("https://127.0.0.1:1");
    pt_client *c = NULL;
    pt_error err;
    memset(&err, 0, sizeof err);
#if PT__WINHTTP
    CHECK_RES(pt_client_new(&cfg, &c, &err), PT_OK);
    if (c) { pt_close(c, 100, NULL); pt_client_free(c); c = NULL; }
    cfg.ca_file = "C:\\ca.pem";
    CHECK_RES(pt_client_new(&cfg, &c, &err), PT_ERR_CONFIG);
    CHECK(c == NULL);
    CHECK(strstr(err.message, "WinHTTP") != NULL && strstr(err.message, "ca_file") != NULL);
#else
    CHECK_RES(pt_client_new(&cfg, &c, &err), PT_ERR_CONFIG);
    CHECK(c == NULL);
    CHECK(err.code == PT_ERR_CONFIG && err.message[0] != 0);
#endif
    CHECK(strstr(err.message, "test-key") == NULL);
}

static void test_timeouts(void) {
    pt_config cfg;
    pt_client *c = NULL;
    pt_error err;
    pt_close_report rep;
    pt_result r;
    double t0, dt;
    int i;
    if (!g_stall_url) SKIP("no never-answering server URL (argv[2])");
    cfg = base_config(g_stall_url);
    cfg.timeout_ms = 300;
    cfg.max_retries = PT_RETRIES_NONE;
    CHECK_RES(pt_client_new(&cfg, &c, NULL), PT_OK);
    if (!c) return;
    {
        pt_event ev = make_event("stalled");
        memset(&err, 0, sizeof err);
        t0 = now_ms();
        r = pt_ingest(c, &ev, &err);
        dt = now_ms() - t0;
        CHECK_RES(r, PT_ERR_TIMEOUT);
        CHECK(dt >= 250 && dt < 1500);
        CHECK(err.retryable);
        fprintf(stderr, "    stall: PT_ERR_TIMEOUT after %.0f ms\n", dt);
    }
    CHECK_RES(pt_close(c, 0, NULL), PT_OK);
    pt_client_free(c);

    /* close cuts the request in flight at its deadline */
    cfg = base_config(g_stall_url);
    cfg.timeout_ms = 10000;
    cfg.flush_interval_ms = 10;
    c = NULL;
    CHECK_RES(pt_client_new(&cfg, &c, NULL), PT_OK);
    if (!c) return;
    for (i = 0; i < 5; i++) {
        pt_event ev = make_event("in-flight");
        CHECK_RES(pt_track(c, &ev), PT_OK);
    }
    Sleep(200);                         /* the batch is on the wire, unanswered */
    memset(&rep, 0, sizeof rep);
    t0 = now_ms();
    r = pt_close(c, 300, &rep);
    dt = now_ms() - t0;
    CHECK_RES(r, PT_ERR_TIMEOUT);
    CHECK(dt >= 250 && dt < 350);
    CHECK_EQ(rep.tracked, 5);
    CHECK_EQ(rep.delivered, 0);
    CHECK_EQ(rep.abandoned, 5);
    CHECK_EQ(report_sum(&rep), 5);
    fprintf(stderr, "    stall: pt_close(300) with a request in flight returned in %.0f ms\n", dt);
    pt_client_free(c);
}

typedef struct test_case { const char *name; void (*fn)(void); } test_case;
/* https through WinHTTP against a native nginx (self-signed certificate for
   127.0.0.1) that run.sh starts when nginx and openssl are installed, its
   URL in PT_WIN_HTTPS_URL. Wine's WinHTTP does the TLS. Checked: the
   unknown CA is refused with PT_ERR_TLS naming the cause and the host, sync
   and async; insecure_skip_verify = 1 delivers. Not checkable here: trust
   through the Windows certificate store. */
static int under_wine(void) {
    HMODULE nt = GetModuleHandleA("ntdll.dll");
    return nt && GetProcAddress(nt, "wine_get_version") != NULL;
}
static void test_https_winhttp(void) {
#if PT__WINHTTP
    const char *url = getenv("PT_WIN_HTTPS_URL");
    pt_config cfg;
    pt_client *c = NULL;
    pt_error err;
    pt_client_stats st;
    pt_event ev = make_event("over WinHTTP TLS");
    int i;
    if (!url || !url[0]) SKIP("no local nginx (run.sh starts one when nginx, openssl and python3 are installed)");
    cfg = base_config(url);
    cfg.max_retries = PT_RETRIES_NONE;
    cfg.timeout_ms = 5000;
    CHECK_RES(pt_client_new(&cfg, &c, &err), PT_OK);
    if (!c) return;
    CHECK_RES(pt_ingest(c, &ev, &err), PT_ERR_TLS);
    fprintf(stderr, "    https, unknown CA: %s\n", err.message);
    CHECK(strstr(err.message, "127.0.0.1") != NULL);
    /* wine 8 finds the unknown CA (ERROR_WINHTTP_SECURE_INVALID_CA inside)
       but reports ERROR_WINHTTP_SECURE_CHANNEL_ERROR without the
       SECURE_FAILURE notice that Windows sends: the cause is then only
       "handshake failed" */
    if (!under_wine()) CHECK(strstr(err.message, "not trusted") != NULL);
    else CHECK(strstr(err.message, "not trusted") != NULL || strstr(err.message, "TLS handshake with") != NULL);
    CHECK(strstr(err.message, "test-key") == NULL);
    CHECK_RES(pt_track(c, &ev), PT_OK);
    memset(&st, 0, sizeof st);
    for (i = 0; i < 300; i++) {   /* the async path: its first failed attempt */
        pt_flush(c, 10);
        if (pt_stats(c, &st) == PT_OK && st.last_error != PT_OK) break;
    }
    CHECK_RES(st.last_error, PT_ERR_TLS);
    CHECK(strstr(st.last_error_message, "127.0.0.1") != NULL);
    CHECK_EQ(st.delivered, 0);
    pt_close(c, 100, NULL);
    pt_client_free(c);
    c = NULL;
    cfg.insecure_skip_verify = 1;
    CHECK_RES(pt_client_new(&cfg, &c, &err), PT_OK);
    if (!c) return;
    CHECK_RES(pt_ingest(c, &ev, &err), PT_OK);
    CHECK_RES(pt_track(c, &ev), PT_OK);
    CHECK_RES(pt_flush(c, 5000), PT_OK);
    CHECK_RES(pt_stats(c, &st), PT_OK);
    CHECK_EQ(st.delivered, 1);   /* the tracked one (pt_ingest's is not a pipeline delivery) */
    pt_close(c, 1000, NULL);
    pt_client_free(c);
#else
    SKIP("built with PACKTRACK_NO_WINHTTP");
#endif
}

static const test_case g_tests[] = {
    { "clock_and_version", test_clock_and_version },
    { "event_json_uuid_and_host", test_event_json_uuid_and_host },
    { "sync_ingest", test_sync_ingest },
    { "async_threads", test_async_threads },
    { "close_drains", test_close_drains },
    { "manual_pump", test_manual_pump },
    { "connection_refused", test_connection_refused },
    { "https_without_tls", test_https_without_tls },
    { "timeouts", test_timeouts },
    { "https_winhttp", test_https_winhttp },
};

int main(int argc, char **argv) {
    WSADATA wsa;
    size_t i;
    int passed = 0, failed = 0, skipped = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: %s http://127.0.0.1:PORT [http://127.0.0.1:STALL_PORT] [test...]\n", argv[0]);
        return 2;
    }
    g_url = argv[1];
    g_stall_url = argc > 2 && strncmp(argv[2], "http", 4) == 0 ? argv[2] : NULL;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) { fprintf(stderr, "WSAStartup failed\n"); return 2; }
    setvbuf(stderr, NULL, _IONBF, 0);
    for (i = 0; i < sizeof g_tests / sizeof g_tests[0]; i++) {
        int a, want = argc <= 3;
        double t0;
        for (a = 3; a < argc; a++) if (strcmp(argv[a], g_tests[i].name) == 0) want = 1;
        if (!want) continue;
        g_test = g_tests[i].name;
        g_fail_checks = 0; g_skipped = 0;
        t0 = now_ms();
        g_tests[i].fn();
        if (g_fail_checks) { failed++; fprintf(stderr, "FAIL %s (%.0f ms)\n", g_test, now_ms() - t0); }
        else if (g_skipped) { skipped++; fprintf(stderr, "skip %s\n", g_test); }
        else { passed++; fprintf(stderr, "ok   %s (%.0f ms)\n", g_test, now_ms() - t0); }
    }
    WSACleanup();
    /* run.sh compares this with the server's log (only when every test ran) */
    if (argc <= 3) fprintf(stderr, "server-expect: events=%llu clients=%d\n", g_server_events, g_server_clients);
    fflush(stderr);
    if (skipped) printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    else printf("%d passed, %d failed\n", passed, failed);
    fflush(stdout);
    return failed ? 1 : 0;
}
