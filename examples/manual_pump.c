/* manual_pump.c - Shows how to run the client with no thread of its own
   (manual_mode = 1, as a game engine or an event loop would): the host calls
   pt_pump(client, budget_ms) once per frame and the library does at most that
   much delivery work on the host's thread. pt_track() still never blocks.

     cc -std=c99 -O2 -Wall -Wextra -pedantic -o manual_pump examples/manual_pump.c -lpthread

   A build with -DPACKTRACK_NO_THREADS works the same way, with no thread code
   compiled in at all. Note that a network wait inside pt_pump can take as long
   as the request timeout: keep timeout_ms short for a frame loop.
   Environment: PACKTRACK_BASE_URL, PACKTRACK_API_KEY (with local fallbacks). */
#define PACKTRACK_IMPLEMENTATION
#include "../packtrack.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define FRAMES 90                  /* 1.5 s at 60 frames per second */

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static void sleep_ms(int ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

int main(void) {
    pt_config cfg = {0};
    pt_client *client = NULL;
    pt_error err;
    pt_client_stats st;
    pt_close_report rep;
    pt_result r;
    int frame, tracked = 0;

    cfg.api_key = env_or("PACKTRACK_API_KEY", "pk_test_local");
    cfg.base_url = env_or("PACKTRACK_BASE_URL", "http://127.0.0.1:8080");
    cfg.manual_mode = 1;               /* no flush thread: we pump */
    cfg.flush_interval_ms = 250;       /* a batch at most every 250 ms */
    cfg.timeout_ms = 2000;             /* bounds the longest pt_pump */
    cfg.connect_timeout_ms = 500;
    r = pt_client_new(&cfg, &client, &err);
    if (r != PT_OK) {
        fprintf(stderr, "pt_client_new: %s: %s\n", pt_strerror(r), err.message);
        return 1;
    }

    for (frame = 0; frame < FRAMES; frame++) {
        int64_t t0 = pt_now_ms(), spent;
        /* ... game logic ... an event every 10th frame */
        if (frame % 10 == 0) {
            char msg[48];
            pt_event ev = {0};
            pt_field meta[1];
            meta[0] = pt_field_int("frame", frame);
            snprintf(msg, sizeof msg, "level checkpoint at frame %d", frame);
            ev.source_system = "game-client";  ev.workflow_id = "level-3";
            ev.actor_type = "player";  ev.actor_id = "p-1";
            ev.severity = PT_SEVERITY_INFO;  ev.status = PT_STATUS_RUNNING;
            ev.message = msg;
            ev.metadata = meta;  ev.metadata_count = 1;
            r = pt_track(client, &ev);
            if (r != PT_OK) fprintf(stderr, "frame %d: pt_track: %s\n", frame, pt_strerror(r));
            else tracked++;
        }
        r = pt_pump(client, 2);        /* at most ~2 ms of delivery work this frame */
        if (r != PT_OK) fprintf(stderr, "frame %d: pt_pump: %s\n", frame, pt_strerror(r));
        spent = pt_now_ms() - t0;
        if (spent < 16) sleep_ms(16 - (int)spent);
        if (frame % 30 == 29 && pt_stats(client, &st) == PT_OK)
            printf("frame %2d: tracked %llu, delivered %llu, pending %llu\n", frame,
                   (unsigned long long)st.tracked, (unsigned long long)st.delivered, (unsigned long long)st.pending);
    }

    r = pt_close(client, 2000, &rep);  /* in manual mode close drains on this thread */
    printf("pt_close: %s (tracked %d, delivered %llu, abandoned %llu)\n", pt_strerror(r), tracked,
           (unsigned long long)rep.delivered, (unsigned long long)rep.abandoned);
    pt_client_free(client);
    return r == PT_OK ? 0 : 1;
}
