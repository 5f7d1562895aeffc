/* proxy_hostrw.h -- Rewrites the Host header of a stream of HTTP/1 requests (private to the
 * recording proxy). Incremental: requests may be pipelined and split anywhere across feeds;
 * bodies (Content-Length or chunked) pass unchanged. A stream that stops looking like
 * HTTP/1 requests (the HTTP/2 preface, an Upgrade, CONNECT, an over-long head) passes
 * through unchanged from there on. */
#ifndef RR_PROXY_HOSTRW_H
#define RR_PROXY_HOSTRW_H

#include <stddef.h>
#include <stdint.h>

#include "rr/buf.h"

struct rr_hostrw {
    const char *authority; /* the value every Host header gets */
    int state;
    uint64_t left;     /* body or chunk bytes still to pass */
    struct rr_buf acc; /* the head, chunk-size line or trailer being gathered */
    uint64_t rewritten;
};

void rr_hostrw_init(struct rr_hostrw *w, const char *authority);
void rr_hostrw_fini(struct rr_hostrw *w);
/* Appends the rewritten form of p[0..n) to out (possibly less now, the rest later). */
void rr_hostrw_feed(struct rr_hostrw *w, const uint8_t *p, size_t n, struct rr_buf *out);

#endif
