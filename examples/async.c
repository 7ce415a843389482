/* async.c - Shows how to send events in the background: event defaults in
   the config, one pt_trackf() line per event, the close report at the end.
   The quick start at the top of packtrack.h and in the README, with every
   result checked.

     cc -std=c99 -O2 -Wall -Wextra -pedantic -o async examples/async.c -lpthread

   Run it against a local sink (`make demo` does exactly this):
     ./packtrack-sink &            # prints "listening on http://127.0.0.1:PORT"
     PACKTRACK_BASE_URL=http://127.0.0.1:PORT PACKTRACK_API_KEY=pk_test_local ./async
   PACKTRACK_DEBUG=1 prints the library's diagnostics to stderr. */
#define PACKTRACK_IMPLEMENTATION
#include "../packtrack.h"

#include <stdio.h>

int main(void) {
    pt_config cfg = {0};                          /* C++: pt_config cfg = {}; zero = default */
    pt_client *client = NULL;
    pt_error err;
    pt_close_report rep;
    pt_result r;
    cfg.api_key  = "pk_test_local";
    cfg.base_url = "http://127.0.0.1:8080";       /* https needs PACKTRACK_USE_CURL */
    cfg.defaults.source_system = "checkout-svc";  /* filled into every event */
    cfg.defaults.workflow_id = "wf-1";
    cfg.defaults.actor_type = "agent";
    cfg.defaults.actor_id = "a-42";
    if ((r = pt_config_from_env(&cfg, &err)) != PT_OK ||     /* PACKTRACK_API_KEY, _BASE_URL, _DEBUG, ... */
        (r = pt_client_new(&cfg, &client, &err)) != PT_OK) {
        fprintf(stderr, "packtrack: %s: %s\n", pt_strerror(r), err.message);
        return 1;
    }

    r = pt_trackf(client, PT_SEVERITY_INFO, PT_STATUS_SUCCESS, "refund %d issued", 1042);
    if (r != PT_OK) fprintf(stderr, "pt_trackf: %s\n", pt_strerror(r));   /* copies; never blocks */

    r = pt_close(client, 5000, &rep);             /* drains the queue, at most 5 s */
    printf("pt_close: %s; delivered %llu of %llu\n", pt_strerror(r),
           (unsigned long long)rep.delivered, (unsigned long long)rep.tracked);
    pt_client_free(client);
    return r == PT_OK && rep.delivered == rep.tracked ? 0 : 1;
}
