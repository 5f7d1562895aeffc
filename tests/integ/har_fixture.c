/* har_fixture.c -- A store holding the exchanges a HAR export must treat with care, which the
 * sample captures lack: a gzip and a raw-deflate body the recorder could not decode, a binary
 * request body, a header value that is not UTF-8, an HTTP/2 exchange (no reason phrase), an
 * absolute-form target, a request without a response, and a redirect.
 * Usage: har_fixture OUT.db */
#include <stdio.h>
#include <string.h>

#include <zlib.h>

#include "rr/exchange.h"
#include "rr/store.h"

#define T0 UINT64_C(1795743147000000) /* 2026-11-27T01:32:27Z */

static struct rr_header H(const char *n, const char *v) {
    struct rr_header h = {rr_view_of(n, strlen(n)), rr_view_of(v, strlen(v))};
    return h;
}

static size_t
deflate_to(const char *text, int window, uint8_t *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, 6, Z_DEFLATED, window, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    z.next_in = (Bytef *)(uintptr_t)text;
    z.avail_in = (uInt)strlen(text);
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    return rc == Z_STREAM_END ? n : 0;
}

static int put(struct rr_store *s, struct rr_exchange *x, const char *method, const char *target,
               const void *req, size_t req_len, const void *resp, size_t resp_len)
{
    static uint64_t t = T0;
    x->method = rr_view_of(method, strlen(method));
    x->target = rr_view_of(target, strlen(target));
    x->scheme = rr_view_of("http", 4);
    if (!x->authority.p)
        x->authority = rr_view_of("127.0.0.1:8080", 14);
    if (!x->version)
        x->version = 11;
    x->t_req_start_us = t;
    x->t_req_end_us = t + 120;
    if (x->status) {
        x->t_resp_start_us = t + 2345;
        x->t_resp_end_us = t + 3000;
        x->resp_wire_len = resp_len;
    }
    t += 1000000;
    return rr_store_exchange_put(s, x, req, req_len, resp, resp_len);
}

int main(int argc, char **argv)
{
    struct rr_store_opts o = {0};
    struct rr_store *s = NULL;
    struct rr_conn c1 = {0}, c2 = {0};
    uint8_t gz[512], raw[512];
    static const char text[] = "{\"message\":\"compressed on the wire, readable in the HAR\"}";
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: har_fixture OUT.db\n");
        return 2;
    }
    o.path = argv[1];
    o.create = 1;
    if (rr_store_open(&s, &o, NULL, 0))
        return 1;
    c1.proto = RR_PROTO_H1;
    c1.ip_version = 4;
    memcpy(c1.server_ip, "\x7f\x00\x00\x01", 4);
    c1.server_port = 8080;
    c1.t_first_us = T0;
    c1.t_last_us = T0 + 9000000;
    c2 = c1;
    c2.proto = RR_PROTO_H2;
    c2.ip_version = 6;
    memset(c2.server_ip, 0, 16);
    c2.server_ip[15] = 1;
    rc = rr_store_conn_put(s, &c1) || rr_store_conn_put(s, &c2);

    size_t ngz = deflate_to(text, 31, gz, sizeof(gz)),
           nraw = deflate_to(text, -15, raw, sizeof(raw));
    struct rr_header gzh[] = {H("Content-Type", "application/json"), H("Content-Encoding", "gzip")};
    struct rr_header rawh[] = {H("Content-Type", "application/json"),
                               H("Content-Encoding", "deflate")};
    struct rr_header bin_req[] = {H("Host", "127.0.0.1:8080"),
                                  H("Content-Type", "application/octet-stream"),
                                  H("X-Latin", "caf\xe9")};
    struct rr_header redir[] = {H("Location", "/next?a=1"), H("Content-Length", "0"),
                                H("Set-Cookie", "sid=abc; Path=/; HttpOnly")};
    struct rr_header cookie_req[] = {H("cookie", "sid=abc; theme=dark")};
    struct rr_header h2resp[] = {H("content-type", "text/plain")};
    static const uint8_t bin[] = {0x00, 0xff, 0x10, 0x80, 'x'};
    struct rr_exchange x;

    memset(&x, 0, sizeof(x));
    x.conn_id = c1.id;
    x.status = 200;
    x.reason = rr_view_of("OK", 2);
    x.resp_headers = gzh;
    x.n_resp_headers = 2;
    rc = rc || put(s, &x, "GET", "/gzip?q=caf%C3%A9&x", NULL, 0, gz, ngz);

    memset(&x, 0, sizeof(x));
    x.conn_id = c1.id;
    x.status = 200;
    x.reason = rr_view_of("OK", 2);
    x.resp_headers = rawh;
    x.n_resp_headers = 2;
    rc = rc || put(s, &x, "GET", "/deflate", NULL, 0, raw, nraw);

    memset(&x, 0, sizeof(x));
    x.conn_id = c1.id;
    x.status = 201;
    x.reason = rr_view_of("Made", 4);
    x.req_headers = bin_req;
    x.n_req_headers = 3;
    rc = rc || put(s, &x, "POST", "/upload", bin, sizeof(bin), bin, sizeof(bin));

    memset(&x, 0, sizeof(x));
    x.conn_id = c1.id;
    x.status = 302;
    x.reason = rr_view_of("Found", 5);
    x.req_headers = cookie_req;
    x.n_req_headers = 1;
    x.resp_headers = redir;
    x.n_resp_headers = 3;
    rc = rc || put(s, &x, "GET", "http://other.example:8081/abs", NULL, 0, NULL, 0);

    memset(&x, 0, sizeof(x));
    x.conn_id = c2.id;
    x.version = 20;
    x.h2_stream = 1;
    x.status = 200;
    x.authority = rr_view_of("[::1]:8443", 10);
    x.resp_headers = h2resp;
    x.n_resp_headers = 1;
    rc = rc || put(s, &x, "GET", "/h2", NULL, 0, "hello", 5);

    memset(&x, 0, sizeof(x));
    x.conn_id = c1.id;
    x.flags = RR_XF_NO_RESPONSE;
    rc = rc || put(s, &x, "GET", "/never", NULL, 0, NULL, 0);

    rc = rc || rr_store_close(&s);
    if (rc) {
        fprintf(stderr, "har_fixture: writing %s failed\n", argv[1]);
        return 1;
    }
    return 0;
}
