/* bench.c - the SPEC section 7 figures, measured on the machine at hand.
   Build: cc -O2 -std=c99 -Ibench -I. bench/bench.c -lpthread -lz -lm
   Usage: bench [track|threads|e2e|memory|rss|idle|all]
   The sink is a forked child process (a minimal HTTP/1.1 responder on
   127.0.0.1) so the client's CPU time is measured alone. */
#define _GNU_SOURCE 1
#include <stddef.h>
#include <stdlib.h>
#include <stdatomic.h>
/* Every allocation of the library is counted twice: in all (any thread) and
   in the calling thread's own counter, so "allocations per pt_track" is
   measured on the producer thread itself, apart from the flush thread's. */
static atomic_long bench_allocs;
static __thread long bench_my_allocs;
static void *bench_malloc(size_t n) { atomic_fetch_add(&bench_allocs, 1); bench_my_allocs++; return malloc(n); }
static void *bench_realloc(void *p, size_t n) { atomic_fetch_add(&bench_allocs, 1); bench_my_allocs++; return realloc(p, n); }
#define PACKTRACK_MALLOC(n) bench_malloc(n)
#define PACKTRACK_REALLOC(p, n) bench_realloc(p, n)
#define PACKTRACK_FREE(p) free(p)
#define PACKTRACK_IMPLEMENTATION
#include "packtrack.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "sink.h"

/* ---- helpers ---------------------------------------------------------- */
static long rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) if (!strncmp(line, "VmRSS:", 6)) v = atol(line + 6);
    fclose(f);
    return v;
}
static int cmp_ll(const void *a, const void *b) { long long x = *(const long long *)a, y = *(const long long *)b; return x < y ? -1 : x > y; }
static char g_url[64];

/* A typical event: ~350 bytes of JSON. */
static pt_field g_meta[5];
static pt_event typical_event(long i) {
    pt_event ev;
    memset(&ev, 0, sizeof ev);
    ev.source_system = "checkout-svc"; ev.source_env = "prod";
    ev.workflow_id = "wf-7f3a9c"; ev.workflow_name = "refund"; ev.run_id = "run-000123";
    ev.actor_type = "agent"; ev.actor_id = "agent-42";
    ev.severity = PT_SEVERITY_INFO; ev.status = PT_STATUS_SUCCESS;
    ev.message = "refund issued";
    g_meta[0] = pt_field_str("order_id", "o-99812");
    g_meta[1] = pt_field_double("amount", 12.5);
    g_meta[2] = pt_field_int("attempt", i & 7);
    g_meta[3] = pt_field_bool("vip", 1);
    ev.metadata = g_meta; ev.metadata_count = 4;
    return ev;
}
/* The settings mk_client changes from the defaults, printed with each figure. */
static void print_settings(int batch, int cap, size_t maxb) {
    printf("  settings: batch_size %d (default 100), queue_capacity %d (default 10,000), queue_max_bytes %zu MiB (default 8),\n"
           "            flush_interval_ms 50 (default 1000), batch_max_bytes 4 MiB (default 1)\n", batch, cap, maxb >> 20);
}
static pt_client *mk_client(int batch, int gzip, int cap, size_t maxb) {
    pt_config cfg;
    pt_client *c = NULL;
    pt_error err;
    memset(&cfg, 0, sizeof cfg);
    cfg.api_key = "bench-key"; cfg.base_url = g_url;
    cfg.batch_size = batch; cfg.enable_gzip = gzip;
    cfg.queue_capacity = cap; cfg.queue_max_bytes = maxb;
    cfg.flush_interval_ms = 50;
    cfg.batch_max_bytes = 4u << 20;
    if (pt_client_new(&cfg, &c, &err) != PT_OK) { fprintf(stderr, "client: %s\n", err.message); exit(1); }
    return c;
}

/* ---- pt_track latency, one thread, flush thread sending ----------------- */
static void bench_track(void) {
    enum { N = 1000000 };
    long long *lat = (long long *)malloc(sizeof(long long) * N);
    pt_client *c = mk_client(500, 0, 2 * N, (size_t)1 << 30);
    pt_event ev = typical_event(0);
    char js[1024];
    size_t jl = 0;
    long i, ok = 0;
    double t0, t1;
    long a0, my0;
    pt_event_to_json(NULL, &ev, js, sizeof js, &jl, NULL);
    /* Warm up with as many events as the timed pass: the producer outruns the
       sink here, so the queue grows to hundreds of MB, and the first pass
       would mostly measure first-touch page faults of fresh heap memory. A
       long-running client reuses its queue chunks instead; glibc is told to
       keep freed memory (in main) so the timed pass sees that steady state. */
    for (i = 0; i < N; i++) pt_track(c, &ev);
    pt_flush(c, 60000);
    a0 = atomic_load(&bench_allocs);
    my0 = bench_my_allocs;
    t0 = now_s();
    for (i = 0; i < N; i++) {
        long long s = (long long)pt__mono_ns();
        ok += pt_track(c, &ev) == PT_OK;
        lat[i] = (long long)pt__mono_ns() - s;
    }
    t1 = now_s();
    {
        long allocs = atomic_load(&bench_allocs) - a0, mine = bench_my_allocs - my0;
        qsort(lat, N, sizeof lat[0], cmp_ll);
        printf("pt_track, 1 thread (event %zu B JSON, flush thread sending to a local sink):\n", jl);
        print_settings(500, 2 * N, (size_t)1 << 30);
        printf("  warm-up: %d events tracked and flushed before the timed pass (the queue's memory is faulted in);\n"
               "  glibc mallopt(M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = 1 GiB) keeps freed memory (default: trimmed)\n", N);
        printf("  throughput      %.0f accepted events/s  (target >= 2,000,000); %ld of %d calls refused\n", ok / (t1 - t0), N - ok, N);
        printf("  latency median  %lld ns  (target <= 500)\n", lat[N / 2]);
        printf("  latency p99     %lld ns\n", lat[(long)(N * 0.99)]);
        printf("  latency p99.9   %lld ns  (target <= 10,000)\n", lat[(long)(N * 0.999)]);
        printf("  heap allocations by the producer thread in %d pt_track calls: %ld (%.4f per pt_track; target 0 in steady state)\n", N, mine, (double)mine / N);
        printf("  heap allocations by the other threads meanwhile (flush thread): %ld\n", allocs - mine);
    }
    pt_close(c, 30000, NULL); pt_client_free(c);
    (void)ok;
    free(lat);
}

/* ---- pt_track alone: manual mode, nothing drains, memory already faulted -- */
static void bench_track_alone(void) {
    enum { N = 1000000 };
    pt_config cfg;
    pt_client *c = NULL;
    pt_event ev = typical_event(0);
    long long *lat = (long long *)malloc(sizeof(long long) * N);
    int pass;
    long i, ok = 0;
    memset(&cfg, 0, sizeof cfg);
    cfg.api_key = "bench-key"; cfg.base_url = g_url; cfg.manual_mode = 1;
    cfg.queue_capacity = N; cfg.queue_max_bytes = (size_t)1 << 30;
    for (pass = 0; pass < 2; pass++) {       /* pass 0 faults the memory in */
        double t0, t1;
        pt_client_new(&cfg, &c, NULL);
        ok = 0;
        t0 = now_s();
        for (i = 0; i < N; i++) {
            long long s0 = (long long)pt__mono_ns();
            ok += pt_track(c, &ev) == PT_OK;
            lat[i] = (long long)pt__mono_ns() - s0;
        }
        t1 = now_s();
        pt_close(c, 0, NULL); pt_client_free(c);
        if (pass == 1) {
            qsort(lat, N, sizeof lat[0], cmp_ll);
            printf("pt_track, 1 thread, no flush thread competing for the 2 cores (manual mode):\n");
            printf("  settings: manual_mode 1, queue_capacity %d (default 10,000), queue_max_bytes 1024 MiB (default 8);\n"
                   "            the second of two passes (the first faults the memory in); mallopt as printed first\n", N);
            printf("  throughput      %.0f accepted events/s (%ld of %d calls refused), median %lld ns, p99 %lld ns, p99.9 %lld ns\n",
                   ok / (t1 - t0), N - ok, N, lat[N / 2], lat[(long)(N * 0.99)], lat[(long)(N * 0.999)]);
        }
    }
    free(lat);
}

/* ---- 4 producer threads ------------------------------------------------- */
static pt_client *g_c;
static long g_per_thread;
static atomic_long g_accepted;
static void *producer(void *arg) {
    pt_event ev = typical_event((long)(intptr_t)arg);
    long i, ok = 0;
    for (i = 0; i < g_per_thread; i++) ok += pt_track(g_c, &ev) == PT_OK;
    atomic_fetch_add(&g_accepted, ok);
    return NULL;
}
static void bench_threads(void) {
    pthread_t t[4];
    int i;
    double t0, t1;
    g_per_thread = 500000;
    g_c = mk_client(500, 0, 4 * 500000 + 10, (size_t)2 << 30);
    atomic_store(&g_accepted, 0);
    t0 = now_s();
    for (i = 0; i < 4; i++) pthread_create(&t[i], NULL, producer, (void *)(intptr_t)i);
    for (i = 0; i < 4; i++) pthread_join(t[i], NULL);
    t1 = now_s();
    printf("pt_track, 4 threads on %ld cores: %.0f accepted events/s aggregate  (target >= 1,000,000); %ld of %ld calls refused\n",
           sysconf(_SC_NPROCESSORS_ONLN), (double)atomic_load(&g_accepted) / (t1 - t0), 4 * g_per_thread - atomic_load(&g_accepted), 4 * g_per_thread);
    print_settings(500, 4 * 500000 + 10, (size_t)2 << 30);
    pt_close(g_c, 60000, NULL); pt_client_free(g_c);
}

/* ---- end to end --------------------------------------------------------- */
static void bench_e2e(int batch, int gzip) {
    long n = gzip ? 400000 : 1000000, i;
    pt_client *c = mk_client(batch, gzip, 20000, 8u << 20);
    pt_event ev = typical_event(0);
    pt_client_stats st;
    double t0, t1, c0, c1;
    long full = 0;
    c0 = cpu_s(); t0 = now_s();
    for (i = 0; i < n; i++) {
        pt_result r;
        g_meta[2].i = i;
        while ((r = pt_track(c, &ev)) == PT_ERR_QUEUE_FULL) { full++; sched_yield(); }
    }
    pt_flush(c, 60000);
    t1 = now_s(); c1 = cpu_s();
    pt_stats(c, &st);
    printf("end to end, batches of %d, %s: %.0f events/s delivered, client CPU %.2f us/event, %.1f MB/s on the wire (ratio %.2f)%s\n",
           batch, gzip ? "gzip (built-in deflate)" : "uncompressed", st.delivered / (t1 - t0), (c1 - c0) * 1e6 / (double)st.delivered,
           st.bytes_sent / (t1 - t0) / 1e6, st.bytes_sent ? (double)st.bytes_uncompressed / st.bytes_sent : 0.0,
           st.delivered == (uint64_t)n ? "" : "  [NOT ALL DELIVERED]");
    printf("  %ld pt_track calls answered queue-full and were repeated after sched_yield (the rate counts each event once)\n", full);
    print_settings(batch, 20000, 8u << 20);
    pt_close(c, 30000, NULL); pt_client_free(c);
}

/* ---- memory per queued event -------------------------------------------- */
static void bench_memory(void) {
    pt_config cfg;
    pt_client *c = NULL;
    pt_event ev = typical_event(0);
    pt_client_stats st;
    long i, n = 20000, rss0, rss1;
    memset(&cfg, 0, sizeof cfg);
    cfg.api_key = "bench-key"; cfg.base_url = g_url;
    cfg.manual_mode = 1;                       /* nothing drains: measure what the queue holds */
    cfg.queue_capacity = (int)n; cfg.queue_max_bytes = 64u << 20;
    pt_client_new(&cfg, &c, NULL);
    rss0 = rss_kb();
    for (i = 0; i < n; i++) pt_track(c, &ev);
    rss1 = rss_kb();
    pt_stats(c, &st);
    {
        pt__core *core = c->core;
        size_t chunk_bytes = 0;
        pt__chunk *ch;
        for (ch = core->q.first; ch; ch = ch->next) chunk_bytes += sizeof(pt__chunk) + ch->cap;
        printf("memory per queued event: %.1f B of JSON, %.1f B held by the queue (%.3fx; target <= 1.25x); RSS grew %.1f B/event\n",
               (double)st.queue_bytes / n, (double)chunk_bytes / n, (double)chunk_bytes / st.queue_bytes, (rss1 - rss0) * 1024.0 / n);
    }
    pt_close(c, 0, NULL); pt_client_free(c);
}

/* ---- peak RSS pushing 200,000 events with default bounds ----------------
   Measured in a fresh process (fork + exec of this program), so nothing the
   other benchmarks allocated is counted. */
static void rss_child(void) {
    pt_config cfg;
    pt_client *c = NULL;
    pt_event ev = typical_event(0);
    struct rusage u;
    long i;
    memset(&cfg, 0, sizeof cfg);
    cfg.api_key = "bench-key"; cfg.base_url = g_url;
    pt_client_new(&cfg, &c, NULL);
    for (i = 0; i < 200000; i++) while (pt_track(c, &ev) == PT_ERR_QUEUE_FULL) sched_yield();
    pt_close(c, 30000, NULL); pt_client_free(c);
    /* VmHWM belongs to this exec'd image; ru_maxrss would carry the parent's peak across fork */
    {
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        long hwm = -1;
        while (f && fgets(line, sizeof line, f)) if (!strncmp(line, "VmHWM:", 6)) hwm = atol(line + 6);
        if (f) fclose(f);
        if (hwm < 0) { getrusage(RUSAGE_SELF, &u); hwm = u.ru_maxrss; }
        printf("peak RSS of a process pushing 200,000 events with default bounds: %.1f MiB  (target <= 16)\n", hwm / 1024.0);
    }
}
static void bench_rss(void) {
    pid_t p = fork();
    if (p == 0) {
        execl("/proc/self/exe", "bench", "rss-child", g_url, (char *)NULL);
        _exit(127);
    }
    waitpid(p, NULL, 0);
}

/* ---- idle client ---------------------------------------------------------- */
static void bench_idle(void) {
    pt_config cfg;
    pt_client *c = NULL;
    pt_event ev = typical_event(0);
    pt_client_stats s0, s1;
    long r0, r1;
    memset(&cfg, 0, sizeof cfg);
    cfg.api_key = "bench-key"; cfg.base_url = g_url;
    r0 = rss_kb();
    pt_client_new(&cfg, &c, NULL);
    pt_track(c, &ev);
    pt_flush(c, 5000);
    r1 = rss_kb();
    pt_stats(c, &s0);
    sleep(3);
    pt_stats(c, &s1);
    printf("idle client (default settings): %llu flush-thread wake-ups in 3 s (target 0); RSS overhead %ld KiB (target < 1024)\n",
           (unsigned long long)(s1.wakeups - s0.wakeups), r1 - r0);
    pt_close(c, 1000, NULL); pt_client_free(c);
}

int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "all";
    int all = !strcmp(what, "all");
    if (!strcmp(what, "rss-child") && argc > 2) {      /* see bench_rss */
        snprintf(g_url, sizeof g_url, "%s", argv[2]);
        rss_child();
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
#if defined(__GLIBC__)
    mallopt(M_TRIM_THRESHOLD, 1 << 30);   /* see bench_track */
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
#endif
    snprintf(g_url, sizeof g_url, "http://127.0.0.1:%d", sink_start());
    setvbuf(stdout, NULL, _IONBF, 0);
#if defined(__GLIBC__)
    printf("every figure below except the peak RSS one (a fresh process): glibc mallopt(M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = 1 GiB)\n");
#endif
    if (all || !strcmp(what, "track")) { bench_track_alone(); bench_track(); }
    if (all || !strcmp(what, "threads")) bench_threads();
    if (all || !strcmp(what, "e2e")) { bench_e2e(100, 0); bench_e2e(500, 0); bench_e2e(500, 1); }
    if (all || !strcmp(what, "memory")) bench_memory();
    if (all || !strcmp(what, "rss")) bench_rss();
    if (all || !strcmp(what, "idle")) bench_idle();
    sink_stop();
    return 0;
}
