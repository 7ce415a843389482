/* recovery tests: what a short fault costs, and that close delivers once
   the server is back.
   - The fault matrix: {listener refused 2 s, 503 for 3 s, 500 for 3 s, 5
     responses reset mid-way, 5 stalls past timeout_ms, 429 + Retry-After: 2}
     x 20,000 events tracked at a steady rate across the fault, threaded and
     manual mode, then pt_close(fault + 5 s): close returns PT_OK, every event
     arrived, the first 2xx after the fault came within 1.5 s of its end (no
     earlier than the Retry-After).
   - A long outage with a small breaker_cooldown_ms: the open interval grows,
     the probe count stays bounded, delivery resumes.
   - pt_flush/pt_close probe at once; a Retry-After past the close deadline.
   - Early 413/401 answers to a body the server never read; 3xx; out of memory.
   - Concurrent pt_close + pt_client_free; hysteresis at tiny bounds; strict
     duration parsing.
   Settings are the defaults unless a test says otherwise: recovery is a
   property of the defaults. */
#include <pthread.h>

/* Loop counts shrink under ThreadSanitizer (5-15x slower); the time bounds do not. */
#if defined(__SANITIZE_THREAD__)
#define TR_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TR_TSAN 1
#endif
#endif
#ifndef TR_TSAN
#define TR_TSAN 0
#endif
/* Under valgrind (its preload library in LD_PRELOAD) too: 20-50x slower. */
static int tr_slow_build(void) {
    const char *p = getenv("LD_PRELOAD");
    return TR_TSAN || (p && (strstr(p, "vgpreload") || strstr(p, "valgrind")));
}
#define TR_EVENTS (tr_slow_build() ? 4000 : 20000)

static void tr_key(char *buf, size_t cap, const char *prefix, int i) { snprintf(buf, cap, "%s-%07d", prefix, i); }

static pt_result tr_track(pt_client *cl, const char *prefix, int i) {
    char key[48];
    pt_event ev;
    memset(&ev, 0, sizeof ev);
    ev.source_system = "rec"; ev.workflow_id = "w"; ev.actor_type = "a"; ev.actor_id = "a";
    ev.severity = PT_SEVERITY_INFO; ev.status = PT_STATUS_OK; ev.message = "m";
    tr_key(key, sizeof key, prefix, i);
    ev.idempotency_key = key;
    return pt_track(cl, &ev);
}
/* Keys prefix-[0,n) the server never counted. */
static int tr_missing(pts_server *s, const char *prefix, int n) {
    int i, bad = 0;
    char key[48];
    for (i = 0; i < n; i++) {
        tr_key(key, sizeof key, prefix, i);
        if (pts_key_count(s, key) < 1) {
            if (bad < 3) fprintf(stderr, "      key %s never arrived\n", key);
            bad++;
        }
    }
    return bad;
}
static pt_config tr_cfg(pts_server *s, int manual) {
    pt_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.api_key = TU_KEY;
    cfg.base_url = pts_url(s);
    cfg.manual_mode = manual;
    cfg.queue_capacity = 100000;     /* the whole run fits: nothing is dropped while the server is away */
    cfg.queue_max_bytes = (size_t)64 << 20;
    return cfg;
}

/* Captures log lines (any thread). */
typedef struct tr_log { pthread_mutex_t mu; char text[16384]; size_t len; } tr_log;
static void tr_logger(pt_log_level lvl, const char *msg, void *user) {
    tr_log *l = (tr_log *)user;
    size_t n = strlen(msg);
    (void)lvl;
    pthread_mutex_lock(&l->mu);
    if (l->len + n + 2 < sizeof l->text) { memcpy(l->text + l->len, msg, n); l->len += n; l->text[l->len++] = '\n'; l->text[l->len] = 0; }
    pthread_mutex_unlock(&l->mu);
}
static int tr_log_has(tr_log *l, const char *needle) {
    int r;
    pthread_mutex_lock(&l->mu);
    r = strstr(l->text, needle) != NULL;
    pthread_mutex_unlock(&l->mu);
    return r;
}

/* ======================================================================
   1. The fault matrix
   ====================================================================== */
enum { TR_REFUSED, TR_503, TR_500, TR_RESET, TR_STALL, TR_429, TR_NCASES };
static const char *const tr_case_name[TR_NCASES] = { "refused 2 s", "503 for 3 s", "500 for 3 s", "5 resets mid-response", "5 stalls past timeout_ms", "429 + Retry-After: 2" };

static void tr_fault_start(pts_server *s, int kind) {
    pts_action a;
    memset(&a, 0, sizeof a);
    switch (kind) {
    case TR_REFUSED: pts_refuse_for(s, 2000); break;
    case TR_503: a.status = 503; pts_fault_window(s, &a, 3000); break;
    case TR_500: a.status = 500; pts_fault_window(s, &a, 3000); break;
    case TR_RESET: a.mode = PTS_MODE_RESET_MID; pts_fault_count(s, &a, 5); break;
    case TR_STALL: a.delay_ms = 60000; pts_fault_count(s, &a, 5); break;   /* the client gives up at timeout_ms */
    default: a.status = 429; a.retry_after = "2"; pts_fault_count(s, &a, 1); break;
    }
}

/* One case: returns ms from the fault's end to the first 2xx (-1 if none). */
static long long tr_matrix_case(pts_server *s, int kind, int manual) {
    pt_config cfg = tr_cfg(s, manual);
    pt_client *cl = NULL;
    pt_close_report rep;
    pt_result cr;
    const int n = TR_EVENTS, fault_ms = kind == TR_REFUSED ? 2000 : 3000, lead_ms = 300;
    /* The tracking spans the fault and goes on for 1.8 s after it (the 5
       stalls take about 4.5 s), so the first 2xx after the fault comes from
       the breaker's own probe, not from pt_close asking for delivery. */
    const int track_ms = lead_ms + (kind == TR_STALL ? 4500 : fault_ms) + 1800;
    char prefix[16];
    int i = 0, dropped = 0, faulted = 0;
    int64_t t0, close_t0;
    long long rec;
    long dups;
    pts_reset(s);
    snprintf(prefix, sizeof prefix, "m%d%d", kind, manual);
    cfg.timeout_ms = 500;                            /* a stall costs 500 ms, not the default 10 s */
    if (pt_client_new(&cfg, &cl, NULL) != PT_OK) { PT_CHECK(0); return -1; }
    t0 = pt_now_ms();
    while (i < n) {
        int64_t el = pt_now_ms() - t0;
        int due = (int)((int64_t)n * PT__MIN(el, (int64_t)track_ms) / track_ms);
        if (!faulted && el >= lead_ms) { tr_fault_start(s, kind); faulted = 1; }
        for (; i < due; i++) if (tr_track(cl, prefix, i) != PT_OK) dropped++;
        if (manual) pt_pump(cl, 2);
        tu_sleep_ms(2);
    }
    close_t0 = pt_now_ms();
    cr = pt_close(cl, fault_ms + 5000, &rep);
    pt_client_free(cl);
    rec = pts_first_ok_after_fault(s);
    dups = pts_duplicate_events(s);
    PT_CHECK_MSG(cr == PT_OK, "%s, %s: pt_close -> %s after %lld ms (abandoned %lu)", tr_case_name[kind], manual ? "manual" : "threaded",
                 pt_strerror(cr), (long long)(pt_now_ms() - close_t0), (unsigned long)rep.abandoned);
    PT_CHECK_MSG(dropped == 0, "%s: %d events refused by pt_track", tr_case_name[kind], dropped);
    PT_CHECK_MSG(rep.delivered == (uint64_t)n, "%s, %s: %lu of %d delivered", tr_case_name[kind], manual ? "manual" : "threaded", (unsigned long)rep.delivered, n);
    PT_CHECK_MSG(pts_distinct_keys(s) == n && tr_missing(s, prefix, n) == 0, "%s: %ld distinct keys arrived of %d", tr_case_name[kind], pts_distinct_keys(s), n);
    /* duplicates come only from a request whose answer was lost (at most a few batches) */
    PT_CHECK_MSG(dups <= 500, "%s: %ld duplicate events", tr_case_name[kind], dups);
    PT_CHECK_MSG(pts_fault_hits(s) > 0 || kind == TR_REFUSED, "%s: the fault never hit a request", tr_case_name[kind]);
    if (kind == TR_429)   /* the server stamps the fault's end after writing the 429: a few ms late */
        PT_CHECK_MSG(rec >= 1990 && rec <= 3500, "%s, %s: first 2xx %lld ms after the 429 (want 2000..3500: the Retry-After, then within 1.5 s)",
                     tr_case_name[kind], manual ? "manual" : "threaded", rec);
    else
        PT_CHECK_MSG(rec >= 0 && rec <= 1500, "%s, %s: first 2xx %lld ms after the fault ended (want <= 1500)",
                     tr_case_name[kind], manual ? "manual" : "threaded", rec);
    fprintf(stderr, "    %-26s %-8s first 2xx %5lld ms after the fault, close %5lld ms, %ld dup(s)\n", tr_case_name[kind],
            manual ? "manual" : "threaded", rec, (long long)(pt_now_ms() - close_t0), dups);
    return rec;
}

static void tr_matrix(int manual) {
    pts_server *s = pts_start();
    int k;
    PT_REQUIRE(s);
    for (k = 0; k < TR_NCASES; k++) tr_matrix_case(s, k, manual);
    pts_stop(s);
}
PT_TEST(recovery_matrix_threaded) { tr_matrix(0); }
PT_TEST(recovery_matrix_manual) { tr_matrix(1); }

/* ======================================================================
   2. A long outage: the interval grows to the cap, probes stay few
   ====================================================================== */
/* Scaled down: a 4 s outage with breaker_cooldown_ms = 400 is a 20 s outage
   with a 2 s cap. Fixed intervals of the first size (40 ms) would cost ~130
   requests; growing to the cap, about 20. */
PT_TEST(recovery_long_outage_bounded_probes) {
    pts_server *s = pts_start();
    pts_action a;
    pt_config cfg;
    pt_client *cl;
    pt_close_report rep;
    tr_log lg;
    int probes;
    long long rec;
    PT_REQUIRE(s);
    memset(&lg, 0, sizeof lg);
    pthread_mutex_init(&lg.mu, NULL);
    cfg = tr_cfg(s, 0);
    cfg.backoff_base_ms = 10;
    cfg.backoff_max_ms = 40;           /* first open interval: the backoff, 40 ms */
    cfg.breaker_cooldown_ms = 400;     /* the cap */
    cfg.logger = tr_logger; cfg.logger_user = &lg;
    cfg.log_level = PT_LOG_WARN;
    memset(&a, 0, sizeof a);
    a.status = 503;
    pts_fault_window(s, &a, 4000);
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    PT_CHECK_EQ(tr_track(cl, "lo", 0), PT_OK);
    PT_CHECK(pts_wait_events(s, 1, 8000));
    probes = pts_fault_hits(s);
    rec = pts_first_ok_after_fault(s);
    PT_CHECK_EQ(pt_close(cl, 2000, &rep), PT_OK);
    PT_CHECK_EQ(rep.delivered, 1);
    pt_client_free(cl);
    /* 5 failures open it; then about log2(400/40) + 4000/300 probes */
    PT_CHECK_MSG(probes >= 8 && probes <= 40, "%d requests during a 4 s outage (want 8..40)", probes);
    PT_CHECK_MSG(rec >= 0 && rec <= 600, "first 2xx %lld ms after the outage (want <= cap + margin)", rec);
    PT_CHECK(tr_log_has(&lg, "circuit breaker open for"));
    {   /* the logged open intervals grow from about 40 ms to the 400 ms cap */
        const char *p = lg.text;
        long first = -1, maxw = 0, w;
        while ((p = strstr(p, "circuit breaker open for ")) != NULL) {
            p += strlen("circuit breaker open for ");
            w = strtol(p, NULL, 10);
            if (first < 0) first = w;
            if (w > maxw) maxw = w;
        }
        PT_CHECK_MSG(first >= 0 && first <= 40, "first open interval %ld ms (want <= 40)", first);
        PT_CHECK_MSG(maxw >= 200 && maxw <= 400, "largest open interval %ld ms (want 200..400: grown to the jittered cap)", maxw);
    }
    fprintf(stderr, "    4 s outage, cap 400 ms: %d requests, first 2xx %lld ms after it\n", probes, rec);
    pthread_mutex_destroy(&lg.mu);
    pts_stop(s);
}

/* ======================================================================
   3. pt_flush / pt_close ask for delivery now
   ====================================================================== */
/* Opens the breaker with its interval grown long, then brings the server back. */
static pt_client *tr_open_breaker(pts_server *s, int manual, tr_log *lg) {
    pt_config cfg = tr_cfg(s, manual);
    pt_client *cl = NULL;
    pts_action a;
    int64_t end;
    cfg.breaker_threshold = 1;
    cfg.backoff_base_ms = 1000;       /* first interval 1 s... */
    cfg.breaker_cooldown_ms = 30000;
    if (lg) { cfg.logger = tr_logger; cfg.logger_user = lg; cfg.log_level = PT_LOG_DEBUG; }
    memset(&a, 0, sizeof a);
    a.status = 503;
    pts_set_default(s, &a);
    if (pt_client_new(&cfg, &cl, NULL) != PT_OK) return NULL;
    tr_track(cl, "fc", 0);
    end = pt_now_ms() + 5000;
    for (;;) {   /* until the client has seen the failure and opened the breaker */
        pt_health_report h;
        memset(&h, 0, sizeof h);
        pt_health(cl, &h, NULL);
        if (h.breaker == PT_BREAKER_OPEN || pt_now_ms() >= end) break;
        if (manual) pt_pump(cl, 5);
        tu_sleep_ms(2);
    }
    pts_set_default(s, NULL);          /* ...and the server is back at once */
    return cl;
}
static void tr_close_probes(int manual) {
    pts_server *s = pts_start();
    pt_client *cl;
    pt_close_report rep;
    pt_health_report h;
    int64_t t0;
    PT_REQUIRE(s);
    cl = tr_open_breaker(s, manual, NULL);
    PT_REQUIRE(cl);
    memset(&h, 0, sizeof h);
    pt_health(cl, &h, NULL);
    PT_CHECK_EQ(h.breaker, PT_BREAKER_OPEN);
    t0 = pt_now_ms();
    PT_CHECK_EQ(pt_close(cl, 3000, &rep), PT_OK);
    PT_CHECK_MSG(pt_now_ms() - t0 < 300, "close took %lld ms with the breaker open and the server back", (long long)(pt_now_ms() - t0));
    PT_CHECK_EQ(rep.delivered, 1);
    PT_CHECK_EQ(pts_events_received(s), 1);
    pt_client_free(cl);
    pts_stop(s);
}
PT_TEST(recovery_close_probes_at_once) { tr_close_probes(0); tr_close_probes(1); }

PT_TEST(recovery_flush_probes_at_once) {
    pts_server *s = pts_start();
    pt_client *cl;
    int64_t t0;
    int manual;
    PT_REQUIRE(s);
    for (manual = 0; manual < 2; manual++) {
        pts_reset(s);
        cl = tr_open_breaker(s, manual, NULL);
        PT_REQUIRE(cl);
        t0 = pt_now_ms();
        PT_CHECK_EQ(pt_flush(cl, 3000), PT_OK);
        PT_CHECK_MSG(pt_now_ms() - t0 < 300, "flush took %lld ms", (long long)(pt_now_ms() - t0));
        PT_CHECK_EQ(pts_events_received(s), 1);
        PT_CHECK_EQ(pt_close(cl, 1000, NULL), PT_OK);
        pt_client_free(cl);
    }
    pts_stop(s);
}

/* Inside close, retries follow the ordinary backoff from its base, never the
   breaker's grown interval: a server that comes back 1.5 s into close is
   reached within about a second. */
static void *tr_back_later(void *arg) {
    pts_server *s = (pts_server *)arg;
    tu_sleep_ms(1500);
    pts_set_default(s, NULL);
    return NULL;
}
PT_TEST(recovery_close_backoff_restarts_from_base) {
    pts_server *s = pts_start();
    pt_config cfg;
    pt_client *cl;
    pt_close_report rep;
    pts_action a;
    pthread_t th;
    int64_t t0;
    PT_REQUIRE(s);
    cfg = tr_cfg(s, 0);
    cfg.breaker_threshold = 1;
    cfg.backoff_base_ms = 50;
    cfg.disable_jitter = 1;           /* close's tries at +0, 50, 150, 350, 750, 1550 ms: deterministic */
    memset(&a, 0, sizeof a);
    a.status = 503;
    pts_set_default(s, &a);
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    PT_CHECK_EQ(tr_track(cl, "cb", 0), PT_OK);
    /* failing for a while: the batch's own backoff has grown (8 attempts: up to 10 s) */
    PT_REQUIRE(pts_wait_requests(s, 8, 10000));
    PT_REQUIRE(pthread_create(&th, NULL, tr_back_later, s) == 0);
    t0 = pt_now_ms();
    PT_CHECK_EQ(pt_close(cl, 6000, &rep), PT_OK);
    PT_CHECK_MSG(pt_now_ms() - t0 < 1500 + 1300, "close took %lld ms; the server was back after 1500", (long long)(pt_now_ms() - t0));
    PT_CHECK(pts_request_count(s) >= 3);   /* retried inside close, not waiting out the breaker */
    PT_CHECK_EQ(rep.delivered, 1);
    pthread_join(th, NULL);
    pt_client_free(cl);
    pts_stop(s);
}

/* A Retry-After reaching past the close deadline: honoured, the events are
   reported abandoned, close says why and does not sit out its deadline. */
PT_TEST(recovery_close_retry_after_past_deadline) {
    pts_server *s = pts_start();
    pt_config cfg;
    pt_client *cl;
    pt_close_report rep;
    pts_action a;
    tr_log lg;
    int64_t t0;
    int manual;
    PT_REQUIRE(s);
    for (manual = 0; manual < 2; manual++) {
        pts_reset(s);
        memset(&lg, 0, sizeof lg);
        pthread_mutex_init(&lg.mu, NULL);
        memset(&a, 0, sizeof a);
        a.status = 429; a.retry_after = "30";
        pts_set_default(s, &a);
        cfg = tr_cfg(s, manual);
        cfg.logger = tr_logger; cfg.logger_user = &lg;
        PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
        PT_CHECK_EQ(tr_track(cl, "ra", 0), PT_OK);
        t0 = pt_now_ms();
        PT_CHECK_EQ(pt_close(cl, 3000, &rep), PT_ERR_TIMEOUT);
        PT_CHECK_MSG(pt_now_ms() - t0 < 2000, "close took %lld ms though the Retry-After reached past its deadline", (long long)(pt_now_ms() - t0));
        PT_CHECK_EQ(pts_request_count(s), 1);   /* the Retry-After was honoured */
        PT_CHECK_EQ(rep.abandoned, 1);
        PT_CHECK(tr_log_has(&lg, "Retry-After"));
        pt_client_free(cl);
        pthread_mutex_destroy(&lg.mu);
    }
    pts_stop(s);
}

/* ======================================================================
   4. Early answers, 3xx, out of memory
   ====================================================================== */
/* A server with a 200 KB limit that answers 413 on the headers and closes
   without reading: one 10 MB batch of 100 events of 100 KB is bisected
   down to single events, all delivered. */
static void tr_big_events(pt_client *cl, int n, size_t size) {
    char *msg = (char *)malloc(size + 1);
    char key[48];
    int i;
    if (!msg) return;
    memset(msg, 'x', size);
    msg[size] = 0;
    for (i = 0; i < n; i++) {
        pt_event ev = tu_event(msg);
        tr_key(key, sizeof key, "big", i);
        ev.idempotency_key = key;
        PT_CHECK_EQ(pt_track(cl, &ev), PT_OK);
    }
    free(msg);
}
PT_TEST(recovery_early_413_bisected) {
    pts_server *s = pts_start();
    pt_config cfg;
    pt_client *cl;
    pt_close_report rep;
    PT_REQUIRE(s);
    pts_set_early_reject(s, 200 * 1024, 413);
    cfg = tr_cfg(s, 1);
    cfg.batch_max_bytes = (size_t)16 << 20;
    cfg.event_max_bytes = (size_t)1 << 20;
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    tr_big_events(cl, 100, 100 * 1024);
    PT_CHECK_EQ(pt_flush(cl, 30000), PT_OK);
    PT_CHECK_EQ(pt_close(cl, 5000, &rep), PT_OK);
    PT_CHECK_EQ(rep.delivered, 100);
    PT_CHECK_EQ(rep.failed_oversize + rep.failed_exhausted + rep.failed_rejected, 0);
    PT_CHECK_EQ(tr_missing(s, "big", 100), 0);
    PT_CHECK(pts_early_rejects(s) >= 1);
    pt_client_free(cl);
    pts_stop(s);
}
/* A 401 on the headers of a large body: rejected at once, not retried as a
   network error for retry_max_elapsed_ms. */
PT_TEST(recovery_early_401_rejected) {
    pts_server *s = pts_start();
    pt_config cfg;
    pt_client *cl;
    pt_close_report rep;
    int64_t t0;
    PT_REQUIRE(s);
    pts_set_early_reject(s, 64 * 1024, 401);
    cfg = tr_cfg(s, 1);
    cfg.batch_max_bytes = (size_t)16 << 20;
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    tr_big_events(cl, 40, 100 * 1024);
    t0 = pt_now_ms();
    PT_CHECK_EQ(pt_flush(cl, 20000), PT_OK);
    PT_CHECK_MSG(pt_now_ms() - t0 < 10000, "flush took %lld ms", (long long)(pt_now_ms() - t0));
    PT_CHECK_EQ(pt_close(cl, 2000, &rep), PT_OK);
    PT_CHECK_EQ(rep.failed_rejected, 40);
    PT_CHECK_EQ(pts_early_rejects(s), 1);   /* 401 is not split, not retried */
    pt_client_free(cl);
    pts_stop(s);
}

/* A 3xx is not followed: the batch fails, the message names the Location. */
static pt_result tr_redirect_hook(const pt_http_request *req, pt_http_response *resp, void *user) {
    int *calls = (int *)user;
    (void)req;
    (*calls)++;
    resp->status = 301;
    strcpy(resp->location, "https://ingest.example.com/api/ingest");
    return PT_OK;
}
PT_TEST(recovery_3xx_not_followed) {
    pt_config cfg;
    pt_client *cl;
    pt_close_report rep;
    tr_log lg;
    int calls = 0;
    memset(&lg, 0, sizeof lg);
    pthread_mutex_init(&lg.mu, NULL);
    memset(&cfg, 0, sizeof cfg);
    cfg.api_key = TU_KEY;
    cfg.base_url = "http://127.0.0.1:9";
    cfg.manual_mode = 1;
    cfg.http = tr_redirect_hook; cfg.http_user = &calls;
    cfg.logger = tr_logger; cfg.logger_user = &lg;
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    PT_CHECK_EQ(tr_track(cl, "rd", 0), PT_OK);
    PT_CHECK_EQ(tr_track(cl, "rd", 1), PT_OK);
    PT_CHECK_EQ(pt_flush(cl, 5000), PT_OK);
    PT_CHECK_EQ(calls, 1);                  /* neither retried, nor split, nor followed */
    PT_CHECK(tr_log_has(&lg, "https://ingest.example.com/api/ingest"));
    PT_CHECK(tr_log_has(&lg, "base_url"));
    PT_CHECK_EQ(pt_close(cl, 1000, &rep), PT_OK);
    PT_CHECK_EQ(rep.failed_rejected, 2);
    pt_client_free(cl);
    pthread_mutex_destroy(&lg.mu);
}
/* The same through the built-in client: it reads the Location header. */
PT_TEST(recovery_3xx_builtin_location) {
    pts_server *s = pts_start();
    pt_config cfg;
    pt_client *cl;
    pt_close_report rep;
    pts_action a;
    tr_log lg;
    PT_REQUIRE(s);
    memset(&lg, 0, sizeof lg);
    pthread_mutex_init(&lg.mu, NULL);
    memset(&a, 0, sizeof a);
    a.status = 308;
    a.location = "http://new-host.example/api/ingest";
    pts_set_default(s, &a);
    cfg = tr_cfg(s, 1);
    cfg.logger = tr_logger; cfg.logger_user = &lg;
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    PT_CHECK_EQ(tr_track(cl, "rb", 0), PT_OK);
    PT_CHECK_EQ(pt_flush(cl, 5000), PT_OK);
    PT_CHECK_EQ(pts_request_count(s), 1);
    PT_CHECK(tr_log_has(&lg, "http://new-host.example/api/ingest"));
    {   /* the sync path says the same */
        pt_event ev = tu_event("sync");
        pt_error err;
        PT_CHECK_EQ(pt_ingest(cl, &ev, &err), PT_ERR_HTTP);
        PT_CHECK(strstr(err.message, "http://new-host.example/api/ingest") != NULL && strstr(err.message, "base_url") != NULL);
        PT_CHECK_EQ(err.http_status, 308);
        PT_CHECK_EQ(pts_request_count(s), 2);
    }
    PT_CHECK_EQ(pt_close(cl, 1000, &rep), PT_OK);
    PT_CHECK_EQ(rep.failed_rejected, 1);
    pt_client_free(cl);
    pthread_mutex_destroy(&lg.mu);
    pts_stop(s);
}
/* Out of memory while sending is retried, not a failure for good. */
static pt_result tr_oom_hook(const pt_http_request *req, pt_http_response *resp, void *user) {
    int *calls = (int *)user;
    (void)req;
    if ((*calls)++ < 2) return PT_ERR_NO_MEMORY;
    resp->status = 200;
    return PT_OK;
}
PT_TEST(recovery_oom_retried) {
    pt_config cfg;
    pt_client *cl;
    pt_close_report rep;
    int calls = 0;
    memset(&cfg, 0, sizeof cfg);
    cfg.api_key = TU_KEY;
    cfg.base_url = "http://127.0.0.1:9";
    cfg.manual_mode = 1;
    cfg.backoff_base_ms = 5;
    cfg.http = tr_oom_hook; cfg.http_user = &calls;
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    PT_CHECK_EQ(tr_track(cl, "om", 0), PT_OK);
    PT_CHECK_EQ(pt_flush(cl, 5000), PT_OK);
    PT_CHECK_EQ(pt_close(cl, 1000, &rep), PT_OK);
    PT_CHECK_EQ(calls, 3);
    PT_CHECK_EQ(rep.delivered, 1);
    pt_client_free(cl);
}

/* ======================================================================
   5. Concurrent close, hysteresis, durations
   ====================================================================== */
typedef struct tr_closer { pt_client *cl; pt_result r; int timeout; } tr_closer;
static void *tr_close_thread(void *arg) {
    tr_closer *c = (tr_closer *)arg;
    c->r = pt_close(c->cl, c->timeout, NULL);
    return NULL;
}
PT_TEST(recovery_concurrent_close_then_free) {
    pts_server *s = pts_start();
    int round, manual;
    PT_REQUIRE(s);
    for (round = 0; round < 20; round++) {
        pt_config cfg;
        pt_client *cl;
        tr_closer a, b;
        pthread_t ta, tb;
        int i;
        manual = round & 1;
        cfg = tr_cfg(s, manual);
        if (round % 4 >= 2) { pts_action st; memset(&st, 0, sizeof st); st.delay_ms = 200; pts_set_default(s, &st); }
        else pts_set_default(s, NULL);
        PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
        for (i = 0; i < 50; i++) tr_track(cl, "cc", round * 100 + i);
        a.cl = b.cl = cl; a.timeout = 2000; b.timeout = round % 3 == 0 ? 1 : 2000;
        PT_REQUIRE(pthread_create(&ta, NULL, tr_close_thread, &a) == 0);
        /* b calls pt_close once a is inside it (a thread not yet in pt_close
           when the handle is freed is the caller's bug, as with any call) */
        for (i = 0; i < 5000 && !pt__atomic_load(&cl->closed); i++) tu_sleep_ms(1);
        PT_REQUIRE(pthread_create(&tb, NULL, tr_close_thread, &b) == 0);
        pthread_join(tb, NULL);
        pt_client_free(cl);                 /* after either close returned: safe (ASan checks) */
        pthread_join(ta, NULL);
        PT_CHECK(a.r == PT_OK || a.r == PT_ERR_CLOSED || a.r == PT_ERR_TIMEOUT);
        PT_CHECK(b.r == PT_OK || b.r == PT_ERR_CLOSED || b.r == PT_ERR_TIMEOUT);
        PT_CHECK(a.r != PT_ERR_CLOSED || b.r != PT_ERR_CLOSED);   /* one of them did the closing */
    }
    pts_set_default(s, NULL);
    pts_stop(s);
}

/* queue_capacity = 1: the low-water mark rounds to 0 but stays reachable;
   events tracked one at a time into an empty queue are never sampled. */
PT_TEST(recovery_hysteresis_tiny_bounds) {
    pts_server *s = pts_start();
    int cap, i, manual;
    PT_REQUIRE(s);
    for (manual = 0; manual < 2; manual++) {
        for (cap = 1; cap <= 3; cap++) {
            pt_config cfg = tr_cfg(s, manual);
            pt_client *cl;
            pt_client_stats st;
            cfg.queue_capacity = cap;
            cfg.sample_max_severity = PT_SEVERITY_INFO;
            cfg.sample_keep_one_in = 10;
            PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
            for (i = 0; i < 20; i++) {
                PT_CHECK_EQ(tr_track(cl, "hy", cap * 100 + i), PT_OK);
                PT_CHECK_EQ(pt_flush(cl, 5000), PT_OK);
            }
            memset(&st, 0, sizeof st);
            pt_stats(cl, &st);
            PT_CHECK_MSG(st.dropped_sampled == 0, "capacity %d: %lu of 20 sampled out", cap, (unsigned long)st.dropped_sampled);
            PT_CHECK_EQ(st.delivered, 20);
            PT_CHECK_EQ(pt_close(cl, 2000, NULL), PT_OK);
            pt_client_free(cl);
        }
    }
    pts_stop(s);
}

PT_TEST(recovery_duration_parsing) {
    static const struct { const char *in; long long ms; } good[] = {
        { "500ms", 500 }, { "10s", 10000 }, { "1m30s", 90000 }, { "1h", 3600000 }, { "1.5s", 1500 },
        { ".5s", 500 }, { "2h45m", 9900000 }, { "+3s", 3000 }, { "0s", 0 }, { "1500us", 2 }, { "1us", 1 },
        { "1000000ns", 1 }, { "1\xC2\xB5s", 1 }, { "2562047h", 9223369200000LL }, { "1m0.5s", 60500 },
    };
    static const char *const bad[] = {
        "30", "0", "", "nans", "nan", "NaN", "inf", "infs", "+Inf", "0x1p4s", "0x10s", "-1s", "-0s", "1e3s", "1 s", " 1s",
        "1s ", "1.2.3s", "s", ".s", "1sec", "1d", "10S", "9999999999999999999999ms", "2562048h", "1m-1s", "ms",
    };
    size_t i;
    int64_t d;
    pt_config cfg;
    pt_error err;
    for (i = 0; i < sizeof good / sizeof good[0]; i++) {
        d = -7;
        PT_CHECK_MSG(pt__parse_duration_ms(good[i].in, &d) == 0 && d == good[i].ms, "\"%s\" -> %lld, want %lld", good[i].in, (long long)d, good[i].ms);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        PT_CHECK_MSG(pt__parse_duration_ms(bad[i], &d) != 0, "\"%s\" accepted as %lld ms", bad[i], (long long)d);
    /* through the environment: PT_ERR_CONFIG naming the variable, with an example */
    memset(&cfg, 0, sizeof cfg);
    setenv("PACKTRACK_TIMEOUT", "nans", 1);
    PT_CHECK_EQ(pt_config_from_env(&cfg, &err), PT_ERR_CONFIG);
    PT_CHECK(strstr(err.message, "PACKTRACK_TIMEOUT") != NULL && strstr(err.message, "10s") != NULL);
    setenv("PACKTRACK_TIMEOUT", "30", 1);
    PT_CHECK_EQ(pt_config_from_env(&cfg, &err), PT_ERR_CONFIG);
    setenv("PACKTRACK_TIMEOUT", "0x1p4s", 1);
    PT_CHECK_EQ(pt_config_from_env(&cfg, &err), PT_ERR_CONFIG);
    unsetenv("PACKTRACK_TIMEOUT");
    setenv("PACKTRACK_FLUSH_INTERVAL", "-1s", 1);
    PT_CHECK_EQ(pt_config_from_env(&cfg, &err), PT_ERR_CONFIG);
    PT_CHECK(strstr(err.message, "PACKTRACK_FLUSH_INTERVAL") != NULL);
    setenv("PACKTRACK_FLUSH_INTERVAL", "1m30s", 1);
    PT_CHECK_EQ(pt_config_from_env(&cfg, &err), PT_OK);
    PT_CHECK_EQ(cfg.flush_interval_ms, 90000);
    unsetenv("PACKTRACK_FLUSH_INTERVAL");
    setenv("PACKTRACK_BACKOFF_MAX", "inf", 1);
    PT_CHECK_EQ(pt_config_from_env(&cfg, &err), PT_ERR_CONFIG);
    PT_CHECK(strstr(err.message, "PACKTRACK_BACKOFF_MAX") != NULL);
    unsetenv("PACKTRACK_BACKOFF_MAX");
}

static const pt_test_case recovery_tests[] = {
    PT_CASE(recovery_duration_parsing),
    PT_CASE(recovery_hysteresis_tiny_bounds),
    PT_CASE(recovery_concurrent_close_then_free),
    PT_CASE(recovery_oom_retried),
    PT_CASE(recovery_3xx_not_followed),
    PT_CASE(recovery_3xx_builtin_location),
    PT_CASE(recovery_early_401_rejected),
    PT_CASE(recovery_early_413_bisected),
    PT_CASE(recovery_close_retry_after_past_deadline),
    PT_CASE(recovery_close_probes_at_once),
    PT_CASE(recovery_flush_probes_at_once),
    PT_CASE(recovery_close_backoff_restarts_from_base),
    PT_CASE(recovery_long_outage_bounded_probes),
    PT_CASE(recovery_matrix_threaded),
    PT_CASE(recovery_matrix_manual),
};
