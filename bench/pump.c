/* pump.c - how long pt_pump(client, 1) takes per frame in a game loop.
   Build: cc -O2 -Ibench -I. bench/pump.c -lpthread -lz -lm
   Usage: bench-pump [frames]            (default 3000)
   Manual mode, one pt_pump(client, 1) per frame, 20 events tracked per frame
   and batches of 100, in three settings: a local sink (a forked minimal
   HTTP/1.1 responder), a server that accepts connections and never answers
   (timeout_ms 500: the request is cut off and retried all along), and the
   asynchronous hook with a simulated engine queue completed on the next
   frame. Prints p50 / p99 / max of the pump call durations. Figures, never
   assertions. */
#define _GNU_SOURCE 1
#define PACKTRACK_IMPLEMENTATION
#include "packtrack.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include "sink.h"

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The simulated engine: requests queue up and are answered 200 on the next frame. */
#define QMAX 256
static pt_http_op g_q[QMAX];
static int g_nq;
static pt_result eng_send(const pt_http_request *req, pt_http_op op, void *user) {
    (void)req; (void)user;
    if (g_nq >= QMAX) return PT_ERR_NETWORK;
    g_q[g_nq++] = op;
    return PT_OK;
}
static void eng_frame(void) {
    pt_http_response resp;
    int i, n = g_nq;
    g_nq = 0;
    memset(&resp, 0, sizeof resp);
    resp.status = 200;
    for (i = 0; i < n; i++) pt_http_complete(g_q[i], PT_OK, &resp);
}

/* A listener that never accepts: connects succeed (the kernel's backlog), no answer ever comes. */
static int silent_listener(int *port) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET; a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 64)) { perror("listener"); exit(1); }
    getsockname(l, (struct sockaddr *)&a, &al);
    *port = ntohs(a.sin_port);
    return l;
}

static void run(const char *name, const char *url, int async, int frames) {
    pt_config cfg;
    pt_client *cl = NULL;
    pt_event ev;
    pt_client_stats st;
    double *d = (double *)malloc((size_t)frames * sizeof *d);
    int f, i;
    memset(&cfg, 0, sizeof cfg);
    cfg.api_key = "bench-key";
    cfg.base_url = url;
    cfg.manual_mode = 1;
    cfg.batch_size = 100;
    cfg.flush_interval_ms = 16;
    cfg.timeout_ms = 500;
    cfg.connect_timeout_ms = 500;
    cfg.breaker_threshold = 1000000;          /* keep sending: measure the transport, not the breaker */
    cfg.backoff_base_ms = 10; cfg.backoff_max_ms = 50;
    if (async) cfg.http_async = eng_send;
    if (pt_client_new(&cfg, &cl, NULL) != PT_OK || !d) { fprintf(stderr, "client\n"); exit(1); }
    memset(&ev, 0, sizeof ev);
    ev.source_system = "bench"; ev.workflow_id = "wf"; ev.actor_type = "agent"; ev.actor_id = "a";
    ev.severity = PT_SEVERITY_INFO; ev.status = PT_STATUS_OK; ev.message = "frame event";
    for (f = 0; f < frames; f++) {
        double t0;
        for (i = 0; i < 20; i++) pt_track(cl, &ev);
        t0 = now_s();
        pt_pump(cl, 1);
        d[f] = (now_s() - t0) * 1000.0;
        if (async) eng_frame();
        usleep(1000);                          /* the rest of the frame */
    }
    pt_stats(cl, &st);
    qsort(d, (size_t)frames, sizeof *d, cmp_d);
    printf("pump (1 ms budget) %-34s p50 %6.3f ms  p99 %6.3f ms  max %6.3f ms  (%d frames, %llu delivered, %llu requests failed)\n",
           name, d[frames / 2], d[(size_t)frames * 99 / 100], d[frames - 1], frames,
           (unsigned long long)st.delivered, (unsigned long long)st.requests_failed);
    pt_close(cl, 0, NULL);
    pt_client_free(cl);
    free(d);
}

int main(int argc, char **argv) {
    int frames = argc > 1 ? atoi(argv[1]) : 3000, port, l;
    char url[64];
    (void)cpu_s;
    if (frames < 100) frames = 100;
    snprintf(url, sizeof url, "http://127.0.0.1:%d", sink_start());
    run("local sink:", url, 0, frames);
    sink_stop();
    l = silent_listener(&port);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    run("server that never answers:", url, 0, frames);
    close(l);
    run("async hook, engine queue:", "http://engine.invalid", 1, frames);
    return 0;
}
