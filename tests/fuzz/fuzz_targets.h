/* fuzz_targets.h - the bodies of the libFuzzer targets in tests/fuzz/.
   Include after packtrack.h with PACKTRACK_IMPLEMENTATION. Each ptf_*()
   takes one input and returns 0, or a nonzero number naming the invariant
   that broke (the fuzz_*.c wrappers abort on it; the corpus replay test in
   tests/test_json.c turns it into a failed check). Plain C99, also valid C++. */
#ifndef PT_FUZZ_TARGETS_H
#define PT_FUZZ_TARGETS_H
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <stdio.h>

#if defined(__GNUC__) || defined(__clang__)
#define PTF_FN static __attribute__((unused))
#else
#define PTF_FN static
#endif

/* ---- input reader ---------------------------------------------------------- */
typedef struct ptf_rd { const uint8_t *d; size_t n, i; } ptf_rd;
PTF_FN unsigned ptf_byte(ptf_rd *r) { return r->i < r->n ? r->d[r->i++] : 0u; }
PTF_FN uint64_t ptf_u64(ptf_rd *r) {
    uint64_t v = 0;
    int k;
    for (k = 0; k < 8; k++) v = (v << 8) | ptf_byte(r);
    return v;
}
/* A length-prefixed chunk (1 length byte, then up to that many bytes) copied
   into dst (capacity >= 256) and NUL-terminated; returns its length. */
PTF_FN size_t ptf_chunk(ptf_rd *r, char *dst) {
    size_t want = ptf_byte(r), have = r->n - r->i, k = want < have ? want : have;
    if (k) memcpy(dst, r->d + r->i, k);
    r->i += k;
    dst[k] = 0;
    return k;
}

/* Validates like pt__json_validate(.., want_object = 1) but allows two more
   levels of nesting: an event puts a raw value (itself up to
   PT__JSON_MAX_DEPTH deep) two levels down (event -> metadata -> value). */
PTF_FN int ptf_valid_event_doc(const char *s, size_t n) {
    pt__jv v;
    v.s = (const unsigned char *)s; v.n = n; v.i = 0; v.why = NULL;
    if (n == 0 || s[0] != '{') return 0;
    if (!pt__jv_value(&v, -2)) return 0;
    pt__jv_ws(&v);
    return v.i == n;
}

/* Minifying a writer's or validator's output must be a no-op / idempotent. */
PTF_FN int ptf_minify_is_identity(const char *s, size_t n) {
    pt__buf m;
    int same;
    pt__buf_init(&m, NULL, 0);
    pt__json_minify(&m, s, n);
    same = !m.oom && m.len == n && (n == 0 || memcmp(m.p, s, n) == 0);
    pt__buf_free(&m);
    return same;
}

PTF_FN int ptf_is_uuid4(const char *k) {
    int i;
    for (i = 0; i < 36; i++) {
        char c = k[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) { if (c != '-') return 0; }
        else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return 0;
    }
    return k[14] == '4' && (k[19] == '8' || k[19] == '9' || k[19] == 'a' || k[19] == 'b');
}

/* ---- differential: the writer against tests/ref_json.h ----------------------
   Serialises ev with pt__event_json and with the reference copy of the
   writer it replaced; the results, error messages and bytes must be
   identical. A generated idempotency key is compared too: the UUID counter
   is rewound so both writers draw the same number. A zero timestamp is
   replaced by a fixed one for the comparison (both would read the clock).
   The writer runs three ways: into an empty buffer, after a prefix in a
   16-byte stack buffer (so it grows mid-event), and into a 1536-byte stack
   buffer as pt_track uses, where it must not move to the heap when the
   reference did not (no allocation the old writer did not make). Returns
   0, or the number of the check that failed. */
#include "../ref_json.h"
PTF_FN int ptf_json_diff(const pt_event *ev0, const char *host_ctx, size_t host_ctx_len) {
    static char big[1536], refbig[1536];
    char small[16];
    int ref_heap;
    pt_event ev;
    pt__buf r, w;
    pt_error er, ew;
    pt_result rr, rw;
    int64_t ctr;
    int mode, bad = 0;
    ev = *ev0;
    if (!ev.timestamp_ms) ev.timestamp_ms = 1764757506789LL;
    pt__uuid_seed_init();
    ctr = pt__atomic_load(&pt__uuid_ctr);
    pt__buf_init(&r, NULL, 0);
    memset(&er, 0, sizeof er);
    pt__buf_init(&r, refbig, sizeof refbig);
    pt__atomic_store(&pt__uuid_ctr, ctr);
    (void)ptref_event_json(&ev, host_ctx, host_ctx_len, &r, &er);
    ref_heap = r.heap;
    pt__buf_free(&r);
    pt__buf_init(&r, NULL, 0);
    memset(&er, 0, sizeof er);
    pt__atomic_store(&pt__uuid_ctr, ctr);
    rr = ptref_event_json(&ev, host_ctx, host_ctx_len, &r, &er);
    for (mode = 0; mode < 3 && !bad; mode++) {
        size_t pre = mode == 1 ? 3 : 0;
        if (mode == 0) pt__buf_init(&w, NULL, 0);
        else if (mode == 1) { pt__buf_init(&w, small, sizeof small); pt__buf_put(&w, "[{,", 3); }
        else pt__buf_init(&w, big, sizeof big);
        memset(&ew, 0, sizeof ew);
        pt__atomic_store(&pt__uuid_ctr, ctr);
        rw = pt__event_json(&ev, host_ctx, host_ctx_len, &w, &ew);
        if (rw != rr) bad = 1;
        else if (rw != PT_OK) { if (ew.code != er.code || strcmp(ew.message, er.message) != 0) bad = 2; }
        else if (w.oom || r.oom) bad = 3;
        else if (w.len - pre != r.len || memcmp(w.p + pre, r.p, r.len) != 0) bad = 4;
        else if (mode == 1 && memcmp(w.p, "[{,", 3) != 0) bad = 5;
        else if (mode == 2 && w.heap && !ref_heap) bad = 6;
        pt__buf_free(&w);
    }
    pt__buf_free(&r);
    return bad;
}

/* ---- fuzz_json_writer ------------------------------------------------------
   Input: 2 bytes presence bits for the 12 optional-or-required string fields,
   1 byte severity (%6, 5 = invalid), 1 byte flags (1 timestamp follows as 8
   bytes, 2 host context), the present string fields as chunks, then the
   metadata and the extra lists: a count byte (%9) and per field a type byte
   (%8, 7 = invalid; 0x80 = NULL str), a key chunk (empty = NULL key when
   0x40 is set), a value (STRING/RAW: chunk, len = chunk length; INT, DOUBLE:
   8 bytes; BOOL: 1 byte). Invariants 21-26 are ptf_json_diff's checks 1-6
   (the bytes of the writer this one replaced, tests/ref_json.h). */
#define PTF_MAX_FIELDS 8
static const char ptf_host_ctx[] =
    "\"host\":{\"name\":\"fz\",\"pid\":1,\"os\":\"linux\",\"arch\":\"x86_64\"},\"sdk\":{\"name\":\"packtrack-c\",\"version\":\"0.1.0\"}";

PTF_FN void ptf_read_fields(ptf_rd *r, pt_field *f, size_t *count, char (*keys)[257], char (*vals)[257]) {
    size_t n = ptf_byte(r) % (PTF_MAX_FIELDS + 1), i;
    for (i = 0; i < n; i++) {
        unsigned t = ptf_byte(r);
        size_t kl;
        memset(&f[i], 0, sizeof f[i]);
        f[i].type = (pt_field_type)(t % 8);
        kl = ptf_chunk(r, keys[i]);
        f[i].key = (kl == 0 && (t & 0x40)) ? NULL : keys[i];
        switch (t % 8) {
        case PT_FIELD_STRING: case PT_FIELD_RAW:
            f[i].len = ptf_chunk(r, vals[i]);
            f[i].str = (t & 0x80) ? NULL : vals[i];
            break;
        case PT_FIELD_INT: f[i].i = (int64_t)ptf_u64(r); break;
        case PT_FIELD_DOUBLE: { uint64_t u = ptf_u64(r); memcpy(&f[i].d, &u, sizeof u); break; }
        case PT_FIELD_BOOL: f[i].b = (int)ptf_byte(r); break;
        default: break;
        }
    }
    *count = n;
}

PTF_FN int ptf_json_writer(const uint8_t *data, size_t size) {
    ptf_rd r;
    char strs[12][257], mkeys[PTF_MAX_FIELDS][257], mvals[PTF_MAX_FIELDS][257];
    char xkeys[PTF_MAX_FIELDS][257], xvals[PTF_MAX_FIELDS][257];
    pt_field meta[PTF_MAX_FIELDS], extra[PTF_MAX_FIELDS];
    const char *sp[12];
    pt_event ev;
    pt_error err;
    pt__buf b;
    pt_result res;
    unsigned present, flags, k;
    int bad = 0;
    r.d = data; r.n = size; r.i = 0;
    memset(&ev, 0, sizeof ev);
    present = ptf_byte(&r);
    present |= ptf_byte(&r) << 8;
    ev.severity = (pt_severity)(ptf_byte(&r) % 6);
    flags = ptf_byte(&r);
    if (flags & 1) ev.timestamp_ms = (int64_t)ptf_u64(&r);
    for (k = 0; k < 12; k++) {
        sp[k] = NULL;
        if (present & (1u << k)) { ptf_chunk(&r, strs[k]); sp[k] = strs[k]; }
    }
    ev.source_system = sp[0]; ev.source_env = sp[1]; ev.workflow_id = sp[2]; ev.workflow_name = sp[3];
    ev.run_id = sp[4]; ev.step_id = sp[5]; ev.actor_type = sp[6]; ev.actor_id = sp[7];
    ev.actor_display_name = sp[8]; ev.status = sp[9]; ev.message = sp[10]; ev.idempotency_key = sp[11];
    ptf_read_fields(&r, meta, &ev.metadata_count, mkeys, mvals);
    ptf_read_fields(&r, extra, &ev.extra_count, xkeys, xvals);
    ev.metadata = ev.metadata_count ? meta : NULL;
    ev.extra = ev.extra_count ? extra : NULL;

    /* the same bytes as the writer this one replaced (see ptf_json_diff) */
    k = (unsigned)ptf_json_diff(&ev, (flags & 2) ? ptf_host_ctx : NULL, (flags & 2) ? sizeof ptf_host_ctx - 1 : 0);
    if (k) return 20 + (int)k;
    pt__buf_init(&b, NULL, 0);
    res = pt__event_json(&ev, (flags & 2) ? ptf_host_ctx : NULL, (flags & 2) ? sizeof ptf_host_ctx - 1 : 0, &b, &err);
    if (res == PT_OK) {
        size_t i;
        if (b.oom) bad = 1;
        else if (!ptf_valid_event_doc(b.p, b.len)) bad = 2;             /* invalid JSON out */
        else {
            for (i = 0; i < b.len; i++) if ((unsigned char)b.p[i] < 0x20) { bad = 3; break; }   /* raw control byte */
            if (!bad && !ptf_minify_is_identity(b.p, b.len)) bad = 4;   /* insignificant whitespace */
            if (!bad && (b.len < 40 || memcmp(b.p, "{\"timestamp\":\"", 14) != 0 || b.p[b.len - 1] != '}')) bad = 5;
            if (!bad && !(ev.idempotency_key && ev.idempotency_key[0])) {
                /* the generated key is the last thing in the object */
                if (b.len < 38 || !ptf_is_uuid4(b.p + b.len - 38)) bad = 6;
            }
            if (!bad && pt__empty(ev.source_system)) bad = 7;              /* accepted a missing field */
        }
    } else {
        if (!(res == PT_ERR_MISSING_FIELD || res == PT_ERR_INVALID_ARG || res == PT_ERR_INVALID_JSON)) bad = 10;
        else if (err.code != res || err.message[0] == 0 || strlen(err.message) >= sizeof err.message) bad = 11;
    }
    pt__buf_free(&b);
    return bad;
}

/* ---- fuzz_json_validate ----------------------------------------------------- */
PTF_FN int ptf_json_validate(const uint8_t *data, size_t size) {
    const char *s = (const char *)data, *why = NULL;
    size_t at = (size_t)-1;
    int ok = pt__json_validate(s, size, 0, &why, &at);
    int ok_obj = pt__json_validate(s, size, 1, NULL, NULL);
    int bad = 0;
    if (!ok && (!why || at > size)) return 1;
    if (ok_obj && !ok) return 2;
    if (ok) {
        pt__buf m;
        size_t i;
        pt__buf_init(&m, NULL, 0);
        pt__json_minify(&m, s, size);
        if (m.oom) bad = 3;
        else if (!pt__json_validate(m.p ? m.p : "", m.len, 0, NULL, NULL)) bad = 4;
        else if (!ptf_minify_is_identity(m.p, m.len)) bad = 5;
        else {
            for (i = 0; i < m.len; i++)
                if (m.p[i] == '\n' || m.p[i] == '\r' || m.p[i] == '\t') { bad = 6; break; }
            if (!bad && ok_obj && (m.len < 2 || m.p[0] != '{')) bad = 7;
        }
        /* the same text as a raw metadata value: accepted, and the event stays valid */
        if (!bad) {
            pt_field f[1];
            pt_event ev;
            pt__buf b;
            memset(&ev, 0, sizeof ev);
            ev.source_system = "s"; ev.workflow_id = "w"; ev.actor_type = "t"; ev.actor_id = "a";
            ev.severity = PT_SEVERITY_INFO; ev.status = "ok"; ev.message = "m"; ev.idempotency_key = "k";
            ev.timestamp_ms = 1;
            f[0] = pt_field_raw("raw", s);
            f[0].len = size;
            ev.metadata = f; ev.metadata_count = 1;
            pt__buf_init(&b, NULL, 0);
            if (size == 0) { /* len 0 means strlen; nothing to check */ }
            else if (pt__event_json(&ev, NULL, 0, &b, NULL) != PT_OK) bad = 8;
            else if (!ptf_valid_event_doc(b.p, b.len)) bad = 9;
            else if (!ptf_minify_is_identity(b.p, b.len)) bad = 10;
            pt__buf_free(&b);
        }
        pt__buf_free(&m);
    }
    return bad;
}

/* ---- fuzz_http_head ------------------------------------------------------------
   The head is found the way the built-in client finds it; the rest is fed to
   the chunked decoder in one piece and again in pieces, which must agree. */
typedef struct ptf_ck_run { int ret; size_t used; char head[256]; size_t len; uint64_t total; } ptf_ck_run;
PTF_FN void ptf_chunked_run(const char *p, size_t n, size_t step, ptf_ck_run *out) {
    pt__chunked c;
    pt__sink sink;
    size_t off = 0;
    memset(&c, 0, sizeof c);
    memset(out, 0, sizeof *out);
    sink.head = out->head; sink.cap = sizeof out->head - 1; sink.len = 0; sink.total = 0;
    out->ret = 0;
    for (;;) {
        size_t piece = step ? (n - off < step ? n - off : step) : n - off, used = (size_t)-1;
        int fr = pt__chunked_feed(&c, p + off, piece, &used, &sink);
        if (fr < 0) { out->ret = -1; break; }
        if (used > piece) { out->ret = -2; break; }
        off += used;
        if (fr == 1) { out->ret = 1; break; }
        if (used != piece) { out->ret = -3; break; }    /* 0 means "all eaten, need more" */
        if (off >= n) break;
    }
    out->used = off;
    out->len = sink.len;
    out->total = sink.total;
}
PTF_FN int ptf_http_head(const uint8_t *data, size_t size) {
    const char *p = (const char *)data;
    pt__http_head h;
    size_t k, hend = 0;
    ptf_ck_run one, bytewise, split;
    (void)pt__http_parse_head(p, size, &h);
    for (k = 0; k + 1 < size; k++) {
        if (p[k] == '\n' && (p[k + 1] == '\n' || (k + 2 < size && p[k + 1] == '\r' && p[k + 2] == '\n'))) {
            hend = k + (p[k + 1] == '\n' ? 2 : 3);
            break;
        }
    }
    if (hend && pt__http_parse_head(p, hend, &h) == 0) {
        if (h.status < 100 || h.status > 599 || (h.minor != 0 && h.minor != 1)) return 1;
        if (h.content_length < -1) return 2;
        if (memchr(h.retry_after, 0, sizeof h.retry_after) == NULL) return 3;
        if (h.retry_after[0]) (void)pt__parse_retry_after(h.retry_after, 784111777000LL);
    }
    ptf_chunked_run(p + hend, size - hend, 0, &one);
    ptf_chunked_run(p + hend, size - hend, 1, &bytewise);
    ptf_chunked_run(p + hend, size - hend, 7, &split);
    if (one.ret < -1 || bytewise.ret < -1 || split.ret < -1) return 4;
    if (one.ret != bytewise.ret || one.ret != split.ret) return 5;
    if (one.len > 255 || one.len != bytewise.len || one.len != split.len || one.total != bytewise.total || one.total != split.total) return 6;
    if (memcmp(one.head, bytewise.head, one.len) != 0 || memcmp(one.head, split.head, one.len) != 0) return 7;
    if (one.ret == 1 && (one.used != bytewise.used || one.used != split.used || one.used > size - hend)) return 8;
    return 0;
}

/* ---- fuzz_url ---------------------------------------------------------------- */
PTF_FN int ptf_url(const uint8_t *data, size_t size) {
    char *s = (char *)malloc(size + 1), rebuilt[1200], auth[300];
    pt__url u, u2;
    pt_error err;
    pt_result r;
    int bad = 0;
    if (!s) return 0;
    if (size) memcpy(s, data, size);
    s[size] = 0;
    r = pt__url_parse(s, &u, &err);
    if (r != PT_OK) {
        if (r != PT_ERR_CONFIG || err.code != PT_ERR_CONFIG || !err.message[0]) bad = 1;
    } else {
        size_t hl = strnlen(u.host, sizeof u.host), pl = strnlen(u.prefix, sizeof u.prefix);
        if (hl == 0 || hl >= sizeof u.host || pl >= sizeof u.prefix) bad = 2;
        else if (u.port < 1 || u.port > 65535) bad = 3;
        else if (pl && (u.prefix[0] != '/' || u.prefix[pl - 1] == '/')) bad = 4;
        else if (strchr(u.prefix, '?') || strchr(u.prefix, '#')) bad = 5;
        else {
            pt__url_authority(&u, auth, sizeof auth);
            snprintf(rebuilt, sizeof rebuilt, "%s://%s%s", u.https ? "https" : "http", auth, u.prefix);
            if (pt__url_parse(rebuilt, &u2, NULL) != PT_OK) bad = 6;
            else if (u2.https != u.https || u2.port != u.port || u2.ipv6 != u.ipv6 || strcmp(u2.host, u.host) != 0 || strcmp(u2.prefix, u.prefix) != 0) bad = 7;
        }
    }
    free(s);
    return bad;
}

/* ---- fuzz_retry_after ---------------------------------------------------------- */
PTF_FN int ptf_retry_after(const uint8_t *data, size_t size) {
    char *s = (char *)malloc(size + 1);
    int64_t a, b, c;
    int bad = 0;
    if (!s) return 0;
    if (size) memcpy(s, data, size);
    s[size] = 0;     /* exactly sized: ASan sees any read past the terminator */
    a = pt__parse_retry_after(s, 0);
    b = pt__parse_retry_after(s, 784111777000LL);
    c = pt__parse_retry_after(s, 253402300799999LL);
    if (a < -1 || b < -1 || c < -1) bad = 1;
    else if ((a == -1) != (b == -1) || (a == -1) != (c == -1)) bad = 2;   /* parsing does not depend on now */
    else if (a >= 0 && (b > a || c > b)) bad = 3;                          /* later now, shorter wait */
    free(s);
    return bad;
}

/* ---- fuzz_spool ------------------------------------------------------------------ */
/* The spool record reader: (1) the resynchronising scan over arbitrary bytes
   must terminate, advance, stay in bounds, and return only records that
   parse again where it found them; (2) the same bytes as a segment file (and,
   split by the first byte, as the ack log) must be opened and replayed by a
   manual-mode client without a crash, and the client must close cleanly. */
#include <unistd.h>
#include <sys/stat.h>
#if defined(PACKTRACK_NO_SPOOL)   /* a runner built without the spool (tests/mutants/build_*.mut) */
PTF_FN int ptf_spool(const uint8_t *data, size_t size) { (void)data; (void)size; return 0; }
#else
static int ptf_spool_write(const char *path, const uint8_t *d, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    if (n && fwrite(d, 1, n, f) != n) { fclose(f); return -1; }
    return fclose(f);
}
PTF_FN int ptf_spool(const uint8_t *data, size_t size) {
    size_t off = 0, prev = 0, records = 0;
    uint64_t skipped = 0, seq;
    int type, flag;
    const unsigned char *pay;
    size_t plen;
    char dir[] = "/tmp/ptf_spool_XXXXXX", path[256];
    while (pt__sp_next(data, size, &off, &skipped, &type, &flag, &seq, &pay, &plen)) {
        size_t start = (size_t)(pay - data) - PT__SP_HDR;
        int t2, f2; uint64_t s2; const unsigned char *p2; size_t l2;
        if (off <= prev || off > size) return 1;                      /* must advance, stay in bounds */
        if (pay < data || pay + plen > data + size) return 2;
        if (!pt__sp_parse(data, size, start, &t2, &f2, &s2, &p2, &l2) || p2 != pay || l2 != plen || s2 != seq) return 3;
        prev = off;
        if (++records > size) return 4;
    }
    if (off != size && size) return 5;
    if (skipped > size) return 6;
    /* the same bytes on disk, replayed by a real client */
    if (!mkdtemp(dir)) return 0;
    {
        size_t split = size ? data[0] % (size + 1) : 0;
        pt_config cfg;
        pt_client *c = NULL;
        pt_close_report rep;
        snprintf(path, sizeof path, "%s/seg-0000000000000001.pts", dir);
        ptf_spool_write(path, data + split, size - split);
        snprintf(path, sizeof path, "%s/ack.pts", dir);
        if (split > 1) ptf_spool_write(path, data + 1, split - 1);
        memset(&cfg, 0, sizeof cfg);
        cfg.api_key = "k"; cfg.base_url = "http://127.0.0.1:9"; cfg.manual_mode = 1;
        cfg.spool_dir = dir; cfg.fsync_policy = PT_FSYNC_NONE;
        if (pt_client_new(&cfg, &c, NULL) == PT_OK) {
            pt_client_stats st;
            pt_stats(c, &st);
            if (st.tracked != st.delivered + st.failed + st.dropped + st.pending) { pt_close(c, 0, &rep); pt_client_free(c); return 7; }
            pt_close(c, 0, &rep);
            pt_client_free(c);
        }
        /* remove whatever the client left */
        {
            static const char *names[] = { "seg-0000000000000001.pts", "seg-0000000000000002.pts", "ack.pts", "ack.tmp", "lock", "dead-letter.ndjson" };
            size_t i;
            for (i = 0; i < sizeof names / sizeof names[0]; i++) { snprintf(path, sizeof path, "%s/%s", dir, names[i]); unlink(path); }
        }
        if (rmdir(dir) != 0) {   /* other files: list and remove */
            char cmd[300];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
            if (system(cmd) != 0) return 0;
        }
    }
    return 0;
}
#endif /* PACKTRACK_NO_SPOOL */

#endif
