/* async.c - Shows how to send events in the background with pt_track(): the
   quick start from the top of packtrack.h, with every result checked.

     cc -std=c99 -O2 -Wall -Wextra -pedantic -o async examples/async.c -lpthread

   Run it against a local sink (`make demo` does exactly this):
     ./packtrack-sink &            # prints "listening on http://127.0.0.1:PORT"
     PACKTRACK_BASE_URL=http://127.0.0.1:PORT PACKTRACK_API_KEY=pk_test_local ./async */
#define PACKTRACK_IMPLEMENTATION
#include "../packtrack.h"

#include <stdio.h>
#include <stdlib.h>

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

int main(void) {
    pt_config cfg = {0};                        /* every zero field takes its default */
    pt_client *client = NULL;
    pt_error err;
    pt_close_report report;
    pt_result r;

    cfg.api_key  = env_or("PACKTRACK_API_KEY", "pk_test_local");
    cfg.base_url = env_or("PACKTRACK_BASE_URL", "http://127.0.0.1:8080");   /* https needs PACKTRACK_USE_CURL */
    r = pt_client_new(&cfg, &client, &err);
    if (r != PT_OK) {
        fprintf(stderr, "pt_client_new: %s: %s\n", pt_strerror(r), err.message);
        return 1;
    }

    {
        pt_event ev = {0};
        ev.source_system = "checkout-svc";  ev.workflow_id = "wf-1";
        ev.actor_type = "agent";  ev.actor_id = "a-42";
        ev.severity = PT_SEVERITY_INFO;  ev.status = PT_STATUS_SUCCESS;
        ev.message = "refund issued";
        r = pt_track(client, &ev);              /* copies the event, never blocks on the network */
        printf("pt_track: %s\n", pt_strerror(r));
    }

    r = pt_close(client, 5000, &report);        /* drains the queue, at most 5 s */
    printf("pt_close: %s\n", pt_strerror(r));
    printf("tracked %llu, delivered %llu, failed %llu, dropped %llu, abandoned %llu\n",
           (unsigned long long)report.tracked, (unsigned long long)report.delivered,
           (unsigned long long)(report.failed_rejected + report.failed_exhausted + report.failed_oversize),
           (unsigned long long)(report.dropped_queue_full + report.dropped_sampled),
           (unsigned long long)report.abandoned);
    pt_client_free(client);
    return r == PT_OK && report.delivered == report.tracked ? 0 : 1;
}
