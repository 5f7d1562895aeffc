/* SPDX-License-Identifier: MIT */
/* eng_native.c -- The native HTTP/1.1 engine: nonblocking sockets, llhttp, keep-alive.
 *
 * One connection per user, opened on first use and kept alive. A request is written with one
 * send() (static steps send bytes serialised once for the whole run); the response is read
 * into a per-worker buffer and parsed by llhttp, which pauses at the end of the message.
 * Headers are copied only as far as extractors, checks and the cookie jar need them.
 * A keep-alive connection the server closed while idle is reopened once, silently, as
 * browsers and python-requests do. */
#define _GNU_SOURCE
#include <errno.h>
#include <llhttp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rp_int.h"
#include "rr/util.h"

#define RBUF_SIZE 65536

struct rp_conn {
    struct rp_worker *w;
    struct rp_vu *vu;
    struct rr_io io;
    struct rr_timer tmo;
    llhttp_t parser;
    const struct rp_out *o;
    size_t off;
    bool connecting, busy, complete, got_bytes, reused, retried, in_value;
    int status;
    struct rp_rx rx; /* the response; its hb holds the reason bytes too */
    size_t reason_off, reason_len;
};

static llhttp_settings_t settings;

/* ---------------------------------------------------------------- parser callbacks */

static int on_status(llhttp_t *p, const char *at, size_t len)
{
    struct rp_conn *c = p->data;
    if (!c->reason_len)
        c->reason_off = c->rx.hb.len;
    rr_buf_add(&c->rx.hb, at, len);
    c->reason_len += len;
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct rp_conn *c = p->data;
    if (c->in_value || c->rx.n_hdr == 0) {
        rp__rx_header_new(&c->rx)[0] = c->rx.hb.len;
        c->in_value = false;
    }
    rr_buf_add(&c->rx.hb, at, len);
    c->rx.hoff[4 * (c->rx.n_hdr - 1) + 1] += len;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct rp_conn *c = p->data;
    size_t *h = &c->rx.hoff[4 * (c->rx.n_hdr - 1)];
    if (!c->in_value) {
        h[2] = c->rx.hb.len;
        c->in_value = true;
    }
    rr_buf_add(&c->rx.hb, at, len);
    h[3] += len;
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct rp_conn *c = p->data;
    c->status = p->status_code;
    if (c->status >= 100 && c->status < 200 && c->status != 101) {
        /* interim response: forget it, the final one follows */
        c->rx.n_hdr = 0;
        c->in_value = false;
        rr_buf_reset(&c->rx.hb);
        c->reason_len = 0;
        return 0;
    }
    return c->o && c->o->is_head ? 1 : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct rp_conn *c = p->data;
    rp__rx_body(&c->rx, c->o && c->o->need_body, at, len);
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct rp_conn *c = p->data;
    if (c->status >= 100 && c->status < 200 && c->status != 101)
        return 0;
    c->complete = true;
    return HPE_PAUSED;
}

static int on_message_begin(llhttp_t *p)
{
    struct rp_conn *c = p->data;
    c->in_value = false;
    return 0;
}

static void settings_once(void)
{
    static bool done;
    if (done)
        return;
    llhttp_settings_init(&settings);
    settings.on_message_begin = on_message_begin;
    settings.on_status = on_status;
    settings.on_header_field = on_header_field;
    settings.on_header_value = on_header_value;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
    done = true;
}

/* ---------------------------------------------------------------- connection */

static void conn_close(struct rp_conn *c)
{
    if (c->io.fd >= 0) {
        int fd = c->io.fd;
        rr_io_stop(c->w->loop, &c->io);
        close(fd);
    }
    c->connecting = false;
    c->reused = false;
}

static void deliver(struct rp_conn *c, const char *err)
{
    struct rp_resp resp = {0};
    struct rp_vu *vu = c->vu;

    rr_timer_stop(c->w->loop, &c->tmo);
    c->busy = false;
    c->o = NULL;
    resp.t_done_us = rr_now_mono_us();
    resp.error = err;
    if (!err) {
        resp.status = c->status;
        resp.reason = rr_view_of(c->rx.hb.p + c->reason_off, c->reason_len);
        resp.error = err = rp__rx_deliver(&c->rx, &resp);
    }
    if (err)
        conn_close(c);
    /* The user may send its next request on this connection from here: nothing after. */
    rp__vu_response(vu, &resp);
}

static void fail_errno(struct rp_conn *c, int e)
{
    deliver(c, rp__err_errno(e, c->w->errbuf, sizeof(c->w->errbuf)));
}

static void io_cb(struct rr_io *io, unsigned ev);
static int start_connect(struct rp_conn *c);

static void write_more(struct rp_conn *c)
{
    while (c->off < c->o->wire.len) {
        ssize_t n = send(c->io.fd, c->o->wire.p + c->off, c->o->wire.len - c->off, MSG_NOSIGNAL);
        if (n > 0) {
            c->off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!(c->io.events & RR_IO_WRITE) &&
                rr_io_start(c->w->loop, &c->io, c->io.fd, RR_IO_READ | RR_IO_WRITE, io_cb))
                fail_errno(c, EBADF);
            return;
        }
        int e = n < 0 ? errno : EPIPE;
        if (c->reused && !c->retried && !c->got_bytes) {
            /* the server closed the idle keep-alive connection: reopen once */
            c->retried = true;
            conn_close(c);
            e = -start_connect(c);
            if (!e)
                return;
        }
        fail_errno(c, e);
        return;
    }
    if (c->io.events & RR_IO_WRITE && rr_io_start(c->w->loop, &c->io, c->io.fd, RR_IO_READ, io_cb))
        fail_errno(c, EBADF);
}

static void begin_request(struct rp_conn *c)
{
    c->off = 0;
    c->complete = false;
    c->got_bytes = false;
    c->status = 0;
    c->in_value = false;
    c->reason_len = 0;
    rp__rx_reset(&c->rx);
    llhttp_init(&c->parser, HTTP_RESPONSE, &settings);
    c->parser.data = c;
}

static int start_connect(struct rp_conn *c)
{
    begin_request(c);
    c->reused = false;
    int fd = rp__tcp_open(c->w->r, c->vu->id);
    if (fd < 0)
        return fd;
    c->connecting = true;
    int rc = rr_io_start(c->w->loop, &c->io, fd, RR_IO_READ | RR_IO_WRITE, io_cb);
    if (rc) {
        close(fd);
        return rc;
    }
    return 0;
}

static void on_readable(struct rp_conn *c)
{
    uint8_t *buf = c->w->engine_data;
    for (;;) {
        ssize_t n = read(c->io.fd, buf, RBUF_SIZE);
        if (n > 0) {
            c->got_bytes = true;
            if (!c->busy) {
                conn_close(c); /* bytes nobody asked for */
                return;
            }
            llhttp_errno_t e = llhttp_execute(&c->parser, (const char *)buf, (size_t)n);
            if (c->complete) {
                bool keep = llhttp_should_keep_alive(&c->parser);
                if (!keep)
                    conn_close(c);
                else
                    c->reused = true;
                c->retried = false;
                deliver(c, NULL);
                return;
            }
            if (e != HPE_OK) {
                snprintf(c->w->errbuf, sizeof(c->w->errbuf), "BadStatusLine('%s: %s')",
                         llhttp_errno_name(e), llhttp_get_error_reason(&c->parser));
                deliver(c, c->w->errbuf);
                return;
            }
            if ((size_t)n < RBUF_SIZE)
                return;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        int err = n < 0 ? errno : 0;
        if (!c->busy) {
            conn_close(c); /* idle keep-alive connection closed by the server */
            return;
        }
        if (err == 0 && c->got_bytes) {
            /* a body delimited by the end of the connection ends here */
            llhttp_errno_t fe = llhttp_finish(&c->parser);
            if ((fe == HPE_OK || fe == HPE_PAUSED) && c->complete) {
                conn_close(c);
                deliver(c, NULL);
                return;
            }
        }
        if (c->reused && !c->retried && !c->got_bytes) {
            c->retried = true;
            conn_close(c);
            int rc = start_connect(c);
            if (!rc)
                return;
            fail_errno(c, -rc);
            return;
        }
        if (err)
            fail_errno(c, err);
        else
            deliver(c, "RemoteDisconnected('Remote end closed connection without response')");
        return;
    }
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
            fail_errno(c, err);
            return;
        }
        c->connecting = false;
        if (c->busy)
            write_more(c);
        else if (rr_io_start(c->w->loop, &c->io, io->fd, RR_IO_READ, io_cb))
            conn_close(c); /* opened ahead: wait for the first request */
        return;
    }
    if (ev & RR_IO_WRITE && c->busy && c->o && c->off < c->o->wire.len) {
        write_more(c);
        if (!c->busy)
            return;
    }
    if (ev & RR_IO_READ)
        on_readable(c);
}

static void tmo_fire(struct rr_timer *t)
{
    struct rp_conn *c = (struct rp_conn *)((char *)t - offsetof(struct rp_conn, tmo));
    if (!c->busy)
        return;
    deliver(c, c->w->r->timeout_err);
}

/* ---------------------------------------------------------------- engine interface */

static int n_worker_init(struct rp_worker *w)
{
    settings_once();
    w->engine_data = rr_xmalloc(RBUF_SIZE);
    return 0;
}

static void n_worker_fini(struct rp_worker *w)
{
    free(w->engine_data);
    w->engine_data = NULL;
}

static struct rp_conn *n_conn_new(struct rp_worker *w, struct rp_vu *vu)
{
    struct rp_conn *c = rr_xcalloc(1, sizeof(*c));
    c->w = w;
    c->vu = vu;
    rr_io_init(&c->io);
    rr_timer_init(&c->tmo, tmo_fire);
    return c;
}

static const char *n_send(struct rp_conn *c, const struct rp_out *o)
{
    c->o = o;
    c->busy = true;
    c->retried = false;
    rr_timer_start(c->w->loop, &c->tmo, rr_now_mono_us() + c->w->r->o.timeout_us);
    if (c->io.fd < 0) {
        int rc = start_connect(c);
        if (rc) {
            rr_timer_stop(c->w->loop, &c->tmo);
            c->busy = false;
            c->o = NULL;
            return rp__err_errno(-rc, c->w->errbuf, sizeof(c->w->errbuf));
        }
        return NULL;
    }
    begin_request(c);
    if (c->connecting)
        return NULL; /* opened ahead (timeline): the connect completion writes */
    write_more(c);
    return NULL;
}

static void n_preconnect(struct rp_conn *c)
{
    if (c->io.fd < 0)
        (void)start_connect(c); /* a failure shows on the first request */
}

static void n_abort(struct rp_conn *c)
{
    if (!c->busy)
        return;
    rr_timer_stop(c->w->loop, &c->tmo);
    c->busy = false;
    c->o = NULL;
    conn_close(c);
}

static void n_conn_free(struct rp_conn *c)
{
    if (!c)
        return;
    rr_timer_stop(c->w->loop, &c->tmo);
    conn_close(c);
    rp__rx_fini(&c->rx);
    free(c);
}

const struct rp_engine rp__engine_native = {
    .name = "native",
    .worker_init = n_worker_init,
    .worker_fini = n_worker_fini,
    .conn_new = n_conn_new,
    .send = n_send,
    .reap = NULL,
    .abort = n_abort,
    .preconnect = n_preconnect,
    .conn_free = n_conn_free,
};
