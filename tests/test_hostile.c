/* Hostile servers (issue "Hardening", item 5): random bytes, endless or
   partial headers, huge Content-Length, overflowing chunk sizes, one byte per
   second, endless bodies. No crash, bounded memory, every timeout respected. */

static long th_rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) if (!strncmp(line, "VmRSS:", 6)) v = atol(line + 6);
    fclose(f);
    return v;
}

typedef struct th_case { pts_mode mode; int drip_ms; int accepted; const char *name; } th_case;
static const th_case th_cases[] = {
    { PTS_MODE_RANDOM_BYTES, 0, 0, "random bytes" },
    { PTS_MODE_ENDLESS_HEADERS, 0, 0, "endless headers" },
    { PTS_MODE_HUGE_CONTENT_LENGTH, 0, 0, "huge content-length" },
    { PTS_MODE_CHUNK_OVERFLOW, 0, 1, "chunk size overflow" },
    { PTS_MODE_SLOW_DRIP, 1000, 0, "one byte per second" },
    { PTS_MODE_HUGE_BODY, 0, 1, "1 GiB body" },
    { PTS_MODE_HUGE_BODY_CHUNKED, 0, 1, "endless chunked body" },
    { PTS_MODE_MALFORMED, 0, 0, "garbage status line" },
    { PTS_MODE_RESET_MID, 0, 0, "reset mid-response" },
    { PTS_MODE_CLOSE_NO_RESPONSE, 0, 0, "close without answer" },
};

PT_TEST(hostile_sync_each_mode_bounded) {
    pts_server *s = pts_start();
    size_t i;
    PT_REQUIRE(s);
    for (i = 0; i < sizeof th_cases / sizeof th_cases[0]; i++) {
        pt_config cfg = tu_config(pts_url(s));
        pt_client *c = NULL;
        pt_error err;
        pt_event ev = tu_event("hostile");
        pts_action a;
        int64_t t0, dt;
        pt_result r;
        memset(&a, 0, sizeof a);
        a.mode = th_cases[i].mode; a.drip_ms = th_cases[i].drip_ms;
        pts_reset(s);
        pts_set_default(s, &a);
        cfg.timeout_ms = 500;
        cfg.max_retries = 1;
        PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
        t0 = pt_now_ms();
        r = pt_ingest(c, &ev, &err);
        dt = pt_now_ms() - t0;
        if (th_cases[i].accepted) PT_CHECK_MSG(r == PT_OK, "%s: %s", th_cases[i].name, err.message);
        else PT_CHECK_MSG(r != PT_OK && err.message[0], "%s: got %s", th_cases[i].name, pt_strerror(r));
        /* two attempts at most, each bounded by timeout_ms, plus backoff */
        PT_CHECK_MSG(dt < 2 * 500 + 400, "%s took %lld ms", th_cases[i].name, (long long)dt);
        pt_close(c, 200, NULL);
        pt_client_free(c);
    }
    pts_stop(s);
}

PT_TEST(hostile_async_close_deadline_respected) {
    pts_server *s = pts_start();
    size_t i;
    PT_REQUIRE(s);
    for (i = 0; i < sizeof th_cases / sizeof th_cases[0]; i++) {
        pt_config cfg = tu_config(pts_url(s));
        pt_client *c = NULL;
        pt_close_report rep;
        pt_event ev = tu_event("hostile async");
        pts_action a;
        int64_t t0, dt;
        int k;
        if (th_cases[i].accepted) continue;
        memset(&a, 0, sizeof a);
        a.mode = th_cases[i].mode; a.drip_ms = th_cases[i].drip_ms;
        pts_reset(s);
        pts_set_default(s, &a);
        cfg.timeout_ms = 5000;            /* longer than the close deadline */
        cfg.flush_interval_ms = 10;
        PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
        for (k = 0; k < 200; k++) PT_CHECK_EQ(pt_track(c, &ev), PT_OK);
        PT_CHECK(pts_wait_requests(s, 1, 5000));   /* a request is stuck in the server's hands */
        t0 = pt_now_ms();
        pt_close(c, 300, &rep);
        dt = pt_now_ms() - t0;
        PT_CHECK_MSG(dt < 300 + 50, "%s: close took %lld ms", th_cases[i].name, (long long)dt);
        PT_CHECK_EQ(rep.tracked, 200);
        PT_CHECK_EQ(rep.delivered + rep.failed_rejected + rep.failed_exhausted + rep.failed_oversize
                    + rep.dropped_queue_full + rep.dropped_sampled + rep.abandoned + rep.spooled, rep.tracked);
        pt_client_free(c);
    }
    pts_stop(s);
}

PT_TEST(hostile_memory_stays_bounded) {
    pts_server *s = pts_start();
    pt_config cfg;
    pt_client *c = NULL;
    pt_error err;
    pt_event ev = tu_event("big answers");
    pts_action a;
    long r0, r1;
    int i;
    PT_REQUIRE(s);
    memset(&a, 0, sizeof a);
    a.mode = PTS_MODE_HUGE_BODY;
    a.huge_bytes = (long long)1 << 30;
    pts_set_default(s, &a);
    cfg = tu_config(pts_url(s));
    cfg.max_retries = PT_RETRIES_NONE;
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    PT_CHECK_EQ(pt_ingest(c, &ev, &err), PT_OK);
    r0 = th_rss_kb();
    for (i = 0; i < 30; i++) PT_CHECK_EQ(pt_ingest(c, &ev, &err), PT_OK);
    r1 = th_rss_kb();
    /* 30 GiB were offered; the client reads at most 64 KiB of each */
    PT_CHECK_MSG(r1 - r0 < 4096, "RSS grew %ld KiB", r1 - r0);
    pt_close(c, 200, NULL); pt_client_free(c);
    pts_stop(s);
}

static const pt_test_case hostile_tests[] = {
    PT_CASE(hostile_sync_each_mode_bounded),
    PT_CASE(hostile_async_close_deadline_respected),
    PT_CASE(hostile_memory_stays_bounded),
};
