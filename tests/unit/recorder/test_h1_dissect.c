/* test_h1_dissect.c -- The HTTP/1 dissector on hand-written traffic: pipelining, chunked
 * bodies with trailers, 100-continue, HEAD, 304, close-delimited bodies, Upgrade, gzip,
 * lost bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "h1_dissect.h"

struct xrec {
    char method[16], target[64], host[64];
    int status, n_interim, interim0;
    uint32_t flags;
    size_t req_len, resp_len;
    uint64_t wire_len;
    char resp[64];
};

struct col {
    struct xrec x[16];
    int n;
};

static void cp(char *dst, size_t cap, struct rr_view v)
{
    size_t n = v.len < cap - 1 ? v.len : cap - 1;
    if (n)
        memcpy(dst, v.p, n);
    dst[n] = 0;
}

static int on_x(void *ud, struct rr_exchange *x, const uint8_t *rq, size_t rql, const uint8_t *rs,
                size_t rsl)
{
    struct col *c = ud;
    assert_true(c->n < 16);
    struct xrec *r = &c->x[c->n++];
    memset(r, 0, sizeof(*r));
    cp(r->method, sizeof(r->method), x->method);
    cp(r->target, sizeof(r->target), x->target);
    cp(r->host, sizeof(r->host), x->authority);
    r->status = x->status;
    r->n_interim = x->n_interim;
    r->interim0 = x->n_interim ? x->interim[0] : 0;
    r->flags = x->flags;
    r->req_len = rql;
    r->resp_len = rsl;
    r->wire_len = x->resp_wire_len;
    cp(r->resp, sizeof(r->resp), rr_view_of(rs, rsl));
    return 0;
}

static struct rr_h1d *mk(struct col *c, unsigned flags)
{
    struct rr_dissect_sink s = {on_x, c};
    struct rr_dissect_limits lim = {1 << 20, 64 * 1024, 64};
    struct rr_h1d *d = NULL;
    memset(c, 0, sizeof(*c));
    assert_int_equal(rr_h1d_new(&d, &s, &lim, flags), 0);
    return d;
}

static void feed(struct rr_h1d *d, int dir, const char *s)
{
    assert_int_equal(rr_h1d_feed(d, (enum rr_dir)dir, (const uint8_t *)s, strlen(s), 1), 0);
}

static void done(struct rr_h1d **d)
{
    assert_int_equal(rr_h1d_finish(*d, 2), 0);
    rr_h1d_free(d);
}

static void test_pipelining(void **state)
{
    struct col c;
    struct rr_h1d *d = mk(&c, 0);
    feed(d, 0,
         "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"
         "POST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz");
    feed(d, 1,
         "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
         "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nBB");
    assert_int_equal(c.n, 2);
    feed(d, 1, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    done(&d);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.x[0].target, "/a");
    assert_string_equal(c.x[0].resp, "A");
    assert_int_equal(c.x[1].status, 404);
    assert_string_equal(c.x[1].resp, "BB");
    assert_string_equal(c.x[2].method, "POST");
    assert_int_equal(c.x[2].req_len, 3);
    assert_int_equal(c.x[2].status, 201);
    assert_string_equal(c.x[2].host, "h");
}

static void test_chunked_trailers(void **state)
{
    struct col c;
    struct rr_h1d *d = mk(&c, 0);
    feed(d, 0,
         "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
         "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    feed(d, 1,
         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
         "4\r\nwxyz\r\n0\r\nX-Sum: 1\r\n\r\n");
    done(&d);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.x[0].req_len, 5);
    assert_string_equal(c.x[0].resp, "wxyz");
    assert_int_equal(c.x[0].flags & RR_XF_INCOMPLETE, 0);
}

static void test_100_continue(void **state)
{
    struct col c;
    struct rr_h1d *d = mk(&c, 0);
    feed(d, 0, "PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    feed(d, 1, "HTTP/1.1 100 Continue\r\n\r\n");
    feed(d, 0, "data");
    feed(d, 1, "HTTP/1.1 204 No Content\r\n\r\n");
    done(&d);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.x[0].n_interim, 1);
    assert_int_equal(c.x[0].interim0, 100);
    assert_int_equal(c.x[0].status, 204);
    assert_int_equal(c.x[0].req_len, 4);
}

static void test_head_304(void **state)
{
    struct col c;
    struct rr_h1d *d = mk(&c, 0);
    feed(d, 0,
         "HEAD /x HTTP/1.1\r\nHost: h\r\n\r\nGET /y HTTP/1.1\r\nHost: h\r\n"
         "If-None-Match: \"e\"\r\n\r\nGET /z HTTP/1.1\r\nHost: h\r\n\r\n");
    feed(d, 1,
         "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
         "HTTP/1.1 304 Not Modified\r\nContent-Length: 1000\r\n\r\n"
         "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    done(&d);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.x[0].resp_len, 0);
    assert_int_equal(c.x[1].status, 304);
    assert_int_equal(c.x[1].resp_len, 0);
    assert_string_equal(c.x[2].resp, "ok");
}

static void test_close_delimited(void **state)
{
    struct col c;
    struct rr_h1d *d = mk(&c, 0);
    feed(d, 0, "GET / HTTP/1.0\r\n\r\n");
    feed(d, 1, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil ");
    feed(d, 1, "the end");
    assert_int_equal(c.n, 0);
    done(&d);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.x[0].resp, "until the end");
    assert_int_equal(c.x[0].flags & RR_XF_INCOMPLETE, 0);
}

static void test_upgrade_websocket(void **state)
{
    struct col c;
    struct rr_h1d *d = mk(&c, 0);
    feed(d, 0,
         "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
         "\x81\x05hello");
    feed(d, 1,
         "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
         "Upgrade: websocket\r\n\r\n\x81\x02hi");
    feed(d, 0, "GET /not-http HTTP/1.1\r\n\r\n");
    done(&d);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.x[0].status, 101);
    assert_true(c.x[0].flags & RR_XF_UPGRADE);
}

static void test_upgrade_refused(void **state)
{
    struct col c;
    struct rr_h1d *d = mk(&c, 0);
    feed(d, 0,
         "GET /a HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n"
         "GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    feed(d, 1,
         "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
         "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb");
    done(&d);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.x[1].target, "/b");
    assert_string_equal(c.x[1].resp, "b");
}

static void test_gzip(void **state)
{
    struct col c;
    struct rr_h1d *d = mk(&c, 0);
    const char *plain = "hello hello hello hello";
    uint8_t z[128];
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)plain;
    zs.avail_in = (uInt)strlen(plain);
    zs.next_out = z;
    zs.avail_out = sizeof(z);
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t zl = sizeof(z) - zs.avail_out;
    deflateEnd(&zs);
    char hdr[128];
    snprintf(hdr, sizeof(hdr),
             "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", zl);
    feed(d, 0, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    feed(d, 1, hdr);
    assert_int_equal(rr_h1d_feed(d, RR_DIR_S2C, z, zl, 1), 0);
    done(&d);
    assert_int_equal(c.n, 1);
    assert_true(c.x[0].flags & RR_XF_DECODED);
    assert_string_equal(c.x[0].resp, plain);
    assert_int_equal(c.x[0].wire_len, zl);
}

static void test_gap_resync(void **state)
{
    struct col c;
    struct rr_h1d *d = mk(&c, 0);
    feed(d, 0, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n");
    feed(d, 1, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01");
    /* Lost inside the body: the message stays in step. */
    assert_int_equal(rr_h1d_gap(d, RR_DIR_S2C, 5, 1), 0);
    feed(d, 1, "789");
    assert_int_equal(c.n, 1);
    assert_true(c.x[0].flags & RR_XF_GAP);
    assert_int_equal(c.x[0].wire_len, 10);
    /* Two requests, the answer to the first lost whole: the next answer is the second's. */
    feed(d, 0, "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(rr_h1d_gap(d, RR_DIR_S2C, 40, 1), 0);
    feed(d, 0, "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n");
    feed(d, 1, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n3");
    done(&d);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.x[1].target, "/2");
    assert_true(c.x[1].flags & RR_XF_NO_RESPONSE);
    assert_string_equal(c.x[2].target, "/3");
    assert_string_equal(c.x[2].resp, "3");
}

static void test_client_gap(void **state)
{
    struct col c;
    struct rr_h1d *d = mk(&c, 0);
    feed(d, 0, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n");
    feed(d, 1, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1");
    /* GET /2 is lost whole; its answer starts while GET /3 is still being sent. */
    assert_int_equal(rr_h1d_gap(d, RR_DIR_C2S, 30, 1), 0);
    feed(d, 0, "GET /3 HTTP/1.1\r\nHo");
    feed(d, 1, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2");
    feed(d, 0, "st: h\r\n\r\n");
    feed(d, 1, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n3");
    done(&d);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.x[1].target, "/3");
    assert_string_equal(c.x[1].resp, "3");
    assert_string_equal(c.x[2].method, ""); /* the answer to the lost request, alone */
    assert_string_equal(c.x[2].resp, "2");
}

static void test_midstream(void **state)
{
    struct col c;
    struct rr_h1d *d = mk(&c, RR_H1D_RESYNC_C2S | RR_H1D_RESYNC_S2C);
    feed(d, 1, "tail of a body\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    feed(d, 0, "y=1\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n");
    feed(d, 1, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nn");
    done(&d);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.x[0].method, ""); /* a response without its request */
    assert_string_equal(c.x[1].target, "/next");
    assert_string_equal(c.x[1].resp, "n");
}

static void test_lenient_request_line(void **state)
{
    struct col c;
    struct rr_h1d *d = mk(&c, 0);
    feed(d, 0, "CCM_POST /x HTTP/1.1\r\nHost: h\r\n\r\n");
    feed(d, 1, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
    done(&d);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.x[0].method, "CCM_POST");
    assert_string_equal(c.x[0].target, "/x");
    assert_int_equal(c.x[0].status, 405);
}

static void feedn(struct rr_h1d *d, int dir, const char *s, size_t n)
{
    assert_int_equal(rr_h1d_feed(d, (enum rr_dir)dir, (const uint8_t *)s, n, 1), 0);
}

/* Upgrade: h2c answered by 101: the request is its own HTTP/1.1 exchange and stream 1's
 * response comes as h2. */
static void test_upgrade_h2c(void **state)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\4\0\0\0\0\0";
    static const char server[] = "\0\0\0\4\0\0\0\0\0"     /* SETTINGS */
                                 "\0\0\1\1\4\0\0\0\1\x88" /* HEADERS :status 200 */
                                 "\0\0\2\0\1\0\0\0\1ok";  /* DATA, END_STREAM */
    struct col c;
    struct rr_h1d *d = mk(&c, 0);
    feed(d, 0,
         "GET /up HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\n"
         "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n");
    feed(d, 1, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n");
    feedn(d, 0, preface, sizeof(preface) - 1);
    feedn(d, 1, server, sizeof(server) - 1);
    done(&d);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.x[0].status, 101);
    assert_string_equal(c.x[1].target, "/up");
    assert_int_equal(c.x[1].status, 200);
    assert_string_equal(c.x[1].resp, "ok");
}

/* h2 with prior knowledge inside a CONNECT tunnel. */
static void test_connect_tunnel_h2(void **state)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\4\0\0\0\0\0"
                                  "\0\0\3\1\5\0\0\0\1\x82\x84\x86"; /* GET / http, END_STREAM */
    static const char server[] = "\0\0\0\4\0\0\0\0\0\0\0\1\1\4\0\0\0\1\x88"
                                 "\0\0\2\0\1\0\0\0\1hi";
    struct col c;
    struct rr_h1d *d = mk(&c, 0);
    feed(d, 0, "CONNECT example:80 HTTP/1.1\r\nHost: example:80\r\n\r\n");
    feed(d, 1, "HTTP/1.1 200 Connection established\r\n\r\n");
    feedn(d, 1, server, 9); /* the server's SETTINGS may come first */
    feedn(d, 0, preface, sizeof(preface) - 1);
    feedn(d, 1, server + 9, sizeof(server) - 1 - 9);
    done(&d);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.x[0].method, "CONNECT");
    assert_int_equal(c.x[0].status, 200);
    assert_string_equal(c.x[1].method, "GET");
    assert_string_equal(c.x[1].resp, "hi");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipelining),      cmocka_unit_test(test_chunked_trailers),
        cmocka_unit_test(test_100_continue),    cmocka_unit_test(test_head_304),
        cmocka_unit_test(test_close_delimited), cmocka_unit_test(test_upgrade_websocket),
        cmocka_unit_test(test_upgrade_refused), cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_gap_resync),      cmocka_unit_test(test_midstream),
        cmocka_unit_test(test_client_gap),      cmocka_unit_test(test_lenient_request_line),
        cmocka_unit_test(test_upgrade_h2c),     cmocka_unit_test(test_connect_tunnel_h2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
