/* ref_json.h - the JSON event writer as it was before the pt_track cost
   work (issue 14), kept verbatim with ptref_ names so the differential tests
   (tests/test_json.c json_writer_differential_*, tests/fuzz/fuzz_json_writer.c)
   can check the new writer byte for byte against it. Never edit this to make
   a test pass: it is the definition of the expected output.
   Include after packtrack.h with PACKTRACK_IMPLEMENTATION. It shares the
   library's buffer, error, validator/minifier and the UUID counter and seed
   (so a test can rewind pt__uuid_ctr and get the same key from both). */
#ifndef PT_REF_JSON_H
#define PT_REF_JSON_H

/* Writes v in decimal; returns length. buf needs 21 bytes. */
PT__PRIVATE size_t ptref_u64_dec(char *buf, uint64_t v) {
    char tmp[24];
    size_t n = 0, i;
    do { tmp[n++] = (char)('0' + (v % 10)); v /= 10; } while (v);
    for (i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    return n;
}
PT__PRIVATE size_t ptref_i64_dec(char *buf, int64_t v) {
    if (v < 0) { buf[0] = '-'; return 1 + ptref_u64_dec(buf + 1, (uint64_t)0 - (uint64_t)v); }
    return ptref_u64_dec(buf, (uint64_t)v);
}


/* splitmix64: a bijection on 64 bits with good avalanche. */
PT__PRIVATE uint64_t ptref_mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}


static const char ptref_hex[] = "0123456789abcdef";
/* Writes 36 characters (no NUL). */
PT__PRIVATE void ptref_uuid4(char *out) {
    uint64_t n = (uint64_t)pt__atomic_add(&pt__uuid_ctr, 1);
    uint64_t hi = ptref_mix64(pt__uuid_seed[0] ^ n);            /* unique per n */
    uint64_t lo = ptref_mix64(pt__uuid_seed[1] + n * 0xD6E8FEB86659FD93ULL);
    unsigned char b[16];
    int i, o = 0;
    for (i = 0; i < 8; i++) b[i] = (unsigned char)(hi >> (8 * i));
    for (i = 8; i < 16; i++) b[i] = (unsigned char)(lo >> (8 * (i - 8)));
    /* version 4 in b[6] high nibble, variant 10 in b[8]; the hi nibble that
       the version overwrites moves into b[8] so all 64 bits of hi survive. */
    b[8] = (unsigned char)(0x80 | ((b[6] >> 4) << 2) | (b[8] & 0x03));
    b[6] = (unsigned char)(0x40 | (b[6] & 0x0f));
    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = ptref_hex[b[i] >> 4];
        out[o++] = ptref_hex[b[i] & 15];
    }
}


PT__PRIVATE void ptref_civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    int64_t era, doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}
/* RFC 3339 UTC with milliseconds: "2026-11-23T10:15:30.123Z" (24 chars, no NUL).
   Years outside 0..9999 are clamped (JSON must stay a valid timestamp). */
PT__PRIVATE void ptref_rfc3339(char *out, int64_t unix_ms) {
    int64_t days, ms_of_day, y;
    int m, d, hh, mm, ss, ms;
    if (unix_ms < -62167219200000LL) unix_ms = -62167219200000LL;     /* 0000-01-01 */
    if (unix_ms > 253402300799999LL) unix_ms = 253402300799999LL;     /* 9999-12-31 */
    days = unix_ms >= 0 ? unix_ms / 86400000LL : -((-unix_ms + 86399999LL) / 86400000LL);
    ms_of_day = unix_ms - days * 86400000LL;
    ptref_civil_from_days(days, &y, &m, &d);
    hh = (int)(ms_of_day / 3600000); mm = (int)(ms_of_day / 60000 % 60);
    ss = (int)(ms_of_day / 1000 % 60); ms = (int)(ms_of_day % 1000);
    out[0] = (char)('0' + y / 1000); out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10); out[3] = (char)('0' + y % 10);
    out[4] = '-'; out[5] = (char)('0' + m / 10); out[6] = (char)('0' + m % 10);
    out[7] = '-'; out[8] = (char)('0' + d / 10); out[9] = (char)('0' + d % 10);
    out[10] = 'T'; out[11] = (char)('0' + hh / 10); out[12] = (char)('0' + hh % 10);
    out[13] = ':'; out[14] = (char)('0' + mm / 10); out[15] = (char)('0' + mm % 10);
    out[16] = ':'; out[17] = (char)('0' + ss / 10); out[18] = (char)('0' + ss % 10);
    out[19] = '.'; out[20] = (char)('0' + ms / 100); out[21] = (char)('0' + ms / 10 % 10);
    out[22] = (char)('0' + ms % 10); out[23] = 'Z';
}


/* Byte classes for the string escaper: 0 copy as is, 1 escape, 2 UTF-8 lead. */
static const unsigned char ptref_json_cls[256] = {
    1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
    0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,1,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2, 2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
    2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2, 2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
    2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2, 2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
    2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2, 2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2
};

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid; *bad gets
   the length of the maximal invalid prefix to replace with one U+FFFD. */
PT__PRIVATE size_t ptref_utf8_seq(const unsigned char *s, size_t n, size_t *bad) {
    unsigned c = s[0];
    size_t need, i;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c >= 0xE0 && c <= 0xEF) { need = 2; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { need = 3; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else { *bad = 1; return 0; }
    for (i = 1; i <= need; i++) {
        unsigned b;
        if (i >= n) { *bad = i; return 0; }
        b = s[i];
        if (b < lo || b > hi) { *bad = i; return 0; }
        lo = 0x80; hi = 0xBF;
    }
    return need + 1;
}

/* Appends s as a JSON string (quotes included): RFC 8259 escaping, U+2028/9
   escaped, invalid UTF-8 replaced by U+FFFD. */
PT__PRIVATE void ptref_json_str(pt__buf *b, const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run;
    if (PT__BUF_RESERVE(b, n + 2)) return;
    b->p[b->len++] = '"';
    while (i < n) {
        run = i;
        while (run < n && ptref_json_cls[s[run]] == 0) run++;
        if (run > i) { pt__buf_put(b, s + i, run - i); i = run; if (i >= n) break; }
        if (ptref_json_cls[s[i]] == 1) {
            char e[6];
            unsigned c = s[i];
            e[0] = '\\';
            switch (c) {
            case '"': e[1] = '"'; pt__buf_put(b, e, 2); break;
            case '\\': e[1] = '\\'; pt__buf_put(b, e, 2); break;
            case '\n': e[1] = 'n'; pt__buf_put(b, e, 2); break;
            case '\r': e[1] = 'r'; pt__buf_put(b, e, 2); break;
            case '\t': e[1] = 't'; pt__buf_put(b, e, 2); break;
            case '\b': e[1] = 'b'; pt__buf_put(b, e, 2); break;
            case '\f': e[1] = 'f'; pt__buf_put(b, e, 2); break;
            default:
                e[1] = 'u'; e[2] = '0'; e[3] = '0';
                e[4] = ptref_hex[c >> 4]; e[5] = ptref_hex[c & 15];
                pt__buf_put(b, e, 6);
            }
            i++;
        } else {
            size_t bad = 0, L = ptref_utf8_seq(s + i, n - i, &bad);
            if (!L) { pt__buf_put(b, "\xEF\xBF\xBD", 3); i += bad; }
            else if (L == 3 && s[i] == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
                pt__buf_put(b, s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6); i += 3;
            } else { pt__buf_put(b, s + i, L); i += L; }
        }
    }
    pt__buf_putc(b, '"');
}

PT__PRIVATE void ptref_json_i64(pt__buf *b, int64_t v) {
    if (PT__BUF_RESERVE(b, 21)) return;
    b->len += ptref_i64_dec(b->p + b->len, v);
}

/* Shortest-ish round-tripping double. NaN/Inf -> null. */
PT__PRIVATE void ptref_json_double(pt__buf *b, double d) {
    char tmp[40];
    int n;
    double m;
    if (d != d || d > 1.7976931348623157e308 || d < -1.7976931348623157e308) { pt__buf_lit(b, "null"); return; }
    /* Fast exact path: values with at most 6 decimals whose scaled value is
       an exact integer; m / 1e6 is then the correctly rounded double of that
       decimal, so printing the decimal round-trips. */
    m = d * 1e6;
    if (m > -9007199254740992.0 && m < 9007199254740992.0 && m == (double)(int64_t)m && (double)(int64_t)m / 1e6 == d) {
        int64_t v = (int64_t)m;
        uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        uint64_t ip = a / 1000000u, fp = a % 1000000u;
        char *p = tmp;
        int k;
        if (v < 0) *p++ = '-';
        p += ptref_u64_dec(p, ip);
        *p++ = '.';
        if (fp == 0) *p++ = '0';
        else {
            char f[6];
            int len = 6;
            for (k = 5; k >= 0; k--) { f[k] = (char)('0' + fp % 10); fp /= 10; }
            while (len > 1 && f[len - 1] == '0') len--;
            memcpy(p, f, (size_t)len); p += len;
        }
        if (d == 0 && 1 / d < 0) { pt__buf_lit(b, "-0.0"); return; }
        pt__buf_put(b, tmp, (size_t)(p - tmp));
        return;
    }
    n = snprintf(tmp, sizeof tmp, "%.15g", d);
    if (n <= 0 || strtod(tmp, NULL) != d) n = snprintf(tmp, sizeof tmp, "%.17g", d);
    if (n <= 0 || n >= (int)sizeof tmp) { pt__buf_lit(b, "null"); return; }
    /* Some C libraries honour a locale decimal comma; JSON wants a dot. */
    { int k; for (k = 0; k < n; k++) if (tmp[k] == ',') tmp[k] = '.'; }
    pt__buf_put(b, tmp, (size_t)n);
}


PT__PRIVATE const char *ptref_severity_name(pt_severity s) {
    switch (s) {
    case PT_SEVERITY_DEBUG: return "debug";
    case PT_SEVERITY_INFO: return "info";
    case PT_SEVERITY_WARN: return "warn";
    case PT_SEVERITY_ERROR: return "error";
    default: return NULL;
    }
}


/* Key + field list; `which` names the list in messages ("metadata"/"extra").
   Rejects NULL/empty and duplicate keys. `skip_host` drops the keys a
   host-context block would add when the caller already supplies them. */
PT__PRIVATE pt_result ptref_fields_json(pt__buf *b, const char *which, const pt_field *f, size_t n,
                                      const char *host_ctx, size_t host_ctx_len, pt_error *err) {
    size_t i, j;
    int first = 1, user_host = 0, user_sdk = 0;
    if (n && !f) return pt__err(err, PT_ERR_INVALID_ARG, "%s_count is %lu but %s is NULL", which, (unsigned long)n, which);
    for (i = 0; i < n; i++) {
        if (f[i].type == PT_FIELD_UNSET) continue;
        if (pt__empty(f[i].key)) return pt__err(err, PT_ERR_INVALID_ARG, "%s[%lu] has no key", which, (unsigned long)i);
        if ((int)f[i].type < (int)PT_FIELD_STRING || (int)f[i].type > (int)PT_FIELD_RAW)
            return pt__err(err, PT_ERR_INVALID_ARG, "%s \"%.40s\": unknown field type %d", which, f[i].key, (int)f[i].type);
        for (j = i + 1; j < n; j++)
            if (f[j].type != PT_FIELD_UNSET && f[j].key && strcmp(f[i].key, f[j].key) == 0)
                return pt__err(err, PT_ERR_INVALID_ARG, "duplicate %s key \"%.40s\"", which, f[i].key);
        if (host_ctx) {
            if (strcmp(f[i].key, "host") == 0) user_host = 1;
            if (strcmp(f[i].key, "sdk") == 0) user_sdk = 1;
        }
    }
    for (i = 0; i < n; i++) {
        const pt_field *x = &f[i];
        if (x->type == PT_FIELD_UNSET) continue;
        pt__buf_putc(b, first ? '{' : ',');
        first = 0;
        ptref_json_str(b, x->key, strlen(x->key));
        pt__buf_putc(b, ':');
        switch (x->type) {
        case PT_FIELD_STRING:
            if (!x->str) pt__buf_lit(b, "null");
            else ptref_json_str(b, x->str, x->len ? x->len : strlen(x->str));
            break;
        case PT_FIELD_INT: ptref_json_i64(b, x->i); break;
        case PT_FIELD_DOUBLE: ptref_json_double(b, x->d); break;
        case PT_FIELD_BOOL: if (x->b) pt__buf_lit(b, "true"); else pt__buf_lit(b, "false"); break;
        case PT_FIELD_NULL: pt__buf_lit(b, "null"); break;
        case PT_FIELD_RAW: {
            const char *why = NULL;
            size_t at = 0, len;
            if (!x->str) return pt__err(err, PT_ERR_INVALID_JSON, "%s \"%.40s\": raw JSON is NULL", which, x->key);
            len = x->len ? x->len : strlen(x->str);
            if (!pt__json_validate(x->str, len, 0, &why, &at))
                return pt__err(err, PT_ERR_INVALID_JSON, "%s \"%.40s\": invalid raw JSON at byte %lu: %s", which, x->key, (unsigned long)at, why);
            pt__json_minify(b, x->str, len);   /* no raw newline may reach the queue or the spool */
            break;
        }
        default: break;
        }
    }
    if (host_ctx && host_ctx_len) {
        /* host_ctx is `"host":{...},"sdk":{...}`; split at the comma between them. */
        const char *sdk = strstr(host_ctx, ",\"sdk\":");
        size_t hlen = sdk ? (size_t)(sdk - host_ctx) : host_ctx_len;
        if (!user_host) { pt__buf_putc(b, first ? '{' : ','); first = 0; pt__buf_put(b, host_ctx, hlen); }
        if (sdk && !user_sdk) { pt__buf_putc(b, first ? '{' : ','); first = 0; pt__buf_put(b, sdk + 1, host_ctx_len - hlen - 1); }
    }
    if (!first) pt__buf_putc(b, '}');
    return PT_OK;
}

#undef PT__REQ
#define PT__REQ(field, name) \
    if (pt__empty(ev->field)) return pt__err(err, PT_ERR_MISSING_FIELD, "required field %s is missing or empty", name)

/* Serialises one event (SPEC 2 key order) into b. */
PT__PRIVATE pt_result ptref_event_json(const pt_event *ev, const char *host_ctx, size_t host_ctx_len, pt__buf *b, pt_error *err) {
    char ts[24], key[36];
    const char *sev;
    pt_result r;
    int has_meta = 0, has_extra = 0;
    size_t i;
    if (!ev) return pt__err(err, PT_ERR_INVALID_ARG, "event is NULL");
    PT__REQ(source_system, "source.system");
    PT__REQ(workflow_id, "workflow.id");
    PT__REQ(actor_type, "actor.type");
    PT__REQ(actor_id, "actor.id");
    if (ev->severity == PT_SEVERITY_UNSET) return pt__err(err, PT_ERR_MISSING_FIELD, "required field severity is missing");
    sev = ptref_severity_name(ev->severity);
    if (!sev) return pt__err(err, PT_ERR_INVALID_ARG, "severity %d is not one of debug, info, warn, error", (int)ev->severity);
    PT__REQ(status, "status");
    PT__REQ(message, "message");
    for (i = 0; i < ev->metadata_count && ev->metadata; i++) if (ev->metadata[i].type != PT_FIELD_UNSET) { has_meta = 1; break; }
    for (i = 0; i < ev->extra_count && ev->extra; i++) if (ev->extra[i].type != PT_FIELD_UNSET) { has_extra = 1; break; }
    if (ev->metadata_count && !ev->metadata) has_meta = 1;   /* reported below */
    if (ev->extra_count && !ev->extra) has_extra = 1;

    ptref_rfc3339(ts, ev->timestamp_ms ? ev->timestamp_ms : pt__wall_ms());
    pt__buf_lit(b, "{\"timestamp\":\"");
    pt__buf_put(b, ts, 24);
    pt__buf_lit(b, "\",\"source\":{\"system\":");
    ptref_json_str(b, ev->source_system, strlen(ev->source_system));
    if (ev->source_env) { pt__buf_lit(b, ",\"env\":"); ptref_json_str(b, ev->source_env, strlen(ev->source_env)); }
    pt__buf_lit(b, "},\"workflow\":{\"id\":");
    ptref_json_str(b, ev->workflow_id, strlen(ev->workflow_id));
    if (ev->workflow_name) { pt__buf_lit(b, ",\"name\":"); ptref_json_str(b, ev->workflow_name, strlen(ev->workflow_name)); }
    if (ev->run_id) { pt__buf_lit(b, ",\"run_id\":"); ptref_json_str(b, ev->run_id, strlen(ev->run_id)); }
    if (ev->step_id) { pt__buf_lit(b, ",\"step_id\":"); ptref_json_str(b, ev->step_id, strlen(ev->step_id)); }
    pt__buf_lit(b, "},\"actor\":{\"type\":");
    ptref_json_str(b, ev->actor_type, strlen(ev->actor_type));
    pt__buf_lit(b, ",\"id\":");
    ptref_json_str(b, ev->actor_id, strlen(ev->actor_id));
    if (ev->actor_display_name) { pt__buf_lit(b, ",\"display_name\":"); ptref_json_str(b, ev->actor_display_name, strlen(ev->actor_display_name)); }
    pt__buf_lit(b, "},\"severity\":\"");
    pt__buf_puts(b, sev);
    pt__buf_lit(b, "\",\"status\":");
    ptref_json_str(b, ev->status, strlen(ev->status));
    pt__buf_lit(b, ",\"message\":");
    ptref_json_str(b, ev->message, strlen(ev->message));
    if (has_meta) {
        pt__buf_lit(b, ",\"metadata\":");
        if ((r = ptref_fields_json(b, "metadata", ev->metadata, ev->metadata_count, NULL, 0, err)) != PT_OK) return r;
    }
    if (has_extra || host_ctx_len) {
        pt__buf_lit(b, ",\"extra\":");
        if ((r = ptref_fields_json(b, "extra", ev->extra, ev->extra_count, host_ctx, host_ctx_len, err)) != PT_OK) return r;
    }
    pt__buf_lit(b, ",\"idempotency_key\":");
    if (!pt__empty(ev->idempotency_key)) ptref_json_str(b, ev->idempotency_key, strlen(ev->idempotency_key));
    else {
        /* pt_event_to_json may run before any client exists: seed first, or
           every fresh process would produce the same key sequence. */
        pt__uuid_seed_init();
        pt__buf_putc(b, '"'); ptref_uuid4(key); pt__buf_put(b, key, 36); pt__buf_putc(b, '"');
    }
    pt__buf_putc(b, '}');
    if (b->oom) return pt__err(err, PT_ERR_NO_MEMORY, "out of memory while serialising the event");
    return PT_OK;
}


#endif
