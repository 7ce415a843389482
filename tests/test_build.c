/* Build switches (PACKTRACK_NO_THREADS / NO_SOCKETS / NO_SPOOL / NO_DEFLATE):
   what a build without a part refuses, and that a build with it accepts the
   same configuration. Each test checks the side its build is on, so the
   default build runs them too; the mutants in tests/mutants/build_*.mut
   build the runner with the switch (`build:`). The whole no-OS core is
   tested by tests/wasm/test_wasm.c (natively: tests/nm_check.sh; under node:
   tests/wasm/run.sh). */

typedef struct tb_sink { int requests, events; } tb_sink;
static pt_result tb_http(const pt_http_request *req, pt_http_response *resp, void *user) {
    tb_sink *s = (tb_sink *)user;
    static const char pat[] = "\"idempotency_key\"";
    const char *b = (const char *)req->body;
    size_t i;
    s->requests++;
    for (i = 0; i + sizeof pat - 1 <= req->body_len; i++) if (memcmp(b + i, pat, sizeof pat - 1) == 0) s->events++;
    resp->status = 200;
    return PT_OK;
}
static pt_result tb_gzip(const void *in, size_t n, void *out, size_t cap, size_t *out_len, void *user) {
    (void)in; (void)n; (void)out; (void)cap; (void)out_len; (void)user;
    return PT_ERR_COMPRESSION;   /* never asked in these tests: bodies stay small */
}

PT_TEST(build_switch_no_sockets_needs_http_hook) {
    pt_config cfg = tu_config("http://127.0.0.1:9");
    pt_client *cl = NULL;
    pt_error err;
    pt_result r = pt_client_new(&cfg, &cl, &err);
#if defined(PACKTRACK_NO_SOCKETS)
    PT_CHECK_EQ(r, PT_ERR_CONFIG);
    PT_CHECK(cl == NULL);
    PT_CHECK_MSG(strstr(err.message, "PACKTRACK_NO_SOCKETS") && strstr(err.message, "cfg.http"), "%s", err.message);
#else
    PT_CHECK_EQ(r, PT_OK);       /* the built-in client serves it */
#endif
    pt_client_free(cl); cl = NULL;
    {   /* with a hook, every build takes it and delivers through it */
        tb_sink s = {0, 0};
        pt_event ev = tu_event("via hook");
        cfg.http = tb_http; cfg.http_user = &s;
        PT_REQUIRE(pt_client_new(&cfg, &cl, &err) == PT_OK);
        PT_CHECK_EQ(pt_track(cl, &ev), PT_OK);
        PT_CHECK_EQ(pt_flush(cl, 5000), PT_OK);
        PT_CHECK_EQ(s.events, 1);
        pt_client_free(cl);
    }
}

PT_TEST(build_switch_no_spool_refuses_spool_dir) {
    tb_sink s = {0, 0};
    pt_config cfg = tu_config("http://127.0.0.1:9");
    pt_client *cl = NULL;
    pt_error err;
    char dir[256];
    pt_result r;
    snprintf(dir, sizeof dir, "/tmp/pt-build-switch-%d", (int)getpid());
    cfg.http = tb_http; cfg.http_user = &s;
    cfg.spool_dir = dir;
    r = pt_client_new(&cfg, &cl, &err);
#if defined(PACKTRACK_NO_SPOOL)
    PT_CHECK_EQ(r, PT_ERR_CONFIG);
    PT_CHECK(cl == NULL);
    PT_CHECK_MSG(strstr(err.message, "PACKTRACK_NO_SPOOL") && strstr(err.message, "spool_dir"), "%s", err.message);
#else
    PT_CHECK_EQ(r, PT_OK);
    pt_client_free(cl);
    {   /* leave nothing behind */
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        PT_CHECK(system(cmd) == 0);
    }
#endif
}

PT_TEST(build_switch_no_deflate_gzip_needs_an_encoder) {
    tb_sink s = {0, 0};
    pt_config cfg = tu_config("http://127.0.0.1:9");
    pt_client *cl = NULL;
    pt_error err;
    pt_result r;
    cfg.http = tb_http; cfg.http_user = &s;
    cfg.enable_gzip = 1;
    r = pt_client_new(&cfg, &cl, &err);
#if defined(PACKTRACK_NO_DEFLATE) && !defined(PACKTRACK_USE_ZLIB) && !defined(PACKTRACK_USE_LIBDEFLATE)
    PT_CHECK_EQ(r, PT_ERR_CONFIG);
    PT_CHECK(cl == NULL);
    PT_CHECK_MSG(strstr(err.message, "PACKTRACK_NO_DEFLATE") && strstr(err.message, "cfg.gzip"), "%s", err.message);
#else
    PT_CHECK_EQ(r, PT_OK);
    pt_client_free(cl); cl = NULL;
#endif
    cfg.gzip = tb_gzip;          /* a gzip hook is an encoder in every build */
    PT_CHECK_EQ(pt_client_new(&cfg, &cl, &err), PT_OK);
    pt_client_free(cl);
}

PT_TEST(build_switch_no_threads_pumps_on_the_caller) {
    tb_sink s = {0, 0};
    pt_config cfg = tu_config("http://127.0.0.1:9");
    pt_client *cl = NULL;
    pt_event ev = tu_event("pumped");
    int64_t end;
    cfg.http = tb_http; cfg.http_user = &s;
    cfg.flush_interval_ms = 1;
#if !defined(PACKTRACK_NO_THREADS)
    cfg.manual_mode = 1;         /* the same behaviour, asked for */
#endif
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    PT_CHECK_EQ(pt_client_config(cl)->manual_mode, 1);
    PT_CHECK_EQ(pt_track(cl, &ev), PT_OK);
    tu_sleep_ms(20);
    PT_CHECK_EQ(s.requests, 0);  /* no thread: nothing moves until the caller pumps */
    end = pt_now_ms() + 3000;
    while (s.events < 1 && pt_now_ms() < end) pt_pump(cl, 5);
    PT_CHECK_EQ(s.events, 1);
    pt_client_free(cl);
}

static const pt_test_case build_tests[] = {
    PT_CASE(build_switch_no_sockets_needs_http_hook),
    PT_CASE(build_switch_no_spool_refuses_spool_dir),
    PT_CASE(build_switch_no_deflate_gzip_needs_an_encoder),
    PT_CASE(build_switch_no_threads_pumps_on_the_caller),
};
