/* Hosts without threads: pt_pump keeps its budget whatever the server does
   (refuses, stalls, drips, resets, a resolver that hangs), and the
   asynchronous HTTP hook (cfg.http_async + pt_http_complete): completion on a
   later pump, from another thread, never (cancelled at close), twice, after
   close, after the cut-off, and the retry fault matrix through it. */

/* ---- pump budget against a misbehaving server ---- */

#define TQ_EVENTS 25
/* A pump with a 1 ms budget must return within TQ_BOUND_MS. On a loaded
   machine (two cores shared with parallel builds, the tests under nice) a
   thread that slept 1 ms in poll() is sometimes scheduled back tens, rarely
   a couple of hundred ms late; that is not the pump waiting. So: at most 1%
   of the calls may pass TQ_BOUND_MS, and none TQ_HARD_MS, which is still
   well under every wait the faults below cause when a pump does wait for the
   network (connect_timeout_ms 1000, timeout_ms 1500, a drip of one byte a
   second, a 1.5 s lookup): the faults are made slow so the bound can be loose. */
#define TQ_BOUND_MS 20
#define TQ_HARD_MS 500
static int tq_over;               /* calls over TQ_BOUND_MS since the last tq_budget_ok */
static int tq_calls;
/* Under valgrind every instruction is emulated (20-50x slower, threads
   serialised): wall-clock bounds say nothing there, the functional checks
   (delivery, cancellation, memory) still run. Its preload library is the tell. */
static int tq_emulated(void) {
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload") != NULL;
}
static int tq_budget_ok(int64_t worst) {
    int ok = worst < TQ_HARD_MS && tq_over * 100 <= tq_calls;
    if (!ok && tq_emulated()) {
        fprintf(stderr, "      under valgrind: pump time bounds not checked (longest %lld ms)\n", (long long)worst);
        ok = 1;
    }
    if (!ok) fprintf(stderr, "      %d of %d pumps over %d ms, longest %lld ms\n", tq_over, tq_calls, TQ_BOUND_MS, (long long)worst);
    tq_over = tq_calls = 0;
    return ok;
}

typedef struct tq_log {
    pthread_mutex_t mu;
    char text[8192];
    size_t len;
} tq_log;
static void tq_logger(pt_log_level lvl, const char *msg, void *user) {
    tq_log *l = (tq_log *)user;
    size_t n = strlen(msg);
    (void)lvl;
    pthread_mutex_lock(&l->mu);
    if (l->len + n + 2 < sizeof l->text) { memcpy(l->text + l->len, msg, n); l->len += n; l->text[l->len++] = '\n'; l->text[l->len] = 0; }
    pthread_mutex_unlock(&l->mu);
}
static int tq_log_has(tq_log *l, const char *needle) {
    int r;
    pthread_mutex_lock(&l->mu);
    r = strstr(l->text, needle) != NULL;
    pthread_mutex_unlock(&l->mu);
    return r;
}

/* The transport this client's requests go through (as the pipeline picks it). */
static const pt__transport *tq_tp(pt_client *cl) {
    pt__xfer *x = (pt__xfer *)malloc(sizeof *x);
    const pt__transport *tp = NULL;
    if (!x) return NULL;
    pt__xfer_setup(cl->core, x, &cl->core->flush_conn, "POST", cl->core->ingest_url, NULL, 0, 0, NULL);
    tp = x->tp;
    free(x);
    return tp;
}
/* Does it step (honour a pump's budget), or run a request inside start? */
static int tq_steps(pt_client *cl) { const pt__transport *tp = tq_tp(cl); return tp && tp->step != pt__sync_step; }

static pt_config tq_cfg(const char *url) {
    pt_config cfg = tu_config(url);
    tq_over = tq_calls = 0;
    cfg.manual_mode = 1;
    cfg.batch_size = 10;
    cfg.flush_interval_ms = 1;
    cfg.timeout_ms = 1500;
    cfg.connect_timeout_ms = 1000;
    cfg.backoff_base_ms = 5;
    cfg.backoff_max_ms = 50;
    cfg.breaker_cooldown_ms = 50;
    return cfg;
}
static int tq_track(pt_client *cl, int n, const char *msg) {
    int i, ok = 0;
    for (i = 0; i < n; i++) {
        pt_event ev = tu_event(msg);
        if (pt_track(cl, &ev) == PT_OK) ok++;
    }
    return ok;
}
static uint64_t tq_delivered(pt_client *cl) {
    pt_client_stats st;
    if (pt_stats(cl, &st) != PT_OK) return 0;
    return st.delivered;
}
/* n pumps with a 1 ms budget; the longest call. */
static int64_t tq_pumps(pt_client *cl, int n) {
    int64_t worst = 0;
    int i;
    for (i = 0; i < n; i++) {
        int64_t t0 = pt_now_ms(), dt;
        pt_pump(cl, 1);
        dt = pt_now_ms() - t0;
        if (dt > worst) worst = dt;
        tq_calls++;
        if (dt >= TQ_BOUND_MS) tq_over++;
    }
    return worst;
}
/* 1 ms pumps until `want` events are delivered or timeout_ms passed; the
   longest call goes into *worst. Returns the events delivered. */
static uint64_t tq_pump_until(pt_client *cl, uint64_t want, int timeout_ms, int64_t *worst) {
    int64_t t0 = pt_now_ms();
    uint64_t got = 0;
    while ((got = tq_delivered(cl)) < want && pt_now_ms() - t0 < timeout_ms) {
        int64_t w = tq_pumps(cl, 10);
        if (w > *worst) *worst = w;
    }
    return got;
}

enum { TQ_REFUSE, TQ_STALL, TQ_DRIP, TQ_RESET };
static void tq_budget(int kind) {
    pts_server *s;
    pt_config cfg;
    pt_client *cl = NULL;
    pt_client_stats st;
    pt_close_report rep;
    pts_action a;
    int64_t worst, worst2 = 0, t0;
    uint64_t got;
    s = pts_start();
    PT_REQUIRE(s);
    cfg = tq_cfg(pts_url(s));
    memset(&a, 0, sizeof a);
    if (kind == TQ_REFUSE) PT_REQUIRE(pts_set_refuse(s, 1) == 0);
    if (kind == TQ_STALL) pts_set_stall(s, 1);
    if (kind == TQ_DRIP) { a.mode = PTS_MODE_SLOW_DRIP; a.drip_ms = 1000; cfg.timeout_ms = 3000; pts_set_default(s, &a); }
    if (kind == TQ_RESET) { a.mode = PTS_MODE_RESET_MID; pts_set_default(s, &a); }
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    if (!tq_steps(cl)) {
        pt_close(cl, 0, NULL); pt_client_free(cl); pts_stop(s);
        PT_SKIP("this build's transport runs a request inside start (does not step), so a pump waits for it");
    }
    PT_CHECK_EQ(tq_track(cl, TQ_EVENTS, "pump budget"), TQ_EVENTS);
    tq_over = tq_calls = 0;
    worst = tq_pumps(cl, 1000);
    /* ... and on until the fault has shown (a timeout takes 1.5 s), bounded */
    t0 = pt_now_ms();
    for (;;) {
        int64_t w;
        PT_REQUIRE(pt_stats(cl, &st) == PT_OK);
        if (kind == TQ_DRIP ? pts_request_count(s) >= 1 : st.requests_failed >= 1) break;
        if (pt_now_ms() - t0 > 10000) break;
        w = tq_pumps(cl, 10);
        if (w > worst) worst = w;
    }
    PT_CHECK_MSG(tq_budget_ok(worst), "pumps with a 1 ms budget: longest %lld ms", (long long)worst);
    PT_CHECK_EQ(tq_delivered(cl), 0);
    if (kind == TQ_DRIP) PT_CHECK(pts_request_count(s) >= 1);                 /* a response is trickling in */
    else PT_CHECK_MSG(st.requests_failed >= 1, "no failed request: the fault was not exercised");
    /* the server behaves again: every event arrives, pumps stay short */
    if (kind == TQ_REFUSE) PT_CHECK(pts_set_refuse(s, 0) == 0);
    if (kind == TQ_STALL) pts_set_stall(s, 0);
    if (kind == TQ_DRIP || kind == TQ_RESET) pts_set_default(s, NULL);
    got = tq_pump_until(cl, TQ_EVENTS, 15000, &worst2);
    PT_CHECK_EQ(got, TQ_EVENTS);
    PT_CHECK_MSG(tq_budget_ok(worst2), "pumps while recovering: longest %lld ms", (long long)worst2);
    PT_CHECK(pts_distinct_keys(s) >= TQ_EVENTS);
    PT_CHECK_EQ(pt_close(cl, 2000, &rep), PT_OK);
    PT_CHECK_EQ(rep.delivered, TQ_EVENTS);
    PT_CHECK_EQ(rep.abandoned, 0);
    pt_client_free(cl);
    pts_stop(s);
}
PT_TEST(pump_budget_refusing_server) { tq_budget(TQ_REFUSE); }
PT_TEST(pump_budget_stalling_server) { tq_budget(TQ_STALL); }
PT_TEST(pump_budget_drip_feeding_server) { tq_budget(TQ_DRIP); }
PT_TEST(pump_budget_resetting_server) { tq_budget(TQ_RESET); }

/* A name whose lookup hangs (tests/run.c's resolver, 1.5 s on *.hang.test):
   the lookup runs on its own thread and pumps only look at it. */
PT_TEST(pump_budget_hanging_resolver) {
    pt_config cfg;
    pt_client *cl = NULL;
    pt_client_stats st;
    pt_close_report rep;
    int64_t worst, t0;
    cfg = tq_cfg("http://pump.hang.test:9");
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    if (tq_tp(cl) != &pt__tp_builtin) {
        pt_close(cl, 0, NULL); pt_client_free(cl);
        PT_SKIP("the hanging resolver is the built-in client's (th_getaddrinfo); this build sends through another transport");
    }
    PT_CHECK_EQ(tq_track(cl, TQ_EVENTS, "hanging resolver"), TQ_EVENTS);
    tq_over = tq_calls = 0;
    worst = tq_pumps(cl, 1000);
    t0 = pt_now_ms();
    for (;;) {                                  /* until a lookup timed out (connect_timeout_ms 1000), bounded */
        int64_t w;
        PT_REQUIRE(pt_stats(cl, &st) == PT_OK);
        if (st.requests_failed >= 1 || pt_now_ms() - t0 > 10000) break;
        w = tq_pumps(cl, 10);
        if (w > worst) worst = w;
    }
    PT_CHECK_MSG(tq_budget_ok(worst), "pumps with a 1 ms budget: longest %lld ms", (long long)worst);
    PT_CHECK_MSG(st.requests_failed >= 1, "the lookup never timed out (connect_timeout_ms 1000)");
    PT_CHECK_EQ(st.last_error, PT_ERR_TIMEOUT);
    PT_CHECK_EQ(st.delivered, 0);
    PT_CHECK_EQ(st.pending, TQ_EVENTS);         /* nothing lost while the name does not resolve */
    t0 = pt_now_ms();
    PT_CHECK_EQ(pt_close(cl, 100, &rep), PT_ERR_TIMEOUT);   /* close keeps its own deadline */
    PT_CHECK_MSG(pt_now_ms() - t0 < 1000 || tq_emulated(), "close took %lld ms", (long long)(pt_now_ms() - t0));
    PT_CHECK_EQ(rep.abandoned, TQ_EVENTS);
    pt_client_free(cl);
    t0 = pt_now_ms();
    for (;;) {                                  /* let the lookups finish (bounded) */
        int hung;
        pthread_mutex_lock(&th_hang_mu); hung = th_hung; pthread_mutex_unlock(&th_hang_mu);
        if (!hung || pt_now_ms() - t0 >= 5000) break;
        tu_sleep_ms(10);
    }
}

/* pt_flush in manual mode keeps its own deadline against a stalled server,
   and the request it leaves in progress is continued by later pumps (a
   transport that does not step is cut off at the deadline instead and
   retried). */
PT_TEST(pump_flush_keeps_deadline_and_request_continues) {
    pts_server *s = pts_start();
    pt_config cfg;
    pt_client *cl = NULL;
    int64_t t0, dt, worst = 0;
    PT_REQUIRE(s);
    cfg = tq_cfg(pts_url(s));
    cfg.timeout_ms = 5000;
    pts_set_stall(s, 1);
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    PT_CHECK_EQ(tq_track(cl, 5, "flush deadline"), 5);
    t0 = pt_now_ms();
    PT_CHECK_EQ(pt_flush(cl, 150), PT_ERR_TIMEOUT);
    dt = pt_now_ms() - t0;
    PT_CHECK_MSG(dt >= 140 && (dt < 1000 || tq_emulated()), "flush returned after %lld ms", (long long)dt);
    PT_CHECK(pts_wait_requests(s, 1, 2000));
    pts_set_stall(s, 0);                        /* the stalled request is answered */
    PT_CHECK_EQ(tq_pump_until(cl, 5, 5000, &worst), 5);
    if (tq_steps(cl)) PT_CHECK_EQ(pts_request_count(s), 1);   /* the same request, not a retry */
    else PT_CHECK(pts_request_count(s) >= 2);   /* a transport that does not step: cut off at the flush deadline, retried */
    PT_CHECK_EQ(pt_close(cl, 1000, NULL), PT_OK);
    pt_client_free(cl);
    pts_stop(s);
}

/* Driven by pumps alone, the stepped client reads every body framing
   (Content-Length, chunked, until close), keeps the connection alive where
   it may, and takes its one free retry when a kept-alive connection turns
   out closed (not counted as a failure). */
PT_TEST(pump_delivers_every_framing_and_survives_stale_connections) {
    pts_server *s = pts_start();
    pt_config cfg;
    pt_client *cl = NULL;
    pt_client_stats st;
    pts_action a;
    int64_t worst = 0;
    uint64_t want = 0;
    int round, conns, reqs;
    PT_REQUIRE(s);
    cfg = tq_cfg(pts_url(s));
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    for (round = 0; round < 3; round++) {
        memset(&a, 0, sizeof a);
        a.mode = round == 0 ? PTS_MODE_NORMAL : round == 1 ? PTS_MODE_CHUNKED : PTS_MODE_CLOSE_DELIMITED;
        pts_set_default(s, &a);
        PT_CHECK_EQ(tq_track(cl, 10, "framing"), 10);
        want += 10;
        PT_CHECK_EQ(tq_pump_until(cl, want, 5000, &worst), want);
    }
    pts_set_default(s, NULL);
    PT_CHECK_EQ(tq_track(cl, 10, "keep-alive"), 10);   /* a fresh connection (the last one closed) ... */
    want += 10;
    PT_CHECK_EQ(tq_pump_until(cl, want, 5000, &worst), want);
    conns = pts_connection_count(s);
    PT_CHECK_EQ(tq_track(cl, 10, "keep-alive"), 10);   /* ... kept alive for the next batch */
    want += 10;
    PT_CHECK_EQ(tq_pump_until(cl, want, 5000, &worst), want);
    PT_CHECK_EQ(pts_connection_count(s), conns);
    pts_drop_connections(s);                            /* the server closes the idle connection */
    tu_sleep_ms(20);
    PT_CHECK_EQ(tq_track(cl, 10, "stale"), 10);
    want += 10;
    PT_CHECK_EQ(tq_pump_until(cl, want, 5000, &worst), want);
    PT_CHECK_EQ(pts_connection_count(s), conns + 1);
    /* the kept-alive connection is closed as the request arrives: nothing
       came back, so one fresh connection, not counted as an attempt */
    memset(&a, 0, sizeof a);
    a.mode = PTS_MODE_CLOSE_NO_RESPONSE;
    pts_script(s, &a, 1);
    reqs = pts_request_count(s);
    PT_CHECK_EQ(tq_track(cl, 10, "closed under it"), 10);
    want += 10;
    PT_CHECK_EQ(tq_pump_until(cl, want, 5000, &worst), want);
    PT_CHECK_EQ(pts_request_count(s), reqs + 2);
    PT_CHECK_EQ(pts_connection_count(s), conns + 2);
    PT_REQUIRE(pt_stats(cl, &st) == PT_OK);
    PT_CHECK_EQ(st.requests_failed, 0);
    PT_CHECK_EQ(st.retried_requests, 0);
    PT_CHECK_MSG(tq_budget_ok(worst), "longest pump %lld ms", (long long)worst);
    PT_CHECK_EQ(pt_close(cl, 1000, NULL), PT_OK);
    pt_client_free(cl);
    pts_stop(s);
}

/* ---- the asynchronous hook: a simulated engine request queue ---- */

#define TQ_MAXQ 64
typedef struct tq_eng {
    pthread_mutex_t mu;
    pt_http_op q[TQ_MAXQ];
    char      *body[TQ_MAXQ];
    int        nq;
    int        started, cancels;
    pt_http_op first_op, last_cancel;
    int64_t    start_ms[TQ_MAXQ];
    int        script[16];            /* answers in turn: HTTP status, or -1 = connection reset */
    const char *retry_after[16];
    int        nscript, pos;
    int        poison_413;            /* 413 for any body holding "poison" */
    int        inline_complete;       /* complete inside the hook */
    pt_result  last_complete;
} tq_eng;

static void tq_eng_init(tq_eng *e) {
    memset(e, 0, sizeof *e);
    pthread_mutex_init(&e->mu, NULL);
}
static void tq_eng_free(tq_eng *e) {
    int i;
    for (i = 0; i < e->nq; i++) free(e->body[i]);
    pthread_mutex_destroy(&e->mu);
}
/* Answers one request the way the fake server would. */
static pt_result tq_eng_answer_one(tq_eng *e, pt_http_op op, const char *body) {
    pt_http_response resp;
    int st = 200;
    const char *ra = NULL;
    memset(&resp, 0, sizeof resp);
    pthread_mutex_lock(&e->mu);
    if (e->pos < e->nscript) { st = e->script[e->pos]; ra = e->retry_after[e->pos]; e->pos++; }
    if (e->poison_413 && body && strstr(body, "poison")) st = 413;
    pthread_mutex_unlock(&e->mu);
    if (st < 0) {
        snprintf(resp.error, sizeof resp.error, "connection reset by peer");
        return pt_http_complete(op, PT_ERR_NETWORK, &resp);
    }
    resp.status = st;
    if (ra) snprintf(resp.retry_after, sizeof resp.retry_after, "%s", ra);
    resp.body_head_len = (size_t)snprintf(resp.body_head, sizeof resp.body_head, "{\"status\":%d}", st);
    return pt_http_complete(op, PT_OK, &resp);
}
static pt_result tq_async(const pt_http_request *req, pt_http_op op, void *user) {
    tq_eng *e = (tq_eng *)user;
    char *copy = (char *)malloc(req->body_len + 1);
    int inl;
    if (!copy) return PT_ERR_NO_MEMORY;
    memcpy(copy, req->body, req->body_len);
    copy[req->body_len] = 0;
    pthread_mutex_lock(&e->mu);
    if (e->started < TQ_MAXQ) e->start_ms[e->started] = pt_now_ms();
    if (!e->started) e->first_op = op;
    e->started++;
    inl = e->inline_complete;
    if (!inl && e->nq < TQ_MAXQ) { e->q[e->nq] = op; e->body[e->nq] = copy; e->nq++; copy = NULL; }
    pthread_mutex_unlock(&e->mu);
    if (inl) e->last_complete = tq_eng_answer_one(e, op, copy);
    free(copy);
    return PT_OK;
}
static void tq_cancel(pt_http_op op, void *user) {
    tq_eng *e = (tq_eng *)user;
    pthread_mutex_lock(&e->mu);
    e->cancels++;
    e->last_cancel = op;
    pthread_mutex_unlock(&e->mu);
}
/* The engine's next frame: completes every queued request. */
static int tq_eng_frame(tq_eng *e) {
    pt_http_op ops[TQ_MAXQ];
    char *bodies[TQ_MAXQ];
    int n, i;
    pthread_mutex_lock(&e->mu);
    n = e->nq;
    memcpy(ops, e->q, (size_t)n * sizeof ops[0]);
    memcpy(bodies, e->body, (size_t)n * sizeof bodies[0]);
    e->nq = 0;
    pthread_mutex_unlock(&e->mu);
    for (i = 0; i < n; i++) {
        e->last_complete = tq_eng_answer_one(e, ops[i], bodies[i]);
        free(bodies[i]);
    }
    return n;
}
static int tq_eng_started(tq_eng *e) { int n; pthread_mutex_lock(&e->mu); n = e->started; pthread_mutex_unlock(&e->mu); return n; }
static int tq_eng_cancels(tq_eng *e) { int n; pthread_mutex_lock(&e->mu); n = e->cancels; pthread_mutex_unlock(&e->mu); return n; }

static pt_config tq_async_cfg(tq_eng *e, tq_log *l) {
    pt_config cfg = tq_cfg("http://engine.invalid");
    cfg.http_async = tq_async;
    cfg.http_cancel = tq_cancel;
    cfg.http_user = e;
    cfg.timeout_ms = 5000;
    if (l) { cfg.logger = tq_logger; cfg.logger_user = l; }
    return cfg;
}
/* Game loop: frame = pump (1 ms) then the engine's HTTP module. */
static uint64_t tq_frames_until(pt_client *cl, tq_eng *e, uint64_t want, int timeout_ms, int64_t *worst) {
    int64_t t0 = pt_now_ms();
    uint64_t got = 0;
    while ((got = tq_delivered(cl)) < want && pt_now_ms() - t0 < timeout_ms) {
        int64_t w = tq_pumps(cl, 1);
        if (worst && w > *worst) *worst = w;
        tq_eng_frame(e);
        tu_sleep_ms(1);
    }
    return got;
}

PT_TEST(pump_async_completed_on_a_later_pump) {
    tq_eng e;
    pt_config cfg;
    pt_client *cl = NULL;
    pt_close_report rep;
    int64_t worst = 0;
    tq_eng_init(&e);
    cfg = tq_async_cfg(&e, NULL);
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    PT_CHECK_EQ(tq_track(cl, 3, "later pump"), 3);
    worst = tq_pumps(cl, 5);
    PT_CHECK_EQ(tq_eng_started(&e), 1);             /* handed over once, then waited for */
    PT_CHECK_EQ(tq_delivered(cl), 0);
    PT_CHECK_EQ(tq_eng_frame(&e), 1);               /* the engine answers on its next frame */
    PT_CHECK_EQ(e.last_complete, PT_OK);
    PT_CHECK_EQ(tq_delivered(cl), 0);               /* taken by the next pump, not by the completion */
    pt_pump(cl, 1);
    PT_CHECK_EQ(tq_delivered(cl), 3);
    PT_CHECK_MSG(tq_budget_ok(worst), "longest pump %lld ms", (long long)worst);
    PT_CHECK_EQ(pt_close(cl, 1000, &rep), PT_OK);
    PT_CHECK_EQ(rep.delivered, 3);
    PT_CHECK_EQ(tq_eng_cancels(&e), 0);
    pt_client_free(cl);
    tq_eng_free(&e);
}

/* Completion inside the hook works too, also for the sync API. */
PT_TEST(pump_async_completed_inside_the_hook) {
    tq_eng e;
    pt_config cfg;
    pt_client *cl = NULL;
    pt_event ev = tu_event("inline");
    pt_error err;
    tq_eng_init(&e);
    e.inline_complete = 1;
    cfg = tq_async_cfg(&e, NULL);
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    PT_CHECK_EQ(pt_ingest(cl, &ev, &err), PT_OK);
    PT_CHECK_EQ(tq_track(cl, 4, "inline"), 4);
    PT_CHECK_EQ(pt_flush(cl, 2000), PT_OK);
    PT_CHECK_EQ(tq_delivered(cl), 4);
    PT_CHECK_EQ(tq_eng_started(&e), 2);
    PT_CHECK_EQ(pt_close(cl, 1000, NULL), PT_OK);
    pt_client_free(cl);
    tq_eng_free(&e);
}

typedef struct tq_completer { tq_eng *e; volatile int stop; int frames; } tq_completer;
static void *tq_completer_main(void *p) {
    tq_completer *k = (tq_completer *)p;
    while (!__atomic_load_n(&k->stop, __ATOMIC_SEQ_CST)) {
        if (tq_eng_frame(k->e)) k->frames++;
        tu_sleep_ms(2);
    }
    return NULL;
}
/* Threaded mode: the flush thread hands requests over, another thread
   completes them; manual mode: the same, pumps taking the completions. */
static void tq_other_thread(int manual) {
    tq_eng e;
    tq_completer k;
    pthread_t th;
    pt_config cfg;
    pt_client *cl = NULL;
    pt_close_report rep;
    int64_t worst = 0, t0;
    tq_eng_init(&e);
    cfg = tq_async_cfg(&e, NULL);
    cfg.manual_mode = manual;
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    memset(&k, 0, sizeof k);
    k.e = &e;
    PT_REQUIRE(pthread_create(&th, NULL, tq_completer_main, &k) == 0);
    PT_CHECK_EQ(tq_track(cl, 30, "other thread"), 30);
    if (manual) {
        t0 = pt_now_ms();
        while (tq_delivered(cl) < 30 && pt_now_ms() - t0 < 5000) {
            int64_t w = tq_pumps(cl, 1);
            if (w > worst) worst = w;
            tu_sleep_ms(1);
        }
        PT_CHECK_MSG(tq_budget_ok(worst), "longest pump %lld ms", (long long)worst);
    } else PT_CHECK_EQ(pt_flush(cl, 5000), PT_OK);
    PT_CHECK_EQ(tq_delivered(cl), 30);
    PT_CHECK_EQ(pt_close(cl, 1000, &rep), PT_OK);
    PT_CHECK_EQ(rep.delivered, 30);
    __atomic_store_n(&k.stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(th, NULL);
    PT_CHECK(k.frames >= 3);                        /* batches of 10: completed over there */
    pt_client_free(cl);
    tq_eng_free(&e);
}
PT_TEST(pump_async_completed_from_another_thread) { tq_other_thread(0); }
PT_TEST(pump_async_completed_from_another_thread_manual) { tq_other_thread(1); }

/* Never completed: close's deadline cuts it off and the host is told. */
static void tq_never(int manual) {
    tq_eng e;
    pt_config cfg;
    pt_client *cl = NULL;
    pt_close_report rep;
    int64_t t0, dt;
    tq_eng_init(&e);
    cfg = tq_async_cfg(&e, NULL);
    cfg.manual_mode = manual;
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    PT_CHECK_EQ(tq_track(cl, 5, "never"), 5);
    if (manual) pt_pump(cl, 1);
    t0 = pt_now_ms();
    while (tq_eng_started(&e) < 1 && pt_now_ms() - t0 < 3000) tu_sleep_ms(1);
    PT_REQUIRE(tq_eng_started(&e) == 1);
    t0 = pt_now_ms();
    PT_CHECK_EQ(pt_close(cl, 200, &rep), PT_ERR_TIMEOUT);
    dt = pt_now_ms() - t0;
    PT_CHECK_MSG(dt >= 150 && (dt < 1500 || tq_emulated()), "close took %lld ms", (long long)dt);
    PT_CHECK_EQ(rep.abandoned, 5);
    PT_CHECK_EQ(tq_eng_cancels(&e), 1);
    PT_CHECK(e.last_cancel.id == e.first_op.id);
    /* the host's completion after that is ignored safely */
    PT_CHECK_EQ(tq_eng_frame(&e), 1);
    PT_CHECK_EQ(e.last_complete, PT_ERR_CLOSED);
    pt_client_free(cl);
    tq_eng_free(&e);
}
PT_TEST(pump_async_never_completed_cancelled_at_close) { tq_never(1); }
PT_TEST(pump_async_never_completed_cancelled_at_close_threaded) { tq_never(0); }

PT_TEST(pump_async_completed_twice_second_ignored_and_logged) {
    tq_eng e;
    tq_log l;
    pt_config cfg;
    pt_client *cl = NULL;
    pt_http_response resp;
    pt_close_report rep;
    pt_http_op op;
    tq_eng_init(&e);
    memset(&l, 0, sizeof l);
    pthread_mutex_init(&l.mu, NULL);
    cfg = tq_async_cfg(&e, &l);
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    PT_CHECK_EQ(tq_track(cl, 2, "twice"), 2);
    pt_pump(cl, 1);
    PT_REQUIRE(tq_eng_started(&e) == 1);
    op = e.first_op;
    PT_CHECK_EQ(tq_eng_frame(&e), 1);
    PT_CHECK_EQ(e.last_complete, PT_OK);
    memset(&resp, 0, sizeof resp);
    resp.status = 500;                               /* would make it a retry if it counted */
    PT_CHECK_EQ(pt_http_complete(op, PT_OK, &resp), PT_ERR_INVALID_ARG);
    pt_pump(cl, 1);
    PT_CHECK_EQ(tq_delivered(cl), 2);
    PT_CHECK_EQ(pt_http_complete(op, PT_OK, &resp), PT_ERR_INVALID_ARG);   /* also after it was taken */
    pt_pump(cl, 1);
    PT_CHECK_MSG(tq_log_has(&l, "called again"), "log: %s", l.text);
    PT_CHECK_EQ(tq_eng_started(&e), 1);              /* no retry came of it */
    PT_CHECK_EQ(pt_close(cl, 1000, &rep), PT_OK);
    PT_CHECK_EQ(rep.delivered, 2);
    PT_CHECK_EQ(pt_http_complete(op, PT_OK, &resp), PT_ERR_CLOSED);        /* and after close */
    pt_client_free(cl);
    tq_eng_free(&e);
    pthread_mutex_destroy(&l.mu);
}

/* A completion after close is ignored (no crash, no write into freed
   memory: run under ASan/valgrind), also for a handle that never existed. */
PT_TEST(pump_async_completion_after_close_ignored) {
    tq_eng e;
    pt_config cfg;
    pt_client *cl = NULL;
    pt_http_op bogus;
    tq_eng_init(&e);
    cfg = tq_async_cfg(&e, NULL);
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    PT_CHECK_EQ(tq_track(cl, 3, "after close"), 3);
    pt_pump(cl, 1);
    PT_REQUIRE(tq_eng_started(&e) == 1);
    PT_CHECK_EQ(pt_close(cl, 0, NULL), PT_ERR_TIMEOUT);
    pt_client_free(cl);
    PT_CHECK_EQ(tq_eng_cancels(&e), 1);
    PT_CHECK_EQ(tq_eng_frame(&e), 1);
    PT_CHECK_EQ(e.last_complete, PT_ERR_CLOSED);
    bogus.id = 0;
    PT_CHECK_EQ(pt_http_complete(bogus, PT_OK, NULL), PT_ERR_INVALID_ARG);
    bogus.id = ((uint64_t)12345 << 16) | 7;
    PT_CHECK_EQ(pt_http_complete(bogus, PT_OK, NULL), PT_ERR_INVALID_ARG);
    tq_eng_free(&e);
}

/* timeout_ms passes without a completion: the host is told, the batch is
   retried, and the late completion is ignored and logged. */
PT_TEST(pump_async_completion_after_cutoff_ignored) {
    tq_eng e;
    tq_log l;
    pt_config cfg;
    pt_client *cl = NULL;
    pt_http_op first;
    int64_t t0, worst = 0;
    tq_eng_init(&e);
    memset(&l, 0, sizeof l);
    pthread_mutex_init(&l.mu, NULL);
    cfg = tq_async_cfg(&e, &l);
    cfg.timeout_ms = 100;
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    PT_CHECK_EQ(tq_track(cl, 3, "cut off"), 3);
    t0 = pt_now_ms();
    while (tq_eng_cancels(&e) < 1 && pt_now_ms() - t0 < 3000) { int64_t w = tq_pumps(cl, 1); if (w > worst) worst = w; tu_sleep_ms(1); }
    PT_REQUIRE(tq_eng_cancels(&e) == 1);
    first = e.first_op;
    PT_CHECK(e.last_cancel.id == first.id);
    PT_CHECK_EQ(tq_eng_frame(&e) >= 1, 1);           /* answers the cut-off one (and a retry, if started) */
    PT_CHECK_EQ(tq_frames_until(cl, &e, 3, 3000, &worst), 3);
    PT_CHECK_MSG(tq_log_has(&l, "already cut off"), "log: %s", l.text);
    PT_CHECK_MSG(tq_budget_ok(worst), "longest pump %lld ms", (long long)worst);
    PT_CHECK_EQ(pt_close(cl, 1000, NULL), PT_OK);
    pt_client_free(cl);
    tq_eng_free(&e);
    pthread_mutex_destroy(&l.mu);
}

/* The retry machinery above the async hook: 503s, Retry-After, a reset
   (network error), and 413 bisection. */
PT_TEST(pump_async_fault_matrix) {
    tq_eng e;
    pt_config cfg;
    pt_client *cl = NULL;
    pt_client_stats st;
    pt_close_report rep;
    int64_t gap;
    pt_event ev;
    int i;
    /* two 503s, then accepted */
    tq_eng_init(&e);
    e.script[0] = 503; e.script[1] = 503; e.nscript = 2;
    cfg = tq_async_cfg(&e, NULL);
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    PT_CHECK_EQ(tq_track(cl, 5, "503s"), 5);
    PT_CHECK_EQ(tq_frames_until(cl, &e, 5, 5000, NULL), 5);
    PT_CHECK_EQ(tq_eng_started(&e), 3);
    PT_REQUIRE(pt_stats(cl, &st) == PT_OK);
    PT_CHECK_EQ(st.retried_requests, 2);
    PT_CHECK_EQ(st.requests_failed, 2);
    PT_CHECK_EQ(pt_close(cl, 1000, NULL), PT_OK);
    pt_client_free(cl);
    tq_eng_free(&e);
    /* 503 with Retry-After: 1 -> the next try waits a second (backoff alone: ~5 ms) */
    tq_eng_init(&e);
    e.script[0] = 503; e.retry_after[0] = "1"; e.nscript = 1;
    cfg = tq_async_cfg(&e, NULL);
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    PT_CHECK_EQ(tq_track(cl, 5, "retry-after"), 5);
    PT_CHECK_EQ(tq_frames_until(cl, &e, 5, 5000, NULL), 5);
    PT_REQUIRE(tq_eng_started(&e) == 2);
    gap = e.start_ms[1] - e.start_ms[0];
    PT_CHECK_MSG(gap >= 900 && gap < 3000, "second try after %lld ms", (long long)gap);
    PT_CHECK_EQ(pt_close(cl, 1000, NULL), PT_OK);
    pt_client_free(cl);
    tq_eng_free(&e);
    /* a reset: the host reports PT_ERR_NETWORK; retried, delivered */
    tq_eng_init(&e);
    e.script[0] = -1; e.nscript = 1;
    cfg = tq_async_cfg(&e, NULL);
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    PT_CHECK_EQ(tq_track(cl, 5, "reset"), 5);
    PT_CHECK_EQ(tq_frames_until(cl, &e, 5, 5000, NULL), 5);
    PT_REQUIRE(pt_stats(cl, &st) == PT_OK);
    PT_CHECK_EQ(st.requests_failed, 1);
    PT_CHECK_EQ(st.last_error, PT_ERR_NETWORK);
    PT_CHECK(strstr(st.last_error_message, "connection reset") != NULL);
    PT_CHECK_EQ(pt_close(cl, 1000, NULL), PT_OK);
    pt_client_free(cl);
    tq_eng_free(&e);
    /* 413 for any request holding the poison event: bisection isolates it */
    tq_eng_init(&e);
    e.poison_413 = 1;
    cfg = tq_async_cfg(&e, NULL);
    cfg.batch_size = 8;
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    for (i = 0; i < 8; i++) {
        ev = tu_event(i == 5 ? "poison" : "fine");
        PT_CHECK_EQ(pt_track(cl, &ev), PT_OK);
    }
    PT_CHECK_EQ(tq_frames_until(cl, &e, 7, 5000, NULL), 7);
    PT_CHECK_EQ(pt_close(cl, 1000, &rep), PT_OK);
    PT_CHECK_EQ(rep.delivered, 7);
    PT_CHECK_EQ(rep.failed_oversize, 1);
    PT_CHECK(tq_eng_started(&e) >= 4);               /* 8 -> 4 -> 2 -> 1, plus the good halves */
    pt_client_free(cl);
    tq_eng_free(&e);
}

static pt_result th_fail_hook_for_pump(const pt_http_request *req, pt_http_response *resp, void *user) {
    (void)req; (void)resp; (void)user;
    return PT_ERR_NETWORK;
}
/* http and http_async together, or http_cancel alone, are configuration errors. */
PT_TEST(pump_async_config_checks) {
    tq_eng e;
    pt_config cfg;
    pt_client *cl = NULL;
    pt_error err;
    tq_eng_init(&e);
    cfg = tq_async_cfg(&e, NULL);
    cfg.http = th_fail_hook_for_pump;
    PT_CHECK_EQ(pt_client_new(&cfg, &cl, &err), PT_ERR_CONFIG);
    PT_CHECK(strstr(err.message, "http_async") != NULL);
    cfg = tq_async_cfg(&e, NULL);
    cfg.http_async = NULL;
    PT_CHECK_EQ(pt_client_new(&cfg, &cl, &err), PT_ERR_CONFIG);
    PT_CHECK(strstr(err.message, "http_cancel") != NULL);
    cfg = tq_async_cfg(&e, NULL);
    cfg.base_url = "https://engine.invalid";         /* TLS is the host's business */
    PT_CHECK_EQ(pt_client_new(&cfg, &cl, &err), PT_OK);
    pt_close(cl, 0, NULL);
    pt_client_free(cl);
    tq_eng_free(&e);
}

static const pt_test_case pump_tests[] = {
    PT_CASE(pump_budget_refusing_server),
    PT_CASE(pump_budget_stalling_server),
    PT_CASE(pump_budget_drip_feeding_server),
    PT_CASE(pump_budget_resetting_server),
    PT_CASE(pump_budget_hanging_resolver),
    PT_CASE(pump_flush_keeps_deadline_and_request_continues),
    PT_CASE(pump_delivers_every_framing_and_survives_stale_connections),
    PT_CASE(pump_async_completed_on_a_later_pump),
    PT_CASE(pump_async_completed_inside_the_hook),
    PT_CASE(pump_async_completed_from_another_thread),
    PT_CASE(pump_async_completed_from_another_thread_manual),
    PT_CASE(pump_async_never_completed_cancelled_at_close),
    PT_CASE(pump_async_never_completed_cancelled_at_close_threaded),
    PT_CASE(pump_async_completed_twice_second_ignored_and_logged),
    PT_CASE(pump_async_completion_after_close_ignored),
    PT_CASE(pump_async_completion_after_cutoff_ignored),
    PT_CASE(pump_async_fault_matrix),
    PT_CASE(pump_async_config_checks),
};
