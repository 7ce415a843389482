/* async_engine.c - packtrack.h inside a game loop whose engine has its own
   asynchronous HTTP module (Unreal's FHttpModule, UnityWebRequest, Godot's
   HTTPRequest, emscripten_fetch): cfg.http_async hands each request to the
   engine, the engine answers on a later frame, pt_http_complete() gives the
   answer back, and pt_pump(client, 1) once per frame does the rest (batching,
   retries with backoff and Retry-After, the circuit breaker, bisection of a
   rejected batch). No thread and no socket of the library's own is used.

   The "engine" here is simulated: a request queue that answers on the next
   frame (the first answer is a 503 with Retry-After: 1, to show a retry).
   Build: cc -std=c99 -O2 examples/async_engine.c -o async_engine -lpthread -lz -lm */
#define PACKTRACK_IMPLEMENTATION
#include "../packtrack.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the simulated engine HTTP module ----------------------------------- */
typedef struct engine_request {
    pt_http_op op;           /* the library's handle: a value, safe to keep */
    char      *url;
    char      *body;         /* the engine's own copy */
    size_t     body_len;
    int        due_frame;    /* answered on this frame */
    int        cancelled;
} engine_request;

#define ENGINE_MAX 16
typedef struct engine {
    engine_request q[ENGINE_MAX];
    int n, frame, answered;
} engine;

static char *dup_bytes(const void *p, size_t n) {
    char *d = (char *)malloc(n + 1);
    if (d) { if (n) memcpy(d, p, n); d[n] = 0; }
    return d;
}

/* cfg.http_async: called inside pt_pump. Copy what the engine needs (the
   request is the library's until it is completed or cancelled), queue, return. */
static pt_result engine_send(const pt_http_request *req, pt_http_op op, void *user) {
    engine *e = (engine *)user;
    engine_request *r;
    if (e->n == ENGINE_MAX) return PT_ERR_NETWORK;   /* engine busy: the library retries later */
    r = &e->q[e->n];
    memset(r, 0, sizeof *r);
    r->op = op;
    r->url = dup_bytes(req->url, strlen(req->url));
    r->body = dup_bytes(req->body, req->body_len);
    r->body_len = req->body_len;
    r->due_frame = e->frame + 1;
    if (!r->url || !r->body) { free(r->url); free(r->body); return PT_ERR_NO_MEMORY; }
    e->n++;
    printf("  frame %3d: engine queued %s %s (%lu bytes, %lu headers)\n", e->frame, req->method, req->url,
           (unsigned long)req->body_len, (unsigned long)req->header_count);
    return PT_OK;
}

/* cfg.http_cancel: the library gave up on op (timeout_ms, or pt_close's
   deadline). Abort the engine's request; a completion would be ignored. */
static void engine_cancel(pt_http_op op, void *user) {
    engine *e = (engine *)user;
    int i;
    for (i = 0; i < e->n; i++) if (e->q[i].op.id == op.id) e->q[i].cancelled = 1;
    printf("  frame %3d: engine told to cancel a request\n", e->frame);
}

/* The engine's frame: requests that are due get their answer. */
static void engine_tick(engine *e) {
    int i, k = 0;
    for (i = 0; i < e->n; i++) {
        engine_request *r = &e->q[i];
        if (!r->cancelled && r->due_frame > e->frame) { e->q[k++] = *r; continue; }
        if (!r->cancelled) {
            pt_http_response resp;
            memset(&resp, 0, sizeof resp);
            if (e->answered++ == 0) {                   /* the server is busy once */
                resp.status = 503;
                strcpy(resp.retry_after, "1");
            } else resp.status = 200;
            resp.body_head_len = (size_t)sprintf(resp.body_head, "{\"status\":%d}", resp.status);
            printf("  frame %3d: engine answers HTTP %d\n", e->frame, resp.status);
            pt_http_complete(r->op, PT_OK, &resp);
        }
        free(r->url);
        free(r->body);
    }
    e->n = k;
}

int main(void) {
    engine eng;
    pt_config cfg = {0};
    pt_client *client = NULL;
    pt_error err;
    pt_close_report rep;
    pt_client_stats st;
    int frame;

    memset(&eng, 0, sizeof eng);
    cfg.api_key = "pk_live_example";
    cfg.base_url = "https://pack.shimcounty.com";   /* TLS is the engine's business */
    cfg.manual_mode = 1;                            /* no thread: pt_pump per frame */
    cfg.http_async = engine_send;
    cfg.http_cancel = engine_cancel;
    cfg.http_user = &eng;
    cfg.flush_interval_ms = 100;
    if (pt_client_new(&cfg, &client, &err) != PT_OK) { fprintf(stderr, "%s\n", err.message); return 1; }

    for (frame = 0; frame < 150; frame++) {        /* ~2.5 s of a 60 Hz game */
        eng.frame = frame;
        if (frame % 10 == 0) {
            pt_event ev = {0};
            ev.source_system = "game"; ev.workflow_id = "level-1";
            ev.actor_type = "agent"; ev.actor_id = "npc-7";
            ev.severity = PT_SEVERITY_INFO; ev.status = PT_STATUS_RUNNING;
            ev.message = "npc planned a path";
            pt_track(client, &ev);                  /* never blocks */
        }
        pt_pump(client, 1);                         /* at most ~1 ms of library work */
        engine_tick(&eng);                          /* the engine's HTTP module */
        /* ... render the frame ... */
        {
            int64_t end = pt_now_ms() + 16;
            while (pt_now_ms() < end) {}
        }
    }
    pt_stats(client, &st);
    printf("after 150 frames: %lu tracked, %lu delivered, %lu retried\n",
           (unsigned long)st.tracked, (unsigned long)st.delivered, (unsigned long)st.retried_requests);
    /* Shutdown: keep the frame loop running until everything is delivered
       (pt_close cannot take completions while the engine is not ticking),
       bounded; then close: whatever is still in flight is cancelled. */
    for (frame = 150; frame < 300; frame++) {
        eng.frame = frame;
        pt_pump(client, 1);
        engine_tick(&eng);
        if (pt_stats(client, &st) == PT_OK && st.pending == 0) break;
        {
            int64_t end = pt_now_ms() + 16;
            while (pt_now_ms() < end) {}
        }
    }
    pt_close(client, 0, &rep);
    printf("close: %lu delivered, %lu abandoned\n", (unsigned long)rep.delivered, (unsigned long)rep.abandoned);
    pt_client_free(client);
    engine_tick(&eng);                              /* frees anything cancelled */
    return 0;
}
