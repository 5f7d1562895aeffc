/* SPDX-License-Identifier: MIT */
/* eng_native.c -- The native HTTP/1.1 engine: nonblocking sockets, llhttp, keep-alive.
 *
 * One connection per user, opened on first use and kept alive. A request is written with one
 * send() (static steps send bytes serialised once for the whole run); the response is read
 * into a per-worker buffer and parsed by llhttp, which pauses at the end of the message.
 * Headers are copied only as far as extractors, checks and the cookie jar need them.
 * A keep-alive connection the server closed while idle is reopened once, silently, as
 * browsers and python-requests do.
 *
 * https:// targets speak TLS through OpenSSL on the same sockets: a nonblocking handshake driven
 * by the loop, then SSL_write/SSL_read in place of send/read. As Locust (and the curl engine
 * here), the server's certificate is not verified; SNI names the target host (not an IP
 * literal), ALPN offers http/1.1 only, and each worker keeps the last session ticket it got so
 * that reconnects resume instead of doing a full handshake. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <llhttp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rp_int.h"
#include "rr/util.h"

#define RBUF_SIZE 65536

/* The worker's engine_data. */
struct nworker {
    uint8_t buf[RBUF_SIZE];
    SSL_CTX *ctx;      /* https targets only */
    SSL_SESSION *sess; /* the last ticket the server gave: resumed by the next connection */
};

struct rp_conn {
    struct rp_worker *w;
    struct rp_vu *vu;
    struct rr_io io;
    struct rr_timer tmo;
    llhttp_t parser;
    const struct rp_out *o;
    size_t off;
    bool connecting, busy, complete, got_bytes, reused, retried, in_value;
    SSL *ssl;         /* https: from the end of the TCP connect */
    bool handshaking; /* TLS handshake under way */
    bool tls_failed;  /* the last SSL call failed at the TLS layer: errbuf says why */
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
    if (c->ssl) {
        /* No close_notify round trip: mark the session cleanly shut so the ticket stays usable,
         * then let the TCP close end it (the servers we meet accept that, as browsers'). */
        if (!c->handshaking && !c->tls_failed)
            SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    c->handshaking = false;
    c->tls_failed = false;
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

/* ---------------------------------------------------------------- TLS */

/* The text of a failed SSL call in Python's ssl words (what Locust shows): the OpenSSL error
 * as SSLError(1, '[LIB: REASON] reason'), an EOF as SSLEOFError, a socket error as its OSError.
 * Written into the worker's errbuf. */
static const char *tls_text(struct rp_conn *c, int sslerr, int saved_errno)
{
    char *b = c->w->errbuf;
    size_t bl = sizeof(c->w->errbuf);
    unsigned long e = ERR_peek_last_error();
    ERR_clear_error();
    if (sslerr == SSL_ERROR_SYSCALL && saved_errno)
        return rp__err_errno(saved_errno, b, bl);
    if (sslerr != SSL_ERROR_SSL || !e) {
        snprintf(b, bl, "SSLEOFError(8, 'EOF occurred in violation of protocol')");
        return b;
    }
    const char *why = ERR_reason_error_string(e);
    char mn[128];
    size_t i = 0;
    for (; why && why[i] && i + 1 < sizeof(mn); i++)
        mn[i] = why[i] == ' ' ? '_' : (char)(why[i] >= 'a' && why[i] <= 'z' ? why[i] - 32 : why[i]);
    mn[i] = 0;
    snprintf(b, bl, "SSLError(1, '[%s: %s] %s')", ERR_GET_LIB(e) == ERR_LIB_SSL ? "SSL" : "SSL_LIB",
             why ? mn : "UNKNOWN", why ? why : "unknown error");
    return b;
}

/* Reads like read(2): bytes, 0 at the end, or -1 with errno (EAGAIN: wait for the socket; a
 * TLS failure sets tls_failed, its text in errbuf, and EPROTO). */
static ssize_t conn_read(struct rp_conn *c, void *buf, size_t len)
{
    if (!c->ssl)
        return read(c->io.fd, buf, len);
    ERR_clear_error();
    errno = 0; /* SSL_ERROR_SYSCALL with errno 0 means an EOF */
    int n = SSL_read(c->ssl, buf, (int)len);
    if (n > 0)
        return n;
    int se = errno;
    int e = SSL_get_error(c->ssl, n);
    switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        if (!se)
            return 0; /* the peer closed without close_notify */
        errno = se;
        return -1;
    default:
        tls_text(c, e, se);
        c->tls_failed = true;
        errno = EPROTO;
        return -1;
    }
}

/* Writes like send(2), with the same conventions as conn_read. */
static ssize_t conn_write(struct rp_conn *c, const void *p, size_t len)
{
    if (!c->ssl)
        return send(c->io.fd, p, len, MSG_NOSIGNAL);
    ERR_clear_error();
    errno = 0; /* SSL_ERROR_SYSCALL with errno 0 means an EOF */
    int n = SSL_write(c->ssl, p, (int)(len > INT32_MAX ? INT32_MAX : len));
    if (n > 0)
        return n;
    int se = errno;
    int e = SSL_get_error(c->ssl, n);
    switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        errno = se ? se : EPIPE;
        return -1;
    default:
        tls_text(c, e, se);
        c->tls_failed = true;
        errno = EPROTO;
        return -1;
    }
}

/* The failure of a read or write: its TLS text or its errno's. */
static void fail_io(struct rp_conn *c, int e)
{
    if (c->tls_failed)
        deliver(c, c->w->errbuf);
    else
        fail_errno(c, e);
}

static void write_more(struct rp_conn *c);

/* One step of the handshake; on its end the request (if any) is written. */
static void handshake(struct rp_conn *c)
{
    ERR_clear_error();
    errno = 0; /* SSL_ERROR_SYSCALL with errno 0 means an EOF */
    int rc = SSL_connect(c->ssl);
    if (rc == 1) {
        c->handshaking = false;
        if (c->busy)
            write_more(c);
        else if (rr_io_start(c->w->loop, &c->io, c->io.fd, RR_IO_READ, io_cb))
            conn_close(c);
        return;
    }
    int se = errno;
    int e = SSL_get_error(c->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        unsigned ev = RR_IO_READ | (e == SSL_ERROR_WANT_WRITE ? RR_IO_WRITE : 0);
        if (ev != c->io.events && rr_io_start(c->w->loop, &c->io, c->io.fd, ev, io_cb)) {
            if (c->busy)
                fail_errno(c, EBADF);
            else
                conn_close(c);
        }
        return;
    }
    const char *txt = tls_text(c, e, se);
    c->tls_failed = true;
    if (c->busy)
        deliver(c, txt);
    else
        conn_close(c); /* opened ahead: the first request tries again and reports */
}

/* The TCP connect is done: starts TLS on it. */
static void tls_begin(struct rp_conn *c)
{
    struct nworker *nw = c->w->engine_data;
    const struct rp_target *t = &c->w->r->target;
    c->ssl = SSL_new(nw->ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->io.fd) != 1) {
        const char *txt = tls_text(c, SSL_ERROR_SSL, 0);
        c->tls_failed = true;
        if (c->busy)
            deliver(c, txt);
        else
            conn_close(c);
        return;
    }
    struct in6_addr a6;
    if (inet_pton(AF_INET, t->host, &a6) != 1 && inet_pton(AF_INET6, t->host, &a6) != 1 &&
        t->host[0] != '[')
        SSL_set_tlsext_host_name(c->ssl, t->host);
    if (nw->sess)
        SSL_set_session(c->ssl, nw->sess);
    c->handshaking = true;
    handshake(c);
}

/* A new session ticket: kept for the worker's next connection. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    struct nworker *nw = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (nw->sess)
        SSL_SESSION_free(nw->sess);
    nw->sess = sess;
    return 1; /* the reference is ours */
}

static SSL_CTX *tls_ctx_new(struct nworker *nw)
{
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* as Locust and the curl engine */
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    /* a server that closes without close_notify ends a close-delimited body, as in requests */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1) != 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    SSL_CTX_set_app_data(ctx, nw);
    return ctx;
}

static void write_more(struct rp_conn *c)
{
    while (c->off < c->o->wire.len) {
        ssize_t n = conn_write(c, c->o->wire.p + c->off, c->o->wire.len - c->off);
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
        if (c->tls_failed) {
            deliver(c, c->w->errbuf);
            return;
        }
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
    uint8_t *buf = ((struct nworker *)c->w->engine_data)->buf;
    for (;;) {
        ssize_t n = conn_read(c, buf, RBUF_SIZE);
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
            /* TLS: read on until OpenSSL wants the socket, as bytes it decrypted already
             * (SSL_pending) raise no event */
            if ((size_t)n < RBUF_SIZE && !c->ssl)
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
            fail_io(c, err);
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
        if (c->w->r->target.tls)
            tls_begin(c);
        else if (c->busy)
            write_more(c);
        else if (rr_io_start(c->w->loop, &c->io, io->fd, RR_IO_READ, io_cb))
            conn_close(c); /* opened ahead: wait for the first request */
        return;
    }
    if (c->handshaking) {
        handshake(c);
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
    struct nworker *nw = rr_xcalloc(1, sizeof(*nw));
    w->engine_data = nw;
    if (w->r->target.tls) {
        nw->ctx = tls_ctx_new(nw);
        if (!nw->ctx)
            return RR_ELIB;
    }
    return 0;
}

static void n_worker_fini(struct rp_worker *w)
{
    struct nworker *nw = w->engine_data;
    if (nw) {
        if (nw->sess)
            SSL_SESSION_free(nw->sess);
        if (nw->ctx)
            SSL_CTX_free(nw->ctx);
    }
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
    if (c->connecting || c->handshaking)
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
