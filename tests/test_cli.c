/* cli tests: examples/packtrack-logger end to end against the in-process test
   server, every exit code included. The binary is $PT_BIN_DIR/packtrack-logger;
   without PT_BIN_DIR, the directory of this runner (make builds both into
   $(B)), then ./build. Absent binary: the tests are skipped, saying how to
   build it. Each run gets a clean environment (the runner's, minus every
   PACKTRACK_* variable, plus the test's own), so nothing leaks between tests
   or into the library tests that read the environment. */
#include <spawn.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#ifdef __cplusplus
extern "C" char **environ;
#else
extern char **environ;
#endif

typedef struct tc_out {
    int   code;          /* exit code; -1 if the child did not exit normally */
    char *out, *err;     /* captured stdout/stderr, NUL-terminated */
    size_t out_len, err_len;
} tc_out;

static const char *tc_bin(void) {
    static char path[4200];
    static int done;
    if (!done) {
        const char *dir = getenv("PT_BIN_DIR");
        done = 1;
        path[0] = 0;
        if (dir && *dir) snprintf(path, sizeof path, "%s/packtrack-logger", dir);
        else {
            char exe[4096];
            ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
            if (n > 0) {
                char *slash;
                exe[n] = 0;
                if ((slash = strrchr(exe, '/')) != NULL) {
                    *slash = 0;
                    snprintf(path, sizeof path, "%s/packtrack-logger", exe);
                }
            }
            if (!path[0] || access(path, X_OK) != 0) snprintf(path, sizeof path, "build/packtrack-logger");
        }
    }
    return access(path, X_OK) == 0 ? path : NULL;
}
#define TC_NEED_BIN() do { if (!tc_bin()) PT_SKIP("packtrack-logger not built: run `make examples` (or set PT_BIN_DIR to where it is)"); } while (0)

static char *tc_slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    size_t cap = 4096, n = 0, got;
    char *b = (char *)malloc(cap + 1);
    if (!b) { if (f) fclose(f); return NULL; }
    if (f) {
        while ((got = fread(b + n, 1, cap - n, f)) > 0) {
            n += got;
            if (n == cap) { char *nb = (char *)realloc(b, cap * 2 + 1); if (!nb) break; b = nb; cap *= 2; }
        }
        fclose(f);
    }
    b[n] = 0;
    if (len) *len = n;
    return b;
}

/* Writes text to a fresh temp file; path receives its name. */
static int tc_write(char *path, size_t cap, const char *text, size_t n) {
    int fd;
    snprintf(path, cap, "/tmp/pt_cli_in_XXXXXX");
    fd = mkstemp(path);
    if (fd < 0) return -1;
    while (n) {
        ssize_t k = write(fd, text, n);
        if (k <= 0) { close(fd); return -1; }
        text += k; n -= (size_t)k;
    }
    close(fd);
    return 0;
}

/* Runs packtrack-logger with args (NULL-terminated), extra env entries
   ("NAME=value", NULL-terminated) and stdin from a file (NULL: /dev/null). */
static int tc_run(tc_out *o, const char *const *args, const char *const *env, const char *stdin_path) {
    const char *argv[64];
    const char *envp[512];
    char outp[] = "/tmp/pt_cli_out_XXXXXX", errp[] = "/tmp/pt_cli_err_XXXXXX";
    int fo, fe, fi, st = 0, i, n = 0, waited = 0;
    pid_t pid;
    posix_spawn_file_actions_t fa;
    memset(o, 0, sizeof *o);
    o->code = -1;
    argv[n++] = tc_bin();
    for (i = 0; args && args[i] && n < 63; i++) argv[n++] = args[i];
    argv[n] = NULL;
    n = 0;
    for (i = 0; environ && environ[i] && n < 400; i++)
        if (strncmp(environ[i], "PACKTRACK_", 10) != 0 && strncmp(environ[i], "PT_BIN_DIR=", 11) != 0) envp[n++] = environ[i];
    for (i = 0; env && env[i] && n < 511; i++) envp[n++] = env[i];
    envp[n] = NULL;
    fo = mkstemp(outp);
    fe = mkstemp(errp);
    fi = open(stdin_path ? stdin_path : "/dev/null", O_RDONLY);
    if (fo < 0 || fe < 0 || fi < 0) {
        if (fo >= 0) { close(fo); unlink(outp); }
        if (fe >= 0) { close(fe); unlink(errp); }
        if (fi >= 0) close(fi);
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fi, 0);
    posix_spawn_file_actions_adddup2(&fa, fo, 1);
    posix_spawn_file_actions_adddup2(&fa, fe, 2);
    /* posix_spawn, not fork: no atfork handlers, safe under TSan, cheap. */
    if (posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, (char *const *)envp) != 0) pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    close(fi); close(fo); close(fe);
    if (pid > 0) {
        for (;;) {
            pid_t w = waitpid(pid, &st, WNOHANG);
            if (w == pid) break;
            if (w < 0 && errno != EINTR) { st = -1; break; }
            if (waited > 60000) {            /* a hung CLI must not hang the suite */
                kill(pid, SIGKILL);
                waitpid(pid, &st, 0);
                fprintf(stderr, "    packtrack-logger hung; killed after 60 s\n");
                break;
            }
            tu_sleep_ms(2);
            waited += 2;
        }
        if (st != -1 && WIFEXITED(st)) o->code = WEXITSTATUS(st);
    }
    o->out = tc_slurp(outp, &o->out_len);
    o->err = tc_slurp(errp, &o->err_len);
    unlink(outp); unlink(errp);
    if (o->code != 0 && o->err && o->err[0] && getenv("PT_CLI_DEBUG")) fprintf(stderr, "    [cli stderr] %s", o->err);
    return pid > 0 ? 0 : -1;
}
static void tc_free(tc_out *o) { free(o->out); free(o->err); o->out = o->err = NULL; }

/* Environment pointing the CLI at the server, with the event fields. */
typedef struct tc_env { char url[128], key[96]; const char *v[24]; int n; } tc_env;
static void tc_env_base(tc_env *e, pts_server *s) {
    memset(e, 0, sizeof *e);
    snprintf(e->url, sizeof e->url, "PACKTRACK_BASE_URL=%s", pts_url(s));
    snprintf(e->key, sizeof e->key, "PACKTRACK_API_KEY=%s", TU_KEY);
    e->v[e->n++] = e->url;
    e->v[e->n++] = e->key;
}
static void tc_env_add(tc_env *e, const char *kv) { if (e->n < 23) e->v[e->n++] = kv; }
static void tc_env_fields(tc_env *e) {
    tc_env_add(e, "PACKTRACK_SOURCE_SYSTEM=env-svc");
    tc_env_add(e, "PACKTRACK_SOURCE_ENV=staging");
    tc_env_add(e, "PACKTRACK_WORKFLOW_ID=wf-env");
    tc_env_add(e, "PACKTRACK_ACTOR_TYPE=agent");
    tc_env_add(e, "PACKTRACK_ACTOR_ID=a-env");
    tc_env_add(e, "PACKTRACK_SEVERITY=info");
    tc_env_add(e, "PACKTRACK_STATUS=success");
}

static int tc_has(const char *hay, const char *needle) { return hay && needle && strstr(hay, needle) != NULL; }

/* The body of request i (caller frees with pts_request_free). */
static int tc_req(pts_server *s, int i, pts_request *r) { return pts_get_request(s, i, r) == 0 && r->body; }

/* Header NAME of request i into buf ("" if the header or the request is absent). */
static const char *tc_req_header(pts_server *s, int i, const char *name, char *buf, size_t cap) {
    pts_request r;
    buf[0] = 0;
    if (pts_get_request(s, i, &r) == 0) {
        if (!pts_header(&r, name, buf, cap)) buf[0] = 0;
        pts_request_free(&r);
    }
    return buf;
}

#define TC_EVENT(msg) "{\"source\":{\"system\":\"file-svc\"},\"workflow\":{\"id\":\"wf-f\"},\"actor\":{\"type\":\"agent\",\"id\":\"a-f\"},\"severity\":\"warn\",\"status\":\"ok\",\"message\":\"" msg "\"}"

/* ---- 0: a single event from flags reaches the server with every field ---- */
PT_TEST(cli_single_event_from_flags) {
    pts_server *s;
    tc_env e;
    tc_out o;
    pts_request r;
    char hv[128];
    const char *args[] = { "--source-system", "cli-svc", "--source-env", "test", "--workflow-id", "wf-cli",
        "--workflow-name", "refund", "--run-id", "r-9", "--step-id", "s-2", "--actor-type", "agent", "--actor-id", "a-42",
        "--actor-display", "Refund bot", "--severity", "warn", "--status", "success", "--message", "hello \"cli\"",
        "--metadata", "{\"order\":\"o-1\",\"amount\":12.5,\"tags\":[\"a\",\"b\"],\"nested\":{\"x\":null}}",
        "--extra", "{\"region\":\"eu\"}", "--timestamp", "2026-01-02T04:04:05.678+01:00",
        "--idempotency-key", "cli-key-0001", NULL };
    TC_NEED_BIN();
    PT_REQUIRE((s = pts_start()) != NULL);
    tc_env_base(&e, s);
    PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 0);
    PT_CHECK_EQ(pts_request_count(s), 1);
    PT_CHECK_EQ(pts_events_received(s), 1);
    PT_CHECK_EQ(pts_key_count(s, "cli-key-0001"), 1);
    if (tc_req(s, 0, &r)) {
        const char *b = (const char *)r.body;
        PT_CHECK_STR(r.method, "POST");
        PT_CHECK_STR(r.path, "/api/ingest");
        PT_CHECK(b[0] == '{');   /* one event: single ingest, not an array */
        PT_CHECK(tc_has(b, "\"timestamp\":\"2026-01-02T03:04:05.678Z\""));
        PT_CHECK(tc_has(b, "\"source\":{\"system\":\"cli-svc\",\"env\":\"test\"}"));
        PT_CHECK(tc_has(b, "\"workflow\":{\"id\":\"wf-cli\",\"name\":\"refund\",\"run_id\":\"r-9\",\"step_id\":\"s-2\"}"));
        PT_CHECK(tc_has(b, "\"actor\":{\"type\":\"agent\",\"id\":\"a-42\",\"display_name\":\"Refund bot\"}"));
        PT_CHECK(tc_has(b, "\"severity\":\"warn\""));
        PT_CHECK(tc_has(b, "\"status\":\"success\""));
        PT_CHECK(tc_has(b, "\"message\":\"hello \\\"cli\\\"\""));
        PT_CHECK(tc_has(b, "\"metadata\":{\"order\":\"o-1\",\"amount\":12.5,\"tags\":[\"a\",\"b\"],\"nested\":{\"x\":null}}"));
        PT_CHECK(tc_has(b, "\"extra\":{\"region\":\"eu\"}"));
        PT_CHECK(tc_has(b, "\"idempotency_key\":\"cli-key-0001\""));
        PT_CHECK(tu_python_ok(b));
        PT_CHECK_STR(pts_header(&r, "X-PackTrack-Key", hv, sizeof hv), TU_KEY);
        PT_CHECK_STR(pts_header(&r, "Idempotency-Key", hv, sizeof hv), "cli-key-0001");   /* Go: the HTTP header */
        PT_CHECK(!r.gzip);
        pts_request_free(&r);
    } else PT_CHECK(0);
    tc_free(&o);
    pts_stop(s);
}

/* ---- env first: only --message on the command line ---- */
PT_TEST(cli_env_first_only_message_flag) {
    pts_server *s;
    tc_env e;
    tc_out o;
    pts_request r;
    const char *args[] = { "--message", "hi from env", NULL };
    const char *args2[] = { "--message", "flag wins", "--severity", "error", "--source-system", "flag-svc", NULL };
    TC_NEED_BIN();
    PT_REQUIRE((s = pts_start()) != NULL);
    tc_env_base(&e, s);
    tc_env_fields(&e);
    PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 0);
    PT_CHECK_EQ(pts_events_received(s), 1);
    if (tc_req(s, 0, &r)) {
        const char *b = (const char *)r.body;
        PT_CHECK(tc_has(b, "\"source\":{\"system\":\"env-svc\",\"env\":\"staging\"}"));
        PT_CHECK(tc_has(b, "\"workflow\":{\"id\":\"wf-env\"}"));
        PT_CHECK(tc_has(b, "\"actor\":{\"type\":\"agent\",\"id\":\"a-env\"}"));
        PT_CHECK(tc_has(b, "\"severity\":\"info\""));
        PT_CHECK(tc_has(b, "\"message\":\"hi from env\""));
        pts_request_free(&r);
    } else PT_CHECK(0);
    tc_free(&o);
    /* flags override the environment */
    PT_CHECK(tc_run(&o, args2, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 0);
    if (tc_req(s, 1, &r)) {
        PT_CHECK(tc_has((const char *)r.body, "\"severity\":\"error\""));
        PT_CHECK(tc_has((const char *)r.body, "\"system\":\"flag-svc\""));
        PT_CHECK(tc_has((const char *)r.body, "\"message\":\"flag wins\""));
        pts_request_free(&r);
    } else PT_CHECK(0);
    tc_free(&o);
    pts_stop(s);
}

/* A flag's default never overwrites the environment: PACKTRACK_RETRIES=1
   (one request, Go's meaning) must hold although --retries defaults to 3. */
PT_TEST(cli_env_retries_not_overwritten_by_flag_default) {
    pts_server *s;
    tc_env e;
    tc_out o;
    pts_action a;
    const char *args[] = { "--message", "m", "--backoff-initial", "1ms", NULL };
    TC_NEED_BIN();
    PT_REQUIRE((s = pts_start()) != NULL);
    memset(&a, 0, sizeof a);
    a.status = 503;
    pts_set_default(s, &a);
    tc_env_base(&e, s);
    tc_env_fields(&e);
    tc_env_add(&e, "PACKTRACK_RETRIES=1");
    PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 3);
    PT_CHECK_EQ(pts_request_count(s), 1);
    tc_free(&o);
    pts_stop(s);
}

/* ---- --file: one object, then an array (one batch request) ---- */
PT_TEST(cli_file_object_and_array) {
    pts_server *s;
    tc_env e;
    tc_out o;
    pts_request r;
    char p1[64], p2[64];
    const char *obj = "  " TC_EVENT("from a file") "\n";
    const char *arr = "[\n " TC_EVENT("one") ",\n " TC_EVENT("two") ",\n " TC_EVENT("three") "\n]\n";
    const char *a1[] = { "--file", p1, NULL };
    const char *a2[] = { "--file", p2, NULL };
    TC_NEED_BIN();
    PT_REQUIRE((s = pts_start()) != NULL);
    PT_REQUIRE(tc_write(p1, sizeof p1, obj, strlen(obj)) == 0);
    PT_REQUIRE(tc_write(p2, sizeof p2, arr, strlen(arr)) == 0);
    tc_env_base(&e, s);
    PT_CHECK(tc_run(&o, a1, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 0);
    tc_free(&o);
    PT_CHECK_EQ(pts_events_received(s), 1);
    PT_CHECK(tc_run(&o, a2, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 0);
    tc_free(&o);
    PT_CHECK_EQ(pts_events_received(s), 4);
    PT_CHECK_EQ(pts_request_count(s), 2);
    if (tc_req(s, 0, &r)) {
        PT_CHECK(((const char *)r.body)[0] == '{');
        PT_CHECK(tc_has((const char *)r.body, "\"message\":\"from a file\""));
        pts_request_free(&r);
    } else PT_CHECK(0);
    if (tc_req(s, 1, &r)) {
        const char *b = (const char *)r.body;
        PT_CHECK(b[0] == '[');
        PT_CHECK(tc_has(b, "\"one\"") && tc_has(b, "\"two\"") && tc_has(b, "\"three\""));
        PT_CHECK(tc_has(b, "\"source\":{\"system\":\"file-svc\"}"));
        PT_CHECK(tu_python_ok(b));
        pts_request_free(&r);
    } else PT_CHECK(0);
    unlink(p1); unlink(p2);
    pts_stop(s);
}

/* ---- stdin, NDJSON: 1,000 lines, one of them 200 KB ---- */
PT_TEST(cli_ndjson_stdin_long_line_and_1000_lines) {
    pts_server *s;
    tc_env e;
    tc_out o;
    char path[64];
    size_t cap = 600 * 1024, n = 0, big = 200 * 1024;
    char *text = (char *)malloc(cap);
    int i, biggest = 0;
    const char *args[] = { "--stdin", "--ndjson", NULL };
    TC_NEED_BIN();
    PT_REQUIRE(text != NULL);
    PT_REQUIRE((s = pts_start()) != NULL);
    for (i = 0; i < 1000; i++) {
        n += (size_t)snprintf(text + n, cap - n,
            "{\"source\":{\"system\":\"nd\"},\"workflow\":{\"id\":\"wf\"},\"actor\":{\"type\":\"t\",\"id\":\"i\"},"
            "\"severity\":\"info\",\"status\":\"ok\",\"idempotency_key\":\"nd-%04d\",\"message\":\"", i);
        if (i == 500) { memset(text + n, 'x', big); n += big; }
        else n += (size_t)snprintf(text + n, cap - n, "line %d", i);
        n += (size_t)snprintf(text + n, cap - n, "\"}%s", i % 7 == 0 ? "\r\n" : "\n");
        if (i == 300) n += (size_t)snprintf(text + n, cap - n, "\n   \n");   /* blank lines are skipped */
    }
    PT_REQUIRE(tc_write(path, sizeof path, text, n) == 0);
    free(text);
    tc_env_base(&e, s);
    PT_CHECK(tc_run(&o, args, e.v, path) == 0);
    PT_CHECK_EQ(o.code, 0);
    PT_CHECK_EQ(pts_events_received(s), 1000);
    PT_CHECK_EQ(pts_distinct_keys(s), 1000);
    PT_CHECK_EQ(pts_key_count(s, "nd-0500"), 1);
    PT_CHECK_EQ(pts_request_count(s), 10);     /* --batch-size defaults to 100 */
    for (i = 0; i < pts_request_count(s); i++) {
        pts_request r;
        if (tc_req(s, i, &r)) { if (r.body_len > big) biggest++; pts_request_free(&r); }
    }
    PT_CHECK_EQ(biggest, 1);
    tc_free(&o);
    unlink(path);
    pts_stop(s);
}

/* ---- stdin without --ndjson: a JSON array ---- */
PT_TEST(cli_stdin_json_array) {
    pts_server *s;
    tc_env e;
    tc_out o;
    char path[64];
    const char *arr = "[" TC_EVENT("s1") "," TC_EVENT("s2") "]";
    const char *args[] = { "--stdin", NULL };
    TC_NEED_BIN();
    PT_REQUIRE((s = pts_start()) != NULL);
    PT_REQUIRE(tc_write(path, sizeof path, arr, strlen(arr)) == 0);
    tc_env_base(&e, s);
    PT_CHECK(tc_run(&o, args, e.v, path) == 0);
    PT_CHECK_EQ(o.code, 0);
    PT_CHECK_EQ(pts_events_received(s), 2);
    PT_CHECK_EQ(pts_request_count(s), 1);
    tc_free(&o);
    unlink(path);
    pts_stop(s);
}

/* ---- --async: pt_track_json + pt_close ---- */
PT_TEST(cli_async_ndjson) {
    pts_server *s;
    tc_env e;
    tc_out o;
    char path[64];
    char *text = (char *)malloc(64 * 1024);
    size_t n = 0;
    int i;
    const char *args[] = { "--stdin", "--ndjson", "--async", "--batch-size", "50", "--flush-interval", "20ms", NULL };
    TC_NEED_BIN();
    PT_REQUIRE(text != NULL);
    PT_REQUIRE((s = pts_start()) != NULL);
    for (i = 0; i < 120; i++) n += (size_t)sprintf(text + n, "%s\n", TC_EVENT("async"));
    PT_REQUIRE(tc_write(path, sizeof path, text, n) == 0);
    free(text);
    tc_env_base(&e, s);
    PT_CHECK(tc_run(&o, args, e.v, path) == 0);
    PT_CHECK_EQ(o.code, 0);
    PT_CHECK_EQ(pts_events_received(s), 120);
    PT_CHECK(pts_request_count(s) >= 3);       /* batches of at most 50 */
    tc_free(&o);
    unlink(path);
    pts_stop(s);
}

/* ---- --async failures: 503 storm is exit 3 (bounded by the backoff budget), 400 is exit 2 ---- */
PT_TEST(cli_async_failures_exit_codes) {
    pts_server *s;
    tc_env e;
    tc_out o;
    pts_action a;
    int64_t t0;
    const char *args[] = { "--async", "--message", "m", "--retries", "2", "--backoff-initial", "1ms", "--backoff-max", "5ms", NULL };
    TC_NEED_BIN();
    PT_REQUIRE((s = pts_start()) != NULL);
    memset(&a, 0, sizeof a);
    a.status = 503;
    pts_set_default(s, &a);
    tc_env_base(&e, s);
    tc_env_fields(&e);
    t0 = pt_now_ms();
    PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 3);
    PT_CHECK(pt_now_ms() - t0 < 5000);
    PT_CHECK(pts_request_count(s) >= 2);
    PT_CHECK_EQ(pts_events_received(s), 0);
    tc_free(&o);
    a.status = 400;
    pts_set_default(s, &a);
    PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 2);
    tc_free(&o);
    pts_stop(s);
}

/* ---- --dry-run sends nothing and prints the JSON ---- */
PT_TEST(cli_dry_run_prints_json_sends_nothing) {
    pts_server *s;
    tc_env e;
    tc_out o;
    const char *args[] = { "--dry-run", "--message", "dry \"run\" \xC3\xA9", "--metadata", "{\"k\":[1,2,{\"z\":true}]}", NULL };
    TC_NEED_BIN();
    PT_REQUIRE((s = pts_start()) != NULL);
    tc_env_base(&e, s);
    tc_env_fields(&e);
    PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 0);
    tu_sleep_ms(50);
    PT_CHECK_EQ(pts_request_count(s), 0);
    PT_CHECK_EQ(pts_connection_count(s), 0);
    PT_REQUIRE(o.out != NULL && o.out_len > 2);
    PT_CHECK(o.out[0] == '{' && o.out[o.out_len - 1] == '\n');
    o.out[o.out_len - 1] = 0;
    PT_CHECK(strchr(o.out, '\n') == NULL);     /* one event, one line */
    PT_CHECK(tc_has(o.out, "\"message\":\"dry \\\"run\\\" \xC3\xA9\""));
    PT_CHECK(tc_has(o.out, "\"metadata\":{\"k\":[1,2,{\"z\":true}]}"));
    PT_CHECK(tc_has(o.out, "\"idempotency_key\":\""));
    PT_CHECK(tu_python_ok(o.out));
    tc_free(&o);
    pts_stop(s);
}

/* ---- --verbose never shows the key (success, failure, dry run, health) ---- */
PT_TEST(cli_verbose_never_prints_key) {
    pts_server *s;
    tc_env e;
    tc_out o;
    pts_action a;
    int i;
    const char *runs[4][6] = {
        { "--verbose", "--message", "v1", NULL },
        { "--verbose", "--message", "v2", "--retries", "0", NULL },
        { "--verbose", "--dry-run", "--message", "v3", NULL },
        { "--verbose", "--health", NULL },
    };
    TC_NEED_BIN();
    PT_REQUIRE((s = pts_start()) != NULL);
    tc_env_base(&e, s);
    tc_env_fields(&e);
    for (i = 0; i < 4; i++) {
        if (i == 1) { memset(&a, 0, sizeof a); a.status = 401; a.body = "{\"error\":\"bad key\"}"; pts_set_default(s, &a); }
        if (i == 2) { memset(&a, 0, sizeof a); pts_set_default(s, &a); }
        PT_CHECK(tc_run(&o, runs[i], e.v, NULL) == 0);
        PT_CHECK_EQ(o.code, i == 1 ? 2 : 0);
        PT_CHECK(!tc_has(o.out, TU_KEY) && !tc_has(o.err, TU_KEY));
        PT_CHECK(!tc_has(o.out, "SECRET") && !tc_has(o.err, "SECRET"));
        PT_CHECK(tc_has(o.err, "key: set ("));
        tc_free(&o);
    }
    pts_stop(s);
}

/* ---- Go's --retries: N requests in all; 0 means the default, 3 ---- */
PT_TEST(cli_go_retries_is_requests_in_all) {
    pts_server *s;
    tc_env e;
    tc_out o;
    pts_action a;
    int i;
    static const struct { const char *n; int want; } runs[] = { { "1", 1 }, { "2", 2 }, { "3", 3 }, { "0", 3 }, { "5", 5 } };
    TC_NEED_BIN();
    PT_REQUIRE((s = pts_start()) != NULL);
    memset(&a, 0, sizeof a);
    a.status = 503;
    pts_set_default(s, &a);
    tc_env_base(&e, s);
    tc_env_fields(&e);
    for (i = 0; i < (int)(sizeof runs / sizeof runs[0]); i++) {
        const char *args[] = { "--message", "m", "--retries", runs[i].n, "--backoff-initial", "1ms", "--backoff-max", "2ms", NULL };
        int before = pts_request_count(s);
        PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
        PT_CHECK_MSG(o.code == 3, "--retries %s exited %d", runs[i].n, o.code);
        PT_CHECK_MSG(pts_request_count(s) - before == runs[i].want, "--retries %s sent %d requests, Go sends %d",
                     runs[i].n, pts_request_count(s) - before, runs[i].want);
        PT_CHECK(tc_has(o.err, "503"));
        tc_free(&o);
    }
    /* the same from the environment, and the default with neither */
    {
        const char *args[] = { "--message", "m", "--backoff-initial", "1ms", NULL };
        int before = pts_request_count(s);
        tc_env_add(&e, "PACKTRACK_RETRIES=2");
        PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
        PT_CHECK_EQ(o.code, 3);
        PT_CHECK_EQ(pts_request_count(s) - before, 2);
        tc_free(&o);
        e.v[--e.n] = NULL;
        before = pts_request_count(s);
        PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
        PT_CHECK_EQ(o.code, 3);
        PT_CHECK_EQ(pts_request_count(s) - before, 3);
        tc_free(&o);
    }
    /* a 503 then a 200 with --retries 2: delivered, exit 0 */
    {
        const char *args[] = { "--message", "m", "--retries", "2", "--backoff-initial", "1ms", NULL };
        pts_action ok;
        memset(&ok, 0, sizeof ok);
        pts_set_default(s, &ok);
        pts_script(s, &a, 1);
        PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
        PT_CHECK_EQ(o.code, 0);
        PT_CHECK_EQ(pts_events_received(s), 1);
        tc_free(&o);
    }
    /* a negative count is refused (Go silently uses 3) */
    {
        const char *args[] = { "--message", "m", "--retries", "-1", NULL };
        int before = pts_request_count(s);
        PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
        PT_CHECK_EQ(o.code, 1);
        PT_CHECK(tc_has(o.err, "--retries"));
        PT_CHECK_EQ(pts_request_count(s), before);
        tc_free(&o);
    }
    pts_stop(s);
}

/* ---- exit 3: a 503 storm costs --retries requests, all with the same Idempotency-Key ---- */
PT_TEST(cli_503_storm_exhausts_retries_exit_3) {
    pts_server *s;
    tc_env e;
    tc_out o;
    pts_action a;
    char k0[64], k2[64];
    const char *args[] = { "--message", "m", "--retries", "3", "--backoff-initial", "1ms", "--backoff-max", "5ms", NULL };
    TC_NEED_BIN();
    PT_REQUIRE((s = pts_start()) != NULL);
    memset(&a, 0, sizeof a);
    a.status = 503;
    a.retry_after = "0";
    pts_set_default(s, &a);
    tc_env_base(&e, s);
    tc_env_fields(&e);
    PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 3);
    PT_CHECK_EQ(pts_request_count(s), 3);
    tc_req_header(s, 0, "Idempotency-Key", k0, sizeof k0);
    tc_req_header(s, 2, "Idempotency-Key", k2, sizeof k2);
    PT_CHECK(k0[0] && strcmp(k0, k2) == 0);
    tc_free(&o);
    pts_stop(s);
}

/* ---- exit 3: nobody listening ---- */
PT_TEST(cli_connection_refused_exit_3) {
    pts_server *s;
    tc_env e;
    tc_out o;
    const char *args[] = { "--message", "m", "--retries", "1", "--backoff-initial", "1ms", NULL };
    TC_NEED_BIN();
    PT_REQUIRE((s = pts_start()) != NULL);
    PT_REQUIRE(pts_set_refuse(s, 1) == 0);
    tc_env_base(&e, s);
    tc_env_fields(&e);
    PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 3);
    tc_free(&o);
    pts_stop(s);
}

/* ---- exit 2: 400 and 401 are not retried ---- */
PT_TEST(cli_http_400_and_401_exit_2) {
    pts_server *s;
    tc_env e;
    tc_out o;
    pts_action a;
    const char *args[] = { "--message", "m", "--backoff-initial", "1ms", NULL };
    TC_NEED_BIN();
    PT_REQUIRE((s = pts_start()) != NULL);
    memset(&a, 0, sizeof a);
    a.status = 400;
    a.body = "{\"error\":\"schema: message too short\"}";
    pts_set_default(s, &a);
    tc_env_base(&e, s);
    tc_env_fields(&e);
    PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 2);
    PT_CHECK_EQ(pts_request_count(s), 1);
    PT_CHECK(tc_has(o.err, "400"));
    PT_CHECK(tc_has(o.err, "message too short"));   /* the response body is shown */
    tc_free(&o);
    a.status = 401;
    a.body = NULL;
    pts_set_default(s, &a);
    PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 2);
    PT_CHECK_EQ(pts_request_count(s), 2);
    tc_free(&o);
    pts_stop(s);
}

/* ---- exit 1: bad arguments never reach the network ---- */
PT_TEST(cli_bad_arguments_exit_1) {
    pts_server *s;
    tc_env e;
    tc_out o;
    int i;
    const char *runs[][6] = {
        { "--message", "m", "--bogus-flag", NULL },
        { "--message", "m", "--retries", "many", NULL },
        { "--message", "m", "--timeout", "soon", NULL },
        { "--message", "m", "--severity", "loud", NULL },
        { "--message", "m", "--metadata", "[1,2]", NULL },
        { "--message", "m", "--timestamp", "yesterday", NULL },
        { "--message", "m", "stray-argument", NULL },
        { "--message", NULL },                           /* flag without its value */
        { "--status", "ok", NULL },                      /* no message at all */
    };
    TC_NEED_BIN();
    PT_REQUIRE((s = pts_start()) != NULL);
    tc_env_base(&e, s);
    tc_env_fields(&e);
    for (i = 0; i < (int)(sizeof runs / sizeof runs[0]); i++) {
        PT_CHECK(tc_run(&o, runs[i], e.v, NULL) == 0);
        PT_CHECK_MSG(o.code == 1, "run %d exited %d: %s", i, o.code, o.err ? o.err : "");
        PT_CHECK(o.err && o.err[0]);
        tc_free(&o);
    }
    PT_CHECK(tc_run(&o, runs[8], e.v, NULL) == 0);
    PT_CHECK(tc_has(o.err, "--message"));            /* names the missing field's flag */
    tc_free(&o);
    /* missing API key */
    {
        const char *args[] = { "--message", "m", "--api-key", "", NULL };
        const char *env_nokey[10];
        int k;
        for (k = 0; k < e.n && k < 9; k++) env_nokey[k] = e.v[k] == e.key ? "PACKTRACK_SOURCE_ENV=x" : e.v[k];
        env_nokey[k] = NULL;
        PT_CHECK(tc_run(&o, args, env_nokey, NULL) == 0);
        PT_CHECK_EQ(o.code, 1);
        tc_free(&o);
    }
    PT_CHECK_EQ(pts_request_count(s), 0);
    /* --help and --version are not errors */
    {
        const char *h[] = { "--help", NULL }, *v[] = { "--version", NULL };
        PT_CHECK(tc_run(&o, h, e.v, NULL) == 0);
        PT_CHECK_EQ(o.code, 0);
        PT_CHECK(tc_has(o.out, "--flush-interval") && tc_has(o.out, "PACKTRACK_QUEUE_CAPACITY"));
        tc_free(&o);
        PT_CHECK(tc_run(&o, v, e.v, NULL) == 0);
        PT_CHECK_EQ(o.code, 0);
        PT_CHECK(tc_has(o.out, PACKTRACK_VERSION_STRING));
        tc_free(&o);
    }
    pts_stop(s);
}

/* ---- exit 4: input errors, and nothing is sent ---- */
PT_TEST(cli_input_errors_exit_4) {
    pts_server *s;
    tc_env e;
    tc_out o;
    char bad[64], nofield[64], badline[64];
    const char *bad_json = "{\"source\":{\"system\":\"x\"},";
    const char *no_msg = "{\"source\":{\"system\":\"s\"},\"workflow\":{\"id\":\"w\"},\"actor\":{\"type\":\"t\",\"id\":\"i\"},\"severity\":\"info\",\"status\":\"ok\"}";
    const char *nd = TC_EVENT("fine") "\n" TC_EVENT("also fine") "\n{\"broken\": }\n";
    const char *a_bad[] = { "--file", bad, NULL };
    const char *a_missing[] = { "--file", "/nonexistent/dir/events.json", NULL };
    const char *a_nofield[] = { "--file", nofield, NULL };
    const char *a_nd[] = { "--stdin", "--ndjson", NULL };
    TC_NEED_BIN();
    PT_REQUIRE((s = pts_start()) != NULL);
    PT_REQUIRE(tc_write(bad, sizeof bad, bad_json, strlen(bad_json)) == 0);
    PT_REQUIRE(tc_write(nofield, sizeof nofield, no_msg, strlen(no_msg)) == 0);
    PT_REQUIRE(tc_write(badline, sizeof badline, nd, strlen(nd)) == 0);
    tc_env_base(&e, s);
    PT_CHECK(tc_run(&o, a_bad, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 4);
    tc_free(&o);
    PT_CHECK(tc_run(&o, a_missing, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 4);
    PT_CHECK(tc_has(o.err, "/nonexistent/dir/events.json"));
    tc_free(&o);
    PT_CHECK(tc_run(&o, a_nofield, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 4);
    PT_CHECK(tc_has(o.err, "message"));
    tc_free(&o);
    PT_CHECK(tc_run(&o, a_nd, e.v, badline) == 0);
    PT_CHECK_EQ(o.code, 4);
    PT_CHECK(tc_has(o.err, "line 3"));
    tc_free(&o);
    PT_CHECK_EQ(pts_request_count(s), 0);          /* everything is checked before sending */
    unlink(bad); unlink(nofield); unlink(badline);
    pts_stop(s);
}

/* ---- --health ---- */
PT_TEST(cli_health) {
    pts_server *s;
    tc_env e;
    tc_out o;
    pts_request r;
    pts_action a;
    char hv[128];
    const char *args[] = { "--health", "--health-path", "/api/health", NULL };
    const char *args_default[] = { "--health", NULL };
    TC_NEED_BIN();
    PT_REQUIRE((s = pts_start()) != NULL);
    tc_env_base(&e, s);
    PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 0);
    tc_free(&o);
    PT_CHECK_EQ(pts_request_count(s), 1);
    if (tc_req(s, 0, &r)) {
        PT_CHECK_STR(r.method, "GET");
        PT_CHECK_STR(r.path, "/api/health");
        PT_CHECK_STR(pts_header(&r, "X-PackTrack-Key", hv, sizeof hv), TU_KEY);
        pts_request_free(&r);
    } else PT_CHECK(0);
    /* the default path is /api/health; an unhealthy server is exit 3 (503) */
    memset(&a, 0, sizeof a);
    a.status = 503;
    pts_set_default(s, &a);
    PT_CHECK(tc_run(&o, args_default, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 3);
    tc_free(&o);
    if (tc_req(s, 1, &r)) { PT_CHECK_STR(r.path, "/api/health"); pts_request_free(&r); } else PT_CHECK(0);
    pts_stop(s);
}

/* ---- --gzip: Content-Encoding gzip, and the server inflates it ---- */
PT_TEST(cli_gzip) {
    pts_server *s;
    tc_env e;
    tc_out o;
    pts_request r;
    char hv[64];
    const char *args[] = { "--gzip", "--message", "compressed hello", NULL };
    TC_NEED_BIN();
    PT_REQUIRE((s = pts_start()) != NULL);
    tc_env_base(&e, s);
    tc_env_fields(&e);
    PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 0);
    PT_CHECK_EQ(pts_events_received(s), 1);
    if (tc_req(s, 0, &r)) {
        PT_CHECK(r.gzip);
        PT_CHECK(r.gzip_ok);
        PT_CHECK_STR(pts_header(&r, "Content-Encoding", hv, sizeof hv), "gzip");
        PT_CHECK(tc_has((const char *)r.body, "\"message\":\"compressed hello\""));
        pts_request_free(&r);
    } else PT_CHECK(0);
    tc_free(&o);
    pts_stop(s);
}

/* ---- Go's backoff: min(initial * 2^(k-1), max) +- jitter; Retry-After is a floor ---- */
/* The waits --verbose reports ("retry in N ms"), in order; returns how many. */
static int tc_waits(const char *err, long *w, int cap) {
    int n = 0;
    const char *p = err;
    while (p && n < cap && (p = strstr(p, "retry in ")) != NULL) { p += 9; w[n++] = strtol(p, NULL, 10); }
    return n;
}
PT_TEST(cli_go_backoff_defaults_and_jitter) {
    pts_server *s;
    tc_env e;
    tc_out o;
    pts_action a;
    long w[16];
    int n, i, off_nominal = 0;
    const char *dry[] = { "--dry-run", "--verbose", "--message", "m", NULL };
    const char *exact[] = { "--message", "m", "--verbose", "--retries", "5", "--backoff-initial", "10ms", "--backoff-max", "25ms", "--jitter", "0", NULL };
    const char *spread[] = { "--message", "m", "--verbose", "--retries", "7", "--backoff-initial", "20ms", "--backoff-max", "40ms", "--jitter", "0.5", NULL };
    const char *floor_ra[] = { "--message", "m", "--verbose", "--retries", "2", "--backoff-initial", "1ms", "--jitter", "0", NULL };
    TC_NEED_BIN();
    PT_REQUIRE((s = pts_start()) != NULL);
    tc_env_base(&e, s);
    tc_env_fields(&e);
    /* the Go defaults: 3 requests, 15 s timeout, 100 ms doubling to 2 s, +-0.2 */
    PT_CHECK(tc_run(&o, dry, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 0);
    PT_CHECK_MSG(tc_has(o.err, "at most 3 per send; timeout 15000 ms; backoff 100 ms doubling to 2000 ms, jitter +-0.20"), "%s", o.err);
    tc_free(&o);
    memset(&a, 0, sizeof a);
    a.status = 503;
    pts_set_default(s, &a);
    /* --jitter 0: the waits are exactly 10, 20, 25, 25 */
    PT_CHECK(tc_run(&o, exact, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 3);
    n = tc_waits(o.err, w, 16);
    PT_CHECK_EQ(n, 4);
    if (n == 4) { PT_CHECK_EQ(w[0], 10); PT_CHECK_EQ(w[1], 20); PT_CHECK_EQ(w[2], 25); PT_CHECK_EQ(w[3], 25); }
    tc_free(&o);
    /* --jitter 0.5: each wait within +-50% of 20, 40, 40, ...; drawn, not the midpoint */
    PT_CHECK(tc_run(&o, spread, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 3);
    n = tc_waits(o.err, w, 16);
    PT_CHECK_EQ(n, 6);
    for (i = 0; i < n; i++) {
        long d = i == 0 ? 20 : 40;
        PT_CHECK_MSG(w[i] >= d / 2 && w[i] <= d + d / 2, "wait %d is %ld ms, outside %ld +- 50%%", i + 1, w[i], d);
        if (w[i] != d) off_nominal++;
    }
    PT_CHECK_MSG(off_nominal > 0, "six jittered waits all equal to the nominal one");
    tc_free(&o);
    /* a Retry-After of 1 s outweighs a 1 ms backoff (Go ignores it) */
    a.retry_after = "1";
    pts_set_default(s, &a);
    PT_CHECK(tc_run(&o, floor_ra, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 3);
    n = tc_waits(o.err, w, 16);
    PT_CHECK_EQ(n, 1);
    if (n == 1) PT_CHECK_MSG(w[0] >= 1000, "waited %ld ms despite Retry-After: 1", w[0]);
    tc_free(&o);
    pts_stop(s);
}

/* ---- Go's --idempotency-key: the HTTP header, on every retry ---- */
PT_TEST(cli_go_idempotency_key_is_the_header) {
    pts_server *s;
    tc_env e;
    tc_out o;
    pts_action a;
    pts_request r;
    char path[64], hv[128], k1[64], k2[64];
    int i, before;
    const char *arr = "[" TC_EVENT("i1") "," TC_EVENT("i2") "," TC_EVENT("i3") "]";
    const char *single[] = { "--message", "m", "--idempotency-key", "run-77", "--retries", "3", "--backoff-initial", "1ms", NULL };
    const char *file_one[] = { "--file", path, "--idempotency-key", "batch-key-1", NULL };
    const char *file_two[] = { "--file", path, "--idempotency-key", "batch-key-2", "--batch-size", "2", NULL };
    const char *file_two_dry[] = { "--dry-run", "--file", path, "--idempotency-key", "batch-key-2", "--batch-size", "2", NULL };
    const char *file_nokey[] = { "--file", path, "--batch-size", "2", NULL };
    const char *async_key[] = { "--async", "--message", "m", "--idempotency-key", "k", NULL };
    const char *bad_key[] = { "--message", "m", "--idempotency-key", "two words", NULL };
    TC_NEED_BIN();
    PT_REQUIRE((s = pts_start()) != NULL);
    PT_REQUIRE(tc_write(path, sizeof path, arr, strlen(arr)) == 0);
    tc_env_base(&e, s);
    tc_env_fields(&e);
    /* a single event: 503, 503, 200 - three requests, one key, in the header and the event */
    memset(&a, 0, sizeof a);
    a.status = 503;
    pts_script(s, &a, 1);
    pts_script(s, &a, 1);
    PT_CHECK(tc_run(&o, single, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 0);
    PT_CHECK_EQ(pts_request_count(s), 3);
    for (i = 0; i < 3; i++) PT_CHECK_STR(tc_req_header(s, i, "Idempotency-Key", hv, sizeof hv), "run-77");
    PT_CHECK_EQ(pts_key_count(s, "run-77"), 1);
    tc_free(&o);
    /* a file that fits in one request: the request carries the key, the events keep their own */
    PT_CHECK(tc_run(&o, file_one, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 0);
    PT_CHECK_EQ(pts_request_count(s), 4);
    if (tc_req(s, 3, &r)) {
        PT_CHECK_STR(pts_header(&r, "Idempotency-Key", hv, sizeof hv), "batch-key-1");
        PT_CHECK(!tc_has((const char *)r.body, "batch-key-1"));
        pts_request_free(&r);
    } else PT_CHECK(0);
    PT_CHECK_EQ(pts_events_received(s), 4);
    tc_free(&o);
    /* one key cannot name two requests: refused before anything is sent (Go reuses it per chunk),
       and a dry run says so too */
    PT_CHECK(tc_run(&o, file_two, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 1);
    PT_CHECK(tc_has(o.err, "--batch-size") && tc_has(o.err, "2 requests"));
    tc_free(&o);
    PT_CHECK(tc_run(&o, file_two_dry, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 1);
    PT_CHECK(tc_has(o.err, "2 requests"));
    tc_free(&o);
    PT_CHECK_EQ(pts_request_count(s), 4);
    /* without a key, each request has its own */
    PT_CHECK(tc_run(&o, file_nokey, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 0);
    PT_CHECK_EQ(pts_request_count(s), 6);
    tc_req_header(s, 4, "Idempotency-Key", k1, sizeof k1);
    tc_req_header(s, 5, "Idempotency-Key", k2, sizeof k2);
    PT_CHECK(strlen(k1) == 36 && strlen(k2) == 36 && strcmp(k1, k2) != 0);
    tc_free(&o);
    /* --async cannot honour one key; a key with a space is no header value */
    before = pts_request_count(s);
    PT_CHECK(tc_run(&o, async_key, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 1);
    PT_CHECK(tc_has(o.err, "--async"));
    tc_free(&o);
    PT_CHECK(tc_run(&o, bad_key, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 1);
    tc_free(&o);
    PT_CHECK_EQ(pts_request_count(s), before);
    /* from the environment too */
    {
        const char *args[] = { "--message", "m", NULL };
        tc_env_add(&e, "PACKTRACK_IDEMPOTENCY_KEY=env-key-9");
        PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
        PT_CHECK_EQ(o.code, 0);
        PT_CHECK_STR(tc_req_header(s, before, "Idempotency-Key", hv, sizeof hv), "env-key-9");
        tc_free(&o);
    }
    unlink(path);
    pts_stop(s);
}

/* ---- a bad variable that a flag replaces is never parsed; in effect, it is exit 1 naming it ---- */
PT_TEST(cli_bad_env_value_replaced_by_flag) {
    pts_server *s;
    tc_env e;
    tc_out o;
    int i;
    static const char *const bad[][2] = {
        { "PACKTRACK_TIMEOUT=soon", "--timeout=5s" },
        { "PACKTRACK_RETRIES=many", "--retries=1" },
        { "PACKTRACK_JITTER=lots", "--jitter=0" },
        { "PACKTRACK_GZIP=maybe", "--gzip=false" },
        { "PACKTRACK_BACKOFF_MAX=forever", "--backoff-max=1s" },
        { "PACKTRACK_BACKOFF_INITIAL=-5ms", "--backoff-initial=10ms" },
        { "PACKTRACK_BATCH_SIZE=-3", "--batch-size=10" },
        { "PACKTRACK_VERBOSE=perhaps", "--verbose=false" },
    };
    const char *args[16];
    int n = 0;
    TC_NEED_BIN();
    PT_REQUIRE((s = pts_start()) != NULL);
    tc_env_base(&e, s);
    tc_env_fields(&e);
    /* each bad variable alone, no flag: exit 1, the message names the variable */
    for (i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
        const char *a1[] = { "--message", "m", NULL };
        char name[64];
        tc_env_add(&e, bad[i][0]);
        PT_CHECK(tc_run(&o, a1, e.v, NULL) == 0);
        PT_CHECK_MSG(o.code == 1, "%s alone exited %d", bad[i][0], o.code);
        snprintf(name, sizeof name, "%.*s", (int)(strchr(bad[i][0], '=') - bad[i][0]), bad[i][0]);
        PT_CHECK_MSG(tc_has(o.err, name), "the message does not name %s: %s", name, o.err ? o.err : "");
        tc_free(&o);
        e.v[--e.n] = NULL;
    }
    PT_CHECK_EQ(pts_request_count(s), 0);
    /* all of them at once, each replaced by its flag: the event goes out */
    for (i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) { tc_env_add(&e, bad[i][0]); args[n++] = bad[i][1]; }
    args[n++] = "--message";
    args[n++] = "flags win";
    args[n] = NULL;
    PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
    PT_CHECK_MSG(o.code == 0, "exit %d: %s", o.code, o.err ? o.err : "");
    PT_CHECK_EQ(pts_events_received(s), 1);
    tc_free(&o);
    pts_stop(s);
}

/* ---- --health needs no API key, and sends none without one ---- */
PT_TEST(cli_health_without_api_key) {
    pts_server *s;
    tc_out o;
    pts_request r;
    char url[128], hv[128];
    const char *env[] = { url, NULL };
    const char *args[] = { "--health", "--verbose", NULL };
    TC_NEED_BIN();
    PT_REQUIRE((s = pts_start()) != NULL);
    snprintf(url, sizeof url, "PACKTRACK_BASE_URL=%s", pts_url(s));
    PT_CHECK(tc_run(&o, args, env, NULL) == 0);
    PT_CHECK_MSG(o.code == 0, "exit %d: %s", o.code, o.err ? o.err : "");
    PT_CHECK(tc_has(o.out, "healthy"));
    PT_CHECK(tc_has(o.err, "key: not set"));
    PT_CHECK_EQ(pts_request_count(s), 1);
    if (pts_get_request(s, 0, &r) == 0) {
        PT_CHECK_STR(r.method, "GET");
        PT_CHECK_STR(r.path, "/api/health");
        PT_CHECK(pts_header(&r, "X-PackTrack-Key", hv, sizeof hv) == NULL);
        pts_request_free(&r);
    } else PT_CHECK(0);
    tc_free(&o);
    /* sending still needs the key */
    {
        const char *send[] = { "--message", "m", "--source-system", "s", "--workflow-id", "w", "--actor-type", "t",
                               "--actor-id", "i", "--severity", "info", "--status", "ok", NULL };
        PT_CHECK(tc_run(&o, send, env, NULL) == 0);
        PT_CHECK_EQ(o.code, 1);
        PT_CHECK(tc_has(o.err, "PACKTRACK_API_KEY"));
        tc_free(&o);
    }
    pts_stop(s);
}

/* ---- an input with no events is exit 4, saying so; nothing is sent ---- */
PT_TEST(cli_empty_input_exit_4) {
    pts_server *s;
    tc_env e;
    tc_out o;
    char p_empty[64], p_blank[64], p_arr[64];
    int i;
    const char *nd[] = { "--stdin", "--ndjson", NULL };
    const char *nd_dry[] = { "--stdin", "--ndjson", "--dry-run", NULL };
    const char *f_arr[] = { "--file", p_arr, NULL };
    const char *f_empty[] = { "--file", p_empty, NULL };
    struct { const char *const *args; const char *in; } runs[5];
    TC_NEED_BIN();
    PT_REQUIRE((s = pts_start()) != NULL);
    PT_REQUIRE(tc_write(p_empty, sizeof p_empty, "", 0) == 0);
    PT_REQUIRE(tc_write(p_blank, sizeof p_blank, "\n  \n\r\n", 6) == 0);
    PT_REQUIRE(tc_write(p_arr, sizeof p_arr, " [ ]\n", 5) == 0);
    runs[0].args = nd; runs[0].in = p_empty;
    runs[1].args = nd; runs[1].in = p_blank;
    runs[2].args = nd_dry; runs[2].in = p_empty;
    runs[3].args = f_arr; runs[3].in = NULL;
    runs[4].args = f_empty; runs[4].in = NULL;
    tc_env_base(&e, s);
    for (i = 0; i < 5; i++) {
        PT_CHECK(tc_run(&o, runs[i].args, e.v, runs[i].in) == 0);
        PT_CHECK_MSG(o.code == 4, "run %d exited %d", i, o.code);
        PT_CHECK_MSG(tc_has(o.err, "no events") || tc_has(o.err, "empty"), "run %d said: %s", i, o.err ? o.err : "");
        tc_free(&o);
    }
    PT_CHECK_EQ(pts_request_count(s), 0);
    unlink(p_empty); unlink(p_blank); unlink(p_arr);
    pts_stop(s);
}

/* ---- a cut-off JSON file says so, not "expected a string key" ---- */
PT_TEST(cli_truncated_json_says_truncated) {
    pts_server *s;
    tc_env e;
    tc_out o;
    char path[64];
    int i;
    static const char *const cut[] = {
        "{\"source\":{\"system\":\"x\"},",
        "{\"source\":{\"system\":\"x\"}",
        "[{\"message\":\"abc",
        "{\"metadata\":{\"ok\":tru",
        "{\"metadata\":{\"n\":-",
        "[",
        "{\"message\"",
    };
    const char *args[] = { "--file", path, NULL };
    const char *nd[] = { "--stdin", "--ndjson", NULL };
    TC_NEED_BIN();
    PT_REQUIRE((s = pts_start()) != NULL);
    tc_env_base(&e, s);
    for (i = 0; i < (int)(sizeof cut / sizeof cut[0]); i++) {
        PT_REQUIRE(tc_write(path, sizeof path, cut[i], strlen(cut[i])) == 0);
        PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
        PT_CHECK_MSG(o.code == 4, "'%s' exited %d", cut[i], o.code);
        PT_CHECK_MSG(tc_has(o.err, "truncated") && !tc_has(o.err, "expected a string key"), "'%s': %s", cut[i], o.err ? o.err : "");
        tc_free(&o);
        unlink(path);
    }
    /* a cut-off NDJSON line too */
    PT_REQUIRE(tc_write(path, sizeof path, TC_EVENT("whole") "\n{\"source\":{\"sys", strlen(TC_EVENT("whole")) + 16) == 0);
    PT_CHECK(tc_run(&o, nd, e.v, path) == 0);
    PT_CHECK_EQ(o.code, 4);
    PT_CHECK(tc_has(o.err, "line 2") && tc_has(o.err, "truncated"));
    tc_free(&o);
    unlink(path);
    /* a real syntax error keeps its own message */
    PT_REQUIRE(tc_write(path, sizeof path, "{\"a\":1,}", 8) == 0);
    PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 4);
    PT_CHECK(tc_has(o.err, "expected a string key") && !tc_has(o.err, "truncated"));
    tc_free(&o);
    unlink(path);
    PT_CHECK_EQ(pts_request_count(s), 0);
    pts_stop(s);
}

/* ---- --help: examples, the retry policy and every difference from the Go CLI ---- */
PT_TEST(cli_help_examples_and_differences) {
    tc_out o;
    const char *h[] = { "--help", NULL };
    static const char *const want[] = { "Examples:", "packtrack-logger --file events.json", "--stdin --ndjson",
        "Differences from the Go packtrack-logger", "Retry-After", "--idempotency-key with --file/--stdin",
        "no events is exit 4", "--health needs no API key", "--dry-run prints", "--status takes any", "--run-id is optional",
        "requests in all", "default 2s", "default 0.2", "default 15s" };
    size_t i;
    TC_NEED_BIN();
    PT_CHECK(tc_run(&o, h, NULL, NULL) == 0);
    PT_CHECK_EQ(o.code, 0);
    for (i = 0; i < sizeof want / sizeof want[0]; i++) PT_CHECK_MSG(tc_has(o.out, want[i]), "--help lacks \"%s\"", want[i]);
    PT_CHECK(!tc_has(o.out, "SPEC"));
    tc_free(&o);
}

/* ---- --user-agent: Go appends packtrack-logger/VERSION ---- */
PT_TEST(cli_user_agent_gets_go_suffix) {
    pts_server *s;
    tc_env e;
    tc_out o;
    char hv[128];
    const char *args[] = { "--message", "m", "--user-agent", "ci-bot/1.0", NULL };
    TC_NEED_BIN();
    PT_REQUIRE((s = pts_start()) != NULL);
    tc_env_base(&e, s);
    tc_env_fields(&e);
    PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 0);
    PT_CHECK_STR(tc_req_header(s, 0, "User-Agent", hv, sizeof hv), "ci-bot/1.0 packtrack-logger/" PACKTRACK_VERSION_STRING);
    tc_free(&o);
    pts_stop(s);
}

/* ---- --health-enable probes before sending, and an unhealthy answer stops the send ---- */
PT_TEST(cli_health_enable_probes_first) {
    pts_server *s;
    tc_env e;
    tc_out o;
    pts_action a;
    pts_request r;
    const char *args[] = { "--message", "m", "--health-enable", NULL };
    TC_NEED_BIN();
    PT_REQUIRE((s = pts_start()) != NULL);
    tc_env_base(&e, s);
    tc_env_fields(&e);
    memset(&a, 0, sizeof a);
    a.status = 503;
    pts_script(s, &a, 1);
    PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 3);
    PT_CHECK_EQ(pts_request_count(s), 1);             /* the probe only */
    PT_CHECK_EQ(pts_events_received(s), 0);
    tc_free(&o);
    PT_CHECK(tc_run(&o, args, e.v, NULL) == 0);
    PT_CHECK_EQ(o.code, 0);
    PT_CHECK_EQ(pts_request_count(s), 3);
    if (pts_get_request(s, 1, &r) == 0) { PT_CHECK_STR(r.method, "GET"); PT_CHECK_STR(r.path, "/api/health"); pts_request_free(&r); }
    else PT_CHECK(0);
    if (pts_get_request(s, 2, &r) == 0) { PT_CHECK_STR(r.method, "POST"); pts_request_free(&r); } else PT_CHECK(0);
    PT_CHECK_EQ(pts_events_received(s), 1);
    tc_free(&o);
    pts_stop(s);
}

static const pt_test_case cli_tests[] = {
    PT_CASE(cli_single_event_from_flags),
    PT_CASE(cli_env_first_only_message_flag),
    PT_CASE(cli_env_retries_not_overwritten_by_flag_default),
    PT_CASE(cli_file_object_and_array),
    PT_CASE(cli_ndjson_stdin_long_line_and_1000_lines),
    PT_CASE(cli_stdin_json_array),
    PT_CASE(cli_async_ndjson),
    PT_CASE(cli_async_failures_exit_codes),
    PT_CASE(cli_dry_run_prints_json_sends_nothing),
    PT_CASE(cli_verbose_never_prints_key),
    PT_CASE(cli_go_retries_is_requests_in_all),
    PT_CASE(cli_503_storm_exhausts_retries_exit_3),
    PT_CASE(cli_connection_refused_exit_3),
    PT_CASE(cli_http_400_and_401_exit_2),
    PT_CASE(cli_bad_arguments_exit_1),
    PT_CASE(cli_input_errors_exit_4),
    PT_CASE(cli_health),
    PT_CASE(cli_gzip),
    PT_CASE(cli_go_backoff_defaults_and_jitter),
    PT_CASE(cli_go_idempotency_key_is_the_header),
    PT_CASE(cli_bad_env_value_replaced_by_flag),
    PT_CASE(cli_health_without_api_key),
    PT_CASE(cli_empty_input_exit_4),
    PT_CASE(cli_truncated_json_says_truncated),
    PT_CASE(cli_help_examples_and_differences),
    PT_CASE(cli_user_agent_gets_go_suffix),
    PT_CASE(cli_health_enable_probes_first),
};
