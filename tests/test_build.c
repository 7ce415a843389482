/* Build switches (PACKTRACK_NO_THREADS / NO_SOCKETS / NO_SPOOL / NO_DEFLATE,
   and the footprint switches NO_SYNC_API / NO_ENV / NO_PROMETHEUS / NO_STEPS /
   NO_TRACK_JSON / NO_RAW_JSON / NO_DEFAULTS):
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

/* a logger that keeps the last line */
static char tb_last_log[512];
static void tb_log(pt_log_level lvl, const char *msg, void *user) {
    (void)lvl; (void)user;
    snprintf(tb_last_log, sizeof tb_last_log, "%s", msg);
}

PT_TEST(build_switch_no_sync_api_refuses_ingest) {
    tb_sink s = {0, 0};
    pt_config cfg = tu_config("http://127.0.0.1:9");
    pt_client *cl = NULL;
    pt_error err;
    pt_event ev = tu_event("sync");
    pt_health_report h;
    pt_result r1, r2, r3;
    cfg.http = tb_http; cfg.http_user = &s;
    cfg.health_path = "/health";
    PT_REQUIRE(pt_client_new(&cfg, &cl, &err) == PT_OK);
    PT_CHECK_EQ(pt_track(cl, &ev), PT_OK);
    r1 = pt_ingest(cl, &ev, &err);
#if defined(PACKTRACK_NO_SYNC_API)
    PT_CHECK_EQ(r1, PT_ERR_UNSUPPORTED);
    PT_CHECK_MSG(strstr(err.message, "pt_ingest") && strstr(err.message, "PACKTRACK_NO_SYNC_API"), "%s", err.message);
    PT_CHECK_EQ(s.requests, 0);          /* nothing was sent for it */
#else
    PT_CHECK_EQ(r1, PT_OK);
    PT_CHECK_EQ(s.events, 1);
#endif
    r2 = pt_ingest_batch(cl, &ev, 1, &err);
    r3 = pt_health(cl, &h, &err);
#if defined(PACKTRACK_NO_SYNC_API)
    PT_CHECK_EQ(r2, PT_ERR_UNSUPPORTED);
    PT_CHECK_MSG(strstr(err.message, "pt_health") && strstr(err.message, "PACKTRACK_NO_SYNC_API"), "%s", err.message);
    PT_CHECK_EQ(r3, PT_ERR_UNSUPPORTED);
    PT_CHECK_EQ(h.server_probed, 0);
    PT_CHECK_EQ(h.queue_events, 1);      /* the local facts are still there */
#else
    PT_CHECK_EQ(r2, PT_OK);
    PT_CHECK_EQ(r3, PT_OK);              /* the hook answers 200 to the probe too */
    PT_CHECK_EQ(h.server_probed, 1);
#endif
    PT_CHECK_EQ(pt_flush(cl, 5000), PT_OK);   /* the queued event goes out in every build */
    pt_client_free(cl);
}

PT_TEST(build_switch_no_env_refuses_config_from_env) {
    pt_config cfg;
    pt_error err;
    pt_result r;
    memset(&cfg, 0, sizeof cfg);
    r = pt_config_from_env(&cfg, &err);
#if defined(PACKTRACK_NO_ENV)
    PT_CHECK_EQ(r, PT_ERR_UNSUPPORTED);
    PT_CHECK_MSG(strstr(err.message, "pt_config_from_env") && strstr(err.message, "PACKTRACK_NO_ENV"), "%s", err.message);
#else
    PT_CHECK(r == PT_OK || r == PT_ERR_CONFIG);   /* whatever the runner's environment holds */
    PT_CHECK(r == PT_OK || strstr(err.message, "PACKTRACK_") != NULL);
#endif
}

PT_TEST(build_switch_no_prometheus_says_so) {
    pt_client_stats st;
    char buf[4096];
    size_t n;
    memset(&st, 0, sizeof st);
    st.delivered = 42;
    n = pt_stats_prometheus(&st, buf, sizeof buf);
    PT_REQUIRE(n > 0 && n < sizeof buf);
    PT_CHECK_EQ(strlen(buf), n);
#if defined(PACKTRACK_NO_PROMETHEUS)
    PT_CHECK_MSG(buf[0] == '#' && strstr(buf, "PACKTRACK_NO_PROMETHEUS") && !strstr(buf, "packtrack_events_delivered_total"), "%s", buf);
#else
    PT_CHECK_MSG(strstr(buf, "packtrack_events_delivered_total 42\n") != NULL, "%s", buf);
#endif
    PT_CHECK_EQ(pt_stats_prometheus(NULL, buf, sizeof buf), 0);
}

PT_TEST(build_switch_no_steps_refuses_steps) {
    tb_sink s = {0, 0};
    pt_config cfg = tu_config("http://127.0.0.1:9");
    pt_client *cl = NULL;
    pt_step st;
    pt_event ev = tu_event("work");
    pt_result r;
    cfg.http = tb_http; cfg.http_user = &s;
    cfg.logger = tb_log; cfg.log_level = PT_LOG_DEBUG;
    tb_last_log[0] = 0;
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    r = pt_step_begin_event(cl, &st, NULL, &ev);
#if defined(PACKTRACK_NO_STEPS)
    PT_CHECK_EQ(r, PT_ERR_UNSUPPORTED);
    PT_CHECK_MSG(strstr(tb_last_log, "PACKTRACK_NO_STEPS") != NULL, "%s", tb_last_log);
    PT_CHECK(pt_step_id(&st) == NULL);
    PT_CHECK_EQ(pt_step_end(&st, PT_STATUS_SUCCESS, NULL, 0), PT_ERR_UNSUPPORTED);
    PT_CHECK_EQ(pt_flush(cl, 5000), PT_OK);
    PT_CHECK_EQ(s.events, 0);
#else
    PT_CHECK_EQ(r, PT_OK);
    PT_CHECK(pt_step_id(&st) != NULL);
    PT_CHECK_EQ(pt_step_end(&st, PT_STATUS_SUCCESS, NULL, 0), PT_OK);
    PT_CHECK_EQ(pt_flush(cl, 5000), PT_OK);
    PT_CHECK_EQ(s.events, 2);            /* begin and end */
#endif
    pt_client_free(cl);
}

PT_TEST(build_switch_no_track_json_refuses_json) {
    tb_sink s = {0, 0};
    pt_config cfg = tu_config("http://127.0.0.1:9");
    pt_client *cl = NULL;
    pt_client_stats st;
    const char *js = TU_EV_JSON("j");
    pt_result r;
    cfg.http = tb_http; cfg.http_user = &s;
    PT_REQUIRE(pt_client_new(&cfg, &cl, NULL) == PT_OK);
    r = pt_track_json(cl, js, strlen(js));
    PT_CHECK_EQ(pt_stats(cl, &st), PT_OK);
#if defined(PACKTRACK_NO_TRACK_JSON)
    PT_CHECK_EQ(r, PT_ERR_UNSUPPORTED);
    PT_CHECK_EQ(st.last_error, PT_ERR_UNSUPPORTED);
    PT_CHECK_MSG(strstr(st.last_error_message, "PACKTRACK_NO_TRACK_JSON") != NULL, "%s", st.last_error_message);
    PT_CHECK_EQ(st.tracked, 0);
#else
    PT_CHECK_MSG(r == PT_OK, "%s (%s)", pt_strerror(r), st.last_error_message);
    PT_CHECK_EQ(st.tracked, 1);
#endif
    pt_client_free(cl);
}

PT_TEST(build_switch_no_raw_json_refuses_raw_fields) {
    char buf[1024];
    size_t len = 0;
    pt_error err;
    pt_field md[2];
    pt_event ev = tu_event("raw");
    pt_result r;
    md[0] = pt_field_int("n", 1);
    md[1] = pt_field_raw("obj", "{\"a\": [1, 2]}");
    ev.metadata = md; ev.metadata_count = 2;
    r = pt_event_to_json(NULL, &ev, buf, sizeof buf, &len, &err);
#if defined(PACKTRACK_NO_RAW_JSON)
    PT_CHECK_EQ(r, PT_ERR_UNSUPPORTED);
    PT_CHECK_MSG(strstr(err.message, "PACKTRACK_NO_RAW_JSON") && strstr(err.message, "obj"), "%s", err.message);
#else
    PT_CHECK_EQ(r, PT_OK);
    PT_CHECK_MSG(strstr(buf, "\"obj\":{\"a\":[1,2]}") != NULL, "%s", buf);
#endif
    ev.metadata_count = 1;       /* without the raw field every build takes it */
    PT_CHECK_EQ(pt_event_to_json(NULL, &ev, buf, sizeof buf, &len, &err), PT_OK);
    PT_CHECK(strstr(buf, "\"n\":1") != NULL);
}

PT_TEST(build_switch_no_defaults_refuses_defaults) {
    tb_sink s = {0, 0};
    pt_config cfg = tu_config("http://127.0.0.1:9");
    pt_client *cl = NULL;
    pt_error err;
    pt_result r;
    cfg.http = tb_http; cfg.http_user = &s;
    PT_REQUIRE(pt_client_new(&cfg, &cl, &err) == PT_OK);   /* no defaults: every build */
    pt_client_free(cl); cl = NULL;
    cfg.defaults.workflow_name = "nightly";
    r = pt_client_new(&cfg, &cl, &err);
#if defined(PACKTRACK_NO_DEFAULTS)
    PT_CHECK_EQ(r, PT_ERR_CONFIG);
    PT_CHECK(cl == NULL);
    PT_CHECK_MSG(strstr(err.message, "PACKTRACK_NO_DEFAULTS") && strstr(err.message, "cfg.defaults"), "%s", err.message);
    cfg.defaults.workflow_name = NULL;
    cfg.defaults.severity = PT_SEVERITY_WARN;   /* any member counts */
    PT_CHECK_EQ(pt_client_new(&cfg, &cl, &err), PT_ERR_CONFIG);
#else
    PT_CHECK_EQ(r, PT_OK);
    {
        char buf[1024];
        size_t len = 0;
        pt_event ev = tu_event("d");
        PT_CHECK_EQ(pt_event_to_json(cl, &ev, buf, sizeof buf, &len, &err), PT_OK);
        PT_CHECK_MSG(strstr(buf, "\"name\":\"nightly\"") != NULL, "%s", buf);
    }
#endif
    pt_client_free(cl);
}

static const pt_test_case build_tests[] = {
    PT_CASE(build_switch_no_sockets_needs_http_hook),
    PT_CASE(build_switch_no_spool_refuses_spool_dir),
    PT_CASE(build_switch_no_deflate_gzip_needs_an_encoder),
    PT_CASE(build_switch_no_threads_pumps_on_the_caller),
    PT_CASE(build_switch_no_sync_api_refuses_ingest),
    PT_CASE(build_switch_no_env_refuses_config_from_env),
    PT_CASE(build_switch_no_prometheus_says_so),
    PT_CASE(build_switch_no_steps_refuses_steps),
    PT_CASE(build_switch_no_track_json_refuses_json),
    PT_CASE(build_switch_no_raw_json_refuses_raw_fields),
    PT_CASE(build_switch_no_defaults_refuses_defaults),
};
