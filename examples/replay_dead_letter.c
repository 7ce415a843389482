/* replay_dead_letter.c - Shows how to send the events of a dead-letter file
   again, once whatever made the server refuse them is fixed.

     cc -std=c99 -O2 -Wall -Wextra -pedantic -o replay_dead_letter examples/replay_dead_letter.c -lpthread

   A client with cfg.spool_dir and cfg.enable_dead_letter = 1 appends every
   event the server refused for good to <spool_dir>/dead-letter.ndjson, one
   event JSON per line. This program replays that file:

     PACKTRACK_BASE_URL=http://127.0.0.1:PORT PACKTRACK_API_KEY=pk_... \
         ./replay_dead_letter /var/lib/myapp/packtrack-spool

   It opens a durable client on the same spool directory, which also makes
   sure no other client uses it meanwhile (PT_ERR_SPOOL_LOCKED otherwise),
   renames the file to dead-letter.ndjson.replaying and hands every line to
   pt_track_json. Each event is on disk in the spool as soon as pt_track_json
   returns, so once all lines are in, the renamed file goes: what the server
   refuses again lands in a fresh dead-letter.ndjson, and what could not be
   sent before the deadline stays in the spool for the next client. If the
   program is stopped half-way, run it again: it resumes with the
   .replaying file (events already tracked may then be sent twice; each
   carries its idempotency_key). Lines that are not a valid event object go
   to dead-letter.ndjson.invalid. Exit codes: 0 everything delivered, 1
   usage or setup error, 2 some lines were invalid, 3 events left in the
   spool or refused again. */
#define PACKTRACK_IMPLEMENTATION
#include "../packtrack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads one line of any length into *buf (grown as needed); 0 at end of file. */
static int read_line(FILE *f, char **buf, size_t *cap, size_t *len) {
    int ch;
    *len = 0;
    while ((ch = fgetc(f)) != EOF) {
        if (*len + 2 > *cap) {
            size_t nc = *cap ? *cap * 2 : 4096;
            char *nb = (char *)realloc(*buf, nc);
            if (!nb) return -1;
            *buf = nb; *cap = nc;
        }
        if (ch == '\n') break;
        (*buf)[(*len)++] = (char)ch;
    }
    if (ch == EOF && *len == 0) return 0;
    (*buf)[*len] = 0;
    return 1;
}

int main(int argc, char **argv) {
    pt_config cfg = {0};
    pt_client *client = NULL;
    pt_error err;
    pt_close_report rep;
    pt_result r;
    char file[1024], work[1100], invalid[1100];
    char *line = NULL;
    size_t cap = 0, len = 0;
    unsigned long queued = 0, bad = 0, lineno = 0;
    FILE *f, *inv = NULL;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: %s SPOOL_DIR   (with PACKTRACK_API_KEY and PACKTRACK_BASE_URL set)\n", argv[0]);
        return 1;
    }
    r = pt_config_from_env(&cfg, &err);
    if (r != PT_OK) { fprintf(stderr, "environment: %s: %s\n", pt_strerror(r), err.message); return 1; }
    cfg.spool_dir = argv[1];
    cfg.enable_dead_letter = 1;
    r = pt_client_new(&cfg, &client, &err);
    if (r != PT_OK) {
        fprintf(stderr, "pt_client_new: %s: %s\n", pt_strerror(r), err.message);
        if (r == PT_ERR_SPOOL_LOCKED) fprintf(stderr, "stop the program that uses %s first\n", argv[1]);
        return 1;
    }
    snprintf(file, sizeof file, "%s/dead-letter.ndjson", argv[1]);
    snprintf(work, sizeof work, "%s.replaying", file);
    snprintf(invalid, sizeof invalid, "%s.invalid", file);
    f = fopen(work, "rb");                       /* an interrupted earlier replay first */
    if (f) printf("resuming %s\n", work);
    else if (rename(file, work) == 0) f = fopen(work, "rb");
    if (!f) {
        printf("nothing to replay: no %s\n", file);
        pt_close(client, 30000, &rep);
        pt_client_free(client);
        return 0;
    }

    while ((rc = read_line(f, &line, &cap, &len)) > 0) {
        lineno++;
        if (len == 0) continue;
        for (;;) {
            r = pt_track_json(client, line, len);
            if (r != PT_ERR_QUEUE_FULL) break;
            pt_flush(client, 1000);              /* the queue is full: let it drain */
        }
        if (r == PT_OK) { queued++; continue; }
        bad++;
        fprintf(stderr, "line %lu: %s (moved to %s)\n", lineno, pt_strerror(r), invalid);
        if (!inv) inv = fopen(invalid, "ab");
        if (!inv || fwrite(line, 1, len, inv) != len || fputc('\n', inv) == EOF) rc = -1;
    }
    fclose(f);
    free(line);
    if (inv && fclose(inv) != 0) rc = -1;
    if (rc < 0) {   /* keep the file: nothing of it may get lost */
        fprintf(stderr, "could not read %s or write %s; %s is kept\n", work, invalid, work);
        pt_close(client, 30000, &rep);
        pt_client_free(client);
        return 1;
    }

    r = pt_close(client, 30000, &rep);
    printf("pt_close: %s\n", pt_strerror(r));
    printf("%lu event(s) queued from %s: delivered %llu, refused again %llu, left in the spool %llu\n",
           queued, work, (unsigned long long)rep.delivered,
           (unsigned long long)(rep.failed_rejected + rep.failed_exhausted + rep.failed_oversize),
           (unsigned long long)rep.spooled);
    pt_client_free(client);
    if (remove(work) != 0) fprintf(stderr, "could not remove %s\n", work);
    if (rep.spooled || rep.failed_rejected || rep.failed_exhausted || rep.failed_oversize) return 3;
    return bad ? 2 : 0;
}
