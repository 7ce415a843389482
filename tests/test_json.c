/* json tests: the event serialiser, string escaping, numbers, the JSON
   validator and minifier, timestamps, UUIDs, URL and Retry-After parsing,
   HTTP head parsing, and the fuzz corpus replayed as ordinary tests.
   Every JSON document the writer produces here is also checked by an
   independent parser (python3's json module, tu_python_json_check). */
#include "test_util.h"
#include "fuzz/fuzz_targets.h"
#include <float.h>
#include <math.h>
#include <time.h>
#include <dirent.h>
#include <sys/stat.h>

/* ---- helpers ------------------------------------------------------------------- */

/* Documents collected during a test, checked by python in one go. */
static char **tj_docs;
static size_t tj_ndocs, tj_capdocs;
static void tj_doc_add(const char *s, size_t n) {
    char *d;
    if (tj_ndocs == tj_capdocs) {
        size_t nc = tj_capdocs ? tj_capdocs * 2 : 64;
        char **nd = (char **)realloc(tj_docs, nc * sizeof *nd);
        if (!nd) return;
        tj_docs = nd; tj_capdocs = nc;
    }
    d = (char *)malloc(n + 1);
    if (!d) return;
    memcpy(d, s, n); d[n] = 0;
    tj_docs[tj_ndocs++] = d;
}
/* Runs python over the collected documents (fails the test if it rejects
   any) and frees them. */
static void tj_docs_check(void) {
    size_t i;
    int bad;
    for (i = 0; i < tj_ndocs; i++) PT_CHECK_MSG(strchr(tj_docs[i], '\n') == NULL, "raw newline in a document: %.120s", tj_docs[i]);
    bad = tu_python_json_check((const char *const *)tj_docs, tj_ndocs);
    if (bad < 0) tu_python_missing();
    else PT_CHECK_MSG(bad == 0, "python rejected %d of %lu documents", bad, (unsigned long)tj_ndocs);
    for (i = 0; i < tj_ndocs; i++) free(tj_docs[i]);
    free(tj_docs);
    tj_docs = NULL; tj_ndocs = tj_capdocs = 0;
}

static char tj_out[1 << 16];
static size_t tj_len;
static pt_error tj_err;
/* Serialises through the public pt_event_to_json (no client); on success
   the document is collected for python. */
static pt_result tj_ev(const pt_event *ev) {
    pt_result r = pt_event_to_json(NULL, ev, tj_out, sizeof tj_out, &tj_len, &tj_err);
    PT_CHECK_MSG(ptf_json_diff(ev, NULL, 0) == 0, "the writer and tests/ref_json.h differ on this event");
    if (r == PT_OK) {
        PT_CHECK(strlen(tj_out) == tj_len);
        PT_CHECK(ptf_valid_event_doc(tj_out, tj_len));   /* pt__json_validate, two extra levels for raw values */
        tj_doc_add(tj_out, tj_len);
    } else {
        tj_out[0] = 0;
    }
    return r;
}

/* One string through pt__json_str, as a malloc'd NUL-terminated copy. */
static char *tj_str(const char *s, size_t n) {
    pt__buf b;
    char *out;
    pt__buf_init(&b, NULL, 0);
    pt__json_str(&b, s, n);
    out = (char *)malloc(b.len + 1);
    if (out) { memcpy(out, b.p, b.len); out[b.len] = 0; }
    pt__buf_free(&b);
    {   /* the same bytes as the reference writer */
        pt__buf r;
        pt__buf_init(&r, NULL, 0);
        ptref_json_str(&r, s, n);
        PT_CHECK(out && r.len == strlen(out) && memcmp(r.p, out, r.len) == 0);
        pt__buf_free(&r);
    }
    return out;
}
static int tj_str_is(const char *in, size_t n, const char *want) {
    char *got = tj_str(in, n);
    int ok = got && strcmp(got, want) == 0;
    if (!ok) fprintf(stderr, "      json_str gave %s, want %s\n", got ? got : "(oom)", want);
    if (got) { tj_doc_add(got, strlen(got)); free(got); }
    return ok;
}

static char *tj_double(double d) {
    static char s[64];
    pt__buf b;
    pt__buf_init(&b, NULL, 0);
    pt__json_double(&b, d);
    if (b.len < sizeof s) { memcpy(s, b.p, b.len); s[b.len] = 0; } else s[0] = 0;
    pt__buf_free(&b);
    {   /* the same bytes as the reference writer */
        pt__buf r;
        pt__buf_init(&r, NULL, 0);
        ptref_json_double(&r, d);
        PT_CHECK_MSG(r.len == strlen(s) && memcmp(r.p, s, r.len) == 0, "%.17g: \"%s\", reference \"%.*s\"", d, s, (int)r.len, r.p);
        pt__buf_free(&r);
    }
    return s;
}

/* Deterministic PRNG for the randomised tests. */
static uint64_t tj_rng = 0x5eed5eed12345678ULL;
static uint64_t tj_rand(void) { return pt__rand_next(&tj_rng); }
static unsigned tj_randn(unsigned n) { return (unsigned)(tj_rand() % n); }

#define TJ_FIXED_TS 1700000000123LL
#define TJ_FIXED_TS_S "2023-11-14T22:13:20.123Z"
#define TJ_KEY "6f1c0d3e-8b7a-4f3e-9a55-0c6c2a4b9e11"

static pt_event tj_min_event(void) {
    pt_event ev = tu_event("m");
    ev.source_env = NULL;
    ev.timestamp_ms = TJ_FIXED_TS;
    ev.idempotency_key = TJ_KEY;
    return ev;
}

/* ---- the event ------------------------------------------------------------------- */

PT_TEST(json_event_all_fields_in_spec_order) {
    pt_field meta[7], extra[1];
    pt_event ev;
    memset(&ev, 0, sizeof ev);
    ev.timestamp_ms = TJ_FIXED_TS;
    ev.source_system = "checkout-svc"; ev.source_env = "prod";
    ev.workflow_id = "wf-1"; ev.workflow_name = "refund"; ev.run_id = "r-9"; ev.step_id = "s-2";
    ev.actor_type = "agent"; ev.actor_id = "a-42"; ev.actor_display_name = "Refund bot";
    ev.severity = PT_SEVERITY_INFO; ev.status = PT_STATUS_SUCCESS; ev.message = "refund issued";
    meta[0] = pt_field_str("order_id", "o-1");
    meta[1] = pt_field_double("amount", 12.5);
    meta[2] = pt_field_int("attempt", 2);
    meta[3] = pt_field_bool("vip", 7);
    meta[4] = pt_field_raw("tags", "[\"a\",\"b\"]");
    meta[5] = pt_field_null("none");
    meta[6] = pt_field_bool("no", 0);
    extra[0] = pt_field_str("region", "eu");
    ev.metadata = meta; ev.metadata_count = 7;
    ev.extra = extra; ev.extra_count = 1;
    ev.idempotency_key = TJ_KEY;
    PT_REQUIRE(tj_ev(&ev) == PT_OK);
    PT_CHECK_STR(tj_out,
        "{\"timestamp\":\"" TJ_FIXED_TS_S "\","
        "\"source\":{\"system\":\"checkout-svc\",\"env\":\"prod\"},"
        "\"workflow\":{\"id\":\"wf-1\",\"name\":\"refund\",\"run_id\":\"r-9\",\"step_id\":\"s-2\"},"
        "\"actor\":{\"type\":\"agent\",\"id\":\"a-42\",\"display_name\":\"Refund bot\"},"
        "\"severity\":\"info\",\"status\":\"success\",\"message\":\"refund issued\","
        "\"metadata\":{\"order_id\":\"o-1\",\"amount\":12.5,\"attempt\":2,\"vip\":true,\"tags\":[\"a\",\"b\"],\"none\":null,\"no\":false},"
        "\"extra\":{\"region\":\"eu\"},"
        "\"idempotency_key\":\"" TJ_KEY "\"}");
    PT_CHECK_EQ(tj_len, strlen(tj_out));

    /* too small a buffer: PT_ERR_TOO_LARGE, *len still says what is needed */
    {
        char small[16];
        size_t need = 0;
        pt_error e;
        PT_CHECK_EQ(pt_event_to_json(NULL, &ev, small, sizeof small, &need, &e), PT_ERR_TOO_LARGE);
        PT_CHECK_EQ(need, tj_len);
        PT_CHECK(strstr(e.message, "buffer") != NULL);
        PT_CHECK_EQ(pt_event_to_json(NULL, &ev, tj_out, tj_len, &need, NULL), PT_ERR_TOO_LARGE);  /* no room for the NUL */
        PT_CHECK_EQ(pt_event_to_json(NULL, &ev, tj_out, tj_len + 1, &need, NULL), PT_OK);
    }
    tj_docs_check();
}

PT_TEST(json_event_optional_fields_omitted) {
    pt_event ev = tj_min_event();
    pt_field unset[2];
    PT_REQUIRE(tj_ev(&ev) == PT_OK);
    PT_CHECK_STR(tj_out,
        "{\"timestamp\":\"" TJ_FIXED_TS_S "\",\"source\":{\"system\":\"test-svc\"},"
        "\"workflow\":{\"id\":\"wf-1\"},\"actor\":{\"type\":\"agent\",\"id\":\"a-1\"},"
        "\"severity\":\"info\",\"status\":\"success\",\"message\":\"m\","
        "\"idempotency_key\":\"" TJ_KEY "\"}");
    /* lists of only UNSET entries are omitted too */
    memset(unset, 0, sizeof unset);
    unset[0].key = "skipped";
    ev.metadata = unset; ev.metadata_count = 2;
    ev.extra = unset; ev.extra_count = 1;
    PT_REQUIRE(tj_ev(&ev) == PT_OK);
    PT_CHECK(strstr(tj_out, "metadata") == NULL);
    PT_CHECK(strstr(tj_out, "extra") == NULL);
    PT_CHECK(strstr(tj_out, "skipped") == NULL);
    /* some optional fields only: the others stay out, order is kept */
    ev = tj_min_event();
    ev.step_id = "s"; ev.actor_display_name = "D";
    PT_REQUIRE(tj_ev(&ev) == PT_OK);
    PT_CHECK(strstr(tj_out, "\"workflow\":{\"id\":\"wf-1\",\"step_id\":\"s\"},\"actor\":{\"type\":\"agent\",\"id\":\"a-1\",\"display_name\":\"D\"}") != NULL);
    /* a present-but-empty optional string is kept (it was set) */
    ev = tj_min_event();
    ev.source_env = "";
    PT_REQUIRE(tj_ev(&ev) == PT_OK);
    PT_CHECK(strstr(tj_out, "\"source\":{\"system\":\"test-svc\",\"env\":\"\"}") != NULL);
    /* every severity has its name; an unknown one is refused */
    {
        static const char *const names[] = { "debug", "info", "warn", "error" };
        int s;
        char want[64];
        for (s = PT_SEVERITY_DEBUG; s <= PT_SEVERITY_ERROR; s++) {
            ev = tj_min_event();
            ev.severity = (pt_severity)s;
            PT_REQUIRE(tj_ev(&ev) == PT_OK);
            snprintf(want, sizeof want, "\"severity\":\"%s\"", names[s - 1]);
            PT_CHECK_MSG(strstr(tj_out, want) != NULL, "%s", tj_out);
        }
        ev.severity = (pt_severity)42;
        PT_CHECK_EQ(tj_ev(&ev), PT_ERR_INVALID_ARG);
        PT_CHECK(strstr(tj_err.message, "severity") != NULL);
    }
    /* status passes through unknown strings */
    ev = tj_min_event();
    ev.status = "half-done";
    PT_REQUIRE(tj_ev(&ev) == PT_OK);
    PT_CHECK(strstr(tj_out, "\"status\":\"half-done\"") != NULL);
    tj_docs_check();
}

/* Sets required field i of ev to v (NULL or ""); returns its SPEC name. */
static const char *tj_break_field(pt_event *ev, int i, const char *v) {
    switch (i) {
    case 0: ev->source_system = v; return "source.system";
    case 1: ev->workflow_id = v; return "workflow.id";
    case 2: ev->actor_type = v; return "actor.type";
    case 3: ev->actor_id = v; return "actor.id";
    case 4: ev->status = v; return "status";
    case 5: ev->message = v; return "message";
    default: ev->severity = PT_SEVERITY_UNSET; return "severity";
    }
}

PT_TEST(json_missing_required_fields) {
    int i, e;
    for (i = 0; i < 7; i++) {
        for (e = 0; e < 2; e++) {
            pt_event ev = tj_min_event();
            const char *name = tj_break_field(&ev, i, e ? "" : NULL);
            memset(&tj_err, 0x55, sizeof tj_err);
            PT_CHECK_EQ(tj_ev(&ev), PT_ERR_MISSING_FIELD);
            PT_CHECK_EQ(tj_err.code, PT_ERR_MISSING_FIELD);
            PT_CHECK_MSG(strstr(tj_err.message, name) != NULL, "message \"%s\" does not name %s", tj_err.message, name);
            PT_CHECK_EQ(tj_len, 0);
        }
    }
    /* the first missing field in SPEC order is the one named */
    {
        pt_event ev = tj_min_event();
        ev.message = NULL; ev.actor_id = "";
        PT_CHECK_EQ(tj_ev(&ev), PT_ERR_MISSING_FIELD);
        PT_CHECK(strstr(tj_err.message, "actor.id") != NULL);
    }
    PT_CHECK_EQ(pt_event_to_json(NULL, NULL, tj_out, sizeof tj_out, NULL, NULL), PT_ERR_INVALID_ARG);
    tj_docs_check();
}

static int tj_sends;
static pt_result tj_http_count(const pt_http_request *req, pt_http_response *resp, void *user) {
    (void)req; (void)user;
    tj_sends++;
    resp->status = 200;
    return PT_OK;
}

PT_TEST(json_missing_fields_nothing_sent) {
    pt_config cfg = tu_config("http://127.0.0.1:1");
    pt_client *c = NULL;
    pt_client_stats st;
    pt_error err;
    pt_event evs[2];
    int i, e;
    cfg.max_retries = PT_RETRIES_NONE;
    cfg.connect_timeout_ms = 300;
    cfg.timeout_ms = 500;
    PT_REQUIRE(pt_client_new(&cfg, &c, &err) == PT_OK);
    for (i = 0; i < 7; i++) {
        for (e = 0; e < 2; e++) {
            pt_event ev = tj_min_event();
            const char *name = tj_break_field(&ev, i, e ? "" : NULL);
            PT_CHECK_EQ(pt_ingest(c, &ev, &err), PT_ERR_MISSING_FIELD);
            PT_CHECK_EQ(err.code, PT_ERR_MISSING_FIELD);
            PT_CHECK_EQ(err.attempts, 0);
            PT_CHECK_MSG(strstr(err.message, name) != NULL, "pt_ingest: \"%s\" does not name %s", err.message, name);
            PT_CHECK_EQ(pt_track(c, &ev), PT_ERR_MISSING_FIELD);
            evs[0] = tj_min_event(); evs[1] = ev;
            PT_CHECK_EQ(pt_ingest_batch(c, evs, 2, &err), PT_ERR_MISSING_FIELD);
            PT_CHECK_MSG(strstr(err.message, name) != NULL && strstr(err.message, "event 1") != NULL, "batch: %s", err.message);
            PT_CHECK_EQ(err.attempts, 0);
        }
    }
    PT_CHECK_EQ(pt_stats(c, &st), PT_OK);
    PT_CHECK_EQ(st.tracked, 0);
    PT_CHECK_EQ(st.pending, 0);
    PT_CHECK_EQ(st.batches_sent, 0);
    /* control: a valid event really goes to the network (and fails there) */
    {
        pt_event ev = tj_min_event();
        pt_result r = pt_ingest(c, &ev, &err);
        PT_CHECK_MSG(r != PT_OK && r != PT_ERR_MISSING_FIELD && err.attempts >= 1, "valid event: %s (%d attempts)", pt_strerror(r), err.attempts);
    }
    pt_close(c, 200, NULL);
    pt_client_free(c);

    /* the same with an HTTP hook that counts: nothing reaches it */
    cfg = tu_config("http://127.0.0.1:1");
    cfg.http = tj_http_count;
    cfg.manual_mode = 1;
    tj_sends = 0;
    PT_REQUIRE(pt_client_new(&cfg, &c, &err) == PT_OK);
    for (i = 0; i < 7; i++) {
        pt_event ev = tj_min_event();
        tj_break_field(&ev, i, NULL);
        PT_CHECK_EQ(pt_ingest(c, &ev, &err), PT_ERR_MISSING_FIELD);
        PT_CHECK_EQ(pt_track(c, &ev), PT_ERR_MISSING_FIELD);
    }
    PT_CHECK_EQ(pt_flush(c, 1000), PT_OK);
    PT_CHECK_EQ(tj_sends, 0);
    {
        pt_event ev = tj_min_event();
        PT_CHECK_EQ(pt_ingest(c, &ev, &err), PT_OK);
        PT_CHECK_EQ(tj_sends, 1);
    }
    pt_close(c, 1000, NULL);
    pt_client_free(c);
}

/* ---- escaping ------------------------------------------------------------------------ */

PT_TEST(json_escape_quote_backslash_controls) {
    static const char *const esc[32] = {
        "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
        "\\b", "\\t", "\\n", "\\u000b", "\\f", "\\r", "\\u000e", "\\u000f",
        "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
        "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f" };
    char in[40], want[300];
    pt_field f[1];
    pt_event ev;
    int c;
    size_t n = 0;
    PT_CHECK(tj_str_is("", 0, "\"\""));
    PT_CHECK(tj_str_is("\"", 1, "\"\\\"\""));
    PT_CHECK(tj_str_is("\\", 1, "\"\\\\\""));
    PT_CHECK(tj_str_is("a\"b\\c/d\x7f", 8, "\"a\\\"b\\\\c/d\x7f\""));
    for (c = 0; c < 32; c++) {
        char one[1], w[16];
        one[0] = (char)c;
        snprintf(w, sizeof w, "\"%s\"", esc[c]);
        PT_CHECK_MSG(tj_str_is(one, 1, w), "control 0x%02x", c);
    }
    /* all of them in one string, with a NUL inside (len given) */
    strcpy(want, "\"");
    for (c = 0; c < 32; c++) { in[n++] = (char)c; strcat(want, esc[c]); }
    in[n++] = '"'; strcat(want, "\\\"");
    in[n++] = '\\'; strcat(want, "\\\\");
    in[n++] = 'z'; strcat(want, "z\"");
    PT_CHECK(tj_str_is(in, n, want));

    /* through an event: a metadata string with len (NUL included) and a key that needs escaping */
    ev = tj_min_event();
    f[0] = pt_field_str("k\"\\\n", in);
    f[0].len = n;
    ev.metadata = f; ev.metadata_count = 1;
    PT_REQUIRE(tj_ev(&ev) == PT_OK);
    {
        char frag[400];
        snprintf(frag, sizeof frag, "\"metadata\":{\"k\\\"\\\\\\n\":%s}", want);
        PT_CHECK_MSG(strstr(tj_out, frag) != NULL, "%s", tj_out);
    }
    /* control characters in the strlen-based event strings */
    ev = tj_min_event();
    ev.message = "tab\there\r\nnl\x01\x1f end";
    ev.source_system = "a\"b";
    ev.actor_display_name = "\\";
    PT_REQUIRE(tj_ev(&ev) == PT_OK);
    PT_CHECK(strstr(tj_out, "\"message\":\"tab\\there\\r\\nnl\\u0001\\u001f end\"") != NULL);
    PT_CHECK(strstr(tj_out, "\"system\":\"a\\\"b\"") != NULL);
    PT_CHECK(strstr(tj_out, "\"display_name\":\"\\\\\"") != NULL);
    tj_docs_check();
}

#define FFFD "\xEF\xBF\xBD"
PT_TEST(json_escape_utf8) {
    /* valid multi-byte sequences pass through unchanged */
    PT_CHECK(tj_str_is("caf\xC3\xA9", 5, "\"caf\xC3\xA9\""));
    PT_CHECK(tj_str_is("\xE2\x82\xAC", 3, "\"\xE2\x82\xAC\""));                   /* U+20AC */
    PT_CHECK(tj_str_is("\xF0\x9F\x98\x80", 4, "\"\xF0\x9F\x98\x80\""));          /* U+1F600 */
    PT_CHECK(tj_str_is("\xF4\x8F\xBF\xBF", 4, "\"\xF4\x8F\xBF\xBF\""));          /* U+10FFFF */
    PT_CHECK(tj_str_is("\xED\x9F\xBF", 3, "\"\xED\x9F\xBF\""));                  /* U+D7FF */
    PT_CHECK(tj_str_is("\xEE\x80\x80", 3, "\"\xEE\x80\x80\""));                  /* U+E000 */
    PT_CHECK(tj_str_is(FFFD, 3, "\"" FFFD "\""));                                /* U+FFFD itself */
    PT_CHECK(tj_str_is("\xC2\x80\xDF\xBF", 4, "\"\xC2\x80\xDF\xBF\""));          /* U+0080, U+07FF */
    PT_CHECK(tj_str_is("\xE0\xA0\x80\xF0\x90\x80\x80", 7, "\"\xE0\xA0\x80\xF0\x90\x80\x80\""));
    /* U+2028 / U+2029 escaped, their neighbours not */
    PT_CHECK(tj_str_is("a\xE2\x80\xA8" "b\xE2\x80\xA9" "c", 9, "\"a\\u2028b\\u2029c\""));
    PT_CHECK(tj_str_is("\xE2\x80\xA7\xE2\x80\xAA", 6, "\"\xE2\x80\xA7\xE2\x80\xAA\""));
    /* invalid: each maximal invalid subpart becomes one U+FFFD */
    PT_CHECK(tj_str_is("\xC0\xAF", 2, "\"" FFFD FFFD "\""));                     /* overlong '/' */
    PT_CHECK(tj_str_is("\xC1\xBF", 2, "\"" FFFD FFFD "\""));
    PT_CHECK(tj_str_is("\xE0\x80\xAF", 3, "\"" FFFD FFFD FFFD "\""));             /* overlong 3-byte */
    PT_CHECK(tj_str_is("\xF0\x80\x80\xAF", 4, "\"" FFFD FFFD FFFD FFFD "\""));    /* overlong 4-byte */
    PT_CHECK(tj_str_is("\xED\xA0\x80", 3, "\"" FFFD FFFD FFFD "\""));             /* surrogate D800 */
    PT_CHECK(tj_str_is("\xED\xBF\xBF", 3, "\"" FFFD FFFD FFFD "\""));             /* surrogate DFFF */
    PT_CHECK(tj_str_is("\xED\xA0\xBD\xED\xB8\x80", 6, "\"" FFFD FFFD FFFD FFFD FFFD FFFD "\""));  /* CESU pair */
    PT_CHECK(tj_str_is("\xF4\x90\x80\x80", 4, "\"" FFFD FFFD FFFD FFFD "\""));    /* > U+10FFFF */
    PT_CHECK(tj_str_is("\xF5\x80\x80\x80", 4, "\"" FFFD FFFD FFFD FFFD "\""));
    PT_CHECK(tj_str_is("\xF8\xFC\xFE\xFF", 4, "\"" FFFD FFFD FFFD FFFD "\""));
    PT_CHECK(tj_str_is("\x80", 1, "\"" FFFD "\""));                               /* lone continuation */
    PT_CHECK(tj_str_is("a\xBF\xBF" "b", 4, "\"a" FFFD FFFD "b\""));
    /* truncated sequences at the end of the string: one U+FFFD each */
    PT_CHECK(tj_str_is("\xC3", 1, "\"" FFFD "\""));
    PT_CHECK(tj_str_is("x\xE2\x82", 3, "\"x" FFFD "\""));
    PT_CHECK(tj_str_is("\xF0\x9F\x98", 3, "\"" FFFD "\""));
    PT_CHECK(tj_str_is("\xF0\x9F", 2, "\"" FFFD "\""));
    /* truncated in the middle: the next byte is kept */
    PT_CHECK(tj_str_is("\xE2\x82" "x\xF0\x9F\x98" "\"", 7, "\"" FFFD "x" FFFD "\\\"\""));
    PT_CHECK(tj_str_is("\xC3\xC3\xA9", 3, "\"" FFFD "\xC3\xA9\""));
    /* a len that cuts a valid sequence: never reads past len */
    PT_CHECK(tj_str_is("\xE2\x82\xAC", 2, "\"" FFFD "\""));
    /* in an event: key and value both repaired */
    {
        pt_event ev = tj_min_event();
        pt_field f[1];
        f[0] = pt_field_str("k\xFF", "v\xC0");
        ev.metadata = f; ev.metadata_count = 1;
        ev.message = "m\xED\xA0\x80";
        PT_REQUIRE(tj_ev(&ev) == PT_OK);
        PT_CHECK(strstr(tj_out, "\"message\":\"m" FFFD FFFD FFFD "\"") != NULL);
        PT_CHECK(strstr(tj_out, "\"metadata\":{\"k" FFFD "\":\"v" FFFD "\"}") != NULL);
    }
    tj_docs_check();
}

/* Random strings biased towards what breaks escapers. */
static size_t tj_rand_str(char *dst, size_t cap, int allow_nul) {
    size_t n = tj_randn((unsigned)(cap > 48 ? 48 : cap - 5)), i = 0;
    while (i < n && i + 4 < cap) {
        unsigned k = tj_randn(100);
        if (k < 30) dst[i++] = (char)(0x20 + tj_randn(95));
        else if (k < 40) dst[i++] = (char)(1 + tj_randn(31));
        else if (k < 45) dst[i++] = '"';
        else if (k < 50) dst[i++] = '\\';
        else if (k < 65) dst[i++] = (char)(0x80 + tj_randn(128));
        else if (k < 80) {
            static const char *const seqs[] = { "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xE2\x80\xA8", "\xE2\x80\xA9",
                                                "\xED\x9F\xBF", "\xF4\x8F\xBF\xBF", "\xEF\xBF\xBD", "\xEF\xBB\xBF" };
            const char *s = seqs[tj_randn(9)];
            size_t L = strlen(s);
            memcpy(dst + i, s, L); i += L;
        } else if (k < 90) {
            static const char *const bad[] = { "\xE2\x82", "\xF0\x9F\x98", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE0\x80\xAF" };
            const char *s = bad[tj_randn(6)];
            size_t L = strlen(s);
            memcpy(dst + i, s, L); i += L;
        } else dst[i++] = (char)(allow_nul ? tj_randn(256) : 1 + tj_randn(255));
    }
    dst[i] = 0;
    return i;
}

PT_TEST(json_random_events_python) {
    static const char *const raws[] = {
        "{\"a\": [1, 2.5e3, -0, true, false, null, \"x\\u00e9\\ud83d\\ude00\"]}",
        " [ ] ", "{}", "\"\\t\\n\\\"\\\\\\/\"", "{\n\t\"nested\" : {\"deep\": [[[[1]]]]}\r\n}", "-12.5E-3",
        "\"caf\xC3\xA9\"", "0", "\"\\u2028\"", "[\"\xE2\x80\xA8\"]", "1e400", "{\"a\":{\"a\":{\"a\":{}}}}" };
    enum { NEV = 3000 };
    char strs[12][64], keys[2][6][80], vals[2][6][64];
    int i, k, bad_valid = 0, bad_ctrl = 0, not_ok = 0;
    pt__buf b;
    for (i = 0; i < NEV; i++) {
        pt_event ev;
        pt_field lists[2][6];
        size_t counts[2];
        int l;
        memset(&ev, 0, sizeof ev);
        for (k = 0; k < 12; k++) {
            tj_rand_str(strs[k], sizeof strs[k], 0);
            if (k <= 7 && strs[k][0] == 0) { strs[k][0] = 'r'; strs[k][1] = 0; }   /* required ones non-empty */
        }
        ev.source_system = strs[0]; ev.workflow_id = strs[1]; ev.actor_type = strs[2]; ev.actor_id = strs[3];
        ev.status = strs[4]; ev.message = strs[5];
        ev.source_env = tj_randn(2) ? strs[6] : NULL;
        ev.workflow_name = tj_randn(2) ? strs[7] : NULL;
        ev.run_id = tj_randn(2) ? strs[8] : NULL;
        ev.step_id = tj_randn(2) ? strs[9] : NULL;
        ev.actor_display_name = tj_randn(2) ? strs[10] : NULL;
        ev.idempotency_key = tj_randn(3) == 0 ? strs[11] : NULL;
        ev.severity = (pt_severity)(1 + tj_randn(4));
        ev.timestamp_ms = tj_randn(4) == 0 ? 0 : (int64_t)(tj_rand() >> 1) * (tj_randn(2) ? 1 : -1);
        for (l = 0; l < 2; l++) {
            counts[l] = tj_randn(7);
            for (k = 0; k < (int)counts[l]; k++) {
                pt_field *f = &lists[l][k];
                size_t kl = tj_rand_str(keys[l][k], 60, 0);
                snprintf(keys[l][k] + kl, 80 - kl, "#%d", k);                  /* distinct */
                switch (tj_randn(7)) {
                case 0: *f = pt_field_str(keys[l][k], vals[l][k]); f->len = tj_rand_str(vals[l][k], sizeof vals[l][k], 1); if (!f->len) f->str = ""; break;
                case 1: *f = pt_field_int(keys[l][k], (int64_t)tj_rand()); break;
                case 2: { uint64_t u = tj_rand(); double d; memcpy(&d, &u, sizeof d); *f = pt_field_double(keys[l][k], d); break; }
                case 3: *f = pt_field_bool(keys[l][k], (int)tj_randn(3)); break;
                case 4: *f = pt_field_null(keys[l][k]); break;
                case 5: *f = pt_field_raw(keys[l][k], raws[tj_randn(sizeof raws / sizeof raws[0])]); break;
                default: *f = pt_field_str(keys[l][k], NULL); break;
                }
            }
        }
        ev.metadata = lists[0]; ev.metadata_count = counts[0];
        ev.extra = lists[1]; ev.extra_count = counts[1];
        pt__buf_init(&b, NULL, 0);
        PT_CHECK_MSG(ptf_json_diff(&ev, NULL, 0) == 0, "event %d differs from tests/ref_json.h", i);
        if (pt__event_json(&ev, NULL, 0, &b, NULL) != PT_OK) not_ok++;
        else {
            size_t j;
            if (!pt__json_validate(b.p, b.len, 1, NULL, NULL)) bad_valid++;
            for (j = 0; j < b.len; j++) if ((unsigned char)b.p[j] < 0x20) { bad_ctrl++; break; }
            tj_doc_add(b.p, b.len);
        }
        pt__buf_free(&b);
    }
    PT_CHECK_EQ(not_ok, 0);
    PT_CHECK_EQ(bad_valid, 0);
    PT_CHECK_EQ(bad_ctrl, 0);
    PT_CHECK_EQ(tj_ndocs, NEV);
    /* hostile strings, raw bytes 0..255 each, as one string field */
    {
        char all[256];
        pt_field f[1];
        pt_event ev = tj_min_event();
        for (k = 0; k < 256; k++) all[k] = (char)k;
        f[0] = pt_field_str("all", all);
        f[0].len = 256;
        ev.metadata = f; ev.metadata_count = 1;
        PT_CHECK(tj_ev(&ev) == PT_OK);
        for (k = 1; k < 256; k++) {
            char one[2];
            one[0] = (char)k; one[1] = 0;
            ev = tj_min_event();
            ev.message = one; ev.source_system = one; ev.actor_id = one;
            PT_CHECK(tj_ev(&ev) == PT_OK);
        }
    }
    tj_docs_check();
}

/* ---- numbers --------------------------------------------------------------------------- */

static int tj_roundtrips(double d) {
    const char *s = tj_double(d);
    char *end = NULL;
    double back;
    if (!pt__json_validate(s, strlen(s), 0, NULL, NULL)) { fprintf(stderr, "      %.17g -> \"%s\" is not JSON\n", d, s); return 0; }
    back = strtod(s, &end);
    if (*end || memcmp(&back, &d, sizeof d) != 0) { fprintf(stderr, "      %.17g -> \"%s\" -> %.17g\n", d, s, back); return 0; }
    return 1;
}

PT_TEST(json_doubles) {
    static const double fixed[] = { 0.1, 0.2, 0.3, 1e-300, 5e-324, -5e-324, 2.2250738585072014e-308, 2.2250738585072009e-308,
                                    DBL_MAX, -DBL_MAX, DBL_MIN, -0.0, 0.0, 12.5, 1e21, 1e22, 1e-7, 123456.789, -123456.789,
                                    9007199254740992.0, 9007199254740993.0, 9007199254.740993, 0.000001, 1.000001, 4.35, 1.0 / 3,
                                    100, 1e15, 1e16, 1e17, 123456789012345678.0, 0.1 + 0.2, 2.5e-5, 8.589973e9, 1.7976931348623157e308 };
    size_t i;
    int fails = 0;
    PT_CHECK_STR(tj_double(NAN), "null");
    PT_CHECK_STR(tj_double(-NAN), "null");
    PT_CHECK_STR(tj_double(INFINITY), "null");
    PT_CHECK_STR(tj_double(-INFINITY), "null");
    PT_CHECK_STR(tj_double(12.5), "12.5");
    PT_CHECK_STR(tj_double(0.1), "0.1");
    PT_CHECK_STR(tj_double(-0.0), "-0.0");
    PT_CHECK_STR(tj_double(123456.789), "123456.789");
    PT_CHECK_STR(tj_double(-2.5), "-2.5");
    for (i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        PT_CHECK_MSG(tj_roundtrips(fixed[i]), "fixed[%lu]", (unsigned long)i);
        tj_doc_add(tj_double(fixed[i]), strlen(tj_double(fixed[i])));
    }
    /* random bit patterns (every finite double is reachable) */
    for (i = 0; i < 100000; i++) {
        uint64_t u = tj_rand();
        double d;
        memcpy(&d, &u, sizeof d);
        if (d != d || d - d != 0) { PT_CHECK(strcmp(tj_double(d), "null") == 0); continue; }
        if (!tj_roundtrips(d) && ++fails > 5) break;
        if (i % 200 == 0) tj_doc_add(tj_double(d), strlen(tj_double(d)));
    }
    /* random short decimals (the fast path) and their neighbours */
    for (i = 0; i < 50000; i++) {
        double d = (double)(int64_t)(tj_rand() % 2000000000001ULL - 1000000000000LL) / (double)(1 + tj_randn(1000000));
        double dec = (double)(int64_t)(tj_rand() % 20000000001ULL - 10000000000LL) / 1e6;
        if (!tj_roundtrips(d) && ++fails > 5) break;
        if (!tj_roundtrips(dec) && ++fails > 5) break;
        if (!tj_roundtrips(nextafter(dec, 1e300)) && ++fails > 5) break;
        if (!tj_roundtrips(nextafter(dec, -1e300)) && ++fails > 5) break;
    }
    PT_CHECK_EQ(fails, 0);
    /* through an event */
    {
        pt_field f[5];
        pt_event ev = tj_min_event();
        f[0] = pt_field_double("nan", NAN);
        f[1] = pt_field_double("inf", INFINITY);
        f[2] = pt_field_double("ninf", -INFINITY);
        f[3] = pt_field_double("half", 0.5);
        f[4] = pt_field_double("big", 1e21);
        ev.metadata = f; ev.metadata_count = 5;
        PT_REQUIRE(tj_ev(&ev) == PT_OK);
        PT_CHECK(strstr(tj_out, "\"metadata\":{\"nan\":null,\"inf\":null,\"ninf\":null,\"half\":0.5,\"big\":1e+21}") != NULL);
    }
    tj_docs_check();
}

PT_TEST(json_int64_extremes) {
    pt_field f[6];
    pt_event ev = tj_min_event();
    f[0] = pt_field_int("min", INT64_MIN);
    f[1] = pt_field_int("max", INT64_MAX);
    f[2] = pt_field_int("zero", 0);
    f[3] = pt_field_int("m1", -1);
    f[4] = pt_field_int("p", 1000000007);
    f[5] = pt_field_int("n", -4294967296LL);
    ev.metadata = f; ev.metadata_count = 6;
    PT_REQUIRE(tj_ev(&ev) == PT_OK);
    PT_CHECK_MSG(strstr(tj_out, "\"metadata\":{\"min\":-9223372036854775808,\"max\":9223372036854775807,\"zero\":0,\"m1\":-1,\"p\":1000000007,\"n\":-4294967296}") != NULL, "%s", tj_out);
    tj_docs_check();
}

/* ---- raw values and the validator ---------------------------------------------------------------- */

static const char *const tj_valid_json[] = {
    "{}", "[]", "0", "-0", "1", "-1", "0.5", "-0.5e+10", "1E5", "1e-5", "123456789012345678901234567890", "true", "false", "null",
    "\"\"", "\"str\"", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\u00e9\\uD83D\\uDE00\"", "\"\\uFFFF\"", "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"",
    "{\"a\":{\"b\":[1,2,{\"c\":null}]}}", " [1 , 2 ] ", "\t{\r\n\"k\" :\n[ ]\n}\n", "[[],[[]],{}]", "{\"\":\"\"}",
    "{\"a\":1,\"a\":2}", "[1,\"2\",3.0,true,false,null,{},[]]", "\"\x7f\"",
};
static const char *const tj_invalid_json[] = {
    "", " ", "{\"a\":1} x", "{\"a\":1}}", "[1,2", "[1,2]]", "{\"a\":1", "{", "]", "tru", "nul", "fals", "truex", "nulll",
    "01", "-01", "00", "-", "1.", ".5", "1e", "1e+", "+1", "0x10", "1.5.5", "--1", "NaN", "Infinity", "-Infinity",
    "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\ud800x\"", "\"\\U0041\"",
    "\"a\tb\"", "\"a\nb\"", "\"\x01\"", "{\"a\" 1}", "{a:1}", "{'a':1}", "'a'", "[1,]", "{\"a\":1,}", "[,1]", "{,}",
    "[1 2]", "{\"a\":1 \"b\":2}", "\"unterminated", "\"\\", "{\"a\"}", "{\"a\":}", "[\"\xff\"]", "\"\xC0\xAF\"", "\"\xED\xA0\x80\"",
    "\"\xE2\x82\"", "[1]/", "/*c*/1", "[1]\x0b", "{\"a\":1}\x00",
};

PT_TEST(json_validator_table) {
    size_t i;
    for (i = 0; i < sizeof tj_valid_json / sizeof tj_valid_json[0]; i++) {
        const char *why = NULL;
        size_t at = 0;
        const char *s = tj_valid_json[i];
        PT_CHECK_MSG(pt__json_validate(s, strlen(s), 0, &why, &at), "valid #%lu rejected: %s at %lu", (unsigned long)i, why ? why : "", (unsigned long)at);
    }
    for (i = 0; i < sizeof tj_invalid_json / sizeof tj_invalid_json[0]; i++) {
        const char *why = NULL, *s = tj_invalid_json[i];
        size_t at = 12345, n = strlen(s);
        if (i == sizeof tj_invalid_json / sizeof tj_invalid_json[0] - 1) n += 1;   /* the trailing NUL counts */
        PT_CHECK_MSG(!pt__json_validate(s, n, 0, &why, &at), "invalid #%lu accepted: %s", (unsigned long)i, s);
        PT_CHECK(why != NULL && why[0] != 0);
        PT_CHECK(at <= n);
    }
    /* want_object */
    PT_CHECK(pt__json_validate(" {} ", 4, 1, NULL, NULL));
    PT_CHECK(!pt__json_validate("[]", 2, 1, NULL, NULL));
    PT_CHECK(!pt__json_validate("\"{}\"", 4, 1, NULL, NULL));
    PT_CHECK(!pt__json_validate("1", 1, 1, NULL, NULL));
    /* the length bounds the input: no read past n */
    PT_CHECK(pt__json_validate("[1]xyz", 3, 0, NULL, NULL));
    PT_CHECK(!pt__json_validate("\"abc\"", 4, 0, NULL, NULL));
    PT_CHECK(!pt__json_validate("\"\\u00e9\"", 7, 0, NULL, NULL));
    PT_CHECK(!pt__json_validate("\"\\ud83d\\ude00\"", 13, 0, NULL, NULL));
    PT_CHECK(!pt__json_validate("tru", 3, 0, NULL, NULL));
    PT_CHECK(!pt__json_validate("1e", 2, 0, NULL, NULL));
    PT_CHECK(!pt__json_validate("-", 1, 0, NULL, NULL));
    /* and the valid ones are also valid for python */
    for (i = 0; i < sizeof tj_valid_json / sizeof tj_valid_json[0]; i++) {
        pt__buf m;
        pt__buf_init(&m, NULL, 0);
        pt__json_minify(&m, tj_valid_json[i], strlen(tj_valid_json[i]));
        tj_doc_add(m.p ? m.p : "", m.len);
        pt__buf_free(&m);
    }
    tj_docs_check();
}

PT_TEST(json_raw_values) {
    size_t i;
    pt_field f[2];
    pt_event ev;
    for (i = 0; i < sizeof tj_valid_json / sizeof tj_valid_json[0]; i++) {
        ev = tj_min_event();
        f[0] = pt_field_raw("r", tj_valid_json[i]);
        ev.metadata = f; ev.metadata_count = 1;
        PT_CHECK_MSG(tj_ev(&ev) == PT_OK, "valid #%lu: %s", (unsigned long)i, tj_err.message);
        PT_CHECK_MSG(strchr(tj_out, '\n') == NULL && strchr(tj_out, '\t') == NULL && strchr(tj_out, '\r') == NULL, "raw whitespace kept: %s", tj_out);
    }
    /* raw whitespace is removed, string contents are not touched */
    ev = tj_min_event();
    f[0] = pt_field_raw("r", "{ \"a b\" :\n [ 1 ,\t\"x  \\\" y\" ] ,\r\n \"c\" : { } }");
    ev.extra = f; ev.extra_count = 1;
    PT_REQUIRE(tj_ev(&ev) == PT_OK);
    PT_CHECK_MSG(strstr(tj_out, "\"extra\":{\"r\":{\"a b\":[1,\"x  \\\" y\"],\"c\":{}}}") != NULL, "%s", tj_out);
    for (i = 0; i < sizeof tj_invalid_json / sizeof tj_invalid_json[0]; i++) {
        const char *s = tj_invalid_json[i];
        int l;
        for (l = 0; l < 2; l++) {
            ev = tj_min_event();
            f[0] = pt_field_str("ok", "fine");
            f[1] = pt_field_raw("bad_raw", s);
            if (i == sizeof tj_invalid_json / sizeof tj_invalid_json[0] - 1) f[1].len = strlen(s) + 1;
            if (s[0] == 0) f[1].len = 0;
            if (l == 0) { ev.metadata = f; ev.metadata_count = 2; } else { ev.extra = f; ev.extra_count = 2; }
            PT_CHECK_MSG(tj_ev(&ev) == PT_ERR_INVALID_JSON, "invalid #%lu accepted as raw: %s", (unsigned long)i, s);
            PT_CHECK_MSG(strstr(tj_err.message, "bad_raw") != NULL && strstr(tj_err.message, l ? "extra" : "metadata") != NULL,
                         "message does not name the field: %s", tj_err.message);
        }
    }
    /* a NULL raw value is refused too */
    ev = tj_min_event();
    f[0] = pt_field_raw("nothing", NULL);
    ev.metadata = f; ev.metadata_count = 1;
    PT_CHECK_EQ(tj_ev(&ev), PT_ERR_INVALID_JSON);
    PT_CHECK(strstr(tj_err.message, "nothing") != NULL);
    /* len lets a raw value be a prefix of a longer buffer */
    f[0] = pt_field_raw("pre", "[1,2]garbage");
    f[0].len = 5;
    PT_REQUIRE(tj_ev(&ev) == PT_OK);
    PT_CHECK(strstr(tj_out, "\"pre\":[1,2]}") != NULL);
    tj_docs_check();
}

static char *tj_nest(int depth, int objects) {
    char *s = (char *)malloc((size_t)depth * 6 + 8), *p = s;
    int i;
    if (!s) return NULL;
    for (i = 0; i < depth; i++) { if (objects) { memcpy(p, "{\"a\":", 5); p += 5; } else *p++ = '['; }
    *p++ = '1';
    for (i = 0; i < depth; i++) *p++ = objects ? '}' : ']';
    *p = 0;
    return s;
}

PT_TEST(json_raw_nesting_limit) {
    int objects;
    for (objects = 0; objects < 2; objects++) {
        char *at = tj_nest(PT__JSON_MAX_DEPTH, objects), *over = tj_nest(PT__JSON_MAX_DEPTH + 1, objects), *huge = tj_nest(100000, objects);
        pt_field f[1];
        pt_event ev = tj_min_event();
        const char *why = NULL;
        PT_REQUIRE(at && over && huge);
        PT_CHECK(pt__json_validate(at, strlen(at), 0, NULL, NULL));
        PT_CHECK(!pt__json_validate(over, strlen(over), 0, &why, NULL));
        PT_CHECK(why && strstr(why, "deep"));
        PT_CHECK(!pt__json_validate(huge, strlen(huge), 0, NULL, NULL));    /* no stack overflow */
        f[0] = pt_field_raw("deep", at);
        ev.metadata = f; ev.metadata_count = 1;
        PT_CHECK(tj_ev(&ev) == PT_OK);
        f[0] = pt_field_raw("deeper", over);
        PT_CHECK_EQ(tj_ev(&ev), PT_ERR_INVALID_JSON);
        PT_CHECK_MSG(strstr(tj_err.message, "deeper") && strstr(tj_err.message, "deep"), "%s", tj_err.message);
        free(at); free(over); free(huge);
    }
    tj_docs_check();
}

PT_TEST(json_duplicate_and_bad_keys) {
    pt_field f[4];
    pt_event ev = tj_min_event();
    f[0] = pt_field_str("a", "1");
    f[1] = pt_field_int("dup_key", 2);
    f[2] = pt_field_str("b", "3");
    f[3] = pt_field_bool("dup_key", 1);
    ev.metadata = f; ev.metadata_count = 4;
    PT_CHECK_EQ(tj_ev(&ev), PT_ERR_INVALID_ARG);
    PT_CHECK_MSG(strstr(tj_err.message, "dup_key") && strstr(tj_err.message, "duplicate") && strstr(tj_err.message, "metadata"), "%s", tj_err.message);
    ev = tj_min_event();
    ev.extra = f; ev.extra_count = 4;
    PT_CHECK_EQ(tj_ev(&ev), PT_ERR_INVALID_ARG);
    PT_CHECK(strstr(tj_err.message, "dup_key") && strstr(tj_err.message, "extra"));
    /* an UNSET entry does not count as a duplicate, and the same key in metadata and extra is fine */
    f[3].type = PT_FIELD_UNSET;
    ev = tj_min_event();
    ev.metadata = f; ev.metadata_count = 4;
    ev.extra = f; ev.extra_count = 3;
    PT_CHECK(tj_ev(&ev) == PT_OK);
    /* missing or empty key, unknown type, NULL list with a count */
    f[3] = pt_field_int("", 1);
    PT_CHECK_EQ(tj_ev(&ev), PT_ERR_INVALID_ARG);
    f[3] = pt_field_int(NULL, 1);
    PT_CHECK_EQ(tj_ev(&ev), PT_ERR_INVALID_ARG);
    PT_CHECK(strstr(tj_err.message, "metadata") != NULL);
    f[3] = pt_field_int("t", 1);
    f[3].type = (pt_field_type)99;
    PT_CHECK_EQ(tj_ev(&ev), PT_ERR_INVALID_ARG);
    ev = tj_min_event();
    ev.metadata_count = 2;
    PT_CHECK_EQ(tj_ev(&ev), PT_ERR_INVALID_ARG);
    ev = tj_min_event();
    ev.extra_count = 1;
    PT_CHECK_EQ(tj_ev(&ev), PT_ERR_INVALID_ARG);
    PT_CHECK(strstr(tj_err.message, "extra") != NULL);
    tj_docs_check();
}

PT_TEST(json_host_context) {
    pt_config cfg = tu_config("http://127.0.0.1:1");
    pt_client *c = NULL;
    pt_error err;
    pt_event ev = tj_min_event();
    pt_field f[3];
    char want[128], *h;
    size_t len;
    cfg.include_host_context = 1;
    cfg.manual_mode = 1;
    PT_REQUIRE(pt_client_new(&cfg, &c, &err) == PT_OK);
    PT_REQUIRE(pt_event_to_json(c, &ev, tj_out, sizeof tj_out, &len, &err) == PT_OK);
    tj_doc_add(tj_out, len);
    h = strstr(tj_out, ",\"extra\":{\"host\":{\"name\":\"");
    PT_CHECK_MSG(h != NULL, "%s", tj_out);
    snprintf(want, sizeof want, ",\"pid\":%d,\"os\":\"", (int)getpid());
    PT_CHECK_MSG(h && strstr(h, want) != NULL, "%s", tj_out);
    PT_CHECK(h && strstr(h, "\",\"arch\":\"") != NULL);
    PT_CHECK(h && strstr(h, "\"},\"sdk\":{\"name\":\"packtrack-c\",\"version\":\"" PACKTRACK_VERSION_STRING "\"}},\"idempotency_key\":\"" TJ_KEY "\"}") != NULL);
    PT_CHECK(strstr(tj_out, "\"os\":\"\"") == NULL && strstr(tj_out, "\"arch\":\"\"") == NULL);
    /* user extra fields come first, host and sdk after them */
    f[0] = pt_field_str("region", "eu");
    ev.extra = f; ev.extra_count = 1;
    PT_REQUIRE(pt_event_to_json(c, &ev, tj_out, sizeof tj_out, &len, &err) == PT_OK);
    tj_doc_add(tj_out, len);
    PT_CHECK_MSG(strstr(tj_out, ",\"extra\":{\"region\":\"eu\",\"host\":{\"name\":") != NULL, "%s", tj_out);
    /* a user "host" key wins; sdk still added */
    f[1] = pt_field_str("host", "mine");
    ev.extra_count = 2;
    PT_REQUIRE(pt_event_to_json(c, &ev, tj_out, sizeof tj_out, &len, &err) == PT_OK);
    tj_doc_add(tj_out, len);
    PT_CHECK_MSG(strstr(tj_out, ",\"extra\":{\"region\":\"eu\",\"host\":\"mine\",\"sdk\":{\"name\":\"packtrack-c\",\"version\":\"" PACKTRACK_VERSION_STRING "\"}},") != NULL, "%s", tj_out);
    PT_CHECK(strstr(tj_out, "\"pid\"") == NULL);
    /* user host and sdk: nothing added, the whole document is fixed */
    f[0] = pt_field_str("host", "h");
    f[1] = pt_field_int("sdk", 1);
    PT_REQUIRE(pt_event_to_json(c, &ev, tj_out, sizeof tj_out, &len, &err) == PT_OK);
    tj_doc_add(tj_out, len);
    PT_CHECK_STR(tj_out,
        "{\"timestamp\":\"" TJ_FIXED_TS_S "\",\"source\":{\"system\":\"test-svc\"},"
        "\"workflow\":{\"id\":\"wf-1\"},\"actor\":{\"type\":\"agent\",\"id\":\"a-1\"},"
        "\"severity\":\"info\",\"status\":\"success\",\"message\":\"m\","
        "\"extra\":{\"host\":\"h\",\"sdk\":1},\"idempotency_key\":\"" TJ_KEY "\"}");
    /* a metadata "host" does not replace extra.host */
    ev = tj_min_event();
    f[0] = pt_field_str("host", "meta");
    ev.metadata = f; ev.metadata_count = 1;
    PT_REQUIRE(pt_event_to_json(c, &ev, tj_out, sizeof tj_out, &len, &err) == PT_OK);
    tj_doc_add(tj_out, len);
    PT_CHECK(strstr(tj_out, "\"metadata\":{\"host\":\"meta\"},\"extra\":{\"host\":{\"name\":") != NULL);
    pt_close(c, 100, NULL);
    pt_client_free(c);
    /* off by default: no extra at all */
    cfg.include_host_context = 0;
    PT_REQUIRE(pt_client_new(&cfg, &c, &err) == PT_OK);
    ev = tj_min_event();
    PT_REQUIRE(pt_event_to_json(c, &ev, tj_out, sizeof tj_out, &len, &err) == PT_OK);
    PT_CHECK(strstr(tj_out, "extra") == NULL && strstr(tj_out, "host") == NULL);
    pt_close(c, 100, NULL);
    pt_client_free(c);
    tj_docs_check();
}

/* ---- timestamps ------------------------------------------------------------------------------------ */

static const char *tj_ts(int64_t ms) {
    static char s[25];
    pt__rfc3339(s, ms);
    s[24] = 0;
    return s;
}
static int tj_ts_format_ok(const char *s) {
    static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    int i;
    for (i = 0; i < 24; i++) {
        if (pat[i] == 'd') { if (s[i] < '0' || s[i] > '9') return 0; }
        else if (s[i] != pat[i]) return 0;
    }
    return 1;
}

PT_TEST(json_timestamps_rfc3339) {
    int i;
    PT_CHECK_STR(tj_ts(0), "1970-01-01T00:00:00.000Z");
    PT_CHECK_STR(tj_ts(1700000000123LL), "2023-11-14T22:13:20.123Z");
    PT_CHECK_STR(tj_ts(1), "1970-01-01T00:00:00.001Z");
    PT_CHECK_STR(tj_ts(999), "1970-01-01T00:00:00.999Z");
    PT_CHECK_STR(tj_ts(-1), "1969-12-31T23:59:59.999Z");
    PT_CHECK_STR(tj_ts(-1000), "1969-12-31T23:59:59.000Z");
    PT_CHECK_STR(tj_ts(-86400000LL), "1969-12-31T00:00:00.000Z");
    PT_CHECK_STR(tj_ts(-86400001LL), "1969-12-30T23:59:59.999Z");
    PT_CHECK_STR(tj_ts(-2203891200000LL), "1900-03-01T00:00:00.000Z");
    PT_CHECK_STR(tj_ts(-62135596800000LL), "0001-01-01T00:00:00.000Z");
    PT_CHECK_STR(tj_ts(951782400000LL), "2000-02-29T00:00:00.000Z");
    PT_CHECK_STR(tj_ts(1709164800000LL), "2024-02-29T00:00:00.000Z");
    PT_CHECK_STR(tj_ts(1709164800000LL + 86399999LL), "2024-02-29T23:59:59.999Z");
    PT_CHECK_STR(tj_ts(1709164800000LL + 86400000LL), "2024-03-01T00:00:00.000Z");
    PT_CHECK_STR(tj_ts(784111777000LL), "1994-11-06T08:49:37.000Z");
    PT_CHECK_STR(tj_ts(253402300799999LL), "9999-12-31T23:59:59.999Z");
    PT_CHECK_STR(tj_ts(253402300800000LL), "9999-12-31T23:59:59.999Z");   /* clamped */
    PT_CHECK_STR(tj_ts(INT64_MAX), "9999-12-31T23:59:59.999Z");
    PT_CHECK_STR(tj_ts(-62167219200000LL), "0000-01-01T00:00:00.000Z");
    PT_CHECK_STR(tj_ts(-62167219200001LL), "0000-01-01T00:00:00.000Z");
    PT_CHECK_STR(tj_ts(INT64_MIN), "0000-01-01T00:00:00.000Z");
    /* against the C library for random instants in 0000..9999 */
    for (i = 0; i < 20000; i++) {
        int64_t secs = -62167219200LL + (int64_t)(tj_rand() % (253402300800ULL + 62167219200ULL));
        int ms = (int)tj_randn(1000);
        time_t t = (time_t)secs;
        struct tm tm;
        char want[80];
        if (!gmtime_r(&t, &tm)) continue;
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
        if (strcmp(tj_ts(secs * 1000 + ms), want) != 0) { PT_CHECK_MSG(0, "%lld ms: %s != %s", (long long)(secs * 1000 + ms), tj_ts(secs * 1000 + ms), want); break; }
    }
}

PT_TEST(json_timestamp_default_now) {
    pt_event ev = tj_min_event();
    char lo[25], hi[25], got[25];
    time_t t0, t1;
    const char *p;
    ev.timestamp_ms = 0;
    t0 = time(NULL);
    PT_REQUIRE(tj_ev(&ev) == PT_OK);
    t1 = time(NULL);
    p = strstr(tj_out, "{\"timestamp\":\"");
    PT_REQUIRE(p == tj_out);
    memcpy(got, tj_out + 14, 24); got[24] = 0;
    PT_CHECK(tj_out[14 + 24] == '"');
    PT_CHECK_MSG(tj_ts_format_ok(got), "%s", got);
    pt__rfc3339(lo, ((int64_t)t0 - 2) * 1000); lo[24] = 0;
    pt__rfc3339(hi, ((int64_t)t1 + 3) * 1000); hi[24] = 0;
    PT_CHECK_MSG(strcmp(lo, got) <= 0 && strcmp(got, hi) <= 0, "%s not within [%s, %s]", got, lo, hi);
    tj_docs_check();
}

/* ---- idempotency keys --------------------------------------------------------------------------------- */

static int tj_cmp128(const void *a, const void *b) {
    const uint64_t *x = (const uint64_t *)a, *y = (const uint64_t *)b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    if (x[1] != y[1]) return x[1] < y[1] ? -1 : 1;
    return 0;
}

PT_TEST(json_uuid4_format_and_uniqueness) {
    enum { N = 1000000 };
    uint64_t *keys = (uint64_t *)malloc((size_t)N * 2 * sizeof(uint64_t));
    char k[37];
    size_t i, dups = 0, badfmt = 0;
    int j;
    PT_REQUIRE(keys != NULL);
    pt__uuid_seed_init();
    k[36] = 0;
    for (i = 0; i < N; i++) {
        uint64_t hi = 0, lo = 0;
        pt__uuid4(k);
        if (!ptf_is_uuid4(k)) { if (badfmt++ < 3) fprintf(stderr, "      bad uuid %s\n", k); }
        for (j = 0; j < 36; j++) {
            char c = k[j];
            unsigned v;
            if (c == '-') continue;
            v = (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
            hi = (hi << 4) | (lo >> 60);
            lo = (lo << 4) | v;
        }
        keys[2 * i] = hi; keys[2 * i + 1] = lo;
    }
    qsort(keys, N, 2 * sizeof(uint64_t), tj_cmp128);
    for (i = 1; i < N; i++) if (keys[2 * i] == keys[2 * i - 2] && keys[2 * i + 1] == keys[2 * i - 1]) dups++;
    PT_CHECK_EQ(badfmt, 0);
    PT_CHECK_EQ(dups, 0);
    free(keys);
    /* events get a fresh key each, the caller's key is kept */
    {
        pt_event ev = tj_min_event();
        char a[37], b[37];
        ev.idempotency_key = NULL;
        PT_REQUIRE(tj_ev(&ev) == PT_OK);
        PT_REQUIRE(tj_len > 40);
        memcpy(a, tj_out + tj_len - 38, 36); a[36] = 0;
        PT_CHECK(memcmp(tj_out + tj_len - 57, "\"idempotency_key\":\"", 19) == 0);
        ev.idempotency_key = "";
        PT_REQUIRE(tj_ev(&ev) == PT_OK);
        memcpy(b, tj_out + tj_len - 38, 36); b[36] = 0;
        PT_CHECK(ptf_is_uuid4(a) && ptf_is_uuid4(b));
        PT_CHECK(strcmp(a, b) != 0);
        ev.idempotency_key = "caller-key-\"1\"";
        PT_REQUIRE(tj_ev(&ev) == PT_OK);
        PT_CHECK(strstr(tj_out, ",\"idempotency_key\":\"caller-key-\\\"1\\\"\"}") != NULL);
    }
    tj_docs_check();
}

/* Two fresh processes that never created a client must not produce the same
   keys (pt_event_to_json is documented for dry runs; its output may be
   handed to pt_track_json). A fresh process is simulated in a forked child
   by zeroing the generator state, which is what a new process starts with. */
static void tj_fresh_process_key(int fd) {
    pt_event ev = tj_min_event();
    char buf[1024];
    size_t len = 0;
    ev.idempotency_key = NULL;
    pt__uuid_seeded = 0;
    pt__uuid_seed[0] = pt__uuid_seed[1] = 0;
    pt__uuid_ctr = 0;
    if (pt_event_to_json(NULL, &ev, buf, sizeof buf, &len, NULL) == PT_OK && len > 38)
        if (write(fd, buf + len - 38, 36) != 36) _exit(2);
    _exit(0);
}
PT_TEST(json_uuid4_fresh_processes_differ) {
    char keys[2][37];
    int k;
    for (k = 0; k < 2; k++) {
        int fds[2], st = 0;
        pid_t pid;
        ssize_t got;
        PT_REQUIRE(pipe(fds) == 0);
        pid = fork();
        PT_REQUIRE(pid >= 0);
        if (pid == 0) { close(fds[0]); tj_fresh_process_key(fds[1]); }
        close(fds[1]);
        got = read(fds[0], keys[k], 36);
        close(fds[0]);
        waitpid(pid, &st, 0);
        PT_REQUIRE(got == 36);
        keys[k][36] = 0;
        PT_CHECK(ptf_is_uuid4(keys[k]));
    }
    PT_CHECK_MSG(strcmp(keys[0], keys[1]) != 0, "two fresh processes both made key %s", keys[0]);
}

/* ---- pt_track_json ----------------------------------------------------------------------------------------- */

typedef struct tj_capture { char *bodies[32]; int n; } tj_capture;
static pt_result tj_http_capture(const pt_http_request *req, pt_http_response *resp, void *user) {
    tj_capture *cap = (tj_capture *)user;
    if (cap->n < 32) {
        char *b = (char *)malloc(req->body_len + 1);
        if (b) { memcpy(b, req->body, req->body_len); b[req->body_len] = 0; cap->bodies[cap->n++] = b; }
    }
    resp->status = 200;
    return PT_OK;
}

PT_TEST(json_track_json) {
    static const char *const bad[] = { "[1]", "\"s\"", "1", "null", "{\"a\":1} x", "{\"a\":1}{}", "{\"a\":\"\xff\"}",
                                       "{\"a\":\"\xED\xA0\x80\"}", "", "  ", "{", "{\"a\":}", "{\"a\":\"\x01\"}" };
    pt_config cfg = tu_config("http://127.0.0.1:1");
    pt_client *c = NULL;
    pt_client_stats st;
    pt_error err;
    tj_capture cap;
    size_t i;
    /* every required field (pt_track_json checks them), then hostile whitespace */
    const char *in = "{ \"source\":{ \"system\" : \"s\"},\"workflow\":{\"id\":\"w\"},\"actor\":{\"type\":\"t\", \"id\":\"i\"},\"severity\":\"info\",\"status\":\"ok\",\"message\":\"m\",\"k\" : \"q\\\" x : y\\n\" ,\n \"z\" :\t[ 1 , 2 , { \"s p\" : \"  \" } ],\r\n \"w\":\"\\\\\" }";
    const char *want = "{\"source\":{\"system\":\"s\"},\"workflow\":{\"id\":\"w\"},\"actor\":{\"type\":\"t\",\"id\":\"i\"},\"severity\":\"info\",\"status\":\"ok\",\"message\":\"m\",\"k\":\"q\\\" x : y\\n\",\"z\":[1,2,{\"s p\":\"  \"}],\"w\":\"\\\\\"}";
    memset(&cap, 0, sizeof cap);
    /* the minifier on its own */
    {
        pt__buf m;
        pt__buf_init(&m, NULL, 0);
        pt__json_minify(&m, in, strlen(in));
        PT_CHECK(m.len == strlen(want) && memcmp(m.p, want, m.len) == 0);
        pt__buf_free(&m);
    }
    cfg.manual_mode = 1;
    cfg.http = tj_http_capture;
    cfg.http_user = &cap;
    PT_REQUIRE(pt_client_new(&cfg, &c, &err) == PT_OK);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        PT_CHECK_MSG(pt_track_json(c, bad[i], strlen(bad[i])) == PT_ERR_INVALID_JSON, "accepted #%lu: %s", (unsigned long)i, bad[i]);
    PT_CHECK_EQ(pt_track_json(c, "{}x", 2), PT_ERR_MISSING_FIELD);  /* len bounds it; then no required field */
    {
        const char *min = "{\"source\":{\"system\":\"s\"},\"workflow\":{\"id\":\"w\"},\"actor\":{\"type\":\"t\",\"id\":\"i\"},"
                          "\"severity\":\"warn\",\"status\":\"ok\",\"message\":\"{}\"}x";
        PT_CHECK_EQ(pt_track_json(c, min, strlen(min) - 1), PT_OK);  /* len bounds it */
    }
    PT_CHECK_EQ(pt_track_json(c, "{}\0", 3), PT_ERR_INVALID_JSON);  /* an embedded NUL is garbage */
    PT_CHECK_EQ(pt_track_json(c, NULL, 3), PT_ERR_INVALID_ARG);
    PT_CHECK_EQ(pt_track_json(c, in, strlen(in)), PT_OK);
    PT_CHECK_EQ(pt_stats(c, &st), PT_OK);
    PT_CHECK_EQ(st.tracked, 2);
    PT_CHECK_EQ(pt_flush(c, 2000), PT_OK);
    PT_REQUIRE(cap.n >= 1);
    PT_CHECK_MSG(strstr(cap.bodies[0], want) != NULL, "body: %s", cap.bodies[0]);
    PT_CHECK(strstr(cap.bodies[0], "\"message\":\"{}\"}") != NULL);
    for (i = 0; i < (size_t)cap.n; i++) {
        PT_CHECK(pt__json_validate(cap.bodies[i], strlen(cap.bodies[i]), 0, NULL, NULL));
        PT_CHECK(cap.bodies[i][0] == '[');
        tj_doc_add(cap.bodies[i], strlen(cap.bodies[i]));
        free(cap.bodies[i]);
    }
    pt_close(c, 1000, NULL);
    pt_client_free(c);
    tj_docs_check();
}

/* Batches (sync and async) with hostile and random content, to python. */
PT_TEST(json_batches_python) {
    pt_config cfg = tu_config("http://127.0.0.1:1");
    pt_client *c = NULL;
    pt_error err;
    tj_capture cap;
    pt_event evs[40];
    char strs[40][3][64];
    pt_field f[40][2];
    int i;
    memset(&cap, 0, sizeof cap);
    cfg.manual_mode = 1;
    cfg.http = tj_http_capture;
    cfg.http_user = &cap;
    cfg.batch_size = 16;
    PT_REQUIRE(pt_client_new(&cfg, &c, &err) == PT_OK);
    for (i = 0; i < 40; i++) {
        evs[i] = tj_min_event();
        tj_rand_str(strs[i][0], 64, 0); evs[i].message = strs[i][0][0] ? strs[i][0] : "x";
        tj_rand_str(strs[i][1], 64, 0); evs[i].run_id = strs[i][1];
        f[i][0] = pt_field_str("s", strs[i][2]);
        f[i][0].len = tj_rand_str(strs[i][2], 64, 1);
        if (!f[i][0].len) f[i][0].str = "e";
        f[i][1] = pt_field_raw("r", "{ \"x\" : [ 1,\n2 ] }");
        evs[i].metadata = f[i]; evs[i].metadata_count = 2;
        evs[i].idempotency_key = NULL;
        evs[i].timestamp_ms = 0;
    }
    PT_CHECK_EQ(pt_ingest_batch(c, evs, 40, &err), PT_OK);
    PT_CHECK_EQ(pt_ingest(c, &evs[0], &err), PT_OK);
    for (i = 0; i < 40; i++) PT_CHECK_EQ(pt_track(c, &evs[i]), PT_OK);
    PT_CHECK_EQ(pt_flush(c, 3000), PT_OK);
    PT_CHECK_MSG(cap.n >= 2 + 3, "%d requests", cap.n);
    PT_CHECK(cap.n > 0 && cap.bodies[0][0] == '[');
    PT_CHECK(cap.n > 1 && cap.bodies[1][0] == '{');
    for (i = 0; i < cap.n; i++) {
        PT_CHECK(pt__json_validate(cap.bodies[i], strlen(cap.bodies[i]), 0, NULL, NULL));
        tj_doc_add(cap.bodies[i], strlen(cap.bodies[i]));
        free(cap.bodies[i]);
    }
    pt_close(c, 1000, NULL);
    pt_client_free(c);
    tj_docs_check();
}

/* ---- pt_strerror ------------------------------------------------------------------------------------------- */

#define TJ_RES(name, value, text) { name, text },
static const struct { pt_result r; const char *text; } tj_results[] = { PT__RESULT_LIST(TJ_RES) };
#undef TJ_RES

PT_TEST(json_strerror) {
    size_t i, j, n = sizeof tj_results / sizeof tj_results[0];
    PT_CHECK(n >= 28);
    for (i = 0; i < n; i++) {
        const char *s = pt_strerror(tj_results[i].r);
        PT_REQUIRE(s != NULL);
        PT_CHECK_STR(s, tj_results[i].text);
        PT_CHECK(s[0] != 0 && strcmp(s, "unknown result") != 0);
        for (j = 0; j < i; j++) {
            PT_CHECK_MSG(strcmp(s, pt_strerror(tj_results[j].r)) != 0, "same text for %d and %d", (int)tj_results[i].r, (int)tj_results[j].r);
            PT_CHECK(tj_results[i].r != tj_results[j].r);
        }
    }
    PT_CHECK_STR(pt_strerror((pt_result)1), "unknown result");
    PT_CHECK_STR(pt_strerror(PT_RESULT_MIN_), "unknown result");
    PT_CHECK_STR(pt_strerror((pt_result)-29), "unknown result");
    PT_CHECK_STR(pt_strerror((pt_result)31), "unknown result");
    PT_CHECK_STR(pt_version(), PACKTRACK_VERSION_STRING);
}

/* ---- base_url ------------------------------------------------------------------------------------------------- */

PT_TEST(json_url_parse) {
    static const struct { const char *in; int https; const char *host; int port; int ipv6; const char *prefix; const char *auth; } good[] = {
        { "http://example.com", 0, "example.com", 80, 0, "", "example.com" },
        { "https://example.com", 1, "example.com", 443, 0, "", "example.com" },
        { "https://pack.shimcounty.com/", 1, "pack.shimcounty.com", 443, 0, "", "pack.shimcounty.com" },
        { "HTTP://Example.COM:8080/", 0, "Example.COM", 8080, 0, "", "Example.COM:8080" },
        { "http://host:8080/packtrack", 0, "host", 8080, 0, "/packtrack", "host:8080" },
        { "http://h/a/b///", 0, "h", 80, 0, "/a/b", "h" },
        { "http://h//", 0, "h", 80, 0, "", "h" },
        { "http://[::1]:9000", 0, "::1", 9000, 1, "", "[::1]:9000" },
        { "https://[2001:db8::1]/x/", 1, "2001:db8::1", 443, 1, "/x", "[2001:db8::1]" },
        { "http://[::ffff:127.0.0.1]:80/", 0, "::ffff:127.0.0.1", 80, 1, "", "[::ffff:127.0.0.1]" },
        { "http://127.0.0.1:1", 0, "127.0.0.1", 1, 0, "", "127.0.0.1:1" },
        { "http://h:65535/p", 0, "h", 65535, 0, "/p", "h:65535" },
        { "https://h:80", 1, "h", 80, 0, "", "h:80" },
        { "http://h:443", 0, "h", 443, 0, "", "h:443" },
        { "http://h:00080", 0, "h", 80, 0, "", "h" },
        { "http://my_host-1.local/a-b/c_d.e", 0, "my_host-1.local", 80, 0, "/a-b/c_d.e", "my_host-1.local" },
    };
    static const char *const bad[] = {
        "", "example.com", "//example.com", "ftp://h", "mailto:x", "http:/h", "https//h", "http://", "https://", "http:///x",
        "http://:80", "http://h:0", "http://h:65536", "http://h:99999999999999999999", "http://h:abc", "http://h:",
        "http://h:/x", "http://h:-1", "http://h:+80", "http://u:p@h", "http://u@h/", "http://h/?q=1", "http://h?q",
        "http://h#f", "http://h/x#f", "http://h /x", " http://h", "http://h/a b", "http://h\t", "http://::1", "http://::1:80",
        "http://[::1", "http://[]", "http://[::1]x", "http://[::1]:", "http://[::g]", "http://[::1]:0", "http://ex ample.com",
        "http://h\x80/", "http://h\x7f", "http://h%20/", "http://h;x/", "http://\xC3\xA9.com",
    };
    size_t i;
    for (i = 0; i < sizeof good / sizeof good[0]; i++) {
        pt__url u;
        pt_error err;
        char auth[300];
        PT_CHECK_MSG(pt__url_parse(good[i].in, &u, &err) == PT_OK, "%s: %s", good[i].in, err.message);
        PT_CHECK_EQ(u.https, good[i].https);
        PT_CHECK_STR(u.host, good[i].host);
        PT_CHECK_EQ(u.port, good[i].port);
        PT_CHECK_EQ(u.ipv6, good[i].ipv6);
        PT_CHECK_STR(u.prefix, good[i].prefix);
        pt__url_authority(&u, auth, sizeof auth);
        PT_CHECK_STR(auth, good[i].auth);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pt__url u;
        pt_error err;
        memset(&err, 0, sizeof err);
        PT_CHECK_MSG(pt__url_parse(bad[i], &u, &err) == PT_ERR_CONFIG, "accepted \"%s\"", bad[i]);
        PT_CHECK(err.code == PT_ERR_CONFIG && err.message[0] != 0 && strstr(err.message, "base_url") != NULL);
    }
    {
        pt__url u;
        PT_CHECK_EQ(pt__url_parse(NULL, &u, NULL), PT_ERR_CONFIG);
    }
    /* and through pt_client_new */
    {
        pt_config cfg = tu_config("ftp://h");
        pt_client *c = NULL;
        pt_error err;
        PT_CHECK_EQ(pt_client_new(&cfg, &c, &err), PT_ERR_CONFIG);
        PT_CHECK(c == NULL);
        cfg.base_url = "http://h:99999";
        PT_CHECK_EQ(pt_client_new(&cfg, &c, &err), PT_ERR_CONFIG);
        PT_CHECK(strstr(err.message, "port") != NULL);
    }
}

/* ---- Retry-After ---------------------------------------------------------------------------------------------- */

#define TJ_NOW 784111777000LL   /* Sun, 06 Nov 1994 08:49:37 GMT */
PT_TEST(json_retry_after) {
    static const char *const garbage[] = {
        "", "   ", "abc", "12abc", "-5", "+5", "1 2", "0x10", "Sun, 06 Nov 1994", "Sun, 32 Nov 1994 08:49:37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:4", "Sun, 06 Nov 1994 08:", "Sun, 06 Nov 1994 08:49:3", "Sun, 06 Nov 1994 08:ab:cd GMT",
        "Sun, 06 Nov 1994 08:49:3x GMT", "Sun, 06 Nov 1994 0:49:37 GMT", "Sun, 06 Nov 199 08:49:37 GMT", "Sun Nov  6 08:49:37 94",
        "Sun Nov  6 08:49:37", "Sun Nov", "Sunday,", "Sunday, 06-Nov", "Sun, 06 Nov 1994 08:-1:37 GMT", "Sun, 06 Nov 1994 08: 9:37 GMT",
    };
    size_t i;
    PT_CHECK_EQ(pt__parse_retry_after("120", TJ_NOW), 120000);
    PT_CHECK_EQ(pt__parse_retry_after("0", TJ_NOW), 0);
    PT_CHECK_EQ(pt__parse_retry_after(" 5 ", TJ_NOW), 5000);
    PT_CHECK_EQ(pt__parse_retry_after("\t7\t", TJ_NOW), 7000);
    PT_CHECK_EQ(pt__parse_retry_after("1.5", TJ_NOW), 1000);                 /* documented leniency */
    PT_CHECK(pt__parse_retry_after("99999999999999999999", TJ_NOW) > 0);     /* huge but no overflow */
    PT_CHECK_EQ(pt__parse_retry_after(NULL, TJ_NOW), -1);
    /* the three HTTP-date forms, 10 s in the future */
    PT_CHECK_EQ(pt__parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", TJ_NOW), 10000);
    PT_CHECK_EQ(pt__parse_retry_after("Sunday, 06-Nov-94 08:49:47 GMT", TJ_NOW), 10000);
    PT_CHECK_EQ(pt__parse_retry_after("Sun Nov  6 08:49:47 1994", TJ_NOW), 10000);
    PT_CHECK_EQ(pt__parse_retry_after("Mon, 07 Nov 1994 08:49:37 GMT", TJ_NOW), 86400000);
    PT_CHECK_EQ(pt__parse_retry_after("Thu, 01 Dec 1994 00:00:00 GMT", TJ_NOW), 786240000000LL - TJ_NOW);
    PT_CHECK_EQ(pt__parse_retry_after("Thu, 29 Feb 2024 00:00:00 GMT", 1709164800000LL - 1000), 1000);
    PT_CHECK_EQ(pt__parse_retry_after("sun, 06 nov 1994 08:49:47 gmt", TJ_NOW), 10000);   /* case-insensitive month */
    /* now, and in the past -> 0 */
    PT_CHECK_EQ(pt__parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", TJ_NOW), 0);
    PT_CHECK_EQ(pt__parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", TJ_NOW), 0);
    PT_CHECK_EQ(pt__parse_retry_after("Sun Nov  6 08:49:36 1994", TJ_NOW), 0);
    PT_CHECK_EQ(pt__parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", TJ_NOW), 0);
    for (i = 0; i < sizeof garbage / sizeof garbage[0]; i++)
        PT_CHECK_MSG(pt__parse_retry_after(garbage[i], TJ_NOW) == -1, "\"%s\" -> %lld", garbage[i], (long long)pt__parse_retry_after(garbage[i], TJ_NOW));
    /* the parser stops at the terminator even when plausible text follows it */
    {
        static const char trunc1[] = "Sun, 06 Nov 1994 08:4\0:37 GMT";
        static const char trunc2[] = "Sun, 06 Nov 1994 08:49:3\0" "7 GMT";
        static const char trunc3[] = "Sun, 06 Nov 1994 08:\0" "49:37 GMT";
        PT_CHECK_EQ(pt__parse_retry_after(trunc1, TJ_NOW), -1);
        PT_CHECK_EQ(pt__parse_retry_after(trunc2, TJ_NOW), -1);
        PT_CHECK_EQ(pt__parse_retry_after(trunc3, TJ_NOW), -1);
    }
}

/* ---- HTTP response head and chunked bodies ------------------------------------------------------------------------ */

static int tj_chunked(const char *in, size_t n, size_t step, char *out, size_t *outlen) {
    ptf_ck_run run;
    ptf_chunked_run(in, n, step, &run);
    memcpy(out, run.head, run.len);
    out[run.len] = 0;
    *outlen = run.len;
    return run.ret;
}

PT_TEST(json_http_head_and_chunked) {
    pt__http_head h;
    static const char *const bad_heads[] = {
        "HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 2000\r\n\r\n", "HTTP/1.2 200 OK\r\n\r\n", "HTTP/1.1 600 X\r\n\r\n",
        "HTTP/1.1 099 X\r\n\r\n", "http/1.1 200 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", "HTTP/1.1 200 OK\r\n: v\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n", "HTTP/1.1 200 OK\r\n", "\r\n", "", "HTTP/1.1 200 OK\r\nX: y",
    };
    size_t i, n;
    char out[300];
    const char *ok = "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 12\r\nRetry-After:  120 \r\nConnection: keep-alive\r\n\r\n";
    PT_REQUIRE(pt__http_parse_head(ok, strlen(ok), &h) == 0);
    PT_CHECK_EQ(h.status, 429); PT_CHECK_EQ(h.minor, 1); PT_CHECK_EQ(h.content_length, 12);
    PT_CHECK_STR(h.retry_after, "120"); PT_CHECK_EQ(h.keep_alive, 1); PT_CHECK_EQ(h.close, 0); PT_CHECK_EQ(h.chunked, 0);
    ok = "HTTP/1.0 200\nTransfer-Encoding: gzip, Chunked\nconnection: Close\ncontent-length: 7\ncontent-length: 7\n\n";
    PT_REQUIRE(pt__http_parse_head(ok, strlen(ok), &h) == 0);
    PT_CHECK_EQ(h.status, 200); PT_CHECK_EQ(h.minor, 0); PT_CHECK_EQ(h.chunked, 1); PT_CHECK_EQ(h.close, 1); PT_CHECK_EQ(h.content_length, 7);
    ok = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: Sun, 06 Nov 1994 08:49:47 GMT and then a very long tail that does not fit\r\n\r\n";
    PT_REQUIRE(pt__http_parse_head(ok, strlen(ok), &h) == 0);
    PT_CHECK_EQ(strlen(h.retry_after), sizeof h.retry_after - 1);
    ok = "HTTP/1.1 204 No Content\r\n\r\n";
    PT_REQUIRE(pt__http_parse_head(ok, strlen(ok), &h) == 0);
    PT_CHECK_EQ(h.content_length, -1);
    for (i = 0; i < sizeof bad_heads / sizeof bad_heads[0]; i++)
        PT_CHECK_MSG(pt__http_parse_head(bad_heads[i], strlen(bad_heads[i]), &h) == -1, "accepted head #%lu", (unsigned long)i);

    {
        static const char body[] = "5\r\nhello\r\n6;ext=\"x\"\r\n world\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        size_t steps[] = { 0, 1, 2, 3, 5, 13 };
        size_t s;
        for (s = 0; s < sizeof steps / sizeof steps[0]; s++) {
            ptf_ck_run run;
            ptf_chunked_run(body, sizeof body - 1, steps[s], &run);
            PT_CHECK_EQ(run.ret, 1);
            PT_CHECK_EQ(run.used, sizeof body - 1 - 4);             /* stops before NEXT */
            PT_CHECK(run.len == 21 && memcmp(run.head, "hello world0123456789", 21) == 0);
            PT_CHECK_EQ(run.total, 21);
        }
    }
    PT_CHECK_EQ(tj_chunked("0\r\n\r\n", 5, 0, out, &n), 1);
    PT_CHECK_EQ(n, 0);
    PT_CHECK_EQ(tj_chunked("3\nabc\n0\n\n", 9, 1, out, &n), 1);      /* bare LF tolerated */
    PT_CHECK_STR(out, "abc");
    PT_CHECK_EQ(tj_chunked("5\r\nhel", 6, 0, out, &n), 0);            /* needs more */
    PT_CHECK_EQ(tj_chunked("z\r\n", 3, 0, out, &n), -1);
    PT_CHECK_EQ(tj_chunked("\r\n", 2, 0, out, &n), -1);
    PT_CHECK_EQ(tj_chunked("5\r\nhelloX\r\n", 11, 0, out, &n), -1);
    PT_CHECK_EQ(tj_chunked("5\rX", 3, 0, out, &n), -1);
    PT_CHECK_EQ(tj_chunked("10000000000000000\r\n", 19, 0, out, &n), -1);  /* 2^64: overflow */
    PT_CHECK_EQ(tj_chunked("0\r\n\rX", 5, 0, out, &n), -1);
    /* a long run of leading zeros is refused rather than counted forever */
    {
        char zeros[400];
        memset(zeros, '0', sizeof zeros);
        PT_CHECK_EQ(tj_chunked(zeros, sizeof zeros, 0, out, &n), -1);
    }
    /* the sink keeps only the first bytes but counts them all */
    {
        char big[2000];
        ptf_ck_run run;
        int k = snprintf(big, sizeof big, "400\r\n");
        memset(big + k, 'x', 1024);
        memcpy(big + k + 1024, "\r\n0\r\n\r\n", 7);
        ptf_chunked_run(big, (size_t)k + 1024 + 7, 0, &run);
        PT_CHECK_EQ(run.ret, 1);
        PT_CHECK_EQ(run.len, 255);
        PT_CHECK_EQ(run.total, 1024);
    }
}

/* ---- the fuzz corpus as an ordinary test ----------------------------------------------------------------------------- */

typedef int (*tj_fuzz_fn)(const uint8_t *, size_t);
static const struct { const char *name; tj_fuzz_fn fn; } tj_fuzz_targets[] = {
    { "fuzz_json_writer", ptf_json_writer },
    { "fuzz_json_validate", ptf_json_validate },
    { "fuzz_http_head", ptf_http_head },
    { "fuzz_url", ptf_url },
    { "fuzz_retry_after", ptf_retry_after },
    { "fuzz_spool", ptf_spool },
};

/* Feeds every regular file in dir to fn; returns the number of files, -1 if dir is missing. */
static int tj_replay_dir(const char *dir, tj_fuzz_fn fn) {
    DIR *d = opendir(dir);
    struct dirent *de;
    int files = 0;
    if (!d) return -1;
    while ((de = readdir(d)) != NULL) {
        char path[1024];
        struct stat sb;
        FILE *fp;
        uint8_t *buf;
        size_t got;
        int bad;
        if (de->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
        fp = fopen(path, "rb");
        if (!fp) { PT_CHECK_MSG(0, "cannot open %s", path); continue; }
        buf = (uint8_t *)malloc((size_t)sb.st_size + 1);
        got = buf ? fread(buf, 1, (size_t)sb.st_size, fp) : 0;
        fclose(fp);
        if (!buf) continue;
        /* an exactly-sized copy, so sanitizer builds see any over-read */
        {
            uint8_t *exact = (uint8_t *)malloc(got ? got : 1);
            if (exact) {
                memcpy(exact, buf, got);
                bad = fn(exact, got);
                PT_CHECK_MSG(bad == 0, "%s: invariant %d broken", path, bad);
                free(exact);
            }
        }
        free(buf);
        files++;
    }
    closedir(d);
    return files;
}

static int tj_fuzz_root(char *out, size_t cap) {
    const char *f = __FILE__, *slash = strrchr(f, '/');
    struct stat sb;
    const char *cands[3] = { "tests/fuzz", "fuzz", "../tests/fuzz" };
    int i;
    if (slash) {
        snprintf(out, cap, "%.*s/fuzz/corpus", (int)(slash - f), f);
        if (stat(out, &sb) == 0 && S_ISDIR(sb.st_mode)) { out[strlen(out) - 7] = 0; return 1; }
    }
    for (i = 0; i < 3; i++) {
        snprintf(out, cap, "%s/corpus", cands[i]);
        if (stat(out, &sb) == 0 && S_ISDIR(sb.st_mode)) { snprintf(out, cap, "%s", cands[i]); return 1; }
    }
    return 0;
}

PT_TEST(json_fuzz_corpus_replay) {
    char root[900], dir[1000];
    size_t t;
    int total = 0;
    if (!tj_fuzz_root(root, sizeof root)) PT_SKIP("tests/fuzz/corpus not found from the working directory");
    for (t = 0; t < sizeof tj_fuzz_targets / sizeof tj_fuzz_targets[0]; t++) {
        int n;
        snprintf(dir, sizeof dir, "%s/corpus/%s", root, tj_fuzz_targets[t].name);
        n = tj_replay_dir(dir, tj_fuzz_targets[t].fn);
        PT_CHECK_MSG(n > 0, "no corpus in %s", dir);
        if (n > 0) total += n;
        snprintf(dir, sizeof dir, "%s/crashes/%s", root, tj_fuzz_targets[t].name);
        n = tj_replay_dir(dir, tj_fuzz_targets[t].fn);
        if (n > 0) total += n;
    }
    PT_CHECK(total > 0);
    /* and a few fixed inputs, so the targets run even without a corpus */
    {
        static const char *const inputs[] = { "", "{}", "HTTP/1.1 200 OK\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "http://[::1]:9000/x/",
                                              "Sun, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:4" };
        size_t i;
        for (i = 0; i < sizeof inputs / sizeof inputs[0]; i++)
            for (t = 0; t < sizeof tj_fuzz_targets / sizeof tj_fuzz_targets[0]; t++) {
                size_t n = strlen(inputs[i]);
                uint8_t *exact = (uint8_t *)malloc(n ? n : 1);
                if (!exact) continue;
                memcpy(exact, inputs[i], n);
                PT_CHECK_MSG(tj_fuzz_targets[t].fn(exact, n) == 0, "%s on fixed input %lu", tj_fuzz_targets[t].name, (unsigned long)i);
                free(exact);
            }
    }
}

/* ---- the writer against the one it replaced (tests/ref_json.h) -------------------- */

/* The optimistic copy, both ways (SSE2 where built in, and the portable
   words): the bytes in quotes, and "needs attention" exactly when a byte is
   < 0x20, '"', '\\' or >= 0x80. Returns 0 if all agree. */
static int tj_raw_check(const char *s, size_t n) {
    char out[2][160];
    int simd, attn[2] = { 0, 0 }, want = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) want = 1;
    }
    if (n + 2 > sizeof out[0]) return 0;
    for (simd = 0; simd < 2; simd++) {
        pt__jacc acc;
        char *e;
        pt__jacc_init(&acc);
        e = simd ? pt__json_raw(out[1], s, n, &acc, 1) : pt__json_raw(out[0], s, n, &acc, 0);
        if ((size_t)(e - out[simd]) != n + 2 || out[simd][0] != '"' || out[simd][n + 1] != '"' || memcmp(out[simd] + 1, s, n) != 0) return 1;
        attn[simd] = pt__jacc_any(&acc);
    }
    return attn[0] != want || attn[1] != want;
}

/* Strings that stress the writer's block copies: a plain run of every length
   0..40 with one byte that needs attention (or a UTF-8 sequence) at every
   position, plus random ones. */
PT_TEST(json_writer_differential_strings) {
    static const char *const specials[] = { "\x00", "\x01", "\x1f", "\"", "\\", "\x7f", "\x80", "\xBF", "\xC2", "\xC3\xA9",
                                            "\xE2\x80\xA8", "\xE2\x80\xA9", "\xE2\x80\xAA", "\xE2\x80", "\xE2", "\xED\xA0\x80",
                                            "\xF0\x9F\x98\x80", "\xF4\x90\x80\x80", "\xF5", "\xFF", "\xEF\xBF\xBD", "\x20", "\x21", "\x23",
                                            "\x5b", "\x5d", "\x7e" };
    char in[128];
    size_t len, pos, k, i;
    int bad = 0;
    for (len = 0; len <= 40; len++) {
        for (pos = 0; pos <= len; pos++) {
            for (k = 0; k < sizeof specials / sizeof specials[0]; k++) {
                const char *sp = specials[k];
                size_t sl = sp[0] ? strlen(sp) : 1, n = 0;
                char *got;
                for (i = 0; i < pos; i++) in[n++] = (char)('a' + i % 26);
                if (pos < len) { memcpy(in + n, sp, sl); n += sl; }
                for (i = pos + 1; i < len; i++) in[n++] = (char)('A' + i % 26);
                got = tj_str(in, n);                  /* compares with ptref_json_str */
                if (!got) bad++;
                if (tj_raw_check(in, n)) bad++;
                free(got);
            }
        }
    }
    PT_CHECK_EQ(bad, 0);
    for (i = 0; i < 20000; i++) {
        char r[64];
        size_t n = tj_rand_str(r, sizeof r, 1);
        char *got = tj_str(r, n);
        free(got);
        PT_CHECK(tj_raw_check(r, n) == 0);
    }
    tj_ndocs = 0;                                 /* (tj_str collects nothing itself) */
}

/* Doubles: random bit patterns, short decimals and their neighbours, whole
   numbers, powers of ten and their neighbours, the edges of each path. */
PT_TEST(json_writer_differential_doubles) {
    size_t i;
    int k;
    for (k = -30; k <= 30; k++) {
        double p = pow(10.0, k);
        (void)tj_double(p); (void)tj_double(-p);
        (void)tj_double(nextafter(p, 0)); (void)tj_double(nextafter(p, 1e308));
        (void)tj_double(p * 1.5); (void)tj_double(p * 9.999999); (void)tj_double(p * 123456789012345.0);
    }
    for (i = 0; i < 60000; i++) {
        uint64_t u = tj_rand();
        double d;
        memcpy(&d, &u, sizeof d);
        (void)tj_double(d);
        d = (double)(int64_t)(tj_rand() % 2000000000000001ULL - 1000000000000000LL) / pow(10.0, (double)tj_randn(19));
        (void)tj_double(d); (void)tj_double(nextafter(d, 1e300)); (void)tj_double(nextafter(d, -1e300));
        d = (double)(int64_t)(tj_rand() >> tj_randn(64)) * (tj_randn(2) ? 1 : -1);
        (void)tj_double(d);
        d = (double)(int64_t)(tj_rand() % 100000000) / 1e6 * pow(10.0, (double)tj_randn(40) - 20);
        (void)tj_double(d);
    }
}

PT_TEST(json_writer_differential_ints) {
    static const int64_t fixed[] = { 0, 1, -1, 9, 10, 99, 100, 999, 1000, 9999, 10000, 99999, 100000, INT64_MAX, INT64_MIN,
                                     INT64_MIN + 1, 4294967295LL, 4294967296LL, -4294967296LL, 999999999999999999LL };
    size_t i;
    int bad = 0;
    for (i = 0; i < sizeof fixed / sizeof fixed[0] + 200000; i++) {
        int64_t v = i < sizeof fixed / sizeof fixed[0] ? fixed[i] : (int64_t)(tj_rand() >> tj_randn(64)) * (tj_randn(2) ? 1 : -1);
        char a[24], r[24];
        size_t na = pt__i64_dec(a, v), nr = ptref_i64_dec(r, v);
        if (na != nr || memcmp(a, r, na) != 0) bad++;
    }
    PT_CHECK_EQ(bad, 0);
}

/* Timestamps, through the per-thread cache of the last second: the same
   second again, the next millisecond, the next second, a second back, far
   jumps, negative times and the clamps; and two threads at once. */
static int tj_ts_diff(int64_t ms) {
    char a[24], r[24];
    pt__rfc3339(a, ms);
    ptref_rfc3339(r, ms);
    return memcmp(a, r, 24) != 0;
}
static void *tj_ts_thread(void *arg) {
    int64_t base = (int64_t)(intptr_t)arg * 86400000LL * 400, ms;
    intptr_t bad = 0;
    for (ms = 0; ms < 200000; ms += 7) bad += tj_ts_diff(base + ms * 13);
    return (void *)bad;
}
PT_TEST(json_writer_differential_timestamps) {
    static const int64_t fixed[] = { 0, 1, 999, 1000, 1001, -1, -999, -1000, -1001, 86399999, 86400000, -86400000, -86400001,
                                     951782400000LL, 951868799999LL, 4107542400000LL, -62167219200000LL, -62167219200001LL,
                                     253402300799999LL, 253402300800000LL, INT64_MAX, INT64_MIN, TJ_FIXED_TS };
    size_t i;
    int bad = 0;
    int64_t ms = 1764757506000LL;
    pthread_t t1, t2;
    void *r1 = NULL, *r2 = NULL;
    for (i = 0; i < sizeof fixed / sizeof fixed[0]; i++) { bad += tj_ts_diff(fixed[i]); bad += tj_ts_diff(fixed[i]); }
    for (i = 0; i < 100000; i++) {
        switch (tj_randn(6)) {
        case 0: ms += 1; break;
        case 1: ms += 1000; break;
        case 2: ms -= 1000; break;
        case 3: ms = (int64_t)(tj_rand() >> 1) * (tj_randn(2) ? 1 : -1); break;
        case 4: ms = (int64_t)(tj_rand() % 253402300800000ULL) - (int64_t)tj_randn(2) * 62167219200000LL; break;
        default: break;
        }
        bad += tj_ts_diff(ms);
    }
    PT_CHECK_EQ(bad, 0);
    PT_REQUIRE(pthread_create(&t1, NULL, tj_ts_thread, (void *)(intptr_t)1) == 0);
    PT_REQUIRE(pthread_create(&t2, NULL, tj_ts_thread, (void *)(intptr_t)2) == 0);
    pthread_join(t1, &r1);
    pthread_join(t2, &r2);
    PT_CHECK(r1 == NULL && r2 == NULL);
}

PT_TEST(json_writer_differential_uuid) {
    uint64_t s0 = pt__uuid_seed[0], s1 = pt__uuid_seed[1];
    int64_t ctr;
    int i, bad = 0;
    pt__uuid_seed_init();
    ctr = pt__atomic_load(&pt__uuid_ctr);
    for (i = 0; i < 20000; i++) {
        char a[36], r[36];
        int64_t c = i < 10000 ? ctr + i : (int64_t)tj_rand();
        if (i % 1000 == 999) { pt__uuid_seed[0] = tj_rand(); pt__uuid_seed[1] = tj_rand(); }
        pt__atomic_store(&pt__uuid_ctr, c);
        pt__uuid4(a);
        pt__atomic_store(&pt__uuid_ctr, c);
        ptref_uuid4(r);
        if (memcmp(a, r, 36) != 0) bad++;
    }
    pt__uuid_seed[0] = s0; pt__uuid_seed[1] = s1;
    pt__atomic_store(&pt__uuid_ctr, ctr + 20000);
    PT_CHECK_EQ(bad, 0);
}

/* The SSE2 hex digits of a UUID equal the table's, for random and edge bytes. */
PT_TEST(json_writer_differential_uuid_simd) {
    int i, bad = 0;
    for (i = 0; i < 20000; i++) {
        char a[36], r[36];
        uint64_t hi = i == 0 ? 0 : i == 1 ? ~(uint64_t)0 : tj_rand(), lo = i == 0 ? ~(uint64_t)0 : i == 1 ? 0 : tj_rand();
        pt__uuid_text(a, hi, lo, 1);
        pt__uuid_text(r, hi, lo, 0);
        if (memcmp(a, r, 36) != 0) bad++;
    }
    PT_CHECK_EQ(bad, 0);
}

/* Random events: every string field random (plain, escapes, UTF-8 valid and
   not, U+2028/9), random field lists (every type, NULL and empty and
   duplicate keys, bad types, raw JSON valid and not, explicit lengths),
   extreme numbers, with and without a host context. Bounded by time. */
PT_TEST(json_writer_differential_events) {
    static const char *const raws[] = { "{\"a\":[1,2]}", " [ 1 , \"x\\u00e9\" ] ", "nul", "{\"a\":}", "\"\xE2\x80\xA8\"", "0", "" };
    static const double dbls[] = { 0.0, -0.0, 1.0, 0.1, 129.95, -3.25, 1e-5, 1e21, 123456789.123, 0.30000000000000004, 1e300, 5e-324 };
    static const char host[] = "\"host\":{\"name\":\"h\\\"x\",\"pid\":7,\"os\":\"linux\",\"arch\":\"x86_64\"},\"sdk\":{\"name\":\"packtrack-c\",\"version\":\"0.2.0\"}";
    char strs[12][64], keys[2][8][40], vals[2][8][64];
    int i, k, bad = 0, done = 0;
    int64_t t0 = pt__mono_ns();
    for (i = 0; i < 50000 && pt__mono_ns() - t0 < 3000000000LL; i++) {
        pt_event ev;
        pt_field lists[2][8];
        int l;
        memset(&ev, 0, sizeof ev);
        for (k = 0; k < 12; k++) {
            if (tj_randn(3) == 0) { size_t n = 1 + tj_randn(40); memset(strs[k], 'a' + k, n); strs[k][n] = 0; }
            else tj_rand_str(strs[k], sizeof strs[k], 0);
        }
        ev.source_system = tj_randn(50) ? strs[0] : NULL; ev.workflow_id = strs[1]; ev.actor_type = strs[2];
        ev.actor_id = strs[3]; ev.status = strs[4]; ev.message = tj_randn(50) ? strs[5] : "";
        ev.source_env = tj_randn(2) ? strs[6] : NULL;
        ev.workflow_name = tj_randn(2) ? strs[7] : NULL;
        ev.run_id = tj_randn(2) ? strs[8] : NULL;
        ev.step_id = tj_randn(2) ? strs[9] : NULL;
        ev.actor_display_name = tj_randn(2) ? strs[10] : NULL;
        ev.idempotency_key = tj_randn(3) == 0 ? strs[11] : NULL;
        ev.severity = (pt_severity)tj_randn(6);
        if (tj_randn(10)) ev.severity = (pt_severity)(1 + tj_randn(4));
        ev.timestamp_ms = tj_randn(4) == 0 ? 0 : (int64_t)(tj_rand() >> tj_randn(64)) * (tj_randn(2) ? 1 : -1);
        for (l = 0; l < 2; l++) {
            size_t cnt = tj_randn(9);
            for (k = 0; k < (int)cnt; k++) {
                pt_field *f = &lists[l][k];
                unsigned kk = tj_randn(10);
                if (kk < 6) { size_t n = tj_rand_str(keys[l][k], sizeof keys[l][k], 0); if (!n) strcpy(keys[l][k], "k"); }
                else if (kk < 8) snprintf(keys[l][k], sizeof keys[l][k], "key%u", tj_randn(4));   /* duplicates */
                else if (kk == 8) keys[l][k][0] = 0;
                else strcpy(keys[l][k], tj_randn(2) ? "host" : "sdk");
                switch (tj_randn(9)) {
                case 0: *f = pt_field_str(keys[l][k], vals[l][k]); tj_rand_str(vals[l][k], sizeof vals[l][k], 0); break;
                case 1: *f = pt_field_str(keys[l][k], vals[l][k]); f->len = tj_rand_str(vals[l][k], sizeof vals[l][k], 1); break;
                case 2: *f = pt_field_int(keys[l][k], (int64_t)(tj_rand() >> tj_randn(64)) * (tj_randn(2) ? 1 : -1)); break;
                case 3: { double d; uint64_t u = tj_rand(); memcpy(&d, &u, sizeof d);
                          if (tj_randn(2)) d = dbls[tj_randn(sizeof dbls / sizeof dbls[0])];
                          else if (tj_randn(2)) d = (double)(int64_t)(tj_rand() % 100000000) / pow(10.0, (double)tj_randn(9));
                          *f = pt_field_double(keys[l][k], d); break; }
                case 4: *f = pt_field_bool(keys[l][k], (int)tj_randn(3)); break;
                case 5: *f = pt_field_null(keys[l][k]); break;
                case 6: *f = pt_field_raw(keys[l][k], raws[tj_randn(sizeof raws / sizeof raws[0])]); break;
                case 7: *f = pt_field_str(keys[l][k], NULL); break;
                default: memset(f, 0, sizeof *f); f->key = keys[l][k]; f->type = (pt_field_type)tj_randn(9); break;
                }
                if (tj_randn(30) == 0) f->key = NULL;
            }
            if (l == 0) { ev.metadata = tj_randn(30) ? lists[0] : NULL; ev.metadata_count = cnt; }
            else { ev.extra = tj_randn(30) ? lists[1] : NULL; ev.extra_count = cnt; }
        }
        k = ptf_json_diff(&ev, tj_randn(3) == 0 ? host : NULL, sizeof host - 1);
        if (k && bad++ < 3) fprintf(stderr, "      event %d: check %d failed\n", i, k);
        done++;
    }
    PT_CHECK_EQ(bad, 0);
    PT_CHECK(done >= 2000);
    /* events of every size around pt_track's 1536-byte stack buffer: plain,
       with escapes, with fields; none may need the heap where the old
       writer did not (ptf_json_diff check 6) */
    {
        static char msg[1600];
        pt_field f[3];
        size_t len;
        int kind;
        for (kind = 0; kind < 4; kind++) {
            for (len = 1100; len < 1500; len++) {
                pt_event ev = tj_min_event();
                memset(msg, 'm', len); msg[len] = 0;
                if (kind == 1) msg[len / 2] = '"';
                ev.message = msg;
                if (kind == 2) {
                    f[0] = pt_field_int("n", -1234567890123LL); f[1] = pt_field_double("d", 129.95); f[2] = pt_field_str("s", "x");
                    ev.metadata = f; ev.metadata_count = 3;
                    ev.idempotency_key = NULL;
                }
                if (kind == 3) ev.idempotency_key = "k";      /* the shortest tail after the fixed fields */
                k = ptf_json_diff(&ev, NULL, 0);
                if (k && bad++ < 6) fprintf(stderr, "      kind %d, message of %lu bytes: check %d failed\n", kind, (unsigned long)len, k);
            }
        }
        PT_CHECK_EQ(bad, 0);
    }
}

static const pt_test_case json_tests[] = {
    PT_CASE(json_event_all_fields_in_spec_order),
    PT_CASE(json_event_optional_fields_omitted),
    PT_CASE(json_missing_required_fields),
    PT_CASE(json_missing_fields_nothing_sent),
    PT_CASE(json_escape_quote_backslash_controls),
    PT_CASE(json_escape_utf8),
    PT_CASE(json_random_events_python),
    PT_CASE(json_doubles),
    PT_CASE(json_writer_differential_strings),
    PT_CASE(json_writer_differential_doubles),
    PT_CASE(json_writer_differential_ints),
    PT_CASE(json_writer_differential_timestamps),
    PT_CASE(json_writer_differential_uuid),
    PT_CASE(json_writer_differential_uuid_simd),
    PT_CASE(json_writer_differential_events),
    PT_CASE(json_int64_extremes),
    PT_CASE(json_validator_table),
    PT_CASE(json_raw_values),
    PT_CASE(json_raw_nesting_limit),
    PT_CASE(json_duplicate_and_bad_keys),
    PT_CASE(json_host_context),
    PT_CASE(json_timestamps_rfc3339),
    PT_CASE(json_timestamp_default_now),
    PT_CASE(json_uuid4_format_and_uniqueness),
    PT_CASE(json_uuid4_fresh_processes_differ),
    PT_CASE(json_track_json),
    PT_CASE(json_batches_python),
    PT_CASE(json_strerror),
    PT_CASE(json_url_parse),
    PT_CASE(json_retry_after),
    PT_CASE(json_http_head_and_chunked),
    PT_CASE(json_fuzz_corpus_replay),
};
