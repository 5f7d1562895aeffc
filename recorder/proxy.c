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

#include "dissect.h"
#include "h1_dissect.h"
#include "rr/buf.h"
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

static int parse_upstream(const char *url, struct sockaddr_storage *ss, socklen_t *len, char *why,
                          size_t whylen)
{
    char host[256], port[8] = "80";
    const char *p, *h, *e;
    struct addrinfo hints, *res = NULL;

    if (strncmp(url, "http://", 7) != 0) {
        snprintf(why, whylen, "--upstream %s: only http:// upstreams are supported", url);
        return -1;
    }
    h = url + 7;
    e = h + strcspn(h, "/");
    if (*e && strcmp(e, "/") != 0) {
        snprintf(why, whylen,
                 "--upstream %s: a path prefix is not supported (give the server "
                 "only)",
                 url);
        return -1;
    }
    if (*h == '[') {
        p = memchr(h, ']', (size_t)(e - h));
        if (!p || (size_t)(p - h - 1) >= sizeof(host))
            goto bad;
        memcpy(host, h + 1, (size_t)(p - h - 1));
        host[p - h - 1] = 0;
        p++;
    } else {
        p = h;
        while (p < e && *p != ':')
            p++;
        if (p == h || (size_t)(p - h) >= sizeof(host))
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
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
bad:
    snprintf(why, whylen, "--upstream %s: expected http://HOST[:PORT]", url);
    return -1;
}

int rr_proxy_check(const struct rr_proxy_opts *o, char *why, size_t whylen)
{
    struct sockaddr_storage ss;
    socklen_t len;

    if (!o->listen || parse_listen(o->listen, &ss, &len)) {
        snprintf(why, whylen, "--proxy %s: expected [HOST:]PORT", o->listen ? o->listen : "");
        return RR_EUSAGE;
    }
    if (!o->upstream) {
        snprintf(why, whylen, "--proxy needs --upstream URL");
        return RR_EUSAGE;
    }
    if (parse_upstream(o->upstream, &ss, &len, why, whylen))
        return RR_EUSAGE;
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
    if (rr_proxy__diss_skipped(&c->diss))
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
    px->c = rr_xrealloc(px->c, (px->nc + 1) * sizeof(*px->c));
    px->c[px->nc++] = c;
    px->st.conns++;
}

/* Reads from side d, queues the bytes for the other side and dissects them. Returns -1 when
 * the connection is finished. */
static int pump_in(struct rr_proxy *px, struct pconn *c, int d)
{
    uint8_t buf[READ_CHUNK];
    ssize_t n = read(c->fd[d], buf, sizeof(buf));
    int other = !d;

    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (n == 0) {
        c->eof[d] = 1;
        int frc = rr_proxy__diss_eof(&c->diss, (enum rr_dir)d, rr_now_real_us());
        if (frc && !px->err)
            px->err = frc;
        return 0;
    }
    rr_buf_add(&c->out[other], buf, (size_t)n);
    if (d == RR_DIR_C2S)
        px->st.bytes_c2s += (uint64_t)n;
    else
        px->st.bytes_s2c += (uint64_t)n;
    int frc = rr_proxy__diss_feed(&c->diss, (enum rr_dir)d, buf, (size_t)n, rr_now_real_us());
    if (frc && !px->err)
        px->err = frc;
    return 0;
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
    (void)parse_upstream(o->upstream, &px.up, &px.uplen, why, whylen);
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
        pf = rr_xrealloc(pf, (1 + 2 * px.nc) * sizeof(*pf));
        pf[0].fd = px.lfd;
        pf[0].events = POLLIN;
        for (size_t i = 0; i < px.nc; i++) {
            struct pconn *c = px.c[i];
            for (int d = 0; d < 2; d++) {
                struct pollfd *p = &pf[1 + 2 * i + d];
                p->fd = c->fd[d];
                p->events = 0;
                p->revents = 0;
                if (!c->eof[d] && c->out[!d].len < RELAY_MAX)
                    p->events |= POLLIN;
                if (c->out[d].len > 0)
                    p->events |= POLLOUT;
            }
        }
        int n = poll(pf, 1 + 2 * px.nc, 100);
        if (n < 0 && errno != EINTR) {
            rc = -errno;
            snprintf(why, whylen, "poll: %s", strerror(errno));
            goto out;
        }
        if (n <= 0)
            continue;
        /* Connections are walked backwards so that closing one (swap with the last) does not
         * skip another; new ones are accepted after the walk. */
        for (size_t i = px.nc; i-- > 0;) {
            struct pconn *c = px.c[i];
            int dead = 0;
            for (int d = 0; d < 2 && !dead; d++) {
                short re = pf[1 + 2 * i + d].revents;
                if (re & (POLLIN | POLLHUP | POLLERR))
                    dead |= pump_in(&px, c, d) < 0;
                if (re & POLLOUT)
                    dead |= pump_out(c, d) < 0;
            }
            /* An end of file travels on once what came before it was written. */
            for (int d = 0; d < 2 && !dead; d++) {
                if (c->eof[d] && c->out[!d].len == 0 && !c->shut[!d]) {
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
    free(px.c);
    free(pf);
    if (stats)
        *stats = px.st;
    return rc;
}
