/* consumer: the smallest program built against packtrack::packtrack or
   `pkg-config packtrack` (see tests/packaging.sh).
     consumer            creates and closes a client (proves it compiles and links)
     consumer URL        also sends one event to URL with pt_ingest; exit 1 if it fails
   Header-only builds define the implementation here; builds against the
   static library (CONSUMER_PREBUILT) must not. */
#ifndef CONSUMER_PREBUILT
#define PACKTRACK_IMPLEMENTATION
#endif
#include "packtrack.h"

#include <stdio.h>

#if defined(PACKTRACK_NO_SOCKETS)
/* This build has no built-in HTTP client: a hook that answers 200 stands in
   (tests/packaging.sh runs this build without a URL). */
static pt_result consumer_http(const pt_http_request *req, pt_http_response *resp, void *user) {
    (void)req; (void)user;
    resp->status = 200;
    return PT_OK;
}
#endif

int main(int argc, char **argv) {
    pt_config cfg = {0};
    pt_client *client = NULL;
    pt_error err;
    pt_result r;
    cfg.api_key = "consumer-key";
    cfg.base_url = argc > 1 ? argv[1] : "http://127.0.0.1:9";
    cfg.max_retries = PT_RETRIES_NONE;
#if defined(PACKTRACK_NO_SOCKETS)
    cfg.http = consumer_http;
#endif
    if ((r = pt_client_new(&cfg, &client, &err)) != PT_OK) {
        fprintf(stderr, "consumer: pt_client_new: %s\n", err.message);
        return 1;
    }
    if (argc > 1) {
        pt_event ev = {0};
        ev.source_system = "consumer";
        ev.workflow_id = "packaging";
        ev.actor_type = "test";
        ev.actor_id = "consumer";
        ev.severity = PT_SEVERITY_INFO;
        ev.status = PT_STATUS_SUCCESS;
        ev.message = "built through CMake or pkg-config";
        r = pt_ingest(client, &ev, &err);
        if (r != PT_OK) fprintf(stderr, "consumer: pt_ingest: %s\n", err.message);
    }
    pt_close(client, 2000, NULL);
    pt_client_free(client);
    if (r == PT_OK) printf("consumer: packtrack %s ok%s\n", pt_version(), argc > 1 ? ", 1 event sent" : "");
    return r == PT_OK ? 0 : 1;
}
