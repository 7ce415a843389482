/* Shared helpers for the test files. */
#ifndef PT_TEST_UTIL_H
#define PT_TEST_UTIL_H
#include <unistd.h>
#ifndef _WIN32
#include <sys/wait.h>
#endif

#define TU_KEY "pk_test_SECRET_9f8e7d6c"
#if defined(__GNUC__) || defined(__clang__)
#define TU_UNUSED __attribute__((unused))
#else
#define TU_UNUSED
#endif

/* A valid event with every required field. */
TU_UNUSED static pt_event tu_event(const char *message) {
    pt_event ev;
    memset(&ev, 0, sizeof ev);
    ev.source_system = "test-svc";
    ev.source_env = "test";
    ev.workflow_id = "wf-1";
    ev.actor_type = "agent";
    ev.actor_id = "a-1";
    ev.severity = PT_SEVERITY_INFO;
    ev.status = PT_STATUS_SUCCESS;
    ev.message = message ? message : "hello";
    return ev;
}

/* A complete event as JSON text (pt_track_json checks the required fields). */
#define TU_EV_JSON(msg) "{\"source\":{\"system\":\"s\"},\"workflow\":{\"id\":\"w\"},\"actor\":{\"type\":\"t\",\"id\":\"i\"}," \
                        "\"severity\":\"info\",\"status\":\"ok\",\"message\":\"" msg "\"}"

/* A config aimed at a test server, with short timeouts and backoff. */
TU_UNUSED static pt_config tu_config(const char *url) {
    pt_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.api_key = TU_KEY;
    cfg.base_url = url;
    cfg.timeout_ms = 2000;
    cfg.connect_timeout_ms = 1000;
    cfg.backoff_base_ms = 5;
    cfg.backoff_max_ms = 50;
    cfg.flush_interval_ms = 50;
    return cfg;
}

/* The python3 the JSON cross-checks run: $PT_PYTHON3 if set (empty: none,
   as on a machine without python3; tests/fresh_machine.sh uses this), else
   /usr/bin/python3 (starts much faster than a version-manager shim), else
   python3 from PATH. */
#ifndef _WIN32
TU_UNUSED static const char *tu_python_bin(void) {
    const char *e = getenv("PT_PYTHON3");
    if (e) return e;
    return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}
#endif

/* Checks each of n NUL-terminated documents with an independent JSON parser
   (python3's json module, strict: no NaN, no duplicate-free assumption).
   Returns the number of documents python rejected, or -1 if python3 is
   unavailable. Documents may not contain raw newlines (ours never do). */
TU_UNUSED static int tu_python_json_check(const char *const *docs, size_t n) {
#ifdef _WIN32
    (void)docs; (void)n;
    return -1;   /* no python3 (nor sh) on the Windows side */
#else
    char path[] = "/tmp/pt_json_XXXXXX";
    int fd, bad = -1;
    if (!tu_python_bin()[0]) return -1;
    fd = mkstemp(path);
    FILE *f;
    size_t i;
    char cmd[512];
    if (fd < 0) return -1;
    f = fdopen(fd, "w");
    if (!f) { close(fd); return -1; }
    for (i = 0; i < n; i++) { fputs(docs[i], f); fputc('\n', f); }
    fclose(f);
    /* the system interpreter starts much faster than a version-manager shim */
    snprintf(cmd, sizeof cmd,
             "%s -c 'import json,sys\n"
             "def no_const(x): raise ValueError(x)\n"
             "bad=0\n"
             "for line in open(sys.argv[1], encoding=\"utf-8\", errors=\"strict\"):\n"
             "    try: json.loads(line, parse_constant=no_const)\n"
             "    except Exception as e: bad+=1; sys.stderr.write(\"python rejects: %%r (%%s)\\n\" %% (line[:200], e))\n"
             "sys.exit(min(bad,100))' %s", tu_python_bin(), path);
    {
        int st = system(cmd);
        if (st != -1 && WIFEXITED(st)) bad = WEXITSTATUS(st);
        if (bad == 127) bad = -1;
    }
    unlink(path);
    return bad;
#endif
}
/* A test whose independent check cannot run is not "ok": it ends as skipped
   (its other checks still count; a failed one still fails it). */
TU_UNUSED static void tu_python_missing(void) {
    if (!pt_t_skipped) fprintf(stderr, "    skip: python3 not found: the independent JSON check did not run (Debian: python3)\n");
    pt_t_skipped = 1;
}
/* 1 if python3 accepts every document, 0 if it rejects one, 1 with the test
   marked skipped if python3 is missing. For PT_CHECK(tu_python_accepts(...)). */
TU_UNUSED static int tu_python_accepts_all(const char *const *docs, size_t n) {
    int bad = tu_python_json_check(docs, n);
    if (bad < 0) { tu_python_missing(); return 1; }
    return bad == 0;
}
TU_UNUSED static int tu_python_ok(const char *doc) { const char *d[1]; d[0] = doc; return tu_python_accepts_all(d, 1); }

/* Sleep helper */
TU_UNUSED static void tu_sleep_ms(int ms) { pt__sleep_ms(ms); }

#endif
