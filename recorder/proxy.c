/* proxy.c -- The recording reverse proxy (rr/proxy.h).
 *
 * Each client connection gets its own upstream connection; bytes are relayed unchanged in
 * both directions and, as they pass, fed to the same sans-I/O dissectors the packet path
 * uses, so what is recorded is exactly what the two ends exchanged. Back-pressure: a side
 * is not read while more than RELAY_MAX bytes wait to be written to the other. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "dissect.h"
#include "h1_dissect.h"
#include "proxy_hostrw.h"
#include "rr/buf.h"
#include "rr/log.h"
#include "rr/proxy.h"
#include "rr/util.h"

#define RELAY_MAX  (1u << 20)
#define READ_CHUNK 65536

/* Which dissector a connection's bytes go to: chosen from the client's first bytes (the
 * HTTP/2 preface, an HTTP/1 request line, or neither). The HTTP/1 dissector itself hands an
 * "Upgrade: h2c" connection over to the HTTP/2 one. */
enum {
    DISS_NONE,
    DISS_H2,
    DISS_H1,
    DISS_SKIP
};

struct rr_proxy_diss {
    int kind;
    struct rr_dissect_sink sink;
    struct rr_dissect_limits lim;
    struct rr_h2d *h2;
    struct rr_h1d *h1;
    struct rr_buf held; /* server bytes sent before the client's first (an h2 server's SETTINGS) */
    uint64_t held_ts;
};

#define HELD_MAX (64u << 10)

static void rr_proxy__diss_init(struct rr_proxy_diss *d, const struct rr_dissect_sink *sink)
{
    memset(d, 0, sizeof(*d));
    d->sink = *sink;
    d->lim.max_body = 64u << 20;
    d->lim.max_headers = 256u << 10;
    d->lim.max_pending = 1024;
}

static int rr_proxy__diss_feed(struct rr_proxy_diss *d, enum rr_dir dir, const uint8_t *p, size_t n,
                               uint64_t ts)
{
    int rc;
    if (d->kind == DISS_NONE) {
        if (dir != RR_DIR_C2S) {
            /* An h2c server may send its SETTINGS before the client's preface arrives. */
            if (d->held.len + n > HELD_MAX) {
                d->kind = DISS_SKIP;
                rr_buf_fini(&d->held);
                return RR_OK;
            }
            if (d->held.len == 0)
                d->held_ts = ts;
            rr_buf_add(&d->held, p, n);
            return RR_OK;
        }
        if (rr_h2d_is_preface(p, n)) {
            rc = rr_h2d_new(&d->h2, &d->sink, &d->lim);
            if (rc)
                return rc;
            d->kind = DISS_H2;
        } else if (rr_h1_is_request_start(p, n)) {
            rc = rr_h1d_new(&d->h1, &d->sink, &d->lim, 0);
            if (rc)
                return rc;
            d->kind = DISS_H1;
        } else {
            d->kind = DISS_SKIP;
        }
        if (d->held.len && d->kind != DISS_SKIP) {
            struct rr_buf held = d->held;
            rr_buf_init(&d->held);
            rc = rr_proxy__diss_feed(d, RR_DIR_S2C, held.p, held.len, d->held_ts);
            rr_buf_fini(&held);
            if (rc)
                return rc;
        }
        rr_buf_fini(&d->held);
    }
    if (d->kind == DISS_H2)
        return rr_h2d_feed(d->h2, dir, p, n, ts);
    if (d->kind == DISS_H1)
        return rr_h1d_feed(d->h1, dir, p, n, ts);
    return RR_OK;
}

/* One side closed its direction: an HTTP/1 response delimited by the close is complete. */
static int rr_proxy__diss_eof(struct rr_proxy_diss *d, enum rr_dir dir, uint64_t ts)
{
    return d->kind == DISS_H1 ? rr_h1d_eof(d->h1, dir, ts) : RR_OK;
}

static int rr_proxy__diss_finish(struct rr_proxy_diss *d, uint64_t ts)
{
    if (d->kind == DISS_H2)
        return rr_h2d_finish(d->h2, ts);
    if (d->kind == DISS_H1)
        return rr_h1d_finish(d->h1, ts);
    return RR_OK;
}

static int rr_proxy__diss_skipped(const struct rr_proxy_diss *d)
{
    return d->kind == DISS_SKIP || (d->kind == DISS_NONE && d->held.len > 0);
}

static void rr_proxy__diss_free(struct rr_proxy_diss *d)
{
    rr_h2d_free(&d->h2);
    rr_h1d_free(&d->h1);
    rr_buf_fini(&d->held);
}

struct pconn {
    int fd[2];            /* [RR_DIR_C2S] the client, [RR_DIR_S2C] the upstream */
    struct rr_buf out[2]; /* bytes waiting to be written to fd[i] */
    int eof[2];           /* fd[i] reached end of file */
    int shut[2];          /* fd[i] has been shut down for writing */
    struct rr_conn conn;
    struct rr_proxy *px;
    struct rr_proxy_diss diss;
    /* With an https:// upstream, fd[RR_DIR_S2C] carries TLS: the handshake starts with the
     * client's first bytes (their kind picks the ALPN offer) and runs inside the poll loop. */
    SSL *ssl;
    int hs;        /* 0: not started, 1: in progress, 2: done */
    short tlswant; /* poll events the last SSL call asked for */
    int failed;    /* the upstream handshake failed: the client gets a 502, nothing is stored */
    int rw_on;
    struct rr_hostrw rw;
};

struct rr_proxy {
    const struct rr_proxy_opts *o;
    struct rr_proxy_stats st;
    struct sockaddr_storage up;
    socklen_t uplen;
    int lfd;
    struct pconn **c;
    size_t nc;
    int err; /* sticky store error */
    int tls, rewrite, logged;
    char host[256];      /* the upstream's name: SNI and the name its certificate must carry */
    char authority[300]; /* HOST[:PORT] as given: what Host is rewritten to */
    SSL_CTX *ctx;
};

struct upstream {
    struct sockaddr_storage ss;
    socklen_t len;
    int tls;
    char host[256];
    char authority[300];
};

static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256] = "127.0.0.1";
    const char *port = s;
    const char *colon = strrchr(s, ':');
    char *end;

    if (colon) {
        size_t hl = (size_t)(colon - s);
        if (hl >= sizeof(host))
            return -1;
        if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
            memcpy(host, s + 1, hl - 2);
            host[hl - 2] = 0;
        } else if (hl > 0) {
            memcpy(host, s, hl);
            host[hl] = 0;
        }
        port = colon + 1;
    }
    unsigned long p = strtoul(port, &end, 10);
    if (!*port || *end || p > 65535)
        return -1;
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)p);
        *len = sizeof(*a4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)p);
        *len = sizeof(*a6);
        return 0;
    }
    return -1;
}

static int parse_upstream(const char *url, struct upstream *u, char *why, size_t whylen)
{
    char *host = u->host, port[8] = "80";
    const char *p, *h, *e;
    struct addrinfo hints, *res = NULL;

    memset(u, 0, sizeof(*u));
    if (strncmp(url, "http://", 7) == 0) {
        h = url + 7;
    } else if (strncmp(url, "https://", 8) == 0) {
        h = url + 8;
        u->tls = 1;
        strcpy(port, "443");
    } else {
        snprintf(why, whylen, "--upstream %s: expected http:// or https://", url);
        return -1;
    }
    e = h + strcspn(h, "/");
    if ((size_t)(e - h) >= sizeof(u->authority))
        goto bad;
    memcpy(u->authority, h, (size_t)(e - h));
    u->authority[e - h] = 0;
    if (*e && strcmp(e, "/") != 0) {
        snprintf(why, whylen,
                 "--upstream %s: a path prefix is not supported (give the server "
                 "only)",
                 url);
        return -1;
    }
    if (*h == '[') {
        p = memchr(h, ']', (size_t)(e - h));
        if (!p || (size_t)(p - h - 1) >= sizeof(u->host))
            goto bad;
        memcpy(host, h + 1, (size_t)(p - h - 1));
        host[p - h - 1] = 0;
        p++;
    } else {
        p = h;
        while (p < e && *p != ':')
            p++;
        if (p == h || (size_t)(p - h) >= sizeof(u->host))
            goto bad;
        memcpy(host, h, (size_t)(p - h));
        host[p - h] = 0;
    }
    if (p < e && *p == ':') {
        size_t pl = (size_t)(e - p - 1);
        if (pl == 0 || pl >= sizeof(port))
            goto bad;
        memcpy(port, p + 1, pl);
        port[pl] = 0;
    } else if (p != e) {
        goto bad;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0 || !res) {
        snprintf(why, whylen, "--upstream %s: cannot resolve %s", url, host);
        return -1;
    }
    memcpy(&u->ss, res->ai_addr, res->ai_addrlen);
    u->len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
bad:
    snprintf(why, whylen, "--upstream %s: expected http[s]://HOST[:PORT]", url);
    return -1;
}

int rr_proxy_check(const struct rr_proxy_opts *o, char *why, size_t whylen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    struct upstream u;

    if (!o->listen || parse_listen(o->listen, &ss, &len)) {
        snprintf(why, whylen, "--proxy %s: expected [HOST:]PORT", o->listen ? o->listen : "");
        return RR_EUSAGE;
    }
    if (!o->upstream) {
        snprintf(why, whylen, "--proxy needs --upstream URL");
        return RR_EUSAGE;
    }
    if (parse_upstream(o->upstream, &u, why, whylen))
        return RR_EUSAGE;
    if (o->host_header < RR_PROXY_HOST_DEFAULT || o->host_header > RR_PROXY_HOST_REWRITE) {
        snprintf(why, whylen, "--host-header: expected rewrite or keep");
        return RR_EUSAGE;
    }
    return RR_OK;
}

static void addr_into(const struct sockaddr_storage *ss, uint8_t ip[16], uint16_t *port,
                      uint8_t *ver)
{
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        memcpy(ip, &a->sin6_addr, 16);
        *port = ntohs(a->sin6_port);
        *ver = 6;
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        memcpy(ip, &a->sin_addr, 4);
        *port = ntohs(a->sin_port);
        *ver = 4;
    }
}

/* The sink of every dissector of connection c. */
static int on_exchange(void *ud, struct rr_exchange *x, const uint8_t *rq, size_t rql,
                       const uint8_t *rs, size_t rsl)
{
    struct pconn *c = ud;
    struct rr_proxy *px = c->px;
    int rc;

    if (px->err)
        return px->err;
    if (c->conn.id == 0) {
        rc = rr_store_conn_put(px->o->store, &c->conn);
        if (rc)
            return px->err = rc;
    }
    /* The client spoke plain HTTP to the proxy; what was recorded went out over TLS. */
    if (px->tls)
        x->scheme = rr_view_of("https", 5);
    x->conn_id = c->conn.id;
    x->id = 0;
    rc = rr_store_exchange_put(px->o->store, x, rq, rql, rs, rsl);
    if (rc)
        return px->err = rc;
    px->st.exchanges++;
    return RR_OK;
}

static void conn_close(struct rr_proxy *px, size_t i)
{
    struct pconn *c = px->c[i];
    uint64_t now = rr_now_real_us();

    int frc = rr_proxy__diss_finish(&c->diss, now);
    if (frc && !px->err)
        px->err = frc;
    if (rr_proxy__diss_skipped(&c->diss) && !c->failed)
        px->st.undissected++;
    rr_proxy__diss_free(&c->diss);
    if (c->conn.id) {
        /* Stored again with its end time and how it ended. */
        c->conn.t_last_us = now;
        c->conn.flags |= RR_CF_FIN;
        int rc = rr_store_conn_put(px->o->store, &c->conn);
        if (rc && !px->err)
            px->err = rc;
    }
    if (c->ssl)
        SSL_free(c->ssl);
    if (c->rw_on)
        rr_hostrw_fini(&c->rw);
    for (int d = 0; d < 2; d++) {
        if (c->fd[d] >= 0)
            close(c->fd[d]);
        rr_buf_fini(&c->out[d]);
    }
    free(c);
    px->c[i] = px->c[--px->nc];
}

#define CONNECT_TIMEOUT_MS 3000

static int connect_wait(int fd, const struct sockaddr_storage *a, socklen_t al, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int err = 0;
    socklen_t el = sizeof(err);

    if (connect(fd, (const struct sockaddr *)a, al) == 0)
        return 0;
    if (errno != EINPROGRESS)
        return -1;
    if (poll(&p, 1, ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) || err)
        return -1;
    return 0;
}

static void do_accept(struct rr_proxy *px)
{
    struct sockaddr_storage cs, ls;
    socklen_t cl = sizeof(cs), ll = sizeof(ls);
    unsigned max = px->o->max_conns ? px->o->max_conns : 1024;
    int cfd = accept4(px->lfd, (struct sockaddr *)&cs, &cl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    int ufd;

    if (cfd < 0)
        return;
    if (px->nc >= max) {
        px->st.refused++;
        close(cfd);
        return;
    }
    /* Loopback and LAN upstreams answer at once: waiting for the connect here keeps this
     * simple, and the timeout bounds how long an unreachable upstream stalls the others. */
    ufd = socket(px->up.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (ufd < 0 || connect_wait(ufd, &px->up, px->uplen, CONNECT_TIMEOUT_MS) != 0) {
        px->st.refused++;
        if (ufd >= 0)
            close(ufd);
        close(cfd);
        return;
    }
    int one = 1;
    (void)setsockopt(ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    (void)setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    struct pconn *c = rr_xcalloc(1, sizeof(*c));
    c->fd[RR_DIR_C2S] = cfd;
    c->fd[RR_DIR_S2C] = ufd;
    c->px = px;
    for (int d = 0; d < 2; d++)
        rr_buf_init(&c->out[d]);
    addr_into(&cs, c->conn.client_ip, &c->conn.client_port, &c->conn.ip_version);
    if (getsockname(cfd, (struct sockaddr *)&ls, &ll) == 0) {
        uint8_t v;
        addr_into(&ls, c->conn.server_ip, &c->conn.server_port, &v);
    }
    c->conn.flags = RR_CF_PROXY;
    c->conn.t_first_us = c->conn.t_last_us = rr_now_real_us();
    struct rr_dissect_sink sink = {on_exchange, c};
    rr_proxy__diss_init(&c->diss, &sink);
    if (px->rewrite) {
        rr_hostrw_init(&c->rw, px->authority);
        c->rw_on = 1;
    }
    px->c = rr_xrealloc(px->c, (px->nc + 1) * sizeof(*px->c));
    px->c[px->nc++] = c;
    px->st.conns++;
}

/* Takes n bytes read from side d: queues them (rewritten, client to upstream) for the other
 * side and dissects what is queued, so the store holds what the upstream was sent. */
static void take_in(struct rr_proxy *px, struct pconn *c, int d, const uint8_t *buf, size_t n)
{
    struct rr_buf *q = &c->out[!d];
    size_t at = q->len;
    int frc;

    if (d == RR_DIR_C2S)
        px->st.bytes_c2s += (uint64_t)n;
    else
        px->st.bytes_s2c += (uint64_t)n;
    if (c->failed)
        return; /* the client's bytes after a failed upstream handshake are dropped */
    if (d == RR_DIR_C2S && c->rw_on)
        rr_hostrw_feed(&c->rw, buf, n, q);
    else
        rr_buf_add(q, buf, n);
    if (q->len > at) {
        frc =
            rr_proxy__diss_feed(&c->diss, (enum rr_dir)d, q->p + at, q->len - at, rr_now_real_us());
        if (frc && !px->err)
            px->err = frc;
    }
}

static void take_eof(struct rr_proxy *px, struct pconn *c, int d)
{
    c->eof[d] = 1;
    int frc = rr_proxy__diss_eof(&c->diss, (enum rr_dir)d, rr_now_real_us());
    if (frc && !px->err)
        px->err = frc;
}

/* Reads from plain side d, queues the bytes for the other side and dissects them. Returns -1
 * when the connection is finished. */
static int pump_in(struct rr_proxy *px, struct pconn *c, int d)
{
    uint8_t buf[READ_CHUNK];
    ssize_t n = read(c->fd[d], buf, sizeof(buf));

    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (n == 0) {
        take_eof(px, c, d);
        return 0;
    }
    take_in(px, c, d, buf, (size_t)n);
    return 0;
}

/* Why the handshake of c failed, in a few words. */
static void tls_why(struct pconn *c, char *why, size_t whylen)
{
    long vr = SSL_get_verify_result(c->ssl);
    unsigned long e = ERR_peek_error();
    if (vr != X509_V_OK)
        snprintf(why, whylen, "certificate verify failed: %s", X509_verify_cert_error_string(vr));
    else if (e)
        ERR_error_string_n(e, why, whylen);
    else
        snprintf(why, whylen, "connection closed during the handshake");
}

/* The upstream handshake failed: the client is answered 502 and its connection is closed once
 * it has read that; nothing of it is stored. */
static void tls_fail(struct rr_proxy *px, struct pconn *c)
{
    char why[256], body[512];

    tls_why(c, why, sizeof(why));
    ERR_clear_error();
    px->st.tls_failed++;
    if (!px->logged) {
        /* One line, not one per connection: the summary counts the others. */
        rr_log(RR_LOG_ERR, "TLS to %s failed: %s%s", px->authority, why,
               SSL_get_verify_result(c->ssl) != X509_V_OK ? " (-k skips the check)" : "");
        px->logged = 1;
    }
    rr_proxy__diss_free(&c->diss);
    c->diss.kind = DISS_SKIP;
    c->failed = 1;
    SSL_free(c->ssl);
    c->ssl = NULL;
    close(c->fd[RR_DIR_S2C]);
    c->fd[RR_DIR_S2C] = -1;
    c->eof[RR_DIR_S2C] = 1;
    rr_buf_reset(&c->out[RR_DIR_S2C]);
    int bl =
        snprintf(body, sizeof(body), "rrload proxy: TLS to %s failed: %s\n", px->authority, why);
    rr_buf_reset(&c->out[RR_DIR_C2S]);
    rr_buf_printf(&c->out[RR_DIR_C2S],
                  "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                  "Connection: close\r\n\r\n%s",
                  bl, body);
}

static int tls_start(struct rr_proxy *px, struct pconn *c)
{
    static const unsigned char h1[] = "\x08http/1.1";
    static const unsigned char h2[] = "\x02h2";
    struct in6_addr ip6;
    struct in_addr ip4;
    int is_ip = inet_pton(AF_INET, px->host, &ip4) == 1 || inet_pton(AF_INET6, px->host, &ip6) == 1;

    c->ssl = SSL_new(px->ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd[RR_DIR_S2C]) != 1)
        return -1;
    if (!is_ip)
        SSL_set_tlsext_host_name(c->ssl, px->host);
    if (!px->o->insecure) {
        if (is_ip) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), px->host);
        } else {
            SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            SSL_set1_host(c->ssl, px->host);
        }
    }
    /* The client's first bytes say which protocol it speaks; the upstream is offered only that. */
    if (c->diss.kind == DISS_H2)
        SSL_set_alpn_protos(c->ssl, h2, sizeof(h2) - 1);
    else
        SSL_set_alpn_protos(c->ssl, h1, sizeof(h1) - 1);
    SSL_set_connect_state(c->ssl);
    c->hs = 1;
    return 0;
}

/* Drives the TLS side of c: handshake, then writes and reads. Returns -1 when the connection is
 * finished. */
static int tls_io(struct rr_proxy *px, struct pconn *c)
{
    uint8_t buf[READ_CHUNK];
    int r, e;

    c->tlswant = 0;
    if (c->hs == 1) {
        ERR_clear_error();
        r = SSL_connect(c->ssl);
        if (r != 1) {
            e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ)
                c->tlswant = POLLIN;
            else if (e == SSL_ERROR_WANT_WRITE)
                c->tlswant = POLLOUT;
            else
                tls_fail(px, c);
            return 0;
        }
        c->hs = 2;
    }
    if (c->hs != 2)
        return 0;
    while (c->out[RR_DIR_S2C].len > 0) {
        size_t len = c->out[RR_DIR_S2C].len;
        ERR_clear_error();
        r = SSL_write(c->ssl, c->out[RR_DIR_S2C].p, len > (1u << 30) ? (1 << 30) : (int)len);
        if (r > 0) {
            rr_buf_consume(&c->out[RR_DIR_S2C], (size_t)r);
            continue;
        }
        e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ)
            c->tlswant |= POLLIN;
        else if (e == SSL_ERROR_WANT_WRITE)
            c->tlswant |= POLLOUT;
        else
            return -1;
        break;
    }
    /* SSL_read until it wants more from the socket: records already decrypted (SSL_pending)
     * would not wake poll. Back-pressure leaves them for a later round (see tls_more). */
    while (!c->eof[RR_DIR_S2C] && c->out[RR_DIR_C2S].len < RELAY_MAX) {
        ERR_clear_error();
        r = SSL_read(c->ssl, buf, sizeof(buf));
        if (r > 0) {
            take_in(px, c, RR_DIR_S2C, buf, (size_t)r);
            continue;
        }
        e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ) {
            c->tlswant |= POLLIN;
        } else if (e == SSL_ERROR_WANT_WRITE) {
            c->tlswant |= POLLOUT;
        } else if (e == SSL_ERROR_ZERO_RETURN ||
                   (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
            /* Servers often close without a close_notify: an end of file all the same. */
            take_eof(px, c, RR_DIR_S2C);
        } else {
            return -1;
        }
        break;
    }
    return 0;
}

static int tls_more(const struct pconn *c)
{
    return c->ssl && c->hs == 2 && !c->eof[RR_DIR_S2C] && c->out[RR_DIR_C2S].len < RELAY_MAX &&
           SSL_pending(c->ssl) > 0;
}

static int pump_out(struct pconn *c, int d)
{
    while (c->out[d].len > 0) {
        ssize_t n = send(c->fd[d], c->out[d].p, c->out[d].len, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        rr_buf_consume(&c->out[d], (size_t)n);
    }
    return 0;
}

int rr_proxy_run(const struct rr_proxy_opts *o, struct rr_proxy_stats *stats, char *why,
                 size_t whylen)
{
    struct rr_proxy px;
    struct sockaddr_storage ls;
    socklen_t ll;
    struct pollfd *pf = NULL;
    int rc = rr_proxy_check(o, why, whylen);
    uint64_t t_end;

    memset(&px, 0, sizeof(px));
    px.o = o;
    px.lfd = -1;
    if (rc)
        goto out;
    (void)parse_listen(o->listen, &ls, &ll);
    struct upstream up;
    (void)parse_upstream(o->upstream, &up, why, whylen);
    px.up = up.ss;
    px.uplen = up.len;
    px.tls = up.tls;
    memcpy(px.host, up.host, sizeof(px.host));
    memcpy(px.authority, up.authority, sizeof(px.authority));
    px.rewrite = o->host_header == RR_PROXY_HOST_REWRITE ||
                 (o->host_header == RR_PROXY_HOST_DEFAULT && px.tls);
    if (px.tls) {
        px.ctx = SSL_CTX_new(TLS_client_method());
        if (!px.ctx || SSL_CTX_set_min_proto_version(px.ctx, TLS1_2_VERSION) != 1 ||
            (!o->insecure && SSL_CTX_set_default_verify_paths(px.ctx) != 1)) {
            rc = RR_EUSAGE;
            snprintf(why, whylen, "--upstream %s: cannot set up TLS", o->upstream);
            goto out;
        }
        /* Writes resume from a buffer that may have moved (rr_buf grows by realloc). */
        SSL_CTX_set_mode(px.ctx,
                         SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
        SSL_CTX_set_options(px.ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
        SSL_CTX_set_verify(px.ctx, o->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    }
    px.lfd = socket(ls.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (px.lfd < 0 || setsockopt(px.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        bind(px.lfd, (struct sockaddr *)&ls, ll) || listen(px.lfd, 128)) {
        rc = -errno;
        snprintf(why, whylen, "--proxy %s: %s", o->listen, strerror(errno));
        goto out;
    }
    ll = sizeof(ls);
    if (getsockname(px.lfd, (struct sockaddr *)&ls, &ll) == 0 && o->on_listen) {
        uint8_t ip[16], v;
        uint16_t port;
        addr_into(&ls, ip, &port, &v);
        o->on_listen(o->ud, port);
    }
    t_end = o->duration_ms ? rr_now_mono_us() + o->duration_ms * 1000 : 0;

    for (;;) {
        if ((o->stop && *o->stop) || (t_end && rr_now_mono_us() >= t_end) ||
            (o->max_exchanges && px.st.exchanges >= o->max_exchanges) || px.err)
            break;
        int more = 0;
        pf = rr_xrealloc(pf, (1 + 2 * px.nc) * sizeof(*pf));
        pf[0].fd = px.lfd;
        pf[0].events = POLLIN;
        pf[0].revents = 0;
        for (size_t i = 0; i < px.nc; i++) {
            struct pconn *c = px.c[i];
            for (int d = 0; d < 2; d++) {
                struct pollfd *p = &pf[1 + 2 * i + d];
                p->fd = c->fd[d];
                p->events = 0;
                p->revents = 0;
                if (d == RR_DIR_S2C && px.tls) {
                    /* TLS: the socket is polled for what OpenSSL last asked, plus data. */
                    p->events = c->tlswant;
                    if (c->hs == 2 && !c->eof[d] && c->out[!d].len < RELAY_MAX)
                        p->events |= POLLIN;
                    if (c->hs == 2 && c->out[d].len > 0)
                        p->events |= POLLOUT;
                    more |= tls_more(c);
                    /* Nothing left to do on a socket that ended and has nothing to send: not
                     * polled, or a reset (POLLHUP) would wake every round. */
                    if (c->eof[d] && c->out[d].len == 0 && !c->tlswant)
                        p->fd = -1;
                    continue;
                }
                if (!c->eof[d] && c->out[!d].len < RELAY_MAX)
                    p->events |= POLLIN;
                if (c->out[d].len > 0)
                    p->events |= POLLOUT;
            }
        }
        int n = poll(pf, 1 + 2 * px.nc, more ? 0 : 100);
        if (n < 0 && errno != EINTR) {
            rc = -errno;
            snprintf(why, whylen, "poll: %s", strerror(errno));
            goto out;
        }
        if (n <= 0 && !more)
            continue;
        /* Connections are walked backwards so that closing one (swap with the last) does not
         * skip another; new ones are accepted after the walk. */
        for (size_t i = px.nc; i-- > 0;) {
            struct pconn *c = px.c[i];
            int dead = 0;
            for (int d = 0; d < 2 && !dead; d++) {
                short re = pf[1 + 2 * i + d].revents;
                if (d == RR_DIR_S2C && px.tls) {
                    if (c->ssl && (re || tls_more(c)))
                        dead |= tls_io(&px, c) < 0;
                    else if (!c->ssl && !c->failed && (re & (POLLHUP | POLLERR)))
                        dead = 1;
                    continue;
                }
                if (re & (POLLIN | POLLHUP | POLLERR))
                    dead |= pump_in(&px, c, d) < 0;
                if (re & POLLOUT)
                    dead |= pump_out(c, d) < 0;
                /* The handshake waits for the client's first bytes: they choose the ALPN. */
                if (d == RR_DIR_C2S && px.tls && c->hs == 0 && !c->failed &&
                    c->out[RR_DIR_S2C].len > 0) {
                    if (tls_start(&px, c) < 0 || tls_io(&px, c) < 0)
                        dead = 1;
                }
            }
            /* An end of file travels on once what came before it was written. */
            for (int d = 0; d < 2 && !dead; d++) {
                if (c->eof[d] && c->out[!d].len == 0 && !c->shut[!d]) {
                    if (!d && c->ssl && c->hs == 2) {
                        ERR_clear_error();
                        (void)SSL_shutdown(c->ssl);
                    }
                    if (c->fd[!d] >= 0)
                        shutdown(c->fd[!d], SHUT_WR);
                    c->shut[!d] = 1;
                }
            }
            if (dead || (c->shut[0] && c->shut[1]))
                conn_close(&px, i);
        }
        if (pf[0].revents & POLLIN)
            do_accept(&px);
    }
    rc = px.err;
    if (rc)
        snprintf(why, whylen, "storing: %s", rr_strerror(rc));
out:
    while (px.nc > 0)
        conn_close(&px, px.nc - 1);
    if (!rc && px.err) {
        rc = px.err;
        snprintf(why, whylen, "storing: %s", rr_strerror(rc));
    }
    if (px.lfd >= 0)
        close(px.lfd);
    SSL_CTX_free(px.ctx);
    free(px.c);
    free(pf);
    if (stats)
        *stats = px.st;
    return rc;
}
