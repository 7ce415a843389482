/* threads.c - Shows how to track events from several threads at once: four
   producers call pt_track() on one shared client (every public function is
   thread-safe), then the main thread flushes and prints the client's stats.

     cc -std=c99 -O2 -Wall -Wextra -pedantic -o threads examples/threads.c -lpthread

   Usage: ./threads [events-per-thread]   (default 1000)
   Environment: PACKTRACK_BASE_URL, PACKTRACK_API_KEY (with local fallbacks). */
#define PACKTRACK_IMPLEMENTATION
#include "../packtrack.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define PRODUCERS 4

typedef struct producer {
    pt_client *client;
    int id, n;
    int refused;          /* pt_track results other than PT_OK */
    pt_result last;
} producer;

static void *produce(void *arg) {
    producer *p = (producer *)arg;
    char actor[32], msg[64];
    int i;
    snprintf(actor, sizeof actor, "worker-%d", p->id);
    for (i = 0; i < p->n; i++) {
        pt_event ev = {0};
        pt_field meta[2];
        pt_result r;
        meta[0] = pt_field_int("thread", p->id);
        meta[1] = pt_field_int("seq", i);
        snprintf(msg, sizeof msg, "item %d processed", i);
        ev.source_system = "threads-example";  ev.workflow_id = "wf-threads";
        ev.actor_type = "worker";  ev.actor_id = actor;
        ev.severity = PT_SEVERITY_DEBUG;  ev.status = PT_STATUS_OK;
        ev.message = msg;                      /* borrowed: pt_track copies it */
        ev.metadata = meta;  ev.metadata_count = 2;
        r = pt_track(p->client, &ev);
        if (r != PT_OK) { p->refused++; p->last = r; }
    }
    return NULL;
}

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

int main(int argc, char **argv) {
    pt_config cfg = {0};
    pt_client *client = NULL;
    pt_error err;
    pt_client_stats st;
    pt_close_report rep;
    producer prod[PRODUCERS];
    pthread_t th[PRODUCERS];
    pt_result r;
    int i, n = argc > 1 ? atoi(argv[1]) : 1000, refused = 0;
    if (n <= 0) n = 1000;

    cfg.api_key = env_or("PACKTRACK_API_KEY", "pk_test_local");
    cfg.base_url = env_or("PACKTRACK_BASE_URL", "http://127.0.0.1:8080");
    cfg.batch_size = 500;
    r = pt_client_new(&cfg, &client, &err);
    if (r != PT_OK) {
        fprintf(stderr, "pt_client_new: %s: %s\n", pt_strerror(r), err.message);
        return 1;
    }
    for (i = 0; i < PRODUCERS; i++) {
        prod[i].client = client; prod[i].id = i; prod[i].n = n; prod[i].refused = 0; prod[i].last = PT_OK;
        if (pthread_create(&th[i], NULL, produce, &prod[i]) != 0) { fprintf(stderr, "pthread_create failed\n"); return 1; }
    }
    for (i = 0; i < PRODUCERS; i++) {
        pthread_join(th[i], NULL);
        if (prod[i].refused) printf("producer %d: %d events refused (%s)\n", i, prod[i].refused, pt_strerror(prod[i].last));
        refused += prod[i].refused;
    }

    r = pt_flush(client, 10000);               /* everything tracked so far, delivered or failed */
    printf("pt_flush: %s\n", pt_strerror(r));
    if ((r = pt_stats(client, &st)) != PT_OK) fprintf(stderr, "pt_stats: %s\n", pt_strerror(r));
    printf("tracked %llu = delivered %llu + failed %llu + dropped %llu + pending %llu\n",
           (unsigned long long)st.tracked, (unsigned long long)st.delivered, (unsigned long long)st.failed,
           (unsigned long long)st.dropped, (unsigned long long)st.pending);
    printf("requests %llu (retried %llu, failed %llu), %llu bytes of JSON, %llu bytes sent, last error: %s\n",
           (unsigned long long)st.batches_sent, (unsigned long long)st.retried_requests,
           (unsigned long long)st.requests_failed, (unsigned long long)st.bytes_uncompressed,
           (unsigned long long)st.bytes_sent, st.last_error == PT_OK ? "none" : st.last_error_message);

    r = pt_close(client, 5000, &rep);
    printf("pt_close: %s (delivered %llu of %llu)\n", pt_strerror(r),
           (unsigned long long)rep.delivered, (unsigned long long)rep.tracked);
    pt_client_free(client);
    return r == PT_OK && refused == 0 && rep.delivered == rep.tracked ? 0 : 1;
}
