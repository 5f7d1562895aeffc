/* SPDX-License-Identifier: MIT */
/* extract.c -- Values taken from responses (JSON path, header, cookie, regex), checks, the
 * per-user cookie jar and Locust's error texts. Sans-I/O: responses in, values out. */
#define _GNU_SOURCE
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <pcre2.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "rp_int.h"
#include "rr/util.h"

/* ---------------------------------------------------------------- JSON path */

/* Walks $.a.b[0]["c d"] over a parsed document. */
static json_t *walk(json_t *j, const char *path)
{
    const char *p = path;
    if (*p == '$')
        p++;
    while (j && *p) {
        if (*p == '.') {
            p++;
            size_t n = strcspn(p, ".[");
            char key[256];
            if (n == 0 || n >= sizeof(key))
                return NULL;
            memcpy(key, p, n);
            key[n] = 0;
            j = json_is_object(j) ? json_object_get(j, key) : NULL;
            p += n;
        } else if (*p == '[') {
            p++;
            if (*p == '"' || *p == '\'') {
                char qc = *p++;
                const char *e = strchr(p, qc);
                char key[256];
                if (!e || (size_t)(e - p) >= sizeof(key) || e[1] != ']')
                    return NULL;
                memcpy(key, p, (size_t)(e - p));
                key[e - p] = 0;
                j = json_is_object(j) ? json_object_get(j, key) : NULL;
                p = e + 2;
            } else {
                char *e;
                long idx = strtol(p, &e, 10);
                if (e == p || *e != ']' || !json_is_array(j))
                    return NULL;
                if (idx < 0)
                    idx += (long)json_array_size(j);
                j = idx >= 0 ? json_array_get(j, (size_t)idx) : NULL;
                p = e + 1;
            }
        } else {
            /* "a.b" without "$." */
            size_t n = strcspn(p, ".[");
            char key[256];
            if (n == 0 || n >= sizeof(key))
                return NULL;
            memcpy(key, p, n);
            key[n] = 0;
            j = json_is_object(j) ? json_object_get(j, key) : NULL;
            p += n;
        }
    }
    return j;
}

static void json_text(json_t *v, struct rr_buf *out)
{
    if (json_is_string(v)) {
        rr_buf_add(out, json_string_value(v), json_string_length(v));
        return;
    }
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (s) {
        rr_buf_adds(out, s);
        free(s);
    }
}

int rp__json_path(const char *json, size_t len, const char *path, struct rr_buf *out)
{
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, JSON_DECODE_ANY, &jerr);
    if (!doc)
        return RR_EPARSE;
    json_t *v = walk(doc, path);
    int rc = v ? 0 : RR_ENOTFOUND;
    if (v)
        json_text(v, out);
    json_decref(doc);
    return rc;
}

/* ---------------------------------------------------------------- headers and cookies */

static struct rr_view header(const struct rp_resp *resp, const char *name, size_t *from)
{
    for (size_t i = from ? *from : 0; i < resp->n_headers; i++) {
        if (rr_view_caseeqs(resp->headers[2 * i], name)) {
            if (from)
                *from = i + 1;
            return resp->headers[2 * i + 1];
        }
    }
    if (from)
        *from = resp->n_headers;
    return rr_view_of(NULL, 0);
}

/* Finds cookie name in a Set-Cookie value: "name=value; Path=/". */
static bool set_cookie_pair(struct rr_view sc, struct rr_view *name, struct rr_view *value)
{
    const char *p = (const char *)sc.p, *end = p + sc.len;
    const char *semi = memchr(p, ';', sc.len);
    const char *pe = semi ? semi : end;
    const char *eq = memchr(p, '=', (size_t)(pe - p));
    if (!eq)
        return false;
    while (p < eq && isspace((unsigned char)*p))
        p++;
    const char *ne = eq;
    while (ne > p && isspace((unsigned char)ne[-1]))
        ne--;
    *name = rr_view_of(p, (size_t)(ne - p));
    const char *v = eq + 1, *ve = pe;
    while (v < ve && isspace((unsigned char)*v))
        v++;
    while (ve > v && isspace((unsigned char)ve[-1]))
        ve--;
    if (ve - v >= 2 && *v == '"' && ve[-1] == '"') {
        v++;
        ve--;
    }
    *value = rr_view_of(v, (size_t)(ve - v));
    return name->len > 0;
}

static bool cookie_expired(struct rr_view sc)
{
    const char *p = memmem(sc.p, sc.len, "Max-Age=", 8);
    if (!p)
        p = memmem(sc.p, sc.len, "max-age=", 8);
    if (p) {
        p += 8;
        return *p == '0' || *p == '-';
    }
    return false;
}

/* Removes name from the jar ("a=1; b=2"). */
static void jar_remove(struct rr_buf *jar, struct rr_view name)
{
    size_t i = 0;
    while (i < jar->len) {
        size_t start = i;
        uint8_t *semi = memchr(jar->p + i, ';', jar->len - i);
        size_t end = semi ? (size_t)(semi - jar->p) : jar->len;
        uint8_t *eq = memchr(jar->p + i, '=', end - i);
        if (eq && (size_t)(eq - (jar->p + i)) == name.len &&
            !memcmp(jar->p + i, name.p, name.len)) {
            size_t cut_end = semi ? end + 2 : end;
            if (cut_end > jar->len)
                cut_end = jar->len;
            size_t cut_start = start;
            if (!semi && start >= 2)
                cut_start = start - 2; /* drop the "; " before the last pair */
            memmove(jar->p + cut_start, jar->p + cut_end, jar->len - cut_end);
            jar->len -= cut_end - cut_start;
            return;
        }
        i = semi ? end + 2 : jar->len;
    }
}

void rp__jar_update(struct rr_buf *jar, const struct rp_resp *resp)
{
    size_t from = 0;
    for (;;) {
        struct rr_view sc = header(resp, "set-cookie", &from), n, v;
        if (!sc.p)
            break;
        if (!set_cookie_pair(sc, &n, &v))
            continue;
        jar_remove(jar, n);
        if (cookie_expired(sc))
            continue;
        if (jar->len)
            rr_buf_adds(jar, "; ");
        rr_buf_add(jar, n.p, n.len);
        rr_buf_addc(jar, '=');
        rr_buf_add(jar, v.p, v.len);
    }
}

int rp__extract(const struct rp_extract *e, const struct rp_resp *resp, void *match_data,
                struct rr_buf *out)
{
    switch (e->kind) {
    case RR_EXTRACT_JSON:
        return rp__json_path((const char *)resp->body.p, resp->body.len, e->expr, out);
    case RR_EXTRACT_HEADER: {
        struct rr_view v = header(resp, e->expr, NULL);
        if (!v.p)
            return RR_ENOTFOUND;
        rr_buf_add(out, v.p, v.len);
        return 0;
    }
    case RR_EXTRACT_COOKIE: {
        size_t from = 0;
        for (;;) {
            struct rr_view sc = header(resp, "set-cookie", &from), n, v;
            if (!sc.p)
                return RR_ENOTFOUND;
            if (set_cookie_pair(sc, &n, &v) && rr_view_eqs(n, e->expr)) {
                rr_buf_add(out, v.p, v.len);
                return 0;
            }
        }
    }
    case RR_EXTRACT_REGEX: {
        pcre2_match_data *md = match_data;
        int rc = pcre2_match(e->re, resp->body.p ? resp->body.p : (const uint8_t *)"",
                             resp->body.len, 0, 0, md, NULL);
        if (rc < 0)
            return RR_ENOTFOUND;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        int g = rc > 1 ? 1 : 0;
        if (ov[2 * g] == PCRE2_UNSET)
            return RR_ENOTFOUND;
        rr_buf_add(out, resp->body.p + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
        return 0;
    }
    }
    return RR_EPARSE;
}

/* ---------------------------------------------------------------- checks */

/* Python's repr of a str: single quotes unless the text holds one and no double quote. */
static void py_repr(char *buf, size_t len, const char *cls, const char *msg)
{
    bool sq = strchr(msg, '\'') != NULL, dq = strchr(msg, '"') != NULL;
    char q = sq && !dq ? '"' : '\'';
    struct rr_buf b;
    rr_buf_init(&b);
    rr_buf_printf(&b, "%s(%c", cls, q);
    for (const char *p = msg; *p; p++) {
        if (*p == q || *p == '\\')
            rr_buf_addc(&b, '\\');
        rr_buf_addc(&b, (uint8_t)*p);
    }
    rr_buf_printf(&b, "%c)", q);
    snprintf(buf, len, "%s", rr_buf_cstr(&b));
    rr_buf_fini(&b);
}

static const char *status_error(const struct rp_step *s, const struct rp_resp *resp, char *buf,
                                size_t len)
{
    char msg[600];
    const char *kind = resp->status >= 500 ? "Server" : "Client";
    snprintf(msg, sizeof(msg), "%d %s Error: %.*s for url: %s", resp->status, kind,
             (int)(resp->reason.len > 200 ? 200 : resp->reason.len), (const char *)resp->reason.p,
             s->name);
    py_repr(buf, len, "HTTPError", msg);
    return buf;
}

static const char *catch_error(const struct rr_plan_check *c, const char *dflt, char *buf,
                               size_t len)
{
    py_repr(buf, len, "CatchResponseError", c->message && *c->message ? c->message : dflt);
    return buf;
}

const char *rp__check(const struct rp_step *s, const struct rp_resp *resp, double ms, char *buf,
                      size_t buflen)
{
    char dflt[512];
    /* Without a status check, HttpUser's rule: 400-599 fail. */
    if (!s->has_status_check && resp->status >= 400 && resp->status <= 599)
        return status_error(s, resp, buf, buflen);
    if (!s->src)
        return NULL;
    for (size_t i = 0; i < s->src->n_checks; i++) {
        const struct rr_plan_check *c = &s->src->checks[i];
        switch (c->kind) {
        case RR_CHECK_STATUS:
            if (resp->status < c->status_lo || resp->status > c->status_hi) {
                if (!c->message && resp->status >= 400 && resp->status <= 599)
                    return status_error(s, resp, buf, buflen);
                snprintf(dflt, sizeof(dflt), "status %d, expected %d-%d", resp->status,
                         c->status_lo, c->status_hi);
                return catch_error(c, dflt, buf, buflen);
            }
            break;
        case RR_CHECK_JSON_EQ: {
            struct rr_buf v;
            rr_buf_init(&v);
            int rc = rp__json_path((const char *)resp->body.p, resp->body.len,
                                   c->expr ? c->expr : "$", &v);
            bool ok = rc == 0 && c->value && strcmp(rr_buf_cstr(&v), c->value) == 0;
            if (!ok)
                snprintf(dflt, sizeof(dflt), "%s: expected %s, got %.200s", c->expr ? c->expr : "$",
                         c->value ? c->value : "",
                         rc == 0           ? rr_buf_cstr(&v)
                         : rc == RR_EPARSE ? "no JSON"
                                           : "nothing");
            rr_buf_fini(&v);
            if (!ok)
                return catch_error(c, dflt, buf, buflen);
            break;
        }
        case RR_CHECK_BODY_CONTAINS:
            if (!c->value || !resp->body.len ||
                !memmem(resp->body.p, resp->body.len, c->value, strlen(c->value))) {
                snprintf(dflt, sizeof(dflt), "body does not contain %.200s",
                         c->value ? c->value : "");
                return catch_error(c, dflt, buf, buflen);
            }
            break;
        case RR_CHECK_MAX_MS:
            if (ms > c->max_ms) {
                snprintf(dflt, sizeof(dflt), "response took %.0f ms, more than %.0f ms", ms,
                         c->max_ms);
                return catch_error(c, dflt, buf, buflen);
            }
            break;
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------- errors */

const char *rp__err_errno(int err, char *buf, size_t len)
{
    switch (err) {
    case ECONNREFUSED:
        return "ConnectionRefusedError(111, 'Connection refused')";
    case ECONNRESET:
        return "ConnectionResetError(104, 'Connection reset by peer')";
    case EPIPE:
        return "BrokenPipeError(32, 'Broken pipe')";
    case ETIMEDOUT:
        return "TimeoutError(110, 'Connection timed out')";
    case EHOSTUNREACH:
        return "OSError(113, 'No route to host')";
    case ENETUNREACH:
        return "OSError(101, 'Network is unreachable')";
    case EADDRNOTAVAIL:
        return "OSError(99, 'Cannot assign requested address')";
    case EMFILE:
        return "OSError(24, 'Too many open files')";
    default:
        snprintf(buf, len, "OSError(%d, '%s')", err, strerror(err));
        return buf;
    }
}

/* ---------------------------------------------------------------- Content-Encoding */

/* Extractors, checks and the counted size see the decoded body, as Locust's clients do
 * (response_length is the length of the decoded content). gzip and deflate are decoded;
 * anything else (br, zstd, identity) is left as received. */
bool rp__ce_decodes(struct rr_view v)
{
    const char *p = (const char *)v.p;
    size_t n = v.len;
    while (n && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return (n == 4 && !strncasecmp(p, "gzip", 4)) || (n == 6 && !strncasecmp(p, "x-gzip", 6)) ||
           (n == 7 && !strncasecmp(p, "deflate", 7));
}

enum {
    INF_RUN = 1,
    INF_END,
    INF_FAILED
};

void rp__inflate_start(struct rp_inflate *d)
{
    z_stream *zs = d->zs;
    if (!zs) {
        zs = rr_xcalloc(1, sizeof(*zs));
        /* 15 + 32: a gzip or a zlib header, found from the first bytes */
        if (inflateInit2(zs, 15 + 32) != Z_OK)
            rr_panic("inflateInit2");
        d->zs = zs;
    } else {
        (void)inflateReset2(zs, 15 + 32);
    }
    d->state = INF_RUN;
    d->raw_tried = false;
}

int rp__inflate_feed(struct rp_inflate *d, const void *p, size_t len, struct rr_buf *out,
                     uint64_t *n_out)
{
    z_stream *zs = d->zs;
    uint8_t tmp[16384];
    bool first = zs && zs->total_in == 0;
    const void *p0 = p;
    size_t len0 = len;
    if (d->state == INF_FAILED)
        return RR_EPARSE;
    if (d->state != INF_RUN)
        return 0; /* bytes after the end of the stream are ignored, as zlib-based clients do */
    zs->next_in = (Bytef *)(uintptr_t)p;
    zs->avail_in = 0;
    for (;;) {
        if (!zs->avail_in) {
            if (!len)
                return 0;
            zs->avail_in = len > 1u << 30 ? 1u << 30 : (uInt)len;
            len -= zs->avail_in;
        }
        uint8_t *dst = tmp;
        size_t room = sizeof(tmp);
        if (out) {
            rr_buf_reserve(out, sizeof(tmp));
            dst = out->p + out->len;
            room = out->cap - out->len;
        }
        zs->next_out = dst;
        zs->avail_out = room > 1u << 30 ? 1u << 30 : (uInt)room;
        int rc = inflate(zs, Z_NO_FLUSH);
        size_t got = (size_t)(zs->next_out - dst);
        if (out)
            out->len += got;
        *n_out += got;
        if (rc == Z_STREAM_END) {
            d->state = INF_END;
            return 0;
        }
        if (rc == Z_DATA_ERROR && first && !d->raw_tried && zs->total_out == 0) {
            /* "deflate" sent as a raw stream (no zlib header), as some servers do */
            d->raw_tried = true;
            (void)inflateReset2(zs, -15);
            return rp__inflate_feed(d, p0, len0, out, n_out);
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            d->state = INF_FAILED;
            return RR_EPARSE;
        }
    }
}

bool rp__inflate_done(const struct rp_inflate *d)
{
    return d->state == INF_END;
}

void rp__inflate_fini(struct rp_inflate *d)
{
    if (d->zs) {
        inflateEnd(d->zs);
        free(d->zs);
    }
    d->zs = NULL;
    d->state = 0;
}

void rp__ce_count_begin(struct rp_ce_count *cc, const struct rr_buf *hb, const size_t *hoff,
                        size_t n_hdr)
{
    cc->on = cc->failed = false;
    cc->n = 0;
    for (size_t i = 0; i < n_hdr; i++) {
        const size_t *h = &hoff[4 * i];
        if (rr_view_caseeqs(rr_view_of(hb->p + h[0], h[1]), "Content-Encoding") &&
            rp__ce_decodes(rr_view_of(hb->p + h[2], h[3]))) {
            rp__inflate_start(&cc->inf);
            cc->on = true;
            return;
        }
    }
}

void rp__ce_count_feed(struct rp_ce_count *cc, const void *p, size_t len)
{
    if (cc->on && !cc->failed && rp__inflate_feed(&cc->inf, p, len, NULL, &cc->n))
        cc->failed = true;
}
