/* The convenience API of issue 13: event defaults, pt_trackf, steps with
   durations, clocks and ids, the stderr logger and PACKTRACK_DEBUG, the
   required-field check of pt_track_json, and the C++ RAII wrappers (these
   run in the C++ build, build/run-cxx). */
#include <fcntl.h>

/* Every request one event (batch_size 1), captured in order. The hook runs
   on the pumping thread (manual mode), the lock guards the reader. */
#define TA_MAX 64
typedef struct ta_cap { pt__mutex mu; char *ev[TA_MAX]; int n; } ta_cap;
static pt_result ta_http(const pt_http_request *req, pt_http_response *resp, void *user) {
    ta_cap *cap = (ta_cap *)user;
    pt__mutex_lock(&cap->mu);
    if (cap->n < TA_MAX) {
        char *b = (char *)malloc(req->body_len + 1);
        if (b) { memcpy(b, req->body, req->body_len); b[req->body_len] = 0; cap->ev[cap->n++] = b; }
    }
    pt__mutex_unlock(&cap->mu);
    resp->status = 200;
    return PT_OK;
}
static void ta_cap_init(ta_cap *cap) { memset(cap, 0, sizeof *cap); pt__mutex_init(&cap->mu); }
static void ta_cap_free(ta_cap *cap) {
    int i;
    for (i = 0; i < cap->n; i++) free(cap->ev[i]);
    pt__mutex_destroy(&cap->mu);
    memset(cap, 0, sizeof *cap);
}
/* Documents through python's strict parser. Without python3 (Windows) the
   cross-check cannot run: the test ends as skipped after its other checks. */
static int ta_nopy;
static void ta_cap_python(const ta_cap *cap) {
    int bad = tu_python_json_check((const char *const *)cap->ev, (size_t)cap->n);
    if (bad < 0) ta_nopy = 1;
    PT_CHECK_MSG(bad <= 0, "python rejected %d of %d documents", bad, cap->n);
}
static int ta_py(const char *doc) {
    int bad = tu_python_json_check(&doc, 1);
    if (bad < 0) ta_nopy = 1;
    return bad <= 0;
}
#define TA_PY_DONE() do { if (ta_nopy) { ta_nopy = 0; PT_SKIP("python3 is not available: the JSON cross-check did not run"); } } while (0)
static pt_config ta_config(ta_cap *cap) {
    pt_config cfg = tu_config("http://127.0.0.1:1");
    cfg.manual_mode = 1;
    cfg.batch_size = 1;
    cfg.http = ta_http;
    cfg.http_user = cap;
    return cfg;
}
/* The defaults most tests use: everything but severity, status, message. */
static const pt_field ta_def_meta[2] = {
    { "team", PT_FIELD_STRING, "payments", 0, 0, 0, 0 },
    { "shared", PT_FIELD_STRING, "from-defaults", 0, 0, 0, 0 } };
static const pt_field ta_def_extra[1] = { { "region", PT_FIELD_STRING, "eu", 0, 0, 0, 0 } };
static void ta_defaults(pt_config *cfg) {
    cfg->defaults.source_system = "checkout-svc";
    cfg->defaults.source_env = "prod";
    cfg->defaults.workflow_id = "wf-def";
    cfg->defaults.run_id = "run-def";
    cfg->defaults.actor_type = "agent";
    cfg->defaults.actor_id = "a-42";
    cfg->defaults.metadata = ta_def_meta;
    cfg->defaults.metadata_count = 2;
    cfg->defaults.extra = ta_def_extra;
    cfg->defaults.extra_count = 1;
}
static size_t ta_count(const char *hay, const char *needle) {
    size_t n = 0;
    const char *p = hay;
    while ((p = strstr(p, needle)) != NULL) { n++; p += strlen(needle); }
    return n;
}
/* metadata.duration_ms of a captured event, -1 if absent */
static long long ta_duration(const char *doc) {
    const char *p = strstr(doc, "\"duration_ms\":");
    return p ? strtoll(p + 14, NULL, 10) : -1;
}
/* The value of "key":"..." in doc (first match) into out. */
static const char *ta_str(const char *doc, const char *key, char *out, size_t cap) {
    char pat[64];
    const char *p, *e;
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    out[0] = 0;
    if (!(p = strstr(doc, pat))) return out;
    p += strlen(pat);
    e = strchr(p, '"');
    if (e && (size_t)(e - p) < cap) { memcpy(out, p, (size_t)(e - p)); out[e - p] = 0; }
    return out;
}

PT_TEST(api_defaults_fill_and_precedence) {
    ta_cap cap;
    pt_config cfg;
    pt_client *c = NULL;
    pt_error err;
    pt_event ev;
    pt_field meta[3];
    char json[4096], src[32], wf[32];
    size_t len;
    ta_cap_init(&cap);
    cfg = ta_config(&cap);
    strcpy(src, "checkout-svc");
    ta_defaults(&cfg);
    cfg.defaults.source_system = src;   /* copied by pt_client_new: changed below */
    PT_REQUIRE(pt_client_new(&cfg, &c, &err) == PT_OK);
    strcpy(src, "CHANGED");
    /* an event with only severity, status, message */
    memset(&ev, 0, sizeof ev);
    ev.severity = PT_SEVERITY_INFO; ev.status = PT_STATUS_SUCCESS; ev.message = "refund issued";
    PT_CHECK_EQ(pt_event_to_json(c, &ev, json, sizeof json, &len, &err), PT_OK);
    PT_CHECK_MSG(strstr(json, "\"source\":{\"system\":\"checkout-svc\",\"env\":\"prod\"}") != NULL, "%s", json);
    PT_CHECK_MSG(strstr(json, "\"workflow\":{\"id\":\"wf-def\",\"run_id\":\"run-def\"}") != NULL, "%s", json);
    PT_CHECK(strstr(json, "\"actor\":{\"type\":\"agent\",\"id\":\"a-42\"}") != NULL);
    PT_CHECK(strstr(json, "\"metadata\":{\"team\":\"payments\",\"shared\":\"from-defaults\"}") != NULL);
    PT_CHECK(strstr(json, "\"extra\":{\"region\":\"eu\"}") != NULL);
    PT_CHECK(strstr(json, "CHANGED") == NULL);
    PT_CHECK(ta_py(json));
    /* the event's own fields and keys win; the rest still comes from the defaults */
    strcpy(wf, "wf-own");
    ev.workflow_id = wf; ev.actor_id = "a-own";
    meta[0] = pt_field_str("shared", "from-event");
    meta[1] = pt_field_int("n", 7);
    ev.metadata = meta; ev.metadata_count = 2;
    PT_CHECK_EQ(pt_event_to_json(c, &ev, json, sizeof json, &len, &err), PT_OK);
    PT_CHECK_MSG(strstr(json, "\"workflow\":{\"id\":\"wf-own\",\"run_id\":\"run-def\"}") != NULL, "%s", json);
    PT_CHECK(strstr(json, "\"actor\":{\"type\":\"agent\",\"id\":\"a-own\"}") != NULL);
    PT_CHECK_EQ(ta_count(json, "\"shared\""), 1);
    PT_CHECK_MSG(strstr(json, "\"metadata\":{\"shared\":\"from-event\",\"n\":7,\"team\":\"payments\"}") != NULL, "%s", json);
    PT_CHECK(ta_py(json));
    /* an UNSET entry with a default's key suppresses that default */
    meta[2].key = "team"; meta[2].type = PT_FIELD_UNSET;
    ev.metadata_count = 3;
    PT_CHECK_EQ(pt_event_to_json(c, &ev, json, sizeof json, &len, &err), PT_OK);
    PT_CHECK_MSG(strstr(json, "team") == NULL, "%s", json);
    /* severity from the defaults when the event leaves it unset */
    pt_close(c, 1000, NULL); pt_client_free(c); c = NULL;
    cfg.defaults.severity = PT_SEVERITY_WARN;
    strcpy(src, "checkout-svc");
    PT_REQUIRE(pt_client_new(&cfg, &c, &err) == PT_OK);
    ev.severity = PT_SEVERITY_UNSET;
    PT_CHECK_EQ(pt_event_to_json(c, &ev, json, sizeof json, &len, &err), PT_OK);
    PT_CHECK(strstr(json, "\"severity\":\"warn\"") != NULL);
    /* the queued path (pt_track) merges too */
    PT_CHECK_EQ(pt_track(c, &ev), PT_OK);
    PT_CHECK_EQ(pt_flush(c, 3000), PT_OK);
    PT_REQUIRE(cap.n == 1);
    PT_CHECK_MSG(strstr(cap.ev[0], "\"source\":{\"system\":\"checkout-svc\"") && strstr(cap.ev[0], "\"region\":\"eu\"")
                 && strstr(cap.ev[0], "\"shared\":\"from-event\"") && !strstr(cap.ev[0], "from-defaults"), "%s", cap.ev[0]);
    ta_cap_python(&cap);
    /* pt_client_config shows our copy */
    PT_CHECK_STR(pt_client_config(c)->defaults.workflow_id, "wf-def");
    PT_CHECK(pt_client_config(c)->defaults.metadata != ta_def_meta);
    pt_close(c, 1000, NULL); pt_client_free(c);
    ta_cap_free(&cap);
    TA_PY_DONE();
}

PT_TEST(api_defaults_many_fields_and_bad_config) {
    ta_cap cap;
    pt_config cfg;
    pt_client *c = NULL;
    pt_error err;
    pt_event ev = tu_event("many");
    pt_field meta[40], dmeta[8];
    char keys[40][8], dkeys[8][8], json[8192];
    size_t len;
    int i;
    ta_cap_init(&cap);
    cfg = ta_config(&cap);
    for (i = 0; i < 8; i++) { snprintf(dkeys[i], sizeof dkeys[i], "d%d", i); dmeta[i] = pt_field_int(dkeys[i], i); }
    for (i = 0; i < 40; i++) { snprintf(keys[i], sizeof keys[i], "k%d", i); meta[i] = pt_field_int(keys[i], 100 + i); }
    strcpy(keys[39], "d7");   /* one collision */
    cfg.defaults.metadata = dmeta; cfg.defaults.metadata_count = 8;
    cfg.defaults.extra = dmeta; cfg.defaults.extra_count = 8;
    PT_REQUIRE(pt_client_new(&cfg, &c, &err) == PT_OK);
    ev.metadata = meta; ev.metadata_count = 40;
    ev.extra = meta; ev.extra_count = 40;   /* 2 x 47 merged entries: past the stack array */
    PT_CHECK_EQ(pt_event_to_json(c, &ev, json, sizeof json, &len, &err), PT_OK);
    PT_CHECK_EQ(ta_count(json, "\"d7\":139"), 2);
    PT_CHECK_EQ(ta_count(json, "\"d7\""), 2);
    PT_CHECK_EQ(ta_count(json, "\"d0\":0"), 2);
    PT_CHECK_EQ(ta_count(json, "\"k0\":100"), 2);
    PT_CHECK(ta_py(json));
    pt_close(c, 1000, NULL); pt_client_free(c); c = NULL;
    /* defaults that cannot be right are refused at pt_client_new */
    cfg.defaults.metadata_count = 0; cfg.defaults.extra_count = 0;
    cfg.defaults.idempotency_key = "same-for-all";
    PT_CHECK_EQ(pt_client_new(&cfg, &c, &err), PT_ERR_CONFIG);
    PT_CHECK(strstr(err.message, "idempotency_key") != NULL);
    cfg.defaults.idempotency_key = NULL;
    cfg.defaults.timestamp_ms = pt_unix_ms();
    PT_CHECK_EQ(pt_client_new(&cfg, &c, &err), PT_ERR_CONFIG);
    PT_CHECK(strstr(err.message, "timestamp_ms") != NULL);
    cfg.defaults.timestamp_ms = 0;
    dmeta[1] = pt_field_int("d0", 1);
    cfg.defaults.metadata = dmeta; cfg.defaults.metadata_count = 2;
    PT_CHECK_EQ(pt_client_new(&cfg, &c, &err), PT_ERR_CONFIG);
    PT_CHECK_MSG(strstr(err.message, "defaults.metadata") && strstr(err.message, "d0"), "%s", err.message);
    PT_CHECK(c == NULL);
    ta_cap_free(&cap);
    TA_PY_DONE();
}

PT_TEST(api_trackf_format_long_utf8) {
    ta_cap cap;
    pt_config cfg;
    pt_client *c = NULL;
    pt_client_stats st;
    char *big;
    char msg[64];
    int i;
    ta_cap_init(&cap);
    cfg = ta_config(&cap);
    ta_defaults(&cfg);
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    PT_CHECK_EQ(pt_trackf(c, PT_SEVERITY_INFO, PT_STATUS_SUCCESS, "refund %d issued to %s", 42, "o-1"), PT_OK);
    big = (char *)malloc(5001);
    PT_REQUIRE(big);
    for (i = 0; i < 5000; i++) big[i] = (char)('a' + i % 26);
    big[5000] = 0;
    PT_CHECK_EQ(pt_trackf(c, PT_SEVERITY_WARN, PT_STATUS_RETRYING, "long:%s:end", big), PT_OK);
    PT_CHECK_EQ(pt_trackf(c, PT_SEVERITY_ERROR, PT_STATUS_ERROR, "bad utf-8 \xff\xfe here"), PT_OK);
    PT_CHECK_EQ(pt_trackf(c, PT_SEVERITY_INFO, PT_STATUS_SUCCESS, "view %.*s", 3, "abcdef"), PT_OK);   /* a string_view */
    PT_CHECK_EQ(pt_trackf(c, PT_SEVERITY_INFO, PT_STATUS_SUCCESS, "%s", ""), PT_ERR_MISSING_FIELD);
    PT_CHECK_EQ(pt_trackf(c, PT_SEVERITY_UNSET, PT_STATUS_SUCCESS, "x"), PT_ERR_MISSING_FIELD);
    PT_CHECK_EQ(pt_trackf(c, PT_SEVERITY_INFO, NULL, "x"), PT_ERR_MISSING_FIELD);
    PT_CHECK_EQ(pt_trackf(NULL, PT_SEVERITY_INFO, PT_STATUS_SUCCESS, "x"), PT_ERR_INVALID_ARG);
    PT_CHECK_EQ(pt_stats(c, &st), PT_OK);
    PT_CHECK_MSG(strstr(st.last_error_message, "status") != NULL, "%s", st.last_error_message);
    PT_CHECK_EQ(pt_flush(c, 3000), PT_OK);
    PT_REQUIRE(cap.n == 4);
    PT_CHECK_MSG(strstr(cap.ev[0], "\"message\":\"refund 42 issued to o-1\"") != NULL, "%s", cap.ev[0]);
    PT_CHECK_MSG(strstr(cap.ev[3], "\"message\":\"view abc\"") != NULL, "%s", cap.ev[3]);
    PT_CHECK(strstr(cap.ev[0], "\"source\":{\"system\":\"checkout-svc\"") != NULL);
    PT_CHECK(strstr(cap.ev[0], "\"severity\":\"info\",\"status\":\"success\"") != NULL);
    PT_CHECK(strstr(cap.ev[1], "\"message\":\"long:") != NULL && strstr(cap.ev[1], big) != NULL && strstr(cap.ev[1], ":end\"") != NULL);
    PT_CHECK(strstr(cap.ev[1], "\"severity\":\"warn\",\"status\":\"retrying\"") != NULL);
    snprintf(msg, sizeof msg, "bad utf-8 ");
    PT_CHECK(strstr(cap.ev[2], msg) != NULL);
    PT_CHECK_MSG(strstr(cap.ev[2], "\xff") == NULL && strstr(cap.ev[2], "\xfe") == NULL, "%s", cap.ev[2]);
    PT_CHECK_MSG(strstr(cap.ev[2], "\xEF\xBF\xBD") != NULL || strstr(cap.ev[2], "\\ufffd") != NULL, "%s", cap.ev[2]);
    ta_cap_python(&cap);
    /* a message over event_max_bytes is refused whole, not cut */
    pt_close(c, 1000, NULL); pt_client_free(c); c = NULL;
    cfg.event_max_bytes = 2048;
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    PT_CHECK_EQ(pt_trackf(c, PT_SEVERITY_INFO, PT_STATUS_SUCCESS, "%s", big), PT_ERR_TOO_LARGE);
    pt_close(c, 1000, NULL); pt_client_free(c);
    free(big);
    ta_cap_free(&cap);
    TA_PY_DONE();
}

/* ---- steps ---- */
typedef struct ta_ender { pt_step *step; pt_result r; } ta_ender;
static void ta_end_thread(void *arg) {
    ta_ender *e = (ta_ender *)arg;
    pt_field f = pt_field_str("result", "ok");
    e->r = pt_step_end(e->step, PT_STATUS_SUCCESS, &f, 1);
}

PT_TEST(api_step_pair_across_threads) {
    ta_cap cap;
    pt_config cfg;
    pt_client *c = NULL;
    pt_step step;
    pt__thread t;
    ta_ender en;
    char a[64], b[64];
    int64_t t0;
    ta_cap_init(&cap);
    cfg = ta_config(&cap);
    ta_defaults(&cfg);
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    PT_REQUIRE(pt_step_begin(c, &step, NULL, "fetch invoice") == PT_OK);
    t0 = pt_mono_ms();   /* after begin: the step's start is no later than this (slow under valgrind) */
    PT_CHECK(step.active == 1);
    PT_CHECK(pt_step_id(&step) != NULL && strlen(pt_step_id(&step)) == 36);
    while (pt_mono_ms() - t0 < 40) tu_sleep_ms(5);
    en.step = &step; en.r = PT_ERR_INTERNAL;
    PT_REQUIRE(pt__thread_start(&t, ta_end_thread, &en) == 0);   /* ended on another thread */
    pt__thread_join(t);
    PT_CHECK_EQ(en.r, PT_OK);
    PT_CHECK(step.active == 0);
    PT_CHECK_MSG(step.duration_ms >= 40 && step.duration_ms < 10000, "duration %lld", (long long)step.duration_ms);
    PT_CHECK_EQ(pt_step_end(&step, NULL, NULL, 0), PT_ERR_INVALID_ARG);   /* exactly once */
    PT_CHECK_EQ(pt_flush(c, 3000), PT_OK);
    PT_REQUIRE(cap.n == 2);
    PT_CHECK(strstr(cap.ev[0], "\"status\":\"running\"") != NULL);
    PT_CHECK(strstr(cap.ev[1], "\"status\":\"success\"") != NULL);
    PT_CHECK_STR(ta_str(cap.ev[0], "step_id", a, sizeof a), ta_str(cap.ev[1], "step_id", b, sizeof b));
    PT_CHECK_EQ(strlen(a), 36);
    PT_CHECK_STR(ta_str(cap.ev[0], "message", a, sizeof a), "fetch invoice");
    PT_CHECK_STR(ta_str(cap.ev[1], "message", b, sizeof b), "fetch invoice");
    PT_CHECK_STR(ta_str(cap.ev[1], "run_id", b, sizeof b), "run-def");
    PT_CHECK(strstr(cap.ev[1], "\"actor\":{\"type\":\"agent\",\"id\":\"a-42\"}") != NULL);
    PT_CHECK_EQ(ta_duration(cap.ev[0]), -1);
    PT_CHECK_MSG(ta_duration(cap.ev[1]) == step.duration_ms, "%s", cap.ev[1]);
    PT_CHECK(strstr(cap.ev[1], "\"result\":\"ok\"") != NULL);
    PT_CHECK(strstr(cap.ev[1], "\"team\":\"payments\"") != NULL);   /* defaults still merge */
    PT_CHECK(strstr(cap.ev[0], "parent_step_id") == NULL && strstr(cap.ev[1], "parent_step_id") == NULL);
    ta_cap_python(&cap);
    pt_close(c, 1000, NULL); pt_client_free(c);
    ta_cap_free(&cap);
    TA_PY_DONE();
}

PT_TEST(api_step_nested_and_explicit) {
    ta_cap cap;
    pt_config cfg;
    pt_client *c = NULL;
    pt_step parent, child, moved;
    pt_event ev;
    pt_field md[2];
    char pid[64], x[600], got[64];
    ta_cap_init(&cap);
    cfg = ta_config(&cap);
    ta_defaults(&cfg);
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    memset(&ev, 0, sizeof ev);
    ev.workflow_id = "wf-parent"; ev.step_id = "step-p"; ev.message = "plan"; ev.severity = PT_SEVERITY_DEBUG;
    memset(x, 'n', sizeof x - 1); x[sizeof x - 1] = 0;
    ev.actor_display_name = x;   /* past PT_STEP_INLINE: the heap path */
    PT_REQUIRE(pt_step_begin_event(c, &parent, NULL, &ev) == PT_OK);
    PT_CHECK(parent.heap_ != NULL);
    PT_CHECK_STR(pt_step_id(&parent), "step-p");
    snprintf(pid, sizeof pid, "%s", pt_step_id(&parent));
    PT_REQUIRE(pt_step_begin(c, &child, &parent, "call tool") == PT_OK);
    PT_CHECK(child.heap_ != NULL);   /* it inherits the long display name */
    moved = child;                    /* a pt_step may move while active */
    memset(&child, 0xab, sizeof child);
    md[0] = pt_field_str("tool", "search");
    md[1] = pt_field_int("duration_ms", 5);   /* the caller's key wins */
    PT_CHECK_EQ(pt_step_end(&moved, PT_STATUS_FAILED, NULL, 2), PT_ERR_INVALID_ARG);   /* still active */
    PT_CHECK(moved.active == 1);
    PT_CHECK_EQ(pt_step_end(&moved, PT_STATUS_FAILED, md, 2), PT_OK);
    PT_CHECK_EQ(pt_step_end(&parent, PT_STATUS_SUCCESS, NULL, 0), PT_OK);
    PT_CHECK(pt_step_begin(c, &child, &parent, "late") == PT_ERR_INVALID_ARG);   /* an ended parent */
    PT_CHECK(child.active == 0);
    PT_CHECK_EQ(pt_flush(c, 3000), PT_OK);
    PT_REQUIRE(cap.n == 4);
    /* parent begin, child begin, child end, parent end */
    PT_CHECK(strstr(cap.ev[0], "\"workflow\":{\"id\":\"wf-parent\",\"run_id\":\"run-def\",\"step_id\":\"step-p\"}") != NULL);
    PT_CHECK(strstr(cap.ev[0], "\"severity\":\"debug\",\"status\":\"running\"") != NULL);
    PT_CHECK(strstr(cap.ev[0], "parent_step_id") == NULL);
    PT_CHECK_MSG(strstr(cap.ev[1], "\"workflow\":{\"id\":\"wf-parent\"") != NULL, "%s", cap.ev[1]);
    PT_CHECK_STR(ta_str(cap.ev[1], "parent_step_id", got, sizeof got), pid);
    PT_CHECK_STR(ta_str(cap.ev[2], "parent_step_id", got, sizeof got), pid);
    PT_CHECK(strstr(cap.ev[1], x) != NULL && strstr(cap.ev[2], x) != NULL);
    PT_CHECK(strstr(cap.ev[2], "\"severity\":\"error\",\"status\":\"failed\"") != NULL);
    PT_CHECK_EQ(ta_count(cap.ev[2], "\"duration_ms\""), 1);
    PT_CHECK_EQ(ta_duration(cap.ev[2]), 5);
    PT_CHECK(strstr(cap.ev[2], "\"tool\":\"search\"") != NULL);
    PT_CHECK_STR(ta_str(cap.ev[1], "step_id", got, sizeof got), ta_str(cap.ev[2], "step_id", pid, sizeof pid));
    PT_CHECK(strstr(cap.ev[3], "\"step_id\":\"step-p\"") != NULL && strstr(cap.ev[3], "\"severity\":\"debug\",\"status\":\"success\"") != NULL);
    PT_CHECK(ta_duration(cap.ev[3]) >= 0 && strstr(cap.ev[3], "parent_step_id") == NULL);
    ta_cap_python(&cap);
    pt_close(c, 1000, NULL); pt_client_free(c);
    ta_cap_free(&cap);
    TA_PY_DONE();
}

PT_TEST(api_step_after_close) {
    ta_cap cap;
    pt_config cfg;
    pt_client *c = NULL;
    pt_step a, b;
    pt_event ev;
    char x[400];
    ta_cap_init(&cap);
    cfg = ta_config(&cap);
    ta_defaults(&cfg);
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    memset(&ev, 0, sizeof ev);
    memset(x, 'm', sizeof x - 1); x[sizeof x - 1] = 0;
    ev.message = x;
    PT_REQUIRE(pt_step_begin_event(c, &a, NULL, &ev) == PT_OK);
    PT_REQUIRE(pt_step_begin(c, &b, NULL, "short") == PT_OK);
    PT_CHECK_EQ(pt_close(c, 2000, NULL), PT_OK);
    PT_CHECK_EQ(pt_step_end(&a, PT_STATUS_SUCCESS, NULL, 0), PT_ERR_CLOSED);   /* heap released (ASan/valgrind) */
    PT_CHECK_EQ(pt_step_end(&b, PT_STATUS_SUCCESS, NULL, 0), PT_ERR_CLOSED);
    PT_CHECK(a.active == 0 && a.heap_ == NULL);
    PT_CHECK_EQ(pt_step_begin(c, &a, NULL, "after"), PT_ERR_CLOSED);
    PT_CHECK(a.active == 0);
    PT_CHECK_EQ(pt_step_begin(NULL, &a, NULL, "x"), PT_ERR_INVALID_ARG);
    PT_CHECK_EQ(pt_step_end(NULL, NULL, NULL, 0), PT_ERR_INVALID_ARG);
    pt_client_free(c);
    PT_CHECK_EQ(cap.n, 2);   /* the two begin events */
    ta_cap_free(&cap);
}

PT_TEST(api_clock_and_ids) {
    pt_event ev = tu_event("clock");
    pt_error err;
    char json[2048], u[37], r1[37], r2[37];
    size_t len;
    int64_t now = pt_unix_ms(), m0 = pt_mono_ms();
    PT_CHECK_MSG(now > 1577836800000LL && now < 4102444800000LL, "pt_unix_ms %lld is not 2020..2100", (long long)now);
    PT_CHECK(pt_mono_ms() >= m0 && pt_now_ms() >= m0);
    /* the classic mistake: a monotonic time as the timestamp */
    ev.timestamp_ms = pt_now_ms();
    if (ev.timestamp_ms >= 978307200000LL) ev.timestamp_ms = 123456;   /* an uptime-like value in any case */
    PT_CHECK_EQ(pt_event_to_json(NULL, &ev, json, sizeof json, &len, &err), PT_ERR_INVALID_ARG);
    PT_CHECK_MSG(strstr(err.message, "2001") && strstr(err.message, "pt_unix_ms") && strstr(err.message, "monotonic"), "%s", err.message);
    ev.timestamp_ms = 1700000000LL;   /* seconds, not ms */
    PT_CHECK_EQ(pt_event_to_json(NULL, &ev, json, sizeof json, &len, &err), PT_ERR_INVALID_ARG);
    ev.timestamp_ms = 978307200000LL;
    PT_CHECK_EQ(pt_event_to_json(NULL, &ev, json, sizeof json, &len, &err), PT_OK);
    PT_CHECK(strstr(json, "\"timestamp\":\"2001-01-01T00:00:00.000Z\"") != NULL);
    ev.timestamp_ms = now;
    PT_CHECK_EQ(pt_event_to_json(NULL, &ev, json, sizeof json, &len, &err), PT_OK);
    ev.timestamp_ms = 0;
    PT_CHECK_EQ(pt_event_to_json(NULL, &ev, json, sizeof json, &len, &err), PT_OK);
    {   /* pt_track refuses it too, and says why in the stats */
        pt_config cfg = tu_config("http://127.0.0.1:1");
        pt_client *c = NULL;
        pt_client_stats st;
        cfg.manual_mode = 1;
        PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
        ev.timestamp_ms = 5000;
        PT_CHECK_EQ(pt_track(c, &ev), PT_ERR_INVALID_ARG);
        PT_CHECK_EQ(pt_stats(c, &st), PT_OK);
        PT_CHECK(st.tracked == 0 && strstr(st.last_error_message, "not Unix time") != NULL);
        pt_close(c, 100, NULL); pt_client_free(c);
    }
    /* UUID v4 and the time-ordered run id */
    pt_uuid4(u);
    PT_CHECK_EQ(strlen(u), 36);
    PT_CHECK(u[8] == '-' && u[13] == '-' && u[14] == '4' && u[18] == '-' && u[23] == '-' && strchr("89ab", u[19]) != NULL);
    pt_uuid4(r1);
    PT_CHECK(strcmp(u, r1) != 0);
    pt_run_id(r1);
    pt_run_id(r2);
    PT_CHECK_EQ(strlen(r1), 36);
    PT_CHECK(r1[14] == '7' && strchr("89ab", r1[19]) != NULL && r1[8] == '-' && r1[13] == '-');
    PT_CHECK(strcmp(r1, r2) != 0 && memcmp(r1, r2, 13) <= 0);
    {   /* the first 48 bits are the Unix ms */
        char hex[13];
        int64_t ms;
        memcpy(hex, r1, 8); memcpy(hex + 8, r1 + 9, 4); hex[12] = 0;
        ms = (int64_t)strtoull(hex, NULL, 16);
        PT_CHECK_MSG(ms >= now && ms - now < 60000, "run id time %lld vs %lld", (long long)ms, (long long)now);
    }
}

PT_TEST(api_track_json_required_fields) {
    static const char *const cases[][2] = {
        { "{}", "source.system" },
        { "{\"source\":{\"system\":\"\"},\"workflow\":{\"id\":\"w\"},\"actor\":{\"type\":\"t\",\"id\":\"i\"},\"severity\":\"info\",\"status\":\"ok\",\"message\":\"m\"}", "source.system" },
        { "{\"source\":\"s\",\"workflow\":{\"id\":\"w\"},\"actor\":{\"type\":\"t\",\"id\":\"i\"},\"severity\":\"info\",\"status\":\"ok\",\"message\":\"m\"}", "source.system" },
        { "{\"source\":{\"system\":\"s\"},\"workflow\":{\"name\":\"w\"},\"actor\":{\"type\":\"t\",\"id\":\"i\"},\"severity\":\"info\",\"status\":\"ok\",\"message\":\"m\"}", "workflow.id" },
        { "{\"source\":{\"system\":\"s\"},\"workflow\":{\"id\":\"w\"},\"actor\":{\"id\":\"i\"},\"severity\":\"info\",\"status\":\"ok\",\"message\":\"m\"}", "actor.type" },
        { "{\"source\":{\"system\":\"s\"},\"workflow\":{\"id\":\"w\"},\"actor\":{\"type\":\"t\",\"id\":7},\"severity\":\"info\",\"status\":\"ok\",\"message\":\"m\"}", "actor.id" },
        { "{\"source\":{\"system\":\"s\"},\"workflow\":{\"id\":\"w\"},\"actor\":{\"type\":\"t\",\"id\":\"i\"},\"status\":\"ok\",\"message\":\"m\"}", "severity" },
        { "{\"source\":{\"system\":\"s\"},\"workflow\":{\"id\":\"w\"},\"actor\":{\"type\":\"t\",\"id\":\"i\"},\"severity\":\"info\",\"status\":null,\"message\":\"m\"}", "status" },
        { "{\"source\":{\"system\":\"s\"},\"workflow\":{\"id\":\"w\"},\"actor\":{\"type\":\"t\",\"id\":\"i\"},\"severity\":\"info\",\"status\":\"ok\",\"msg\":\"m\"}", "message" },
        { "{\"message\":{\"a\":{\"message\":\"nested\"}},\"source\":{\"system\":\"s\"},\"workflow\":{\"id\":\"w\"},\"actor\":{\"type\":\"t\",\"id\":\"i\"},\"severity\":\"info\",\"status\":\"ok\"}", "message" },
    };
    static const char ok[] = " { \"message\" : \"m\", \"extra\":{\"source\":1}, \"actor\" : { \"id\" : \"i\" , \"type\":\"t\"},\"status\":\"ok\","
                             "\"workflow\":{\"name\":\"n\",\"id\":\"w\"},\"severity\":\"error\",\"source\":{\"env\":\"e\",\"system\":\"s\"} } ";
    static const char loud[] = "{\"source\":{\"system\":\"s\"},\"workflow\":{\"id\":\"w\"},\"actor\":{\"type\":\"t\",\"id\":\"i\"},\"severity\":\"loud\",\"status\":\"ok\",\"message\":\"m\"}";
    ta_cap cap;
    pt_config cfg;
    pt_client *c = NULL;
    pt_client_stats st;
    pt_event ev = tu_event("m");
    pt_error err;
    char want[96];
    size_t i;
    ta_cap_init(&cap);
    cfg = ta_config(&cap);
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    PT_CHECK_EQ(pt_track_json(c, "{}", 2), PT_ERR_MISSING_FIELD);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        PT_CHECK_MSG(pt_track_json(c, cases[i][0], strlen(cases[i][0])) == PT_ERR_MISSING_FIELD, "accepted #%lu", (unsigned long)i);
        PT_CHECK_EQ(pt_stats(c, &st), PT_OK);
        snprintf(want, sizeof want, "required field %s is missing", cases[i][1]);
        PT_CHECK_MSG(strstr(st.last_error_message, want) != NULL, "#%lu: %s", (unsigned long)i, st.last_error_message);
        PT_CHECK(st.last_error == PT_ERR_MISSING_FIELD);
    }
    /* the same words as pt_track */
    ev.actor_type = "";
    PT_CHECK_EQ(pt_track(c, &ev), PT_ERR_MISSING_FIELD);
    PT_CHECK_EQ(pt_event_to_json(c, &ev, NULL, 0, NULL, &err), PT_ERR_MISSING_FIELD);
    PT_CHECK(strstr(err.message, "required field actor.type is missing") != NULL);
    PT_CHECK_EQ(pt_track_json(c, loud, strlen(loud)), PT_ERR_INVALID_ARG);
    PT_CHECK_EQ(pt_stats(c, &st), PT_OK);
    PT_CHECK(strstr(st.last_error_message, "severity") != NULL);
    PT_CHECK_EQ(st.tracked, 0);
    PT_CHECK_EQ(pt_track_json(c, ok, strlen(ok)), PT_OK);   /* any order, any whitespace */
    PT_CHECK_EQ(pt_flush(c, 3000), PT_OK);
    PT_CHECK_EQ(cap.n, 1);
    pt_close(c, 1000, NULL); pt_client_free(c);
    ta_cap_free(&cap);
}

/* ---- diagnostics ---- */
#ifndef _WIN32
/* Runs fn with fd 2 redirected to a file; returns what was written (static). */
static const char *ta_stderr_of(void (*fn)(void *), void *arg) {
    static char out[4096];
    char path[] = "/tmp/pt_api_stderr_XXXXXX";
    int fd = mkstemp(path), saved;
    ssize_t n;
    out[0] = 0;
    if (fd < 0) return out;
    fflush(stderr);
    saved = dup(2);
    dup2(fd, 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    n = read(fd, out, sizeof out - 1);
    out[n > 0 ? n : 0] = 0;
    close(fd);
    unlink(path);
    return out;
}
static void ta_log_direct(void *arg) { (void)arg; pt_log_stderr(PT_LOG_WARN, "hello from the test", NULL); pt_log_stderr(PT_LOG_DEBUG, "second", NULL); }
static void ta_log_client(void *arg) {
    pt_client *c = (pt_client *)arg;
    pt_event ev = tu_event("x");
    ev.workflow_id = NULL;
    (void)pt_track(c, &ev);
}
#endif

PT_TEST(api_stderr_logger_and_env_switch) {
#ifdef _WIN32
    PT_SKIP("stderr capture and setenv are POSIX-only in this test");
#else
    pt_config cfg;
    pt_client *c = NULL;
    pt_error err;
    const char *out, *old = getenv("PACKTRACK_DEBUG");
    char saved[64];
    int had = old != NULL;
    if (had) snprintf(saved, sizeof saved, "%s", old);
    out = ta_stderr_of(ta_log_direct, NULL);
    PT_CHECK_MSG(strcmp(out, "packtrack: warn: hello from the test\npacktrack: debug: second\n") == 0, "got [%s]", out);
    /* the switch: off by default, on with 1, refused when unparsable */
    unsetenv("PACKTRACK_DEBUG");
    memset(&cfg, 0, sizeof cfg);
    PT_CHECK_EQ(pt_config_from_env(&cfg, &err), PT_OK);
    PT_CHECK(cfg.logger == NULL);
    setenv("PACKTRACK_DEBUG", "0", 1);
    PT_CHECK_EQ(pt_config_from_env(&cfg, &err), PT_OK);
    PT_CHECK(cfg.logger == NULL);
    setenv("PACKTRACK_DEBUG", "maybe", 1);
    PT_CHECK_EQ(pt_config_from_env(&cfg, &err), PT_ERR_CONFIG);
    PT_CHECK(strstr(err.message, "PACKTRACK_DEBUG") != NULL);
    setenv("PACKTRACK_DEBUG", "1", 1);
    cfg.log_level = PT_LOG_ERROR;
    PT_CHECK_EQ(pt_config_from_env(&cfg, &err), PT_OK);
    PT_CHECK(cfg.logger == pt_log_stderr && cfg.log_level == PT_LOG_DEBUG);
    if (had) setenv("PACKTRACK_DEBUG", saved, 1); else unsetenv("PACKTRACK_DEBUG");
    /* end to end: a refused event says why on stderr, without the key */
    cfg = tu_config("http://127.0.0.1:1");
    cfg.manual_mode = 1;
    cfg.logger = pt_log_stderr;
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    out = ta_stderr_of(ta_log_client, c);
    PT_CHECK_MSG(strstr(out, "packtrack: warn: ") == out && strstr(out, "workflow.id") != NULL, "got [%s]", out);
    PT_CHECK(strstr(out, TU_KEY) == NULL);
    pt_close(c, 100, NULL); pt_client_free(c);
#endif
}

PT_TEST(api_field_setters_with_length) {
    pt_event ev = tu_event("slices");
    pt_field f[4];
    char json[2048];
    size_t len;
    const char *buf = "abcdef{\"x\":[1,2]}tail";
    f[0] = pt_field_strn("cut", buf + 1, 3);          /* "bcd": no NUL after it */
    f[1] = pt_field_strn("empty", buf, 0);            /* an empty view, not strlen */
    f[2] = pt_field_rawn("obj", buf + 6, 11);
    f[3] = pt_field_strn("nul", NULL, 0);
    ev.metadata = f; ev.metadata_count = 4;
    PT_CHECK_EQ(pt_event_to_json(NULL, &ev, json, sizeof json, &len, NULL), PT_OK);
    PT_CHECK_MSG(strstr(json, "\"metadata\":{\"cut\":\"bcd\",\"empty\":\"\",\"obj\":{\"x\":[1,2]},\"nul\":null}") != NULL, "%s", json);
    PT_CHECK(ta_py(json));
    f[2] = pt_field_rawn("obj", buf + 6, 0);          /* empty raw JSON is not a value */
    PT_CHECK_EQ(pt_event_to_json(NULL, &ev, json, sizeof json, &len, NULL), PT_ERR_INVALID_JSON);
    TA_PY_DONE();
}

#ifdef __cplusplus
PT_TEST(api_cxx_raii) {
    ta_cap cap;
    pt_config cfg;
    ta_cap_init(&cap);
    cfg = ta_config(&cap);
    ta_defaults(&cfg);
    {
        pt_config bad = cfg;
        bad.api_key = nullptr;
        packtrack::client nope(bad);
        PT_CHECK(!nope.ok() && nope.get() == nullptr);
        PT_CHECK_EQ(nope.result(), PT_ERR_CONFIG);
        PT_CHECK(strstr(nope.error().message, "api_key") != nullptr);
    }
    {
        packtrack::client pt(cfg, 3000);
        PT_REQUIRE(pt.ok());
        {
            packtrack::step outer(pt, "outer");
            PT_CHECK_EQ(outer.begin_result(), PT_OK);
            PT_CHECK(outer.id() != nullptr);
            {
                packtrack::step inner(pt, "inner", &outer);
                inner.fail();
            }
            PT_CHECK_EQ(pt_trackf(pt, PT_SEVERITY_INFO, PT_STATUS_SUCCESS, "between %d", 1), PT_OK);
        }
        PT_CHECK_EQ(cap.n, 0);   /* manual mode: nothing sent before close */
    }   /* the destructor closes (drains) and frees */
    PT_REQUIRE(cap.n == 5);
    PT_CHECK(strstr(cap.ev[0], "\"message\":\"outer\"") && strstr(cap.ev[0], "\"status\":\"running\""));
    PT_CHECK(strstr(cap.ev[1], "\"message\":\"inner\"") && strstr(cap.ev[1], "parent_step_id"));
    PT_CHECK(strstr(cap.ev[2], "\"severity\":\"error\",\"status\":\"error\"") && ta_duration(cap.ev[2]) >= 0);
    PT_CHECK(strstr(cap.ev[3], "\"message\":\"between 1\""));
    PT_CHECK(strstr(cap.ev[4], "\"message\":\"outer\"") && strstr(cap.ev[4], "\"status\":\"success\"") && ta_duration(cap.ev[4]) >= 0);
    {   /* close() early gives the report; the destructor then only frees */
        packtrack::client pt(cfg);
        pt_close_report rep;
        PT_REQUIRE(pt.ok());
        packtrack::step s(pt, "explicit");
        PT_CHECK_EQ(s.end(PT_STATUS_SKIPPED), PT_OK);
        PT_CHECK_EQ(s.end(PT_STATUS_SKIPPED), PT_ERR_INVALID_ARG);
        PT_CHECK_EQ(pt.close(&rep), PT_OK);
        PT_CHECK_EQ(rep.delivered, 2);
    }
    ta_cap_python(&cap);
    ta_cap_free(&cap);
    TA_PY_DONE();
}
#else
PT_TEST(api_cxx_raii) { PT_SKIP("the C++ wrappers run in the C++ build (build/run-cxx)"); }
#endif

static const pt_test_case api_tests[] = {
    PT_CASE(api_defaults_fill_and_precedence),
    PT_CASE(api_defaults_many_fields_and_bad_config),
    PT_CASE(api_trackf_format_long_utf8),
    PT_CASE(api_step_pair_across_threads),
    PT_CASE(api_step_nested_and_explicit),
    PT_CASE(api_step_after_close),
    PT_CASE(api_clock_and_ids),
    PT_CASE(api_track_json_required_fields),
    PT_CASE(api_stderr_logger_and_env_switch),
    PT_CASE(api_field_setters_with_length),
    PT_CASE(api_cxx_raii),
};
