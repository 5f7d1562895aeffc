/* SPDX-License-Identifier: MIT */
/* eng_h2.c -- The native HTTP/2 cleartext engine: nghttp2 on our own nonblocking sockets.
 *
 * Each user holds one h2c connection opened with prior knowledge, as a browser holds one h2
 * connection per origin, and sends its requests on it one stream at a time. nghttp2 only
 * frames: bytes read by the loop go in through nghttp2_session_mem_recv, frames to send come
 * out of nghttp2_session_mem_send into a per-connection buffer written with one send() (and
 * on EPOLLOUT when the socket is full). Callbacks inside nghttp2 only record what happened;
 * the response is handed to the user after mem_recv returns, so the user's next request
 * never re-enters nghttp2 from one of its own callbacks.
 *
 * Responses reach extraction, checks and the cookie jar as from the HTTP/1.1 engine: headers
 * in arrival order (names in lower case, as HTTP/2 sends them), the body as received (a gzip
 * body stays compressed, as the HTTP/1.1 engine leaves it), and the reason phrase HTTP/2
 * lacks taken from the status code. A connection the server closed or sent GOAWAY on is
 * reopened by the next request; a request that the server provably did not process on a
 * reused connection (refused stream, or the connection gone before any answer) is retried
 * once on a fresh one, as browsers do. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rp_int.h"
#include "rr/util.h"

#define RBUF_SIZE 65536
/* Receive windows as h2load sets them by default (2^30 - 1): flow control never paces a
 * replay, and window updates are rare. */
#define WINDOW ((1 << 30) - 1)

struct rp_conn {
    struct rp_worker *w;
    struct rp_vu *vu;
    struct rr_io io;
    struct rr_timer tmo;
    nghttp2_session *s;
    const struct rp_out *o;
    int32_t sid; /* the stream of the request in flight, 0: none */
    size_t body_off;
    bool connecting, busy, in_io, reused, retried, got_headers, goaway;
    bool done;           /* the stream closed: deliver after mem_recv returns */
    uint32_t close_code; /* its RST_STREAM code (0: a complete response) */
    uint32_t goaway_code;
    int status;
    struct rp_rx rx; /* the response */
    struct rr_buf wbuf; /* frames not yet written */
    size_t woff;
    struct rr_buf nb; /* request header names (lower case) and values */
    nghttp2_nv *nv;
    size_t nv_cap;
};

static nghttp2_session_callbacks *callbacks;

/* ---------------------------------------------------------------- nghttp2 callbacks */

static void hdr_reset(struct rp_conn *c)
{
    c->status = 0;
    rp__rx_reset(&c->rx);
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    struct rp_conn *c = ud;
    (void)s;
    (void)flags;
    if (f->hd.type != NGHTTP2_HEADERS || f->hd.stream_id != c->sid || !c->sid)
        return 0;
    c->got_headers = true;
    if (namelen == 7 && !memcmp(name, ":status", 7)) {
        if (c->status && c->status < 200)
            hdr_reset(c); /* the interim response is forgotten: the final one follows */
        int st = 0;
        for (size_t i = 0; i < valuelen && i < 3; i++)
            st = st * 10 + (value[i] - '0');
        c->status = st;
        return 0;
    }
    if (namelen && name[0] == ':')
        return 0;
    rp__rx_header_add(&c->rx, name, namelen, value, valuelen);
    return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data, size_t len,
                   void *ud)
{
    struct rp_conn *c = ud;
    (void)s;
    (void)flags;
    if (sid != c->sid || !c->sid)
        return 0;
    rp__rx_body(&c->rx, c->o && c->o->need_body, data, len);
    return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t sid, uint32_t code, void *ud)
{
    struct rp_conn *c = ud;
    (void)s;
    if (sid == c->sid && c->sid) {
        c->sid = 0;
        c->done = true;
        c->close_code = code;
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    struct rp_conn *c = ud;
    (void)s;
    if (f->hd.type == NGHTTP2_GOAWAY) {
        c->goaway = true;
        c->goaway_code = f->goaway.error_code;
    }
    return 0;
}

static void callbacks_init(void)
{
    if (nghttp2_session_callbacks_new(&callbacks))
        abort();
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
}

static ssize_t read_body(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *ud)
{
    struct rp_conn *c = ud;
    (void)s;
    (void)src;
    if (!c->o || sid != c->sid)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* an abandoned request: reset it */
    size_t left = c->o->body.len - c->body_off;
    if (len > left)
        len = left;
    memcpy(buf, c->o->body.p + c->body_off, len);
    c->body_off += len;
    if (c->body_off == c->o->body.len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)len;
}

/* ---------------------------------------------------------------- connection */

static void io_cb(struct rr_io *io, unsigned ev);

static void conn_close(struct rp_conn *c)
{
    if (c->io.fd >= 0) {
        int fd = c->io.fd;
        rr_io_stop(c->w->loop, &c->io);
        close(fd);
    }
    if (c->s) {
        nghttp2_session_del(c->s);
        c->s = NULL;
    }
    c->connecting = false;
    c->reused = false;
    c->goaway = false;
    c->sid = 0;
    c->done = false;
    rr_buf_reset(&c->wbuf);
    c->woff = 0;
}

static int start_connect(struct rp_conn *c)
{
    int fd = rp__tcp_open(c->w->r, c->vu->id);
    if (fd < 0)
        return fd;
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                   {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, WINDOW}};
    if (nghttp2_session_client_new(&c->s, callbacks, c) ||
        nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) ||
        nghttp2_session_set_local_window_size(c->s, NGHTTP2_FLAG_NONE, 0, WINDOW)) {
        close(fd);
        if (c->s)
            nghttp2_session_del(c->s);
        c->s = NULL;
        return -ENOMEM;
    }
    c->connecting = true;
    int rc = rr_io_start(c->w->loop, &c->io, fd, RR_IO_READ | RR_IO_WRITE, io_cb);
    if (rc) {
        close(fd);
        nghttp2_session_del(c->s);
        c->s = NULL;
        c->connecting = false;
        return rc;
    }
    return 0;
}

/* Serialises what nghttp2 has queued and writes it; 0 or a negated errno. */
static int flush(struct rp_conn *c)
{
    if (!c->s || c->connecting)
        return 0;
    for (;;) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(c->s, &p);
        if (n < 0)
            return -EPROTO;
        if (n == 0)
            break;
        rr_buf_add(&c->wbuf, p, (size_t)n);
    }
    while (c->woff < c->wbuf.len) {
        ssize_t n = send(c->io.fd, c->wbuf.p + c->woff, c->wbuf.len - c->woff, MSG_NOSIGNAL);
        if (n > 0) {
            c->woff += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!(c->io.events & RR_IO_WRITE))
                return rr_io_start(c->w->loop, &c->io, c->io.fd, RR_IO_READ | RR_IO_WRITE, io_cb);
            return 0;
        }
        return n < 0 ? -errno : -EPIPE;
    }
    rr_buf_reset(&c->wbuf);
    c->woff = 0;
    if (c->io.events & RR_IO_WRITE)
        return rr_io_start(c->w->loop, &c->io, c->io.fd, RR_IO_READ, io_cb);
    return 0;
}

static void deliver(struct rp_conn *c, const char *err)
{
    struct rp_resp resp = {0};
    struct rp_vu *vu = c->vu;

    rr_timer_stop(c->w->loop, &c->tmo);
    c->busy = false;
    c->done = false;
    c->o = NULL;
    resp.t_done_us = rr_now_mono_us();
    resp.error = err;
    if (!err) {
        /* HTTP/2 carries no reason phrase; errors quote the standard one, as over HTTP/1.1 */
        const char *reason = rr_http_reason((unsigned)c->status);
        resp.status = c->status;
        resp.reason = rr_view_of(reason, strlen(reason));
        resp.error = rp__rx_deliver(&c->rx, &resp);
    }
    /* The user may send its next request on this connection from here: nothing after. */
    rp__vu_response(vu, &resp);
}

static bool skip_header(struct rr_view n, struct rr_view v)
{
    static const char *const hop[] = {"connection",        "keep-alive", "proxy-connection",
                                      "transfer-encoding", "upgrade",    "host",
                                      "content-length",    NULL};
    for (size_t i = 0; hop[i]; i++)
        if (rr_view_caseeqs(n, hop[i]))
            return true;
    /* HTTP/2 allows "te: trailers" only */
    return rr_view_caseeqs(n, "te") && !rr_view_caseeqs(v, "trailers");
}

static void nv_add(struct rp_conn *c, size_t *n, const void *name, size_t nlen, const void *value,
                   size_t vlen)
{
    if (*n == c->nv_cap) {
        c->nv_cap = c->nv_cap ? c->nv_cap * 2 : 16;
        c->nv = rr_xrealloc(c->nv, c->nv_cap * sizeof(*c->nv));
    }
    c->nv[*n] = (nghttp2_nv){(uint8_t *)(uintptr_t)name, (uint8_t *)(uintptr_t)value, nlen, vlen,
                             NGHTTP2_NV_FLAG_NONE};
    (*n)++;
}

/* Queues the request on the open session; NULL or an error text. */
static const char *submit(struct rp_conn *c)
{
    const struct rp_out *o = c->o;
    const struct rr_replay *r = c->w->r;
    const char *base = r->target.base;
    size_t blen = strlen(base), n = 0;

    if (strncmp(o->url, base, blen) || (o->url[blen] && o->url[blen] != '/'))
        return "InvalidURL('another host needs --engine curl')";
    const char *path = o->url[blen] ? o->url + blen : "/";
    /* Lower-case names and the content length go to nb first, pointers after: nb may move
     * while it grows. Offsets are kept in the nv array's pointer fields meanwhile. */
    rr_buf_reset(&c->nb);
    nv_add(c, &n, ":method", 7, o->method, strlen(o->method));
    nv_add(c, &n, ":scheme", 7, "http", 4);
    nv_add(c, &n, ":authority", 10, r->target.authority, strlen(r->target.authority));
    nv_add(c, &n, ":path", 5, path, strlen(path));
    size_t first = n;
    const uint8_t *p = o->hdrs.p, *end = o->hdrs.p + o->hdrs.len;
    while (p < end) {
        const uint8_t *eol = memchr(p, '\n', (size_t)(end - p)), *colon;
        if (!eol)
            eol = end;
        colon = memchr(p, ':', (size_t)(eol - p));
        if (colon) {
            const uint8_t *v = colon + 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            struct rr_view nm = rr_view_of(p, (size_t)(colon - p));
            struct rr_view vv = rr_view_of(v, (size_t)(ve - v));
            if (nm.len && !skip_header(nm, vv)) {
                size_t off = c->nb.len;
                for (size_t i = 0; i < nm.len; i++) {
                    uint8_t ch = nm.p[i];
                    rr_buf_addc(&c->nb, ch >= 'A' && ch <= 'Z' ? (uint8_t)(ch + 32) : ch);
                }
                nv_add(c, &n, (const void *)(uintptr_t)off, nm.len, vv.p, vv.len);
            }
        }
        p = eol + 1;
    }
    bool framing =
        !strcmp(o->method, "POST") || !strcmp(o->method, "PUT") || !strcmp(o->method, "PATCH");
    if (o->body.len || framing) {
        size_t off = c->nb.len;
        rr_buf_printf(&c->nb, "%zu", o->body.len);
        nv_add(c, &n, "content-length", 14, (const void *)(uintptr_t)off, c->nb.len - off);
        c->nv[n - 1].flags = 1; /* marks a value offset; cleared below */
    }
    for (size_t i = first; i < n; i++) {
        if (c->nv[i].flags) {
            c->nv[i].value = c->nb.p + (uintptr_t)c->nv[i].value;
            c->nv[i].flags = NGHTTP2_NV_FLAG_NONE;
        } else {
            c->nv[i].name = c->nb.p + (uintptr_t)c->nv[i].name;
        }
    }

    hdr_reset(c);
    c->body_off = 0;
    c->got_headers = false;
    c->done = false;
    c->close_code = 0;
    nghttp2_data_provider prd = {.source.ptr = c, .read_callback = read_body};
    int32_t id = nghttp2_submit_request(c->s, NULL, c->nv, n, o->body.len ? &prd : NULL, c);
    if (id < 0) {
        snprintf(c->w->errbuf, sizeof(c->w->errbuf), "ProtocolError('HTTP/2: %s')",
                 nghttp2_strerror(id));
        return c->w->errbuf;
    }
    c->sid = id;
    return NULL;
}

/* Opens a fresh connection and queues the request on it; NULL or an error text. */
static const char *open_and_submit(struct rp_conn *c)
{
    int rc = start_connect(c);
    if (rc)
        return rp__err_errno(-rc, c->w->errbuf, sizeof(c->w->errbuf));
    return submit(c);
}

/* The connection is gone (e: errno, 0: closed by the server). A request on a reused
 * connection that got no answer at all is retried once on a fresh one. */
static void lost(struct rp_conn *c, int e)
{
    bool busy = c->busy, retry = c->busy && c->reused && !c->got_headers && !c->retried;
    conn_close(c);
    if (!busy)
        return;
    if (retry) {
        c->retried = true;
        const char *err = open_and_submit(c);
        if (!err)
            return;
        conn_close(c);
        deliver(c, err);
        return;
    }
    if (e)
        deliver(c, rp__err_errno(e, c->w->errbuf, sizeof(c->w->errbuf)));
    else
        deliver(c, "RemoteDisconnected('Remote end closed connection without response')");
}

static void flush_or_lose(struct rp_conn *c)
{
    if (c->io.fd < 0)
        return;
    int rc = flush(c);
    if (rc)
        lost(c, -rc);
}

/* The stream of the request closed: hand over the response, or say why there is none. */
static void stream_done(struct rp_conn *c)
{
    c->done = false;
    if (!c->close_code) {
        c->reused = true;
        deliver(c, NULL);
        return;
    }
    if (c->close_code == NGHTTP2_REFUSED_STREAM && !c->retried) {
        /* not processed by the server (GOAWAY or its stream limit): once more, afresh */
        c->retried = true;
        conn_close(c);
        const char *err = open_and_submit(c);
        if (!err)
            return;
        conn_close(c);
        deliver(c, err);
        return;
    }
    if (c->goaway)
        snprintf(c->w->errbuf, sizeof(c->w->errbuf),
                 "ConnectionError('HTTP/2 GOAWAY from the server (%s), stream closed: %s')",
                 nghttp2_http2_strerror(c->goaway_code), nghttp2_http2_strerror(c->close_code));
    else
        snprintf(c->w->errbuf, sizeof(c->w->errbuf),
                 "StreamReset('HTTP/2 stream reset by the server: %s')",
                 nghttp2_http2_strerror(c->close_code));
    deliver(c, c->w->errbuf);
}

static void on_readable(struct rp_conn *c)
{
    uint8_t *buf = c->w->engine_data;
    c->in_io = true;
    for (;;) {
        ssize_t n = read(c->io.fd, buf, RBUF_SIZE);
        if (n > 0) {
            ssize_t m = nghttp2_session_mem_recv(c->s, buf, (size_t)n);
            if (m < 0) {
                c->in_io = false;
                bool busy = c->busy;
                snprintf(c->w->errbuf, sizeof(c->w->errbuf), "ProtocolError('HTTP/2: %s')",
                         nghttp2_strerror((int)m));
                conn_close(c);
                if (busy)
                    deliver(c, c->w->errbuf);
                return;
            }
            if (c->done || (size_t)n < RBUF_SIZE)
                break;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        c->in_io = false;
        lost(c, n < 0 ? errno : 0);
        return;
    }
    if (c->done && c->busy)
        stream_done(c);
    c->in_io = false;
    /* one write for the frames nghttp2 owes (acks, window updates) and the next request */
    flush_or_lose(c);
}

static void io_cb(struct rr_io *io, unsigned ev)
{
    struct rp_conn *c = (struct rp_conn *)((char *)io - offsetof(struct rp_conn, io));
    if (c->connecting) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (!(ev & (RR_IO_WRITE | RR_IO_ERROR)))
            return;
        if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err) {
            lost(c, err);
            return;
        }
        c->connecting = false;
        flush_or_lose(c);
        return;
    }
    if (ev & RR_IO_WRITE) {
        int rc = flush(c);
        if (rc) {
            lost(c, -rc);
            return;
        }
    }
    if (ev & RR_IO_READ && c->io.fd >= 0)
        on_readable(c);
}

static void tmo_fire(struct rr_timer *t)
{
    struct rp_conn *c = (struct rp_conn *)((char *)t - offsetof(struct rp_conn, tmo));
    if (!c->busy)
        return;
    if (c->s && !c->connecting && c->sid) {
        /* give the stream up, keep the connection for the user's next request */
        (void)nghttp2_submit_rst_stream(c->s, NGHTTP2_FLAG_NONE, c->sid, NGHTTP2_CANCEL);
        c->sid = 0;
        if (flush(c))
            conn_close(c);
    } else {
        conn_close(c);
    }
    deliver(c, c->w->r->timeout_err);
}

/* ---------------------------------------------------------------- engine interface */

static int h_worker_init(struct rp_worker *w)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, callbacks_init);
    w->engine_data = rr_xmalloc(RBUF_SIZE);
    return 0;
}

static void h_worker_fini(struct rp_worker *w)
{
    free(w->engine_data);
    w->engine_data = NULL;
}

static struct rp_conn *h_conn_new(struct rp_worker *w, struct rp_vu *vu)
{
    struct rp_conn *c = rr_xcalloc(1, sizeof(*c));
    c->w = w;
    c->vu = vu;
    rr_io_init(&c->io);
    rr_timer_init(&c->tmo, tmo_fire);
    rr_buf_init(&c->wbuf);
    rr_buf_init(&c->nb);
    return c;
}

static const char *h_send(struct rp_conn *c, const struct rp_out *o)
{
    const char *err;
    c->o = o;
    c->busy = true;
    c->retried = false;
    rr_timer_start(c->w->loop, &c->tmo, rr_now_mono_us() + c->w->r->o.timeout_us);
    if (c->s &&
        (c->goaway || (!nghttp2_session_want_read(c->s) && !nghttp2_session_want_write(c->s))))
        conn_close(c); /* the server is draining this connection: open a fresh one */
    err = c->io.fd < 0 ? open_and_submit(c) : submit(c);
    if (!err && !c->in_io && !c->connecting) {
        int rc = flush(c);
        if (rc && c->reused) {
            /* the server closed the idle connection under us: once more, afresh */
            c->retried = true;
            conn_close(c);
            err = open_and_submit(c);
        } else if (rc) {
            conn_close(c);
            err = rp__err_errno(-rc, c->w->errbuf, sizeof(c->w->errbuf));
        }
    }
    if (err) {
        /* nothing is in flight: a half-open connection from here is not worth keeping */
        if (c->connecting)
            conn_close(c);
        rr_timer_stop(c->w->loop, &c->tmo);
        c->busy = false;
        c->o = NULL;
    }
    return err;
}

static void h_preconnect(struct rp_conn *c)
{
    if (c->io.fd < 0)
        (void)start_connect(c); /* a failure shows on the first request */
}

static void h_abort(struct rp_conn *c)
{
    if (!c->busy)
        return;
    rr_timer_stop(c->w->loop, &c->tmo);
    c->busy = false;
    c->o = NULL;
    conn_close(c);
}

static void h_conn_free(struct rp_conn *c)
{
    if (!c)
        return;
    rr_timer_stop(c->w->loop, &c->tmo);
    conn_close(c);
    rp__rx_fini(&c->rx);
    rr_buf_fini(&c->wbuf);
    rr_buf_fini(&c->nb);
    free(c->nv);
    free(c);
}

const struct rp_engine rp__engine_h2 = {
    .name = "h2",
    .worker_init = h_worker_init,
    .worker_fini = h_worker_fini,
    .conn_new = h_conn_new,
    .send = h_send,
    .reap = NULL,
    .abort = h_abort,
    .preconnect = h_preconnect,
    .conn_free = h_conn_free,
};
