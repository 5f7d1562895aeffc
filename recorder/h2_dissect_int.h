/* h2_dissect_int.h -- What the HTTP/2 dissector counts, for the recorder's summary and tests.
 *
 * Private to recorder/ (and its tests); dissect.h has the dissector itself. */
#ifndef RR_REC_H2_DISSECT_INT_H
#define RR_REC_H2_DISSECT_INT_H

#include <stddef.h>
#include <stdint.h>

struct rr_h2d;

struct rr_h2d_stats {
    uint64_t frames;
    uint64_t exchanges; /* handed to the sink */
    uint64_t pushes;    /* PUSH_PROMISEs read */
    uint64_t resets;    /* RST_STREAM frames read */
    uint64_t goaways;
    uint64_t evicted; /* streams emitted early because max_pending streams were open */
    uint64_t hpack_errors;
    uint64_t errors; /* framing or HPACK errors that ended the dissection */
    uint64_t gaps;
    uint64_t skipped_bytes; /* bytes not dissected after a gap or an error */
    size_t open_streams;
    int dead;          /* the rest of the connection is being skipped */
    const char *error; /* static text: why, when dead */
};

void rr_h2d_get_stats(const struct rr_h2d *d, struct rr_h2d_stats *out);

#endif
