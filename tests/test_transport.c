/* Transports and compression (issue "Transports and compression").

   1. The transport suite: each check is a function taking the transport
      under test and runs unchanged against
        - the build's own transport (cfg.http unset): the built-in HTTP/1.1
          client, or libcurl in a PACKTRACK_USE_CURL build, and
        - a user HTTP hook (cfg.http) that wraps the built-in client.
   2. Real HTTPS (curl builds): nginx with a throw-away CA in a temp dir,
      proxying to the in-process test server.
   3. gzip: round-trip properties of the built-in encoder and of whichever
      backend the build uses (zlib / libdeflate / built-in), gunzip(1),
      compress_min_bytes, the user gzip hook, what the server receives.
   Everything talks to 127.0.0.1 only and is bounded in time. */
#include <signal.h>
#include <sys/stat.h>
#ifndef _WIN32   /* Windows: Winsock 2 came with tests/win/compat.h */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#endif
#include <zlib.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

/* ---- transports under test ------------------------------------------------ */
typedef struct tt_transport { const char *name; int hook; } tt_transport;
#if defined(PACKTRACK_USE_CURL)
static const tt_transport tt_native = { "curl", 0 };
#elif PT__WINHTTP
static const tt_transport tt_native = { "WinHTTP", 0 };
#else
static const tt_transport tt_native = { "built-in", 0 };
#endif
static const tt_transport tt_hooked = { "hook(built-in)", 1 };

/* The user hook: the built-in client on a connection the hook owns. */
typedef struct tt_hook { pthread_mutex_t mu; pt__conn conn; int calls; } tt_hook;
static tt_hook tt_hk;
static pt_result tt_hook_http(const pt_http_request *req, pt_http_response *resp, void *user) {
    tt_hook *h = (tt_hook *)user;
    pt_result r;
    pthread_mutex_lock(&h->mu);
    h->calls++;
    r = pt__http_builtin(req, resp, &h->conn);
    pthread_mutex_unlock(&h->mu);
    return r;
}
static void tt_begin(const tt_transport *t) {
    (void)t;
    memset(&tt_hk, 0, sizeof tt_hk);
    pthread_mutex_init(&tt_hk.mu, NULL);
    pt__conn_init(&tt_hk.conn);
}
/* Checks that the hook carried the traffic (and only when it was configured). */
static void tt_end(const tt_transport *t) {
    if (t->hook) PT_CHECK_MSG(tt_hk.calls > 0, "the HTTP hook was never called");
    else PT_CHECK_EQ(tt_hk.calls, 0);
    pt__conn_release(&tt_hk.conn);
    pthread_mutex_destroy(&tt_hk.mu);
}
static pt_config tt_config(const tt_transport *t, const char *url, int retries) {
    pt_config cfg = tu_config(url);
    cfg.max_retries = retries;
    if (t->hook) { cfg.http = tt_hook_http; cfg.http_user = &tt_hk; }
    return cfg;
}
static pt_client *tt_client(const tt_transport *t, const char *url, int retries) {
    pt_config cfg = tt_config(t, url, retries);
    pt_client *c = NULL;
    pt_error err;
    if (pt_client_new(&cfg, &c, &err) != PT_OK) { fprintf(stderr, "    pt_client_new: %s\n", err.message); return NULL; }
    return c;
}
static void tt_free(pt_client *c) { pt_close(c, 2000, NULL); pt_client_free(c); }
static pts_action tt_act(int status, pts_mode mode, const char *body, const char *retry_after) {
    pts_action a;
    memset(&a, 0, sizeof a);
    a.status = status; a.mode = mode; a.body = body; a.retry_after = retry_after;
    return a;
}
static pt_result tt_send(pt_client *c, const char *msg, pt_error *err) {
    pt_event ev = tu_event(msg);
    return pt_ingest(c, &ev, err);
}

/* Headers on every request, single and batch, with and without a path prefix. */
static void tt_check_headers(const tt_transport *t) {
    pts_server *s = pts_start();
    pt_client *c;
    pt_error err;
    pt_event evs[3];
    char url[160], keys[2][64];
    int i;
    PT_REQUIRE(s);
    tt_begin(t);
    snprintf(url, sizeof url, "%s/pfx/", pts_url(s));
    c = tt_client(t, url, PT_RETRIES_NONE);
    PT_REQUIRE(c);
    PT_CHECK_EQ(tt_send(c, "one", &err), PT_OK);
    for (i = 0; i < 3; i++) evs[i] = tu_event("batch");
    PT_CHECK_EQ(pt_ingest_batch(c, evs, 3, &err), PT_OK);
    PT_CHECK_EQ(pts_request_count(s), 2);
    for (i = 0; i < 2; i++) {
        pts_request r;
        char b[256];
        PT_REQUIRE(pts_get_request(s, i, &r) == 0);
        PT_CHECK_STR(r.method, "POST");
        PT_CHECK_STR(r.path, "/pfx/api/ingest");
        PT_CHECK_STR(pts_header(&r, "Content-Type", b, sizeof b), "application/json");
        PT_CHECK_STR(pts_header(&r, "X-PackTrack-Key", b, sizeof b), TU_KEY);
        PT_CHECK_STR(pts_header(&r, "User-Agent", b, sizeof b), "packtrack-c/" PACKTRACK_VERSION_STRING);
        PT_CHECK(pts_header(&r, "Idempotency-Key", keys[i], sizeof keys[i]) != NULL && strlen(keys[i]) == 36);
        PT_CHECK(pts_header(&r, "Content-Length", b, sizeof b) != NULL && strtoul(b, NULL, 10) == r.raw_body_len);
        PT_CHECK(pts_header(&r, "Expect", b, sizeof b) == NULL);           /* no 100-continue round trip */
        PT_CHECK(pts_header(&r, "Content-Encoding", b, sizeof b) == NULL); /* gzip is off */
        PT_CHECK(!r.chunked);
        PT_CHECK(r.body_len > 0 && r.body[0] == (i == 0 ? '{' : '['));
        pts_request_free(&r);
    }
    PT_CHECK(strcmp(keys[0], keys[1]) != 0);
    tt_free(c);
    /* a configured User-Agent replaces the default */
    pts_reset(s);
    {
        pt_config cfg = tt_config(t, pts_url(s), PT_RETRIES_NONE);
        pts_request r;
        char b[256];
        cfg.user_agent = "my-agent/2.0 (tests)";
        PT_REQUIRE(pt_client_new(&cfg, &c, &err) == PT_OK);
        PT_CHECK_EQ(tt_send(c, "ua", &err), PT_OK);
        PT_REQUIRE(pts_get_request(s, 0, &r) == 0);
        PT_CHECK_STR(pts_header(&r, "User-Agent", b, sizeof b), "my-agent/2.0 (tests)");
        pts_request_free(&r);
        tt_free(c);
    }
    tt_end(t);
    pts_stop(s);
}

/* 20 sequential requests share one connection; then an answer slower than
   the short grace a 2xx body gets (WinHTTP cuts the socket's receive timeout
   to it) still arrives on that same connection. */
static void tt_check_keepalive(const tt_transport *t) {
    pts_server *s = pts_start();
    pt_client *c;
    pt_error err;
    pts_action slow;
    int i, ok = 0;
    PT_REQUIRE(s);
    tt_begin(t);
    c = tt_client(t, pts_url(s), PT_RETRIES_NONE);
    PT_REQUIRE(c);
    for (i = 0; i < 20; i++) ok += tt_send(c, "keep-alive", &err) == PT_OK;
    PT_CHECK_EQ(ok, 20);
    PT_CHECK_EQ(pts_request_count(s), 20);
    PT_CHECK_EQ(pts_connection_count(s), 1);
    PT_CHECK_EQ(pts_events_received(s), 20);
    slow = tt_act(200, PTS_MODE_NORMAL, NULL, NULL);
    slow.delay_ms = 700;
    pts_script(s, &slow, 1);
    PT_CHECK_MSG(tt_send(c, "slow after keep-alive", &err) == PT_OK, "%s", err.message);
    PT_CHECK_EQ(pts_request_count(s), 21);
    PT_CHECK_EQ(pts_connection_count(s), 1);
    tt_free(c);
    tt_end(t);
    pts_stop(s);
}

/* Chunked and close-delimited answers, statuses and body heads through
   each; the connection is kept after chunked, replaced after close-delimited;
   an endless body is cut off (bounded), not read to the end. */
static void tt_check_framings(const tt_transport *t) {
    pts_server *s = pts_start();
    pt_client *c;
    pt_error err;
    pts_action a[7];
    int64_t t0;
    PT_REQUIRE(s);
    tt_begin(t);
    a[0] = tt_act(200, PTS_MODE_NORMAL, NULL, NULL);
    a[1] = tt_act(202, PTS_MODE_CHUNKED, "{\"accepted\":\"chunked\"}", NULL);
    a[2] = tt_act(400, PTS_MODE_CHUNKED, "{\"error\":\"chunky-reject\"}", NULL);
    a[3] = tt_act(202, PTS_MODE_CLOSE_DELIMITED, "{\"accepted\":\"close\"}", NULL);
    a[4] = tt_act(200, PTS_MODE_NORMAL, NULL, NULL);
    a[5] = tt_act(422, PTS_MODE_CLOSE_DELIMITED, "{\"error\":\"closed-reject\"}", NULL);
    a[6] = tt_act(200, PTS_MODE_NORMAL, NULL, NULL);
    pts_script(s, a, 7);
    c = tt_client(t, pts_url(s), PT_RETRIES_NONE);
    PT_REQUIRE(c);
    PT_CHECK_EQ(tt_send(c, "f0", &err), PT_OK);
    PT_CHECK_EQ(tt_send(c, "f1", &err), PT_OK);
    PT_CHECK_EQ(err.http_status, 202);
    PT_CHECK_EQ(tt_send(c, "f2", &err), PT_ERR_HTTP);
    PT_CHECK_EQ(err.http_status, 400);
    PT_CHECK_MSG(strstr(err.body_head, "chunky-reject") != NULL, "body_head: %s", err.body_head);
    PT_CHECK_EQ(tt_send(c, "f3", &err), PT_OK);
    PT_CHECK_EQ(err.http_status, 202);
    PT_CHECK_EQ(tt_send(c, "f4", &err), PT_OK);
    PT_CHECK_EQ(tt_send(c, "f5", &err), PT_ERR_HTTP);
    PT_CHECK_EQ(err.http_status, 422);
    PT_CHECK_MSG(strstr(err.body_head, "closed-reject") != NULL, "body_head: %s", err.body_head);
    PT_CHECK_EQ(tt_send(c, "f6", &err), PT_OK);
    PT_CHECK_EQ(pts_request_count(s), 7);
    PT_CHECK_EQ(pts_connection_count(s), 3);
    /* a 1 GiB body (Content-Length, then chunked): status taken, body cut after 64 KiB */
    pts_reset(s);
    memset(a, 0, sizeof a);
    a[0].status = 200; a[0].mode = PTS_MODE_HUGE_BODY;
    a[1].status = 400; a[1].mode = PTS_MODE_HUGE_BODY_CHUNKED;
    a[2].status = 200;
    pts_script(s, a, 3);
    t0 = pt_now_ms();
    PT_CHECK_EQ(tt_send(c, "huge", &err), PT_OK);
    PT_CHECK_EQ(err.http_status, 200);
    PT_CHECK_EQ(tt_send(c, "huge-chunked", &err), PT_ERR_HTTP);
    PT_CHECK_EQ(err.http_status, 400);
    PT_CHECK_EQ(tt_send(c, "after", &err), PT_OK);
    PT_CHECK_MSG(pt_now_ms() - t0 < 1500, "huge bodies took %lld ms", (long long)(pt_now_ms() - t0));
    PT_CHECK_EQ(pts_request_count(s), 3);
    /* a cut body never leaves its connection for reuse: the first huge one
       went on the connection opened before pts_reset, then two new ones */
    PT_CHECK_EQ(pts_connection_count(s), 2);
    tt_free(c);
    tt_end(t);
    pts_stop(s);
}

/* A kept-alive connection the server closed while idle is noticed, and the
   request goes out once, on a fresh connection, without charging an
   attempt; the same when the server drops a reused connection without answering. */
static void tt_check_idle_close(const tt_transport *t) {
    pts_server *s = pts_start();
    pt_client *c;
    pt_error err;
    pts_action a[2];
    PT_REQUIRE(s);
    tt_begin(t);
    c = tt_client(t, pts_url(s), PT_RETRIES_NONE);
    PT_REQUIRE(c);
    PT_CHECK_EQ(tt_send(c, "first", &err), PT_OK);
    pts_drop_connections(s);
    PT_CHECK(pts_wait_closed(s, 1, 5000));   /* the server's close has arrived */
    PT_CHECK_EQ(tt_send(c, "second", &err), PT_OK);
    PT_CHECK_EQ(err.attempts, 1);
    PT_CHECK_EQ(pts_request_count(s), 2);
    PT_CHECK_EQ(pts_connection_count(s), 2);
    PT_CHECK_EQ(pts_events_received(s), 2);
    /* stale-connection race: the server reads the request and closes */
    a[0] = tt_act(200, PTS_MODE_CLOSE_NO_RESPONSE, NULL, NULL);
    a[1] = tt_act(200, PTS_MODE_NORMAL, NULL, NULL);
    pts_script(s, a, 2);
    PT_CHECK_EQ(tt_send(c, "third", &err), PT_OK);
    PT_CHECK_EQ(err.attempts, 1);
    PT_CHECK_EQ(pts_connection_count(s), 3);
    PT_CHECK_EQ(pts_events_received(s), 3);
    PT_CHECK_EQ(pts_duplicate_events(s), 0);
    tt_free(c);
    tt_end(t);
    pts_stop(s);
}

/* Retry-After reaches pt_error, from a Content-Length and a chunked answer. */
static void tt_check_retry_after(const tt_transport *t) {
    pts_server *s = pts_start();
    pt_client *c;
    pt_error err;
    pts_action a[3];
    PT_REQUIRE(s);
    tt_begin(t);
    a[0] = tt_act(503, PTS_MODE_NORMAL, NULL, "7");
    a[1] = tt_act(429, PTS_MODE_CHUNKED, NULL, "3");
    a[2] = tt_act(503, PTS_MODE_NORMAL, NULL, "Wed, 21 Oct 2015 07:28:00 GMT");
    pts_script(s, a, 3);
    c = tt_client(t, pts_url(s), PT_RETRIES_NONE);
    PT_REQUIRE(c);
    PT_CHECK(tt_send(c, "ra", &err) != PT_OK);
    PT_CHECK_EQ(err.http_status, 503);
    PT_CHECK_EQ(err.retry_after_ms, 7000);
    PT_CHECK_EQ(err.retryable, 1);
    PT_CHECK(tt_send(c, "ra", &err) != PT_OK);
    PT_CHECK_EQ(err.http_status, 429);
    PT_CHECK_EQ(err.retry_after_ms, 3000);
    PT_CHECK(tt_send(c, "ra", &err) != PT_OK);
    PT_CHECK_EQ(err.retry_after_ms, 0);          /* a date in the past: no wait */
    PT_CHECK_EQ(tt_send(c, "ok", &err), PT_OK);
    PT_CHECK_EQ(err.retry_after_ms, -1);
    tt_free(c);
    tt_end(t);
    pts_stop(s);
}

/* The close deadline cuts off a request the server never answers; a
   request timeout ends a slow one. */
static void tt_check_deadline(const tt_transport *t) {
    pts_server *s = pts_start();
    pt_client *c;
    pt_config cfg;
    pt_close_report rep;
    pt_event ev = tu_event("stalled");
    pt_error err;
    pts_action a;
    int64_t t0, el;
    PT_REQUIRE(s);
    tt_begin(t);
    pts_set_stall(s, 1);
    cfg = tt_config(t, pts_url(s), 3);
    cfg.timeout_ms = 10000;
    PT_REQUIRE(pt_client_new(&cfg, &c, &err) == PT_OK);
    PT_CHECK_EQ(pt_track(c, &ev), PT_OK);
    PT_CHECK(pts_wait_requests(s, 1, 3000));
    t0 = pt_now_ms();
    pt_close(c, 200, &rep);
    el = pt_now_ms() - t0;
    PT_CHECK_MSG(el <= 250, "pt_close(200 ms) took %lld ms", (long long)el);
    PT_CHECK_MSG(el >= 190, "pt_close(200 ms) returned after %lld ms", (long long)el);
    PT_CHECK_EQ(rep.delivered, 0);
    PT_CHECK_EQ(rep.timed_out, 1);
    PT_CHECK_EQ(rep.tracked, 1);
    PT_CHECK_EQ(rep.abandoned + rep.spooled, 1);
    pt_client_free(c);
    pts_set_stall(s, 0);
    /* request timeout on a sync call */
    pts_reset(s);
    a = tt_act(200, PTS_MODE_NORMAL, NULL, NULL);
    a.delay_ms = 3000;
    pts_set_default(s, &a);
    cfg = tt_config(t, pts_url(s), PT_RETRIES_NONE);
    cfg.timeout_ms = 300;
    PT_REQUIRE(pt_client_new(&cfg, &c, &err) == PT_OK);
    t0 = pt_now_ms();
    PT_CHECK_EQ(tt_send(c, "slow", &err), PT_ERR_TIMEOUT);
    el = pt_now_ms() - t0;
    PT_CHECK_MSG(el >= 280 && el <= 400, "timeout_ms 300 took %lld ms", (long long)el);
    PT_CHECK(err.message[0] != 0 && strstr(err.message, TU_KEY) == NULL);
    PT_CHECK_EQ(err.retryable, 1);
    pt_close(c, 100, NULL);
    pt_client_free(c);
    tt_end(t);
    pts_stop(s);
}

/* Compressed async batches arrive as valid gzip with the header, complete. */
static void tt_check_gzip_batches(const tt_transport *t) {
    pts_server *s = pts_start();
    pt_client *c;
    pt_config cfg;
    pt_error err;
    pt_client_stats st;
    int i, n, gz = 0, ok = 0;
    PT_REQUIRE(s);
    tt_begin(t);
    cfg = tt_config(t, pts_url(s), 3);
    cfg.enable_gzip = 1;
    cfg.batch_size = 100;
    PT_REQUIRE(pt_client_new(&cfg, &c, &err) == PT_OK);
    for (i = 0; i < 500; i++) {
        pt_event ev = tu_event("a compressed event with a message long enough to look real");
        PT_CHECK_EQ(pt_track(c, &ev), PT_OK);
    }
    PT_CHECK_EQ(pt_flush(c, 5000), PT_OK);
    PT_CHECK_EQ(pts_events_received(s), 500);
    PT_CHECK_EQ(pts_distinct_keys(s), 500);
    n = pts_request_count(s);
    PT_CHECK(n >= 5);
    for (i = 0; i < n; i++) {
        pts_request r;
        char b[64];
        PT_REQUIRE(pts_get_request(s, i, &r) == 0);
        gz += r.gzip;
        ok += r.gzip && r.gzip_ok && pts_header(&r, "Content-Encoding", b, sizeof b) && strcmp(b, "gzip") == 0
              && r.raw_body_len < r.body_len / 3;
        pts_request_free(&r);
    }
    PT_CHECK_EQ(gz, n);
    PT_CHECK_EQ(ok, n);
    PT_CHECK_EQ(pt_stats(c, &st), PT_OK);
    PT_CHECK(st.bytes_sent * 3 < st.bytes_uncompressed);
    tt_free(c);
    tt_end(t);
    pts_stop(s);
}

/* Malformed answers fail fast (not by the timeout) and stay retryable,
   whatever the status line said; a complete 200 head with a broken body
   still counts as accepted. */
static void tt_check_malformed(const tt_transport *t) {
    static const struct { pts_mode mode; const char *name; } cases[] = {
        { PTS_MODE_HUGE_CONTENT_LENGTH, "Content-Length: 99999999999999999999" },
        { PTS_MODE_MALFORMED, "HTTP/1.1 abc" },
        { PTS_MODE_CHUNK_OVERFLOW, "chunk size overflow" },
    };
    pts_server *s = pts_start();
    pt_client *c;
    pt_config cfg;
    pt_error err;
    size_t i;
    PT_REQUIRE(s);
    tt_begin(t);
    cfg = tt_config(t, pts_url(s), PT_RETRIES_NONE);
    cfg.timeout_ms = 3000;
    PT_REQUIRE(pt_client_new(&cfg, &c, &err) == PT_OK);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pts_action a = tt_act(200, cases[i].mode, NULL, NULL);
        int64_t t0 = pt_now_ms(), el;
        pt_result r;
        pts_script(s, &a, 1);
        r = tt_send(c, "malformed", &err);
        el = pt_now_ms() - t0;
        if (cases[i].mode == PTS_MODE_CHUNK_OVERFLOW) {
            /* the head was a complete 200: the server accepted, the body is noise */
            PT_CHECK_MSG(r == PT_OK, "%s: %s (%s)", cases[i].name, pt_strerror(r), err.message);
        } else if (cases[i].mode == PTS_MODE_HUGE_CONTENT_LENGTH) {
            PT_CHECK_MSG(r == PT_ERR_PROTOCOL, "%s: %s (%s)", cases[i].name, pt_strerror(r), err.message);
            PT_CHECK_EQ(err.retryable, 1);
        } else {   /* a status line, then the connection closes: network or protocol, either way retryable */
            PT_CHECK_MSG(r == PT_ERR_PROTOCOL || r == PT_ERR_NETWORK, "%s: %s (%s)", cases[i].name, pt_strerror(r), err.message);
            PT_CHECK_EQ(err.retryable, 1);
        }
        if (r != PT_OK) PT_CHECK(err.message[0] != 0 && strstr(err.message, TU_KEY) == NULL);
        PT_CHECK_MSG(el < 1000, "%s took %lld ms", cases[i].name, (long long)el);
    }
    {
        pts_action a = tt_act(200, PTS_MODE_NORMAL, NULL, NULL);
        pts_script(s, &a, 1);
        PT_CHECK_EQ(tt_send(c, "fine again", &err), PT_OK);
    }
    tt_free(c);
    tt_end(t);
    pts_stop(s);
}

/* One PT_TEST per (check, transport). */
#define TT_PAIR(check) \
    PT_TEST(transport_##check) { tt_check_##check(&tt_native); } \
    PT_TEST(transport_hook_##check) { tt_check_##check(&tt_hooked); }
TT_PAIR(headers)
TT_PAIR(keepalive)
TT_PAIR(framings)
TT_PAIR(idle_close)
TT_PAIR(retry_after)
TT_PAIR(deadline)
TT_PAIR(malformed)
TT_PAIR(gzip_batches)

/* ---- libcurl transport, direct ---------------------------------------------- */
#if defined(PACKTRACK_USE_CURL)
/* cfg.proxy is used: the request goes to the proxy in absolute form. */
PT_TEST(transport_curl_proxy) {
    pts_server *s = pts_start();
    pt_client *c;
    pt_config cfg;
    pt_error err;
    pts_request r;
    char b[128];
    PT_REQUIRE(s);
    cfg = tu_config("http://packtrack.invalid:9/p");
    cfg.proxy = pts_url(s);
    cfg.max_retries = PT_RETRIES_NONE;
    PT_REQUIRE(pt_client_new(&cfg, &c, &err) == PT_OK);
    PT_CHECK_EQ(tt_send(c, "via proxy", &err), PT_OK);
    PT_REQUIRE(pts_get_request(s, 0, &r) == 0);
    PT_CHECK_STR(r.path, "http://packtrack.invalid:9/p/api/ingest");
    PT_CHECK_STR(pts_header(&r, "Host", b, sizeof b), "packtrack.invalid:9");
    pts_request_free(&r);
    tt_free(c);
    pts_stop(s);
}
/* The error mapping: refused, unresolvable, and the key never in a message. */
PT_TEST(transport_curl_error_mapping) {
    pt__conn cn;
    pt_http_request req;
    pt_http_response resp;
    pt_http_header h[1];
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    socklen_t al = sizeof sa;
    char url[100];
    PT_REQUIRE(l >= 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET; sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    PT_REQUIRE(bind(l, (struct sockaddr *)&sa, sizeof sa) == 0);
    getsockname(l, (struct sockaddr *)&sa, &al);
    close(l);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/ingest", ntohs(sa.sin_port));
    pt__conn_init(&cn);
    h[0].name = "X-PackTrack-Key"; h[0].value = TU_KEY;
    memset(&req, 0, sizeof req);
    req.method = "POST"; req.url = url; req.headers = h; req.header_count = 1;
    req.body = "{}"; req.body_len = 2; req.timeout_ms = 2000; req.connect_timeout_ms = 1000;
    PT_CHECK_EQ(pt__http_curl(&req, &resp, &cn), PT_ERR_CONNECT);
    PT_CHECK(resp.not_sent == 1);
    PT_CHECK_MSG(strstr(resp.error, "refused") != NULL, "%s", resp.error);
    PT_CHECK(strstr(resp.error, TU_KEY) == NULL);
    req.url = "http://name-that-does-not-exist.invalid:8080/api/ingest";
    PT_CHECK_EQ(pt__http_curl(&req, &resp, &cn), PT_ERR_RESOLVE);
    PT_CHECK(resp.not_sent == 1 && strstr(resp.error, TU_KEY) == NULL);
    pt__conn_release(&cn);
    PT_CHECK(cn.curl == NULL);
}
#endif

/* The pt_http_fn contract, on the transport functions themselves: a request
   is abandoned within ~10-20 ms of req->cancelled turning true while the
   server keeps silent after reading it. */
static int64_t tt_cancel_at;
static int tt_cancelled(const pt_http_request *r) { (void)r; return pt_now_ms() >= tt_cancel_at; }
PT_TEST(transport_cancel_latency) {
    pts_server *s = pts_start();
    pt_http_fn fns[2];
    const char *names[2];
    int nf = 0, f, k;
    char url[128];
    PT_REQUIRE(s);
    fns[nf] = pt__http_builtin; names[nf++] = "built-in";
#if defined(PACKTRACK_USE_CURL)
    fns[nf] = pt__http_curl; names[nf++] = "curl";
#endif
    snprintf(url, sizeof url, "%s/api/ingest", pts_url(s));
    pts_set_stall(s, 1);
    for (f = 0; f < nf; f++)
        for (k = 0; k < 3; k++) {
            pt__conn cn;
            pt_http_request req;
            pt_http_response resp;
            pt_http_header h[1];
            pt_result r;
            int64_t late;
            pt__conn_init(&cn);
            h[0].name = "Content-Type"; h[0].value = "application/json";
            memset(&req, 0, sizeof req);
            req.method = "POST"; req.url = url; req.headers = h; req.header_count = 1;
            req.body = "[]"; req.body_len = 2; req.timeout_ms = 5000; req.connect_timeout_ms = 1000;
            req.cancelled = tt_cancelled;
            tt_cancel_at = pt_now_ms() + 100 + 37 * k;
            r = fns[f](&req, &resp, &cn);
            late = pt_now_ms() - tt_cancel_at;
            PT_CHECK_MSG(r == PT_ERR_CANCELLED, "%s: %s (%s)", names[f], pt_strerror(r), resp.error);
            PT_CHECK_MSG(late >= 0 && late <= 20, "%s: returned %lld ms after the cut-off", names[f], (long long)late);
            PT_CHECK(resp.error[0] != 0);
            pt__conn_release(&cn);
        }
    pts_set_stall(s, 0);
    pts_stop(s);
}

/* ---- real HTTPS through nginx ---------------------------------------------- */
typedef struct tt_tls {
    char dir[64];
    int  port;
    pid_t nginx;
    char url[64];
    char ca[128];
} tt_tls;

/* The server certificate's names (tests/test_tls.c makes one for another name). */
TU_UNUSED static const char *tt_tls_san = "IP:127.0.0.1,DNS:localhost";
static long tt_file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}
#if defined(_WIN32)
/* nginx is started with fork/exec: on Windows TT_TLS_BEGIN2 skips first. */
static void tt_tls_kill(tt_tls *t) { (void)t; }
static void tt_tls_stop(tt_tls *t) { (void)t; }
#else
static int tt_free_port(void) {
    int l = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    if (l < 0) return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET; a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(l, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(l, (struct sockaddr *)&a, &al) == 0) port = ntohs(a.sin_port);
    close(l);
    return port;
}
static int tt_can_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
    struct sockaddr_in a;
    if (fd < 0) return 0;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET; a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); a.sin_port = htons((unsigned short)port);
    ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}
static void tt_tls_kill(tt_tls *t) {
    if (t->nginx > 0) {
        int i, st;
        kill(t->nginx, SIGTERM);
        for (i = 0; i < 200 && waitpid(t->nginx, &st, WNOHANG) == 0; i++) tu_sleep_ms(10);
        if (i == 200) { kill(t->nginx, SIGKILL); waitpid(t->nginx, &st, 0); }
        t->nginx = 0;
    }
}
static void tt_tls_stop(tt_tls *t) {
    char cmd[128];
    tt_tls_kill(t);
    if (t->dir[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
        if (system(cmd) != 0) fprintf(stderr, "    could not remove %s\n", t->dir);
        t->dir[0] = 0;
    }
}
/* Makes a CA and a server certificate for 127.0.0.1/localhost, writes an
   nginx config proxying to the test server and starts nginx. 1 ok, 0 skip
   (*why says why), -1 failure (reported). */
static int tt_tls_start(tt_tls *t, pts_server *s, int http2, const char **why) {
    const char *nginx = getenv("PT_NGINX") ? getenv("PT_NGINX") : "/usr/sbin/nginx";   /* tests/matrix.sh sets it; empty: none */
    char cmd[2048], conf[256];
    FILE *f;
    int i;
    memset(t, 0, sizeof *t);
    if (!nginx[0] || access(nginx, X_OK) != 0) { *why = "nginx not found ($PT_NGINX, else /usr/sbin/nginx; Debian: nginx-light)"; return 0; }
    if (system("openssl version >/dev/null 2>&1") != 0) { *why = "openssl command not installed"; return 0; }
    strcpy(t->dir, "/tmp/pt_tls_XXXXXX");
    if (!mkdtemp(t->dir)) { t->dir[0] = 0; fprintf(stderr, "    mkdtemp failed\n"); return -1; }
    snprintf(cmd, sizeof cmd,
             "cd '%s' && mkdir tmp && "
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2 "
             "-subj '/CN=packtrack throw-away test CA' -addext 'basicConstraints=critical,CA:TRUE' "
             "-addext 'keyUsage=critical,keyCertSign,cRLSign' >>openssl.log 2>&1 && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key -out srv.csr "
             "-subj '/CN=127.0.0.1' >>openssl.log 2>&1 && "
             "printf 'subjectAltName=%s\\nbasicConstraints=CA:FALSE\\n"
             "keyUsage=critical,digitalSignature\\nextendedKeyUsage=serverAuth\\n' >ext.cnf && "
             "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 "
             "-extfile ext.cnf >>openssl.log 2>&1", t->dir, tt_tls_san);
    if (system(cmd) != 0) {
        snprintf(cmd, sizeof cmd, "sed 's/^/      openssl: /' '%s/openssl.log' >&2", t->dir);
        if (system(cmd) != 0) {}
        fprintf(stderr, "    making the test certificates failed\n");
        tt_tls_stop(t);
        return -1;
    }
    t->port = tt_free_port();
    snprintf(conf, sizeof conf, "%s/nginx.conf", t->dir);
    f = fopen(conf, "w");
    if (!f || t->port <= 0) { if (f) fclose(f); tt_tls_stop(t); fprintf(stderr, "    cannot write nginx.conf\n"); return -1; }
    fprintf(f,
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid %s/nginx.pid;\nerror_log %s/error.log info;\n"
            "events { worker_connections 64; }\n"
            "http {\n"
            "  log_format pt '$connection $connection_requests $status $server_protocol';\n"
            "  access_log %s/access.log pt;\n"
            "  client_body_temp_path %s/tmp/body;\n  proxy_temp_path %s/tmp/proxy;\n"
            "  fastcgi_temp_path %s/tmp/fastcgi;\n  uwsgi_temp_path %s/tmp/uwsgi;\n  scgi_temp_path %s/tmp/scgi;\n"
            "  server {\n"
            "    listen 127.0.0.1:%d ssl%s;\n"
            "    ssl_certificate %s/srv.pem;\n    ssl_certificate_key %s/srv.key;\n"
            "    keepalive_requests 3;\n    client_max_body_size 64m;\n"
            "    location / { proxy_pass http://127.0.0.1:%d; proxy_http_version 1.1; }\n"
            "  }\n}\n",
            t->dir, t->dir, t->dir, t->dir, t->dir, t->dir, t->dir, t->dir, t->port, http2 ? " http2" : "", t->dir, t->dir, pts_port(s));
    fclose(f);
    t->nginx = fork();
    if (t->nginx < 0) { t->nginx = 0; tt_tls_stop(t); fprintf(stderr, "    fork failed\n"); return -1; }
    if (t->nginx == 0) {
        char elog[128];
        int devnull = open("/dev/null", O_RDWR);
#if defined(__linux__)
        prctl(PR_SET_PDEATHSIG, SIGTERM);   /* never outlive a crashed test run */
#endif
        if (devnull >= 0) { dup2(devnull, 0); dup2(devnull, 1); }
        snprintf(elog, sizeof elog, "%s/error.log", t->dir);
        execl(nginx, "nginx", "-p", t->dir, "-c", conf, "-e", elog, (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 300; i++) {
        int st;
        if (waitpid(t->nginx, &st, WNOHANG) == t->nginx) {
            t->nginx = 0;
            snprintf(cmd, sizeof cmd, "sed 's/^/      nginx: /' '%s/error.log' >&2", t->dir);
            if (system(cmd) != 0) {}
            fprintf(stderr, "    nginx exited at start-up\n");
            tt_tls_stop(t);
            return -1;
        }
        if (tt_can_connect(t->port)) break;
        tu_sleep_ms(10);
    }
    if (i == 300) { fprintf(stderr, "    nginx did not listen within 3 s\n"); tt_tls_stop(t); return -1; }
    snprintf(t->url, sizeof t->url, "https://127.0.0.1:%d", t->port);
    snprintf(t->ca, sizeof t->ca, "%s/ca.pem", t->dir);
    return 1;
}
#endif /* !_WIN32 */
#if defined(_WIN32)
#define TT_TLS_BEGIN2(tls, s, h2) do { (void)tls; (void)s; \
        PT_SKIP("https: nginx is started with fork/exec (POSIX only) and the built-in client is http only"); } while (0)
#elif PT__CURL   /* linked, or loaded at run time (tests/test_tls.c checks the loading) */
#define TT_TLS_BEGIN2(tls, s, h2) do { const char *why_ = NULL; int r_; \
        char m_[400]; if (!PT__CURL_LINKED && pt__curl_load(m_, sizeof m_) != 0) PT_SKIP(m_); \
        s = pts_start(); PT_REQUIRE(s); \
        r_ = tt_tls_start(&tls, s, h2, &why_); \
        if (r_ == 0) { pts_stop(s); PT_SKIP(why_); } \
        if (r_ < 0) { pts_stop(s); PT_CHECK(!"nginx/openssl set-up failed"); return; } } while (0)
#else
#define TT_TLS_BEGIN2(tls, s, h2) do { (void)tls; (void)s; (void)tt_tls_start; (void)tt_tls_stop; \
        PT_SKIP("https needs libcurl: a PACKTRACK_USE_CURL build or run-time loading (the built-in client is http only)"); } while (0)
#endif

#define TT_TLS_BEGIN(tls, s) TT_TLS_BEGIN2(tls, s, 0)

/* ca_file set: delivery over https, sync and async, by IP and by name. */
PT_TEST(transport_https_ca_file_delivers) {
    tt_tls tls;
    pts_server *s = NULL;
    pt_client *c;
    pt_config cfg;
    pt_error err;
    char url[80];
    int i;
    TT_TLS_BEGIN(tls, s);
    cfg = tu_config(tls.url);
    cfg.ca_file = tls.ca;
    if (pt_client_new(&cfg, &c, &err) != PT_OK) { PT_CHECK(!"pt_client_new https"); tt_tls_stop(&tls); pts_stop(s); return; }
    PT_CHECK_MSG(tt_send(c, "over tls", &err) == PT_OK, "%s", err.message);
    for (i = 0; i < 10; i++) {
        pt_event ev = tu_event("async over tls");
        PT_CHECK_EQ(pt_track(c, &ev), PT_OK);
    }
    PT_CHECK_EQ(pt_flush(c, 5000), PT_OK);
    PT_CHECK_EQ(pts_events_received(s), 11);
    tt_free(c);
    snprintf(url, sizeof url, "https://localhost:%d", tls.port);
    cfg.base_url = url;
    PT_CHECK_EQ(pt_client_new(&cfg, &c, &err), PT_OK);
    if (c) { PT_CHECK_MSG(tt_send(c, "by name", &err) == PT_OK, "%s", err.message); tt_free(c); }
    PT_CHECK_EQ(pts_events_received(s), 12);
    tt_tls_stop(&tls);
    pts_stop(s);
}

/* No CA: verification fails closed, with PT_ERR_TLS and a message saying
   what to do; nothing reaches nginx's HTTP layer or the server, and there
   is no plain-http fallback. */
PT_TEST(transport_https_untrusted_fails_closed) {
    tt_tls tls;
    pts_server *s = NULL;
    pt_client *c;
    pt_config cfg;
    pt_error err;
    pt_client_stats st;
    pt_event ev = tu_event("must not leave");
    char path[160];
    TT_TLS_BEGIN(tls, s);
    cfg = tu_config(tls.url);
    cfg.max_retries = 2;
    /* under valgrind a handshake (libcurl loading the CA bundle) can take
       over tu_config's 1 s connect timeout: that would report a timeout */
    cfg.connect_timeout_ms = 10000;
    cfg.timeout_ms = 10000;
    if (pt_client_new(&cfg, &c, &err) != PT_OK) { PT_CHECK(!"pt_client_new https"); tt_tls_stop(&tls); pts_stop(s); return; }
    PT_CHECK_EQ(pt_ingest(c, &ev, &err), PT_ERR_TLS);
    PT_CHECK_EQ(err.retryable, 0);
    PT_CHECK_EQ(err.attempts, 1);
    PT_CHECK_MSG(strstr(err.message, "not trusted") && strstr(err.message, "127.0.0.1") && strstr(err.message, "ca_file"), "message: %s", err.message);
    PT_CHECK(strstr(err.message, TU_KEY) == NULL);
    /* the async pipeline: nothing is sent; the queued event is kept behind
       the backoff (a TLS failure is not a reason to drop it), and every
       attempt fails with the TLS error */
    PT_CHECK_EQ(pt_track(c, &ev), PT_OK);
    PT_CHECK_EQ(pt_flush(c, 3000), PT_ERR_TIMEOUT);
    PT_CHECK_EQ(pt_stats(c, &st), PT_OK);
    PT_CHECK_EQ(st.delivered, 0);
    PT_CHECK_EQ(st.pending, 1);
    PT_CHECK_MSG(st.retried_requests >= 1, "no async attempt in 3 s");
    PT_CHECK_EQ(st.last_error, PT_ERR_TLS);
    PT_CHECK(strstr(st.last_error_message, TU_KEY) == NULL);
    tt_free(c);
    PT_CHECK_EQ(pts_request_count(s), 0);
    PT_CHECK_EQ(pts_connection_count(s), 0);
    snprintf(path, sizeof path, "%s/access.log", tls.dir);
    PT_CHECK_MSG(tt_file_size(path) <= 0, "nginx saw HTTP requests (%ld bytes of access log)", tt_file_size(path));
    tt_tls_stop(&tls);
    pts_stop(s);
}

/* insecure_skip_verify = 1 turns verification off (explicitly). */
PT_TEST(transport_https_insecure_skip_verify) {
    tt_tls tls;
    pts_server *s = NULL;
    pt_client *c;
    pt_config cfg;
    pt_error err;
    TT_TLS_BEGIN(tls, s);
    cfg = tu_config(tls.url);
    cfg.insecure_skip_verify = 1;
    if (pt_client_new(&cfg, &c, &err) != PT_OK) { PT_CHECK(!"pt_client_new https"); tt_tls_stop(&tls); pts_stop(s); return; }
    PT_CHECK_MSG(tt_send(c, "unverified", &err) == PT_OK, "%s", err.message);
    PT_CHECK_EQ(pts_events_received(s), 1);
    tt_free(c);
    tt_tls_stop(&tls);
    pts_stop(s);
}

/* 30 batches through nginx closing every connection after 3 requests:
   every key exactly once, 10 connections of at most 3 requests each. */
PT_TEST(transport_https_keepalive_limit_exactly_once) {
    tt_tls tls;
    pts_server *s = NULL;
    pt_client *c;
    pt_config cfg;
    pt_error err;
    static char keys[30][4][40];
    char path[160], line[128];
    int b, k, ok = 0, once = 0, conns[64], nconn = 0, maxreq = 0, lines = 0;
    FILE *f;
    TT_TLS_BEGIN(tls, s);
    cfg = tu_config(tls.url);
    cfg.ca_file = tls.ca;
    if (pt_client_new(&cfg, &c, &err) != PT_OK) { PT_CHECK(!"pt_client_new https"); tt_tls_stop(&tls); pts_stop(s); return; }
    for (b = 0; b < 30; b++) {
        pt_event evs[4];
        for (k = 0; k < 4; k++) {
            snprintf(keys[b][k], sizeof keys[b][k], "tls-batch-%02d-event-%d", b, k);
            evs[k] = tu_event("keep-alive limit");
            evs[k].idempotency_key = keys[b][k];
        }
        ok += pt_ingest_batch(c, evs, 4, &err) == PT_OK;
    }
    PT_CHECK_EQ(ok, 30);
    for (b = 0; b < 30; b++) for (k = 0; k < 4; k++) once += pts_key_count(s, keys[b][k]) == 1;
    PT_CHECK_EQ(once, 120);
    PT_CHECK_EQ(pts_duplicate_events(s), 0);
    PT_CHECK_EQ(pts_events_received(s), 120);
    tt_free(c);
    tt_tls_kill(&tls);   /* the access log is complete once nginx has exited */
    snprintf(path, sizeof path, "%s/access.log", tls.dir);
    f = fopen(path, "r");
    PT_CHECK(f != NULL);
    while (f && fgets(line, sizeof line, f)) {
        int cid = 0, nreq = 0, status = 0, j, seen = 0;
        if (sscanf(line, "%d %d %d", &cid, &nreq, &status) != 3) continue;
        lines++;
        PT_CHECK_EQ(status, 200);
        if (nreq > maxreq) maxreq = nreq;
        for (j = 0; j < nconn; j++) seen |= conns[j] == cid;
        if (!seen && nconn < 64) conns[nconn++] = cid;
    }
    if (f) fclose(f);
    PT_CHECK_EQ(lines, 30);
    PT_CHECK_EQ(maxreq, 3);        /* connections were reused up to nginx's limit ... */
    PT_CHECK_EQ(nconn, 10);        /* ... and replaced when nginx closed them */
    tt_tls_stop(&tls);
    pts_stop(s);
}

/* HTTP/2 (curl picks it by ALPN when the server offers it): delivery,
   Retry-After from an h2 answer, streams reused on one connection until
   nginx's limit (GOAWAY after 3), every key once. */
PT_TEST(transport_https_http2) {
    tt_tls tls;
    pts_server *s = NULL;
    pt_client *c;
    pt_config cfg;
    pt_error err;
    pts_action a;
    char path[160], line[160], proto[32];
    int i, ok = 0, h2 = 0, lines = 0, maxreq = 0;
    FILE *f;
    TT_TLS_BEGIN2(tls, s, 1);
    cfg = tu_config(tls.url);
    cfg.ca_file = tls.ca;
    cfg.max_retries = PT_RETRIES_NONE;
    if (pt_client_new(&cfg, &c, &err) != PT_OK) { PT_CHECK(!"pt_client_new https"); tt_tls_stop(&tls); pts_stop(s); return; }
    a = tt_act(503, PTS_MODE_NORMAL, "{\"error\":\"busy\"}", "9");
    pts_script(s, &a, 1);
    PT_CHECK(tt_send(c, "h2 busy", &err) != PT_OK);
    PT_CHECK_EQ(err.http_status, 503);
    PT_CHECK_EQ(err.retry_after_ms, 9000);
    PT_CHECK_MSG(strstr(err.body_head, "busy") != NULL, "body_head: %s", err.body_head);
    for (i = 0; i < 8; i++) ok += tt_send(c, "over h2", &err) == PT_OK;
    PT_CHECK_EQ(ok, 8);
    PT_CHECK_EQ(pts_events_received(s), 8);
    PT_CHECK_EQ(pts_duplicate_events(s), 0);
    tt_free(c);
    tt_tls_kill(&tls);
    snprintf(path, sizeof path, "%s/access.log", tls.dir);
    f = fopen(path, "r");
    PT_CHECK(f != NULL);
    while (f && fgets(line, sizeof line, f)) {
        int cid, nreq, st;
        if (sscanf(line, "%d %d %d %31s", &cid, &nreq, &st, proto) != 4) continue;
        lines++;
        h2 += strcmp(proto, "HTTP/2.0") == 0;
        if (nreq > maxreq) maxreq = nreq;
    }
    if (f) fclose(f);
    PT_CHECK_EQ(lines, 9);
    PT_CHECK_EQ(h2, 9);
    PT_CHECK_EQ(maxreq, 3);
    tt_tls_stop(&tls);
    pts_stop(s);
}

/* https with no TLS transport is a config error naming the fix; a hook or
   a curl build makes it fine. Never a silent downgrade. */
PT_TEST(transport_https_config) {
    pt_config cfg = tu_config("https://127.0.0.1:9");
    pt_client *c = NULL;
    pt_error err;
    pt_result r = pt_client_new(&cfg, &c, &err);
#if PT__CURL_LINKED || PT__WINHTTP
    PT_CHECK_EQ(r, PT_OK);
#elif PT__CURL_DL   /* libcurl loaded at run time, or a config error saying to install it */
    PT_CHECK_MSG(r == PT_OK || (r == PT_ERR_CONFIG && strstr(err.message, "libcurl4")), "%s", err.message);
#else
    PT_CHECK_EQ(r, PT_ERR_CONFIG);
    PT_CHECK(c == NULL);
    PT_CHECK_MSG(strstr(err.message, "PACKTRACK_USE_CURL") != NULL, "%s", err.message);
#endif
    if (c) tt_free(c);
    c = NULL;
    cfg.http = tt_hook_http; cfg.http_user = &tt_hk;
    PT_CHECK_EQ(pt_client_new(&cfg, &c, &err), PT_OK);
    if (c) tt_free(c);
}

/* ---- gzip ------------------------------------------------------------------ */
static uint64_t tt_rng = 0x9E3779B97F4A7C15ULL;
static uint32_t tt_rand(void) {
    tt_rng ^= tt_rng << 13; tt_rng ^= tt_rng >> 7; tt_rng ^= tt_rng << 17;
    return (uint32_t)(tt_rng >> 16);
}
/* Test inputs: 0 random bytes, 1 JSON-like events, 2 long runs and zeros,
   3 JSON with random binary patches (block types switch inside one stream). */
static void tt_gen(int kind, unsigned char *b, size_t n) {
    static const char *sev[] = { "debug", "info", "warn", "error" };
    static const char *st[] = { "running", "success", "error", "retrying" };
    size_t i = 0;
    if (kind == 0) { for (i = 0; i < n; i++) b[i] = (unsigned char)tt_rand(); return; }
    if (kind == 2) {
        while (i < n) {
            size_t run = 1 + tt_rand() % (tt_rand() % 4 == 0 ? 3000 : 40), k;
            unsigned char v = (unsigned char)(tt_rand() % 3 == 0 ? 0 : 'a' + tt_rand() % 4);
            for (k = 0; k < run && i < n; k++) b[i++] = v;
        }
        return;
    }
    while (i < n) {
        char ev[512];
        int len = snprintf(ev, sizeof ev,
            "%s{\"timestamp\":\"2026-11-23T10:%02u:%02u.%03uZ\",\"source\":{\"system\":\"checkout-svc\",\"env\":\"prod\"},"
            "\"workflow\":{\"id\":\"wf-%u\",\"name\":\"refund\",\"run_id\":\"r-%u\"},\"actor\":{\"type\":\"agent\",\"id\":\"a-%u\"},"
            "\"severity\":\"%s\",\"status\":\"%s\",\"message\":\"refund issued for order %u\","
            "\"metadata\":{\"order_id\":\"o-%u\",\"amount\":%u.%02u,\"attempt\":%u},"
            "\"idempotency_key\":\"%08x-%04x-4%03x-%04x-%08x%04x\"}",
            i ? "," : "[", tt_rand() % 60, tt_rand() % 60, tt_rand() % 1000, tt_rand() % 50, tt_rand() % 100000,
            tt_rand() % 100, sev[tt_rand() % 4], st[tt_rand() % 4], tt_rand() % 1000000, tt_rand() % 1000000,
            tt_rand() % 1000, tt_rand() % 100, tt_rand() % 5, tt_rand(), tt_rand() & 0xffff, tt_rand() & 0xfff,
            tt_rand() & 0xffff, tt_rand(), tt_rand() & 0xffff);
        size_t k = PT__MIN((size_t)len, n - i);
        memcpy(b + i, ev, k);
        i += k;
        if (kind == 3 && tt_rand() % 16 == 0) {
            size_t patch = (size_t)(tt_rand() % 20000);   /* not inside PT__MIN: it evaluates twice */
            if (patch > n - i) patch = n - i;
            for (k = 0; k < patch; k++) b[i + k] = (unsigned char)tt_rand();
            i += patch;
        }
    }
}
/* Inflates exactly one gzip member that must fill gz[0..gzn). 0 ok. */
static int tt_gunzip(const unsigned char *gz, size_t gzn, unsigned char *out, size_t cap, size_t *outn) {
    z_stream z;
    int r;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + 15) != Z_OK) return -1;
    z.next_in = (Bytef *)(uintptr_t)gz; z.avail_in = (uInt)gzn;
    z.next_out = (Bytef *)out; z.avail_out = (uInt)cap;
    r = inflate(&z, Z_FINISH);
    *outn = (size_t)z.total_out;
    if (r != Z_STREAM_END || z.avail_in != 0) { inflateEnd(&z); return -2; }
    inflateEnd(&z);
    return 0;
}
static uint32_t tt_le32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static const size_t tt_sizes[] = { 0, 1, 2, 3, 4, 5, 8, 31, 100, 257, 1000, 1023, 1024, 4096, 16383, 16384, 16385,
    65535, 65536, 65537, 65541, 100003, 262147, ((size_t)1 << 20) + 13, ((size_t)3 << 20) + 7 };
#define TT_NSIZES (sizeof tt_sizes / sizeof tt_sizes[0])

/* Every output of the built-in encoder inflates (zlib) to exactly its input,
   with the right header, CRC-32 and ISIZE, within pt__gzip_bound; a too
   small buffer fails cleanly and the state stays usable; JSON compresses. */
PT_TEST(transport_gzip_builtin_roundtrip) {
    size_t maxn = tt_sizes[TT_NSIZES - 1], i, outn, back;
    unsigned char *in = (unsigned char *)malloc(maxn), *out = (unsigned char *)malloc(pt__gzip_bound(maxn)), *chk = (unsigned char *)malloc(maxn + 1);
    pt__deflate *d = pt__deflate_new();
    int kind, bad = 0, pass;
    size_t json_in = 0, json_out = 0;
    PT_REQUIRE(in && out && chk && d);
    for (pass = 0; pass < 2; pass++)          /* twice, so the state is reused across sizes and kinds */
    for (kind = 0; kind < 4; kind++)
        for (i = 0; i < TT_NSIZES; i++) {
            size_t n = tt_sizes[pass ? TT_NSIZES - 1 - i : i];
            tt_gen(kind, in, n);
            outn = pt__gzip(d, in, n, out, pt__gzip_bound(n));
            if (!PT_CHECK(outn >= 18 && outn <= pt__gzip_bound(n))) { bad++; continue; }
            PT_CHECK(out[0] == 0x1f && out[1] == 0x8b && out[2] == 8);
            PT_CHECK_EQ(tt_le32(out + outn - 8), (uint32_t)crc32(0L, in, (uInt)n));
            PT_CHECK_EQ(tt_le32(out + outn - 4), (uint32_t)n);
            if (!PT_CHECK(tt_gunzip(out, outn, chk, maxn + 1, &back) == 0 && back == n && memcmp(chk, in, n) == 0)) {
                fprintf(stderr, "      kind %d size %lu: does not inflate to the input\n", kind, (unsigned long)n);
                bad++;
            }
            if (kind == 1 && n >= 65536) { json_in += n; json_out += outn; }
        }
    PT_CHECK_EQ(bad, 0);
    PT_CHECK_MSG(json_out * 100 < json_in * 40, "JSON compressed to %.1f%%", json_in ? 100.0 * (double)json_out / (double)json_in : 0.0);
    /* one byte short: 0, no overflow (ASan watches the exact-size buffer), then fine again */
    for (kind = 0; kind < 4; kind++) {
        size_t n = 70000;
        unsigned char *tight;
        tt_gen(kind, in, n);
        outn = pt__gzip(d, in, n, out, pt__gzip_bound(n));
        PT_REQUIRE(outn > 0);
        tight = (unsigned char *)malloc(outn - 1);
        PT_REQUIRE(tight);
        PT_CHECK_EQ(pt__gzip(d, in, n, tight, outn - 1), 0);
        free(tight);
        PT_CHECK_EQ(pt__gzip(d, in, n, out, pt__gzip_bound(n)), outn);
    }
    /* CRC-32 against zlib, incremental, odd lengths and offsets */
    tt_gen(0, in, 100000);
    for (i = 0; i < 200; i++) {
        size_t off = tt_rand() % 1000, n = tt_rand() % 5000, cut = n ? tt_rand() % n : 0;
        uint32_t a = pt__crc32(pt__crc32(0, in + off, cut), in + off + cut, n - cut);
        if (a != (uint32_t)crc32(0L, in + off, (uInt)n)) { bad++; break; }
    }
    PT_CHECK_EQ(bad, 0);
    pt__deflate_free(d);
    free(in); free(out); free(chk);
}

/* The build's own gzip (zlib, libdeflate or built-in) through pt__maybe_gzip. */
PT_TEST(transport_gzip_backend_roundtrip) {
    size_t maxn = tt_sizes[TT_NSIZES - 1], i, back;
    unsigned char *in = (unsigned char *)malloc(maxn), *chk = (unsigned char *)malloc(maxn + 1);
    pt_config cfg = tu_config("http://127.0.0.1:9");
    pt_client *c = NULL;
    pt__buf wire;
    int kind, bad = 0;
    PT_REQUIRE(in && chk);
    cfg.enable_gzip = 1;
    cfg.compress_min_bytes = 1;
    cfg.manual_mode = 1;
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    pt__buf_init(&wire, NULL, 0);
    for (kind = 0; kind < 4; kind++)
        for (i = 0; i < TT_NSIZES; i++) {
            size_t n = tt_sizes[i], len = 0;
            const char *send = NULL;
            int gz;
            tt_gen(kind, in, n);
            gz = pt__maybe_gzip(c->core, (const char *)in, n, &wire, &send, &len);
            if (n == 0) { PT_CHECK(gz == 0 && len == 0); continue; }   /* 0 < compress_min_bytes */
            if (!PT_CHECK(gz == 1 && send == wire.p && len <= n + n / 8 + 64)) { bad++; continue; }
            if (!PT_CHECK(tt_gunzip((const unsigned char *)send, len, chk, maxn + 1, &back) == 0 && back == n && memcmp(chk, in, n) == 0)) {
                fprintf(stderr, "      kind %d size %lu: backend output does not inflate to the input\n", kind, (unsigned long)n);
                bad++;
            }
        }
    PT_CHECK_EQ(bad, 0);
    pt__buf_free(&wire);
    pt_close(c, 100, NULL); pt_client_free(c);
    free(in); free(chk);
}

/* A few outputs through gunzip(1), the tool a user would reach for. */
#if defined(_WIN32)
PT_TEST(transport_gzip_gunzip_cli) { PT_SKIP("needs gunzip(1), cmp(1) and sh, not there on Windows (the roundtrip tests check the same outputs with zlib)"); }
#else
PT_TEST(transport_gzip_gunzip_cli) {
    static const struct { int kind; size_t n; } cases[] = { { 1, 200000 }, { 0, 70000 }, { 3, 300000 }, { 1, 0 }, { 2, 1 } };
    char dir[] = "/tmp/pt_gz_XXXXXX", path[96], cmd[400];
    unsigned char *in = (unsigned char *)malloc(400000), *out = (unsigned char *)malloc(pt__gzip_bound(400000));
    pt__deflate *d = pt__deflate_new();
    pt_config cfg = tu_config("http://127.0.0.1:9");
    pt_client *c = NULL;
    pt__buf wire;
    size_t i;
    int way;
    if (system("gunzip --version >/dev/null 2>&1") != 0) { free(in); free(out); pt__deflate_free(d); PT_SKIP("gunzip not installed"); }
    PT_REQUIRE(in && out && d && mkdtemp(dir));
    cfg.enable_gzip = 1; cfg.compress_min_bytes = 1; cfg.manual_mode = 1;
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    pt__buf_init(&wire, NULL, 0);
    for (way = 0; way < 2; way++)
        for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const char *send = (const char *)out;
            size_t len;
            FILE *f;
            tt_gen(cases[i].kind, in, cases[i].n);
            if (way == 0) len = pt__gzip(d, in, cases[i].n, out, pt__gzip_bound(cases[i].n));
            else if (!pt__maybe_gzip(c->core, (const char *)in, cases[i].n, &wire, &send, &len)) continue;   /* n = 0 stays plain */
            snprintf(path, sizeof path, "%s/in", dir);
            f = fopen(path, "wb");
            PT_REQUIRE(f);
            if (cases[i].n) fwrite(in, 1, cases[i].n, f);
            fclose(f);
            snprintf(path, sizeof path, "%s/x.gz", dir);
            f = fopen(path, "wb");
            PT_REQUIRE(f);
            fwrite(send, 1, len, f);
            fclose(f);
            snprintf(cmd, sizeof cmd, "gunzip -t '%s/x.gz' && gunzip -c '%s/x.gz' > '%s/out' && cmp -s '%s/in' '%s/out'", dir, dir, dir, dir, dir);
            PT_CHECK_MSG(system(cmd) == 0, "gunzip disagrees (%s, kind %d, %lu bytes)", way ? "backend" : "built-in", cases[i].kind, (unsigned long)cases[i].n);
        }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) {}
    pt__buf_free(&wire);
    pt_close(c, 100, NULL); pt_client_free(c);
    pt__deflate_free(d);
    free(in); free(out);
}
#endif

/* compress_min_bytes: smaller bodies go as they are, from the boundary up
   they are compressed; the server sees Content-Encoding and a valid member. */
PT_TEST(transport_gzip_min_bytes) {
    pts_server *s = pts_start();
    pt_client *c;
    pt_config cfg;
    pt_error err;
    pt_event ev = tu_event("small enough to stay plain");
    pt_event evs[20];
    char json[2048], b[64];
    size_t len = 0;
    int i;
    pts_request r;
    PT_REQUIRE(s);
    cfg = tu_config(pts_url(s));
    cfg.enable_gzip = 1;
    cfg.max_retries = PT_RETRIES_NONE;
    PT_REQUIRE(pt_client_new(&cfg, &c, &err) == PT_OK);
    PT_CHECK_EQ(pt_client_config(c)->compress_min_bytes, 1024);
    PT_CHECK_EQ(pt_ingest(c, &ev, &err), PT_OK);
    for (i = 0; i < 20; i++) evs[i] = tu_event("batch big enough to be compressed");
    PT_CHECK_EQ(pt_ingest_batch(c, evs, 20, &err), PT_OK);
    PT_REQUIRE(pts_request_count(s) == 2);
    PT_REQUIRE(pts_get_request(s, 0, &r) == 0);
    PT_CHECK(r.body_len < 1024);
    PT_CHECK_EQ(r.gzip, 0);
    PT_CHECK(pts_header(&r, "Content-Encoding", b, sizeof b) == NULL);
    pts_request_free(&r);
    PT_REQUIRE(pts_get_request(s, 1, &r) == 0);
    PT_CHECK(r.body_len > 1024);
    PT_CHECK(r.gzip == 1 && r.gzip_ok == 1);
    PT_CHECK_STR(pts_header(&r, "Content-Encoding", b, sizeof b), "gzip");
    PT_CHECK(r.raw_body_len < r.body_len);
    pts_request_free(&r);
    tt_free(c);
    /* the boundary: a body of exactly compress_min_bytes is compressed, one byte less is not */
    ev.idempotency_key = "fixed-key-so-the-length-is-known";
    PT_REQUIRE(pt_event_to_json(NULL, &ev, json, sizeof json, &len, NULL) == PT_OK);
    for (i = 0; i < 2; i++) {
        pts_reset(s);
        cfg.compress_min_bytes = len + (size_t)i;
        PT_REQUIRE(pt_client_new(&cfg, &c, &err) == PT_OK);
        PT_CHECK_EQ(pt_ingest(c, &ev, &err), PT_OK);
        PT_REQUIRE(pts_get_request(s, 0, &r) == 0);
        PT_CHECK_EQ(r.body_len, len);
        PT_CHECK_EQ(r.gzip, i == 0);
        PT_CHECK_EQ(r.gzip_ok, i == 0);
        pts_request_free(&r);
        tt_free(c);
    }
    pts_stop(s);
}

/* A user gzip hook replaces the built-in one; if it fails, the body goes uncompressed. */
typedef struct tt_gz { int calls; int fail; } tt_gz;
static pt_result tt_gzip_hook(const void *in, size_t n, void *out, size_t cap, size_t *out_len, void *user) {
    tt_gz *g = (tt_gz *)user;
    z_stream z;
    g->calls++;
    if (g->fail) return PT_ERR_COMPRESSION;
    PT_CHECK(cap >= n + n / 8 + 64);
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 16 + 15, 9, Z_DEFAULT_STRATEGY) != Z_OK) return PT_ERR_COMPRESSION;
    z.next_in = (Bytef *)(uintptr_t)in; z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out; z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) { deflateEnd(&z); return PT_ERR_COMPRESSION; }
    *out_len = (size_t)z.total_out;
    deflateEnd(&z);
    return PT_OK;
}
PT_TEST(transport_gzip_user_hook) {
    pts_server *s = pts_start();
    pt_client *c;
    pt_config cfg;
    pt_error err;
    pt_event evs[30];
    tt_gz g;
    int i, f;
    PT_REQUIRE(s);
    for (i = 0; i < 30; i++) evs[i] = tu_event("through the user's gzip hook");
    for (f = 0; f < 2; f++) {
        pts_reset(s);
        memset(&g, 0, sizeof g);
        g.fail = f;
        cfg = tu_config(pts_url(s));
        cfg.enable_gzip = 1;
        cfg.gzip = tt_gzip_hook; cfg.gzip_user = &g;
        PT_REQUIRE(pt_client_new(&cfg, &c, &err) == PT_OK);
        PT_CHECK_EQ(pt_ingest_batch(c, evs, 30, &err), PT_OK);
        PT_CHECK_EQ(pt_ingest_batch(c, evs, 1, &err), PT_OK);     /* < 1024 bytes: the hook is not asked */
        PT_CHECK_EQ(g.calls, 1);
        PT_CHECK(c->core->defl == NULL);                         /* the built-in encoder never ran */
        PT_CHECK_EQ(pts_events_received(s), 31);
        PT_REQUIRE(pts_request_count(s) == 2);
        {
            pts_request r;
            PT_REQUIRE(pts_get_request(s, 0, &r) == 0);
            PT_CHECK_EQ(r.gzip, !f);                             /* a failing hook: sent plain */
            PT_CHECK_EQ(r.gzip_ok, !f);
            pts_request_free(&r);
        }
        tt_free(c);
    }
    pts_stop(s);
}

static const pt_test_case transport_tests[] = {
    PT_CASE(transport_headers), PT_CASE(transport_hook_headers),
    PT_CASE(transport_keepalive), PT_CASE(transport_hook_keepalive),
    PT_CASE(transport_framings), PT_CASE(transport_hook_framings),
    PT_CASE(transport_idle_close), PT_CASE(transport_hook_idle_close),
    PT_CASE(transport_retry_after), PT_CASE(transport_hook_retry_after),
    PT_CASE(transport_deadline), PT_CASE(transport_hook_deadline),
    PT_CASE(transport_malformed), PT_CASE(transport_hook_malformed),
    PT_CASE(transport_gzip_batches), PT_CASE(transport_hook_gzip_batches),
    PT_CASE(transport_cancel_latency),
#if defined(PACKTRACK_USE_CURL)
    PT_CASE(transport_curl_proxy), PT_CASE(transport_curl_error_mapping),
#endif
    PT_CASE(transport_https_ca_file_delivers),
    PT_CASE(transport_https_untrusted_fails_closed),
    PT_CASE(transport_https_insecure_skip_verify),
    PT_CASE(transport_https_keepalive_limit_exactly_once),
    PT_CASE(transport_https_http2),
    PT_CASE(transport_https_config),
    PT_CASE(transport_gzip_builtin_roundtrip),
    PT_CASE(transport_gzip_backend_roundtrip),
    PT_CASE(transport_gzip_gunzip_cli),
    PT_CASE(transport_gzip_min_bytes),
    PT_CASE(transport_gzip_user_hook),
};
