/* packtrack-logger.c - Shows how to build a command-line tool on packtrack.h:
   a C port of the Go SDK's `packtrack-logger` CLI (same flags, same
   PACKTRACK_* environment variables, same exit codes).

     cc -std=c99 -O2 -Wall -Wextra -pedantic -o packtrack-logger examples/packtrack-logger.c -lpthread

   Environment first, flags override: with PACKTRACK_API_KEY, _BASE_URL,
   _SOURCE_SYSTEM, _WORKFLOW_ID, _ACTOR_TYPE, _ACTOR_ID, _SEVERITY and _STATUS
   exported,   packtrack-logger --message "hello"   sends one event. A flag's
   built-in default never overwrites a value the environment set.

   Modes
     single event from flags/env            sync: pt_ingest
     --file F (object, array, or --ndjson)  sync: pt_ingest_batch in chunks of --batch-size
     --stdin [--ndjson]                     same, from standard input (lines of any length)
     --async                                pt_track_json for every event, then pt_close
     --dry-run                              prints the JSON that would be sent, sends nothing
     --health [--health-path P]             GET {base_url}{P} through pt_health (default /api/health)
   Exit codes
     0 ok   1 bad arguments   2 non-retryable SDK error (HTTP 400/401, ...)
     3 retries exhausted (5xx/429 storm, timeouts, connection refused)   4 input error
     (--health: 0 healthy, 2 refused (4xx), 3 unreachable or 5xx/429/408)
   Differences from the Go tool: status values are not restricted to a list
   (SPEC: any non-empty string), run_id is optional, `--file -` reads stdin,
   --user-agent is sent as given, the default timeout is the library's 10 s,
   --health exits 2/3 (not 1) when the server is unhealthy,
   and in --async mode retries are bounded by time (the sum of the backoff caps
   for --retries), as the library's pipeline retries by time, not by count.

   Input JSON events use the wire format (SPEC section 2): they are parsed into a
   pt_event (metadata/extra keys become PT_FIELD_RAW fields), validated by the
   library, and every input is read and checked before anything is sent.
   Unknown top-level keys are ignored (--verbose says so). The API key is
   never printed: --verbose shows "key: set (N chars)" at most. */
#define PACKTRACK_IMPLEMENTATION
#include "../packtrack.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOGGER_VERSION "0.1.0"

enum { EXIT_OK = 0, EXIT_ARGS = 1, EXIT_SDK = 2, EXIT_RETRIES = 3, EXIT_INPUT = 4 };

/* ---- options ------------------------------------------------------------ */
enum {
    OPT_API_KEY, OPT_BASE_URL, OPT_TIMEOUT, OPT_RETRIES, OPT_BACKOFF_INITIAL, OPT_BACKOFF_MAX, OPT_JITTER,
    OPT_USER_AGENT, OPT_IDEM_KEY, OPT_GZIP, OPT_VERBOSE, OPT_DRY_RUN, OPT_HEALTH, OPT_HEALTH_ENABLE, OPT_HEALTH_PATH,
    OPT_TIMESTAMP, OPT_SOURCE_SYSTEM, OPT_SOURCE_ENV, OPT_WORKFLOW_ID, OPT_WORKFLOW_NAME, OPT_RUN_ID, OPT_STEP_ID,
    OPT_ACTOR_TYPE, OPT_ACTOR_ID, OPT_ACTOR_DISPLAY, OPT_SEVERITY, OPT_STATUS, OPT_MESSAGE, OPT_METADATA, OPT_EXTRA,
    OPT_FILE, OPT_STDIN, OPT_NDJSON, OPT_ASYNC, OPT_BATCH_SIZE, OPT_FLUSH_INTERVAL, OPT_QUEUE_CAPACITY, OPT_COUNT
};
enum { K_STR, K_BOOL, K_DUR, K_INT, K_FRAC };

typedef struct opt_def {
    const char *flag;     /* without the dashes */
    const char *env;
    int kind;
    int lib_env;          /* 1: pt_config_from_env() reads the variable */
    const char *help;
} opt_def;

static const opt_def opts[OPT_COUNT] = {
    { "api-key",         "PACKTRACK_API_KEY",         K_STR,  1, "API key (sent as X-PackTrack-Key; never printed)" },
    { "base-url",        "PACKTRACK_BASE_URL",        K_STR,  1, "server base URL (default " PT_DEFAULT_BASE_URL ")" },
    { "timeout",         "PACKTRACK_TIMEOUT",         K_DUR,  1, "request timeout, e.g. 10s (default 10s)" },
    { "retries",         "PACKTRACK_RETRIES",         K_INT,  1, "retries after the first attempt; 0 = none (default 3)" },
    { "backoff-initial", "PACKTRACK_BACKOFF_INITIAL", K_DUR,  1, "first backoff (default 100ms)" },
    { "backoff-max",     "PACKTRACK_BACKOFF_MAX",     K_DUR,  1, "backoff cap (default 10s)" },
    { "jitter",          "PACKTRACK_JITTER",          K_FRAC, 1, "backoff jitter 0..1 or bool; 0 = off (default on)" },
    { "user-agent",      "PACKTRACK_USER_AGENT",      K_STR,  1, "User-Agent (default packtrack-c/" PACKTRACK_VERSION_STRING ")" },
    { "idempotency-key", "PACKTRACK_IDEMPOTENCY_KEY", K_STR,  0, "idempotency_key of the single event (default: a UUID)" },
    { "gzip",            "PACKTRACK_GZIP",            K_BOOL, 1, "gzip request bodies" },
    { "verbose",         "PACKTRACK_VERBOSE",         K_BOOL, 0, "say what happens, on stderr" },
    { "dry-run",         "PACKTRACK_DRY_RUN",         K_BOOL, 0, "print the event JSON, send nothing" },
    { "health",          "PACKTRACK_HEALTH",          K_BOOL, 0, "probe GET {base-url}{health-path} and exit" },
    { "health-enable",   "PACKTRACK_HEALTH_ENABLE",   K_BOOL, 0, "probe the server before sending" },
    { "health-path",     "PACKTRACK_HEALTH_PATH",     K_STR,  1, "health path (default /api/health)" },
    { "timestamp",       "PACKTRACK_TIMESTAMP",       K_STR,  0, "RFC 3339 time of the event (default now)" },
    { "source-system",   "PACKTRACK_SOURCE_SYSTEM",   K_STR,  0, "source.system (required)" },
    { "source-env",      "PACKTRACK_SOURCE_ENV",      K_STR,  0, "source.env" },
    { "workflow-id",     "PACKTRACK_WORKFLOW_ID",     K_STR,  0, "workflow.id (required)" },
    { "workflow-name",   "PACKTRACK_WORKFLOW_NAME",   K_STR,  0, "workflow.name" },
    { "run-id",          "PACKTRACK_RUN_ID",          K_STR,  0, "workflow.run_id" },
    { "step-id",         "PACKTRACK_STEP_ID",         K_STR,  0, "workflow.step_id" },
    { "actor-type",      "PACKTRACK_ACTOR_TYPE",      K_STR,  0, "actor.type (required)" },
    { "actor-id",        "PACKTRACK_ACTOR_ID",        K_STR,  0, "actor.id (required)" },
    { "actor-display",   "PACKTRACK_ACTOR_DISPLAY",   K_STR,  0, "actor.display_name" },
    { "severity",        "PACKTRACK_SEVERITY",        K_STR,  0, "debug|info|warn|error (required)" },
    { "status",          "PACKTRACK_STATUS",          K_STR,  0, "running|success|error|ok|failed|... (required)" },
    { "message",         "PACKTRACK_MESSAGE",         K_STR,  0, "message (required)" },
    { "metadata",        "PACKTRACK_METADATA",        K_STR,  0, "metadata as a JSON object" },
    { "extra",           "PACKTRACK_EXTRA",           K_STR,  0, "extra as a JSON object" },
    { "file",            "PACKTRACK_FILE",            K_STR,  0, "read events from a JSON file (object or array; - = stdin)" },
    { "stdin",           "PACKTRACK_STDIN",           K_BOOL, 0, "read events from standard input" },
    { "ndjson",          "PACKTRACK_NDJSON",          K_BOOL, 0, "input is one JSON event per line" },
    { "async",           "PACKTRACK_ASYNC",           K_BOOL, 0, "queue events (pt_track_json) and drain on close" },
    { "batch-size",      "PACKTRACK_BATCH_SIZE",      K_INT,  1, "events per request (default 100)" },
    { "flush-interval",  "PACKTRACK_FLUSH_INTERVAL",  K_DUR,  1, "async flush interval (default 1s)" },
    { "queue-capacity",  "PACKTRACK_QUEUE_CAPACITY",  K_INT,  1, "async queue bound in events (default 10000)" },
};

static const char *val[OPT_COUNT];   /* NULL = not given (env for CLI-side options, then flags) */
static int from_flag[OPT_COUNT];
static int verbose;

static void say(const char *fmt, ...) {
    va_list ap;
    if (!verbose) return;
    fputs("packtrack-logger: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
static int fail(int code, const char *fmt, ...) {
    va_list ap;
    fputs("packtrack-logger: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

/* ---- memory: everything lives until exit, freed in one place -------------- */
static void **allocs;
static size_t nallocs, capallocs;
static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (p && nallocs == capallocs) {
        size_t cap = capallocs ? capallocs * 2 : 64;
        void **na = (void **)realloc(allocs, cap * sizeof *na);
        if (na) { allocs = na; capallocs = cap; }
    }
    if (!p || nallocs == capallocs) {
        fputs("packtrack-logger: out of memory\n", stderr);
        exit(EXIT_SDK);
    }
    allocs[nallocs++] = p;
    return p;
}
static void free_all(void) {
    while (nallocs) free(allocs[--nallocs]);
    free(allocs);
    allocs = NULL; capallocs = 0;
}
static char *xstrndup(const char *s, size_t n) {
    char *p = (char *)xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* ---- value parsers ------------------------------------------------------ */
static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
static int ieq(const char *a, const char *b) {
    while (*a && lower((unsigned char)*a) == lower((unsigned char)*b)) { a++; b++; }
    return *a == 0 && *b == 0;
}
/* This file compiles the implementation, so it parses booleans and Go-style
   durations exactly as pt_config_from_env() does, with the library's own
   parsers (case-insensitive 1/true/yes/y/on and 0/false/no/n/off; "1.5s",
   "250ms", "1m30s"; a bare number is refused: a unit is required). */
static int parse_bool(const char *v, int *out) { return pt__parse_bool(v, out); }
static int parse_int(const char *v, long lo, long hi, int *out) {
    char *end;
    long x;
    errno = 0;
    x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi) return -1;
    *out = (int)x;
    return 0;
}
static int parse_duration_ms(const char *v, long lo, int *out) {
    int64_t ms;
    if (pt__parse_duration_ms(v, &ms) != 0 || ms < lo || ms > INT_MAX) return -1;
    *out = (int)ms;
    return 0;
}

/* RFC 3339 ("2026-11-23T10:15:30.123Z", "...+02:00") to Unix ms. */
static int two(const char *s, int *v) {
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9') return 0;
    *v = (s[0] - '0') * 10 + (s[1] - '0');
    return 1;
}
static int64_t days_from_civil(int64_t y, int m, int d) {
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}
static int parse_rfc3339(const char *s, int64_t *out_ms) {
    static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int yh, yl, mo, d, h, mi, se, off = 0, scale = 100, nd = 0;
    int64_t frac = 0, ms;
    const char *p;
    if (strlen(s) < 20) return -1;
    if (!two(s, &yh) || !two(s + 2, &yl) || s[4] != '-' || !two(s + 5, &mo) || s[7] != '-' || !two(s + 8, &d)) return -1;
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return -1;
    if (!two(s + 11, &h) || s[13] != ':' || !two(s + 14, &mi) || s[16] != ':' || !two(s + 17, &se)) return -1;
    p = s + 19;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, nd++) { frac += (*p - '0') * scale; scale /= 10; }
        if (!nd) return -1;
    }
    if (*p == 'Z' || *p == 'z') p++;
    else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!two(p + 1, &oh) || p[3] != ':' || !two(p + 4, &om) || oh > 23 || om > 59) return -1;
        off = (oh * 60 + om) * (*p == '-' ? -1 : 1);
        p += 6;
    } else return -1;
    if (*p) return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60) return -1;
    {
        int y = yh * 100 + yl;
        if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return -1;
        if (se == 60) se = 59;   /* leap second */
        ms = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se) - (int64_t)off * 60) * 1000 + frac;
    }
    if (ms <= 0) return -1;      /* 0 means "now" to pt_event; times before 1970 are refused */
    *out_ms = ms;
    return 0;
}

static pt_severity parse_severity(const char *s) {
    if (ieq(s, "debug")) return PT_SEVERITY_DEBUG;
    if (ieq(s, "info")) return PT_SEVERITY_INFO;
    if (ieq(s, "warn") || ieq(s, "warning")) return PT_SEVERITY_WARN;
    if (ieq(s, "error")) return PT_SEVERITY_ERROR;
    return PT_SEVERITY_UNSET;
}

/* ---- a small strict JSON reader (RFC 8259), enough to take events apart ---- */
static const char *jerr;   /* why the last parse failed */
static const char *jat;    /* and where */
#define JFAIL(why, at) do { jerr = (why); jat = (at); return NULL; } while (0)
static const char *j_ws(const char *p, const char *e) {
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}
static int hexv(int c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}
/* p at '"'; returns the position after the closing quote. */
static const char *j_string(const char *p, const char *e) {
    for (p++; p < e; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') return p + 1;
        if (c < 0x20) JFAIL("control character in a string", p);
        if (c == '\\') {
            if (++p >= e) break;
            if (*p == 'u') {
                int i;
                for (i = 1; i <= 4; i++) if (p + i >= e || hexv((unsigned char)p[i]) < 0) JFAIL("bad \\u escape", p);
                p += 4;
            } else if (!strchr("\"\\/bfnrt", *p)) JFAIL("bad escape", p);
        }
    }
    JFAIL("unterminated string", p);
}
static const char *j_value(const char *p, const char *e, int depth) {
    if (depth > 256) JFAIL("nested too deeply", p);
    p = j_ws(p, e);
    if (p >= e) JFAIL("unexpected end of input", p);
    if (*p == '"') return j_string(p, e);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        int obj = *p == '{';
        p = j_ws(p + 1, e);
        if (p < e && *p == close) return p + 1;
        for (;;) {
            if (obj) {
                if (p >= e || *p != '"') JFAIL("expected a string key", p);
                if (!(p = j_string(p, e))) return NULL;
                p = j_ws(p, e);
                if (p >= e || *p != ':') JFAIL("expected ':'", p);
                p++;
            }
            if (!(p = j_value(p, e, depth + 1))) return NULL;
            p = j_ws(p, e);
            if (p < e && *p == ',') { p = j_ws(p + 1, e); continue; }
            if (p < e && *p == close) return p + 1;
            JFAIL(obj ? "expected ',' or '}'" : "expected ',' or ']'", p);
        }
    }
    if (*p == '-' || (*p >= '0' && *p <= '9')) {
        if (*p == '-') p++;
        if (p < e && *p == '0') p++;
        else if (p < e && *p >= '1' && *p <= '9') while (p < e && *p >= '0' && *p <= '9') p++;
        else JFAIL("bad number", p);
        if (p < e && *p == '.') {
            const char *q = ++p;
            while (p < e && *p >= '0' && *p <= '9') p++;
            if (p == q) JFAIL("bad number", p);
        }
        if (p < e && (*p == 'e' || *p == 'E')) {
            const char *q;
            p++;
            if (p < e && (*p == '+' || *p == '-')) p++;
            q = p;
            while (p < e && *p >= '0' && *p <= '9') p++;
            if (p == q) JFAIL("bad number", p);
        }
        return p;
    }
    if (e - p >= 4 && !memcmp(p, "true", 4)) return p + 4;
    if (e - p >= 5 && !memcmp(p, "false", 5)) return p + 5;
    if (e - p >= 4 && !memcmp(p, "null", 4)) return p + 4;
    JFAIL("unexpected character", p);
}
static void put_utf8(char **o, unsigned cp) {
    char *q = *o;
    if (cp < 0x80) *q++ = (char)cp;
    else if (cp < 0x800) { *q++ = (char)(0xC0 | (cp >> 6)); *q++ = (char)(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) { *q++ = (char)(0xE0 | (cp >> 12)); *q++ = (char)(0x80 | ((cp >> 6) & 0x3F)); *q++ = (char)(0x80 | (cp & 0x3F)); }
    else { *q++ = (char)(0xF0 | (cp >> 18)); *q++ = (char)(0x80 | ((cp >> 12) & 0x3F)); *q++ = (char)(0x80 | ((cp >> 6) & 0x3F)); *q++ = (char)(0x80 | (cp & 0x3F)); }
    *o = q;
}
static unsigned hex4(const char *p) { return (unsigned)(hexv(p[0]) << 12 | hexv(p[1]) << 8 | hexv(p[2]) << 4 | hexv(p[3])); }
/* Decodes a validated string token [p, end) (quotes included) into a new C
   string. A \u0000 cannot live in a C string: refused. */
static char *j_decode(const char *p, const char *end) {
    char *out = (char *)xmalloc((size_t)(end - p)), *o = out;   /* decoding never grows */
    for (p++, end--; p < end; p++) {
        if (*p != '\\') { *o++ = *p; continue; }
        switch (*++p) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned cp = hex4(p + 1);
            p += 4;
            if (cp == 0) JFAIL("\\u0000 in a string", p);
            if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 7 && p[1] == '\\' && p[2] == 'u') {
                unsigned lo = hex4(p + 3);
                if (lo >= 0xDC00 && lo <= 0xDFFF) { cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00); p += 6; }
            }
            if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;   /* lone surrogate */
            put_utf8(&o, cp);
            break;
        }
        default: *o++ = *p; break;   /* \" \\ \/ */
        }
    }
    *o = 0;
    return out;
}

/* Iterates the members of a validated object: *pp after '{' (or after the
   previous member). Returns 1 with key/value spans, 0 at the end. */
static int j_member(const char **pp, const char *e, const char **k, const char **ke, const char **v, const char **ve) {
    const char *p = j_ws(*pp, e);
    if (*p == ',') p = j_ws(p + 1, e);
    if (*p == '}') { *pp = p + 1; return 0; }
    *k = p;
    *ke = j_string(p, e);
    p = j_ws(*ke, e) + 1;      /* ':' */
    *v = j_ws(p, e);
    *ve = j_value(*v, e, 0);
    *pp = *ve;
    return 1;
}
static int key_is(const char *k, const char *ke, const char *name) {
    size_t n = strlen(name);
    return (size_t)(ke - k) == n + 2 && !memcmp(k + 1, name, n);   /* event keys never need escapes */
}

/* A JSON object text -> PT_FIELD_RAW fields, one per top-level key. */
static int fields_from_object(const char *p, const char *e, pt_field **out, size_t *n) {
    const char *k, *ke, *v, *ve, *q;
    size_t cap = 0;
    pt_field *f = NULL;
    *out = NULL; *n = 0;
    p = j_ws(p, e);
    if (p >= e || *p != '{') { jerr = "not a JSON object"; return -1; }
    for (q = p + 1; j_member(&q, e, &k, &ke, &v, &ve);) cap++;
    if (!cap) return 0;
    f = (pt_field *)xmalloc(cap * sizeof *f);
    for (q = p + 1; j_member(&q, e, &k, &ke, &v, &ve);) {
        const char *key = j_decode(k, ke);
        if (!key) return -1;
        f[*n] = pt_field_raw(key, xstrndup(v, (size_t)(ve - v)));
        (*n)++;
    }
    *out = f;
    return 0;
}
/* A whole string that must be one JSON object (for --metadata / --extra). */
static int fields_from_text(const char *text, pt_field **out, size_t *n) {
    const char *e = text + strlen(text), *end = j_value(text, e, 0);
    if (!end) return -1;
    if (j_ws(end, e) != e) { jerr = "trailing characters after the object"; return -1; }
    return fields_from_object(text, e, out, n);
}

/* ---- events ------------------------------------------------------------- */
typedef struct ev_list {
    pt_event *ev;
    size_t   *json_len;   /* serialised size, for chunking by bytes */
    long     *where;      /* NDJSON line (> 0), -(array index + 1), or 0, for messages */
    size_t n, cap;
} ev_list;

static pt_event *ev_push(ev_list *l, long where) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        pt_event *ne = (pt_event *)xmalloc(cap * sizeof *ne);
        size_t *nl = (size_t *)xmalloc(cap * sizeof *nl);
        long *nw = (long *)xmalloc(cap * sizeof *nw);
        if (l->n) {
            memcpy(ne, l->ev, l->n * sizeof *ne);
            memcpy(nl, l->json_len, l->n * sizeof *nl);
            memcpy(nw, l->where, l->n * sizeof *nw);
        }
        l->ev = ne; l->json_len = nl; l->where = nw; l->cap = cap;   /* the old arrays are freed at exit */
    }
    memset(&l->ev[l->n], 0, sizeof l->ev[l->n]);
    l->where[l->n] = where;
    return &l->ev[l->n++];
}

static int str_member(const char *k, const char *ke, const char *v, const char *ve, const char *name, const char **dst) {
    if (!key_is(k, ke, name)) return 0;
    if (*v == 'n') { *dst = NULL; return 1; }                  /* null = absent */
    if (*v != '"') { jerr = "a string was expected"; return -1; }
    if (!(*dst = j_decode(v, ve))) return -1;
    return 1;
}
/* Members of a nested object (source/workflow/actor) into the event. */
static int nested(const char *v, const char *ve, const char *const *names, const char **const *dsts, size_t nn, const char *which) {
    const char *q, *k, *ke, *x, *xe;
    size_t i;
    static char why[96];
    if (*v == 'n') return 0;
    if (*v != '{') { snprintf(why, sizeof why, "\"%s\" must be an object", which); jerr = why; return -1; }
    for (q = v + 1; j_member(&q, ve, &k, &ke, &x, &xe);) {
        for (i = 0; i < nn; i++) {
            int r = str_member(k, ke, x, xe, names[i], dsts[i]);
            if (r < 0) { snprintf(why, sizeof why, "%s.%s: %s", which, names[i], jerr); jerr = why; return -1; }
            if (r) break;
        }
    }
    return 0;
}
static int unknown_keys_noted;
/* One validated JSON object -> one pt_event. */
static int event_from_object(const char *p, const char *e, pt_event *ev) {
    const char *q, *k, *ke, *v, *ve, *tmp = NULL;
    static char why[96];
    for (q = p + 1; j_member(&q, e, &k, &ke, &v, &ve);) {
        int r;
        if (key_is(k, ke, "source")) {
            const char *const names[] = { "system", "env" };
            const char **const dsts[] = { &ev->source_system, &ev->source_env };
            if (nested(v, ve, names, dsts, 2, "source")) return -1;
        } else if (key_is(k, ke, "workflow")) {
            const char *const names[] = { "id", "name", "run_id", "step_id" };
            const char **const dsts[] = { &ev->workflow_id, &ev->workflow_name, &ev->run_id, &ev->step_id };
            if (nested(v, ve, names, dsts, 4, "workflow")) return -1;
        } else if (key_is(k, ke, "actor")) {
            const char *const names[] = { "type", "id", "display_name" };
            const char **const dsts[] = { &ev->actor_type, &ev->actor_id, &ev->actor_display_name };
            if (nested(v, ve, names, dsts, 3, "actor")) return -1;
        } else if (key_is(k, ke, "metadata") || key_is(k, ke, "extra")) {
            int meta = key_is(k, ke, "metadata");
            pt_field *f = NULL;
            size_t n = 0;
            if (*v != 'n' && fields_from_object(v, ve, &f, &n)) {
                snprintf(why, sizeof why, "%s: %s", meta ? "metadata" : "extra", jerr); jerr = why; return -1;
            }
            if (meta) { ev->metadata = f; ev->metadata_count = n; } else { ev->extra = f; ev->extra_count = n; }
        } else if (key_is(k, ke, "severity")) {
            if ((r = str_member(k, ke, v, ve, "severity", &tmp)) < 0) return -1;
            ev->severity = tmp ? parse_severity(tmp) : PT_SEVERITY_UNSET;
            if (tmp && ev->severity == PT_SEVERITY_UNSET) { jerr = "severity must be debug, info, warn or error"; return -1; }
        } else if (key_is(k, ke, "timestamp")) {
            if ((r = str_member(k, ke, v, ve, "timestamp", &tmp)) < 0) return -1;
            if (tmp && parse_rfc3339(tmp, &ev->timestamp_ms)) { jerr = "timestamp is not RFC 3339 (e.g. 2026-11-23T10:15:30.123Z)"; return -1; }
        } else if ((r = str_member(k, ke, v, ve, "status", &ev->status)) != 0
                || (r = str_member(k, ke, v, ve, "message", &ev->message)) != 0
                || (r = str_member(k, ke, v, ve, "idempotency_key", &ev->idempotency_key)) != 0) {
            if (r < 0) return -1;
        } else if (!unknown_keys_noted++) {
            say("note: unknown top-level key %.*s ignored (reported once)", (int)(ke - k), k);
        }
    }
    return 0;
}

/* Reads all of f into a growable buffer (any size, any line length). */
static char *read_all(FILE *f, size_t *n) {
    size_t cap = 65536, len = 0;
    char *buf = (char *)malloc(cap);
    if (!buf) return NULL;
    for (;;) {
        size_t got;
        if (len == cap) {
            char *nb = (char *)realloc(buf, cap * 2);
            if (!nb) { free(buf); errno = ENOMEM; return NULL; }
            buf = nb; cap *= 2;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    if (ferror(f)) { int e = errno; free(buf); errno = e ? e : EIO; return NULL; }
    *n = len;
    return buf;
}

/* Parses an input document into events. Returns 0 or an input error message. */
static const char *parse_input(const char *buf, size_t n, int ndjson, ev_list *out) {
    static char msg[256];
    const char *e = buf + n, *p, *end;
    if (ndjson) {
        long line = 0;
        for (p = buf; p < e; ) {
            const char *nl = (const char *)memchr(p, '\n', (size_t)(e - p)), *le = nl ? nl : e, *s;
            line++;
            s = j_ws(p, le);
            if (s < le) {
                if (*s != '{') { snprintf(msg, sizeof msg, "line %ld: an event must be a JSON object", line); return msg; }
                if (!(end = j_value(s, le, 0))) { snprintf(msg, sizeof msg, "line %ld, column %ld: invalid JSON: %s", line, (long)(jat - p) + 1, jerr); return msg; }
                if (j_ws(end, le) != le) { snprintf(msg, sizeof msg, "line %ld: trailing characters after the event", line); return msg; }
                if (event_from_object(s, end, ev_push(out, line))) { snprintf(msg, sizeof msg, "line %ld: %s", line, jerr); return msg; }
            }
            p = nl ? nl + 1 : e;
        }
        return NULL;
    }
    p = j_ws(buf, e);
    if (p == e) return "input is empty";
    if (!(end = j_value(p, e, 0))) {
        snprintf(msg, sizeof msg, "invalid JSON at byte %ld: %s", (long)(jat - buf), jerr);
        return msg;
    }
    if (j_ws(end, e) != e) return "trailing characters after the JSON value (use --ndjson for one event per line)";
    if (*p == '{') {
        if (event_from_object(p, end, ev_push(out, 0))) { snprintf(msg, sizeof msg, "event: %s", jerr); return msg; }
        return NULL;
    }
    if (*p != '[') return "input must be a JSON event object or an array of them";
    {
        const char *q = j_ws(p + 1, end);
        long i = 0;
        while (*q != ']') {
            const char *ve = j_value(q, end, 0);
            if (*q != '{') { snprintf(msg, sizeof msg, "array element %ld is not an object", i); return msg; }
            if (event_from_object(q, ve, ev_push(out, -(i + 1)))) { snprintf(msg, sizeof msg, "array element %ld: %s", i, jerr); return msg; }
            q = j_ws(ve, end);
            if (*q == ',') q = j_ws(q + 1, end);
            i++;
        }
    }
    return NULL;
}

/* ---- serialisation through the library ------------------------------------ */
static char *jbuf;
static size_t jcap;
static pt_result to_json(pt_client *cl, const pt_event *ev, size_t *len, pt_error *err) {
    pt_result r;
    if (!jbuf) { jcap = 4096; jbuf = (char *)malloc(jcap); if (!jbuf) return PT_ERR_NO_MEMORY; }
    r = pt_event_to_json(cl, ev, jbuf, jcap, len, err);
    if (r == PT_ERR_TOO_LARGE && *len + 1 > jcap) {
        char *nb = (char *)realloc(jbuf, *len + 1);
        if (!nb) return PT_ERR_NO_MEMORY;
        jbuf = nb; jcap = *len + 1;
        r = pt_event_to_json(cl, ev, jbuf, jcap, len, err);
    }
    return r;
}

/* ---- the command line ----------------------------------------------------- */
static void usage(FILE *f) {
    int i;
    fputs("usage: packtrack-logger [flags]\n"
          "Sends PackTrack events: one built from flags/environment, or many from --file/--stdin.\n"
          "Every flag falls back to its environment variable; flags win.\n\n", f);
    for (i = 0; i < OPT_COUNT; i++) {
        const char *arg = opts[i].kind == K_BOOL ? "" : opts[i].kind == K_STR ? " S" : opts[i].kind == K_INT ? " N" : opts[i].kind == K_FRAC ? " F" : " DUR";
        char left[40];
        snprintf(left, sizeof left, "--%s%s", opts[i].flag, arg);
        fprintf(f, "  %-24s %-52s [%s]\n", left, opts[i].help, opts[i].env);
    }
    fputs("  -h, --help               this text\n"
          "  --version                print the version\n\n"
          "Durations: 250ms, 1.5s, 1m30s (a unit is required). Booleans: --gzip or --gzip=false.\n"
          "Exit codes: 0 ok, 1 bad arguments, 2 non-retryable error (HTTP 400/401...),\n"
          "            3 retries exhausted (5xx/429/timeouts/connection refused), 4 input error.\n", f);
}

static int parse_args(int argc, char **argv) {
    int i, j, only_args = 0;
    /* Environment first (the variables pt_config_from_env() does not read). */
    for (j = 0; j < OPT_COUNT; j++) {
        const char *v;
        if (opts[j].lib_env) continue;
        v = getenv(opts[j].env);
        if (v && *v) val[j] = v;
    }
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *name, *eq, *v = NULL;
        size_t nlen;
        if (only_args || a[0] != '-' || !a[1]) return fail(EXIT_ARGS, "unexpected argument \"%s\" (see --help)", a);
        if (!strcmp(a, "--")) { only_args = 1; continue; }
        name = a + (a[1] == '-' ? 2 : 1);      /* -flag and --flag, like Go's flag package */
        eq = strchr(name, '=');
        nlen = eq ? (size_t)(eq - name) : strlen(name);
        if ((nlen == 1 && name[0] == 'h') || (nlen == 4 && !strncmp(name, "help", 4))) { usage(stdout); exit(EXIT_OK); }
        if (nlen == 7 && !strncmp(name, "version", 7)) {
            printf("packtrack-logger %s (packtrack.h %s)\n", LOGGER_VERSION, pt_version());
            exit(EXIT_OK);
        }
        for (j = 0; j < OPT_COUNT; j++) if (strlen(opts[j].flag) == nlen && !strncmp(opts[j].flag, name, nlen)) break;
        if (j == OPT_COUNT) return fail(EXIT_ARGS, "unknown flag \"%s\" (see --help)", a);
        if (eq) v = eq + 1;
        else if (opts[j].kind == K_BOOL) v = "true";
        else if (i + 1 < argc) v = argv[++i];
        else return fail(EXIT_ARGS, "flag --%s needs a value", opts[j].flag);
        val[j] = v;
        from_flag[j] = 1;
    }
    /* Syntax of every CLI-side value; the config ones are checked in apply_config. */
    for (j = 0; j < OPT_COUNT; j++) {
        int b;
        if (!val[j] || opts[j].lib_env) continue;
        if (opts[j].kind == K_BOOL && parse_bool(val[j], &b))
            return fail(EXIT_ARGS, "%s%s: \"%s\" is not a boolean", from_flag[j] ? "--" : "", from_flag[j] ? opts[j].flag : opts[j].env, val[j]);
    }
    return EXIT_OK;
}
static int on(int id) { int b = 0; return val[id] && !parse_bool(val[id], &b) && b; }

static void on_log(pt_log_level level, const char *msg, void *user) {
    static const char *names[] = { "debug", "info", "warn", "error" };
    (void)user;
    fprintf(stderr, "packtrack-logger: [packtrack %s] %s\n", names[level & 3], msg);
}

/* Flags over the environment (already in cfg via pt_config_from_env). */
static int apply_config(pt_config *cfg) {
    int j;
    for (j = 0; j < OPT_COUNT; j++) {
        const char *v = val[j];
        int n, b;
        if (!opts[j].lib_env || !from_flag[j]) continue;
        switch (j) {
        case OPT_API_KEY: cfg->api_key = v; break;
        case OPT_BASE_URL: cfg->base_url = v; break;
        case OPT_USER_AGENT: cfg->user_agent = v; break;
        case OPT_HEALTH_PATH: cfg->health_path = v; break;
        case OPT_GZIP:
            if (parse_bool(v, &b)) return fail(EXIT_ARGS, "--gzip: \"%s\" is not a boolean", v);
            cfg->enable_gzip = b;
            break;
        case OPT_RETRIES:
            if (parse_int(v, 0, 1000, &n)) return fail(EXIT_ARGS, "--retries: \"%s\" is not a count 0..1000", v);
            cfg->max_retries = n == 0 ? PT_RETRIES_NONE : n;
            break;
        case OPT_BATCH_SIZE:
        case OPT_QUEUE_CAPACITY:
            if (parse_int(v, 1, 100000000, &n)) return fail(EXIT_ARGS, "--%s: \"%s\" is not a positive count", opts[j].flag, v);
            if (j == OPT_BATCH_SIZE) cfg->batch_size = n; else cfg->queue_capacity = n;
            break;
        case OPT_TIMEOUT:
        case OPT_FLUSH_INTERVAL:
            if (parse_duration_ms(v, 1, &n)) return fail(EXIT_ARGS, "--%s: \"%s\" is not a duration (e.g. 10s, 250ms)", opts[j].flag, v);
            if (j == OPT_TIMEOUT) cfg->timeout_ms = n; else cfg->flush_interval_ms = n;
            break;
        case OPT_BACKOFF_INITIAL:
        case OPT_BACKOFF_MAX:
            if (parse_duration_ms(v, 0, &n)) return fail(EXIT_ARGS, "--%s: \"%s\" is not a duration (e.g. 100ms)", opts[j].flag, v);
            if (n == 0) n = 1;               /* 0 means "default" to pt_config */
            if (j == OPT_BACKOFF_INITIAL) cfg->backoff_base_ms = n; else cfg->backoff_max_ms = n;
            break;
        case OPT_JITTER: {
            char *end;
            double x;
            if (!parse_bool(v, &b)) { cfg->disable_jitter = !b; break; }
            x = strtod(v, &end);
            if (*end || !(x >= 0 && x <= 1)) return fail(EXIT_ARGS, "--jitter: \"%s\" is not a fraction 0..1", v);
            cfg->disable_jitter = x == 0;
            break;
        }
        default: break;
        }
    }
    /* An explicit --gzip compresses every body, however small. */
    if (cfg->enable_gzip) cfg->compress_min_bytes = 1;
    if (verbose) { cfg->logger = on_log; cfg->log_level = PT_LOG_DEBUG; }
    return EXIT_OK;
}

/* Exit code for a failed SDK call. */
static int exit_for(pt_result r, const pt_error *err) {
    if (r == PT_OK) return EXIT_OK;
    if (r == PT_ERR_CONFIG) return EXIT_ARGS;
    if (r == PT_ERR_RETRIES_EXHAUSTED || (err && err->retryable)) return EXIT_RETRIES;
    return EXIT_SDK;
}
/* pt_client_new refuses bad configuration: that is a bad argument. */
static int new_failed(pt_result r) { return r == PT_ERR_NO_MEMORY || r == PT_ERR_THREAD ? EXIT_SDK : EXIT_ARGS; }
static int report_error(const char *what, pt_result r, const pt_error *err) {
    fprintf(stderr, "packtrack-logger: %s: %s: %s (HTTP %d, %d attempt(s), %s)\n", what, pt_strerror(r),
            err->message[0] ? err->message : "-", err->http_status, err->attempts, err->retryable ? "retryable" : "not retryable");
    if (err->body_head[0]) fprintf(stderr, "packtrack-logger: response body: %s\n", err->body_head);
    return exit_for(r, err);
}

static const char *flag_for_field(const char *msg) {
    if (strstr(msg, "source.system")) return "--source-system / PACKTRACK_SOURCE_SYSTEM";
    if (strstr(msg, "workflow.id")) return "--workflow-id / PACKTRACK_WORKFLOW_ID";
    if (strstr(msg, "actor.type")) return "--actor-type / PACKTRACK_ACTOR_TYPE";
    if (strstr(msg, "actor.id")) return "--actor-id / PACKTRACK_ACTOR_ID";
    if (strstr(msg, "severity")) return "--severity / PACKTRACK_SEVERITY";
    if (strstr(msg, "status")) return "--status / PACKTRACK_STATUS";
    if (strstr(msg, "message")) return "--message / PACKTRACK_MESSAGE";
    return NULL;
}

/* The single event from flags and environment. */
static int event_from_flags(ev_list *out) {
    pt_event *ev = ev_push(out, 0);
    pt_field *f;
    size_t n;
    ev->source_system = val[OPT_SOURCE_SYSTEM];
    ev->source_env = val[OPT_SOURCE_ENV];
    ev->workflow_id = val[OPT_WORKFLOW_ID];
    ev->workflow_name = val[OPT_WORKFLOW_NAME];
    ev->run_id = val[OPT_RUN_ID];
    ev->step_id = val[OPT_STEP_ID];
    ev->actor_type = val[OPT_ACTOR_TYPE];
    ev->actor_id = val[OPT_ACTOR_ID];
    ev->actor_display_name = val[OPT_ACTOR_DISPLAY];
    ev->status = val[OPT_STATUS];
    ev->message = val[OPT_MESSAGE];
    ev->idempotency_key = val[OPT_IDEM_KEY];
    if (val[OPT_SEVERITY] && (ev->severity = parse_severity(val[OPT_SEVERITY])) == PT_SEVERITY_UNSET)
        return fail(EXIT_ARGS, "severity \"%s\" is not one of debug, info, warn, error", val[OPT_SEVERITY]);
    if (val[OPT_TIMESTAMP] && parse_rfc3339(val[OPT_TIMESTAMP], &ev->timestamp_ms))
        return fail(EXIT_ARGS, "timestamp \"%s\" is not RFC 3339 (e.g. 2026-11-23T10:15:30Z)", val[OPT_TIMESTAMP]);
    if (val[OPT_METADATA]) {
        if (fields_from_text(val[OPT_METADATA], &f, &n)) return fail(EXIT_ARGS, "metadata is not a JSON object: %s", jerr);
        ev->metadata = f; ev->metadata_count = n;
    }
    if (val[OPT_EXTRA]) {
        if (fields_from_text(val[OPT_EXTRA], &f, &n)) return fail(EXIT_ARGS, "extra is not a JSON object: %s", jerr);
        ev->extra = f; ev->extra_count = n;
    }
    return EXIT_OK;
}

/* Validates (and measures) every event through the library's serialiser. */
static int validate(ev_list *l, int from_input) {
    size_t i;
    for (i = 0; i < l->n; i++) {
        pt_error err;
        size_t len = 0;
        pt_result r = to_json(NULL, &l->ev[i], &len, &err);
        if (r != PT_OK) {
            if (!from_input) {
                const char *fl = r == PT_ERR_MISSING_FIELD ? flag_for_field(err.message) : NULL;
                if (fl) return fail(EXIT_ARGS, "missing required field: set %s", fl);
                return fail(EXIT_ARGS, "invalid event: %s", err.message);
            }
            if (l->where[i] > 0) return fail(EXIT_INPUT, "input line %ld: %s", l->where[i], err.message);
            if (l->where[i] < 0) return fail(EXIT_INPUT, "input array element %ld: %s", -l->where[i] - 1, err.message);
            return fail(EXIT_INPUT, "input event: %s", err.message);
        }
        l->json_len[i] = len;
    }
    return EXIT_OK;
}

static int health_probe(pt_client *cl) {
    pt_health_report h;
    pt_error err;
    pt_result r = pt_health(cl, &h, &err);
    if (r != PT_OK) {
        /* a 5xx/429/408 answer or no answer at all: trying later may help */
        int st = h.server_status;
        if (r != PT_ERR_HTTP || st == 408 || st == 429 || st >= 500) err.retryable = r != PT_ERR_TLS && r != PT_ERR_UNSUPPORTED;
        return report_error("health check failed", r, &err);
    }
    if (!h.server_probed) return fail(EXIT_ARGS, "health check: no health path configured");
    say("health: HTTP %d", h.server_status);
    return EXIT_OK;
}

static int send_sync(pt_client *cl, ev_list *l) {
    const pt_config *rc = pt_client_config(cl);
    size_t i = 0, sent = 0, max_bytes = rc->batch_max_bytes;
    int max_n = rc->batch_size;
    pt_error err;
    pt_result r;
    if (l->n == 1) {
        r = pt_ingest(cl, &l->ev[0], &err);
        if (r != PT_OK) return report_error("ingest failed", r, &err);
        say("sent 1 event (HTTP %d, %d attempt(s))", err.http_status, err.attempts);
        return EXIT_OK;
    }
    while (i < l->n) {
        size_t k = 0, bytes = 2;
        /* A chunk: up to batch_size events and batch_max_bytes of JSON (at least one event). */
        while (i + k < l->n && (int)k < max_n && (k == 0 || bytes + l->json_len[i + k] + 1 <= max_bytes)) bytes += l->json_len[i + k++] + 1;
        r = pt_ingest_batch(cl, &l->ev[i], k, &err);
        if (r != PT_OK) {
            if (sent) fprintf(stderr, "packtrack-logger: %lu of %lu events were delivered before the failure\n", (unsigned long)sent, (unsigned long)l->n);
            return report_error("batch ingest failed", r, &err);
        }
        say("sent %lu events, %lu bytes of JSON (HTTP %d, %d attempt(s))", (unsigned long)k, (unsigned long)bytes, err.http_status, err.attempts);
        i += k; sent += k;
    }
    say("delivered %lu events", (unsigned long)sent);
    return EXIT_OK;
}

static int send_async(pt_client *cl, ev_list *l, int close_ms) {
    size_t i;
    pt_close_report rep;
    pt_result r;
    for (i = 0; i < l->n; i++) {
        pt_error err;
        size_t len = 0;
        r = to_json(cl, &l->ev[i], &len, &err);
        if (r == PT_OK) {
            r = pt_track_json(cl, jbuf, len);
            if (r == PT_ERR_QUEUE_FULL) {           /* a CLI would rather wait than drop */
                pt_flush(cl, close_ms);
                r = pt_track_json(cl, jbuf, len);
            }
        }
        if (r != PT_OK) {
            fprintf(stderr, "packtrack-logger: event %lu not queued: %s\n", (unsigned long)i, pt_strerror(r));
            break;
        }
    }
    say("queued %lu events; closing (drain deadline %d ms)", (unsigned long)i, close_ms);
    r = pt_close(cl, close_ms, &rep);
    say("close: %s; tracked %lu, delivered %lu, rejected %lu, oversize %lu, retries exhausted %lu, dropped %lu, abandoned %lu",
        pt_strerror(r), (unsigned long)rep.tracked, (unsigned long)rep.delivered, (unsigned long)rep.failed_rejected,
        (unsigned long)rep.failed_oversize, (unsigned long)rep.failed_exhausted,
        (unsigned long)(rep.dropped_queue_full + rep.dropped_sampled), (unsigned long)rep.abandoned);
    if (i < l->n || rep.failed_rejected || rep.failed_oversize || rep.dropped_queue_full || rep.dropped_sampled) {
        fprintf(stderr, "packtrack-logger: %lu of %lu events delivered; the rest were refused\n", (unsigned long)rep.delivered, (unsigned long)l->n);
        return EXIT_SDK;
    }
    if (rep.failed_exhausted || rep.abandoned) {
        fprintf(stderr, "packtrack-logger: %lu of %lu events delivered; retries exhausted\n", (unsigned long)rep.delivered, (unsigned long)l->n);
        return EXIT_RETRIES;
    }
    return EXIT_OK;
}

static int run(int argc, char **argv) {
    pt_config cfg;
    pt_client *cl = NULL;
    pt_error err;
    pt_result r;
    ev_list events;
    int rc, dry, from_input, close_ms = 0;
    memset(&cfg, 0, sizeof cfg);
    memset(&events, 0, sizeof events);

    if ((rc = parse_args(argc, argv)) != EXIT_OK) return rc;
    verbose = on(OPT_VERBOSE);
    if ((r = pt_config_from_env(&cfg, &err)) != PT_OK) return fail(EXIT_ARGS, "environment: %s", err.message);
    if ((rc = apply_config(&cfg)) != EXIT_OK) return rc;
    dry = on(OPT_DRY_RUN);
    from_input = val[OPT_FILE] != NULL || on(OPT_STDIN);

    if (on(OPT_HEALTH) || on(OPT_HEALTH_ENABLE)) { if (!cfg.health_path) cfg.health_path = "/api/health"; }
    else cfg.health_path = NULL;      /* no probe unless asked for */
    say("base url: %s", cfg.base_url ? cfg.base_url : PT_DEFAULT_BASE_URL);
    if (cfg.api_key && *cfg.api_key) say("key: set (%lu chars)", (unsigned long)strlen(cfg.api_key));
    else say("key: not set");

    if (on(OPT_HEALTH)) {
        cfg.manual_mode = 1;
        if ((r = pt_client_new(&cfg, &cl, &err)) != PT_OK) return fail(new_failed(r), "%s", err.message);
        say("health: GET %s", cfg.health_path);
        rc = health_probe(cl);
        if (rc == EXIT_OK) printf("healthy\n");
        pt_close(cl, 1000, NULL);
        pt_client_free(cl);
        return rc;
    }
    if (!dry) {
        if (!cfg.api_key || !*cfg.api_key) return fail(EXIT_ARGS, "missing --api-key or PACKTRACK_API_KEY");
        if (on(OPT_ASYNC)) {
            /* The pipeline retries by time, not by count: give it the sum of the backoff caps. */
            int retries = cfg.max_retries == 0 ? 3 : cfg.max_retries < 0 ? 0 : cfg.max_retries, k;
            int64_t base = cfg.backoff_base_ms ? cfg.backoff_base_ms : 100, cap = cfg.backoff_max_ms ? cfg.backoff_max_ms : 10000, budget = 0;
            for (k = 0; k < retries; k++) { budget += base < cap ? base : cap; base *= 2; if (base > cap) base = cap; }
            /* plus time for each failed request itself to come back (a loaded
               machine can take tens of ms per round trip), so --retries N
               means at least N retries against a fast-failing server */
            budget += (int64_t)retries * 200;
            cfg.retry_max_elapsed_ms = budget > 0 ? budget : 1;
            cfg.breaker_threshold = 1000000;   /* a one-shot run has no use for a 30 s breaker cool-down */
            close_ms = (int)(budget + (int64_t)(retries + 1) * (cfg.timeout_ms ? cfg.timeout_ms : 10000) + 2000);
            if (close_ms < 5000) close_ms = 5000;
        } else cfg.manual_mode = 1;      /* sync only: no flush thread needed */
        if ((r = pt_client_new(&cfg, &cl, &err)) != PT_OK) return fail(new_failed(r), "%s", err.message);
        say("mode: %s; timeout %d ms; retries %d; gzip %s", on(OPT_ASYNC) ? "async" : "sync", pt_client_config(cl)->timeout_ms,
            pt_client_config(cl)->max_retries < 0 ? 0 : pt_client_config(cl)->max_retries, cfg.enable_gzip ? "on" : "off");
    }

    if (from_input) {
        const char *why;
        char *buf;
        size_t n = 0;
        int nd = on(OPT_NDJSON);
        if (val[OPT_FILE] && strcmp(val[OPT_FILE], "-") != 0) {
            FILE *f = fopen(val[OPT_FILE], "rb");
            if (!f) { rc = fail(EXIT_INPUT, "cannot open %s: %s", val[OPT_FILE], strerror(errno)); goto done; }
            buf = read_all(f, &n);
            if (!buf) rc = fail(EXIT_INPUT, "cannot read %s: %s", val[OPT_FILE], strerror(errno));
            fclose(f);
            if (!buf) goto done;
            say("read %lu bytes from %s", (unsigned long)n, val[OPT_FILE]);
        } else {
            buf = read_all(stdin, &n);
            if (!buf) { rc = fail(EXIT_INPUT, "cannot read standard input: %s", strerror(errno)); goto done; }
            say("read %lu bytes from standard input", (unsigned long)n);
        }
        why = parse_input(buf, n, nd, &events);
        free(buf);
        if (why) { rc = fail(EXIT_INPUT, "input error: %s", why); goto done; }
        if ((rc = validate(&events, 1)) != EXIT_OK) goto done;
        say("%lu event(s) in the input", (unsigned long)events.n);
        if (!events.n) { say("nothing to send"); goto done; }
    } else {
        if ((rc = event_from_flags(&events)) != EXIT_OK) goto done;
        if ((rc = validate(&events, 0)) != EXIT_OK) goto done;
    }

    if (dry) {
        size_t i;
        for (i = 0; i < events.n; i++) {
            size_t len = 0;
            if ((r = to_json(NULL, &events.ev[i], &len, &err)) != PT_OK) { rc = fail(EXIT_INPUT, "%s", err.message); goto done; }
            fwrite(jbuf, 1, len, stdout);
            fputc('\n', stdout);
        }
        say("dry run: %lu event(s) valid, nothing sent", (unsigned long)events.n);
        goto done;
    }
    if (on(OPT_HEALTH_ENABLE) && (rc = health_probe(cl)) != EXIT_OK) goto done;
    if (on(OPT_ASYNC)) { rc = send_async(cl, &events, close_ms); pt_client_free(cl); cl = NULL; }
    else rc = send_sync(cl, &events);
done:
    if (cl) { pt_close(cl, 1000, NULL); pt_client_free(cl); }
    return rc;
}

int main(int argc, char **argv) {
    int rc = run(argc, argv);
    fflush(stdout);
    free(jbuf);
    free_all();
    return rc;
}
