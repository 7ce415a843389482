/* durable.c - durable mode (spool_dir) throughput for each fsync policy.
   Build: cc -O2 -Ibench -I. bench/durable.c -lpthread -lz -lm
   Usage: bench-durable [events] [runs]      (default 200000 events, 3 runs)
   Events of ~350 bytes of JSON are tracked as fast as pt_track accepts them
   (a full queue is retried) into a client with spool_dir set, batches of
   500, against a local sink (a forked minimal HTTP/1.1 responder); the
   figure is delivered events / time from the first pt_track until the last
   2xx. Median of the runs. The spool lives in $TMPDIR (default /tmp), so the
   fsync figures are those of that file system. PT_FSYNC_EVERY is measured
   on far fewer events (one fsync per pt_track). */
#define _GNU_SOURCE 1
#define PACKTRACK_IMPLEMENTATION
#include "packtrack.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include "sink.h"

static int cmp_d(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
static void rm_dir(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    if (!d) return;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* A typical event: ~350 bytes of JSON. */
static pt_field g_meta[5];
static pt_event typical_event(void) {
    pt_event ev;
    memset(&ev, 0, sizeof ev);
    ev.source_system = "checkout-svc"; ev.source_env = "prod";
    ev.workflow_id = "wf-7f3a9c"; ev.workflow_name = "refund"; ev.run_id = "run-000123";
    ev.actor_type = "agent"; ev.actor_id = "agent-42";
    ev.severity = PT_SEVERITY_INFO; ev.status = PT_STATUS_SUCCESS;
    ev.message = "refund issued";
    g_meta[0] = pt_field_str("order_id", "o-99812");
    g_meta[1] = pt_field_double("amount", 12.5);
    g_meta[2] = pt_field_int("attempt", 0);
    g_meta[3] = pt_field_bool("vip", 1);
    ev.metadata = g_meta; ev.metadata_count = 4;
    return ev;
}

static char g_url[64];
/* One run: returns delivered events/s; *cpu_us gets client CPU per event. */
static double run_once(pt_fsync_policy pol, long n, double *cpu_us, double *track_rate) {
    char dir[256];
    const char *tmp = getenv("TMPDIR");
    pt_config cfg;
    pt_client *c = NULL;
    pt_error err;
    pt_client_stats st;
    pt_event ev = typical_event();
    double t0, t1, t2, c0, c1;
    long i;
    snprintf(dir, sizeof dir, "%s/pt_bench_durable_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) { perror("mkdtemp"); exit(1); }
    memset(&cfg, 0, sizeof cfg);
    cfg.api_key = "bench-key"; cfg.base_url = g_url;
    cfg.batch_size = 500;
    cfg.flush_interval_ms = 50;
    cfg.batch_max_bytes = 4u << 20;
    cfg.spool_dir = dir;
    cfg.fsync_policy = pol;
    if (pt_client_new(&cfg, &c, &err) != PT_OK) { fprintf(stderr, "client: %s\n", err.message); exit(1); }
    c0 = cpu_s(); t0 = now_s();
    for (i = 0; i < n; i++) {
        g_meta[2].i = i;
        while (pt_track(c, &ev) == PT_ERR_QUEUE_FULL) sched_yield();
    }
    t1 = now_s();
    pt_flush(c, 120000);
    t2 = now_s(); c1 = cpu_s();
    pt_stats(c, &st);
    if (st.delivered != (uint64_t)n) fprintf(stderr, "  [only %llu of %ld delivered]\n", (unsigned long long)st.delivered, n);
    pt_close(c, 30000, NULL);
    pt_client_free(c);
    rm_dir(dir);
    *cpu_us = (c1 - c0) * 1e6 / (double)(st.delivered ? st.delivered : 1);
    *track_rate = (double)n / (t1 - t0);
    return (double)st.delivered / (t2 - t0);
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 200000;
    int runs = argc > 2 ? atoi(argv[2]) : 3, p, r;
    static const char *names[] = { "", "none", "batch (default)", "every event" };
    if (n <= 0 || runs <= 0 || runs > 15) { fprintf(stderr, "usage: %s [events] [runs]\n", argv[0]); return 1; }
    signal(SIGPIPE, SIG_IGN);
    snprintf(g_url, sizeof g_url, "http://127.0.0.1:%d", sink_start());
    printf("durable mode (spool in %s), events of ~350 B, batches of 500, median of %d runs:\n", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", runs);
    for (p = PT_FSYNC_NONE; p <= PT_FSYNC_EVERY; p++) {
        double rate[15], cpu[15], trk[15];
        long np = p == PT_FSYNC_EVERY ? (n / 200 > 200 ? n / 200 : 200) : n;
        for (r = 0; r < runs; r++) rate[r] = run_once((pt_fsync_policy)p, np, &cpu[r], &trk[r]);
        qsort(rate, (size_t)runs, sizeof rate[0], cmp_d);
        qsort(cpu, (size_t)runs, sizeof cpu[0], cmp_d);
        qsort(trk, (size_t)runs, sizeof trk[0], cmp_d);
        printf("  fsync %-16s %9.0f events/s delivered (%ld events; runs %.0f..%.0f), pt_track %9.0f calls/s, client CPU %.2f us/event%s\n",
               names[p], rate[runs / 2], np, rate[0], rate[runs - 1], trk[runs / 2], cpu[runs / 2],
               p == PT_FSYNC_BATCH ? (rate[runs / 2] >= 200000 ? "  [target >= 200000: met]" : "  [target >= 200000: NOT met]") : "");
    }
    sink_stop();
    return 0;
}
