/* Durable mode: the disk spool (SPEC 4 "Durable mode", dead-letter file).
   Every test works in its own directory under /tmp (Windows: %TEMP%) and
   removes it. On Windows (tests/win/run_suite.c) the POSIX names used here
   come from mingw and tests/win/compat.h; the tests that need fork, kill -9
   or setrlimit skip. */
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#ifndef _WIN32
#include <poll.h>
#include <sys/resource.h>
#endif

/* ---- helpers ---- */
static void ts_rmdir(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    if (!d) return;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}
static void ts_mkdtemp(char *out, size_t cap) {
#ifdef _WIN32
    pts_w_tmp_template(out, cap, "pt_spool_XXXXXX");
#else
    snprintf(out, cap, "/tmp/pt_spool_XXXXXX");
#endif
    if (!mkdtemp(out)) out[0] = 0;
}
/* Files in dir whose name starts with prefix (NULL: all); total size in *bytes. */
static int ts_count_files(const char *dir, const char *prefix, long *bytes) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    char p[512];
    struct stat st;
    if (bytes) *bytes = 0;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (prefix && strncmp(e->d_name, prefix, strlen(prefix))) continue;
        n++;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (bytes && stat(p, &st) == 0) *bytes += (long)st.st_size;
    }
    closedir(d);
    return n;
}
/* Path of the n-th segment (sorted by name), or "" */
static void ts_segment(const char *dir, int nth, char *out, size_t cap) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char names[64][32];
    int n = 0, i, j;
    out[0] = 0;
    if (!d) return;
    while ((e = readdir(d)) != NULL && n < 64)
        if (!strncmp(e->d_name, "seg-", 4) && strlen(e->d_name) < 32) strcpy(names[n++], e->d_name);
    closedir(d);
    for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (strcmp(names[j], names[i]) < 0) { char t[32]; strcpy(t, names[i]); strcpy(names[i], names[j]); strcpy(names[j], t); }
    if (nth < n) snprintf(out, cap, "%s/%s", dir, names[nth]);
}
static long ts_file_size(const char *path) { struct stat st; return stat(path, &st) == 0 ? (long)st.st_size : -1; }
static unsigned char *ts_read(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    unsigned char *b;
    long sz;
    *n = 0;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END); sz = ftell(f); fseek(f, 0, SEEK_SET);
    b = (unsigned char *)malloc((size_t)sz + 1);
    if (b && fread(b, 1, (size_t)sz, f) == (size_t)sz) { *n = (size_t)sz; b[sz] = 0; }
    fclose(f);
    return b;
}
static unsigned char *ts_memfind(unsigned char *hay, size_t n, const char *needle) {
    size_t k = strlen(needle), i;
    for (i = 0; i + k <= n; i++) if (!memcmp(hay + i, needle, k)) return hay + i;
    return NULL;
}
static void ts_write(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(b, 1, n, f);
    fclose(f);
}

typedef struct ts_log { pthread_mutex_t mu; int lines, torn, skipped; char last[300]; } ts_log;
static void ts_logger(pt_log_level lvl, const char *msg, void *user) {
    ts_log *l = (ts_log *)user;
    (void)lvl;
    pthread_mutex_lock(&l->mu);
    l->lines++;
    if (strstr(msg, "torn")) l->torn++;
    if (strstr(msg, "skipped")) l->skipped++;
    snprintf(l->last, sizeof l->last, "%s", msg);
    pthread_mutex_unlock(&l->mu);
}
static void ts_log_init(ts_log *l) { memset(l, 0, sizeof *l); pthread_mutex_init(&l->mu, NULL); }

static pt_config ts_cfg_url(const char *url, const char *dir) {
    pt_config cfg = tu_config(url);
    cfg.spool_dir = dir;
    cfg.flush_interval_ms = 10;
    cfg.breaker_cooldown_ms = 20;     /* tests switch the server off and on */
    return cfg;
}
static pt_config ts_cfg(pts_server *s, const char *dir) { return ts_cfg_url(pts_url(s), dir); }
/* The tests that need a second process run this binary again (--spool-child
   NAME URL DIR ROUND, which calls ts_child_main below) and return its exit
   status (-1: did not run). A fresh image, not a fork of this multi-threaded
   runner: a fork taken while a thread (the test server's, the flush
   thread) holds heap only its stack points to makes valgrind report that
   heap lost in the child; Windows has no fork at all. */
#ifdef _WIN32
static int ts_run_child(const char *name, const char *url, const char *dir, int round) {
    char r[16];
    const char *args[5];
    snprintf(r, sizeof r, "%d", round);
    args[0] = "--spool-child"; args[1] = name; args[2] = url; args[3] = dir; args[4] = r;
    return pts_w_run_self(args, 5, 30000);
}
#else
/* This binary's path, resolved in the parent: under valgrind readlink names
   the test binary, while exec of /proc/self/exe would start the tool. */
static const char *ts_self_exe(void) {
    static char self[4096];
    if (!self[0]) {
        ssize_t sn = readlink("/proc/self/exe", self, sizeof self - 1);
        if (sn > 0) self[sn] = 0; else strcpy(self, "/proc/self/exe");
    }
    return self;
}
static int ts_run_child(const char *name, const char *url, const char *dir, int round) {
    const char *self = ts_self_exe();
    char r[16];
    int st = 0;
    pid_t pid;
    snprintf(r, sizeof r, "%d", round);
    pid = fork();
    if (pid == 0) {
        execl(self, "run", "--spool-child", name, url, dir, r, (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}
#endif
/* Tracks events with keys "<prefix>-<i>" for i in [from, to); returns how many were OK. */
static int ts_track(pt_client *c, const char *prefix, int from, int to, pt_result *last) {
    int i, ok = 0;
    char key[64];
    for (i = from; i < to; i++) {
        pt_event ev = tu_event("spooled event with a message of moderate length for the record");
        pt_result r;
        snprintf(key, sizeof key, "%s-%d", prefix, i);
        ev.idempotency_key = key;
        r = pt_track(c, &ev);
        if (r == PT_OK) ok++;
        if (last) *last = r;
    }
    return ok;
}
static int ts_all_seen(pts_server *s, const char *prefix, int from, int to) {
    int i, miss = 0;
    char key[64];
    for (i = from; i < to; i++) {
        snprintf(key, sizeof key, "%s-%d", prefix, i);
        if (pts_key_count(s, key) < 1) miss++;
    }
    return miss;
}
static int ts_identity(pt_client *c) {
    pt_client_stats st;
    if (pt_stats(c, &st) != PT_OK) return 0;
    return st.tracked == st.delivered + st.failed + st.dropped + st.pending;
}

/* ---- record format ---- */
PT_TEST(spool_record_format_and_resync) {
    /* Builds records by hand, then corrupts them. */
    unsigned char buf[4096];
    size_t n = 0, off, plen;
    uint64_t skipped = 0, seq;
    const unsigned char *pay;
    int type, flag, i, got;
    pt__spool sp;
    pt_config cfg;
    memset(&sp, 0, sizeof sp);
    memset(&cfg, 0, sizeof cfg);
    sp.cfg = &cfg;
    pt__buf_init(&sp.rec, NULL, 0);
    for (i = 0; i < 5; i++) {
        char js[64];
        int k = snprintf(js, sizeof js, "{\"n\":%d}", i);
        unsigned char *h;
        /* pt__sp_put builds the record in sp.rec, then fails to write it to the bad fd */
        PT_CHECK(pt__sp_put(&sp, PT__BAD_FILE, PT__SP_EVENT, 0, (uint64_t)(100 + i), js, (size_t)k, 0, 0) != PT_OK);
        h = (unsigned char *)sp.rec.p;
        PT_CHECK_EQ(pt__sp_r32(h), PT__SP_MAGIC);
        PT_CHECK_EQ(pt__sp_r32(h + 4), k);
        memcpy(buf + n, h, PT__SP_HDR + (size_t)k);
        n += PT__SP_HDR + (size_t)k;
    }
    pt__buf_free(&sp.rec);
    off = 0; got = 0;
    while (pt__sp_next(buf, n, &off, &skipped, &type, &flag, &seq, &pay, &plen)) { PT_CHECK_EQ(seq, 100 + got); PT_CHECK_EQ(type, PT__SP_EVENT); got++; }
    PT_CHECK_EQ(got, 5); PT_CHECK_EQ(skipped, 0);
    /* a flipped seq byte (header, covered by the CRC) loses that record only */
    buf[PT__SP_HDR + 7 + 12] ^= 1;       /* record 1 starts at 24+7 ("{\"n\":0}" is 7 bytes) */
    off = 0; got = 0; skipped = 0;
    while (pt__sp_next(buf, n, &off, &skipped, &type, &flag, &seq, &pay, &plen)) { PT_CHECK(seq != 101); got++; }
    PT_CHECK_EQ(got, 4); PT_CHECK_EQ(skipped, PT__SP_HDR + 7);
    buf[PT__SP_HDR + 7 + 12] ^= 1;
    /* a torn tail: the last record cut short is skipped, the rest read */
    off = 0; got = 0; skipped = 0;
    while (pt__sp_next(buf, n - 3, &off, &skipped, &type, &flag, &seq, &pay, &plen)) got++;
    PT_CHECK_EQ(got, 4); PT_CHECK_EQ(skipped, PT__SP_HDR + 7 - 3);
    /* garbage everywhere: terminates, finds nothing */
    for (i = 0; i < (int)sizeof buf; i++) buf[i] = (unsigned char)(i % 3 == 0 ? 0x50 : i * 7);
    off = 0; got = 0; skipped = 0;
    while (pt__sp_next(buf, sizeof buf, &off, &skipped, &type, &flag, &seq, &pay, &plen)) got++;
    PT_CHECK_EQ(got, 0); PT_CHECK_EQ(skipped, sizeof buf);
}

PT_TEST(spool_config_errors) {
    pts_server *s = pts_start();
    char dir[64], file[96];
    pt_config cfg;
    pt_client *c = NULL;
    pt_error e;
    PT_REQUIRE(s);
    ts_mkdtemp(dir, sizeof dir);
    cfg = tu_config(pts_url(s));
    cfg.enable_dead_letter = 1;
    PT_CHECK_EQ(pt_client_new(&cfg, &c, &e), PT_ERR_CONFIG);
    PT_CHECK(strstr(e.message, "spool_dir") != NULL);
    cfg = ts_cfg(s, "/nonexistent-dir-for-packtrack/x/y");
    PT_CHECK_EQ(pt_client_new(&cfg, &c, &e), PT_ERR_SPOOL);
    PT_CHECK(strstr(e.message, "spool_dir") != NULL);
    snprintf(file, sizeof file, "%s/plainfile", dir);
    ts_write(file, "x", 1);
    cfg = ts_cfg(s, file);
    PT_CHECK_EQ(pt_client_new(&cfg, &c, &e), PT_ERR_SPOOL);       /* a plain file is not a directory */
    PT_CHECK_MSG(strstr(e.message, "cannot be created or read") != NULL, "%s", e.message);
    PT_CHECK(c == NULL);
    /* a spool_dir that does not exist yet (parent exists) is created */
    snprintf(file, sizeof file, "%s/sub", dir);
    cfg = ts_cfg(s, file);
    PT_CHECK_EQ(pt_client_new(&cfg, &c, &e), PT_OK);
    PT_CHECK_EQ(pt_close(c, 1000, NULL), PT_OK);
    pt_client_free(c);
    ts_rmdir(file);
    ts_rmdir(dir);
    pts_stop(s);
}

PT_TEST(spool_delivers_every_policy_and_cleans_up) {
    pts_server *s = pts_start();
    char dir[64];
    int p;
    PT_REQUIRE(s);
    ts_mkdtemp(dir, sizeof dir);
    for (p = PT_FSYNC_NONE; p <= PT_FSYNC_EVERY; p++) {
        pt_config cfg = ts_cfg(s, dir);
        pt_client *c = NULL;
        pt_close_report rep;
        pt_client_stats st;
        char prefix[16];
        cfg.fsync_policy = (pt_fsync_policy)p;
        cfg.batch_size = 50;
        snprintf(prefix, sizeof prefix, "pol%d", p);
        pts_reset(s);
        PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
        PT_CHECK_EQ(ts_track(c, prefix, 0, 300, NULL), 300);
        PT_CHECK(pt_stats(c, &st) == PT_OK && st.spool_bytes > 0);
        PT_CHECK(ts_identity(c));
        PT_CHECK_EQ(pt_flush(c, 5000), PT_OK);
        PT_CHECK(ts_identity(c));
        PT_CHECK_EQ(pt_close(c, 5000, &rep), PT_OK);
        pt_client_free(c);
        PT_CHECK_EQ(rep.delivered, 300);
        PT_CHECK_EQ(rep.spooled, 0);
        PT_CHECK_EQ(ts_all_seen(s, prefix, 0, 300), 0);
        PT_CHECK_EQ(pts_duplicate_events(s), 0);
        /* a clean close leaves only the lock file */
        PT_CHECK_EQ(ts_count_files(dir, "seg-", NULL), 0);
        PT_CHECK_EQ(ts_count_files(dir, NULL, NULL), 1);
    }
    ts_rmdir(dir);
    pts_stop(s);
}

/* pt_close with a deadline: what was not sent stays in the spool; the next
   client sends it first, before its own events. */
PT_TEST(spool_close_deadline_then_replay_oldest_first) {
    pts_server *s = pts_start();
    char dir[64];
    pt_config cfg;
    pt_client *c = NULL;
    pt_close_report rep;
    pt_client_stats st;
    pt_health_report h;
    long pos_old_max = -1, pos_new_min = -1;
    int i;
    PT_REQUIRE(s);
    ts_mkdtemp(dir, sizeof dir);
    cfg = ts_cfg(s, dir);
    PT_CHECK_EQ(pts_set_refuse(s, 1), 0);
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    PT_CHECK_EQ(ts_track(c, "old", 0, 300, NULL), 300);
    PT_CHECK(pt_health(c, &h, NULL) == PT_OK && h.spool_bytes > 300 * 100);
    PT_CHECK_EQ(pt_close(c, 200, &rep), PT_ERR_TIMEOUT);
    pt_client_free(c);
    PT_CHECK_EQ(rep.tracked, 300);
    PT_CHECK_EQ(rep.delivered, 0);
    PT_CHECK_EQ(rep.spooled, 300);
    PT_CHECK_EQ(rep.abandoned, 0);
    PT_CHECK(ts_count_files(dir, "seg-", NULL) >= 1);

    pts_reset(s);          /* accepts again */
    c = NULL;
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    PT_CHECK(pt_stats(c, &st) == PT_OK);
    PT_CHECK_EQ(st.tracked, 300);                     /* replayed events count as tracked */
    PT_CHECK(ts_identity(c));
    PT_CHECK_EQ(ts_track(c, "new", 0, 50, NULL), 50);
    PT_CHECK_EQ(pt_close(c, 5000, &rep), PT_OK);
    pt_client_free(c);
    PT_CHECK_EQ(rep.delivered, 350);
    PT_CHECK_EQ(rep.spooled, 0);
    PT_CHECK_EQ(ts_all_seen(s, "old", 0, 300), 0);
    PT_CHECK_EQ(ts_all_seen(s, "new", 0, 50), 0);
    PT_CHECK_EQ(pts_duplicate_events(s), 0);
    /* order: every old event reached the server before any new one */
    {
        long pos = 0;
        for (i = 0; i < pts_request_count(s); i++) {
            pts_request r;
            const char *p;
            if (pts_get_request(s, i, &r) != 0) break;
            for (p = (const char *)r.body; p && (p = strstr(p, "\"idempotency_key\":\"")) != NULL; p++) {
                p += 19;
                if (!strncmp(p, "old-", 4)) pos_old_max = pos;
                else if (!strncmp(p, "new-", 4) && pos_new_min < 0) pos_new_min = pos;
                pos++;
            }
            pts_request_free(&r);
        }
    }
    PT_CHECK(pos_old_max >= 0 && pos_new_min >= 0 && pos_old_max < pos_new_min);
    PT_CHECK_EQ(ts_count_files(dir, "seg-", NULL), 0);
    ts_rmdir(dir);
    pts_stop(s);
}

/* A batch cut before the stop is sent again after a restart with the same
   Idempotency-Key and the same body. */
PT_TEST(spool_replayed_batch_keeps_its_key) {
    pts_server *s = pts_start();
    char dir[64], key1[64] = "", key2[64] = "";
    pt_config cfg;
    pt_client *c = NULL;
    pt_close_report rep;
    pts_action a;
    pts_request r1, r2;
    PT_REQUIRE(s);
    ts_mkdtemp(dir, sizeof dir);
    cfg = ts_cfg(s, dir);
    cfg.batch_size = 40;
    memset(&a, 0, sizeof a);
    a.status = 503;
    pts_set_default(s, &a);
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    PT_CHECK_EQ(ts_track(c, "k", 0, 40, NULL), 40);
    PT_CHECK(pts_wait_requests(s, 2, 3000));
    PT_CHECK_EQ(pt_close(c, 50, &rep), PT_ERR_TIMEOUT);
    pt_client_free(c);
    PT_CHECK_EQ(rep.spooled, 40);
    PT_REQUIRE(pts_get_request(s, 0, &r1) == 0);
    pts_header(&r1, "Idempotency-Key", key1, sizeof key1);
    PT_CHECK(strlen(key1) == 36);

    pts_reset(s);
    c = NULL;
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    PT_CHECK_EQ(pt_close(c, 5000, &rep), PT_OK);
    pt_client_free(c);
    PT_CHECK_EQ(rep.delivered, 40);
    PT_REQUIRE(pts_get_request(s, 0, &r2) == 0);
    pts_header(&r2, "Idempotency-Key", key2, sizeof key2);
    PT_CHECK_STR(key1, key2);
    PT_CHECK(r1.body_len == r2.body_len && memcmp(r1.body, r2.body, r1.body_len) == 0);
    pts_request_free(&r1);
    pts_request_free(&r2);
    ts_rmdir(dir);
    pts_stop(s);
}

/* Leaves n events in the spool of dir (server refusing). */
static void ts_leave_events(pts_server *s, const char *dir, const char *prefix, int n) {
    pt_config cfg = ts_cfg(s, dir);
    pt_client *c = NULL;
    pt_close_report rep;
    pts_set_refuse(s, 1);
    if (pt_client_new(&cfg, &c, NULL) != PT_OK) { PT_CHECK(0); return; }
    PT_CHECK_EQ(ts_track(c, prefix, 0, n, NULL), n);
    pt_close(c, 0, &rep);
    pt_client_free(c);
    PT_CHECK_EQ(rep.spooled, n);
    pts_set_refuse(s, 0);
}
/* Opens dir, checks how many events are pending, delivers them. */
static void ts_recover(pts_server *s, const char *dir, ts_log *lg, long want_pending, pt_close_report *rep) {
    pt_config cfg = ts_cfg(s, dir);
    pt_client *c = NULL;
    pt_client_stats st;
    pt_error e;
    pt_result r;
    if (lg) { cfg.logger = ts_logger; cfg.logger_user = lg; }
    r = pt_client_new(&cfg, &c, &e);
    PT_CHECK_MSG(r == PT_OK, "pt_client_new: %s", e.message);
    if (r != PT_OK) return;
    PT_CHECK(pt_stats(c, &st) == PT_OK);
    /* replayed = tracked so far (no pt_track yet); the flush thread, started
       for the replay, may already have delivered some of them */
    if (want_pending >= 0) PT_CHECK_EQ(st.tracked, want_pending);
    if (want_pending >= 0) PT_CHECK_EQ(st.pending + st.delivered + st.failed, want_pending);
    PT_CHECK_EQ(pt_close(c, 5000, rep), PT_OK);
    pt_client_free(c);
}

PT_TEST(spool_torn_tail_is_cut_with_one_log_line) {
    pts_server *s = pts_start();
    char dir[64], seg[128];
    ts_log lg;
    pt_close_report rep;
    unsigned char *b;
    size_t n;
    long before;
    PT_REQUIRE(s);
    ts_mkdtemp(dir, sizeof dir);
    ts_leave_events(s, dir, "t", 30);
    ts_segment(dir, 0, seg, sizeof seg);
    PT_REQUIRE(seg[0]);
    /* a record cut short in the middle of its payload, as a crash mid-write leaves it */
    b = ts_read(seg, &n);
    PT_REQUIRE(b && n > 100);
    before = (long)n;
    ts_write(seg, b, n - 10);
    free(b);
    ts_log_init(&lg);
    pts_reset(s);
    ts_recover(s, dir, &lg, 29, &rep);
    PT_CHECK_EQ(rep.delivered, 29);
    PT_CHECK_EQ(lg.torn, 1);
    PT_CHECK_EQ(ts_all_seen(s, "t", 0, 29), 0);
    PT_CHECK_EQ(pts_key_count(s, "t-29"), 0);
    (void)before;
    /* garbage appended after the last record: all events kept, tail cut */
    ts_leave_events(s, dir, "u", 20);
    ts_segment(dir, 0, seg, sizeof seg);
    PT_REQUIRE(seg[0]);
    b = ts_read(seg, &n);
    PT_REQUIRE(b);
    before = (long)n;
    {
        FILE *f = fopen(seg, "ab");
        fwrite("PTP1\x10\x00\x00\x00garbage-after-the-last-record", 1, 36, f);
        fclose(f);
    }
    free(b);
    ts_log_init(&lg);
    pts_reset(s);
    {   /* open, check the file was cut back, then deliver */
        pt_config cfg = ts_cfg(s, dir);
        pt_client *c = NULL;
        cfg.logger = ts_logger; cfg.logger_user = &lg;
        PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
        PT_CHECK_EQ(ts_file_size(seg), before);
        PT_CHECK_EQ(pt_close(c, 5000, &rep), PT_OK);
        pt_client_free(c);
    }
    PT_CHECK_EQ(rep.delivered, 20);
    PT_CHECK_EQ(lg.torn, 1);
    PT_CHECK_EQ(ts_all_seen(s, "u", 0, 20), 0);
    ts_rmdir(dir);
    pts_stop(s);
}

PT_TEST(spool_corrupt_middle_record_is_skipped_rest_salvaged) {
    pts_server *s = pts_start();
    char dir[64], seg[128];
    ts_log lg;
    pt_close_report rep;
    unsigned char *b, *p;
    size_t n;
    PT_REQUIRE(s);
    ts_mkdtemp(dir, sizeof dir);
    ts_leave_events(s, dir, "m", 40);
    ts_segment(dir, 0, seg, sizeof seg);
    PT_REQUIRE(seg[0]);
    b = ts_read(seg, &n);
    PT_REQUIRE(b);
    p = ts_memfind(b, n, "\"m-17\"");   /* inside event 17's payload */
    PT_REQUIRE(p);
    p[2] = 'X';
    ts_write(seg, b, n);
    free(b);
    ts_log_init(&lg);
    pts_reset(s);
    ts_recover(s, dir, &lg, 39, &rep);
    PT_CHECK_EQ(rep.delivered, 39);
    PT_CHECK_EQ(lg.skipped, 1);
    PT_CHECK_EQ(lg.torn, 0);
    PT_CHECK_EQ(ts_all_seen(s, "m", 0, 17), 0);
    PT_CHECK_EQ(ts_all_seen(s, "m", 18, 40), 0);
    PT_CHECK_EQ(pts_key_count(s, "m-17"), 0);
    PT_CHECK_EQ(pts_key_count(s, "m-X7"), 0);
    ts_rmdir(dir);
    pts_stop(s);
}

/* Random garbage, truncations and bit flips in every file: never a crash,
   never a hang, never invalid JSON sent. */
PT_TEST(spool_hostile_files_never_crash) {
    pts_server *s = pts_start();
    char dir[64], seg[128], ack[128];
    unsigned char *orig, *ackb, *b;
    size_t n, an;
    int round;
    uint64_t rng = 0x12345678;
    PT_REQUIRE(s);
    ts_mkdtemp(dir, sizeof dir);
    ts_leave_events(s, dir, "h", 60);
    ts_segment(dir, 0, seg, sizeof seg);
    snprintf(ack, sizeof ack, "%s/ack.pts", dir);
    orig = ts_read(seg, &n);
    ackb = ts_read(ack, &an);
    PT_REQUIRE(orig && n > 0);
    b = (unsigned char *)malloc(n + 4096);
    PT_REQUIRE(b);
    for (round = 0; round < 40; round++) {
        pt_config cfg = ts_cfg(s, dir);
        pt_client *c = NULL;
        pt_close_report rep;
        size_t m = n, i, flips;
        memcpy(b, orig, n);
        switch (round % 4) {
        case 0: m = (size_t)(pt__rand_next(&rng) % (n + 1)); break;                     /* truncated */
        case 1: flips = 1 + pt__rand_next(&rng) % 20;                                  /* bit flips */
                for (i = 0; i < flips; i++) b[pt__rand_next(&rng) % n] ^= (unsigned char)(1u << (pt__rand_next(&rng) % 8));
                break;
        case 2: for (i = 0; i < n; i++) b[i] = (unsigned char)pt__rand_next(&rng); break; /* noise */
        default: m = n + 4096;                                                           /* fake headers */
                 for (i = n; i < m; i++) b[i] = (unsigned char)(i % 24 == 0 ? 'P' : i % 24 == 1 ? 'T' : i % 24 == 2 ? 'P' : i % 24 == 3 ? '1' : pt__rand_next(&rng));
                 break;
        }
        ts_write(seg, b, m);
        if (ackb && round % 3 == 0) { unsigned char junk[64]; for (i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)pt__rand_next(&rng); ts_write(ack, junk, sizeof junk); }
        else if (ackb) ts_write(ack, ackb, an);
        pts_reset(s);
        cfg.flush_interval_ms = 1;
        if (pt_client_new(&cfg, &c, NULL) == PT_OK) {
            PT_CHECK_EQ(pt_close(c, 3000, &rep), PT_OK);
            pt_client_free(c);
            PT_CHECK(rep.delivered <= 60);
        }
        /* whatever was salvaged went out as valid JSON */
        for (i = 0; i < (size_t)pts_request_count(s); i++) {
            pts_request r;
            const char *why = NULL;
            size_t at = 0;
            if (pts_get_request(s, (int)i, &r) != 0) break;
            PT_CHECK(pt__json_validate((const char *)r.body, r.body_len, 0, &why, &at));
            pts_request_free(&r);
        }
    }
    free(b); free(orig); free(ackb);
    {   /* 4 MiB of fake record headers: the resync scan stays linear */
        size_t big = (size_t)4 << 20, i;
        unsigned char *junk = (unsigned char *)malloc(big);
        pt_config cfg = ts_cfg(s, dir);
        pt_client *c = NULL;
        int64_t t0;
        PT_REQUIRE(junk);
        for (i = 0; i < big; i++) junk[i] = (unsigned char)(i % 24 == 0 ? 'P' : i % 24 == 1 ? 'T' : i % 24 == 2 ? 'P' : i % 24 == 3 ? '1' : i % 24 < 8 ? 0 : pt__rand_next(&rng));
        ts_write(seg, junk, big);
        free(junk);
        t0 = pt__mono_ms();
        PT_CHECK_EQ(pt_client_new(&cfg, &c, NULL), PT_OK);
        PT_CHECK(pt__mono_ms() - t0 < 3000);
        if (c) { pt_close(c, 1000, NULL); pt_client_free(c); }
    }
    ts_rmdir(dir);
    pts_stop(s);
}

PT_TEST(spool_second_client_on_one_dir_is_refused) {
    pts_server *s = pts_start();
    char dir[64], alias[96];
    pt_config cfg;
    pt_client *a = NULL, *b = NULL;
    pt_error e;
    PT_REQUIRE(s);
    ts_mkdtemp(dir, sizeof dir);
    cfg = ts_cfg(s, dir);
    PT_REQUIRE(pt_client_new(&cfg, &a, NULL) == PT_OK);
    PT_CHECK_EQ(pt_client_new(&cfg, &b, &e), PT_ERR_SPOOL_LOCKED);
    PT_CHECK(b == NULL);
    snprintf(alias, sizeof alias, "%s/./", dir);       /* the same directory, spelled differently */
    cfg.spool_dir = alias;
    PT_CHECK_EQ(pt_client_new(&cfg, &b, &e), PT_ERR_SPOOL_LOCKED);
    PT_CHECK_EQ(ts_track(a, "lk", 0, 10, NULL), 10);
    /* another process: the fcntl lock */
    /* (fcntl / LockFileEx: this binary again as the other process, ts_child_main) */
    PT_CHECK_EQ(ts_run_child("lock", pts_url(s), dir, 0), 0);
    PT_CHECK_EQ(pt_close(a, 5000, NULL), PT_OK);
    pt_client_free(a);
    /* free again after close */
    PT_CHECK_EQ(pt_client_new(&cfg, &b, &e), PT_OK);
    PT_CHECK_EQ(pt_close(b, 1000, NULL), PT_OK);
    pt_client_free(b);
    PT_CHECK_EQ(ts_all_seen(s, "lk", 0, 10), 0);
    ts_rmdir(dir);
    pts_stop(s);
}

/* A forked child gets a memory-only pipeline and leaves the parent's spool
   untouched. */
PT_TEST(spool_fork_child_does_not_touch_parent_spool) {
#if defined(_WIN32)
    PT_SKIP("fork() does not exist on Windows (the library's fork handling is POSIX only)");
#else
    pts_server *s = pts_start();
    char dir[64];
    pt_config cfg;
    pt_client *c = NULL;
    pt_close_report rep;
    long bytes_before, bytes_after;
    int files_before, files_after, st = 0;
    pid_t pid;
    PT_REQUIRE(s);
    ts_mkdtemp(dir, sizeof dir);
    cfg = ts_cfg(s, dir);
    pts_set_refuse(s, 1);
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    PT_CHECK_EQ(ts_track(c, "fp", 0, 20, NULL), 20);
    PT_CHECK_EQ(pt_flush(c, 100), PT_ERR_TIMEOUT);     /* the batch is cut and being retried */
    files_before = ts_count_files(dir, NULL, &bytes_before);
    pid = fork();
    if (pid == 0) {
        int ok = ts_track(c, "fc", 0, 5, NULL) == 5;
        pt_close(c, 0, NULL);
        _exit(ok ? 0 : 1);
    }
    PT_REQUIRE(pid > 0);
    waitpid(pid, &st, 0);
    PT_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    files_after = ts_count_files(dir, NULL, &bytes_after);
    PT_CHECK_EQ(files_after, files_before);
    PT_CHECK_EQ(bytes_after, bytes_before);
    PT_CHECK_EQ(pt_close(c, 0, &rep), PT_ERR_TIMEOUT);
    pt_client_free(c);
    PT_CHECK_EQ(rep.spooled, 20);
    pts_set_refuse(s, 0);
    pts_reset(s);
    ts_recover(s, dir, NULL, 20, &rep);
    PT_CHECK_EQ(rep.delivered, 20);
    PT_CHECK_EQ(ts_all_seen(s, "fp", 0, 20), 0);
    PT_CHECK_EQ(ts_all_seen(s, "fc", 0, 5), 5);
    ts_rmdir(dir);
    pts_stop(s);
#endif
}

PT_TEST(spool_max_bytes_rejects_newest_counted) {
    pts_server *s = pts_start();
    char dir[64];
    pt_config cfg;
    pt_client *c = NULL;
    pt_client_stats st;
    pt_close_report rep;
    int i, ok = 0, full = 0;
    char key[32];
    PT_REQUIRE(s);
    ts_mkdtemp(dir, sizeof dir);
    cfg = ts_cfg(s, dir);
    cfg.spool_max_bytes = 32 * 1024;
    pts_set_refuse(s, 1);
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    for (i = 0; i < 300; i++) {
        pt_event ev = tu_event("an event of a few hundred bytes once it is serialised with its fields");
        pt_result r;
        snprintf(key, sizeof key, "mx-%d", i);
        ev.idempotency_key = key;
        r = pt_track(c, &ev);
        if (r == PT_OK) ok++;
        else if (r == PT_ERR_DISK_FULL) full++;
    }
    PT_CHECK(ok > 20 && full > 0);
    PT_CHECK_EQ(ok + full, 300);
    PT_CHECK(pt_stats(c, &st) == PT_OK);
    PT_CHECK(st.spool_bytes <= cfg.spool_max_bytes);
    PT_CHECK_EQ(st.dropped, full);
    PT_CHECK_EQ(st.last_error, PT_ERR_DISK_FULL);
    PT_CHECK(ts_identity(c));
    pts_set_refuse(s, 0);
    PT_CHECK_EQ(pt_close(c, 5000, &rep), PT_OK);
    pt_client_free(c);
    PT_CHECK_EQ(rep.delivered, ok);
    PT_CHECK_EQ(rep.dropped_queue_full, full);
    PT_CHECK_EQ(ts_all_seen(s, "mx", 0, ok), 0);         /* the oldest ones were kept */
    ts_rmdir(dir);
    pts_stop(s);
}

PT_TEST(spool_max_bytes_drop_oldest_counted) {
    pts_server *s = pts_start();
    char dir[64];
    pt_config cfg;
    pt_client *c = NULL;
    pt_client_stats st;
    pt_close_report rep;
    int ok, i;
    pt_result last = PT_OK;
    PT_REQUIRE(s);
    ts_mkdtemp(dir, sizeof dir);
    cfg = ts_cfg(s, dir);
    cfg.spool_max_bytes = 32 * 1024;
    cfg.queue_policy = PT_QUEUE_DROP_OLDEST;
    cfg.batch_size = 10;
    pts_set_refuse(s, 1);
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    ok = ts_track(c, "dx", 0, 1000, &last);
    PT_CHECK_EQ(ok, 1000);                  /* room is always made by evicting the oldest */
    PT_CHECK_EQ(last, PT_OK);
    PT_CHECK(pt_stats(c, &st) == PT_OK);
    PT_CHECK(st.spool_bytes <= cfg.spool_max_bytes);
    PT_CHECK(st.dropped > 500);
    PT_CHECK(ts_identity(c));
    pts_set_refuse(s, 0);
    PT_CHECK_EQ(pt_close(c, 5000, &rep), PT_OK);
    pt_client_free(c);
    PT_CHECK_EQ(rep.delivered + rep.dropped_queue_full, 1000);
    PT_CHECK_EQ(pts_key_count(s, "dx-999"), 1);        /* the newest are kept */
    for (i = 990; i < 1000; i++) { char k[16]; snprintf(k, sizeof k, "dx-%d", i); PT_CHECK_EQ(pts_key_count(s, k), 1); }
    PT_CHECK_EQ(pts_duplicate_events(s), 0);
    ts_rmdir(dir);
    pts_stop(s);
}

/* ENOSPC stand-in: a file size limit in a child (SIGXFSZ ignored, so write
   fails with EFBIG). pt_track reports PT_ERR_DISK_FULL, nothing crashes,
   what was queued is delivered, and tracking works again once the spool
   has drained. */
PT_TEST(spool_disk_full_is_reported_and_delivery_goes_on) {
#if defined(_WIN32)
    PT_SKIP("the disk-full stand-in is setrlimit(RLIMIT_FSIZE) in a fork()ed child: neither exists on Windows");
#else
    pts_server *s = pts_start();
    char dir[64], url[64];
    int fds[2], st = 0;
    long res[4] = { -1, -1, -1, -1 };
    pid_t pid;
    PT_REQUIRE(s);
    ts_mkdtemp(dir, sizeof dir);
    snprintf(url, sizeof url, "%s", pts_url(s));
    PT_REQUIRE(pipe(fds) == 0);
    pts_set_stall(s, 1);
    pid = fork();
    if (pid == 0) {
        struct rlimit rl;
        pt_config cfg = tu_config(url);
        pt_client *c = NULL;
        pt_close_report rep;
        long out[4] = { 0, 0, 0, 0 };
        int i;
        char key[32], ch;
        close(fds[0]);
        signal(SIGXFSZ, SIG_IGN);
        rl.rlim_cur = rl.rlim_max = 24 * 1024;
        setrlimit(RLIMIT_FSIZE, &rl);
        cfg.spool_dir = dir;
        cfg.flush_interval_ms = 10;
        cfg.batch_size = 20;
        if (pt_client_new(&cfg, &c, NULL) != PT_OK) _exit(2);
        for (i = 0; i < 2000; i++) {
            pt_event ev = tu_event("an event of a few hundred bytes once it is serialised with its fields");
            pt_result r;
            snprintf(key, sizeof key, "df-%d", i);
            ev.idempotency_key = key;
            r = pt_track(c, &ev);
            if (r == PT_OK) out[0]++;
            else if (r == PT_ERR_DISK_FULL) { out[1]++; if (out[1] == 20) break; }
            else _exit(3);
        }
        ch = 'F';
        if (write(fds[1], &ch, 1) != 1) _exit(4);    /* the parent un-stalls the server */
        if (pt_flush(c, 5000) != PT_OK) _exit(5);
        /* drained: the spool starts a fresh segment and accepts again */
        out[2] = ts_track(c, "df2", 0, 10, NULL);
        pt_close(c, 5000, &rep);
        out[3] = (long)rep.delivered;
        if (write(fds[1], out, sizeof out) != (ssize_t)sizeof out) _exit(6);
        _exit(0);
    }
    PT_REQUIRE(pid > 0);
    close(fds[1]);
    {
        char ch = 0;
        struct pollfd p;
        p.fd = fds[0]; p.events = POLLIN;
        PT_CHECK(poll(&p, 1, 10000) == 1 && read(fds[0], &ch, 1) == 1 && ch == 'F');
        pts_set_stall(s, 0);
        PT_CHECK(poll(&p, 1, 15000) == 1 && read(fds[0], res, sizeof res) == (ssize_t)sizeof res);
    }
    waitpid(pid, &st, 0);
    close(fds[0]);
    PT_CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
    PT_CHECK(res[0] > 10);               /* accepted until the limit */
    PT_CHECK_EQ(res[1], 20);             /* then PT_ERR_DISK_FULL, no crash */
    PT_CHECK_EQ(res[2], 10);             /* accepted again after the drain */
    PT_CHECK_EQ(res[3], res[0] + 10);    /* everything accepted was delivered */
    PT_CHECK_EQ(ts_all_seen(s, "df", 0, (int)res[0]), 0);
    ts_rmdir(dir);
    pts_stop(s);
#endif
}

PT_TEST(spool_dead_letter_file_and_replay) {
    pts_server *s = pts_start();
    char dir[64], path[128];
    pt_config cfg;
    pt_client *c = NULL;
    pt_close_report rep;
    FILE *f;
    char line[4096], *docs[8], work[160];
    int i, lines = 0, poison_ok = 0, py;
    PT_REQUIRE(s);
    ts_mkdtemp(dir, sizeof dir);
    cfg = ts_cfg(s, dir);
    cfg.enable_dead_letter = 1;
    cfg.batch_size = 30;
    pts_set_reject_marker(s, "POISON", 400);
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    for (i = 0; i < 30; i++) {
        char key[32];
        pt_event ev = tu_event(i % 10 == 3 ? "POISON pill" : "fine");
        snprintf(key, sizeof key, "dl-%d", i);
        ev.idempotency_key = key;
        PT_CHECK_EQ(pt_track(c, &ev), PT_OK);
    }
    PT_CHECK_EQ(pt_close(c, 5000, &rep), PT_OK);
    pt_client_free(c);
    PT_CHECK_EQ(rep.delivered, 27);
    PT_CHECK_EQ(rep.failed_rejected, 3);
    snprintf(path, sizeof path, "%s/dead-letter.ndjson", dir);
    f = fopen(path, "r");
    PT_REQUIRE(f);
    while (fgets(line, sizeof line, f)) {
        lines++;
        PT_CHECK(strstr(line, "POISON") != NULL);
        PT_CHECK(strlen(line) > 2 && line[strlen(line) - 1] == '\n');
        line[strlen(line) - 1] = 0;
        if (lines <= 8) docs[lines - 1] = strdup(line);
    }
    fclose(f);
    PT_REQUIRE(lines == 3);
    py = tu_python_accepts_all((const char *const *)docs, 3);   /* no python3: the test ends as skipped */
    PT_CHECK(py);
    for (i = 0; i < 3; i++) free(docs[i]);
    /* nothing is replayed from the spool: they were settled */
    pts_reset(s);
    ts_recover(s, dir, NULL, 0, &rep);
    PT_CHECK_EQ(rep.delivered, 0);
    /* replay the dead letters as examples/replay_dead_letter.c does: a durable
       client on the same directory, the file renamed, every line tracked */
    pts_set_reject_marker(s, NULL, 0);
    c = NULL;
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    snprintf(work, sizeof work, "%s.replaying", path);
    PT_REQUIRE(rename(path, work) == 0);
    f = fopen(work, "r");
    PT_REQUIRE(f);
    while (fgets(line, sizeof line, f)) if (pt_track_json(c, line, strlen(line)) == PT_OK) poison_ok++;
    fclose(f);
    PT_CHECK_EQ(poison_ok, 3);
    PT_CHECK_EQ(pt_close(c, 5000, &rep), PT_OK);
    pt_client_free(c);
    PT_CHECK_EQ(rep.delivered, 3);
    PT_CHECK_EQ(ts_file_size(path), -1);           /* nothing refused again */
    unlink(work);
    PT_CHECK_EQ(pts_key_count(s, "dl-3"), 1);
    PT_CHECK_EQ(pts_key_count(s, "dl-13"), 1);
    PT_CHECK_EQ(pts_key_count(s, "dl-23"), 1);
    ts_rmdir(dir);
    pts_stop(s);
}

/* Segments are deleted as they drain and the ack log is compacted, so a
   long run with a healthy server keeps the directory small. */
PT_TEST(spool_stays_small_in_a_long_run) {
    pts_server *s = pts_start();
    char dir[64], ack[128];
    pt_config cfg;
    pt_client *c = NULL;
    pt_client_stats st;
    pt_close_report rep;
    int i, maxsegs = 0;
    long maxack = 0;
    PT_REQUIRE(s);
    ts_mkdtemp(dir, sizeof dir);
    snprintf(ack, sizeof ack, "%s/ack.pts", dir);
    cfg = ts_cfg(s, dir);
    cfg.spool_max_bytes = 256 * 1024;            /* 32 KiB segments, ack log rewritten past 32 KiB */
    cfg.batch_size = 5;
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    for (i = 0; i < 40; i++) {
        int n;
        char prefix[16];
        snprintf(prefix, sizeof prefix, "lr%d", i);
        PT_CHECK_EQ(ts_track(c, prefix, 0, 100, NULL), 100);
        PT_CHECK_EQ(pt_flush(c, 5000), PT_OK);
        n = ts_count_files(dir, "seg-", NULL);
        if (n > maxsegs) maxsegs = n;
        if (ts_file_size(ack) > maxack) maxack = ts_file_size(ack);
    }
    PT_CHECK(pt_stats(c, &st) == PT_OK);
    PT_CHECK(st.spool_bytes < 128 * 1024);
    PT_CHECK_EQ(pt_close(c, 5000, &rep), PT_OK);
    pt_client_free(c);
    PT_CHECK_EQ(rep.delivered, 4000);
    PT_CHECK(maxsegs <= 2);
    PT_CHECK(maxack < 64 * 1024);
    PT_CHECK_EQ(pts_duplicate_events(s), 0);
    ts_rmdir(dir);
    pts_stop(s);
}

/* A batch half settled by bisection when the client stops: the settled half
   is never sent again, the rest goes out under a new key. */
PT_TEST(spool_bisected_batch_resumes_without_duplicates) {
    pts_server *s = pts_start();
    char dir[64], key1[64] = "", key2[64] = "";
    pt_config cfg;
    pt_client *c = NULL;
    pt_close_report rep;
    pts_action a[2], d;
    pts_request r;
    int i;
    PT_REQUIRE(s);
    ts_mkdtemp(dir, sizeof dir);
    cfg = ts_cfg(s, dir);
    cfg.batch_size = 20;
    memset(a, 0, sizeof a);
    a[0].status = 400;            /* the whole batch: split it */
    a[1].status = 200;            /* the first half goes through */
    pts_script(s, a, 2);
    memset(&d, 0, sizeof d);
    d.status = 503;               /* the second half keeps failing */
    pts_set_default(s, &d);
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    PT_CHECK_EQ(ts_track(c, "bs", 0, 20, NULL), 20);
    PT_CHECK(pts_wait_requests(s, 4, 3000));
    PT_CHECK_EQ(pt_close(c, 50, &rep), PT_ERR_TIMEOUT);
    pt_client_free(c);
    PT_CHECK_EQ(rep.delivered, 10);
    PT_CHECK_EQ(rep.spooled, 10);
    if (pts_get_request(s, 0, &r) == 0) { pts_header(&r, "Idempotency-Key", key1, sizeof key1); pts_request_free(&r); }
    d.status = 200;
    pts_set_default(s, &d);
    i = pts_request_count(s);
    ts_recover(s, dir, NULL, 10, &rep);
    PT_CHECK_EQ(rep.delivered, 10);
    if (pts_get_request(s, i, &r) == 0) { pts_header(&r, "Idempotency-Key", key2, sizeof key2); pts_request_free(&r); }
    PT_CHECK(key1[0] && key2[0] && strcmp(key1, key2) != 0);
    PT_CHECK_EQ(ts_all_seen(s, "bs", 0, 20), 0);
    PT_CHECK_EQ(pts_duplicate_events(s), 0);
    ts_rmdir(dir);
    pts_stop(s);
}

/* The backlog is loaded whole even when queue_capacity was lowered since;
   new events are refused until it drains below the bound. */
PT_TEST(spool_backlog_larger_than_the_queue) {
    pts_server *s = pts_start();
    char dir[64];
    pt_config cfg;
    pt_client *c = NULL;
    pt_client_stats st;
    pt_close_report rep;
    PT_REQUIRE(s);
    ts_mkdtemp(dir, sizeof dir);
    ts_leave_events(s, dir, "bl", 300);
    cfg = ts_cfg(s, dir);
    cfg.queue_capacity = 100;
    pts_set_refuse(s, 1);
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    PT_CHECK(pt_stats(c, &st) == PT_OK);
    PT_CHECK_EQ(st.pending, 300);
    PT_CHECK_EQ(ts_track(c, "bl-new", 0, 5, NULL), 0);       /* PT_ERR_QUEUE_FULL */
    PT_CHECK(ts_identity(c));
    pts_set_refuse(s, 0);
    PT_CHECK_EQ(pt_flush(c, 5000), PT_OK);
    PT_CHECK_EQ(ts_track(c, "bl-after", 0, 5, NULL), 5);
    PT_CHECK_EQ(pt_close(c, 5000, &rep), PT_OK);
    pt_client_free(c);
    PT_CHECK_EQ(rep.delivered, 305);
    PT_CHECK_EQ(rep.dropped_queue_full, 5);
    PT_CHECK_EQ(ts_all_seen(s, "bl", 0, 300), 0);
    ts_rmdir(dir);
    pts_stop(s);
}

/* One of the three processes of the next test (a fork()ed child; on Windows
   this binary again): returns its exit status, having never called pt_close. */
static int ts_settled_child(const char *url, const char *dir, int round) {
    pt_config cfg = tu_config(url);
    pt_client *c = NULL;
    cfg.spool_dir = dir;
    cfg.flush_interval_ms = 5;
    if (pt_client_new(&cfg, &c, NULL) != PT_OK) return 2;
    if (round == 0 && (ts_track(c, "sq1", 0, 50, NULL) != 50 || pt_flush(c, 5000) != PT_OK)) return 3;
    if (round == 1 && ts_count_files(dir, "seg-", NULL) != 0) return 4;
    if (round == 2 && ts_track(c, "sq2", 0, 5, NULL) != 5) return 5;
    return 0;
}
/* Sequence numbers are never reused below an old snapshot of the ack log:
   a client that finds only settled history must still number new events
   past it, or a later replay would take them for settled ones. */
PT_TEST(spool_new_events_after_settled_history_are_replayed) {
    pts_server *s = pts_start();
    char dir[64], url[64];
    pt_close_report rep;
    int round, st;
    PT_REQUIRE(s);
    ts_mkdtemp(dir, sizeof dir);
    snprintf(url, sizeof url, "%s", pts_url(s));
    /* three processes that exit without pt_close: the first delivers 50
       events, the second only opens (its ack log snapshot then says "all
       below 50 settled", no segment is left), the third tracks 5 */
    for (round = 0; round < 3; round++) {
#ifdef _WIN32
        if (round == 2) pts_set_refuse(s, 1);
        st = ts_run_child("settled", url, dir, round);   /* no fork: ts_child_main */
        PT_CHECK_MSG(st == 0, "round %d: child exit status %d", round, st);
#else
        pid_t pid;
        if (round == 2) pts_set_refuse(s, 1);
        pid = fork();
        if (pid == 0) _exit(ts_settled_child(url, dir, round));
        PT_REQUIRE(pid > 0);
        st = -1;
        waitpid(pid, &st, 0);
        PT_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
#endif
    }
    pts_set_refuse(s, 0);
    ts_recover(s, dir, NULL, 5, &rep);
    PT_CHECK_EQ(rep.delivered, 5);
    PT_CHECK_EQ(ts_all_seen(s, "sq1", 0, 50), 0);
    PT_CHECK_EQ(ts_all_seen(s, "sq2", 0, 5), 0);
    PT_CHECK_EQ(pts_duplicate_events(s), 0);
    ts_rmdir(dir);
    pts_stop(s);
}

PT_TEST(spool_manual_mode_replays_through_pump) {
    pts_server *s = pts_start();
    char dir[64];
    pt_config cfg;
    pt_client *c = NULL;
    pt_close_report rep;
    int i;
    PT_REQUIRE(s);
    ts_mkdtemp(dir, sizeof dir);
    ts_leave_events(s, dir, "mm", 40);
    cfg = ts_cfg(s, dir);
    cfg.manual_mode = 1;
    PT_REQUIRE(pt_client_new(&cfg, &c, NULL) == PT_OK);
    for (i = 0; i < 200 && pts_events_received(s) < 40; i++) pt_pump(c, 10);
    PT_CHECK_EQ(pts_events_received(s), 40);
    PT_CHECK_EQ(pt_close(c, 1000, &rep), PT_OK);
    pt_client_free(c);
    PT_CHECK_EQ(rep.delivered, 40);
    PT_CHECK_EQ(ts_count_files(dir, "seg-", NULL), 0);
    ts_rmdir(dir);
    pts_stop(s);
}

/* The kill -9 child (tests/run --spool-crash-child URL DIR BATCH POLICY ROUND FD):
   tracks events with known keys into a durable client and writes each key
   to FD once pt_track returned OK, until the parent kills it. */
#ifndef _WIN32
static int ts_crash_child(int argc, char **argv) {
    pt_config cfg;
    pt_client *c = NULL;
    int k, round, fd;
    if (argc < 8) return 2;
    cfg = tu_config(argv[2]);
    cfg.spool_dir = argv[3];
    cfg.breaker_cooldown_ms = 20;
    cfg.batch_size = atoi(argv[4]);
    cfg.flush_interval_ms = 2;
    cfg.fsync_policy = (pt_fsync_policy)atoi(argv[5]);
    round = atoi(argv[6]);
    fd = atoi(argv[7]);
    if (pt_client_new(&cfg, &c, NULL) != PT_OK) return 2;
    for (k = 0; ; k++) {
        char key[32];
        int n;
        pt_event ev = tu_event("crash test event");
        snprintf(key, sizeof key, "r%d-%d", round, k);
        ev.idempotency_key = key;
        if (pt_track(c, &ev) != PT_OK) { pt__sleep_ms(1); continue; }
        n = (int)strlen(key);
        key[n] = '\n';
        if (write(fd, key, (size_t)n + 1) != n + 1) return 3;
        if (k % 64 == 63) pt__sleep_ms(1);
    }
}
#endif

/* kill -9 at random points: every event whose pt_track returned OK in the
   killed child reaches the server once the next client on the directory has
   run; duplicates only for the batch whose 2xx the child had not recorded. */
#define TS_CRASH_ROUNDS 24
PT_TEST(spool_survives_kill9_at_random_points) {
#if defined(_WIN32)
    PT_SKIP("fork()+exec of a child killed with SIGKILL at random points: POSIX only");
#else
    pts_server *s = pts_start();
    char dir[64], url[64];
    const char *self = NULL;
    uint64_t rng;
    int round, total_dups = 0, replay_rounds = 0;
    uint64_t total_replayed = 0;
    PT_REQUIRE(s);
    ts_mkdtemp(dir, sizeof dir);
    snprintf(url, sizeof url, "%s", pts_url(s));
    pt__os_random(&rng, sizeof rng);
    for (round = 0; round < TS_CRASH_ROUNDS; round++) {
        int fds[2], st = 0, nkeys = 0, cap = 4096, missing = 0, dups = 0, bad_dups = 0, i, by_count = round % 2;
        int kill_after = 1 + (int)(pt__rand_next(&rng) % 3000), delay_ms = 1 + (int)(pt__rand_next(&rng) % 60);
        int batch = 1 + (int)(pt__rand_next(&rng) % 120);
        pt_fsync_policy pol = (pt_fsync_policy)(PT_FSYNC_NONE + round % 3);
        char **keys = (char **)malloc((size_t)cap * sizeof *keys), rbuf[8192], part[64];
        size_t plen = 0;
        pid_t pid;
        int64_t t_kill;
        long before;
        char *last_body = NULL;
        pt_close_report rep;
        PT_REQUIRE(keys);
        pts_reset(s);
        PT_REQUIRE(pipe(fds) == 0);
        self = ts_self_exe();
        pid = fork();
        if (pid == 0) {
            /* A fresh image (exec) rather than a fork of this multi-threaded
               runner: a forked child inherits whatever lock another thread
               held at the fork, and clang 14's ASan allocator is not made
               fork-safe, so the child could hang inside malloc. */
            char a_batch[16], a_pol[16], a_round[16], a_fd[16];
            close(fds[0]);
            snprintf(a_batch, sizeof a_batch, "%d", batch);
            snprintf(a_pol, sizeof a_pol, "%d", (int)pol);
            snprintf(a_round, sizeof a_round, "%d", round);
            snprintf(a_fd, sizeof a_fd, "%d", fds[1]);
            execl(self, "run", "--spool-crash-child", url, dir, a_batch, a_pol, a_round, a_fd, (char *)NULL);
            _exit(127);
        }
        PT_REQUIRE(pid > 0);
        close(fds[1]);
        /* read the child's OK'd keys; kill after a random count, or a random
           delay from its first OK'd event */
        t_kill = PT__INF_MS;
        for (;;) {
            struct pollfd p;
            long r;
            int wait;
            if (nkeys && t_kill == PT__INF_MS) t_kill = pt__mono_ms() + delay_ms;
            wait = by_count || !nkeys ? 2000 : (int)PT__MAX(t_kill - pt__mono_ms(), (int64_t)0);
            p.fd = fds[0]; p.events = POLLIN;
            if (pid && ((by_count && nkeys >= kill_after) || (!by_count && pt__mono_ms() >= t_kill))) { kill(pid, SIGKILL); waitpid(pid, &st, 0); pid = 0; }
            if (poll(&p, 1, pid ? wait : 1000) <= 0) { if (!pid) break; continue; }
            r = (long)read(fds[0], rbuf, sizeof rbuf);
            if (r <= 0) break;
            for (i = 0; i < r; i++) {
                if (rbuf[i] != '\n') { if (plen < sizeof part - 1) part[plen++] = rbuf[i]; continue; }
                part[plen] = 0; plen = 0;
                if (nkeys == cap) { cap *= 2; keys = (char **)realloc(keys, (size_t)cap * sizeof *keys); }
                keys[nkeys++] = strdup(part);
            }
        }
        if (pid) { kill(pid, SIGKILL); waitpid(pid, &st, 0); }
        close(fds[0]);
        PT_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        /* the last request the server answered 2xx for the dead child: the only
           batch whose events may legitimately arrive twice (wait for the server
           to finish with what the child had sent) */
        {
            int prev = -1, now = pts_request_count(s);
            while (now != prev) { prev = now; pt__sleep_ms(30); now = pts_request_count(s); }
        }
        for (i = PT__MIN(pts_request_count(s), 4096) - 1; i >= 0; i--) {
            pts_request r;
            if (pts_get_request(s, i, &r) != 0) continue;
            if (r.status_sent >= 200 && r.status_sent < 300) { last_body = (char *)r.body; r.body = NULL; pts_request_free(&r); break; }
            pts_request_free(&r);
        }
        /* recovery: a new client on the same directory runs to completion;
           what it delivers is exactly what the server newly counts */
        before = pts_events_received(s);
        {
            pt_config cfg = tu_config(url);
            pt_client *c = NULL;
            pt_error e;
            cfg.spool_dir = dir;
            cfg.flush_interval_ms = 2;
            memset(&rep, 0, sizeof rep);
            PT_CHECK_MSG(pt_client_new(&cfg, &c, &e) == PT_OK, "round %d: %s", round, e.message);
            if (c) { PT_CHECK_EQ(pt_close(c, 10000, &rep), PT_OK); pt_client_free(c); }
        }
        for (i = 0; i < nkeys; i++) {
            int n = pts_key_count(s, keys[i]);
            if (n < 1) missing++;
            if (n > 1) {
                char q[64];
                dups += n - 1;
                snprintf(q, sizeof q, "\"%s\"", keys[i]);
                if (n > 2 || !last_body || !strstr(last_body, q)) bad_dups++;
            }
        }
        PT_CHECK_MSG(missing == 0, "round %d: %d of %d OK'd events never arrived", round, missing, nkeys);
        PT_CHECK_MSG(bad_dups == 0, "round %d: %d duplicates outside the unacknowledged batch", round, bad_dups);
        PT_CHECK(dups <= batch);
        PT_CHECK_EQ(pts_events_received(s) - before, (long)rep.delivered);
        PT_CHECK_EQ(ts_count_files(dir, "seg-", NULL), 0);
        if (rep.delivered > 0) replay_rounds++;
        total_replayed += rep.delivered;
        printf("    kill9 round %2d: fsync %-5s batch %3d, killed after %s, %5d OK'd, %4llu replayed, %d duplicate(s)\n", round,
               pol == PT_FSYNC_NONE ? "none" : pol == PT_FSYNC_BATCH ? "batch" : "every", batch,
               by_count ? "N events" : "a delay", nkeys, (unsigned long long)rep.delivered, dups);
        total_dups += dups;
        for (i = 0; i < nkeys; i++) free(keys[i]);
        free(keys);
        free(last_body);
    }
    printf("    kill9: %d of %d rounds replayed events (%llu in all), %d duplicate(s)\n", replay_rounds, TS_CRASH_ROUNDS,
           (unsigned long long)total_replayed, total_dups);
    /* a test of recovery must have recovered something: were every child to
       deliver everything before its death, the checks above would prove nothing */
    PT_CHECK_MSG(replay_rounds >= TS_CRASH_ROUNDS / 4, "only %d of %d rounds left events for the next client to replay",
                 replay_rounds, TS_CRASH_ROUNDS);
    ts_rmdir(dir);
    pts_stop(s);
#endif
}

/* A spool failure logged while the client lock is held must reach a logger
   that calls back into the client without deadlocking (the dead-letter write
   fails here: dead-letter.ndjson is a directory). */
static pt_client *ts_rl_client;
static int ts_rl_lines, ts_rl_dead_letter;
static void ts_rl_logger(pt_log_level l, const char *m, void *u) {
    pt_client_stats st;
    (void)l; (void)u;
    pt_stats(ts_rl_client, &st);          /* would deadlock if called under the lock */
    ts_rl_lines++;
    if (strstr(m, "dead-letter")) ts_rl_dead_letter++;
}
PT_TEST(spool_failure_log_lines_reach_a_reentrant_logger) {
    pts_server *s = pts_start();
    char dir[64], dl[128];
    pt_config cfg;
    pt_close_report rep;
    PT_REQUIRE(s);
    ts_mkdtemp(dir, sizeof dir);
    snprintf(dl, sizeof dl, "%s/dead-letter.ndjson", dir);
    PT_REQUIRE(mkdir(dl, 0700) == 0);
    pts_set_reject_marker(s, "POISON", 400);
    cfg = tu_config(pts_url(s));
    cfg.spool_dir = dir;
    cfg.enable_dead_letter = 1;
    cfg.logger = ts_rl_logger;
    ts_rl_lines = ts_rl_dead_letter = 0;
    ts_rl_client = NULL;
    PT_REQUIRE(pt_client_new(&cfg, &ts_rl_client, NULL) == PT_OK);
    PT_CHECK_EQ(pt_track_json(ts_rl_client, TU_EV_JSON("POISON"), strlen(TU_EV_JSON("POISON"))), PT_OK);
    PT_CHECK_EQ(pt_flush(ts_rl_client, 3000), PT_OK);      /* returns: no deadlock */
    PT_CHECK(ts_rl_dead_letter >= 1);
    pt_close(ts_rl_client, 500, &rep);
    pt_client_free(ts_rl_client);
    rmdir(dl);
    ts_rmdir(dir);
    pts_stop(s);
}

/* The child process of ts_run_child: "lock" exits 0 when the spool of DIR is
   locked by the parent; "settled" is one round of ts_settled_child. */
static int ts_child_main(int argc, char **argv) {
    if (argc < 6) return 2;
    if (strcmp(argv[2], "lock") == 0) {
        pt_client *x = NULL;
        pt_config cc = ts_cfg_url(argv[3], argv[4]);
        return pt_client_new(&cc, &x, NULL) == PT_ERR_SPOOL_LOCKED ? 0 : 1;
    }
    if (strcmp(argv[2], "settled") == 0) return ts_settled_child(argv[3], argv[4], atoi(argv[5]));
    return 2;
}

static const pt_test_case spool_tests[] = {
    PT_CASE(spool_failure_log_lines_reach_a_reentrant_logger),
    PT_CASE(spool_record_format_and_resync),
    PT_CASE(spool_config_errors),
    PT_CASE(spool_delivers_every_policy_and_cleans_up),
    PT_CASE(spool_close_deadline_then_replay_oldest_first),
    PT_CASE(spool_replayed_batch_keeps_its_key),
    PT_CASE(spool_torn_tail_is_cut_with_one_log_line),
    PT_CASE(spool_corrupt_middle_record_is_skipped_rest_salvaged),
    PT_CASE(spool_hostile_files_never_crash),
    PT_CASE(spool_second_client_on_one_dir_is_refused),
    PT_CASE(spool_fork_child_does_not_touch_parent_spool),
    PT_CASE(spool_max_bytes_rejects_newest_counted),
    PT_CASE(spool_max_bytes_drop_oldest_counted),
    PT_CASE(spool_disk_full_is_reported_and_delivery_goes_on),
    PT_CASE(spool_dead_letter_file_and_replay),
    PT_CASE(spool_stays_small_in_a_long_run),
    PT_CASE(spool_bisected_batch_resumes_without_duplicates),
    PT_CASE(spool_backlog_larger_than_the_queue),
    PT_CASE(spool_new_events_after_settled_history_are_replayed),
    PT_CASE(spool_manual_mode_replays_through_pump),
    PT_CASE(spool_survives_kill9_at_random_points),
};
