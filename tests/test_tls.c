/* HTTPS out of the box (issue "HTTPS out of the box").

   1. Run-time libcurl (POSIX builds without PACKTRACK_USE_CURL): an https
      client loads libcurl.so.4 and delivers through a local nginx with a
      throw-away CA (tests/test_transport.c's set-up); an http client loads
      nothing; a missing library, or one without the curl functions, is a
      PT_ERR_CONFIG naming what to install and the build flag alternative.
   2. Errors say what happened, in the sync and the async path: a certificate
      for another name, an untrusted one, a server that does not speak TLS,
      a proxy that is not there. Never a plain-http downgrade: the plain
      server behind the https URL never sees an HTTP request.
   3. PACKTRACK_NO_DLOPEN builds (build/run-nodlopen): https is a config
      error naming the switch.
   Everything talks to 127.0.0.1 only and is bounded in time. */
#include <poll.h>

/* The sync path and the async path both fail with want, and both messages
   hold every needle (NULL-terminated). Nothing reaches server s. */
static void tl_check_fails(pt_config cfg, pt_result want, const char *const *needles, pts_server *s) {
    pt_client *c = NULL;
    pt_error err;
    pt_client_stats st;
    pt_event ev = tu_event("must not leave");
    size_t i;
    int64_t t0;
    cfg.max_retries = PT_RETRIES_NONE;
    /* the claim is the error, not its speed: room for a TLS library loading
       the system CA bundle under valgrind */
    cfg.timeout_ms = 30000;
    cfg.connect_timeout_ms = 20000;
    if (pt_client_new(&cfg, &c, &err) != PT_OK) { PT_CHECK_MSG(0, "pt_client_new: %s", err.message); return; }
    PT_CHECK_MSG(pt_ingest(c, &ev, &err) == want, "want %s, got: %s", pt_strerror(want), err.message);
    for (i = 0; needles[i]; i++) PT_CHECK_MSG(strstr(err.message, needles[i]) != NULL, "sync message lacks \"%s\": %s", needles[i], err.message);
    PT_CHECK(strstr(err.message, TU_KEY) == NULL);
    PT_CHECK_EQ(pt_track(c, &ev), PT_OK);
    /* queued events wait out a TLS failure (retry_max_elapsed_ms): wait
       for the first failed attempt, not for the flush */
    for (t0 = pt_now_ms(); pt_now_ms() - t0 < 30000;) {
        pt_flush(c, 10);
        if (pt_stats(c, &st) == PT_OK && st.last_error != PT_OK) break;
    }
    PT_CHECK_EQ(pt_stats(c, &st), PT_OK);
    PT_CHECK_EQ(st.delivered, 0);
    PT_CHECK_EQ(st.last_error, want);
    for (i = 0; needles[i]; i++) PT_CHECK_MSG(strstr(st.last_error_message, needles[i]) != NULL, "async message lacks \"%s\": %s", needles[i], st.last_error_message);
    PT_CHECK(strstr(st.last_error_message, TU_KEY) == NULL);
    pt_close(c, 100, NULL);
    pt_client_free(c);
    if (s) PT_CHECK_EQ(pts_request_count(s), 0);
}

#if PT__CURL_DL
/* Runs pt_client_new for an https URL as if libcurl had not been loaded
   yet, loading from `library`; the process's table is put back after. */
static pt_result tl_new_unloaded(const char *library, pt_error *err, int *loaded_after) {
    pt__curl_api saved;
    const char *saved_lib = pt__curl_library;
    int was;
    pt_client *c = NULL;
    pt_config cfg = tu_config("https://127.0.0.1:9");
    pt_result r;
    pt__reg_lock();
    saved = pt__cu; was = pt__cu_loaded; pt__cu_loaded = 0; pt__curl_library = library;
    pt__reg_unlock();
    r = pt_client_new(&cfg, &c, err);
    if (c) { pt_close(c, 100, NULL); pt_client_free(c); }
    pt__reg_lock();
    *loaded_after = pt__cu_loaded;
    pt__cu = saved; pt__cu_loaded = was; pt__curl_library = saved_lib;
    pt__reg_unlock();
    return r;
}
#endif

/* libcurl missing: PT_ERR_CONFIG naming the package and the build flag. */
PT_TEST(tls_missing_libcurl_is_a_config_error) {
#if PT__CURL_DL
    pt_error err;
    int loaded = -1;
    PT_CHECK_EQ(tl_new_unloaded("libcurl-not-installed.so.4", &err, &loaded), PT_ERR_CONFIG);
    PT_CHECK_EQ(loaded, 0);
    PT_CHECK_MSG(strstr(err.message, "Install libcurl") && strstr(err.message, "libcurl4") && strstr(err.message, "libcurl-not-installed.so.4")
                 && strstr(err.message, "PACKTRACK_USE_CURL") && strstr(err.message, "plain http"), "%s", err.message);
#else
    PT_SKIP("this build does not load libcurl at run time");
#endif
}

/* A library that is there but is not libcurl (zlib): the missing function
   is named, nothing is half-loaded. */
PT_TEST(tls_library_without_curl_symbols) {
#if PT__CURL_DL
    pt_error err;
    int loaded = -1;
    pt_result r = tl_new_unloaded("libz.so.1", &err, &loaded);
    if (r == PT_ERR_CONFIG && strstr(err.message, "could not be loaded")) PT_SKIP("libz.so.1 not loadable here");
    PT_CHECK_EQ(r, PT_ERR_CONFIG);
    PT_CHECK_EQ(loaded, 0);
    PT_CHECK_MSG(strstr(err.message, "has no curl_global_init") && strstr(err.message, "libz.so.1"), "%s", err.message);
#else
    PT_SKIP("this build does not load libcurl at run time");
#endif
}

/* http:// clients never load libcurl; an https:// one does, once. */
PT_TEST(tls_http_loads_nothing_https_loads_libcurl) {
#if PT__CURL_DL
    pt__curl_api saved;
    int was, after_http, after_https;
    pt_client *c = NULL;
    pt_config cfg = tu_config("http://127.0.0.1:9");
    pt_error err;
    pt_result r;
    pt__reg_lock(); saved = pt__cu; was = pt__cu_loaded; pt__cu_loaded = 0; pt__reg_unlock();
    PT_CHECK_EQ(pt_client_new(&cfg, &c, &err), PT_OK);
    if (c) { pt_close(c, 100, NULL); pt_client_free(c); c = NULL; }
    pt__reg_lock(); after_http = pt__cu_loaded; pt__reg_unlock();
    cfg.base_url = "https://127.0.0.1:9";
    r = pt_client_new(&cfg, &c, &err);
    if (c) { pt_close(c, 100, NULL); pt_client_free(c); }
    pt__reg_lock();
    after_https = pt__cu_loaded;
    if (was) { pt__cu = saved; pt__cu_loaded = 1; }   /* else: keep what was just loaded */
    pt__reg_unlock();
    PT_CHECK_EQ(after_http, 0);
    if (r == PT_ERR_CONFIG) PT_SKIP(err.message);   /* no libcurl.so.4 on this machine */
    PT_CHECK_EQ(r, PT_OK);
    PT_CHECK_EQ(after_https, 1);
#else
    PT_SKIP("this build does not load libcurl at run time");
#endif
}

/* PACKTRACK_NO_DLOPEN: https without PACKTRACK_USE_CURL is a config error
   naming the switch and the alternatives (build/run-nodlopen). */
PT_TEST(tls_no_dlopen_is_a_config_error) {
#if defined(PACKTRACK_NO_DLOPEN) && !PT__CURL_LINKED && PT__POSIX
    pt_client *c = NULL;
    pt_config cfg = tu_config("https://127.0.0.1:9");
    pt_error err;
    PT_CHECK_EQ(pt_client_new(&cfg, &c, &err), PT_ERR_CONFIG);
    PT_CHECK(c == NULL);
    PT_CHECK_MSG(strstr(err.message, "PACKTRACK_NO_DLOPEN") && strstr(err.message, "PACKTRACK_USE_CURL") && strstr(err.message, "plain http"), "%s", err.message);
    cfg.base_url = NULL;   /* the default URL is https */
    PT_CHECK_EQ(pt_client_new(&cfg, &c, &err), PT_ERR_CONFIG);
    cfg.base_url = "http://127.0.0.1:9";
    PT_CHECK_EQ(pt_client_new(&cfg, &c, &err), PT_OK);
    if (c) { pt_close(c, 100, NULL); pt_client_free(c); }
#else
    PT_SKIP("only in a PACKTRACK_NO_DLOPEN build (make build/run-nodlopen)");
#endif
}

/* A certificate for another name: PT_ERR_TLS "name mismatch" with the host. */
PT_TEST(tls_wrong_name_fails_with_tls_error) {
    tt_tls tls;
    pts_server *s = NULL;
    pt_config cfg;
    static const char *const needles[] = { "name mismatch", "127.0.0.1", NULL };
    tt_tls_san = "DNS:other.example";
    TT_TLS_BEGIN(tls, s);
    tt_tls_san = "IP:127.0.0.1,DNS:localhost";
    cfg = tu_config(tls.url);
    cfg.ca_file = tls.ca;   /* trusted CA: only the name is wrong */
    tl_check_fails(cfg, PT_ERR_TLS, needles, s);
    tt_tls_stop(&tls);
    pts_stop(s);
}

/* A certificate from a CA nobody trusts: PT_ERR_TLS "not trusted" + ca_file. */
PT_TEST(tls_untrusted_fails_with_tls_error) {
    tt_tls tls;
    pts_server *s = NULL;
    pt_config cfg;
    static const char *const needles[] = { "not trusted", "127.0.0.1", "ca_file", NULL };
    TT_TLS_BEGIN(tls, s);
    cfg = tu_config(tls.url);
    tl_check_fails(cfg, PT_ERR_TLS, needles, s);
    tt_tls_stop(&tls);
    pts_stop(s);
}

/* A plain-http server that answers any bytes with a 400 and closes. */
typedef struct tl_plain { int fd, port, stop, conns, posts; pthread_t th; } tl_plain;
static void *tl_plain_main(void *arg) {
    tl_plain *p = (tl_plain *)arg;
    while (!p->stop) {
        struct pollfd pf;
        int a;
        char buf[2048];
        ssize_t n;
        pf.fd = p->fd; pf.events = POLLIN; pf.revents = 0;
        if (poll(&pf, 1, 20) <= 0) continue;
        a = accept(p->fd, NULL, NULL);
        if (a < 0) continue;
        p->conns++;
        pf.fd = a;
        if (poll(&pf, 1, 2000) > 0 && (n = recv(a, buf, sizeof buf, 0)) > 0) {
            static const char ans[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            if (n >= 4 && memcmp(buf, "POST", 4) == 0) p->posts++;
            (void)!send(a, ans, sizeof ans - 1, MSG_NOSIGNAL);
        }
        close(a);
    }
    return NULL;
}
static int tl_plain_start(tl_plain *p) {
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    memset(p, 0, sizeof *p);
    p->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (p->fd < 0) return -1;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET; sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(p->fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(p->fd, 8) != 0
        || getsockname(p->fd, (struct sockaddr *)&sa, &sl) != 0 || pthread_create(&p->th, NULL, tl_plain_main, p) != 0) {
        close(p->fd);
        return -1;
    }
    p->port = ntohs(sa.sin_port);
    return 0;
}
static void tl_plain_stop(tl_plain *p) { p->stop = 1; pthread_join(p->th, NULL); close(p->fd); }

/* https:// to a server that answers plain http: a handshake failure naming
   the host, and the server never sees an HTTP request (no downgrade). */
PT_TEST(tls_plain_server_is_a_handshake_failure) {
    tl_plain ps;
    char url[64];
    pt_config cfg;
    pt_client *c = NULL;
    pt_error err;
    static const char *const needles[] = { "TLS handshake with 127.0.0.1", NULL };
    cfg = tu_config("https://127.0.0.1:9");
    if (pt_client_new(&cfg, &c, &err) != PT_OK) PT_SKIP(err.message);   /* no TLS transport on this machine */
    pt_close(c, 100, NULL); pt_client_free(c);
    PT_REQUIRE(tl_plain_start(&ps) == 0);
    snprintf(url, sizeof url, "https://127.0.0.1:%d", ps.port);
    tl_check_fails(tu_config(url), PT_ERR_TLS, needles, NULL);
    tl_plain_stop(&ps);
    PT_CHECK(ps.conns >= 1);
    PT_CHECK_EQ(ps.posts, 0);
}

/* The built-in client never speaks plain http to an https:// URL, even
   when a hook hands it one: PT_ERR_UNSUPPORTED, and not a byte of HTTP
   reaches the server. */
static pt_result tl_builtin_hook(const pt_http_request *req, pt_http_response *resp, void *user) {
    return pt__http_builtin(req, resp, user);
}
PT_TEST(tls_builtin_never_downgrades) {
    tl_plain ps;
    char url[64];
    pt_config cfg;
    pt_client *c = NULL;
    pt_error err;
    pt__conn cn;
    pt_event ev = tu_event("must not leave in clear");
    PT_REQUIRE(tl_plain_start(&ps) == 0);
    pt__conn_init(&cn);
    snprintf(url, sizeof url, "https://127.0.0.1:%d", ps.port);
    cfg = tu_config(url);
    cfg.max_retries = PT_RETRIES_NONE;
    cfg.http = tl_builtin_hook; cfg.http_user = &cn;
    PT_CHECK_EQ(pt_client_new(&cfg, &c, &err), PT_OK);
    if (c) {
        PT_CHECK_EQ(pt_ingest(c, &ev, &err), PT_ERR_UNSUPPORTED);
        PT_CHECK_MSG(strstr(err.message, "http only") != NULL, "%s", err.message);
        pt_close(c, 100, NULL); pt_client_free(c);
    }
    pt__conn_release(&cn);
    tl_plain_stop(&ps);
    PT_CHECK_EQ(ps.conns, 0);
    PT_CHECK_EQ(ps.posts, 0);
}

/* A proxy that is not listening: PT_ERR_CONNECT naming the proxy, without
   its credentials. */
PT_TEST(tls_proxy_failure_names_the_proxy) {
#if PT__CURL
    pts_server *s;
    char url[64], proxy[96], want[40];
    pt_config cfg;
    pt_client *c = NULL;
    pt_error err;
    const char *needles[4];
    int port = tt_free_port();
    cfg = tu_config("https://127.0.0.1:9");
    if (pt_client_new(&cfg, &c, &err) != PT_OK) PT_SKIP(err.message);
    pt_close(c, 100, NULL); pt_client_free(c);
    PT_REQUIRE(port > 0);
    s = pts_start();
    PT_REQUIRE(s);
    snprintf(url, sizeof url, "https://127.0.0.1:%d", pts_port(s));
    snprintf(proxy, sizeof proxy, "http://user:hunter2@127.0.0.1:%d", port);
    snprintf(want, sizeof want, "proxy 127.0.0.1:%d", port);
    needles[0] = want; needles[1] = "could not connect"; needles[2] = NULL;
    cfg = tu_config(url);
    cfg.proxy = proxy;
    tl_check_fails(cfg, PT_ERR_CONNECT, needles, s);
    pts_stop(s);
#else
    PT_SKIP("cfg.proxy is honoured by the libcurl transport (this build has none)");
#endif
}

/* Delivery over https with the build's own TLS transport (run-time libcurl
   in a default POSIX build), sync and async. */
PT_TEST(tls_delivers_over_https) {
    tt_tls tls;
    pts_server *s = NULL;
    pt_client *c = NULL;
    pt_config cfg;
    pt_error err;
    pt_event ev = tu_event("async over tls");
    TT_TLS_BEGIN(tls, s);
    cfg = tu_config(tls.url);
    cfg.ca_file = tls.ca;
    PT_CHECK_EQ(pt_client_new(&cfg, &c, &err), PT_OK);
    if (c) {
        pt_event e1 = tu_event("sync over tls");
        PT_CHECK_MSG(pt_ingest(c, &e1, &err) == PT_OK, "%s", err.message);
        PT_CHECK_EQ(pt_track(c, &ev), PT_OK);
        PT_CHECK_EQ(pt_flush(c, 5000), PT_OK);
        pt_close(c, 2000, NULL); pt_client_free(c);
    }
    PT_CHECK_EQ(pts_events_received(s), 2);
    tt_tls_stop(&tls);
    pts_stop(s);
}

/* A pump through libcurl (linked or loaded) keeps its 1 ms budget during
   the TLS handshake and while the server stalls, and delivers once it
   answers: the curl transport is driven in steps (curl_multi_perform), not
   by one blocking call. */
PT_TEST(tls_pump_keeps_budget_over_https) {
    tt_tls tls;
    pts_server *s = NULL;
    pt_client *cl = NULL;
    pt_config cfg;
    pt_error err;
    int64_t worst = 0, w;
    TT_TLS_BEGIN(tls, s);
    cfg = tq_cfg(tls.url);
    cfg.ca_file = tls.ca;
    cfg.timeout_ms = 2000;    /* the stall below must not end the request */
    if (pt_client_new(&cfg, &cl, &err) != PT_OK) { PT_CHECK_MSG(0, "%s", err.message); tt_tls_stop(&tls); pts_stop(s); return; }
    pts_set_stall(s, 1);
    PT_CHECK_EQ(tq_track(cl, 10, "pumped over tls"), 10);
    w = tq_pumps(cl, 200);    /* handshake, request sent, the server stalls */
    PT_CHECK_MSG(tq_budget_ok(w), "pumps through curl waited for the network (longest %lld ms)", (long long)w);
    PT_CHECK_EQ(pts_events_received(s), 0);
    pts_set_stall(s, 0);
    PT_CHECK_EQ(tq_pump_until(cl, 10, 5000, &worst), 10);
    PT_CHECK_MSG(tq_budget_ok(worst), "longest pump %lld ms", (long long)worst);
    PT_CHECK_EQ(pts_events_received(s), 10);
    pt_close(cl, 2000, NULL);
    pt_client_free(cl);
    tt_tls_stop(&tls);
    pts_stop(s);
}

/* The CLI as `make examples` builds it (no PACKTRACK_USE_CURL) speaks
   https through the library's run-time libcurl: against nginx with a
   throw-away CA it gets as far as the certificate check and says so (the
   CLI has no CA option, so "not trusted" is the proof that TLS ran). */
PT_TEST(tls_cli_https_out_of_the_box) {
    tt_tls tls;
    pts_server *s = NULL;
    tc_env e;
    tc_out o;
    char url[128];
    const char *args[] = { "--message", "over tls from the cli", "--retries", "1", NULL };
    TC_NEED_BIN();
    TT_TLS_BEGIN(tls, s);
    tc_env_base(&e, s);
    snprintf(url, sizeof url, "PACKTRACK_BASE_URL=%s", tls.url);
    e.v[0] = url;
    tc_env_fields(&e);
    e.v[e.n] = NULL;
    PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
    PT_CHECK_MSG(o.code != 0 && tc_has(o.err, "not trusted") && tc_has(o.err, "127.0.0.1"), "exit %d: %s", o.code, o.err ? o.err : "");
    PT_CHECK(!tc_has(o.err, "PACKTRACK_USE_CURL"));
    PT_CHECK(!tc_has(o.err, TU_KEY));
    tc_free(&o);
    PT_CHECK_EQ(pts_request_count(s), 0);
    tt_tls_stop(&tls);
    pts_stop(s);
}

static const pt_test_case tls_tests[] = {
    PT_CASE(tls_missing_libcurl_is_a_config_error),
    PT_CASE(tls_library_without_curl_symbols),
    PT_CASE(tls_http_loads_nothing_https_loads_libcurl),
    PT_CASE(tls_no_dlopen_is_a_config_error),
    PT_CASE(tls_delivers_over_https),
    PT_CASE(tls_wrong_name_fails_with_tls_error),
    PT_CASE(tls_untrusted_fails_with_tls_error),
    PT_CASE(tls_plain_server_is_a_handshake_failure),
    PT_CASE(tls_proxy_failure_names_the_proxy),
    PT_CASE(tls_builtin_never_downgrades),
    PT_CASE(tls_pump_keeps_budget_over_https),
    PT_CASE(tls_cli_https_out_of_the_box),
};
