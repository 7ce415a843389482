/* packtrack.h - v0.1.0 - PackTrack observability client for C/C++ - MIT or public domain (see end of file)

   Sends observability events for AI-agent workflows to a PackTrack server.
   One file. No dependencies beyond the C library, pthreads/Win32 and sockets
   (each optional: the PACKTRACK_NO_* build switches below).

   USAGE
     In exactly ONE .c or .cpp file:
         #define PACKTRACK_IMPLEMENTATION
         #include "packtrack.h"
     Everywhere else just #include "packtrack.h".

   QUICK START (the same as examples/async.c)
         pt_config cfg = {0};                          // C++: pt_config cfg = {};
         pt_client *client = NULL;
         pt_error err;
         pt_close_report rep;
         cfg.api_key  = "pk_live_...";
         cfg.base_url = "http://127.0.0.1:8080";       // default https://pack.shimcounty.com
         cfg.defaults.source_system = "checkout-svc";  // filled into every event
         cfg.defaults.workflow_id = "wf-1";
         cfg.defaults.actor_type = "agent";  cfg.defaults.actor_id = "a-42";
         if (pt_client_new(&cfg, &client, &err) != PT_OK) { puts(err.message); return 1; }
         pt_result r = pt_trackf(client, PT_SEVERITY_INFO, PT_STATUS_SUCCESS, "refund %d issued", 1042);
         if (r != PT_OK) printf("not sent: %s\n", pt_strerror(r));   // copies; never blocks
         pt_close(client, 5000, &rep);                 // drains the queue, at most 5 s
         printf("delivered %llu of %llu\n", (unsigned long long)rep.delivered, (unsigned long long)rep.tracked);
         pt_client_free(client);                       // releases the handle pt_close keeps
     Steps with durations: pt_step_begin()/pt_step_end() (examples/workflow.c).
     Diagnostics: cfg.logger = pt_log_stderr; or PACKTRACK_DEBUG=1 with pt_config_from_env().

   BUILD MACROS (define before the implementation include)
     PACKTRACK_USE_CURL         link libcurl (-lcurl) for http and https
                                (default: POSIX loads libcurl.so.4 at run time
                                for https; Windows uses WinHTTP, link -lwinhttp)
     PACKTRACK_NO_DLOPEN        POSIX: never load libcurl at run time
     PACKTRACK_CURL_LIBRARY     POSIX: library loaded for https ("libcurl.so.4")
     PACKTRACK_NO_WINHTTP       Windows: built-in socket client (http only)
     PACKTRACK_USE_ZLIB         gzip through zlib (link -lz)
     PACKTRACK_USE_LIBDEFLATE   gzip through libdeflate (link -ldeflate)
                                (neither: a built-in deflate encoder is used)
     PACKTRACK_NO_THREADS       no thread API: no flush thread (call pt_pump() from your
                                loop), no locks (one thread calls the client), no fork hooks
     PACKTRACK_NO_SOCKETS       no built-in HTTP client: set cfg.http or cfg.http_async
     PACKTRACK_NO_SPOOL         no disk spool (spool_dir is refused)
     PACKTRACK_NO_DEFLATE       no built-in gzip encoder (zlib, libdeflate or cfg.gzip)
                                (NO_THREADS + NO_SOCKETS + NO_SPOOL: only the C library
                                and a clock; builds for WebAssembly)
     PACKTRACK_NO_SYNC_API      no pt_ingest/pt_ingest_batch and no pt_health server
                                probe (PT_ERR_UNSUPPORTED); pt_track + the queue stay
     PACKTRACK_NO_ENV           no pt_config_from_env (returns PT_ERR_UNSUPPORTED)
     PACKTRACK_NO_STEPS         no pt_step_begin/_end helpers (PT_ERR_UNSUPPORTED, logged)
     PACKTRACK_NO_TRACK_JSON    no pt_track_json (PT_ERR_UNSUPPORTED, logged)
     PACKTRACK_NO_DEFAULTS      no cfg.defaults (a set one is refused with PT_ERR_CONFIG)
     PACKTRACK_NO_RAW_JSON      no PT_FIELD_RAW fields (pt_field_raw): such an event is
                                refused with PT_ERR_UNSUPPORTED (no JSON validator)
     PACKTRACK_NO_PROMETHEUS    pt_stats_prometheus writes only a comment saying so
                                (pt_stats stays)
     PACKTRACK_API              linkage of every public function (default extern;
                                `#define PACKTRACK_API static` makes a private copy)
     PACKTRACK_MALLOC/REALLOC/FREE  allocator (all three or none; must be thread-safe).
                                Under strict -std=c99 (no POSIX by default), a file that
                                includes <stdlib.h> or another system header before the
                                implementation must define _POSIX_C_SOURCE 200809L first
     PACKTRACK_ASSERT(x)        internal invariant checks (default assert)

   GUARANTEES
     - pt_track() copies the event into a bounded in-memory queue and returns; it
       never does network I/O, never sleeps, never waits for the flush thread.
     - Every event accepted by pt_track() is delivered by pt_close() when the server
       is reachable within the close deadline; the close report counts every event.
     - Retryable failures (network, timeout, 408, 429, 5xx) keep the batch at the
       head of the queue and retry with backoff; nothing is dropped for them.
     - Manual mode: pt_pump(client, budget_ms) returns within its budget whatever
       the server does (the request in progress advances a step per pump);
       cfg.http_async hands requests to the host's own HTTP stack instead.
     - Every public function is thread-safe, pt_close() included: calls racing
       with it get PT_ERR_CLOSED, and it waits for calls already inside. After
       pt_client_free() the pointer is gone: no call (nor pt_step_end) may use it.
     - The library never aborts, never prints unless you opt in (pt_log_stderr,
       PACKTRACK_DEBUG=1), and never puts the API key in a message, log line or stat.

   Full documentation: README.md
*/
/* The implementation needs POSIX declarations even under strict -std=c99;
   they must be requested before the first system header. Only the file that
   defines PACKTRACK_IMPLEMENTATION gets them: a declarations-only include
   defines no feature-test macro in the user's file. Consequence (strict ISO
   modes such as -std=c99, not gnu99): in the implementation file, define
   PACKTRACK_IMPLEMENTATION before the first #include of any header
   (packtrack.h included, which pulls in <stdint.h>), or define
   _POSIX_C_SOURCE 200809L yourself at its top. */
#if !defined(_WIN32) && !defined(PT__FEATURES_SET) && defined(PACKTRACK_IMPLEMENTATION)
#define PT__FEATURES_SET
#if defined(__STRICT_ANSI__) && defined(_FEATURES_H) && !defined(_POSIX_C_SOURCE) && !defined(_XOPEN_SOURCE) && !defined(_GNU_SOURCE) && !defined(_DEFAULT_SOURCE)
#error "packtrack.h: in strict ISO mode (-std=c99/c11) define PACKTRACK_IMPLEMENTATION before including any header (or define _POSIX_C_SOURCE 200809L at the top of this file): a system header was already included without POSIX declarations"
#endif
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1
#endif
#ifndef _DARWIN_C_SOURCE
#define _DARWIN_C_SOURCE 1
#endif
#endif

#ifndef PACKTRACK_H
#define PACKTRACK_H

#include <stddef.h>
#include <stdint.h>

#define PACKTRACK_VERSION_MAJOR 0
#define PACKTRACK_VERSION_MINOR 1
#define PACKTRACK_VERSION_PATCH 0
#define PACKTRACK_VERSION_STRING "0.1.0"

#ifndef PACKTRACK_API
#define PACKTRACK_API extern
#endif
/* Marks public functions as possibly unused, so `#define PACKTRACK_API static`
   compiles without warnings for the functions a program does not call. */
#if defined(__GNUC__) || defined(__clang__)
#define PT__API PACKTRACK_API __attribute__((unused))
#else
#define PT__API PACKTRACK_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- results ---------------------------------------------------------------
   0 is success, failures are negative. Values are fixed forever. */
#define PT__RESULT_LIST(X) \
    X(PT_OK,                      0, "ok") \
    X(PT_ERR_INVALID_ARG,        -1, "invalid argument") \
    X(PT_ERR_MISSING_FIELD,      -2, "required event field missing or empty") \
    X(PT_ERR_INVALID_JSON,       -3, "invalid JSON") \
    X(PT_ERR_CONFIG,             -4, "invalid configuration") \
    X(PT_ERR_NO_MEMORY,          -5, "out of memory") \
    X(PT_ERR_QUEUE_FULL,         -6, "queue full, event dropped") \
    X(PT_ERR_CLOSED,             -7, "client is closed") \
    X(PT_ERR_TIMEOUT,            -8, "timed out") \
    X(PT_ERR_NETWORK,            -9, "network error") \
    X(PT_ERR_HTTP,              -10, "server rejected the request") \
    X(PT_ERR_RETRIES_EXHAUSTED, -11, "retries exhausted") \
    X(PT_ERR_TOO_LARGE,         -12, "event larger than event_max_bytes") \
    X(PT_ERR_FILTERED,          -13, "event dropped by before_send hook") \
    X(PT_ERR_TLS,               -14, "TLS error") \
    X(PT_ERR_RESOLVE,           -15, "could not resolve host") \
    X(PT_ERR_CONNECT,           -16, "could not connect") \
    X(PT_ERR_PROTOCOL,          -17, "malformed HTTP response") \
    X(PT_ERR_CIRCUIT_OPEN,      -18, "circuit breaker open") \
    X(PT_ERR_SPOOL,             -19, "spool I/O error") \
    X(PT_ERR_SPOOL_LOCKED,      -20, "spool directory in use by another client") \
    X(PT_ERR_DISK_FULL,         -21, "disk full or spool limit reached") \
    X(PT_ERR_UNSUPPORTED,       -22, "not supported by this build") \
    X(PT_ERR_SAMPLED,           -23, "event sampled out under backpressure") \
    X(PT_ERR_COMPRESSION,       -24, "compression failed") \
    X(PT_ERR_CANCELLED,         -25, "request cut off at a deadline") \
    X(PT_ERR_THREAD,            -26, "could not start the flush thread") \
    X(PT_ERR_INTERNAL,          -27, "internal error")

#define PT__RESULT_ENUM(name, value, text) name = value,
typedef enum pt_result { PT__RESULT_LIST(PT__RESULT_ENUM) PT_RESULT_MIN_ = -28 } pt_result;
#undef PT__RESULT_ENUM

/* Detail of a failure. Every field is filled by the call that fails; a NULL
   pt_error* is always allowed. The message names the problem (the field, the
   URL part, the status) and never contains the API key. */
typedef struct pt_error {
    pt_result code;
    int       http_status;      /* last HTTP status seen, 0 if none */
    int       retryable;        /* 1 if trying again later may succeed */
    int       attempts;         /* requests made (1 + retries) */
    int       retry_after_ms;   /* last Retry-After seen, -1 if none */
    char      message[256];
    char      body_head[256];   /* first bytes of the response body, NUL-terminated */
} pt_error;

/* ---- event ------------------------------------------------------------------ */
typedef enum pt_severity {
    PT_SEVERITY_UNSET = 0,      /* missing: pt_track fails naming "severity" */
    PT_SEVERITY_DEBUG,
    PT_SEVERITY_INFO,
    PT_SEVERITY_WARN,
    PT_SEVERITY_ERROR
} pt_severity;

/* Known status values; any other non-empty string passes through. */
#define PT_STATUS_RUNNING  "running"
#define PT_STATUS_SUCCESS  "success"
#define PT_STATUS_ERROR    "error"
#define PT_STATUS_OK       "ok"
#define PT_STATUS_FAILED   "failed"
#define PT_STATUS_SKIPPED  "skipped"
#define PT_STATUS_TIMEOUT  "timeout"
#define PT_STATUS_RETRYING "retrying"
#define PT_STATUS_UNKNOWN  "unknown"

typedef enum pt_field_type {
    PT_FIELD_UNSET = 0,         /* an entry with type UNSET is skipped */
    PT_FIELD_STRING,            /* str (len, or strlen when len is 0) */
    PT_FIELD_INT,               /* i */
    PT_FIELD_DOUBLE,            /* d (NaN/Infinity become null) */
    PT_FIELD_BOOL,              /* b */
    PT_FIELD_NULL,
    PT_FIELD_RAW                /* str is a JSON value (object, array, ...), validated */
} pt_field_type;

/* One metadata/extra entry. Duplicate keys in one list are rejected
   (PT_ERR_INVALID_ARG naming the key). Build them with pt_field_*(). */
typedef struct pt_field {
    const char   *key;
    pt_field_type type;
    const char   *str;
    size_t        len;
    int64_t       i;
    double        d;
    int           b;
} pt_field;

PT__API pt_field pt_field_str(const char *key, const char *value);
PT__API pt_field pt_field_int(const char *key, int64_t value);
PT__API pt_field pt_field_double(const char *key, double value);
PT__API pt_field pt_field_bool(const char *key, int value);
PT__API pt_field pt_field_null(const char *key);
PT__API pt_field pt_field_raw(const char *key, const char *json);
/* Length-taking setters (C++ std::string_view, slices of a larger buffer):
   exactly n bytes are used, no NUL needed; n == 0 is an empty string/value.
   pt_field_strn also takes a NULL value (JSON null). */
PT__API pt_field pt_field_strn(const char *key, const char *value, size_t n);
PT__API pt_field pt_field_rawn(const char *key, const char *json, size_t n);

/* An event. Strings are borrowed for the duration of the call only.
   Required: source_system, workflow_id, actor_type, actor_id, severity,
   status, message. NULL optional fields are omitted from the JSON.
   With cfg.defaults set, every NULL string (and an UNSET severity) takes the
   default, and the default metadata/extra entries are added under keys the
   event does not use itself (the event's own keys win). */
typedef struct pt_event {
    int64_t         timestamp_ms;       /* Unix ms, UTC (pt_unix_ms()); 0 = time of the call.
                                           Values before 2001-01-01 are refused: they are
                                           not Unix time (pt_now_ms() is monotonic). */
    const char     *source_system;
    const char     *source_env;
    const char     *workflow_id;
    const char     *workflow_name;
    const char     *run_id;
    const char     *step_id;
    const char     *actor_type;
    const char     *actor_id;
    const char     *actor_display_name;
    pt_severity     severity;
    const char     *status;
    const char     *message;
    const pt_field *metadata;
    size_t          metadata_count;
    const pt_field *extra;
    size_t          extra_count;
    const char     *idempotency_key;    /* NULL = a fresh UUID v4 */
} pt_event;

/* ---- hooks ------------------------------------------------------------------ */
typedef enum pt_log_level {
    PT_LOG_DEBUG = 0, PT_LOG_INFO = 1, PT_LOG_WARN = 2, PT_LOG_ERROR = 3
} pt_log_level;

/* Logger: called on the thread that hit the condition (often the flush
   thread). `message` is valid during the call only. Never carries the API
   key or event payloads. */
typedef void (*pt_log_fn)(pt_log_level level, const char *message, void *user);
/* A ready-made logger: one line "packtrack: <level>: <message>" to stderr per
   call (`cfg.logger = pt_log_stderr;`, user ignored). Thread-safe. The library
   prints nothing unless you set it (or PACKTRACK_DEBUG=1 with
   pt_config_from_env). */
PT__API void pt_log_stderr(pt_log_level level, const char *message, void *user);

typedef struct pt_http_header { const char *name; const char *value; } pt_http_header;

/* A request handed to an HTTP hook. Everything is owned by the library and
   valid for the duration of the call. */
typedef struct pt_http_request {
    const char           *method;          /* "POST" or "GET" */
    const char           *url;             /* absolute URL */
    const pt_http_header *headers;
    size_t                header_count;
    const void           *body;
    size_t                body_len;
    int                   connect_timeout_ms;
    int                   timeout_ms;      /* whole request */
    int64_t               deadline_ms;     /* pt_now_ms() time after which to give up */
    /* Returns nonzero when the request must be cut off now (close deadline).
       Poll it at least every 10 ms while waiting. */
    int                 (*cancelled)(const struct pt_http_request *req);
    void                 *cancel_ctx;      /* library-private */
    const char           *ca_file;         /* TLS options from the config (may be NULL) */
    const char           *ca_path;
    const char           *proxy;
    int                   insecure_skip_verify;
} pt_http_request;

/* The hook fills this. body_head receives the first bytes of the body. */
typedef struct pt_http_response {
    int    status;                 /* HTTP status */
    char   retry_after[64];        /* raw Retry-After header value, "" if none */
    char   body_head[256];
    size_t body_head_len;
    char   error[128];             /* hook's own failure text (no secrets) */
    int    not_sent;               /* 1 if the request provably never reached the server */
    char   location[256];          /* Location header (of a 3xx), "" if none; never followed */
} pt_http_response;

/* HTTP hook: perform one request. Return PT_OK when a response (any status)
   was received, else PT_ERR_NETWORK / _TIMEOUT / _CONNECT / _RESOLVE / _TLS /
   _CANCELLED / _PROTOCOL. Runs on the flush thread (or the pt_ingest caller). */
typedef pt_result (*pt_http_fn)(const pt_http_request *req, pt_http_response *resp, void *user);

/* Asynchronous HTTP hook (cfg.http_async), for hosts with their own HTTP
   stack (an engine's HTTP module, emscripten_fetch): the library hands over
   a request and returns at once; the host completes it later with
   pt_http_complete(op, ...), from any thread, at any time (inside the hook,
   from its own callback, on its next frame).
   - op: a handle by value (a slot index and a generation, no pointer), so a
     stale handle can never reach freed memory.
   - The hook returns PT_OK when it took the request, or an error (then the
     request counts as failed with that result and must not be completed).
   - Request bytes: *req and everything it points to (url, headers, body)
     stay valid and unchanged until pt_http_complete for op has been called
     or http_cancel for op has returned, whichever comes first. Copy what
     you need to keep longer.
   - Cut-off: when timeout_ms passes without a completion, or pt_close's
     deadline (or a pt_ingest caller's close) cuts the request off, the
     library calls cfg.http_cancel(op, http_user) once (if set) and forgets
     op. The host should abort its request; a completion that still arrives
     is ignored (pt_http_complete returns PT_ERR_CANCELLED or PT_ERR_CLOSED).
   - Exactly once: the first completion counts; a second one is ignored,
     returns PT_ERR_INVALID_ARG and is logged (PT_LOG_WARN) by the client.
   - Threads: the hook and http_cancel run on the thread driving the
     pipeline (the flush thread, or the caller of pt_pump/pt_flush/pt_close,
     or of pt_ingest/pt_health) with no library lock held; they may call
     pt_http_complete directly. The hook must not block: in manual mode it
     runs inside pt_pump's budget.
   The hook needs no threads and no sockets: it is the transport of builds
   without either. */
typedef struct pt_http_op { uint64_t id; } pt_http_op;
typedef pt_result (*pt_http_async_fn)(const pt_http_request *req, pt_http_op op, void *user);
typedef void (*pt_http_cancel_fn)(pt_http_op op, void *user);

/* gzip hook: write one gzip member of in[0..n) into out (capacity cap, which
   is at least n + n/8 + 64), set *out_len. Return PT_OK or an error. Runs on
   the flush thread; buffers are owned by the library. */
typedef pt_result (*pt_gzip_fn)(const void *in, size_t n, void *out, size_t cap, size_t *out_len, void *user);

/* before_send: called on the pt_track caller's thread with the event the
   caller passed (config defaults already filled in). Return 1 to keep it: it
   may edit *ev, e.g. point fields to redacted strings, which must stay valid
   until pt_track (or pt_ingest, pt_event_to_json) returns, because the event
   is serialised after the hook returns: a buffer local to the hook is too
   short-lived. Return 0 to drop it (pt_track then returns PT_ERR_FILTERED
   and nothing is counted). */
typedef int (*pt_before_send_fn)(pt_event *ev, void *user);

/* Result of one batch request in the async pipeline (flush thread). */
typedef struct pt_batch_result {
    size_t      events;           /* events in this request */
    pt_result   result;           /* PT_OK, PT_ERR_HTTP (rejected), PT_ERR_RETRIES_EXHAUSTED, ... */
    int         http_status;
    int         attempts;
    const char *payload;          /* the JSON array sent (uncompressed), valid during the call */
    size_t      payload_len;
} pt_batch_result;
typedef void (*pt_batch_fn)(const pt_batch_result *res, void *user);

/* Backpressure: called (flush or producer thread) when queue use crosses the
   high-water mark (high = 1) and when it falls back below the low-water mark (0). */
typedef void (*pt_backpressure_fn)(int high, void *user);

/* ---- configuration ----------------------------------------------------------
   pt_config cfg = {0}: every zero field takes its default. */
typedef enum pt_queue_policy {
    PT_QUEUE_DEFAULT = 0,        /* = PT_QUEUE_REJECT_NEWEST */
    PT_QUEUE_REJECT_NEWEST,      /* a full queue turns the new event away (PT_ERR_QUEUE_FULL) */
    PT_QUEUE_DROP_OLDEST         /* a full queue evicts the oldest queued event */
} pt_queue_policy;

typedef enum pt_fsync_policy {
    PT_FSYNC_DEFAULT = 0,        /* = PT_FSYNC_BATCH */
    PT_FSYNC_NONE,               /* leave it to the OS */
    PT_FSYNC_BATCH,              /* fsync once per flush-thread pass */
    PT_FSYNC_EVERY               /* fsync on every pt_track (slow) */
} pt_fsync_policy;

#define PT_RETRIES_NONE (-1)     /* max_retries value meaning "no retries" */
#define PT_DEFAULT_BASE_URL "https://pack.shimcounty.com"

typedef struct pt_config {
    const char *api_key;             /* required; sent as X-PackTrack-Key */
    const char *base_url;            /* default: "https://pack.shimcounty.com" */
    const char *user_agent;          /* default: "packtrack-c/<version>" */
    const char *health_path;         /* default: NULL (no server probe); usual: "/api/health" */

    /* Event defaults: what every event leaves unset (NULL string, UNSET
       severity) is taken from here; metadata/extra entries are added unless
       the event has an entry with the same key (an entry of type
       PT_FIELD_UNSET with that key suppresses the default). Copied by
       pt_client_new. timestamp_ms and idempotency_key must stay unset. */
    pt_event defaults;               /* default: all unset */

    int   timeout_ms;                /* default: 10000 (whole request) */
    int   connect_timeout_ms;        /* default: 5000 */
    int   max_retries;               /* default: 3; PT_RETRIES_NONE for none (sync calls) */
    int   backoff_base_ms;           /* default: 100 */
    int   backoff_max_ms;            /* default: 10000 */
    int   disable_jitter;            /* default: 0 (full jitter) */
    int   retry_after_max_ms;        /* default: 60000 (cap on a server's Retry-After) */
    int64_t retry_max_elapsed_ms;    /* default: 600000 (async: a batch fails after retrying this long) */
    int   breaker_threshold;         /* default: 5 consecutive failures */
    int   breaker_cooldown_ms;       /* default: 30000 (cap: the open interval starts at <= 0.8 s, doubles per failed probe) */

    int    enable_gzip;              /* default: 0 */
    size_t compress_min_bytes;       /* default: 1024 (smaller bodies go uncompressed) */

    int    batch_size;               /* default: 100 events */
    size_t batch_max_bytes;          /* default: 1 MiB of JSON */
    int    flush_interval_ms;        /* default: 1000 */
    int    queue_capacity;           /* default: 10000 events */
    size_t queue_max_bytes;          /* default: 8 MiB */
    pt_queue_policy queue_policy;    /* default: PT_QUEUE_REJECT_NEWEST */
    size_t event_max_bytes;          /* default: 1 MiB (serialised JSON) */
    int    high_water_pct;           /* default: 80 */
    int    low_water_pct;            /* default: 50 */
    pt_severity sample_max_severity; /* default: UNSET = no sampling; else sample events <= this ... */
    int    sample_keep_one_in;       /* ... keeping 1 in N while above the high-water mark (default 10) */

    int    manual_mode;              /* default: 0; 1 = no thread, call pt_pump() */
    int    include_host_context;     /* default: 0; 1 = extra.host / extra.sdk on every event */

    const char     *spool_dir;       /* default: NULL (memory only); set = durable mode */
    pt_fsync_policy fsync_policy;    /* default: PT_FSYNC_BATCH */
    size_t          spool_max_bytes; /* default: 256 MiB */
    int             enable_dead_letter; /* default: 0; 1 = rejected events go to <spool_dir>/dead-letter.ndjson */

    const char *proxy;               /* curl only; default: curl's environment handling */
    const char *ca_file;             /* curl only */
    const char *ca_path;             /* curl only */
    int   insecure_skip_verify;      /* default: 0; 1 turns TLS verification OFF (curl only) */

    pt_http_fn  http;  void *http_user;    /* default: built-in (or curl) transport */
    pt_http_async_fn  http_async;          /* default: NULL; asynchronous hook instead of http (gets http_user) */
    pt_http_cancel_fn http_cancel;         /* default: NULL; told when an async request is cut off */
    pt_gzip_fn  gzip;  void *gzip_user;    /* default: zlib/libdeflate/built-in */
    pt_log_fn   logger; void *logger_user; /* default: silent */
    pt_log_level log_level;                /* default: PT_LOG_DEBUG (everything to the logger) */
    pt_before_send_fn  before_send;    void *before_send_user;
    pt_batch_fn        on_batch;       void *on_batch_user;
    pt_backpressure_fn on_backpressure; void *on_backpressure_user;
} pt_config;

/* ---- lifecycle ----------------------------------------------------------------- */
typedef struct pt_client pt_client;

/* Fills *cfg from PACKTRACK_* environment variables (README lists them), on
   top of what it already holds. Strings point into the environment. Returns
   PT_ERR_CONFIG naming the variable when one cannot be parsed. */
PT__API pt_result pt_config_from_env(pt_config *cfg, pt_error *err);

/* Validates cfg (key, URL, TLS availability, bounds) and creates a client. The
   config strings are copied. Thread: any. */
PT__API pt_result pt_client_new(const pt_config *cfg, pt_client **out, pt_error *err);

/* The resolved configuration (defaults filled in). Valid until pt_close. */
PT__API const pt_config *pt_client_config(const pt_client *client);

/* ---- async ----------------------------------------------------------------- */
/* Validates and serialises the event, copies it into the queue and returns.
   Never blocks on the network. Thread-safe. */
PT__API pt_result pt_track(pt_client *client, const pt_event *ev);
/* Same, for an already-serialised JSON object: checked to be valid JSON with
   every required field (source.system, workflow.id, actor.type, actor.id,
   severity, status, message) a non-empty string, else PT_ERR_INVALID_JSON /
   PT_ERR_MISSING_FIELD naming the field (a severity other than debug, info,
   warn, error: PT_ERR_INVALID_ARG); the text is in pt_stats' last_error_message.
   Config defaults do not apply: the JSON is sent as given (minified). */
PT__API pt_result pt_track_json(pt_client *client, const char *json, size_t len);

#if defined(__GNUC__) || defined(__clang__)
#define PT__PRINTF_DECL(a, b) __attribute__((format(printf, a, b)))
#else
#define PT__PRINTF_DECL(a, b)
#endif
/* One-line event: every field from cfg.defaults except severity, status and
   the message, formatted printf-style. A message of any length is formatted
   in full (up to 512 bytes on the stack, longer ones in one allocation);
   event_max_bytes still bounds the event (PT_ERR_TOO_LARGE). Invalid UTF-8
   is replaced by U+FFFD like every string. Thread-safe, never blocks. */
PT__API pt_result pt_trackf(pt_client *client, pt_severity severity, const char *status, const char *fmt, ...) PT__PRINTF_DECL(4, 5);

/* Waits until every event tracked before the call is delivered or has failed
   for good, or until timeout_ms passes (PT_ERR_TIMEOUT). Asks for delivery
   now, as pt_close does (an open breaker is probed at once). Thread-safe. */
PT__API pt_result pt_flush(pt_client *client, int timeout_ms);

/* Manual mode: do up to budget_ms of pipeline work on the calling thread. */
PT__API pt_result pt_pump(pt_client *client, int budget_ms);

typedef struct pt_close_report {
    uint64_t tracked;            /* accepted by pt_track over the client's life */
    uint64_t delivered;
    uint64_t spooled;            /* left in the spool for the next run */
    uint64_t failed_rejected;    /* the server refused them for good */
    uint64_t failed_exhausted;   /* retries exhausted (retry_max_elapsed_ms) */
    uint64_t failed_oversize;    /* a single event the server found too large (413) */
    uint64_t dropped_queue_full; /* turned away or evicted by the queue bound */
    uint64_t dropped_sampled;    /* sampled out under backpressure */
    uint64_t abandoned;          /* still queued at the deadline (memory mode) */
    int      timed_out;          /* 1 if the deadline cut the drain short */
} pt_close_report;

/* Stops accepting, drains until timeout_ms (one deadline for everything,
   the in-flight request included), stops the thread, frees the client.
   Asks for delivery now: an open circuit breaker is probed at once, retries
   use the ordinary backoff from its base. NULL is fine; returns
   PT_ERR_TIMEOUT if events were left. A second pt_close (another thread)
   waits for the first to finish (PT_ERR_CLOSED) or for its own deadline
   (PT_ERR_TIMEOUT). */
PT__API pt_result pt_close(pt_client *client, int timeout_ms, pt_close_report *report);
/* pt_close keeps a small handle (40 bytes on 64-bit) alive so that a second pt_close or a late
   pt_track is safe (PT_ERR_CLOSED). pt_client_free releases that handle too
   (closing first if needed, waiting for a pt_close still running on another
   thread); the pointer is invalid afterwards. */
PT__API void pt_client_free(pt_client *client);

/* ---- steps ------------------------------------------------------------------
   A step is one unit of work with a duration. pt_step_begin sends a
   `running` event; pt_step_end sends the closing event (same workflow,
   run, step id, actor, source and message; the given status) with
   metadata.duration_ms measured on the monotonic clock, and
   metadata.parent_step_id when the step is nested. The pt_step is storage
   you own (stack, struct member); it needs no allocation unless its strings
   exceed PT_STEP_INLINE bytes together; begin overwrites it, so never begin
   on a step that is still active. End every begun step exactly once,
   from any thread, before pt_client_free (after pt_close, pt_step_end
   returns PT_ERR_CLOSED and releases the step). */
#define PT_STEP_INLINE 320
typedef struct pt_step {
    pt_client  *client;
    int64_t     start_ms;               /* pt_mono_ms() at begin */
    int64_t     duration_ms;            /* set by pt_step_end */
    pt_severity severity;               /* of the begin event */
    int         active;                 /* 1 between begin and end */
    uint32_t    off_[12];               /* private: where the remembered strings start, +1 */
    char       *heap_;                  /* private: used when inline_ is too small */
    char        inline_[PT_STEP_INLINE];
} pt_step;

/* Begins a step named `message` (the event message, also sent at the end).
   Everything else comes from cfg.defaults, or from the parent step (workflow,
   run, actor, source) when parent is not NULL; a fresh UUID step id is made.
   Returns what pt_track returned. On failure the step is not begun, except
   when the begin event was lost to load (PT_ERR_QUEUE_FULL, PT_ERR_SAMPLED,
   PT_ERR_FILTERED): then it is, and its end (with the duration) may still go out. */
PT__API pt_result pt_step_begin(pt_client *client, pt_step *step, const pt_step *parent, const char *message);
/* Same with a full event as the template: its step_id (NULL = generated),
   workflow/run/actor/source, severity (UNSET = info), message and metadata
   are used; its status is replaced by "running". */
PT__API pt_result pt_step_begin_event(pt_client *client, pt_step *step, const pt_step *parent, const pt_event *ev);
/* Ends the step: sends the closing event with `status` (NULL = "success") and
   the given metadata plus duration_ms (and parent_step_id); your metadata
   keys win. Severity is error for the statuses error/failed/timeout, else
   the begin severity. Any thread. Returns PT_ERR_INVALID_ARG for a step that
   is not active (or metadata NULL with a count: the step stays active), else
   what pt_track returned, e.g. PT_ERR_CLOSED after pt_close; the step is
   released either way. */
PT__API pt_result pt_step_end(pt_step *step, const char *status, const pt_field *metadata, size_t metadata_count);
/* The step id sent (generated or given), valid while the step is active; NULL otherwise. */
PT__API const char *pt_step_id(const pt_step *step);

/* ---- sync ----------------------------------------------------------------- */
/* Sends now, with retries, on the calling thread; reports in *err. Independent of the queue. */
PT__API pt_result pt_ingest(pt_client *client, const pt_event *ev, pt_error *err);
PT__API pt_result pt_ingest_batch(pt_client *client, const pt_event *evs, size_t n, pt_error *err);

/* ---- asynchronous HTTP hook ----------------------------------------------- */
/* Completes a request handed to cfg.http_async. result: PT_OK when a
   response (any status) arrived, then resp holds status, Retry-After and
   body head (copied; resp may be freed on return); else the failure
   (PT_ERR_NETWORK, _TIMEOUT, _CONNECT, _RESOLVE, _TLS, ...; resp may be
   NULL, or carry an error text and not_sent). Any thread, any time, also
   after pt_close. Returns PT_OK if accepted; PT_ERR_CANCELLED if the
   request was already cut off, PT_ERR_CLOSED if its client is closed,
   PT_ERR_INVALID_ARG for a second completion or an unknown handle. */
PT__API pt_result pt_http_complete(pt_http_op op, pt_result result, const pt_http_response *resp);

/* ---- observability of the client itself ----------------------------------- */
typedef struct pt_client_stats {
    uint64_t tracked;            /* passed validation (incl. the ones the queue turned away) */
    uint64_t delivered;
    uint64_t failed;             /* rejected for good or retries exhausted */
    uint64_t dropped;            /* queue full, drop-oldest evictions, sampled */
    uint64_t dropped_sampled;    /* the sampled part of dropped */
    uint64_t pending;            /* queued or in flight; tracked = delivered+failed+dropped+pending */
    uint64_t queue_bytes;
    uint64_t retried_requests;
    uint64_t batches_sent;
    uint64_t requests_failed;
    uint64_t bytes_uncompressed; /* request bodies before compression */
    uint64_t bytes_sent;         /* after compression */
    uint64_t wakeups;            /* flush-thread wake-ups (an idle client has none) */
    uint64_t spool_bytes;
    pt_result last_error;
    char      last_error_message[160];
} pt_client_stats;

/* A consistent snapshot of the counters. Thread-safe, cheap (one lock). */
PT__API pt_result pt_stats(pt_client *client, pt_client_stats *out);
/* Prometheus text exposition (metric prefix packtrack_). Returns the length
   written (excl. NUL), or the length needed when cap is too small. A
   PACKTRACK_NO_PROMETHEUS build writes one "# packtrack: ..." comment line. */
PT__API size_t pt_stats_prometheus(const pt_client_stats *stats, char *buf, size_t cap);

typedef enum pt_breaker_state { PT_BREAKER_CLOSED = 0, PT_BREAKER_OPEN, PT_BREAKER_HALF_OPEN } pt_breaker_state;

typedef struct pt_health_report {
    uint64_t queue_events;
    uint64_t queue_bytes;
    int64_t  oldest_pending_age_ms;  /* 0 if empty */
    pt_breaker_state breaker;
    int      backpressure;           /* 1 while above the high-water mark */
    pt_result last_error;
    int64_t  last_error_unix_ms;     /* 0 if none */
    uint64_t spool_bytes;
    int      server_probed;          /* 1 if health_path is set and a probe ran */
    int      server_ok;              /* probe answered 2xx */
    int      server_status;          /* probe's HTTP status (0 if no answer) */
} pt_health_report;
/* Client state; plus a GET {base_url}{health_path} probe (on the calling
   thread, with the configured timeouts) when health_path is set. A
   PACKTRACK_NO_SYNC_API build fills the client state and, when health_path
   is set, returns PT_ERR_UNSUPPORTED (no probe). */
PT__API pt_result pt_health(pt_client *client, pt_health_report *out, pt_error *err);

/* ---- misc ----------------------------------------------------------------- */
PT__API const char *pt_strerror(pt_result r);      /* never NULL */
PT__API const char *pt_version(void);               /* PACKTRACK_VERSION_STRING */
/* Clocks. pt_unix_ms: wall clock, ms since 1970-01-01 UTC, for
   pt_event.timestamp_ms. pt_mono_ms: monotonic ms from an arbitrary origin,
   for durations and deadlines only (not a timestamp). pt_now_ms is the older
   name of pt_mono_ms, kept for compatibility. */
PT__API int64_t     pt_unix_ms(void);
PT__API int64_t     pt_mono_ms(void);
PT__API int64_t     pt_now_ms(void);                /* = pt_mono_ms(): MONOTONIC, not Unix time */
/* Writes a random UUID v4 ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx") and a NUL
   into out (37 bytes). Thread-safe, no lock. */
PT__API void        pt_uuid4(char out[37]);
/* Writes a run id into out (37 bytes): a UUID v7, whose first 48 bits are
   the Unix ms time, so run ids sort by start time. Thread-safe. */
PT__API void        pt_run_id(char out[37]);
/* Serialises an event the way pt_track would (for dry runs and tests) into
   buf, NUL-terminated; *len gets the JSON length. client may be NULL (no host
   context, no before_send). PT_ERR_TOO_LARGE if cap is too small. */
PT__API pt_result pt_event_to_json(pt_client *client, const pt_event *ev, char *buf, size_t cap, size_t *len, pt_error *err);

#ifdef __cplusplus
}

/* ---- C++ conveniences (C++11; no exceptions, no allocation) ----------------
       packtrack::client pt(cfg);                 // pt_client_new
       if (!pt.ok()) { std::puts(pt.error().message); return 1; }
       { packtrack::step s(pt, "fetch invoice");  // running event
         ...                                      // s.fail() on the error path
       }                                          // closing event + duration_ms
       pt_trackf(pt, PT_SEVERITY_INFO, PT_STATUS_SUCCESS, "done");
   The client closes (close_timeout_ms, default 5000) and frees itself in its
   destructor; destroy every step before its client. */
namespace packtrack {
class client {
public:
    explicit client(const pt_config &cfg, int close_timeout_ms = 5000)
        : c_(nullptr), close_ms_(close_timeout_ms), r_(PT_OK), err_() { r_ = pt_client_new(&cfg, &c_, &err_); }
    ~client() { if (c_) { pt_close(c_, close_ms_, nullptr); pt_client_free(c_); } }
    client(const client &) = delete;
    client &operator=(const client &) = delete;
    bool ok() const { return c_ != nullptr; }
    pt_result result() const { return r_; }            /* of pt_client_new */
    const pt_error &error() const { return err_; }
    pt_client *get() const { return c_; }
    operator pt_client *() const { return c_; }         /* pass it to any pt_ function */
    /* Closes now (the destructor then only frees), to read the report. */
    pt_result close(pt_close_report *report = nullptr) { return c_ ? pt_close(c_, close_ms_, report) : PT_ERR_CLOSED; }
private:
    pt_client *c_;
    int        close_ms_;
    pt_result  r_;
    pt_error   err_;
};

class step {
public:
    step(pt_client *c, const char *message, const step *parent = nullptr)
        : s_(), status_(PT_STATUS_SUCCESS), r_(pt_step_begin(c, &s_, parent ? &parent->s_ : nullptr, message)) {}
    step(pt_client *c, const pt_event &ev, const step *parent = nullptr)
        : s_(), status_(PT_STATUS_SUCCESS), r_(pt_step_begin_event(c, &s_, parent ? &parent->s_ : nullptr, &ev)) {}
    ~step() { if (s_.active) pt_step_end(&s_, status_, nullptr, 0); }
    step(const step &) = delete;
    step &operator=(const step &) = delete;
    pt_result begin_result() const { return r_; }
    const char *id() const { return pt_step_id(&s_); }
    void set_status(const char *status) { status_ = status; }   /* sent by the destructor */
    void fail() { status_ = PT_STATUS_ERROR; }
    pt_result end(const char *status, const pt_field *metadata = nullptr, size_t count = 0) { return pt_step_end(&s_, status, metadata, count); }
    int64_t duration_ms() const { return s_.duration_ms; }
    pt_step *get() { return &s_; }
private:
    pt_step     s_;
    const char *status_;
    pt_result   r_;
};
} /* namespace packtrack */
#endif
#endif /* PACKTRACK_H */

/* ======================================================================== */
/*                            IMPLEMENTATION                                */
/* ======================================================================== */
#if defined(PACKTRACK_IMPLEMENTATION) && !defined(PT__IMPLEMENTED)
#define PT__IMPLEMENTED
#if defined(_MSC_VER)
/* C4996: strncpy/getenv/... "unsafe": every call here is bounded. Popped at the end. */
#pragma warning(push)
#pragma warning(disable: 4996)
#endif
#if defined(__cplusplus) && (defined(__GNUC__) || defined(__clang__))
/* Compiled as C++ (engines build .cpp files), the implementation is still C:
   its casts are C casts, and a few are no-ops only in C++ ('x' is a char
   there, an int in C). Both warnings are purely stylistic for C-in-C++; every
   other warning is fixed in the code. Popped at the end of the implementation,
   so the user's own code after the include keeps them. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuseless-cast"
#endif
#endif

/* ==== [pt:config] ======================================================== */
#if defined(PACKTRACK_MALLOC) && defined(PACKTRACK_REALLOC) && defined(PACKTRACK_FREE)
#elif !defined(PACKTRACK_MALLOC) && !defined(PACKTRACK_REALLOC) && !defined(PACKTRACK_FREE)
#define PACKTRACK_MALLOC(sz)     malloc(sz)
#define PACKTRACK_REALLOC(p, sz) realloc(p, sz)
#define PACKTRACK_FREE(p)        free(p)
#else
#error "packtrack.h: define all or none of PACKTRACK_MALLOC, PACKTRACK_REALLOC, PACKTRACK_FREE"
#endif
#ifndef PACKTRACK_ASSERT
#include <assert.h>
#define PACKTRACK_ASSERT(x) assert(x)
#endif
#define PT__MALLOC(sz)     PACKTRACK_MALLOC(sz)
#define PT__REALLOC(p, sz) PACKTRACK_REALLOC(p, sz)
#define PT__FREE(p)        PACKTRACK_FREE(p)

#if defined(__GNUC__) || defined(__clang__)
#define PT__PRIVATE static __attribute__((unused))
#define PT__PRINTF(a, b) __attribute__((format(printf, a, b)))
#define PT__COLD __attribute__((cold))
#else
#define PT__PRIVATE static
#define PT__PRINTF(a, b)
#define PT__COLD
#endif
/* Thread-local storage, to tell when pt_close is called from one of the
   client's own callbacks on the calling thread (it would wait for itself).
   Without it the check is skipped. */
#if defined(PACKTRACK_NO_THREADS)
#define PT__TLS                 /* one thread: a plain static */
#elif defined(__cplusplus) && __cplusplus >= 201103L
#define PT__TLS thread_local
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define PT__TLS _Thread_local
#elif defined(__GNUC__) || defined(__clang__)
#define PT__TLS __thread
#elif defined(_MSC_VER)
#define PT__TLS __declspec(thread)
#endif
#ifdef PT__TLS
static PT__TLS const void *pt__tls_cb;   /* the client whose callback this thread is running */
#define PT__CB_ENTER(h, prev) ((prev) = pt__tls_cb, pt__tls_cb = (h))
#define PT__CB_LEAVE(prev) (pt__tls_cb = (prev))
#define PT__IN_CB(h) (pt__tls_cb == (const void *)(h))
#else
#define PT__CB_ENTER(h, prev) ((prev) = NULL, (void)(h))
#define PT__CB_LEAVE(prev) ((void)(prev))
#define PT__IN_CB(h) 0
#endif

#if defined(_WIN32)
#define PT__WIN32 1
#define PT__POSIX 0
#else
#define PT__WIN32 0
#define PT__POSIX 1
#endif
/* Build switches (README "Build switches"): each leaves a part out, and with
   all three of NO_THREADS, NO_SOCKETS and NO_SPOOL the library needs only the
   C library and a clock (no thread, socket or file API is referenced). */
#if defined(PACKTRACK_NO_THREADS)
#define PT__THREADS 0
#else
#define PT__THREADS 1
#endif
#if defined(PACKTRACK_NO_SOCKETS)
#define PT__SOCKETS 0
#else
#define PT__SOCKETS 1
#endif
#if defined(PACKTRACK_NO_SPOOL)
#define PT__SPOOL 0
#else
#define PT__SPOOL 1
#endif
#if defined(PACKTRACK_NO_DEFLATE)
#define PT__DEFLATE 0
#else
#define PT__DEFLATE 1
#endif
/* Footprint switches (README "Build switches"): optional API a small build
   may not need; the functions stay and say PT_ERR_UNSUPPORTED. */
#if defined(PACKTRACK_NO_SYNC_API)
#define PT__SYNC 0
#else
#define PT__SYNC 1
#endif
#if defined(PACKTRACK_NO_ENV)
#define PT__ENVCFG 0
#else
#define PT__ENVCFG 1
#endif
#if defined(PACKTRACK_NO_STEPS)
#define PT__STEPS 0
#else
#define PT__STEPS 1
#endif
#if defined(PACKTRACK_NO_TRACK_JSON)
#define PT__TRACK_JSON 0
#else
#define PT__TRACK_JSON 1
#endif
#if defined(PACKTRACK_NO_RAW_JSON)
#define PT__RAW_JSON 0
#else
#define PT__RAW_JSON 1
#endif
#if defined(PACKTRACK_NO_DEFAULTS)
#define PT__DEFAULTS 0
#else
#define PT__DEFAULTS 1
#endif
#if defined(PACKTRACK_NO_PROMETHEUS)
#define PT__PROM 0
#else
#define PT__PROM 1
#endif
/* -Os (__OPTIMIZE_SIZE__, gcc and clang): the caller asked for size, so the
   few places with a faster but larger form (lookup tables, a second writer
   pass) take the smaller one. Same output either way; the tests run both
   (the smallest build is tested at -Os by tests/nm_check.sh). */
#if defined(__OPTIMIZE_SIZE__)
#define PT__SMALL 1
#else
#define PT__SMALL 0
#endif
/* host facts (pid, host name, /dev/urandom): left out with all three */
#if PT__THREADS || PT__SOCKETS || PT__SPOOL
#define PT__OSINFO 1
#else
#define PT__OSINFO 0
#endif
#if !PT__SOCKETS && defined(PACKTRACK_USE_CURL)
#error "packtrack.h: PACKTRACK_NO_SOCKETS and PACKTRACK_USE_CURL together: libcurl is a socket client; define one of them"
#endif

#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <stdarg.h>
#include <math.h>
#include <limits.h>

/* Transports. http:// and https:// go through
     PT__CURL_LINKED  libcurl linked in (PACKTRACK_USE_CURL), for both schemes;
     PT__WINHTTP      WinHTTP, the Windows default, for both schemes;
   otherwise http:// through the built-in socket client, and https:// through
     PT__CURL_DL      libcurl loaded at run time (POSIX default; the first
                      client with an https base_url and no HTTP hook loads it).
   PACKTRACK_NO_DLOPEN turns run-time loading off, PACKTRACK_NO_WINHTTP
   selects the built-in socket client on Windows (http only there), and
   PACKTRACK_NO_SOCKETS turns both off (https then needs a hook). */
#if defined(PACKTRACK_USE_CURL)
#include <curl/curl.h>
#define PT__CURL_LINKED 1
#else
#define PT__CURL_LINKED 0
#endif
#if !PT__CURL_LINKED && PT__WIN32 && PT__SOCKETS && !defined(PACKTRACK_NO_WINHTTP)
#define PT__WINHTTP 1
#else
#define PT__WINHTTP 0
#endif
#if !PT__CURL_LINKED && PT__POSIX && PT__SOCKETS && !defined(PACKTRACK_NO_DLOPEN) && !defined(__EMSCRIPTEN__)
#define PT__CURL_DL 1
#else
#define PT__CURL_DL 0
#endif
#define PT__CURL (PT__CURL_LINKED || PT__CURL_DL)
/* http:// requests of a client without a hook use the built-in client */
#define PT__HTTP_BUILTIN_NATIVE (!PT__CURL_LINKED && !PT__WINHTTP && PT__SOCKETS)
#ifndef PACKTRACK_CURL_LIBRARY
#if defined(__APPLE__)
#define PACKTRACK_CURL_LIBRARY "libcurl.4.dylib"
#else
#define PACKTRACK_CURL_LIBRARY "libcurl.so.4"
#endif
#endif
#if defined(PACKTRACK_USE_ZLIB)
#include <zlib.h>
#endif
#if defined(PACKTRACK_USE_LIBDEFLATE)
#include <libdeflate.h>
#endif

#define PT__DEF(v, d) ((v) ? (v) : (d))
#define PT__MIN(a, b) ((a) < (b) ? (a) : (b))
#define PT__MAX(a, b) ((a) > (b) ? (a) : (b))
#define PT__INF_MS ((int64_t)0x3fffffffffffffffLL)
#define PT__STATIC_ASSERT(name, cond) typedef char pt__static_assert_##name[(cond) ? 1 : -1]
PT__STATIC_ASSERT(int64_is_8, sizeof(int64_t) == 8);

/* ==== [pt:platform] ====================================================== */
/* The only section with OS #ifs. Both bodies provide the same names:
   mutex/cond/thread, clocks, sockets, atomics, files, fork handling. */
#if PT__WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <process.h>
#include <io.h>
#include <direct.h>
#include <fcntl.h>
#include <sys/stat.h>
#if PT__WINHTTP
#include <winhttp.h>
#endif
#ifdef _MSC_VER
#pragma comment(lib, "ws2_32.lib")
#if PT__WINHTTP
#pragma comment(lib, "winhttp.lib")
#endif
#endif
#if defined(_WIN32_WINNT) && _WIN32_WINNT < 0x0600
#error "packtrack.h needs Windows Vista or later (condition variables, InitOnce): build with _WIN32_WINNT >= 0x0600"
#endif
#else /* POSIX: each group only when its switch keeps it */
#include <time.h>
#include <errno.h>
#if PT__THREADS
#include <pthread.h>
#include <signal.h>
#endif
#if PT__OSINFO || PT__SPOOL || PT__SOCKETS
#include <unistd.h>
#include <fcntl.h>
#include <sys/types.h>
#endif
#if PT__SPOOL
#include <dirent.h>
#include <sys/stat.h>
#endif
#if PT__SOCKETS
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <netdb.h>
#endif
#endif
/* After the last system header: in C++11 the implementation's NULL is
   nullptr (clang < 16 flags GNU's __null under -Wzero-as-null-pointer-constant).
   The user's NULL is restored at the end of the implementation. */
#if defined(__cplusplus) && __cplusplus >= 201103L
#pragma push_macro("NULL")
#undef NULL
#define NULL nullptr
#endif

#if !PT__THREADS
/* PACKTRACK_NO_THREADS: the host's one thread runs everything (all calls on
   a client come from one thread, or the host serialises them), so locks are
   no-ops, no thread is ever started, and a timed wait has nobody to wake it:
   it sleeps (in slices, the callers re-check their deadlines). */
typedef struct pt__mutex { int unused; } pt__mutex;
typedef struct pt__cond { int unused; } pt__cond;
typedef int pt__thread;
PT__PRIVATE void pt__sleep_ms(int ms);
PT__PRIVATE void pt__mutex_init(pt__mutex *m) { (void)m; }
PT__PRIVATE void pt__mutex_destroy(pt__mutex *m) { (void)m; }
PT__PRIVATE void pt__mutex_lock(pt__mutex *m) { (void)m; }
PT__PRIVATE void pt__mutex_unlock(pt__mutex *m) { (void)m; }
PT__PRIVATE void pt__cond_init(pt__cond *c) { (void)c; }
PT__PRIVATE void pt__cond_destroy(pt__cond *c) { (void)c; }
PT__PRIVATE void pt__cond_signal(pt__cond *c) { (void)c; }
PT__PRIVATE void pt__cond_broadcast(pt__cond *c) { (void)c; }
PT__PRIVATE void pt__cond_wait_ms(pt__cond *c, pt__mutex *m, int64_t ms) {
    (void)c; (void)m;
    if (ms > 0) pt__sleep_ms((int)PT__MIN(ms, (int64_t)50));
}
PT__PRIVATE int pt__thread_start(pt__thread *t, void (*fn)(void *), void *arg) { (void)t; (void)fn; (void)arg; return -1; }
PT__PRIVATE void pt__thread_join(pt__thread t) { (void)t; }
PT__PRIVATE void pt__thread_detach(pt__thread t) { (void)t; }
PT__PRIVATE int pt__thread_is_self(pt__thread t) { (void)t; return 0; }
/* fork handlers need pthread_atfork: none (see README "Build switches") */
PT__PRIVATE void pt__fork_hooks_install(void) {}
#endif
#if !PT__SPOOL
typedef int pt__file;           /* PACKTRACK_NO_SPOOL: no file is ever opened */
#define PT__BAD_FILE (-1)
#endif
#if !PT__SOCKETS
/* PACKTRACK_NO_SOCKETS: no built-in HTTP client; connections never open. */
typedef int pt__sock;
#define PT__BAD_SOCK (-1)
PT__PRIVATE void pt__sock_close(pt__sock s) { (void)s; }
#endif

#if PT__WIN32
#if PT__SOCKETS
typedef SOCKET pt__sock;
typedef int pt__socklen;
#define PT__BAD_SOCK INVALID_SOCKET
#endif
#if PT__THREADS
typedef CRITICAL_SECTION pt__mutex;
typedef CONDITION_VARIABLE pt__cond;
typedef HANDLE pt__thread;

/* Critical sections are a few hundred ns: spin a little before sleeping. */
PT__PRIVATE void pt__mutex_init(pt__mutex *m) { InitializeCriticalSectionAndSpinCount(m, 400); }
PT__PRIVATE void pt__mutex_destroy(pt__mutex *m) { DeleteCriticalSection(m); }
PT__PRIVATE void pt__mutex_lock(pt__mutex *m) { EnterCriticalSection(m); }
PT__PRIVATE void pt__mutex_unlock(pt__mutex *m) { LeaveCriticalSection(m); }
PT__PRIVATE void pt__cond_init(pt__cond *c) { InitializeConditionVariable(c); }
PT__PRIVATE void pt__cond_destroy(pt__cond *c) { (void)c; }
PT__PRIVATE void pt__cond_signal(pt__cond *c) { WakeConditionVariable(c); }
PT__PRIVATE void pt__cond_broadcast(pt__cond *c) { WakeAllConditionVariable(c); }
/* Waits at most ms (< 0: forever). Spurious wake-ups are the caller's business. */
PT__PRIVATE void pt__cond_wait_ms(pt__cond *c, pt__mutex *m, int64_t ms) {
    DWORD w = ms < 0 ? INFINITE : (DWORD)PT__MIN(ms, (int64_t)0x7ffffff0);
    SleepConditionVariableCS(c, m, w);
}
typedef struct pt__thread_arg { void (*fn)(void *); void *arg; } pt__thread_arg;
static unsigned __stdcall pt__thread_tramp(void *p) {
    pt__thread_arg a = *(pt__thread_arg *)p;
    PT__FREE(p);
    a.fn(a.arg);
    return 0;
}
PT__PRIVATE int pt__thread_start(pt__thread *t, void (*fn)(void *), void *arg) {
    pt__thread_arg *a = (pt__thread_arg *)PT__MALLOC(sizeof *a);
    uintptr_t h;
    if (!a) return -1;
    a->fn = fn; a->arg = arg;
    h = _beginthreadex(NULL, 0, pt__thread_tramp, a, 0, NULL);
    if (!h) { PT__FREE(a); return -1; }
    *t = (HANDLE)h;
    return 0;
}
PT__PRIVATE void pt__thread_join(pt__thread t) { WaitForSingleObject(t, INFINITE); CloseHandle(t); }
PT__PRIVATE void pt__thread_detach(pt__thread t) { CloseHandle(t); }
PT__PRIVATE int pt__thread_is_self(pt__thread t) { return GetThreadId(t) == GetCurrentThreadId(); }
#endif /* PT__THREADS */
PT__PRIVATE void pt__sleep_ms(int ms) { Sleep((DWORD)ms); }
/* One clock for both, as on POSIX: QPC. GetTickCount64 moves in 15.6 ms
   steps, which would make close deadlines late by up to a tick. The
   frequency is read each time (cheap; no racy static), integer maths only. */
PT__PRIVATE int64_t pt__mono_ns(void) {
    LARGE_INTEGER freq, now;
    QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    return (int64_t)(now.QuadPart / freq.QuadPart) * 1000000000LL +
           (int64_t)(now.QuadPart % freq.QuadPart) * 1000000000LL / (int64_t)freq.QuadPart;
}
PT__PRIVATE int64_t pt__mono_ms(void) { return pt__mono_ns() / 1000000LL; }
PT__PRIVATE int64_t pt__wall_ms(void) {
    FILETIME ft; ULARGE_INTEGER u;
    GetSystemTimeAsFileTime(&ft);
    u.LowPart = ft.dwLowDateTime; u.HighPart = ft.dwHighDateTime;
    return (int64_t)(u.QuadPart / 10000ULL) - 11644473600000LL;
}
PT__PRIVATE int64_t pt__atomic_load(volatile int64_t *p) { return (int64_t)InterlockedCompareExchange64((volatile LONG64 *)p, 0, 0); }
PT__PRIVATE void pt__atomic_store(volatile int64_t *p, int64_t v) { InterlockedExchange64((volatile LONG64 *)p, (LONG64)v); }
PT__PRIVATE int64_t pt__atomic_add(volatile int64_t *p, int64_t v) { return (int64_t)InterlockedExchangeAdd64((volatile LONG64 *)p, (LONG64)v) + v; }
PT__PRIVATE int pt__getpid(void) { return (int)GetCurrentProcessId(); }
PT__PRIVATE void pt__os_random(void *buf, size_t n) {
    /* No bcrypt dependency: mix high-resolution clocks, ids and addresses. */
    unsigned char *b = (unsigned char *)buf;
    uint64_t x = (uint64_t)pt__mono_ns() ^ ((uint64_t)GetCurrentProcessId() << 32) ^ (uint64_t)(uintptr_t)buf ^ (uint64_t)pt__wall_ms() * 0x9E3779B97F4A7C15ULL;
    size_t i;
    for (i = 0; i < n; i++) {
        x += 0x9E3779B97F4A7C15ULL ^ (uint64_t)pt__mono_ns();
        x ^= x >> 31; x *= 0xBF58476D1CE4E5B9ULL; x ^= x >> 29;
        b[i] = (unsigned char)(x >> 24);
    }
}
PT__PRIVATE const char *pt__os_name(void) { return "windows"; }
PT__PRIVATE void pt__host_name(char *buf, size_t cap) {
    DWORD n = (DWORD)cap;
    if (!GetComputerNameA(buf, &n)) { strncpy(buf, "unknown", cap - 1); buf[cap - 1] = 0; }
}
#if PT__SOCKETS
static volatile LONG pt__wsa_state;
PT__PRIVATE int pt__net_init(void) {
    if (InterlockedCompareExchange(&pt__wsa_state, 1, 0) == 0) {
        WSADATA d;
        if (WSAStartup(MAKEWORD(2, 2), &d) != 0) { pt__wsa_state = 0; return -1; }
        pt__wsa_state = 2;
    }
    while (pt__wsa_state == 1) Sleep(0);
    return pt__wsa_state == 2 ? 0 : -1;
}
PT__PRIVATE int pt__sock_errno(void) { return WSAGetLastError(); }
PT__PRIVATE int pt__sock_would_block(int e) { return e == WSAEWOULDBLOCK || e == WSAEINPROGRESS || e == WSAEINTR; }
PT__PRIVATE void pt__sock_close(pt__sock s) { if (s != PT__BAD_SOCK) closesocket(s); }
PT__PRIVATE int pt__sock_nonblock(pt__sock s) {
    u_long one = 1;
    if (ioctlsocket(s, (long)FIONBIO, &one) != 0) return -1;
    /* like FD_CLOEXEC: a child process the host starts must not hold our socket */
    (void)SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0);
    return 0;
}
PT__PRIVATE void pt__sock_nosigpipe(pt__sock s) { (void)s; }
/* Waits for readability (want_write 0) or writability; 1 ready, 0 timeout, -1 error.
   select(), not WSAPoll: before Windows 10 2004 WSAPoll never reports a failed
   non-blocking connect (it waits out the timeout); select() reports it in the
   except set. One socket per set, so FD_SETSIZE is no limit. */
PT__PRIVATE int pt__sock_wait(pt__sock s, int want_write, int ms) {
    fd_set rw, ex; struct timeval tv; int r;
    FD_ZERO(&rw); FD_ZERO(&ex);
    FD_SET(s, &rw); FD_SET(s, &ex);
    tv.tv_sec = ms / 1000; tv.tv_usec = (ms % 1000) * 1000;
    r = select(0, want_write ? NULL : &rw, want_write ? &rw : NULL, &ex, ms < 0 ? NULL : &tv);
    if (r == SOCKET_ERROR) return -1;
    return r == 0 ? 0 : 1;
}
PT__PRIVATE long pt__sock_send(pt__sock s, const void *b, size_t n) {
    int r = send(s, (const char *)b, (int)PT__MIN(n, (size_t)0x40000000), 0);
    return r == SOCKET_ERROR ? -1 : (long)r;
}
PT__PRIVATE long pt__sock_recv(pt__sock s, void *b, size_t n) {
    int r = recv(s, (char *)b, (int)PT__MIN(n, (size_t)0x40000000), 0);
    return r == SOCKET_ERROR ? -1 : (long)r;
}
/* Gathers two buffers into one send (head + body: no Nagle/delayed-ACK stall). */
PT__PRIVATE long pt__sock_send2(pt__sock s, const void *a, size_t an, const void *b, size_t bn) {
    WSABUF w[2]; DWORD sent = 0;
    w[0].buf = (char *)(uintptr_t)a; w[0].len = (ULONG)PT__MIN(an, (size_t)0x40000000);
    w[1].buf = (char *)(uintptr_t)b; w[1].len = (ULONG)PT__MIN(bn, (size_t)0x40000000);
    if (WSASend(s, w, 2, &sent, 0, NULL, NULL) != 0) return -1;
    return (long)sent;
}
PT__PRIVATE int pt__sock_connect_err(pt__sock s) {
    int e = 0; int len = (int)sizeof e;
    if (getsockopt(s, SOL_SOCKET, SO_ERROR, (char *)&e, &len) != 0) return -1;
    return e;
}
PT__PRIVATE int pt__sock_err_refused(int e) { return e == WSAECONNREFUSED; }
#endif /* PT__SOCKETS */
/* fork does not exist on Windows */
#if PT__THREADS
PT__PRIVATE void pt__fork_hooks_install(void) {}
#endif
#if PT__SPOOL
/* Files for the durable spool. Handles are opened shareable (read, write,
   delete) so a spool segment can be deleted while another handle is open. */
typedef HANDLE pt__file;
#define PT__BAD_FILE INVALID_HANDLE_VALUE
#define PT__FILE_READ   0       /* existing file, read only */
#define PT__FILE_APPEND 1       /* create if missing, every write appends */
#define PT__FILE_RW     2       /* create if missing, read and write */
PT__PRIVATE pt__file pt__file_open(const char *path, int mode) {
    DWORD acc = mode == PT__FILE_READ ? GENERIC_READ : (GENERIC_READ | GENERIC_WRITE);
    DWORD disp = mode == PT__FILE_READ ? OPEN_EXISTING : OPEN_ALWAYS;
    return CreateFileA(path, acc, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, disp, FILE_ATTRIBUTE_NORMAL, NULL);
}
PT__PRIVATE void pt__file_close(pt__file f) { if (f != PT__BAD_FILE) CloseHandle(f); }
/* Appends all n bytes at the end of the file (one writer per file). 0 or -1. */
PT__PRIVATE int pt__file_append(pt__file f, const void *b, size_t n) {
    const char *p = (const char *)b;
    LARGE_INTEGER z;
    z.QuadPart = 0;
    if (!SetFilePointerEx(f, z, NULL, FILE_END)) return -1;
    while (n) {
        DWORD w = 0, k = (DWORD)PT__MIN(n, (size_t)0x40000000);
        if (!WriteFile(f, p, k, &w, NULL) || w == 0) return -1;
        p += w; n -= w;
    }
    return 0;
}
/* Reads up to n bytes from the current position; returns the count or -1. */
PT__PRIVATE long pt__file_read(pt__file f, void *b, size_t n) {
    DWORD got = 0;
    if (!ReadFile(f, b, (DWORD)PT__MIN(n, (size_t)0x40000000), &got, NULL)) return -1;
    return (long)got;
}
PT__PRIVATE int64_t pt__file_size(pt__file f) {
    LARGE_INTEGER s;
    if (!GetFileSizeEx(f, &s)) return -1;
    return (int64_t)s.QuadPart;
}
PT__PRIVATE int pt__file_truncate(pt__file f, uint64_t size) {
    LARGE_INTEGER at;
    at.QuadPart = (LONGLONG)size;
    if (!SetFilePointerEx(f, at, NULL, FILE_BEGIN) || !SetEndOfFile(f)) return -1;
    return 0;
}
PT__PRIVATE int pt__file_sync(pt__file f) { return FlushFileBuffers(f) ? 0 : -1; }
PT__PRIVATE int pt__file_sync_dir(const char *dir) { (void)dir; return 0; }   /* NTFS journals directory entries */
PT__PRIVATE int pt__file_unlink(const char *path) { return DeleteFileA(path) ? 0 : -1; }
PT__PRIVATE int pt__file_rename(const char *from, const char *to) { return MoveFileExA(from, to, MOVEFILE_REPLACE_EXISTING) ? 0 : -1; }
PT__PRIVATE int pt__file_mkdir(const char *dir) {
    DWORD a;
    if (CreateDirectoryA(dir, NULL)) return 0;
    if (GetLastError() != ERROR_ALREADY_EXISTS) return -1;
    a = GetFileAttributesA(dir);   /* an existing plain file is not a spool directory */
    if (a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY)) return 0;
    SetLastError(ERROR_ALREADY_EXISTS);
    return -1;
}
/* Exclusive lock on the whole file without waiting: 0 ok, 1 held elsewhere, -1 error. */
PT__PRIVATE int pt__file_lock(pt__file f) {
    OVERLAPPED ov;
    memset(&ov, 0, sizeof ov);
    if (LockFileEx(f, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ov)) return 0;
    return GetLastError() == ERROR_LOCK_VIOLATION || GetLastError() == ERROR_IO_PENDING ? 1 : -1;
}
/* Calls fn for every entry name in dir (not . and ..); 0 or -1. */
PT__PRIVATE int pt__file_list(const char *dir, void (*fn)(void *u, const char *name), void *u) {
    char pat[1024];
    WIN32_FIND_DATAA fd;
    HANDLE h;
    if (strlen(dir) + 3 > sizeof pat) return -1;
    strcpy(pat, dir); strcat(pat, "\\*");
    h = FindFirstFileA(pat, &fd);
    if (h == INVALID_HANDLE_VALUE) return GetLastError() == ERROR_FILE_NOT_FOUND ? 0 : -1;
    do { if (strcmp(fd.cFileName, ".") && strcmp(fd.cFileName, "..")) fn(u, fd.cFileName); } while (FindNextFileA(h, &fd));
    FindClose(h);
    return 0;
}
/* A string naming the directory itself (two spellings of one path give one key). */
PT__PRIVATE int pt__file_dir_key(const char *dir, char *key, size_t cap) {
    DWORD n = GetFullPathNameA(dir, (DWORD)cap, key, NULL);
    size_t i;
    if (n == 0 || n >= cap) return -1;
    for (i = 0; key[i]; i++) key[i] = (char)(key[i] == '/' ? '\\' : (key[i] >= 'A' && key[i] <= 'Z') ? key[i] + 32 : key[i]);
    while (i > 3 && key[i - 1] == '\\') key[--i] = 0;
    return 0;
}
/* What went wrong in the last failed pt__file_* call on this thread:
   PT_ERR_DISK_FULL (no space, quota, file size limit) or PT_ERR_SPOOL. */
PT__PRIVATE pt_result pt__file_error(char *msg, size_t cap) {
    DWORD e = GetLastError();
    int full = e == ERROR_DISK_FULL || e == ERROR_HANDLE_DISK_FULL || e == ERROR_FILE_TOO_LARGE;
    if (msg && cap) { snprintf(msg, cap, "%s (Windows error %lu)", full ? "disk full" : "I/O error", (unsigned long)e); msg[cap - 1] = 0; }
    return full ? PT_ERR_DISK_FULL : PT_ERR_SPOOL;
}
#endif /* PT__SPOOL */

#else /* POSIX */
#if PT__CURL_DL
#include <dlfcn.h>   /* in libc from glibc 2.34; older glibc needs -ldl */
#endif
#if PT__SOCKETS
typedef int pt__sock;
typedef socklen_t pt__socklen;
#define PT__BAD_SOCK (-1)
#endif
#if PT__THREADS
typedef pthread_mutex_t pt__mutex;
typedef pthread_cond_t pt__cond;
typedef pthread_t pt__thread;

PT__PRIVATE void pt__mutex_init(pt__mutex *m) { pthread_mutex_init(m, NULL); }
PT__PRIVATE void pt__mutex_destroy(pt__mutex *m) { pthread_mutex_destroy(m); }
/* The client lock guards critical sections of a few hundred ns (a memcpy
   into the queue, a counter update). Sleeping in the kernel for them costs
   two system calls (wait + wake) that dwarf the section, so spin briefly on
   trylock first; only a real wait goes to the kernel. */
PT__PRIVATE void pt__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __asm__ __volatile__("pause");
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
PT__PRIVATE void pt__mutex_lock(pt__mutex *m) {
    int i;
    for (i = 0; i < 200; i++) {
        if (pthread_mutex_trylock(m) == 0) return;
        pt__cpu_relax();
    }
    pthread_mutex_lock(m);
}
PT__PRIVATE void pt__mutex_unlock(pt__mutex *m) { pthread_mutex_unlock(m); }
PT__PRIVATE void pt__cond_init(pt__cond *c) {
#if defined(__APPLE__)
    pthread_cond_init(c, NULL);
#else
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
#endif
}
PT__PRIVATE void pt__cond_destroy(pt__cond *c) { pthread_cond_destroy(c); }
PT__PRIVATE void pt__cond_signal(pt__cond *c) { pthread_cond_signal(c); }
PT__PRIVATE void pt__cond_broadcast(pt__cond *c) { pthread_cond_broadcast(c); }
PT__PRIVATE void pt__cond_wait_ms(pt__cond *c, pt__mutex *m, int64_t ms) {
    struct timespec ts;
    if (ms < 0) { pthread_cond_wait(c, m); return; }
    if (ms > 86400000LL * 30) ms = 86400000LL * 30;
#if defined(__APPLE__)
    ts.tv_sec = (time_t)(ms / 1000); ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    pthread_cond_timedwait_relative_np(c, m, &ts);
#else
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
    pthread_cond_timedwait(c, m, &ts);
#endif
}
typedef struct pt__thread_arg { void (*fn)(void *); void *arg; } pt__thread_arg;
static void *pt__thread_tramp(void *p) {
    pt__thread_arg a = *(pt__thread_arg *)p;
    PT__FREE(p);
    a.fn(a.arg);
    return NULL;
}
PT__PRIVATE int pt__thread_start(pt__thread *t, void (*fn)(void *), void *arg) {
    pt__thread_arg *a = (pt__thread_arg *)PT__MALLOC(sizeof *a);
    sigset_t all, old;
    int r;
    if (!a) return -1;
    a->fn = fn; a->arg = arg;
    /* The flush thread must never receive the host's signals (SIGPIPE, SIGINT...). */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = pthread_create(t, NULL, pt__thread_tramp, a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) { PT__FREE(a); return -1; }
    return 0;
}
PT__PRIVATE void pt__thread_join(pt__thread t) { pthread_join(t, NULL); }
PT__PRIVATE void pt__thread_detach(pt__thread t) { pthread_detach(t); }
PT__PRIVATE int pt__thread_is_self(pt__thread t) { return pthread_equal(pthread_self(), t) != 0; }
#endif /* PT__THREADS */
PT__PRIVATE void pt__sleep_ms(int ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000; ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}
PT__PRIVATE int64_t pt__mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
PT__PRIVATE int64_t pt__mono_ms(void) { return pt__mono_ns() / 1000000LL; }
PT__PRIVATE int64_t pt__wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000L;
}
PT__PRIVATE int64_t pt__atomic_load(volatile int64_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
PT__PRIVATE void pt__atomic_store(volatile int64_t *p, int64_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
PT__PRIVATE int64_t pt__atomic_add(volatile int64_t *p, int64_t v) { return __atomic_add_fetch(p, v, __ATOMIC_SEQ_CST); }
#if PT__OSINFO
PT__PRIVATE int pt__getpid(void) { return (int)getpid(); }
PT__PRIVATE void pt__os_random(void *buf, size_t n) {
    unsigned char *b = (unsigned char *)buf;
    size_t got = 0, i;
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd >= 0) {
        while (got < n) {
            ssize_t r = read(fd, b + got, n - got);
            if (r <= 0) { if (r < 0 && errno == EINTR) continue; break; }
            got += (size_t)r;
        }
        close(fd);
    }
    if (got < n) { /* no urandom (chroot): mix clocks and ids */
        uint64_t x = (uint64_t)pt__mono_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)buf;
        for (i = got; i < n; i++) {
            x += 0x9E3779B97F4A7C15ULL ^ (uint64_t)pt__mono_ns();
            x ^= x >> 31; x *= 0xBF58476D1CE4E5B9ULL; x ^= x >> 29;
            b[i] = (unsigned char)(x >> 24);
        }
    }
}
PT__PRIVATE void pt__host_name(char *buf, size_t cap) {
    if (gethostname(buf, cap) != 0) { strncpy(buf, "unknown", cap - 1); }
    buf[cap - 1] = 0;
}
#else
/* Only the C library: no process id, no host name, no /dev/urandom. The
   random seed mixes the clocks, an address and clock() (UUIDs stay unique
   per client; two processes started in the same nanosecond could collide). */
PT__PRIVATE int pt__getpid(void) { return 0; }
PT__PRIVATE void pt__os_random(void *buf, size_t n) {
    unsigned char *b = (unsigned char *)buf;
    uint64_t x = (uint64_t)pt__mono_ns() ^ ((uint64_t)pt__wall_ms() << 20) ^ (uint64_t)(uintptr_t)buf ^ (uint64_t)clock();
    size_t i;
    for (i = 0; i < n; i++) {
        x += 0x9E3779B97F4A7C15ULL ^ (uint64_t)pt__mono_ns();
        x ^= x >> 31; x *= 0xBF58476D1CE4E5B9ULL; x ^= x >> 29;
        b[i] = (unsigned char)(x >> 24);
    }
}
PT__PRIVATE void pt__host_name(char *buf, size_t cap) { strncpy(buf, "unknown", cap - 1); buf[cap - 1] = 0; }
#endif /* PT__OSINFO */
PT__PRIVATE const char *pt__os_name(void) {
#if defined(__EMSCRIPTEN__)
    return "emscripten";
#elif defined(__APPLE__)
    return "darwin";
#elif defined(__linux__)
    return "linux";
#elif defined(__FreeBSD__)
    return "freebsd";
#else
    return "posix";
#endif
}
#if PT__SOCKETS
PT__PRIVATE int pt__net_init(void) { return 0; }
PT__PRIVATE int pt__sock_errno(void) { return errno; }
PT__PRIVATE int pt__sock_would_block(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == EINPROGRESS || e == EINTR; }
PT__PRIVATE void pt__sock_close(pt__sock s) { if (s != PT__BAD_SOCK) close(s); }
PT__PRIVATE int pt__sock_nonblock(pt__sock s) {
    int fl = fcntl(s, F_GETFL, 0);
    if (fl < 0 || fcntl(s, F_SETFL, fl | O_NONBLOCK) < 0) return -1;
    (void)fcntl(s, F_SETFD, FD_CLOEXEC);
    return 0;
}
PT__PRIVATE void pt__sock_nosigpipe(pt__sock s) {
#if defined(SO_NOSIGPIPE)
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#else
    (void)s;
#endif
}
PT__PRIVATE int pt__sock_wait(pt__sock s, int want_write, int ms) {
    struct pollfd p; int r;
    p.fd = s; p.events = (short)(want_write ? POLLOUT : POLLIN); p.revents = 0;
    do { r = poll(&p, 1, ms); } while (r < 0 && errno == EINTR);
    if (r < 0) return -1;
    return r == 0 ? 0 : 1;
}
#if defined(MSG_NOSIGNAL)
#define PT__SEND_FLAGS MSG_NOSIGNAL
#else
#define PT__SEND_FLAGS 0
#endif
PT__PRIVATE long pt__sock_send(pt__sock s, const void *b, size_t n) {
    ssize_t r;
    do { r = send(s, b, n, PT__SEND_FLAGS); } while (r < 0 && errno == EINTR);
    return (long)r;
}
/* Gathers two buffers into one send (head + body: no Nagle/delayed-ACK stall). */
PT__PRIVATE long pt__sock_send2(pt__sock s, const void *a, size_t an, const void *b, size_t bn) {
    struct msghdr m;
    struct iovec v[2];
    ssize_t r;
    memset(&m, 0, sizeof m);
    v[0].iov_base = (void *)(uintptr_t)a; v[0].iov_len = an;
    v[1].iov_base = (void *)(uintptr_t)b; v[1].iov_len = bn;
    m.msg_iov = v; m.msg_iovlen = 2;
    do { r = sendmsg(s, &m, PT__SEND_FLAGS); } while (r < 0 && errno == EINTR);
    return (long)r;
}
PT__PRIVATE long pt__sock_recv(pt__sock s, void *b, size_t n) {
    ssize_t r;
    do { r = recv(s, b, n, 0); } while (r < 0 && errno == EINTR);
    return (long)r;
}
PT__PRIVATE int pt__sock_connect_err(pt__sock s) {
    int e = 0; socklen_t len = (socklen_t)sizeof e;
    if (getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &len) != 0) return errno;
    return e;
}
PT__PRIVATE int pt__sock_err_refused(int e) { return e == ECONNREFUSED; }
#endif /* PT__SOCKETS */
#if PT__THREADS
PT__PRIVATE void pt__fork_prepare(void);
PT__PRIVATE void pt__fork_parent(void);
PT__PRIVATE void pt__fork_child(void);
static pthread_once_t pt__fork_once = PTHREAD_ONCE_INIT;
static void pt__fork_install_once(void) { pthread_atfork(pt__fork_prepare, pt__fork_parent, pt__fork_child); }
PT__PRIVATE void pt__fork_hooks_install(void) { pthread_once(&pt__fork_once, pt__fork_install_once); }
#endif
#if PT__SPOOL
/* Files for the durable spool. Descriptors are close-on-exec. */
typedef int pt__file;
#define PT__BAD_FILE (-1)
#define PT__FILE_READ   0       /* existing file, read only */
#define PT__FILE_APPEND 1       /* create if missing, every write appends */
#define PT__FILE_RW     2       /* create if missing, read and write */
PT__PRIVATE pt__file pt__file_open(const char *path, int mode) {
    int fl = mode == PT__FILE_READ ? O_RDONLY : mode == PT__FILE_APPEND ? (O_WRONLY | O_CREAT | O_APPEND) : (O_RDWR | O_CREAT);
    int fd;
#if defined(O_CLOEXEC)
    fl |= O_CLOEXEC;
#endif
    do { fd = open(path, fl, 0600); } while (fd < 0 && errno == EINTR);
    return fd;
}
PT__PRIVATE void pt__file_close(pt__file f) { if (f >= 0) close(f); }
/* Appends all n bytes (O_APPEND). 0, or -1 with errno set (a short write
   that cannot continue reports the error of the failing call). */
PT__PRIVATE int pt__file_append(pt__file f, const void *b, size_t n) {
    const char *p = (const char *)b;
    while (n) {
        ssize_t w = write(f, p, n);
        if (w < 0) { if (errno == EINTR) continue; return -1; }
        if (w == 0) { errno = EIO; return -1; }
        p += w; n -= (size_t)w;
    }
    return 0;
}
PT__PRIVATE long pt__file_read(pt__file f, void *b, size_t n) {
    ssize_t r;
    do { r = read(f, b, n); } while (r < 0 && errno == EINTR);
    return (long)r;
}
PT__PRIVATE int64_t pt__file_size(pt__file f) {
    struct stat st;
    if (fstat(f, &st) != 0) return -1;
    return (int64_t)st.st_size;
}
PT__PRIVATE int pt__file_truncate(pt__file f, uint64_t size) {
    int r;
    do { r = ftruncate(f, (off_t)size); } while (r != 0 && errno == EINTR);
    return r == 0 ? 0 : -1;
}
PT__PRIVATE int pt__file_sync(pt__file f) {
    int r;
    do { r = fsync(f); } while (r != 0 && errno == EINTR);
    return r == 0 ? 0 : -1;
}
/* Makes new and removed directory entries durable. */
PT__PRIVATE int pt__file_sync_dir(const char *dir) {
    int fd = pt__file_open(dir, PT__FILE_READ), r;
    if (fd < 0) return -1;
    r = pt__file_sync(fd);
    close(fd);
    return r;
}
PT__PRIVATE int pt__file_unlink(const char *path) { return unlink(path) == 0 ? 0 : -1; }
PT__PRIVATE int pt__file_rename(const char *from, const char *to) { return rename(from, to) == 0 ? 0 : -1; }
PT__PRIVATE int pt__file_mkdir(const char *dir) {
    struct stat st;
    if (mkdir(dir, 0700) == 0) return 0;
    if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    return -1;
}
/* Exclusive lock on the whole file without waiting: 0 ok, 1 held by another
   process, -1 error. POSIX record locks never exclude the calling process
   itself, so the spool keeps an in-process registry as well. */
PT__PRIVATE int pt__file_lock(pt__file f) {
    struct flock l;
    memset(&l, 0, sizeof l);
    l.l_type = F_WRLCK; l.l_whence = SEEK_SET; l.l_start = 0; l.l_len = 0;
    if (fcntl(f, F_SETLK, &l) == 0) return 0;
    return errno == EACCES || errno == EAGAIN ? 1 : -1;
}
/* Calls fn for every entry name in dir (not . and ..); 0 or -1. */
PT__PRIVATE int pt__file_list(const char *dir, void (*fn)(void *u, const char *name), void *u) {
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL) if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) fn(u, e->d_name);
    closedir(d);
    return 0;
}
/* A string naming the directory itself (device and inode), so two spellings
   of one directory give one key. */
PT__PRIVATE int pt__file_dir_key(const char *dir, char *key, size_t cap) {
    struct stat st;
    if (stat(dir, &st) != 0) return -1;
    snprintf(key, cap, "%llx:%llx", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
    return 0;
}
/* What went wrong in the last failed pt__file_* call on this thread:
   PT_ERR_DISK_FULL (no space, quota, file size limit) or PT_ERR_SPOOL. */
PT__PRIVATE pt_result pt__file_error(char *msg, size_t cap) {
    int e = errno;
    int full = e == ENOSPC || e == EFBIG
#if defined(EDQUOT)
        || e == EDQUOT
#endif
        ;
    if (msg && cap) { snprintf(msg, cap, "%s", strerror(e)); msg[cap - 1] = 0; }
    return full ? PT_ERR_DISK_FULL : PT_ERR_SPOOL;
}
#endif /* PT__SPOOL */
#if PT__CURL_DL
/* Run-time loading (libcurl on POSIX). NULL + a message when name cannot be loaded. */
PT__PRIVATE void *pt__dl_open(const char *name, char *msg, size_t cap) {
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!h && msg && cap) {
        const char *e = dlerror();
        snprintf(msg, cap, "%s", e ? e : "not found");
    }
    return h;
}
PT__PRIVATE void *pt__dl_sym(void *h, const char *name) { return dlsym(h, name); }
PT__PRIVATE void pt__dl_close(void *h) { dlclose(h); }
#endif
#endif /* platform */

/* A process-wide lock for the client registry (fork handling). */
#if !PT__THREADS
PT__PRIVATE void pt__reg_lock(void) {}
PT__PRIVATE void pt__reg_unlock(void) {}
#elif PT__WIN32
static INIT_ONCE pt__reg_once;   /* static zero = INIT_ONCE_STATIC_INIT (spelled {0}, which C++ flags) */
static CRITICAL_SECTION pt__reg_mu;
static BOOL CALLBACK pt__reg_init(PINIT_ONCE o, PVOID p, PVOID *c) { (void)o; (void)p; (void)c; InitializeCriticalSection(&pt__reg_mu); return TRUE; }
PT__PRIVATE void pt__reg_lock(void) { InitOnceExecuteOnce(&pt__reg_once, pt__reg_init, NULL, NULL); EnterCriticalSection(&pt__reg_mu); }
PT__PRIVATE void pt__reg_unlock(void) { LeaveCriticalSection(&pt__reg_mu); }
#else
/* Initialised once at run time, not with PTHREAD_MUTEX_INITIALIZER (glibc
   spells its null pointers 0, which C++ -Wzero-as-null-pointer-constant flags). */
static pthread_once_t pt__reg_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t pt__reg_mu;
static void pt__reg_init(void) { pthread_mutex_init(&pt__reg_mu, NULL); }
PT__PRIVATE void pt__reg_lock(void) { pthread_once(&pt__reg_once, pt__reg_init); pthread_mutex_lock(&pt__reg_mu); }
PT__PRIVATE void pt__reg_unlock(void) { pthread_mutex_unlock(&pt__reg_mu); }
#endif

/* ==== [pt:util] ========================================================== */
/* Growable byte buffer. A buffer may start on caller-provided storage (the
   stack, in pt_track) and moves to the heap only if it outgrows it. */
typedef struct pt__buf {
    char  *p;
    size_t len, cap;
    int    heap;      /* p is ours to free */
    int    oom;       /* an allocation failed; contents are truncated */
} pt__buf;

PT__PRIVATE void pt__buf_init(pt__buf *b, char *storage, size_t cap) {
    b->p = storage; b->len = 0; b->cap = storage ? cap : 0; b->heap = 0; b->oom = 0;
}
PT__PRIVATE void pt__buf_free(pt__buf *b) {
    if (b->heap) PT__FREE(b->p);
    b->p = NULL; b->len = b->cap = 0; b->heap = 0;
}
PT__PRIVATE int pt__buf_grow(pt__buf *b, size_t extra) {
    size_t want, ncap;
    char *np;
    if (b->oom) return -1;
    if (extra > ((size_t)-1) / 2 - b->len) { b->oom = 1; return -1; }
    want = b->len + extra;
    if (want <= b->cap) return 0;
    ncap = b->cap ? b->cap : 256;
    while (ncap < want) ncap *= 2;
    if (b->heap) {
        np = (char *)PT__REALLOC(b->p, ncap);
    } else {
        np = (char *)PT__MALLOC(ncap);
        if (np && b->len) memcpy(np, b->p, b->len);
    }
    if (!np) { b->oom = 1; return -1; }
    b->p = np; b->cap = ncap; b->heap = 1;
    return 0;
}
#define PT__BUF_RESERVE(b, n) (((b)->cap - (b)->len >= (n)) ? 0 : pt__buf_grow((b), (n)))
PT__PRIVATE void pt__buf_put(pt__buf *b, const void *d, size_t n) {
    if (PT__BUF_RESERVE(b, n)) return;
    memcpy(b->p + b->len, d, n);
    b->len += n;
}
PT__PRIVATE void pt__buf_putc(pt__buf *b, char c) {
    if (PT__BUF_RESERVE(b, 1)) return;
    b->p[b->len++] = c;
}
#define pt__buf_lit(b, s) pt__buf_put((b), (s), sizeof(s) - 1)
PT__PRIVATE void pt__buf_puts(pt__buf *b, const char *s) { pt__buf_put(b, s, strlen(s)); }

/* snprintf that always terminates and never overflows. */
PT__PRIVATE void pt__fmt(char *dst, size_t cap, const char *fmt, ...) PT__PRINTF(3, 4);
PT__PRIVATE void pt__fmt(char *dst, size_t cap, const char *fmt, ...) {
    va_list ap;
    if (!cap) return;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
    dst[cap - 1] = 0;
}

/* Fills a pt_error (NULL allowed). */
PT__PRIVATE pt_result pt__err(pt_error *e, pt_result code, const char *fmt, ...) PT__PRINTF(3, 4);
PT__PRIVATE pt_result pt__err(pt_error *e, pt_result code, const char *fmt, ...) {
    va_list ap;
    if (!e) return code;
    memset(e, 0, sizeof *e);
    e->code = code;
    e->retry_after_ms = -1;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    e->message[sizeof e->message - 1] = 0;
    return code;
}
PT__PRIVATE void pt__err_ok(pt_error *e) {
    if (!e) return;
    memset(e, 0, sizeof *e);
    e->retry_after_ms = -1;
}

/* "00" "01" ... "99": two decimal digits per lookup. */
static const char pt__dig2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";
/* Writes v in decimal; returns length. buf needs 20 bytes (21 for i64). */
PT__PRIVATE size_t pt__u64_dec(char *buf, uint64_t v) {
#if PT__SMALL   /* one digit at a time */
    char tmp[20], *q = tmp + sizeof tmp;
    size_t len;
    do { *--q = (char)('0' + v % 10); v /= 10; } while (v);
    len = (size_t)(tmp + sizeof tmp - q);
    memcpy(buf, q, len);
    return len;
#else
    size_t n = 1, k;
    uint64_t t;
    char *p;
    if (v < 100) {
        if (v < 10) { buf[0] = (char)('0' + v); return 1; }
        memcpy(buf, pt__dig2 + v * 2, 2);
        return 2;
    }
    if (v < 10000) {                         /* 3 or 4 digits, in 32-bit arithmetic */
        unsigned u = (unsigned)v, h = u / 100, l = u - h * 100;
        if (h < 10) { buf[0] = (char)('0' + h); memcpy(buf + 1, pt__dig2 + l * 2, 2); return 3; }
        memcpy(buf, pt__dig2 + h * 2, 2); memcpy(buf + 2, pt__dig2 + l * 2, 2);
        return 4;
    }
    for (t = v; t >= 100; t /= 100) n += 2;
    if (t >= 10) n++;
    p = buf + n;
    while (v >= 100) { k = (size_t)(v % 100) * 2; v /= 100; p -= 2; memcpy(p, pt__dig2 + k, 2); }
    if (v >= 10) memcpy(p - 2, pt__dig2 + v * 2, 2);
    else p[-1] = (char)('0' + v);
    return n;
#endif
}
PT__PRIVATE size_t pt__i64_dec(char *buf, int64_t v) {
    if (v < 0) { buf[0] = '-'; return 1 + pt__u64_dec(buf + 1, (uint64_t)0 - (uint64_t)v); }
    return pt__u64_dec(buf, (uint64_t)v);
}

/* splitmix64: a bijection on 64 bits with good avalanche. */
PT__PRIVATE uint64_t pt__mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

#if (defined(__GNUC__) || defined(__clang__)) && defined(__OPTIMIZE_SIZE__)
#define PT__INLINE static inline __attribute__((unused))
#define PT__NOINLINE __attribute__((noinline))
#elif defined(__GNUC__) || defined(__clang__)
#define PT__INLINE static inline __attribute__((always_inline, unused))
#define PT__NOINLINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define PT__INLINE static __forceinline
#define PT__NOINLINE __declspec(noinline)
#else
#define PT__INLINE static inline
#define PT__NOINLINE
#endif
/* SSE2 (every x86-64 has it) checks 16 bytes in a few instructions where
   the portable word-at-a-time check needs about ten per 8 bytes. The
   optimistic copy and the UUID's hex digits use it; PACKTRACK_NO_SIMD keeps
   to the portable paths. */
#if !defined(PACKTRACK_NO_SIMD) && (defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2))
#include <emmintrin.h>
#define PT__SSE2 1
/* Lanes of v that need attention: signed v < 0x20 is a control character or
   a byte >= 0x80; then '"' and '\\'. */
#define PT__SSE2_ATTN(v) _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8((v), _mm_set1_epi8(0x20)), \
    _mm_cmpeq_epi8((v), _mm_set1_epi8(0x22))), _mm_cmpeq_epi8((v), _mm_set1_epi8(0x5c)))
#else
#define PT__SSE2 0
#endif
/* UUID v4 without a lock or thread-local state: a per-process random seed
   and an atomic counter, through a bijective mixer, so two keys made by one
   process never collide and keys of different processes collide only with
   random-UUID odds. */
static volatile int64_t pt__uuid_ctr;
static uint64_t pt__uuid_seed[2];
static volatile int64_t pt__uuid_seeded;
PT__PRIVATE void pt__uuid_seed_init(void) {
    if (pt__atomic_load(&pt__uuid_seeded)) return;
    pt__reg_lock();
    if (!pt__uuid_seeded) {
        pt__os_random(pt__uuid_seed, sizeof pt__uuid_seed);
        pt__atomic_store(&pt__uuid_seeded, 1);
    }
    pt__reg_unlock();
}
static const char pt__hex[] = "0123456789abcdef";
#if !PT__SMALL
/* "00" "01" ... "ff": two hex digits per lookup. */
static const char pt__hex2[513] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
/* Writes 36 characters (no NUL). Byte i of the UUID is byte i (low end
   first) of hi, then of lo; the version nibble 4 replaces the high nibble of
   byte 6, which moves into byte 8 beside the variant bits 10, so all 64 bits
   of hi survive. */
#define PT__UUID_BYTE(pos, v, i) memcpy(out + (pos), pt__hex2 + (((v) >> (8 * (i))) & 0xff) * 2, 2)
#endif
/* The 36 characters of the UUID whose bytes are those of hi then lo (low
   end first). `simd` is a constant: 1 turns all 16 bytes into hex digits
   with a few SSE2 operations (nibbles split, interleaved, mapped to
   '0'..'9'/'a'..'f' with a compare), 0 takes two digits per table lookup
   (one per lookup in the small build); the tests compare the two. */
PT__INLINE void pt__uuid_text(char *out, uint64_t hi, uint64_t lo, int simd) {
    (void)simd;
#if PT__SSE2
    if (simd) {
        char t[32];
        const __m128i v = _mm_set_epi64x((long long)lo, (long long)hi), m = _mm_set1_epi8(0x0f);
        const __m128i hn = _mm_and_si128(_mm_srli_epi16(v, 4), m), ln = _mm_and_si128(v, m);
        __m128i a = _mm_unpacklo_epi8(hn, ln), b = _mm_unpackhi_epi8(hn, ln);
        a = _mm_add_epi8(_mm_add_epi8(a, _mm_set1_epi8('0')), _mm_and_si128(_mm_cmpgt_epi8(a, _mm_set1_epi8(9)), _mm_set1_epi8('a' - '0' - 10)));
        b = _mm_add_epi8(_mm_add_epi8(b, _mm_set1_epi8('0')), _mm_and_si128(_mm_cmpgt_epi8(b, _mm_set1_epi8(9)), _mm_set1_epi8('a' - '0' - 10)));
        _mm_storeu_si128((__m128i *)(void *)t, a);
        _mm_storeu_si128((__m128i *)(void *)(t + 16), b);
        memcpy(out, t, 8); out[8] = '-';
        memcpy(out + 9, t + 8, 4); out[13] = '-';
        memcpy(out + 14, t + 12, 4); out[18] = '-';
        memcpy(out + 19, t + 16, 4); out[23] = '-';
        memcpy(out + 24, t + 20, 12);
        return;
    }
#endif
#if PT__SMALL   /* the same bytes, one hex digit per lookup */
    {
        static const unsigned char pos[16] = { 0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34 };
        int i;
        for (i = 0; i < 16; i++) {
            unsigned x = (unsigned)(((i < 8 ? hi : lo) >> (8 * (i & 7))) & 0xff);
            out[pos[i]] = pt__hex[x >> 4]; out[pos[i] + 1] = pt__hex[x & 15];
        }
        out[8] = out[13] = out[18] = out[23] = '-';
    }
#else
    PT__UUID_BYTE(0, hi, 0); PT__UUID_BYTE(2, hi, 1); PT__UUID_BYTE(4, hi, 2); PT__UUID_BYTE(6, hi, 3);
    out[8] = '-';
    PT__UUID_BYTE(9, hi, 4); PT__UUID_BYTE(11, hi, 5);
    out[13] = '-';
    PT__UUID_BYTE(14, hi, 6); PT__UUID_BYTE(16, hi, 7);
    out[18] = '-';
    PT__UUID_BYTE(19, lo, 0); PT__UUID_BYTE(21, lo, 1);
    out[23] = '-';
    PT__UUID_BYTE(24, lo, 2); PT__UUID_BYTE(26, lo, 3); PT__UUID_BYTE(28, lo, 4);
    PT__UUID_BYTE(30, lo, 5); PT__UUID_BYTE(32, lo, 6); PT__UUID_BYTE(34, lo, 7);
#endif
}
/* The next key's bytes (see pt__uuid4). */
PT__INLINE void pt__uuid_bits(uint64_t *h, uint64_t *l) {
    uint64_t n = (uint64_t)pt__atomic_add(&pt__uuid_ctr, 1);
    uint64_t hi = pt__mix64(pt__uuid_seed[0] ^ n);            /* unique per n */
    uint64_t lo = pt__mix64(pt__uuid_seed[1] + n * 0xD6E8FEB86659FD93ULL);
    uint64_t b6 = (hi >> 48) & 0xff;
    *h = (hi & ~((uint64_t)0xff << 48)) | (0x40 | (b6 & 0x0f)) << 48;
    *l = (lo & ~(uint64_t)0xff) | 0x80 | (b6 >> 4) << 2 | (lo & 0x03);
}
PT__PRIVATE void pt__uuid4(char *out) {
    uint64_t hi, lo;
    pt__uuid_bits(&hi, &lo);
    pt__uuid_text(out, hi, lo, PT__SSE2);
}

/* Per-client PRNG for backoff jitter (flush thread / sync caller; guarded by the caller). */
PT__PRIVATE uint64_t pt__rand_next(uint64_t *state) { *state += 0x9E3779B97F4A7C15ULL; return pt__mix64(*state); }

/* Days since 1970-01-01 from a civil date and back (proleptic Gregorian). */
PT__PRIVATE int64_t pt__days_from_civil(int64_t y, int m, int d) {
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}
PT__PRIVATE void pt__civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    int64_t era, doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}
/* RFC 3339 UTC with milliseconds: "2026-11-23T10:15:30.123Z" (24 chars, no NUL).
   Years outside 0..9999 are clamped (JSON must stay a valid timestamp).
   The text up to the seconds is kept per thread for the last second seen
   (events come many to a second), so most calls only write the milliseconds. */
#define PT__TS_MIN_MS (-62167219200000LL)       /* 0000-01-01T00:00:00.000Z */
#define PT__TS_MAX_MS 253402300799999LL         /* 9999-12-31T23:59:59.999Z */
PT__PRIVATE void pt__rfc3339_sec(char *out, int64_t sec) {
    int64_t days = sec >= 0 ? sec / 86400 : -((-sec + 86399) / 86400), y;
    int s_of_day = (int)(sec - days * 86400), m, d, hh, mm, ss;
    pt__civil_from_days(days, &y, &m, &d);
    hh = s_of_day / 3600; mm = s_of_day / 60 % 60; ss = s_of_day % 60;
    out[0] = (char)('0' + y / 1000); out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10); out[3] = (char)('0' + y % 10);
    out[4] = '-'; out[5] = (char)('0' + m / 10); out[6] = (char)('0' + m % 10);
    out[7] = '-'; out[8] = (char)('0' + d / 10); out[9] = (char)('0' + d % 10);
    out[10] = 'T'; out[11] = (char)('0' + hh / 10); out[12] = (char)('0' + hh % 10);
    out[13] = ':'; out[14] = (char)('0' + mm / 10); out[15] = (char)('0' + mm % 10);
    out[16] = ':'; out[17] = (char)('0' + ss / 10); out[18] = (char)('0' + ss % 10);
    out[19] = '.';
}
#ifdef PT__TLS
static PT__TLS int64_t pt__ts_key;        /* second + 1 whose text pt__ts_text holds; 0 = none */
static PT__TLS char pt__ts_text[20];
#endif
PT__PRIVATE void pt__rfc3339(char *out, int64_t unix_ms) {
    int64_t sec;
    unsigned ms;
    if (unix_ms < PT__TS_MIN_MS) unix_ms = PT__TS_MIN_MS;
    if (unix_ms > PT__TS_MAX_MS) unix_ms = PT__TS_MAX_MS;
    sec = unix_ms >= 0 ? unix_ms / 1000 : -((-unix_ms + 999) / 1000);
    ms = (unsigned)(unix_ms - sec * 1000);
#ifdef PT__TLS
    if (pt__ts_key != sec + 1) { pt__rfc3339_sec(pt__ts_text, sec); pt__ts_key = sec + 1; }
    memcpy(out, pt__ts_text, 20);
#else
    pt__rfc3339_sec(out, sec);
#endif
    out[20] = (char)('0' + ms / 100); out[21] = pt__dig2[ms % 100 * 2];
    out[22] = pt__dig2[ms % 100 * 2 + 1]; out[23] = 'Z';
}

PT__PRIVATE int pt__lower(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }
PT__PRIVATE int pt__strncaseeq(const char *a, const char *b, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) if (pt__lower((unsigned char)a[i]) != pt__lower((unsigned char)b[i])) return 0;
    return 1;
}
PT__PRIVATE char *pt__strdup(const char *s) {
    size_t n;
    char *d;
    if (!s) return NULL;
    n = strlen(s);
    d = (char *)PT__MALLOC(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

/* ==== [pt:json] ========================================================== */
/* Byte classes for the string escaper: 0 copy as is, 1 escape, 2 UTF-8 lead. */
static const unsigned char pt__json_cls[256] = {
    1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
    0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,1,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2, 2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
    2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2, 2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
    2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2, 2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
    2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2, 2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2
};

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid; *bad gets
   the length of the maximal invalid prefix to replace with one U+FFFD. */
PT__PRIVATE size_t pt__utf8_seq(const unsigned char *s, size_t n, size_t *bad) {
    unsigned c = s[0];
    size_t need, i;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c >= 0xE0 && c <= 0xEF) { need = 2; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { need = 3; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else { *bad = 1; return 0; }
    for (i = 1; i <= need; i++) {
        unsigned b;
        if (i >= n) { *bad = i; return 0; }
        b = s[i];
        if (b < lo || b > hi) { *bad = i; return 0; }
        lo = 0x80; hi = 0xBF;
    }
    return need + 1;
}

/* ---- writer --------------------------------------------------------------
   Plain bytes (0x20..0x7f except '"' and '\\') are copied 8 bytes at a
   time. An event is written in sections (the fixed fields, metadata, extra,
   the key): first optimistically, every string copied as is while its bytes
   are folded into one accumulator; if any byte needed attention (a control
   character, '"', '\\', or >= 0x80: an escape, a UTF-8 check, U+2028/9)
   the section is written again by the careful writer, which escapes. */
/* -Os (PT__SMALL): the compiler decides what to inline, and the writer
   skips its optimistic pass (PT__JSON_FAST 0): the careful writer alone gives
   the same bytes, a little slower. */
#define PT__JSON_FAST (!PT__SMALL)
#define PT__B8(c) ((uint64_t)0x0101010101010101ULL * (uint64_t)(c))
/* Per byte lane x of w: (x - 0x20) sets the lane's top bit for x < 0x20
   and x >= 0xa0, ((x ^ q) - 1) for x == q and x >= 0x80 (but x == q ^ 0x80,
   which the other term flags); no other lane of 0x20..0x7f gets it. A
   borrow into a lane comes only from a lower lane that is itself flagged,
   so PT__ATTN(w) & PT__B8(0x80) is zero iff no byte of w needs attention,
   in either byte order; and the OR of many PT__ATTN values, masked, is zero
   iff none of their words had such a byte. */
#define PT__ATTN(w) (((w) - PT__B8(0x20)) | (((w) ^ PT__B8(0x22)) - PT__B8(0x01)) | (((w) ^ PT__B8(0x5c)) - PT__B8(0x01)))
#define PT__ATTN_ANY(acc) (((acc) & PT__B8(0x80)) != 0)

/* Makes room for need bytes at o (b->len is synced first); returns where
   o is now, or NULL when out of memory (write nothing then). */
PT__PRIVATE PT__NOINLINE char *pt__json_room(pt__buf *b, char *o, size_t need) {
    b->len = (size_t)(o - b->p);
    if (pt__buf_grow(b, need)) return NULL;
    return b->p + b->len;
}
#define PT__JSON_ROOM(b, o, need) ((size_t)((b)->p + (b)->cap - (o)) >= (need) || ((o) = pt__json_room((b), (o), (need))) != NULL)

/* Continues a JSON string at s[i], writing at o (the caller has written the
   opening quote and s[0..i) unchanged, and made room for n - i + 1 more
   bytes): escapes, U+2028/9, UTF-8 validation (each maximal invalid subpart
   becomes one U+FFFD), then the closing quote. Where the output outgrows
   the input it makes room for the rest of the string as if it were plain,
   so b grows only when the string's text would outgrow it anyway (never
   earlier than the byte-at-a-time writer did). Out of memory, it stops
   short. Returns where the next byte goes. */
PT__PRIVATE PT__NOINLINE char *pt__json_str_rest(pt__buf *b, char *o, const unsigned char *s, size_t i, size_t n) {
    b->len = (size_t)(o - b->p);
    while (i < n) {
        size_t run = i;
        unsigned c;
        while (run + 8 <= n) {
            uint64_t x;
            memcpy(&x, s + run, 8);
            if (PT__ATTN_ANY(PT__ATTN(x))) break;
            run += 8;
        }
        while (run < n && pt__json_cls[s[run]] == 0) run++;
        if (run > i) {
            memcpy(b->p + b->len, s + i, run - i);
            b->len += run - i; i = run;
            if (i >= n) break;
        }
        c = s[i];
        if (pt__json_cls[c] == 1) {
            if (PT__BUF_RESERVE(b, n - i + (c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\b' && c != '\f' ? 6 : 2))) goto out;
            o = b->p + b->len;
            o[0] = '\\';
            switch (c) {
            case '"': o[1] = '"'; break;
            case '\\': o[1] = '\\'; break;
            case '\n': o[1] = 'n'; break;
            case '\r': o[1] = 'r'; break;
            case '\t': o[1] = 't'; break;
            case '\b': o[1] = 'b'; break;
            case '\f': o[1] = 'f'; break;
            default:
                o[1] = 'u'; o[2] = '0'; o[3] = '0';
                o[4] = pt__hex[c >> 4]; o[5] = pt__hex[c & 15];
                b->len += 4;
            }
            b->len += 2;
            i++;
        } else {
            size_t bad = 0, L = pt__utf8_seq(s + i, n - i, &bad);
            if (!L) {
                if (PT__BUF_RESERVE(b, n - i - bad + 4)) goto out;
                memcpy(b->p + b->len, "\xEF\xBF\xBD", 3); b->len += 3; i += bad;
            } else if (L == 3 && c == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
                if (PT__BUF_RESERVE(b, n - i + 4)) goto out;
                memcpy(b->p + b->len, s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6); b->len += 6; i += 3;
            } else {
                o = b->p + b->len;
                o[0] = (char)c; o[1] = (char)s[i + 1];
                if (L > 2) o[2] = (char)s[i + 2];
                if (L > 3) o[3] = (char)s[i + 3];
                b->len += L; i += L;
            }
        }
    }
    b->p[b->len++] = '"';
out:
    return b->p + b->len;
}

/* The careful writer: the literal lit[0..ln), then s[0..n) as a JSON string
   (quotes included) at o, which has room for ln + n + 2 bytes (checked by
   the caller): RFC 8259 escaping, U+2028/9 escaped, invalid UTF-8 replaced
   by U+FFFD. Plain runs are copied a word at a time. Returns where the next
   byte goes (b may have moved; check room before writing more). */
PT__PRIVATE PT__NOINLINE char *pt__json_kv_out(pt__buf *b, char *o, const char *lit, size_t ln, const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    uint64_t x;
    memcpy(o, lit, ln);
    o += ln;
    *o++ = '"';
    for (; i + 8 <= n; i += 8) {
        memcpy(&x, s + i, 8);
        if (PT__ATTN_ANY(PT__ATTN(x))) return pt__json_str_rest(b, o + i, s, i, n);
        memcpy(o + i, &x, 8);
    }
    for (; i < n; i++) {
        if (pt__json_cls[s[i]]) return pt__json_str_rest(b, o + i, s, i, n);
        o[i] = (char)s[i];
    }
    o[n] = '"';
    return o + n + 1;
}

/* What the optimistic writer has seen: PT__ATTN words, SSE2 lane masks. */
typedef struct pt__jacc {
    uint64_t w;
#if PT__SSE2
    __m128i v;
#endif
} pt__jacc;
PT__INLINE void pt__jacc_init(pt__jacc *a) {
    a->w = 0;
#if PT__SSE2
    a->v = _mm_setzero_si128();
#endif
}
PT__INLINE int pt__jacc_any(const pt__jacc *a) {
#if PT__SSE2
    return PT__ATTN_ANY(a->w) || _mm_movemask_epi8(a->v) != 0;
#else
    return PT__ATTN_ANY(a->w);
#endif
}

/* The optimistic writer: s[0..n) in quotes at o (room for n + 2), copied as
   is, its bytes folded into *acc. Plain strings only: the caller checks
   *acc and writes the section again carefully otherwise. Reads nothing past
   s[n - 1]: whole blocks and a last block overlapping the one before (16 or
   8 bytes with SSE2, else 8; 4-byte words or 3 bytes for short strings).
   `simd` is a constant: 0 selects the portable path (the tests run both). */
PT__INLINE char *pt__json_raw(char *o, const char *str, size_t n, pt__jacc *acc, int simd) {
    const unsigned char *s = (const unsigned char *)str;
    uint64_t x, a = 0;
    *o++ = '"';
    (void)simd;
#if PT__SSE2
    if (simd && n >= 8) {
        __m128i v;
        if (n >= 16) {
            size_t i;
            for (i = 0; i + 16 < n; i += 16) {
                v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
                _mm_storeu_si128((__m128i *)(void *)(o + i), v);
                acc->v = _mm_or_si128(acc->v, PT__SSE2_ATTN(v));
            }
            v = _mm_loadu_si128((const __m128i *)(const void *)(s + n - 16));
            _mm_storeu_si128((__m128i *)(void *)(o + n - 16), v);
        } else {
            __m128i lo = _mm_loadl_epi64((const __m128i *)(const void *)s);
            __m128i hi = _mm_loadl_epi64((const __m128i *)(const void *)(s + n - 8));
            _mm_storel_epi64((__m128i *)(void *)o, lo);
            _mm_storel_epi64((__m128i *)(void *)(o + n - 8), hi);
            v = _mm_unpacklo_epi64(lo, hi);
        }
        acc->v = _mm_or_si128(acc->v, PT__SSE2_ATTN(v));
        o[n] = '"';
        return o + n + 1;
    }
#endif
    if (n >= 8) {
        size_t i;
        for (i = 0; i + 8 < n; i += 8) { memcpy(&x, s + i, 8); memcpy(o + i, &x, 8); a |= PT__ATTN(x); }
        memcpy(&x, s + n - 8, 8); memcpy(o + n - 8, &x, 8);
    } else if (n >= 4) {
        uint32_t x1, x2;
        memcpy(&x1, s, 4); memcpy(&x2, s + n - 4, 4);
        memcpy(o, &x1, 4); memcpy(o + n - 4, &x2, 4);
        x = (uint64_t)x1 | (uint64_t)x2 << 32;
    } else if (n) {                          /* bytes 0, n/2, n-1 cover n = 1..3; the rest 'a' */
        o[0] = (char)s[0]; o[n >> 1] = (char)s[n >> 1]; o[n - 1] = (char)s[n - 1];
        x = (uint64_t)s[0] | (uint64_t)s[n >> 1] << 8 | (uint64_t)s[n - 1] << 16 | PT__B8(0x61) << 24;
    } else x = PT__B8(0x61);
    acc->w |= a | PT__ATTN(x);
    o[n] = '"';
    return o + n + 1;
}

/* Appends s[0..n) as a JSON string, quotes included. */
PT__PRIVATE void pt__json_str(pt__buf *b, const char *s, size_t n) {
    if (PT__BUF_RESERVE(b, n + 2)) return;       /* (nothing follows unchecked: no tail needed) */
    b->len = (size_t)(pt__json_kv_out(b, b->p + b->len, "", 0, s, n) - b->p);
}

/* Appends a literal (a string constant) to b. */
#define PT__LIT(b, lit) do { if (!PT__BUF_RESERVE((b), sizeof(lit) - 1)) { \
    memcpy((b)->p + (b)->len, (lit), sizeof(lit) - 1); (b)->len += sizeof(lit) - 1; } } while (0)

PT__PRIVATE void pt__json_i64(pt__buf *b, int64_t v) {
    if (PT__BUF_RESERVE(b, 21)) return;
    b->len += pt__i64_dec(b->p + b->len, v);
}

/* Writes exactly nd decimal digits of v (leading zeros included) at p. */
PT__INLINE void pt__dec_fixed(char *p, uint64_t v, int nd) {
    while (nd >= 2) {
        size_t k = (size_t)(v % 100) * 2;
        v /= 100; nd -= 2;
        p[nd] = pt__dig2[k]; p[nd + 1] = pt__dig2[k + 1];
    }
    if (nd) p[0] = (char)('0' + v);
}

/* Powers of ten up to 10^14, the fraction digits pt__dbl_g15 splits off. */
static const uint64_t pt__p10u[15] = {
    1u, 10u, 100u, 1000u, 10000u, 100000u, 1000000u, 10000000u, 100000000u, 1000000000u,
    10000000000ULL, 100000000000ULL, 1000000000000ULL, 10000000000000ULL, 100000000000000ULL
};
/* Exact powers of ten as doubles (10^22 is the last one a double holds). */
static const double pt__p10[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

/* printf("%.15g", d) without printf, for the doubles where that text is
   the one pt__json_double prints: d (finite, nonzero, normal) is the double
   nearest to some decimal D = v * 10^-k with at most 15 significant digits.
   Then %.15g prints D's digits (the 15-digit grid around d is at least 9
   times coarser than d's own spacing, so D is the nearest grid point), and
   strtod gives back d, so the round-trip check passes and %.17g is never
   tried. The proof that d is nearest to D is the test itself: v < 10^15 and
   10^|k| <= 10^22 are exact doubles, so (double)v / 10^k (or * 10^-k) is
   correctly rounded, and it equals d. Returns the length written to out
   (at most 22 bytes), or 0 when d is not such a double (printf decides). */
PT__PRIVATE size_t pt__dbl_g15(char *out, double d) {
    double a = d < 0 ? -d : d, m;
    uint64_t bits, v;
    int e2, x0, k, nd = 15, x;
    char *p = out;
    memcpy(&bits, &a, sizeof bits);
    e2 = (int)((bits >> 52) & 0x7ff) - 1023;
    if (e2 < -26 || e2 > 121) return 0;                 /* keeps |k| <= 22 */
    /* x0 = floor(e2 * log10(2)) <= floor(log10(a)) <= x0 + 1 */
    x0 = e2 >= 0 ? (e2 * 78913) >> 18 : -((-e2 * 78913 + 262143) >> 18);
    k = 14 - x0;                                        /* a * 10^k in [1e14, 2e15) */
    m = k >= 0 ? a * pt__p10[k] : a / pt__p10[-k];
    if (m >= 1e15) { k--; m = k >= 0 ? a * pt__p10[k] : a / pt__p10[-k]; }
    if (k > 22 || k < -22 || !(m < 1e15)) return 0;
    v = (uint64_t)(int64_t)(m + 0.5);
    if (v >= 1000000000000000ULL || v < 100000000000000ULL) return 0;
    if ((k >= 0 ? (double)(int64_t)v / pt__p10[k] : (double)(int64_t)v * pt__p10[-k]) != a) return 0;
    /* D = v * 10^-k, v has 15 digits; drop its trailing zeros (at most 14) */
    if (v % 100000000u == 0) { v /= 100000000u; nd -= 8; }
    if (v % 10000u == 0) { v /= 10000u; nd -= 4; }
    if (v % 100u == 0) { v /= 100u; nd -= 2; }
    if (v % 10u == 0) { v /= 10u; nd -= 1; }
    k -= 15 - nd;
    x = nd - 1 - k;                                     /* decimal exponent of the first digit */
    if (d < 0) *p++ = '-';
    if (x < -4 || x >= 15) {                            /* %g's exponent form: 1.5e-05, 1e+20 */
        int ax = x < 0 ? -x : x;
        pt__dec_fixed(p + 1, v, nd);
        p[0] = p[1];
        if (nd > 1) { p[1] = '.'; p += nd + 1; } else p++;
        *p++ = 'e'; *p++ = x < 0 ? '-' : '+';
        if (ax >= 100) { *p++ = (char)('0' + ax / 100); ax %= 100; }
        *p++ = pt__dig2[ax * 2]; *p++ = pt__dig2[ax * 2 + 1];
    } else if (k <= 0) {                                /* an integer: digits, then -k zeros */
        pt__dec_fixed(p, v, nd); p += nd;
        for (; k < 0; k++) *p++ = '0';
    } else if (k < nd) {                                /* 129.95: the integer part, '.', k digits */
        uint64_t ip = v / pt__p10u[k];
        p += pt__u64_dec(p, ip);
        *p++ = '.';
        pt__dec_fixed(p, v - ip * pt__p10u[k], k);
        p += k;
    } else {                                            /* 0.0042 */
        *p++ = '0'; *p++ = '.';
        for (; k > nd; k--) *p++ = '0';
        pt__dec_fixed(p, v, nd); p += nd;
    }
    return (size_t)(p - out);
}

/* The doubles pt__dbl_g15 cannot prove: %.15g if it round-trips, else %.17g. */
PT__PRIVATE PT__COLD void pt__json_double_printf(pt__buf *b, double d) {
    char tmp[40];
    int n = snprintf(tmp, sizeof tmp, "%.15g", d);
    if (n <= 0 || strtod(tmp, NULL) != d) n = snprintf(tmp, sizeof tmp, "%.17g", d);
    if (n <= 0 || n >= (int)sizeof tmp) { PT__LIT(b, "null"); return; }
    /* Some C libraries honour a locale decimal comma; JSON wants a dot. */
    { int k; for (k = 0; k < n; k++) if (tmp[k] == ',') tmp[k] = '.'; }
    pt__buf_put(b, tmp, (size_t)n);
}

/* The six fraction digits of fp (0..999999) at p without trailing zeros
   ("0" for 0); returns how many. */
PT__INLINE size_t pt__frac6(char *p, unsigned fp) {
    int len = 6;
    if (fp == 0) { *p = '0'; return 1; }
    if (fp % 10000u == 0) { fp /= 10000u; len = 2; }
    else if (fp % 100u == 0) { fp /= 100u; len = 4; }
    if (fp % 10u == 0) { fp /= 10u; len--; }
    pt__dec_fixed(p, fp, len);
    return (size_t)len;
}
/* Shortest-ish round-tripping double, written at out (room for 22 bytes:
   "-1.23456789012345e-100" is the longest). NaN/Inf -> null. Returns the
   length, or 0 when only printf can tell (the caller then uses
   pt__json_double_printf). */
PT__PRIVATE size_t pt__dbl_text(char *out, double d) {
    double m, a;
    int64_t iv6;
    uint64_t ip;
    unsigned fp;
    char *p = out;
    if (d != d || d > 1.7976931348623157e308 || d < -1.7976931348623157e308) { memcpy(out, "null", 4); return 4; }
    /* Values with at most 6 decimals whose scaled value is an exact integer
       print as a decimal with at least one fraction digit ("12.0", "0.5"):
       m / 1e6 is then the correctly rounded double of that decimal, so the
       text round-trips. */
    m = d * 1e6;
    if (m > -9007199254740992.0 && m < 9007199254740992.0 && m == (double)(int64_t)m && (double)(int64_t)m / 1e6 == d) {
        int64_t iv = (int64_t)m;
        uint64_t av = iv < 0 ? (uint64_t)0 - (uint64_t)iv : (uint64_t)iv;
        if (d == 0 && 1 / d < 0) { memcpy(out, "-0.0", 4); return 4; }
        if (iv < 0) *p++ = '-';
        ip = av / 1000000u;
        if (ip < 10) *p++ = (char)('0' + ip);
        else p += pt__u64_dec(p, ip);
        *p++ = '.';
        fp = (unsigned)(av - ip * 1000000u);
        return (size_t)(p + pt__frac6(p, fp) - out);
    }
    /* The same decimals where d * 1e6 was not exact (129.95): v / 1e6, v the
       nearest integer to |d| * 1e6, is a decimal of at most 15 significant
       digits (|d| >= 1e-4 keeps %g off its exponent form) and d is the double
       nearest to it (the division of two exact doubles is correctly rounded),
       so %.15g prints exactly its digits: see pt__dbl_g15. Not an integer
       (that was exact above), so it has 1 to 6 fraction digits. */
    a = d < 0 ? -d : d;
    m = a * 1e6;
    if (a >= 1e-4 && m < 1e15 && (double)(iv6 = (int64_t)(m + 0.5)) / 1e6 == a) {
        if (d < 0) *p++ = '-';
        ip = (uint64_t)iv6 / 1000000u;
        fp = (unsigned)((uint64_t)iv6 - ip * 1000000u);   /* 1..999999: not an integer */
        if (ip < 10) *p++ = (char)('0' + ip);
        else p += pt__u64_dec(p, ip);
        *p++ = '.';
        return (size_t)(p + pt__frac6(p, fp) - out);
    }
    return pt__dbl_g15(out, d);
}
PT__PRIVATE void pt__json_double(pt__buf *b, double d) {
    size_t n;
    if (PT__BUF_RESERVE(b, 40)) return;
    if ((n = pt__dbl_text(b->p + b->len, d)) != 0) { b->len += n; return; }
    pt__json_double_printf(b, d);
}

/* ---- validator: RFC 8259, no allocation, nesting limited ---------------- */
#define PT__JSON_MAX_DEPTH 64
typedef struct pt__jv { const unsigned char *s; size_t n, i; const char *why; } pt__jv;
PT__PRIVATE void pt__jv_ws(pt__jv *v) {
    while (v->i < v->n && (v->s[v->i] == ' ' || v->s[v->i] == '\t' || v->s[v->i] == '\n' || v->s[v->i] == '\r')) v->i++;
}
PT__PRIVATE int pt__jv_hex4(pt__jv *v, unsigned *out) {
    unsigned x = 0;
    int k;
    if (v->n - v->i < 4) return 0;
    for (k = 0; k < 4; k++) {
        unsigned c = v->s[v->i + (size_t)k];
        x <<= 4;
        if (c >= '0' && c <= '9') x |= c - '0';
        else if (c >= 'a' && c <= 'f') x |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') x |= c - 'A' + 10;
        else return 0;
    }
    v->i += 4; *out = x;
    return 1;
}
PT__PRIVATE PT__COLD int pt__jv_string(pt__jv *v) {
    v->i++; /* opening quote */
    while (v->i < v->n) {
        unsigned c = v->s[v->i];
        if (c == '"') { v->i++; return 1; }
        if (c < 0x20) { v->why = "control character in string"; return 0; }
        if (c == '\\') {
            unsigned e;
            if (++v->i >= v->n) break;
            e = v->s[v->i++];
            if (e == 'u') {
                unsigned u, u2;
                if (!pt__jv_hex4(v, &u)) { v->why = "bad \\u escape"; return 0; }
                if (u >= 0xDC00 && u <= 0xDFFF) { v->why = "lone surrogate escape"; return 0; }
                if (u >= 0xD800 && u <= 0xDBFF) {
                    if (v->n - v->i < 6 || v->s[v->i] != '\\' || v->s[v->i + 1] != 'u') { v->why = "lone surrogate escape"; return 0; }
                    v->i += 2;
                    if (!pt__jv_hex4(v, &u2) || u2 < 0xDC00 || u2 > 0xDFFF) { v->why = "lone surrogate escape"; return 0; }
                }
            } else if (!(e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't')) {
                v->why = "bad escape"; return 0;
            }
        } else if (c >= 0x80) {
            size_t bad = 0, L = pt__utf8_seq(v->s + v->i, v->n - v->i, &bad);
            if (!L) { v->why = "invalid UTF-8"; return 0; }
            v->i += L;
        } else v->i++;
    }
    v->why = "unterminated string";
    return 0;
}
PT__PRIVATE PT__COLD int pt__jv_number(pt__jv *v) {
    size_t st;
    if (v->s[v->i] == '-') v->i++;
    if (v->i >= v->n) { v->why = "bad number"; return 0; }
    if (v->s[v->i] == '0') v->i++;
    else if (v->s[v->i] >= '1' && v->s[v->i] <= '9') { while (v->i < v->n && v->s[v->i] >= '0' && v->s[v->i] <= '9') v->i++; }
    else { v->why = "bad number"; return 0; }
    if (v->i < v->n && v->s[v->i] == '.') {
        st = ++v->i;
        while (v->i < v->n && v->s[v->i] >= '0' && v->s[v->i] <= '9') v->i++;
        if (v->i == st) { v->why = "bad number"; return 0; }
    }
    if (v->i < v->n && (v->s[v->i] == 'e' || v->s[v->i] == 'E')) {
        v->i++;
        if (v->i < v->n && (v->s[v->i] == '+' || v->s[v->i] == '-')) v->i++;
        st = v->i;
        while (v->i < v->n && v->s[v->i] >= '0' && v->s[v->i] <= '9') v->i++;
        if (v->i == st) { v->why = "bad number"; return 0; }
    }
    return 1;
}
PT__PRIVATE int pt__jv_lit(pt__jv *v, const char *lit, size_t n) {
    if (v->n - v->i < n || memcmp(v->s + v->i, lit, n) != 0) { v->why = "bad literal"; return 0; }
    v->i += n;
    return 1;
}
PT__PRIVATE PT__COLD int pt__jv_value(pt__jv *v, int depth) {
    unsigned c;
    pt__jv_ws(v);
    if (v->i >= v->n) { v->why = "unexpected end"; return 0; }
    c = v->s[v->i];
    if (c == '{' || c == '[') {
        unsigned close = c == '{' ? '}' : ']';
        if (depth >= PT__JSON_MAX_DEPTH) { v->why = "nesting too deep"; return 0; }
        v->i++;
        pt__jv_ws(v);
        if (v->i < v->n && v->s[v->i] == close) { v->i++; return 1; }
        for (;;) {
            if (c == '{') {
                pt__jv_ws(v);
                if (v->i >= v->n || v->s[v->i] != '"') { v->why = "expected a key"; return 0; }
                if (!pt__jv_string(v)) return 0;
                pt__jv_ws(v);
                if (v->i >= v->n || v->s[v->i] != ':') { v->why = "expected ':'"; return 0; }
                v->i++;
            }
            if (!pt__jv_value(v, depth + 1)) return 0;
            pt__jv_ws(v);
            if (v->i >= v->n) { v->why = "unbalanced brackets"; return 0; }
            if (v->s[v->i] == ',') { v->i++; continue; }
            if (v->s[v->i] == close) { v->i++; return 1; }
            v->why = "expected ',' or a closing bracket";
            return 0;
        }
    }
    if (c == '"') return pt__jv_string(v);
    if (c == '-' || (c >= '0' && c <= '9')) return pt__jv_number(v);
    if (c == 't') return pt__jv_lit(v, "true", 4);
    if (c == 'f') return pt__jv_lit(v, "false", 5);
    if (c == 'n') return pt__jv_lit(v, "null", 4);
    v->why = "unexpected character";
    return 0;
}
/* Checks that s[0..n) is exactly one JSON value (an object when want_object).
   Returns 1 if valid; else 0 with *why and *at set. */
PT__PRIVATE PT__COLD int pt__json_validate(const char *s, size_t n, int want_object, const char **why, size_t *at) {
    pt__jv v;
    v.s = (const unsigned char *)s; v.n = n; v.i = 0; v.why = NULL;
    pt__jv_ws(&v);
    if (want_object && (v.i >= n || s[v.i] != '{')) { v.why = "not a JSON object"; goto bad; }
    if (!pt__jv_value(&v, 0)) goto bad;
    pt__jv_ws(&v);
    if (v.i != n) { v.why = "trailing characters"; goto bad; }
    return 1;
bad:
    if (why) *why = v.why ? v.why : "invalid";
    if (at) *at = v.i;
    return 0;
}

/* ==== [pt:event] ========================================================= */
PT__PRIVATE const char *pt__severity_name(pt_severity s) {
    switch (s) {
    case PT_SEVERITY_DEBUG: return "debug";
    case PT_SEVERITY_INFO: return "info";
    case PT_SEVERITY_WARN: return "warn";
    case PT_SEVERITY_ERROR: return "error";
    default: return NULL;
    }
}
PT__PRIVATE int pt__empty(const char *s) { return !s || !*s; }

PT__PRIVATE void pt__json_minify(pt__buf *b, const char *s, size_t n);

/* Key + field list; `which` names the list in messages ("metadata"/"extra").
   Rejects NULL/empty and duplicate keys. `skip_host` drops the keys a
   host-context block would add when the caller already supplies them. */
PT__PRIVATE PT__COLD pt_result pt__fields_check(const char *which, const pt_field *f, size_t n, pt_error *err) {
    size_t i, j;
    for (i = 0; i < n; i++) {
        if (f[i].type == PT_FIELD_UNSET) continue;
        if (pt__empty(f[i].key)) return pt__err(err, PT_ERR_INVALID_ARG, "%s[%lu] has no key", which, (unsigned long)i);
        if ((int)f[i].type < (int)PT_FIELD_STRING || (int)f[i].type > (int)PT_FIELD_RAW)
            return pt__err(err, PT_ERR_INVALID_ARG, "%s \"%.40s\": unknown field type %d", which, f[i].key, (int)f[i].type);
        for (j = i + 1; j < n; j++)
            if (f[j].type != PT_FIELD_UNSET && f[j].key && strcmp(f[i].key, f[j].key) == 0)
                return pt__err(err, PT_ERR_INVALID_ARG, "duplicate %s key \"%.40s\"", which, f[i].key);
    }
    return PT_OK;
}
/* The most a value of each type writes after its key, ':' included
   (a string adds its length): quotes; "-9223372036854775808"; the longest
   text of pt__dbl_text; ":false"; ":null"; ':' before a raw value. */
static const unsigned char pt__field_room[7] = { 0, 3, 21, 23, 6, 5, 1 };
/* Writes the fields as `{"k":v,...` (no closing brace; *first stays 1 if
   none was written), optimistically (careful = 0: strings as is, folded
   into *acc; the keys checked on the way) or carefully (careful = 1, after
   an optimistic pass: escaped). The optimistic pass proves the common case
   has no bad or duplicate key without comparing strings: each key sets one
   of 64 bits picked from its length and end bytes, and only a bad key or
   type, or two keys picking the same bit, runs pt__fields_check (whose
   errors come first, as they did when it ran before any writing). */
PT__INLINE pt_result pt__fields_put(pt__buf *b, const char *which, const pt_field *f, size_t n,
                                    int careful, pt__jacc *acc, int *first, pt_error *err) {
    size_t i;
    uint64_t seen = 0, bit;
    int checked = careful, fst = *first;
    pt_result r;
    char *o = b->p + b->len;
    for (i = 0; i < n; i++) {
        const pt_field *x = &f[i];
        const char *k = x->key;
        size_t kl, vl = 0, need;
        if (x->type == PT_FIELD_UNSET) continue;
        if (!checked && (!k || (unsigned)x->type - 1u > (unsigned)PT_FIELD_RAW - 1u)) {
            b->len = (size_t)(o - b->p);
            return pt__fields_check(which, f, n, err);    /* reports this or an earlier problem */
        }
        kl = strlen(k);
        if (!checked) {
            if (!kl) {                                    /* an empty key */
                b->len = (size_t)(o - b->p);
                return pt__fields_check(which, f, n, err);
            }
            bit = (uint64_t)1 << ((kl + (unsigned char)k[0] * 3u + (unsigned char)k[kl - 1] * 5u) & 63);
            if (seen & bit) {
                b->len = (size_t)(o - b->p);
                if ((r = pt__fields_check(which, f, n, err)) != PT_OK) return r;
                checked = 1;
            }
            seen |= bit;
        }
        if (x->type == PT_FIELD_STRING) vl = x->str ? (x->len ? x->len : strlen(x->str)) : 2;   /* 2: ":null" */
        need = vl + pt__field_room[x->type];
        /* out of memory: skip the field (the caller reports b->oom) */
        if (!PT__JSON_ROOM(b, o, kl + 3 + need)) { o = b->p + b->len; continue; }
        *o = fst ? '{' : ',';
        fst = 0;
        if (careful) {
            o = pt__json_kv_out(b, o + 1, "", 0, k, kl);
            if (!PT__JSON_ROOM(b, o, need)) { o = b->p + b->len; continue; }
        } else o = pt__json_raw(o + 1, k, kl, acc, PT__SSE2);
        switch (x->type) {
        case PT_FIELD_STRING:
            if (!x->str) { memcpy(o, ":null", 5); o += 5; }
            else if (careful) o = pt__json_kv_out(b, o, ":", 1, x->str, vl);
            else { *o = ':'; o = pt__json_raw(o + 1, x->str, vl, acc, PT__SSE2); }
            break;
        case PT_FIELD_INT:
            *o = ':';
            o += 1 + pt__i64_dec(o + 1, x->i);
            break;
        case PT_FIELD_DOUBLE:
            *o = ':';
            if ((vl = pt__dbl_text(o + 1, x->d)) != 0) { o += 1 + vl; break; }
            b->len = (size_t)(o + 1 - b->p);
            pt__json_double_printf(b, x->d);
            o = b->p + b->len;
            break;
        case PT_FIELD_BOOL: if (x->b) { memcpy(o, ":true", 5); o += 5; } else { memcpy(o, ":false", 6); o += 6; } break;
        case PT_FIELD_NULL: memcpy(o, ":null", 5); o += 5; break;
        case PT_FIELD_RAW: {
#if PT__RAW_JSON
            const char *why = NULL;
            size_t at = 0, len;
            *o++ = ':';
            b->len = (size_t)(o - b->p);
            if (!x->str || !pt__json_validate(x->str, len = x->len ? x->len : strlen(x->str), 0, &why, &at)) {
                if (!checked && (r = pt__fields_check(which, f, n, err)) != PT_OK) return r;
                if (!x->str) return pt__err(err, PT_ERR_INVALID_JSON, "%s \"%.40s\": raw JSON is NULL", which, k);
                return pt__err(err, PT_ERR_INVALID_JSON, "%s \"%.40s\": invalid raw JSON at byte %lu: %s", which, k, (unsigned long)at, why);
            }
            pt__json_minify(b, x->str, len);   /* no raw newline may reach the queue or the spool */
            o = b->p + b->len;
            break;
#else   /* PACKTRACK_NO_RAW_JSON: no validator to check it with */
            b->len = (size_t)(o - b->p);
            if (!checked && (r = pt__fields_check(which, f, n, err)) != PT_OK) return r;
            return pt__err(err, PT_ERR_UNSUPPORTED, "%s \"%.40s\": raw JSON fields (pt_field_raw) are not in this build (PACKTRACK_NO_RAW_JSON)", which, k);
#endif
        }
        default: break;
        }
    }
    b->len = (size_t)(o - b->p);
    *first = fst;
    return PT_OK;
}
PT__PRIVATE pt_result pt__fields_json(pt__buf *b, const char *which, const pt_field *f, size_t n,
                                      const char *host_ctx, size_t host_ctx_len, pt_error *err) {
    size_t i, start = b->len;
    pt__jacc acc;
    int first = 1, user_host = 0, user_sdk = 0;
    pt_result r;
    if (n && !f) return pt__err(err, PT_ERR_INVALID_ARG, "%s_count is %lu but %s is NULL", which, (unsigned long)n, which);
    if (PT__BUF_RESERVE(b, 1)) return PT_OK;      /* the caller reports b->oom */
    pt__jacc_init(&acc);
#if PT__JSON_FAST
    if ((r = pt__fields_put(b, which, f, n, 0, &acc, &first, err)) != PT_OK) return r;
    if (pt__jacc_any(&acc)) {                     /* a string needs escaping: again, carefully */
        b->len = start; first = 1;
        if ((r = pt__fields_put(b, which, f, n, 1, &acc, &first, err)) != PT_OK) return r;
    }
#else   /* the careful pass alone, once the fields are checked (it trusts them) */
    (void)start;
    if ((r = pt__fields_check(which, f, n, err)) != PT_OK) return r;
    if ((r = pt__fields_put(b, which, f, n, 1, &acc, &first, err)) != PT_OK) return r;
#endif
    if (host_ctx && host_ctx_len) {
        /* host_ctx is `"host":{...},"sdk":{...}`; split at the comma between them.
           (The keys are checked by now.) */
        const char *sdk = strstr(host_ctx, ",\"sdk\":");
        size_t hlen = sdk ? (size_t)(sdk - host_ctx) : host_ctx_len;
        for (i = 0; i < n; i++) {
            if (f[i].type == PT_FIELD_UNSET) continue;
            if (strcmp(f[i].key, "host") == 0) user_host = 1;
            if (strcmp(f[i].key, "sdk") == 0) user_sdk = 1;
        }
        if (!user_host) { pt__buf_putc(b, first ? '{' : ','); first = 0; pt__buf_put(b, host_ctx, hlen); }
        if (sdk && !user_sdk) { pt__buf_putc(b, first ? '{' : ','); first = 0; pt__buf_put(b, sdk + 1, host_ctx_len - hlen - 1); }
    }
    if (!first) PT__LIT(b, "}");
    return PT_OK;
}

#define PT__REQ(field, name) \
    if (!ev->field || !*ev->field) return pt__err(err, PT_ERR_MISSING_FIELD, "required field %s is missing or empty", name)
/* The lengths of the event's string fields, taken once (0 if absent). */
typedef struct pt__evlen { size_t sys, env, wf, name, run, step, at, ai, disp, st, msg; } pt__evlen;
/* The event's fixed text up to the message, the optional keys left out
   (with "error", the longest severity); each string adds its 2 quotes. */
#define PT__EV_HEAD_FIXED (PT__LEN("{\"timestamp\":\"") + 24 + PT__LEN("\",\"source\":{\"system\":") + \
    PT__LEN("},\"workflow\":{\"id\":") + PT__LEN("},\"actor\":{\"type\":") + PT__LEN(",\"id\":") + \
    PT__LEN("},\"severity\":\"error\"") + PT__LEN(",\"status\":") + PT__LEN(",\"message\":") + 6 * 2)
#define PT__LEN(lit) (sizeof(lit) - 1)

/* Writes the event from the timestamp to the message at o, optimistically
   (room for the plain text counted by the caller) or carefully (checking
   room before each string; out of memory it stops short, b->oom set). See
   pt__fields_put. */
PT__INLINE char *pt__event_head(pt__buf *b, char *o, const pt_event *ev, const pt__evlen *L, const char *ts,
                                int careful, pt__jacc *acc) {
#define PT__HEAD_KV(lit, s, n) do { \
        if (!careful) { memcpy(o, lit, PT__LEN(lit)); o = pt__json_raw(o + PT__LEN(lit), (s), (n), acc, PT__SSE2); } \
        else if (PT__JSON_ROOM(b, o, PT__LEN(lit) + (n) + 2)) o = pt__json_kv_out(b, o, lit, PT__LEN(lit), (s), (n)); \
        else return b->p + b->len; } while (0)
#define PT__HEAD_LIT(lit) do { \
        if (careful && !PT__JSON_ROOM(b, o, PT__LEN(lit))) return b->p + b->len; \
        memcpy(o, lit, PT__LEN(lit)); o += PT__LEN(lit); } while (0)
    memcpy(o, "{\"timestamp\":\"", PT__LEN("{\"timestamp\":\""));    /* (the caller made room for this much) */
    memcpy(o + PT__LEN("{\"timestamp\":\""), ts, 24);
    o += PT__LEN("{\"timestamp\":\"") + 24;
    PT__HEAD_KV("\",\"source\":{\"system\":", ev->source_system, L->sys);
    if (ev->source_env) PT__HEAD_KV(",\"env\":", ev->source_env, L->env);
    PT__HEAD_KV("},\"workflow\":{\"id\":", ev->workflow_id, L->wf);
    if (ev->workflow_name) PT__HEAD_KV(",\"name\":", ev->workflow_name, L->name);
    if (ev->run_id) PT__HEAD_KV(",\"run_id\":", ev->run_id, L->run);
    if (ev->step_id) PT__HEAD_KV(",\"step_id\":", ev->step_id, L->step);
    PT__HEAD_KV("},\"actor\":{\"type\":", ev->actor_type, L->at);
    PT__HEAD_KV(",\"id\":", ev->actor_id, L->ai);
    if (ev->actor_display_name) PT__HEAD_KV(",\"display_name\":", ev->actor_display_name, L->disp);
    switch (ev->severity) {
    case PT_SEVERITY_DEBUG: PT__HEAD_LIT("},\"severity\":\"debug\""); break;
    case PT_SEVERITY_INFO: PT__HEAD_LIT("},\"severity\":\"info\""); break;
    case PT_SEVERITY_WARN: PT__HEAD_LIT("},\"severity\":\"warn\""); break;
    default: PT__HEAD_LIT("},\"severity\":\"error\""); break;
    }
    PT__HEAD_KV(",\"status\":", ev->status, L->st);
    PT__HEAD_KV(",\"message\":", ev->message, L->msg);
    return o;
#undef PT__HEAD_KV
#undef PT__HEAD_LIT
}

/* Serialises one event into b, its keys in the fixed wire order. */
PT__PRIVATE pt_result pt__event_json(const pt_event *ev, const char *host_ctx, size_t host_ctx_len, pt__buf *b, pt_error *err) {
    pt_result r;
    pt__evlen L;
    char ts[24], *o;
    pt__jacc acc;
    int has_meta = 0, has_extra = 0;
    size_t i, start, klen, head;
    if (!ev) return pt__err(err, PT_ERR_INVALID_ARG, "event is NULL");
    PT__REQ(source_system, "source.system");
    PT__REQ(workflow_id, "workflow.id");
    PT__REQ(actor_type, "actor.type");
    PT__REQ(actor_id, "actor.id");
    if (ev->severity == PT_SEVERITY_UNSET) return pt__err(err, PT_ERR_MISSING_FIELD, "required field severity is missing");
    if (!pt__severity_name(ev->severity)) return pt__err(err, PT_ERR_INVALID_ARG, "severity %d is not one of debug, info, warn, error", (int)ev->severity);
    PT__REQ(status, "status");
    PT__REQ(message, "message");
    for (i = 0; i < ev->metadata_count && ev->metadata; i++) if (ev->metadata[i].type != PT_FIELD_UNSET) { has_meta = 1; break; }
    for (i = 0; i < ev->extra_count && ev->extra; i++) if (ev->extra[i].type != PT_FIELD_UNSET) { has_extra = 1; break; }
    if (ev->metadata_count && !ev->metadata) has_meta = 1;   /* reported below */
    if (ev->extra_count && !ev->extra) has_extra = 1;

    L.sys = strlen(ev->source_system); L.wf = strlen(ev->workflow_id);
    L.at = strlen(ev->actor_type); L.ai = strlen(ev->actor_id);
    L.st = strlen(ev->status); L.msg = strlen(ev->message);
    /* the text up to the message, exactly (an absent field's key included
       only when it is there: a 1,500-byte event must still fit pt_track's
       stack buffer); each optional field's length taken where it is tested */
    head = PT__EV_HEAD_FIXED + L.sys + L.wf + L.at + L.ai + L.st + L.msg;
    L.env = L.name = L.run = L.step = L.disp = 0;
    if (ev->source_env) head += (L.env = strlen(ev->source_env)) + PT__LEN(",\"env\":") + 2;
    if (ev->workflow_name) head += (L.name = strlen(ev->workflow_name)) + PT__LEN(",\"name\":") + 2;
    if (ev->run_id) head += (L.run = strlen(ev->run_id)) + PT__LEN(",\"run_id\":") + 2;
    if (ev->step_id) head += (L.step = strlen(ev->step_id)) + PT__LEN(",\"step_id\":") + 2;
    if (ev->actor_display_name) head += (L.disp = strlen(ev->actor_display_name)) + PT__LEN(",\"display_name\":") + 2;
    if (PT__BUF_RESERVE(b, head))
        return pt__err(err, PT_ERR_NO_MEMORY, "out of memory while serialising the event");
    pt__rfc3339(ts, ev->timestamp_ms ? ev->timestamp_ms : pt__wall_ms());
    start = b->len;
    pt__jacc_init(&acc);
#if PT__JSON_FAST
    o = pt__event_head(b, b->p + start, ev, &L, ts, 0, &acc);
    if (pt__jacc_any(&acc)) o = pt__event_head(b, b->p + start, ev, &L, ts, 1, &acc);
#else
    o = pt__event_head(b, b->p + start, ev, &L, ts, 1, &acc);
#endif
    b->len = (size_t)(o - b->p);
    if (has_meta) {
        PT__LIT(b, ",\"metadata\":");
        if ((r = pt__fields_json(b, "metadata", ev->metadata, ev->metadata_count, NULL, 0, err)) != PT_OK) return r;
    }
    if (has_extra || host_ctx_len) {
        PT__LIT(b, ",\"extra\":");
        if ((r = pt__fields_json(b, "extra", ev->extra, ev->extra_count, host_ctx, host_ctx_len, err)) != PT_OK) return r;
    }
    klen = ev->idempotency_key && *ev->idempotency_key ? strlen(ev->idempotency_key) : 36;
    if (!PT__BUF_RESERVE(b, PT__LEN(",\"idempotency_key\":") + 3 + klen)) {
        o = b->p + b->len;
        if (ev->idempotency_key && *ev->idempotency_key) {
            start = b->len;
#if PT__JSON_FAST
            pt__jacc_init(&acc);
            memcpy(o, ",\"idempotency_key\":", PT__LEN(",\"idempotency_key\":"));
            o = pt__json_raw(o + PT__LEN(",\"idempotency_key\":"), ev->idempotency_key, klen, &acc, PT__SSE2);
            if (pt__jacc_any(&acc))
#endif
            {
                o = pt__json_kv_out(b, b->p + start, ",\"idempotency_key\":", PT__LEN(",\"idempotency_key\":"), ev->idempotency_key, klen);
                if (!PT__JSON_ROOM(b, o, 1)) return pt__err(err, PT_ERR_NO_MEMORY, "out of memory while serialising the event");
            }
            *o++ = '}';
        } else {
            /* pt_event_to_json may run before any client exists: seed first, or
               every fresh process would produce the same key sequence. */
            pt__uuid_seed_init();
            memcpy(o, ",\"idempotency_key\":\"", 20);
            pt__uuid4(o + 20);
            memcpy(o + 56, "\"}", 2);
            o += 58;
        }
        b->len = (size_t)(o - b->p);
    }
    if (b->oom) return pt__err(err, PT_ERR_NO_MEMORY, "out of memory while serialising the event");
    return PT_OK;
}

/* Copies a validated JSON text without insignificant whitespace (so queued
   and spooled events never contain a raw newline). */
PT__PRIVATE void pt__json_minify(pt__buf *b, const char *s, size_t n) {
    size_t i = 0, st;
    while (i < n) {
        char ch = s[i];
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') { i++; continue; }
        if (ch != '"') {
            st = i;
            while (i < n && s[i] != '"' && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') i++;
            pt__buf_put(b, s + st, i - st);
            continue;
        }
        st = i++;
        while (i < n && s[i] != '"') { if (s[i] == '\\') i++; i++; }
        i++;
        pt__buf_put(b, s + st, PT__MIN(i, n) - st);
    }
}

/* ==== [pt:url] =========================================================== */
typedef struct pt__url {
    int  https;
    char host[256];        /* without brackets */
    int  port;
    int  ipv6;
    char prefix[512];      /* path prefix without trailing slash, "" or "/x/y" */
} pt__url;

/* Parses "http[s]://host[:port][/prefix][/]". Query, fragment and userinfo
   are refused: they have no place in a base URL. */
PT__PRIVATE PT__COLD pt_result pt__url_parse(const char *u, pt__url *out, pt_error *err) {
    const char *p, *hs, *he, *ps;
    size_t n;
    memset(out, 0, sizeof *out);
    if (pt__empty(u)) return pt__err(err, PT_ERR_CONFIG, "base_url is empty");
    for (p = u; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return pt__err(err, PT_ERR_CONFIG, "base_url contains a space or non-ASCII character at byte %lu", (unsigned long)(p - u));
    if (pt__strncaseeq(u, "http://", 7)) { p = u + 7; out->https = 0; out->port = 80; }
    else if (pt__strncaseeq(u, "https://", 8)) { p = u + 8; out->https = 1; out->port = 443; }
    else return pt__err(err, PT_ERR_CONFIG, "base_url must start with http:// or https:// (got \"%.60s\")", u);
    hs = p;
    while (*p && *p != '/' && *p != '?' && *p != '#') p++;
    he = p;
    {
        const char *q;
        for (q = hs; q < he; q++) if (*q == '@') return pt__err(err, PT_ERR_CONFIG, "base_url must not carry user:password@; the key goes in api_key");
    }
    if (hs == he) return pt__err(err, PT_ERR_CONFIG, "base_url has no host");
    ps = NULL;
    if (*hs == '[') {
        const char *rb = hs + 1, *q;
        while (rb < he && *rb != ']') rb++;
        if (rb >= he) return pt__err(err, PT_ERR_CONFIG, "base_url: IPv6 literal is missing ']'");
        n = (size_t)(rb - hs - 1);
        if (n == 0 || n >= sizeof out->host) return pt__err(err, PT_ERR_CONFIG, "base_url: bad IPv6 literal");
        for (q = hs + 1; q < rb; q++)
            if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') || (*q >= 'A' && *q <= 'F') || *q == ':' || *q == '.'))
                return pt__err(err, PT_ERR_CONFIG, "base_url: bad character in IPv6 literal");
        memcpy(out->host, hs + 1, n);
        out->ipv6 = 1;
        if (rb + 1 < he) {
            if (rb[1] != ':') return pt__err(err, PT_ERR_CONFIG, "base_url: unexpected text after IPv6 literal");
            ps = rb + 2;
        }
    } else {
        const char *q, *colon = NULL;
        for (q = hs; q < he; q++) {
            if (*q == ':') { if (colon) return pt__err(err, PT_ERR_CONFIG, "base_url: IPv6 addresses must be in [brackets]"); colon = q; }
            else if (!colon && !((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || *q == '-' || *q == '.' || *q == '_'))
                return pt__err(err, PT_ERR_CONFIG, "base_url: bad character '%c' in host", *q);
        }
        n = (size_t)((colon ? colon : he) - hs);
        if (n == 0) return pt__err(err, PT_ERR_CONFIG, "base_url has no host");
        if (n >= sizeof out->host) return pt__err(err, PT_ERR_CONFIG, "base_url: host name too long");
        memcpy(out->host, hs, n);
        if (colon) ps = colon + 1;
    }
    if (ps) {
        long port = 0;
        const char *q;
        if (ps >= he) return pt__err(err, PT_ERR_CONFIG, "base_url: empty port after ':'");
        for (q = ps; q < he; q++) {
            if (*q < '0' || *q > '9') return pt__err(err, PT_ERR_CONFIG, "base_url: port is not a number");
            port = port * 10 + (*q - '0');
            if (port > 65535) break;
        }
        if (port < 1 || port > 65535) return pt__err(err, PT_ERR_CONFIG, "base_url: port must be 1..65535");
        out->port = (int)port;
    }
    if (*p == '?' || *p == '#') return pt__err(err, PT_ERR_CONFIG, "base_url must not have a query or fragment");
    ps = p;
    while (*p && *p != '?' && *p != '#') p++;
    if (*p) return pt__err(err, PT_ERR_CONFIG, "base_url must not have a query or fragment");
    n = (size_t)(p - ps);
    while (n && ps[n - 1] == '/') n--;
    if (n >= sizeof out->prefix) return pt__err(err, PT_ERR_CONFIG, "base_url: path prefix too long");
    memcpy(out->prefix, ps, n);
    return PT_OK;
}
/* "host[:port]" for the Host header / URL, brackets for IPv6; default port omitted. */
PT__PRIVATE void pt__url_authority(const pt__url *u, char *out, size_t cap) {
    int def = (u->https && u->port == 443) || (!u->https && u->port == 80);
    if (def) pt__fmt(out, cap, u->ipv6 ? "[%s]" : "%s", u->host);
    else pt__fmt(out, cap, u->ipv6 ? "[%s]:%d" : "%s:%d", u->host, u->port);
}

/* ==== [pt:retry] ========================================================= */
/* Retry-After: delta-seconds or an HTTP-date (IMF-fixdate, RFC 850, asctime).
   Returns milliseconds to wait (>= 0), or -1 if absent/unparseable. */
PT__PRIVATE int pt__month(const char *s) {
    static const char m[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int i;
    for (i = 0; i < 12; i++) if (pt__strncaseeq(s, m + 3 * i, 3)) return i + 1;
    return 0;
}
PT__PRIVATE PT__COLD int64_t pt__parse_retry_after(const char *v, int64_t now_wall_ms) {
    const char *p = v;
    int64_t secs = 0;
    int day = 0, mon = 0, hh = 0, mm = 0, ss = 0, k;
    int64_t year = 0, t;
    if (!v) return -1;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) return -1;
    if (*p >= '0' && *p <= '9') {
        while (*p >= '0' && *p <= '9') { if (secs < 100000000) secs = secs * 10 + (*p - '0'); p++; }
        if (*p == '.') { p++; while (*p >= '0' && *p <= '9') p++; }   /* lenient: "1.5" -> 1 s */
        while (*p == ' ' || *p == '\t') p++;
        if (*p) return -1;
        return secs * 1000;
    }
    /* skip the weekday name up to the first space */
    while (*p && *p != ' ') p++;
    while (*p == ' ') p++;
    if (*p >= '0' && *p <= '9') {
        /* "06 Nov 1994 08:49:37 GMT" or "06-Nov-94 08:49:37 GMT" */
        for (k = 0; k < 2 && *p >= '0' && *p <= '9'; k++) day = day * 10 + (*p++ - '0');
        if (*p != ' ' && *p != '-') return -1;
        p++;
        if (!(mon = pt__month(p))) return -1;
        p += 3;
        if (*p != ' ' && *p != '-') return -1;
        p++;
        for (k = 0; k < 4 && *p >= '0' && *p <= '9'; k++) year = year * 10 + (*p++ - '0');
        if (k == 2) year += year < 70 ? 2000 : 1900;
        else if (k != 4) return -1;
        while (*p == ' ') p++;
    } else {
        /* asctime: "Nov  6 08:49:37 1994" */
        if (!(mon = pt__month(p))) return -1;
        p += 3;
        while (*p == ' ') p++;
        for (k = 0; k < 2 && *p >= '0' && *p <= '9'; k++) day = day * 10 + (*p++ - '0');
        while (*p == ' ') p++;
    }
    /* "hh:mm:ss", checked left to right so nothing past a NUL is read */
    for (k = 0; k < 8; k++)
        if (k == 2 || k == 5 ? p[k] != ':' : !(p[k] >= '0' && p[k] <= '9')) return -1;
    hh = (p[0] - '0') * 10 + (p[1] - '0');
    mm = (p[3] - '0') * 10 + (p[4] - '0');
    ss = (p[6] - '0') * 10 + (p[7] - '0');
    p += 8;
    if (year == 0) {
        while (*p == ' ') p++;
        for (k = 0; k < 4 && *p >= '0' && *p <= '9'; k++) year = year * 10 + (*p++ - '0');
        if (k != 4) return -1;
    }
    if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) return -1;
    t = (pt__days_from_civil(year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss) * 1000;
    return t > now_wall_ms ? t - now_wall_ms : 0;
}

/* Status codes worth another try. */
PT__PRIVATE int pt__status_retryable(int st) { return st == 408 || st == 429 || (st >= 500 && st <= 599); }

/* Full-jitter exponential backoff for attempt n (1-based). */
PT__PRIVATE int64_t pt__backoff_ms(int base, int cap, int attempt, int jitter, uint64_t *rng) {
    int64_t d = base;
    int i;
    for (i = 1; i < attempt && d < cap; i++) d *= 2;
    if (d > cap) d = cap;
    if (jitter && d > 0) d = (int64_t)(pt__rand_next(rng) % (uint64_t)(d + 1));
    return d;
}

/* ==== [pt:transport] ===================================================== */
/* One interface for every way a request goes out: the built-in client,
   libcurl, WinHTTP, the synchronous user hook (cfg.http) and the
   asynchronous one (cfg.http_async). The pipeline drives a request in
   small steps instead of calling one blocking function, so pt_pump keeps
   its budget; the flush thread and the sync calls drive the same steps with
   a far `until` and may block inside them.

   A pt__xfer is one request in progress. The caller (pipeline, or
   pt__xfer_run for pt_ingest/pt_health) fills req (its bytes stay owned by
   the caller and unchanged until the xfer is done or cancelled), picks the
   transport and its ctx, then:
     st = tp->start(x)              PT__XF_DONE or PT__XF_PENDING
     while pending: st = tp->step(x, until_ms)
     if it must stop early:  tp->cancel(x)
   Once DONE, x->result is the transport result (as from a pt_http_fn) and
   x->resp the response; the transport has released everything it held for
   the request (a keep-alive connection stays in its ctx for the next).
   Rules for a transport:
   - step never blocks past until_ms (monotonic ms, pt__mono_ms). It may
     return PENDING earlier when waiting cannot help (the async hook waits
     for the host): then x->wake_ms says when to step again at the latest,
     and a completion wakes the worker (pt__core.cv_work).
   - start/step/cancel run without the client lock, on the worker's thread.
   - The request's own deadlines (connect_timeout_ms, timeout_ms from
     start) and req.cancelled (the close deadline) end the transfer with
     PT_ERR_TIMEOUT / PT_ERR_CANCELLED, whatever until_ms is.
   - cancel abandons a pending transfer (drops a half-used connection, tells
     the async host); it is a no-op on a done or never-started xfer.
   - A synchronous transport (cfg.http, a blocking backend) does the whole
     request inside start and uses pt__sync_step as its step; it then
     blocks a pump for that long, and a manual-mode pt_flush cuts it off at
     the flush deadline through req.cancelled instead (pt__req_cancelled_pipe). */
typedef struct pt__xfer pt__xfer;
enum { PT__XF_PENDING = 0, PT__XF_DONE = 1 };
typedef struct pt__transport {
    const char *name;
    int  (*start)(pt__xfer *x);
    int  (*step)(pt__xfer *x, int64_t until_ms);
    void (*cancel)(pt__xfer *x);
} pt__transport;

/* ==== [pt:http] ========================================================== */
/* Built-in HTTP/1.1 client over plain sockets: keep-alive, Content-Length,
   chunked and read-until-close bodies, connect/I-O timeouts, deadline
   cut-off. It implements the same pt_http_fn interface as a user hook. */
#define PT__RBUF_SIZE 16384               /* also the response head limit */
#define PT__BODY_DRAIN_MAX (64 * 1024)    /* read at most this much body; then drop the connection */

typedef struct pt__conn {
    pt__sock fd;
    char     authority[300];              /* what fd is connected to */
    unsigned requests;                    /* carried on this connection */
    char    *rb;                          /* read buffer */
    size_t   rlen;
#if PT__CURL
    void    *curl;                        /* libcurl easy handle (pt__curl_easy) */
#endif
#if PT__WINHTTP
    void    *wh_session, *wh_connect;     /* WinHTTP session, and connect handle of wh_host */
    char     wh_host[300];
#endif
} pt__conn;

typedef struct pt__http_head {
    int     status, minor;
    int64_t content_length;               /* -1: none */
    int     chunked, close, keep_alive;
    char    retry_after[64];
    char    location[256];
} pt__http_head;

/* Parses a response head p[0..n) (status line + headers, up to and
   including the blank line). 0 ok, -1 malformed. */
PT__PRIVATE PT__COLD int pt__http_parse_head(const char *p, size_t n, pt__http_head *h) {
    size_t i = 0, ls, le;
    int first = 1;
    memset(h, 0, sizeof *h);
    h->content_length = -1;
    while (i < n) {
        ls = i;
        while (i < n && p[i] != '\n') i++;
        if (i >= n) return -1;
        le = i++;
        if (le > ls && p[le - 1] == '\r') le--;
        if (le == ls) return first ? -1 : 0;           /* blank line: end of head */
        if (first) {
            /* HTTP/1.x SP 3DIGIT [SP reason] */
            const char *l = p + ls;
            size_t L = le - ls;
            if (L < 12 || memcmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') || l[8] != ' ') return -1;
            if (l[9] < '1' || l[9] > '5' || l[10] < '0' || l[10] > '9' || l[11] < '0' || l[11] > '9') return -1;
            if (L > 12 && l[12] != ' ') return -1;
            h->minor = l[7] - '0';
            h->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
            first = 0;
            continue;
        } else {
            const char *l = p + ls, *colon = (const char *)memchr(l, ':', le - ls), *v, *ve;
            size_t nl;
            if (!colon || colon == l) return -1;
            nl = (size_t)(colon - l);
            v = colon + 1; ve = p + le;
            while (v < ve && (*v == ' ' || *v == '\t')) v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
            if (nl == 14 && pt__strncaseeq(l, "content-length", 14)) {
                int64_t cl = 0;
                const char *q = v;
                if (q == ve) return -1;
                for (; q < ve; q++) {
                    if (*q < '0' || *q > '9') return -1;
                    if (cl > (INT64_MAX - 9) / 10) return -1;      /* overflow: malformed */
                    cl = cl * 10 + (*q - '0');
                }
                if (h->content_length >= 0 && h->content_length != cl) return -1;
                h->content_length = cl;
            } else if (nl == 17 && pt__strncaseeq(l, "transfer-encoding", 17)) {
                const char *q;
                for (q = v; q + 7 <= ve; q++) if (pt__strncaseeq(q, "chunked", 7)) h->chunked = 1;
            } else if (nl == 10 && pt__strncaseeq(l, "connection", 10)) {
                const char *q;
                for (q = v; q + 5 <= ve; q++) if (pt__strncaseeq(q, "close", 5)) h->close = 1;
                for (q = v; q + 10 <= ve; q++) if (pt__strncaseeq(q, "keep-alive", 10)) h->keep_alive = 1;
            } else if (nl == 11 && pt__strncaseeq(l, "retry-after", 11)) {
                size_t vl = PT__MIN((size_t)(ve - v), sizeof h->retry_after - 1);
                memcpy(h->retry_after, v, vl);
                h->retry_after[vl] = 0;
            } else if (nl == 8 && pt__strncaseeq(l, "location", 8)) {
                size_t vl = PT__MIN((size_t)(ve - v), sizeof h->location - 1);
                memcpy(h->location, v, vl);
                h->location[vl] = 0;
            }
        }
    }
    return -1;
}

/* Chunked transfer decoding, incremental. */
typedef struct pt__chunked { int state; uint64_t left; int digits; } pt__chunked;
enum { PT__CK_SIZE, PT__CK_EXT, PT__CK_SIZE_LF, PT__CK_DATA, PT__CK_DATA_CR, PT__CK_DATA_LF,
       PT__CK_TRAILER, PT__CK_TRAILER_LINE, PT__CK_END_LF, PT__CK_DONE };
typedef struct pt__sink { char *head; size_t cap, len; uint64_t total; } pt__sink;
PT__PRIVATE void pt__sink_put(pt__sink *s, const char *d, size_t n) {
    size_t k = PT__MIN(n, s->cap - s->len);
    if (k) { memcpy(s->head + s->len, d, k); s->len += k; }
    s->total += n;
}
/* Consumes in[0..n); *used gets the bytes eaten. Returns 1 when the body is
   complete, 0 if more input is needed, -1 on a malformed stream. */
PT__PRIVATE PT__COLD int pt__chunked_feed(pt__chunked *c, const char *in, size_t n, size_t *used, pt__sink *sink) {
    size_t i = 0;
    while (i < n && c->state != PT__CK_DONE) {
        char ch = in[i];
        switch (c->state) {
        case PT__CK_SIZE: {
            int d = (ch >= '0' && ch <= '9') ? ch - '0' : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10 : (ch >= 'A' && ch <= 'F') ? ch - 'A' + 10 : -1;
            if (d >= 0) {
                if (c->left > (((uint64_t)-1) >> 4)) return -1;   /* chunk size overflows */
                if (c->digits >= 64) return -1;                   /* endless leading zeros */
                c->left = c->left * 16 + (uint64_t)d; c->digits++; i++;
                break;
            }
            if (!c->digits) return -1;
            if (ch == ';' || ch == ' ' || ch == '\t') { c->state = PT__CK_EXT; i++; break; }
            if (ch == '\r') { c->state = PT__CK_SIZE_LF; i++; break; }
            if (ch == '\n') { i++; c->state = c->left ? PT__CK_DATA : PT__CK_TRAILER; break; }
            return -1;
        }
        case PT__CK_EXT:
            if (ch == '\n') c->state = c->left ? PT__CK_DATA : PT__CK_TRAILER;
            else if (ch == '\r') c->state = PT__CK_SIZE_LF;
            i++;
            break;
        case PT__CK_SIZE_LF:
            if (ch != '\n') return -1;
            i++;
            c->state = c->left ? PT__CK_DATA : PT__CK_TRAILER;
            break;
        case PT__CK_DATA: {
            size_t k = (size_t)PT__MIN((uint64_t)(n - i), c->left);
            pt__sink_put(sink, in + i, k);
            i += k; c->left -= k;
            if (!c->left) c->state = PT__CK_DATA_CR;
            break;
        }
        case PT__CK_DATA_CR:
            if (ch == '\r') { c->state = PT__CK_DATA_LF; i++; break; }
            if (ch == '\n') { c->state = PT__CK_SIZE; c->digits = 0; i++; break; }
            return -1;
        case PT__CK_DATA_LF:
            if (ch != '\n') return -1;
            c->state = PT__CK_SIZE; c->digits = 0; i++;
            break;
        case PT__CK_TRAILER:
            if (ch == '\r') { c->state = PT__CK_END_LF; i++; break; }
            if (ch == '\n') { c->state = PT__CK_DONE; i++; break; }
            c->state = PT__CK_TRAILER_LINE;
            break;
        case PT__CK_TRAILER_LINE:
            if (ch == '\n') c->state = PT__CK_TRAILER;
            i++;
            break;
        case PT__CK_END_LF:
            if (ch != '\n') return -1;
            c->state = PT__CK_DONE; i++;
            break;
        default: return -1;
        }
    }
    *used = i;
    return c->state == PT__CK_DONE ? 1 : 0;
}

/* ---- the request in progress (see [pt:transport]) ---- */
typedef struct pt__resolv pt__resolv;
enum { PT__BX_RESOLVE = 1, PT__BX_CONNECT, PT__BX_SEND, PT__BX_HEAD, PT__BX_BODY, PT__BX_DONE };
#define PT__BX_NEXT 2                     /* a phase finished: go on with the next one */
/* The built-in client's progress through one request. */
typedef struct pt__bx {
    int       st;                         /* PT__BX_*; 0 before start */
    int       reused, fresh_used;         /* sent on a kept-alive connection; its one free retry spent */
    int64_t   conn_deadline;              /* resolve + connect end here (connect_timeout_ms) */
    pt__url   u;
    char      auth[300];
    pt__buf   head;                       /* request line and headers */
    char      hstore[1024];
    size_t    sent;                       /* bytes of head + body on the wire */
    pt__resolv *rv;                       /* name lookup in progress on its own thread */
    struct addrinfo *ai, *ai_cur;         /* addresses; the next one to try */
    pt__sock  sk;                         /* socket being connected */
    int       last_err;
    size_t    scan, body_at;              /* head search position; body start in the read buffer */
    pt__http_head hh;
    int       mode;                       /* body: 0 none, 1 Content-Length, 2 chunked, 3 until close */
    uint64_t  left;                       /* Content-Length still to read */
    pt__chunked ck;
    pt__sink  sink;
} pt__bx;

struct pt__xfer {
    const pt__transport *tp;
    void             *ctx;                /* transport context: pt__conn (built-in, curl), pt__core (hooks) */
    pt_http_request   req;                /* points into caller-owned bytes, unchanged until done/cancelled */
    pt_http_header    hdr[6];             /* req.headers when set up by the client */
    pt_http_response  resp;
    pt_result         result;             /* valid once done */
    int64_t           deadline_ms;        /* the request's own end (timeout_ms from start, req.deadline_ms) */
    int64_t           wake_ms;            /* pending and returned before until: step again by then */
    uint64_t          op;                 /* async hook: id of the pt_http_op in flight, 0 if none */
    void             *tp_state;           /* private state of other transports (curl, WinHTTP) */
    pt__bx            bx;                 /* built-in client */
};

PT__PRIVATE void pt__xfer_init(pt__xfer *x, const pt__transport *tp, void *ctx, const pt_http_request *req) {
    memset(x, 0, sizeof *x);
    x->tp = tp; x->ctx = ctx;
    if (req) x->req = *req;
    x->bx.sk = PT__BAD_SOCK;
}
/* Drives x to its end on this thread (pt_ingest, pt_health, a sync user
   of a transport): blocking transports block inside step; the async hook
   is polled every millisecond until the host completes it or its deadline. */
PT__PRIVATE pt_result pt__xfer_run(pt__xfer *x) {
    int st = x->tp->start(x);
    while (st == PT__XF_PENDING) {
        st = x->tp->step(x, PT__INF_MS);
        if (st == PT__XF_PENDING) pt__sleep_ms(1);
    }
    return x->result;
}
/* One whole request over transport tp on this thread (ctx is its pt__conn):
   what the blocking pt_http_fn forms of the transports (tests, the CLI's
   hook) share. */
PT__PRIVATE PT__COLD pt_result pt__xfer_once(const pt__transport *tp, void *ctx, const pt_http_request *req, pt_http_response *resp) {
    pt__xfer *x = (pt__xfer *)PT__MALLOC(sizeof *x);
    pt_result r;
    if (!x) { memset(resp, 0, sizeof *resp); resp->not_sent = 1; return PT_ERR_NO_MEMORY; }
    pt__xfer_init(x, tp, ctx, req);
    r = pt__xfer_run(x);
    *resp = x->resp;
    PT__FREE(x);
    return r;
}

PT__PRIVATE void pt__conn_drop(pt__conn *cn) {
    if (cn->fd != PT__BAD_SOCK) pt__sock_close(cn->fd);
    cn->fd = PT__BAD_SOCK;
    cn->rlen = 0;
    cn->requests = 0;
    cn->authority[0] = 0;
}

#if PT__SOCKETS   /* PACKTRACK_NO_SOCKETS leaves the socket client out (see the #else below) */
/* Name resolution that never blocks a step. An address literal resolves at
   once. A name is resolved on a short-lived detached thread, which the step
   polls (waiting on its condition variable at most until its `until`); at
   a deadline the xfer leaves and the thread frees the shared record when
   getaddrinfo finally returns (last one out frees). Without threads
   (PACKTRACK_NO_THREADS) a name is resolved inline: getaddrinfo blocks that
   one step (once per new connection). A no-thread host that must never
   block uses an address literal in base_url, or cfg.http_async. */
#ifndef PT__GETADDRINFO
#define PT__GETADDRINFO getaddrinfo   /* tests substitute a resolver that hangs */
#endif
struct pt__resolv {
    pt__mutex mu;
    pt__cond cv;
    int refs, done, rc;
    struct addrinfo hints, *res;
    char host[256], port[8];
};
PT__PRIVATE void pt__resolv_release(pt__resolv *r) {   /* r->mu held; unlocks */
    int last = --r->refs == 0;
    pt__mutex_unlock(&r->mu);
    if (!last) return;
    if (r->res) freeaddrinfo(r->res);
    pt__cond_destroy(&r->cv);
    pt__mutex_destroy(&r->mu);
    PT__FREE(r);
}
PT__PRIVATE void pt__resolv_thread(void *p) {
    pt__resolv *r = (pt__resolv *)p;
    struct addrinfo *res = NULL;
    int rc = PT__GETADDRINFO(r->host, r->port, &r->hints, &res);
    pt__mutex_lock(&r->mu);
    r->rc = rc; r->res = res; r->done = 1;
    pt__cond_signal(&r->cv);
    pt__resolv_release(r);
}
/* Starts a lookup: 0 with *out (done) or *rv (a thread is on it), -1 failed. */
PT__PRIVATE PT__COLD int pt__resolve_begin(const char *host, const char *port, const struct addrinfo *hints, pt__resolv **rv, struct addrinfo **out) {
    struct addrinfo nh = *hints, *res = NULL;
    pt__resolv *r;
    pt__thread t;
    *out = NULL; *rv = NULL;
    nh.ai_flags |= AI_NUMERICHOST;      /* an address literal needs no thread */
    if (getaddrinfo(host, port, &nh, &res) == 0 && res) { *out = res; return 0; }
    if (!PT__THREADS || strlen(host) >= sizeof r->host || (r = (pt__resolv *)PT__MALLOC(sizeof *r)) == NULL) goto inline_lookup;
    memset(r, 0, sizeof *r);
    pt__mutex_init(&r->mu);
    pt__cond_init(&r->cv);
    r->refs = 2;
    r->hints = *hints;
    strcpy(r->host, host);
    strcpy(r->port, port);
    if (pt__thread_start(&t, pt__resolv_thread, r) != 0) {
        pt__cond_destroy(&r->cv); pt__mutex_destroy(&r->mu); PT__FREE(r);
        goto inline_lookup;
    }
    pt__thread_detach(t);
    *rv = r;
    return 0;
inline_lookup:
    if (PT__GETADDRINFO(host, port, hints, &res) != 0 || !res) return -1;
    *out = res;
    return 0;
}

/* Ends the request with r: releases what the request held (lookup, address
   list, half-connected socket, head buffer). The connection itself stays
   in the ctx (kept alive, or dropped by the caller). */
PT__PRIVATE int pt__bx_fin(pt__xfer *x, pt_result r) {
    pt__bx *b = &x->bx;
    if (b->rv) { pt__mutex_lock(&b->rv->mu); pt__resolv_release(b->rv); b->rv = NULL; }
    if (b->ai) { freeaddrinfo(b->ai); b->ai = NULL; }
    if (b->sk != PT__BAD_SOCK) { pt__sock_close(b->sk); b->sk = PT__BAD_SOCK; }
    pt__buf_free(&b->head);
    x->resp.body_head[sizeof x->resp.body_head - 1] = 0;
    x->result = r;
    b->st = PT__BX_DONE;
    return PT__XF_DONE;
}
PT__PRIVATE int pt__bx_fail_unsent(pt__xfer *x, pt_result r) { x->resp.not_sent = 1; return pt__bx_fin(x, r); }
/* An I/O failure code (-2 cancelled, -3 the request's deadline, else lost)
   as a result with its text. */
PT__PRIVATE pt_result pt__bx_io_err(pt__xfer *x, long r, const char *what) {
    if (r == -2) { pt__fmt(x->resp.error, sizeof x->resp.error, "cut off at the deadline while %s", what); return PT_ERR_CANCELLED; }
    if (r == -3) { pt__fmt(x->resp.error, sizeof x->resp.error, "timed out while %s", what); return PT_ERR_TIMEOUT; }
    pt__fmt(x->resp.error, sizeof x->resp.error, "connection lost while %s", what);
    return PT_ERR_NETWORK;
}
/* A kept-alive connection turned out dead before any response byte: one
   fresh connection, without counting an attempt (the Idempotency-Key
   makes a repeat harmless). */
PT__PRIVATE int pt__bx_fresh(pt__xfer *x) {
    x->bx.reused = 0; x->bx.fresh_used = 1; x->bx.sent = 0;
    x->bx.st = PT__BX_RESOLVE;
    return PT__BX_NEXT;
}

/* Waits for fd until min(until, limit), polling req.cancelled every 10 ms.
   1 ready, 0 `until` came first (step again later), -1 error, -2 cancelled,
   -3 `limit` (the request's own deadline) reached. */
PT__PRIVATE int pt__bx_wait(pt__xfer *x, pt__sock fd, int want_write, int64_t until, int64_t limit) {
    for (;;) {
        int64_t now = pt__mono_ms(), left;
        int r;
        if (x->req.cancelled && x->req.cancelled(&x->req)) return -2;
        if (now >= limit) return -3;
        left = PT__MIN(until, limit) - now;
        if (left < 0) left = 0;           /* `until` passed: one look without waiting */
        if (left > 10) left = 10;
        r = pt__sock_wait(fd, want_write, (int)left);
        if (r != 0) return r;
        if (pt__mono_ms() >= until) return 0;
    }
}

/* Reads more into the connection buffer. >0 bytes, 0 EOF, -1 error,
   -2 cancelled, -3 timeout, -4 `until` reached (nothing lost). */
PT__PRIVATE long pt__bx_fill(pt__xfer *x, int64_t until) {
    pt__conn *cn = (pt__conn *)x->ctx;
    for (;;) {
        long r;
        int w;
        if (cn->rlen >= PT__RBUF_SIZE) return -1;
        r = pt__sock_recv(cn->fd, cn->rb + cn->rlen, PT__RBUF_SIZE - cn->rlen);
        if (r > 0) { cn->rlen += (size_t)r; return r; }
        if (r == 0) return 0;
        if (!pt__sock_would_block(pt__sock_errno())) return -1;
        w = pt__bx_wait(x, cn->fd, 0, until, x->deadline_ms);
        if (w == 1) continue;
        return w == 0 ? -4 : w == -2 ? -2 : w == -3 ? -3 : -1;
    }
}

PT__PRIVATE PT__COLD int pt__bx_resolve(pt__xfer *x, int64_t until) {
    pt__bx *b = &x->bx;
    pt_http_response *resp = &x->resp;
    if (!b->rv && !b->ai) {
        struct addrinfo hints;
        char port[8];
        if (pt__net_init() != 0) { pt__fmt(resp->error, sizeof resp->error, "socket layer init failed"); return pt__bx_fail_unsent(x, PT_ERR_NETWORK); }
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICSERV;
        pt__fmt(port, sizeof port, "%d", b->u.port);
        if (pt__resolve_begin(b->u.host, port, &hints, &b->rv, &b->ai) != 0) {
            pt__fmt(resp->error, sizeof resp->error, "could not resolve host %.100s", b->u.host);
            return pt__bx_fail_unsent(x, PT_ERR_RESOLVE);
        }
    }
    if (b->rv) {
        pt__resolv *r = b->rv;
        int rc = 1;
        pt__mutex_lock(&r->mu);
        while (!r->done) {
            int64_t now = pt__mono_ms();
            if (x->req.cancelled && x->req.cancelled(&x->req)) { rc = -2; break; }
            if (now >= b->conn_deadline) { rc = -3; break; }
            if (now >= until) { pt__mutex_unlock(&r->mu); return PT__XF_PENDING; }
            pt__cond_wait_ms(&r->cv, &r->mu, PT__MIN(PT__MIN(until, b->conn_deadline) - now, (int64_t)10));
        }
        if (r->done) {
            rc = r->rc == 0 && r->res ? 0 : -1;
            if (rc == 0) { b->ai = r->res; r->res = NULL; }
        }
        b->rv = NULL;
        pt__resolv_release(r);
        if (rc == -2) { pt__fmt(resp->error, sizeof resp->error, "cut off at the deadline while resolving %.100s", b->u.host); return pt__bx_fail_unsent(x, PT_ERR_CANCELLED); }
        if (rc == -3) { pt__fmt(resp->error, sizeof resp->error, "resolving %.100s timed out", b->u.host); return pt__bx_fail_unsent(x, PT_ERR_TIMEOUT); }
        if (rc != 0) { pt__fmt(resp->error, sizeof resp->error, "could not resolve host %.100s", b->u.host); return pt__bx_fail_unsent(x, PT_ERR_RESOLVE); }
    }
    b->ai_cur = b->ai;
    b->last_err = 0;
    b->st = PT__BX_CONNECT;
    return PT__BX_NEXT;
}

/* ---- failure messages shared by the TLS transports (curl, WinHTTP) ----
   They name the cause and the host, never a header (so never the API key),
   and fit pt_http_response.error. */
enum { PT__TLS_UNTRUSTED = 1, PT__TLS_NAME, PT__TLS_DATE, PT__TLS_HANDSHAKE };
PT__PRIVATE int pt__has_word(const char *text, const char *w) {
    size_t n = strlen(w);
    for (; *text; text++) if (pt__strncaseeq(text, w, n)) return 1;
    return 0;
}
/* The cause of a failed certificate check, from a TLS library's text. */
PT__PRIVATE int pt__tls_cause(const char *text) {
    if (pt__has_word(text, "match")) return PT__TLS_NAME;          /* "does not match", "Hostname mismatch" */
    if (pt__has_word(text, "expired") || pt__has_word(text, "not yet valid")) return PT__TLS_DATE;
    return PT__TLS_UNTRUSTED;
}
/* The host[:port] of url (at most cap-1 bytes), for messages. */
PT__PRIVATE void pt__url_host(const char *url, char *out, size_t cap) {
    pt__url u;
    out[0] = 0;
    if (url && pt__url_parse(url, &u, NULL) == PT_OK) pt__url_authority(&u, out, cap);
}
/* The host[:port] of a proxy URL, without scheme or user:password. */
PT__PRIVATE void pt__proxy_host(const char *proxy, char *out, size_t cap) {
    const char *p = proxy ? proxy : "", *at, *sl = strstr(p, "://");
    size_t n;
    if (sl) p = sl + 3;
    at = strchr(p, '@');
    if (at) p = at + 1;
    for (n = 0; p[n] && p[n] != '/' && n + 1 < cap; n++) out[n] = p[n];
    out[n] = 0;
}
PT__PRIVATE pt_result pt__tls_fail(pt_http_response *resp, int cause, const char *host, const char *detail) {
    char *m = resp->error;
    size_t cap = sizeof resp->error;
    resp->not_sent = 1;
    switch (cause) {
    case PT__TLS_NAME: pt__fmt(m, cap, "TLS: the certificate is not for host %.60s (name mismatch)", host); break;
    case PT__TLS_DATE: pt__fmt(m, cap, "TLS: the certificate of %.60s has expired or is not yet valid", host); break;
    case PT__TLS_UNTRUSTED: pt__fmt(m, cap, "TLS: the certificate of %.50s is not trusted (%.30s); set ca_file", host, detail); break;
    default: pt__fmt(m, cap, "TLS handshake with %.50s failed: %.50s", host, detail); break;
    }
    return PT_ERR_TLS;
}
PT__PRIVATE pt_result pt__proxy_fail(pt_http_response *resp, const char *proxy, const char *what, const char *detail) {
    char ph[80];
    pt__proxy_host(proxy, ph, sizeof ph);
    resp->not_sent = 1;
    pt__fmt(resp->error, sizeof resp->error, "proxy %.60s: %s: %.40s", ph[0] ? ph : "(from the environment)", what, detail);
    return PT_ERR_CONNECT;
}

/* After a failed send: servers answer 413 (or 401, 400) on the headers of a
   large body and close without reading it, so the send fails with a reset
   while the answer sits in our receive buffer. Reads what already arrived
   (never waits: the transport is step-driven), without sending anything;
   1 with resp->status/retry_after/location/body_head set if a complete
   final response head was there, else 0. The caller drops the connection
   either way. */
PT__PRIVATE PT__COLD int pt__http_early_response(pt__conn *cn, pt_http_response *resp) {
    pt__http_head hh;
    size_t k, hend = 0, n;
    cn->rlen = 0;
    for (;;) {
        long r = pt__sock_recv(cn->fd, cn->rb + cn->rlen, PT__RBUF_SIZE - cn->rlen);
        if (r > 0) cn->rlen += (size_t)r;
        for (k = 0; !hend && k + 1 < cn->rlen; k++)
            if (cn->rb[k] == '\n' && (cn->rb[k + 1] == '\n' || (k + 2 < cn->rlen && cn->rb[k + 1] == '\r' && cn->rb[k + 2] == '\n')))
                hend = k + (cn->rb[k + 1] == '\n' ? 2 : 3);
        if (hend || cn->rlen >= PT__RBUF_SIZE || r <= 0) break;
    }
    if (!hend || pt__http_parse_head(cn->rb, hend, &hh) != 0 || hh.status < 200) return 0;
    resp->status = hh.status;
    memcpy(resp->retry_after, hh.retry_after, sizeof resp->retry_after);
    memcpy(resp->location, hh.location, sizeof resp->location);
    n = PT__MIN(cn->rlen - hend, sizeof resp->body_head - 1);
    memcpy(resp->body_head, cn->rb + hend, n);
    resp->body_head[n] = 0;
    resp->body_head_len = n;
    return 1;
}

/* Tries the addresses in turn with non-blocking connects. */
PT__PRIVATE PT__COLD int pt__bx_connect(pt__xfer *x, int64_t until) {
    pt__bx *b = &x->bx;
    pt__conn *cn = (pt__conn *)x->ctx;
    pt_http_response *resp = &x->resp;
    for (;;) {
        int w;
        if (b->sk == PT__BAD_SOCK) {
            struct addrinfo *ai = b->ai_cur;
            pt__sock s;
            int one = 1;
            if (!ai) break;
            b->ai_cur = ai->ai_next;
            s = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
            if (s == PT__BAD_SOCK) { b->last_err = pt__sock_errno(); continue; }
            pt__sock_nosigpipe(s);
            if (pt__sock_nonblock(s) != 0) { pt__sock_close(s); continue; }
            setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof one);
            b->sk = s;
            if (connect(s, ai->ai_addr, (pt__socklen)ai->ai_addrlen) == 0) goto connected;
            b->last_err = pt__sock_errno();
            if (!pt__sock_would_block(b->last_err)) { pt__sock_close(s); b->sk = PT__BAD_SOCK; continue; }
        }
        w = pt__bx_wait(x, b->sk, 1, until, b->conn_deadline);
        if (w == 0) return PT__XF_PENDING;
        if (w == -2) { pt__fmt(resp->error, sizeof resp->error, "cut off at the deadline while connecting"); return pt__bx_fail_unsent(x, PT_ERR_CANCELLED); }
        if (w == -3) { pt__fmt(resp->error, sizeof resp->error, "connect to %.100s:%d timed out", b->u.host, b->u.port); return pt__bx_fail_unsent(x, PT_ERR_TIMEOUT); }
        if (w == 1 && (b->last_err = pt__sock_connect_err(b->sk)) == 0) goto connected;
        pt__sock_close(b->sk);
        b->sk = PT__BAD_SOCK;
    }
    pt__fmt(resp->error, sizeof resp->error, "could not connect to %.100s:%d (%s)", b->u.host, b->u.port,
            pt__sock_err_refused(b->last_err) ? "connection refused" : "network error");
    return pt__bx_fail_unsent(x, PT_ERR_CONNECT);
connected:
    freeaddrinfo(b->ai);
    b->ai = b->ai_cur = NULL;
    cn->fd = b->sk;
    b->sk = PT__BAD_SOCK;
    cn->rlen = 0; cn->requests = 0;
    strncpy(cn->authority, b->auth, sizeof cn->authority - 1);
    cn->authority[sizeof cn->authority - 1] = 0;
    b->st = PT__BX_SEND;
    b->sent = 0;
    return PT__BX_NEXT;
}

/* Head and body, as far as the socket takes them. */
PT__PRIVATE int pt__bx_send(pt__xfer *x, int64_t until) {
    pt__bx *b = &x->bx;
    pt__conn *cn = (pt__conn *)x->ctx;
    size_t hn = b->head.len, total = hn + x->req.body_len;
    while (b->sent < total) {
        long r;
        int w = -1;
        if (b->sent < hn) r = pt__sock_send2(cn->fd, b->head.p + b->sent, hn - b->sent, x->req.body, x->req.body_len);
        else r = pt__sock_send(cn->fd, (const char *)x->req.body + (b->sent - hn), total - b->sent);
        if (r > 0) { b->sent += (size_t)r; continue; }
        if (r < 0 && pt__sock_would_block(pt__sock_errno())) {
            w = pt__bx_wait(x, cn->fd, 1, until, x->deadline_ms);
            if (w == 1) continue;
            if (w == 0) return PT__XF_PENDING;
        }
        if (w == -1 && pt__http_early_response(cn, &x->resp)) {   /* answered before it read the body */
            pt__conn_drop(cn);
            return pt__bx_fin(x, PT_OK);
        }
        pt__conn_drop(cn);
        if (w == -1 && b->reused && !b->fresh_used) return pt__bx_fresh(x);
        return pt__bx_fin(x, pt__bx_io_err(x, w, "sending the request"));
    }
    cn->requests++;
    cn->rlen = 0;
    b->scan = 0;
    b->st = PT__BX_HEAD;
    return PT__BX_NEXT;
}

/* The response head, skipping 1xx heads. */
PT__PRIVATE PT__COLD int pt__bx_head(pt__xfer *x, int64_t until) {
    pt__bx *b = &x->bx;
    pt__conn *cn = (pt__conn *)x->ctx;
    pt_http_response *resp = &x->resp;
    size_t hend;
    for (;;) {
        char *e = NULL;
        size_t k;
        long r;
        for (k = b->scan; k + 1 < cn->rlen; k++) {
            if (cn->rb[k] == '\n' && (cn->rb[k + 1] == '\n' || (k + 2 < cn->rlen && cn->rb[k + 1] == '\r' && cn->rb[k + 2] == '\n'))) {
                e = cn->rb + k + (cn->rb[k + 1] == '\n' ? 2 : 3);
                break;
            }
        }
        if (!e) {
            b->scan = cn->rlen > 2 ? cn->rlen - 2 : 0;
            if (cn->rlen >= PT__RBUF_SIZE) {
                pt__conn_drop(cn);
                pt__fmt(resp->error, sizeof resp->error, "response head larger than %d bytes", PT__RBUF_SIZE);
                return pt__bx_fin(x, PT_ERR_PROTOCOL);
            }
            r = pt__bx_fill(x, until);
            if (r == -4) return PT__XF_PENDING;
            if (r <= 0) {
                int nothing = cn->rlen == 0;
                pt__conn_drop(cn);
                if ((r == 0 || r == -1) && nothing && b->reused && !b->fresh_used) return pt__bx_fresh(x);
                if (r == 0) {
                    pt__fmt(resp->error, sizeof resp->error, nothing ? "server closed the connection without answering" : "server closed the connection mid-response");
                    return pt__bx_fin(x, PT_ERR_NETWORK);
                }
                return pt__bx_fin(x, pt__bx_io_err(x, r, "waiting for the response"));
            }
            continue;
        }
        hend = (size_t)(e - cn->rb);
        if (pt__http_parse_head(cn->rb, hend, &b->hh) != 0) {
            pt__conn_drop(cn);
            pt__fmt(resp->error, sizeof resp->error, "malformed HTTP response head");
            return pt__bx_fin(x, PT_ERR_PROTOCOL);
        }
        if (b->hh.status >= 200) break;
        memmove(cn->rb, cn->rb + hend, cn->rlen - hend);   /* 1xx: next head */
        cn->rlen -= hend; b->scan = 0;
    }
    resp->status = b->hh.status;
    memcpy(resp->retry_after, b->hh.retry_after, sizeof resp->retry_after);
    memcpy(resp->location, b->hh.location, sizeof resp->location);
    b->sink.head = resp->body_head; b->sink.cap = sizeof resp->body_head - 1; b->sink.len = 0; b->sink.total = 0;
    b->body_at = hend;
    b->mode = (strcmp(x->req.method, "HEAD") == 0 || b->hh.status == 204 || b->hh.status == 304) ? 0
            : b->hh.chunked ? 2 : b->hh.content_length >= 0 ? 1 : 3;
    b->left = b->mode == 1 ? (uint64_t)b->hh.content_length : 0;
    memset(&b->ck, 0, sizeof b->ck);
    b->st = PT__BX_BODY;
    return PT__BX_NEXT;
}

/* The body: its first bytes into resp.body_head, the rest read and dropped
   (up to PT__BODY_DRAIN_MAX; then the connection is dropped instead). */
PT__PRIVATE PT__COLD int pt__bx_body(pt__xfer *x, int64_t until) {
    pt__bx *b = &x->bx;
    pt__conn *cn = (pt__conn *)x->ctx;
    pt_http_response *resp = &x->resp;
    pt_result rc = PT_OK;
    while (b->mode != 0) {
        long r;
        if (b->mode == 1) {
            size_t k = (size_t)PT__MIN((uint64_t)(cn->rlen - b->body_at), b->left);
            pt__sink_put(&b->sink, cn->rb + b->body_at, k);
            b->body_at += k; b->left -= k;
            if (!b->left) break;
        } else if (b->mode == 2) {
            size_t used = 0;
            int fr = pt__chunked_feed(&b->ck, cn->rb + b->body_at, cn->rlen - b->body_at, &used, &b->sink);
            b->body_at += used;
            if (fr < 0) { rc = PT_ERR_PROTOCOL; pt__fmt(resp->error, sizeof resp->error, "malformed chunked body"); b->hh.close = 1; break; }
            if (fr == 1) break;
        } else {
            pt__sink_put(&b->sink, cn->rb + b->body_at, cn->rlen - b->body_at);
            b->body_at = cn->rlen;
        }
        if (b->sink.total > PT__BODY_DRAIN_MAX) { b->hh.close = 1; break; }
        cn->rlen = b->body_at = 0;
        r = pt__bx_fill(x, until);
        if (r == -4) return PT__XF_PENDING;
        if (r == 0 && b->mode == 3) break;
        if (r <= 0) { rc = pt__bx_io_err(x, r == 0 ? -1 : r, "reading the response body"); b->hh.close = 1; break; }
    }
    if (b->mode == 3) b->hh.close = 1;
    resp->body_head[b->sink.len] = 0;
    resp->body_head_len = b->sink.len;
    if (b->hh.close || (b->hh.minor == 0 && !b->hh.keep_alive) || b->body_at != cn->rlen) pt__conn_drop(cn);
    else cn->rlen = 0;
    /* A status line was received: a body problem does not hide the status
       for 2xx (the server accepted), it does for the rest. */
    if (rc != PT_OK && b->hh.status >= 200 && b->hh.status < 300) rc = PT_OK;
    return pt__bx_fin(x, rc);
}

/* start: checks the URL, builds the head, picks the kept-alive connection
   when it is still good. No I/O beyond a zero-wait readability check. */
PT__PRIVATE PT__COLD int pt__bx_start(pt__xfer *x) {
    pt__conn *cn = (pt__conn *)x->ctx;
    pt__bx *b = &x->bx;
    const pt_http_request *req = &x->req;
    pt_http_response *resp = &x->resp;
    int64_t now = pt__mono_ms();
    size_t i;
    memset(resp, 0, sizeof *resp);
    memset(b, 0, sizeof *b);
    b->sk = PT__BAD_SOCK;
    pt__buf_init(&b->head, b->hstore, sizeof b->hstore);
    if (pt__url_parse(req->url, &b->u, NULL) != PT_OK) { pt__fmt(resp->error, sizeof resp->error, "bad request URL"); return pt__bx_fail_unsent(x, PT_ERR_INVALID_ARG); }
    if (b->u.https) {
        pt__fmt(resp->error, sizeof resp->error, "the built-in client is http only: https goes through libcurl or WinHTTP");
        return pt__bx_fail_unsent(x, PT_ERR_UNSUPPORTED);
    }
    if (!cn->rb && (cn->rb = (char *)PT__MALLOC(PT__RBUF_SIZE)) == NULL) return pt__bx_fail_unsent(x, PT_ERR_NO_MEMORY);
    x->deadline_ms = now + (req->timeout_ms > 0 ? req->timeout_ms : 10000);
    if (req->deadline_ms > 0 && req->deadline_ms < x->deadline_ms) x->deadline_ms = req->deadline_ms;
    b->conn_deadline = PT__MIN(x->deadline_ms, now + (req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 5000));
    pt__url_authority(&b->u, b->auth, sizeof b->auth);
    pt__buf_puts(&b->head, req->method);
    pt__buf_putc(&b->head, ' ');
    if (b->u.prefix[0]) pt__buf_puts(&b->head, b->u.prefix); else pt__buf_putc(&b->head, '/');
    pt__buf_lit(&b->head, " HTTP/1.1\r\nHost: ");
    pt__buf_puts(&b->head, b->auth);
    pt__buf_lit(&b->head, "\r\n");
    for (i = 0; i < req->header_count; i++) {
        pt__buf_puts(&b->head, req->headers[i].name);
        pt__buf_lit(&b->head, ": ");
        pt__buf_puts(&b->head, req->headers[i].value);
        pt__buf_lit(&b->head, "\r\n");
    }
    if (req->body_len || strcmp(req->method, "POST") == 0) {
        char num[24];
        pt__buf_lit(&b->head, "Content-Length: ");
        pt__buf_put(&b->head, num, pt__u64_dec(num, (uint64_t)req->body_len));
        pt__buf_lit(&b->head, "\r\n");
    }
    pt__buf_lit(&b->head, "\r\n");
    if (b->head.oom) return pt__bx_fail_unsent(x, PT_ERR_NO_MEMORY);
    if (cn->fd != PT__BAD_SOCK && strcmp(cn->authority, b->auth) != 0) pt__conn_drop(cn);
    /* An idle keep-alive connection that is readable was closed (or spoke
       out of turn): do not send on it. */
    if (cn->fd != PT__BAD_SOCK && pt__sock_wait(cn->fd, 0, 0) != 0) pt__conn_drop(cn);
    b->reused = cn->fd != PT__BAD_SOCK;
    cn->rlen = 0;
    b->st = b->reused ? PT__BX_SEND : PT__BX_RESOLVE;
    return PT__XF_PENDING;
}

PT__PRIVATE int pt__bx_step(pt__xfer *x, int64_t until) {
    for (;;) {
        int r;
        switch (x->bx.st) {
        case PT__BX_RESOLVE: r = pt__bx_resolve(x, until); break;
        case PT__BX_CONNECT: r = pt__bx_connect(x, until); break;
        case PT__BX_SEND:    r = pt__bx_send(x, until); break;
        case PT__BX_HEAD:    r = pt__bx_head(x, until); break;
        case PT__BX_BODY:    r = pt__bx_body(x, until); break;
        default: return PT__XF_DONE;
        }
        if (r != PT__BX_NEXT) return r;
    }
}

/* Abandons the request: a connection with part of an exchange on it is dropped. */
PT__PRIVATE void pt__bx_cancel(pt__xfer *x) {
    if (x->bx.st == 0 || x->bx.st == PT__BX_DONE) return;
    if (x->bx.st >= PT__BX_SEND) pt__conn_drop((pt__conn *)x->ctx);
    pt__fmt(x->resp.error, sizeof x->resp.error, "request cut off");
    pt__bx_fin(x, PT_ERR_CANCELLED);
}

#else
/* PACKTRACK_NO_SOCKETS: never reached (pt_client_new refuses a config
   without cfg.http or cfg.http_async, see pt__build_check); kept so the
   callers need no #if. */
PT__PRIVATE PT__COLD int pt__bx_start(pt__xfer *x) {
    memset(&x->resp, 0, sizeof x->resp);
    pt__fmt(x->resp.error, sizeof x->resp.error, "built with PACKTRACK_NO_SOCKETS: set cfg.http or cfg.http_async");
    x->resp.not_sent = 1;
    x->result = PT_ERR_CONFIG;
    return PT__XF_DONE;
}
PT__PRIVATE int pt__bx_step(pt__xfer *x, int64_t until) { (void)x; (void)until; return PT__XF_DONE; }
PT__PRIVATE void pt__bx_cancel(pt__xfer *x) { (void)x; }
#endif /* PT__SOCKETS */

static const pt__transport pt__tp_builtin = { "built-in", pt__bx_start, pt__bx_step, pt__bx_cancel };

/* The built-in client as a blocking pt_http_fn (user is a pt__conn). */
PT__PRIVATE PT__COLD pt_result pt__http_builtin(const pt_http_request *req, pt_http_response *resp, void *user) {
    return pt__xfer_once(&pt__tp_builtin, user, req, resp);
}

/* ==== [pt:deflate] ======================================================= */
/* Built-in gzip encoder (RFC 1951 deflate inside an RFC 1952 member) and a
   standalone CRC-32. Used when neither PACKTRACK_USE_ZLIB nor
   PACKTRACK_USE_LIBDEFLATE is defined and no gzip hook is set.

   Design, in one breath: single pass LZ77 over the whole (in-memory) input
   with a one-entry-per-bucket hash of 4 bytes (greedy, like LZ4/libdeflate's
   fastest levels), symbols buffered per block, then per block the cheapest
   of dynamic Huffman, fixed Huffman and stored. One pt__deflate holds all the
   working state (~200 KiB) and is reused, so a call never allocates.
   Needs <string.h>, <stdint.h>, <stddef.h>, PT__MALLOC/PT__FREE, PT__PRIVATE. */

/* ---- CRC-32 (IEEE 802.3, reflected poly 0xEDB88320) ------------------------
   Braided like zlib 1.2.12+ (5 independent CRCs over interleaved 8-byte
   words, combined at the end), which runs about twice as fast as slice-by-8
   because the five dependency chains overlap. The tables are built by the
   preprocessor, so they are plain const data: no lazy init, no thread-safety
   question, usable without a pt__deflate (the disk spool needs that). A CRC
   table is linear over GF(2): T[i] is the XOR of T[1<<b] over the set bits b
   of i, so 8 constants per table suffice: PT__CRC_16 spans the 16 XOR
   combinations of the low nibble's bits, PT__CRC_TAB the high nibble's.
   pt__crc_tab[0] is the classic byte table; pt__crc_tab[1+k][v] is the CRC
   of byte v at offset k of a word, followed by the 40-1-k bytes up to the
   same offset in the next block. */
#define PT__CRC_16(h, a, b, c, d) h, h^a, h^b, h^a^b, h^c, h^a^c, h^b^c, h^a^b^c, \
    h^d, h^a^d, h^b^d, h^a^b^d, h^c^d, h^a^c^d, h^b^c^d, h^a^b^c^d
#define PT__CRC_TAB(a, b, c, d, e, f, g, h) { PT__CRC_16(0u, a, b, c, d), PT__CRC_16(e, a, b, c, d), \
    PT__CRC_16(f, a, b, c, d), PT__CRC_16(e^f, a, b, c, d), PT__CRC_16(g, a, b, c, d), PT__CRC_16(e^g, a, b, c, d), \
    PT__CRC_16(f^g, a, b, c, d), PT__CRC_16(e^f^g, a, b, c, d), PT__CRC_16(h, a, b, c, d), PT__CRC_16(e^h, a, b, c, d), \
    PT__CRC_16(f^h, a, b, c, d), PT__CRC_16(e^f^h, a, b, c, d), PT__CRC_16(g^h, a, b, c, d), \
    PT__CRC_16(e^g^h, a, b, c, d), PT__CRC_16(f^g^h, a, b, c, d), PT__CRC_16(e^f^g^h, a, b, c, d) }

static const uint32_t pt__crc_tab[9][256] = {
    PT__CRC_TAB(0x77073096u, 0xEE0E612Cu, 0x076DC419u, 0x0EDB8832u, 0x1DB71064u, 0x3B6E20C8u, 0x76DC4190u, 0xEDB88320u),
    PT__CRC_TAB(0xAF449247u, 0x85F822CFu, 0xD08143DFu, 0x7A7381FFu, 0xF4E703FEu, 0x32BF01BDu, 0x657E037Au, 0xCAFC06F4u),
    PT__CRC_TAB(0x4E890BA9u, 0x9D121752u, 0xE15528E5u, 0x19DB578Bu, 0x33B6AF16u, 0x676D5E2Cu, 0xCEDABC58u, 0x46C47EF1u),
    PT__CRC_TAB(0x8D88FDE2u, 0xC060FD85u, 0x5BB0FD4Bu, 0xB761FA96u, 0xB5B2F36Du, 0xB014E09Bu, 0xBB58C777u, 0xADC088AFu),
    PT__CRC_TAB(0x80F0171Fu, 0xDA91287Fu, 0x6E5356BFu, 0xDCA6AD7Eu, 0x623C5CBDu, 0xC478B97Au, 0x538074B5u, 0xA700E96Au),
    PT__CRC_TAB(0x9570D495u, 0xF190AF6Bu, 0x38505897u, 0x70A0B12Eu, 0xE141625Cu, 0x19F3C2F9u, 0x33E785F2u, 0x67CF0BE4u),
    PT__CRC_TAB(0xCF9E17C8u, 0x444D29D1u, 0x889A53A2u, 0xCA45A105u, 0x4FFA444Bu, 0x9FF48896u, 0xE498176Du, 0x1241289Bu),
    PT__CRC_TAB(0x24825136u, 0x4904A26Cu, 0x920944D8u, 0xFF638FF1u, 0x25B619A3u, 0x4B6C3346u, 0x96D8668Cu, 0xF6C1CB59u),
    PT__CRC_TAB(0x36F290F3u, 0x6DE521E6u, 0xDBCA43CCu, 0x6CE581D9u, 0xD9CB03B2u, 0x68E70125u, 0xD1CE024Au, 0x78ED02D5u)
};
#undef PT__CRC_16
#undef PT__CRC_TAB

/* Little-endian loads and stores assembled from bytes: alignment- and
   endian-safe; gcc and clang turn them into single moves on x86 and ARM. */
PT__PRIVATE uint32_t pt__le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
PT__PRIVATE uint64_t pt__le64(const uint8_t *p) {
    return (uint64_t)pt__le32(p) | (uint64_t)pt__le32(p + 4) << 32;
}
PT__PRIVATE void pt__st64(uint8_t *p, uint64_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
    p[4] = (uint8_t)(v >> 32); p[5] = (uint8_t)(v >> 40); p[6] = (uint8_t)(v >> 48); p[7] = (uint8_t)(v >> 56);
}

/* CRC of the 8 bytes of w (first byte in the low bits), register included. */
PT__PRIVATE uint32_t pt__crc_word(uint64_t w) {
    int k;
    for (k = 0; k < 8; k++) w = (w >> 8) ^ pt__crc_tab[0][w & 255];
    return (uint32_t)w;
}

PT__PRIVATE uint32_t pt__crc32(uint32_t crc, const void *data, size_t n) {
    const uint8_t *p = (const uint8_t *)data;
    const uint32_t (*t)[256] = pt__crc_tab + 1;
    uint32_t c = ~crc;
    size_t blks = n / 40;
    if (blks > 1) {
        uint32_t c0 = c, c1 = 0, c2 = 0, c3 = 0, c4 = 0;
        uint64_t w0, w1, w2, w3, w4;
        n -= blks * 40;
        while (--blks) {       /* all but the last 40-byte block, braided */
            w0 = c0 ^ pt__le64(p); w1 = c1 ^ pt__le64(p + 8); w2 = c2 ^ pt__le64(p + 16);
            w3 = c3 ^ pt__le64(p + 24); w4 = c4 ^ pt__le64(p + 32);
            p += 40;
            c0 = t[0][w0 & 255]; c1 = t[0][w1 & 255]; c2 = t[0][w2 & 255]; c3 = t[0][w3 & 255]; c4 = t[0][w4 & 255];
#define PT__CRC_STEP(k) c0 ^= t[k][(w0 >> 8 * k) & 255]; c1 ^= t[k][(w1 >> 8 * k) & 255]; \
    c2 ^= t[k][(w2 >> 8 * k) & 255]; c3 ^= t[k][(w3 >> 8 * k) & 255]; c4 ^= t[k][(w4 >> 8 * k) & 255];
            PT__CRC_STEP(1) PT__CRC_STEP(2) PT__CRC_STEP(3) PT__CRC_STEP(4)   /* unrolled by hand: */
            PT__CRC_STEP(5) PT__CRC_STEP(6) PT__CRC_STEP(7)                   /* gcc -O2 won't */
#undef PT__CRC_STEP
        }
        /* the last block folds the five braids into one CRC, word by word */
        c = pt__crc_word(c0 ^ pt__le64(p));
        c = pt__crc_word(c1 ^ pt__le64(p + 8) ^ c);
        c = pt__crc_word(c2 ^ pt__le64(p + 16) ^ c);
        c = pt__crc_word(c3 ^ pt__le64(p + 24) ^ c);
        c = pt__crc_word(c4 ^ pt__le64(p + 32) ^ c);
        p += 40;
    }
    while (n--) c = pt__crc_tab[0][(c ^ *p++) & 255] ^ (c >> 8);
    return ~c;
}

/* ---- deflate ------------------------------------------------------------- */
#if PT__DEFLATE   /* PACKTRACK_NO_DEFLATE leaves the encoder out, to the end of the section */
#define PT__DF_HBITS 15        /* 32K hash heads: 128 KiB, stays in L2 */
#define PT__DF_BLOCK 16384u    /* symbols per block: adapts the codes, header cost ~0.5% */
#define PT__DF_WIN 32768u
#define PT__DF_LIMIT 0xC0000000u /* rebase hash positions before uint32 could wrap */

typedef struct pt__deflate pt__deflate;
struct pt__deflate {
    uint32_t head[1u << PT__DF_HBITS]; /* last position (+base) seen per hash */
    uint32_t next_base;                /* base for the next call; see pt__gzip */
    uint32_t sym[PT__DF_BLOCK + 16];   /* literal byte, or dist << 16 | match length */
    uint32_t lfreq[288], dfreq[32], cfreq[19];
    uint32_t work[288], pw[2][576];    /* Huffman scratch: sorted weights, package lists */
    uint16_t wsym[288];                /* symbols in weight order */
    uint8_t pmleaf[15][576];           /* package-merge: is item k of level l a leaf */
    uint16_t lcode[288], dcode[32], ccode[19];  /* bit-reversed canonical codes */
    uint8_t llen[288], dlen[32], clen[19];
    uint16_t fcode[288 + 32];          /* fixed Huffman codes: lit/len then dist */
    uint8_t flen[288 + 32];
    uint16_t tok[288 + 32];            /* run-length coded code lengths: sym | extra << 5 */
    uint8_t lsym[256];                 /* match length - 3 -> length code 0..28 */
    uint8_t dsym[512];                 /* dist - 1 -> dist code, see pt__df_dcode */
    uint8_t *o, *oend;                 /* output cursor and end (trailer excluded) */
    uint64_t bb;                       /* bit buffer, LSB first */
    unsigned bn;                       /* bits pending in bb, < 8 between puts */
};

static const uint16_t pt__df_lbase[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
    35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t pt__df_lext[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
    3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t pt__df_dbase[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129,
    193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t pt__df_dext[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
    7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
static const uint8_t pt__df_corder[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

/* Distance code of dist-1 = d (0..32767): codes up to 256 are looked up
   directly, above that the code depends only on d >> 7 (as in zlib). */
PT__PRIVATE unsigned pt__df_dcode(const pt__deflate *d, uint32_t dm1) {
    return dm1 < 256 ? d->dsym[dm1] : d->dsym[256 + (dm1 >> 7)];
}

/* Canonical Huffman codes from code lengths, bit-reversed because deflate
   sends Huffman codes MSB first into an LSB-first bit stream. */
PT__PRIVATE void pt__df_codes(const uint8_t *len, unsigned n, uint16_t *code) {
    unsigned cnt[16], next[16], i, c = 0, r, k;
    memset(cnt, 0, sizeof cnt);
    for (i = 0; i < n; i++) cnt[len[i]]++;
    cnt[0] = 0;
    for (i = 1; i < 16; i++) next[i] = c = (c + cnt[i - 1]) << 1;
    for (i = 0; i < n; i++) {
        if (!len[i]) continue;
        c = next[len[i]]++;
        for (r = 0, k = 0; k < len[i]; k++, c >>= 1) r = r << 1 | (c & 1);
        code[i] = (uint16_t)r;
    }
}

/* Optimal code lengths limited to maxbits for freq[0..n) (at least 2 of
   them nonzero; the caller ensures it), by package-merge (Larmore-Hirschberg).
   Leaves are sorted by weight (shellsort, n <= 288). Level 0 is the leaf
   list; each next level merges the leaves with pairs ("packages") of the
   level below. Only the first 2m-2 items of a level can be selected, so
   lists stop there. For the way back we keep, per level, which positions are
   leaves: among the first k items of a level the leaves are the c lightest,
   each of which gains one bit of length, and the k-c packages came from the
   first 2(k-c) items of the level below. Cost O(n * maxbits), ~10 KiB. */
PT__PRIVATE void pt__df_lengths(pt__deflate *d, const uint32_t *freq, unsigned n, unsigned maxbits, uint8_t *len) {
    static const unsigned gaps[3] = {13, 4, 1};
    uint32_t *a = d->work, *pw = d->pw[0], *cw = d->pw[1], *t, key, pk;
    uint16_t *s = d->wsym;
    uint8_t *f;
    unsigned g, i, j, k, c, m = 0, np, lvl;
    for (i = 0; i < n; i++) {
        len[i] = 0;
        if (freq[i]) a[m++] = freq[i] << 9 | i;   /* freq < 2^23 (block <= 64K symbols) */
    }
    for (g = 0; g < 3; g++)
        for (i = gaps[g]; i < m; i++) {
            key = a[i];
            for (j = i; j >= gaps[g] && a[j - gaps[g]] > key; j -= gaps[g]) a[j] = a[j - gaps[g]];
            a[j] = key;
        }
    for (i = 0; i < m; i++) { s[i] = (uint16_t)(a[i] & 511); a[i] >>= 9; }
    memcpy(pw, a, m * sizeof *a);
    np = m;
    for (lvl = 1; lvl < maxbits; lvl++) {
        f = d->pmleaf[lvl];
        for (i = j = k = 0; k < 2 * m - 2 && (i < m || j + 1 < np); k++) {
            pk = j + 1 < np ? pw[j] + pw[j + 1] : 0xFFFFFFFFu;
            if (i < m && a[i] <= pk) { cw[k] = a[i++]; f[k] = 1; }
            else { cw[k] = pk; f[k] = 0; j += 2; }
        }
        t = pw; pw = cw; cw = t; np = k;
    }
    for (k = 2 * m - 2, lvl = maxbits; lvl-- > 0; k = 2 * (k - c)) {
        if (lvl) for (c = i = 0; i < k; i++) c += d->pmleaf[lvl][i];
        else c = k;
        for (i = 0; i < c; i++) len[s[i]]++;
    }
}

/* Makes sure at least two symbols are used: a one-code tree is incomplete,
   which zlib refuses for code lengths and some inflaters refuse everywhere.
   The phantom counts only cost a fraction of a bit in the size estimate. */
PT__PRIVATE void pt__df_two(uint32_t *freq, unsigned n) {
    unsigned i, used = 0;
    for (i = 0; i < n; i++) used += freq[i] != 0;
    for (i = 0; used < 2; i++)
        if (!freq[i]) { freq[i] = 1; used++; }
}

PT__PRIVATE pt__deflate *pt__deflate_new(void) {
    pt__deflate *d = (pt__deflate *)PT__MALLOC(sizeof(pt__deflate));
    unsigned i, c;
    if (!d) return NULL;
    memset(d, 0, sizeof *d);
    d->next_base = PT__DF_WIN + 1;     /* zeroed heads are then out of the window */
    for (c = 0; c < 28; c++)           /* length 258 has its own code (28) */
        for (i = pt__df_lbase[c]; i < pt__df_lbase[c + 1] && i < 258; i++) d->lsym[i - 3] = (uint8_t)c;
    d->lsym[255] = 28;
    for (c = 0; c < 30; c++)
        for (i = pt__df_dbase[c] - 1u; i < pt__df_dbase[c] - 1u + (1u << pt__df_dext[c]); i++)
            d->dsym[i < 256 ? i : 256 + (i >> 7)] = (uint8_t)c;
    /* fixed Huffman code, RFC 1951 3.2.6 */
    for (i = 0; i < 288; i++) d->flen[i] = (uint8_t)(i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8);
    for (i = 0; i < 32; i++) d->flen[288 + i] = 5;
    pt__df_codes(d->flen, 288, d->fcode);
    pt__df_codes(d->flen + 288, 32, d->fcode + 288);
    return d;
}

PT__PRIVATE void pt__deflate_free(pt__deflate *d) {
    if (d) PT__FREE(d);
}

/* Worst case is all stored. A stored piece costs <= 42 bits + its bytes and
   holds <= 65535 bytes; blocks cover >= PT__DF_BLOCK bytes except the last:
   n + 18 + 5.25 * (n/65535 + n/16384 + 2) + 1 < n + n/2048 + 64. */
PT__PRIVATE size_t pt__gzip_bound(size_t n) {
    return n + (n >> 11) + 64;
}

/* Bit writer; deflate packs bits LSB first. Between puts bb holds bn < 8
   pending bits; a put adds up to 56 bits, then stores all 8 bytes of bb at
   o, of which bn/8 count. The store can reach 7 bytes past the counted
   output: into the 8 bytes pt__gzip keeps free for the trailer. */
#define PT__DF_PUT(o, bb, bn, v, n) do { bb |= (uint64_t)(v) << bn; bn += (n); \
    pt__st64(o, bb); o += bn >> 3; bb >>= bn & 56; bn &= 7; } while (0)
PT__PRIVATE void pt__df_put(pt__deflate *d, uint32_t v, unsigned n) {
    PT__DF_PUT(d->o, d->bb, d->bn, v, n);
}

/* Emits the buffered symbols sym[0..nsym) covering raw[0..rawlen) as one
   block, choosing dynamic, fixed or stored by exact size. Returns 0 if it
   would not fit before d->oend. Resets the frequencies for the next block. */
PT__PRIVATE int pt__df_block(pt__deflate *d, unsigned nsym, const uint8_t *raw, size_t rawlen, unsigned last) {
    uint32_t *lf = d->lfreq, *df = d->dfreq, *cf = d->cfreq;
    unsigned nlit, ndist, ncl, ntok = 0, i, j, run, v, r;
    uint64_t xbits = 0, dyn, fix, sto;
    size_t pieces = rawlen ? (rawlen + 65534) / 65535 : 1;
    const uint16_t *lc, *dc;
    const uint8_t *ll, *dl;
    uint8_t all[288 + 32];

    lf[256] = 1;                       /* end of block */
    for (i = 0; i < 29; i++) xbits += (uint64_t)lf[257 + i] * pt__df_lext[i];
    for (i = 0; i < 30; i++) xbits += (uint64_t)df[i] * pt__df_dext[i];
    fix = 3 + xbits;
    for (i = 0; i < 286; i++) fix += (uint64_t)lf[i] * d->flen[i];
    for (i = 0; i < 30; i++) fix += (uint64_t)df[i] * 5;

    pt__df_two(lf, 286);
    pt__df_two(df, 30);
    pt__df_lengths(d, lf, 286, 15, d->llen);
    pt__df_lengths(d, df, 30, 15, d->dlen);
    for (nlit = 286; nlit > 257 && !d->llen[nlit - 1]; nlit--) {}
    for (ndist = 30; ndist > 1 && !d->dlen[ndist - 1]; ndist--) {}
    /* Run-length code the concatenated lengths (RFC 1951 3.2.7): 16 repeats
       the previous length 3-6 times, 17/18 give 3-10/11-138 zeros. */
    memcpy(all, d->llen, nlit);
    memcpy(all + nlit, d->dlen, ndist);
    memset(cf, 0, 19 * sizeof *cf);
    for (i = 0; i < nlit + ndist; i += run) {
        v = all[i];
        for (run = 1; i + run < nlit + ndist && all[i + run] == v; run++) {}
        j = run;
        if (v == 0) {
            for (; j >= 11; j -= r) { r = j < 138 ? j : 138; d->tok[ntok++] = (uint16_t)(18 | (r - 11) << 5); }
            if (j >= 3) { d->tok[ntok++] = (uint16_t)(17 | (j - 3) << 5); j = 0; }
        } else {
            d->tok[ntok++] = (uint16_t)v; j--;
            for (; j >= 3; j -= r) { r = j < 6 ? j : 6; d->tok[ntok++] = (uint16_t)(16 | (r - 3) << 5); }
        }
        for (; j; j--) d->tok[ntok++] = (uint16_t)v;
    }
    for (i = 0; i < ntok; i++) cf[d->tok[i] & 31]++;
    pt__df_two(cf, 19);
    pt__df_lengths(d, cf, 19, 7, d->clen);
    for (ncl = 19; ncl > 4 && !d->clen[pt__df_corder[ncl - 1]]; ncl--) {}

    dyn = 3 + 5 + 5 + 4 + 3 * (uint64_t)ncl + xbits + 2 * (uint64_t)cf[16] + 3 * (uint64_t)cf[17] + 7 * (uint64_t)cf[18];
    for (i = 0; i < 19; i++) dyn += (uint64_t)cf[i] * d->clen[i];
    for (i = 0; i < 286; i++) dyn += (uint64_t)lf[i] * d->llen[i];
    for (i = 0; i < 30; i++) dyn += (uint64_t)df[i] * d->dlen[i];
    sto = (uint64_t)pieces * (3 + 7 + 32) + 8 * (uint64_t)rawlen;   /* upper bound */

    if ((uint64_t)(d->oend - d->o) * 8 < d->bn + (sto < fix ? (sto < dyn ? sto : dyn) : (fix < dyn ? fix : dyn)) + 7)
        return 0;
    memset(lf, 0, 288 * sizeof *lf);
    memset(df, 0, 32 * sizeof *df);

    if (sto <= fix && sto <= dyn) {
        /* stored: pieces of at most 65535 bytes, LEN and ~LEN after alignment */
        do {
            size_t k = rawlen < 65535 ? rawlen : 65535;
            pt__df_put(d, (uint32_t)(last && k == rawlen), 3);
            pt__df_put(d, 0, (8 - d->bn) & 7);       /* byte-align */
            d->o[0] = (uint8_t)k; d->o[1] = (uint8_t)(k >> 8);
            d->o[2] = (uint8_t)~k; d->o[3] = (uint8_t)(~k >> 8);
            if (k) memcpy(d->o + 4, raw, k);
            d->o += 4 + k; raw += k; rawlen -= k;
        } while (rawlen);
        return 1;
    }
    if (fix <= dyn) {
        pt__df_put(d, last | 2u, 3);
        lc = d->fcode; ll = d->flen; dc = d->fcode + 288; dl = d->flen + 288;
    } else {
        pt__df_put(d, last | 4u, 3);
        pt__df_codes(d->llen, 286, d->lcode);
        pt__df_codes(d->dlen, 30, d->dcode);
        pt__df_codes(d->clen, 19, d->ccode);
        pt__df_put(d, nlit - 257, 5);
        pt__df_put(d, ndist - 1, 5);
        pt__df_put(d, ncl - 4, 4);
        for (i = 0; i < ncl; i++) pt__df_put(d, d->clen[pt__df_corder[i]], 3);
        for (i = 0; i < ntok; i++) {
            v = d->tok[i] & 31u;
            pt__df_put(d, d->ccode[v], d->clen[v]);
            if (v >= 16) pt__df_put(d, (uint32_t)d->tok[i] >> 5, v == 16 ? 2u : v == 17 ? 3u : 7u);
        }
        lc = d->lcode; ll = d->llen; dc = d->dcode; dl = d->dlen;
    }
    {   /* the hot loop, on local copies of the writer */
        uint8_t *o = d->o;
        uint64_t bb = d->bb, x;
        unsigned bn = d->bn, nb;
        for (i = 0; i < nsym; i++) {
            uint32_t s = d->sym[i], len = s & 0xffff, dm1 = (s >> 16) - 1;
            if (s < 0x10000) { PT__DF_PUT(o, bb, bn, lc[s], ll[s]); continue; }
            /* a whole match in one put: <= 15+5 + 15+13 = 48 bits */
            v = d->lsym[len - 3];
            j = pt__df_dcode(d, dm1);
            x = lc[257 + v] | (uint64_t)(len - pt__df_lbase[v]) << ll[257 + v];
            nb = ll[257 + v] + (unsigned)pt__df_lext[v];
            x |= (uint64_t)(dc[j] | (dm1 + 1 - pt__df_dbase[j]) << dl[j]) << nb;
            PT__DF_PUT(o, bb, bn, x, nb + dl[j] + pt__df_dext[j]);
        }
        PT__DF_PUT(o, bb, bn, lc[256], ll[256]);
        d->o = o; d->bb = bb; d->bn = bn;
    }
    return 1;
}

/* Length of the common prefix of a and b (b is a's match source, earlier in
   the same buffer), starting after len known-equal bytes, at most max. */
PT__PRIVATE uint32_t pt__df_extend(const uint8_t *a, const uint8_t *b, uint32_t len, uint32_t max) {
    uint64_t x, y;
    while (len + 8 <= max) {
        memcpy(&x, a + len, 8);
        memcpy(&y, b + len, 8);
        if (x != y) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return len + (uint32_t)__builtin_ctzll(x ^ y) / 8;
#else
            break;
#endif
        }
        len += 8;
    }
    while (len < max && a[len] == b[len]) len++;
    return len;
}

PT__PRIVATE size_t pt__gzip(pt__deflate *d, const void *in_, size_t n, void *out_, size_t cap) {
    static const uint8_t hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255};
    const uint8_t *in = (const uint8_t *)in_;
    uint8_t *out = (uint8_t *)out_;
    size_t p = 0, bstart = 0, lim = n > 3 ? n - 3 : 0;  /* p < lim: 4 bytes readable */
    uint32_t base = d->next_base, miss = 0, crc;
    unsigned nsym = 0;
    int ok = 1;

    if (cap < 10 + 8 + 2) return 0;
    memcpy(out, hdr, 10);
    d->o = out + 10; d->oend = out + cap - 8; d->bb = 0; d->bn = 0;
    memset(d->lfreq, 0, sizeof d->lfreq);   /* a failed call may leave counts */
    memset(d->dfreq, 0, sizeof d->dfreq);
    /* Hash heads hold base + position. Each call starts 32769 past the last
       position of the previous one, so old entries are out of the window
       and the 128 KiB table never needs clearing, except when the uint32
       positions approach wrapping (checked at block boundaries, where at
       most PT__DF_BLOCK*258 bytes have passed). */
    if (base > PT__DF_LIMIT) { memset(d->head, 0, sizeof d->head); base = PT__DF_WIN + 1; }
    while (p < lim) {
        uint32_t v, h, cur, dist, len, k, step;
        if (nsym >= PT__DF_BLOCK) {
            if (!pt__df_block(d, nsym, in + bstart, p - bstart, 0)) { ok = 0; goto done; }
            nsym = 0; bstart = p;
            if (base + (uint32_t)p > PT__DF_LIMIT) {
                memset(d->head, 0, sizeof d->head);
                base = PT__DF_WIN + 1 - (uint32_t)p;   /* mod 2^32, by design */
            }
        }
        v = pt__le32(in + p);
        h = (v * 0x9E3779B1u) >> (32 - PT__DF_HBITS);
        cur = base + (uint32_t)p;
        dist = cur - d->head[h];
        d->head[h] = cur;
        if (dist - 1 < PT__DF_WIN && pt__le32(in + p - dist) == v) {
            k = n - p < 258 ? (uint32_t)(n - p) : 258;
            len = pt__df_extend(in + p, in + p - dist, 4, k);
            d->sym[nsym++] = dist << 16 | len;
            d->lfreq[257 + d->lsym[len - 3]]++;
            d->dfreq[pt__df_dcode(d, dist - 1)]++;
            /* Index the last two positions of the match: the next repeat in
               JSON-like text tends to continue where this one ended. */
            for (k = len - 2; k < len && p + k < lim; k++)
                d->head[(pt__le32(in + p + k) * 0x9E3779B1u) >> (32 - PT__DF_HBITS)] = cur + k;
            p += len;
            miss = 0;
        } else {
            /* Literal run. After many misses in a row step up (LZ4-style) so
               incompressible data is skipped fast; it ends up stored anyway. */
            step = 1 + (miss++ >> 5);
            if (step > 8) step = 8;
            for (k = 0; k < step && p < lim; k++, p++) {
                d->sym[nsym++] = in[p];
                d->lfreq[in[p]]++;
            }
        }
    }
    for (; p < n; p++) { d->sym[nsym++] = in[p]; d->lfreq[in[p]]++; }  /* <= 3 + slack */
    ok = pt__df_block(d, nsym, in + bstart, n - bstart, 1);
done:   /* also on failure: heads written so far must fall out of the window */
    d->next_base = base + (uint32_t)p + PT__DF_WIN + 1;
    if (!ok) return 0;
    pt__df_put(d, 0, (8 - d->bn) & 7);
    crc = pt__crc32(0, in, n);
    out = d->o;
    out[0] = (uint8_t)crc; out[1] = (uint8_t)(crc >> 8); out[2] = (uint8_t)(crc >> 16); out[3] = (uint8_t)(crc >> 24);
    out[4] = (uint8_t)n; out[5] = (uint8_t)(n >> 8); out[6] = (uint8_t)(n >> 16); out[7] = (uint8_t)(n >> 24);
    return (size_t)(out + 8 - (uint8_t *)out_);
}
#else
/* No built-in encoder: gzip comes from zlib, libdeflate or cfg.gzip, and
   pt_client_new refuses enable_gzip without one (pt__build_check). */
typedef struct pt__deflate pt__deflate;
PT__PRIVATE pt__deflate *pt__deflate_new(void) { return NULL; }
PT__PRIVATE void pt__deflate_free(pt__deflate *d) { (void)d; }
PT__PRIVATE size_t pt__gzip_bound(size_t n) { return n + n / 1000 + 64; }
PT__PRIVATE size_t pt__gzip(pt__deflate *d, const void *in, size_t n, void *out, size_t cap) { (void)d; (void)in; (void)n; (void)out; (void)cap; return 0; }
#endif /* PT__DEFLATE */

/* ==== [pt:curl] ========================================================== */
#if PT__CURL
/* ---- the libcurl function table ----
   One table serves both builds. With PACKTRACK_USE_CURL it holds the linked
   functions from the start; otherwise pt__curl_load() fills it from
   PACKTRACK_CURL_LIBRARY (libcurl.so.4, libcurl.4.dylib on macOS) with
   dlopen, when the first client with an https:// base_url and no HTTP hook
   is made, and the library stays loaded for the life of the process. The
   few types and constants used are declared here with libcurl's ABI values
   (stable since 7.x; a linked build checks them against curl.h), so loading
   needs no curl header at build time. */
#if PT__CURL_LINKED
typedef CURL pt__curl_easy;
typedef CURLM pt__curl_multi;
typedef CURLcode pt__curl_code;
typedef CURLMcode pt__curl_mcode;
typedef CURLoption pt__curl_opt;
typedef CURLINFO pt__curl_info;
typedef CURLMsg pt__curl_msg;
typedef struct curl_slist pt__curl_slist;
typedef struct curl_waitfd pt__curl_waitfd;
typedef curl_off_t pt__curl_off;
#else
typedef struct pt__curl_easy_s pt__curl_easy;
typedef struct pt__curl_multi_s pt__curl_multi;
typedef int pt__curl_code;
typedef int pt__curl_mcode;
typedef int pt__curl_opt;
typedef int pt__curl_info;
typedef struct pt__curl_msg { int msg; pt__curl_easy *easy_handle; union { void *whatever; pt__curl_code result; } data; } pt__curl_msg;
typedef struct pt__curl_slist { char *data; struct pt__curl_slist *next; } pt__curl_slist;
typedef struct pt__curl_waitfd_s pt__curl_waitfd;
typedef int64_t pt__curl_off;             /* curl_off_t: 64 bits wherever libcurl.so.4 is built */
#endif
#define PT__CURL_GLOBAL_DEFAULT 3L
#define PT__CURL_ERROR_SIZE 256
#define PT__CURLPROTO_HTTP 1L
#define PT__CURLPROTO_HTTPS 2L
#define PT__CURLMSG_DONE 1
#define PT__CURLOPT_WRITEDATA 10001
#define PT__CURLOPT_URL 10002
#define PT__CURLOPT_PROXY 10004
#define PT__CURLOPT_ERRORBUFFER 10010
#define PT__CURLOPT_POSTFIELDS 10015
#define PT__CURLOPT_HTTPHEADER 10023
#define PT__CURLOPT_HEADERDATA 10029
#define PT__CURLOPT_CUSTOMREQUEST 10036
#define PT__CURLOPT_CAINFO 10065
#define PT__CURLOPT_CAPATH 10097
#define PT__CURLOPT_PRIVATE 10103
#define PT__CURLOPT_PROTOCOLS_STR 10318
#define PT__CURLOPT_PROTOCOLS 181
#define PT__CURLOPT_NOPROGRESS 43
#define PT__CURLOPT_NOBODY 44
#define PT__CURLOPT_POST 47
#define PT__CURLOPT_SSL_VERIFYPEER 64
#define PT__CURLOPT_HTTPGET 80
#define PT__CURLOPT_SSL_VERIFYHOST 81
#define PT__CURLOPT_NOSIGNAL 99
#define PT__CURLOPT_TIMEOUT_MS 155
#define PT__CURLOPT_CONNECTTIMEOUT_MS 156
#define PT__CURLOPT_POSTFIELDSIZE_LARGE 30120
#define PT__CURLOPT_WRITEFUNCTION 20011
#define PT__CURLOPT_HEADERFUNCTION 20079
#define PT__CURLINFO_PRIVATE 0x100015
#define PT__CURLINFO_OS_ERRNO 0x200019
#define PT__CURLINFO_REQUEST_SIZE 0x20000C
#define PT__CURLE_OK 0
#define PT__CURLE_UNSUPPORTED_PROTOCOL 1
#define PT__CURLE_FAILED_INIT 2
#define PT__CURLE_URL_MALFORMAT 3
#define PT__CURLE_COULDNT_RESOLVE_PROXY 5
#define PT__CURLE_COULDNT_RESOLVE_HOST 6
#define PT__CURLE_COULDNT_CONNECT 7
#define PT__CURLE_WEIRD_SERVER_REPLY 8
#define PT__CURLE_WRITE_ERROR 23
#define PT__CURLE_OUT_OF_MEMORY 27
#define PT__CURLE_OPERATION_TIMEDOUT 28
#define PT__CURLE_SSL_CONNECT_ERROR 35
#define PT__CURLE_UNKNOWN_OPTION 48
#define PT__CURLE_GOT_NOTHING 52
#define PT__CURLE_SSL_ENGINE_NOTFOUND 53
#define PT__CURLE_SSL_ENGINE_SETFAILED 54
#define PT__CURLE_SEND_ERROR 55
#define PT__CURLE_RECV_ERROR 56
#define PT__CURLE_SSL_CERTPROBLEM 58
#define PT__CURLE_SSL_CIPHER 59
#define PT__CURLE_PEER_FAILED_VERIFICATION 60
#define PT__CURLE_USE_SSL_FAILED 64
#define PT__CURLE_SSL_ENGINE_INITFAILED 66
#define PT__CURLE_SSL_CACERT_BADFILE 77
#define PT__CURLE_SSL_SHUTDOWN_FAILED 80
#define PT__CURLE_SSL_CRL_BADFILE 82
#define PT__CURLE_SSL_ISSUER_ERROR 83
#define PT__CURLE_SSL_PINNEDPUBKEYNOTMATCH 90
#define PT__CURLE_SSL_INVALIDCERTSTATUS 91
#define PT__CURLE_PROXY 97
#define PT__CURLE_SSL_CLIENTCERT 98
#define PT__CURLM_OK 0
#define PT__CURLM_OUT_OF_MEMORY 3
#if PT__CURL_LINKED   /* the values above are libcurl's */
PT__STATIC_ASSERT(curl_abi_opt, PT__CURLOPT_URL == (int)CURLOPT_URL && PT__CURLOPT_PRIVATE == (int)CURLOPT_PRIVATE
                  && PT__CURLOPT_POSTFIELDSIZE_LARGE == (int)CURLOPT_POSTFIELDSIZE_LARGE && PT__CURLOPT_HEADERFUNCTION == (int)CURLOPT_HEADERFUNCTION
                  && PT__CURLOPT_CONNECTTIMEOUT_MS == (int)CURLOPT_CONNECTTIMEOUT_MS && PT__CURLOPT_SSL_VERIFYHOST == (int)CURLOPT_SSL_VERIFYHOST
                  && PT__CURLOPT_CAPATH == (int)CURLOPT_CAPATH && PT__CURLOPT_WRITEFUNCTION == (int)CURLOPT_WRITEFUNCTION);
PT__STATIC_ASSERT(curl_abi_info, PT__CURLINFO_PRIVATE == (int)CURLINFO_PRIVATE && PT__CURLINFO_OS_ERRNO == (int)CURLINFO_OS_ERRNO
                  && PT__CURLINFO_REQUEST_SIZE == (int)CURLINFO_REQUEST_SIZE && PT__CURL_ERROR_SIZE == CURL_ERROR_SIZE);
PT__STATIC_ASSERT(curl_abi_code, PT__CURLE_PEER_FAILED_VERIFICATION == (int)CURLE_PEER_FAILED_VERIFICATION
                  && PT__CURLE_SSL_INVALIDCERTSTATUS == (int)CURLE_SSL_INVALIDCERTSTATUS && PT__CURLE_GOT_NOTHING == (int)CURLE_GOT_NOTHING
                  && PT__CURLE_UNKNOWN_OPTION == (int)CURLE_UNKNOWN_OPTION && PT__CURLMSG_DONE == (int)CURLMSG_DONE);
#endif

typedef struct pt__curl_api {
    pt__curl_code   (*global_init)(long);
    pt__curl_easy  *(*easy_init)(void);
    void            (*easy_cleanup)(pt__curl_easy *);
    void            (*easy_reset)(pt__curl_easy *);
    pt__curl_code   (*easy_setopt)(pt__curl_easy *, pt__curl_opt, ...);
    pt__curl_code   (*easy_getinfo)(pt__curl_easy *, pt__curl_info, ...);
    const char     *(*easy_strerror)(pt__curl_code);
    pt__curl_multi *(*multi_init)(void);
    pt__curl_mcode  (*multi_cleanup)(pt__curl_multi *);
    pt__curl_mcode  (*multi_add_handle)(pt__curl_multi *, pt__curl_easy *);
    pt__curl_mcode  (*multi_remove_handle)(pt__curl_multi *, pt__curl_easy *);
    pt__curl_mcode  (*multi_perform)(pt__curl_multi *, int *);
    pt__curl_msg   *(*multi_info_read)(pt__curl_multi *, int *);
    pt__curl_mcode  (*multi_wait)(pt__curl_multi *, pt__curl_waitfd *, unsigned, int, int *);
    pt__curl_mcode  (*multi_poll)(pt__curl_multi *, pt__curl_waitfd *, unsigned, int, int *);   /* 7.66+; may be NULL */
    pt__curl_slist *(*slist_append)(pt__curl_slist *, const char *);
    void            (*slist_free_all)(pt__curl_slist *);
} pt__curl_api;

#if PT__CURL_LINKED
static pt__curl_api pt__cu = {
    curl_global_init, curl_easy_init, curl_easy_cleanup, curl_easy_reset, curl_easy_setopt, curl_easy_getinfo,
    curl_easy_strerror, curl_multi_init, curl_multi_cleanup, curl_multi_add_handle, curl_multi_remove_handle,
    curl_multi_perform, curl_multi_info_read, curl_multi_wait,
#if LIBCURL_VERSION_NUM >= 0x074200
    curl_multi_poll,
#else
    NULL,
#endif
    curl_slist_append, curl_slist_free_all
};
static int pt__cu_loaded = 1;
#else
static pt__curl_api pt__cu;               /* filled once by pt__curl_load (registry lock) */
static int pt__cu_loaded;                 /* read under the registry lock, or after pt_client_new saw it set */
static const char *pt__curl_library = PACKTRACK_CURL_LIBRARY;   /* tests point it elsewhere */
#define PT__CURL_SYM(f, req) { "curl_" #f, offsetof(pt__curl_api, f), req }
static const struct { const char *name; size_t off; int required; } pt__curl_syms[] = {
    PT__CURL_SYM(global_init, 1), PT__CURL_SYM(easy_init, 1), PT__CURL_SYM(easy_cleanup, 1), PT__CURL_SYM(easy_reset, 1),
    PT__CURL_SYM(easy_setopt, 1), PT__CURL_SYM(easy_getinfo, 1), PT__CURL_SYM(easy_strerror, 1), PT__CURL_SYM(multi_init, 1),
    PT__CURL_SYM(multi_cleanup, 1), PT__CURL_SYM(multi_add_handle, 1), PT__CURL_SYM(multi_remove_handle, 1),
    PT__CURL_SYM(multi_perform, 1), PT__CURL_SYM(multi_info_read, 1), PT__CURL_SYM(multi_wait, 1), PT__CURL_SYM(multi_poll, 0),
    PT__CURL_SYM(slist_append, 1), PT__CURL_SYM(slist_free_all, 1)
};
PT__STATIC_ASSERT(curl_fnptr_size, sizeof(void *) == sizeof(void (*)(void)));

/* Resolves every function of the table from the library `name` into *api.
   0 ok; -1: the library is not there (msg says what to install); -2: it
   is, but lacks a function (msg names it). *api is only touched on success
   paths' copy, so a failure leaves the process's table as it was. */
PT__PRIVATE PT__COLD int pt__curl_resolve(const char *name, pt__curl_api *api, void **handle, char *msg, size_t cap) {
    char why[200];
    pt__curl_api t;
    size_t i;
    void *h = pt__dl_open(name, why, sizeof why);
    if (!h) {
        size_t nl = strlen(name);
        const char *w = strncmp(why, name, nl) == 0 && why[nl] == ':' ? why + nl + 1 : why;   /* dlerror repeats the name */
        while (*w == ' ') w++;
        pt__fmt(msg, cap, "https needs libcurl; %.40s: %.60s. Install libcurl (Debian/Ubuntu: libcurl4) or build with PACKTRACK_USE_CURL (-lcurl)", name, w);
        return -1;
    }
    memset(&t, 0, sizeof t);
    for (i = 0; i < sizeof pt__curl_syms / sizeof pt__curl_syms[0]; i++) {
        void *f = pt__dl_sym(h, pt__curl_syms[i].name);
        if (!f && pt__curl_syms[i].required) {
            pt__fmt(msg, cap, "https needs libcurl; %.40s has no %s (not libcurl, or older than 7.28). Install libcurl (Debian/Ubuntu: libcurl4) or build with PACKTRACK_USE_CURL (-lcurl)", name, pt__curl_syms[i].name);
            pt__dl_close(h);
            return -2;
        }
        memcpy((char *)&t + pt__curl_syms[i].off, &f, sizeof f);
    }
    *api = t;
    *handle = h;
    return 0;
}
#endif

/* Makes the table usable: 0 ok, else -1 with msg (PT_ERR_CONFIG text). */
PT__PRIVATE PT__COLD int pt__curl_load(char *msg, size_t cap) {
#if PT__CURL_LINKED
    (void)msg; (void)cap;
    return 0;
#else
    int rc = 0;
    pt__reg_lock();
    if (!pt__cu_loaded) {
        void *h = NULL;
        pt__curl_api t;
        if (pt__curl_resolve(pt__curl_library, &t, &h, msg, cap) == 0) { pt__cu = t; pt__cu_loaded = 1; }   /* h: never closed */
        else rc = -1;
    }
    pt__reg_unlock();
    return rc;
#endif
}

/* Typed setters: the table's setopt is variadic, these pass the right type. */
PT__PRIVATE void pt__cu_setl(pt__curl_easy *e, int opt, long v) { pt__cu.easy_setopt(e, (pt__curl_opt)opt, v); }
PT__PRIVATE void pt__cu_setp(pt__curl_easy *e, int opt, const void *v) { pt__cu.easy_setopt(e, (pt__curl_opt)opt, v); }
typedef size_t (*pt__curl_cb)(char *, size_t, size_t, void *);
PT__PRIVATE void pt__cu_setf(pt__curl_easy *e, int opt, pt__curl_cb f) { pt__cu.easy_setopt(e, (pt__curl_opt)opt, f); }
PT__PRIVATE pt__curl_code pt__cu_sets(pt__curl_easy *e, int opt, const char *v) { return pt__cu.easy_setopt(e, (pt__curl_opt)opt, v); }

/* libcurl transport: the same pt_http_fn contract as pt__http_builtin, plus
   https, proxies and CA options. Each pt__conn owns one easy handle and one
   multi handle (kept as the easy handle's CURLOPT_PRIVATE); the multi owns
   the connection cache, so keep-alive connections and TLS sessions carry
   over between requests on the same pt__conn. The transfer is driven with
   curl_multi_poll in slices of at most 10 ms, so a close deadline
   (req->cancelled) cuts it off within about 10 ms even while the server is
   silent (CURLOPT_XFERINFOFUNCTION alone is called too rarely when idle).

   curl_global_init(CURL_GLOBAL_DEFAULT) runs once per process, under the
   registry lock, before our first handle is made. libcurl older than 7.84
   does not make it thread-safe against other threads using curl, so a host
   that also uses curl should call curl_global_init itself at start-up,
   before starting threads; libcurl counts the calls, ours is then a no-op.
   We never call curl_global_cleanup: the host, or another library in the
   process, may still be using curl. */
#define PT__CURL_SLICE_MS 10

static int pt__curl_ready;               /* curl_global_init succeeded (registry lock) */
PT__PRIVATE int pt__curl_global_init(void) {
    int ok;
    pt__reg_lock();
    if (!pt__curl_ready && pt__cu.global_init(PT__CURL_GLOBAL_DEFAULT) == PT__CURLE_OK) pt__curl_ready = 1;
    ok = pt__curl_ready;
    pt__reg_unlock();
    return ok;
}

typedef struct pt__curl_xfer {
    pt_http_response *resp;
    uint64_t body_total;
    int      status;                     /* of the head being read */
    int      final_status;               /* set once a complete non-1xx head arrived */
    int      cut;                        /* body passed PT__BODY_DRAIN_MAX: aborted on purpose */
    int      bad_head;                   /* a head the built-in client would refuse: aborted */
    int64_t  content_length;             /* -1: none yet in this head */
} pt__curl_xfer;

/* Header lines, status lines included. Keeps the final response's status
   (only once its head is complete, like the built-in client) and Retry-After.
   A Content-Length that is not a number, overflows, or contradicts an
   earlier one makes the response malformed, as in pt__http_parse_head (curl
   would read such a body until the connection closes): the short count
   aborts the transfer. */
PT__PRIVATE size_t pt__curl_on_header(char *p, size_t size, size_t nitems, void *ud) {
    pt__curl_xfer *x = (pt__curl_xfer *)ud;
    size_t n = size * nitems, vl, i;
    const char *v, *ve;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {          /* a status line: a new head (after a 1xx) */
        x->resp->retry_after[0] = 0;
        x->resp->location[0] = 0;
        x->status = 0;
        x->content_length = -1;
        for (i = 5; i < n && p[i] != ' '; i++) {}
        if (i + 3 < n && p[i + 1] >= '1' && p[i + 1] <= '5' && p[i + 2] >= '0' && p[i + 2] <= '9' && p[i + 3] >= '0' && p[i + 3] <= '9')
            x->status = (p[i + 1] - '0') * 100 + (p[i + 2] - '0') * 10 + (p[i + 3] - '0');
        return n;
    }
    if ((n == 2 && p[0] == '\r' && p[1] == '\n') || (n == 1 && p[0] == '\n')) {   /* end of a head */
        if (x->status >= 200) x->final_status = x->status;
        return n;
    }
    if (n > 15 && pt__strncaseeq(p, "content-length:", 15)) {
        int64_t cl = 0;
        v = p + 15; ve = p + n;
        while (v < ve && (*v == ' ' || *v == '\t')) v++;
        while (ve > v && (ve[-1] == '\r' || ve[-1] == '\n' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        if (v == ve) x->bad_head = 1;
        for (; v < ve && !x->bad_head; v++) {
            if (*v < '0' || *v > '9' || cl > (INT64_MAX - 9) / 10) x->bad_head = 1;
            else cl = cl * 10 + (*v - '0');
        }
        if (!x->bad_head && x->content_length >= 0 && x->content_length != cl) x->bad_head = 1;
        x->content_length = cl;
        return x->bad_head ? 0 : n;
    }
    if (n > 12 && pt__strncaseeq(p, "retry-after:", 12)) {
        v = p + 12; ve = p + n;
        while (v < ve && (*v == ' ' || *v == '\t')) v++;
        while (ve > v && (ve[-1] == '\r' || ve[-1] == '\n' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        vl = PT__MIN((size_t)(ve - v), sizeof x->resp->retry_after - 1);
        memcpy(x->resp->retry_after, v, vl);
        x->resp->retry_after[vl] = 0;
    }
    if (n > 9 && pt__strncaseeq(p, "location:", 9)) {
        v = p + 9; ve = p + n;
        while (v < ve && (*v == ' ' || *v == '\t')) v++;
        while (ve > v && (ve[-1] == '\r' || ve[-1] == '\n' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        vl = PT__MIN((size_t)(ve - v), sizeof x->resp->location - 1);
        memcpy(x->resp->location, v, vl);
        x->resp->location[vl] = 0;
    }
    return n;
}
/* Body bytes: the first ones go to body_head, the rest is counted and
   dropped; past PT__BODY_DRAIN_MAX a short count makes curl abort the
   transfer (PT__CURLE_WRITE_ERROR) and close the connection. */
PT__PRIVATE size_t pt__curl_on_body(char *p, size_t size, size_t nmemb, void *ud) {
    pt__curl_xfer *x = (pt__curl_xfer *)ud;
    pt_http_response *r = x->resp;
    size_t n = size * nmemb, k = PT__MIN(n, sizeof r->body_head - 1 - r->body_head_len);
    if (k) { memcpy(r->body_head + r->body_head_len, p, k); r->body_head_len += k; }
    x->body_total += n;
    if (x->body_total > PT__BODY_DRAIN_MAX) { x->cut = 1; return 0; }
    return n;
}

PT__PRIVATE pt__curl_multi *pt__curl_multi_of(pt__curl_easy *e) {
    char *p = NULL;
    pt__cu.easy_getinfo(e, (pt__curl_info)PT__CURLINFO_PRIVATE, &p);
    return (pt__curl_multi *)(void *)p;
}
PT__PRIVATE void pt__curl_conn_free(pt__conn *cn) {
    pt__curl_multi *m;
    if (!cn->curl) return;
    m = pt__curl_multi_of((pt__curl_easy *)cn->curl);
    pt__cu.easy_cleanup((pt__curl_easy *)cn->curl);
    if (m) pt__cu.multi_cleanup(m);
    cn->curl = NULL;
}
PT__PRIVATE int pt__curl_conn_open(pt__conn *cn) {
    pt__curl_easy *e;
    pt__curl_multi *m;
    if (cn->curl) return 0;
    if (!pt__curl_global_init()) return -1;
    e = pt__cu.easy_init();
    m = pt__cu.multi_init();
    if (!e || !m) {
        if (e) pt__cu.easy_cleanup(e);
        if (m) pt__cu.multi_cleanup(m);
        return -1;
    }
    pt__cu_setp(e, PT__CURLOPT_PRIVATE, (void *)m);
    cn->curl = e;
    return 0;
}

/* Maps a failed transfer to a result and a message (curl's text: it never
   holds request headers, so never the API key). */
PT__PRIVATE pt_result pt__curl_fail(int cc, long os_errno, long sent, const char *text, const pt_http_request *req, pt_http_response *resp) {
    char *m = resp->error, host[80];
    size_t cap = sizeof resp->error;
    /* the proxy, if the failure was its: the configured one or curl's *_proxy */
    int via_proxy = (req->proxy && req->proxy[0]) || pt__has_word(text, "proxy");
    pt__url_host(req->url, host, sizeof host);
    switch (cc) {
    case PT__CURLE_COULDNT_RESOLVE_PROXY:
        return pt__proxy_fail(resp, req->proxy, "could not resolve the proxy host", text);
    case PT__CURLE_COULDNT_RESOLVE_HOST:
        resp->not_sent = 1;
        pt__fmt(m, cap, "could not resolve host %.60s: %.40s", host, text);
        return PT_ERR_RESOLVE;
    case PT__CURLE_COULDNT_CONNECT:
        if (via_proxy) return pt__proxy_fail(resp, req->proxy, "could not connect", text);
        resp->not_sent = 1;
        pt__fmt(m, cap, "could not connect to %.60s (%s): %.40s", host, pt__sock_err_refused((int)os_errno) ? "connection refused" : "network error", text);
        return PT_ERR_CONNECT;
    case PT__CURLE_PROXY:
        return pt__proxy_fail(resp, req->proxy, "refused or failed the tunnel", text);
    case PT__CURLE_RECV_ERROR:
        if (!sent && pt__has_word(text, "CONNECT")) return pt__proxy_fail(resp, req->proxy, "refused the tunnel", text);
        pt__fmt(m, cap, "network error: %s", text);
        return PT_ERR_NETWORK;
    case PT__CURLE_OPERATION_TIMEDOUT:
        pt__fmt(m, cap, "timed out: %s", text);
        return PT_ERR_TIMEOUT;
    case PT__CURLE_PEER_FAILED_VERIFICATION:
        return pt__tls_fail(resp, pt__tls_cause(text), host, text);
    case PT__CURLE_SSL_CACERT_BADFILE:
        resp->not_sent = 1;
        pt__fmt(m, cap, "TLS: cannot use the CA certificates: %.60s; check ca_file/ca_path", text);
        return PT_ERR_TLS;
    case PT__CURLE_SSL_CONNECT_ERROR:
        resp->not_sent = 1;
        /* A reset or EOF during the handshake is the network, not TLS: retryable. */
        if (os_errno != 0 || strstr(text, "SSL_ERROR_SYSCALL") || strstr(text, "unexpected eof")) {
            pt__fmt(m, cap, "connection to %.40s lost during the TLS handshake: %.40s", host, text);
            return PT_ERR_NETWORK;
        }
        return pt__tls_fail(resp, PT__TLS_HANDSHAKE, host, text);
    case PT__CURLE_SSL_ENGINE_NOTFOUND: case PT__CURLE_SSL_ENGINE_SETFAILED: case PT__CURLE_SSL_CERTPROBLEM:
    case PT__CURLE_SSL_CIPHER: case PT__CURLE_SSL_ENGINE_INITFAILED: case PT__CURLE_USE_SSL_FAILED:
    case PT__CURLE_SSL_SHUTDOWN_FAILED: case PT__CURLE_SSL_CRL_BADFILE: case PT__CURLE_SSL_ISSUER_ERROR:
    case PT__CURLE_SSL_PINNEDPUBKEYNOTMATCH: case PT__CURLE_SSL_INVALIDCERTSTATUS:
    case PT__CURLE_SSL_CLIENTCERT:
        return pt__tls_fail(resp, PT__TLS_HANDSHAKE, host, text);
    case PT__CURLE_OUT_OF_MEMORY:
        pt__fmt(m, cap, "out of memory in libcurl");
        return PT_ERR_NO_MEMORY;
    case PT__CURLE_URL_MALFORMAT:
        resp->not_sent = 1;
        pt__fmt(m, cap, "bad request URL: %s", text);
        return PT_ERR_INVALID_ARG;
    case PT__CURLE_UNSUPPORTED_PROTOCOL:
        if (sent) {   /* curl's word for an answer in an unknown HTTP version */
            pt__fmt(m, cap, "malformed HTTP response: %s", text);
            return PT_ERR_PROTOCOL;
        }
        resp->not_sent = 1;
        pt__fmt(m, cap, "this libcurl cannot do it: %s", text);
        return PT_ERR_UNSUPPORTED;
    case PT__CURLE_WEIRD_SERVER_REPLY:
        pt__fmt(m, cap, "malformed HTTP response: %s", text);
        return PT_ERR_PROTOCOL;
    default:
        pt__fmt(m, cap, "network error: %s", text);
        return PT_ERR_NETWORK;
    }
}

/* Appends "Name: value" (or "Name;" for an empty value, which curl would
   otherwise drop) to the list. 0 ok, -1 out of memory. */
PT__PRIVATE int pt__curl_header(pt__curl_slist **list, const char *name, const char *value) {
    char stack[512], *line = stack;
    size_t nn = strlen(name), vn = strlen(value);
    pt__curl_slist *t;
    if (nn + vn + 3 > sizeof stack && !(line = (char *)PT__MALLOC(nn + vn + 3))) return -1;
    memcpy(line, name, nn);
    if (vn) { line[nn] = ':'; line[nn + 1] = ' '; memcpy(line + nn + 2, value, vn); line[nn + 2 + vn] = 0; }
    else { line[nn] = ';'; line[nn + 1] = 0; }
    t = pt__cu.slist_append(*list, line);
    if (line != stack) PT__FREE(line);
    if (!t) return -1;
    *list = t;
    return 0;
}

/* ---- one request over libcurl, in steps (the pt__transport contract) ----
   start sets the transfer up and hands it to the connection's multi handle;
   step drives it with curl_multi_perform and waits with curl_multi_poll in
   slices of at most 10 ms, never past `until` (a pump with no budget gets
   one non-blocking perform); cancel abandons it (curl closes the half-used
   connection). The state lives in x->tp_state until the transfer ends. */
typedef struct pt__curl_st {
    pt__curl_xfer   x;                   /* what the callbacks fill */
    pt__curl_slist *hdrs;
    pt__curl_easy  *e;
    pt__curl_multi *m;
    int64_t         t0;
    char            errbuf[PT__CURL_ERROR_SIZE];
} pt__curl_st;

/* Takes the transfer off its multi handle and frees the state. */
PT__PRIVATE void pt__curl_release(pt__xfer *xf, long *os_errno, long *sent) {
    pt__curl_st *s = (pt__curl_st *)xf->tp_state;
    if (!s) return;
    if (os_errno) pt__cu.easy_getinfo(s->e, (pt__curl_info)PT__CURLINFO_OS_ERRNO, os_errno);
    if (sent) pt__cu.easy_getinfo(s->e, (pt__curl_info)PT__CURLINFO_REQUEST_SIZE, sent);
    /* Removing an unfinished transfer abandons it and closes its connection.
       Then drop the options that point into the state. */
    pt__cu.multi_remove_handle(s->m, s->e);
    pt__cu.easy_reset(s->e);
    pt__cu_setp(s->e, PT__CURLOPT_PRIVATE, (void *)s->m);
    pt__cu.slist_free_all(s->hdrs);
    PT__FREE(s);
    xf->tp_state = NULL;
}

/* Ends the transfer: done (with curl's code cc), cancelled, or timed out. */
PT__PRIVATE int pt__curl_finish(pt__xfer *xf, int done, int cc, int cancelled, int timed_out) {
    pt__curl_st *s = (pt__curl_st *)xf->tp_state;
    pt_http_response *resp = &xf->resp;
    pt__curl_xfer x = s->x;
    char errbuf[PT__CURL_ERROR_SIZE];
    const char *text;
    long os_errno = 0, sent = 0;
    int64_t t0 = s->t0;
    int status;
    memcpy(errbuf, s->errbuf, sizeof errbuf);
    pt__curl_release(xf, &os_errno, &sent);
    status = x.final_status;
    resp->status = status;
    resp->body_head[resp->body_head_len] = 0;
    if (x.bad_head) {
        pt__fmt(resp->error, sizeof resp->error, "malformed HTTP response head (Content-Length)");
        xf->result = PT_ERR_PROTOCOL;
        return PT__XF_DONE;
    }
    xf->result = PT_OK;
    if (done && cc == PT__CURLE_OK && status >= 200) return PT__XF_DONE;
    /* A status line arrived: a body problem does not hide a 2xx (the server
       accepted), nor any status when we cut an over-long body ourselves. */
    if (status >= 200 && (status < 300 || (done && cc == PT__CURLE_WRITE_ERROR && x.cut))) return PT__XF_DONE;
    if (cancelled || timed_out) {
        if (sent == 0) resp->not_sent = 1;
        if (cancelled) pt__fmt(resp->error, sizeof resp->error, "cut off at the deadline");
        else pt__fmt(resp->error, sizeof resp->error, "timed out after %lld ms", (long long)(pt__mono_ms() - t0));
        xf->result = cancelled ? PT_ERR_CANCELLED : PT_ERR_TIMEOUT;
        return PT__XF_DONE;
    }
    if (cc == PT__CURLE_OK) cc = PT__CURLE_WEIRD_SERVER_REPLY;
    text = errbuf[0] ? errbuf : pt__cu.easy_strerror((pt__curl_code)cc);
    xf->result = pt__curl_fail(cc, os_errno, sent, text, &xf->req, resp);
    if (xf->result == PT_ERR_TIMEOUT && sent == 0) resp->not_sent = 1;
    return PT__XF_DONE;
}

PT__PRIVATE int pt__curl_step(pt__xfer *xf, int64_t until) {
    pt__curl_st *s = (pt__curl_st *)xf->tp_state;
    if (!s) return PT__XF_DONE;
    for (;;) {
        int running = 0, left = 0, done = 0, cc = PT__CURLE_OK;
        pt__curl_msg *msg;
        int64_t now, wait_to;
        pt__curl_mcode mc = pt__cu.multi_perform(s->m, &running);
        if (mc != PT__CURLM_OK) return pt__curl_finish(xf, 1, mc == PT__CURLM_OUT_OF_MEMORY ? PT__CURLE_OUT_OF_MEMORY : PT__CURLE_FAILED_INIT, 0, 0);
        while ((msg = pt__cu.multi_info_read(s->m, &left)) != NULL)
            if (msg->msg == PT__CURLMSG_DONE && msg->easy_handle == s->e) { cc = (int)msg->data.result; done = 1; }
        if (done) return pt__curl_finish(xf, 1, cc, 0, 0);
        if (!running) return pt__curl_finish(xf, 1, PT__CURLE_GOT_NOTHING, 0, 0);
        if (xf->req.cancelled && xf->req.cancelled(&xf->req)) return pt__curl_finish(xf, 0, 0, 1, 0);
        now = pt__mono_ms();
        if (now >= xf->deadline_ms) return pt__curl_finish(xf, 0, 0, 0, 1);
        wait_to = PT__MIN(PT__MIN(xf->deadline_ms, until), now + PT__CURL_SLICE_MS);
        if (now >= until) { xf->wake_ms = wait_to > now ? wait_to : now + PT__CURL_SLICE_MS; return PT__XF_PENDING; }
        mc = (pt__cu.multi_poll ? pt__cu.multi_poll : pt__cu.multi_wait)(s->m, NULL, 0, (int)(wait_to - now), NULL);
        if (mc != PT__CURLM_OK) return pt__curl_finish(xf, 1, PT__CURLE_FAILED_INIT, 0, 0);
    }
}

PT__PRIVATE int pt__curl_start(pt__xfer *xf) {
    pt__conn *cn = (pt__conn *)xf->ctx;
    const pt_http_request *req = &xf->req;
    pt_http_response *resp = &xf->resp;
    pt__curl_st *s;
    pt__curl_easy *e;
    pt__curl_multi *m;
    int64_t now = pt__mono_ms();
    int oom = 0;
    size_t i;
    memset(resp, 0, sizeof *resp);
    xf->tp_state = NULL;
    xf->result = PT_OK;
    resp->not_sent = 1;   /* until the transfer is handed to curl */
    if (!pt__cu_loaded) {   /* pt_client_new loads it; a caller of pt__http_curl may not have */
        pt__fmt(resp->error, sizeof resp->error, "https needs libcurl, which is not loaded");
        xf->result = PT_ERR_UNSUPPORTED;
        return PT__XF_DONE;
    }
    if (req->cancelled && req->cancelled(req)) {
        pt__fmt(resp->error, sizeof resp->error, "cut off at the deadline before sending");
        xf->result = PT_ERR_CANCELLED;
        return PT__XF_DONE;
    }
    if (pt__curl_conn_open(cn) != 0 || !(s = (pt__curl_st *)PT__MALLOC(sizeof *s))) {
        pt__fmt(resp->error, sizeof resp->error, "libcurl initialisation failed");
        xf->result = PT_ERR_NO_MEMORY;
        return PT__XF_DONE;
    }
    memset(s, 0, sizeof *s);
    e = s->e = (pt__curl_easy *)cn->curl;
    m = s->m = pt__curl_multi_of(e);
    s->t0 = now;
    xf->deadline_ms = now + (req->timeout_ms > 0 ? req->timeout_ms : 10000);
    if (req->deadline_ms > 0 && req->deadline_ms < xf->deadline_ms) xf->deadline_ms = req->deadline_ms;
    for (i = 0; i < req->header_count && !oom; i++) oom = pt__curl_header(&s->hdrs, req->headers[i].name, req->headers[i].value);
    if (!oom) {   /* "Name:" with nothing after it removes curl's own header: no 100-continue wait */
        pt__curl_slist *t = pt__cu.slist_append(s->hdrs, "Expect:");
        if (t) s->hdrs = t; else oom = -1;
    }
    if (oom) {
        pt__cu.slist_free_all(s->hdrs);
        PT__FREE(s);
        xf->result = PT_ERR_NO_MEMORY;
        return PT__XF_DONE;
    }
    s->x.resp = resp;
    s->x.content_length = -1;
    /* A clean slate per request; the connection cache lives in the multi handle. */
    pt__cu.easy_reset(e);
    pt__cu_setp(e, PT__CURLOPT_PRIVATE, (void *)m);
    pt__cu_setp(e, PT__CURLOPT_URL, req->url);
    /* http and https only; libcurl before 7.85 knows only the bit mask */
    if (pt__cu_sets(e, PT__CURLOPT_PROTOCOLS_STR, "http,https") != PT__CURLE_OK)
        pt__cu_setl(e, PT__CURLOPT_PROTOCOLS, PT__CURLPROTO_HTTP | PT__CURLPROTO_HTTPS);
    pt__cu_setl(e, PT__CURLOPT_NOSIGNAL, 1L);
    pt__cu_setl(e, PT__CURLOPT_NOPROGRESS, 1L);
    pt__cu_setp(e, PT__CURLOPT_ERRORBUFFER, s->errbuf);
    pt__cu_setp(e, PT__CURLOPT_HTTPHEADER, s->hdrs);
    pt__cu_setl(e, PT__CURLOPT_CONNECTTIMEOUT_MS, (long)PT__MAX(PT__MIN((int64_t)(req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 5000), xf->deadline_ms - now), (int64_t)1));
    pt__cu_setl(e, PT__CURLOPT_TIMEOUT_MS, (long)PT__MAX(xf->deadline_ms - now, (int64_t)1));
    if (strcmp(req->method, "POST") == 0) {
        pt__cu_setl(e, PT__CURLOPT_POST, 1L);
        pt__cu_setp(e, PT__CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
        pt__cu.easy_setopt(e, (pt__curl_opt)PT__CURLOPT_POSTFIELDSIZE_LARGE, (pt__curl_off)req->body_len);
    } else if (strcmp(req->method, "GET") == 0) {
        pt__cu_setl(e, PT__CURLOPT_HTTPGET, 1L);
    } else {
        pt__cu_setp(e, PT__CURLOPT_CUSTOMREQUEST, req->method);
        if (strcmp(req->method, "HEAD") == 0) pt__cu_setl(e, PT__CURLOPT_NOBODY, 1L);
    }
    pt__cu_setf(e, PT__CURLOPT_HEADERFUNCTION, pt__curl_on_header);
    pt__cu_setp(e, PT__CURLOPT_HEADERDATA, (void *)&s->x);
    pt__cu_setf(e, PT__CURLOPT_WRITEFUNCTION, pt__curl_on_body);
    pt__cu_setp(e, PT__CURLOPT_WRITEDATA, (void *)&s->x);
    if (req->proxy && req->proxy[0]) pt__cu_setp(e, PT__CURLOPT_PROXY, req->proxy);   /* else: curl reads http(s)_proxy / no_proxy */
    if (req->ca_file && req->ca_file[0]) pt__cu_setp(e, PT__CURLOPT_CAINFO, req->ca_file);
    if (req->ca_path && req->ca_path[0]) pt__cu_setp(e, PT__CURLOPT_CAPATH, req->ca_path);
    /* Verification is on unless the user turned it off, and then both checks go. */
    pt__cu_setl(e, PT__CURLOPT_SSL_VERIFYPEER, req->insecure_skip_verify ? 0L : 1L);
    pt__cu_setl(e, PT__CURLOPT_SSL_VERIFYHOST, req->insecure_skip_verify ? 0L : 2L);
    if (pt__cu.multi_add_handle(m, e) != PT__CURLM_OK) {
        pt__cu.easy_reset(e);
        pt__cu_setp(e, PT__CURLOPT_PRIVATE, (void *)m);
        pt__cu.slist_free_all(s->hdrs);
        PT__FREE(s);
        pt__fmt(resp->error, sizeof resp->error, "libcurl refused the transfer");
        xf->result = PT_ERR_INTERNAL;
        return PT__XF_DONE;
    }
    resp->not_sent = 0;
    xf->tp_state = s;
    return pt__curl_step(xf, now);   /* one non-blocking perform */
}
PT__PRIVATE void pt__curl_cancel(pt__xfer *xf) { pt__curl_release(xf, NULL, NULL); }
static const pt__transport pt__tp_curl = { "libcurl", pt__curl_start, pt__curl_step, pt__curl_cancel };

/* One whole request over libcurl on this thread (tests, and a hook that
   wants the library's own client). user is a pt__conn. */
PT__PRIVATE pt_result pt__http_curl(const pt_http_request *req, pt_http_response *resp, void *user) {
    return pt__xfer_once(&pt__tp_curl, user, req, resp);
}
#endif /* PT__CURL */

/* ==== [pt:winhttp] ======================================================= */
#if PT__WINHTTP
/* WinHTTP transport (the Windows default): the same pt_http_fn contract as
   pt__http_builtin, for http and https, with the system certificate store
   and the system proxy settings. Each pt__conn owns one asynchronous
   WinHTTP session (its connection pool carries keep-alive and TLS sessions
   over) and the connect handle of its current host. A request runs its
   WinHTTP steps asynchronously; this thread waits on an event in slices of
   at most 10 ms, so a deadline or the close deadline (req->cancelled) cuts
   the request off by closing its handle within about 10 ms.

   The request context is shared with WinHTTP's callback thread: it is
   reference-counted (this thread, and the request handle until WinHTTP
   reports HANDLE_CLOSING) and holds the body copy and the read buffer,
   so nothing on this stack is touched after a cut-off.

   Not possible with WinHTTP: ca_file/ca_path (it trusts the Windows store
   only; pt_client_new refuses them for https). insecure_skip_verify sets
   SECURITY_FLAG_IGNORE_UNKNOWN_CA, _CERT_CN_INVALID, _CERT_DATE_INVALID
   and _CERT_WRONG_USAGE. Proxy: cfg.proxy when set (http://[user:pass@]host:port),
   else WINHTTP_ACCESS_TYPE_AUTOMATIC_PROXY (Windows 8.1 and later), else the
   Internet Options proxy of the user (WinHttpGetIEProxyConfigForCurrentUser),
   else WinHTTP's own setting (netsh winhttp). */
#define PT__WH_SLICE_MS 10
#ifndef WINHTTP_ACCESS_TYPE_AUTOMATIC_PROXY   /* SDKs before Windows 8.1 */
#define WINHTTP_ACCESS_TYPE_AUTOMATIC_PROXY 4
#endif
#define PT__WH_BUF 16384

typedef struct pt__wh_ctx {
    volatile LONG refs;                   /* this thread + the request handle */
    HANDLE ev;                            /* set by the callback when a step ends */
    volatile LONG sending;                /* WinHTTP began sending the request */
    volatile LONG received;               /* response bytes arrived */
    volatile LONG done;                   /* a step ended (with err) */
    DWORD err;                            /* 0, or the WinHTTP error of the step */
    DWORD secure_flags;                   /* WINHTTP_CALLBACK_STATUS_FLAG_* of a failed TLS check */
    DWORD got;                            /* bytes of the last read */
    char *body;                           /* a copy of the request body */
    char buf[PT__WH_BUF];
} pt__wh_ctx;

PT__PRIVATE void pt__wh_unref(pt__wh_ctx *x) {
    if (InterlockedDecrement(&x->refs) == 0) {
        CloseHandle(x->ev);
        PT__FREE(x->body);
        PT__FREE(x);
    }
}
PT__PRIVATE void CALLBACK pt__wh_callback(HINTERNET h, DWORD_PTR ctx, DWORD status, LPVOID info, DWORD len) {
    pt__wh_ctx *x = (pt__wh_ctx *)ctx;
    (void)h;
    if (!x) return;                       /* the session's and connect handles' notices */
    switch (status) {
    case WINHTTP_CALLBACK_STATUS_SENDING_REQUEST: InterlockedExchange(&x->sending, 1); break;
    case WINHTTP_CALLBACK_STATUS_RESPONSE_RECEIVED: if (info && len >= sizeof(DWORD) && *(const DWORD *)info) InterlockedExchange(&x->received, 1); break;
    case WINHTTP_CALLBACK_STATUS_SECURE_FAILURE: if (info && len >= sizeof(DWORD)) x->secure_flags |= *(const DWORD *)info; break;
    case WINHTTP_CALLBACK_STATUS_SENDREQUEST_COMPLETE:
    case WINHTTP_CALLBACK_STATUS_HEADERS_AVAILABLE:
        x->err = 0; InterlockedExchange(&x->done, 1); SetEvent(x->ev); break;
    case WINHTTP_CALLBACK_STATUS_DATA_AVAILABLE:
        x->got = info && len >= sizeof(DWORD) ? *(const DWORD *)info : 0; x->err = 0; InterlockedExchange(&x->done, 1); SetEvent(x->ev); break;
    case WINHTTP_CALLBACK_STATUS_READ_COMPLETE:
        x->got = len; x->err = 0; InterlockedExchange(&x->done, 1); SetEvent(x->ev); break;
    case WINHTTP_CALLBACK_STATUS_REQUEST_ERROR:
        x->err = info ? ((const WINHTTP_ASYNC_RESULT *)info)->dwError : ERROR_WINHTTP_INTERNAL_ERROR;
        if (!x->err) x->err = ERROR_WINHTTP_INTERNAL_ERROR;
        InterlockedExchange(&x->done, 1); SetEvent(x->ev); break;
    case WINHTTP_CALLBACK_STATUS_HANDLE_CLOSING: pt__wh_unref(x); break;
    default: break;
    }
}

/* UTF-8 to a NUL-terminated UTF-16 string (heap); NULL on failure. */
PT__PRIVATE WCHAR *pt__wh_wide(const char *s, size_t n) {
    int k = n ? MultiByteToWideChar(CP_UTF8, 0, s, (int)n, NULL, 0) : 0;
    WCHAR *w = (WCHAR *)PT__MALLOC(((size_t)(k > 0 ? k : 0) + 1) * sizeof(WCHAR));
    if (!w) return NULL;
    if (k > 0) MultiByteToWideChar(CP_UTF8, 0, s, (int)n, w, k);
    w[k > 0 ? k : 0] = 0;
    return w;
}

PT__PRIVATE void pt__winhttp_conn_free(pt__conn *cn) {
    if (cn->wh_connect) WinHttpCloseHandle((HINTERNET)cn->wh_connect);
    if (cn->wh_session) WinHttpCloseHandle((HINTERNET)cn->wh_session);
    cn->wh_connect = cn->wh_session = NULL;
    cn->wh_host[0] = 0;
}

/* The session: the configured proxy, else the system's. NULL on failure. */
PT__PRIVATE HINTERNET pt__wh_session(const pt_http_request *req) {
    HINTERNET s = NULL;
    if (req->proxy && req->proxy[0]) {
        char hp[300];
        WCHAR *w;
        pt__proxy_host(req->proxy, hp, sizeof hp);
        if ((w = pt__wh_wide(hp, strlen(hp))) != NULL) {
            s = WinHttpOpen(L"packtrack", WINHTTP_ACCESS_TYPE_NAMED_PROXY, w, WINHTTP_NO_PROXY_BYPASS, WINHTTP_FLAG_ASYNC);
            PT__FREE(w);
        }
        return s;
    }
    s = WinHttpOpen(L"packtrack", WINHTTP_ACCESS_TYPE_AUTOMATIC_PROXY, WINHTTP_NO_PROXY_NAME, WINHTTP_NO_PROXY_BYPASS, WINHTTP_FLAG_ASYNC);
    if (!s) {   /* before Windows 8.1: the user's Internet Options proxy, else WinHTTP's default */
        WINHTTP_CURRENT_USER_IE_PROXY_CONFIG ie;
        memset(&ie, 0, sizeof ie);
        if (WinHttpGetIEProxyConfigForCurrentUser(&ie) && ie.lpszProxy && ie.lpszProxy[0])
            s = WinHttpOpen(L"packtrack", WINHTTP_ACCESS_TYPE_NAMED_PROXY, ie.lpszProxy,
                            ie.lpszProxyBypass ? ie.lpszProxyBypass : WINHTTP_NO_PROXY_BYPASS, WINHTTP_FLAG_ASYNC);
        if (ie.lpszProxy) GlobalFree(ie.lpszProxy);
        if (ie.lpszProxyBypass) GlobalFree(ie.lpszProxyBypass);
        if (ie.lpszAutoConfigUrl) GlobalFree(ie.lpszAutoConfigUrl);
        if (!s) s = WinHttpOpen(L"packtrack", WINHTTP_ACCESS_TYPE_DEFAULT_PROXY, WINHTTP_NO_PROXY_NAME, WINHTTP_NO_PROXY_BYPASS, WINHTTP_FLAG_ASYNC);
    }
    return s;
}

/* The session and the connect handle for u on cn. 0 ok, -1 failure. */
PT__PRIVATE int pt__wh_open(pt__conn *cn, const pt_http_request *req, const pt__url *u) {
    char key[300];
    WCHAR *wh;
    pt__fmt(key, sizeof key, "%s:%d", u->host, u->port);
    if (cn->wh_connect && strcmp(cn->wh_host, key) == 0) return 0;
    if (cn->wh_connect) { WinHttpCloseHandle((HINTERNET)cn->wh_connect); cn->wh_connect = NULL; }
    if (!cn->wh_session) {
        HINTERNET s = pt__wh_session(req);
        DWORD redirects = WINHTTP_OPTION_REDIRECT_POLICY_NEVER;
        if (!s) return -1;
        if (WinHttpSetStatusCallback(s, pt__wh_callback, WINHTTP_CALLBACK_FLAG_ALL_COMPLETIONS | WINHTTP_CALLBACK_FLAG_HANDLES
                                     | WINHTTP_CALLBACK_FLAG_SECURE_FAILURE | WINHTTP_CALLBACK_FLAG_SEND_REQUEST
                                     | WINHTTP_CALLBACK_FLAG_RECEIVE_RESPONSE, 0)
            == WINHTTP_INVALID_STATUS_CALLBACK) { WinHttpCloseHandle(s); return -1; }
        WinHttpSetOption(s, WINHTTP_OPTION_REDIRECT_POLICY, &redirects, sizeof redirects);
        cn->wh_session = s;
    }
    pt__fmt(key, sizeof key, u->ipv6 ? "[%s]" : "%s", u->host);   /* WinHTTP wants IPv6 literals bracketed */
    if (!(wh = pt__wh_wide(key, strlen(key)))) return -1;
    pt__fmt(key, sizeof key, "%s:%d", u->host, u->port);
    cn->wh_connect = WinHttpConnect((HINTERNET)cn->wh_session, wh, (INTERNET_PORT)u->port, 0);
    PT__FREE(wh);
    if (!cn->wh_connect) return -1;
    strncpy(cn->wh_host, key, sizeof cn->wh_host - 1);
    cn->wh_host[sizeof cn->wh_host - 1] = 0;
    return 0;
}

/* Arms the context for the next step. */
PT__PRIVATE void pt__wh_arm(pt__wh_ctx *x) { ResetEvent(x->ev); x->err = 0; x->got = 0; InterlockedExchange(&x->done, 0); }

/* Maps a WinHTTP error to a result and a message naming the cause and host. */
PT__PRIVATE pt_result pt__wh_fail(DWORD e, DWORD secure_flags, int sending, const pt_http_request *req, pt_http_response *resp) {
    char host[80], num[32];
    int proxied = req->proxy && req->proxy[0];
    pt__url_host(req->url, host, sizeof host);
    pt__fmt(num, sizeof num, "WinHTTP error %lu", (unsigned long)e);
    if (!sending) resp->not_sent = 1;
    switch (e) {
    case ERROR_WINHTTP_NAME_NOT_RESOLVED:
        if (proxied) return pt__proxy_fail(resp, req->proxy, "could not resolve the proxy host", num);
        pt__fmt(resp->error, sizeof resp->error, "could not resolve host %.60s", host);
        resp->not_sent = 1;
        return PT_ERR_RESOLVE;
    case ERROR_WINHTTP_CANNOT_CONNECT:
        if (proxied) return pt__proxy_fail(resp, req->proxy, "could not connect", num);
        pt__fmt(resp->error, sizeof resp->error, "could not connect to %.60s (refused or unreachable)", host);
        resp->not_sent = 1;
        return PT_ERR_CONNECT;
    case ERROR_WINHTTP_TIMEOUT:
        pt__fmt(resp->error, sizeof resp->error, "timed out talking to %.60s", host);
        return PT_ERR_TIMEOUT;
    case ERROR_WINHTTP_SECURE_CERT_CN_INVALID: return pt__tls_fail(resp, PT__TLS_NAME, host, num);
    case ERROR_WINHTTP_SECURE_INVALID_CA: return pt__tls_fail(resp, PT__TLS_UNTRUSTED, host, "unknown CA");
    case ERROR_WINHTTP_SECURE_CERT_DATE_INVALID: return pt__tls_fail(resp, PT__TLS_DATE, host, num);
    case ERROR_WINHTTP_SECURE_FAILURE:
        if (secure_flags & WINHTTP_CALLBACK_STATUS_FLAG_CERT_CN_INVALID) return pt__tls_fail(resp, PT__TLS_NAME, host, num);
        if (secure_flags & WINHTTP_CALLBACK_STATUS_FLAG_INVALID_CA) return pt__tls_fail(resp, PT__TLS_UNTRUSTED, host, "unknown CA");
        if (secure_flags & WINHTTP_CALLBACK_STATUS_FLAG_CERT_DATE_INVALID) return pt__tls_fail(resp, PT__TLS_DATE, host, num);
        return pt__tls_fail(resp, PT__TLS_HANDSHAKE, host, num);
    case ERROR_WINHTTP_SECURE_CHANNEL_ERROR:
    case ERROR_WINHTTP_SECURE_FAILURE_PROXY:
        return pt__tls_fail(resp, PT__TLS_HANDSHAKE, host, num);
    case ERROR_WINHTTP_INVALID_SERVER_RESPONSE:
        pt__fmt(resp->error, sizeof resp->error, "malformed HTTP response from %.60s", host);
        return PT_ERR_PROTOCOL;
    case ERROR_NOT_ENOUGH_MEMORY:
        pt__fmt(resp->error, sizeof resp->error, "out of memory in WinHTTP");
        return PT_ERR_NO_MEMORY;
    default:
        pt__fmt(resp->error, sizeof resp->error, "network error talking to %.50s (%s)", host, num);
        return PT_ERR_NETWORK;
    }
}

/* The request handle with its options and headers, or NULL. */
PT__PRIVATE HINTERNET pt__wh_request(pt__conn *cn, const pt_http_request *req, const pt__url *u, int64_t deadline, int64_t now) {
    HINTERNET r;
    WCHAR *wm = pt__wh_wide(req->method, strlen(req->method)), *wp = pt__wh_wide(u->prefix[0] ? u->prefix : "/", u->prefix[0] ? strlen(u->prefix) : 1);
    DWORD feat = WINHTTP_DISABLE_COOKIES | WINHTTP_DISABLE_REDIRECTS | WINHTTP_DISABLE_AUTHENTICATION;
    int ct = (int)PT__MAX(PT__MIN((int64_t)(req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 5000), deadline - now), (int64_t)1);
    int io = (int)PT__MAX(PT__MIN(deadline - now, (int64_t)INT_MAX), (int64_t)1);
    pt__buf h;
    size_t i;
    r = wm && wp ? WinHttpOpenRequest((HINTERNET)cn->wh_connect, wm, wp, NULL, WINHTTP_NO_REFERER, WINHTTP_DEFAULT_ACCEPT_TYPES,
                                      u->https ? WINHTTP_FLAG_SECURE : 0) : NULL;
    PT__FREE(wm); PT__FREE(wp);
    if (!r) return NULL;
    WinHttpSetTimeouts(r, ct, ct, io, io);
    WinHttpSetOption(r, WINHTTP_OPTION_DISABLE_FEATURE, &feat, sizeof feat);
    if (u->https && req->insecure_skip_verify) {
        DWORD f = SECURITY_FLAG_IGNORE_UNKNOWN_CA | SECURITY_FLAG_IGNORE_CERT_CN_INVALID | SECURITY_FLAG_IGNORE_CERT_DATE_INVALID | SECURITY_FLAG_IGNORE_CERT_WRONG_USAGE;
        WinHttpSetOption(r, WINHTTP_OPTION_SECURITY_FLAGS, &f, sizeof f);
    }
    if (req->proxy && req->proxy[0]) {   /* user:password@ of cfg.proxy */
        const char *p = strstr(req->proxy, "://"), *at, *colon;
        p = p ? p + 3 : req->proxy;
        at = strchr(p, '@');
        colon = at ? (const char *)memchr(p, ':', (size_t)(at - p)) : NULL;
        if (at) {
            WCHAR *wu = pt__wh_wide(p, (size_t)((colon ? colon : at) - p)), *wpw = pt__wh_wide(colon ? colon + 1 : at, colon ? (size_t)(at - colon - 1) : 0);
            if (wu) WinHttpSetOption(r, WINHTTP_OPTION_PROXY_USERNAME, wu, (DWORD)wcslen(wu));
            if (wpw) WinHttpSetOption(r, WINHTTP_OPTION_PROXY_PASSWORD, wpw, (DWORD)wcslen(wpw));
            PT__FREE(wu); PT__FREE(wpw);
        }
    }
    pt__buf_init(&h, NULL, 0);
    for (i = 0; i < req->header_count; i++) {
        pt__buf_puts(&h, req->headers[i].name);
        pt__buf_lit(&h, ": ");
        pt__buf_puts(&h, req->headers[i].value);
        pt__buf_lit(&h, "\r\n");
    }
    if (h.oom) { pt__buf_free(&h); WinHttpCloseHandle(r); return NULL; }
    if (h.len) {
        WCHAR *wh = pt__wh_wide(h.p, h.len);
        BOOL ok = wh && WinHttpAddRequestHeaders(r, wh, (DWORD)-1L, WINHTTP_ADDREQ_FLAG_ADD | WINHTTP_ADDREQ_FLAG_REPLACE);
        PT__FREE(wh);
        if (!ok) { pt__buf_free(&h); WinHttpCloseHandle(r); return NULL; }
    }
    pt__buf_free(&h);
    return r;
}

/* A response header as ASCII text into out (cap bytes, NUL-terminated;
   other characters become '?'); "" when absent or longer than 255. */
PT__PRIVATE void pt__wh_hdr_text(HINTERNET r, DWORD which, char *out, size_t cap) {
    WCHAR w[256];
    DWORD sz = sizeof w;
    size_t i = 0, n;
    if (WinHttpQueryHeaders(r, which, WINHTTP_HEADER_NAME_BY_INDEX, w, &sz, WINHTTP_NO_HEADER_INDEX))
        for (n = sz / sizeof(WCHAR); i < n && i < cap - 1 && w[i]; i++) out[i] = w[i] < 128 ? (char)w[i] : '?';
    out[i] = 0;
}
/* Status, Retry-After and (of a 3xx) Location of the response head; 1 when
   the body has a length (Content-Length or chunked), 0 when it runs until
   the close, -1 for a Content-Length that is not a number that fits. */
PT__PRIVATE int pt__wh_head(HINTERNET r, pt_http_response *resp) {
    DWORD st = 0, sz = sizeof st, cl = 0;
    WCHAR te[32];
    int framed;
    if (WinHttpQueryHeaders(r, WINHTTP_QUERY_STATUS_CODE | WINHTTP_QUERY_FLAG_NUMBER, WINHTTP_HEADER_NAME_BY_INDEX, &st, &sz, WINHTTP_NO_HEADER_INDEX))
        resp->status = (int)st;
    pt__wh_hdr_text(r, WINHTTP_QUERY_RETRY_AFTER, resp->retry_after, sizeof resp->retry_after);
    /* redirects are disabled: a 3xx names where base_url should point */
    if (resp->status >= 300 && resp->status < 400) pt__wh_hdr_text(r, WINHTTP_QUERY_LOCATION, resp->location, sizeof resp->location);
    sz = sizeof te;
    framed = WinHttpQueryHeaders(r, WINHTTP_QUERY_CONTENT_LENGTH, WINHTTP_HEADER_NAME_BY_INDEX, te, &sz, WINHTTP_NO_HEADER_INDEX) != FALSE;
    if (framed) {   /* digits that fit, as the built-in client wants */
        size_t i, n = sz / sizeof(WCHAR);
        if (n == 0 || n > 18) return -1;
        for (i = 0; i < n; i++) if (te[i] < '0' || te[i] > '9') return -1;
    }
    (void)cl;
    sz = sizeof te;
    if (!framed && WinHttpQueryHeaders(r, WINHTTP_QUERY_TRANSFER_ENCODING, WINHTTP_HEADER_NAME_BY_INDEX, te, &sz, WINHTTP_NO_HEADER_INDEX)) framed = 1;
    return framed;
}

/* ---- one request over WinHTTP, in steps (the pt__transport contract) ----
   start opens the request and issues WinHttpSendRequest; each later phase
   (receive the head, ask how much body is there, read it) is issued when
   the previous one has completed; step waits for completions on the
   context's event, never past `until`; cancel closes the request handle. */
enum { PT__WH_SEND = 1, PT__WH_HEAD, PT__WH_AVAIL, PT__WH_READ };
#define PT__WH_BODY_GRACE_MS 200   /* after a 2xx head, the body may take this long */
typedef struct pt__wh_st {
    pt__wh_ctx *x;
    HINTERNET   r;
    int         phase, framed, retried;
    uint64_t    total;
    int64_t     t0, head_at;
    pt__url     u;
} pt__wh_st;

/* Closes the request (cancelling what is in flight; WinHTTP drops the
   connection of an unfinished response) and frees the state. */
PT__PRIVATE void pt__wh_release(pt__xfer *xf) {
    pt__wh_st *s = (pt__wh_st *)xf->tp_state;
    if (!s) return;
    WinHttpCloseHandle(s->r);
    pt__wh_unref(s->x);
    PT__FREE(s);
    xf->tp_state = NULL;
}
PT__PRIVATE int pt__wh_done(pt__xfer *xf, pt_result rc) {
    pt_http_response *resp = &xf->resp;
    pt__wh_release(xf);
    resp->body_head[resp->body_head_len] = 0;
    /* A status line arrived: a body problem does not hide a 2xx. */
    if (rc != PT_OK && resp->status >= 200 && resp->status < 300) rc = PT_OK;
    if (rc != PT_OK) resp->status = 0;
    xf->result = rc;
    return PT__XF_DONE;
}
/* Cut off (w -2) or timed out (w -3) while a phase was in flight. */
PT__PRIVATE int pt__wh_cut(pt__xfer *xf, int w) {
    pt__wh_st *s = (pt__wh_st *)xf->tp_state;
    pt_http_response *resp = &xf->resp;
    if (s->phase > PT__WH_HEAD && resp->status >= 200 && resp->status < 300) return pt__wh_done(xf, PT_OK);   /* accepted; the body was cut */
    if (!InterlockedCompareExchange(&s->x->sending, 0, 0)) resp->not_sent = 1;
    resp->status = 0;
    if (w == -2) pt__fmt(resp->error, sizeof resp->error, "cut off at the deadline");
    else pt__fmt(resp->error, sizeof resp->error, "timed out after %lld ms", (long long)(pt__mono_ms() - s->t0));
    return pt__wh_done(xf, w == -2 ? PT_ERR_CANCELLED : PT_ERR_TIMEOUT);
}
/* Issues the next phase's call. 0 issued, else the step's DONE. */
PT__PRIVATE int pt__wh_issue(pt__xfer *xf, int phase) {
    pt__wh_st *s = (pt__wh_st *)xf->tp_state;
    const pt_http_request *req = &xf->req;
    /* a body that runs until the close gets one read of the head only (the
       connection cannot be reused anyway; and wine 8's WinHTTP overreads
       such bodies) */
    size_t k = PT__MIN((size_t)s->x->got, s->framed ? sizeof s->x->buf : sizeof xf->resp.body_head - 1);
    BOOL ok;
    s->phase = phase;
    pt__wh_arm(s->x);
    switch (phase) {
    case PT__WH_SEND:
        ok = WinHttpSendRequest(s->r, WINHTTP_NO_ADDITIONAL_HEADERS, 0, s->x->body ? s->x->body : WINHTTP_NO_REQUEST_DATA,
                                (DWORD)req->body_len, (DWORD)req->body_len, (DWORD_PTR)s->x);
        break;
    case PT__WH_HEAD: ok = WinHttpReceiveResponse(s->r, NULL); break;
    case PT__WH_AVAIL: ok = WinHttpQueryDataAvailable(s->r, NULL); break;
    default: ok = WinHttpReadData(s->r, s->x->buf, (DWORD)k, NULL); break;   /* k: what AVAIL reported */
    }
    if (ok) return 0;
    return pt__wh_done(xf, pt__wh_fail(GetLastError(), 0, phase > PT__WH_SEND, req, &xf->resp));
}
/* A new request handle with its own context for s (a first one, or a
   fresh try). 0 ok, else a WinHTTP error. */
PT__PRIVATE DWORD pt__wh_open_request(pt__xfer *xf, pt__wh_st *s) {
    const pt_http_request *req = &xf->req;
    pt__wh_ctx *x = (pt__wh_ctx *)PT__MALLOC(sizeof *x);
    DWORD_PTR cp;
    if (!x) return ERROR_NOT_ENOUGH_MEMORY;
    memset(x, 0, sizeof *x);
    x->refs = 1;
    x->ev = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (req->body_len) x->body = (char *)PT__MALLOC(req->body_len);
    if (!x->ev || (req->body_len && !x->body)) {
        if (x->ev) CloseHandle(x->ev);
        PT__FREE(x->body); PT__FREE(x);
        return ERROR_NOT_ENOUGH_MEMORY;
    }
    if (req->body_len) memcpy(x->body, req->body, req->body_len);   /* WinHTTP may read it after a cut-off */
    if (pt__wh_open((pt__conn *)xf->ctx, req, &s->u) != 0 || !(s->r = pt__wh_request((pt__conn *)xf->ctx, req, &s->u, xf->deadline_ms, pt__mono_ms()))) {
        DWORD e = GetLastError();
        pt__wh_unref(x);
        return e == ERROR_NOT_ENOUGH_MEMORY ? e : ERROR_WINHTTP_INTERNAL_ERROR;
    }
    /* From here the handle holds a reference: HANDLE_CLOSING drops it. */
    x->refs = 2;
    cp = (DWORD_PTR)x;
    WinHttpSetOption(s->r, WINHTTP_OPTION_CONTEXT_VALUE, &cp, sizeof cp);
    s->x = x;
    return 0;
}
/* The phase in flight has completed: take its result, issue the next. */
PT__PRIVATE int pt__wh_advance(pt__xfer *xf) {
    pt__wh_st *s = (pt__wh_st *)xf->tp_state;
    pt_http_response *resp = &xf->resp;
    pt__wh_ctx *x = s->x;
    size_t k;
    if (x->err && s->phase <= PT__WH_HEAD && !s->retried && !InterlockedCompareExchange(&x->received, 0, 0)
        && (x->err == ERROR_WINHTTP_CONNECTION_ERROR || x->err == ERROR_WINHTTP_INVALID_SERVER_RESPONSE || x->err == ERROR_WINHTTP_RESEND_REQUEST)) {
        /* Not a byte of response: the kept-alive connection may have been
           closed by the server while idle. One fresh try, as the built-in client
           does (the Idempotency-Key makes a repeat harmless). */
        DWORD e;
        s->retried = 1;
        WinHttpCloseHandle(s->r);
        pt__wh_unref(x);
        s->x = NULL; s->r = NULL;
        if ((e = pt__wh_open_request(xf, s)) != 0) {
            PT__FREE(s); xf->tp_state = NULL;
            return pt__wh_done(xf, pt__wh_fail(e, 0, 0, &xf->req, resp));
        }
        return pt__wh_issue(xf, PT__WH_SEND);
    }
    if (x->err) return pt__wh_done(xf, pt__wh_fail(x->err, x->secure_flags, (int)InterlockedCompareExchange(&x->sending, 0, 0), &xf->req, resp));
    switch (s->phase) {
    case PT__WH_SEND: return pt__wh_issue(xf, PT__WH_HEAD);
    case PT__WH_HEAD:
        s->head_at = pt__mono_ms();
        s->framed = pt__wh_head(s->r, resp);
        if (s->framed < 0 || resp->status < 100 || resp->status > 599) {
            pt__fmt(resp->error, sizeof resp->error, s->framed < 0 ? "malformed HTTP response head (Content-Length)" : "malformed HTTP status line");
            resp->status = 0;
            return pt__wh_done(xf, PT_ERR_PROTOCOL);
        }
        if (strcmp(xf->req.method, "HEAD") == 0) return pt__wh_done(xf, PT_OK);
        if (resp->status >= 200 && resp->status < 300) {
            /* Accepted: the body gets PT__WH_BODY_GRACE_MS. WinHTTP may run a
               body read on this thread when bytes are already buffered (wine
               does, and then waits on the socket for a broken chunk line), so
               the socket's receive timeout is cut to the grace as well
               (WinHttpSetTimeouts applies it to the open connection). */
            WinHttpSetTimeouts(s->r, PT__WH_BODY_GRACE_MS, PT__WH_BODY_GRACE_MS, PT__WH_BODY_GRACE_MS, PT__WH_BODY_GRACE_MS);
        }
        return pt__wh_issue(xf, PT__WH_AVAIL);
    case PT__WH_AVAIL:
        if (!x->got) return pt__wh_done(xf, PT_OK);   /* the end of the body */
        return pt__wh_issue(xf, PT__WH_READ);
    default:
        if (!x->got) return pt__wh_done(xf, PT_OK);
        k = PT__MIN((size_t)x->got, sizeof resp->body_head - 1 - resp->body_head_len);
        memcpy(resp->body_head + resp->body_head_len, x->buf, k);
        resp->body_head_len += k;
        s->total += x->got;
        /* read at most PT__BODY_DRAIN_MAX, so the connection can be reused */
        if (s->total > PT__BODY_DRAIN_MAX || !s->framed) return pt__wh_done(xf, PT_OK);
        return pt__wh_issue(xf, PT__WH_AVAIL);
    }
}

PT__PRIVATE int pt__wh_step(pt__xfer *xf, int64_t until) {
    for (;;) {
        pt__wh_st *s = (pt__wh_st *)xf->tp_state;
        int64_t now, wait_to, end;
        if (!s) return PT__XF_DONE;
        if (InterlockedCompareExchange(&s->x->done, 0, 0)) {
            if (pt__wh_advance(xf) == PT__XF_DONE) return PT__XF_DONE;
            continue;
        }
        if (xf->req.cancelled && xf->req.cancelled(&xf->req)) return pt__wh_cut(xf, -2);
        now = pt__mono_ms();
        end = xf->deadline_ms;
        if (s->phase > PT__WH_HEAD && xf->resp.status >= 200 && xf->resp.status < 300) end = PT__MIN(end, s->head_at + PT__WH_BODY_GRACE_MS);
        if (now >= end) return pt__wh_cut(xf, -3);
        wait_to = PT__MIN(PT__MIN(end, until), now + PT__WH_SLICE_MS);
        if (now >= until) { xf->wake_ms = wait_to > now ? wait_to : now + PT__WH_SLICE_MS; return PT__XF_PENDING; }
        WaitForSingleObject(s->x->ev, (DWORD)(wait_to - now));
    }
}

PT__PRIVATE int pt__wh_start(pt__xfer *xf) {
    const pt_http_request *req = &xf->req;
    pt_http_response *resp = &xf->resp;
    pt__wh_st *s;
    DWORD e;
    int64_t t0 = pt__mono_ms();
    memset(resp, 0, sizeof *resp);
    xf->tp_state = NULL;
    xf->result = PT_OK;
    if (req->cancelled && req->cancelled(req)) {
        resp->not_sent = 1;
        pt__fmt(resp->error, sizeof resp->error, "cut off at the deadline before sending");
        xf->result = PT_ERR_CANCELLED;
        return PT__XF_DONE;
    }
    if (!(s = (pt__wh_st *)PT__MALLOC(sizeof *s))) { resp->not_sent = 1; xf->result = PT_ERR_NO_MEMORY; return PT__XF_DONE; }
    memset(s, 0, sizeof *s);
    if (pt__url_parse(req->url, &s->u, NULL) != PT_OK) {
        PT__FREE(s);
        pt__fmt(resp->error, sizeof resp->error, "bad request URL");
        resp->not_sent = 1;
        xf->result = PT_ERR_INVALID_ARG;
        return PT__XF_DONE;
    }
    xf->deadline_ms = t0 + (req->timeout_ms > 0 ? req->timeout_ms : 10000);
    if (req->deadline_ms > 0 && req->deadline_ms < xf->deadline_ms) xf->deadline_ms = req->deadline_ms;
    s->t0 = t0;
    if ((e = pt__wh_open_request(xf, s)) != 0) {
        PT__FREE(s);
        xf->result = pt__wh_fail(e, 0, 0, req, resp);
        return PT__XF_DONE;
    }
    xf->tp_state = s;
    if (pt__wh_issue(xf, PT__WH_SEND) == PT__XF_DONE) return PT__XF_DONE;
    return pt__wh_step(xf, t0);
}
PT__PRIVATE void pt__wh_cancel(pt__xfer *xf) { pt__wh_release(xf); }
static const pt__transport pt__tp_winhttp = { "WinHTTP", pt__wh_start, pt__wh_step, pt__wh_cancel };

/* One whole request over WinHTTP on this thread. user is a pt__conn. */
PT__PRIVATE pt_result pt__http_winhttp(const pt_http_request *req, pt_http_response *resp, void *user) {
    return pt__xfer_once(&pt__tp_winhttp, user, req, resp);
}
#endif /* PT__WINHTTP */

/* The TLS decision of pt_client_new for an https:// base_url without an
   HTTP hook: PT_OK when this build and machine can do TLS (loading libcurl
   now if that is how), else PT_ERR_CONFIG naming what to install or build.
   There is never a fallback to plain http. */
PT__PRIVATE PT__COLD pt_result pt__tls_ready(const pt_config *cfg, pt_error *err) {
#if PT__CURL_LINKED
    (void)cfg; (void)err;
    return PT_OK;
#elif PT__WINHTTP
    if ((cfg->ca_file && cfg->ca_file[0]) || (cfg->ca_path && cfg->ca_path[0]))
        return pt__err(err, PT_ERR_CONFIG, "ca_file/ca_path cannot be used with WinHTTP, which trusts the Windows certificate store only: add the CA to the store (certutil -addstore Root ca.pem), or build with PACKTRACK_USE_CURL");
    return PT_OK;
#elif PT__CURL_DL
    char msg[400];
    (void)cfg;
    if (pt__curl_load(msg, sizeof msg) == 0) return PT_OK;
    return pt__err(err, PT_ERR_CONFIG, "%s, or set cfg.http; packtrack never falls back to plain http", msg);
#elif defined(PACKTRACK_NO_DLOPEN) && PT__POSIX
    (void)cfg;
    return pt__err(err, PT_ERR_CONFIG, "base_url is https:// but this build loads no libcurl at run time (PACKTRACK_NO_DLOPEN): build with PACKTRACK_USE_CURL (link -lcurl) or set cfg.http to an HTTP hook; packtrack never falls back to plain http");
#elif PT__WIN32
    (void)cfg;
    return pt__err(err, PT_ERR_CONFIG, "base_url is https:// but this build has no TLS transport (PACKTRACK_NO_WINHTTP): drop PACKTRACK_NO_WINHTTP, build with PACKTRACK_USE_CURL (link -lcurl), or set cfg.http to an HTTP hook; packtrack never falls back to plain http");
#else
    (void)cfg;
    return pt__err(err, PT_ERR_CONFIG, "base_url is https:// but this build has no TLS transport: build with PACKTRACK_USE_CURL (link -lcurl) or set cfg.http to an HTTP hook; packtrack never falls back to plain http");
#endif
}

/* ==== [pt:spool] ========================================================= */
/* Durable mode (cfg.spool_dir). The memory queue stays the source of what
   to send; the spool is its mirror on disk. pt_track appends the event to
   the active segment (one write() into the page cache, under the client
   lock, so file order is queue order) before it returns PT_OK; an event is
   settled on disk only after a 2xx, a permanent failure (written to the
   dead-letter file first when enabled) or an eviction by the queue bound.
   A process killed at any point therefore leaves every accepted event for
   the next client on the directory, which replays them oldest first.

   Files in spool_dir (created 0700, files 0600):
     lock                held with an exclusive lock (fcntl F_SETLK / LockFileEx)
     seg-<16 hex>.pts    event segments, append-only, id increasing
     ack.pts             the settlement log: ACK, BATCH and SNAP records
     dead-letter.ndjson  events refused for good, one JSON object a line

   Every record, little-endian, no padding:
     u32 magic "PTP1" | u32 payload length | u8 type | u8 flag |
     u16 hcheck | u64 seq | u32 crc | payload
   hcheck is the low half of the CRC-32 of header bytes 4..9 and 12..19 (a
   cheap filter while resyncing); crc is the CRC-32 of the payload followed
   by header bytes 4..19, so any torn or flipped byte is detected. Types:
     EVENT  seq = the event's sequence number, payload = its JSON
     HEAD   first record of a segment: seq = segment id, payload = u32 version (1)
     ACK    events seq .. (u64 payload) - 1 are settled; flag 1 delivered,
            2 failed (dead-lettered), 3 dropped (queue or spool bound)
     BATCH  a batch was cut: seq = first event, payload = u64 last event,
            u32 event count, u32 0, the 36-character Idempotency-Key
     SNAP   first record of a rewritten ack log: every seq below `seq` is
            settled except the [u64 lo, u64 hi) pairs of the payload
   Reading a segment: a record that fails the checks starts a scan for the
   next valid header + CRC; what lies between is skipped (a corrupt middle)
   or, with nothing valid after it, cut off (a torn tail). One log line each.

   Segments are deleted once none of their events is live; the ack log is
   rewritten as one SNAP when it grows past 256 KiB. Fsync: PT_FSYNC_NONE
   never; PT_FSYNC_BATCH before a request goes out, unless an earlier fsync
   already covered every event of the batch (so one fsync serves a backlog);
   PT_FSYNC_EVERY in every pt_track. Without fsync an event survives kill -9
   (it is in the page cache) but not a power cut.

   Limits: the replayed backlog is loaded into memory at start even when it
   is larger than queue_capacity / queue_max_bytes (new events are refused
   or evict the oldest until it drains); it can only be larger when those
   settings were lowered between runs. Making room under spool_max_bytes with
   PT_QUEUE_DROP_OLDEST evicts queued events a segment at a time and never
   the batch in flight.

   fork(): the child's copy of a durable client lets go of the spool without
   writing a byte (the parent keeps the directory, its lock and its events)
   and runs memory-only from then on; a child that wants durability creates
   its own client on its own spool_dir. */
#define PT__SP_MAGIC 0x31505450u           /* "PTP1" */
#define PT__SP_HDR 24
#define PT__SP_EVENT 1
#define PT__SP_HEAD 2
#define PT__SP_ACK 3
#define PT__SP_BATCH 4
#define PT__SP_SNAP 5
#define PT__SP_DELIVERED 1
#define PT__SP_FAILED 2
#define PT__SP_DROPPED 3
#define PT__SP_MAX_UNSYNCED 8

typedef struct pt__sp_seg { uint64_t id, first, last, bytes, live; } pt__sp_seg;   /* first > last: no event yet */
typedef struct pt__sp_run { uint64_t lo, hi; } pt__sp_run;                         /* seqs [lo, hi) */
typedef struct pt__sp_runs { pt__sp_run *r; size_t head, n, cap; } pt__sp_runs;    /* FIFO of runs */

typedef struct pt__spool pt__spool;
struct pt__spool {
    const pt_config *cfg;
    int        defer, has_pend;       /* log lines wait here while the client lock is held */
    pt_log_level pend_lvl;
    char       pend[300];
    char      *dir, *path;            /* path: scratch for dir + "/" + name */
    char       key[300];              /* in-process registry key of the directory */
    pt__spool *reg_next;
    pt__file   lock_fd, seg_fd, ack_fd;
    pt__sp_seg *segs;                 /* oldest first; the last one is active while seg_fd is open */
    size_t     nsegs, segcap;
    uint64_t   next_seq, next_seg_id, seg_max, max_bytes, bytes, ack_bytes, last_rec;
    pt__sp_runs q;                    /* seqs of the events in the memory queue, oldest first */
    uint64_t   qcount;
    uint64_t  *bseq;                  /* the batch in flight: seq of each event, settled flags */
    unsigned char *bdone;
    size_t     bn, bcap, bleft;
    char       bkey[37];
    pt__sp_runs orphans;              /* live on disk, gone from memory (dead-letter write failed) */
    uint64_t   synced_seq;            /* every event below it is known to be on disk */
    pt__file   unsynced[PT__SP_MAX_UNSYNCED];
    pt__file   sync_fd;               /* the active fd the worker fsyncs while syncing */
    int        nunsynced, syncing, dir_dirty, replaying;
    pt__buf    rec;                   /* one record being written */
    char       err[200];
    /* replay state (pt__spool_open .. the end of pt__spool_replay) */
    uint64_t  *ids; size_t nids, idcap, ri;
    unsigned char *rbuf; size_t rlen, roff; int rloaded;
    pt__sp_run *snap, *acked; size_t nsnap, nacked, ackcap;
    uint64_t   snap_upto, max_seen, last_ev;
    int        have_ev, rb_valid, rb_pending;
    uint64_t   rb_first, rb_last, rb_count;
    char       rb_key[37];
    uint64_t   n_replayed, n_bad;
};
#if PT__SPOOL   /* PACKTRACK_NO_SPOOL leaves the spool out, to the end of the section */
static pt__spool *pt__spool_open_list;   /* spools open in this process; pt__reg_lock */

PT__PRIVATE void pt__sp_w32(unsigned char *p, uint32_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24); }
PT__PRIVATE void pt__sp_w64(unsigned char *p, uint64_t v) { pt__sp_w32(p, (uint32_t)v); pt__sp_w32(p + 4, (uint32_t)(v >> 32)); }
PT__PRIVATE uint32_t pt__sp_r32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
PT__PRIVATE uint64_t pt__sp_r64(const unsigned char *p) { return (uint64_t)pt__sp_r32(p) | (uint64_t)pt__sp_r32(p + 4) << 32; }

PT__PRIVATE void pt__sp_log(pt__spool *sp, pt_log_level lvl, const char *fmt, ...) PT__PRINTF(3, 4);
PT__PRIVATE void pt__sp_log(pt__spool *sp, pt_log_level lvl, const char *fmt, ...) {
    char msg[300];
    va_list ap;
    if (!sp->cfg->logger || lvl < sp->cfg->log_level) return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    msg[sizeof msg - 1] = 0;
    /* Once the client runs, spool code runs under the client lock: the line
       waits for pt__spool_log_flush, which calls the logger unlocked (a
       logger that calls back into the client must not deadlock). The first
       pending line is kept; it names the first failure. */
    if (sp->defer) {
        if (!sp->has_pend) { sp->has_pend = 1; sp->pend_lvl = lvl; memcpy(sp->pend, msg, sizeof sp->pend); }
        return;
    }
    sp->cfg->logger(lvl, msg, sp->cfg->logger_user);
}
/* Records an I/O failure in sp->err ("what: OS text") and classifies it. */
PT__PRIVATE pt_result pt__sp_ioerr(pt__spool *sp, const char *what) {
    char os[120];
    pt_result r = pt__file_error(os, sizeof os);
    pt__fmt(sp->err, sizeof sp->err, "spool %s: %s", what, os);
    return r;
}
PT__PRIVATE const char *pt__sp_path(pt__spool *sp, const char *name) {
    size_t d = strlen(sp->dir);
    memcpy(sp->path, sp->dir, d);
    sp->path[d] = '/';
    strcpy(sp->path + d + 1, name);
    return sp->path;
}
PT__PRIVATE const char *pt__sp_seg_path(pt__spool *sp, uint64_t id) {
    char name[32];
    int i;
    memcpy(name, "seg-", 4);
    for (i = 0; i < 16; i++) name[4 + i] = pt__hex[(id >> (60 - 4 * i)) & 15];
    memcpy(name + 20, ".pts", 5);
    return pt__sp_path(sp, name);
}

/* ---- FIFO of seq runs ---- */
PT__PRIVATE int pt__sp_runs_push(pt__sp_runs *q, uint64_t lo, uint64_t hi) {
    if (q->n && q->r[q->head + q->n - 1].hi == lo) { q->r[q->head + q->n - 1].hi = hi; return 0; }
    if (q->head + q->n == q->cap) {
        if (q->head && q->head >= q->cap / 2) {
            memmove(q->r, q->r + q->head, q->n * sizeof *q->r);
            q->head = 0;
        } else {
            size_t nc = q->cap ? q->cap * 2 : 8;
            pt__sp_run *nr = (pt__sp_run *)PT__REALLOC(q->r, nc * sizeof *nr);
            if (!nr) return -1;
            q->r = nr; q->cap = nc;
        }
    }
    q->r[q->head + q->n].lo = lo; q->r[q->head + q->n].hi = hi; q->n++;
    return 0;
}
PT__PRIVATE uint64_t pt__sp_runs_pop(pt__sp_runs *q) {
    pt__sp_run *f = &q->r[q->head];
    uint64_t s = f->lo++;
    if (f->lo == f->hi) { q->head++; q->n--; if (!q->n) q->head = 0; }
    return s;
}
/* How many seqs of q are <= x. */
PT__PRIVATE uint64_t pt__sp_runs_count_le(const pt__sp_runs *q, uint64_t x) {
    uint64_t n = 0;
    size_t i;
    for (i = 0; i < q->n; i++) {
        const pt__sp_run *r = &q->r[q->head + i];
        if (r->lo > x) break;
        n += (r->hi - 1 <= x ? r->hi : x + 1) - r->lo;
    }
    return n;
}
PT__PRIVATE void pt__sp_runs_free(pt__sp_runs *q) { PT__FREE(q->r); memset(q, 0, sizeof *q); }

/* ---- writing records ---- */
PT__PRIVATE uint32_t pt__sp_hcheck(const unsigned char *h) { return pt__crc32(pt__crc32(0, h + 4, 6), h + 12, 8) & 0xffffu; }
PT__PRIVATE pt_result pt__sp_put(pt__spool *sp, pt__file f, int type, int flag, uint64_t seq,
                                 const void *pay, size_t n, uint32_t pcrc, int have_crc) {
    unsigned char *h;
    uint32_t hc;
    if (n > 0xffffffffu - PT__SP_HDR) { pt__fmt(sp->err, sizeof sp->err, "spool: record too large"); return PT_ERR_TOO_LARGE; }
    sp->rec.len = 0;
    if (PT__BUF_RESERVE(&sp->rec, PT__SP_HDR + n)) { sp->rec.oom = 0; pt__fmt(sp->err, sizeof sp->err, "spool: out of memory"); return PT_ERR_NO_MEMORY; }
    h = (unsigned char *)sp->rec.p;
    pt__sp_w32(h, PT__SP_MAGIC);
    pt__sp_w32(h + 4, (uint32_t)n);
    h[8] = (unsigned char)type; h[9] = (unsigned char)flag;
    pt__sp_w64(h + 12, seq);
    hc = pt__sp_hcheck(h);
    h[10] = (unsigned char)hc; h[11] = (unsigned char)(hc >> 8);
    if (!have_crc) pcrc = pt__crc32(0, pay, n);
    pt__sp_w32(h + 20, pt__crc32(pcrc, h + 4, 16));
    if (n) memcpy(h + PT__SP_HDR, pay, n);
    if (pt__file_append(f, h, PT__SP_HDR + n) != 0) return pt__sp_ioerr(sp, "write");
    return PT_OK;
}
/* Appends a record to the ack log (failures only cost a duplicate later). */
PT__PRIVATE void pt__sp_meta(pt__spool *sp, int type, int flag, uint64_t seq, const void *pay, size_t n) {
    if (sp->ack_fd == PT__BAD_FILE) return;
    if (pt__sp_put(sp, sp->ack_fd, type, flag, seq, pay, n, 0, 0) == PT_OK) { sp->ack_bytes += PT__SP_HDR + n; sp->bytes += PT__SP_HDR + n; }
    else pt__sp_log(sp, PT_LOG_WARN, "%s (acknowledged events may be sent again after a restart)", sp->err);
}

/* An fd we stop writing to: the worker fsyncs it first under PT_FSYNC_BATCH. */
PT__PRIVATE void pt__sp_retire_fd(pt__spool *sp, pt__file f) {
    if (f == PT__BAD_FILE) return;
    if (sp->cfg->fsync_policy != PT_FSYNC_BATCH) { pt__file_close(f); return; }
    if (sp->nunsynced == PT__SP_MAX_UNSYNCED) {   /* full: sync one here, never the worker's */
        int j = sp->syncing && sp->unsynced[0] == sp->sync_fd ? 1 : 0;
        pt__file_sync(sp->unsynced[j]);
        pt__file_close(sp->unsynced[j]);
        memmove(sp->unsynced + j, sp->unsynced + j + 1, (size_t)(PT__SP_MAX_UNSYNCED - 1 - j) * sizeof(pt__file));
        sp->nunsynced--;
    }
    sp->unsynced[sp->nunsynced++] = f;
}

/* ---- segments ---- */
PT__PRIVATE int pt__sp_active(const pt__spool *sp) { return sp->seg_fd != PT__BAD_FILE && sp->nsegs; }
PT__PRIVATE void pt__sp_seg_remove(pt__spool *sp, size_t i) {
    pt__file_unlink(pt__sp_seg_path(sp, sp->segs[i].id));
    sp->bytes -= sp->segs[i].bytes;
    memmove(sp->segs + i, sp->segs + i + 1, (sp->nsegs - i - 1) * sizeof *sp->segs);
    sp->nsegs--;
    sp->dir_dirty = 1;
}
/* Deletes every sealed segment without a live event. */
PT__PRIVATE void pt__sp_gc(pt__spool *sp) {
    size_t i = 0;
    while (i < sp->nsegs) {
        if (sp->segs[i].live == 0 && !(pt__sp_active(sp) && i == sp->nsegs - 1)) pt__sp_seg_remove(sp, i);
        else i++;
    }
}
/* Closes and deletes the active segment when it holds nothing live. */
PT__PRIVATE void pt__sp_drop_empty_active(pt__spool *sp) {
    if (!pt__sp_active(sp) || sp->segs[sp->nsegs - 1].live) return;
    pt__sp_retire_fd(sp, sp->seg_fd);
    sp->seg_fd = PT__BAD_FILE;
    pt__sp_seg_remove(sp, sp->nsegs - 1);
}
/* Seals the active segment (if any) and starts a new one. */
PT__PRIVATE pt_result pt__sp_rotate(pt__spool *sp) {
    unsigned char ver[4];
    pt__sp_seg *s;
    pt__file f;
    pt_result r;
    if (sp->nsegs == sp->segcap) {
        size_t nc = sp->segcap ? sp->segcap * 2 : 16;
        pt__sp_seg *ns = (pt__sp_seg *)PT__REALLOC(sp->segs, nc * sizeof *ns);
        if (!ns) { pt__fmt(sp->err, sizeof sp->err, "spool: out of memory"); return PT_ERR_NO_MEMORY; }
        sp->segs = ns; sp->segcap = nc;
    }
    if (pt__sp_active(sp)) { pt__sp_retire_fd(sp, sp->seg_fd); sp->seg_fd = PT__BAD_FILE; pt__sp_gc(sp); }
    f = pt__file_open(pt__sp_seg_path(sp, sp->next_seg_id), PT__FILE_APPEND);
    if (f == PT__BAD_FILE) return pt__sp_ioerr(sp, "cannot create a segment");
    pt__sp_w32(ver, 1);
    if ((r = pt__sp_put(sp, f, PT__SP_HEAD, 0, sp->next_seg_id, ver, 4, 0, 0)) != PT_OK) {
        pt__file_close(f);
        pt__file_unlink(pt__sp_seg_path(sp, sp->next_seg_id));
        return r;
    }
    s = &sp->segs[sp->nsegs++];
    s->id = sp->next_seg_id++; s->first = 1; s->last = 0; s->bytes = PT__SP_HDR + 4; s->live = 0;
    sp->bytes += s->bytes;
    sp->seg_fd = f;
    sp->dir_dirty = 1;
    if (sp->cfg->fsync_policy == PT_FSYNC_EVERY) { pt__file_sync_dir(sp->dir); sp->dir_dirty = 0; }
    return PT_OK;
}
/* Settles the live events [lo, hi) in the segment counts. */
PT__PRIVATE void pt__sp_settle_run(pt__spool *sp, uint64_t lo, uint64_t hi) {
    size_t i;
    for (i = 0; i < sp->nsegs; i++) {
        pt__sp_seg *s = &sp->segs[i];
        uint64_t a, b;
        if (s->first > s->last) continue;
        a = PT__MAX(lo, s->first); b = PT__MIN(hi, s->last + 1);
        if (a < b) s->live -= PT__MIN(b - a, s->live);
    }
}
/* ACK records for the seqs v[0..n) (increasing), one per run. */
PT__PRIVATE void pt__sp_ack_list(pt__spool *sp, const uint64_t *v, size_t n, int flag) {
    size_t i = 0;
    while (i < n) {
        size_t j = i + 1;
        unsigned char hi[8];
        while (j < n && v[j] == v[j - 1] + 1) j++;
        pt__sp_w64(hi, v[j - 1] + 1);
        pt__sp_meta(sp, PT__SP_ACK, flag, v[i], hi, 8);
        pt__sp_settle_run(sp, v[i], v[j - 1] + 1);
        i = j;
    }
}

/* ---- the ack log ---- */
PT__PRIVATE int pt__sp_snap_add(pt__buf *b, const pt__sp_runs *q) {
    size_t i;
    for (i = 0; i < q->n; i++) {
        unsigned char p[16];
        pt__sp_w64(p, q->r[q->head + i].lo); pt__sp_w64(p + 8, q->r[q->head + i].hi);
        pt__buf_put(b, p, 16);
    }
    return b->oom ? -1 : 0;
}
/* Rewrites ack.pts as one SNAP of the live set (plus the batch in flight)
   through ack.tmp + rename, so a crash leaves the old or the new log. */
PT__PRIVATE void pt__sp_ack_rewrite(pt__spool *sp) {
    pt__buf b;
    pt__sp_runs live;
    pt__file f;
    size_t i;
    int ok;
    memset(&live, 0, sizeof live);
    pt__buf_init(&b, NULL, 0);
    for (i = 0; i < sp->bn; i++) if (!sp->bdone[i] && pt__sp_runs_push(&live, sp->bseq[i], sp->bseq[i] + 1)) b.oom = 1;
    pt__sp_snap_add(&b, &sp->orphans);
    pt__sp_snap_add(&b, &live);
    pt__sp_snap_add(&b, &sp->q);
    pt__sp_runs_free(&live);
    if (b.oom) { pt__buf_free(&b); return; }
    f = pt__file_open(pt__sp_path(sp, "ack.tmp"), PT__FILE_RW);
    ok = f != PT__BAD_FILE && pt__file_truncate(f, 0) == 0
         && pt__sp_put(sp, f, PT__SP_SNAP, 0, sp->next_seq, b.p, b.len, 0, 0) == PT_OK;
    if (ok && sp->bn && sp->bleft) {
        unsigned char p[52];
        pt__sp_w64(p, sp->bseq[sp->bn - 1]); pt__sp_w32(p + 8, (uint32_t)sp->bn); pt__sp_w32(p + 12, 0);
        memcpy(p + 16, sp->bkey, 36);
        ok = pt__sp_put(sp, f, PT__SP_BATCH, 0, sp->bseq[0], p, 52, 0, 0) == PT_OK;
    }
    if (ok && sp->cfg->fsync_policy == PT_FSYNC_EVERY) ok = pt__file_sync(f) == 0;
    pt__file_close(f);
    if (ok) {
        size_t dlen = strlen(sp->dir);
        char *to = (char *)PT__MALLOC(dlen + 16);
        if (to) {
            memcpy(to, sp->dir, dlen); memcpy(to + dlen, "/ack.pts", 9);
            pt__file_close(sp->ack_fd);   /* Windows cannot replace an open file */
            sp->ack_fd = PT__BAD_FILE;
            ok = pt__file_rename(pt__sp_path(sp, "ack.tmp"), to) == 0;
            PT__FREE(to);
        } else ok = 0;
        if (sp->ack_fd == PT__BAD_FILE) {
            sp->ack_fd = pt__file_open(pt__sp_path(sp, "ack.pts"), PT__FILE_APPEND);
            if (sp->ack_fd != PT__BAD_FILE) {
                int64_t sz = pt__file_size(sp->ack_fd);
                sp->bytes -= sp->ack_bytes;
                sp->ack_bytes = sz > 0 ? (uint64_t)sz : 0;
                sp->bytes += sp->ack_bytes;
            }
        }
    }
    if (!ok) {
        pt__file_unlink(pt__sp_path(sp, "ack.tmp"));
        pt__sp_log(sp, PT_LOG_WARN, "spool: could not rewrite the ack log in %s", sp->dir);
    }
    pt__buf_free(&b);
}

/* Compacts the ack log once it outgrows min(256 KiB, spool_max_bytes / 8). */
PT__PRIVATE void pt__sp_maybe_compact(pt__spool *sp) {
    if (sp->ack_bytes > PT__MIN((uint64_t)256 * 1024, sp->max_bytes / 8)) pt__sp_ack_rewrite(sp);
}

/* ---- the hooks of the pipeline (client lock held unless said) ---- */

/* Appends one event (pcrc = pt__crc32(0, json, len), computed before the
   lock). PT_OK, or PT_ERR_DISK_FULL / PT_ERR_SPOOL / PT_ERR_NO_MEMORY with
   sp->err set; on failure nothing of the record stays in the file. */
PT__PRIVATE pt_result pt__spool_append(pt__spool *sp, const char *json, size_t len, uint32_t pcrc) {
    uint64_t need = PT__SP_HDR + (uint64_t)len, seq = sp->next_seq;
    pt__sp_seg *s;
    pt_result r;
    int tries;
    if (sp->bytes + need > sp->max_bytes) {
        pt__sp_drop_empty_active(sp);
        if (sp->bytes + need > sp->max_bytes) {
            pt__fmt(sp->err, sizeof sp->err, "spool_max_bytes (%llu) reached", (unsigned long long)sp->max_bytes);
            return PT_ERR_DISK_FULL;
        }
    }
    for (tries = 0; ; tries++) {
        if (!pt__sp_active(sp) || (sp->segs[sp->nsegs - 1].bytes + need > sp->seg_max && sp->segs[sp->nsegs - 1].first <= sp->segs[sp->nsegs - 1].last))
            if ((r = pt__sp_rotate(sp)) != PT_OK) return r;
        s = &sp->segs[sp->nsegs - 1];
        r = pt__sp_put(sp, sp->seg_fd, PT__SP_EVENT, 0, seq, json, len, pcrc, 1);
        if (r == PT_OK) break;
        pt__file_truncate(sp->seg_fd, s->bytes);         /* no torn record behind us */
        /* Out of space: a segment whose events are all settled is garbage;
           start afresh once (this also gets past a per-file size limit). */
        if (r != PT_ERR_DISK_FULL || tries || s->live || s->bytes <= PT__SP_HDR + 4) return r;
        pt__sp_drop_empty_active(sp);
    }
    if (sp->cfg->fsync_policy == PT_FSYNC_EVERY && pt__file_sync(sp->seg_fd) != 0) {
        r = pt__sp_ioerr(sp, "fsync");
        pt__file_truncate(sp->seg_fd, s->bytes);
        return r;
    }
    if (pt__sp_runs_push(&sp->q, seq, seq + 1)) {
        pt__file_truncate(sp->seg_fd, s->bytes);
        pt__fmt(sp->err, sizeof sp->err, "spool: out of memory");
        return PT_ERR_NO_MEMORY;
    }
    if (s->first > s->last) s->first = seq;
    s->last = seq;
    s->bytes += need; s->live++;
    sp->bytes += need;
    sp->last_rec = need;
    sp->qcount++;
    sp->next_seq++;
    return PT_OK;
}
/* Takes back the event just appended (the memory queue refused it). */
PT__PRIVATE void pt__spool_unappend(pt__spool *sp) {
    pt__sp_seg *s = &sp->segs[sp->nsegs - 1];
    pt__sp_run *t = &sp->q.r[sp->q.head + sp->q.n - 1];
    s->bytes -= sp->last_rec; sp->bytes -= sp->last_rec;
    pt__file_truncate(sp->seg_fd, s->bytes);
    s->live--;
    if (s->last == s->first) { s->first = 1; s->last = 0; } else s->last--;
    if (--t->hi == t->lo) { sp->q.n--; if (!sp->q.n) sp->q.head = 0; }
    sp->qcount--;
    sp->next_seq--;
}
/* PT_QUEUE_DROP_OLDEST and spool_max_bytes: how many of the oldest queued
   events to evict so that a record of len bytes fits; 0 when none need to
   go or when evicting cannot free a whole segment. */
PT__PRIVATE uint64_t pt__spool_room(pt__spool *sp, size_t len, int drop_oldest) {
    uint64_t need = PT__SP_HDR + (uint64_t)len, over, freed = 0, x = 0;
    size_t i;
    int have_x = 0;
    if (!drop_oldest || sp->bytes + need <= sp->max_bytes || !sp->qcount) return 0;
    over = sp->bytes + need - sp->max_bytes;
    for (i = 0; i < sp->nsegs; i++) {
        const pt__sp_seg *s = &sp->segs[i];
        uint64_t inq = 0;
        if (s->first <= s->last) {
            inq = pt__sp_runs_count_le(&sp->q, s->last) - (s->first ? pt__sp_runs_count_le(&sp->q, s->first - 1) : 0);
            x = s->last; have_x = 1;
        }
        if (inq != s->live) continue;     /* holds events of the batch in flight */
        freed += s->bytes;
        if (freed >= over) return have_x ? pt__sp_runs_count_le(&sp->q, x) : 0;
    }
    return 0;
}
/* The k oldest queued events were evicted (queue bound, drop-oldest). */
PT__PRIVATE void pt__spool_evict(pt__spool *sp, uint64_t k) {
    uint64_t v[64];
    size_t n = 0;
    while (k && sp->qcount) {
        v[n++] = pt__sp_runs_pop(&sp->q);
        sp->qcount--; k--;
        if (n == 64 || !k || !sp->qcount) { pt__sp_ack_list(sp, v, n, PT__SP_DROPPED); n = 0; }
    }
    pt__sp_gc(sp);
    pt__sp_maybe_compact(sp);
}
/* The longest batch to cut now: a batch replayed from the last run is cut
   exactly as it was, so it goes out again with its Idempotency-Key. */
PT__PRIVATE size_t pt__spool_cut_max(const pt__spool *sp, size_t maxn) {
    if (sp->rb_pending && sp->q.n && sp->q.r[sp->q.head].lo == sp->rb_first && sp->rb_count < maxn) return (size_t)sp->rb_count;
    return maxn;
}
/* n events left the queue as one batch; key (37 bytes) is its
   Idempotency-Key, replaced by the stored one on a replay. Writes BATCH. */
PT__PRIVATE void pt__spool_cut(pt__spool *sp, size_t n, char *key) {
    unsigned char p[52];
    size_t i;
    PACKTRACK_ASSERT(n <= sp->bcap);    /* a cut never exceeds batch_size, the arrays' size */
    if (n > sp->bcap) n = sp->bcap;
    for (i = 0; i < n && sp->qcount; i++) { sp->bseq[i] = pt__sp_runs_pop(&sp->q); sp->bdone[i] = 0; sp->qcount--; }
    sp->bn = sp->bleft = i;
    if (!i) return;
    if (sp->rb_pending && sp->bseq[0] == sp->rb_first && i == sp->rb_count && sp->bseq[i - 1] == sp->rb_last) memcpy(key, sp->rb_key, 37);
    sp->rb_pending = 0;
    memcpy(sp->bkey, key, 37);
    pt__sp_w64(p, sp->bseq[i - 1]); pt__sp_w32(p + 8, (uint32_t)i); pt__sp_w32(p + 12, 0);
    memcpy(p + 16, key, 36);
    pt__sp_meta(sp, PT__SP_BATCH, 0, sp->bseq[0], p, 52);
}
/* Events [lo, hi) of the batch are settled: delivered (outcome
   PT__SP_DELIVERED) or failed for good (PT__SP_FAILED; written to the
   dead-letter file first when enabled). An event is settled once only. */
PT__PRIVATE void pt__spool_settle(pt__spool *sp, size_t lo, size_t hi, int outcome,
                                  const char *payload, const size_t *off, const size_t *len) {
    size_t i, j;
    if (hi > sp->bn) hi = sp->bn;
    if (lo >= hi) return;
    if (outcome == PT__SP_FAILED && sp->cfg->enable_dead_letter) {
        pt__buf b;
        pt__file f;
        int ok;
        pt__buf_init(&b, NULL, 0);
        for (i = lo; i < hi; i++) if (!sp->bdone[i]) { pt__buf_put(&b, payload + off[i], len[i]); pt__buf_putc(&b, '\n'); }
        /* opened per write: a replay tool may rename the file meanwhile */
        f = pt__file_open(pt__sp_path(sp, "dead-letter.ndjson"), PT__FILE_APPEND);
        ok = !b.oom && f != PT__BAD_FILE && pt__file_append(f, b.p, b.len) == 0;
        if (!ok && !b.oom) pt__sp_ioerr(sp, "dead-letter write");
        if (ok && sp->cfg->fsync_policy != PT_FSYNC_NONE) pt__file_sync(f);
        pt__file_close(f);
        pt__buf_free(&b);
        if (!ok) {   /* keep them on disk: the next run sends them again */
            pt__sp_log(sp, PT_LOG_ERROR, "%s; %lu event(s) stay in the spool", b.oom ? "spool: out of memory" : sp->err, (unsigned long)(hi - lo));
            for (i = lo; i < hi; i++) if (!sp->bdone[i]) { pt__sp_runs_push(&sp->orphans, sp->bseq[i], sp->bseq[i] + 1); sp->bdone[i] = 1; sp->bleft--; }
            if (!sp->bleft) sp->bn = 0;
            return;
        }
    }
    for (i = lo; i < hi; i = j) {       /* runs of events not settled yet */
        if (sp->bdone[i]) { j = i + 1; continue; }
        for (j = i; j < hi && !sp->bdone[j]; j++) { sp->bdone[j] = 1; sp->bleft--; }
        pt__sp_ack_list(sp, sp->bseq + i, j - i, outcome);
    }
    if (!sp->bleft) { sp->bn = 0; pt__sp_gc(sp); }
    pt__sp_maybe_compact(sp);
}
/* PT_FSYNC_BATCH: called by the worker WITHOUT the lock before a request:
   fsyncs what the batch needs unless an earlier fsync covered it. */
PT__PRIVATE void pt__spool_sync(pt__spool *sp, pt__mutex *mu) {
    pt__file own[PT__SP_MAX_UNSYNCED], act;
    int n, i, dir, ok = 1;
    uint64_t upto;
    if (sp->cfg->fsync_policy != PT_FSYNC_BATCH) return;
    pt__mutex_lock(mu);
    if (sp->syncing || !sp->bn || sp->bseq[sp->bn - 1] < sp->synced_seq) { pt__mutex_unlock(mu); return; }
    n = sp->nunsynced;
    memcpy(own, sp->unsynced, (size_t)n * sizeof(pt__file));
    sp->nunsynced = 0;
    act = sp->seg_fd;
    dir = sp->dir_dirty; sp->dir_dirty = 0;
    upto = sp->next_seq;
    sp->syncing = 1;   /* act stays open: a rotation retires it to sp->unsynced */
    sp->sync_fd = act;
    pt__mutex_unlock(mu);
    for (i = 0; i < n; i++) { if (pt__file_sync(own[i]) != 0) ok = 0; pt__file_close(own[i]); }
    if (act != PT__BAD_FILE && pt__file_sync(act) != 0) ok = 0;
    if (dir) pt__file_sync_dir(sp->dir);
    pt__mutex_lock(mu);
    sp->syncing = 0;
    if (ok && upto > sp->synced_seq) sp->synced_seq = upto;
    if (!ok) pt__sp_log(sp, PT_LOG_ERROR, "spool: fsync failed in %s", sp->dir);
    pt__mutex_unlock(mu);
}
PT__PRIVATE uint64_t pt__spool_bytes(const pt__spool *sp) { return sp ? sp->bytes : 0; }

/* ---- open, replay, close ---- */
PT__PRIVATE void pt__sp_list_cb(void *u, const char *name) {
    pt__spool *sp = (pt__spool *)u;
    uint64_t id = 0;
    int i;
    if (strlen(name) != 24 || memcmp(name, "seg-", 4) || strcmp(name + 20, ".pts")) return;
    for (i = 4; i < 20; i++) {
        char ch = name[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (d < 0) return;
        id = id << 4 | (uint64_t)d;
    }
    if (sp->nids == sp->idcap) {
        size_t nc = sp->idcap ? sp->idcap * 2 : 16;
        uint64_t *ni = (uint64_t *)PT__REALLOC(sp->ids, nc * sizeof *ni);
        if (!ni) { sp->n_bad = (uint64_t)-1; return; }
        sp->ids = ni; sp->idcap = nc;
    }
    sp->ids[sp->nids++] = id;
}
PT__PRIVATE int pt__sp_cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}
PT__PRIVATE int pt__sp_cmp_run(const void *a, const void *b) { return pt__sp_cmp_u64(a, b); }
/* Sorts and merges runs in place; returns the new count. */
PT__PRIVATE size_t pt__sp_merge(pt__sp_run *r, size_t n) {
    size_t i, o = 0;
    if (!n) return 0;
    qsort(r, n, sizeof *r, pt__sp_cmp_run);
    for (i = 1; i < n; i++) {
        if (r[i].lo <= r[o].hi) { if (r[i].hi > r[o].hi) r[o].hi = r[i].hi; }
        else r[++o] = r[i];
    }
    return o + 1;
}
PT__PRIVATE int pt__sp_in(const pt__sp_run *r, size_t n, uint64_t s) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        if (s < r[m].lo) hi = m;
        else if (s >= r[m].hi) lo = m + 1;
        else return 1;
    }
    return 0;
}
/* Reads a whole file: 0 ok, 1 missing, -1 error / out of memory. */
PT__PRIVATE int pt__sp_read_file(const char *path, unsigned char **buf, size_t *len) {
    pt__file f = pt__file_open(path, PT__FILE_READ);
    int64_t sz;
    size_t got = 0;
    *buf = NULL; *len = 0;
    if (f == PT__BAD_FILE) return 1;
    sz = pt__file_size(f);
    if (sz < 0 || (uint64_t)sz > (uint64_t)((size_t)-1 / 2)) { pt__file_close(f); return -1; }
    *buf = (unsigned char *)PT__MALLOC((size_t)sz + 1);
    if (!*buf) { pt__file_close(f); return -1; }
    while (got < (size_t)sz) {
        long r = pt__file_read(f, *buf + got, (size_t)sz - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    pt__file_close(f);
    *len = got;
    return 0;
}
/* A valid record at p[off..n)? Fills type/flag/seq/payload/len. */
PT__PRIVATE int pt__sp_parse(const unsigned char *p, size_t n, size_t off, int *type, int *flag, uint64_t *seq,
                             const unsigned char **pay, size_t *plen) {
    uint32_t len;
    if (n - off < PT__SP_HDR || pt__sp_r32(p + off) != PT__SP_MAGIC
        || pt__sp_hcheck(p + off) != ((uint32_t)p[off + 10] | (uint32_t)p[off + 11] << 8)) return 0;
    len = pt__sp_r32(p + off + 4);
    if (len > n - off - PT__SP_HDR) return 0;
    if (pt__crc32(pt__crc32(0, p + off + PT__SP_HDR, len), p + off + 4, 16) != pt__sp_r32(p + off + 20)) return 0;
    *type = p[off + 8]; *flag = p[off + 9]; *seq = pt__sp_r64(p + off + 12);
    *pay = p + off + PT__SP_HDR; *plen = len;
    return 1;
}
/* The next valid record at or after *off (advancing *off past it), or 0 at
   the end; bytes that are not part of a valid record are added to *skipped
   (the scan resumes at the next byte that can start a magic). */
PT__PRIVATE int pt__sp_next(const unsigned char *p, size_t n, size_t *off, uint64_t *skipped, int *type, int *flag,
                            uint64_t *seq, const unsigned char **pay, size_t *plen) {
    size_t o = *off;
    while (o < n) {
        if (pt__sp_parse(p, n, o, type, flag, seq, pay, plen)) {
            *off = o + PT__SP_HDR + *plen;
            return 1;
        }
        o++; (*skipped)++;
        while (o < n && p[o] != 0x50) { o++; (*skipped)++; }   /* 'P', the magic's first byte */
    }
    *off = o;
    return 0;
}
/* Salvages a file's records. A garbage tail is cut off (when cut) and the
   loss logged. Returns the count of bytes still in the file. */
PT__PRIVATE size_t pt__sp_salvage_log(pt__spool *sp, const char *name, size_t good_end, size_t n, uint64_t mid_skip) {
    if (mid_skip) pt__sp_log(sp, PT_LOG_WARN, "spool: %s: skipped %llu corrupt byte(s) in the middle, salvaged the records after them", name, (unsigned long long)mid_skip);
    if (good_end < n) {
        pt__file f = pt__file_open(pt__sp_path(sp, name), PT__FILE_RW);
        int cut = f != PT__BAD_FILE && pt__file_truncate(f, good_end) == 0;
        pt__file_close(f);
        pt__sp_log(sp, PT_LOG_WARN, "spool: %s: %s %lu byte(s) of a torn or corrupt tail", name, cut ? "cut" : "ignored", (unsigned long)(n - good_end));
        return cut ? good_end : n;
    }
    return n;
}
/* Reads ack.pts: snapshot, acks, the last batch. */
PT__PRIVATE pt_result pt__sp_load_acks(pt__spool *sp) {
    unsigned char *buf;
    size_t n, off = 0, good_end = 0, plen;
    uint64_t skipped = 0, seq, mid = 0;
    const unsigned char *pay;
    int type, flag, rc = pt__sp_read_file(pt__sp_path(sp, "ack.pts"), &buf, &n);
    if (rc < 0) return pt__sp_ioerr(sp, "cannot read ack.pts");
    if (rc > 0) return PT_OK;
    for (;;) {
        uint64_t before = skipped;
        if (!pt__sp_next(buf, n, &off, &skipped, &type, &flag, &seq, &pay, &plen)) break;
        mid += skipped - before;
        good_end = off;
        if (type == PT__SP_SNAP && plen % 16 == 0) {
            size_t i, j = 0, k = plen / 16;
            sp->nacked = 0;
            PT__FREE(sp->snap);
            sp->snap = (pt__sp_run *)PT__MALLOC((k ? k : 1) * sizeof *sp->snap);
            if (!sp->snap) { PT__FREE(buf); pt__fmt(sp->err, sizeof sp->err, "spool: out of memory"); return PT_ERR_NO_MEMORY; }
            for (i = 0; i < k; i++) {
                uint64_t lo = pt__sp_r64(pay + 16 * i), hi = pt__sp_r64(pay + 16 * i + 8);
                if (lo < hi) { sp->snap[j].lo = lo; sp->snap[j++].hi = hi; }
            }
            sp->nsnap = pt__sp_merge(sp->snap, j);
            sp->snap_upto = seq;
            sp->rb_valid = 0;
        } else if (type == PT__SP_ACK && plen == 8) {
            uint64_t hi = pt__sp_r64(pay);
            if (hi <= seq) continue;
            if (sp->nacked == sp->ackcap) {
                size_t nc = sp->ackcap ? sp->ackcap * 2 : 64;
                pt__sp_run *na = (pt__sp_run *)PT__REALLOC(sp->acked, nc * sizeof *na);
                if (!na) { PT__FREE(buf); pt__fmt(sp->err, sizeof sp->err, "spool: out of memory"); return PT_ERR_NO_MEMORY; }
                sp->acked = na; sp->ackcap = nc;
            }
            sp->acked[sp->nacked].lo = seq; sp->acked[sp->nacked++].hi = hi;
            if (hi > sp->max_seen) sp->max_seen = hi;
        } else if (type == PT__SP_BATCH && plen == 52) {
            size_t i;
            sp->rb_first = seq; sp->rb_last = pt__sp_r64(pay); sp->rb_count = pt__sp_r32(pay + 8);
            memcpy(sp->rb_key, pay + 16, 36); sp->rb_key[36] = 0;
            sp->rb_valid = sp->rb_count > 0 && sp->rb_last >= sp->rb_first;
            for (i = 0; i < 36; i++) if ((unsigned char)sp->rb_key[i] < 0x21 || (unsigned char)sp->rb_key[i] > 0x7e) sp->rb_valid = 0;
            if (sp->rb_last + 1 > sp->max_seen) sp->max_seen = sp->rb_last + 1;
        }
        if (type == PT__SP_SNAP && seq > sp->max_seen) sp->max_seen = seq;
    }
    (void)flag;
    pt__sp_salvage_log(sp, "ack.pts", good_end, n, mid);
    sp->nacked = pt__sp_merge(sp->acked, sp->nacked);
    PT__FREE(buf);
    return PT_OK;
}
PT__PRIVATE int pt__sp_live(const pt__spool *sp, uint64_t s) {
    if (s < sp->snap_upto && !pt__sp_in(sp->snap, sp->nsnap, s)) return 0;
    return !pt__sp_in(sp->acked, sp->nacked, s);
}

/* Opens (creating) and locks the directory and reads the ack log; the
   events are then handed out by pt__spool_replay. Thread: client creation. */
PT__PRIVATE pt_result pt__spool_close(pt__spool *sp);
PT__PRIVATE pt_result pt__spool_open(const pt_config *cfg, pt__spool **out, pt_error *err) {
    pt__spool *sp, *o;
    size_t dlen = strlen(cfg->spool_dir);
    pt_result r;
    int lk;
    *out = NULL;
    sp = (pt__spool *)PT__MALLOC(sizeof *sp);
    if (!sp) return pt__err(err, PT_ERR_NO_MEMORY, "out of memory");
    memset(sp, 0, sizeof *sp);
    sp->cfg = cfg;
    sp->lock_fd = sp->seg_fd = sp->ack_fd = sp->sync_fd = PT__BAD_FILE;
    sp->max_bytes = cfg->spool_max_bytes;
    sp->seg_max = PT__MAX(PT__MIN(sp->max_bytes / 8, (uint64_t)4 << 20), (uint64_t)4096);
    pt__buf_init(&sp->rec, NULL, 0);
    sp->dir = (char *)PT__MALLOC(dlen + 1);
    sp->path = (char *)PT__MALLOC(dlen + 40);
    sp->bcap = (size_t)PT__MAX(cfg->batch_size, 1);
    sp->bseq = (uint64_t *)PT__MALLOC(sp->bcap * sizeof *sp->bseq);
    sp->bdone = (unsigned char *)PT__MALLOC(sp->bcap);
    if (!sp->dir || !sp->path || !sp->bseq || !sp->bdone) { pt__spool_close(sp); return pt__err(err, PT_ERR_NO_MEMORY, "out of memory"); }
    memcpy(sp->dir, cfg->spool_dir, dlen + 1);
    while (dlen > 1 && (sp->dir[dlen - 1] == '/' || sp->dir[dlen - 1] == '\\')) sp->dir[--dlen] = 0;
    if (pt__file_mkdir(sp->dir) != 0 || pt__file_dir_key(sp->dir, sp->key, sizeof sp->key) != 0) {
        char os[120];
        r = pt__file_error(os, sizeof os);
        sp->key[0] = 0;
        pt__spool_close(sp);
        return pt__err(err, r, "spool_dir \"%.120s\" cannot be created or read (%s); create it or pick another directory", cfg->spool_dir, os);
    }
    pt__reg_lock();
    for (o = pt__spool_open_list; o; o = o->reg_next) if (!strcmp(o->key, sp->key)) break;
    if (!o) { sp->reg_next = pt__spool_open_list; pt__spool_open_list = sp; }
    pt__reg_unlock();
    if (o) { sp->key[0] = 0; pt__spool_close(sp); return pt__err(err, PT_ERR_SPOOL_LOCKED, "spool_dir \"%.120s\" is used by another client in this process", cfg->spool_dir); }
    sp->lock_fd = pt__file_open(pt__sp_path(sp, "lock"), PT__FILE_RW);
    lk = sp->lock_fd == PT__BAD_FILE ? -1 : pt__file_lock(sp->lock_fd);
    if (lk != 0) {
        if (lk > 0) pt__err(err, PT_ERR_SPOOL_LOCKED, "spool_dir \"%.120s\" is locked by another process", cfg->spool_dir);
        else { pt__sp_ioerr(sp, "lock file"); pt__err(err, PT_ERR_SPOOL, "spool_dir \"%.120s\": cannot lock: %s", cfg->spool_dir, sp->err); }
        pt__spool_close(sp);
        return lk > 0 ? PT_ERR_SPOOL_LOCKED : PT_ERR_SPOOL;
    }
    if (pt__file_list(sp->dir, pt__sp_list_cb, sp) != 0 || sp->n_bad) {
        r = sp->n_bad ? PT_ERR_NO_MEMORY : pt__sp_ioerr(sp, "cannot list the directory");
        pt__spool_close(sp);
        return pt__err(err, r, "spool_dir \"%.120s\": cannot list it", cfg->spool_dir);
    }
    if (sp->nids) qsort(sp->ids, sp->nids, sizeof *sp->ids, pt__sp_cmp_u64);
    if ((r = pt__sp_load_acks(sp)) != PT_OK) {
        pt__err(err, r, "%s", sp->err);
        pt__spool_close(sp);
        return r;
    }
    sp->replaying = 1;
    *out = sp;
    return PT_OK;
}
/* Replay, oldest first: 1 with the next live event (valid until the next
   call), 0 when done (the spool is then ready), -1 on a read error or out
   of memory (sp->err). The caller queues each event in order. */
PT__PRIVATE int pt__spool_replay(pt__spool *sp, const char **json, size_t *len) {
    int type, flag;
    uint64_t seq;
    const unsigned char *pay;
    size_t plen;
    while (sp->replaying) {
        pt__sp_seg *s;
        if (!sp->rloaded) {
            int rc;
            if (sp->ri == sp->nids) break;
            if (sp->nsegs == sp->segcap) {
                size_t nc = sp->segcap ? sp->segcap * 2 : 16;
                pt__sp_seg *ns = (pt__sp_seg *)PT__REALLOC(sp->segs, nc * sizeof *ns);
                if (!ns) { pt__fmt(sp->err, sizeof sp->err, "spool: out of memory"); return -1; }
                sp->segs = ns; sp->segcap = nc;
            }
            PT__FREE(sp->rbuf);
            rc = pt__sp_read_file(pt__sp_seg_path(sp, sp->ids[sp->ri]), &sp->rbuf, &sp->rlen);
            if (rc < 0) { pt__sp_ioerr(sp, "cannot read a segment"); return -1; }
            s = &sp->segs[sp->nsegs++];
            s->id = sp->ids[sp->ri]; s->first = 1; s->last = 0; s->bytes = 0; s->live = 0;
            sp->roff = 0; sp->n_bad = 0; sp->rloaded = 1;
        }
        s = &sp->segs[sp->nsegs - 1];
        for (;;) {
            if (!pt__sp_next(sp->rbuf, sp->rlen, &sp->roff, &sp->n_bad, &type, &flag, &seq, &pay, &plen)) break;
            s->bytes = sp->roff;   /* the end of the last good record */
            if (type != PT__SP_EVENT) continue;
            if (sp->have_ev && seq <= sp->last_ev) continue;    /* never twice, never out of order */
            sp->have_ev = 1; sp->last_ev = seq;
            if (seq + 1 > sp->max_seen) sp->max_seen = seq + 1;
            if (s->first > s->last) s->first = seq;
            s->last = seq;
            if (!pt__sp_live(sp, seq)) continue;
            {
                const char *why = NULL;
                size_t wat = 0;
                if (!pt__json_validate((const char *)pay, plen, 1, &why, &wat)) {
                    pt__sp_log(sp, PT_LOG_WARN, "spool: dropped a stored event that is not a valid JSON object (%s)", why ? why : "?");
                    continue;
                }
            }
            if (pt__sp_runs_push(&sp->q, seq, seq + 1)) { pt__fmt(sp->err, sizeof sp->err, "spool: out of memory"); return -1; }
            s->live++; sp->qcount++; sp->n_replayed++;
            *json = (const char *)pay; *len = plen;
            return 1;
        }
        {   /* end of this segment: report and cut what could not be read */
            char name[32];
            uint64_t tail = sp->rlen - s->bytes, mid;
            if (s->bytes == 0) tail = sp->rlen;
            mid = sp->n_bad >= tail ? sp->n_bad - tail : 0;
            memcpy(name, pt__sp_seg_path(sp, s->id) + strlen(sp->dir) + 1, 25);
            s->bytes = pt__sp_salvage_log(sp, name, (size_t)s->bytes, sp->rlen, mid);
            sp->bytes += s->bytes;
            if (s->id >= sp->next_seg_id) sp->next_seg_id = s->id + 1;
            sp->rloaded = 0; sp->ri++;
        }
    }
    if (!sp->replaying) return 0;
    /* done: settle the bookkeeping, drop dead segments, compact the ack log */
    PT__FREE(sp->rbuf); sp->rbuf = NULL;
    sp->replaying = 0;
    sp->next_seq = PT__MAX(sp->max_seen, sp->snap_upto);
    if (sp->rb_valid && sp->q.n && sp->q.r[sp->q.head].lo == sp->rb_first
        && pt__sp_runs_count_le(&sp->q, sp->rb_last) == sp->rb_count) sp->rb_pending = 1;
    sp->synced_seq = sp->next_seq;
    pt__sp_gc(sp);
    if (sp->n_replayed) pt__sp_log(sp, PT_LOG_INFO, "spool: replaying %llu event(s) left by an earlier run in %s", (unsigned long long)sp->n_replayed, sp->dir);
    sp->ack_fd = pt__file_open(pt__sp_path(sp, "ack.pts"), PT__FILE_APPEND);
    if (sp->ack_fd == PT__BAD_FILE) { pt__sp_ioerr(sp, "cannot open ack.pts"); return -1; }
    {
        int64_t sz = pt__file_size(sp->ack_fd);
        sp->ack_bytes = sz > 0 ? (uint64_t)sz : 0;
        sp->bytes += sp->ack_bytes;
    }
    pt__sp_ack_rewrite(sp);
    PT__FREE(sp->snap); sp->snap = NULL; PT__FREE(sp->acked); sp->acked = NULL; PT__FREE(sp->ids); sp->ids = NULL;
    sp->nsnap = sp->nacked = sp->nids = 0;
    return 0;
}
PT__PRIVATE void pt__sp_free(pt__spool *sp) {
    int i;
    for (i = 0; i < sp->nunsynced; i++) pt__file_close(sp->unsynced[i]);
    pt__file_close(sp->seg_fd); pt__file_close(sp->ack_fd);
    pt__file_close(sp->lock_fd);    /* releases the lock */
    pt__sp_runs_free(&sp->q); pt__sp_runs_free(&sp->orphans);
    pt__buf_free(&sp->rec);
    PT__FREE(sp->segs); PT__FREE(sp->bseq); PT__FREE(sp->bdone); PT__FREE(sp->dir); PT__FREE(sp->path);
    PT__FREE(sp->ids); PT__FREE(sp->rbuf); PT__FREE(sp->snap); PT__FREE(sp->acked);
    PT__FREE(sp);
}
/* Closes the spool (client gone): with nothing live left every file but the
   lock goes; otherwise the live events stay for the next client. */
PT__PRIVATE pt_result pt__spool_close(pt__spool *sp) {
    pt__spool **pp;
    int i;
    if (!sp) return PT_OK;
    if (!sp->replaying && sp->ack_fd != PT__BAD_FILE) {
        if (!sp->qcount && !sp->bleft && !sp->orphans.n) {
            pt__file_close(sp->seg_fd); sp->seg_fd = PT__BAD_FILE;
            while (sp->nsegs) pt__sp_seg_remove(sp, sp->nsegs - 1);
            pt__file_close(sp->ack_fd); sp->ack_fd = PT__BAD_FILE;
            pt__file_unlink(pt__sp_path(sp, "ack.pts"));
            sp->bytes = 0;
        } else {
            if (sp->cfg->fsync_policy != PT_FSYNC_NONE && sp->seg_fd != PT__BAD_FILE) pt__file_sync(sp->seg_fd);
            pt__sp_ack_rewrite(sp);
        }
    }
    if (sp->cfg->fsync_policy != PT_FSYNC_NONE) {
        for (i = 0; i < sp->nunsynced; i++) pt__file_sync(sp->unsynced[i]);
        if (sp->dir_dirty) pt__file_sync_dir(sp->dir);
    }
    if (sp->key[0]) {
        pt__reg_lock();
        for (pp = &pt__spool_open_list; *pp; pp = &(*pp)->reg_next) if (*pp == sp) { *pp = sp->reg_next; break; }
        pt__reg_unlock();
    }
    pt__sp_free(sp);
    return PT_OK;
}
/* fork child: let go of the parent's spool without writing a byte. Runs with
   pt__reg_lock held (the fork handler took it). */
PT__PRIVATE void pt__spool_forget(pt__spool *sp) {
    pt__spool **pp;
    if (!sp) return;
    for (pp = &pt__spool_open_list; *pp; pp = &(*pp)->reg_next) if (*pp == sp) { *pp = sp->reg_next; break; }
    pt__sp_free(sp);   /* closing our descriptors releases nothing of the parent's lock */
}
#else
/* No spool: pt_client_new calls pt__spool_open only when spool_dir is set,
   and it refuses; c->spool stays NULL, so the rest is never reached and
   only keeps the callers free of #if. */
PT__PRIVATE pt_result pt__spool_open(const pt_config *cfg, pt__spool **out, pt_error *err) {
    (void)cfg; *out = NULL;
    return pt__err(err, PT_ERR_CONFIG, "spool_dir is set but this build has PACKTRACK_NO_SPOOL (no disk spool): leave spool_dir unset or rebuild without it");
}
PT__PRIVATE pt_result pt__spool_append(pt__spool *sp, const char *json, size_t len, uint32_t pcrc) { (void)sp; (void)json; (void)len; (void)pcrc; return PT_OK; }
PT__PRIVATE void pt__spool_unappend(pt__spool *sp) { (void)sp; }
PT__PRIVATE uint64_t pt__spool_room(pt__spool *sp, size_t len, int drop_oldest) { (void)sp; (void)len; (void)drop_oldest; return 0; }
PT__PRIVATE void pt__spool_evict(pt__spool *sp, uint64_t k) { (void)sp; (void)k; }
PT__PRIVATE size_t pt__spool_cut_max(const pt__spool *sp, size_t maxn) { (void)sp; return maxn; }
PT__PRIVATE void pt__spool_cut(pt__spool *sp, size_t n, char *key) { (void)sp; (void)n; (void)key; }
PT__PRIVATE void pt__spool_settle(pt__spool *sp, size_t lo, size_t hi, int outcome,
                                  const char *payload, const size_t *off, const size_t *len) {
    (void)sp; (void)lo; (void)hi; (void)outcome; (void)payload; (void)off; (void)len;
}
PT__PRIVATE void pt__spool_sync(pt__spool *sp, pt__mutex *mu) { (void)sp; (void)mu; }
PT__PRIVATE uint64_t pt__spool_bytes(const pt__spool *sp) { (void)sp; return 0; }
PT__PRIVATE int pt__spool_replay(pt__spool *sp, const char **json, size_t *len) { (void)sp; (void)json; (void)len; return 0; }
PT__PRIVATE pt_result pt__spool_close(pt__spool *sp) { (void)sp; return PT_OK; }
PT__PRIVATE void pt__spool_forget(pt__spool *sp) { (void)sp; }
#endif /* PT__SPOOL */

/* What a configuration asks of the build switches: a part left out is a
   clear PT_ERR_CONFIG at pt_client_new, never a silent downgrade. */
PT__PRIVATE pt_result pt__build_check(const pt_config *cfg, pt_error *err) {
#if !PT__SOCKETS
    if (!cfg->http && !cfg->http_async)
        return pt__err(err, PT_ERR_CONFIG, "this build has PACKTRACK_NO_SOCKETS (no built-in HTTP client): set cfg.http or cfg.http_async to an HTTP hook");
#endif
    /* PACKTRACK_NO_SPOOL: pt__spool_open refuses spool_dir (its stub, above) */
#if !PT__DEFLATE && !defined(PACKTRACK_USE_ZLIB) && !defined(PACKTRACK_USE_LIBDEFLATE)
    if (cfg->enable_gzip && !cfg->gzip)
        return pt__err(err, PT_ERR_CONFIG, "enable_gzip needs a gzip encoder but this build has PACKTRACK_NO_DEFLATE: set cfg.gzip, or build with PACKTRACK_USE_ZLIB or PACKTRACK_USE_LIBDEFLATE");
#endif
    (void)cfg; (void)err;
    return PT_OK;
}

/* ==== [pt:queue] ========================================================= */
/* The bounded queue: serialised events in a list of 64 KiB chunks, each
   record = u32 length, u32 reserved, i64 enqueue time (monotonic ms), then
   the JSON padded to 8 bytes. Emptied chunks are kept for reuse, so a steady
   flow allocates nothing. Guarded by the client mutex. */
#define PT__CHUNK_BYTES 65536
#define PT__REC_HDR 16
#define PT__MAX_SPARE 8
typedef struct pt__chunk { struct pt__chunk *next; size_t cap, head, tail; } pt__chunk;
#define PT__CHUNK_DATA(ch) ((unsigned char *)((ch) + 1))
#define PT__CHUNK_CDATA(ch) ((const unsigned char *)((ch) + 1))
typedef struct pt__queue {
    pt__chunk *first, *last, *spare;
    pt__chunk *limbo;             /* emptied while `hold`: still being read by the batch copy */
    int        nspare, hold;
    uint64_t   count, bytes;      /* events and JSON bytes held */
} pt__queue;

PT__PRIVATE size_t pt__rec_size(size_t len) { return PT__REC_HDR + ((len + 7) & ~(size_t)7); }

PT__PRIVATE int pt__q_push(pt__queue *q, const char *json, size_t len, int64_t t) {
    size_t need = pt__rec_size(len);
    pt__chunk *ch = q->last;
    unsigned char *rec;
    uint32_t l32 = (uint32_t)len, z = 0;
    if (!ch || ch->cap - ch->tail < need) {
        size_t cap = PT__CHUNK_BYTES - sizeof(pt__chunk);
        if (need > cap) cap = need;
        if (cap == PT__CHUNK_BYTES - sizeof(pt__chunk) && q->spare) {
            ch = q->spare; q->spare = ch->next; q->nspare--;
        } else {
            ch = (pt__chunk *)PT__MALLOC(sizeof(pt__chunk) + cap);
            if (!ch) return -1;
            ch->cap = cap;
        }
        ch->next = NULL; ch->head = ch->tail = 0;
        if (q->last) q->last->next = ch; else q->first = ch;
        q->last = ch;
    }
    rec = PT__CHUNK_DATA(ch) + ch->tail;
    memcpy(rec, &l32, 4); memcpy(rec + 4, &z, 4); memcpy(rec + 8, &t, 8);
    memcpy(rec + PT__REC_HDR, json, len);
    ch->tail += need;
    q->count++; q->bytes += len;
    return 0;
}
/* The oldest record, or 0 if empty. */
PT__PRIVATE int pt__q_peek(const pt__queue *q, const char **json, size_t *len, int64_t *t) {
    const pt__chunk *ch = q->first;
    const unsigned char *rec;
    uint32_t l32;
    if (!q->count) return 0;
    while (ch && ch->head == ch->tail) ch = ch->next;
    if (!ch) return 0;
    rec = PT__CHUNK_CDATA(ch) + ch->head;
    memcpy(&l32, rec, 4);
    if (len) *len = l32;
    if (t) memcpy(t, rec + 8, 8);
    if (json) *json = (const char *)rec + PT__REC_HDR;
    return 1;
}
/* An emptied chunk goes to the spare list (or is freed); while the worker
   copies popped records outside the lock (`hold`), it waits in limbo. */
PT__PRIVATE void pt__q_retire(pt__queue *q, pt__chunk *ch) {
    if (q->hold) { ch->next = q->limbo; q->limbo = ch; }
    else if (ch->cap == PT__CHUNK_BYTES - sizeof(pt__chunk) && q->nspare < PT__MAX_SPARE) { ch->next = q->spare; q->spare = ch; q->nspare++; }
    else PT__FREE(ch);
}
PT__PRIVATE void pt__q_release(pt__queue *q) {
    pt__chunk *ch, *nx;
    q->hold = 0;
    for (ch = q->limbo; ch; ch = nx) { nx = ch->next; pt__q_retire(q, ch); }
    q->limbo = NULL;
    if (q->last && q->last == q->first && q->last->head == q->last->tail) q->last->head = q->last->tail = 0;
}
PT__PRIVATE void pt__q_pop(pt__queue *q) {
    pt__chunk *ch = q->first;
    uint32_t l32;
    while (ch && ch->head == ch->tail && ch != q->last) {   /* skip emptied chunks */
        q->first = ch->next;
        pt__q_retire(q, ch);
        ch = q->first;
    }
    if (!ch || ch->head == ch->tail) return;
    memcpy(&l32, PT__CHUNK_DATA(ch) + ch->head, 4);
    ch->head += pt__rec_size(l32);
    q->count--; q->bytes -= l32;
    if (ch->head == ch->tail) {
        if (ch == q->last) { if (!q->hold) ch->head = ch->tail = 0; }   /* reuse in place */
        else { q->first = ch->next; pt__q_retire(q, ch); }
    }
}
PT__PRIVATE void pt__q_free(pt__queue *q) {
    pt__chunk *ch, *nx;
    for (ch = q->first; ch; ch = nx) { nx = ch->next; PT__FREE(ch); }
    for (ch = q->spare; ch; ch = nx) { nx = ch->next; PT__FREE(ch); }
    for (ch = q->limbo; ch; ch = nx) { nx = ch->next; PT__FREE(ch); }
    memset(q, 0, sizeof *q);
}

/* ==== [pt:client] ======================================================== */
typedef struct pt__range { size_t lo, hi; } pt__range;
/* The batch in flight: the whole JSON array as cut from the queue, the
   event slices in it, and a stack of ranges still to settle (a rejected
   range is bisected). The flush worker owns it; producers never touch it. */
typedef struct pt__batch {
    pt__buf    payload;
    size_t    *ev_off, *ev_len;
    const char **ev_src;       /* queue records being copied (cut only) */
    size_t     n, ncap;
    pt__range *ranges;
    size_t     nranges, rcap;
    pt__buf    sub;            /* JSON of the current range when it is not the whole batch */
    pt__buf    wire;           /* compressed body */
    const char *json; size_t json_len;   /* current range, uncompressed */
    const char *send; size_t send_len; int gz;
    int        prepared;
    char       key[37];
    int        attempts;
    int64_t    first_try_ms, next_try_ms;
    int64_t    ra_until;       /* the server's Retry-After: no request before this (0: none) */
    int64_t    oldest_ms;      /* enqueue time of the batch's oldest event (pt_health) */
    uint64_t   first_seq;
} pt__batch;

typedef struct pt__core pt__core;
struct pt_client { volatile int64_t closed; volatile int64_t callers; volatile int64_t close_done; volatile int64_t closers; pt__core *core; };

#define PT__POOL 4
struct pt__core {
    pt_config cfg;                 /* resolved; strings below are our copies */
    char     *str_key, *str_url, *str_ua, *str_health, *str_spool, *str_proxy, *str_ca_file, *str_ca_path;
    pt__url   url;
    char      ingest_url[1100], health_url[1100];
    char      host_ctx[600];
    size_t    host_ctx_len;
    pt_client *handle;
    char     *defaults_mem;        /* our copy of cfg.defaults' strings and field arrays */
    int       has_defaults;        /* cfg.defaults sets something: pt__event_merge has work */

    pt__mutex mu;
    pt__cond  cv_work;             /* wakes the worker */
    pt__cond  cv_done;             /* wakes flush/close waiters */
    pt__thread thread;
    int       thread_started, worker_busy, worker_waiting, worker_forever, flush_waiters;
    int       stopping;
    int64_t   close_deadline;
    volatile int64_t cancel_at;    /* in-flight requests are cut off once pt__mono_ms() reaches this */
    int64_t   work_until;          /* manual-mode pt_flush deadline: a request over a transport that
                                      does not step is cut off there (worker-owned; PT__INF_MS otherwise) */
    pt__xfer  xf;                  /* the pipeline's request in progress (worker-owned) */
    int       xf_active;           /* xf started and not finished (lock held to change) */
    int       async_kick;          /* an async completion arrived: step xf again (lock) */
    uint64_t  async_dups, async_late, async_dups_told, async_late_told;   /* ignored completions (lock) */

    pt__queue q;
    uint64_t  accepted_seq, flush_target;
    pt__batch b;
    uint64_t  inf_pending, inf_bytes;
    uint64_t  hw_count, hw_bytes, lw_count, lw_bytes;

    uint64_t  tracked, delivered, failed_rejected, failed_exhausted, failed_oversize;
    uint64_t  dropped_full, dropped_sampled, retried, batches, req_failed, bytes_raw, bytes_sent, wakeups;
    pt_result last_error;
    char      last_error_msg[160];
    int64_t   last_error_wall;

    pt_breaker_state breaker;
    int       consecutive_failures;
    int64_t   open_until;
    int64_t   fail_since_ms;       /* when the current run of failures began */
    int64_t   breaker_first_ms;    /* the open interval the breaker started this outage with */
    int64_t   breaker_ivl_ms;      /* current open interval (doubles per failed probe, capped); 0 when closed */
    int       urgent_attempts;     /* failed tries since pt_flush/pt_close asked for delivery now */
    int64_t   last_push_ms;        /* when a pt_flush last asked for delivery now */
    int       bp_high;
    int       bp_told, bp_delivering;   /* state last given to on_backpressure; a thread is calling it */
    uint64_t  sample_ctr;
    uint64_t  rng;

    pt__conn  flush_conn;
    pt__conn *pool[PT__POOL];
    int       npool;
    pt__deflate *defl;
    pt__mutex defl_mu;             /* the deflate state is shared by the worker and sync callers */
    pt__spool *spool;              /* durable mode (NULL: memory only); guarded by mu */
    pt__core *reg_next;
};

/* Formats and hands one line to the logger. `unlock`: called with c->mu
   held; the logger then runs with the lock dropped, so a slow logger never
   stalls pt_track and a logger that calls back into the client (pt_stats,
   pt_track) cannot deadlock. The caller's state must be consistent then. */
PT__PRIVATE void pt__vlog(pt__core *c, pt_log_level lvl, int unlock, const char *fmt, va_list ap) {
    char msg[300];
    const void *prev;
    if (!c->cfg.logger || lvl < c->cfg.log_level) return;
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[sizeof msg - 1] = 0;
    if (unlock) pt__mutex_unlock(&c->mu);
    PT__CB_ENTER(c->handle, prev);
    c->cfg.logger(lvl, msg, c->cfg.logger_user);
    PT__CB_LEAVE(prev);
    if (unlock) pt__mutex_lock(&c->mu);
}
PT__PRIVATE void pt__log(pt__core *c, pt_log_level lvl, const char *fmt, ...) PT__PRINTF(3, 4);
PT__PRIVATE void pt__log(pt__core *c, pt_log_level lvl, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    pt__vlog(c, lvl, 0, fmt, ap);
    va_end(ap);
}
PT__PRIVATE void pt__log_ul(pt__core *c, pt_log_level lvl, const char *fmt, ...) PT__PRINTF(3, 4);
PT__PRIVATE void pt__log_ul(pt__core *c, pt_log_level lvl, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    pt__vlog(c, lvl, 1, fmt, ap);
    va_end(ap);
}
/* Records the last error (lock held). */
PT__PRIVATE void pt__note_error(pt__core *c, pt_result r, const char *msg) {
    c->last_error = r;
    c->last_error_wall = pt__wall_ms();
    pt__fmt(c->last_error_msg, sizeof c->last_error_msg, "%s", msg);
}

/* ---- fork registry ---- */
static pt__core *pt__registry;
PT__PRIVATE void pt__registry_add(pt__core *c) {
    pt__fork_hooks_install();
    pt__reg_lock(); c->reg_next = pt__registry; pt__registry = c; pt__reg_unlock();
}
PT__PRIVATE void pt__registry_remove(pt__core *c) {
    pt__core **pp;
    pt__reg_lock();
    for (pp = &pt__registry; *pp; pp = &(*pp)->reg_next) if (*pp == c) { *pp = c->reg_next; break; }
    pt__reg_unlock();
}

/* ---- connections ---- */
PT__PRIVATE void pt__conn_init(pt__conn *cn) { memset(cn, 0, sizeof *cn); cn->fd = PT__BAD_SOCK; }
PT__PRIVATE void pt__conn_release(pt__conn *cn) {
    pt__conn_drop(cn);
#if PT__CURL
    pt__curl_conn_free(cn);
#endif
#if PT__WINHTTP
    pt__winhttp_conn_free(cn);
#endif
    PT__FREE(cn->rb);
    cn->rb = NULL;
}
#if PT__SYNC   /* connections for pt_ingest/pt_health (the pipeline has flush_conn) */
PT__PRIVATE pt__conn *pt__pool_get(pt__core *c) {
    pt__conn *cn = NULL;
    pt__mutex_lock(&c->mu);
    if (c->npool) cn = c->pool[--c->npool];
    pt__mutex_unlock(&c->mu);
    if (!cn) {
        cn = (pt__conn *)PT__MALLOC(sizeof *cn);
        if (cn) pt__conn_init(cn);
    }
    return cn;
}
PT__PRIVATE void pt__pool_put(pt__core *c, pt__conn *cn) {
    if (!cn) return;
    pt__mutex_lock(&c->mu);
    if (c->npool < PT__POOL) { c->pool[c->npool++] = cn; cn = NULL; }
    pt__mutex_unlock(&c->mu);
    if (cn) { pt__conn_release(cn); PT__FREE(cn); }
}
#endif

/* ---- one HTTP request through whichever transport is configured ---- */
PT__PRIVATE int pt__req_cancelled(const pt_http_request *r) {
    pt__core *c = (pt__core *)r->cancel_ctx;
    return pt__mono_ms() >= pt__atomic_load(&c->cancel_at);
}
/* The pipeline's request over a transport that does not step: also cut
   off at a manual-mode pt_flush deadline (work_until). */
PT__PRIVATE int pt__req_cancelled_pipe(const pt_http_request *r) {
    pt__core *c = (pt__core *)r->cancel_ctx;
    int64_t now = pt__mono_ms();
    return now >= pt__atomic_load(&c->cancel_at) || now >= c->work_until;
}

/* The synchronous user hook (cfg.http): the whole request inside start. */
PT__PRIVATE int pt__hook_start(pt__xfer *x) {
    pt__core *c = (pt__core *)x->ctx;
    pt_http_response *resp = &x->resp;
    memset(resp, 0, sizeof *resp);
    x->result = c->cfg.http(&x->req, resp, c->cfg.http_user);
    resp->body_head[sizeof resp->body_head - 1] = 0;
    resp->retry_after[sizeof resp->retry_after - 1] = 0;
    resp->error[sizeof resp->error - 1] = 0;
    resp->location[sizeof resp->location - 1] = 0;
    if (resp->body_head_len >= sizeof resp->body_head) resp->body_head_len = sizeof resp->body_head - 1;
    return PT__XF_DONE;
}
PT__PRIVATE int pt__sync_step(pt__xfer *x, int64_t until) { (void)x; (void)until; return PT__XF_DONE; }
PT__PRIVATE void pt__sync_cancel(pt__xfer *x) { (void)x; }
static const pt__transport pt__tp_hook = { "http hook", pt__hook_start, pt__sync_step, pt__sync_cancel };

/* The client's own transport for url (no hook set). */
PT__PRIVATE const pt__transport *pt__tp_for(const char *url) {
#if PT__CURL_LINKED
    (void)url;
    return &pt__tp_curl;
#elif PT__WINHTTP
    (void)url;
    return &pt__tp_winhttp;
#elif PT__CURL_DL
    /* https through the libcurl pt_client_new loaded; http stays built-in */
    return pt__strncaseeq(url, "https:", 6) ? &pt__tp_curl : &pt__tp_builtin;
#else
    (void)url;
    return &pt__tp_builtin;
#endif
}

/* One whole request over the transport a client without a hook would use
   for req->url (built-in, libcurl or WinHTTP), on this thread; user is a
   pt__conn. For a hook that wraps the library's own transport (the CLI).
   https needs pt__tls_ready to have succeeded first. */
PT__PRIVATE pt_result pt__http_native(const pt_http_request *req, pt_http_response *resp, void *user) {
    return pt__xfer_once(pt__tp_for(req->url), user, req, resp);
}

/* ---- the asynchronous hook (cfg.http_async) ----
   Operations live in one process-wide table of slots, guarded by the
   registry lock, so a pt_http_op handle (slot index + generation) stays
   safe to use after the request was cut off or its client freed: a stale
   or repeated completion finds a slot in another state or generation and
   is ignored. A slot remembers its client until that client is freed, so
   a repeated or late completion can be reported in the client's log.
   Lock order: registry lock, then a client's lock (as the fork handlers). */
#if PT__THREADS
#define PT__OPS 256
#else
#define PT__OPS 32     /* PACKTRACK_NO_THREADS: one thread drives every request; keeps 7 KB of bss out of small builds */
#endif
enum { PT__OP_FREE = 0, PT__OP_PENDING, PT__OP_DONE, PT__OP_SPENT, PT__OP_CUT };
typedef struct pt__op_slot {
    uint64_t  gen;
    int       state;                  /* PT__OP_*: SPENT = completed and collected, CUT = cut off */
    pt__core *c;                      /* owner; NULL once the client is freed */
    pt__xfer *x;                      /* the request while PENDING/DONE */
} pt__op_slot;
static pt__op_slot pt__ops[PT__OPS];
static unsigned    pt__ops_next;
#define PT__OP_SLOT(id) ((unsigned)((id) & 0xffffu))
#define PT__OP_GEN(id)  ((id) >> 16)

/* The slot of a live handle, or NULL (registry lock held). */
PT__PRIVATE pt__op_slot *pt__op_find(uint64_t id) {
    pt__op_slot *s;
    if (!id || PT__OP_SLOT(id) >= PT__OPS) return NULL;
    s = &pt__ops[PT__OP_SLOT(id)];
    return s->gen == PT__OP_GEN(id) ? s : NULL;
}
/* Tells the owner's worker that a completion arrived (registry lock held). */
PT__PRIVATE void pt__op_kick(pt__core *c, uint64_t *counter) {
    pt__mutex_lock(&c->mu);
    if (counter) (*counter)++;
    c->async_kick = 1;
    pt__cond_broadcast(&c->cv_work);
    pt__mutex_unlock(&c->mu);
}
/* Forgets a client's slots before it is freed (its requests are done or cut). */
PT__PRIVATE void pt__ops_forget(pt__core *c) {
    unsigned i;
    pt__reg_lock();
    for (i = 0; i < PT__OPS; i++) {
        if (pt__ops[i].c != c) continue;
        if (pt__ops[i].state == PT__OP_PENDING || pt__ops[i].state == PT__OP_DONE) pt__ops[i].state = PT__OP_CUT;
        pt__ops[i].c = NULL; pt__ops[i].x = NULL;
    }
    pt__reg_unlock();
}

/* Takes a completion that arrived (registry lock held). */
PT__PRIVATE int pt__async_collect(pt__xfer *x, pt__op_slot *s) {
    s->state = PT__OP_SPENT;
    s->x = NULL;
    x->op = 0;
    return PT__XF_DONE;
}
/* Ends the request without the host's answer (timeout, close, cancel) and
   tells the host, unless its completion won the race. */
PT__PRIVATE int pt__async_cut(pt__xfer *x, pt_result why, const char *msg) {
    pt__core *c = (pt__core *)x->ctx;
    pt__op_slot *s;
    pt_http_op op;
    int tell = 0;
    pt__reg_lock();
    s = pt__op_find(x->op);
    if (s && s->x == x && s->state == PT__OP_DONE) { pt__async_collect(x, s); pt__reg_unlock(); return PT__XF_DONE; }
    if (s && s->x == x && s->state == PT__OP_PENDING) { s->state = PT__OP_CUT; s->x = NULL; tell = 1; }
    pt__reg_unlock();
    op.id = x->op;
    x->op = 0;
    memset(&x->resp, 0, sizeof x->resp);
    pt__fmt(x->resp.error, sizeof x->resp.error, "%s", msg);
    x->result = why;
    if (tell && c->cfg.http_cancel) {
        const void *prev;
        PT__CB_ENTER(c->handle, prev);
        c->cfg.http_cancel(op, c->cfg.http_user);
        PT__CB_LEAVE(prev);
    }
    return PT__XF_DONE;
}
PT__PRIVATE int pt__async_step(pt__xfer *x, int64_t until) {
    pt__core *c = (pt__core *)x->ctx;
    pt__op_slot *s;
    int64_t now;
    (void)until;                      /* never blocks: the host completes it */
    if (!x->op) return PT__XF_DONE;
    pt__reg_lock();
    s = pt__op_find(x->op);
    if (s && s->x == x && s->state == PT__OP_DONE) { pt__async_collect(x, s); pt__reg_unlock(); return PT__XF_DONE; }
    pt__reg_unlock();
    now = pt__mono_ms();
    if (x->req.cancelled && x->req.cancelled(&x->req)) return pt__async_cut(x, PT_ERR_CANCELLED, "asynchronous request cut off at the deadline");
    if (now >= x->deadline_ms) return pt__async_cut(x, PT_ERR_TIMEOUT, "asynchronous request not completed within timeout_ms");
    x->wake_ms = PT__MIN(x->deadline_ms, pt__atomic_load(&c->cancel_at));
    return PT__XF_PENDING;
}
PT__PRIVATE int pt__async_start(pt__xfer *x) {
    pt__core *c = (pt__core *)x->ctx;
    pt__op_slot *s = NULL;
    pt_http_op op;
    pt_result r;
    unsigned k;
    const void *prev;
    memset(&x->resp, 0, sizeof x->resp);
    x->deadline_ms = pt__mono_ms() + (x->req.timeout_ms > 0 ? x->req.timeout_ms : 10000);
    pt__reg_lock();
    for (k = 0; k < PT__OPS; k++) {
        unsigned i = (pt__ops_next + k) % PT__OPS;
        if (pt__ops[i].state != PT__OP_PENDING && pt__ops[i].state != PT__OP_DONE) { s = &pt__ops[i]; pt__ops_next = i + 1; break; }
    }
    if (s) {
        s->gen++; s->state = PT__OP_PENDING; s->c = c; s->x = x;
        x->op = (s->gen << 16) | (uint64_t)(s - pt__ops);
    }
    pt__reg_unlock();
    if (!s) {
        x->resp.not_sent = 1;
        pt__fmt(x->resp.error, sizeof x->resp.error, "more than %d asynchronous requests in flight", PT__OPS);
        x->result = PT_ERR_NETWORK;
        return PT__XF_DONE;
    }
    op.id = x->op;
    PT__CB_ENTER(c->handle, prev);
    r = c->cfg.http_async(&x->req, op, c->cfg.http_user);
    PT__CB_LEAVE(prev);
    if (r != PT_OK) {               /* the host did not take it: forget the op */
        pt__reg_lock();
        s = pt__op_find(op.id);
        if (s && s->x == x) { s->state = PT__OP_CUT; s->x = NULL; }
        pt__reg_unlock();
        x->op = 0;
        memset(&x->resp, 0, sizeof x->resp);
        x->resp.not_sent = 1;
        pt__fmt(x->resp.error, sizeof x->resp.error, "http_async hook refused the request (%s)", pt_strerror(r));
        x->result = r;
        return PT__XF_DONE;
    }
    return pt__async_step(x, 0);
}
PT__PRIVATE void pt__async_cancel(pt__xfer *x) {
    if (x->op) pt__async_cut(x, PT_ERR_CANCELLED, "asynchronous request cut off");
}
static const pt__transport pt__tp_async = { "async hook", pt__async_start, pt__async_step, pt__async_cancel };

/* Sets x up for one request of this client: headers, timeouts, cut-off at
   the close deadline, and the transport. The bytes (url, body, idem_key)
   stay the caller's and must not change until x is done or cancelled. */
PT__PRIVATE void pt__xfer_setup(pt__core *c, pt__xfer *x, pt__conn *cn, const char *method, const char *url,
                                const void *body, size_t n, int gz, const char *idem_key) {
    pt_http_header *h = x->hdr;
    size_t nh = 0;
    if (c->cfg.http_async) pt__xfer_init(x, &pt__tp_async, c, NULL);
    else if (c->cfg.http || !PT__SOCKETS) pt__xfer_init(x, &pt__tp_hook, c, NULL);   /* no sockets: pt__build_check made sure of a hook */
    else pt__xfer_init(x, pt__tp_for(url), cn, NULL);
    h[nh].name = "Content-Type"; h[nh++].value = "application/json";
    h[nh].name = "X-PackTrack-Key"; h[nh++].value = c->cfg.api_key;
    h[nh].name = "User-Agent"; h[nh++].value = c->cfg.user_agent;
    if (idem_key) { h[nh].name = "Idempotency-Key"; h[nh++].value = idem_key; }
    if (gz) { h[nh].name = "Content-Encoding"; h[nh++].value = "gzip"; }
    x->req.method = method; x->req.url = url; x->req.headers = h; x->req.header_count = nh;
    x->req.body = body; x->req.body_len = n;
    x->req.connect_timeout_ms = c->cfg.connect_timeout_ms; x->req.timeout_ms = c->cfg.timeout_ms;
    x->req.deadline_ms = 0;
    x->req.cancelled = pt__req_cancelled; x->req.cancel_ctx = c;
    x->req.ca_file = c->cfg.ca_file; x->req.ca_path = c->cfg.ca_path; x->req.proxy = c->cfg.proxy;
    x->req.insecure_skip_verify = c->cfg.insecure_skip_verify;
}
#if PT__SYNC
/* One request driven to its end on this thread (pt_ingest, pt_health). */
PT__PRIVATE pt_result pt__request(pt__core *c, pt__conn *cn, const char *method, const char *url, const void *body, size_t n,
                                  int gz, const char *idem_key, pt_http_response *resp) {
    pt__xfer *x = (pt__xfer *)PT__MALLOC(sizeof *x);
    pt_result r;
    if (!x) { memset(resp, 0, sizeof *resp); resp->not_sent = 1; return PT_ERR_NO_MEMORY; }
    pt__xfer_setup(c, x, cn, method, url, body, n, gz, idem_key);
    r = pt__xfer_run(x);
    *resp = x->resp;
    PT__FREE(x);
    return r;
}
#endif

/* Compresses when enabled and worth it. out may be used; *send and *len get the
   bytes to send. Falls back to identity if compression fails. */
PT__PRIVATE int pt__maybe_gzip(pt__core *c, const char *json, size_t n, pt__buf *out, const char **send, size_t *len) {
    size_t cap, got = 0;
    *send = json; *len = n;
    if (!c->cfg.enable_gzip || n < c->cfg.compress_min_bytes) return 0;
    cap = n + n / 8 + 64;
    if (cap < pt__gzip_bound(n)) cap = pt__gzip_bound(n);
    out->len = 0;
    if (PT__BUF_RESERVE(out, cap)) { out->oom = 0; return 0; }
    if (c->cfg.gzip) {
        if (c->cfg.gzip(json, n, out->p, cap, &got, c->cfg.gzip_user) != PT_OK || got == 0 || got > cap) return 0;
    } else {
#if defined(PACKTRACK_USE_ZLIB)
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        if (deflateInit2(&zs, 1, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
        zs.next_in = (Bytef *)(uintptr_t)json; zs.avail_in = (uInt)n;
        zs.next_out = (Bytef *)out->p; zs.avail_out = (uInt)cap;
        if (deflate(&zs, Z_FINISH) != Z_STREAM_END) { deflateEnd(&zs); return 0; }
        got = (size_t)zs.total_out;
        deflateEnd(&zs);
#elif defined(PACKTRACK_USE_LIBDEFLATE)
        struct libdeflate_compressor *z = libdeflate_alloc_compressor(1);
        if (!z) return 0;
        got = libdeflate_gzip_compress(z, json, n, out->p, cap);
        libdeflate_free_compressor(z);
        if (!got) return 0;
#else
        pt__mutex_lock(&c->defl_mu);
        if (!c->defl) c->defl = pt__deflate_new();
        got = c->defl ? pt__gzip(c->defl, json, n, out->p, cap) : 0;
        pt__mutex_unlock(&c->defl_mu);
        if (!got) return 0;
#endif
    }
    out->len = got;
    *send = out->p; *len = got;
    return 1;
}

/* Classifies a finished attempt: 1 delivered, 0 retryable, -1 for good. */
/* `queued`: the attempt carries queued events. A TLS failure fails a sync
   call at once, but queued events are not thrown away for it: they wait
   behind the breaker and backoff until retry_max_elapsed_ms, like any
   transport failure. */
PT__PRIVATE int pt__classify(pt_result tr, const pt_http_response *resp, int queued) {
    if (tr == PT_OK) {
        if (resp->status >= 200 && resp->status < 300) return 1;
        return pt__status_retryable(resp->status) ? 0 : -1;
    }
    if (tr == PT_ERR_UNSUPPORTED || tr == PT_ERR_INVALID_ARG) return -1;
    if (tr == PT_ERR_TLS || tr == PT_ERR_NO_MEMORY) return queued ? 0 : -1;   /* memory comes back: queued events wait */
    return 0;
}

#if PT__SYNC
/* Synchronous send with retries on the calling thread (pt_ingest*). */
PT__PRIVATE PT__COLD pt_result pt__send_sync(pt__core *c, const char *json, size_t n, pt_error *err) {
    pt_http_response resp;
    pt__conn *cn = pt__pool_get(c);
    pt__buf wire;
    const char *send; size_t send_len;
    char key[37];
    int gz, attempt, max_attempts = c->cfg.max_retries < 0 ? 1 : c->cfg.max_retries + 1;
    pt_result tr = PT_OK, out = PT_OK;
    int64_t ra = -1;
    uint64_t rng;
    if (!cn) return pt__err(err, PT_ERR_NO_MEMORY, "out of memory");
    pt__buf_init(&wire, NULL, 0);
    gz = pt__maybe_gzip(c, json, n, &wire, &send, &send_len);
    pt__uuid4(key); key[36] = 0;
    pt__mutex_lock(&c->mu);
    rng = pt__rand_next(&c->rng);
    pt__mutex_unlock(&c->mu);
    for (attempt = 1; ; attempt++) {
        int cls;
        tr = pt__request(c, cn, "POST", c->ingest_url, send, send_len, gz, key, &resp);
        cls = pt__classify(tr, &resp, 0);
        pt__mutex_lock(&c->mu);
        c->batches++; c->bytes_raw += n; c->bytes_sent += send_len;
        if (attempt > 1) c->retried++;
        if (cls != 1) c->req_failed++;
        pt__mutex_unlock(&c->mu);
        if (cls == 1) { out = PT_OK; break; }
        if (tr == PT_OK) {
            ra = pt__parse_retry_after(resp.retry_after, pt__wall_ms());
            if (ra > c->cfg.retry_after_max_ms) ra = c->cfg.retry_after_max_ms;
        } else ra = -1;
        if (cls < 0) {
            if (tr == PT_OK && resp.status >= 300 && resp.status < 400)
                out = pt__err(err, PT_ERR_HTTP, "server answered HTTP %d redirecting to \"%.80s\": redirects are not followed, fix base_url",
                              resp.status, resp.location[0] ? resp.location : "(no Location)");
            else if (tr == PT_OK) out = pt__err(err, PT_ERR_HTTP, "server answered HTTP %d (not retryable)", resp.status);
            else out = pt__err(err, tr, "%s", resp.error[0] ? resp.error : pt_strerror(tr));
            break;
        }
        if (attempt >= max_attempts) {
            if (tr == PT_OK) out = pt__err(err, max_attempts > 1 ? PT_ERR_RETRIES_EXHAUSTED : PT_ERR_HTTP, "server answered HTTP %d after %d attempt(s)", resp.status, attempt);
            else if (max_attempts > 1) out = pt__err(err, PT_ERR_RETRIES_EXHAUSTED, "%s (after %d attempts)", resp.error[0] ? resp.error : pt_strerror(tr), attempt);
            else out = pt__err(err, tr, "%s", resp.error[0] ? resp.error : pt_strerror(tr));
            if (err) err->retryable = 1;
            break;
        }
        {
            int64_t wait = pt__backoff_ms(c->cfg.backoff_base_ms, c->cfg.backoff_max_ms, attempt, !c->cfg.disable_jitter, &rng);
            int64_t end;
            if (ra > wait) wait = ra;
            end = pt__mono_ms() + wait;
            pt__log(c, PT_LOG_INFO, "request failed (%s, HTTP %d); retry %d in %lld ms",
                    tr == PT_OK ? "status" : pt_strerror(tr), resp.status, attempt, (long long)wait);
            while (pt__mono_ms() < end) {
                if (pt__mono_ms() >= pt__atomic_load(&c->cancel_at)) break;
                pt__sleep_ms((int)PT__MIN(end - pt__mono_ms(), (int64_t)10));
            }
            if (pt__mono_ms() >= pt__atomic_load(&c->cancel_at)) { out = pt__err(err, PT_ERR_CANCELLED, "client is closing"); break; }
        }
    }
    if (err) {
        if (out == PT_OK) pt__err_ok(err);
        err->attempts = attempt;
        err->http_status = resp.status;
        err->retry_after_ms = (int)PT__MIN(ra, (int64_t)INT_MAX);
        if (out != PT_OK) {
            err->retryable = err->retryable || pt__classify(tr, &resp, 0) == 0;
            memcpy(err->body_head, resp.body_head, sizeof err->body_head);
            err->body_head[sizeof err->body_head - 1] = 0;
        }
    }
    if (out != PT_OK) {
        pt__mutex_lock(&c->mu);
        pt__note_error(c, out, err ? err->message : pt_strerror(out));
        pt__mutex_unlock(&c->mu);
    }
    pt__buf_free(&wire);
    pt__pool_put(c, cn);
    return out;
}
#endif /* PT__SYNC */

/* ==== [pt:flush] ========================================================= */
/* The pipeline state machine. The same code runs on the flush thread or, in
   manual mode, inside pt_pump/pt_flush/pt_close on the caller's thread. All
   functions here are called with c->mu held; they drop it around I/O. */

/* Hands a spool log line held back under the lock to the logger (lock held;
   the logger runs unlocked). Called where the client state is consistent. */
PT__PRIVATE void pt__spool_log_flush(pt__core *c) {
#if PT__SPOOL
    char msg[300];
    pt_log_level lvl;
    if (!c->spool || !c->spool->has_pend) return;
    lvl = c->spool->pend_lvl;
    memcpy(msg, c->spool->pend, sizeof msg);
    c->spool->has_pend = 0;
    pt__log_ul(c, lvl, "%s", msg);
#else
    (void)c;   /* no spool, no held-back line */
#endif
}
PT__PRIVATE int pt__settled(const pt__core *c, uint64_t t) {
    if (c->inf_pending && c->b.first_seq <= t) return 0;
    if (c->q.count && c->accepted_seq - c->q.count + 1 <= t) return 0;
    return 1;
}
PT__PRIVATE void pt__wake_waiters(pt__core *c) { if (c->flush_waiters) pt__cond_broadcast(&c->cv_done); }

/* Backpressure: returns 1/0 if the state flipped (callback to fire after unlock), -1 if not. */
PT__PRIVATE int pt__bp_update(pt__core *c) {
    uint64_t n = c->q.count + c->inf_pending, by = c->q.bytes + c->inf_bytes;
    if (!c->bp_high && (n >= c->hw_count || by >= c->hw_bytes)) { c->bp_high = 1; return 1; }
    if (c->bp_high && n < c->lw_count && by < c->lw_bytes) { c->bp_high = 0; return 0; }
    return -1;
}
/* Calls on_backpressure with the lock dropped. One thread delivers at a
   time and always the current state, so the user sees high/low strictly
   alternating and ending on the true state, even when a producer and the
   flush thread flip it concurrently or the callback itself calls pt_track. */
PT__PRIVATE void pt__bp_fire(pt__core *c, int flip) {
    const void *prev;
    if (flip < 0 || !c->cfg.on_backpressure || c->bp_delivering) return;
    c->bp_delivering = 1;
    while (c->bp_high != c->bp_told) {
        int state = c->bp_high;
        c->bp_told = state;
        pt__mutex_unlock(&c->mu);
        PT__CB_ENTER(c->handle, prev);
        c->cfg.on_backpressure(state, c->cfg.on_backpressure_user);
        PT__CB_LEAVE(prev);
        pt__mutex_lock(&c->mu);
    }
    c->bp_delivering = 0;
}

/* Moves up to batch_size events / batch_max_bytes from the queue into the
   in-flight batch. 0 ok, -1 out of memory (queue untouched). The records
   are popped under the lock, but copied after dropping it (their chunks
   are held back from reuse meanwhile), so producers never wait for a
   batch-sized memcpy. */
PT__PRIVATE int pt__batch_cut(pt__core *c) {
    pt__batch *b = &c->b;
    size_t n = 0, bytes = 2, maxn = (size_t)c->cfg.batch_size, i;
    const pt__chunk *ch;
    if (PT__SPOOL && c->spool) maxn = pt__spool_cut_max(c->spool, maxn);   /* a replayed batch goes out as it was */
    /* size the batch first so a failed allocation loses nothing */
    for (ch = c->q.first; ch && n < maxn; ch = ch->next) {
        size_t off = ch->head;
        while (off < ch->tail && n < maxn) {
            uint32_t l32;
            memcpy(&l32, PT__CHUNK_CDATA(ch) + off, 4);
            if (n && bytes + l32 + 1 > c->cfg.batch_max_bytes) { maxn = n; break; }
            bytes += l32 + (n ? 1 : 0);
            n++;
            off += pt__rec_size(l32);
        }
    }
    if (!n) return 0;
    if (n > b->ncap) {
        size_t *no = (size_t *)PT__REALLOC(b->ev_off, n * sizeof(size_t));
        size_t *nl;
        if (!no) return -1;
        b->ev_off = no;
        const char **ns;
        nl = (size_t *)PT__REALLOC(b->ev_len, n * sizeof(size_t));
        if (!nl) return -1;
        b->ev_len = nl;
        ns = (const char **)PT__REALLOC((void *)b->ev_src, n * sizeof(const char *));
        if (!ns) return -1;
        b->ev_src = ns;
        b->ncap = n;
    }
    if (!b->rcap) {
        b->ranges = (pt__range *)PT__MALLOC(64 * sizeof(pt__range));
        if (!b->ranges) return -1;
        b->rcap = 64;
    }
    b->payload.len = 0;
    if (PT__BUF_RESERVE(&b->payload, bytes)) { b->payload.oom = 0; return -1; }
    b->first_seq = c->accepted_seq - c->q.count + 1;
    b->oldest_ms = 0;
    pt__q_peek(&c->q, NULL, NULL, &b->oldest_ms);
    c->q.hold = 1;
    for (i = 0; i < n; i++) {
        const char *js = NULL; size_t len = 0;
        pt__q_peek(&c->q, &js, &len, NULL);
        b->ev_src[i] = js; b->ev_len[i] = len;
        c->inf_bytes += len;
        pt__q_pop(&c->q);
    }
    b->n = n;
    c->inf_pending = n;
    b->ranges[0].lo = 0; b->ranges[0].hi = n; b->nranges = 1;
    b->prepared = 0; b->attempts = 0; b->first_try_ms = 0; b->next_try_ms = 0;
    pt__uuid4(b->key); b->key[36] = 0;     /* the whole batch's Idempotency-Key, fixed at the cut */
    if (PT__SPOOL && c->spool) pt__spool_cut(c->spool, n, b->key);
    pt__mutex_unlock(&c->mu);
    b->payload.p[b->payload.len++] = '[';
    for (i = 0; i < n; i++) {
        if (i) b->payload.p[b->payload.len++] = ',';
        b->ev_off[i] = b->payload.len;
        memcpy(b->payload.p + b->payload.len, b->ev_src[i], b->ev_len[i]);
        b->payload.len += b->ev_len[i];
    }
    b->payload.p[b->payload.len++] = ']';
    pt__mutex_lock(&c->mu);
    pt__q_release(&c->q);
    return 0;
}

/* Points b->json at the JSON array of the current range (building it in
   b->sub when it is not the whole batch). 0 ok, -1 out of memory. */
PT__PRIVATE int pt__range_json(pt__batch *b) {
    pt__range r = b->ranges[b->nranges - 1];
    if (r.lo == 0 && r.hi == b->n) { b->json = b->payload.p; b->json_len = b->payload.len; }
    else {
        size_t i, need = 2;
        for (i = r.lo; i < r.hi; i++) need += b->ev_len[i] + 1;
        b->sub.len = 0;
        if (PT__BUF_RESERVE(&b->sub, need) == 0) {
            b->sub.p[b->sub.len++] = '[';
            for (i = r.lo; i < r.hi; i++) {
                if (i > r.lo) b->sub.p[b->sub.len++] = ',';
                memcpy(b->sub.p + b->sub.len, b->payload.p + b->ev_off[i], b->ev_len[i]);
                b->sub.len += b->ev_len[i];
            }
            b->sub.p[b->sub.len++] = ']';
            b->json = b->sub.p; b->json_len = b->sub.len;
        } else {
            b->sub.oom = 0;
            b->json = NULL; b->json_len = 0;
            return -1;
        }
    }
    return 0;
}
/* Builds the body of the current range (worker only, lock not needed). */
PT__PRIVATE void pt__batch_prepare(pt__core *c) {
    pt__batch *b = &c->b;
    if (pt__range_json(b) != 0) return;
    b->gz = pt__maybe_gzip(c, b->json, b->json_len, &b->wire, &b->send, &b->send_len);
    if (b->ranges[b->nranges - 1].lo != 0 || b->ranges[b->nranges - 1].hi != b->n) { pt__uuid4(b->key); b->key[36] = 0; }
    b->prepared = 1;
    b->attempts = 0;
}

/* Settles the current range (lock held): outcome 1 delivered, -1 failed
   (reason: rejected/oversize/exhausted). */
typedef enum { PT__FAIL_REJECTED, PT__FAIL_OVERSIZE, PT__FAIL_EXHAUSTED } pt__fail_kind;
PT__PRIVATE PT__COLD void pt__range_done(pt__core *c, int delivered, pt__fail_kind why, pt_result res, int status) {
    pt__batch *b = &c->b;
    pt__range r = b->ranges[--b->nranges];
    size_t k = r.hi - r.lo, i;
    uint64_t bytes = 0;
    for (i = r.lo; i < r.hi; i++) bytes += b->ev_len[i];
    if (PT__SPOOL && c->spool) pt__spool_settle(c->spool, r.lo, r.hi, delivered ? PT__SP_DELIVERED : PT__SP_FAILED, b->payload.p, b->ev_off, b->ev_len);
    b->prepared = 0;
    /* The spool's log line and the batch callback run before the range
       counts as settled: when pt_flush returns, both have happened. Until
       then the events still count as pending (the stats stay balanced). */
    pt__spool_log_flush(c);
    if (c->cfg.on_batch) {
        pt_batch_result br;
        const void *prev;
        br.events = k; br.result = delivered ? PT_OK : res; br.http_status = status;
        br.attempts = b->attempts;
        br.payload = b->json; br.payload_len = b->json_len;
        pt__mutex_unlock(&c->mu);
        PT__CB_ENTER(c->handle, prev);
        c->cfg.on_batch(&br, c->cfg.on_batch_user);
        PT__CB_LEAVE(prev);
        pt__mutex_lock(&c->mu);
    }
    if (delivered) c->delivered += k;
    else if (why == PT__FAIL_OVERSIZE) c->failed_oversize += k;
    else if (why == PT__FAIL_EXHAUSTED) c->failed_exhausted += k;
    else c->failed_rejected += k;
    c->inf_pending -= k;
    c->inf_bytes -= bytes;
    if (!b->nranges) {
        c->inf_pending = 0; c->inf_bytes = 0; b->n = 0;
        b->first_try_ms = 0;
    }
    pt__wake_waiters(c);
}

/* Starts one request for the current range (lock held, dropped around the
   transport's start) and counts it. 0 started (c->xf_active), -1 when no
   request went out (the body could not be built). */
PT__PRIVATE PT__COLD int pt__attempt_begin(pt__core *c) {
    pt__batch *b = &c->b;
    if (!b->prepared) {
        pt__mutex_unlock(&c->mu);
        pt__batch_prepare(c);
        pt__mutex_lock(&c->mu);
        if (!b->prepared) { b->next_try_ms = pt__mono_ms() + 100; pt__note_error(c, PT_ERR_NO_MEMORY, "out of memory building a batch"); return -1; }
    }
    if (!b->first_try_ms) b->first_try_ms = pt__mono_ms();
    c->xf_active = 1;
    b->attempts++;
    c->batches++;
    c->bytes_raw += b->json_len; c->bytes_sent += b->send_len;
    if (b->attempts > 1) c->retried++;
    pt__mutex_unlock(&c->mu);
    if (PT__SPOOL && c->spool) pt__spool_sync(c->spool, &c->mu);   /* PT_FSYNC_BATCH: on disk before it goes out (a failure line is logged by the next step) */
    pt__xfer_setup(c, &c->xf, &c->flush_conn, "POST", c->ingest_url, b->send, b->send_len, b->gz, b->key);
    if (c->xf.tp->step == pt__sync_step) c->xf.req.cancelled = pt__req_cancelled_pipe;   /* runs to its end inside start */
    c->xf.tp->start(&c->xf);          /* stepped by pt__pipe_progress, also when already done */
    pt__mutex_lock(&c->mu);
    return 0;
}

/* The current range was accepted (2xx). */
PT__PRIVATE void pt__attempt_delivered(pt__core *c, const pt_http_response *resp) {
    c->consecutive_failures = 0;
    c->breaker_ivl_ms = 0;
    c->b.ra_until = 0;
    if (c->breaker != PT_BREAKER_CLOSED) { c->breaker = PT_BREAKER_CLOSED; pt__log_ul(c, PT_LOG_INFO, "server answered again; circuit breaker closed"); }
    pt__range_done(c, 1, PT__FAIL_REJECTED, PT_OK, resp->status);
}

/* A pt_flush or pt_close is waiting: deliver now, the breaker's interval
   does not apply (lock held). */
PT__PRIVATE int pt__urgent(const pt__core *c) { return c->stopping || c->flush_waiters > 0; }

/* pt_flush/pt_close ask for delivery now: the batch in flight is due at
   once (a probe, if the breaker is open), except that a server's
   Retry-After still holds; later tries use the ordinary backoff restarted
   from its base (lock held). */
PT__PRIVATE void pt__urgent_begin(pt__core *c) {
    c->urgent_attempts = 0;
    if (c->inf_pending) {
        int64_t now = pt__mono_ms();
        c->b.next_try_ms = c->b.ra_until > now ? c->b.ra_until : now;
    }
}

/* Opens the breaker after a failure (threshold reached, or a half-open
   probe failed). The first open interval is short: the batch's current
   backoff, at most PT__BREAKER_FIRST_MS; each failed probe doubles it up to
   breaker_cooldown_ms. The wait is also never more than a third of how long
   the outage has lasted (but at least the first interval), so a fault of a
   few seconds is followed by a probe within about a second of its end.
   Jittered within [wait/2, wait]. Failures while pt_flush/pt_close push do
   not grow the interval (they follow the ordinary backoff). */
#define PT__BREAKER_FIRST_MS 800    /* jittered to 400..800 ms: a fault's end is probed well within 1.5 s */
#define PT__URGENT_MAX_MS 1000      /* pt_flush/pt_close retry at most this far apart */
PT__PRIVATE PT__COLD void pt__breaker_trip(pt__core *c, int64_t now, const char *msg) {
    int64_t ivl, lim, wait, cap = c->cfg.breaker_cooldown_ms > 0 ? c->cfg.breaker_cooldown_ms : 1;
    if (!c->breaker_ivl_ms) {
        ivl = pt__backoff_ms(c->cfg.backoff_base_ms, c->cfg.backoff_max_ms, c->b.attempts, 0, NULL);
        if (ivl > PT__BREAKER_FIRST_MS) ivl = PT__BREAKER_FIRST_MS;
        if (ivl > cap) ivl = cap;
        if (ivl < 1) ivl = 1;
        c->breaker_first_ms = ivl;
    } else if (c->breaker == PT_BREAKER_HALF_OPEN && !pt__urgent(c)) {
        ivl = c->breaker_ivl_ms * 2;
        if (ivl > cap) ivl = cap;
    } else ivl = c->breaker_ivl_ms;
    c->breaker_ivl_ms = ivl;
    lim = (now - c->fail_since_ms) / 3;
    if (lim < c->breaker_first_ms) lim = c->breaker_first_ms;
    wait = ivl < lim ? ivl : lim;
    if (!c->cfg.disable_jitter && wait > 1) wait = wait / 2 + (int64_t)(pt__rand_next(&c->rng) % (uint64_t)(wait - wait / 2 + 1));
    c->breaker = PT_BREAKER_OPEN;
    c->open_until = now + wait;
    pt__log_ul(c, PT_LOG_WARN, "%d consecutive failures (%s); circuit breaker open for %lld ms", c->consecutive_failures, msg, (long long)wait);
}

/* A retryable failure: trip the breaker if due, then schedule the next try
   or give the batch up once retry_max_elapsed_ms has passed. */
PT__PRIVATE PT__COLD void pt__attempt_retry(pt__core *c, pt_result tr, const pt_http_response *resp, int64_t now) {
    pt__batch *b = &c->b;
    int64_t wait, ra = -1, next;
    int urgent = pt__urgent(c);
    char msg[160];
    c->req_failed++;
    if (!c->consecutive_failures) c->fail_since_ms = now;
    c->consecutive_failures++;
    if (tr == PT_OK) pt__fmt(msg, sizeof msg, "server answered HTTP %d", resp->status);
    else pt__fmt(msg, sizeof msg, "%s", resp->error[0] ? resp->error : pt_strerror(tr));
    pt__note_error(c, tr == PT_OK ? PT_ERR_HTTP : tr, msg);
    if (c->breaker == PT_BREAKER_HALF_OPEN || c->breaker == PT_BREAKER_OPEN
        || (c->breaker == PT_BREAKER_CLOSED && c->consecutive_failures >= c->cfg.breaker_threshold))
        pt__breaker_trip(c, now, msg);
    if (now - b->first_try_ms >= c->cfg.retry_max_elapsed_ms) {
        pt__log_ul(c, PT_LOG_ERROR, "batch of %lu events failed: retries exhausted after %lld ms (%s)",
                   (unsigned long)c->inf_pending, (long long)(now - b->first_try_ms), msg);
        /* The unsettled ranges always form one contiguous tail [top.lo, n)
           (bisection settles them left to right): report it as one range,
           with its own payload. */
        if (b->nranges > 1) {
            b->ranges[0].lo = b->ranges[b->nranges - 1].lo; b->ranges[0].hi = b->n; b->nranges = 1;
            if (pt__range_json(b) != 0) { b->json = NULL; b->json_len = 0; }
        }
        pt__range_done(c, 0, PT__FAIL_EXHAUSTED, PT_ERR_RETRIES_EXHAUSTED, resp->status);
    } else {
        if (urgent) {   /* pt_flush/pt_close push: ordinary backoff from its base, at most about a second */
            c->urgent_attempts++;
            wait = pt__backoff_ms(c->cfg.backoff_base_ms, PT__MIN(c->cfg.backoff_max_ms, PT__URGENT_MAX_MS), c->urgent_attempts, !c->cfg.disable_jitter, &c->rng);
        } else wait = pt__backoff_ms(c->cfg.backoff_base_ms, c->cfg.backoff_max_ms, b->attempts, !c->cfg.disable_jitter, &c->rng);
        next = now + wait;
        if (!urgent && c->breaker == PT_BREAKER_OPEN) next = c->open_until;   /* the breaker's probe decides */
        if (tr == PT_OK) ra = pt__parse_retry_after(resp->retry_after, pt__wall_ms());
        b->ra_until = 0;
        if (ra >= 0) {
            if (ra > c->cfg.retry_after_max_ms) ra = c->cfg.retry_after_max_ms;
            b->ra_until = now + ra;
            if (b->ra_until > next) next = b->ra_until;
        }
        b->next_try_ms = next;
        pt__log_ul(c, PT_LOG_INFO, "batch of %lu events not delivered (%s); retry %d in %lld ms%s",
                (unsigned long)(b->ranges[b->nranges - 1].hi - b->ranges[b->nranges - 1].lo), msg, b->attempts, (long long)(next - now),
                ra >= 0 ? " (the server's Retry-After)" : "");
    }
}

/* A permanent answer: split the range to isolate the bad event(s) when the
   status says the body was at fault, else drop it for good. */
PT__PRIVATE PT__COLD void pt__attempt_reject(pt__core *c, pt_result tr, const pt_http_response *resp, int64_t now) {
    pt__batch *b = &c->b;
    pt__range r = b->ranges[b->nranges - 1];
    int st = tr == PT_OK ? resp->status : 0;
    c->req_failed++;
    c->consecutive_failures = 0;
    c->breaker_ivl_ms = 0;
    c->b.ra_until = 0;
    if (c->breaker != PT_BREAKER_CLOSED) c->breaker = PT_BREAKER_CLOSED;   /* the server is answering */
    if (r.hi - r.lo > 1 && (st == 400 || st == 413 || st == 422)) {
        size_t mid = r.lo + (r.hi - r.lo) / 2;
        if (b->nranges + 1 >= b->rcap) {
            pt__range *nr = (pt__range *)PT__REALLOC(b->ranges, b->rcap * 2 * sizeof(pt__range));
            if (!nr) { b->next_try_ms = now + 100; return; }
            b->ranges = nr; b->rcap *= 2;
        }
        b->nranges--;
        b->ranges[b->nranges].lo = mid; b->ranges[b->nranges].hi = r.hi; b->nranges++;
        b->ranges[b->nranges].lo = r.lo; b->ranges[b->nranges].hi = mid; b->nranges++;
        b->prepared = 0;
        pt__log_ul(c, PT_LOG_INFO, "server answered HTTP %d to %lu events; splitting to isolate the bad event(s)", st, (unsigned long)(r.hi - r.lo));
    } else {
        char msg[160];
        if (tr == PT_OK && st >= 300 && st < 400)
            pt__fmt(msg, sizeof msg, "server answered HTTP %d redirecting to \"%.60s\" for %lu event(s): redirects are not followed, fix base_url",
                    st, resp->location[0] ? resp->location : "(no Location)", (unsigned long)(r.hi - r.lo));
        else if (tr == PT_OK) pt__fmt(msg, sizeof msg, "server rejected %lu event(s) with HTTP %d", (unsigned long)(r.hi - r.lo), st);
        else pt__fmt(msg, sizeof msg, "%s", resp->error[0] ? resp->error : pt_strerror(tr));
        pt__note_error(c, tr == PT_OK ? PT_ERR_HTTP : tr, msg);
        pt__log_ul(c, PT_LOG_ERROR, "%s; dropped for good", msg);
        pt__range_done(c, 0, st == 413 ? PT__FAIL_OVERSIZE : PT__FAIL_REJECTED, tr == PT_OK ? PT_ERR_HTTP : tr, st);
    }
}

/* The pipeline's request has ended (lock held): classify, settle or schedule. */
PT__PRIVATE PT__COLD void pt__attempt_finish(pt__core *c) {
    pt_result tr = c->xf.result;
    const pt_http_response *resp = &c->xf.resp;
    int cls, flip;
    int64_t now = pt__mono_ms();
    c->xf_active = 0;
    cls = pt__classify(tr, resp, 1);
    if (cls == 1) pt__attempt_delivered(c, resp);
    else if (tr == PT_ERR_CANCELLED) {
        c->req_failed++;
        pt__note_error(c, tr, "request cut off at the close deadline");
        c->b.next_try_ms = now + 10;
        return;
    } else if (cls == 0) pt__attempt_retry(c, tr, resp, now);
    else pt__attempt_reject(c, tr, resp, now);
    flip = pt__bp_update(c);
    pt__bp_fire(c, flip);
}

/* Advances the pipeline's request until `until` at the latest (lock held,
   dropped around the transport). Returns 0 when it ended (settled) or a
   completion is waiting, else the time to step it again. */
PT__PRIVATE int64_t pt__pipe_progress(pt__core *c, int64_t until) {
    int st;
    int64_t now;
    c->async_kick = 0;
    pt__mutex_unlock(&c->mu);
    st = c->xf.tp->step(&c->xf, until);
    pt__mutex_lock(&c->mu);
    if (st == PT__XF_DONE) { pt__attempt_finish(c); return 0; }
    if (c->async_kick) return 0;
    now = pt__mono_ms();
    if (now >= until) return until;
    return c->xf.wake_ms > now ? c->xf.wake_ms : now + 1;
}

/* Repeated or late completions of async requests, told on the worker (lock held). */
PT__PRIVATE PT__COLD void pt__async_report(pt__core *c) {
    if (c->async_dups != c->async_dups_told) {
        c->async_dups_told = c->async_dups;
        pt__log_ul(c, PT_LOG_WARN, "pt_http_complete called again for a request already completed: ignored (%lu so far)", (unsigned long)c->async_dups);
    }
    if (c->async_late != c->async_late_told) {
        c->async_late_told = c->async_late;
        pt__log_ul(c, PT_LOG_INFO, "pt_http_complete for a request already cut off (timeout or close): ignored (%lu so far)", (unsigned long)c->async_late);
    }
}

/* Does the work due now, the transport's part until `until` at the latest.
   Returns the time something is next due, 0 if it did work (call again),
   PT__INF_MS if idle. */
PT__PRIVATE int64_t pt__pipe_step(pt__core *c, int64_t until) {
    int64_t now;
    pt__spool_log_flush(c);
    if (c->async_dups != c->async_dups_told || c->async_late != c->async_late_told) pt__async_report(c);
    now = pt__mono_ms();
    if (!c->inf_pending && c->q.count) {
        int64_t t = 0, due;
        int urgent = c->stopping || !pt__settled(c, c->flush_target);
        pt__q_peek(&c->q, NULL, NULL, &t);
        due = t + c->cfg.flush_interval_ms;
        if (urgent || now >= due || c->q.count >= (uint64_t)c->cfg.batch_size || c->q.bytes >= c->cfg.batch_max_bytes
            || c->q.count * 2 >= (uint64_t)c->cfg.queue_capacity || c->q.bytes * 2 >= c->cfg.queue_max_bytes) {
            if (pt__batch_cut(c) != 0) { pt__note_error(c, PT_ERR_NO_MEMORY, "out of memory cutting a batch"); return now + 100; }
        } else return due;
    }
    if (c->inf_pending) {
        int64_t due;
        if (c->xf_active) return pt__pipe_progress(c, until);
        /* open breaker: its probe time, unless pt_flush/pt_close push */
        due = c->b.next_try_ms;
        if (c->breaker == PT_BREAKER_OPEN && !pt__urgent(c) && c->open_until > due) due = c->open_until;
        if (now < due) return due;
        if (c->breaker == PT_BREAKER_OPEN) {
            c->breaker = PT_BREAKER_HALF_OPEN;
            pt__log_ul(c, PT_LOG_INFO, "circuit breaker half-open: sending one probe");
        }
        if (pt__attempt_begin(c) != 0) return 0;
        return pt__pipe_progress(c, until);
    }
    return PT__INF_MS;
}

/* Runs the pipeline on this thread until `until` (monotonic ms). mode 0:
   return when nothing is due before `until` (pt_pump); 1: until everything
   up to seq `t` is settled (flush); 2: until empty (close). Returns 1 if the
   goal was reached. Lock held. The transport is stepped with the same
   `until`, so no call outlives its budget or deadline: a request that is
   not finished stays in progress and the next pump, flush or close goes
   on with it (close cuts it off at its deadline through cancel_at). */
PT__PRIVATE int pt__work_loop(pt__core *c, int64_t until, int mode, uint64_t t) {
    int did = 0;
    for (;;) {
        int64_t next, now;
        if (mode == 1 && pt__settled(c, t)) return 1;
        if (mode == 2 && !c->q.count && !c->inf_pending) return 1;
        now = pt__mono_ms();
        if (c->stopping && now >= c->close_deadline) return 0;
        if (did && now >= until) return 0;
        next = pt__pipe_step(c, c->stopping ? PT__MIN(until, c->close_deadline) : until);
        if (next == 0) { did = 1; continue; }
        now = pt__mono_ms();
        if (c->stopping && !c->xf_active && next != PT__INF_MS && next >= c->close_deadline) return 0;   /* nothing more can happen in time (e.g. Retry-After) */
        if (mode == 0 && next > until) return 1;
        if (now >= until) return 0;
        if (mode != 0 && next == PT__INF_MS && (mode == 2 || pt__settled(c, t))) return 1;
        c->worker_waiting = 1;
        c->wakeups++;
        pt__cond_wait_ms(&c->cv_work, &c->mu, PT__MIN(next, until) - now);
        c->worker_waiting = 0;
    }
}
PT__PRIVATE int pt__work(pt__core *c, int64_t until, int mode, uint64_t t) {
    int r;
    c->work_until = mode == 1 ? until : PT__INF_MS;
    r = pt__work_loop(c, until, mode, t);
    c->work_until = PT__INF_MS;
    return r;
}

PT__PRIVATE void pt__flush_thread(void *arg) {
    pt__core *c = (pt__core *)arg;
    pt__mutex_lock(&c->mu);
    for (;;) {
        int64_t next, now;
        if (c->stopping && (pt__mono_ms() >= c->close_deadline || (!c->q.count && !c->inf_pending))) break;
        next = pt__pipe_step(c, c->stopping ? c->close_deadline : PT__INF_MS);
        if (next == 0) continue;
        now = pt__mono_ms();
        if (c->stopping) {
            if (!c->q.count && !c->inf_pending) break;
            if (!c->xf_active && next >= c->close_deadline) break;   /* nothing more can happen in time (e.g. Retry-After) */
            if (next > c->close_deadline) next = c->close_deadline;
        }
        if (next <= now) continue;
        c->worker_waiting = 1;
        c->worker_forever = next == PT__INF_MS;
        pt__cond_wait_ms(&c->cv_work, &c->mu, c->worker_forever ? -1 : next - now);
        c->worker_waiting = 0;
        c->worker_forever = 0;
        c->wakeups++;
    }
    pt__cond_broadcast(&c->cv_done);
    pt__mutex_unlock(&c->mu);
}

/* ==== [pt:public] ======================================================== */
#define PT__RESULT_TEXT(name, value, text) case name: return text;
PACKTRACK_API const char *pt_strerror(pt_result r) {
    switch (r) {
    PT__RESULT_LIST(PT__RESULT_TEXT)
    default: return "unknown result";
    }
}
#undef PT__RESULT_TEXT
PACKTRACK_API const char *pt_version(void) { return PACKTRACK_VERSION_STRING; }
PACKTRACK_API int64_t pt_now_ms(void) { return pt__mono_ms(); }
PACKTRACK_API int64_t pt_mono_ms(void) { return pt__mono_ms(); }
PACKTRACK_API int64_t pt_unix_ms(void) { return pt__wall_ms(); }
PACKTRACK_API void pt_uuid4(char out[37]) {
    if (!out) return;
    pt__uuid_seed_init();
    pt__uuid4(out);
    out[36] = 0;
}
PACKTRACK_API void pt_run_id(char out[37]) {
    /* UUID v7: 48-bit Unix ms, then version 7 and the variant over the bits
       of a fresh v4 (unique per call within the process). */
    uint64_t ms;
    int i;
    static const int pos[12] = { 0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12 };
    if (!out) return;
    pt_uuid4(out);
    ms = (uint64_t)pt__wall_ms();
    for (i = 11; i >= 0; i--) { out[pos[i]] = pt__hex[ms & 15]; ms >>= 4; }
    out[14] = '7';
}

PACKTRACK_API void pt_log_stderr(pt_log_level level, const char *message, void *user) {
    static const char *const names[] = { "debug", "info", "warn", "error" };
    (void)user;
    /* one call per line: stdio locks the stream, so lines of threads never interleave */
    fprintf(stderr, "packtrack: %s: %s\n", (unsigned)level < 4u ? names[level] : "log", message ? message : "");
}

PACKTRACK_API pt_field pt_field_str(const char *key, const char *value) {
    pt_field f; memset(&f, 0, sizeof f); f.key = key; f.type = PT_FIELD_STRING; f.str = value; return f;
}
PACKTRACK_API pt_field pt_field_int(const char *key, int64_t value) {
    pt_field f; memset(&f, 0, sizeof f); f.key = key; f.type = PT_FIELD_INT; f.i = value; return f;
}
PACKTRACK_API pt_field pt_field_double(const char *key, double value) {
    pt_field f; memset(&f, 0, sizeof f); f.key = key; f.type = PT_FIELD_DOUBLE; f.d = value; return f;
}
PACKTRACK_API pt_field pt_field_bool(const char *key, int value) {
    pt_field f; memset(&f, 0, sizeof f); f.key = key; f.type = PT_FIELD_BOOL; f.b = value ? 1 : 0; return f;
}
PACKTRACK_API pt_field pt_field_null(const char *key) {
    pt_field f; memset(&f, 0, sizeof f); f.key = key; f.type = PT_FIELD_NULL; return f;
}
PACKTRACK_API pt_field pt_field_raw(const char *key, const char *json) {
    pt_field f; memset(&f, 0, sizeof f); f.key = key; f.type = PT_FIELD_RAW; f.str = json; return f;
}
/* len 0 means "use strlen" in a pt_field, so an empty slice points at "" */
PACKTRACK_API pt_field pt_field_strn(const char *key, const char *value, size_t n) {
    pt_field f; memset(&f, 0, sizeof f); f.key = key; f.type = PT_FIELD_STRING; f.str = value && n ? value : value ? "" : NULL; f.len = n; return f;
}
PACKTRACK_API pt_field pt_field_rawn(const char *key, const char *json, size_t n) {
    pt_field f; memset(&f, 0, sizeof f); f.key = key; f.type = PT_FIELD_RAW; f.str = json && n ? json : ""; f.len = n; return f;
}

/* ---- configuration ---- */
PT__PRIVATE int pt__parse_bool(const char *v, int *out) {
    static const char *const yes[] = { "1", "true", "yes", "y", "on" }, *const no[] = { "0", "false", "no", "n", "off" };
    size_t i, n = strlen(v);
    for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (n == strlen(yes[i]) && pt__strncaseeq(v, yes[i], n)) { *out = 1; return 0; }
        if (n == strlen(no[i]) && pt__strncaseeq(v, no[i], n)) { *out = 0; return 0; }
    }
    return -1;
}
/* A duration written the way Go's time.ParseDuration reads it: one or more
   <decimal number><unit> with units ns, us (or µs, μs), ms, s, m, h ("500ms",
   "10s", "1m30s", "1.5h"; a leading '+' is allowed). Refused: a bare number
   (even "0": a unit says what it means), a sign '-', NaN, infinities, hex,
   exponents, spaces, and anything past 2^63-1 ns. Sub-millisecond values
   round to the nearest ms, and up to 1 ms when not zero. 0 ok, -1 refused. */
PT__PRIVATE int pt__parse_duration_ms(const char *v, int64_t *out) {
    static const char *const names[] = { "ns", "us", "\xC2\xB5s", "\xCE\xBCs", "ms", "s", "m", "h" };
    static const uint64_t unit_ns[] = { 1, 1000, 1000, 1000, 1000000, 1000000000ULL, 60000000000ULL, 3600000000000ULL };
    const uint64_t max_ns = (uint64_t)INT64_MAX;
    uint64_t total = 0;
    const char *p = v;
    if (!p || !*p) return -1;
    if (*p == '+') p++;
    if (!*p) return -1;
    while (*p) {
        uint64_t whole = 0, frac = 0, scale = 1, u = 0, add;
        int digits = 0, over = 0;
        size_t i, best = 0, k;
        while (*p >= '0' && *p <= '9') {
            if (whole > (max_ns - 9) / 10) over = 1;
            else whole = whole * 10 + (uint64_t)(*p - '0');
            p++; digits++;
        }
        if (*p == '.') {
            p++;
            while (*p >= '0' && *p <= '9') {
                if (scale < 1000000000000000000ULL) { frac = frac * 10 + (uint64_t)(*p - '0'); scale *= 10; }
                p++; digits++;
            }
        }
        if (!digits || over) return -1;
        for (i = 0; i < sizeof names / sizeof names[0]; i++) {   /* longest unit name that matches ("ms" before "m") */
            k = strlen(names[i]);
            if (k > best && strncmp(p, names[i], k) == 0) { best = k; u = unit_ns[i]; }
        }
        if (!best) return -1;
        p += best;
        if (whole > max_ns / u) return -1;
        add = whole * u;
        /* fraction: frac/scale of a unit, in ns (u <= 3.6e12, frac < scale <= 1e18: split to avoid overflow) */
        if (frac) {
            double f = (double)frac / (double)scale * (double)u;
            if (f >= (double)(max_ns - add)) return -1;
            add += (uint64_t)f;
        }
        if (add > max_ns - total) return -1;
        total += add;
    }
    *out = (int64_t)((total + 500000) / 1000000);
    if (!*out && total) *out = 1;
    return 0;
}
PT__PRIVATE int pt__parse_int(const char *v, long long lo, long long hi, long long *out) {
    char *end;
    long long x;
    if (!*v) return -1;
    x = strtoll(v, &end, 10);
    if (*end || x < lo || x > hi) return -1;
    *out = x;
    return 0;
}

#if PT__ENVCFG
PACKTRACK_API PT__COLD pt_result pt_config_from_env(pt_config *cfg, pt_error *err) {
    const char *v;
    long long n;
    int64_t d;
    int b;
    if (!cfg) return pt__err(err, PT_ERR_INVALID_ARG, "cfg is NULL");
    pt__err_ok(err);
#define PT__ENV(name) ((v = getenv(name)) != NULL && *v)
#define PT__BAD(name, what) return pt__err(err, PT_ERR_CONFIG, "%s: cannot parse \"%.40s\" as %s", name, v, what)
#define PT__DUR(name, ex) PT__BAD(name, "a duration with a unit, as Go writes it (e.g. " ex "; units ns us ms s m h)")
    if (PT__ENV("PACKTRACK_API_KEY")) cfg->api_key = v;
    if (PT__ENV("PACKTRACK_BASE_URL")) cfg->base_url = v;
    if (PT__ENV("PACKTRACK_USER_AGENT")) cfg->user_agent = v;
    if (PT__ENV("PACKTRACK_HEALTH_PATH")) cfg->health_path = v;
    if (PT__ENV("PACKTRACK_SPOOL_DIR")) cfg->spool_dir = v;
    if (PT__ENV("PACKTRACK_TIMEOUT")) { if (pt__parse_duration_ms(v, &d) || d > INT_MAX) PT__DUR("PACKTRACK_TIMEOUT", "10s"); cfg->timeout_ms = (int)d; }
    if (PT__ENV("PACKTRACK_RETRIES")) {
        if (pt__parse_int(v, 0, 1000, &n)) PT__BAD("PACKTRACK_RETRIES", "a count 0..1000");
        cfg->max_retries = n == 0 ? PT_RETRIES_NONE : (int)n;
    }
    if (PT__ENV("PACKTRACK_BACKOFF_INITIAL")) { if (pt__parse_duration_ms(v, &d) || d > INT_MAX) PT__DUR("PACKTRACK_BACKOFF_INITIAL", "100ms"); cfg->backoff_base_ms = (int)d; }
    if (PT__ENV("PACKTRACK_BACKOFF_MAX")) { if (pt__parse_duration_ms(v, &d) || d > INT_MAX) PT__DUR("PACKTRACK_BACKOFF_MAX", "10s"); cfg->backoff_max_ms = (int)d; }
    if (PT__ENV("PACKTRACK_JITTER")) {
        /* The Go CLI reads a jitter fraction (0..1): 0 turns jitter off, any other fraction keeps full jitter. */
        if (pt__parse_bool(v, &b)) { char *e; double x = strtod(v, &e); if (*e || !(x >= 0 && x <= 1)) PT__BAD("PACKTRACK_JITTER", "a boolean or a fraction 0..1"); b = x > 0; }
        cfg->disable_jitter = !b;
    }
    if (PT__ENV("PACKTRACK_GZIP")) { if (pt__parse_bool(v, &b)) PT__BAD("PACKTRACK_GZIP", "a boolean"); cfg->enable_gzip = b; }
    if (PT__ENV("PACKTRACK_BATCH_SIZE")) { if (pt__parse_int(v, 1, 1000000, &n)) PT__BAD("PACKTRACK_BATCH_SIZE", "a count"); cfg->batch_size = (int)n; }
    if (PT__ENV("PACKTRACK_FLUSH_INTERVAL")) { if (pt__parse_duration_ms(v, &d) || d < 1 || d > INT_MAX) PT__DUR("PACKTRACK_FLUSH_INTERVAL", "1s"); cfg->flush_interval_ms = (int)d; }
    if (PT__ENV("PACKTRACK_QUEUE_CAPACITY")) { if (pt__parse_int(v, 1, 100000000, &n)) PT__BAD("PACKTRACK_QUEUE_CAPACITY", "a count"); cfg->queue_capacity = (int)n; }
    if (PT__ENV("PACKTRACK_DEBUG")) {   /* the user's opt-in: diagnostics to stderr */
        if (pt__parse_bool(v, &b)) PT__BAD("PACKTRACK_DEBUG", "a boolean (1/0)");
        if (b) { if (!cfg->logger) { cfg->logger = pt_log_stderr; cfg->logger_user = NULL; } cfg->log_level = PT_LOG_DEBUG; }
    }
    if (PT__ENV("PACKTRACK_QUEUE_MAX_BYTES")) { if (pt__parse_int(v, 1024, (long long)1 << 40, &n)) PT__BAD("PACKTRACK_QUEUE_MAX_BYTES", "a byte count"); cfg->queue_max_bytes = (size_t)n; }
#undef PT__ENV
#undef PT__BAD
#undef PT__DUR
    return PT_OK;
}
#else
PACKTRACK_API PT__COLD pt_result pt_config_from_env(pt_config *cfg, pt_error *err) {
    (void)cfg;
    return pt__err(err, PT_ERR_UNSUPPORTED, "pt_config_from_env: this build has PACKTRACK_NO_ENV; fill pt_config in code");
}
#endif

PT__PRIVATE int pt__header_safe(const char *s) {
    for (; *s; s++) if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f) return 0;
    return 1;
}

PT__PRIVATE const char *pt__arch(void) {
#if defined(__x86_64__) || defined(_M_X64)
    return "x86_64";
#elif defined(__aarch64__) || defined(_M_ARM64)
    return "arm64";
#elif defined(__i386__) || defined(_M_IX86)
    return "x86";
#elif defined(__arm__) || defined(_M_ARM)
    return "arm";
#elif defined(__riscv)
    return "riscv";
#else
    return "unknown";
#endif
}
PT__PRIVATE PT__COLD void pt__host_ctx_build(pt__core *c) {
    pt__buf b;
    char host[256], num[24];
    pt__buf_init(&b, c->host_ctx, sizeof c->host_ctx);
    pt__host_name(host, sizeof host);
    pt__buf_lit(&b, "\"host\":{\"name\":");
    pt__json_str(&b, host, strlen(host));
    pt__buf_lit(&b, ",\"pid\":");
    pt__buf_put(&b, num, pt__i64_dec(num, pt__getpid()));
    pt__buf_lit(&b, ",\"os\":\"");
    pt__buf_puts(&b, pt__os_name());
    pt__buf_lit(&b, "\",\"arch\":\"");
    pt__buf_puts(&b, pt__arch());
    pt__buf_lit(&b, "\"},\"sdk\":{\"name\":\"packtrack-c\",\"version\":\"" PACKTRACK_VERSION_STRING "\"}");
    if (b.heap || b.len >= sizeof c->host_ctx) { pt__buf_free(&b); c->host_ctx_len = 0; return; }
    c->host_ctx[b.len] = 0;
    c->host_ctx_len = b.len;
}

PT__PRIVATE PT__COLD void pt__core_free(pt__core *c) {
    int i;
#if PT__SPOOL
    if (c->spool) {   /* no lock is held any more: pending and closing lines go straight out */
        c->spool->defer = 0;
        if (c->spool->has_pend && c->cfg.logger) c->cfg.logger(c->spool->pend_lvl, c->spool->pend, c->cfg.logger_user);
        c->spool->has_pend = 0;
    }
#endif
    if (c->xf_active) { c->xf.tp->cancel(&c->xf); c->xf_active = 0; }   /* tells an async host */
    pt__ops_forget(c);
    pt__spool_close(c->spool);
    pt__conn_release(&c->flush_conn);
    for (i = 0; i < c->npool; i++) { pt__conn_release(c->pool[i]); PT__FREE(c->pool[i]); }
    pt__q_free(&c->q);
    pt__buf_free(&c->b.payload); pt__buf_free(&c->b.sub); pt__buf_free(&c->b.wire);
    PT__FREE(c->b.ev_off); PT__FREE(c->b.ev_len); PT__FREE((void *)c->b.ev_src); PT__FREE(c->b.ranges);
    pt__deflate_free(c->defl);
    PT__FREE(c->str_key); PT__FREE(c->str_url); PT__FREE(c->str_ua); PT__FREE(c->str_health);
    PT__FREE(c->str_spool); PT__FREE(c->str_proxy); PT__FREE(c->str_ca_file); PT__FREE(c->str_ca_path);
    PT__FREE(c->defaults_mem);
    pt__cond_destroy(&c->cv_work); pt__cond_destroy(&c->cv_done);
    pt__mutex_destroy(&c->mu); pt__mutex_destroy(&c->defl_mu);
    PT__FREE(c);
}

/* ---- event defaults ----
   cfg.defaults is validated and deep-copied by pt_client_new (one block:
   the field arrays first, for alignment, then every string). pt__event_merge
   then fills a copy of each event before serialisation; the serialiser
   itself never sees the defaults. */
#define PT__DEF_STRINGS(X) X(source_system) X(source_env) X(workflow_id) X(workflow_name) X(run_id) \
    X(step_id) X(actor_type) X(actor_id) X(actor_display_name) X(status) X(message)
/* The string members as one table of offsets: the loops below run over it
   (the per-member macro expansion was a kilobyte of repeated code). */
#define PT__DEF_OFF(f) offsetof(pt_event, f),
static const size_t pt__def_str_off[] = { PT__DEF_STRINGS(PT__DEF_OFF) };
#undef PT__DEF_OFF
#define PT__DEF_NSTR (sizeof pt__def_str_off / sizeof pt__def_str_off[0])
PT__PRIVATE const char **pt__ev_str(pt_event *ev, size_t k) { return (const char **)(void *)((char *)ev + pt__def_str_off[k]); }
PT__PRIVATE size_t pt__field_strlen(const pt_field *f) { return f->str ? (f->len ? f->len : strlen(f->str)) + 1 : 0; }
#if !PT__DEFAULTS
/* PACKTRACK_NO_DEFAULTS: a set cfg.defaults is refused, never ignored. */
PT__PRIVATE PT__COLD pt_result pt__defaults_check(const pt_event *d, pt_error *err) {
    size_t i;
    int set = d->metadata_count || d->extra_count || d->severity != PT_SEVERITY_UNSET || d->timestamp_ms || d->idempotency_key;
    for (i = 0; i < PT__DEF_NSTR; i++) if (*(const char *const *)(const void *)((const char *)d + pt__def_str_off[i])) set = 1;
    if (set) return pt__err(err, PT_ERR_CONFIG, "cfg.defaults is set but this build has PACKTRACK_NO_DEFAULTS: fill each event's fields, or rebuild without it");
    return PT_OK;
}
PT__PRIVATE PT__COLD pt_result pt__defaults_copy(pt__core *c, pt_error *err) { (void)err; c->has_defaults = 0; return PT_OK; }
#else
PT__PRIVATE PT__COLD pt_result pt__defaults_check(const pt_event *d, pt_error *err) {
    pt__buf b;
    pt_result r;
    if (d->timestamp_ms) return pt__err(err, PT_ERR_CONFIG, "defaults.timestamp_ms must be 0 (each event gets its own time)");
    if (d->idempotency_key) return pt__err(err, PT_ERR_CONFIG, "defaults.idempotency_key must be NULL (a shared key would make the server drop events as duplicates)");
    if ((int)d->severity < 0 || (int)d->severity > (int)PT_SEVERITY_ERROR) return pt__err(err, PT_ERR_CONFIG, "defaults.severity is not a pt_severity value");
    pt__buf_init(&b, NULL, 0);
    r = pt__fields_json(&b, "defaults.metadata", d->metadata, d->metadata_count, NULL, 0, err);
    if (r == PT_OK) { b.len = 0; r = pt__fields_json(&b, "defaults.extra", d->extra, d->extra_count, NULL, 0, err); }
    if (r == PT_OK && b.oom) r = pt__err(err, PT_ERR_NO_MEMORY, "out of memory");
    pt__buf_free(&b);
    if (r != PT_OK) return r == PT_ERR_NO_MEMORY ? r : (pt_result)PT_ERR_CONFIG;
    return PT_OK;
}
PT__PRIVATE char *pt__defaults_put(char **at, const char *s, size_t n) {
    char *d = *at;
    memcpy(d, s, n - 1); d[n - 1] = 0;
    *at += n;
    return d;
}
PT__PRIVATE PT__COLD pt_result pt__defaults_copy(pt__core *c, pt_error *err) {
    pt_event *d = &c->cfg.defaults;
    size_t nf = d->metadata_count + d->extra_count, total, i;
    char *at;
    pt_field *fs;
    total = nf * sizeof(pt_field);
    for (i = 0; i < PT__DEF_NSTR; i++) if (*pt__ev_str(d, i)) total += strlen(*pt__ev_str(d, i)) + 1;
    for (i = 0; i < d->metadata_count; i++) total += (d->metadata[i].key ? strlen(d->metadata[i].key) + 1 : 0) + pt__field_strlen(&d->metadata[i]);
    for (i = 0; i < d->extra_count; i++) total += (d->extra[i].key ? strlen(d->extra[i].key) + 1 : 0) + pt__field_strlen(&d->extra[i]);
    c->has_defaults = total > 0 || d->severity != PT_SEVERITY_UNSET;
    if (!total) return PT_OK;
    if (!(c->defaults_mem = (char *)PT__MALLOC(total))) return pt__err(err, PT_ERR_NO_MEMORY, "out of memory copying cfg.defaults");
    fs = (pt_field *)(void *)c->defaults_mem;
    at = c->defaults_mem + nf * sizeof(pt_field);
    for (i = 0; i < PT__DEF_NSTR; i++) {
        const char **f = pt__ev_str(d, i);
        if (*f) *f = pt__defaults_put(&at, *f, strlen(*f) + 1);
    }
    for (i = 0; i < nf; i++) {
        pt_field *x = &fs[i];
        *x = i < d->metadata_count ? d->metadata[i] : d->extra[i - d->metadata_count];
        if (x->key) x->key = pt__defaults_put(&at, x->key, strlen(x->key) + 1);
        if (x->str) x->str = pt__defaults_put(&at, x->str, pt__field_strlen(x));
    }
    d->metadata = d->metadata_count ? fs : NULL;
    d->extra = d->extra_count ? fs + d->metadata_count : NULL;
    return PT_OK;
}
#endif /* PT__DEFAULTS */

/* An event with the defaults filled in. Field arrays that gain default
   entries are built in `fs` (on the caller's stack) or, when larger, on the heap. */
#define PT__MERGE_STACK 24
typedef struct pt__merged {
    pt_event  ev;
    pt_field  fs[PT__MERGE_STACK];
    pt_field *heap;
} pt__merged;
PT__PRIVATE int pt__field_has_key(const pt_field *f, size_t n, const char *key) {
    size_t i;
    for (i = 0; i < n; i++) if (f[i].key && strcmp(f[i].key, key) == 0) return 1;
    return 0;
}
/* How many default entries an event list of n entries does not override. */
PT__PRIVATE size_t pt__merge_count(const pt_field *ev, size_t n, const pt_field *def, size_t dn) {
    size_t i, k = 0;
    if (n && !ev) return 0;   /* the serialiser reports the NULL list */
    for (i = 0; i < dn; i++) if (def[i].type != PT_FIELD_UNSET && !pt__field_has_key(ev, n, def[i].key)) k++;
    return k;
}
PT__PRIVATE pt_field *pt__merge_list(pt_field *out, const pt_field *ev, size_t n, const pt_field *def, size_t dn, size_t *count) {
    size_t i, k = n;
    if (n) memcpy(out, ev, n * sizeof *out);
    for (i = 0; i < dn; i++) if (def[i].type != PT_FIELD_UNSET && !pt__field_has_key(ev, n, def[i].key)) out[k++] = def[i];
    *count = k;
    return out;
}
PT__PRIVATE void pt__merged_free(pt__merged *m) { PT__FREE(m->heap); m->heap = NULL; }
/* Unix time checks are here, not in the serialiser, so every path (pt_track,
   pt_ingest, pt_event_to_json) refuses the same way. *out is the event to
   serialise: ev itself when nothing needs filling. c may be NULL. */
#define PT__UNIX_2001_MS 978307200000LL
PT__PRIVATE pt_result pt__event_merge(const pt__core *c, const pt_event *ev, pt__merged *m, const pt_event **out, pt_error *err) {
    const pt_event *d;
    size_t am, ax, need, i;
    pt_field *fs;
    *out = ev;
    m->heap = NULL;
    if (!ev) return PT_OK;
    if (ev->timestamp_ms != 0 && ev->timestamp_ms < PT__UNIX_2001_MS)
        return pt__err(err, PT_ERR_INVALID_ARG, "timestamp_ms %lld is before 2001-01-01, so it is not Unix time in milliseconds: "
                       "use pt_unix_ms() (pt_now_ms()/pt_mono_ms() are a monotonic clock) or 0 for now", (long long)ev->timestamp_ms);
    if (!PT__DEFAULTS || !c || !c->has_defaults) return PT_OK;
    d = &c->cfg.defaults;
    m->ev = *ev;
    for (i = 0; i < PT__DEF_NSTR; i++) {
        const char **f = pt__ev_str(&m->ev, i);
        if (!*f) *f = *pt__ev_str((pt_event *)(uintptr_t)d, i);
    }
    if (m->ev.severity == PT_SEVERITY_UNSET) m->ev.severity = d->severity;
    am = pt__merge_count(ev->metadata, ev->metadata_count, d->metadata, d->metadata_count);
    ax = pt__merge_count(ev->extra, ev->extra_count, d->extra, d->extra_count);
    need = (am ? ev->metadata_count + am : 0) + (ax ? ev->extra_count + ax : 0);
    fs = m->fs;
    if (need > PT__MERGE_STACK) {
        if (!(fs = m->heap = (pt_field *)PT__MALLOC(need * sizeof *fs))) return pt__err(err, PT_ERR_NO_MEMORY, "out of memory merging defaults");
    }
    if (am) { m->ev.metadata = pt__merge_list(fs, ev->metadata, ev->metadata_count, d->metadata, d->metadata_count, &m->ev.metadata_count); fs += m->ev.metadata_count; }
    if (ax) m->ev.extra = pt__merge_list(fs, ev->extra, ev->extra_count, d->extra, d->extra_count, &m->ev.extra_count);
    *out = &m->ev;
    return PT_OK;
}

PACKTRACK_API PT__COLD pt_result pt_client_new(const pt_config *in, pt_client **out, pt_error *err) {
    pt_config cfg;
    pt__url url;
    pt__core *c;
    pt_client *h;
    pt_result r;
    char auth[300];
    if (out) *out = NULL;
    if (!in || !out) return pt__err(err, PT_ERR_INVALID_ARG, "cfg and out must not be NULL");
    cfg = *in;
    if (pt__empty(cfg.api_key)) return pt__err(err, PT_ERR_CONFIG, "api_key is required: set cfg.api_key or PACKTRACK_API_KEY");
    if (!pt__header_safe(cfg.api_key)) return pt__err(err, PT_ERR_CONFIG, "api_key contains a control character");
    if (!cfg.base_url) cfg.base_url = PT_DEFAULT_BASE_URL;
    if ((r = pt__url_parse(cfg.base_url, &url, err)) != PT_OK) return r;
    if (cfg.http && cfg.http_async) return pt__err(err, PT_ERR_CONFIG, "set http or http_async, not both");
    if (cfg.http_cancel && !cfg.http_async) return pt__err(err, PT_ERR_CONFIG, "http_cancel is set without http_async");
    if ((r = pt__build_check(&cfg, err)) != PT_OK) return r;
    if (PT__SOCKETS && url.https && !cfg.http && !cfg.http_async && (r = pt__tls_ready(&cfg, err)) != PT_OK) return r;   /* without sockets pt__build_check asked for a hook */
    if (cfg.user_agent && !pt__header_safe(cfg.user_agent)) return pt__err(err, PT_ERR_CONFIG, "user_agent contains a control character");
    if (cfg.health_path && cfg.health_path[0] && cfg.health_path[0] != '/') return pt__err(err, PT_ERR_CONFIG, "health_path must start with '/'");
    if (cfg.timeout_ms < 0 || cfg.connect_timeout_ms < 0 || cfg.backoff_base_ms < 0 || cfg.backoff_max_ms < 0 || cfg.retry_after_max_ms < 0
        || cfg.retry_max_elapsed_ms < 0 || cfg.breaker_threshold < 0 || cfg.breaker_cooldown_ms < 0 || cfg.batch_size < 0
        || cfg.flush_interval_ms < 0 || cfg.queue_capacity < 0 || cfg.high_water_pct < 0 || cfg.low_water_pct < 0 || cfg.sample_keep_one_in < 0)
        return pt__err(err, PT_ERR_CONFIG, "a numeric setting is negative (only max_retries may be PT_RETRIES_NONE)");
    if (cfg.max_retries < PT_RETRIES_NONE) return pt__err(err, PT_ERR_CONFIG, "max_retries must be >= 0 or PT_RETRIES_NONE");
    if ((int)cfg.queue_policy < 0 || (int)cfg.queue_policy > (int)PT_QUEUE_DROP_OLDEST) return pt__err(err, PT_ERR_CONFIG, "queue_policy is not a pt_queue_policy value");
    if ((int)cfg.fsync_policy < 0 || (int)cfg.fsync_policy > (int)PT_FSYNC_EVERY) return pt__err(err, PT_ERR_CONFIG, "fsync_policy is not a pt_fsync_policy value");
    if ((int)cfg.sample_max_severity < 0 || (int)cfg.sample_max_severity > (int)PT_SEVERITY_ERROR) return pt__err(err, PT_ERR_CONFIG, "sample_max_severity is not a pt_severity value");
    /* defaults */
    cfg.user_agent = cfg.user_agent ? cfg.user_agent : "packtrack-c/" PACKTRACK_VERSION_STRING;
    cfg.timeout_ms = PT__DEF(cfg.timeout_ms, 10000);
    cfg.connect_timeout_ms = PT__DEF(cfg.connect_timeout_ms, 5000);
    cfg.max_retries = cfg.max_retries == 0 ? 3 : cfg.max_retries == PT_RETRIES_NONE ? PT_RETRIES_NONE : cfg.max_retries;
    cfg.backoff_base_ms = PT__DEF(cfg.backoff_base_ms, 100);
    cfg.backoff_max_ms = PT__DEF(cfg.backoff_max_ms, 10000);
    if (cfg.backoff_max_ms < cfg.backoff_base_ms) cfg.backoff_max_ms = cfg.backoff_base_ms;
    cfg.retry_after_max_ms = PT__DEF(cfg.retry_after_max_ms, 60000);
    cfg.retry_max_elapsed_ms = PT__DEF(cfg.retry_max_elapsed_ms, (int64_t)600000);
    cfg.breaker_threshold = PT__DEF(cfg.breaker_threshold, 5);
    cfg.breaker_cooldown_ms = PT__DEF(cfg.breaker_cooldown_ms, 30000);
    cfg.compress_min_bytes = PT__DEF(cfg.compress_min_bytes, (size_t)1024);
    cfg.batch_size = PT__DEF(cfg.batch_size, 100);
    cfg.batch_max_bytes = PT__DEF(cfg.batch_max_bytes, (size_t)1 << 20);
    cfg.flush_interval_ms = PT__DEF(cfg.flush_interval_ms, 1000);
    cfg.queue_capacity = PT__DEF(cfg.queue_capacity, 10000);
    cfg.queue_max_bytes = PT__DEF(cfg.queue_max_bytes, (size_t)8 << 20);
    cfg.queue_policy = cfg.queue_policy == PT_QUEUE_DEFAULT ? PT_QUEUE_REJECT_NEWEST : cfg.queue_policy;
    cfg.event_max_bytes = PT__DEF(cfg.event_max_bytes, (size_t)1 << 20);
    cfg.high_water_pct = PT__DEF(cfg.high_water_pct, 80);
    cfg.low_water_pct = PT__DEF(cfg.low_water_pct, 50);
    cfg.sample_keep_one_in = PT__DEF(cfg.sample_keep_one_in, 10);
    cfg.fsync_policy = cfg.fsync_policy == PT_FSYNC_DEFAULT ? PT_FSYNC_BATCH : cfg.fsync_policy;
    cfg.spool_max_bytes = PT__DEF(cfg.spool_max_bytes, (size_t)256 << 20);
    if (cfg.high_water_pct > 100 || cfg.low_water_pct >= cfg.high_water_pct) return pt__err(err, PT_ERR_CONFIG, "need 0 < low_water_pct < high_water_pct <= 100");
    if (cfg.event_max_bytes > cfg.queue_max_bytes) cfg.event_max_bytes = cfg.queue_max_bytes;
    if (cfg.event_max_bytes > (size_t)0x7fffffff) cfg.event_max_bytes = (size_t)0x7fffffff;   /* queue records hold a 32-bit length */
    if (cfg.batch_max_bytes < 64) return pt__err(err, PT_ERR_CONFIG, "batch_max_bytes must be at least 64");
#if !PT__THREADS
    cfg.manual_mode = 1;
#endif
    if (cfg.enable_dead_letter && pt__empty(cfg.spool_dir)) return pt__err(err, PT_ERR_CONFIG, "enable_dead_letter needs spool_dir (the file is <spool_dir>/dead-letter.ndjson)");
    if ((r = pt__defaults_check(&cfg.defaults, err)) != PT_OK) return r;

    c = (pt__core *)PT__MALLOC(sizeof *c);
    h = (pt_client *)PT__MALLOC(sizeof *h);
    if (!c || !h) { PT__FREE(c); PT__FREE(h); return pt__err(err, PT_ERR_NO_MEMORY, "out of memory"); }
    memset(c, 0, sizeof *c);
    memset(h, 0, sizeof *h);
    c->str_key = pt__strdup(cfg.api_key);
    c->str_url = pt__strdup(cfg.base_url);
    c->str_ua = pt__strdup(cfg.user_agent);
    c->str_health = pt__strdup(cfg.health_path);
    c->str_spool = pt__strdup(cfg.spool_dir);
    c->str_proxy = pt__strdup(cfg.proxy);
    c->str_ca_file = pt__strdup(cfg.ca_file);
    c->str_ca_path = pt__strdup(cfg.ca_path);
    cfg.api_key = c->str_key; cfg.base_url = c->str_url; cfg.user_agent = c->str_ua; cfg.health_path = c->str_health;
    cfg.spool_dir = c->str_spool; cfg.proxy = c->str_proxy; cfg.ca_file = c->str_ca_file; cfg.ca_path = c->str_ca_path;
    c->cfg = cfg;
    c->url = url;
    pt__mutex_init(&c->mu); pt__mutex_init(&c->defl_mu);
    pt__cond_init(&c->cv_work); pt__cond_init(&c->cv_done);
    if (!c->str_key || !c->str_url || !c->str_ua || (in->health_path && !c->str_health) || (in->proxy && !c->str_proxy)
        || (in->ca_file && !c->str_ca_file) || (in->ca_path && !c->str_ca_path) || (in->spool_dir && !c->str_spool)) {
        pt__core_free(c); PT__FREE(h);
        return pt__err(err, PT_ERR_NO_MEMORY, "out of memory");
    }
    pt__url_authority(&url, auth, sizeof auth);
    pt__fmt(c->ingest_url, sizeof c->ingest_url, "%s://%s%s/api/ingest", url.https ? "https" : "http", auth, url.prefix);
    if (cfg.health_path && cfg.health_path[0])
        pt__fmt(c->health_url, sizeof c->health_url, "%s://%s%s%s", url.https ? "https" : "http", auth, url.prefix, cfg.health_path);
    if (cfg.include_host_context) pt__host_ctx_build(c);
    c->cancel_at = PT__INF_MS;
    c->work_until = PT__INF_MS;
    c->hw_count = (uint64_t)cfg.queue_capacity * (uint64_t)cfg.high_water_pct / 100;
    c->lw_count = (uint64_t)cfg.queue_capacity * (uint64_t)cfg.low_water_pct / 100;
    c->hw_bytes = (uint64_t)cfg.queue_max_bytes / 100 * (uint64_t)cfg.high_water_pct;
    c->lw_bytes = (uint64_t)cfg.queue_max_bytes / 100 * (uint64_t)cfg.low_water_pct;
    if (!c->hw_count) c->hw_count = 1;
    if (!c->hw_bytes) c->hw_bytes = 1;
    /* low water is reachable for every bound: at least 1 (an empty queue is
       below it), at most the high-water mark */
    if (c->lw_count < 1) c->lw_count = 1;
    if (c->lw_count > c->hw_count) c->lw_count = c->hw_count;
    if (c->lw_bytes < 1) c->lw_bytes = 1;
    if (c->lw_bytes > c->hw_bytes) c->lw_bytes = c->hw_bytes;
    pt__conn_init(&c->flush_conn);
    if ((r = pt__defaults_copy(c, err)) != PT_OK) { pt__core_free(c); PT__FREE(h); return r; }
    pt__uuid_seed_init();
    pt__os_random(&c->rng, sizeof c->rng);
    c->handle = h;   /* before a replay starts the flush thread: its callbacks read it */
    h->core = c;
    if (!pt__empty(cfg.spool_dir)) {   /* durable mode: lock the directory, queue what an earlier run left */
        if ((r = pt__spool_open(&c->cfg, &c->spool, err)) != PT_OK) { pt__core_free(c); PT__FREE(h); return r; }
#if PT__SPOOL   /* without it pt__spool_open refused spool_dir just above */
        const char *js; size_t n; int k;
        if (c->spool) c->spool->defer = 1;
        while ((k = pt__spool_replay(c->spool, &js, &n)) > 0 && pt__q_push(&c->q, js, n, pt__mono_ms()) == 0) { c->accepted_seq++; c->tracked++; }
        if (k == 0 && c->q.count && !cfg.manual_mode) {   /* replayed events go out without waiting for a pt_track */
            if (pt__thread_start(&c->thread, pt__flush_thread, c) == 0) c->thread_started = 1;
            else k = 2;
        }
        if (k != 0) {
            r = pt__err(err, k < 0 ? PT_ERR_SPOOL : k == 1 ? PT_ERR_NO_MEMORY : PT_ERR_THREAD, "spool_dir \"%.120s\": %s", cfg.spool_dir,
                        k < 0 ? c->spool->err : k == 1 ? "out of memory replaying the spool" : "could not start the flush thread");
            pt__core_free(c); PT__FREE(h);
            return r;
        }
#endif
    }
    pt__registry_add(c);
    pt__err_ok(err);
    *out = h;
    return PT_OK;
}

PACKTRACK_API const pt_config *pt_client_config(const pt_client *client) {
    if (!client || !client->core) return NULL;
    return &client->core->cfg;
}

/* Enqueue one serialised event (any thread). */
/* Would one more event of len bytes break a queue bound? (in-flight events count) */
PT__PRIVATE int pt__q_over(const pt__core *c, size_t len) {
    return c->q.count + c->inf_pending + 1 > (uint64_t)c->cfg.queue_capacity || c->q.bytes + c->inf_bytes + len > c->cfg.queue_max_bytes;
}
PT__PRIVATE pt_result pt__enqueue(pt__core *c, const char *json, size_t len, pt_severity sev) {
    int signal = 0, flip;
    uint64_t prev_count;
    uint32_t crc = PT__SPOOL && c->spool ? pt__crc32(0, json, len) : 0;   /* the spool record's checksum, outside the lock */
    pt__mutex_lock(&c->mu);
    if (c->stopping) { pt__mutex_unlock(&c->mu); return PT_ERR_CLOSED; }
    if (!c->thread_started && !c->cfg.manual_mode) {
        if (pt__thread_start(&c->thread, pt__flush_thread, c) != 0) {
            pt__note_error(c, PT_ERR_THREAD, "could not start the flush thread");
            pt__mutex_unlock(&c->mu);
            return PT_ERR_THREAD;
        }
        c->thread_started = 1;
    }
    c->tracked++;
    if (c->bp_high && c->cfg.sample_max_severity != PT_SEVERITY_UNSET && sev != PT_SEVERITY_UNSET && sev <= c->cfg.sample_max_severity) {
        if (c->sample_ctr++ % (uint64_t)c->cfg.sample_keep_one_in != 0) {
            c->dropped_sampled++;
            pt__mutex_unlock(&c->mu);
            return PT_ERR_SAMPLED;
        }
    }
    if (pt__q_over(c, len)) {
        if (c->cfg.queue_policy == PT_QUEUE_DROP_OLDEST) {
            while (c->q.count && pt__q_over(c, len)) {
                pt__q_pop(&c->q);
                if (PT__SPOOL && c->spool) pt__spool_evict(c->spool, 1);
                c->dropped_full++;
            }
            pt__wake_waiters(c);
        }
        if (pt__q_over(c, len)) {
            c->dropped_full++;
            pt__mutex_unlock(&c->mu);
            return PT_ERR_QUEUE_FULL;
        }
    }
    if (PT__SPOOL && c->spool) {   /* durable mode: the record is in the page cache before pt_track says OK */
        pt_result sr;
        uint64_t k = pt__spool_room(c->spool, len, c->cfg.queue_policy == PT_QUEUE_DROP_OLDEST), i;
        for (i = 0; i < k && c->q.count; i++) { pt__q_pop(&c->q); c->dropped_full++; }
        if (i) { pt__spool_evict(c->spool, i); pt__wake_waiters(c); }
        if ((sr = pt__spool_append(c->spool, json, len, crc)) != PT_OK) {
            c->dropped_full++;
            pt__note_error(c, sr, c->spool->err);
            pt__mutex_unlock(&c->mu);
            return sr;
        }
    }
    prev_count = c->q.count;
    if (pt__q_push(&c->q, json, len, pt__mono_ms()) != 0) {
        if (PT__SPOOL && c->spool) pt__spool_unappend(c->spool);
        c->dropped_full++;
        pt__note_error(c, PT_ERR_NO_MEMORY, "out of memory queueing an event");
        pt__mutex_unlock(&c->mu);
        return PT_ERR_NO_MEMORY;
    }
    c->accepted_seq++;
    if (c->worker_waiting) {
        if (c->worker_forever && prev_count == 0) signal = 1;
        else if (c->q.count == (uint64_t)c->cfg.batch_size) signal = 1;
        else if (c->q.bytes >= c->cfg.batch_max_bytes && c->q.bytes - len < c->cfg.batch_max_bytes) signal = 1;
        else if (c->q.count * 2 == (uint64_t)c->cfg.queue_capacity || (c->q.count * 2 > (uint64_t)c->cfg.queue_capacity && prev_count * 2 < (uint64_t)c->cfg.queue_capacity)) signal = 1;
        else if (c->q.bytes * 2 >= c->cfg.queue_max_bytes && (c->q.bytes - len) * 2 < c->cfg.queue_max_bytes) signal = 1;
        if (signal) pt__cond_signal(&c->cv_work);
    }
    flip = pt__bp_update(c);
    pt__bp_fire(c, flip);
    pt__mutex_unlock(&c->mu);
    return PT_OK;
}

/* Entry guard: a client being closed refuses new calls, and pt_close waits
   for calls already inside to leave before freeing anything. */
PT__PRIVATE pt__core *pt__enter(pt_client *cl) {
    pt__atomic_add(&cl->callers, 1);
    if (pt__atomic_load(&cl->closed)) { pt__atomic_add(&cl->callers, -1); return NULL; }
    return cl->core;
}
PT__PRIVATE void pt__leave(pt_client *cl) { pt__atomic_add(&cl->callers, -1); }

/* The one path from a pt_event to the JSON that is queued or sent:
   before_send (with a client), serialisation, and the event_max_bytes bound.
   Appends to b; *sev gets the severity after before_send. c may be NULL. */
PT__PRIVATE pt_result pt__event_serialize(pt__core *c, const pt_event *ev, pt__buf *b, pt_severity *sev, pt_error *err) {
    pt_event tmp;
    size_t st = b->len;
    pt_result r;
    if (c && c->cfg.before_send && ev) {
        const void *prev;
        int keep;
        tmp = *ev;
        PT__CB_ENTER(c->handle, prev);
        keep = c->cfg.before_send(&tmp, c->cfg.before_send_user);
        PT__CB_LEAVE(prev);
        if (!keep) return pt__err(err, PT_ERR_FILTERED, "before_send dropped the event");
        ev = &tmp;
    }
    r = pt__event_json(ev, c ? c->host_ctx : NULL, c ? c->host_ctx_len : 0, b, err);
    if (r == PT_OK && c && b->len - st > c->cfg.event_max_bytes)
        r = pt__err(err, PT_ERR_TOO_LARGE, "event is %lu bytes, over event_max_bytes (%lu)", (unsigned long)(b->len - st), (unsigned long)c->cfg.event_max_bytes);
    if (sev) *sev = ev ? ev->severity : PT_SEVERITY_UNSET;
    return r;
}

PACKTRACK_API pt_result pt_track(pt_client *cl, const pt_event *ev) {
    char stack[1536];
    pt__buf b;
    pt_error e;
    pt_result r;
    pt_severity sev;
    pt__core *c;
    pt__merged m;
    if (!cl || !ev) return PT_ERR_INVALID_ARG;
    if (!(c = pt__enter(cl))) return PT_ERR_CLOSED;
    pt__buf_init(&b, stack, sizeof stack);
    /* fast path: no defaults to fill and no timestamp to check */
    m.heap = NULL;
    r = c->has_defaults || ev->timestamp_ms != 0 ? pt__event_merge(c, ev, &m, &ev, &e) : PT_OK;
    if (r == PT_OK) r = pt__event_serialize(c, ev, &b, &sev, &e);
    if (m.heap) pt__merged_free(&m);
    if (r == PT_OK) r = pt__enqueue(c, b.p, b.len, sev);
    else if (r != PT_ERR_FILTERED) {
        pt__mutex_lock(&c->mu);
        pt__note_error(c, r, e.message);
        pt__mutex_unlock(&c->mu);
        pt__log(c, PT_LOG_WARN, "pt_track refused an event: %s", e.message);
    }
    pt__buf_free(&b);
    pt__leave(cl);
    return r;
}

#if PT__TRACK_JSON
/* Position of the value of member `key` (a plain key, no escapes) of the
   object at s[obj] in validated JSON, or 0 if there is none. */
PT__PRIVATE size_t pt__jobj_find(const char *s, size_t n, size_t obj, const char *key) {
    pt__jv v;
    size_t kn = strlen(key), ks, ke;
    v.s = (const unsigned char *)s; v.n = n; v.i = obj + 1; v.why = NULL;
    for (;;) {
        pt__jv_ws(&v);
        if (v.i >= n || s[v.i] != '"') return 0;   /* '}' */
        ks = v.i + 1;
        if (!pt__jv_string(&v)) return 0;
        ke = v.i - 1;                               /* the closing quote */
        pt__jv_ws(&v);
        v.i++;                                      /* ':' */
        pt__jv_ws(&v);
        if (ke - ks == kn && memcmp(s + ks, key, kn) == 0) return v.i;
        if (!pt__jv_value(&v, 1)) return 0;
        pt__jv_ws(&v);
        if (v.i >= n || s[v.i] != ',') return 0;
        v.i++;
    }
}
/* The required-field check of pt_track for a validated JSON object: writes
   the message naming the first missing field into msg. */
PT__PRIVATE PT__COLD pt_result pt__json_required(const char *s, size_t n, char *msg, size_t cap) {
    static const char *const req[7][3] = {
        { "source", "system", "source.system" }, { "workflow", "id", "workflow.id" }, { "actor", "type", "actor.type" },
        { "actor", "id", "actor.id" }, { NULL, "severity", "severity" }, { NULL, "status", "status" }, { NULL, "message", "message" } };
    size_t i, top = 0, at;
    while (top < n && s[top] != '{') top++;
    for (i = 0; i < 7; i++) {
        at = top;   /* a found value is never at 0, so 0 means "absent" */
        if (req[i][0] && (!(at = pt__jobj_find(s, n, top, req[i][0])) || s[at] != '{')) at = 0;
        else at = pt__jobj_find(s, n, at, req[i][1]);
        if (!at || s[at] != '"' || s[at + 1] == '"') {
            pt__fmt(msg, cap, "pt_track_json: required field %s is missing, empty or not a string", req[i][2]);
            return PT_ERR_MISSING_FIELD;
        }
        if (i == 4 && !((n - at >= 7 && memcmp(s + at, "\"debug\"", 7) == 0) || (n - at >= 6 && memcmp(s + at, "\"info\"", 6) == 0)
                        || (n - at >= 6 && memcmp(s + at, "\"warn\"", 6) == 0) || (n - at >= 7 && memcmp(s + at, "\"error\"", 7) == 0))) {
            pt__fmt(msg, cap, "pt_track_json: severity is not one of debug, info, warn, error");
            return PT_ERR_INVALID_ARG;
        }
    }
    return PT_OK;
}

#endif /* PT__TRACK_JSON */

PACKTRACK_API pt_result pt_trackf(pt_client *cl, pt_severity severity, const char *status, const char *fmt, ...) {
    char stack[512], *msg = stack;
    va_list ap;
    int n;
    pt_event ev;
    pt_result r;
    if (!cl || !fmt) return PT_ERR_INVALID_ARG;
    va_start(ap, fmt);
    n = vsnprintf(stack, sizeof stack, fmt, ap);
    va_end(ap);
    if (n < 0) return PT_ERR_INVALID_ARG;   /* an encoding error in the arguments */
    if ((size_t)n >= sizeof stack) {        /* format in full: a cut message would also cut UTF-8 */
        if (!(msg = (char *)PT__MALLOC((size_t)n + 1))) return PT_ERR_NO_MEMORY;
        va_start(ap, fmt);
        vsnprintf(msg, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    memset(&ev, 0, sizeof ev);
    ev.severity = severity;
    ev.status = status;
    ev.message = msg;
    r = pt_track(cl, &ev);
    if (msg != stack) PT__FREE(msg);
    return r;
}

#if PT__TRACK_JSON
PACKTRACK_API PT__COLD pt_result pt_track_json(pt_client *cl, const char *json, size_t len) {
    char stack[1536];
    pt__buf b;
    pt_result r;
    const char *why = NULL;
    size_t at = 0;
    pt__core *c;
    char msg[160];
    if (!cl || !json) return PT_ERR_INVALID_ARG;
    if (!(c = pt__enter(cl))) return PT_ERR_CLOSED;
    r = PT_OK;
    if (!pt__json_validate(json, len, 1, &why, &at)) {
        pt__fmt(msg, sizeof msg, "pt_track_json: invalid JSON object at byte %lu: %s", (unsigned long)at, why);
        r = PT_ERR_INVALID_JSON;
    } else r = pt__json_required(json, len, msg, sizeof msg);
    if (r != PT_OK) {
        pt__mutex_lock(&c->mu); pt__note_error(c, r, msg); pt__mutex_unlock(&c->mu);
        pt__log(c, PT_LOG_WARN, "%s", msg);
        pt__leave(cl);
        return r;
    }
    pt__buf_init(&b, stack, sizeof stack);
    pt__json_minify(&b, json, len);
    if (b.oom) r = PT_ERR_NO_MEMORY;
    else if (b.len > c->cfg.event_max_bytes) r = PT_ERR_TOO_LARGE;
    else r = pt__enqueue(c, b.p, b.len, PT_SEVERITY_UNSET);
    pt__buf_free(&b);
    pt__leave(cl);
    return r;
}
#else
/* PACKTRACK_NO_TRACK_JSON: events are built as pt_event (pt_track). */
PACKTRACK_API PT__COLD pt_result pt_track_json(pt_client *cl, const char *json, size_t len) {
    static const char msg[] = "pt_track_json: this build has PACKTRACK_NO_TRACK_JSON; send a pt_event with pt_track";
    pt__core *c;
    (void)json; (void)len;
    if (!cl) return PT_ERR_INVALID_ARG;
    if (!(c = pt__enter(cl))) return PT_ERR_CLOSED;
    pt__mutex_lock(&c->mu); pt__note_error(c, PT_ERR_UNSUPPORTED, msg); pt__mutex_unlock(&c->mu);
    pt__log(c, PT_LOG_WARN, "%s", msg);
    pt__leave(cl);
    return PT_ERR_UNSUPPORTED;
}
#endif /* PT__TRACK_JSON */

PACKTRACK_API pt_result pt_pump(pt_client *cl, int budget_ms) {
    pt__core *c;
    if (!cl) return PT_ERR_INVALID_ARG;
    if (!(c = pt__enter(cl))) return PT_ERR_CLOSED;
    pt__mutex_lock(&c->mu);
    if (c->cfg.manual_mode && !c->worker_busy) {
        c->worker_busy = 1;
        pt__work(c, pt__mono_ms() + (budget_ms > 0 ? budget_ms : 0), 0, 0);
        c->worker_busy = 0;
        pt__cond_broadcast(&c->cv_done);
    }
    pt__mutex_unlock(&c->mu);
    pt__leave(cl);
    return PT_OK;
}

PACKTRACK_API pt_result pt_http_complete(pt_http_op op, pt_result result, const pt_http_response *resp) {
    pt__op_slot *s;
    pt_result r = PT_ERR_INVALID_ARG;
    pt__reg_lock();
    s = pt__op_find(op.id);
    if (s && s->state == PT__OP_PENDING && s->x) {
        pt_http_response *out = &s->x->resp;
        if (resp) *out = *resp; else memset(out, 0, sizeof *out);
        out->body_head[sizeof out->body_head - 1] = 0;
        out->retry_after[sizeof out->retry_after - 1] = 0;
        out->error[sizeof out->error - 1] = 0;
        out->location[sizeof out->location - 1] = 0;
        if (out->body_head_len >= sizeof out->body_head) out->body_head_len = sizeof out->body_head - 1;
        if (result == PT_OK && !resp) {
            result = PT_ERR_PROTOCOL;
            pt__fmt(out->error, sizeof out->error, "pt_http_complete: PT_OK without a response");
        }
        s->x->result = result;
        s->state = PT__OP_DONE;
        r = PT_OK;
        if (s->c) pt__op_kick(s->c, NULL);
    } else if (s && (s->state == PT__OP_DONE || s->state == PT__OP_SPENT)) {
        if (s->c) pt__op_kick(s->c, &s->c->async_dups);
        r = s->c ? PT_ERR_INVALID_ARG : PT_ERR_CLOSED;
    } else if (s && s->state == PT__OP_CUT) {
        if (s->c) pt__op_kick(s->c, &s->c->async_late);
        r = s->c ? PT_ERR_CANCELLED : PT_ERR_CLOSED;
    }
    pt__reg_unlock();
    return r;
}

PACKTRACK_API PT__COLD pt_result pt_flush(pt_client *cl, int timeout_ms) {
    pt__core *c;
    uint64_t t;
    int64_t deadline;
    pt_result r = PT_OK;
    if (!cl) return PT_ERR_INVALID_ARG;
    if (!(c = pt__enter(cl))) return PT_ERR_CLOSED;
    deadline = pt__mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    pt__mutex_lock(&c->mu);
    t = c->accepted_seq;
    if (t > c->flush_target) c->flush_target = t;
    c->flush_waiters++;
    /* deliver now: a probe at once if the breaker is open. A host that calls
       pt_flush in a tight loop (or with no time to wait) pushes at most once
       per backoff_base_ms, so flushing never becomes a request storm. */
    if (timeout_ms > 0 && (!c->last_push_ms || pt__mono_ms() - c->last_push_ms >= c->cfg.backoff_base_ms)) {
        c->last_push_ms = pt__mono_ms();
        pt__urgent_begin(c);
    }
    while (!pt__settled(c, t)) {
        int64_t now = pt__mono_ms();
        if (c->stopping) { r = PT_ERR_CLOSED; break; }   /* pt_close took over; its report counts */
        if (now >= deadline) { r = PT_ERR_TIMEOUT; break; }
        if (c->cfg.manual_mode && !c->worker_busy) {
            c->worker_busy = 1;
            pt__work(c, deadline, 1, t);
            c->worker_busy = 0;
            pt__cond_broadcast(&c->cv_done);
            continue;
        }
        if (c->worker_waiting) pt__cond_signal(&c->cv_work);
        pt__cond_wait_ms(&c->cv_done, &c->mu, deadline - now);
    }
    c->flush_waiters--;
    pt__mutex_unlock(&c->mu);
    pt__leave(cl);
    return r;
}

PT__PRIVATE void pt__fill_report(const pt__core *c, pt_close_report *rep) {
    memset(rep, 0, sizeof *rep);
    rep->tracked = c->tracked;
    rep->delivered = c->delivered;
    rep->failed_rejected = c->failed_rejected;
    rep->failed_exhausted = c->failed_exhausted;
    rep->failed_oversize = c->failed_oversize;
    rep->dropped_queue_full = c->dropped_full;
    rep->dropped_sampled = c->dropped_sampled;
    rep->abandoned = c->q.count + c->inf_pending;
    rep->timed_out = rep->abandoned > 0;
}

PT__PRIVATE PT__COLD pt_result pt__close(pt_client *cl, int timeout_ms, pt_close_report *report) {
    pt__core *c;
    pt_close_report rep;
    int64_t deadline, ra_past;
    if (PT__IN_CB(cl)) return PT_ERR_INVALID_ARG;   /* from its own callback on this thread: would wait for itself */
    if (pt__atomic_add(&cl->closed, 1) != 1) {
        /* Another pt_close runs (or ran): wait for it to finish, up to our
           own deadline, so that pt_client_free after this return is safe. */
        int64_t dl = pt__mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
        while (!pt__atomic_load(&cl->close_done)) {
            if (pt__mono_ms() >= dl) return PT_ERR_TIMEOUT;
            pt__sleep_ms(1);
        }
        return PT_ERR_CLOSED;
    }
    {
        /* From a callback on the flush thread, close would join (and free
           under) the thread that is running it: refuse, and reopen. */
        int self;
        pt__mutex_lock(&cl->core->mu);
        self = cl->core->thread_started && pt__thread_is_self(cl->core->thread);
        pt__mutex_unlock(&cl->core->mu);
        if (self) { pt__atomic_add(&cl->closed, -1); return PT_ERR_INVALID_ARG; }
    }
    c = cl->core;
    deadline = pt__mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    /* Stop first, then wait for the calls still inside: pt_track refuses,
       pt_flush waiters leave, and the requests of pt_ingest/pt_health/a
       manual-mode worker are cut off at the deadline, so none of them can
       hold close past its deadline. */
    pt__mutex_lock(&c->mu);
    c->stopping = 1;
    c->close_deadline = deadline;
    pt__urgent_begin(c);   /* deliver now: a probe at once if the breaker is open */
    pt__atomic_store(&c->cancel_at, deadline);
    pt__cond_broadcast(&c->cv_work);
    pt__cond_broadcast(&c->cv_done);
    pt__mutex_unlock(&c->mu);
    while (pt__atomic_load(&cl->callers) > 0) pt__sleep_ms(1);
    pt__mutex_lock(&c->mu);
    if (c->thread_started) {
        pt__mutex_unlock(&c->mu);
        pt__thread_join(c->thread);
        pt__mutex_lock(&c->mu);
        c->thread_started = 0;
    } else if (c->q.count || c->inf_pending) {
        while (c->worker_busy && pt__mono_ms() < deadline) pt__cond_wait_ms(&c->cv_done, &c->mu, deadline - pt__mono_ms());
        c->worker_busy = 1;
        pt__work(c, deadline, 2, 0);
        c->worker_busy = 0;
    }
    pt__fill_report(c, &rep);
    if (PT__SPOOL && c->spool) { rep.spooled = rep.abandoned; rep.abandoned = 0; }   /* stays on disk for the next client */
    ra_past = c->inf_pending && c->b.ra_until > deadline ? c->b.ra_until - deadline : 0;
    pt__mutex_unlock(&c->mu);
    if (ra_past && (rep.abandoned || rep.spooled))
        pt__log(c, PT_LOG_WARN, "closed with %lu events not delivered: the server's Retry-After asked to wait %lld ms past the close deadline",
                (unsigned long)(rep.abandoned + rep.spooled), (long long)ra_past);
    else if (rep.abandoned) pt__log(c, PT_LOG_WARN, "closed with %lu events not delivered (deadline reached)", (unsigned long)rep.abandoned);
    if (rep.spooled) pt__log(c, PT_LOG_INFO, "closed with %lu events left in the spool for the next client", (unsigned long)rep.spooled);
    pt__registry_remove(c);
    pt__core_free(c);
    cl->core = NULL;
    if (report) *report = rep;
    pt__atomic_store(&cl->close_done, 1);   /* a concurrent pt_close/pt_client_free may go on */
    return rep.abandoned || rep.spooled ? PT_ERR_TIMEOUT : PT_OK;
}
/* Every thread inside pt_close is counted, so that pt_client_free (after
   any of them returned) waits for the others to leave the handle. */
PACKTRACK_API PT__COLD pt_result pt_close(pt_client *cl, int timeout_ms, pt_close_report *report) {
    pt_result r;
    if (report) memset(report, 0, sizeof *report);
    if (!cl) return PT_OK;
    pt__atomic_add(&cl->closers, 1);
    r = pt__close(cl, timeout_ms, report);
    pt__atomic_add(&cl->closers, -1);   /* last touch of cl */
    return r;
}

PACKTRACK_API PT__COLD void pt_client_free(pt_client *cl) {
    if (!cl) return;
    if (!pt__atomic_load(&cl->closed)) pt_close(cl, 0, NULL);
    if (!pt__atomic_load(&cl->closed)) return;   /* close refused (from the client's own callback): freeing would pull it from under its caller */
    /* a pt_close on another thread ends by its own deadline; a second one waits at most for the first */
    while (!pt__atomic_load(&cl->close_done) || pt__atomic_load(&cl->closers) > 0) pt__sleep_ms(1);
    PT__FREE(cl);
}

PACKTRACK_API PT__COLD pt_result pt_event_to_json(pt_client *cl, const pt_event *ev, char *buf, size_t cap, size_t *len, pt_error *err) {
    pt__buf b;
    pt__merged m;
    pt_result r;
    pt__core *c = NULL;
    if (len) *len = 0;
    if (!ev || (!buf && cap)) return pt__err(err, PT_ERR_INVALID_ARG, "ev and buf must not be NULL");
    if (cl && !(c = pt__enter(cl))) return pt__err(err, PT_ERR_CLOSED, "client is closed");
    pt__buf_init(&b, NULL, 0);
    r = pt__event_merge(c, ev, &m, &ev, err);
    if (r == PT_OK) r = pt__event_serialize(c, ev, &b, NULL, err);
    pt__merged_free(&m);
    if (c) pt__leave(cl);
    if (r == PT_OK) {
        if (len) *len = b.len;
        if (b.len + 1 > cap) r = pt__err(err, PT_ERR_TOO_LARGE, "buffer too small: need %lu bytes", (unsigned long)(b.len + 1));
        else { memcpy(buf, b.p, b.len); buf[b.len] = 0; pt__err_ok(err); }
    }
    pt__buf_free(&b);
    return r;
}

#if PT__SYNC
PACKTRACK_API PT__COLD pt_result pt_ingest(pt_client *cl, const pt_event *ev, pt_error *err) {
    char stack[1536];
    pt__buf b;
    pt__merged m;
    pt_result r;
    pt__core *c;
    if (!cl || !ev) return pt__err(err, PT_ERR_INVALID_ARG, "client and event must not be NULL");
    if (!(c = pt__enter(cl))) return pt__err(err, PT_ERR_CLOSED, "client is closed");
    pt__buf_init(&b, stack, sizeof stack);
    r = pt__event_merge(c, ev, &m, &ev, err);
    if (r == PT_OK) r = pt__event_serialize(c, ev, &b, NULL, err);
    pt__merged_free(&m);
    if (r == PT_OK) r = pt__send_sync(c, b.p, b.len, err);
    pt__buf_free(&b);
    pt__leave(cl);
    return r;
}

PACKTRACK_API PT__COLD pt_result pt_ingest_batch(pt_client *cl, const pt_event *evs, size_t n, pt_error *err) {
    pt__buf b;
    pt_result r = PT_OK;
    size_t i;
    pt__core *c;
    if (!cl || (!evs && n)) return pt__err(err, PT_ERR_INVALID_ARG, "client and events must not be NULL");
    if (!n) return pt__err(err, PT_ERR_INVALID_ARG, "empty batch");
    if (!(c = pt__enter(cl))) return pt__err(err, PT_ERR_CLOSED, "client is closed");
    pt__buf_init(&b, NULL, 0);
    pt__buf_putc(&b, '[');
    for (i = 0; i < n && r == PT_OK; i++) {
        size_t st = b.len;
        const pt_event *ev;
        pt__merged mg;
        if (st > 1) pt__buf_putc(&b, ',');
        r = pt__event_merge(c, &evs[i], &mg, &ev, err);
        if (r == PT_OK) r = pt__event_serialize(c, ev, &b, NULL, err);
        pt__merged_free(&mg);
        if (r == PT_ERR_FILTERED) { b.len = st; r = PT_OK; continue; }   /* left out of the batch */
        if (r != PT_OK && err) {
            char m[sizeof err->message];
            pt__fmt(m, sizeof m, "event %lu: %s", (unsigned long)i, err->message);
            memcpy(err->message, m, sizeof m);
        }
    }
    if (r == PT_OK && b.len == 1) r = pt__err(err, PT_ERR_FILTERED, "before_send dropped every event of the batch");
    pt__buf_putc(&b, ']');
    if (r == PT_OK && b.oom) r = pt__err(err, PT_ERR_NO_MEMORY, "out of memory");
    if (r == PT_OK) r = pt__send_sync(c, b.p, b.len, err);
    pt__buf_free(&b);
    pt__leave(cl);
    return r;
}
#else
/* PACKTRACK_NO_SYNC_API: events go through pt_track and the queue only. */
#define PT__NO_SYNC(err, fn) pt__err(err, PT_ERR_UNSUPPORTED, "%s: this build has PACKTRACK_NO_SYNC_API; use pt_track (queued delivery)", fn)
PACKTRACK_API PT__COLD pt_result pt_ingest(pt_client *cl, const pt_event *ev, pt_error *err) {
    (void)cl; (void)ev;
    return PT__NO_SYNC(err, "pt_ingest");
}
PACKTRACK_API PT__COLD pt_result pt_ingest_batch(pt_client *cl, const pt_event *evs, size_t n, pt_error *err) {
    (void)cl; (void)evs; (void)n;
    return PT__NO_SYNC(err, "pt_ingest_batch");
}
#endif /* PT__SYNC */

PACKTRACK_API PT__COLD pt_result pt_stats(pt_client *cl, pt_client_stats *s) {
    pt__core *c;
    if (!cl || !s) return PT_ERR_INVALID_ARG;
    memset(s, 0, sizeof *s);
    if (!(c = pt__enter(cl))) return PT_ERR_CLOSED;
    pt__mutex_lock(&c->mu);
    s->tracked = c->tracked;
    s->delivered = c->delivered;
    s->failed = c->failed_rejected + c->failed_exhausted + c->failed_oversize;
    s->dropped = c->dropped_full + c->dropped_sampled;
    s->dropped_sampled = c->dropped_sampled;
    s->pending = c->q.count + c->inf_pending;
    s->queue_bytes = c->q.bytes + c->inf_bytes;
    s->retried_requests = c->retried;
    s->batches_sent = c->batches;
    s->requests_failed = c->req_failed;
    s->bytes_uncompressed = c->bytes_raw;
    s->bytes_sent = c->bytes_sent;
    s->wakeups = c->wakeups;
    s->spool_bytes = pt__spool_bytes(c->spool);
    s->last_error = c->last_error;
    memcpy(s->last_error_message, c->last_error_msg, sizeof s->last_error_message);
    pt__mutex_unlock(&c->mu);
    pt__leave(cl);
    return PT_OK;
}

#if PT__PROM
PACKTRACK_API PT__COLD size_t pt_stats_prometheus(const pt_client_stats *s, char *buf, size_t cap) {
    static const struct { const char *name, *type, *help; size_t off; } m[] = {
        { "packtrack_events_tracked_total", "counter", "Events that passed validation.", offsetof(pt_client_stats, tracked) },
        { "packtrack_events_delivered_total", "counter", "Events the server accepted.", offsetof(pt_client_stats, delivered) },
        { "packtrack_events_failed_total", "counter", "Events rejected for good or out of retries.", offsetof(pt_client_stats, failed) },
        { "packtrack_events_dropped_total", "counter", "Events dropped by the queue bound or sampling.", offsetof(pt_client_stats, dropped) },
        { "packtrack_events_sampled_total", "counter", "Events dropped by sampling under backpressure.", offsetof(pt_client_stats, dropped_sampled) },
        { "packtrack_events_pending", "gauge", "Events queued or in flight.", offsetof(pt_client_stats, pending) },
        { "packtrack_queue_bytes", "gauge", "JSON bytes queued or in flight.", offsetof(pt_client_stats, queue_bytes) },
        { "packtrack_requests_retried_total", "counter", "Requests that were retries.", offsetof(pt_client_stats, retried_requests) },
        { "packtrack_requests_total", "counter", "Ingest requests made.", offsetof(pt_client_stats, batches_sent) },
        { "packtrack_requests_failed_total", "counter", "Ingest requests that did not get a 2xx.", offsetof(pt_client_stats, requests_failed) },
        { "packtrack_body_bytes_total", "counter", "Request body bytes before compression.", offsetof(pt_client_stats, bytes_uncompressed) },
        { "packtrack_sent_bytes_total", "counter", "Request body bytes sent (after compression).", offsetof(pt_client_stats, bytes_sent) },
        { "packtrack_worker_wakeups_total", "counter", "Flush worker wake-ups.", offsetof(pt_client_stats, wakeups) },
        { "packtrack_spool_bytes", "gauge", "Bytes in the disk spool.", offsetof(pt_client_stats, spool_bytes) }
    };
    pt__buf b;
    size_t i, n;
    char num[24];
    if (!s) return 0;
    pt__buf_init(&b, NULL, 0);
    for (i = 0; i < sizeof m / sizeof m[0]; i++) {
        uint64_t v;
        memcpy(&v, (const char *)s + m[i].off, sizeof v);
        pt__buf_lit(&b, "# HELP "); pt__buf_puts(&b, m[i].name); pt__buf_putc(&b, ' '); pt__buf_puts(&b, m[i].help);
        pt__buf_lit(&b, "\n# TYPE "); pt__buf_puts(&b, m[i].name); pt__buf_putc(&b, ' '); pt__buf_puts(&b, m[i].type);
        pt__buf_putc(&b, '\n'); pt__buf_puts(&b, m[i].name); pt__buf_putc(&b, ' ');
        pt__buf_put(&b, num, pt__u64_dec(num, v)); pt__buf_putc(&b, '\n');
    }
    pt__buf_lit(&b, "# HELP packtrack_last_error_code Last error result code (0 = none).\n# TYPE packtrack_last_error_code gauge\npacktrack_last_error_code ");
    pt__buf_put(&b, num, pt__i64_dec(num, (int64_t)s->last_error));
    pt__buf_putc(&b, '\n');
    n = b.len;
    if (b.oom) n = 0;
    else if (buf && cap > n) { memcpy(buf, b.p, n); buf[n] = 0; }
    else if (buf && cap) buf[0] = 0;
    pt__buf_free(&b);
    return n;
}
#else
/* PACKTRACK_NO_PROMETHEUS: one comment line (valid in the text format) says why. */
PACKTRACK_API PT__COLD size_t pt_stats_prometheus(const pt_client_stats *s, char *buf, size_t cap) {
    static const char msg[] = "# packtrack: pt_stats_prometheus is not in this build (PACKTRACK_NO_PROMETHEUS); use pt_stats\n";
    if (!s) return 0;
    if (buf && cap >= sizeof msg) memcpy(buf, msg, sizeof msg);
    else if (buf && cap) buf[0] = 0;
    return sizeof msg - 1;
}
#endif

PACKTRACK_API PT__COLD pt_result pt_health(pt_client *cl, pt_health_report *h, pt_error *err) {
    pt__core *c;
    pt_result r = PT_OK;
    int64_t t = 0;
    if (!cl || !h) return pt__err(err, PT_ERR_INVALID_ARG, "client and out must not be NULL");
    memset(h, 0, sizeof *h);
    if (!(c = pt__enter(cl))) return pt__err(err, PT_ERR_CLOSED, "client is closed");
    pt__err_ok(err);
    pt__mutex_lock(&c->mu);
    h->queue_events = c->q.count + c->inf_pending;
    h->queue_bytes = c->q.bytes + c->inf_bytes;
    if (c->inf_pending) t = c->b.oldest_ms;   /* the in-flight batch holds the oldest events */
    else if (c->q.count) pt__q_peek(&c->q, NULL, NULL, &t);
    h->oldest_pending_age_ms = t ? pt__mono_ms() - t : 0;
    h->breaker = c->breaker;
    h->backpressure = c->bp_high;
    h->last_error = c->last_error;
    h->last_error_unix_ms = c->last_error_wall;
    h->spool_bytes = pt__spool_bytes(c->spool);
    pt__mutex_unlock(&c->mu);
    if (c->health_url[0]) {
#if !PT__SYNC   /* the local facts above stay; the probe is a synchronous request */
        r = PT__NO_SYNC(err, "pt_health (server probe of health_path)");
#else
        pt_http_response resp;
        pt__conn *cn = pt__pool_get(c);
        pt_result tr;
        if (!cn) { pt__leave(cl); return pt__err(err, PT_ERR_NO_MEMORY, "out of memory"); }
        tr = pt__request(c, cn, "GET", c->health_url, NULL, 0, 0, NULL, &resp);
        pt__pool_put(c, cn);
        h->server_probed = 1;
        h->server_status = tr == PT_OK ? resp.status : 0;
        h->server_ok = tr == PT_OK && resp.status >= 200 && resp.status < 300;
        if (tr != PT_OK) r = pt__err(err, tr, "health probe failed: %s", resp.error[0] ? resp.error : pt_strerror(tr));
        else if (!h->server_ok) {
            r = pt__err(err, PT_ERR_HTTP, "health probe answered HTTP %d", resp.status);
            if (err) { err->http_status = resp.status; memcpy(err->body_head, resp.body_head, sizeof err->body_head); err->body_head[sizeof err->body_head - 1] = 0; }
        }
        if (err && r != PT_OK) { err->attempts = 1; err->retryable = pt__classify(tr, &resp, 0) == 0; }
#endif
    }
    pt__leave(cl);
    return r;
}

/* ---- fork: the child gets a fresh, empty pipeline ----
   Installed with pthread_atfork by the platform layer on POSIX (never
   called on Windows, which has no fork). prepare takes every client's lock
   so no other thread holds one at the fork; the child then rebuilds. */
PT__PRIVATE void pt__fork_prepare(void) {
    pt__core *c;
    pt__reg_lock();
    for (c = pt__registry; c; c = c->reg_next) pt__mutex_lock(&c->mu);
}
PT__PRIVATE void pt__fork_parent(void) {
    pt__core *c;
    for (c = pt__registry; c; c = c->reg_next) pt__mutex_unlock(&c->mu);
    pt__reg_unlock();
}
PT__PRIVATE PT__COLD void pt__fork_child(void) {
    pt__core *c;
    for (c = pt__registry; c; c = c->reg_next) {
        int i;
        /* Threads other than the forking one do not exist here: their
           condition variables and the worker role are reset, the parent's
           queue is dropped (the parent sends it), sockets are closed
           without a word on the wire (the parent still owns the peer). */
        pt__cond_init(&c->cv_work); pt__cond_init(&c->cv_done);
        pt__mutex_init(&c->defl_mu);
        c->thread_started = 0; c->worker_busy = 0; c->worker_waiting = 0; c->worker_forever = 0; c->flush_waiters = 0;
        c->xf_active = 0;           /* the parent's request: its socket is closed below, its op the parent's */
        for (i = 0; i < PT__OPS; i++)   /* (registry lock held since prepare) a copied handle completes nothing here */
            if (pt__ops[i].c == c && (pt__ops[i].state == PT__OP_PENDING || pt__ops[i].state == PT__OP_DONE)) { pt__ops[i].state = PT__OP_CUT; pt__ops[i].x = NULL; }
        c->work_until = PT__INF_MS;
        pt__q_free(&c->q);
        pt__spool_forget(c->spool);   /* the parent's spool stays the parent's: not a byte written */
        c->spool = NULL;
        c->inf_pending = c->inf_bytes = 0;
        c->b.n = 0; c->b.nranges = 0; c->b.prepared = 0; c->b.first_try_ms = 0; c->b.next_try_ms = 0;
        c->accepted_seq = c->flush_target = 0;
        c->tracked = c->delivered = c->failed_rejected = c->failed_exhausted = c->failed_oversize = 0;
        c->dropped_full = c->dropped_sampled = c->retried = c->batches = c->req_failed = c->bytes_raw = c->bytes_sent = c->wakeups = 0;
        c->breaker = PT_BREAKER_CLOSED; c->consecutive_failures = 0; c->bp_high = 0; c->bp_told = 0; c->bp_delivering = 0;
        c->breaker_ivl_ms = 0; c->urgent_attempts = 0; c->b.ra_until = 0; c->last_push_ms = 0;
        if (c->flush_conn.fd != PT__BAD_SOCK) { pt__sock_close(c->flush_conn.fd); c->flush_conn.fd = PT__BAD_SOCK; }
        c->flush_conn.rlen = 0; c->flush_conn.authority[0] = 0;
#if PT__CURL
        c->flush_conn.curl = NULL;   /* leaked on purpose: cleaning up would talk on the parent's connection */
#endif
        for (i = 0; i < c->npool; i++) {
            if (c->pool[i]->fd != PT__BAD_SOCK) pt__sock_close(c->pool[i]->fd);
            c->pool[i]->fd = PT__BAD_SOCK; c->pool[i]->rlen = 0; c->pool[i]->authority[0] = 0;
#if PT__CURL
            c->pool[i]->curl = NULL;
#endif
        }
        if (c->host_ctx_len) pt__host_ctx_build(c);
        c->handle->callers = 0;
        pt__os_random(&c->rng, sizeof c->rng);
        pt__mutex_unlock(&c->mu);
    }
    pt__uuid_seeded = 0;
    pt__reg_unlock();
    pt__uuid_seed_init();
}

/* ==== [pt:step] ========================================================== */
/* Steps sit on top of pt_track: begin and end are two ordinary events. The
   strings to repeat at the end are copied into the caller's pt_step (its
   inline buffer, or one allocation when they do not fit) and located by
   offset, so a pt_step may be moved (copied) while it is active.
   PACKTRACK_NO_STEPS leaves them out (see the #else at the end). */
#if PT__STEPS
enum { PT__ST_SRC, PT__ST_ENV, PT__ST_WF, PT__ST_WFNAME, PT__ST_RUN, PT__ST_ACTT, PT__ST_ACTID, PT__ST_ACTNAME,
       PT__ST_MSG, PT__ST_ID, PT__ST_PARENT, PT__ST_N };
PT__STATIC_ASSERT(step_offsets_fit, PT__ST_N <= 12);   /* pt_step.off_ */
PT__PRIVATE const char *pt__step_str(const pt_step *st, int k) {
    if (!st->off_[k]) return NULL;
    return (st->heap_ ? st->heap_ : st->inline_) + st->off_[k] - 1;
}
PT__PRIVATE int pt__status_is_error(const char *s) {
    return s && (strcmp(s, PT_STATUS_ERROR) == 0 || strcmp(s, PT_STATUS_FAILED) == 0 || strcmp(s, PT_STATUS_TIMEOUT) == 0);
}
/* metadata + up to two library keys (skipped when the caller has them) in
   fs (cap entries) or on the heap; returns the list or NULL on OOM. */
PT__PRIVATE pt_field *pt__step_fields(pt_field *fs, size_t cap, const pt_field *md, size_t n, const pt_field *add, size_t na, size_t *count, pt_field **heap) {
    size_t i, k;
    *heap = NULL;
    if (n + na > cap) {
        if (!(fs = *heap = (pt_field *)PT__MALLOC((n + na) * sizeof *fs))) return NULL;
    }
    if (n) memcpy(fs, md, n * sizeof *fs);
    for (k = n, i = 0; i < na; i++) if (!pt__field_has_key(md, n, add[i].key)) fs[k++] = add[i];
    *count = k;
    return fs;
}
PT__PRIVATE pt_event pt__step_event(const pt_step *st) {
    pt_event e;
    memset(&e, 0, sizeof e);
    e.source_system = pt__step_str(st, PT__ST_SRC); e.source_env = pt__step_str(st, PT__ST_ENV);
    e.workflow_id = pt__step_str(st, PT__ST_WF); e.workflow_name = pt__step_str(st, PT__ST_WFNAME);
    e.run_id = pt__step_str(st, PT__ST_RUN); e.step_id = pt__step_str(st, PT__ST_ID);
    e.actor_type = pt__step_str(st, PT__ST_ACTT); e.actor_id = pt__step_str(st, PT__ST_ACTID);
    e.actor_display_name = pt__step_str(st, PT__ST_ACTNAME); e.message = pt__step_str(st, PT__ST_MSG);
    e.severity = st->severity;
    return e;
}

PACKTRACK_API pt_result pt_step_begin_event(pt_client *cl, pt_step *st, const pt_step *parent, const pt_event *ev) {
    const char *src[PT__ST_N];
    char id[37];
    size_t len[PT__ST_N], total = 0, at = 0, n;
    pt_field stack[16], add, *heap, *fs;
    pt_event e;
    pt_result r;
    int k;
    if (st) memset(st, 0, sizeof *st);
    if (!cl || !st || !ev) return PT_ERR_INVALID_ARG;
    if (parent && !parent->active) return PT_ERR_INVALID_ARG;   /* its strings are gone */
    if (ev->metadata_count && !ev->metadata) return PT_ERR_INVALID_ARG;
    src[PT__ST_SRC] = ev->source_system; src[PT__ST_ENV] = ev->source_env;
    src[PT__ST_WF] = ev->workflow_id; src[PT__ST_WFNAME] = ev->workflow_name; src[PT__ST_RUN] = ev->run_id;
    src[PT__ST_ACTT] = ev->actor_type; src[PT__ST_ACTID] = ev->actor_id; src[PT__ST_ACTNAME] = ev->actor_display_name;
    src[PT__ST_MSG] = ev->message; src[PT__ST_ID] = ev->step_id; src[PT__ST_PARENT] = parent ? pt__step_str(parent, PT__ST_ID) : NULL;
    if (parent)   /* a nested step runs in its parent's workflow, run, and as its actor, unless told otherwise */
        for (k = PT__ST_SRC; k < PT__ST_MSG; k++) if (!src[k]) src[k] = pt__step_str(parent, k);
    if (!src[PT__ST_ID]) { pt_uuid4(id); src[PT__ST_ID] = id; }
    for (k = 0; k < PT__ST_N; k++) { len[k] = src[k] ? strlen(src[k]) + 1 : 0; total += len[k]; }
    if (total > 0xffffffffu) return PT_ERR_TOO_LARGE;
    if (total > sizeof st->inline_ && !(st->heap_ = (char *)PT__MALLOC(total))) return PT_ERR_NO_MEMORY;
    for (k = 0; k < PT__ST_N; k++) {
        if (!src[k]) continue;
        memcpy((st->heap_ ? st->heap_ : st->inline_) + at, src[k], len[k]);
        st->off_[k] = (uint32_t)(at + 1);
        at += len[k];
    }
    st->client = cl;
    st->severity = ev->severity != PT_SEVERITY_UNSET ? ev->severity : PT_SEVERITY_INFO;
    e = *ev;
    {
        pt_event s = pt__step_event(st);
        e.source_system = s.source_system; e.source_env = s.source_env; e.workflow_id = s.workflow_id;
        e.workflow_name = s.workflow_name; e.run_id = s.run_id; e.step_id = s.step_id; e.actor_type = s.actor_type;
        e.actor_id = s.actor_id; e.actor_display_name = s.actor_display_name; e.severity = st->severity;
    }
    e.status = PT_STATUS_RUNNING;
    add = pt_field_str("parent_step_id", src[PT__ST_PARENT]);
    if (!(fs = pt__step_fields(stack, 16, ev->metadata, ev->metadata_count, &add, parent ? 1 : 0, &n, &heap))) {
        PT__FREE(st->heap_); st->heap_ = NULL;
        return PT_ERR_NO_MEMORY;
    }
    e.metadata = n ? fs : NULL; e.metadata_count = n;
    st->start_ms = pt__mono_ms();
    st->active = 1;
    r = pt_track(cl, &e);
    PT__FREE(heap);
    /* a begin event lost to load still lets the end event (with the duration) through */
    if (r != PT_OK && r != PT_ERR_QUEUE_FULL && r != PT_ERR_SAMPLED && r != PT_ERR_FILTERED) {
        st->active = 0;
        PT__FREE(st->heap_); st->heap_ = NULL;
    }
    return r;
}

PACKTRACK_API pt_result pt_step_begin(pt_client *cl, pt_step *st, const pt_step *parent, const char *message) {
    pt_event ev;
    memset(&ev, 0, sizeof ev);
    ev.message = message;
    return pt_step_begin_event(cl, st, parent, &ev);
}

PACKTRACK_API const char *pt_step_id(const pt_step *st) { return st && st->active ? pt__step_str(st, PT__ST_ID) : NULL; }

PACKTRACK_API pt_result pt_step_end(pt_step *st, const char *status, const pt_field *md, size_t n) {
    pt_field stack[16], add[2], *heap, *fs;
    pt_event e;
    pt_result r;
    size_t na = 0, cnt;
    if (!st || !st->active || (n && !md)) return PT_ERR_INVALID_ARG;   /* a bad list leaves the step active */
    st->active = 0;
    st->duration_ms = pt__mono_ms() - st->start_ms;
    if (st->duration_ms < 0) st->duration_ms = 0;
    e = pt__step_event(st);
    e.status = status ? status : PT_STATUS_SUCCESS;
    if (pt__status_is_error(e.status)) e.severity = PT_SEVERITY_ERROR;
    add[na++] = pt_field_int("duration_ms", st->duration_ms);
    if (st->off_[PT__ST_PARENT]) add[na++] = pt_field_str("parent_step_id", pt__step_str(st, PT__ST_PARENT));
    if (!(fs = pt__step_fields(stack, 16, md, n, add, na, &cnt, &heap))) r = PT_ERR_NO_MEMORY;
    else {
        e.metadata = fs; e.metadata_count = cnt;
        r = pt_track(st->client, &e);
        PT__FREE(heap);
    }
    PT__FREE(st->heap_);
    st->heap_ = NULL;
    return r;
}
#else
/* PACKTRACK_NO_STEPS: send the begin and end events with pt_track. */
PACKTRACK_API pt_result pt_step_begin_event(pt_client *cl, pt_step *st, const pt_step *parent, const pt_event *ev) {
    pt__core *c;
    (void)parent; (void)ev;
    if (st) memset(st, 0, sizeof *st);
    if (cl && (c = pt__enter(cl)) != NULL) {
        pt__log(c, PT_LOG_WARN, "pt_step_begin: this build has PACKTRACK_NO_STEPS; send the step's events with pt_track");
        pt__leave(cl);
    }
    return PT_ERR_UNSUPPORTED;
}
PACKTRACK_API pt_result pt_step_begin(pt_client *cl, pt_step *st, const pt_step *parent, const char *message) {
    (void)message;
    return pt_step_begin_event(cl, st, parent, NULL);
}
PACKTRACK_API const char *pt_step_id(const pt_step *st) { (void)st; return NULL; }
PACKTRACK_API pt_result pt_step_end(pt_step *st, const char *status, const pt_field *md, size_t n) {
    (void)st; (void)status; (void)md; (void)n;
    return PT_ERR_UNSUPPORTED;
}
#endif /* PT__STEPS */

#if defined(__cplusplus) && __cplusplus >= 201103L
#pragma pop_macro("NULL")
#endif
#if defined(__cplusplus) && (defined(__GNUC__) || defined(__clang__))
#pragma GCC diagnostic pop
#endif
#if defined(_MSC_VER)
#pragma warning(pop)
#endif
#endif /* PACKTRACK_IMPLEMENTATION */

/*
------------------------------------------------------------------------------
This software is available under 2 licenses -- choose whichever you prefer.
------------------------------------------------------------------------------
ALTERNATIVE A - MIT License
Copyright (c) 2026 The packtrack.h authors
Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:
The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
------------------------------------------------------------------------------
ALTERNATIVE B - Public Domain (www.unlicense.org)
This is free and unencumbered software released into the public domain.
Anyone is free to copy, modify, publish, use, compile, sell, or distribute this
software, either in source code form or as a compiled binary, for any purpose,
commercial or non-commercial, and by any means.
------------------------------------------------------------------------------
*/
