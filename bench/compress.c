/* bench/compress.c - gzip encoders on one typical batch: 500 events of about
   350 bytes JSON each, as the flush thread sends them. Prints, per encoder,
   the compressed size as a share of the input and the speed in MB/s of
   input, the median of several runs. Figures, never assertions.
     cc -O2 bench/compress.c -lz -ldeflate -lpthread -lm && ./a.out
   "per call" rows allocate the encoder state for each batch, the way
   packtrack.h calls zlib and libdeflate; "reused" rows keep it (the
   built-in encoder always reuses its state). */
#define PACKTRACK_IMPLEMENTATION
#include "../packtrack.h"
#include <zlib.h>
#include <libdeflate.h>
#include <time.h>

#define NEV 500
#define RUNS 9

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One batch: a JSON array of NEV events made by the library itself. */
static size_t make_batch(char *out, size_t cap) {
    static const char *sev_status[] = { PT_STATUS_SUCCESS, PT_STATUS_RUNNING, PT_STATUS_ERROR, PT_STATUS_RETRYING };
    static const char *steps[] = { "plan", "search", "call-tool", "summarise", "reply" };
    size_t len = 1, one;
    unsigned i, x = 12345;
    out[0] = '[';
    for (i = 0; i < NEV; i++) {
        pt_event ev;
        pt_field md[2];
        char wf[32], run[32], msg[96], order[32];
        memset(&ev, 0, sizeof ev);
        x = x * 1103515245u + 12345u;
        snprintf(wf, sizeof wf, "wf-%u", x % 40);
        snprintf(run, sizeof run, "run-%u", (x >> 8) % 100000);
        snprintf(order, sizeof order, "o-%u", (x >> 4) % 1000000);
        snprintf(msg, sizeof msg, "step %s done for %s", steps[i % 5], order);
        ev.timestamp_ms = 1795000000000LL + (int64_t)i * 37;
        ev.source_system = "checkout-svc"; ev.source_env = "prod";
        ev.workflow_id = wf; ev.run_id = run; ev.step_id = steps[i % 5];
        ev.actor_type = "agent"; ev.actor_id = "a-42";
        ev.severity = (i % 17) ? PT_SEVERITY_INFO : PT_SEVERITY_WARN;
        ev.status = sev_status[(x >> 12) % 4];
        ev.message = msg;
        md[0] = pt_field_double("amount", (double)(x % 100000) / 100.0);
        md[1] = pt_field_int("attempt", 1 + (x >> 3) % 3);
        ev.metadata = md; ev.metadata_count = 2;
        if (i) out[len++] = ',';
        if (pt_event_to_json(NULL, &ev, out + len, cap - len - 2, &one, NULL) != PT_OK) { fprintf(stderr, "event_to_json failed\n"); exit(1); }
        len += one;
    }
    out[len++] = ']';
    out[len] = 0;
    return len;
}

static int check_gzip(const unsigned char *gz, size_t gzn, const char *want, size_t n) {
    unsigned char *back = (unsigned char *)malloc(n + 1);
    z_stream z;
    int ok;
    memset(&z, 0, sizeof z);
    if (!back || inflateInit2(&z, 16 + 15) != Z_OK) { free(back); return 0; }
    z.next_in = (Bytef *)(uintptr_t)gz; z.avail_in = (uInt)gzn;
    z.next_out = back; z.avail_out = (uInt)n + 1;
    ok = inflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out == n && memcmp(back, want, n) == 0;
    inflateEnd(&z);
    free(back);
    return ok;
}

typedef struct enc { const char *name; int kind, level, reuse; } enc;
enum { E_BUILTIN, E_ZLIB, E_LIBDEFLATE };

static pt__deflate *g_defl;
static struct libdeflate_compressor *g_ld[13];
static z_stream g_z[10];
static int g_z_init[10];

static size_t encode(const enc *e, const char *in, size_t n, unsigned char *out, size_t cap) {
    size_t got = 0;
    if (e->kind == E_BUILTIN) return pt__gzip(g_defl, in, n, out, cap);
    if (e->kind == E_ZLIB) {
        z_stream zs, *z = e->reuse ? &g_z[e->level] : &zs;
        if (!e->reuse || !g_z_init[e->level]) {
            memset(z, 0, sizeof *z);
            if (deflateInit2(z, e->level, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
            if (e->reuse) g_z_init[e->level] = 1;
        } else deflateReset(z);
        z->next_in = (Bytef *)(uintptr_t)in; z->avail_in = (uInt)n;
        z->next_out = out; z->avail_out = (uInt)cap;
        if (deflate(z, Z_FINISH) == Z_STREAM_END) got = (size_t)z->total_out;
        if (!e->reuse) deflateEnd(z);
        return got;
    }
    {
        struct libdeflate_compressor *c = e->reuse ? g_ld[e->level] : NULL;
        if (!c) c = libdeflate_alloc_compressor(e->level);
        if (!c) return 0;
        if (e->reuse) g_ld[e->level] = c;
        got = libdeflate_gzip_compress(c, in, n, out, cap);
        if (!e->reuse) libdeflate_free_compressor(c);
        return got;
    }
}

int main(void) {
    static const enc encs[] = {
        { "built-in (packtrack.h)", E_BUILTIN, 0, 1 },
        { "zlib level 1, per call", E_ZLIB, 1, 0 },
        { "zlib level 1, reused", E_ZLIB, 1, 1 },
        { "zlib level 6, per call", E_ZLIB, 6, 0 },
        { "zlib level 6, reused", E_ZLIB, 6, 1 },
        { "libdeflate level 1, per call", E_LIBDEFLATE, 1, 0 },
        { "libdeflate level 1, reused", E_LIBDEFLATE, 1, 1 },
        { "libdeflate level 6, per call", E_LIBDEFLATE, 6, 0 },
        { "libdeflate level 6, reused", E_LIBDEFLATE, 6, 1 },
    };
    size_t cap = 1 << 20, n, outcap, i;
    char *batch = (char *)malloc(cap);
    unsigned char *out;
    if (!batch) return 1;
    n = make_batch(batch, cap);
    outcap = n + n / 8 + 64;
    if (outcap < pt__gzip_bound(n)) outcap = pt__gzip_bound(n);
    out = (unsigned char *)malloc(outcap);
    g_defl = pt__deflate_new();
    if (!out || !g_defl) return 1;
    printf("gzip on one batch of %d events, %lu bytes of JSON (%.0f B/event); median of %d runs\n",
           NEV, (unsigned long)n, (double)n / NEV, RUNS);
    printf("  %-30s %10s %8s %10s %12s\n", "encoder", "bytes", "ratio", "MB/s", "us/batch");
    for (i = 0; i < sizeof encs / sizeof encs[0]; i++) {
        const enc *e = &encs[i];
        double mbs[RUNS], us[RUNS];
        size_t got = encode(e, batch, n, out, outcap);
        int r;
        if (!got || !check_gzip(out, got, batch, n)) { printf("  %-30s FAILED (output does not inflate to the input)\n", e->name); continue; }
        for (r = 0; r < RUNS; r++) {
            double t0 = now_s(), t;
            long reps = 0;
            do { encode(e, batch, n, out, outcap); reps++; t = now_s() - t0; } while (t < 0.05);
            mbs[r] = (double)n * (double)reps / t / 1e6;
            us[r] = t / (double)reps * 1e6;
        }
        qsort(mbs, RUNS, sizeof mbs[0], cmp_d);
        qsort(us, RUNS, sizeof us[0], cmp_d);
        printf("  %-30s %10lu %7.1f%% %10.0f %12.0f\n", e->name, (unsigned long)got, 100.0 * (double)got / (double)n, mbs[RUNS / 2], us[RUNS / 2]);
    }
    for (i = 0; i < 10; i++) if (g_z_init[i]) deflateEnd(&g_z[i]);
    for (i = 0; i < 13; i++) if (g_ld[i]) libdeflate_free_compressor(g_ld[i]);
    pt__deflate_free(g_defl);
    free(out);
    free(batch);
    return 0;
}
