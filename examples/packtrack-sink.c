/* packtrack-sink.c - Shows how to see events flowing with no PackTrack
   account: a tiny local ingest server that prints every event it receives on
   one line, and a summary when it stops.

     cc -std=c99 -O2 -Wall -Wextra -pedantic -o packtrack-sink examples/packtrack-sink.c -lpthread -lz

   Usage: packtrack-sink [--port N | N] [--max-events N] [--duration S] [--status N] [--quiet] [--verbose]
     --port 0 (the default) picks a free port. The first line printed is always
       "listening on http://127.0.0.1:PORT" (flushed), so scripts can read it.
     POST .../api/ingest   one event object or an array of them; gzip bodies are
                           inflated; answers 200 {"ok":true} (or --status N, e.g. 503)
                           and 401 without an X-PackTrack-Key header (any value will do;
                           the key is never printed).
     GET  .../api/health   200 {"ok":true}
   Stops on SIGINT/SIGTERM, after --max-events N events or --duration S seconds,
   printing "summary: ..." (requests, events, bytes, distinct idempotency keys)
   and exiting 0. HTTP/1.1 keep-alive, Content-Length or chunked request bodies,
   Expect: 100-continue. One thread per connection; bound to 127.0.0.1 only.
   A test and demo tool, not a production server. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>
#include <poll.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <zlib.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

#define MAX_HEAD       (64 * 1024)
#define MAX_BODY       ((size_t)64 * 1024 * 1024)    /* as sent */
#define MAX_INFLATED   ((size_t)256 * 1024 * 1024)   /* after gunzip */
#define IDLE_MS        60000
#define MSG_SHOWN      160                           /* message characters printed per event */

static volatile sig_atomic_t g_signal;
static int g_stop;                 /* under g_mu */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_active, g_done;       /* connection threads alive; summary printed */
static unsigned long long g_requests, g_ingest, g_health, g_events, g_bytes, g_wire, g_keyed, g_rejected;
static long long g_max_events = -1;
static int g_status = 200, g_quiet, g_verbose;

/* ---- the set of idempotency keys (open addressing) ---- */
static char **g_keys;
static size_t g_kcap, g_kused;
static unsigned long hash(const char *s, size_t n) {
    unsigned long h = 2166136261u;
    while (n--) { h ^= (unsigned char)*s++; h *= 16777619u; }
    return h;
}
static void key_add(const char *k, size_t n) {   /* g_mu held */
    size_t i;
    if (g_kused * 2 >= g_kcap) {
        size_t cap = g_kcap ? g_kcap * 2 : 1024, j;
        char **nk = (char **)calloc(cap, sizeof *nk);
        if (!nk) return;
        for (j = 0; j < g_kcap; j++) if (g_keys[j]) {
            for (i = hash(g_keys[j], strlen(g_keys[j])) & (cap - 1); nk[i]; i = (i + 1) & (cap - 1)) {}
            nk[i] = g_keys[j];
        }
        free(g_keys); g_keys = nk; g_kcap = cap;
    }
    for (i = hash(k, n) & (g_kcap - 1); g_keys[i]; i = (i + 1) & (g_kcap - 1))
        if (strlen(g_keys[i]) == n && !memcmp(g_keys[i], k, n)) return;
    if ((g_keys[i] = (char *)malloc(n + 1)) != NULL) { memcpy(g_keys[i], k, n); g_keys[i][n] = 0; g_kused++; }
}

/* ---- a tolerant JSON walker: validates, and finds fields by name ---- */
static const char *ws(const char *p, const char *e) {
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}
static const char *skip_string(const char *p, const char *e) {
    for (p++; p < e; p++) {
        if (*p == '"') return p + 1;
        if ((unsigned char)*p < 0x20) return NULL;
        if (*p == '\\' && ++p >= e) return NULL;
    }
    return NULL;
}
static const char *skip_value(const char *p, const char *e, int depth) {
    p = ws(p, e);
    if (p >= e || depth > 200) return NULL;
    if (*p == '"') return skip_string(p, e);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        int obj = *p == '{';
        p = ws(p + 1, e);
        if (p < e && *p == close) return p + 1;
        for (;;) {
            if (obj) {
                if (p >= e || *p != '"' || !(p = skip_string(p, e))) return NULL;
                p = ws(p, e);
                if (p >= e || *p != ':') return NULL;
                p++;
            }
            if (!(p = skip_value(p, e, depth + 1))) return NULL;
            p = ws(p, e);
            if (p < e && *p == ',') { p = ws(p + 1, e); continue; }
            if (p < e && *p == close) return p + 1;
            return NULL;
        }
    }
    /* numbers and literals: a run of their characters */
    {
        const char *q = p;
        while (p < e && *p && strchr("+-.0123456789eEtruefalsn", *p)) p++;
        return p > q ? p : NULL;
    }
}
/* In the object [p, e), the value of member `name`, or NULL. */
static const char *member(const char *p, const char *e, const char *name, const char **ve) {
    size_t n = strlen(name);
    if (p >= e || *p != '{') return NULL;
    p = ws(p + 1, e);
    while (p < e && *p == '"') {
        const char *k = p, *ke, *v;
        if (!(ke = p = skip_string(p, e))) return NULL;
        p = ws(p, e);
        if (p >= e || *p != ':') return NULL;
        v = ws(p + 1, e);
        if (!(p = skip_value(v, e, 0))) return NULL;
        if ((size_t)(ke - k) == n + 2 && !memcmp(k + 1, name, n)) { *ve = p; return v; }
        p = ws(p, e);
        if (p < e && *p == ',') p = ws(p + 1, e);
    }
    return NULL;
}
static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}
/* Appends a readable form of the value [v, ve) (strings unquoted, escapes
   and control characters made visible), at most max characters. */
static void put_value(char **o, char *end, const char *v, const char *ve, size_t max) {
    char *q = *o;
    size_t shown = 0;
    if (!v) { if (q < end) *q++ = '-'; *o = q; return; }
    if (*v == '"') { v++; ve--; }
    while (v < ve && q + 8 < end) {
        unsigned char c = (unsigned char)*v;
        if (shown >= max) { memcpy(q, "...", 3); q += 3; break; }
        if (c == '\\' && v + 1 < ve) {
            char x = v[1];
            if (x == 'n' || x == 'r' || x == 't') { *q++ = '\\'; *q++ = x; }
            else if (x == 'u' && ve - v >= 6) {       /* \uXXXX (and surrogate pairs) as UTF-8 */
                unsigned cp = 0, lo = 0;
                int i, ok = 1;
                for (i = 2; i < 6; i++) { int h = hexval(v[i]); if (h < 0) ok = 0; cp = cp * 16 + (unsigned)(h < 0 ? 0 : h); }
                v += 6;
                if (ok && cp >= 0xD800 && cp <= 0xDBFF && ve - v >= 6 && v[0] == '\\' && v[1] == 'u') {
                    for (i = 2; i < 6; i++) { int h = hexval(v[i]); lo = lo * 16 + (unsigned)(h < 0 ? 0 : h); }
                    if (lo >= 0xDC00 && lo <= 0xDFFF) { cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00); v += 6; }
                }
                if (!ok || cp < 0x20 || (cp >= 0xD800 && cp <= 0xDFFF)) cp = cp < 0x20 ? ' ' : 0xFFFD;
                if (cp < 0x80) *q++ = (char)cp;
                else if (cp < 0x800) { *q++ = (char)(0xC0 | (cp >> 6)); *q++ = (char)(0x80 | (cp & 0x3F)); }
                else if (cp < 0x10000) { *q++ = (char)(0xE0 | (cp >> 12)); *q++ = (char)(0x80 | ((cp >> 6) & 0x3F)); *q++ = (char)(0x80 | (cp & 0x3F)); }
                else { *q++ = (char)(0xF0 | (cp >> 18)); *q++ = (char)(0x80 | ((cp >> 12) & 0x3F)); *q++ = (char)(0x80 | ((cp >> 6) & 0x3F)); *q++ = (char)(0x80 | (cp & 0x3F)); }
                shown++;
                continue;
            }
            else *q++ = x;
            v += 2; shown++;
            continue;
        }
        if (c < 0x20 || c == 0x7f) { *q++ = ' '; v++; shown++; continue; }
        *q++ = (char)c; v++;
        if ((c & 0xC0) != 0x80) shown++;     /* count characters, not bytes */
    }
    *o = q;
}
static void put_str(char **o, char *end, const char *s) {
    size_t n = strlen(s);
    if (*o + n < end) { memcpy(*o, s, n); *o += n; }
}
static const char *path2(const char *obj, const char *e, const char *a, const char *b, const char **ve) {
    const char *x, *xe, *v = member(obj, e, a, &xe);
    if (!v) return NULL;
    if (!b) { *ve = xe; return v; }
    x = member(v, xe, b, ve);
    return x;
}

/* One event -> one line. g_mu held. */
static void print_event(const char *obj, const char *e) {
    char line[1024], *o = line, *end = line + sizeof line - 2;   /* room for "\n" and NUL */
    const char *v, *ve = NULL;
    static const struct { const char *label, *a, *b; size_t max; } f[] = {
        { "",          "timestamp", NULL,     32 },
        { " ",         "severity",  NULL,     8 },
        { " source=",  "source",    "system", 48 },
        { " workflow=","workflow",  "id",     48 },
        { " actor=",   "actor",     "type",   32 },
        { "/",         "actor",     "id",     48 },
        { " status=",  "status",    NULL,     24 },
        { " msg=",     "message",   NULL,     MSG_SHOWN },
    };
    size_t i;
    for (i = 0; i < sizeof f / sizeof f[0]; i++) {
        put_str(&o, end, f[i].label);
        v = path2(obj, e, f[i].a, f[i].b, &ve);
        if (f[i].max == MSG_SHOWN && o < end) *o++ = '"';
        put_value(&o, end, v, v ? ve : NULL, f[i].max);
        if (f[i].max == MSG_SHOWN && o < end) *o++ = '"';
    }
    *o++ = '\n';
    *o = 0;
    if (!g_quiet) fputs(line, stdout);
}

/* Counts and prints the events of a decoded body. Returns 0, or -1 if it is
   not a JSON event object or an array of them. */
static int handle_events(const char *b, size_t n, int *count) {
    const char *e = b + n, *p = ws(b, e), *end = skip_value(p, e, 0);
    *count = 0;
    if (!end || ws(end, e) != e || p >= e || (*p != '{' && *p != '[')) return -1;
    if (*p == '[') {
        const char *q = ws(p + 1, e);
        while (q < end && *q != ']') {
            const char *ve = skip_value(q, e, 0);
            if (*q != '{') return -1;
            q = ws(ve, e);
            if (*q == ',') q = ws(q + 1, e);
        }
    }
    pthread_mutex_lock(&g_mu);
    if (!g_done) {
        const char *q = *p == '[' ? ws(p + 1, e) : p;
        while (q < end && *q == '{') {
            const char *oe = skip_value(q, e, 0), *k, *ke = NULL;
            print_event(q, oe);
            if ((k = member(q, oe, "idempotency_key", &ke)) != NULL && *k == '"') { key_add(k + 1, (size_t)(ke - k - 2)); g_keyed++; }
            (*count)++;
            if (*p != '[') break;
            q = ws(oe, e);
            if (*q == ',') q = ws(q + 1, e);
        }
        g_events += (unsigned long long)*count;
        g_bytes += n;
        if (g_max_events >= 0 && g_events >= (unsigned long long)g_max_events) g_stop = 1;
    }
    fflush(stdout);
    pthread_mutex_unlock(&g_mu);
    return 0;
}

static int gunzip(unsigned char *in, size_t n, unsigned char **out, size_t *out_len) {
    z_stream z;
    size_t cap = n * 4 + 1024, len = 0;
    unsigned char *buf = (unsigned char *)malloc(cap);
    int rc = Z_OK;
    if (!buf) return -1;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) { free(buf); return -1; }
    z.next_in = in;
    z.avail_in = (uInt)n;
    while (rc != Z_STREAM_END) {
        if (len == cap) {
            unsigned char *nb;
            if (cap >= MAX_INFLATED || !(nb = (unsigned char *)realloc(buf, cap * 2))) { rc = Z_MEM_ERROR; break; }
            buf = nb; cap *= 2;
        }
        z.next_out = buf + len;
        z.avail_out = (uInt)(cap - len);
        rc = inflate(&z, Z_NO_FLUSH);
        len = cap - z.avail_out;
        if (rc == Z_STREAM_END && z.avail_in) {          /* a further gzip member */
            if (inflateReset(&z) != Z_OK) break;
            rc = Z_OK;
        }
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) break;
        if (rc == Z_BUF_ERROR && z.avail_in == 0) break;  /* truncated */
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END) { free(buf); return -1; }
    *out = buf; *out_len = len;
    return 0;
}

/* ---- one connection ---- */
typedef struct conn { int fd; char *buf; size_t len, cap; } conn;

static int should_stop(void) { int s; pthread_mutex_lock(&g_mu); s = g_stop; pthread_mutex_unlock(&g_mu); return s; }

/* Reads more bytes. idle: give up on stop when nothing is pending. */
static int fill(conn *c, int idle) {
    int waited = 0;
    if (c->len == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16384;
        char *nb = (char *)realloc(c->buf, cap + 1);
        if (!nb) return -1;
        c->buf = nb; c->cap = cap;
    }
    for (;;) {
        struct pollfd p;
        long n;
        p.fd = c->fd; p.events = POLLIN; p.revents = 0;
        if (poll(&p, 1, 100) > 0) {
            n = (long)recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
            if (n > 0) { c->len += (size_t)n; c->buf[c->len] = 0; return 0; }
            if (n == 0 || (errno != EINTR && errno != EAGAIN)) return -1;
            continue;
        }
        waited += 100;
        if ((idle && should_stop()) || waited >= IDLE_MS || (!idle && waited >= 10000)) return -1;
    }
}
static int send_all(int fd, const char *p, size_t n) {
    while (n) {
        long k = (long)send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k; n -= (size_t)k;
    }
    return 0;
}
static int respond(int fd, int status, const char *body, int keep) {
    char head[256];
    const char *reason = status == 200 ? "OK" : status == 400 ? "Bad Request" : status == 401 ? "Unauthorized"
        : status == 404 ? "Not Found" : status == 405 ? "Method Not Allowed" : status == 413 ? "Payload Too Large"
        : status == 429 ? "Too Many Requests" : status == 431 ? "Request Header Fields Too Large"
        : status == 503 ? "Service Unavailable" : status >= 500 ? "Server Error" : "Status";
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %lu\r\n%s\r\n",
                     status, reason, (unsigned long)strlen(body), keep ? "" : "Connection: close\r\n");
    return send_all(fd, head, (size_t)n) || send_all(fd, body, strlen(body)) ? -1 : 0;
}
/* Case-insensitive header lookup in the head [h, he); value span or NULL. */
static const char *header(const char *h, const char *he, const char *name, size_t *vn) {
    size_t n = strlen(name);
    const char *p = strstr(h, "\r\n");
    while (p && p + 2 < he) {
        const char *ls = p + 2, *le = strstr(ls, "\r\n");
        size_t i;
        if (!le || le > he) break;
        for (i = 0; i < n && ls + i < le; i++) {
            char a = ls[i], b = name[i];
            if (a >= 'A' && a <= 'Z') a = (char)(a + 32);
            if (a != b) break;
        }
        if (i == n && ls[n] == ':') {
            const char *v = ls + n + 1, *ve = le;
            while (v < ve && (*v == ' ' || *v == '\t')) v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
            *vn = (size_t)(ve - v);
            return v;
        }
        p = le;
    }
    return NULL;
}
static int has_token(const char *v, size_t n, const char *tok) {
    size_t t = strlen(tok), i, j;
    for (i = 0; i + t <= n; i++) {
        for (j = 0; j < t; j++) {
            char a = v[i + j];
            if (a >= 'A' && a <= 'Z') a = (char)(a + 32);
            if (a != tok[j]) break;
        }
        if (j == t) return 1;
    }
    return 0;
}
static int ends_with(const char *s, size_t n, const char *suf) {
    size_t k = strlen(suf);
    return n >= k && !memcmp(s + n - k, suf, k);
}

/* Reads a chunked body starting at c->buf[*pos]; decodes in place into out. */
static int read_chunked(conn *c, size_t *pos, char **out, size_t *out_len) {
    size_t cap = 16384, len = 0;
    char *b = (char *)malloc(cap);
    if (!b) return -1;
    for (;;) {
        char *nl, *end;
        unsigned long sz;
        while (!(nl = strstr(c->buf + *pos, "\r\n"))) if (fill(c, 0)) goto bad;
        sz = strtoul(c->buf + *pos, &end, 16);
        if (end == c->buf + *pos) goto bad;
        *pos = (size_t)(nl - c->buf) + 2;
        if (sz == 0) {                         /* trailers, then an empty line */
            for (;;) {
                while (!(nl = strstr(c->buf + *pos, "\r\n"))) if (fill(c, 0)) goto bad;
                if (nl == c->buf + *pos) { *pos += 2; *out = b; *out_len = len; return 0; }
                *pos = (size_t)(nl - c->buf) + 2;
            }
        }
        if (len + sz > MAX_BODY) goto bad;
        while (c->len < *pos + sz + 2) if (fill(c, 0)) goto bad;
        if (len + sz > cap) {
            char *nb;
            while (len + sz > cap) cap *= 2;
            if (!(nb = (char *)realloc(b, cap))) goto bad;
            b = nb;
        }
        memcpy(b + len, c->buf + *pos, sz);
        len += sz;
        *pos += sz + 2;
    }
bad:
    free(b);
    return -1;
}

static void *conn_main(void *arg) {
    conn c;
    memset(&c, 0, sizeof c);
    c.fd = (int)(size_t)arg;
    for (;;) {
        char *he, method[16], target[1024];
        const char *v;
        size_t vn, pos, body_len = 0, head_len;
        char *body = NULL;
        int keep = 1, status = 200, count = 0, gz = 0, http10, rc;
        unsigned char *dec = NULL;
        size_t dec_len = 0;
        const char *reply = "{\"ok\":true}";
        /* head */
        while (!(he = c.buf ? strstr(c.buf, "\r\n\r\n") : NULL)) {
            if (c.len >= MAX_HEAD) { respond(c.fd, 431, "{\"error\":\"header too large\"}", 0); goto out; }
            if (fill(&c, c.len == 0)) goto out;
        }
        head_len = (size_t)(he - c.buf) + 4;
        if (sscanf(c.buf, "%15s %1023s HTTP/1.%d", method, target, &http10) != 3) { respond(c.fd, 400, "{\"error\":\"bad request line\"}", 0); goto out; }
        http10 = http10 == 0;
        if ((v = header(c.buf, he + 2, "connection", &vn)) != NULL) {
            if (has_token(v, vn, "close")) keep = 0;
            else if (has_token(v, vn, "keep-alive")) http10 = 0;
        }
        if (http10) keep = 0;
        /* body */
        pos = head_len;
        if ((v = header(c.buf, he + 2, "transfer-encoding", &vn)) != NULL && has_token(v, vn, "chunked")) {
            if ((v = header(c.buf, he + 2, "expect", &vn)) != NULL && has_token(v, vn, "100-continue")) send_all(c.fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
            if (read_chunked(&c, &pos, &body, &body_len)) { respond(c.fd, 400, "{\"error\":\"bad chunked body\"}", 0); goto out; }
        } else {
            unsigned long long cl = 0;
            if ((v = header(c.buf, he + 2, "content-length", &vn)) != NULL) cl = strtoull(v, NULL, 10);
            if (cl > MAX_BODY) { respond(c.fd, 413, "{\"error\":\"too large\"}", 0); goto out; }
            if (cl && (v = header(c.buf, he + 2, "expect", &vn)) != NULL && has_token(v, vn, "100-continue")) send_all(c.fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
            while (c.len < pos + cl) if (fill(&c, 0)) goto out;
            body = (char *)malloc((size_t)cl + 1);
            if (!body) goto out;
            memcpy(body, c.buf + pos, (size_t)cl);
            body_len = (size_t)cl;
            pos += (size_t)cl;
        }
        he = c.buf + head_len - 4;       /* reading the body may have moved the buffer */
        /* route */
        {
            char *q = strchr(target, '?');
            size_t tn;
            if (q) *q = 0;
            tn = strlen(target);
            if (ends_with(target, tn, "/api/ingest")) {
                if (strcmp(method, "POST")) { status = 405; reply = "{\"error\":\"use POST\"}"; }
                else if (!header(c.buf, he + 2, "x-packtrack-key", &vn) || !vn) { status = 401; reply = "{\"error\":\"missing X-PackTrack-Key\"}"; }
                else {
                    const char *js = body;
                    size_t jn = body_len;
                    if ((v = header(c.buf, he + 2, "content-encoding", &vn)) != NULL && has_token(v, vn, "gzip")) {
                        gz = 1;
                        if (gunzip((unsigned char *)body, body_len, &dec, &dec_len)) { status = 400; reply = "{\"error\":\"bad gzip\"}"; }
                        js = (const char *)dec; jn = dec_len;
                    }
                    if (status == 200 && g_status != 200) { status = g_status; reply = "{\"error\":\"--status\"}"; }
                    else if (status == 200 && handle_events(js, jn, &count)) { status = 400; reply = "{\"error\":\"body is not a JSON event or array of events\"}"; }
                }
                pthread_mutex_lock(&g_mu);
                g_requests++; g_ingest++; g_wire += body_len;
                if (status != 200) g_rejected++;
                if (g_verbose && !g_done) printf("  %s %s -> %d (%d events, %lu bytes%s)\n", method, target, status, count, (unsigned long)body_len, gz ? ", gzip" : "");
                pthread_mutex_unlock(&g_mu);
            } else if (ends_with(target, tn, "/api/health") || !strcmp(target, "/health")) {
                pthread_mutex_lock(&g_mu);
                g_requests++; g_health++;
                if (g_verbose && !g_done) printf("  %s %s -> 200\n", method, target);
                pthread_mutex_unlock(&g_mu);
            } else {
                pthread_mutex_lock(&g_mu); g_requests++; pthread_mutex_unlock(&g_mu);
                status = 404; reply = "{\"error\":\"not found\"}";
            }
        }
        free(body);
        free(dec);
        if (should_stop()) keep = 0;
        rc = respond(c.fd, status, reply, keep);
        /* drop the request from the buffer, keep what is pipelined behind it */
        memmove(c.buf, c.buf + pos, c.len - pos);
        c.len -= pos;
        c.buf[c.len] = 0;
        if (rc || !keep) break;
    }
out:
    shutdown(c.fd, SHUT_WR);
    close(c.fd);
    free(c.buf);
    pthread_mutex_lock(&g_mu);
    g_active--;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
    return NULL;
}

static void on_signal(int sig) { (void)sig; g_signal = 1; }

static int usage(FILE *f, int code) {
    fputs("usage: packtrack-sink [--port N | N] [--max-events N] [--duration S] [--status N] [--quiet] [--verbose]\n"
          "  --port N        port on 127.0.0.1 (0 = any free port; default 0)\n"
          "  --max-events N  stop after N events\n"
          "  --duration S    stop after S seconds\n"
          "  --status N      answer ingest requests with HTTP N (e.g. 503) instead of 200\n"
          "  --quiet         no per-event lines, only the summary\n"
          "  --verbose       also one line per request\n", f);
    return code;
}

int main(int argc, char **argv) {
    struct sockaddr_in a;
    struct sigaction sa;
    socklen_t alen = sizeof a;
    int lfd, port = 0, i, one = 1;
    double duration = -1;
    struct timespec t0, now;

    for (i = 1; i < argc; i++) {
        const char *s = argv[i];
        char *end;
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) return usage(stdout, 0);
        if (!strcmp(s, "--quiet")) { g_quiet = 1; continue; }
        if (!strcmp(s, "--verbose") || !strcmp(s, "-v")) { g_verbose = 1; continue; }
        if (s[0] != '-') { port = (int)strtol(s, &end, 10); if (*end || port < 0 || port > 65535) return usage(stderr, 2); continue; }
        if (i + 1 >= argc) return usage(stderr, 2);
        if (!strcmp(s, "--port")) { port = (int)strtol(argv[++i], &end, 10); if (*end || port < 0 || port > 65535) return usage(stderr, 2); }
        else if (!strcmp(s, "--max-events")) { g_max_events = strtoll(argv[++i], &end, 10); if (*end || g_max_events < 0) return usage(stderr, 2); }
        else if (!strcmp(s, "--duration")) { duration = strtod(argv[++i], &end); if (*end || duration < 0) return usage(stderr, 2); }
        else if (!strcmp(s, "--status")) { g_status = (int)strtol(argv[++i], &end, 10); if (*end || g_status < 100 || g_status > 599) return usage(stderr, 2); }
        else return usage(stderr, 2);
    }

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;          /* no SA_RESTART: poll() returns at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0) { perror("packtrack-sink: socket"); return 1; }
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 128) || getsockname(lfd, (struct sockaddr *)&a, &alen)) {
        fprintf(stderr, "packtrack-sink: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("listening on http://127.0.0.1:%d\n", ntohs(a.sin_port));
    fflush(stdout);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd p;
        p.fd = lfd; p.events = POLLIN; p.revents = 0;
        if (g_signal) break;
        if (should_stop()) break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (duration >= 0 && (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9 >= duration) break;
        if (poll(&p, 1, 100) > 0) {
            int fd = accept(lfd, NULL, NULL);
            pthread_t th;
            pthread_attr_t at;
            if (fd < 0) continue;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            pthread_attr_init(&at);
            pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
            pthread_mutex_lock(&g_mu);
            g_active++;
            pthread_mutex_unlock(&g_mu);
            if (pthread_create(&th, &at, conn_main, (void *)(size_t)fd)) {
                close(fd);
                pthread_mutex_lock(&g_mu); g_active--; pthread_mutex_unlock(&g_mu);
            }
            pthread_attr_destroy(&at);
        }
    }
    close(lfd);

    /* Let open connections finish what they are doing (at most ~2 s). */
    pthread_mutex_lock(&g_mu);
    g_stop = 1;
    clock_gettime(CLOCK_REALTIME, &now);
    now.tv_sec += 2;
    while (g_active > 0) if (pthread_cond_timedwait(&g_cv, &g_mu, &now) == ETIMEDOUT) break;
    g_done = 1;
    printf("summary: %llu requests (%llu ingest, %llu health, %llu refused), %llu events, %llu bytes of JSON (%llu on the wire), "
           "%lu distinct idempotency keys, %llu duplicates\n",
           g_requests, g_ingest, g_health, g_rejected, g_events, g_bytes, g_wire,
           (unsigned long)g_kused, g_keyed - (unsigned long long)g_kused);
    fflush(stdout);
    pthread_mutex_unlock(&g_mu);
    return 0;
}
