/* sync.c - Shows how to send events synchronously with pt_ingest() and
   pt_ingest_batch(), and how to read a pt_error when the server says no.

     cc -std=c99 -O2 -Wall -Wextra -pedantic -o sync examples/sync.c -lpthread

   The calls send at once on the calling thread, retry retryable failures
   (network, timeouts, 408, 429, 5xx) with backoff, and report in pt_error:
   the result code, the last HTTP status, the attempts made, whether trying
   again later may help, a message and the start of the response body.
   Environment: PACKTRACK_BASE_URL, PACKTRACK_API_KEY (with local fallbacks). */
#define PACKTRACK_IMPLEMENTATION
#include "../packtrack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static void print_result(const char *what, pt_result r, const pt_error *err) {
    printf("%s: %s (code %d, HTTP %d, %d attempt(s)%s)\n", what, pt_strerror(r), (int)err->code,
           err->http_status, err->attempts, r != PT_OK && err->retryable ? ", retryable" : "");
    if (r != PT_OK) {
        printf("  message: %s\n", err->message);
        if (err->body_head[0]) printf("  response body: %s\n", err->body_head);
    }
}

int main(void) {
    pt_config cfg = {0};
    pt_client *client = NULL;
    pt_error err;
    pt_result r, r2;
    pt_event ev = {0}, batch[3];
    pt_field meta[4];
    int i;

    cfg.api_key = env_or("PACKTRACK_API_KEY", "pk_test_local");
    cfg.base_url = env_or("PACKTRACK_BASE_URL", "http://127.0.0.1:8080");
    cfg.max_retries = 2;                       /* PT_RETRIES_NONE would mean exactly one attempt */
    cfg.timeout_ms = 5000;
    r = pt_client_new(&cfg, &client, &err);
    if (r != PT_OK) {
        fprintf(stderr, "pt_client_new: %s: %s\n", pt_strerror(r), err.message);
        return 1;
    }

    /* One event, sent now. Metadata fields are typed; PT_FIELD_RAW nests JSON. */
    meta[0] = pt_field_str("order_id", "o-1");
    meta[1] = pt_field_double("amount", 12.5);
    meta[2] = pt_field_bool("vip", 1);
    meta[3] = pt_field_raw("tags", "[\"a\",\"b\"]");
    ev.source_system = "checkout-svc";  ev.source_env = "dev";
    ev.workflow_id = "wf-1";  ev.workflow_name = "refund";  ev.run_id = "r-9";
    ev.actor_type = "agent";  ev.actor_id = "a-42";  ev.actor_display_name = "Refund bot";
    ev.severity = PT_SEVERITY_INFO;  ev.status = PT_STATUS_SUCCESS;
    ev.message = "refund issued (sync)";
    ev.metadata = meta;  ev.metadata_count = 4;
    r = pt_ingest(client, &ev, &err);
    print_result("pt_ingest", r, &err);

    /* Three events in one request. */
    for (i = 0; i < 3; i++) {
        batch[i] = ev;
        batch[i].metadata = NULL;  batch[i].metadata_count = 0;
        batch[i].step_id = i == 0 ? "s-1" : i == 1 ? "s-2" : "s-3";
        batch[i].message = i == 0 ? "step 1 of 3" : i == 1 ? "step 2 of 3" : "step 3 of 3";
    }
    r2 = pt_ingest_batch(client, batch, 3, &err);
    print_result("pt_ingest_batch", r2, &err);

    /* A missing required field is refused before anything is sent. */
    ev.message = NULL;
    print_result("pt_ingest without a message", pt_ingest(client, &ev, &err), &err);

    r = r != PT_OK ? r : r2;
    printf("pt_close: %s\n", pt_strerror(pt_close(client, 1000, NULL)));
    pt_client_free(client);
    return r == PT_OK ? 0 : 1;
}
