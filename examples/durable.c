/* durable.c - Shows how to make tracked events survive a crash: with
   spool_dir set, every event pt_track() accepts is on disk before the call
   returns, and the next run on the same directory delivers what is left.

     cc -std=c99 -O2 -Wall -Wextra -pedantic -o durable examples/durable.c -lpthread

   Try it with the server down, then up:
     ./durable                      # no server: events stay in ./packtrack-spool
     ./packtrack-sink --port 8080 & # start a sink
     ./durable                      # the first run's events are replayed, then this run's */
#define PACKTRACK_IMPLEMENTATION
#include "../packtrack.h"

#include <stdio.h>
#include <stdlib.h>

static void logger(pt_log_level level, const char *msg, void *user) {
    (void)user;
    if (level >= PT_LOG_WARN) fprintf(stderr, "packtrack: %s\n", msg);
}

int main(void) {
    pt_config cfg = {0};
    pt_client *client = NULL;
    pt_error err;
    pt_close_report rep;
    pt_client_stats st;
    pt_result r;
    int i;
    const char *url = getenv("PACKTRACK_BASE_URL");

    cfg.api_key = getenv("PACKTRACK_API_KEY") ? getenv("PACKTRACK_API_KEY") : "pk_test_local";
    cfg.base_url = url && *url ? url : "http://127.0.0.1:8080";
    cfg.spool_dir = "packtrack-spool";      /* created if missing; one client per directory */
    cfg.fsync_policy = PT_FSYNC_BATCH;      /* the default: one fsync before each request */
    cfg.enable_dead_letter = 1;             /* events rejected for good go to dead-letter.ndjson */
    cfg.logger = logger;
    r = pt_client_new(&cfg, &client, &err);
    if (r != PT_OK) {                       /* e.g. PT_ERR_SPOOL_LOCKED: another process uses the dir */
        fprintf(stderr, "pt_client_new: %s: %s\n", pt_strerror(r), err.message);
        return 1;
    }
    pt_stats(client, &st);
    printf("replaying %llu event(s) left by an earlier run\n", (unsigned long long)st.pending);

    for (i = 0; i < 5; i++) {
        pt_event ev = {0};
        char msg[64];
        snprintf(msg, sizeof msg, "durable event %d", i);
        ev.source_system = "durable-example"; ev.workflow_id = "wf-durable";
        ev.actor_type = "tool"; ev.actor_id = "durable.c";
        ev.severity = PT_SEVERITY_INFO; ev.status = PT_STATUS_OK;
        ev.message = msg;
        r = pt_track(client, &ev);          /* OK means: on disk (page cache) and queued */
        if (r != PT_OK) fprintf(stderr, "pt_track: %s\n", pt_strerror(r));   /* PT_ERR_DISK_FULL, ... */
    }

    r = pt_close(client, 2000, &rep);       /* what is not delivered in 2 s stays on disk */
    printf("pt_close: %s; delivered %llu, left in the spool for the next run %llu, failed %llu\n",
           pt_strerror(r), (unsigned long long)rep.delivered, (unsigned long long)rep.spooled,
           (unsigned long long)(rep.failed_rejected + rep.failed_exhausted + rep.failed_oversize));
    pt_client_free(client);
    return 0;
}
