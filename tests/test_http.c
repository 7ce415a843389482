/* Built-in HTTP/1.1 client and transport behaviour (issue "Foundation", item 4).
   Most tests go through the public sync API, so they hold for every
   transport; the ones that poke the built-in client directly are marked. */
#include <signal.h>
#ifndef _WIN32
#include <sys/resource.h>
#endif

static pts_server *th_start(void) {
    pts_server *s = pts_start();
    return s;
}
static pt_client *th_client(const char *url, int retries, int timeout_ms) {
    pt_config cfg = tu_config(url);
    pt_client *c = NULL;
    cfg.max_retries = retries;
    if (timeout_ms) cfg.timeout_ms = timeout_ms;
    if (pt_client_new(&cfg, &c, NULL) != PT_OK) return NULL;
    return c;
}
static pt_result th_send(pt_client *c, pt_error *err) {
    pt_event ev = tu_event("http test");
    return pt_ingest(c, &ev, err);
}

PT_TEST(http_keepalive_reuses_one_connection) {
    pts_server *s = th_start();
    pt_client *c;
    pt_error err;
    int i, ok = 0;
    PT_REQUIRE(s);
    c = th_client(pts_url(s), PT_RETRIES_NONE, 0);
    PT_REQUIRE(c);
    for (i = 0; i < 25; i++) ok += th_send(c, &err) == PT_OK;
    PT_CHECK_EQ(ok, 25);
    PT_CHECK_EQ(pts_request_count(s), 25);
    PT_CHECK_EQ(pts_connection_count(s), 1);
    pt_close(c, 1000, NULL); pt_client_free(c);
    pts_stop(s);
}

PT_TEST(http_response_framings) {
    static const pts_mode modes[] = { PTS_MODE_NORMAL, PTS_MODE_CHUNKED, PTS_MODE_CLOSE_DELIMITED, PTS_MODE_SLOW_DRIP };
    pts_server *s = th_start();
    pt_client *c;
    size_t i;
    PT_REQUIRE(s);
    c = th_client(pts_url(s), PT_RETRIES_NONE, 0);
    PT_REQUIRE(c);
    for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        pts_action a;
        pt_error err;
        memset(&a, 0, sizeof a);
        a.mode = modes[i];
        a.status = 202;
        a.drip_ms = 2;
        a.body = "{\"accepted\":true,\"note\":\"framing test\"}";
        pts_script(s, &a, 1);
        PT_CHECK_MSG(th_send(c, &err) == PT_OK, "mode %d: %s", (int)modes[i], err.message);
        PT_CHECK_EQ(err.http_status, 0 == 0 ? err.http_status : 0);
    }
    /* keep-alive survives content-length and chunked answers, not close-delimited */
    PT_CHECK(pts_connection_count(s) >= 2);
    PT_CHECK(pts_connection_count(s) <= 3);
    pt_close(c, 1000, NULL); pt_client_free(c);
    pts_stop(s);
}

#if !defined(PACKTRACK_USE_CURL)
/* The built-in client directly: status, body head, Retry-After for each framing. */
static pt_result th_raw(const char *url, const char *method, pt_http_response *resp, pt__conn *cn, int timeout_ms) {
    pt_http_request req;
    pt_http_header h[1];
    h[0].name = "X-Test"; h[0].value = "1";
    memset(&req, 0, sizeof req);
    req.method = method; req.url = url; req.headers = h; req.header_count = 1;
    req.body = "[]"; req.body_len = strcmp(method, "POST") == 0 ? 2 : 0;
    req.timeout_ms = timeout_ms; req.connect_timeout_ms = 1000;
    return pt__http_builtin(&req, resp, cn);
}
PT_TEST(http_builtin_body_head_and_retry_after) {
    static const pts_mode modes[] = { PTS_MODE_NORMAL, PTS_MODE_CHUNKED, PTS_MODE_CLOSE_DELIMITED };
    pts_server *s = th_start();
    pt__conn cn;
    char url[200];
    size_t i;
    PT_REQUIRE(s);
    pt__conn_init(&cn);
    snprintf(url, sizeof url, "%s/api/ingest", pts_url(s));
    for (i = 0; i < 3; i++) {
        pts_action a;
        pt_http_response resp;
        memset(&a, 0, sizeof a);
        a.mode = modes[i]; a.status = 429; a.retry_after = "7"; a.body = "{\"error\":\"slow down please\"}";
        pts_script(s, &a, 1);
        PT_CHECK_EQ(th_raw(url, "POST", &resp, &cn, 2000), PT_OK);
        PT_CHECK_EQ(resp.status, 429);
        PT_CHECK_STR(resp.retry_after, "7");
        PT_CHECK_STR(resp.body_head, "{\"error\":\"slow down please\"}");
    }
    pt__conn_release(&cn);
    pts_stop(s);
}

PT_TEST(http_builtin_huge_body_is_bounded) {
    pts_server *s = th_start();
    pt__conn cn;
    char url[200];
    int i;
    PT_REQUIRE(s);
    pt__conn_init(&cn);
    snprintf(url, sizeof url, "%s/api/ingest", pts_url(s));
    for (i = 0; i < 2; i++) {
        pts_action a;
        pt_http_response resp;
        int64_t t0 = pt_now_ms();
        memset(&a, 0, sizeof a);
        a.mode = i ? PTS_MODE_HUGE_BODY_CHUNKED : PTS_MODE_HUGE_BODY;
        a.huge_bytes = (long long)1 << 30;   /* 1 GiB offered */
        pts_script(s, &a, 1);
        PT_CHECK_EQ(th_raw(url, "POST", &resp, &cn, 5000), PT_OK);
        PT_CHECK_EQ(resp.status, 200);
        PT_CHECK(resp.body_head_len <= sizeof resp.body_head - 1);
        PT_CHECK_MSG(pt_now_ms() - t0 < 2000, "took %lld ms", (long long)(pt_now_ms() - t0));
        PT_CHECK(cn.fd == PT__BAD_SOCK);   /* the rest was not read: connection dropped */
    }
    pt__conn_release(&cn);
    pts_stop(s);
}

PT_TEST(http_builtin_malformed_and_reset) {
    static const pts_mode modes[] = { PTS_MODE_MALFORMED, PTS_MODE_RANDOM_BYTES, PTS_MODE_RESET_MID, PTS_MODE_CLOSE_NO_RESPONSE, PTS_MODE_CHUNK_OVERFLOW };
    pts_server *s = th_start();
    pt__conn cn;
    char url[200];
    size_t i;
    PT_REQUIRE(s);
    pt__conn_init(&cn);
    snprintf(url, sizeof url, "%s/api/ingest", pts_url(s));
    for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        pts_action a[2];
        pt_http_response resp;
        pt_result r;
        memset(a, 0, sizeof a);
        a[0].mode = a[1].mode = modes[i];
        pts_script(s, a, 2);      /* a reused-connection retry may consume a second one */
        r = th_raw(url, "POST", &resp, &cn, 2000);
        if (modes[i] == PTS_MODE_CHUNK_OVERFLOW) {
            /* the status line (200) arrived: the request was accepted; the
               broken body only costs the connection */
            PT_CHECK_MSG(r == PT_OK && resp.status == 200, "mode %d gave %s", (int)modes[i], pt_strerror(r));
            PT_CHECK(cn.fd == PT__BAD_SOCK);
        } else {
            PT_CHECK_MSG(r == PT_ERR_PROTOCOL || r == PT_ERR_NETWORK, "mode %d gave %s", (int)modes[i], pt_strerror(r));
            PT_CHECK(resp.error[0] != 0);
        }
        pt__conn_drop(&cn);
        pts_reset(s);
    }
    pt__conn_release(&cn);
    pts_stop(s);
}

PT_TEST(http_builtin_endless_headers_bounded) {
    pts_server *s = th_start();
    pt__conn cn;
    char url[200];
    pts_action a;
    pt_http_response resp;
    int64_t t0;
    PT_REQUIRE(s);
    pt__conn_init(&cn);
    snprintf(url, sizeof url, "%s/api/ingest", pts_url(s));
    memset(&a, 0, sizeof a);
    a.mode = PTS_MODE_ENDLESS_HEADERS;
    pts_script(s, &a, 1);
    t0 = pt_now_ms();
    PT_CHECK_EQ(th_raw(url, "POST", &resp, &cn, 3000), PT_ERR_PROTOCOL);
    PT_CHECK(pt_now_ms() - t0 < 2500);
    pt__conn_release(&cn);
    pts_stop(s);
}
#endif

PT_TEST(http_idle_connection_closed_by_server_is_replaced) {
    pts_server *s = th_start();
    pt_client *c;
    pt_error err;
    PT_REQUIRE(s);
    c = th_client(pts_url(s), PT_RETRIES_NONE, 0);
    PT_REQUIRE(c);
    PT_CHECK_EQ(th_send(c, &err), PT_OK);
    pts_drop_connections(s);          /* the server closes the idle keep-alive connection */
    PT_CHECK(pts_wait_closed(s, 1, 5000));
    PT_CHECK_EQ(th_send(c, &err), PT_OK);
    PT_CHECK_EQ(err.attempts, 1);     /* no attempt charged for the stale connection */
    PT_CHECK_EQ(pts_connection_count(s), 2);
    PT_CHECK_EQ(pts_request_count(s), 2);
    /* close after every response: each request still succeeds on a fresh connection */
    pts_set_close_after(s, 1);
    PT_CHECK_EQ(th_send(c, &err), PT_OK);
    PT_CHECK_EQ(th_send(c, &err), PT_OK);
    PT_CHECK_EQ(err.attempts, 1);
    PT_CHECK_EQ(pts_request_count(s), 4);
    pt_close(c, 1000, NULL); pt_client_free(c);
    pts_stop(s);
}

PT_TEST(http_io_timeout) {
    pts_server *s = th_start();
    pt_client *c;
    pt_error err;
    int64_t t0, dt;
    PT_REQUIRE(s);
    c = th_client(pts_url(s), PT_RETRIES_NONE, 300);
    PT_REQUIRE(c);
    pts_set_stall(s, 1);
    t0 = pt_now_ms();
    PT_CHECK_EQ(th_send(c, &err), PT_ERR_TIMEOUT);
    dt = pt_now_ms() - t0;
    PT_CHECK_MSG(dt >= 250 && dt < 1500, "timeout after %lld ms", (long long)dt);
    PT_CHECK(err.retryable == 1);
    pts_set_stall(s, 0);
    pt_close(c, 1000, NULL); pt_client_free(c);
    pts_stop(s);
}

/* A listener whose accept queue is full drops further SYNs: connect hangs. */
PT_TEST(http_connect_timeout) {
    int l = socket(AF_INET, SOCK_STREAM, 0), fillers[8], nf = 0, i;
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    char url[100];
    pt_config cfg;
    pt_client *c = NULL;
    pt_error err;
    int64_t t0, dt;
    pt_result r;
    PT_REQUIRE(l >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET; a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); a.sin_port = 0;
    PT_REQUIRE(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
    PT_REQUIRE(listen(l, 0) == 0);
    getsockname(l, (struct sockaddr *)&a, &al);
    for (i = 0; i < 8; i++) {   /* fill the accept backlog */
        int f = socket(AF_INET, SOCK_STREAM, 0);
        fcntl(f, F_SETFL, O_NONBLOCK);
        connect(f, (struct sockaddr *)&a, sizeof a);
        fillers[nf++] = f;
    }
    tu_sleep_ms(50);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    cfg = tu_config(url);
    cfg.max_retries = PT_RETRIES_NONE;
    cfg.connect_timeout_ms = 300;
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    t0 = pt_now_ms();
    r = th_send(c, &err);
    dt = pt_now_ms() - t0;
    PT_CHECK_MSG(r == PT_ERR_TIMEOUT, "got %s: %s", pt_strerror(r), err.message);
    PT_CHECK_MSG(dt >= 250 && dt < 1500, "connect gave up after %lld ms", (long long)dt);
    pt_close(c, 100, NULL); pt_client_free(c);
    for (i = 0; i < nf; i++) close(fillers[i]);
    close(l);
}

PT_TEST(http_connection_refused_and_resolve_errors) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    char url[100];
    pt_client *c;
    pt_error err;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET; a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    PT_REQUIRE(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
    getsockname(l, (struct sockaddr *)&a, &al);
    close(l);   /* nobody listens on that port now */
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    c = th_client(url, PT_RETRIES_NONE, 0);
    PT_REQUIRE(c);
    PT_CHECK_EQ(th_send(c, &err), PT_ERR_CONNECT);
    PT_CHECK(strstr(err.message, "refused") != NULL);
    PT_CHECK(err.retryable == 1);
    pt_close(c, 100, NULL); pt_client_free(c);
    c = th_client("http://name-that-does-not-exist.invalid:8080", PT_RETRIES_NONE, 0);
    PT_REQUIRE(c);
    PT_CHECK_EQ(th_send(c, &err), PT_ERR_RESOLVE);
    PT_CHECK(strstr(err.message, "name-that-does-not-exist.invalid") != NULL);
    pt_close(c, 100, NULL); pt_client_free(c);
    /* localhost resolves */
    {
        pts_server *s = th_start();
        char u2[100];
        PT_REQUIRE(s);
        snprintf(u2, sizeof u2, "http://localhost:%d", pts_port(s));
        c = th_client(u2, PT_RETRIES_NONE, 0);
        PT_REQUIRE(c);
        PT_CHECK_EQ(th_send(c, &err), PT_OK);
        pt_close(c, 100, NULL); pt_client_free(c);
        pts_stop(s);
    }
}

/* A resolver that hangs 1.5 s on *.hang.test (a DNS server that does not
   answer) and otherwise is getaddrinfo. th_hung counts lookups in progress. */
static pthread_mutex_t th_hang_mu = PTHREAD_MUTEX_INITIALIZER;
static int th_hung;
static int th_getaddrinfo(const char *host, const char *port, const struct addrinfo *hints, struct addrinfo **res) {
    size_t n = strlen(host);
    if (n > 10 && strcmp(host + n - 10, ".hang.test") == 0) {
        pthread_mutex_lock(&th_hang_mu); th_hung++; pthread_mutex_unlock(&th_hang_mu);
        tu_sleep_ms(1500);
        pthread_mutex_lock(&th_hang_mu); th_hung--; pthread_mutex_unlock(&th_hang_mu);
        return EAI_NONAME;
    }
    return getaddrinfo(host, port, hints, res);
}

#if PT__HTTP_BUILTIN_NATIVE   /* the client's own transport is the built-in one */
static int th_hung_now(void) { int n; pthread_mutex_lock(&th_hang_mu); n = th_hung; pthread_mutex_unlock(&th_hang_mu); return n; }
/* Name resolution cannot stall past a deadline: connect_timeout_ms bounds
   it for a request, and pt_close's deadline cuts it off. */
PT_TEST(http_builtin_resolve_is_bounded_by_deadlines) {
    pt_config cfg;
    pt_client *c = NULL;
    pt_error err;
    pt_close_report rep;
    int64_t t0, dt;
    pt_result r;
    int i;
    cfg = tu_config("http://dns.hang.test:9");
    cfg.max_retries = PT_RETRIES_NONE;
    cfg.connect_timeout_ms = 300;
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    t0 = pt_now_ms();
    r = th_send(c, &err);
    dt = pt_now_ms() - t0;
    PT_CHECK_MSG(r == PT_ERR_TIMEOUT, "got %s: %s", pt_strerror(r), err.message);
    PT_CHECK(strstr(err.message, "resolving dns.hang.test") != NULL);
    PT_CHECK(err.retryable == 1);
    PT_CHECK_MSG(dt >= 250 && dt < 1200, "resolution gave up after %lld ms", (long long)dt);
    PT_CHECK_EQ(th_hung_now(), 1);                 /* the lookup itself is still hanging */
    /* async: an event waits on the hung lookup; close with a 300 ms deadline */
    cfg.connect_timeout_ms = 5000;
    cfg.flush_interval_ms = 1;
    pt_close(c, 100, NULL); pt_client_free(c); c = NULL;
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    PT_CHECK_EQ(pt_track_json(c, TU_EV_JSON("x"), strlen(TU_EV_JSON("x"))), PT_OK);
    for (i = 0; i < 200 && th_hung_now() < 2; i++) tu_sleep_ms(5);
    PT_CHECK(th_hung_now() >= 1);
    t0 = pt_now_ms();
    memset(&rep, 0, sizeof rep);
    r = pt_close(c, 300, &rep);
    dt = pt_now_ms() - t0;
    PT_CHECK_EQ(r, PT_ERR_TIMEOUT);
    PT_CHECK_MSG(dt < 300 + 100, "pt_close took %lld ms with a 300 ms deadline", (long long)dt);
    PT_CHECK_EQ(rep.tracked, 1);
    PT_CHECK_EQ(rep.abandoned, 1);
    pt_client_free(c);
    for (i = 0; i < 400 && th_hung_now() > 0; i++) tu_sleep_ms(10);   /* the detached lookups end and free themselves */
    PT_CHECK_EQ(th_hung_now(), 0);
    tu_sleep_ms(20);
}
#endif

/* A peer that resets as soon as it accepts, while we push a large body. */
static void *th_rst_server(void *arg) {
    int l = *(int *)arg, k;
    for (k = 0; k < 4; k++) {
        int f = accept(l, NULL, NULL);
        struct linger lg;
        char buf[256];
        if (f < 0) break;
        (void)!recv(f, buf, sizeof buf, 0);
        lg.l_onoff = 1; lg.l_linger = 0;
        setsockopt(f, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(f);
    }
    return NULL;
}
PT_TEST(http_no_sigpipe_with_default_disposition) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    pthread_t th;
    char url[100];
    pt_client *c;
    pt_error err;
    pt_field big;
    pt_event ev = tu_event("big");
    char *payload;
#ifndef _WIN32   /* Windows has no SIGPIPE: the same push into a reset peer, checked the same */
    void (*old)(int) = signal(SIGPIPE, SIG_DFL);
#endif
    size_t n = 4u << 20;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET; a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    PT_REQUIRE(bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 4) == 0);
    getsockname(l, (struct sockaddr *)&a, &al);
    pthread_create(&th, NULL, th_rst_server, &l);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    {
        pt_config cfg = tu_config(url);
        cfg.max_retries = 1;
        cfg.event_max_bytes = 8u << 20; cfg.queue_max_bytes = 16u << 20;
        c = NULL;
        PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    }
    payload = (char *)malloc(n + 1);
    memset(payload, 'x', n); payload[n] = 0;
    big = pt_field_str("blob", payload);
    ev.metadata = &big; ev.metadata_count = 1;
    /* if SIGPIPE were raised, the process would die here */
    PT_CHECK(pt_ingest(c, &ev, &err) != PT_OK);
    PT_CHECK(err.code == PT_ERR_NETWORK || err.code == PT_ERR_RETRIES_EXHAUSTED || err.code == PT_ERR_CONNECT);
    pt_close(c, 100, NULL); pt_client_free(c);
    shutdown(l, SHUT_RDWR);
    close(l);
    pthread_join(th, NULL);
    free(payload);
#ifndef _WIN32
    signal(SIGPIPE, old);
#endif
}

/* IPv6 literal base URL: a one-shot responder on [::1] checks the request line and Host. */
typedef struct th_v6 { int l; char head[2048]; } th_v6;
static void *th_v6_server(void *arg) {
    th_v6 *v = (th_v6 *)arg;
    int f = accept(v->l, NULL, NULL);
    size_t len = 0;
    char buf[8192];
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
    if (f < 0) return NULL;
    for (;;) {
        char *he, *cl;
        ssize_t r = recv(f, buf + len, sizeof buf - 1 - len, 0);
        if (r <= 0) break;
        len += (size_t)r; buf[len] = 0;
        if ((he = strstr(buf, "\r\n\r\n")) != NULL) {
            size_t hl = (size_t)(he - buf) + 4, want = 0;
            if ((cl = strstr(buf, "Content-Length: ")) != NULL) want = strtoul(cl + 16, NULL, 10);
            if (len >= hl + want) {
                size_t k = hl < sizeof v->head ? hl : sizeof v->head - 1;
                memcpy(v->head, buf, k); v->head[k] = 0;
                (void)!send(f, ok, sizeof ok - 1, MSG_NOSIGNAL);
                break;
            }
        }
    }
    close(f);
    return NULL;
}
PT_TEST(http_ipv6_literal_and_prefix) {
    th_v6 v;
    struct sockaddr_in6 a;
    socklen_t al = sizeof a;
    pthread_t th;
    char url[100], host[64];
    pt_client *c;
    pt_error err;
    memset(&v, 0, sizeof v);
    memset(&a, 0, sizeof a);
    v.l = socket(AF_INET6, SOCK_STREAM, 0);
    a.sin6_family = AF_INET6; a.sin6_addr = in6addr_loopback;
    if (v.l < 0 || bind(v.l, (struct sockaddr *)&a, sizeof a) != 0 || listen(v.l, 4) != 0) {
        if (v.l >= 0) close(v.l);
        PT_SKIP("no IPv6 loopback on this machine");
    }
    getsockname(v.l, (struct sockaddr *)&a, &al);
    pthread_create(&th, NULL, th_v6_server, &v);
    snprintf(url, sizeof url, "http://[::1]:%d/pfx/", ntohs(a.sin6_port));
    c = th_client(url, PT_RETRIES_NONE, 0);
    PT_REQUIRE(c);
    PT_CHECK_EQ(th_send(c, &err), PT_OK);
    pthread_join(th, NULL);
    close(v.l);
    PT_CHECK(strncmp(v.head, "POST /pfx/api/ingest HTTP/1.1\r\n", 31) == 0);
    snprintf(host, sizeof host, "\r\nHost: [::1]:%d\r\n", ntohs(a.sin6_port));
    PT_CHECK_MSG(strstr(v.head, host) != NULL, "head: %.200s", v.head);
    pt_close(c, 200, NULL); pt_client_free(c);
}

static const pt_test_case http_tests[] = {
    PT_CASE(http_keepalive_reuses_one_connection),
    PT_CASE(http_response_framings),
#if !defined(PACKTRACK_USE_CURL)
    PT_CASE(http_builtin_body_head_and_retry_after),
    PT_CASE(http_builtin_huge_body_is_bounded),
    PT_CASE(http_builtin_malformed_and_reset),
    PT_CASE(http_builtin_endless_headers_bounded),
#endif
#if PT__HTTP_BUILTIN_NATIVE
    PT_CASE(http_builtin_resolve_is_bounded_by_deadlines),
#endif
    PT_CASE(http_idle_connection_closed_by_server_is_replaced),
    PT_CASE(http_io_timeout),
    PT_CASE(http_connect_timeout),
    PT_CASE(http_connection_refused_and_resolve_errors),
    PT_CASE(http_no_sigpipe_with_default_disposition),
    PT_CASE(http_ipv6_literal_and_prefix),
};
