/* har_export.c -- The recorded exchanges of a store as HAR 1.2 (docs/har.md, "HAR export").
 *
 * One entry per exchange, in capture order; the file is written as the store is walked, one
 * entry per line, so a large recording never sits in memory as one JSON tree. Bodies are
 * given as a HAR viewer expects them: decoded (gzip, deflate), as text when they are UTF-8,
 * else base64 with "encoding": "base64". What rrload import reads back is the same exchange:
 * method, URL, version, headers in order, bodies, status and reason, times to the
 * microsecond, connection and server address. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "har_export.h"
#include "rr/exchange.h"
#include "rr/text.h"

#define INFLATE_CAP (256u << 20) /* a decoded body larger than this stays encoded */

struct hx {
    struct rr_store *s;
    FILE *f;
    struct rr_har_export_stats *st;
    struct rr_buf body, dec, tmp;
    uint64_t conn_id; /* the connection of conn (0: none read yet) */
    struct rr_conn conn;
    int have_conn;
    char *why;
    size_t whylen;
};

/* Whether p is UTF-8 without NUL bytes (a C reader of the HAR would cut at a NUL). */
static int utf8_ok(const uint8_t *p, size_t n)
{
    return !n || (!memchr(p, 0, n) && rr_utf8_is_valid(p, n));
}

/* A JSON string of bytes that should be text (header values, URLs): as is when UTF-8, else
 * each byte as the Latin-1 character, which is how HTTP/1.1 defines obs-text. */
static json_t *jstr(const void *p, size_t n)
{
    const uint8_t *b = p;
    if (!p)
        return json_string("");
    if (utf8_ok(b, n))
        return json_stringn((const char *)b, n);
    struct rr_buf u;
    rr_buf_init(&u);
    for (size_t i = 0; i < n; i++) {
        if (b[i] == 0) {
            rr_buf_adds(&u, "\xef\xbf\xbd"); /* U+FFFD: JSON strings here never hold NUL */
        } else if (b[i] < 0x80) {
            rr_buf_addc(&u, b[i]);
        } else {
            rr_buf_addc(&u, (uint8_t)(0xc0 | (b[i] >> 6)));
            rr_buf_addc(&u, (uint8_t)(0x80 | (b[i] & 0x3f)));
        }
    }
    json_t *j = json_stringn((const char *)u.p, u.len);
    rr_buf_fini(&u);
    return j;
}

static json_t *jview(struct rr_view v)
{
    return jstr(v.p, v.len);
}

/* Sets obj.text (and obj.encoding "base64" when the bytes are not UTF-8 text). */
static void set_text(json_t *obj, const uint8_t *p, size_t n, struct rr_buf *tmp)
{
    if (utf8_ok(p, n)) {
        json_object_set_new(obj, "text", json_stringn(n ? (const char *)p : "", n));
        return;
    }
    rr_buf_reset(tmp);
    rr_base64_encode(p, n, tmp);
    json_object_set_new(obj, "text", json_stringn((const char *)tmp->p, tmp->len));
    json_object_set_new(obj, "encoding", json_string("base64"));
}

static json_t *headers_json(const struct rr_header *h, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            a, json_pack("{s:o,s:o}", "name", jview(h[i].name), "value", jview(h[i].value)));
    return a;
}

static struct rr_view trim(const uint8_t *p, size_t n)
{
    while (n && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return rr_view_of(p, n);
}

/* Cookie: a=1; b=2 (every Cookie header) as [{name, value}]. */
static json_t *req_cookies(const struct rr_exchange *x)
{
    json_t *a = json_array();
    for (size_t i = 0; i < x->n_req_headers; i++) {
        if (!rr_view_caseeqs(x->req_headers[i].name, "cookie"))
            continue;
        const uint8_t *p = x->req_headers[i].value.p, *end = p + x->req_headers[i].value.len;
        while (p && p < end) {
            const uint8_t *semi = memchr(p, ';', (size_t)(end - p));
            const uint8_t *e = semi ? semi : end;
            const uint8_t *eq = memchr(p, '=', (size_t)(e - p));
            struct rr_view nm = trim(p, (size_t)((eq ? eq : e) - p));
            struct rr_view v = eq ? trim(eq + 1, (size_t)(e - eq - 1)) : rr_view_of("", 0);
            if (nm.len)
                json_array_append_new(a,
                                      json_pack("{s:o,s:o}", "name", jview(nm), "value", jview(v)));
            p = semi ? semi + 1 : end;
        }
    }
    return a;
}

/* Set-Cookie: name=value; Path=/; Domain=d; Expires=...; HttpOnly; Secure; SameSite=x */
static json_t *resp_cookies(const struct rr_exchange *x)
{
    json_t *a = json_array();
    for (size_t i = 0; i < x->n_resp_headers; i++) {
        if (!rr_view_caseeqs(x->resp_headers[i].name, "set-cookie"))
            continue;
        const uint8_t *p = x->resp_headers[i].value.p, *end = p + x->resp_headers[i].value.len;
        json_t *c = NULL;
        while (p && p < end) {
            const uint8_t *semi = memchr(p, ';', (size_t)(end - p));
            const uint8_t *e = semi ? semi : end;
            const uint8_t *eq = memchr(p, '=', (size_t)(e - p));
            struct rr_view nm = trim(p, (size_t)((eq ? eq : e) - p));
            struct rr_view v = eq ? trim(eq + 1, (size_t)(e - eq - 1)) : rr_view_of("", 0);
            if (!c) {
                c = json_pack("{s:o,s:o}", "name", jview(nm), "value", jview(v));
            } else if (rr_view_caseeqs(nm, "path")) {
                json_object_set_new(c, "path", jview(v));
            } else if (rr_view_caseeqs(nm, "domain")) {
                json_object_set_new(c, "domain", jview(v));
            } else if (rr_view_caseeqs(nm, "expires")) {
                json_object_set_new(c, "expires", jview(v));
            } else if (rr_view_caseeqs(nm, "httponly")) {
                json_object_set_new(c, "httpOnly", json_true());
            } else if (rr_view_caseeqs(nm, "secure")) {
                json_object_set_new(c, "secure", json_true());
            } else if (rr_view_caseeqs(nm, "samesite")) {
                json_object_set_new(c, "sameSite", jview(v));
            }
            p = semi ? semi + 1 : end;
        }
        if (c)
            json_array_append_new(a, c);
    }
    return a;
}

/* A query part percent-decoded (as browsers show it); raw when the result is not UTF-8. */
static json_t *query_part(const uint8_t *p, size_t n, struct rr_buf *tmp)
{
    rr_buf_reset(tmp);
    for (size_t i = 0; i < n; i++) {
        int h, l;
        if (p[i] == '%' && i + 2 < n && (h = rr_hex_val(p[i + 1])) >= 0 &&
            (l = rr_hex_val(p[i + 2])) >= 0) {
            rr_buf_addc(tmp, (uint8_t)(h * 16 + l));
            i += 2;
        } else {
            rr_buf_addc(tmp, p[i]);
        }
    }
    if (utf8_ok(tmp->p, tmp->len))
        return json_stringn(tmp->len ? (const char *)tmp->p : "", tmp->len);
    return jstr(p, n);
}

static json_t *query_string(struct rr_view target, struct rr_buf *tmp)
{
    json_t *a = json_array();
    const uint8_t *q = target.len ? memchr(target.p, '?', target.len) : NULL;
    if (!q)
        return a;
    const uint8_t *end = target.p + target.len, *hash = memchr(q, '#', (size_t)(end - q));
    if (hash)
        end = hash;
    for (const uint8_t *p = q + 1; p < end;) {
        const uint8_t *amp = memchr(p, '&', (size_t)(end - p));
        const uint8_t *e = amp ? amp : end;
        const uint8_t *eq = memchr(p, '=', (size_t)(e - p));
        if (e > p) {
            json_t *nm = query_part(p, (size_t)((eq ? eq : e) - p), tmp);
            json_t *v = eq ? query_part(eq + 1, (size_t)(e - eq - 1), tmp) : json_string("");
            json_array_append_new(a, json_pack("{s:o,s:o}", "name", nm, "value", v));
        }
        p = amp ? amp + 1 : end;
    }
    return a;
}

static const char *http_version(uint8_t v)
{
    return v == 10 ? "HTTP/1.0" : v == 20 ? "HTTP/2.0" : "HTTP/1.1";
}

/* Microseconds since the epoch as ISO 8601 UTC with six decimals. */
static void iso_time(uint64_t us, char *out, size_t len)
{
    time_t secs = (time_t)(us / 1000000);
    struct tm tm;
    char d[40];
    gmtime_r(&secs, &tm);
    strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, len, "%s.%06uZ", d, (unsigned)(us % 1000000));
}

static double ms_between(uint64_t a, uint64_t b)
{
    return a && b > a ? (double)(b - a) / 1000.0 : 0.0;
}

static int fail(struct hx *h, int rc, const char *what, uint64_t id)
{
    snprintf(h->why, h->whylen, "exchange %llu: %s: %s", (unsigned long long)id, what,
             rr_strerror(rc));
    return rc;
}

static int entry(const struct rr_exchange *x, void *ud)
{
    struct hx *h = ud;
    json_t *e = NULL, *req, *resp, *content;
    struct rr_view ctype;
    char when[64];
    int rc;

    if (x->conn_id && x->conn_id != h->conn_id) {
        h->conn_id = x->conn_id;
        h->have_conn = rr_store_conn_get(h->s, x->conn_id, &h->conn) == 0;
    }

    /* the URL: the target when it is absolute, else scheme://authority + target */
    struct rr_buf *u = &h->tmp;
    rr_buf_reset(u);
    int absolute = x->target.len >= 7 &&
                   (!strncasecmp((const char *)x->target.p, "http://", 7) ||
                    (x->target.len >= 8 && !strncasecmp((const char *)x->target.p, "https://", 8)));
    if (!absolute) {
        if (x->scheme.len)
            rr_buf_add(u, x->scheme.p, x->scheme.len);
        else
            rr_buf_adds(u, "http");
        rr_buf_adds(u, "://");
        if (x->authority.len) {
            rr_buf_add(u, x->authority.p, x->authority.len);
        } else if (h->have_conn) {
            char ip[INET6_ADDRSTRLEN];
            int v6 = h->conn.ip_version == 6;
            inet_ntop(v6 ? AF_INET6 : AF_INET, h->conn.server_ip, ip, sizeof(ip));
            rr_buf_printf(u, v6 ? "[%s]:%u" : "%s:%u", ip, h->conn.server_port);
        }
        if (!x->target.len || x->target.p[0] != '/')
            rr_buf_addc(u, '/');
    }
    rr_buf_add(u, x->target.p, x->target.len);
    json_t *url = jstr(u->p, u->len);

    /* request */
    rr_buf_reset(&h->body);
    if (x->req_body.len && (rc = rr_store_body_get(h->s, &x->req_body, &h->body)))
        return fail(h, rc, "request body", x->id);
    req = json_pack("{s:o,s:o,s:s,s:o,s:o,s:o,s:i,s:I}", "method", jview(x->method), "url", url,
                    "httpVersion", http_version(x->version), "headers",
                    headers_json(x->req_headers, x->n_req_headers), "queryString",
                    query_string(x->target, &h->tmp), "cookies", req_cookies(x), "headersSize", -1,
                    "bodySize", (json_int_t)h->body.len);
    if (h->body.len) {
        ctype = rr_exchange_header(x->req_headers, x->n_req_headers, "content-type");
        json_t *pd = json_pack("{s:o}", "mimeType", jview(ctype));
        set_text(pd, h->body.p, h->body.len, &h->tmp);
        json_object_set_new(req, "postData", pd);
        h->st->body_bytes += h->body.len;
    }

    /* response: the body decoded for reading, base64 when it is not text */
    int answered = x->status && !(x->flags & RR_XF_NO_RESPONSE);
    const uint8_t *bp = NULL;
    size_t bl = 0;
    rr_buf_reset(&h->body);
    if (answered && x->resp_body.len) {
        if ((rc = rr_store_body_get(h->s, &x->resp_body, &h->body)))
            return fail(h, rc, "response body", x->id);
        bp = h->body.p;
        bl = h->body.len;
        struct rr_view ce =
            rr_exchange_header(x->resp_headers, x->n_resp_headers, "content-encoding");
        ce = trim(ce.p, ce.len);
        int gz = rr_view_caseeqs(ce, "gzip") || rr_view_caseeqs(ce, "x-gzip");
        if (!(x->flags & RR_XF_DECODED) && (gz || rr_view_caseeqs(ce, "deflate"))) {
            if (rr_exchange_inflate(bp, bl, gz ? RR_CODING_GZIP : RR_CODING_DEFLATE, INFLATE_CAP, 0,
                                    &h->dec) == 0) {
                bp = h->dec.p;
                bl = h->dec.len;
                h->st->decoded++;
            }
        }
        h->st->body_bytes += bl;
    }
    ctype = rr_exchange_header(x->resp_headers, x->n_resp_headers, "content-type");
    content = json_pack("{s:I,s:o}", "size", (json_int_t)bl, "mimeType", jview(ctype));
    if (answered && x->resp_body.len)
        set_text(content, bp, bl, &h->tmp);
    struct rr_view loc = rr_exchange_header(x->resp_headers, x->n_resp_headers, "location");
    const char *reason = x->reason.len ? NULL : rr_http_reason(x->status);
    resp = json_pack("{s:i,s:o,s:s,s:o,s:o,s:o,s:o,s:i,s:I}", "status", answered ? x->status : 0,
                     "statusText", reason ? json_string(reason) : jview(x->reason), "httpVersion",
                     answered ? http_version(x->version) : "", "headers",
                     headers_json(x->resp_headers, x->n_resp_headers), "cookies", resp_cookies(x),
                     "content", content, "redirectURL", jview(loc), "headersSize", -1, "bodySize",
                     answered ? (json_int_t)x->resp_wire_len : (json_int_t)-1);

    /* times: the request from its first byte; send, wait, receive between the four marks */
    double send = ms_between(x->t_req_start_us, x->t_req_end_us);
    double wait =
        ms_between(x->t_req_end_us ? x->t_req_end_us : x->t_req_start_us, x->t_resp_start_us);
    double recv = ms_between(x->t_resp_start_us, x->t_resp_end_us);
    iso_time(x->t_req_start_us, when, sizeof(when));
    json_t *timings =
        json_pack("{s:i,s:i,s:i,s:i,s:f,s:f,s:f}", "blocked", -1, "dns", -1, "connect", -1, "ssl",
                  -1, "send", send, "wait", wait, "receive", recv);
    e = json_pack("{s:s,s:f,s:o,s:o,s:o,s:o}", "startedDateTime", when, "time", send + wait + recv,
                  "request", req, "response", resp, "cache", json_object(), "timings", timings);
    if (!e)
        return fail(h, -ENOMEM, "building the entry", x->id);
    if (h->have_conn) {
        char ip[INET6_ADDRSTRLEN];
        if (inet_ntop(h->conn.ip_version == 6 ? AF_INET6 : AF_INET, h->conn.server_ip, ip,
                      sizeof(ip)) &&
            strcmp(ip, "0.0.0.0") && strcmp(ip, "::"))
            json_object_set_new(e, "serverIPAddress", json_string(ip));
    }
    if (x->conn_id) {
        char cid[32];
        snprintf(cid, sizeof(cid), "%llu", (unsigned long long)x->conn_id);
        json_object_set_new(e, "connection", json_string(cid));
    }
    if (x->flags & RR_XF_PUSH)
        json_object_set_new(e, "_was_pushed", json_integer(1));

    char *text = json_dumps(e, JSON_COMPACT | JSON_REAL_PRECISION(15) | JSON_PRESERVE_ORDER);
    json_decref(e);
    if (!text)
        return fail(h, -ENOMEM, "writing the entry", x->id);
    fputs(h->st->entries ? ",\n    " : "\n    ", h->f);
    fputs(text, h->f);
    free(text);
    h->st->entries++;
    return ferror(h->f) ? fail(h, -EIO, "writing", x->id) : 0;
}

int rr_har_export(struct rr_store *s, FILE *f, const char *version, struct rr_har_export_stats *st,
                  char *why, size_t whylen)
{
    struct rr_har_export_stats dummy;
    struct hx h;
    int rc;

    if (!st)
        st = &dummy;
    memset(st, 0, sizeof(*st));
    memset(&h, 0, sizeof(h));
    h.s = s;
    h.f = f;
    h.st = st;
    h.why = why;
    h.whylen = whylen;
    if (whylen)
        why[0] = 0;
    rr_buf_init(&h.body);
    rr_buf_init(&h.dec);
    rr_buf_init(&h.tmp);
    json_t *creator = json_pack("{s:s,s:s}", "name", "rrload", "version", version);
    char *ctext = json_dumps(creator, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(creator);
    fprintf(f, "{\"log\": {\n  \"version\": \"1.2\",\n  \"creator\": %s,\n  \"entries\": [",
            ctext ? ctext : "{}");
    free(ctext);
    rc = rr_store_exchange_foreach(s, 0, entry, &h);
    if (rc && !*why)
        snprintf(why, whylen, "reading the exchanges: %s", rr_strerror(rc));
    if (!rc && !st->entries) {
        snprintf(why, whylen, "no recorded exchanges to export");
        rc = RR_ENOTFOUND;
    }
    fputs(st->entries ? "\n  ]\n}}\n" : "]\n}}\n", f);
    rr_buf_fini(&h.body);
    rr_buf_fini(&h.dec);
    rr_buf_fini(&h.tmp);
    return rc;
}
