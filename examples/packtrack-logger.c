/* packtrack-logger.c - Shows how to build a command-line tool on packtrack.h:
   a C port of the Go SDK's `packtrack-logger` CLI (same flags, same
   PACKTRACK_* environment variables, same meanings, same exit codes).

     cc -std=c99 -O2 -Wall -Wextra -pedantic -o packtrack-logger examples/packtrack-logger.c -lpthread
     (https: libcurl is loaded at run time; or add -DPACKTRACK_USE_CURL ... -lcurl)

   Environment first, flags override: with PACKTRACK_API_KEY, _BASE_URL,
   _SOURCE_SYSTEM, _WORKFLOW_ID, _ACTOR_TYPE, _ACTOR_ID, _SEVERITY and _STATUS
   exported,   packtrack-logger --message "hello"   sends one event. A flag's
   built-in default never overwrites a value the environment set, and a flag
   given on the command line replaces its variable unread (a bad value there
   does not matter then).

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

   Retries follow the Go CLI: --retries N is N requests in all (0 = the
   default 3), the wait before retry k is min(backoff-initial * 2^(k-1),
   backoff-max) spread by +-jitter, and every retry repeats the same bytes
   with the same Idempotency-Key. The library's own sync retry policy (N
   retries after the first request, full jitter) is different, so the tool
   runs pt_ingest/pt_ingest_batch with max_retries = PT_RETRIES_NONE and
   drives the retries itself; a small HTTP hook (cfg.http) around the
   built-in transport pins the Idempotency-Key of a request across them.
   The differences from the Go tool that remain, each with its reason, are
   listed by --help (DIFFERENCES below) and in the README.

   Input JSON events use the wire format: they are parsed into a pt_event
   (metadata/extra keys become PT_FIELD_RAW fields), validated by the
   library, and every input is read and checked before anything is sent.
   Unknown top-level keys are ignored (--verbose says so). The API key is
   never printed: --verbose shows "key: set (N chars)" at most. */
#define PACKTRACK_IMPLEMENTATION
#include "../packtrack.h"
#if defined(PACKTRACK_NO_SOCKETS)
#error "packtrack-logger sends through the built-in HTTP client (or libcurl): build it without PACKTRACK_NO_SOCKETS"
#endif

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOGGER_VERSION PACKTRACK_VERSION_STRING

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
    const char *help;
} opt_def;

static const opt_def opts[OPT_COUNT] = {
    { "api-key",         "PACKTRACK_API_KEY",         K_STR,  "API key (sent as X-PackTrack-Key; never printed)" },
    { "base-url",        "PACKTRACK_BASE_URL",        K_STR,  "server base URL (default " PT_DEFAULT_BASE_URL ")" },
    { "timeout",         "PACKTRACK_TIMEOUT",         K_DUR,  "timeout of each request (default 15s)" },
    { "retries",         "PACKTRACK_RETRIES",         K_INT,  "requests in all, the first included: 1 = no retry (default 3; 0 = 3)" },
    { "backoff-initial", "PACKTRACK_BACKOFF_INITIAL", K_DUR,  "wait before the first retry, doubled for each next one (default 100ms)" },
    { "backoff-max",     "PACKTRACK_BACKOFF_MAX",     K_DUR,  "longest wait between two requests (default 2s)" },
    { "jitter",          "PACKTRACK_JITTER",          K_FRAC, "spread each wait randomly by +-F of it, 0..1; 0 = exact (default 0.2)" },
    { "user-agent",      "PACKTRACK_USER_AGENT",      K_STR,  "User-Agent; \" packtrack-logger/" LOGGER_VERSION "\" is appended (default packtrack-c/" PACKTRACK_VERSION_STRING ")" },
    { "idempotency-key", "PACKTRACK_IDEMPOTENCY_KEY", K_STR,  "Idempotency-Key header of the request, on every retry (default: a UUID per request)" },
    { "gzip",            "PACKTRACK_GZIP",            K_BOOL, "gzip request bodies" },
    { "verbose",         "PACKTRACK_VERBOSE",         K_BOOL, "say what happens, on stderr" },
    { "dry-run",         "PACKTRACK_DRY_RUN",         K_BOOL, "print the event JSON, send nothing" },
    { "health",          "PACKTRACK_HEALTH",          K_BOOL, "probe GET {base-url}{health-path} and exit (no API key needed)" },
    { "health-enable",   "PACKTRACK_HEALTH_ENABLE",   K_BOOL, "probe the server before sending" },
    { "health-path",     "PACKTRACK_HEALTH_PATH",     K_STR,  "health path (default /api/health)" },
    { "timestamp",       "PACKTRACK_TIMESTAMP",       K_STR,  "RFC 3339 time of the event (default now)" },
    { "source-system",   "PACKTRACK_SOURCE_SYSTEM",   K_STR,  "source.system (required)" },
    { "source-env",      "PACKTRACK_SOURCE_ENV",      K_STR,  "source.env" },
    { "workflow-id",     "PACKTRACK_WORKFLOW_ID",     K_STR,  "workflow.id (required)" },
    { "workflow-name",   "PACKTRACK_WORKFLOW_NAME",   K_STR,  "workflow.name" },
    { "run-id",          "PACKTRACK_RUN_ID",          K_STR,  "workflow.run_id" },
    { "step-id",         "PACKTRACK_STEP_ID",         K_STR,  "workflow.step_id" },
    { "actor-type",      "PACKTRACK_ACTOR_TYPE",      K_STR,  "actor.type (required)" },
    { "actor-id",        "PACKTRACK_ACTOR_ID",        K_STR,  "actor.id (required)" },
    { "actor-display",   "PACKTRACK_ACTOR_DISPLAY",   K_STR,  "actor.display_name" },
    { "severity",        "PACKTRACK_SEVERITY",        K_STR,  "debug|info|warn|error (required)" },
    { "status",          "PACKTRACK_STATUS",          K_STR,  "running|success|error|ok|failed|... (required)" },
    { "message",         "PACKTRACK_MESSAGE",         K_STR,  "message (required)" },
    { "metadata",        "PACKTRACK_METADATA",        K_STR,  "metadata as a JSON object" },
    { "extra",           "PACKTRACK_EXTRA",           K_STR,  "extra as a JSON object" },
    { "file",            "PACKTRACK_FILE",            K_STR,  "read events from a JSON file (object or array; - = stdin)" },
    { "stdin",           "PACKTRACK_STDIN",           K_BOOL, "read events from standard input" },
    { "ndjson",          "PACKTRACK_NDJSON",          K_BOOL, "input is one JSON event per line" },
    { "async",           "PACKTRACK_ASYNC",           K_BOOL, "queue events (pt_track_json) and drain on close" },
    { "batch-size",      "PACKTRACK_BATCH_SIZE",      K_INT,  "events per request (default 100)" },
    { "flush-interval",  "PACKTRACK_FLUSH_INTERVAL",  K_DUR,  "async flush interval (default 1s)" },
    { "queue-capacity",  "PACKTRACK_QUEUE_CAPACITY",  K_INT,  "async queue bound in events (default 10000)" },
};

/* The Go CLI's request policy (its defaults), filled from flags/env by apply_config. */
static int cli_attempts = 3;                 /* --retries: requests in all */
static int cli_backoff_initial_ms = 100;
static int cli_backoff_max_ms = 2000;
static double cli_jitter = 0.2;              /* +- fraction of each wait */
static const char *cli_idem_key;             /* --idempotency-key, NULL = one UUID per request */

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
/* This file compiles the implementation, so it parses booleans, counts and
   Go-style durations exactly as pt_config_from_env() does, with the
   library's own parsers (case-insensitive 1/true/yes/y/on and
   0/false/no/n/off; "1.5s", "250ms", "1m30s"; a bare number is refused: a
   unit is required). */
static int parse_bool(const char *v, int *out) { return pt__parse_bool(v, out); }
static int parse_int(const char *v, long lo, long hi, int *out) {
    long long x;
    if (pt__parse_int(v, lo, hi, &x) != 0) return -1;
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
/* Running out of input is its own error: a cut-off file must not be blamed
   on the character that would have come next. */
#define J_TRUNCATED "unexpected end of input: the JSON is truncated"
#define JEND(p, e) do { if ((p) >= (e)) JFAIL(J_TRUNCATED, p); } while (0)
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
    JFAIL(J_TRUNCATED " (inside a string)", p);
}
static const char *j_value(const char *p, const char *e, int depth) {
    if (depth > 256) JFAIL("nested too deeply", p);
    p = j_ws(p, e);
    JEND(p, e);
    if (*p == '"') return j_string(p, e);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        int obj = *p == '{';
        p = j_ws(p + 1, e);
        JEND(p, e);
        if (*p == close) return p + 1;
        for (;;) {
            if (obj) {
                JEND(p, e);
                if (*p != '"') JFAIL("expected a string key", p);
                if (!(p = j_string(p, e))) return NULL;
                p = j_ws(p, e);
                JEND(p, e);
                if (*p != ':') JFAIL("expected ':'", p);
                p++;
            }
            if (!(p = j_value(p, e, depth + 1))) return NULL;
            p = j_ws(p, e);
            JEND(p, e);
            if (*p == ',') { p = j_ws(p + 1, e); continue; }
            if (*p == close) return p + 1;
            JFAIL(obj ? "expected ',' or '}'" : "expected ',' or ']'", p);
        }
    }
    if (*p == '-' || (*p >= '0' && *p <= '9')) {
        if (*p == '-') p++;
        if (p < e && *p == '0') p++;
        else if (p < e && *p >= '1' && *p <= '9') while (p < e && *p >= '0' && *p <= '9') p++;
        else JFAIL(p >= e ? J_TRUNCATED : "bad number", p);
        if (p < e && *p == '.') {
            const char *q = ++p;
            while (p < e && *p >= '0' && *p <= '9') p++;
            if (p == q) JFAIL(p >= e ? J_TRUNCATED : "bad number", p);
        }
        if (p < e && (*p == 'e' || *p == 'E')) {
            const char *q;
            p++;
            if (p < e && (*p == '+' || *p == '-')) p++;
            q = p;
            while (p < e && *p >= '0' && *p <= '9') p++;
            if (p == q) JFAIL(p >= e ? J_TRUNCATED : "bad number", p);
        }
        return p;
    }
    {   /* "tru" at the very end is a cut-off true, not a bad character */
        static const char *const lit[3] = { "true", "false", "null" };
        int i;
        for (i = 0; i < 3; i++)
            if ((size_t)(e - p) < strlen(lit[i]) && !memcmp(p, lit[i], (size_t)(e - p))) JFAIL(J_TRUNCATED, e);
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
          "Every flag falls back to its environment variable; a flag given on the command line wins\n"
          "(its variable is then not read at all).\n\n", f);
    for (i = 0; i < OPT_COUNT; i++) {
        const char *arg = opts[i].kind == K_BOOL ? "" : opts[i].kind == K_STR ? " S" : opts[i].kind == K_INT ? " N" : opts[i].kind == K_FRAC ? " F" : " DUR";
        char left[40];
        snprintf(left, sizeof left, "--%s%s", opts[i].flag, arg);
        fprintf(f, "  %-24s %-52s [%s]\n", left, opts[i].help, opts[i].env);
    }
    fputs("  -h, --help               this text\n"
          "  --version                print the version\n\n"
          "Durations: 250ms, 1.5s, 1m30s (a unit is required). Booleans: --gzip or --gzip=false (1/0, true/false, yes/no, on/off).\n"
          "Exit codes: 0 ok, 1 bad arguments, 2 non-retryable error (HTTP 400/401...),\n"
          "            3 retries exhausted (5xx/429/408/timeouts/connection refused), 4 input error.\n"
          "Retries: --retries N sends at most N requests. The wait before retry k is\n"
          "  min(backoff-initial * 2^(k-1), backoff-max), spread by +-jitter, at least the server's Retry-After;\n"
          "  every retry sends the same bytes with the same Idempotency-Key.\n"
          "\n"
          "Examples:\n"
          "  export PACKTRACK_API_KEY=... PACKTRACK_BASE_URL=http://127.0.0.1:8080\n"
          "  export PACKTRACK_SOURCE_SYSTEM=ci PACKTRACK_WORKFLOW_ID=nightly PACKTRACK_ACTOR_TYPE=job \\\n"
          "         PACKTRACK_ACTOR_ID=runner-1 PACKTRACK_SEVERITY=info PACKTRACK_STATUS=success\n"
          "  packtrack-logger --message \"build finished\" --metadata '{\"duration_ms\":8123}'\n"
          "  packtrack-logger --status error --severity error --message \"tests failed\" --retries 5 --backoff-max 10s\n"
          "  packtrack-logger --file events.json                 # one event object or an array of them\n"
          "  tail -n 100 events.ndjson | packtrack-logger --stdin --ndjson --gzip\n"
          "  packtrack-logger --message \"deploy 42\" --idempotency-key deploy-42   # a rerun is a repeat, not a new event\n"
          "  packtrack-logger --dry-run --message \"what would be sent?\"\n"
          "  packtrack-logger --health && echo up\n"
          "\n"
          "Differences from the Go packtrack-logger, each kept on purpose:\n"
          "  - --status takes any non-empty string. Go accepts only ok|failed|skipped|timeout|retrying|unknown,\n"
          "    which refuses the server's own running|success|error.\n"
          "  - --run-id is optional, as in the event schema (Go requires it for a single event).\n"
          "  - A value in effect that cannot be parsed or is out of range (PACKTRACK_TIMEOUT=soon, --jitter 5,\n"
          "    --retries -1) is exit 1 naming it. Go silently falls back to the default (or clamps), which\n"
          "    hides the typo.\n"
          "  - Retries wait at least a server's Retry-After (Go ignores it), retry 408 like 429/5xx (Go stops),\n"
          "    resend the same body (Go reuses a request whose body the first attempt consumed) and draw the\n"
          "    jitter at random (Go's client always waits the midpoint, so its --jitter has no effect).\n"
          "  - --idempotency-key with --file/--stdin: the input must fit in one request, else exit 1. Go sends\n"
          "    the same key with every chunk, so the server would drop all chunks but the first as repeats.\n"
          "    With --async it is refused (the pipeline gives each batch its own key). For a single event it\n"
          "    is also the event's idempotency_key.\n"
          "  - An input with no events is exit 4 (input error). Go sends an empty batch.\n"
          "  - --health needs no API key (without one it sends no X-PackTrack-Key). An unhealthy server is exit 2\n"
          "    (refused: 4xx) or 3 (unreachable, 5xx/429/408); Go requires a key and exits 1, its code for bad\n"
          "    arguments.\n"
          "  - --dry-run prints the JSON it would send, one event per line (Go prints nothing).\n"
          "  - --async retries are bounded by time (the sum of the waits --retries allows), with full jitter:\n"
          "    the library's pipeline retries by time, not by count.\n"
          "  - --health-enable (also a flag here; Go reads only the variable) probes the server before sending\n"
          "    and stops on an unhealthy answer; in Go the setting has no effect on sends.\n"
          "  - --file - reads standard input. Without --user-agent the User-Agent is packtrack-c/VERSION.\n"
          "  - https:// works in the plain build where libcurl (libcurl4) is installed: it is loaded at run time;\n"
          "    -DPACKTRACK_USE_CURL (link -lcurl) links it instead; Windows uses WinHTTP.\n", f);
}

static int parse_args(int argc, char **argv) {
    int i, j, only_args = 0;
    /* Environment first: every option has its variable, read here and
       parsed only if no flag replaces it. */
    for (j = 0; j < OPT_COUNT; j++) {
        const char *v = getenv(opts[j].env);
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
        val[j] = *v ? v : NULL;               /* --flag "" clears the variable, as in Go */
        from_flag[j] = 1;
    }
    /* Syntax of the boolean values in effect; the others are checked in apply_config. */
    for (j = 0; j < OPT_COUNT; j++) {
        int b;
        if (val[j] && opts[j].kind == K_BOOL && parse_bool(val[j], &b))
            return fail(EXIT_ARGS, "%s%s: \"%s\" is not a boolean", from_flag[j] ? "--" : "", from_flag[j] ? opts[j].flag : opts[j].env, val[j]);
    }
    return EXIT_OK;
}
static int on(int id) { int b = 0; return val[id] && !parse_bool(val[id], &b) && b; }
/* "--timeout" or "PACKTRACK_TIMEOUT": where the value in effect came from. */
static const char *src(int id) {
    static char buf[64];
    if (!from_flag[id]) return opts[id].env;
    snprintf(buf, sizeof buf, "--%s", opts[id].flag);
    return buf;
}

static void on_log(pt_log_level level, const char *msg, void *user) {
    static const char *names[] = { "debug", "info", "warn", "error" };
    (void)user;
    fprintf(stderr, "packtrack-logger: [packtrack %s] %s\n", names[level & 3], msg);
}

/* The values in effect (flag, else environment) into cfg and the request
   policy, parsed with the library's own parsers. Only these are parsed: a bad
   variable that a flag replaces is never looked at. */
static int apply_config(pt_config *cfg) {
    int j;
    cfg->timeout_ms = 15000;                  /* the Go CLI's default */
    for (j = 0; j < OPT_COUNT; j++) {
        const char *v = val[j];
        int n, b;
        if (!v) continue;
        switch (j) {
        case OPT_API_KEY: cfg->api_key = v; break;
        case OPT_BASE_URL: cfg->base_url = v; break;
        case OPT_HEALTH_PATH: cfg->health_path = v; break;
        case OPT_USER_AGENT: {                /* Go appends its own name and version */
            size_t len = strlen(v) + sizeof " packtrack-logger/" LOGGER_VERSION;
            char *ua = (char *)xmalloc(len);
            snprintf(ua, len, "%s packtrack-logger/%s", v, LOGGER_VERSION);
            cfg->user_agent = ua;
            break;
        }
        case OPT_IDEM_KEY: {
            const char *q;
            for (q = v; *q; q++) if ((unsigned char)*q < 0x21 || (unsigned char)*q > 0x7e) break;
            if (*q || strlen(v) > 255) return fail(EXIT_ARGS, "%s: an Idempotency-Key is 1 to 255 printable ASCII characters, no spaces", src(j));
            cli_idem_key = v;
            break;
        }
        case OPT_GZIP:
            if (parse_bool(v, &b)) return fail(EXIT_ARGS, "%s: \"%s\" is not a boolean", src(j), v);
            cfg->enable_gzip = b;
            break;
        case OPT_RETRIES:
            if (parse_int(v, 0, 1000, &n)) return fail(EXIT_ARGS, "%s: \"%s\" is not a request count 0..1000", src(j), v);
            cli_attempts = n == 0 ? 3 : n;    /* Go: 0 means the default, 3 */
            break;
        case OPT_BATCH_SIZE:
        case OPT_QUEUE_CAPACITY:
            if (parse_int(v, 1, 100000000, &n)) return fail(EXIT_ARGS, "%s: \"%s\" is not a positive count", src(j), v);
            if (j == OPT_BATCH_SIZE) cfg->batch_size = n; else cfg->queue_capacity = n;
            break;
        case OPT_TIMEOUT:
        case OPT_FLUSH_INTERVAL:
        case OPT_BACKOFF_INITIAL:
        case OPT_BACKOFF_MAX:
            if (parse_duration_ms(v, 0, &n)) return fail(EXIT_ARGS, "%s: \"%s\" is not a duration (e.g. 10s, 250ms, 1m30s)", src(j), v);
            if (n == 0) break;                /* Go: 0 means the default */
            if (j == OPT_TIMEOUT) cfg->timeout_ms = n;
            else if (j == OPT_FLUSH_INTERVAL) cfg->flush_interval_ms = n;
            else if (j == OPT_BACKOFF_INITIAL) cli_backoff_initial_ms = n;
            else cli_backoff_max_ms = n;
            break;
        case OPT_JITTER: {
            char *end;
            double x;
            if (!parse_bool(v, &b)) { cli_jitter = b ? 0.2 : 0; break; }   /* the library's PACKTRACK_JITTER also takes a boolean */
            x = strtod(v, &end);
            if (end == v || *end || !(x >= 0 && x <= 1)) return fail(EXIT_ARGS, "%s: \"%s\" is not a fraction 0..1", src(j), v);
            cli_jitter = x;
            break;
        }
        default: break;
        }
    }
    /* Sync sends run one request per call; the retries are the tool's (send_with_retries). */
    cfg->max_retries = PT_RETRIES_NONE;
    cfg->backoff_base_ms = cli_backoff_initial_ms;
    cfg->backoff_max_ms = cli_backoff_max_ms < cli_backoff_initial_ms ? cli_backoff_initial_ms : cli_backoff_max_ms;
    cfg->disable_jitter = cli_jitter == 0;
    /* An explicit --gzip compresses every body, however small. */
    if (cfg->enable_gzip) cfg->compress_min_bytes = 1;
    if (verbose) { cfg->logger = on_log; cfg->log_level = PT_LOG_DEBUG; }
    return EXIT_OK;
}

/* ---- the transport hook: the built-in (or curl) transport, with the
   Idempotency-Key of the request being retried pinned, and no
   X-PackTrack-Key for a --health probe made without a key. Sync mode only
   (one request at a time, on this thread). ---------------------------------- */
static const char *hook_key;      /* Idempotency-Key for the current request, NULL = the library's */
static int hook_no_api_key;
static pt__conn hook_conn;        /* one kept-alive connection */
static int hook_conn_used;
static pt_result cli_http(const pt_http_request *req, pt_http_response *resp, void *user) {
    pt_http_header h[16];
    pt_http_request r = *req;
    size_t i, n = 0;
    (void)user;
    for (i = 0; i < req->header_count && n < 14; i++) {
        if (hook_key && ieq(req->headers[i].name, "Idempotency-Key")) continue;
        if (hook_no_api_key && ieq(req->headers[i].name, "X-PackTrack-Key")) continue;
        h[n++] = req->headers[i];
    }
    if (hook_key) { h[n].name = "Idempotency-Key"; h[n++].value = hook_key; }
    r.headers = h;
    r.header_count = n;
    if (!hook_conn_used) { pt__conn_init(&hook_conn); hook_conn_used = 1; }
    return pt__http_native(&r, resp, &hook_conn);   /* the library's choice for the URL's scheme */
}
static void hook_release(void) { if (hook_conn_used) { pt__conn_release(&hook_conn); hook_conn_used = 0; } }

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
    fprintf(stderr, "packtrack-logger: %s: %s: %s (HTTP %d, %d request(s), %s)\n", what, pt_strerror(r),
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

/* ---- sync sends, with the Go CLI's retry policy ------------------------------ */
static uint64_t rng_state;
static double rand01(void) {                  /* xorshift64*, [0, 1) */
    if (!rng_state) rng_state = (uint64_t)pt_now_ms() * 0x9E3779B97F4A7C15ull ^ (uint64_t)(size_t)&rng_state ^ 0x2545F4914F6CDD1Dull;
    rng_state ^= rng_state >> 12; rng_state ^= rng_state << 25; rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}
/* The wait before retry k (1-based): min(initial * 2^(k-1), max), spread
   uniformly over [d * (1 - jitter), d * (1 + jitter)]. */
static int64_t backoff_ms(int k) {
    double d = cli_backoff_initial_ms;
    int i;
    for (i = 1; i < k && d < cli_backoff_max_ms; i++) d *= 2;
    if (d > cli_backoff_max_ms) d = cli_backoff_max_ms;
    if (cli_jitter > 0) d = d * (1 - cli_jitter) + rand01() * d * 2 * cli_jitter;
    return (int64_t)(d + 0.5);
}
static void sleep_ms(int64_t ms) {
    int64_t end = pt_now_ms() + ms;
    while (pt_now_ms() < end) pt__sleep_ms((int)PT__MIN(end - pt_now_ms(), (int64_t)50));
}

/* One request (pt_ingest for one event, else pt_ingest_batch) sent up to
   cli_attempts times, each time with the same Idempotency-Key. */
static pt_result send_with_retries(pt_client *cl, const pt_event *ev, size_t n, pt_error *err) {
    char key[37];
    int attempt;
    pt_result r = PT_OK;
    if (cli_idem_key) hook_key = cli_idem_key;
    else { pt__uuid4(key); key[36] = 0; hook_key = key; }
    for (attempt = 1; attempt <= cli_attempts; attempt++) {
        int64_t wait;
        r = n == 1 ? pt_ingest(cl, ev, err) : pt_ingest_batch(cl, ev, n, err);
        if (r == PT_OK || !err->retryable) break;
        if (attempt == cli_attempts) {
            if (cli_attempts > 1) {
                char m[sizeof err->message];
                if (r == PT_ERR_HTTP) snprintf(m, sizeof m, "server answered HTTP %d to all %d requests", err->http_status, attempt);
                else snprintf(m, sizeof m, "all %d requests failed; the last: %.200s", attempt, err->message);
                memcpy(err->message, m, sizeof m);
                r = PT_ERR_RETRIES_EXHAUSTED;
            }
            break;
        }
        wait = backoff_ms(attempt);
        if (err->retry_after_ms > wait) wait = err->retry_after_ms;
        say("request %d of %d failed (%s, HTTP %d); retry in %lld ms", attempt, cli_attempts, pt_strerror(r), err->http_status, (long long)wait);
        sleep_ms(wait);
    }
    err->attempts = attempt > cli_attempts ? cli_attempts : attempt;
    hook_key = NULL;
    return r;
}

/* Events l[i..] that go in one request: up to batch_size events and
   batch_max_bytes of JSON, at least one. */
static size_t chunk_at(const ev_list *l, size_t i, int max_n, size_t max_bytes, size_t *bytes) {
    size_t k = 0;
    *bytes = 2;
    while (i + k < l->n && (int)k < max_n && (k == 0 || *bytes + l->json_len[i + k] + 1 <= max_bytes)) *bytes += l->json_len[i + k++] + 1;
    return k;
}
/* Requests that l takes with the client's batch limits (no client, as in a
   dry run: the limits cfg asks for, else the library's defaults). */
static size_t count_requests(pt_client *cl, const pt_config *cfg, const ev_list *l, int *batch_size) {
    const pt_config *rc = cl ? pt_client_config(cl) : cfg;
    size_t i = 0, nreq = 0, bytes, max_bytes = rc->batch_max_bytes ? rc->batch_max_bytes : (size_t)1 << 20;
    *batch_size = rc->batch_size ? rc->batch_size : 100;
    if (l->n == 1) return 1;
    while (i < l->n) { i += chunk_at(l, i, *batch_size, max_bytes, &bytes); nreq++; }
    return nreq;
}

static int send_sync(pt_client *cl, ev_list *l) {
    const pt_config *rc = pt_client_config(cl);
    size_t i = 0, sent = 0;
    pt_error err;
    pt_result r;
    if (l->n == 1) {
        r = send_with_retries(cl, &l->ev[0], 1, &err);
        if (r != PT_OK) return report_error("ingest failed", r, &err);
        say("sent 1 event (HTTP %d, %d request(s))", err.http_status, err.attempts);
        return EXIT_OK;
    }
    while (i < l->n) {
        size_t bytes, k = chunk_at(l, i, rc->batch_size, rc->batch_max_bytes, &bytes);
        r = send_with_retries(cl, &l->ev[i], k, &err);
        if (r != PT_OK) {
            if (sent) fprintf(stderr, "packtrack-logger: %lu of %lu events were delivered before the failure\n", (unsigned long)sent, (unsigned long)l->n);
            return report_error("batch ingest failed", r, &err);
        }
        say("sent %lu events, %lu bytes of JSON (HTTP %d, %d request(s))", (unsigned long)k, (unsigned long)bytes, err.http_status, err.attempts);
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

/* Reads --file/--stdin into events. */
static int read_input(ev_list *events) {
    const char *why, *name = val[OPT_FILE] && strcmp(val[OPT_FILE], "-") != 0 ? val[OPT_FILE] : NULL;
    char *buf;
    size_t n = 0;
    int rc;
    if (name) {
        FILE *f = fopen(name, "rb");
        if (!f) return fail(EXIT_INPUT, "cannot open %s: %s", name, strerror(errno));
        buf = read_all(f, &n);
        if (!buf) rc = fail(EXIT_INPUT, "cannot read %s: %s", name, strerror(errno));
        fclose(f);
        if (!buf) return rc;
    } else {
        buf = read_all(stdin, &n);
        if (!buf) return fail(EXIT_INPUT, "cannot read standard input: %s", strerror(errno));
    }
    say("read %lu bytes from %s", (unsigned long)n, name ? name : "standard input");
    why = parse_input(buf, n, on(OPT_NDJSON), events);
    free(buf);
    if (why) return fail(EXIT_INPUT, "input error: %s", why);
    if ((rc = validate(events, 1)) != EXIT_OK) return rc;
    /* Nothing to send is a mistake worth a non-zero exit (an empty file, a
       producer that wrote nothing), not a silent success. */
    if (!events->n) return fail(EXIT_INPUT, "input error: no events in %s (%s)", name ? name : "standard input",
                                n ? "only blank lines or an empty array" : "it is empty");
    say("%lu event(s) in the input", (unsigned long)events->n);
    return EXIT_OK;
}

/* The pipeline retries by time, not by count: give it the sum of the waits
   --retries allows (each at its longest), plus time for the failed requests
   themselves to come back. Returns the close deadline. */
static int async_budget(pt_config *cfg) {
    int64_t budget = 0, close_ms;
    int k, retries = cli_attempts - 1;
    for (k = 1; k <= retries; k++) budget += backoff_ms(k) + (int64_t)((double)backoff_ms(k) * cli_jitter);
    budget += (int64_t)retries * 200;    /* a loaded machine can take tens of ms per round trip */
    cfg->retry_max_elapsed_ms = budget > 0 ? budget : 1;
    cfg->breaker_threshold = 1000000;    /* a one-shot run has no use for a 30 s breaker cool-down */
    close_ms = budget + (int64_t)cli_attempts * (cfg->timeout_ms ? cfg->timeout_ms : 15000) + 2000;
    return close_ms < 5000 ? 5000 : close_ms > INT_MAX ? INT_MAX : (int)close_ms;
}

static int run(int argc, char **argv) {
    pt_config cfg;
    pt_client *cl = NULL;
    pt_error err;
    pt_result r;
    ev_list events;
    int rc, dry, from_input, health, async, close_ms = 0;
    memset(&cfg, 0, sizeof cfg);
    memset(&events, 0, sizeof events);

    if ((rc = parse_args(argc, argv)) != EXIT_OK) return rc;
    verbose = on(OPT_VERBOSE);
    /* Not pt_config_from_env(): the Go CLI's PACKTRACK_RETRIES and
       PACKTRACK_JITTER mean something else than the library's, and a variable
       that a flag replaces must not be parsed at all. */
    if ((rc = apply_config(&cfg)) != EXIT_OK) return rc;
    dry = on(OPT_DRY_RUN);
    health = on(OPT_HEALTH);
    async = on(OPT_ASYNC) && !health;
    from_input = val[OPT_FILE] != NULL || on(OPT_STDIN);

    if (health || on(OPT_HEALTH_ENABLE)) { if (!cfg.health_path) cfg.health_path = "/api/health"; }
    else cfg.health_path = NULL;      /* no probe unless asked for */
    say("base url: %s", cfg.base_url ? cfg.base_url : PT_DEFAULT_BASE_URL);
    if (cfg.api_key) say("key: set (%lu chars)", (unsigned long)strlen(cfg.api_key));
    else say("key: not set");
    say("requests: at most %d per send; timeout %d ms; backoff %d ms doubling to %d ms, jitter +-%.2f",
        cli_attempts, cfg.timeout_ms, cli_backoff_initial_ms, cli_backoff_max_ms, cli_jitter);
    if (async && cli_idem_key)
        return fail(EXIT_ARGS, "%s cannot be used with --async: the pipeline cuts the batches and gives each its own key", src(OPT_IDEM_KEY));
    if (!dry && !strncmp(cfg.base_url ? cfg.base_url : PT_DEFAULT_BASE_URL, "https:", 6)) {
        pt_error terr;   /* the library decides: libcurl loaded at run time, linked, or WinHTTP */
        if (pt__tls_ready(&cfg, &terr) != PT_OK) return fail(EXIT_ARGS, "%s", terr.message);
    }

    if (health) {
        cfg.manual_mode = 1;
        cfg.http = cli_http;
        if (!cfg.api_key) { cfg.api_key = "-"; hook_no_api_key = 1; }   /* the probe goes out without a key */
        if ((r = pt_client_new(&cfg, &cl, &err)) != PT_OK) return fail(new_failed(r), "%s", err.message);
        say("health: GET %s%s", cfg.health_path, hook_no_api_key ? " (no API key)" : "");
        rc = health_probe(cl);
        if (rc == EXIT_OK) printf("healthy\n");
        pt_close(cl, 1000, NULL);
        pt_client_free(cl);
        hook_release();
        return rc;
    }
    if (!dry) {
        if (!cfg.api_key) return fail(EXIT_ARGS, "missing --api-key or PACKTRACK_API_KEY");
        if (async) close_ms = async_budget(&cfg);
        else { cfg.manual_mode = 1; cfg.http = cli_http; }   /* sync only: no flush thread needed */
        if ((r = pt_client_new(&cfg, &cl, &err)) != PT_OK) return fail(new_failed(r), "%s", err.message);
        say("mode: %s; gzip %s", async ? "async" : "sync", cfg.enable_gzip ? "on" : "off");
    }

    if (from_input) {
        if ((rc = read_input(&events)) != EXIT_OK) goto done;
        if (cli_idem_key) {
            int bs;
            size_t nreq = count_requests(cl, &cfg, &events, &bs);
            if (nreq > 1) {
                rc = fail(EXIT_ARGS, "%s names one request, but these %lu events need %lu requests (--batch-size %d): "
                          "raise --batch-size or leave the key out (each request then gets its own)",
                          src(OPT_IDEM_KEY), (unsigned long)events.n, (unsigned long)nreq, bs);
                goto done;
            }
        }
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
    if (async) { rc = send_async(cl, &events, close_ms); pt_client_free(cl); cl = NULL; }
    else rc = send_sync(cl, &events);
done:
    if (cl) { pt_close(cl, 1000, NULL); pt_client_free(cl); }
    hook_release();
    return rc;
}

int main(int argc, char **argv) {
    int rc = run(argc, argv);
    fflush(stdout);
    free(jbuf);
    free_all();
    return rc;
}
