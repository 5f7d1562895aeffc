/* har_import.c -- HAR 1.2 (browser and proxy exports) into the store. See docs/har.md.
 *
 * A HAR holds what the browser saw: decoded response bodies (content.text, base64 when
 * content.encoding says so), request bodies as postData.text, and timings relative to
 * startedDateTime. Each entry becomes one exchange, in file order. */
#define _GNU_SOURCE /* strptime */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "rr/buf.h"
#include "rr/err.h"
#include "rr/exchange.h"
#include "rr/har.h"
#include "rr/store.h"

struct hconn {
    char *key;
    struct rr_conn c;
};

struct imp {
    struct rr_store *s;
    struct hconn *conns;
    size_t nconns, cap;
    struct rr_header *hv;
    size_t hv_cap;
    struct rr_buf req, resp, scratch;
    struct rr_har_stats st;
    char *why;
    size_t whylen;
};

static int fail(struct imp *im, int rc, const char *fmt, ...) RR_PRINTF(3, 4);
static int fail(struct imp *im, int rc, const char *fmt, ...)
{
    va_list ap;
    if (im->why && im->whylen) {
        va_start(ap, fmt);
        vsnprintf(im->why, im->whylen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* "2016-07-05T15:22:29.570Z", "2019-03-26T10:50:14.123+01:00", fractions of any length.
 * Returns 0 and Unix microseconds, or -1. */
static int parse_time(const char *t, uint64_t *out)
{
    struct tm tm;
    int64_t frac_us = 0, off_s = 0;
    const char *p;
    time_t secs;

    memset(&tm, 0, sizeof(tm));
    p = strptime(t, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -1;
    if (*p == '.' || *p == ',') {
        int64_t scale = 100000;
        for (p++; isdigit((unsigned char)*p); p++) {
            frac_us += (*p - '0') * scale;
            scale /= 10;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int hh, mm = 0;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) < 1 && sscanf(p + 1, "%2d%2d", &hh, &mm) < 1)
            return -1;
        off_s = sign * (hh * 3600 + mm * 60);
        p += strlen(p);
    }
    if (*p)
        return -1;
    secs = timegm(&tm);
    if (secs == (time_t)-1 || secs - off_s < 0)
        return -1;
    *out = (uint64_t)(secs - off_s) * 1000000u + (uint64_t)frac_us;
    return 0;
}

static const char *str_at(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* HAR timings are milliseconds, -1 for "does not apply". */
static uint64_t ms_at(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    double d = json_is_number(v) ? json_number_value(v) : -1;
    return d > 0 ? (uint64_t)(d * 1000.0 + 0.5) : 0;
}

static uint8_t version_of(const char *v)
{
    if (!v)
        return 11;
    if (strcasecmp(v, "HTTP/1.0") == 0)
        return 10;
    if (strcasecmp(v, "h2") == 0 || strncasecmp(v, "HTTP/2", 6) == 0 || strcasecmp(v, "h2c") == 0)
        return 20;
    /* h3 has no version of its own in the model: it replays as HTTP/2 would. */
    if (strcasecmp(v, "h3") == 0 || strncasecmp(v, "HTTP/3", 6) == 0)
        return 20;
    return 11;
}

/* Splits an absolute URL into scheme, authority and target (path and query). */
static int split_url(const char *url, struct rr_view *scheme, struct rr_view *auth,
                     struct rr_view *target)
{
    const char *p = strstr(url, "://");
    if (!p || p == url)
        return -1;
    *scheme = rr_view_of(url, (size_t)(p - url));
    p += 3;
    const char *a = p;
    while (*p && *p != '/' && *p != '?' && *p != '#')
        p++;
    if (p == a)
        return -1;
    *auth = rr_view_of(a, (size_t)(p - a));
    /* The fragment never goes on the wire. */
    const char *e = strchr(p, '#');
    size_t tl = e ? (size_t)(e - p) : strlen(p);
    if (tl == 0 || *p == '?')
        *target = rr_view_of("/", 1);
    else
        *target = rr_view_of(p, tl);
    return 0;
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decodes base64 (standard or URL alphabet, whitespace ignored, padding optional). */
static int b64_decode(const char *s, size_t n, struct rr_buf *out)
{
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '=')
            break;
        if (isspace(c))
            continue;
        int v = b64val(c);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            rr_buf_addc(out, (uint8_t)(acc >> bits));
        }
    }
    return 0;
}

static void url_encode_into(struct rr_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || strchr("-._~", c))
            rr_buf_addc(b, c);
        else if (c == ' ')
            rr_buf_addc(b, '+');
        else
            rr_buf_printf(b, "%%%02X", c);
    }
}

/* Header views for one message; pseudo headers (HTTP/2 exports) are left out. Returns the
 * count placed at hv[at]. */
static size_t add_headers(struct imp *im, size_t at, json_t *arr, int *bad)
{
    size_t n = 0, total = json_array_size(arr);
    if (at + total > im->hv_cap) {
        im->hv_cap = (at + total) * 2 + 16;
        im->hv = rr_xrealloc(im->hv, im->hv_cap * sizeof(*im->hv));
    }
    for (size_t i = 0; i < total; i++) {
        json_t *h = json_array_get(arr, i);
        const char *nm = str_at(h, "name"), *v = str_at(h, "value");
        if (!nm || !v) {
            *bad = (int)i + 1;
            return n;
        }
        if (nm[0] == ':')
            continue;
        im->hv[at + n].name = rr_view_of(nm, strlen(nm));
        im->hv[at + n].value = rr_view_of(v, strlen(v));
        n++;
    }
    return n;
}

static int conn_for(struct imp *im, json_t *e, const struct rr_view scheme,
                    const struct rr_view auth, uint8_t version, uint64_t t0, uint64_t t1,
                    uint64_t *out_id)
{
    json_t *cj = json_object_get(e, "connection");
    const char *ip = str_at(e, "serverIPAddress");
    char key[512];
    int rc;

    /* Browsers number connections; ids may repeat across servers in odd exports, so the
     * authority is part of the key. */
    if (json_is_string(cj))
        snprintf(key, sizeof(key), "%s|%.*s", json_string_value(cj), (int)auth.len, auth.p);
    else if (json_is_integer(cj))
        snprintf(key, sizeof(key), "%lld|%.*s", (long long)json_integer_value(cj), (int)auth.len,
                 auth.p);
    else
        snprintf(key, sizeof(key), "%.*s://%.*s", (int)scheme.len, scheme.p, (int)auth.len, auth.p);
    for (size_t i = 0; i < im->nconns; i++) {
        struct hconn *h = &im->conns[i];
        if (strcmp(h->key, key) == 0) {
            if (t1 > h->c.t_last_us)
                h->c.t_last_us = t1;
            *out_id = h->c.id;
            return RR_OK;
        }
    }
    if (im->nconns == im->cap) {
        im->cap = im->cap ? im->cap * 2 : 16;
        im->conns = rr_xrealloc(im->conns, im->cap * sizeof(*im->conns));
    }
    struct hconn *h = &im->conns[im->nconns++];
    memset(h, 0, sizeof(*h));
    h->key = rr_xstrdup(key);
    h->c.proto = version == 20 ? RR_PROTO_H2 : RR_PROTO_H1;
    h->c.ip_version = 4;
    h->c.t_first_us = t0;
    h->c.t_last_us = t1;
    /* The server port is in the authority, else the scheme's default. */
    const uint8_t *colon = NULL;
    for (size_t i = auth.len; i-- > 0;) {
        if (auth.p[i] == ':') {
            colon = auth.p + i;
            break;
        }
        if (auth.p[i] == ']')
            break;
    }
    if (colon)
        h->c.server_port = (uint16_t)strtoul((const char *)colon + 1, NULL, 10);
    else
        h->c.server_port = rr_view_caseeqs(scheme, "https") ? 443 : 80;
    if (ip) {
        char tmp[64];
        size_t l = strlen(ip);
        if (ip[0] == '[' && l >= 2 && l - 2 < sizeof(tmp)) {
            memcpy(tmp, ip + 1, l - 2);
            tmp[l - 2] = 0;
        } else {
            snprintf(tmp, sizeof(tmp), "%s", ip);
        }
        if (inet_pton(AF_INET, tmp, h->c.server_ip) == 1)
            h->c.ip_version = 4;
        else if (inet_pton(AF_INET6, tmp, h->c.server_ip) == 1)
            h->c.ip_version = 6;
    }
    rc = rr_store_conn_put(im->s, &h->c);
    if (rc)
        return rc;
    im->st.conns++;
    *out_id = h->c.id;
    return RR_OK;
}

static int import_entry(struct imp *im, json_t *e, size_t idx)
{
    json_t *req = json_object_get(e, "request"), *resp = json_object_get(e, "response");
    json_t *timings = json_object_get(e, "timings");
    struct rr_exchange x;
    struct rr_view scheme, auth, target;
    const char *method, *url, *started;
    uint64_t t0;
    int bad = 0, rc;

    if (!json_is_object(e))
        return fail(im, RR_EPARSE, "entry %zu: not an object", idx);
    if (!json_is_object(req))
        return fail(im, RR_EPARSE, "entry %zu: missing request", idx);
    if (!(method = str_at(req, "method")))
        return fail(im, RR_EPARSE, "entry %zu: missing request.method", idx);
    if (!(url = str_at(req, "url")))
        return fail(im, RR_EPARSE, "entry %zu: missing request.url", idx);
    if (!(started = str_at(e, "startedDateTime")))
        return fail(im, RR_EPARSE, "entry %zu: missing startedDateTime", idx);
    if (parse_time(started, &t0))
        return fail(im, RR_EPARSE, "entry %zu: startedDateTime \"%.40s\" is not an ISO 8601 time",
                    idx, started);
    if (!json_is_array(json_object_get(req, "headers")))
        return fail(im, RR_EPARSE, "entry %zu: missing request.headers", idx);
    if (!json_is_object(resp))
        return fail(im, RR_EPARSE, "entry %zu: missing response", idx);
    /* Chrome lists what it served from its memory or disk cache: those never went on the
     * wire, so a replay must not send them. */
    json_t *fc = json_object_get(e, "_fromCache");
    if ((json_is_string(fc) && json_string_length(fc) > 0) ||
        json_is_true(json_object_get(e, "_fromDiskCache"))) {
        im->st.skipped++;
        return RR_OK;
    }
    if (split_url(url, &scheme, &auth, &target)) {
        /* data:, blob:, about: and similar never went over HTTP. */
        im->st.skipped++;
        return RR_OK;
    }

    memset(&x, 0, sizeof(x));
    x.version = version_of(str_at(req, "httpVersion"));
    x.method = rr_view_of(method, strlen(method));
    x.scheme = scheme;
    x.authority = auth;
    x.target = target;

    /* Times: blocked, dns, connect (ssl is inside connect) come before the request. */
    uint64_t pre = ms_at(timings, "blocked") + ms_at(timings, "dns") + ms_at(timings, "connect");
    x.t_req_start_us = t0 + pre;
    x.t_req_end_us = x.t_req_start_us + ms_at(timings, "send");
    x.t_resp_start_us = x.t_req_end_us + ms_at(timings, "wait");
    x.t_resp_end_us = x.t_resp_start_us + ms_at(timings, "receive");

    x.n_req_headers = add_headers(im, 0, json_object_get(req, "headers"), &bad);
    if (bad)
        return fail(im, RR_EPARSE, "entry %zu: request.headers[%d] needs a name and a value", idx,
                    bad - 1);
    json_t *rh = json_object_get(resp, "headers");
    x.n_resp_headers = json_is_array(rh) ? add_headers(im, x.n_req_headers, rh, &bad) : 0;
    if (bad)
        return fail(im, RR_EPARSE, "entry %zu: response.headers[%d] needs a name and a value", idx,
                    bad - 1);
    x.req_headers = im->hv;
    x.resp_headers = im->hv + x.n_req_headers;
    /* A HAR keeps the Host of HTTP/1.1 requests as a header; it wins over the URL. */
    struct rr_view host = {NULL, 0};
    for (size_t i = 0; i < x.n_req_headers && !host.p; i++)
        if (rr_view_caseeqs(x.req_headers[i].name, "host"))
            host = x.req_headers[i].value;
    if (host.p && host.len)
        x.authority = host;

    /* Request body: postData.text, else its params as a form. */
    rr_buf_reset(&im->req);
    json_t *pd = json_object_get(req, "postData");
    if (json_is_object(pd)) {
        const char *text = str_at(pd, "text");
        json_t *params = json_object_get(pd, "params");
        const char *penc = str_at(pd, "encoding");
        if (text && penc && strcasecmp(penc, "base64") == 0) {
            /* not in HAR 1.2, but written by rrload export for a body that is not text */
            if (b64_decode(text, strlen(text), &im->req))
                return fail(im, RR_EPARSE, "entry %zu: request.postData.text is not base64", idx);
        } else if (text) {
            rr_buf_add(&im->req, text, strlen(text));
        } else if (json_is_array(params)) {
            for (size_t i = 0; i < json_array_size(params); i++) {
                json_t *pp = json_array_get(params, i);
                const char *n = str_at(pp, "name"), *v = str_at(pp, "value");
                if (!n)
                    return fail(im, RR_EPARSE,
                                "entry %zu: request.postData.params[%zu] "
                                "needs a name",
                                idx, i);
                if (i)
                    rr_buf_addc(&im->req, '&');
                url_encode_into(&im->req, n);
                rr_buf_addc(&im->req, '=');
                url_encode_into(&im->req, v ? v : "");
            }
        }
    }
    json_t *bs = json_object_get(req, "bodySize");
    if (im->req.len == 0 && json_is_integer(bs) && json_integer_value(bs) > 0)
        x.flags |= RR_XF_INCOMPLETE; /* the export left the request body out */

    /* Response. Status 0: blocked or failed in the browser. */
    json_t *stj = json_object_get(resp, "status");
    if (!json_is_number(stj))
        return fail(im, RR_EPARSE, "entry %zu: missing response.status", idx);
    double stv = json_number_value(stj);
    x.status = stv >= 100 && stv <= 999 ? (uint16_t)stv : 0;
    const char *st_text = str_at(resp, "statusText");
    if (x.status && st_text)
        x.reason = rr_view_of(st_text, strlen(st_text)); /* HTTP/2 has none: "" */
    if (!x.status)
        x.flags |= RR_XF_NO_RESPONSE;
    json_t *pushed = json_object_get(e, "_was_pushed");
    if (json_is_true(pushed) || (json_is_integer(pushed) && json_integer_value(pushed)))
        x.flags |= RR_XF_PUSH; /* Chrome: an HTTP/2 push the page used */
    rr_buf_reset(&im->resp);
    json_t *content = json_object_get(resp, "content");
    const char *text = json_is_object(content) ? str_at(content, "text") : NULL;
    if (text) {
        const char *enc = str_at(content, "encoding");
        if (enc && strcasecmp(enc, "base64") == 0) {
            if (b64_decode(text, strlen(text), &im->resp))
                return fail(im, RR_EPARSE, "entry %zu: response.content.text is not base64", idx);
        } else {
            rr_buf_add(&im->resp, text, strlen(text));
        }
    }
    /* The HAR body is the decoded one; its wire length is bodySize (what was transferred,
     * -1 when unknown, 0 when served from cache). */
    json_t *rbs = json_object_get(resp, "bodySize");
    json_t *csz = json_is_object(content) ? json_object_get(content, "size") : NULL;
    if (json_is_integer(rbs) && json_integer_value(rbs) > 0)
        x.resp_wire_len = (uint64_t)json_integer_value(rbs);
    else if (json_is_integer(csz) && json_integer_value(csz) > 0)
        x.resp_wire_len = (uint64_t)json_integer_value(csz);
    else
        x.resp_wire_len = im->resp.len;
    if (rr_exchange_header(x.resp_headers, x.n_resp_headers, "content-encoding").p && im->resp.len)
        x.flags |= RR_XF_DECODED;

    rc = conn_for(im, e, scheme, auth, x.version, t0, x.t_resp_end_us, &x.conn_id);
    if (rc)
        return fail(im, rc, "entry %zu: storing the connection: %s", idx, rr_strerror(rc));
    rc = rr_store_exchange_put(im->s, &x, im->req.p, im->req.len, im->resp.p, im->resp.len);
    if (rc)
        return fail(im, rc, "entry %zu: storing the exchange: %s", idx, rr_strerror(rc));
    im->st.exchanges++;
    im->st.body_bytes += im->req.len + im->resp.len;
    return RR_OK;
}

int rr_har_import(struct rr_store *s, const char *path, struct rr_har_stats *stats, char *why,
                  size_t whylen)
{
    struct imp im;
    json_error_t jerr;
    json_t *root = NULL, *log, *entries;
    int rc = RR_OK;

    memset(&im, 0, sizeof(im));
    im.s = s;
    im.why = why;
    im.whylen = whylen;
    if (why && whylen)
        why[0] = 0;
    rr_buf_init(&im.req);
    rr_buf_init(&im.resp);
    rr_buf_init(&im.scratch);
    /* Read whole: some exporters (Fiddler, Charles on Windows) start with a UTF-8 BOM,
     * which the JSON parser would reject. */
    FILE *f = fopen(path, "rb");
    if (!f) {
        rc = -errno;
        fail(&im, rc, "cannot open: %s", strerror(errno));
        goto out;
    }
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rr_buf_add(&im.scratch, chunk, n);
    if (ferror(f)) {
        rc = -EIO;
        fclose(f);
        fail(&im, rc, "cannot read: %s", strerror(EIO));
        goto out;
    }
    fclose(f);
    size_t skip = im.scratch.len >= 3 && memcmp(im.scratch.p, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
    root = json_loadb((const char *)im.scratch.p + skip, im.scratch.len - skip, 0, &jerr);
    rr_buf_fini(&im.scratch);
    if (!root) {
        rc = fail(&im, RR_EPARSE, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        goto out;
    }
    log = json_object_get(root, "log");
    if (!json_is_object(log)) {
        rc = fail(&im, RR_EPARSE, "not a HAR file: missing the \"log\" object");
        goto out;
    }
    entries = json_object_get(log, "entries");
    if (!json_is_array(entries)) {
        rc = fail(&im, RR_EPARSE, "not a HAR file: missing log.entries");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(entries); i++) {
        im.st.entries++;
        rc = import_entry(&im, json_array_get(entries, i), i);
        if (rc)
            goto out;
    }
    /* Connections got their last time only as later entries came: store them again. */
    for (size_t i = 0; i < im.nconns; i++) {
        rc = rr_store_conn_put(s, &im.conns[i].c);
        if (rc) {
            rc = fail(&im, rc, "storing a connection: %s", rr_strerror(rc));
            goto out;
        }
    }
out:
    if (stats)
        *stats = im.st;
    for (size_t i = 0; i < im.nconns; i++)
        free(im.conns[i].key);
    free(im.conns);
    free(im.hv);
    rr_buf_fini(&im.req);
    rr_buf_fini(&im.resp);
    rr_buf_fini(&im.scratch);
    json_decref(root);
    return rc;
}
