/* wk_int.h -- What the worker's files share: msgpack helpers and the stats payload. */
#ifndef RR_WK_INT_H
#define RR_WK_INT_H

#include <msgpack.h>
#include <string.h>

#include "rr/worker.h"

static inline void wk_pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* Packs the three stats keys the stats module owns: "stats", "stats_total", "errors" (the
 * caller has opened a map with room for them). start_time of a never-reset accumulator is
 * its creation time. */
void wk_pack_stats(msgpack_packer *pk, const struct rr_wstats *s);

/* Python's repr() of a str, UTF-8 passed through: what Locust hashes into error keys. */
char *wk_pyrepr(const char *s);

#endif
