/* schedule tests: what the async pipeline does between attempts, measured
   at the test server from the time each request arrived (pts_request_time).
   Each test is aimed at one plausible one-line bug (tests/mutants/ holds the
   mutant that proves it): the breaker's threshold, the backoff's doubling and
   its cap, jitter, the Retry-After cap, the queue's byte bound, the oversize
   count of a single event answered 413, and a forked child's own UUID stream.
   Bounds are loose (a loaded machine only makes waits longer): lower bounds
   are the configured waits less a few ms, upper bounds leave hundreds of ms.
   Uses the helpers of test_pipeline.c (included before this file). */

/* Gap between the arrivals of requests i and i + 1 at the server (ms); -1 if either is missing. */
static long long tsch_gap(pts_server *s, int i) {
    long long a = pts_request_time(s, i), b = pts_request_time(s, i + 1);
    return a < 0 || b < 0 ? -1 : b - a;
}

/* A client whose one event draws `fails` answers of 503 (Retry-After `ra`
   on each, if not NULL), then 200; returns once it is delivered (by the
   flush thread on its own: nobody waits in pt_flush meanwhile). */
static void tsch_fail_then_ok(pts_server *s, pt_config *cfg, int fails, const char *ra) {
    pts_action a[16];
    pt_client *cl;
    pt_close_report rep;
    int i;
    memset(a, 0, sizeof a);
    for (i = 0; i < fails && i < 16; i++) { a[i].status = 503; a[i].retry_after = ra; }
    pts_script(s, a, fails);
    cl = tp_client(cfg);
    PT_REQUIRE(cl);
    PT_CHECK_EQ(tp_track(cl, "sc", 0), PT_OK);
    /* wait at the server, not in pt_flush: a flush pushes (its own shorter
       backoff), and this measures the flush thread's ordinary schedule */
    PT_CHECK(pts_wait_events(s, 1, 20000));
    PT_CHECK_EQ(pts_request_count(s), fails + 1);
    PT_CHECK_EQ(pt_close(cl, 5000, &rep), PT_OK);
    PT_CHECK_EQ(rep.delivered, 1);
    pt_client_free(cl);
}

/* Without jitter the waits are base, 2 base, 4 base, ... capped at backoff_max_ms. */
PT_TEST(pipeline_backoff_doubles_then_caps) {
    pts_server *s = pts_start();
    pt_config cfg;
    long long g[6];
    int i;
    PT_REQUIRE(s);
    cfg = tp_cfg(s, 0);
    cfg.disable_jitter = 1;
    cfg.backoff_base_ms = 50;
    cfg.backoff_max_ms = 200;
    cfg.breaker_threshold = 100;       /* the breaker stays out of this schedule */
    tsch_fail_then_ok(s, &cfg, 6, NULL);
    for (i = 0; i < 6; i++) g[i] = tsch_gap(s, i);
    fprintf(stderr, "      gaps: %lld %lld %lld %lld %lld %lld ms (want 50 100 200 200 200 200)\n", g[0], g[1], g[2], g[3], g[4], g[5]);
    /* it backs off, and doubles */
    PT_CHECK_MSG(g[0] >= 45, "first retry after %lld ms, want >= 50", g[0]);
    PT_CHECK_MSG(g[1] >= 95, "second retry after %lld ms, want >= 100", g[1]);
    PT_CHECK_MSG(g[2] >= 190, "third retry after %lld ms, want >= 200", g[2]);
    /* and stops at backoff_max_ms: 600 ms for the last three (a cap ignored
       or multiplied by 4 gives 400 + 800 + 800) */
    PT_CHECK(g[3] >= 190 && g[4] >= 190 && g[5] >= 190);
    PT_CHECK_MSG(g[3] + g[4] + g[5] < 1200, "capped retries took %lld ms, want about 600", g[3] + g[4] + g[5]);
    pts_stop(s);
}

/* Full jitter: each wait is uniform in [0, backoff]; with base = cap = 200 ms,
   ten waits all >= 120 ms happen with odds 0.4^10 (1e-4) if jitter works,
   always if it does not. */
PT_TEST(pipeline_backoff_jitter_spreads_waits) {
    pts_server *s = pts_start();
    pt_config cfg;
    long long g, lo = 1000000, hi = 0;
    int i, short_gaps = 0;
    PT_REQUIRE(s);
    cfg = tp_cfg(s, 0);
    cfg.disable_jitter = 0;
    cfg.backoff_base_ms = 200;
    cfg.backoff_max_ms = 200;
    cfg.breaker_threshold = 100;
    tsch_fail_then_ok(s, &cfg, 10, NULL);
    for (i = 0; i < 10; i++) {
        g = tsch_gap(s, i);
        PT_CHECK(g >= 0);
        if (g < 120) short_gaps++;
        if (g < lo) lo = g;
        if (g > hi) hi = g;
    }
    fprintf(stderr, "      jittered gaps: min %lld, max %lld ms, %d of 10 below 120 ms\n", lo, hi, short_gaps);
    PT_CHECK_MSG(short_gaps >= 1, "no wait below 120 ms in 10 (min %lld): jitter not applied?", lo);
    PT_CHECK_MSG(hi < 200 + 800, "a jittered wait took %lld ms (cap 200)", hi);
    pts_stop(s);
}

/* The breaker opens after breaker_threshold consecutive failures, not before.
   Its first open interval is the current backoff (so the schedule alone
   cannot show it): manual mode, and pt_health's breaker state after each
   failed request. */
PT_TEST(pipeline_breaker_opens_at_threshold) {
    pts_server *s = pts_start();
    pts_action fail;
    pt_config cfg;
    pt_client *cl;
    pt_breaker_state seen[4];
    int k;
    PT_REQUIRE(s);
    memset(&fail, 0, sizeof fail);
    fail.status = 503;
    pts_set_default(s, &fail);
    cfg = tp_cfg(s, 1);
    cfg.breaker_threshold = 3;
    cfg.breaker_cooldown_ms = 700;
    cfg.backoff_base_ms = 5;
    cfg.backoff_max_ms = 20;
    cfg.disable_jitter = 1;
    cl = tp_client(&cfg);
    PT_REQUIRE(cl);
    PT_CHECK_EQ(tp_track(cl, "bt", 0), PT_OK);
    for (k = 1; k <= 4; k++) {   /* the state once the k-th failure is counted (a pump sends at most one request) */
        int64_t end = pt_now_ms() + 5000;
        while (tp_stats(cl).requests_failed < (uint64_t)k && pt_now_ms() < end) { pt_pump(cl, 0); tu_sleep_ms(1); }
        PT_CHECK_EQ(tp_stats(cl).requests_failed, k);
        seen[k - 1] = tp_breaker(cl);
    }
    fprintf(stderr, "      breaker after failures 1-4: %d %d %d %d (0 closed, 1 open)\n", (int)seen[0], (int)seen[1], (int)seen[2], (int)seen[3]);
    PT_CHECK_MSG(seen[0] == PT_BREAKER_CLOSED && seen[1] == PT_BREAKER_CLOSED, "open before the threshold of 3");
    PT_CHECK_MSG(seen[2] == PT_BREAKER_OPEN && seen[3] == PT_BREAKER_OPEN, "not open at the threshold of 3");
    pts_set_default(s, NULL);
    PT_CHECK_EQ(pt_flush(cl, 5000), PT_OK);
    PT_CHECK_EQ(pt_close(cl, 5000, NULL), PT_OK);
    pt_client_free(cl);
    pts_stop(s);
}

/* The pipeline caps a server's Retry-After at retry_after_max_ms (as the sync path does). */
PT_TEST(pipeline_retry_after_capped) {
    pts_server *s = pts_start();
    pt_config cfg;
    long long g;
    PT_REQUIRE(s);
    cfg = tp_cfg(s, 0);
    cfg.retry_after_max_ms = 300;
    cfg.backoff_base_ms = 5;
    cfg.backoff_max_ms = 20;
    tsch_fail_then_ok(s, &cfg, 1, "5");
    g = tsch_gap(s, 0);
    fprintf(stderr, "      Retry-After: 5 capped at 300 ms: retried after %lld ms\n", g);
    PT_CHECK_MSG(g >= 290, "retried after %lld ms, before the (capped) Retry-After", g);
    PT_CHECK_MSG(g < 2500, "retried after %lld ms: Retry-After not capped at 300 ms", g);
    pts_stop(s);
}

/* queue_max_bytes bounds the bytes queued or in flight (not only the count). */
PT_TEST(pipeline_queue_max_bytes_bound) {
    pts_server *s = pts_start();
    pt_config cfg;
    pt_client *cl;
    pt_client_stats st;
    pt_close_report rep;
    int i, ok = 0, full = 0, other = 0;
    PT_REQUIRE(s);
    pts_set_stall(s, 1);                /* the first batch stays in flight */
    cfg = tp_cfg(s, 0);
    cfg.queue_max_bytes = 8192;
    cfg.queue_capacity = 10000;
    cfg.batch_size = 1000;
    cfg.flush_interval_ms = 60000;
    cl = tp_client(&cfg);
    PT_REQUIRE(cl);
    for (i = 0; i < 100; i++) {        /* ~300 bytes each: ~30 KB offered */
        pt_result r = tp_track(cl, "qb", i);
        if (r == PT_OK) ok++;
        else if (r == PT_ERR_QUEUE_FULL) full++;
        else other++;
    }
    st = tp_stats(cl);
    fprintf(stderr, "      queue_max_bytes 8192: %d accepted, %d refused, %llu bytes held\n", ok, full, (unsigned long long)st.queue_bytes);
    PT_CHECK(st.queue_bytes <= 8192);
    PT_CHECK(full > 0);
    PT_CHECK(ok > 0);
    PT_CHECK_EQ(other, 0);
    PT_CHECK_EQ(st.dropped, (uint64_t)full);
    pts_set_stall(s, 0);
    PT_CHECK_EQ(pt_close(cl, 10000, &rep), PT_OK);
    PT_CHECK_EQ(rep.delivered, (uint64_t)ok);
    PT_CHECK_EQ(rep.dropped_queue_full, (uint64_t)full);
    pt_client_free(cl);
    pts_stop(s);
}

/* A batch of one event that the server answers 413 is "oversize", not "rejected";
   in a batch of two the 413 is bisected to the big one. */
PT_TEST(pipeline_single_event_413_is_oversize) {
    pts_server *s = pts_start();
    pt_config cfg;
    pt_client *cl;
    pt_close_report rep;
    pt_client_stats st;
    char big[2048];
    pt_event ev = tu_event("small");
    PT_REQUIRE(s);
    pts_set_max_body(s, 1500, 413);
    cfg = tp_cfg(s, 0);
    cfg.batch_size = 2;
    cfg.flush_interval_ms = 60000;
    cl = tp_client(&cfg);
    PT_REQUIRE(cl);
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    ev.idempotency_key = "ov-small";
    PT_CHECK_EQ(pt_track(cl, &ev), PT_OK);
    ev.idempotency_key = "ov-big";
    ev.message = big;
    PT_CHECK_EQ(pt_track(cl, &ev), PT_OK);
    PT_CHECK_EQ(pt_flush(cl, 10000), PT_OK);
    st = tp_stats(cl);
    PT_CHECK_EQ(st.delivered, 1);
    PT_CHECK_EQ(st.failed, 1);
    /* a lone event */
    PT_CHECK_EQ(pt_track(cl, &ev), PT_OK);
    PT_CHECK_EQ(pt_close(cl, 10000, &rep), PT_OK);
    PT_CHECK_EQ(rep.delivered, 1);
    PT_CHECK_EQ(rep.failed_oversize, 2);
    PT_CHECK_EQ(rep.failed_rejected, 0);
    PT_CHECK_EQ(pts_key_count(s, "ov-small"), 1);
    PT_CHECK_EQ(pts_key_count(s, "ov-big"), 0);
    pt_client_free(cl);
    pts_stop(s);
}

/* After a real fork, parent and child draw different event keys and request
   (Idempotency-Key) keys: the child does not replay the parent's UUID stream. */
PT_TEST(pipeline_fork_child_keys_differ) {
#if defined(_WIN32)
    PT_SKIP("fork() does not exist on Windows");
#else
    pts_server *s = pts_start();
    pt_config cfg;
    pt_client *cl;
    pid_t pid;
    int i, status = 0, exited = 0, nreq, dup_req = 0;
    int64_t t0;
    char (*keys)[64];
    pt_event ev = tu_event("keyless");          /* no idempotency_key: the library makes one */
    PT_REQUIRE(s);
    cfg = tp_cfg(s, 0);
    cfg.batch_size = 5;
    cl = tp_client(&cfg);
    PT_REQUIRE(cl);
    PT_CHECK_EQ(pt_track(cl, &ev), PT_OK);     /* the parent's stream is in use before the fork */
    PT_CHECK_EQ(pt_flush(cl, 5000), PT_OK);
    fflush(stdout); fflush(stderr);
    pid = fork();
    if (pid == 0) {
        int bad = 0;
        alarm(20);
        for (i = 0; i < 5; i++) if (pt_track(cl, &ev) != PT_OK) bad |= 1;
        if (pt_close(cl, 10000, NULL) != PT_OK) bad |= 2;
        _exit(bad);
    }
    PT_REQUIRE(pid > 0);
    t0 = pt_now_ms();
    while (tp_since(t0) < 25000) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) { exited = 1; break; }
        if (w < 0 && errno != EINTR) break;
        tu_sleep_ms(10);
    }
    if (!exited) { kill(pid, SIGKILL); waitpid(pid, &status, 0); }
    PT_CHECK(exited);
    PT_CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
    for (i = 0; i < 5; i++) PT_CHECK_EQ(pt_track(cl, &ev), PT_OK);   /* the parent's next 5 keys */
    PT_CHECK_EQ(pt_close(cl, 10000, NULL), PT_OK);
    PT_CHECK_EQ(pts_events_received(s), 11);
    PT_CHECK_MSG(pts_distinct_keys(s) == 11, "%ld distinct event keys in 11 events", pts_distinct_keys(s));
    PT_CHECK_EQ(pts_duplicate_events(s), 0);
    nreq = pts_request_count(s);
    PT_CHECK(nreq >= 3);
    keys = (char (*)[64])calloc((size_t)(nreq > 0 ? nreq : 1), sizeof *keys);
    PT_REQUIRE(keys);
    for (i = 0; i < nreq; i++) {
        pts_request r;
        int j;
        if (pts_get_request(s, i, &r) != 0) continue;
        if (!pts_header(&r, "Idempotency-Key", keys[i], sizeof keys[i])) keys[i][0] = 0;
        pts_request_free(&r);
        for (j = 0; j < i; j++) if (keys[i][0] && strcmp(keys[i], keys[j]) == 0) dup_req++;
    }
    PT_CHECK_MSG(dup_req == 0, "%d request keys repeated across parent and child", dup_req);
    free(keys);
    pt_client_free(cl);
    pts_stop(s);
#endif
}

static const pt_test_case schedule_tests[] = {
    PT_CASE(pipeline_backoff_doubles_then_caps),
    PT_CASE(pipeline_backoff_jitter_spreads_waits),
    PT_CASE(pipeline_breaker_opens_at_threshold),
    PT_CASE(pipeline_retry_after_capped),
    PT_CASE(pipeline_queue_max_bytes_bound),
    PT_CASE(pipeline_single_event_413_is_oversize),
    PT_CASE(pipeline_fork_child_keys_differ),
};
