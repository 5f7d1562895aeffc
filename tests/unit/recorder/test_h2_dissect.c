/* test_h2_dissect.c -- The HTTP/2 dissector against real HTTP/2 traffic.
 *
 * A real nghttp2 client session and a real nghttp2 server session talk to each other in
 * memory; every byte each one sends is logged per direction. The log is then fed to the
 * dissector (whole, in random pieces, byte by byte) and every exchange is checked against what
 * the two sessions actually did. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>
#include <zlib.h>

#include "dissect.h"
#include "h2_dissect_int.h"
#include "rr/buf.h"

/* ---------- what the server does for each request (chosen by :path) ---------- */

struct resp_plan {
    unsigned status;
    size_t body_len;   /* bytes of a pattern body */
    int gzip;          /* send the body gzip-compressed with content-encoding: gzip */
    int trailers;      /* end with a trailing HEADERS block */
    int interim;       /* send a 103 before the final response */
    int push;          /* push /pushed.css before answering */
    int rst;           /* reset the stream instead of answering */
    size_t big_header; /* a response header this long (forces CONTINUATION) */
    int empty_data;    /* end with an empty DATA frame rather than END_STREAM on HEADERS */
};

static void plan_for(const char *path, struct resp_plan *p)
{
    memset(p, 0, sizeof(*p));
    p->status = 200;
    p->body_len = 100;
    if (strstr(path, "/big"))
        p->body_len = 200000;
    if (strstr(path, "/empty"))
        p->body_len = 0;
    if (strstr(path, "/gzip"))
        p->gzip = 1, p->body_len = 50000;
    if (strstr(path, "/trailers"))
        p->trailers = 1;
    if (strstr(path, "/early"))
        p->interim = 1;
    if (strstr(path, "/push"))
        p->push = 1;
    if (strstr(path, "/srvrst"))
        p->rst = 1;
    if (strstr(path, "/longhdr"))
        p->big_header = 40000;
    if (strstr(path, "/zero"))
        p->body_len = 0, p->empty_data = 1;
    if (strstr(path, "/404"))
        p->status = 404;
}

static uint8_t pattern(size_t i, uint32_t seed)
{
    return (uint8_t)('a' + (i * 7 + seed) % 26);
}

/* ---------- the two peers ---------- */

struct seg {
    enum rr_dir dir;
    size_t off, len; /* into log */
};

struct srv_stream {
    int32_t id;
    char path[256];
    char method[16];
    size_t req_body;
    uint8_t *body; /* response body being sent */
    size_t body_len, body_off;
    int trailers;
};

struct wire {
    nghttp2_session *cli, *srv;
    struct rr_buf log;
    struct seg *segs;
    size_t nseg, segcap;
    struct srv_stream ss[512];
    size_t nss;
    int pad; /* server pads DATA and HEADERS */
    int upgraded;
    /* client side results */
    size_t cli_closed;
};

static void log_bytes(struct wire *w, enum rr_dir dir, const uint8_t *p, size_t n)
{
    if (n == 0)
        return;
    if (w->nseg == w->segcap) {
        w->segcap = w->segcap ? w->segcap * 2 : 64;
        w->segs = realloc(w->segs, w->segcap * sizeof(*w->segs));
        assert_non_null(w->segs);
    }
    w->segs[w->nseg].dir = dir;
    w->segs[w->nseg].off = w->log.len;
    w->segs[w->nseg].len = n;
    w->nseg++;
    rr_buf_add(&w->log, p, n);
}

static struct srv_stream *ss_find(struct wire *w, int32_t id, int create)
{
    for (size_t i = 0; i < w->nss; i++)
        if (w->ss[i].id == id)
            return &w->ss[i];
    if (!create)
        return NULL;
    assert_true(w->nss < 512);
    struct srv_stream *s = &w->ss[w->nss++];
    memset(s, 0, sizeof(*s));
    s->id = id;
    return s;
}

static ssize_t body_read(nghttp2_session *sess, int32_t id, uint8_t *buf, size_t len,
                         uint32_t *dflags, nghttp2_data_source *src, void *ud)
{
    struct srv_stream *s = src->ptr;
    size_t k = s->body_len - s->body_off;
    if (k > len)
        k = len;
    memcpy(buf, s->body + s->body_off, k);
    s->body_off += k;
    if (s->body_off == s->body_len) {
        *dflags |= NGHTTP2_DATA_FLAG_EOF;
        if (s->trailers) {
            nghttp2_nv tr[] = {
                {(uint8_t *)"grpc-status", (uint8_t *)"0", 11, 1, 0},
                {(uint8_t *)"x-checksum", (uint8_t *)"abc", 10, 3, 0},
            };
            *dflags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            assert_int_equal(nghttp2_submit_trailer(sess, id, tr, 2), 0);
        }
    }
    return (ssize_t)k;
}

#define NV(n, v)                                                                                   \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE                 \
    }

static void make_body(struct srv_stream *s, const struct resp_plan *p)
{
    uint8_t *raw = malloc(p->body_len + 1);
    assert_non_null(raw);
    for (size_t i = 0; i < p->body_len; i++)
        raw[i] = pattern(i, (uint32_t)s->id);
    if (!p->gzip) {
        s->body = raw;
        s->body_len = p->body_len;
        return;
    }
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, p->body_len);
    s->body = malloc(cap);
    z.next_in = raw;
    z.avail_in = (uInt)p->body_len;
    z.next_out = s->body;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    s->body_len = cap - z.avail_out;
    deflateEnd(&z);
    free(raw);
}

static void respond(struct wire *w, struct srv_stream *s)
{
    struct resp_plan p;
    char status[8], clen[24];
    nghttp2_data_provider dp;

    plan_for(s->path, &p);
    if (p.rst) {
        assert_int_equal(nghttp2_submit_rst_stream(w->srv, 0, s->id, NGHTTP2_CANCEL), 0);
        return;
    }
    if (p.interim) {
        nghttp2_nv nv[] = {NV(":status", "103"), NV("link", "</a.css>; rel=preload")};
        assert_int_equal(nghttp2_submit_headers(w->srv, 0, s->id, NULL, nv, 2, NULL), 0);
    }
    if (p.push) {
        nghttp2_nv pnv[] = {NV(":method", "GET"), NV(":scheme", "http"),
                            NV(":authority", "example.test"), NV(":path", "/pushed.css")};
        int32_t pid = nghttp2_submit_push_promise(w->srv, 0, s->id, pnv, 4, NULL);
        assert_true(pid > 0);
        struct srv_stream *ps = ss_find(w, pid, 1);
        snprintf(ps->path, sizeof(ps->path), "/pushed.css");
        struct resp_plan pp;
        plan_for(ps->path, &pp);
        make_body(ps, &pp);
        nghttp2_nv rnv[] = {NV(":status", "200"), NV("content-type", "text/css")};
        dp.source.ptr = ps;
        dp.read_callback = body_read;
        assert_int_equal(nghttp2_submit_response(w->srv, pid, rnv, 2, &dp), 0);
    }
    make_body(s, &p);
    s->trailers = p.trailers;
    snprintf(status, sizeof(status), "%u", p.status);
    snprintf(clen, sizeof(clen), "%zu", s->body_len);
    char *big = NULL;
    nghttp2_nv nv[6] = {NV(":status", status), NV("server", "test"), NV("content-length", clen)};
    size_t n = 3;
    if (p.gzip)
        nv[n++] = (nghttp2_nv)NV("content-encoding", "gzip");
    if (p.big_header) {
        big = malloc(p.big_header + 1);
        memset(big, 'x', p.big_header);
        big[p.big_header] = 0;
        nv[n++] = (nghttp2_nv)NV("x-big", big);
    }
    dp.source.ptr = s;
    dp.read_callback = body_read;
    assert_int_equal(
        nghttp2_submit_response(w->srv, s->id, nv, n,
                                s->body_len || p.trailers || p.empty_data ? &dp : NULL),
        0);
    free(big);
}

static int srv_on_header(nghttp2_session *sess, const nghttp2_frame *f, const uint8_t *name,
                         size_t nl, const uint8_t *value, size_t vl, uint8_t fl, void *ud)
{
    struct wire *w = ud;
    if (f->hd.type != NGHTTP2_HEADERS)
        return 0;
    struct srv_stream *s = ss_find(w, f->hd.stream_id, 1);
    if (nl == 5 && memcmp(name, ":path", 5) == 0 && vl < sizeof(s->path))
        memcpy(s->path, value, vl), s->path[vl] = 0;
    if (nl == 7 && memcmp(name, ":method", 7) == 0 && vl < sizeof(s->method))
        memcpy(s->method, value, vl), s->method[vl] = 0;
    return 0;
}

static int srv_on_frame(nghttp2_session *sess, const nghttp2_frame *f, void *ud)
{
    struct wire *w = ud;
    if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        struct srv_stream *s = ss_find(w, f->hd.stream_id, 0);
        if (s)
            respond(w, s);
    }
    return 0;
}

static int cli_on_close(nghttp2_session *sess, int32_t id, uint32_t code, void *ud)
{
    struct wire *w = ud;
    w->cli_closed++;
    return 0;
}

static ssize_t srv_padding(nghttp2_session *sess, const nghttp2_frame *f, size_t maxlen, void *ud)
{
    struct wire *w = ud;
    size_t want = f->hd.length + 37;
    if (!w->pad)
        return (ssize_t)f->hd.length;
    return (ssize_t)(want < maxlen ? want : maxlen);
}

static void wire_init(struct wire *w, int pad, int upgrade)
{
    nghttp2_session_callbacks *cb;
    memset(w, 0, sizeof(*w));
    rr_buf_init(&w->log);
    w->pad = pad;
    w->upgraded = upgrade;
    assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, cli_on_close);
    assert_int_equal(nghttp2_session_client_new(&w->cli, cb, w), 0);
    nghttp2_session_callbacks_del(cb);
    assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
    nghttp2_session_callbacks_set_on_header_callback(cb, srv_on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, srv_on_frame);
    nghttp2_session_callbacks_set_select_padding_callback(cb, srv_padding);
    assert_int_equal(nghttp2_session_server_new(&w->srv, cb, w), 0);
    nghttp2_session_callbacks_del(cb);

    nghttp2_settings_entry cs[] = {{NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, 65536},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
                                   {NGHTTP2_SETTINGS_ENABLE_PUSH, 1}};
    uint8_t pl[64];
    if (upgrade) {
        ssize_t n = nghttp2_pack_settings_payload(pl, sizeof(pl), cs, 3);
        assert_true(n > 0);
        assert_int_equal(nghttp2_session_upgrade2(w->cli, pl, (size_t)n, 0, NULL), 0);
        assert_int_equal(nghttp2_session_upgrade2(w->srv, pl, (size_t)n, 0, NULL), 0);
        struct srv_stream *s = ss_find(w, 1, 1);
        strcpy(s->path, "/upgraded");
        strcpy(s->method, "GET");
        respond(w, s);
    } else {
        assert_int_equal(nghttp2_submit_settings(w->cli, 0, cs, 3), 0);
    }
    nghttp2_settings_entry ss[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000},
                                   {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, 8192}};
    assert_int_equal(nghttp2_submit_settings(w->srv, 0, ss, 2), 0);
}

/* Runs both peers until neither has anything to send. */
static void pump(struct wire *w)
{
    for (int round = 0; round < 100000; round++) {
        const uint8_t *p;
        ssize_t n;
        int moved = 0;
        while ((n = nghttp2_session_mem_send(w->cli, &p)) > 0) {
            log_bytes(w, RR_DIR_C2S, p, (size_t)n);
            assert_int_equal(nghttp2_session_mem_recv(w->srv, p, (size_t)n), n);
            moved = 1;
        }
        assert_true(n >= 0);
        while ((n = nghttp2_session_mem_send(w->srv, &p)) > 0) {
            log_bytes(w, RR_DIR_S2C, p, (size_t)n);
            assert_int_equal(nghttp2_session_mem_recv(w->cli, p, (size_t)n), n);
            moved = 1;
        }
        assert_true(n >= 0);
        if (!moved)
            return;
    }
    fail_msg("peers never went quiet");
}

/* With RR_H2_SEED_DIR set, each conversation small enough is written there in the fuzz
 * target's input format (tests/fuzz/fuzz_h2.c): that is how tests/data/fuzz/h2 was made. */
static void write_seed(struct wire *w, int upgraded)
{
    static int count;
    const char *dir = getenv("RR_H2_SEED_DIR");
    char path[512];
    FILE *f;

    if (!dir || w->log.len > 60000)
        return;
    snprintf(path, sizeof(path), "%s/conv-%02d.bin", dir, count++);
    f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < w->nseg; i++) {
        uint8_t hd[3] = {(uint8_t)(w->segs[i].dir | (i == 0 && upgraded ? 4 : 0)),
                         (uint8_t)(w->segs[i].len >> 8), (uint8_t)w->segs[i].len};
        if (w->segs[i].len > 0xffff)
            continue;
        fwrite(hd, 1, 3, f);
        fwrite(w->log.p + w->segs[i].off, 1, w->segs[i].len, f);
    }
    fclose(f);
}

static void wire_fini(struct wire *w)
{
    write_seed(w, w->upgraded);
    nghttp2_session_del(w->cli);
    nghttp2_session_del(w->srv);
    for (size_t i = 0; i < w->nss; i++)
        free(w->ss[i].body);
    rr_buf_fini(&w->log);
    free(w->segs);
}

static int32_t request(struct wire *w, const char *method, const char *path, size_t body_len,
                       nghttp2_data_provider *dp, struct srv_stream *upload)
{
    nghttp2_nv nv[] = {
        NV(":method", method), NV(":scheme", "http"),      NV(":authority", "example.test"),
        NV(":path", path),     NV("user-agent", "test/1"), NV("accept", "*/*")};
    if (body_len) {
        upload->body = malloc(body_len);
        for (size_t i = 0; i < body_len; i++)
            upload->body[i] = pattern(i, 99);
        upload->body_len = body_len;
        dp->source.ptr = upload;
        dp->read_callback = body_read;
    }
    int32_t id = nghttp2_submit_request(w->cli, NULL, nv, 6, body_len ? dp : NULL, NULL);
    assert_true(id > 0);
    return id;
}

/* ---------- the dissector side ---------- */

struct got {
    struct rr_exchange x;
    char method[16], path[256], authority[64];
    uint8_t *resp;
    size_t resp_len;
    size_t req_len;
    int req_ok; /* request body matched the pattern */
    char trailer[32];
    size_t big_header;
    size_t n_req_headers;
    int has_pseudo;
};

struct sink_state {
    struct got g[600];
    size_t n;
};

static void copyv(char *dst, size_t cap, struct rr_view v)
{
    size_t k = v.len < cap - 1 ? v.len : cap - 1;
    memcpy(dst, v.p, k);
    dst[k] = 0;
}

static int on_x(void *ud, struct rr_exchange *x, const uint8_t *rq, size_t rql, const uint8_t *rs,
                size_t rsl)
{
    struct sink_state *st = ud;
    assert_true(st->n < 600);
    struct got *g = &st->g[st->n++];
    memset(g, 0, sizeof(*g));
    g->x = *x;
    g->x.req_headers = NULL;
    g->x.resp_headers = NULL;
    copyv(g->method, sizeof(g->method), x->method);
    copyv(g->path, sizeof(g->path), x->target);
    copyv(g->authority, sizeof(g->authority), x->authority);
    g->resp = malloc(rsl + 1);
    memcpy(g->resp, rs, rsl);
    g->resp_len = rsl;
    g->req_len = rql;
    g->req_ok = 1;
    for (size_t i = 0; i < rql; i++)
        if (rq[i] != pattern(i, 99))
            g->req_ok = 0;
    g->n_req_headers = x->n_req_headers;
    for (size_t i = 0; i < x->n_req_headers; i++)
        if (x->req_headers[i].name.len && x->req_headers[i].name.p[0] == ':')
            g->has_pseudo = 1;
    for (size_t i = 0; i < x->n_resp_headers; i++) {
        if (x->resp_headers[i].name.p[0] == ':')
            g->has_pseudo = 1;
        if (rr_view_eqs(x->resp_headers[i].name, "grpc-status"))
            copyv(g->trailer, sizeof(g->trailer), x->resp_headers[i].value);
        if (rr_view_eqs(x->resp_headers[i].name, "x-big"))
            g->big_header = x->resp_headers[i].value.len;
    }
    return 0;
}

static void sink_fini(struct sink_state *st)
{
    for (size_t i = 0; i < st->n; i++)
        free(st->g[i].resp);
    st->n = 0;
}

static struct got *by_stream(struct sink_state *st, uint32_t id)
{
    for (size_t i = 0; i < st->n; i++)
        if (st->g[i].x.h2_stream == id)
            return &st->g[i];
    return NULL;
}

enum split {
    WHOLE,
    RANDOM,
    BYTES
};

/* Feeds the log; ts of segment i is 1000 + i. Returns the dissector for stats (caller frees). */
static struct rr_h2d *replay(struct wire *w, struct sink_state *st, enum split how,
                             const struct rr_exchange *up)
{
    struct rr_dissect_sink sink = {on_x, st};
    struct rr_dissect_limits lim = {1 << 20, 1 << 16, 1000};
    struct rr_h2d *d = NULL;
    unsigned rnd = 12345;

    if (up)
        assert_int_equal(rr_h2d_new_upgraded(&d, &sink, &lim, up, NULL, 0), 0);
    else
        assert_int_equal(rr_h2d_new(&d, &sink, &lim), 0);
    for (size_t i = 0; i < w->nseg; i++) {
        const uint8_t *p = w->log.p + w->segs[i].off;
        size_t n = w->segs[i].len;
        while (n > 0) {
            size_t k = n;
            if (how == BYTES)
                k = 1;
            else if (how == RANDOM) {
                rnd = rnd * 1103515245u + 12345u;
                k = 1 + (rnd >> 8) % 40;
                if (k > n)
                    k = n;
            }
            assert_int_equal(rr_h2d_feed(d, w->segs[i].dir, p, k, 1000 + i), 0);
            p += k;
            n -= k;
        }
    }
    assert_int_equal(rr_h2d_finish(d, 999999), 0);
    return d;
}

static void check_plain(struct got *g, const char *path, size_t body_len)
{
    assert_non_null(g);
    assert_string_equal(g->path, path);
    assert_string_equal(g->authority, "example.test");
    assert_int_equal(g->x.version, 20);
    assert_int_equal(g->x.flags & (RR_XF_INCOMPLETE | RR_XF_NO_RESPONSE | RR_XF_RESET), 0);
    assert_int_equal(g->resp_len, body_len);
    assert_int_equal(g->x.resp_wire_len, body_len);
    for (size_t i = 0; i < body_len; i++)
        if (g->resp[i] != pattern(i, g->x.h2_stream))
            fail_msg("response body of stream %u differs at %zu", g->x.h2_stream, i);
    assert_false(g->has_pseudo);
    assert_true(g->x.t_req_start_us > 0 && g->x.t_req_start_us <= g->x.t_req_end_us);
    assert_true(g->x.t_req_end_us <= g->x.t_resp_start_us);
    assert_true(g->x.t_resp_start_us <= g->x.t_resp_end_us);
}

/* ---------- tests ---------- */

static void test_many_streams(void **state)
{
    struct wire w;
    static struct sink_state st;
    struct srv_stream up[40];
    nghttp2_data_provider dp[40];
    int32_t ids[200];

    wire_init(&w, 0, 0);
    memset(up, 0, sizeof(up));
    /* 200 concurrent requests, GETs and POSTs with bodies, before any response is read. */
    for (int i = 0; i < 200; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/item/%d%s", i, i % 17 == 0 ? "/big" : "");
        if (i % 5 == 0)
            ids[i] = request(&w, "POST", path, 1000 + (size_t)i * 300, &dp[i / 5], &up[i / 5]);
        else
            ids[i] = request(&w, "GET", path, 0, NULL, NULL);
    }
    pump(&w);
    assert_int_equal(w.cli_closed, 200);
    for (enum split how = WHOLE; how <= RANDOM; how++) {
        struct rr_h2d *d = replay(&w, &st, how, NULL);
        struct rr_h2d_stats hs;
        rr_h2d_get_stats(d, &hs);
        assert_int_equal(hs.errors, 0);
        assert_int_equal(hs.open_streams, 0);
        rr_h2d_free(&d);
        assert_null(d);
        assert_int_equal(st.n, 200);
        for (int i = 0; i < 200; i++) {
            struct got *g = by_stream(&st, (uint32_t)ids[i]);
            char path[64];
            snprintf(path, sizeof(path), "/item/%d%s", i, i % 17 == 0 ? "/big" : "");
            check_plain(g, path, i % 17 == 0 ? 200000 : 100);
            assert_int_equal(g->x.status, 200);
            assert_string_equal(g->method, i % 5 == 0 ? "POST" : "GET");
            assert_int_equal(g->req_len, i % 5 == 0 ? 1000 + (size_t)i * 300 : 0);
            assert_true(g->req_ok);
            assert_int_equal(g->n_req_headers, 2); /* user-agent, accept */
        }
        sink_fini(&st);
    }
    for (int i = 0; i < 40; i++)
        free(up[i].body);
    wire_fini(&w);
}

static void test_features(void **state)
{
    struct wire w;
    static struct sink_state st;
    const char *paths[] = {"/trailers", "/early", "/push",   "/gzip", "/longhdr",
                           "/empty",    "/404",   "/srvrst", "/zero"};
    int32_t ids[9];
    size_t unpadded_len = 0;

    for (int pad = 0; pad <= 1; pad++) {
        wire_init(&w, pad, 0);
        for (int i = 0; i < 9; i++)
            ids[i] = request(&w, "GET", paths[i], 0, NULL, NULL);
        pump(&w);
        /* The padded run really carries padding (37 bytes per DATA and HEADERS frame). */
        if (pad)
            assert_true(w.log.len >= unpadded_len + 15 * 37);
        unpadded_len = w.log.len;
        for (enum split how = WHOLE; how <= BYTES; how++) {
            struct rr_h2d *d = replay(&w, &st, how, NULL);
            struct rr_h2d_stats hs;
            rr_h2d_get_stats(d, &hs);
            assert_int_equal(hs.errors, 0);
            assert_int_equal(hs.pushes, 1);
            rr_h2d_free(&d);
            assert_int_equal(st.n, 10);
            /* Emitted in the order the requests started (the push was promised last). */
            for (int i = 0; i < 9; i++)
                assert_int_equal(st.g[i].x.h2_stream, (uint32_t)ids[i]);
            assert_int_equal(st.g[9].x.h2_stream, 2);

            struct got *g = by_stream(&st, (uint32_t)ids[0]);
            check_plain(g, "/trailers", 100);
            assert_string_equal(g->trailer, "0");

            g = by_stream(&st, (uint32_t)ids[1]);
            check_plain(g, "/early", 100);
            assert_int_equal(g->x.n_interim, 1);
            assert_int_equal(g->x.interim[0], 103);
            assert_int_equal(g->x.status, 200);

            g = by_stream(&st, (uint32_t)ids[2]);
            check_plain(g, "/push", 100);
            g = by_stream(&st, 2);
            assert_non_null(g);
            assert_true(g->x.flags & RR_XF_PUSH);
            assert_string_equal(g->path, "/pushed.css");
            assert_string_equal(g->method, "GET");
            assert_int_equal(g->x.status, 200);
            assert_int_equal(g->resp_len, 100);

            g = by_stream(&st, (uint32_t)ids[3]);
            assert_non_null(g);
            assert_true(g->x.flags & RR_XF_DECODED);
            assert_int_equal(g->resp_len, 50000);
            assert_true(g->x.resp_wire_len < 50000 && g->x.resp_wire_len > 0);
            for (size_t i = 0; i < 50000; i++)
                if (g->resp[i] != pattern(i, (uint32_t)ids[3]))
                    fail_msg("decoded body differs at %zu", i);

            g = by_stream(&st, (uint32_t)ids[4]);
            check_plain(g, "/longhdr", 100);
            assert_int_equal(g->big_header, 40000);

            g = by_stream(&st, (uint32_t)ids[5]);
            check_plain(g, "/empty", 0);

            g = by_stream(&st, (uint32_t)ids[6]);
            check_plain(g, "/404", 100);
            assert_int_equal(g->x.status, 404);

            /* An empty DATA frame with END_STREAM ends this one: a 9-byte frame, alone. */
            check_plain(by_stream(&st, (uint32_t)ids[8]), "/zero", 0);

            g = by_stream(&st, (uint32_t)ids[7]);
            assert_non_null(g);
            assert_true(g->x.flags & RR_XF_RESET);
            assert_true(g->x.flags & RR_XF_NO_RESPONSE);
            assert_int_equal(g->x.status, 0);
            sink_fini(&st);
        }
        wire_fini(&w);
    }
}

static void test_client_reset_and_finish(void **state)
{
    struct wire w;
    static struct sink_state st;

    wire_init(&w, 0, 0);
    int32_t a = request(&w, "GET", "/one", 0, NULL, NULL);
    pump(&w);
    int32_t b = request(&w, "GET", "/two", 0, NULL, NULL);
    /* The client gives up on /two before the server answers; then a third request is left
     * unanswered at the end of the capture. */
    const uint8_t *p;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(w.cli, &p)) > 0)
        log_bytes(&w, RR_DIR_C2S, p, (size_t)n);
    assert_int_equal(nghttp2_submit_rst_stream(w.cli, 0, b, NGHTTP2_CANCEL), 0);
    int32_t c = request(&w, "GET", "/three", 0, NULL, NULL);
    while ((n = nghttp2_session_mem_send(w.cli, &p)) > 0)
        log_bytes(&w, RR_DIR_C2S, p, (size_t)n);
    struct rr_h2d *d = replay(&w, &st, RANDOM, NULL);
    rr_h2d_free(&d);
    assert_int_equal(st.n, 3);
    check_plain(by_stream(&st, (uint32_t)a), "/one", 100);
    struct got *g = by_stream(&st, (uint32_t)b);
    assert_non_null(g);
    assert_int_equal(g->x.flags & (RR_XF_RESET | RR_XF_NO_RESPONSE),
                     RR_XF_RESET | RR_XF_NO_RESPONSE);
    g = by_stream(&st, (uint32_t)c);
    assert_non_null(g);
    assert_true(g->x.flags & RR_XF_INCOMPLETE);
    assert_true(g->x.flags & RR_XF_NO_RESPONSE);
    assert_string_equal(g->path, "/three");
    sink_fini(&st);
    wire_fini(&w);
}

static void test_upgrade(void **state)
{
    struct wire w;
    static struct sink_state st;
    struct rr_header h[] = {{{(const uint8_t *)"Host", 4}, {(const uint8_t *)"example.test", 12}},
                            {{(const uint8_t *)"Upgrade", 7}, {(const uint8_t *)"h2c", 3}}};
    struct rr_exchange up;

    memset(&up, 0, sizeof(up));
    up.version = 11;
    up.method = rr_view_of("GET", 3);
    up.target = rr_view_of("/upgraded", 9);
    up.authority = rr_view_of("example.test", 12);
    up.req_headers = h;
    up.n_req_headers = 2;
    up.t_req_start_us = 500;
    up.t_req_end_us = 501;

    wire_init(&w, 0, 1);
    /* The real client sends the preface (magic + SETTINGS) after the 101. */
    int32_t b = request(&w, "GET", "/after", 0, NULL, NULL);
    pump(&w);
    assert_int_equal(b, 3);
    struct rr_h2d *d = replay(&w, &st, RANDOM, &up);
    rr_h2d_free(&d);
    assert_int_equal(st.n, 2);
    struct got *g = by_stream(&st, 1);
    check_plain(g, "/upgraded", 100);
    assert_string_equal(g->method, "GET");
    assert_int_equal(g->n_req_headers, 2);
    assert_int_equal(g->x.n_interim, 0);
    check_plain(by_stream(&st, 3), "/after", 100);
    sink_fini(&st);
    wire_fini(&w);
}

static void test_gap_and_garbage(void **state)
{
    struct wire w;
    static struct sink_state st;
    struct rr_dissect_sink sink = {on_x, &st};
    struct rr_h2d *d = NULL;
    struct rr_h2d_stats hs;

    wire_init(&w, 0, 0);
    int32_t a = request(&w, "GET", "/big", 0, NULL, NULL);
    pump(&w);
    assert_int_equal(rr_h2d_new(&d, &sink, NULL), 0);
    /* Everything up to the middle of the response body, then a gap. */
    size_t fed = 0;
    for (size_t i = 0; i < w.nseg && fed < w.log.len / 2; i++) {
        assert_int_equal(rr_h2d_feed(d, w.segs[i].dir, w.log.p + w.segs[i].off, w.segs[i].len, 10),
                         0);
        fed += w.segs[i].len;
    }
    /* More bytes than any DATA frame holds: a header block may be lost, so the connection
     * ends here. */
    assert_int_equal(rr_h2d_gap(d, RR_DIR_S2C, 1000000, 11), 0);
    assert_int_equal(st.n, 1);
    assert_int_equal(st.g[0].x.h2_stream, (uint32_t)a);
    assert_true(st.g[0].x.flags & RR_XF_GAP);
    assert_true(st.g[0].x.flags & RR_XF_INCOMPLETE);
    assert_int_equal(rr_h2d_feed(d, RR_DIR_S2C, w.log.p, 100, 12), 0);
    assert_int_equal(rr_h2d_finish(d, 13), 0);
    rr_h2d_get_stats(d, &hs);
    assert_int_equal(hs.skipped_bytes, 1000100);
    rr_h2d_free(&d);
    sink_fini(&st);
    wire_fini(&w);

    /* Not HTTP/2 at all: skipped, never an error or a crash. */
    assert_int_equal(rr_h2d_new(&d, &sink, NULL), 0);
    assert_int_equal(rr_h2d_feed(d, RR_DIR_C2S, (const uint8_t *)"GET / HTTP/1.1\r\n", 16, 1), 0);
    rr_h2d_get_stats(d, &hs);
    assert_true(hs.dead);
    assert_int_equal(rr_h2d_finish(d, 2), 0);
    rr_h2d_free(&d);
    assert_int_equal(st.n, 0);
    assert_true(rr_h2d_is_preface((const uint8_t *)"PRI * HTTP/2.0\r\n", 16));
    assert_false(rr_h2d_is_preface((const uint8_t *)"PRI * HTTP/1.1", 14));
}

/* Bytes lost inside a DATA payload: that exchange has a hole (flagged, wire length still
 * right), and the connection goes on in step. */
static void test_gap_inside_data(void **state)
{
    struct wire w;
    static struct sink_state st;
    struct rr_dissect_sink sink = {on_x, &st};
    struct rr_h2d *d = NULL;
    struct rr_h2d_stats hs;

    wire_init(&w, 1, 0);
    int32_t a = request(&w, "GET", "/big", 0, NULL, NULL);
    int32_t b = request(&w, "GET", "/after", 0, NULL, NULL);
    pump(&w);
    /* Find the third DATA frame of stream a in the server's bytes. */
    struct rr_buf s2c;
    rr_buf_init(&s2c);
    for (size_t i = 0; i < w.nseg; i++)
        if (w.segs[i].dir == RR_DIR_S2C)
            rr_buf_add(&s2c, w.log.p + w.segs[i].off, w.segs[i].len);
    size_t off = 0, hole = 0;
    int seen = 0;
    while (off + 9 <= s2c.len) {
        size_t len = (size_t)s2c.p[off] << 16 | (size_t)s2c.p[off + 1] << 8 | s2c.p[off + 2];
        uint32_t id = ((uint32_t)s2c.p[off + 5] << 24 | (uint32_t)s2c.p[off + 6] << 16 |
                       (uint32_t)s2c.p[off + 7] << 8 | s2c.p[off + 8]) &
                      0x7fffffff;
        if (s2c.p[off + 3] == 0 && id == (uint32_t)a && ++seen == 3) {
            hole = off + 9 + 1 + 50; /* after the header and the pad length */
            break;
        }
        off += 9 + len;
    }
    assert_true(hole > 0);
    /* Feed everything in order, leaving out 3000 server bytes at hole. */
    assert_int_equal(rr_h2d_new(&d, &sink, NULL), 0);
    size_t s_off = 0;
    for (size_t i = 0; i < w.nseg; i++) {
        const uint8_t *p = w.log.p + w.segs[i].off;
        size_t n = w.segs[i].len;
        if (w.segs[i].dir == RR_DIR_C2S) {
            assert_int_equal(rr_h2d_feed(d, RR_DIR_C2S, p, n, 5), 0);
            continue;
        }
        for (size_t k = 0; k < n; k++, s_off++) {
            if (s_off == hole)
                assert_int_equal(rr_h2d_gap(d, RR_DIR_S2C, 3000, 6), 0);
            if (s_off >= hole && s_off < hole + 3000)
                continue;
            assert_int_equal(rr_h2d_feed(d, RR_DIR_S2C, p + k, 1, 7), 0);
        }
    }
    assert_int_equal(rr_h2d_finish(d, 8), 0);
    rr_h2d_get_stats(d, &hs);
    assert_int_equal(hs.errors, 0);
    assert_int_equal(hs.gaps, 1);
    rr_h2d_free(&d);
    assert_int_equal(st.n, 2);
    struct got *g = by_stream(&st, (uint32_t)a);
    assert_non_null(g);
    assert_int_equal(g->x.flags & (RR_XF_GAP | RR_XF_INCOMPLETE), RR_XF_GAP | RR_XF_INCOMPLETE);
    assert_int_equal(g->x.status, 200);
    assert_int_equal(g->x.resp_wire_len, 200000);
    assert_true(g->resp_len < 200000);
    check_plain(by_stream(&st, (uint32_t)b), "/after", 100);
    rr_buf_fini(&s2c);
    sink_fini(&st);
    wire_fini(&w);
}

/* A server GOAWAY: the streams above its last stream id were never processed and finish at
 * once, without waiting for the end of the connection. */
static void test_goaway(void **state)
{
    struct wire w;
    static struct sink_state st;
    struct rr_dissect_sink sink = {on_x, &st};
    struct rr_h2d *d = NULL;
    const uint8_t *p;
    ssize_t n;

    wire_init(&w, 0, 0);
    int32_t a = request(&w, "GET", "/one", 0, NULL, NULL);
    pump(&w);
    int32_t b = request(&w, "GET", "/two", 0, NULL, NULL);
    int32_t c = request(&w, "GET", "/three", 0, NULL, NULL);
    while ((n = nghttp2_session_mem_send(w.cli, &p)) > 0)
        log_bytes(&w, RR_DIR_C2S, p, (size_t)n);
    assert_int_equal(nghttp2_submit_goaway(w.srv, 0, a, NGHTTP2_NO_ERROR, NULL, 0), 0);
    while ((n = nghttp2_session_mem_send(w.srv, &p)) > 0)
        log_bytes(&w, RR_DIR_S2C, p, (size_t)n);
    assert_int_equal(rr_h2d_new(&d, &sink, NULL), 0);
    for (size_t i = 0; i < w.nseg; i++)
        assert_int_equal(rr_h2d_feed(d, w.segs[i].dir, w.log.p + w.segs[i].off, w.segs[i].len, 1),
                         0);
    assert_int_equal(st.n, 3); /* before finish */
    check_plain(by_stream(&st, (uint32_t)a), "/one", 100);
    for (int32_t id = b; id <= c; id += 2) {
        struct got *g = by_stream(&st, (uint32_t)id);
        assert_non_null(g);
        assert_int_equal(g->x.flags & (RR_XF_NO_RESPONSE | RR_XF_INCOMPLETE),
                         RR_XF_NO_RESPONSE | RR_XF_INCOMPLETE);
    }
    assert_int_equal(rr_h2d_finish(d, 2), 0);
    assert_int_equal(st.n, 3);
    rr_h2d_free(&d);
    sink_fini(&st);
    wire_fini(&w);
}

static int stop_sink(void *ud, struct rr_exchange *x, const uint8_t *a, size_t al, const uint8_t *b,
                     size_t bl)
{
    return -42;
}

static void test_sink_abort_and_pending_cap(void **state)
{
    struct wire w;
    static struct sink_state st;
    struct rr_dissect_sink sink = {stop_sink, NULL};
    struct rr_dissect_limits lim = {100, 1 << 16, 3};
    struct rr_h2d *d = NULL;
    int32_t ids[10];

    wire_init(&w, 0, 0);
    for (int i = 0; i < 10; i++)
        ids[i] = request(&w, "GET", "/big", 0, NULL, NULL);
    pump(&w);
    assert_int_equal(rr_h2d_new(&d, &sink, &lim), 0);
    int rc = 0;
    for (size_t i = 0; i < w.nseg && rc == 0; i++)
        rc = rr_h2d_feed(d, w.segs[i].dir, w.log.p + w.segs[i].off, w.segs[i].len, 1);
    assert_int_equal(rc, -42);
    assert_int_equal(rr_h2d_finish(d, 2), -42); /* sticky */
    rr_h2d_free(&d);

    /* Only three streams may wait at once: the oldest give way, flagged incomplete, and the
     * bodies stop at the cap. */
    sink.on_exchange = on_x;
    sink.ud = &st;
    assert_int_equal(rr_h2d_new(&d, &sink, &lim), 0);
    for (size_t i = 0; i < w.nseg; i++)
        assert_int_equal(rr_h2d_feed(d, w.segs[i].dir, w.log.p + w.segs[i].off, w.segs[i].len, 1),
                         0);
    assert_int_equal(rr_h2d_finish(d, 2), 0);
    struct rr_h2d_stats hs;
    rr_h2d_get_stats(d, &hs);
    assert_int_equal(hs.evicted, 7);
    rr_h2d_free(&d);
    assert_int_equal(st.n, 10);
    size_t complete = 0;
    for (size_t i = 0; i < st.n; i++) {
        if (!(st.g[i].x.flags & RR_XF_INCOMPLETE)) {
            complete++;
            assert_int_equal(st.g[i].resp_len, 100);
            assert_int_equal(st.g[i].x.resp_wire_len, 200000);
            assert_true(st.g[i].x.flags & RR_XF_BODY_CAPPED);
        }
    }
    assert_int_equal(complete, 3);
    (void)ids;
    sink_fini(&st);
    wire_fini(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_streams),
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_client_reset_and_finish),
        cmocka_unit_test(test_upgrade),
        cmocka_unit_test(test_gap_and_garbage),
        cmocka_unit_test(test_gap_inside_data),
        cmocka_unit_test(test_goaway),
        cmocka_unit_test(test_sink_abort_and_pending_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
