/* h2_dissect_bench.c -- Throughput of the HTTP/2 dissector against nghttp2's own protocol
 * sessions parsing the same bytes (the peer: what a two-session design would cost at least).
 *
 * Builds one real conversation in memory (an nghttp2 client and server: R requests with
 * typical browser headers, responses of B bytes), then times, over the same bytes:
 *   dissector: rr_h2d_new + feed both directions + finish (exchanges built, bodies copied)
 *   peer:      a fresh nghttp2 server session fed the client's bytes and a fresh client session
 *              (which first submits the same requests) fed the server's bytes
 * Usage: h2_dissect_bench [REQUESTS [BODY_BYTES [ROUNDS]]]. See docs/benchmarks/recorder-h2.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nghttp2/nghttp2.h>

#include "dissect.h"
#include "rr/buf.h"

static size_t body_len;
static struct rr_buf c2s, s2c;
static uint8_t *body;

#define NV(n, v)                                                                                   \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE                 \
    }

static ssize_t rd(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *fl,
                  nghttp2_data_source *src, void *ud)
{
    size_t *off = src->ptr;
    size_t k = body_len - *off < len ? body_len - *off : len;
    memcpy(buf, body + *off, k);
    *off += k;
    if (*off == body_len)
        *fl |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)k;
}

static size_t offs[100000];

static int srv_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    if (f->hd.type == NGHTTP2_HEADERS && (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        nghttp2_nv nv[] = {NV(":status", "200"), NV("content-type", "application/json"),
                           NV("cache-control", "no-store"), NV("server", "bench"),
                           NV("date", "Fri, 27 Nov 2026 01:00:00 GMT")};
        nghttp2_data_provider dp = {.source.ptr = &offs[f->hd.stream_id / 2], .read_callback = rd};
        nghttp2_submit_response(s, f->hd.stream_id, nv, 5, &dp);
    }
    return 0;
}

static void submit_all(nghttp2_session *cli, int n)
{
    for (int i = 0; i < n; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/api/items/%d?page=%d", i, i % 7);
        nghttp2_nv nv[] = {NV(":method", "GET"),
                           NV(":scheme", "http"),
                           NV(":authority", "shop.example:8080"),
                           NV(":path", path),
                           NV("user-agent", "Mozilla/5.0 (X11; Linux x86_64) bench/1"),
                           NV("accept", "application/json"),
                           NV("accept-language", "en-US"),
                           NV("cookie", "session=0123456789abcdef0123456789abcdef")};
        nghttp2_submit_request(cli, NULL, nv, 8, NULL, NULL);
    }
}

static void make_traffic(int n)
{
    nghttp2_session_callbacks *cb;
    nghttp2_session *cli, *srv;
    const uint8_t *p;
    ssize_t k;

    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_client_new(&cli, cb, NULL);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, srv_frame);
    nghttp2_session_server_new(&srv, cb, NULL);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(cli, 0, NULL, 0);
    nghttp2_submit_settings(srv, 0, NULL, 0);
    submit_all(cli, n);
    for (int moved = 1; moved;) {
        moved = 0;
        while ((k = nghttp2_session_mem_send(cli, &p)) > 0) {
            rr_buf_add(&c2s, p, (size_t)k);
            nghttp2_session_mem_recv(srv, p, (size_t)k);
            moved = 1;
        }
        while ((k = nghttp2_session_mem_send(srv, &p)) > 0) {
            rr_buf_add(&s2c, p, (size_t)k);
            nghttp2_session_mem_recv(cli, p, (size_t)k);
            moved = 1;
        }
    }
    nghttp2_session_del(cli);
    nghttp2_session_del(srv);
}

static size_t got, peer_got;

static int peer_data(nghttp2_session *s, uint8_t fl, int32_t id, const uint8_t *p, size_t n,
                     void *ud)
{
    peer_got += n;
    return 0;
}

/* Feeds one session in segment-sized pieces, sending (and dropping) what it wants to send after
 * each, as a live session would: its WINDOW_UPDATEs keep the flow-control windows open. */
static void peer_feed(nghttp2_session *s, const struct rr_buf *b)
{
    const uint8_t *p;
    for (size_t o = 0; o < b->len; o += 1460) {
        size_t k = b->len - o < 1460 ? b->len - o : 1460;
        if (nghttp2_session_mem_recv(s, b->p + o, k) != (ssize_t)k)
            abort();
        while (nghttp2_session_mem_send(s, &p) > 0)
            ;
    }
}
static int sink(void *ud, struct rr_exchange *x, const uint8_t *a, size_t al, const uint8_t *b,
                size_t bl)
{
    got += bl;
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Feeds in 1460-byte pieces (one TCP segment each) to match what the reassembler hands over. */
static void feed(struct rr_h2d *d, enum rr_dir dir, const struct rr_buf *b)
{
    for (size_t o = 0; o < b->len; o += 1460) {
        size_t k = b->len - o < 1460 ? b->len - o : 1460;
        if (rr_h2d_feed(d, dir, b->p + o, k, 1))
            abort();
    }
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100;
    body_len = argc > 2 ? (size_t)atol(argv[2]) : 2000;
    int rounds = argc > 3 ? atoi(argv[3]) : 200;
    struct rr_dissect_sink s = {sink, NULL};
    double t0, t_ours, t_peer;

    body = malloc(body_len);
    for (size_t i = 0; i < body_len; i++)
        body[i] = (uint8_t)('a' + i % 26);
    rr_buf_init(&c2s);
    rr_buf_init(&s2c);
    make_traffic(n);
    double mb = (double)(c2s.len + s2c.len) * rounds / 1e6;

    t0 = now();
    for (int r = 0; r < rounds; r++) {
        struct rr_h2d *d;
        if (rr_h2d_new(&d, &s, NULL))
            abort();
        /* Requests first, then responses: as captured, all requests precede the answers. */
        feed(d, RR_DIR_C2S, &c2s);
        feed(d, RR_DIR_S2C, &s2c);
        if (rr_h2d_finish(d, 2))
            abort();
        rr_h2d_free(&d);
    }
    t_ours = now() - t0;

    t0 = now();
    for (int r = 0; r < rounds; r++) {
        nghttp2_session_callbacks *cb;
        nghttp2_session *cli, *srv;
        nghttp2_option *opt;
        const uint8_t *p;
        nghttp2_session_callbacks_new(&cb);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, peer_data);
        nghttp2_option_new(&opt);
        nghttp2_option_set_peer_max_concurrent_streams(opt, 1u << 30);
        nghttp2_session_server_new(&srv, cb, NULL);
        nghttp2_session_client_new2(&cli, cb, NULL, opt);
        nghttp2_option_del(opt);
        nghttp2_session_callbacks_del(cb);
        nghttp2_submit_settings(cli, 0, NULL, 0);
        submit_all(cli, n);
        while (nghttp2_session_mem_send(cli, &p) > 0)
            ;
        peer_feed(srv, &c2s);
        peer_feed(cli, &s2c);
        nghttp2_session_del(cli);
        nghttp2_session_del(srv);
    }
    t_peer = now() - t0;

    printf("conversation: %d requests, %zu-byte responses, %zu bytes on the wire; %d rounds\n", n,
           body_len, c2s.len + s2c.len, rounds);
    printf("dissector:        %8.1f MB/s  %9.0f exchanges/s\n", mb / t_ours,
           (double)n * rounds / t_ours);
    printf("nghttp2 sessions: %8.1f MB/s  %9.0f exchanges/s\n", mb / t_peer,
           (double)n * rounds / t_peer);
    printf("ratio dissector/peer: %.2f\n", t_peer / t_ours);
    /* Both sides must have read every body byte, or a timing means nothing. */
    if (got != body_len * (size_t)n * (size_t)rounds ||
        peer_got != body_len * (size_t)n * (size_t)rounds) {
        fprintf(stderr, "incomplete: dissector %zu, peer %zu of %zu body bytes\n", got, peer_got,
                body_len * (size_t)n * (size_t)rounds);
        return 1;
    }
    return 0;
}
