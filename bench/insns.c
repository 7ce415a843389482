/* insns.c - instructions per pt_track and per delivered event, for callgrind.
   Build: cc -O2 -std=c99 -Ibench -I. bench/insns.c -lpthread -lz -lm
   Usage: insns track|flush|json|time   (insns.sh runs the first three under
     valgrind --tool=callgrind --collect-atstart=no --toggle-collect=measure_<what>
   and divides the collected instruction count by the count this prints).
   `time` prints the median and best ns per pt_track of 9 rounds of 100,000
   (wall clock, so it moves with machine load; same event, same client).

   The reference event (about 440 bytes of JSON): source, workflow with run
   and step, actor with display name, status, a 20-character
   message, four metadata fields (two ints, a double, a short string). The
   client is in manual mode; nothing is sent while pt_track is measured. */
#define _GNU_SOURCE 1
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

#if defined(__GNUC__)
#define INSNS_NOINLINE __attribute__((noinline))
#else
#define INSNS_NOINLINE
#endif

static pt_field g_meta[4];
static pt_event reference_event(void) {
    pt_event ev;
    memset(&ev, 0, sizeof ev);
    ev.source_system = "checkout-svc";
    ev.workflow_id = "wf-7f3a9c2e";
    ev.run_id = "run-2026-11-23-000123"; ev.step_id = "verify-payment";
    ev.actor_type = "agent"; ev.actor_id = "agent-42";
    ev.actor_display_name = "Refund Agent (EU)";
    ev.severity = PT_SEVERITY_INFO; ev.status = PT_STATUS_SUCCESS;
    ev.message = "refund issued (card)";             /* 20 characters */
    g_meta[0] = pt_field_int("attempt", 3);
    g_meta[1] = pt_field_int("latency_ms", 182);
    g_meta[2] = pt_field_double("amount", 129.95);
    g_meta[3] = pt_field_str("currency", "EUR");
    ev.metadata = g_meta; ev.metadata_count = 4;
    return ev;
}

/* The measured regions: callgrind counts only inside these. */
INSNS_NOINLINE long measure_track(pt_client *c, const pt_event *ev, long n);
INSNS_NOINLINE long measure_track(pt_client *c, const pt_event *ev, long n) {
    long i, ok = 0;
    for (i = 0; i < n; i++) ok += pt_track(c, ev) == PT_OK;
    return ok;
}
INSNS_NOINLINE pt_result measure_flush(pt_client *c);
INSNS_NOINLINE pt_result measure_flush(pt_client *c) { return pt_flush(c, 120000); }
INSNS_NOINLINE long measure_json(const pt_event *ev, long n);
INSNS_NOINLINE long measure_json(const pt_event *ev, long n) {
    char js[1024];
    size_t jl = 0;
    long i, ok = 0;
    for (i = 0; i < n; i++) ok += pt_event_to_json(NULL, ev, js, sizeof js, &jl, NULL) == PT_OK;
    return ok;
}

static pt_client *mk_client(const char *url) {
    pt_config cfg;
    pt_client *c = NULL;
    pt_error err;
    memset(&cfg, 0, sizeof cfg);
    cfg.api_key = "bench-key"; cfg.base_url = url; cfg.manual_mode = 1;
    cfg.queue_capacity = 100000; cfg.queue_max_bytes = (size_t)1 << 28;
    if (pt_client_new(&cfg, &c, &err) != PT_OK) { fprintf(stderr, "insns: client: %s\n", err.message); exit(1); }
    return c;
}

int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "track";
    pt_event ev = reference_event();
    char js[1024], url[64];
    size_t jl = 0;
    long n = 20000, ok;
    pt_client *c;
    signal(SIGPIPE, SIG_IGN);
    if (pt_event_to_json(NULL, &ev, js, sizeof js, &jl, NULL) != PT_OK) { fprintf(stderr, "insns: reference event refused\n"); return 1; }
    if (!strcmp(what, "json")) {
        ok = measure_json(&ev, n);
        printf("events %ld bytes %lu\n", ok, (unsigned long)jl);
        return ok == n ? 0 : 1;
    }
    if (!strcmp(what, "track")) {
        c = mk_client("http://127.0.0.1:9");     /* manual mode: never contacted */
        measure_track(c, &ev, 0);                /* keeps the symbol in the profile */
        ok = pt_track(c, &ev) == PT_OK;          /* warm: uuid seed, first queue chunk */
        ok = measure_track(c, &ev, n);
        pt_close(c, 0, NULL); pt_client_free(c);
        printf("events %ld bytes %lu\n", ok, (unsigned long)jl);
        return ok == n ? 0 : 1;
    }
    if (!strcmp(what, "flush")) {
        pt_client_stats s;
        pt_result r;
        snprintf(url, sizeof url, "http://127.0.0.1:%d", sink_start());
        c = mk_client(url);
        { long i; for (i = 0; i < 200; i++) pt_track(c, &ev); }   /* warm: connection, batch buffers */
        pt_flush(c, 60000);
        measure_track(c, &ev, n);
        r = measure_flush(c);
        memset(&s, 0, sizeof s);
        pt_stats(c, &s);
        pt_close(c, 10000, NULL); pt_client_free(c);
        sink_stop();
        printf("events %llu bytes %lu\n", (unsigned long long)(s.delivered - 200), (unsigned long)jl);
        return r == PT_OK ? 0 : 1;
    }
    if (!strcmp(what, "time")) {                 /* ns per pt_track, the same event, no callgrind */
        enum { ROUNDS = 9, PER = 100000 };
        double ns[ROUNDS], t;
        int r2, i2, j2;
#if defined(__GLIBC__)
        mallopt(M_TRIM_THRESHOLD, 1 << 30);      /* keep the queue's memory between rounds: */
        mallopt(M_MMAP_THRESHOLD, 1 << 30);      /* time the calls, not first-touch page faults */
#endif
        for (r2 = -1; r2 < ROUNDS; r2++) {      /* round -1 faults the memory in */
            c = mk_client("http://127.0.0.1:9");
            measure_track(c, &ev, 1000);         /* warm */
            t = now_s();
            measure_track(c, &ev, PER);
            if (r2 >= 0) ns[r2] = (now_s() - t) * 1e9 / PER;
            pt_close(c, 0, NULL); pt_client_free(c);
        }
        for (i2 = 1; i2 < ROUNDS; i2++) for (j2 = i2; j2 > 0 && ns[j2 - 1] > ns[j2]; j2--) { t = ns[j2]; ns[j2] = ns[j2 - 1]; ns[j2 - 1] = t; }
        printf("ns %.0f min %.0f\n", ns[ROUNDS / 2], ns[0]);
        (void)cpu_s;
        return 0;
    }
    fprintf(stderr, "usage: insns track|flush|json|time\n");
    return 2;
}
