/* SPDX-License-Identifier: MIT */
/* eng_curl.c -- The libcurl engine: a multi handle per worker, driven by the worker's loop.
 *
 * Follows curl's socket API: CURLMOPT_SOCKETFUNCTION maps to rr_io watchers, one rr_timer
 * serves CURLMOPT_TIMERFUNCTION, events call curl_multi_socket_action, and finished
 * transfers are drained from curl_multi_info_read into the users. Each user reuses one easy
 * handle. Multiplexing is off, so each user's transfers use a connection of their own, as the
 * native engine and a browser-like user do. curl's codes are translated here only. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rp_int.h"
#include "rr/util.h"

/* One per fd number, kept for the worker's life. A connection's socket that curl stops
 * watching between two transfers stays registered ("parked"): the next transfer on the kept-alive
 * connection asks for the same events, and an EPOLL_CTL_DEL/ADD pair per request was a tenth of
 * the engine's CPU. Only sockets opened through open_cb are parked, because their closing comes
 * through closesock_cb, which unregisters them; others (a resolver's socketpair) are closed by
 * curl behind our back, so they are unregistered as soon as curl lets go of them. */
struct csock {
    struct rr_io io;
    struct cworker *cw;
    bool watched; /* curl wants events on it */
    bool conn;    /* opened by open_cb: closed through closesock_cb */
};

struct cworker {
    CURLM *m;
    struct rp_worker *w;
    struct rr_timer timer;
    struct csock **byfd;
    size_t n_byfd;
    /* header lists of static requests, built once per step for the worker: a user going
     * through a flow switches steps at every request (open addressing on the step pointer) */
    struct hcache {
        const void *key;
        struct curl_slist *hl;
    } * hc;
    size_t n_hc, cap_hc;
};

struct rp_conn {
    struct rp_worker *w;
    struct rp_vu *vu;
    CURL *e;
    struct curl_slist *hl;       /* CURLOPT_RESOLVE */
    struct curl_slist *hdr_list; /* CURLOPT_HTTPHEADER of a dynamic request in flight */
    const void *last_key;        /* the static request the options are set for */
    int pre_fd;                  /* opened ahead (timeline), handed to curl on its first connect */
    int pre_given;               /* pre_fd as given to curl, until it asks for its options */
    bool busy;
    const struct rp_out *o;
    int status;
    struct rp_rx rx; /* the response; its hb holds the reason bytes too */
    size_t reason_off, reason_len;
    /* Content-Encoding gzip/deflate: decoded here, without CURLOPT_ACCEPT_ENCODING (which
     * would send curl's own Accept-Encoding where the recording had none) */
    bool ce, inflating, ce_bad;
    struct rp_inflate inf;
    char errbuf[CURL_ERROR_SIZE];
};

static void drain(struct cworker *cw);
static curl_socket_t open_cb(void *ud, curlsocktype purpose, struct curl_sockaddr *a);
static int sockopt_cb(void *ud, curl_socket_t fd, curlsocktype purpose);
static int closesock_cb(void *ud, curl_socket_t fd);

static struct csock *sock_of(struct cworker *cw, int fd)
{
    if ((size_t)fd >= cw->n_byfd) {
        size_t n = cw->n_byfd ? cw->n_byfd : 64;
        while (n <= (size_t)fd)
            n *= 2;
        cw->byfd = rr_xrealloc(cw->byfd, n * sizeof(*cw->byfd));
        memset(cw->byfd + cw->n_byfd, 0, (n - cw->n_byfd) * sizeof(*cw->byfd));
        cw->n_byfd = n;
    }
    if (!cw->byfd[fd]) {
        struct csock *s = rr_xcalloc(1, sizeof(*s));
        rr_io_init(&s->io);
        s->cw = cw;
        cw->byfd[fd] = s;
    }
    return cw->byfd[fd];
}

static void sock_cb_io(struct rr_io *io, unsigned ev)
{
    struct csock *s = (struct csock *)io;
    int flags = 0, running;
    if (!s->watched) {
        /* parked and readable: the server closed the idle connection (or wrote unasked).
         * Level-triggered, so stop until curl asks again; curl finds it dead on reuse. */
        rr_io_stop(s->cw->w->loop, io);
        return;
    }
    if (ev & RR_IO_READ)
        flags |= CURL_CSELECT_IN;
    if (ev & RR_IO_WRITE)
        flags |= CURL_CSELECT_OUT;
    if (ev & RR_IO_ERROR)
        flags |= CURL_CSELECT_ERR;
    (void)curl_multi_socket_action(s->cw->m, io->fd, flags, &running);
    drain(s->cw);
}

static int socket_fn(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct cworker *cw = userp;
    struct csock *s = sock_of(cw, fd);
    (void)e;
    (void)socketp;
    if (what == CURL_POLL_REMOVE) {
        s->watched = false;
        if (!s->conn)
            rr_io_stop(cw->w->loop, &s->io);
        return 0;
    }
    s->watched = true;
    unsigned ev = (what == CURL_POLL_IN || what == CURL_POLL_INOUT ? RR_IO_READ : 0) |
                  (what == CURL_POLL_OUT || what == CURL_POLL_INOUT ? RR_IO_WRITE : 0);
    if (rr_io_start(cw->w->loop, &s->io, fd, ev, sock_cb_io))
        return -1;
    return 0;
}

static void timer_fire(struct rr_timer *t)
{
    struct cworker *cw = (struct cworker *)((char *)t - offsetof(struct cworker, timer));
    int running;
    (void)curl_multi_socket_action(cw->m, CURL_SOCKET_TIMEOUT, 0, &running);
    drain(cw);
}

static int timer_fn(CURLM *m, long timeout_ms, void *userp)
{
    struct cworker *cw = userp;
    (void)m;
    if (timeout_ms < 0)
        rr_timer_stop(cw->w->loop, &cw->timer);
    else
        rr_timer_start(cw->w->loop, &cw->timer, rr_now_mono_us() + (uint64_t)timeout_ms * 1000);
    return 0;
}

/* ---------------------------------------------------------------- easy callbacks */

static size_t header_cb(char *p, size_t size, size_t n, void *ud)
{
    struct rp_conn *c = ud;
    size_t len = size * n, l = len;
    while (l && (p[l - 1] == '\n' || p[l - 1] == '\r'))
        l--;
    if (l >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* a status line: a new response (interim or final) starts */
        c->ce = false;
        rp__rx_reset(&c->rx);
        const char *sp = memchr(p, ' ', l);
        c->reason_len = 0;
        if (sp) {
            const char *sp2 = memchr(sp + 1, ' ', l - (size_t)(sp + 1 - p));
            if (sp2) {
                c->reason_off = c->rx.hb.len;
                rr_buf_add(&c->rx.hb, sp2 + 1, l - (size_t)(sp2 + 1 - p));
                c->reason_len = l - (size_t)(sp2 + 1 - p);
            }
        }
        return len;
    }
    const char *colon = memchr(p, ':', l);
    if (!colon)
        return len;
    const char *v = colon + 1;
    while (v < p + l && (*v == ' ' || *v == '\t'))
        v++;
    size_t nlen = (size_t)(colon - p), vlen = (size_t)(p + l - v);
    rp__rx_header_add(&c->rx, p, nlen, v, vlen);
    if (nlen == 16 && !strncasecmp(p, "Content-Encoding", 16) &&
        rp__ce_decodes(rr_view_of(v, vlen)))
        c->ce = true;
    return len;
}

static size_t write_cb(char *p, size_t size, size_t n, void *ud)
{
    struct rp_conn *c = ud;
    size_t len = size * n;
    struct rr_buf *keep = c->o && c->o->need_body ? &c->rx.body : NULL;
    if (c->ce) {
        /* the size counted is the decoded one, as Locust's (so decoded even when unread) */
        if (!c->inflating) {
            rp__inflate_start(&c->inf);
            c->inflating = true;
        }
        if (rp__inflate_feed(&c->inf, p, len, keep, &c->rx.body_len))
            c->ce_bad = true;
        return len;
    }
    c->rx.body_len += len;
    if (keep)
        rr_buf_add(keep, p, len);
    return len;
}

/* The one place curl codes become Locust-style texts. */
static const char *from_curl(struct rp_conn *c, CURLcode rc)
{
    long oserr = 0;
    curl_easy_getinfo(c->e, CURLINFO_OS_ERRNO, &oserr);
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return c->w->r->timeout_err;
    case CURLE_GOT_NOTHING:
        return "RemoteDisconnected('Remote end closed connection without response')";
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
        if (oserr)
            return rp__err_errno((int)oserr, c->w->errbuf, sizeof(c->w->errbuf));
        if (rc == CURLE_COULDNT_CONNECT)
            return "ConnectionRefusedError(111, 'Connection refused')";
        /* fall through */
    default:
        snprintf(c->w->errbuf, sizeof(c->w->errbuf), "CurlError(%d, '%s')", (int)rc,
                 c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
        return c->w->errbuf;
    }
}

static void complete(struct rp_conn *c, CURLcode rc)
{
    struct rp_resp resp = {0};
    struct cworker *cw = c->w->engine_data;
    curl_multi_remove_handle(cw->m, c->e);
    c->busy = false;
    c->o = NULL;
    resp.t_done_us = rr_now_mono_us();
    if (rc != CURLE_OK) {
        resp.error = from_curl(c, rc);
    } else {
        long st = 0;
        curl_easy_getinfo(c->e, CURLINFO_RESPONSE_CODE, &st);
        resp.status = (int)st;
        resp.reason = rr_view_of(c->rx.hb.p + c->reason_off, c->reason_len);
        (void)rp__rx_deliver(&c->rx, &resp); /* no count to fail: decoded in write_cb */
        resp.body_decoded = true;
        if (c->ce_bad) /* the text python-requests gives (Locust's HttpUser) */
            resp.error = RP_CE_ERROR;
    }
    rp__vu_response(c->vu, &resp);
}

static void drain(struct cworker *cw)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(cw->m, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct rp_conn *c = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        if (c)
            complete(c, msg->data.result);
    }
}

/* ---------------------------------------------------------------- engine interface */

/* Debian 12's libcurl 7.88.1 fails a request sent on an h2c (prior knowledge) connection that
 * already carried one; HTTP/2 over TLS (ALPN) reuses and multiplexes fine. */
static bool h2c_reuse_broken(void)
{
    return curl_version_info(CURLVERSION_NOW)->version_num < 0x075a00; /* 7.90.0 */
}

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int c_worker_init(struct rp_worker *w)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    struct cworker *cw = rr_xcalloc(1, sizeof(*cw));
    /* workers are set up on the caller's thread, before any transfer starts */
    pthread_once(&once, global_init);
    cw->w = w;
    cw->m = curl_multi_init();
    if (!cw->m) {
        free(cw);
        return RR_ELIB;
    }
    rr_timer_init(&cw->timer, timer_fire);
    curl_multi_setopt(cw->m, CURLMOPT_SOCKETFUNCTION, socket_fn);
    curl_multi_setopt(cw->m, CURLMOPT_SOCKETDATA, cw);
    curl_multi_setopt(cw->m, CURLMOPT_TIMERFUNCTION, timer_fn);
    curl_multi_setopt(cw->m, CURLMOPT_TIMERDATA, cw);
    /* h2c on a libcurl that cannot reuse it (see c_conn_new): a transfer joining another
     * user's h2c connection in flight fails the same way, so no multiplexing either */
    bool h2c_broken = w->r->o.http2 && !w->r->target.tls && h2c_reuse_broken();
    curl_multi_setopt(cw->m, CURLMOPT_PIPELINING,
                      w->r->o.http2 && !h2c_broken ? (long)CURLPIPE_MULTIPLEX
                                                   : (long)CURLPIPE_NOTHING);
    curl_multi_setopt(cw->m, CURLMOPT_MAXCONNECTS, (long)(w->n_vus + 4));
    w->engine_data = cw;
    return 0;
}

static void c_worker_fini(struct rp_worker *w)
{
    struct cworker *cw = w->engine_data;
    if (!cw)
        return;
    curl_multi_cleanup(cw->m); /* closes the cached connections through closesock_cb */
    for (size_t i = 0; i < cw->n_byfd; i++) {
        if (cw->byfd[i])
            rr_io_stop(w->loop, &cw->byfd[i]->io);
        free(cw->byfd[i]);
    }
    free(cw->byfd);
    for (size_t i = 0; i < cw->cap_hc; i++)
        curl_slist_free_all(cw->hc[i].hl);
    free(cw->hc);
    rr_timer_stop(w->loop, &cw->timer);
    free(cw);
    w->engine_data = NULL;
}

static struct rp_conn *c_conn_new(struct rp_worker *w, struct rp_vu *vu)
{
    struct rp_conn *c = rr_xcalloc(1, sizeof(*c));
    struct rr_replay *r = w->r;
    c->w = w;
    c->vu = vu;
    c->e = curl_easy_init();
    if (!c->e)
        rr_panic("curl_easy_init");
    curl_easy_setopt(c->e, CURLOPT_PRIVATE, c);
    curl_easy_setopt(c->e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c->e, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(c->e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c->e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->e, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(c->e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->e, CURLOPT_TIMEOUT_MS, (long)(r->o.timeout_us / 1000));
    curl_easy_setopt(c->e, CURLOPT_SSL_VERIFYPEER, 0L); /* as Locust: not verified */
    curl_easy_setopt(c->e, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(c->e, CURLOPT_FOLLOWLOCATION, 0L); /* the recording has the next request */
    curl_easy_setopt(c->e, CURLOPT_TCP_NODELAY, 1L);
    /* Straight to the target, as the native engine: no http_proxy/no_proxy look-ups in the
     * environment on every transfer. */
    curl_easy_setopt(c->e, CURLOPT_NOPROXY, "*");
    c->pre_fd = c->pre_given = -1;
    curl_easy_setopt(c->e, CURLOPT_OPENSOCKETFUNCTION, open_cb);
    curl_easy_setopt(c->e, CURLOPT_OPENSOCKETDATA, c);
    curl_easy_setopt(c->e, CURLOPT_SOCKOPTFUNCTION, sockopt_cb);
    curl_easy_setopt(c->e, CURLOPT_SOCKOPTDATA, c);
    /* the worker's, not the conn's: a cached connection may outlive this handle */
    curl_easy_setopt(c->e, CURLOPT_CLOSESOCKETFUNCTION, closesock_cb);
    curl_easy_setopt(c->e, CURLOPT_CLOSESOCKETDATA, w->engine_data);
    curl_easy_setopt(c->e, CURLOPT_HTTP_VERSION,
                     r->o.http2 ? (r->target.tls ? (long)CURL_HTTP_VERSION_2TLS
                                                 : (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE)
                                : (long)CURL_HTTP_VERSION_1_1);
    /* Debian 12's libcurl 7.88.1 fails every request it sends on a reused h2c (prior
     * knowledge) connection with "Error in the HTTP2 framing layer" (the curl tool does the
     * same against nginx). Until a fixed libcurl: one connection per h2c request. */
    if (r->o.http2 && !r->target.tls && h2c_reuse_broken())
        curl_easy_setopt(c->e, CURLOPT_FORBID_REUSE, 1L);
    /* Only the address resolved at start (a numeric host needs nothing: curl re-parses the
     * resolve list on every transfer, which costs more than it is worth then). */
    const struct rp_target *t = &r->target;
    struct in6_addr probe;
    if (inet_pton(AF_INET, t->host, &probe) != 1 && inet_pton(AF_INET6, t->host, &probe) != 1) {
        char res[400];
        char ip[64] = "";
        if (t->addr.ss_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)&t->addr)->sin_addr, ip, sizeof(ip));
        else
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&t->addr)->sin6_addr, ip,
                      sizeof(ip));
        snprintf(res, sizeof(res), "%s:%u:%s%s%s", t->host, t->port,
                 t->addr.ss_family == AF_INET6 ? "[" : "", ip,
                 t->addr.ss_family == AF_INET6 ? "]" : "");
        c->hl = curl_slist_append(NULL, res);
        curl_easy_setopt(c->e, CURLOPT_RESOLVE, c->hl);
    }
    return c;
}

/* Timeline connections are opened ahead; curl takes the socket through these two callbacks
 * instead of opening and connecting its own. */
static curl_socket_t open_cb(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct rp_conn *c = ud;
    int fd;
    (void)purpose;
    if (c->pre_fd >= 0) {
        fd = c->pre_fd;
        c->pre_fd = -1;
        c->pre_given = fd;
    } else {
        fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
        if (fd < 0)
            return CURL_SOCKET_BAD;
    }
    struct csock *s = sock_of(c->w->engine_data, fd);
    if (s->io.fd >= 0) /* left from an fd closed behind our back: that registration is gone */
        rr_io_stop(c->w->loop, &s->io);
    s->conn = true;
    s->watched = false;
    return fd;
}

static int closesock_cb(void *ud, curl_socket_t fd)
{
    struct cworker *cw = ud;
    if ((size_t)fd < cw->n_byfd && cw->byfd[fd]) {
        struct csock *s = cw->byfd[fd];
        rr_io_stop(cw->w->loop, &s->io); /* before close: the fd number can come back at once */
        s->conn = false;
        s->watched = false;
    }
    return close(fd);
}

static int sockopt_cb(void *ud, curl_socket_t fd, curlsocktype purpose)
{
    struct rp_conn *c = ud;
    (void)purpose;
    if (fd == c->pre_given) {
        c->pre_given = -1;
        return CURL_SOCKOPT_ALREADY_CONNECTED;
    }
    return CURL_SOCKOPT_OK;
}

static void c_preconnect(struct rp_conn *c)
{
    const struct rp_target *t = &c->w->r->target;
    int one = 1, fd;
    if (c->pre_fd >= 0)
        return;
    fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (const struct sockaddr *)&t->addr, t->addrlen) < 0 && errno != EINPROGRESS) {
        close(fd); /* curl connects itself then, and reports the error */
        return;
    }
    c->pre_fd = fd;
}

static bool has_header(struct rr_view hdrs, const char *name)
{
    size_t n = strlen(name);
    const char *p = (const char *)hdrs.p, *end = p + hdrs.len;
    while (p && p < end) {
        if ((size_t)(end - p) > n && strncasecmp(p, name, n) == 0 && p[n] == ':')
            return true;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : NULL;
    }
    return false;
}

static struct curl_slist *build_headers(const struct rp_out *o)
{
    struct curl_slist *hl = NULL;
    /* headers: "Name: value\r\n" lines; curl's own defaults are removed unless recorded */
    const char *p = (const char *)o->hdrs.p, *end = p + o->hdrs.len;
    while (p && p < end) {
        const char *nl = memchr(p, '\r', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char *line = rr_xstrndup(p, l);
        hl = curl_slist_append(hl, line);
        free(line);
        p = nl ? nl + 2 : NULL;
    }
    if (!has_header(o->hdrs, "Accept"))
        hl = curl_slist_append(hl, "Accept:");
    hl = curl_slist_append(hl, "Expect:");
    if (o->body.len && !has_header(o->hdrs, "Content-Type"))
        hl = curl_slist_append(hl, "Content-Type:"); /* not curl's form default */
    return hl;
}

static struct curl_slist *cached_headers(struct cworker *cw, const struct rp_out *o)
{
    if (2 * (cw->n_hc + 1) > cw->cap_hc) {
        size_t cap = cw->cap_hc ? 2 * cw->cap_hc : 64;
        struct hcache *hc = rr_xcalloc(cap, sizeof(*hc));
        for (size_t i = 0; i < cw->cap_hc; i++) {
            if (!cw->hc[i].key)
                continue;
            size_t j = ((uintptr_t)cw->hc[i].key >> 4) & (cap - 1);
            while (hc[j].key)
                j = (j + 1) & (cap - 1);
            hc[j] = cw->hc[i];
        }
        free(cw->hc);
        cw->hc = hc;
        cw->cap_hc = cap;
    }
    size_t j = ((uintptr_t)o->key >> 4) & (cw->cap_hc - 1);
    while (cw->hc[j].key && cw->hc[j].key != o->key)
        j = (j + 1) & (cw->cap_hc - 1);
    if (!cw->hc[j].key) {
        cw->hc[j].key = o->key;
        cw->hc[j].hl = build_headers(o);
        cw->n_hc++;
    }
    return cw->hc[j].hl;
}

static const char *c_send(struct rp_conn *c, const struct rp_out *o)
{
    struct cworker *cw = c->w->engine_data;
    struct curl_slist *hl, *dyn = NULL;
    c->o = o;
    c->busy = true;
    c->status = 0;
    c->reason_len = 0;
    c->ce = c->inflating = c->ce_bad = false;
    c->errbuf[0] = 0;
    rp__rx_reset(&c->rx);
    if (o->key && o->key == c->last_key)
        goto add; /* the same static request again: the handle keeps its options */
    c->last_key = o->key;
    if (o->key) {
        hl = cached_headers(cw, o);
    } else {
        hl = build_headers(o);
        dyn = hl;
    }
    curl_easy_setopt(c->e, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c->e, CURLOPT_URL, o->url);
    curl_easy_setopt(c->e, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(c->e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c->e, CURLOPT_CUSTOMREQUEST, NULL);
    if (!strcmp(o->method, "HEAD")) {
        curl_easy_setopt(c->e, CURLOPT_NOBODY, 1L);
    } else if (o->body.len || !strcmp(o->method, "POST") || !strcmp(o->method, "PUT") ||
               !strcmp(o->method, "PATCH")) {
        curl_easy_setopt(c->e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body.len);
        curl_easy_setopt(c->e, CURLOPT_COPYPOSTFIELDS, o->body.len ? (const char *)o->body.p : "");
        if (strcmp(o->method, "POST"))
            curl_easy_setopt(c->e, CURLOPT_CUSTOMREQUEST, o->method);
    } else if (strcmp(o->method, "GET")) {
        curl_easy_setopt(c->e, CURLOPT_CUSTOMREQUEST, o->method);
    }
    if (c->hdr_list)
        curl_slist_free_all(c->hdr_list);
    c->hdr_list = dyn;
add:
    if (curl_multi_add_handle(cw->m, c->e) != CURLM_OK) {
        c->busy = false;
        return "CurlError(0, 'curl_multi_add_handle failed')";
    }
    return NULL;
}

static void c_abort(struct rp_conn *c)
{
    struct cworker *cw = c->w->engine_data;
    if (!c->busy)
        return;
    curl_multi_remove_handle(cw->m, c->e);
    c->busy = false;
    c->o = NULL;
}

static void c_conn_free(struct rp_conn *c)
{
    if (!c)
        return;
    c_abort(c);
    curl_easy_cleanup(c->e);
    if (c->pre_fd >= 0)
        close(c->pre_fd);
    curl_slist_free_all(c->hl);
    curl_slist_free_all(c->hdr_list);
    rp__rx_fini(&c->rx);
    rp__inflate_fini(&c->inf);
    free(c);
}

const struct rp_engine rp__engine_curl = {
    .name = "curl",
    .worker_init = c_worker_init,
    .worker_fini = c_worker_fini,
    .conn_new = c_conn_new,
    .send = c_send,
    .abort = c_abort,
    .preconnect = c_preconnect,
    .conn_free = c_conn_free,
};
