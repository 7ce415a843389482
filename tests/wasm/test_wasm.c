/* The C-library-only core: packtrack.h built with PACKTRACK_NO_THREADS,
   PACKTRACK_NO_SOCKETS and PACKTRACK_NO_SPOOL (and, with PACKTRACK_NO_DEFLATE
   too, the smallest build), driven through an in-memory server behind the
   synchronous HTTP hook (cfg.http) and behind the asynchronous one
   (cfg.http_async: a simulated engine HTTP module that answers on the next
   frame, or inside the hook, or never): JSON, queue bounds, batching, retry,
   breaker, bisection, close report, cut-off and exactly-once completion.
   tests/wasm/run.sh builds it with emscripten and runs it under node; the
   same file also builds natively (tests/nm_check.sh runs it), so a failure
   can be told apart as "the core" or "the wasm toolchain".
   Last line: "N passed, N failed, N skipped". */
#define PACKTRACK_IMPLEMENTATION
#include "../../packtrack.h"
#include "../pt_test.h"

#if !defined(PACKTRACK_NO_THREADS) || !defined(PACKTRACK_NO_SOCKETS) || !defined(PACKTRACK_NO_SPOOL)
#error "build with -DPACKTRACK_NO_THREADS -DPACKTRACK_NO_SOCKETS -DPACKTRACK_NO_SPOOL"
#endif

/* ---- an in-memory server behind the synchronous HTTP hook ------------------ */
#define MS_MAX_REQ 512
typedef struct mem_server {
    int      requests;                 /* hook calls */
    int      events_ok;                /* events in requests answered 2xx */
    int      batch_events[MS_MAX_REQ]; /* events per request, in order */
    int      fail_next;                /* answer the next N requests with `fail_status` */
    int      fail_status;              /* 0: a network error instead of a status */
    int      reject_marker;            /* 400 for a body containing "reject-me" */
    char     retry_after[16];          /* sent with failures */
    int      saw_key_header, saw_json_type, saw_post;
    char     last_body[2048];
} mem_server;

static int count_events(const char *body, size_t n) {
    int k = 0;
    size_t i;
    static const char pat[] = "\"idempotency_key\"";
    for (i = 0; i + sizeof pat - 1 <= n; i++) if (memcmp(body + i, pat, sizeof pat - 1) == 0) k++;
    return k;
}
static int contains(const char *body, size_t n, const char *s) {
    size_t i, m = strlen(s);
    for (i = 0; i + m <= n; i++) if (memcmp(body + i, s, m) == 0) return 1;
    return 0;
}

/* What the server answers to one request (both hooks use it). */
static pt_result mem_answer(mem_server *ms, const pt_http_request *req, pt_http_response *resp) {
    const char *body = (const char *)req->body;
    size_t i, n = req->body_len;
    int events = count_events(body, n);
    if (ms->requests < MS_MAX_REQ) ms->batch_events[ms->requests] = events;
    ms->requests++;
    ms->saw_post = strcmp(req->method, "POST") == 0;
    for (i = 0; i < req->header_count; i++) {
        if (strcmp(req->headers[i].name, "X-PackTrack-Key") == 0 && strcmp(req->headers[i].value, "pk_test_wasm") == 0) ms->saw_key_header = 1;
        if (strcmp(req->headers[i].name, "Content-Type") == 0 && strstr(req->headers[i].value, "json")) ms->saw_json_type = 1;
    }
    memcpy(ms->last_body, body, n < sizeof ms->last_body - 1 ? n : sizeof ms->last_body - 1);
    ms->last_body[n < sizeof ms->last_body - 1 ? n : sizeof ms->last_body - 1] = 0;
    if (ms->fail_next > 0) {
        ms->fail_next--;
        if (!ms->fail_status) { snprintf(resp->error, sizeof resp->error, "simulated network error"); return PT_ERR_NETWORK; }
        resp->status = ms->fail_status;
        snprintf(resp->retry_after, sizeof resp->retry_after, "%s", ms->retry_after);
        return PT_OK;
    }
    if (ms->reject_marker && contains(body, n, "reject-me")) { resp->status = 400; return PT_OK; }
    resp->status = 202;
    ms->events_ok += events;
    return PT_OK;
}
static pt_result mem_http(const pt_http_request *req, pt_http_response *resp, void *user) {
    return mem_answer((mem_server *)user, req, resp);
}

/* ---- a simulated engine HTTP module behind the asynchronous hook -------------
   The hook queues the request (its bytes stay valid until completion or
   cancel, so the engine may answer from them later); engine_frame() answers
   everything queued, as an engine's HTTP module would report finished
   requests on its next frame, then the game pumps the client for 1 ms. */
#define ENG_MAX 64
typedef struct engine {
    mem_server *ms;
    int         inline_complete;       /* answer inside the hook (then pt_flush/pt_close work alone) */
    int         never_complete;        /* the host's request hangs */
    int         n;
    pt_http_op  ops[ENG_MAX];
    const pt_http_request *reqs[ENG_MAX];
    int         handed, cancels;
    pt_http_op  last_op, cancelled_op;
} engine;
static pt_result eng_complete_one(engine *e, pt_http_op op, const pt_http_request *req) {
    pt_http_response resp;
    pt_result r;
    memset(&resp, 0, sizeof resp);
    r = mem_answer(e->ms, req, &resp);
    return pt_http_complete(op, r, &resp);
}
static pt_result eng_hook(const pt_http_request *req, pt_http_op op, void *user) {
    engine *e = (engine *)user;
    e->handed++;
    e->last_op = op;
    if (e->inline_complete) { (void)eng_complete_one(e, op, req); return PT_OK; }
    if (e->n >= ENG_MAX) return PT_ERR_NETWORK;
    e->ops[e->n] = op; e->reqs[e->n] = req; e->n++;
    return PT_OK;
}
static void eng_cancel(pt_http_op op, void *user) {
    engine *e = (engine *)user;
    int i;
    e->cancels++;
    e->cancelled_op = op;
    for (i = 0; i < e->n; i++) if (e->ops[i].id == op.id) { e->ops[i] = e->ops[--e->n]; e->reqs[i] = e->reqs[e->n]; break; }
}
/* one frame: finished requests are reported, then the client gets its 1 ms */
static int64_t engine_frame(engine *e, pt_client *cl) {
    int64_t t0;
    int i, n = e->n;
    if (!e->never_complete) {
        e->n = 0;
        for (i = 0; i < n; i++) (void)eng_complete_one(e, e->ops[i], e->reqs[i]);
    }
    t0 = pt_now_ms();
    pt_pump(cl, 1);
    return pt_now_ms() - t0;
}

static pt_config base_cfg(mem_server *ms) {
    pt_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.api_key = "pk_test_wasm";
    cfg.base_url = "http://ingest.invalid";
    cfg.http = mem_http; cfg.http_user = ms;
    cfg.backoff_base_ms = 5; cfg.backoff_max_ms = 20;
    cfg.flush_interval_ms = 10;
    return cfg;
}
static pt_config async_cfg(mem_server *ms, engine *e) {
    pt_config cfg = base_cfg(ms);
    memset(e, 0, sizeof *e);
    e->ms = ms;
    cfg.http = NULL;
    cfg.http_async = eng_hook; cfg.http_cancel = eng_cancel; cfg.http_user = e;
    return cfg;
}
static pt_event ev_of(const char *msg) {
    pt_event ev;
    memset(&ev, 0, sizeof ev);
    ev.source_system = "wasm-game"; ev.workflow_id = "wf-1";
    ev.actor_type = "agent"; ev.actor_id = "a-1";
    ev.severity = PT_SEVERITY_INFO; ev.status = PT_STATUS_SUCCESS;
    ev.message = msg;
    return ev;
}
/* pumps until cond or ms pass; returns cond */
#define PUMP_UNTIL(cl, cond, ms) do { int64_t e_ = pt_now_ms() + (ms); \
    while (!(cond) && pt_now_ms() < e_) pt_pump((cl), 5); } while (0)

/* ---- tests ------------------------------------------------------------------ */
PT_TEST(wasm_build_switches_refuse_what_is_left_out) {
    mem_server ms;
    pt_config cfg;
    pt_client *cl = NULL;
    pt_error err;
    memset(&ms, 0, sizeof ms);
    cfg = base_cfg(&ms);
    cfg.http = NULL;
    PT_CHECK_EQ(pt_client_new(&cfg, &cl, &err), PT_ERR_CONFIG);
    PT_CHECK(cl == NULL);
    PT_CHECK_MSG(strstr(err.message, "PACKTRACK_NO_SOCKETS") && strstr(err.message, "cfg.http"), "%s", err.message);
    cfg = base_cfg(&ms);
    cfg.spool_dir = "/tmp/pt-spool";
    PT_CHECK_EQ(pt_client_new(&cfg, &cl, &err), PT_ERR_CONFIG);
    PT_CHECK_MSG(strstr(err.message, "PACKTRACK_NO_SPOOL") != NULL, "%s", err.message);
#if defined(PACKTRACK_NO_DEFLATE)
    cfg = base_cfg(&ms);
    cfg.enable_gzip = 1;
    PT_CHECK_EQ(pt_client_new(&cfg, &cl, &err), PT_ERR_CONFIG);
    PT_CHECK_MSG(strstr(err.message, "PACKTRACK_NO_DEFLATE") && strstr(err.message, "cfg.gzip"), "%s", err.message);
#endif
    cfg = base_cfg(&ms);
    PT_CHECK_EQ(pt_client_new(&cfg, &cl, &err), PT_OK);
    PT_REQUIRE(cl != NULL);
    PT_CHECK_EQ(pt_client_config(cl)->manual_mode, 1);   /* no threads: always manual */
    pt_client_free(cl);
}

PT_TEST(wasm_json_escapes_and_numbers) {
    char buf[1024];
    size_t len = 0;
    pt_field md[3];
    pt_event ev = ev_of("quote \" backslash \\ tab \t nl \n \x01 caf\xc3\xa9 bad \xff");
    md[0] = pt_field_double("nan", (double)NAN);
    md[1] = pt_field_int("big", (int64_t)9007199254740993LL);
    md[2] = pt_field_raw("raw", "{\"a\":[1,2,{\"b\":null}]}");
    ev.metadata = md; ev.metadata_count = 3;
    ev.idempotency_key = "k-1";
#if defined(PACKTRACK_NO_RAW_JSON)   /* the smallest build: a raw field is refused, by name */
    {
        pt_error err;
        PT_CHECK_EQ(pt_event_to_json(NULL, &ev, buf, sizeof buf, &len, &err), PT_ERR_UNSUPPORTED);
        PT_CHECK_MSG(strstr(err.message, "PACKTRACK_NO_RAW_JSON") && strstr(err.message, "raw"), "%s", err.message);
        ev.metadata_count = 2;
    }
#endif
    PT_REQUIRE(pt_event_to_json(NULL, &ev, buf, sizeof buf, &len, NULL) == PT_OK);
    PT_CHECK_EQ(len, strlen(buf));
    PT_CHECK(strstr(buf, "quote \\\" backslash \\\\ tab \\t nl \\n \\u0001 caf\xc3\xa9 bad \xef\xbf\xbd") != NULL);
    PT_CHECK(strstr(buf, "\"nan\":null") != NULL);
    PT_CHECK(strstr(buf, "\"big\":9007199254740993") != NULL);
#if !defined(PACKTRACK_NO_RAW_JSON)
    PT_CHECK(strstr(buf, "\"raw\":{\"a\":[1,2,{\"b\":null}]}") != NULL);
#endif
    PT_CHECK(strstr(buf, "\"idempotency_key\":\"k-1\"") != NULL);
    /* a missing required field is named */
    {
        pt_error err;
        ev.actor_id = NULL;
        PT_CHECK_EQ(pt_event_to_json(NULL, &ev, buf, sizeof buf, &len, &err), PT_ERR_MISSING_FIELD);
        PT_CHECK_MSG(strstr(err.message, "actor.id") != NULL, "%s", err.message);
    }
}

PT_TEST(wasm_queue_bounds) {
    mem_server ms;
    pt_config cfg;
    pt_client *cl = NULL;
    pt_client_stats st;
    pt_event ev = ev_of("bounded");
    int i, ok = 0, full = 0;
    memset(&ms, 0, sizeof ms);
    cfg = base_cfg(&ms);
    cfg.queue_capacity = 5;
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    for (i = 0; i < 8; i++) {
        pt_result r = pt_track(cl, &ev);
        if (r == PT_OK) ok++;
        else if (r == PT_ERR_QUEUE_FULL) full++;
    }
    PT_CHECK_EQ(ok, 5);
    PT_CHECK_EQ(full, 3);
    PT_CHECK_EQ(ms.requests, 0);          /* nothing moves without a pump */
    PT_CHECK(pt_stats(cl, &st) == PT_OK);
    PT_CHECK_EQ(st.dropped, 3);
    PT_CHECK_EQ(st.pending, 5);
    PT_CHECK_EQ(pt_flush(cl, 2000), PT_OK);
    PT_CHECK_EQ(ms.events_ok, 5);
    PT_CHECK(ms.saw_key_header && ms.saw_json_type && ms.saw_post);
    pt_client_free(cl);
}

PT_TEST(wasm_batching_by_count) {
    mem_server ms;
    pt_config cfg;
    pt_client *cl = NULL;
    pt_event ev = ev_of("batched");
    int i;
    memset(&ms, 0, sizeof ms);
    cfg = base_cfg(&ms);
    cfg.batch_size = 10;
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    for (i = 0; i < 25; i++) PT_CHECK_EQ(pt_track(cl, &ev), PT_OK);
    PT_CHECK_EQ(pt_flush(cl, 2000), PT_OK);
    PT_CHECK_EQ(ms.requests, 3);
    PT_CHECK_EQ(ms.batch_events[0], 10);
    PT_CHECK_EQ(ms.batch_events[1], 10);
    PT_CHECK_EQ(ms.batch_events[2], 5);
    PT_CHECK_EQ(ms.events_ok, 25);
    PT_CHECK(ms.last_body[0] == '[');
    pt_client_free(cl);
}

PT_TEST(wasm_retry_then_delivered) {
    mem_server ms;
    pt_config cfg;
    pt_client *cl = NULL;
    pt_client_stats st;
    pt_event ev = ev_of("retried");
    int i;
    memset(&ms, 0, sizeof ms);
    cfg = base_cfg(&ms);
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    ms.fail_next = 2; ms.fail_status = 503;
    for (i = 0; i < 4; i++) PT_CHECK_EQ(pt_track(cl, &ev), PT_OK);
    PT_CHECK_EQ(pt_flush(cl, 5000), PT_OK);
    PT_CHECK_EQ(ms.requests, 3);          /* 503, 503, 202: the batch stayed whole */
    PT_CHECK_EQ(ms.batch_events[2], 4);
    PT_CHECK_EQ(ms.events_ok, 4);
    PT_CHECK(pt_stats(cl, &st) == PT_OK);
    PT_CHECK_EQ(st.delivered, 4);
    PT_CHECK_EQ(st.retried_requests, 2);
    /* a network error (no status) is retried the same way */
    ms.fail_next = 1; ms.fail_status = 0;
    PT_CHECK_EQ(pt_track(cl, &ev), PT_OK);
    PT_CHECK_EQ(pt_flush(cl, 5000), PT_OK);
    PT_CHECK_EQ(ms.events_ok, 5);
    pt_client_free(cl);
}

PT_TEST(wasm_breaker_opens_and_recovers) {
    mem_server ms;
    pt_config cfg;
    pt_client *cl = NULL;
    pt_health_report h;
    pt_event ev = ev_of("breaker");
    int at_open;
    memset(&ms, 0, sizeof ms);
    cfg = base_cfg(&ms);
    cfg.breaker_threshold = 2;
    cfg.breaker_cooldown_ms = 300;
    /* the breaker's first open interval is the batch's backoff (adaptive
       breaker): make it the whole 300 ms so "closed to requests" is visible */
    cfg.backoff_base_ms = cfg.backoff_max_ms = 300; cfg.disable_jitter = 1;
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    ms.fail_next = 1000; ms.fail_status = 0;
    PT_CHECK_EQ(pt_track(cl, &ev), PT_OK);
    PUMP_UNTIL(cl, ms.requests >= 2, 3000);
    PT_CHECK(pt_health(cl, &h, NULL) == PT_OK);
    PT_CHECK_EQ(h.breaker, PT_BREAKER_OPEN);
    at_open = ms.requests;
    /* while open (cooldown 300 ms) no request goes out */
    PUMP_UNTIL(cl, 0, 100);
    PT_CHECK_EQ(ms.requests, at_open);
    /* the server heals: after the cooldown the half-open probe delivers */
    ms.fail_next = 0;
    PUMP_UNTIL(cl, ms.events_ok == 1, 3000);
    PT_CHECK_EQ(ms.events_ok, 1);
    PT_CHECK(pt_health(cl, &h, NULL) == PT_OK);
    PT_CHECK_EQ(h.breaker, PT_BREAKER_CLOSED);
    pt_client_free(cl);
}

PT_TEST(wasm_close_report_with_rejected_event) {
    mem_server ms;
    pt_config cfg;
    pt_client *cl = NULL;
    pt_close_report rep;
    pt_event ev = ev_of("fine");
    pt_event bad = ev_of("reject-me");
    int i;
    memset(&ms, 0, sizeof ms);
    cfg = base_cfg(&ms);
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    ms.reject_marker = 1;
    for (i = 0; i < 7; i++) PT_CHECK_EQ(pt_track(cl, i == 3 ? &bad : &ev), PT_OK);
    PT_CHECK_EQ(pt_close(cl, 5000, &rep), PT_OK);
    /* bisection isolates the one event the server refuses */
    PT_CHECK_EQ(rep.tracked, 7);
    PT_CHECK_EQ(rep.delivered, 6);
    PT_CHECK_EQ(rep.failed_rejected, 1);
    PT_CHECK_EQ(rep.abandoned, 0);
    PT_CHECK_EQ(rep.timed_out, 0);
    PT_CHECK_EQ(ms.events_ok, 6);
    PT_CHECK_EQ(pt_track(cl, &ev), PT_ERR_CLOSED);
    pt_client_free(cl);
}

PT_TEST(wasm_close_deadline_counts_abandoned) {
    mem_server ms;
    pt_config cfg;
    pt_client *cl = NULL;
    pt_close_report rep;
    pt_event ev = ev_of("stuck");
    int64_t t0;
    int i;
    memset(&ms, 0, sizeof ms);
    cfg = base_cfg(&ms);
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    ms.fail_next = 1000000; ms.fail_status = 503;
    for (i = 0; i < 3; i++) PT_CHECK_EQ(pt_track(cl, &ev), PT_OK);
    t0 = pt_now_ms();
    PT_CHECK_EQ(pt_close(cl, 200, &rep), PT_ERR_TIMEOUT);
    PT_CHECK_MSG(pt_now_ms() - t0 < 3000, "close took %lld ms", (long long)(pt_now_ms() - t0));
    PT_CHECK_EQ(rep.tracked, 3);
    PT_CHECK_EQ(rep.delivered, 0);
    PT_CHECK_EQ(rep.abandoned, 3);
    PT_CHECK_EQ(rep.timed_out, 1);
    PT_CHECK(ms.requests >= 1);
    pt_client_free(cl);
}

/* frames until cond or ms pass; records the longest pump */
#define FRAMES_UNTIL(e, cl, cond, ms, longest) do { int64_t e_ = pt_now_ms() + (ms); \
    while (!(cond) && pt_now_ms() < e_) { int64_t d_ = engine_frame((e), (cl)); if (d_ > (longest)) (longest) = d_; } } while (0)

PT_TEST(wasm_async_hook_completed_next_frame) {
    mem_server ms;
    engine e;
    pt_config cfg;
    pt_client *cl = NULL;
    pt_close_report rep;
    pt_event ev = ev_of("async");
    int64_t longest = 0;
    int i;
    memset(&ms, 0, sizeof ms);
    cfg = async_cfg(&ms, &e);
    cfg.batch_size = 10;
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    for (i = 0; i < 25; i++) PT_CHECK_EQ(pt_track(cl, &ev), PT_OK);
    FRAMES_UNTIL(&e, cl, ms.events_ok == 25, 5000, longest);
    PT_CHECK_EQ(ms.events_ok, 25);
    PT_CHECK_EQ(ms.requests, 3);
    PT_CHECK_EQ(ms.batch_events[0], 10);
    PT_CHECK_EQ(ms.batch_events[2], 5);
    PT_CHECK_EQ(e.handed, 3);
    PT_CHECK_EQ(e.cancels, 0);
    PT_CHECK_MSG(longest < 50, "a 1 ms pump took %lld ms", (long long)longest);
    PT_CHECK_EQ(pt_close(cl, 1000, &rep), PT_OK);
    PT_CHECK_EQ(rep.delivered, 25);
    pt_client_free(cl);
}

PT_TEST(wasm_async_hook_retry_and_breaker) {
    mem_server ms;
    engine e;
    pt_config cfg;
    pt_client *cl = NULL;
    pt_client_stats st;
    pt_health_report h;
    pt_event ev = ev_of("async retry");
    int64_t longest = 0;
    int at_open;
    memset(&ms, 0, sizeof ms);
    cfg = async_cfg(&ms, &e);
    cfg.breaker_threshold = 3;
    cfg.breaker_cooldown_ms = 300;
    cfg.backoff_base_ms = cfg.backoff_max_ms = 300; cfg.disable_jitter = 1;   /* first open interval: 300 ms */
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    ms.fail_next = 2; ms.fail_status = 503;      /* two 503s, then accepted */
    PT_CHECK_EQ(pt_track(cl, &ev), PT_OK);
    FRAMES_UNTIL(&e, cl, ms.events_ok == 1, 5000, longest);
    PT_CHECK_EQ(ms.events_ok, 1);
    PT_CHECK_EQ(ms.requests, 3);
    PT_CHECK(pt_stats(cl, &st) == PT_OK);
    PT_CHECK_EQ(st.retried_requests, 2);
    /* completions that report a network failure open the breaker */
    ms.fail_next = 1000; ms.fail_status = 0;
    PT_CHECK_EQ(pt_track(cl, &ev), PT_OK);
    FRAMES_UNTIL(&e, cl, pt_health(cl, &h, NULL) == PT_OK && h.breaker == PT_BREAKER_OPEN, 5000, longest);
    PT_CHECK_EQ(h.breaker, PT_BREAKER_OPEN);
    at_open = ms.requests;
    FRAMES_UNTIL(&e, cl, 0, 100, longest);
    PT_CHECK_EQ(ms.requests, at_open);           /* nothing handed to the host while open */
    ms.fail_next = 0;
    FRAMES_UNTIL(&e, cl, ms.events_ok == 2, 5000, longest);
    PT_CHECK_EQ(ms.events_ok, 2);
    PT_CHECK_MSG(longest < 50, "a 1 ms pump took %lld ms", (long long)longest);
    pt_client_free(cl);
}

PT_TEST(wasm_async_hook_cut_off_at_close) {
    mem_server ms;
    engine e;
    pt_config cfg;
    pt_client *cl = NULL;
    pt_close_report rep;
    pt_http_response resp;
    pt_event ev = ev_of("never answered");
    int64_t longest = 0, t0;
    pt_http_op op;
    memset(&ms, 0, sizeof ms);
    cfg = async_cfg(&ms, &e);
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    e.never_complete = 1;
    PT_CHECK_EQ(pt_track(cl, &ev), PT_OK);
    FRAMES_UNTIL(&e, cl, e.handed == 1, 3000, longest);
    PT_REQUIRE(e.handed == 1);
    op = e.last_op;
    t0 = pt_now_ms();
    PT_CHECK_EQ(pt_close(cl, 150, &rep), PT_ERR_TIMEOUT);
    PT_CHECK_MSG(pt_now_ms() - t0 < 3000, "close took %lld ms", (long long)(pt_now_ms() - t0));
    PT_CHECK_EQ(rep.timed_out, 1);
    PT_CHECK_EQ(rep.delivered, 0);
    PT_CHECK_EQ(rep.abandoned, 1);
    PT_CHECK_EQ(e.cancels, 1);                   /* the host is told once */
    PT_CHECK_EQ(e.cancelled_op.id, op.id);
    /* the host's late answer is ignored */
    memset(&resp, 0, sizeof resp);
    resp.status = 202;
    PT_CHECK(pt_http_complete(op, PT_OK, &resp) != PT_OK);
    pt_client_free(cl);
    PT_CHECK(pt_http_complete(op, PT_OK, &resp) != PT_OK);
}

PT_TEST(wasm_async_hook_completes_once) {
    mem_server ms;
    engine e;
    pt_config cfg;
    pt_client *cl = NULL;
    pt_http_response resp;
    pt_event ev = ev_of("once");
    int64_t longest = 0;
    pt_http_op op;
    memset(&ms, 0, sizeof ms);
    cfg = async_cfg(&ms, &e);
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    e.never_complete = 1;
    PT_CHECK_EQ(pt_track(cl, &ev), PT_OK);
    FRAMES_UNTIL(&e, cl, e.handed == 1, 3000, longest);
    PT_REQUIRE(e.handed == 1);
    op = e.last_op;
    memset(&resp, 0, sizeof resp);
    resp.status = 202;
    PT_CHECK_EQ(pt_http_complete(op, PT_OK, &resp), PT_OK);
    PT_CHECK_EQ(pt_http_complete(op, PT_OK, &resp), PT_ERR_INVALID_ARG);   /* second one ignored */
    e.n = 0;
    e.never_complete = 0;
    FRAMES_UNTIL(&e, cl, 0, 50, longest);
    {
        pt_client_stats st;
        PT_CHECK(pt_stats(cl, &st) == PT_OK);
        PT_CHECK_EQ(st.delivered, 1);
        PT_CHECK_EQ(e.handed, 1);                /* delivered once, not re-sent */
    }
    pt_client_free(cl);
}

PT_TEST(wasm_async_hook_inline_completion_flush_close) {
    mem_server ms;
    engine e;
    pt_config cfg;
    pt_client *cl = NULL;
    pt_close_report rep;
    pt_event ev = ev_of("inline"), bad = ev_of("reject-me");
    int i;
    memset(&ms, 0, sizeof ms);
    cfg = async_cfg(&ms, &e);
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    e.inline_complete = 1;                       /* the host answers inside the hook */
    ms.reject_marker = 1;
    for (i = 0; i < 6; i++) PT_CHECK_EQ(pt_track(cl, i == 2 ? &bad : &ev), PT_OK);
    PT_CHECK_EQ(pt_flush(cl, 3000), PT_OK);
    PT_CHECK_EQ(ms.events_ok, 5);
    PT_CHECK_EQ(pt_close(cl, 1000, &rep), PT_OK);
    PT_CHECK_EQ(rep.tracked, 6);
    PT_CHECK_EQ(rep.delivered, 5);
    PT_CHECK_EQ(rep.failed_rejected, 1);
    pt_client_free(cl);
}

static const pt_test_case wasm_tests[] = {
    PT_CASE(wasm_build_switches_refuse_what_is_left_out),
    PT_CASE(wasm_json_escapes_and_numbers),
    PT_CASE(wasm_queue_bounds),
    PT_CASE(wasm_batching_by_count),
    PT_CASE(wasm_retry_then_delivered),
    PT_CASE(wasm_breaker_opens_and_recovers),
    PT_CASE(wasm_close_report_with_rejected_event),
    PT_CASE(wasm_close_deadline_counts_abandoned),
    PT_CASE(wasm_async_hook_completed_next_frame),
    PT_CASE(wasm_async_hook_retry_and_breaker),
    PT_CASE(wasm_async_hook_cut_off_at_close),
    PT_CASE(wasm_async_hook_completes_once),
    PT_CASE(wasm_async_hook_inline_completion_flush_close),
};

int main(int argc, char **argv) {
    int passed = 0, failed = 0, skipped = 0, a;
    size_t i;
    for (i = 0; i < sizeof wasm_tests / sizeof wasm_tests[0]; i++) {
        const pt_test_case *tc = &wasm_tests[i];
        int want = argc < 2;
        int64_t t0;
        for (a = 1; a < argc; a++) if (strstr(tc->name, argv[a])) want = 1;
        if (!want) continue;
        pt_t_failed_checks = 0; pt_t_skipped = 0; pt_t_current = tc->name;
        t0 = pt_now_ms();
        tc->fn();
        if (pt_t_failed_checks) { failed++; printf("FAIL %s (%d checks failed)\n", tc->name, pt_t_failed_checks); }
        else if (pt_t_skipped) { skipped++; printf("skip %s\n", tc->name); }
        else { passed++; printf("ok   %s (%lld ms)\n", tc->name, (long long)(pt_now_ms() - t0)); }
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
