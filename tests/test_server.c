/*
 * test_server.c - in-process, fault-injecting HTTP/1.1 test server for the
 * packtrack.h tests.  C99 + POSIX (pthreads, BSD sockets) + zlib; also valid C++11.
 * Windows (mingw-w64): the same code over winpthreads + Winsock 2 through
 * tests/win/compat.h (include packtrack.h first; link -static -lz -lpthread -lws2_32).
 * Use: #include "test_server.c" in one translation unit (all symbols static,
 * prefixed pts_); build with -D_GNU_SOURCE (or _POSIX_C_SOURCE), link -lpthread -lz.
 * Standalone sink: cc -D_GNU_SOURCE -DPTS_MAIN test_server.c -lpthread -lz; prints
 * "http://127.0.0.1:PORT", then one line per request, until SIGINT/SIGTERM or stdin
 * EOF (flags: --no-stdin, --status N, --stall: read requests, never answer).
 *
 * Listens on 127.0.0.1:<ephemeral>; one accept thread + one thread per connection;
 * keep-alive and pipelining; request bodies by Content-Length or chunked (<= 64 MiB,
 * else 413 + close); "Expect: 100-continue" answered; gzip request bodies inflated.
 * Every API call is thread-safe, except that nothing may run concurrently with pts_stop.
 *
 * Lifecycle   pts_start() -> NULL on failure; pts_stop(s) (returns promptly, even with
 *             stalled/streaming connections); pts_port, pts_url; pts_reset(s) clears
 *             records, counters, keys, script, default, rules, stall, refuse.
 * Behaviour   decided once a request is fully read, first match wins:
 *               gzip body that does not inflate    -> 400 {"error":"bad gzip"}
 *               pts_set_reject_marker(s, m, st)     -> st  {"error":"poison"}
 *               pts_set_max_body(s, bytes, st)      -> st  {"error":"too large"}
 *               pts_script(s, actions, n)           -> next scripted action (FIFO)
 *               pts_set_default(s, action)          -> otherwise (initially 200 NORMAL)
 *             then: wait while pts_set_stall is on -> action.delay_ms -> answer in
 *             action.mode.  pts_set_close_after(s, n): "Connection: close" on a
 *             connection's n-th answer.  pts_set_refuse(s, on): close / re-open the
 *             listener on the same port.  pts_drop_connections(s): shut down all open
 *             connections.  pts_set_require_header(s, name, value|NULL): count misses.
 * Inspection  pts_request_count, pts_connection_count, pts_connections_closed,
 *             pts_header_failures, pts_wait_requests(s, n, ms), pts_wait_closed(s, n, ms)
 *             (n connections closed on the server's side: "the close has arrived"); pts_get_request(s, i, &r) + pts_request_free
 *             + pts_header(&r, name, buf, cap) for the first 4096 requests (bodies kept
 *             up to 256 MiB in total; later records have body_dropped = 1); each record
 *             has t_ms, the monotonic time it was fully read (pts_request_time(s, i)),
 *             so tests measure retry schedules at the server.
 * Events      each "idempotency_key":"<v>" in a decoded body is counted when the
 *             request is answered 2xx in a well-formed mode (NORMAL, CHUNKED,
 *             CLOSE_DELIMITED, SLOW_DRIP, HUGE_BODY, HUGE_BODY_CHUNKED), just BEFORE
 *             the answer is written, so a client that has seen its 2xx can check at
 *             once: pts_events_received, pts_distinct_keys, pts_duplicate_events,
 *             pts_key_count, pts_wait_events(s, n, ms).  Not counted: non-2xx answers,
 *             broken modes (RESET_MID, MALFORMED, ...), clients gone before the answer.
 *             pts_events_seen counts keys in every fully read request.
 * Debug       pts_set_log(s, FILE*): one line per answered request.
 * Faults      timed or counted, with the time the fault ended and the first 2xx after it:
 *             pts_fault_window(s, a, ms): requests read in the next ms get action a;
 *             pts_fault_count(s, a, n): the next n requests get a (the fault ends when the
 *             n-th is over: answered, reset, or given up by the client);
 *             pts_refuse_for(s, ms): listener closed and open connections dropped, the
 *             listener re-opens after ms (a restarting server);
 *             pts_fault_end_ms (pts_now_ms() clock, 0 while unknown), pts_first_ok_after_fault
 *             (ms from the fault's end to the first 2xx answered after it, -1 if none yet),
 *             pts_fault_hits (requests that got the fault action).
 *             pts_set_early_reject(s, limit, st): a request whose Content-Length exceeds
 *             limit is answered st ("Connection: close") right after its head, and the
 *             connection closed without reading the body (the client's send then fails
 *             with a reset); counted by pts_early_rejects.
 */
#ifndef PTS_TEST_SERVER_C
#define PTS_TEST_SERVER_C

#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _WIN32
#include "win/compat.h" /* winpthreads + Winsock 2 behind the POSIX names used here */
#else
#include <pthread.h>
#include <unistd.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#endif
#include <zlib.h>

#if defined(__GNUC__) || defined(__clang__)
#define PTS_FN static __attribute__((unused))
#else
#define PTS_FN static
#endif
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

#define PTS_MAX_REQ_BODY   ((size_t)64 * 1024 * 1024)
#define PTS_MAX_HEADER     ((size_t)64 * 1024)
#define PTS_MAX_RECORDS    4096
#define PTS_REC_BODY_BUDGET ((size_t)256 * 1024 * 1024)
#define PTS_MAX_INFLATE    ((size_t)512 * 1024 * 1024)
#define PTS_NONE           ((size_t)-1)
#define PTS_LOCKED(s, stmts) \
  do { pthread_mutex_lock(&(s)->mu); stmts; pthread_mutex_unlock(&(s)->mu); } while (0)

typedef enum pts_mode {
  PTS_MODE_NORMAL = 0,          /* status, headers, Content-Length body, keep-alive */
  PTS_MODE_CHUNKED,             /* chunked body in several chunks, extension, trailer */
  PTS_MODE_CLOSE_DELIMITED,     /* no Content-Length, Connection: close, body, close */
  PTS_MODE_CLOSE_NO_RESPONSE,   /* read the request, close without answering */
  PTS_MODE_RESET_MID,           /* half the response, then RST */
  PTS_MODE_MALFORMED,           /* "HTTP/1.1 abc\r\n" then close */
  PTS_MODE_RANDOM_BYTES,        /* 4 KiB of random bytes then close */
  PTS_MODE_ENDLESS_HEADERS,     /* status line then header lines forever */
  PTS_MODE_HUGE_CONTENT_LENGTH, /* Content-Length: 99999999999999999999, few bytes, idle */
  PTS_MODE_CHUNK_OVERFLOW,      /* chunk size line "ffffffffffffffffffff" then idle */
  PTS_MODE_SLOW_DRIP,           /* valid response, one byte per drip_ms */
  PTS_MODE_HUGE_BODY,           /* Content-Length huge_bytes, streamed */
  PTS_MODE_HUGE_BODY_CHUNKED    /* same, chunked */
} pts_mode;

typedef struct pts_action {
  int status;              /* 0 means 200 */
  int delay_ms;            /* sleep before answering (interruptible) */
  const char *retry_after; /* Retry-After value or NULL (copied) */
  const char *body;        /* response body, NULL means {"ok":true} (copied) */
  pts_mode mode;
  int drip_ms;             /* SLOW_DRIP; 0 means 1000 */
  long long huge_bytes;    /* HUGE_BODY*; 0 means 1 GiB */
  const char *location;    /* Location header or NULL (copied) */
} pts_action;

typedef struct pts_request {   /* deep copy owned by the caller: pts_request_free */
  char method[16];
  char path[512];
  char *headers;          /* raw header block, "Name: value\r\n" lines, NUL-terminated */
  unsigned char *body;    /* decoded body (inflated if gzip), NUL-terminated */
  size_t body_len;
  size_t raw_body_len;    /* body bytes as sent (after de-chunking, before inflating) */
  int gzip;               /* Content-Encoding: gzip present */
  int gzip_ok;            /* exactly one gzip member, CRC/ISIZE fine, nothing trailing */
  int conn_id;            /* 0-based index of the accepted connection (since reset) */
  int status_sent;        /* status answered (0 if none) */
  int chunked;            /* request used Transfer-Encoding: chunked */
  int body_dropped;       /* body not stored (record body budget exhausted) */
  long long t_ms;         /* when the request was fully read (monotonic ms, pts_now_ms) */
} pts_request;

typedef struct pts_server pts_server;

/* ---- internal types ---- */
typedef struct pts_act {
  int status, delay_ms, drip_ms;
  long long huge;
  pts_mode mode;
  char *retry_after, *body, *location;
} pts_act;

typedef struct pts_kv { char *key; size_t len; long count; } pts_kv;
typedef struct pts_arena { struct pts_arena *next; size_t used, cap; } pts_arena; /* key storage */

typedef struct pts_conn {
  pts_server *s;
  int fd, id, done, nreq, peer_data, close_how; /* close_how: 0 graceful, 1 reset, 2 plain close */
  int dropped;   /* pts_drop_connections shut it down (Winsock's poll may never say so) */
  int answered;  /* status sent for the current request (0 = none) */
  unsigned gen;  /* server gen when the current request was recorded */
  pthread_t th;
  unsigned long long rng;
  char *buf;
  size_t len, cap;
  struct pts_conn *next;
} pts_conn;

typedef struct pts_in {
  char method[16], path[512];
  char *headers;
  unsigned char *body;
  size_t body_len, raw_len;
  int gzip, gzip_ok, gzip_bad, chunked, want_close, head, expect100;
} pts_in;

struct pts_server {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t accept_th;
  int lfd, port, wake[2], stopping;
  char url[64];
  int want_refuse, refused, refuse_result;
  int hold_fd;           /* while refusing: the port bound, not listening (connects are refused, no other process can take it) */
  unsigned refuse_seq, refuse_done;
  pts_conn *conns;
  pts_act *script;
  int script_n, script_head, script_cap;
  pts_act def;
  char *reject_marker;
  int reject_status;
  size_t max_body;
  int max_body_status, close_after, stall;
  char *req_name, *req_value;
  int nreq, nconn, nclosed, header_failures;
  unsigned gen; /* bumped by pts_reset: answers to older requests are not recorded */
  long events, events_seen;
  pts_request *recs;
  int nrecs, recs_cap;
  size_t rec_body_bytes;
  pts_kv *tab;
  size_t tab_cap, tab_used;
  pts_arena *arena;
  FILE *log;
  /* faults (pts_fault_window / pts_fault_count / pts_refuse_for) */
  pts_act fault;
  int fault_on, fault_left, fault_total, fault_done, fault_hits;
  long long fault_until, fault_end, first_ok, refuse_until;
  size_t early_limit;
  int early_status, early_rejects;
};

/* ================================================================ utilities */
PTS_FN long long pts_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

PTS_FN void pts_abs_in(struct timespec *ts, int ms) {
  clock_gettime(CLOCK_REALTIME, ts);
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) { ts->tv_sec++; ts->tv_nsec -= 1000000000L; }
}

PTS_FN char *pts_strdup(const char *s) {
  size_t n;
  char *d;
  if (!s) return NULL;
  n = strlen(s);
  d = (char *)malloc(n + 1);
  if (d) memcpy(d, s, n + 1);
  return d;
}

PTS_FN int pts_lower(int ch) { return (ch >= 'A' && ch <= 'Z') ? ch + 32 : ch; }

PTS_FN int pts_ieqn(const char *a, const char *b, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (pts_lower((unsigned char)a[i]) != pts_lower((unsigned char)b[i])) return 0;
  return 1;
}

/* offset of needle in haystack, or PTS_NONE */
PTS_FN size_t pts_memfind(const void *hay, size_t hn, const void *nd, size_t nn) {
  const unsigned char *h = (const unsigned char *)hay, *n = (const unsigned char *)nd;
  size_t i = 0;
  if (nn == 0) return 0;
  while (hn >= nn && i <= hn - nn) {
    const unsigned char *p = (const unsigned char *)memchr(h + i, n[0], hn - nn - i + 1);
    if (!p) return PTS_NONE;
    i = (size_t)(p - h);
    if (memcmp(p, n, nn) == 0) return i;
    i++;
  }
  return PTS_NONE;
}

PTS_FN int pts_icontains(const char *v, size_t vn, const char *word) {
  size_t wn = strlen(word), i;
  for (i = 0; i + wn <= vn; i++)
    if (pts_ieqn(v + i, word, wn)) return 1;
  return 0;
}

/* First header `name` in a "Name: value\r\n" block; value is trimmed. */
PTS_FN const char *pts_hfind(const char *blk, size_t bn, const char *name, size_t *vn) {
  size_t nl = strlen(name), pos = 0;
  while (pos < bn) {
    size_t eol = pts_memfind(blk + pos, bn - pos, "\r\n", 2);
    size_t ll = eol == PTS_NONE ? bn - pos : eol;
    const char *line = blk + pos;
    const char *colon = (const char *)memchr(line, ':', ll);
    if (colon && (size_t)(colon - line) == nl && pts_ieqn(line, name, nl)) {
      const char *v = colon + 1, *e = line + ll;
      while (v < e && (*v == ' ' || *v == '\t')) v++;
      while (e > v && (e[-1] == ' ' || e[-1] == '\t')) e--;
      *vn = (size_t)(e - v);
      return v;
    }
    if (eol == PTS_NONE) break;
    pos += eol + 2;
  }
  return NULL;
}

PTS_FN const char *pts_reason(int st) {
  static const int codes[] = {100, 200, 201, 202, 204, 301, 302, 304, 400, 401, 403, 404, 408, 409, 413,
                              414, 422, 429, 431, 500, 501, 502, 503, 504};
  static const char *const names[] = {
      "Continue", "OK", "Created", "Accepted", "No Content", "Moved Permanently", "Found", "Not Modified",
      "Bad Request", "Unauthorized", "Forbidden", "Not Found", "Request Timeout", "Conflict",
      "Payload Too Large", "URI Too Long", "Unprocessable Entity", "Too Many Requests",
      "Request Header Fields Too Large", "Internal Server Error", "Not Implemented", "Bad Gateway",
      "Service Unavailable", "Gateway Timeout"};
  size_t i;
  for (i = 0; i < sizeof codes / sizeof codes[0]; i++)
    if (codes[i] == st) return names[i];
  return "Status";
}

/* ================================================================ actions */
PTS_FN void pts_act_free(pts_act *a) {
  free(a->retry_after);
  free(a->body);
  free(a->location);
  a->retry_after = a->body = a->location = NULL;
}

PTS_FN void pts_act_from(pts_act *d, const pts_action *a) {
  memset(d, 0, sizeof *d);
  d->status = a->status > 0 ? a->status : 200;
  d->delay_ms = a->delay_ms > 0 ? a->delay_ms : 0;
  d->drip_ms = a->drip_ms > 0 ? a->drip_ms : 1000;
  d->huge = a->huge_bytes > 0 ? a->huge_bytes : (long long)1 << 30;
  d->mode = a->mode;
  d->retry_after = pts_strdup(a->retry_after);
  d->body = pts_strdup(a->body ? a->body : "{\"ok\":true}");
  d->location = pts_strdup(a->location);
}

PTS_FN void pts_act_dup(pts_act *d, const pts_act *a) {
  *d = *a;
  d->retry_after = pts_strdup(a->retry_after);
  d->body = pts_strdup(a->body);
  d->location = pts_strdup(a->location);
}

PTS_FN void pts_act_simple(pts_act *d, int status, const char *body) {
  memset(d, 0, sizeof *d);
  d->status = status;
  d->drip_ms = 1000;
  d->huge = (long long)1 << 30;
  d->mode = PTS_MODE_NORMAL;
  d->body = pts_strdup(body);
}

/* ================================================================ key map (lock held) */
PTS_FN unsigned long pts_hash(const char *k, size_t n) {
  unsigned long h = 2166136261UL;
  size_t i;
  for (i = 0; i < n; i++) { h ^= (unsigned char)k[i]; h *= 16777619UL; }
  return h;
}

PTS_FN pts_kv *pts_map_slot(pts_kv *tab, size_t cap, const char *k, size_t n) {
  size_t i = (size_t)pts_hash(k, n) & (cap - 1);
  while (tab[i].key && !(tab[i].len == n && memcmp(tab[i].key, k, n) == 0)) i = (i + 1) & (cap - 1);
  return &tab[i];
}

PTS_FN char *pts_arena_copy(pts_server *s, const char *k, size_t n) {
  pts_arena *a = s->arena;
  char *d;
  if (!a || a->cap - a->used < n + 1) {
    size_t cap = n + 1 > 65536 ? n + 1 : 65536;
    a = (pts_arena *)malloc(sizeof *a + cap);
    if (!a) return NULL;
    a->next = s->arena;
    a->used = 0;
    a->cap = cap;
    s->arena = a;
  }
  d = (char *)(a + 1) + a->used;
  a->used += n + 1;
  memcpy(d, k, n);
  d[n] = 0;
  return d;
}

PTS_FN void pts_map_add(pts_server *s, const char *k, size_t n) {
  pts_kv *slot;
  if ((s->tab_used + 1) * 2 > s->tab_cap) {
    size_t ncap = s->tab_cap ? s->tab_cap * 2 : 1024, i;
    pts_kv *nt = (pts_kv *)calloc(ncap, sizeof *nt);
    if (!nt) return;
    for (i = 0; i < s->tab_cap; i++)
      if (s->tab[i].key) *pts_map_slot(nt, ncap, s->tab[i].key, s->tab[i].len) = s->tab[i];
    free(s->tab);
    s->tab = nt;
    s->tab_cap = ncap;
  }
  slot = pts_map_slot(s->tab, s->tab_cap, k, n);
  if (!slot->key) {
    if ((slot->key = pts_arena_copy(s, k, n)) == NULL) return;
    slot->len = n;
    slot->count = 0;
    s->tab_used++;
  }
  slot->count++;
}

PTS_FN void pts_map_clear(pts_server *s) {
  while (s->arena) {
    pts_arena *a = s->arena;
    s->arena = a->next;
    free(a);
  }
  free(s->tab);
  s->tab = NULL;
  s->tab_cap = s->tab_used = 0;
}

/* Count "idempotency_key":"<v>" occurrences; with s != NULL (lock held) add to the map. */
PTS_FN long pts_scan_keys(pts_server *s, const unsigned char *b, size_t n) {
  static const char pat[] = "\"idempotency_key\"";
  size_t pl = sizeof pat - 1, i = 0;
  long cnt = 0;
  while (i < n) {
    size_t f = pts_memfind(b + i, n - i, pat, pl), j, st;
    if (f == PTS_NONE) break;
    j = i + f + pl;
    i = j;
    while (j < n && (b[j] == ' ' || b[j] == '\t' || b[j] == '\r' || b[j] == '\n')) j++;
    if (j >= n || b[j] != ':') continue;
    j++;
    while (j < n && (b[j] == ' ' || b[j] == '\t' || b[j] == '\r' || b[j] == '\n')) j++;
    if (j >= n || b[j] != '"') continue;
    st = ++j;
    while (j < n && b[j] != '"') j += (b[j] == '\\') ? 2 : 1;
    if (j >= n) break;
    cnt++;
    if (s) pts_map_add(s, (const char *)b + st, j - st);
    i = j + 1;
  }
  return cnt;
}

/* ================================================================ socket I/O */
PTS_FN int pts_stopping(pts_server *s) {
  int v;
  PTS_LOCKED(s, v = s->stopping);
  return v;
}

PTS_FN void pts_consume(pts_conn *c, size_t n) {
  if (n >= c->len) { c->len = 0; return; }
  memmove(c->buf, c->buf + n, c->len - n);
  c->len -= n;
}

PTS_FN int pts_reserve(pts_conn *c, size_t need) {
  size_t ncap = c->cap ? c->cap : 16384;
  char *nb;
  if (need <= c->cap) return 0;
  while (ncap < need) ncap *= 2;
  nb = (char *)realloc(c->buf, ncap);
  if (!nb) return -1;
  c->buf = nb;
  c->cap = ncap;
  return 0;
}

/* Poll the connection for `ev` (0: don't watch it) and the stop pipe, up to ms.
   Returns -1 when the server is stopping, else the connection's revents (0: timeout). */
PTS_FN int pts_poll(pts_conn *c, short ev, int ms) {
  struct pollfd p[2];
  p[0].fd = c->s->wake[0]; p[0].events = POLLIN; p[0].revents = 0;
  p[1].fd = ev ? c->fd : -1; p[1].events = ev; p[1].revents = 0;
  if (poll(p, 2, ms) < 0 && errno != EINTR) return -1;
  return p[0].revents ? -1 : p[1].revents;
}

PTS_FN int pts_again(void) { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR; }

PTS_FN int pts_dropped(pts_conn *c) {
  int v;
  PTS_LOCKED(c->s, v = c->dropped);
  return v;
}

/* Read more bytes into c->buf. >0 bytes read, 0 EOF, -1 error or server stopping. */
PTS_FN long pts_fill(pts_conn *c) {
  if (pts_reserve(c, c->len + 16384) < 0) return -1;
  for (;;) {
    int re = pts_poll(c, POLLIN, 200);
    ssize_t n;
    if (re < 0) return -1;
    if (!re) { if (pts_dropped(c)) return 0; continue; }
    n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
    if (n > 0) { c->len += (size_t)n; c->peer_data = 0; return (long)n; }
    if (n == 0) return 0;
    if (!pts_again()) return -1;
  }
}

/* Send everything; 0 ok, -1 on error, client gone or server stopping. */
PTS_FN int pts_send_all(pts_conn *c, const void *data, size_t n) {
  const char *p = (const char *)data;
  while (n > 0) {
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) { p += w; n -= (size_t)w; continue; }
    if (w == 0 || !pts_again()) return -1;
    if (errno != EINTR) {
      int re = pts_poll(c, POLLOUT, 200);
      if (re < 0 || (re & (POLLERR | POLLHUP | POLLNVAL))) return -1;
    }
  }
  return 0;
}

PTS_FN int pts_send_str(pts_conn *c, const char *s) { return pts_send_all(c, s, strlen(s)); }

/* Sleep ms; wakes early (returning -1) when the server stops or the client goes away.
   Looks at least once: pts_conn_sleep(c, 0) checks that the client is still there. */
PTS_FN int pts_conn_sleep(pts_conn *c, int ms) {
  long long deadline = pts_now_ms() + ms, rem = ms;
  do {
    int re = pts_poll(c, c->peer_data ? 0 : POLLIN, rem <= 0 ? 0 : rem > 20 ? 20 : (int)rem);
    if (re < 0 || (re & (POLLERR | POLLHUP | POLLNVAL))) return -1;
    if (re & POLLIN) {
      char ch;
      ssize_t n = recv(c->fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0 || (n < 0 && !pts_again())) return -1;
      if (n > 0) c->peer_data = 1; /* pipelined bytes: can't watch for EOF any more */
    }
  } while ((rem = deadline - pts_now_ms()) > 0);
  return 0;
}

/* Discard input until the client closes, the server stops or max_ms (<0: forever) pass. */
PTS_FN void pts_drain(pts_conn *c, int max_ms) {
  char tmp[4096];
  long long deadline = pts_now_ms() + max_ms;
  while (max_ms < 0 || pts_now_ms() < deadline) {
    int re = pts_poll(c, POLLIN, 50);
    ssize_t n;
    if (re < 0) return;
    if (!re) { if (pts_dropped(c)) return; continue; }
    n = recv(c->fd, tmp, sizeof tmp, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && !pts_again())) return;
  }
}

/* Orderly close: FIN, then drain input for up to 1 s so no RST eats our data. */
PTS_FN void pts_close_graceful(pts_conn *c) {
  shutdown(c->fd, SHUT_WR);
  pts_drain(c, 1000);
}

/* ================================================================ request parsing */
PTS_FN size_t pts_find_crlf(const char *b, size_t from, size_t to) {
  size_t f = from < to ? pts_memfind(b + from, to - from, "\r\n", 2) : PTS_NONE;
  return f == PTS_NONE ? PTS_NONE : from + f;
}

/* Wait for a CRLF at or after pos; returns its offset, or PTS_NONE on EOF (*bad = 0)
   or an overlong line (*bad = 1). */
PTS_FN size_t pts_need_line(pts_conn *c, size_t pos, int *bad) {
  *bad = 0;
  for (;;) {
    size_t e = pts_find_crlf(c->buf, pos, c->len);
    if (e != PTS_NONE) return e;
    if (c->len - pos > 8192) { *bad = 1; return PTS_NONE; }
    if (pts_fill(c) <= 0) return PTS_NONE;
  }
}

/* Inflate gzip. Returns number of members decoded (>=1) or -1 on error; *out always set. */
PTS_FN int pts_gunzip(const unsigned char *in, size_t inlen, unsigned char **out, size_t *outlen) {
  z_stream zs;
  size_t cap = inlen * 4 + 1024, len = 0;
  int members = 0, rc;
  unsigned char *o = (unsigned char *)malloc(cap + 1);
  *out = o;
  *outlen = 0;
  if (!o) return -1;
  o[0] = 0;
  memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return -1;
  zs.next_in = (Bytef *)in;
  zs.avail_in = (uInt)inlen;
  for (;;) {
    if (len == cap) {
      unsigned char *no;
      if (cap >= PTS_MAX_INFLATE) { members = -1; break; }
      cap *= 2;
      no = (unsigned char *)realloc(o, cap + 1);
      if (!no) { members = -1; break; }
      o = no;
      *out = o;
    }
    zs.next_out = o + len;
    zs.avail_out = (uInt)(cap - len);
    rc = inflate(&zs, Z_NO_FLUSH);
    len = (size_t)(zs.next_out - o);
    if (rc == Z_STREAM_END) {
      members++;
      if (zs.avail_in == 0) break;
      if (inflateReset(&zs) != Z_OK) { members = -1; break; }
      continue;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && zs.avail_out == 0) continue;
    members = -1;
    break;
  }
  inflateEnd(&zs);
  o[len] = 0;
  *outlen = len;
  return members;
}

PTS_FN void pts_in_free(pts_in *in) {
  free(in->headers);
  free(in->body);
  in->headers = NULL;
  in->body = NULL;
}

/* 1 = request read, 0 = EOF/stop (close silently), -1 = answer *err and close. */
PTS_FN int pts_read_request(pts_conn *c, pts_in *in, int *err) {
  size_t scan = 0, hend, rl, hn, pos, end, cl = 0, vn, raw_len = 0, raw_cap = 0;
  const char *v, *sp1, *sp2, *ver;
  unsigned char *raw = NULL;
  int ml, has_cl = 0, bad = 0;
  char *hb;
  *err = 400;
  for (;;) { /* header block */
    while (c->len > 0 && (c->buf[0] == '\r' || c->buf[0] == '\n')) { pts_consume(c, 1); scan = 0; }
    hend = c->len >= 4 ? pts_memfind(c->buf + scan, c->len - scan, "\r\n\r\n", 4) : PTS_NONE;
    if (hend != PTS_NONE) { hend += scan; break; }
    if (c->len > PTS_MAX_HEADER) { *err = 431; return -1; }
    scan = c->len > 3 ? c->len - 3 : 0;
    if (pts_fill(c) <= 0) return 0;
  }
  rl = pts_find_crlf(c->buf, 0, hend + 2);
  sp1 = (const char *)memchr(c->buf, ' ', rl);
  if (!sp1) return -1;
  ml = (int)(sp1 - c->buf);
  sp2 = (const char *)memchr(sp1 + 1, ' ', rl - (size_t)ml - 1);
  if (ml == 0 || ml >= (int)sizeof in->method || !sp2 || sp2 == sp1 + 1) return -1;
  if (sp2 - sp1 - 1 >= (long)sizeof in->path) { *err = 414; return -1; }
  ver = sp2 + 1;
  if (c->buf + rl - ver != 8 || memcmp(ver, "HTTP/1.", 7) != 0) return -1;
  memcpy(in->method, c->buf, (size_t)ml);
  in->method[ml] = 0;
  memcpy(in->path, sp1 + 1, (size_t)(sp2 - sp1 - 1));
  in->path[sp2 - sp1 - 1] = 0;
  in->head = strcmp(in->method, "HEAD") == 0;
  hn = hend + 2 - (rl + 2);
  hb = in->headers = (char *)malloc(hn + 1);
  if (!hb) return 0;
  memcpy(hb, c->buf + rl + 2, hn);
  hb[hn] = 0;
  if ((v = pts_hfind(hb, hn, "Transfer-Encoding", &vn)) != NULL) in->chunked = pts_icontains(v, vn, "chunked");
  if (!in->chunked && (v = pts_hfind(hb, hn, "Content-Length", &vn)) != NULL) {
    size_t i;
    if (vn == 0) return -1;
    for (i = 0; i < vn; i++) {
      if (v[i] < '0' || v[i] > '9') return -1;
      if (cl <= PTS_MAX_REQ_BODY) cl = cl * 10 + (size_t)(v[i] - '0');
    }
    if (cl > PTS_MAX_REQ_BODY) { *err = 413; return -1; }
    has_cl = 1;
    {
      size_t lim;
      int st;
      PTS_LOCKED(c->s, lim = c->s->early_limit; st = c->s->early_status);
      if (lim && cl > lim) { *err = st; return -2; }   /* answer now, never read the body */
    }
  }
  if ((v = pts_hfind(hb, hn, "Content-Encoding", &vn)) != NULL) in->gzip = vn == 4 && pts_ieqn(v, "gzip", 4);
  v = pts_hfind(hb, hn, "Connection", &vn);
  if (v && pts_icontains(v, vn, "close")) in->want_close = 1;
  if (ver[7] == '0' && !(v && pts_icontains(v, vn, "keep-alive"))) in->want_close = 1;
  if ((v = pts_hfind(hb, hn, "Expect", &vn)) != NULL) in->expect100 = pts_icontains(v, vn, "100-continue");

  pos = hend + 4;
  if (in->expect100 && (in->chunked || (has_cl && c->len < pos + cl)))
    if (pts_send_str(c, "HTTP/1.1 100 Continue\r\n\r\n") < 0) return 0;
  if (in->chunked) {
    for (;;) {
      size_t e = pts_need_line(c, pos, &bad), sz = 0, i;
      int digits = 0;
      if (e == PTS_NONE) { free(raw); return bad ? -1 : 0; }
      for (i = pos; i < e; i++) {
        int ch = pts_lower((unsigned char)c->buf[i]), d;
        if (ch >= '0' && ch <= '9') d = ch - '0';
        else if (ch >= 'a' && ch <= 'f') d = ch - 'a' + 10;
        else break;
        digits++;
        if (sz > PTS_MAX_REQ_BODY) continue;
        sz = sz * 16 + (size_t)d;
      }
      if (!digits || (i < e && c->buf[i] != ';' && c->buf[i] != ' ' && c->buf[i] != '\t')) { free(raw); *err = 400; return -1; }
      if (sz > PTS_MAX_REQ_BODY || raw_len + sz > PTS_MAX_REQ_BODY) { free(raw); *err = 413; return -1; }
      pos = e + 2;
      if (sz == 0) { /* trailers until an empty line */
        for (;;) {
          e = pts_need_line(c, pos, &bad);
          if (e == PTS_NONE) { free(raw); return bad ? -1 : 0; }
          if (e == pos) { pos += 2; break; }
          pos = e + 2;
        }
        break;
      }
      if (pts_reserve(c, pos + sz + 2) < 0) { free(raw); return 0; }
      while (c->len < pos + sz + 2)
        if (pts_fill(c) <= 0) { free(raw); return 0; }
      if (c->buf[pos + sz] != '\r' || c->buf[pos + sz + 1] != '\n') { free(raw); *err = 400; return -1; }
      if (raw_len + sz + 1 > raw_cap) {
        unsigned char *nr;
        raw_cap = (raw_len + sz + 1) * 2;
        nr = (unsigned char *)realloc(raw, raw_cap);
        if (!nr) { free(raw); return 0; }
        raw = nr;
      }
      memcpy(raw + raw_len, c->buf + pos, sz);
      raw_len += sz;
      pos += sz + 2;
    }
    end = pos;
  } else {
    if (pts_reserve(c, pos + cl) < 0) return 0;
    while (c->len < pos + cl)
      if (pts_fill(c) <= 0) return 0;
    raw = (unsigned char *)malloc(cl + 1);
    if (!raw) return 0;
    memcpy(raw, c->buf + pos, cl);
    raw_len = cl;
    end = pos + cl;
  }
  if (!raw) raw = (unsigned char *)malloc(1);
  if (!raw) return 0;
  raw[raw_len] = 0;
  pts_consume(c, end);
  in->raw_len = raw_len;
  if (in->gzip) {
    int m = pts_gunzip(raw, raw_len, &in->body, &in->body_len);
    in->gzip_ok = m == 1;
    in->gzip_bad = m < 0;
    free(raw);
    if (!in->body) return 0;
  } else {
    in->body = raw;
    in->body_len = raw_len;
  }
  return 1;
}

/* ================================================================ responses */
/* Build the response head into a malloc'd string. */
PTS_FN char *pts_head(int status, const char *retry, const char *framing, int close_conn) {
  size_t cap = 256 + strlen(framing) + (retry ? strlen(retry) : 0);
  char *h = (char *)malloc(cap);
  if (!h) return NULL;
  snprintf(h, cap, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n%s%s%s%sConnection: %s\r\n\r\n",
           status, pts_reason(status), framing, retry ? "Retry-After: " : "", retry ? retry : "",
           retry ? "\r\n" : "", close_conn ? "close" : "keep-alive");
  return h;
}

/* Full NORMAL response (head + body) in one buffer. */
PTS_FN char *pts_full_response(const pts_act *a, int head_only, int close_conn, size_t *n) {
  char framing[400], *h, *r;
  size_t bl = strlen(a->body), hl;
  int nobody = a->status == 204 || a->status == 304 || a->status < 200;
  if (nobody) framing[0] = 0;
  else snprintf(framing, sizeof framing, "Content-Length: %lu\r\n", (unsigned long)bl);
  if (a->location) /* NORMAL mode only */
    snprintf(framing + strlen(framing), sizeof framing - strlen(framing), "Location: %.300s\r\n", a->location);
  h = pts_head(a->status, a->retry_after, framing, close_conn);
  if (!h) return NULL;
  if (nobody || head_only) bl = 0;
  hl = strlen(h);
  r = (char *)realloc(h, hl + bl + 1);
  if (!r) { free(h); return NULL; }
  memcpy(r + hl, a->body, bl);
  r[hl + bl] = 0;
  *n = hl + bl;
  return r;
}

/* Mark the record, count events if 2xx (lock taken here), wake waiters. */
PTS_FN void pts_mark_answer(pts_conn *c, int rec, int status, const pts_in *in, int count) {
  pts_server *s = c->s;
  pthread_mutex_lock(&s->mu);
  c->answered = status;
  if (c->gen == s->gen && rec >= 0 && rec < s->nrecs) s->recs[rec].status_sent = status;
  if (c->gen == s->gen && count && status >= 200 && status < 300) {
    s->events += pts_scan_keys(s, in->body, in->body_len);
    if (s->fault_end && !s->first_ok && pts_now_ms() >= s->fault_end) s->first_ok = pts_now_ms();
  }
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

PTS_FN int pts_stream_fill(pts_conn *c, long long total, int chunked) {
  static const char pad[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  char *data = (char *)malloc(65536);
  long long sent = 0;
  size_t i;
  int rc = 0;
  if (!data) return -1;
  for (i = 0; i < 65536; i++) data[i] = pad[i % (sizeof pad - 1)];
  while (sent < total && rc == 0) {
    size_t n = total - sent > 65536 ? 65536 : (size_t)(total - sent);
    if (pts_stopping(c->s)) { rc = -1; break; }
    if (chunked) {
      char line[32];
      snprintf(line, sizeof line, "%lx\r\n", (unsigned long)n);
      if (pts_send_str(c, line) < 0 || pts_send_all(c, data, n) < 0 || pts_send_all(c, "\r\n", 2) < 0) rc = -1;
    } else if (pts_send_all(c, data, n) < 0) rc = -1;
    sent += (long long)n;
  }
  free(data);
  if (rc == 0 && chunked) rc = pts_send_str(c, "0\r\n\r\n");
  return rc;
}

/* Answer one request per a->mode. Returns 1 to keep the connection, 0 to close it. */
PTS_FN int pts_respond(pts_conn *c, const pts_act *a, const pts_in *in, int rec, int close_conn) {
  pts_server *s = c->s;
  char *r, framing[96];
  size_t n, i;
  int keep = !close_conn;
  switch (a->mode) {
  case PTS_MODE_NORMAL:
  default:
    r = pts_full_response(a, in->head, close_conn, &n);
    if (!r) return 0;
    pts_mark_answer(c, rec, a->status, in, 1);
    if (pts_send_all(c, r, n) < 0) keep = 0;
    free(r);
    return keep;
  case PTS_MODE_CHUNKED: {
    size_t bl = strlen(a->body), part = bl / 3 ? bl / 3 : 1, off = 0;
    int first = 1;
    r = pts_head(a->status, a->retry_after, "Transfer-Encoding: chunked\r\n", close_conn);
    if (!r) return 0;
    pts_mark_answer(c, rec, a->status, in, 1);
    if (pts_send_str(c, r) < 0) keep = 0;
    free(r);
    while (keep && off < bl) {
      size_t k = bl - off < part || bl - off - part < part ? bl - off : part;
      snprintf(framing, sizeof framing, first ? "%lx;x=y\r\n" : "%lx\r\n", (unsigned long)k);
      first = 0;
      if (pts_send_str(c, framing) < 0 || pts_send_all(c, a->body + off, k) < 0 ||
          pts_send_all(c, "\r\n", 2) < 0 || pts_conn_sleep(c, 2) < 0)
        keep = 0;
      off += k;
    }
    if (keep && pts_send_str(c, "0\r\nX-Trailer: done\r\n\r\n") < 0) keep = 0;
    return keep;
  }
  case PTS_MODE_CLOSE_DELIMITED:
    r = pts_head(a->status, a->retry_after, "", 1);
    if (!r) return 0;
    pts_mark_answer(c, rec, a->status, in, 1);
    if (pts_send_str(c, r) == 0) pts_send_str(c, a->body);
    free(r);
    return 0;
  case PTS_MODE_CLOSE_NO_RESPONSE:
    return 0;
  case PTS_MODE_RESET_MID:
    r = pts_full_response(a, 0, close_conn, &n);
    if (!r) return 0;
    pts_mark_answer(c, rec, a->status, in, 0);
    if (pts_send_all(c, r, n / 2) == 0) pts_conn_sleep(c, 20);
    free(r);
    c->close_how = 1;
    return 0;
  case PTS_MODE_MALFORMED:
    pts_send_str(c, "HTTP/1.1 abc\r\n");
    return 0;
  case PTS_MODE_RANDOM_BYTES: {
    unsigned char rnd[4096];
    for (i = 0; i < sizeof rnd; i++) {
      c->rng ^= c->rng << 13; c->rng ^= c->rng >> 7; c->rng ^= c->rng << 17;
      rnd[i] = (unsigned char)(c->rng >> 24);
    }
    pts_send_all(c, rnd, sizeof rnd);
    return 0;
  }
  case PTS_MODE_ENDLESS_HEADERS: {
    char line[128], batch[4096];
    long k = 0;
    pts_mark_answer(c, rec, a->status, in, 0);
    snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", a->status, pts_reason(a->status));
    if (pts_send_str(c, line) < 0) return 0;
    while (!pts_stopping(s)) {
      size_t bn = 0;
      while (bn + 128 < sizeof batch) {
        int m = snprintf(batch + bn, sizeof batch - bn, "X-Pad-%ld: ", k++);
        bn += (size_t)m;
        memset(batch + bn, 'a', 64);
        bn += 64;
        batch[bn++] = '\r';
        batch[bn++] = '\n';
      }
      if (pts_send_all(c, batch, bn) < 0) return 0;
    }
    return 0;
  }
  case PTS_MODE_HUGE_CONTENT_LENGTH:
    r = pts_head(a->status, a->retry_after, "Content-Length: 99999999999999999999\r\n", 0);
    if (!r) return 0;
    pts_mark_answer(c, rec, a->status, in, 0);
    if (pts_send_str(c, r) == 0 && pts_send_str(c, "{\"ok\"") == 0) pts_drain(c, -1);
    free(r);
    return 0;
  case PTS_MODE_CHUNK_OVERFLOW:
    r = pts_head(a->status, a->retry_after, "Transfer-Encoding: chunked\r\n", 0);
    if (!r) return 0;
    pts_mark_answer(c, rec, a->status, in, 0);
    if (pts_send_str(c, r) == 0 && pts_send_str(c, "ffffffffffffffffffff\r\n{\"ok\":true}") == 0)
      pts_drain(c, -1);
    free(r);
    return 0;
  case PTS_MODE_SLOW_DRIP:
    r = pts_full_response(a, in->head, close_conn, &n);
    if (!r) return 0;
    pts_mark_answer(c, rec, a->status, in, 1);
    for (i = 0; i < n && keep >= 0; i++)
      if (pts_send_all(c, r + i, 1) < 0 || (i + 1 < n && pts_conn_sleep(c, a->drip_ms) < 0)) keep = -1;
    free(r);
    return keep > 0;
  case PTS_MODE_HUGE_BODY:
  case PTS_MODE_HUGE_BODY_CHUNKED: {
    int ch = a->mode == PTS_MODE_HUGE_BODY_CHUNKED;
    if (ch) snprintf(framing, sizeof framing, "Transfer-Encoding: chunked\r\n");
    else snprintf(framing, sizeof framing, "Content-Length: %lld\r\n", a->huge);
    r = pts_head(a->status, a->retry_after, framing, close_conn);
    if (!r) return 0;
    pts_mark_answer(c, rec, a->status, in, 1);
    if (pts_send_str(c, r) < 0 || pts_stream_fill(c, a->huge, ch) < 0) keep = 0;
    free(r);
    return keep;
  }
  }
  return 0;
}

PTS_FN void pts_send_error(pts_conn *c, int status) {
  char buf[256], body[64];
  snprintf(body, sizeof body, "{\"error\":\"%s\"}", pts_reason(status));
  snprintf(buf, sizeof buf, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %lu\r\n"
           "Connection: close\r\n\r\n%s", status, pts_reason(status), (unsigned long)strlen(body), body);
  pts_send_str(c, buf);
}

/* Wait while stall is on. 0 = go on, -1 = server stopping or client gone.
   A client that left before the stall was lifted gets no answer (and its
   events are not counted) even if its FIN arrived too late for the last
   20 ms look: one more look once the stall is off. */
PTS_FN int pts_wait_stall(pts_conn *c) {
  int waited = 0;
  for (;;) {
    int st, stop;
    pthread_mutex_lock(&c->s->mu);
    st = c->s->stall;
    stop = c->s->stopping;
    pthread_mutex_unlock(&c->s->mu);
    if (stop) return -1;
    if (!st) return waited ? pts_conn_sleep(c, 0) : 0;
    waited = 1;
    if (pts_conn_sleep(c, 20) < 0) return -1;
  }
}

/* ================================================================ connection thread */
PTS_FN int pts_record_add(pts_server *s, pts_conn *c, const pts_in *in) { /* lock held */
  pts_request *r;
  size_t hl;
  if (s->nrecs >= PTS_MAX_RECORDS) return -1;
  if (s->nrecs == s->recs_cap) {
    int ncap = s->recs_cap ? s->recs_cap * 2 : 64;
    pts_request *nr = (pts_request *)realloc(s->recs, (size_t)ncap * sizeof *nr);
    if (!nr) return -1;
    s->recs = nr;
    s->recs_cap = ncap;
  }
  r = &s->recs[s->nrecs];
  memset(r, 0, sizeof *r);
  memcpy(r->method, in->method, sizeof r->method);
  memcpy(r->path, in->path, sizeof r->path);
  hl = strlen(in->headers);
  r->headers = (char *)malloc(hl + 1);
  if (r->headers) memcpy(r->headers, in->headers, hl + 1);
  if (s->rec_body_bytes + in->body_len <= PTS_REC_BODY_BUDGET) {
    r->body = (unsigned char *)malloc(in->body_len + 1);
    if (r->body) {
      memcpy(r->body, in->body, in->body_len + 1);
      r->body_len = in->body_len;
      s->rec_body_bytes += in->body_len;
    }
  }
  if (!r->body) {
    r->body = (unsigned char *)calloc(1, 1);
    r->body_dropped = 1;
  }
  r->raw_body_len = in->raw_len;
  r->gzip = in->gzip;
  r->gzip_ok = in->gzip_ok;
  r->chunked = in->chunked;
  r->conn_id = c->id;
  r->t_ms = pts_now_ms();
  return s->nrecs++;
}

PTS_FN void *pts_conn_main(void *arg) {
  pts_conn *c = (pts_conn *)arg;
  pts_server *s = c->s;
  for (;;) {
    pts_in in;
    pts_act act;
    int err = 0, rec, close_conn, keep, rr, faulted = 0;
    long nev;
    memset(&in, 0, sizeof in);
    rr = pts_read_request(c, &in, &err);
    if (rr <= 0) {
      if (rr < 0) pts_send_error(c, err);
      if (rr == -2) {
        PTS_LOCKED(s, s->early_rejects++; pthread_cond_broadcast(&s->cv));
        c->close_how = 2;   /* close with the body unread: the kernel resets the connection */
      }
      pts_in_free(&in);
      break;
    }
    c->nreq++;
    nev = pts_scan_keys(NULL, in.body, in.body_len);
    pthread_mutex_lock(&s->mu);
    s->nreq++;
    s->events_seen += nev;
    if (s->req_name) {
      size_t vn;
      const char *v = pts_hfind(in.headers, strlen(in.headers), s->req_name, &vn);
      if (!v || (s->req_value && (vn != strlen(s->req_value) || memcmp(v, s->req_value, vn) != 0)))
        s->header_failures++;
    }
    rec = pts_record_add(s, c, &in);
    c->gen = s->gen;
    c->answered = 0;
    if (in.gzip_bad)
      pts_act_simple(&act, 400, "{\"error\":\"bad gzip\"}");
    else if (s->reject_marker &&
             pts_memfind(in.body, in.body_len, s->reject_marker, strlen(s->reject_marker)) != PTS_NONE)
      pts_act_simple(&act, s->reject_status, "{\"error\":\"poison\"}");
    else if (s->max_body && in.body_len > s->max_body)
      pts_act_simple(&act, s->max_body_status, "{\"error\":\"too large\"}");
    else if (s->fault_on && (s->fault_left > 0 || (s->fault_left < 0 && pts_now_ms() < s->fault_until))) {
      pts_act_dup(&act, &s->fault);
      faulted = 1;
      s->fault_hits++;
      if (s->fault_left > 0) s->fault_left--;
    } else if (s->script_head < s->script_n)
      act = s->script[s->script_head++];
    else
      pts_act_dup(&act, &s->def);
    close_conn = in.want_close || (s->close_after > 0 && c->nreq >= s->close_after);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);

    keep = 0;
    if (pts_wait_stall(c) == 0 && (act.delay_ms <= 0 || pts_conn_sleep(c, act.delay_ms) == 0))
      keep = pts_respond(c, &act, &in, rec, close_conn);
    pthread_mutex_lock(&s->mu);
    if (faulted && s->fault_total > 0 && ++s->fault_done == s->fault_total) {
      s->fault_end = pts_now_ms();
      pthread_cond_broadcast(&s->cv);
    }
    if (s->log) {
      fprintf(s->log, "%s %s body=%lu raw=%lu gzip=%d events=%ld conn=%d status=%d mode=%d\n", in.method,
              in.path, (unsigned long)in.body_len, (unsigned long)in.raw_len, in.gzip, nev, c->id,
              c->answered, (int)act.mode);
      fflush(s->log);
    }
    pthread_mutex_unlock(&s->mu);
    pts_act_free(&act);
    pts_in_free(&in);
    if (!keep) break;
    if (c->cap > ((size_t)1 << 20) && c->len < 16384) { /* give back a big request's buffer */
      char *nb = (char *)realloc(c->buf, 32768);
      if (nb) { c->buf = nb; c->cap = 32768; }
    }
  }
  if (c->close_how == 2) {
    /* plain close */
  } else if (c->close_how == 1) {
    struct linger lg;
    lg.l_onoff = 1;
    lg.l_linger = 0;
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  } else {
    pts_close_graceful(c);
  }
  pthread_mutex_lock(&s->mu);
  close(c->fd);
  c->fd = -1;
  c->done = 1;
  s->nclosed++;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  free(c->buf);
  c->buf = NULL;
  return NULL;
}

/* ================================================================ listener */
PTS_FN int pts_listen(int port, int *out_port) {
  struct sockaddr_in sa;
  socklen_t sl = sizeof sa;
  int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 256) < 0 ||
      getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
    close(fd);
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (out_port) *out_port = ntohs(sa.sin_port);
  return fd;
}

/* The port bound without listen(): a connect is refused (RST), and no other
   process's server can be given the port while a test holds it "down". */
PTS_FN int pts_bind_only(int port) {
  struct sockaddr_in sa;
  int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { close(fd); return -1; }
  return fd;
}

PTS_FN void pts_new_conn(pts_server *s, int fd) { /* lock held */
  int one = 1, rc;
  pthread_attr_t at;
  pts_conn *c;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#ifdef SO_NOSIGPIPE
  setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  c = (pts_conn *)calloc(1, sizeof *c);
  if (!c || s->stopping) { free(c); close(fd); return; }
  c->s = s;
  c->fd = fd;
  c->id = s->nconn++;
  c->rng = 0x9E3779B97F4A7C15ULL ^ ((unsigned long long)(c->id + 1) * 0x100000001B3ULL) ^ (unsigned long long)pts_now_ms();
  pthread_attr_init(&at);
  pthread_attr_setstacksize(&at, 512 * 1024);
  rc = pthread_create(&c->th, &at, pts_conn_main, c);
  pthread_attr_destroy(&at);
  if (rc != 0) { close(fd); free(c); return; }
  c->next = s->conns;
  s->conns = c;
}

PTS_FN void *pts_accept_main(void *arg) {
  pts_server *s = (pts_server *)arg;
  pthread_mutex_lock(&s->mu);
  while (!s->stopping) {
    pts_conn **pp = &s->conns, *dead = NULL;
    struct pollfd p[2];
    int lfd;
    if (s->refuse_done != s->refuse_seq) { /* refuse / re-listen requested */
      s->refuse_result = 0;
      if (s->want_refuse && s->lfd >= 0) {
        close(s->lfd);
        s->lfd = -1;
        s->hold_fd = pts_bind_only(s->port);
      } else if (!s->want_refuse && s->lfd < 0) {
        if (s->hold_fd >= 0) { close(s->hold_fd); s->hold_fd = -1; }
        s->lfd = pts_listen(s->port, NULL);
        if (s->lfd < 0) s->refuse_result = -1;
      }
      s->refused = s->lfd < 0;
      s->refuse_done = s->refuse_seq;
      pthread_cond_broadcast(&s->cv);
    }
    if (s->refuse_until && pts_now_ms() >= s->refuse_until && s->lfd < 0) { /* pts_refuse_for is over */
      if (s->hold_fd >= 0) { close(s->hold_fd); s->hold_fd = -1; }
      s->lfd = pts_listen(s->port, NULL);
      if (s->lfd >= 0) {
        s->refused = 0;
        s->want_refuse = 0;
        s->refuse_until = 0;
        s->fault_end = pts_now_ms();
        pthread_cond_broadcast(&s->cv);
      }
    }
    while (*pp) { /* reap finished connection threads */
      pts_conn *c = *pp;
      if (c->done) { *pp = c->next; c->next = dead; dead = c; }
      else pp = &c->next;
    }
    lfd = s->lfd;
    pthread_mutex_unlock(&s->mu);
    while (dead) {
      pts_conn *c = dead;
      dead = c->next;
      pthread_join(c->th, NULL);
      free(c);
    }
    p[0].fd = s->wake[0]; p[0].events = POLLIN; p[0].revents = 0;
    p[1].fd = lfd; p[1].events = POLLIN; p[1].revents = 0;
    poll(p, 2, 10);
    pthread_mutex_lock(&s->mu);
    if (lfd >= 0 && (p[1].revents & POLLIN) && !s->stopping) {
      int fd = accept(lfd, NULL, NULL);
      if (fd >= 0) pts_new_conn(s, fd);
    }
  }
  if (s->lfd >= 0) close(s->lfd);
  s->lfd = -1;
  if (s->hold_fd >= 0) close(s->hold_fd);
  s->hold_fd = -1;
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

/* ================================================================ public API */
PTS_FN pts_server *pts_start(void) {
  pts_server *s = (pts_server *)calloc(1, sizeof *s);
  pts_action d;
  int i;
  if (!s) return NULL;
  s->wake[0] = s->wake[1] = -1;
  if (pipe(s->wake) < 0) { free(s); return NULL; }
  for (i = 0; i < 2; i++) {
    fcntl(s->wake[i], F_SETFD, FD_CLOEXEC);
    fcntl(s->wake[i], F_SETFL, fcntl(s->wake[i], F_GETFL) | O_NONBLOCK);
  }
  s->hold_fd = -1;
  s->lfd = pts_listen(0, &s->port);
  if (s->lfd < 0) { close(s->wake[0]); close(s->wake[1]); free(s); return NULL; }
  snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", s->port);
  memset(&d, 0, sizeof d);
  pts_act_from(&s->def, &d);
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  if (pthread_create(&s->accept_th, NULL, pts_accept_main, s) != 0) {
    close(s->lfd); close(s->wake[0]); close(s->wake[1]);
    pts_act_free(&s->def);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
    return NULL;
  }
  return s;
}

PTS_FN void pts_clear_rules(pts_server *s) { /* lock held */
  int i;
  pts_action d;
  for (i = s->script_head; i < s->script_n; i++) pts_act_free(&s->script[i]);
  s->script_n = s->script_head = 0;
  free(s->reject_marker);
  free(s->req_name);
  free(s->req_value);
  s->reject_marker = s->req_name = s->req_value = NULL;
  s->max_body = 0;
  s->close_after = s->stall = 0;
  pts_act_free(&s->fault);
  s->fault_on = s->fault_left = s->fault_total = s->fault_done = s->fault_hits = 0;
  s->fault_until = s->fault_end = s->first_ok = s->refuse_until = 0;
  s->early_limit = 0;
  s->early_status = s->early_rejects = 0;
  pts_act_free(&s->def);
  memset(&d, 0, sizeof d);
  pts_act_from(&s->def, &d);
}

PTS_FN void pts_clear_records(pts_server *s) { /* lock held */
  int i;
  for (i = 0; i < s->nrecs; i++) { free(s->recs[i].headers); free(s->recs[i].body); }
  s->nrecs = 0;
  s->rec_body_bytes = 0;
}

PTS_FN void pts_stop(pts_server *s) {
  pts_conn *c;
  char b = 1;
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  s->stopping = 1;
  for (c = s->conns; c; c = c->next)
    if (c->fd >= 0) shutdown(c->fd, SHUT_RDWR);
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  while (write(s->wake[1], &b, 1) < 0 && errno == EINTR) {}
  pthread_join(s->accept_th, NULL); /* no new connections after this */
  while ((c = s->conns) != NULL) {
    s->conns = c->next;
    pthread_join(c->th, NULL);
    free(c);
  }
  pthread_mutex_lock(&s->mu);
  pts_clear_rules(s);
  pts_act_free(&s->def);
  pts_act_free(&s->fault);
  pts_clear_records(s);
  pthread_mutex_unlock(&s->mu);
  free(s->script);
  free(s->recs);
  pts_map_clear(s);
  close(s->wake[0]);
  close(s->wake[1]);
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

PTS_FN int pts_port(pts_server *s) { return s->port; }
PTS_FN const char *pts_url(pts_server *s) { return s->url; }

/* Ask the accept thread to (un)refuse; lock held on entry and exit. */
PTS_FN int pts_refuse_locked(pts_server *s, int on) {
  unsigned my;
  s->want_refuse = on;
  my = ++s->refuse_seq;
  while ((int)(s->refuse_done - my) < 0 && !s->stopping) {
    struct timespec ts;
    pts_abs_in(&ts, 20);
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
  }
  return s->stopping ? -1 : s->refuse_result;
}

PTS_FN void pts_reset(pts_server *s) {
  pthread_mutex_lock(&s->mu);
  pts_clear_rules(s);
  pts_clear_records(s);
  pts_map_clear(s);
  s->nreq = s->nconn = s->nclosed = s->header_failures = 0;
  s->events = s->events_seen = 0;
  s->gen++;
  if (s->want_refuse || s->refused) pts_refuse_locked(s, 0);
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

PTS_FN void pts_script(pts_server *s, const pts_action *a, int n) {
  int i;
  pthread_mutex_lock(&s->mu);
  if (s->script_head > 0 && s->script_head == s->script_n) s->script_head = s->script_n = 0;
  for (i = 0; i < n; i++) {
    if (s->script_n == s->script_cap) {
      int ncap = s->script_cap ? s->script_cap * 2 : 16;
      pts_act *ns = (pts_act *)realloc(s->script, (size_t)ncap * sizeof *ns);
      if (!ns) break;
      s->script = ns;
      s->script_cap = ncap;
    }
    pts_act_from(&s->script[s->script_n++], &a[i]);
  }
  pthread_mutex_unlock(&s->mu);
}

PTS_FN void pts_set_default(pts_server *s, const pts_action *a) {
  pts_action d;
  pthread_mutex_lock(&s->mu);
  pts_act_free(&s->def);
  memset(&d, 0, sizeof d);
  pts_act_from(&s->def, a ? a : &d);
  pthread_mutex_unlock(&s->mu);
}

PTS_FN void pts_set_reject_marker(pts_server *s, const char *marker, int status) {
  pthread_mutex_lock(&s->mu);
  free(s->reject_marker);
  s->reject_marker = (marker && *marker) ? pts_strdup(marker) : NULL;
  s->reject_status = status > 0 ? status : 400;
  pthread_mutex_unlock(&s->mu);
}

PTS_FN void pts_set_max_body(pts_server *s, size_t max_decoded_bytes, int status) {
  PTS_LOCKED(s, s->max_body = max_decoded_bytes; s->max_body_status = status > 0 ? status : 413);
}
PTS_FN void pts_set_close_after(pts_server *s, int n) { PTS_LOCKED(s, s->close_after = n > 0 ? n : 0); }
PTS_FN void pts_set_stall(pts_server *s, int on) { PTS_LOCKED(s, s->stall = on != 0); }
PTS_FN void pts_set_log(pts_server *s, FILE *f) { PTS_LOCKED(s, s->log = f); }
PTS_FN int pts_set_refuse(pts_server *s, int on) {
  int r;
  PTS_LOCKED(s, r = pts_refuse_locked(s, on != 0));
  return r;
}

PTS_FN void pts_set_require_header(pts_server *s, const char *name, const char *value) {
  pthread_mutex_lock(&s->mu);
  free(s->req_name);
  free(s->req_value);
  s->req_name = pts_strdup(name);
  s->req_value = name ? pts_strdup(value) : NULL;
  pthread_mutex_unlock(&s->mu);
}

/* ---- timed and counted faults ---- */
PTS_FN void pts_fault_arm(pts_server *s, const pts_action *a, int left, long long until) { /* lock held */
  pts_action d;
  memset(&d, 0, sizeof d);
  pts_act_free(&s->fault);
  pts_act_from(&s->fault, a ? a : &d);
  s->fault_on = 1;
  s->fault_left = left;
  s->fault_total = left > 0 ? left : 0;
  s->fault_done = s->fault_hits = 0;
  s->fault_until = until;
  s->fault_end = left > 0 ? 0 : until;
  s->first_ok = 0;
}
PTS_FN void pts_fault_window(pts_server *s, const pts_action *a, int ms) {
  PTS_LOCKED(s, pts_fault_arm(s, a, -1, pts_now_ms() + ms));
}
PTS_FN void pts_fault_count(pts_server *s, const pts_action *a, int n) {
  PTS_LOCKED(s, pts_fault_arm(s, a, n > 0 ? n : 1, 0));
}
PTS_FN int pts_refuse_for(pts_server *s, int ms) {
  pts_conn *c;
  int r;
  pthread_mutex_lock(&s->mu);
  s->fault_on = 0;
  s->fault_end = s->first_ok = 0;
  r = pts_refuse_locked(s, 1);
  s->refuse_until = pts_now_ms() + ms;
  for (c = s->conns; c; c = c->next)
    if (c->fd >= 0) shutdown(c->fd, SHUT_RDWR);
  pthread_mutex_unlock(&s->mu);
  return r;
}
PTS_FN void pts_set_early_reject(pts_server *s, size_t limit, int status) {
  PTS_LOCKED(s, s->early_limit = limit; s->early_status = status > 0 ? status : 413);
}
PTS_FN long long pts_fault_end_ms(pts_server *s) { long long v; PTS_LOCKED(s, v = s->fault_end); return v; }
PTS_FN long long pts_first_ok_after_fault(pts_server *s) {
  long long v;
  PTS_LOCKED(s, v = s->fault_end && s->first_ok ? s->first_ok - s->fault_end : -1);
  return v;
}
PTS_FN int pts_fault_hits(pts_server *s) { int v; PTS_LOCKED(s, v = s->fault_hits); return v; }
PTS_FN int pts_early_rejects(pts_server *s) { int v; PTS_LOCKED(s, v = s->early_rejects); return v; }

/* Shut down every open connection (the client sees EOF); the listener stays. */
PTS_FN void pts_drop_connections(pts_server *s) {
  pts_conn *c;
  pthread_mutex_lock(&s->mu);
  for (c = s->conns; c; c = c->next)
    if (c->fd >= 0) { shutdown(c->fd, SHUT_RDWR); c->dropped = 1; }
  pthread_mutex_unlock(&s->mu);
}


#define PTS_GETTER(type, name, expr) \
  PTS_FN type name(pts_server *s) { type v; PTS_LOCKED(s, v = (type)(expr)); return v; }
PTS_GETTER(int, pts_request_count, s->nreq)
PTS_GETTER(int, pts_connection_count, s->nconn)
PTS_GETTER(int, pts_connections_closed, s->nclosed)
PTS_GETTER(int, pts_header_failures, s->header_failures)
PTS_GETTER(long, pts_events_received, s->events)
PTS_GETTER(long, pts_events_seen, s->events_seen)
PTS_GETTER(long, pts_distinct_keys, s->tab_used)
PTS_GETTER(long, pts_duplicate_events, s->events - (long)s->tab_used)

PTS_FN int pts_key_count(pts_server *s, const char *key) {
  int v = 0;
  pthread_mutex_lock(&s->mu);
  if (s->tab_cap && key) {
    pts_kv *kv = pts_map_slot(s->tab, s->tab_cap, key, strlen(key));
    if (kv->key) v = (int)kv->count;
  }
  pthread_mutex_unlock(&s->mu);
  return v;
}

PTS_FN int pts_get_request(pts_server *s, int i, pts_request *out) {
  const pts_request *r;
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&s->mu);
  if (i < 0 || i >= s->nrecs) { pthread_mutex_unlock(&s->mu); return -1; }
  r = &s->recs[i];
  *out = *r;
  out->headers = pts_strdup(r->headers ? r->headers : "");
  out->body = (unsigned char *)malloc(r->body_len + 1);
  if (out->body) {
    memcpy(out->body, r->body, r->body_len);
    out->body[r->body_len] = 0;
  }
  pthread_mutex_unlock(&s->mu);
  return 0;
}

/* Monotonic ms (pts_now_ms clock) at which request i was fully read; -1 if none. */
PTS_FN long long pts_request_time(pts_server *s, int i) {
  long long t = -1;
  pthread_mutex_lock(&s->mu);
  if (i >= 0 && i < s->nrecs) t = s->recs[i].t_ms;
  pthread_mutex_unlock(&s->mu);
  return t;
}

PTS_FN void pts_request_free(pts_request *r) {
  if (!r) return;
  free(r->headers);
  free(r->body);
  r->headers = NULL;
  r->body = NULL;
}

PTS_FN const char *pts_header(const pts_request *r, const char *name, char *buf, size_t cap) {
  size_t vn;
  const char *v;
  if (!r || !r->headers || !name || !buf || cap == 0) return NULL;
  v = pts_hfind(r->headers, strlen(r->headers), name, &vn);
  if (!v) return NULL;
  if (vn >= cap) vn = cap - 1;
  memcpy(buf, v, vn);
  buf[vn] = 0;
  return buf;
}

/* Block until counter(s) >= n or timeout_ms passes; 1 if reached. */
PTS_FN int pts_wait_counter(pts_server *s, long n, int timeout_ms, int which) {
  long long deadline = pts_now_ms() + timeout_ms;
  int ok;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    long cur = which == 2 ? (long)s->nclosed : which ? (long)s->nreq : s->events;
    struct timespec ts;
    if ((ok = cur >= n) != 0 || s->stopping || pts_now_ms() >= deadline) break;
    pts_abs_in(&ts, 20);
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
  }
  pthread_mutex_unlock(&s->mu);
  return ok;
}

PTS_FN int pts_wait_events(pts_server *s, long n, int timeout_ms) { return pts_wait_counter(s, n, timeout_ms, 0); }
PTS_FN int pts_wait_requests(pts_server *s, int n, int timeout_ms) { return pts_wait_counter(s, n, timeout_ms, 1); }
/* Until n connections (since reset) are closed on the server's side (its FIN sent, the socket closed). */
PTS_FN int pts_wait_closed(pts_server *s, int n, int timeout_ms) { return pts_wait_counter(s, n, timeout_ms, 2); }

/* ================================================================ standalone */
#ifdef PTS_MAIN
#include <signal.h>
static volatile sig_atomic_t pts_sig_flag = 0;
static void pts_on_signal(int sig) { (void)sig; pts_sig_flag = 1; }

int main(int argc, char **argv) {
  struct sigaction sa;
  pts_server *s;
  int use_stdin = 1, i;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = pts_on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  s = pts_start();
  if (!s) { fprintf(stderr, "pts: cannot start server\n"); return 1; }
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--no-stdin") == 0) use_stdin = 0;
    else if (strcmp(argv[i], "--status") == 0 && i + 1 < argc) {
      pts_action a;
      memset(&a, 0, sizeof a);
      a.status = atoi(argv[++i]);
      pts_set_default(s, &a);
    } else if (strcmp(argv[i], "--stall") == 0) {
      pts_set_stall(s, 1);
    } else {
      fprintf(stderr, "usage: %s [--no-stdin] [--status N] [--stall]\n", argv[0]);
      pts_stop(s);
      return 1;
    }
  }
  printf("%s\n", pts_url(s));
  fflush(stdout);
  pts_set_log(s, stdout);
  while (!pts_sig_flag) {
    struct pollfd p;
    char tmp[512];
    p.fd = 0; p.events = POLLIN; p.revents = 0;
    if (!use_stdin) { poll(NULL, 0, 200); continue; }
    if (poll(&p, 1, 200) > 0) {
      ssize_t n = read(0, tmp, sizeof tmp);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) break;
    }
  }
  pts_stop(s);
  return 0;
}
#endif

#endif /* PTS_TEST_SERVER_C */
