/* recovery.c - what a short outage costs, with every setting at its default.
   Build: cc -O2 -std=c99 -I. bench/recovery.c -lpthread -lz -lm
   For each fault (the listener refused for 2 s, as a restarting server; 503
   for 2 s), events are tracked at a steady 2,000/s across it; the figure is
   the time from the server's return to the first 2xx it answers after it
   (the in-process fault server of the test suite measures both ends).
   Figures, never assertions. */
#define _GNU_SOURCE 1
#define PACKTRACK_IMPLEMENTATION
#include "packtrack.h"
#include "tests/test_server.c"

#define RUNS 5

static int cmp_ll(const void *a, const void *b) { long long x = *(const long long *)a, y = *(const long long *)b; return x < y ? -1 : x > y; }

static long long one_run(pts_server *s, int refuse) {
    pt_config cfg;
    pt_client *cl = NULL;
    pt_event ev;
    long long t0, rec = -1, end;
    int i = 0, faulted = 0;
    pts_reset(s);
    memset(&cfg, 0, sizeof cfg);
    cfg.api_key = "bench";
    cfg.base_url = pts_url(s);
    if (pt_client_new(&cfg, &cl, NULL) != PT_OK) return -1;
    memset(&ev, 0, sizeof ev);
    ev.source_system = "bench"; ev.workflow_id = "w"; ev.actor_type = "agent"; ev.actor_id = "a";
    ev.severity = PT_SEVERITY_INFO; ev.status = PT_STATUS_OK; ev.message = "recovery";
    t0 = pts_now_ms();
    end = t0 + 300 + 2000 + 4000;   /* tracking goes on up to 4 s after the fault */
    while (pts_now_ms() < end) {
        long long el = pts_now_ms() - t0;
        if (!faulted && el >= 300) {
            if (refuse) pts_refuse_for(s, 2000);
            else { pts_action a; memset(&a, 0, sizeof a); a.status = 503; pts_fault_window(s, &a, 2000); }
            faulted = 1;
        }
        for (; i < (int)(el * 2); i++) pt_track(cl, &ev);
        if (faulted && (rec = pts_first_ok_after_fault(s)) >= 0) break;
        usleep(2000);
    }
    pt_close(cl, 10000, NULL);
    pt_client_free(cl);
    return rec;
}

int main(void) {
    pts_server *s = pts_start();
    int k, r;
    if (!s) { fprintf(stderr, "recovery: cannot start the test server\n"); return 1; }
    for (k = 0; k < 2; k++) {
        long long v[RUNS];
        for (r = 0; r < RUNS; r++) v[r] = one_run(s, k == 0);
        qsort(v, RUNS, sizeof v[0], cmp_ll);
        printf("recovery after a 2 s outage (%s, default settings): first 2xx %lld ms after the server's return (median of %d; min %lld, max %lld)\n",
               k == 0 ? "listener refused" : "503 storm", v[RUNS / 2], RUNS, v[0], v[RUNS - 1]);
    }
    pts_stop(s);
    return 0;
}
