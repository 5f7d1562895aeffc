/* fuzz_sink.h -- A sink that touches every byte it is given, so the sanitizers check views. */
#ifndef RR_FUZZ_SINK_H
#define RR_FUZZ_SINK_H

#include <stdint.h>

#include "rr/exchange.h"

static inline size_t fuzz_touch(const struct rr_exchange *x, const uint8_t *rq, size_t rql,
                                const uint8_t *rs, size_t rsl)
{
    size_t sum = x->method.len + x->target.len + x->authority.len + x->reason.len;
    /* the first byte of each value too, so a view past its buffer is caught */
    for (size_t i = 0; i < x->n_req_headers; i++)
        sum += x->req_headers[i].name.len + x->req_headers[i].value.len +
               (x->req_headers[i].value.len ? x->req_headers[i].value.p[0] : 0);
    for (size_t i = 0; i < x->n_resp_headers; i++)
        sum += x->resp_headers[i].name.len + x->resp_headers[i].value.len +
               (x->resp_headers[i].value.len ? x->resp_headers[i].value.p[0] : 0);
    if (x->target.len)
        sum += x->target.p[x->target.len - 1];
    for (size_t i = 0; i < rql; i += 512)
        sum += rq[i];
    for (size_t i = 0; i < rsl; i += 512)
        sum += rs[i];
    if (rql)
        sum += rq[rql - 1];
    if (rsl)
        sum += rs[rsl - 1];
    return sum;
}

#endif
