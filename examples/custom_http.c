/* custom_http.c - Shows how to replace the built-in HTTP transport with your
   own function (cfg.http): to route requests through your engine's HTTP
   stack, a proxy, or, as here, a recorder that answers without any network.

     cc -std=c99 -O2 -Wall -Wextra -pedantic -o custom_http examples/custom_http.c -lpthread

   Who owns what:
   - Everything in *req (URL, headers, body) belongs to the library and is
     valid only until the hook returns: copy what you want to keep.
   - *resp belongs to the library; the hook fills status, retry_after,
     body_head (+ body_head_len) and, on failure, error (never a secret).
   - The hook's return value says whether a response arrived (PT_OK, whatever
     the status) or not (PT_ERR_NETWORK, _TIMEOUT, _CONNECT, ...): the library
     decides about retries from that and the status, exactly as with its own
     transport.
   - The hook runs on the flush thread (pt_track/pt_flush/pt_close) or on the
     caller's thread (pt_ingest, pt_health). A hook that waits must poll
     req->cancelled(req) at least every 10 ms so pt_close can keep its deadline.
   - cfg.http_user is yours; the library only passes it along.
   Because the hook supplies the transport, an https:// base URL is accepted
   even in a build without curl (the default URL is used here). */
#define PACKTRACK_IMPLEMENTATION
#include "../packtrack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct recorder {
    int    requests;
    int    events;          /* "idempotency_key" occurrences in the bodies */
    size_t bytes;
    char  *last_body;       /* our own copy: req->body dies when the hook returns */
    size_t last_len;
} recorder;

static const char *header(const pt_http_request *req, const char *name) {
    size_t i;
    for (i = 0; i < req->header_count; i++)
        if (strcmp(req->headers[i].name, name) == 0) return req->headers[i].value;
    return NULL;
}

static int count(const char *s, size_t n, const char *needle) {
    size_t k = strlen(needle), i;
    int c = 0;
    for (i = 0; i + k <= n; i++) if (memcmp(s + i, needle, k) == 0) c++;
    return c;
}

static void answer(pt_http_response *resp, int status, const char *body) {
    resp->status = status;
    resp->body_head_len = strlen(body);
    memcpy(resp->body_head, body, resp->body_head_len + 1);   /* fits: < 256 bytes */
}

/* Runs on the flush thread here, one request at a time. */
static pt_result record(const pt_http_request *req, pt_http_response *resp, void *user) {
    recorder *rec = (recorder *)user;
    const char *key = header(req, "X-PackTrack-Key"), *enc = header(req, "Content-Encoding");
    const char *idem = header(req, "Idempotency-Key");
    char *copy;
    rec->requests++;
    printf("hook: %s %s, %lu bytes%s, Idempotency-Key %s, API key %s\n", req->method, req->url,
           (unsigned long)req->body_len, enc ? " (gzip)" : "", idem ? idem : "-",
           key && *key ? "present" : "MISSING");               /* never print the key itself */
    if (strcmp(req->method, "POST") != 0) { answer(resp, 200, "{\"ok\":true}"); return PT_OK; }

    /* The first request gets a 503 with Retry-After: 0, to show that the
       pipeline retries the same bytes with the same Idempotency-Key. */
    if (rec->requests == 1) {
        strcpy(resp->retry_after, "0");
        answer(resp, 503, "{\"error\":\"warming up\"}");
        return PT_OK;
    }
    copy = (char *)malloc(req->body_len + 1);
    if (!copy) { strcpy(resp->error, "recorder: out of memory"); return PT_ERR_NETWORK; }
    memcpy(copy, req->body, req->body_len);
    copy[req->body_len] = 0;
    free(rec->last_body);
    rec->last_body = copy;
    rec->last_len = req->body_len;
    rec->bytes += req->body_len;
    rec->events += count(copy, req->body_len, "\"idempotency_key\"");
    answer(resp, 200, "{\"ok\":true}");
    return PT_OK;
}

int main(void) {
    pt_config cfg = {0};
    pt_client *client = NULL;
    pt_error err;
    pt_client_stats st;
    pt_close_report rep;
    recorder rec;
    pt_result r;
    int i;

    memset(&rec, 0, sizeof rec);
    cfg.api_key = "pk_test_local";
    cfg.http = record;                 /* replaces the built-in transport */
    cfg.http_user = &rec;
    cfg.backoff_base_ms = 10;          /* keep the example quick */
    r = pt_client_new(&cfg, &client, &err);
    if (r != PT_OK) {
        fprintf(stderr, "pt_client_new: %s: %s\n", pt_strerror(r), err.message);
        return 1;
    }
    for (i = 0; i < 5; i++) {
        pt_event ev = {0};
        ev.source_system = "custom-http-example";  ev.workflow_id = "wf-1";
        ev.actor_type = "agent";  ev.actor_id = "a-1";
        ev.severity = PT_SEVERITY_INFO;  ev.status = PT_STATUS_SUCCESS;
        ev.message = "recorded, not sent";
        if ((r = pt_track(client, &ev)) != PT_OK) fprintf(stderr, "pt_track: %s\n", pt_strerror(r));
    }
    r = pt_flush(client, 5000);
    printf("pt_flush: %s\n", pt_strerror(r));
    if (pt_stats(client, &st) == PT_OK)
        printf("stats: delivered %llu, requests %llu, retried %llu\n", (unsigned long long)st.delivered,
               (unsigned long long)st.batches_sent, (unsigned long long)st.retried_requests);

    r = pt_close(client, 2000, &rep);  /* joins the flush thread: rec is ours alone again */
    printf("pt_close: %s (delivered %llu of %llu)\n", pt_strerror(r),
           (unsigned long long)rep.delivered, (unsigned long long)rep.tracked);
    printf("recorder: %d requests, %d events, %lu bytes; last body starts %.80s...\n",
           rec.requests, rec.events, (unsigned long)rec.bytes, rec.last_body ? rec.last_body : "(none)");
    free(rec.last_body);
    pt_client_free(client);
    return r == PT_OK && rep.delivered == 5 ? 0 : 1;
}
