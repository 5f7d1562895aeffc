/* rx.c -- What the socket engines share: the TCP connect, and a response as they collect it
 * (headers, the body when kept, its size). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rp_int.h"

size_t *rp__rx_header_new(struct rp_rx *x)
{
    if (x->n_hdr == x->cap_hdr) {
        x->cap_hdr = x->cap_hdr ? x->cap_hdr * 2 : 16;
        x->hoff = rr_xrealloc(x->hoff, x->cap_hdr * 4 * sizeof(size_t));
    }
    size_t *h = &x->hoff[4 * x->n_hdr++];
    memset(h, 0, 4 * sizeof(size_t));
    return h;
}

void rp__rx_header_add(struct rp_rx *x, const void *name, size_t nlen, const void *value,
                       size_t vlen)
{
    size_t *h = rp__rx_header_new(x);
    h[0] = x->hb.len;
    h[1] = nlen;
    rr_buf_add(&x->hb, name, nlen);
    h[2] = x->hb.len;
    h[3] = vlen;
    rr_buf_add(&x->hb, value, vlen);
}

void rp__rx_body(struct rp_rx *x, bool keep, const void *p, size_t len)
{
    if (!keep && !x->body_len)
        rp__ce_count_begin(&x->ce, &x->hb, x->hoff, x->n_hdr);
    x->body_len += len;
    if (keep)
        rr_buf_add(&x->body, p, len);
    else
        rp__ce_count_feed(&x->ce, p, len);
}

const char *rp__rx_deliver(struct rp_rx *x, struct rp_resp *resp)
{
    if (x->hv_cap < x->n_hdr + 1) {
        x->hv_cap = x->cap_hdr + 1;
        x->hv = rr_xrealloc(x->hv, x->hv_cap * 2 * sizeof(*x->hv));
    }
    for (size_t i = 0; i < x->n_hdr; i++) {
        const size_t *h = &x->hoff[4 * i];
        x->hv[2 * i] = rr_view_of(x->hb.p + h[0], h[1]);
        x->hv[2 * i + 1] = rr_view_of(x->hb.p + h[2], h[3]);
    }
    resp->n_headers = x->n_hdr;
    resp->headers = x->hv;
    resp->body = rr_view_of(x->body.p, x->body.len);
    resp->body_len = x->body_len;
    /* ce is begun only for a body not kept: a stale one from an earlier response has
     * body_len 0 here or a kept body */
    if (x->ce.on && x->body_len && !x->body.len) {
        resp->body_len = x->ce.n;
        resp->body_decoded = true;
        if (x->ce.failed)
            return RP_CE_ERROR;
    }
    return NULL;
}

void rp__rx_reset(struct rp_rx *x)
{
    x->n_hdr = 0;
    x->body_len = 0;
    x->ce.on = false;
    rr_buf_reset(&x->hb);
    rr_buf_reset(&x->body);
}

void rp__rx_fini(struct rp_rx *x)
{
    rr_buf_fini(&x->hb);
    rr_buf_fini(&x->body);
    rp__inflate_fini(&x->ce.inf);
    free(x->hoff);
    free(x->hv);
    memset(x, 0, sizeof(*x));
}

int rp__tcp_open(const struct rr_replay *r, unsigned vu_id)
{
    const struct rp_target *t = &r->target;
    int fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        return -errno;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (r->spread_src) {
        /* the port is picked at connect time per 4-tuple, so one source address per user
         * gives each its own 64k ports */
        struct sockaddr_in src = {.sin_family = AF_INET};
        unsigned k = vu_id % 60000u;
        src.sin_addr.s_addr = htonl(0x7f000000u | (1u + (k >> 8)) << 8 | (1u + (k & 0xff) % 254u));
        (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        (void)bind(fd, (struct sockaddr *)&src, sizeof(src));
    }
    if (connect(fd, (const struct sockaddr *)&t->addr, t->addrlen) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}
